-- pdm: third-party dependencies from pdm.lock into the service's venv with
-- pdm itself (`pdm sync --no-self`), so every valid lock installs; then the
-- project (a package) and its local path dependencies (a monorepo's shared
-- libraries) from source: editable in dev. A monorepo service whose lock
-- carries environment markers (inherit_metadata) exports the lock less its
-- local packages instead, so the libraries stay out of the deps layer and
-- editing one never invalidates it.
local core = require "dbx.core"
local lockcheck = require "dbx.lockcheck"

local pdm = {
  name = "pdm",
  lockfile = "pdm.lock",
  version = "2.26.1",
  check_desc = "pdm.lock matches pyproject.toml (pdm lock --check)",
  cache = "/root/.cache/pip",
}

-- The project's manifest and lock, and each member's manifest (the seed's
-- monorepo pattern: every pyproject.toml before any source).
function pdm.manifests(svc)
  local files = {}
  for _, m in ipairs(svc.members or {}) do files[#files + 1] = m .. "/pyproject.toml" end
  files[#files + 1] = svc.at("pyproject.toml")
  files[#files + 1] = svc.at("pdm.lock")
  return files
end

-- pdm in its own venv (/opt/pdm); PDM_PYTHON aims it at the service's venv.
-- (pdm 2.26 needs unearth < 0.19.)
function pdm.setup(svc)
  return {
    "RUN --mount=type=cache,target=/root/.cache/pip python3 -m venv /opt/pdm \\\n"
      .. "    && /opt/pdm/bin/pip install -q pdm==" .. (svc.manager_version or pdm.version) .. " 'unearth<0.19' \\\n"
      .. "    && python3 -m venv " .. svc.venv,
    ("ENV PDM_PYTHON=%s/bin/python PDM_CHECK_UPDATE=false"):format(svc.venv),
  }
end

-- pdm installs the project unless [tool.pdm] distribution = false, or (not
-- said) the project has no build system; it needs a name to install.
function pdm.installable(svc)
  local flag = (svc.meta["tool.pdm"] or {}).distribution
  if type(flag) == "boolean" and not flag then return false end
  if flag == nil and not svc.meta["build-system"] then return false end
  return svc.project_meta.name ~= nil
end

function pdm.not_installable(svc)
  if (svc.meta["tool.pdm"] or {}).distribution == false then
    return "[tool.pdm] distribution = false: pdm does not install the project"
  end
  if not svc.meta["build-system"] and (svc.meta["tool.pdm"] or {}).distribution == nil then
    return "pyproject.toml has no [build-system], so pdm does not install the project"
  end
  return "pyproject.toml's [project] has no name, so the project cannot be installed"
end

local function export_groups(svc, variant)
  if variant == "prod" then return "--prod" end
  local out = { "-G dev" }
  for _, g in ipairs(svc.dev.groups or {}) do out[#out + 1] = "-G " .. g end
  return table.concat(out, " ")
end

-- Whether the lock records environment markers, which pdm export needs.
local function exportable(svc)
  local lock = core.read(svc.dir, svc.at("pdm.lock")) or ""
  return lock:find('strategy%s*=%s*%[[^%]]*"inherit_metadata"') ~= nil
end

function pdm.install_deps(svc, variant)
  if #(svc.members or {}) > 0 and exportable(svc) then
    -- exported without hashes (the path dependencies have none), without the
    -- local packages (lines "NAME @ file:..."), installed without resolving again
    return ("/opt/pdm/bin/pdm export %s --without-hashes -o /tmp/requirements.txt \\\n"
      .. "    && grep -v ' @ file:' /tmp/requirements.txt > /tmp/third-party.txt \\\n"
      .. "    && pip install -q --no-deps -r /tmp/third-party.txt"):format(export_groups(svc, variant))
  end
  -- every group of the lock in dev, the default one in prod
  return "/opt/pdm/bin/pdm sync --no-self" .. (variant == "prod" and " --prod" or "")
end

-- The local packages (and the project itself when it is a package), with pip
-- without dependencies: they are all in already; nothing for an application
-- without local packages.
function pdm.install_project(svc, variant)
  local e = variant == "dev" and "-e " or ""
  local paths = {}
  for _, m in ipairs(svc.members or {}) do paths[#paths + 1] = e .. svc.workdir .. "/" .. m end
  if svc.kind ~= "app" then paths[#paths + 1] = e .. "." end
  if #paths == 0 then return nil end
  return "pip install -q --no-deps " .. table.concat(paths, " ") .. " && pip check"
end

function pdm.check(svc)
  return lockcheck.argv("pdm", "pdm lock", nil, { "pdm", "lock", "--check", "-p", svc.project })
end

return pdm
