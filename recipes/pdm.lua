-- pdm: third-party dependencies exported from pdm.lock and installed with pip
-- into the service's venv, then the project and its local path dependencies
-- (a monorepo's shared libraries) from source: editable in dev. The local
-- ones stay out of the deps layer, so editing a library never invalidates it.
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

local function groups(svc, variant)
  if variant == "prod" then return "--prod" end
  local out = { "-G dev" }
  for _, g in ipairs(svc.dev.groups or {}) do out[#out + 1] = "-G " .. g end
  return table.concat(out, " ")
end

-- Exported without hashes (the path dependencies have none), without the
-- local packages (lines "NAME @ file:..."), installed without resolving again.
function pdm.install_deps(svc, variant)
  return ("/opt/pdm/bin/pdm export %s --without-hashes -o /tmp/requirements.txt \\\n"
    .. "    && grep -v ' @ file:' /tmp/requirements.txt > /tmp/third-party.txt \\\n"
    .. "    && pip install -q --no-deps -r /tmp/third-party.txt"):format(groups(svc, variant))
end

function pdm.install_project(svc, variant)
  local e = variant == "dev" and "-e " or ""
  local paths = {}
  for _, m in ipairs(svc.members or {}) do paths[#paths + 1] = e .. svc.workdir .. "/" .. m end
  paths[#paths + 1] = e .. "."
  return "pip install -q --no-deps " .. table.concat(paths, " ") .. " && pip check"
end

function pdm.check(svc)
  return { "pdm", "lock", "--check", "-p", svc.project }
end

return pdm
