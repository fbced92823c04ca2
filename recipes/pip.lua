-- pip: requirements.txt with every installed package pinned in
-- constraints.txt (pip install -r requirements.txt -c constraints.txt) into
-- the service's venv; requirements-dev.txt, when present, for dev images.
local core = require "dbx.core"

local pip = {
  name = "pip",
  lockfile = "constraints.txt",
  check_desc = "constraints.txt pins every requirement",
  cache = "/root/.cache/pip",
}

local function has(svc, file) return core.read(svc.dir, svc.at(file)) ~= nil end

function pip.manifests(svc)
  local files = { svc.at("requirements.txt"), svc.at("constraints.txt") }
  if has(svc, "requirements-dev.txt") then files[#files + 1] = svc.at("requirements-dev.txt") end
  return files
end

function pip.setup(svc)
  return { "RUN python3 -m venv " .. svc.venv }
end

function pip.install_deps(svc, variant)
  local dev = variant == "dev" and has(svc, "requirements-dev.txt") and " -r requirements-dev.txt" or ""
  return "pip install -r requirements.txt" .. dev .. " -c constraints.txt"
end

-- The project itself, when it is a package (pyproject.toml or setup.py).
function pip.install_project(svc, variant)
  if not (has(svc, "pyproject.toml") or has(svc, "setup.py")) then return nil end
  return "pip install --no-deps " .. (variant == "dev" and "-e ." or ".")
end

-- Every requirement must be pinned (==) in constraints.txt: otherwise pip
-- resolves it afresh at each build and builds are not reproducible.
local CHECK = [==[
import re, sys
def names(path):
    out = {}
    for raw in open(path, encoding="utf-8"):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^]]*\])?\s*(.*)", line)
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(3)
    return out
reqs, cons = names(sys.argv[1]), names(sys.argv[2])
missing = [n for n in reqs if not cons.get(n, "").startswith("==")]
if missing:
    sys.exit("%s: not pinned (==) in %s: %s; add a pin for each (pip freeze shows the versions in use)"
             % (sys.argv[1], sys.argv[2], ", ".join(sorted(missing))))
print("every requirement of %s is pinned in %s" % (sys.argv[1], sys.argv[2]))
]==]

function pip.check(svc)
  return { "python3", "-c", CHECK, svc.at("requirements.txt"), svc.at("constraints.txt") }
end

return pip
