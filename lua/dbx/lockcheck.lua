-- dbx.lockcheck: the host-side check that a lock file matches its manifest,
-- as one argv for a cmd target. A failure says which case it is, with the
-- tool's own last lines:
--   stale        the lock is out of date: the command that updates it
--   interpreter  no Python on this machine matches requires-python: said,
--                and passed (the image build checks the lock with its own
--                Python instead)
--   tool         anything else (the tool is missing, the manifest is bad…)
local M = {}

-- $1 tool name, $2 the command that updates the lock, $3 what to say when no
-- host interpreter fits ("" to fail instead); the rest is the check's argv.
local SCRIPT = [=[
tool=$1 fix=$2 nointerp=$3; shift 3
out=$("$@" 2>&1); rc=$?
if [ $rc -eq 0 ]; then [ -n "$out" ] && printf '%s\n' "$out"; exit 0; fi
last=$(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | tail -n 6 | sed 's/^/  | /')
if ! command -v "$1" >/dev/null 2>&1; then
  printf '%s is not installed on this machine, so the lock cannot be checked here: install it, or build with -k\n' "$1" >&2
  exit 1
fi
case $out in
  *"needs to be updated"*|*"hash doesn't match"*|*"changed significantly"*|*"not up to date"*|*"is outdated"*)
    printf 'the lock file is out of date with pyproject.toml: run `%s`\n%s said:\n%s\n' "$fix" "$tool" "$last" >&2
    exit 1;;
  *"No interpreter found"*|*"pyenv: version"*|*"incompatible with the project's Python requirement"*|*"Failed to inspect Python interpreter"*|*"No Python at"*|*"python-build-standalone"*)
    if [ -n "$nointerp" ]; then printf '%s\n' "$nointerp"; exit 0; fi
    printf 'no Python on this machine matches the project'"'"'s requires-python, so %s cannot check the lock here\n%s said:\n%s\n' "$tool" "$tool" "$last" >&2
    exit 1;;
esac
printf '%s could not check the lock (the lock itself may be fine): `%s` failed (exit %d)\n%s said:\n%s\n' "$tool" "$*" "$rc" "$tool" "$last" >&2
exit 1
]=]

-- The argv of a lock check: tool, the command that fixes a stale lock, what
-- to print (and pass) when no host interpreter fits, or nil to fail then; the
-- check's own argv.
function M.argv(tool, fix, nointerp, check)
  local out = { "sh", "-c", SCRIPT, "lock-check", tool, fix, nointerp or "" }
  for _, a in ipairs(check) do out[#out + 1] = a end
  return out
end

return M
