-- pip: requirements.txt (and the files it includes with -r / -c) installed
-- with pip into the service's venv, constrained by constraints.txt when the
-- project has one; a dev requirements file (requirements-dev.txt and the
-- like), when present, for dev images. The project itself is installed only
-- when the service is a package.
local core = require "dbx.core"

local pip = {
  name = "pip",
  lockfile = "requirements.txt",
  check_desc = "requirements.txt pins every requirement (unpinned ones are warned about)",
  cache = "/root/.cache/pip",
}

local DEV_FILES = { "requirements-dev.txt", "dev-requirements.txt", "requirements_dev.txt",
                    "requirements/dev.txt", "requirements/development.txt" }

local function has(svc, file) return core.read(svc.dir, svc.at(file)) ~= nil end

local function dev_file(svc)
  for _, f in ipairs(DEV_FILES) do
    if has(svc, f) then return f end
  end
end

-- file and every file it names with -r/-c, recursively, project-relative to
-- the project folder (paths in a requirements file are relative to it).
local function with_includes(svc, file, out, seen)
  if seen[file] then return end
  seen[file] = true
  local text = core.read(svc.dir, svc.at(file))
  if not text then return end
  out[#out + 1] = file
  local here = file:match("^(.*)/[^/]*$")
  for line in text:gmatch("[^\n]+") do
    local inc = line:match("^%s*%-[rc]%s*=?%s*(%S+)") or line:match("^%s*%-%-requirement%s*=?%s*(%S+)")
      or line:match("^%s*%-%-constraint%s*=?%s*(%S+)")
    if inc and not inc:match("^/") and not inc:find("%.%.") and not inc:match("://") then
      with_includes(svc, here and (here .. "/" .. inc) or inc, out, seen)
    end
  end
end

function pip.manifests(svc)
  local files, seen = {}, {}
  with_includes(svc, "requirements.txt", files, seen)
  if has(svc, "constraints.txt") then with_includes(svc, "constraints.txt", files, seen) end
  local dev = dev_file(svc)
  if dev then with_includes(svc, dev, files, seen) end
  for i, f in ipairs(files) do files[i] = svc.at(f) end
  return files
end

function pip.setup(svc)
  return { "RUN python3 -m venv " .. svc.venv }
end

function pip.install_deps(svc, variant)
  local dev = variant == "dev" and dev_file(svc)
  return "pip install -r requirements.txt" .. (dev and (" -r " .. dev) or "")
    .. (has(svc, "constraints.txt") and " -c constraints.txt" or "")
end

-- A project pip can install: setup.py, or pyproject.toml with a [project]
-- table or a build system.
function pip.installable(svc)
  return has(svc, "setup.py") or svc.meta["build-system"] ~= nil or svc.meta.project ~= nil
end

function pip.not_installable()
  return "there is no setup.py and pyproject.toml declares no project, so there is nothing to install"
end

function pip.install_project(svc, variant)
  if svc.kind == "app" then return nil end
  return "pip install --no-deps " .. (variant == "dev" and "-e ." or ".")
end

-- Requirements not pinned (==) in requirements.txt nor in constraints.txt
-- resolve afresh at each build: said, not refused.
local CHECK = [==[
import os, re, sys
def names(path, seen):
    out = {}
    if path in seen or not os.path.exists(path):
        return out
    seen.add(path)
    for raw in open(path, encoding="utf-8"):
        line = raw.split(" #", 1)[0].strip()
        if line.startswith("#") or not line:
            continue
        inc = re.match(r"(?:-r|--requirement)\s*=?\s*(\S+)", line)
        if inc:
            out.update(names(os.path.join(os.path.dirname(path), inc.group(1)), seen))
            continue
        if line.startswith("-") or line.startswith(".") or "://" in line or " @ " in line:
            continue
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^]]*\])?\s*(.*)", line)
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(3)
    return out
reqs = names(sys.argv[1], set())
cons = names(sys.argv[2], set()) if len(sys.argv) > 2 else {}
loose = sorted(n for n in reqs if not reqs[n].startswith("==") and not cons.get(n, "").startswith("=="))
if loose:
    print("warning: %s: not pinned (==)%s: %s; each build resolves them afresh, so two builds may differ "
          "(pin them, e.g. from pip freeze%s)" % (sys.argv[1], " in " + sys.argv[2] if len(sys.argv) > 2 else "",
          ", ".join(loose), "" if len(sys.argv) > 2 else ", or add constraints.txt"))
else:
    print("every requirement of %s is pinned" % sys.argv[1])
]==]

function pip.check(svc)
  local argv = { "python3", "-c", CHECK, svc.at("requirements.txt") }
  if has(svc, "constraints.txt") then argv[#argv + 1] = svc.at("constraints.txt") end
  return argv
end

return pip
