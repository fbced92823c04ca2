-- uv: installs a project's locked dependencies with `uv sync --frozen`.
-- Used by dbx.python when the project has uv.lock (or manager = "uv").
local uv = {
  name = "uv",
  lockfile = "uv.lock",
  -- where the builder gets uv from (an image holding /usr/local/bin/uv)
  image = "ghcr.io/astral-sh/uv:python3.11-bookworm-slim",
  check_desc = "uv.lock matches pyproject.toml (uv lock --check)",
  cache = "/root/.cache/uv",
  workspaces = true, -- a service may be one member (package = "services/NAME") of a uv workspace
}

local core = require "dbx.core"
local toml = require "dbx.toml"

-- The member folders of the workspace whose root is svc's project, each with
-- a pyproject.toml, from [tool.uv.workspace] members (globs allowed). Read
-- once per service: every layer and `dbx gen` ask.
local function workspace_members(svc)
  if svc.uv_members then return svc.uv_members end
  local root = toml.read(svc.dir, svc.at("pyproject.toml"))
  local out, seen = {}, {}
  for _, pat in ipairs((root["tool.uv.workspace"] or {}).members or {}) do
    for _, f in ipairs(core.glob(svc.dir, pat .. "/pyproject.toml")) do
      if not seen[f] then seen[f], out[#out + 1] = true, f end
    end
  end
  table.sort(out)
  svc.uv_members = out
  return out
end

-- The name of the package svc runs (its member's project.name), read once.
local function package_name(svc)
  if svc.uv_package then return svc.uv_package end
  local p = toml.read(svc.dir, svc.package .. "/pyproject.toml")
  local n = (p.project or {}).name
  if not n then
    error(("python.service '%s': %s/pyproject.toml has no [project] name"):format(svc.name, svc.package), 0)
  end
  svc.uv_package = n
  return n
end

-- Files the deps layer needs: the manifest and the lock, nothing else (in a
-- workspace, every member's manifest: the lock covers them all).
function uv.manifests(svc)
  local files = { svc.at("pyproject.toml"), svc.at("uv.lock") }
  local seen = {}
  for _, f in ipairs(files) do seen[f] = true end
  local function add(f) if not seen[f] then seen[f], files[#files + 1] = true, f end end
  for _, m in ipairs(svc.members or {}) do add(m .. "/pyproject.toml") end
  if svc.package then
    for _, f in ipairs(workspace_members(svc)) do add(f) end
    add(svc.package .. "/pyproject.toml")
  end
  return files
end

-- Instructions that put the tool into the builder and configure it.
function uv.setup(svc)
  return {
    "COPY --from=" .. (svc.uv_image or uv.image) .. " /usr/local/bin/uv /usr/local/bin/uv",
    "ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=0 UV_PROJECT_ENVIRONMENT="
      .. svc.venv,
  }
end

local function extras(svc, variant)
  local pkg = svc.package and ("--package " .. package_name(svc) .. " ") or ""
  if variant == "prod" then return pkg .. "--no-dev" end
  local out = { pkg ~= "" and pkg:sub(1, -2) or nil }
  for _, e in ipairs(svc.dev.extras) do out[#out + 1] = "--extra " .. e end
  return table.concat(out, " ")
end

-- Third-party dependencies only: the project itself comes with the source layer.
function uv.install_deps(svc, variant)
  return ("uv sync --frozen %s %s"):format(svc.package and "--no-install-workspace" or "--no-install-project",
    extras(svc, variant))
end

-- The project itself: editable in dev, a plain install in prod.
function uv.install_project(svc, variant)
  return ("uv sync --frozen %s%s"):format(extras(svc, variant),
    variant == "prod" and " --no-editable" or "")
end

-- The host-side freshness check of the lock file.
function uv.check(svc)
  return { "sh", "-c", "uv lock --check --project \"$1\" || { echo 'the lock file is out of date: run `uv lock`' >&2; exit 1; }",
           "uv-lock-check", svc.project }
end

return uv
