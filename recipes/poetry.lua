-- poetry (2.x): third-party dependencies from poetry.lock with
-- `poetry install --no-root --no-directory` into the service's venv, then the
-- project: editable (`--only-root`) in dev, a built wheel in prod. An
-- application (package-mode = false, or kind = "app") gets no project
-- install: only its path dependencies, when it has any.
local lockcheck = require "dbx.lockcheck"

local poetry = {
  name = "poetry",
  lockfile = "poetry.lock",
  version = "2.5.1",
  check_desc = "poetry.lock matches pyproject.toml (poetry check --lock)",
  cache = "/root/.cache/pypoetry",
}

function poetry.manifests(svc)
  local files = { svc.at("pyproject.toml"), svc.at("poetry.lock") }
  for _, m in ipairs(svc.members or {}) do files[#files + 1] = m .. "/pyproject.toml" end
  return files
end

-- The Poetry that reads the project's lock: the recipe's manager_version,
-- else 1.8.5 for a lock Poetry 1 wrote (lock-version 1.x, or none at all
-- before Poetry 1.1; Poetry 2 refuses to install from either), else this
-- recipe's.
function poetry.version_for(svc)
  if svc.manager_version then return svc.manager_version end
  local lock = "\n" .. (require("dbx.core").read(svc.dir, svc.at("poetry.lock")) or "")
  local major = lock:match('\nlock%-version%s*=%s*"(%d+)%.')
  if major == "1" or (not major and lock:find("\n%[metadata%]")) then return "1.8.5" end
  return poetry.version
end

-- Poetry lives in its own venv (/opt/poetry); it installs into the service's
-- venv because that one is active (VIRTUAL_ENV) and creating venvs is off.
function poetry.setup(svc)
  return {
    "RUN --mount=type=cache,target=/root/.cache/pip python3 -m venv /opt/poetry \\\n"
      .. "    && /opt/poetry/bin/pip install -q poetry==" .. poetry.version_for(svc)
      .. " \\\n    && python3 -m venv " .. svc.venv,
    "ENV POETRY_VIRTUALENVS_CREATE=false POETRY_NO_INTERACTION=1 POETRY_CACHE_DIR=/root/.cache/pypoetry",
  }
end

-- prod: the main group only; dev: every group poetry installs by default
-- (dev among them), the optional ones named in dev.groups, and dev.extras.
local function groups(svc, variant)
  if variant == "prod" then return "--only main" end
  local out = {}
  for _, g in ipairs(svc.dev.groups or {}) do out[#out + 1] = "--with " .. g end
  for _, e in ipairs(svc.dev.extras or {}) do out[#out + 1] = "-E " .. e end
  return table.concat(out, " ")
end

function poetry.install_deps(svc, variant)
  local g = groups(svc, variant)
  return ("/opt/poetry/bin/poetry install --no-root --no-directory%s --compile"):format(g ~= "" and " " .. g or "")
end

function poetry.installable(svc)
  return (svc.meta["tool.poetry"] or {})["package-mode"] ~= false
end

function poetry.not_installable()
  return "[tool.poetry] package-mode = false: Poetry does not install the project"
end

function poetry.install_project(svc, variant)
  if svc.kind == "app" then
    if #(svc.members or {}) == 0 then return nil end
    local g = groups(svc, variant)
    return ("/opt/poetry/bin/poetry install --no-root --compile%s"):format(g ~= "" and " " .. g or "")
  end
  if variant == "dev" then return "/opt/poetry/bin/poetry install --only-root --compile" end
  return "/opt/poetry/bin/poetry build -f wheel -o /tmp/dist && pip install -q --no-deps /tmp/dist/*.whl"
end

function poetry.check(svc)
  return lockcheck.argv("poetry", "poetry lock", nil, { "poetry", "-C", svc.project, "check", "--lock" })
end

return poetry
