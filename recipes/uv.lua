-- uv: installs a project's locked dependencies with `uv sync --locked` (the
-- lock is checked against the manifests inside the image too, with the
-- image's own Python).
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
local lockcheck = require "dbx.lockcheck"

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

-- The workspace members the service's package depends on ([tool.uv.sources]
-- NAME = { workspace = true }), and theirs in turn: folders, sorted.
function uv.workspace_deps(svc)
  local folder_of = {}
  for _, f in ipairs(workspace_members(svc)) do
    local n = (toml.read(svc.dir, f).project or {}).name
    if n then folder_of[n:lower():gsub("[-_.]+", "-")] = f:match("^(.*)/pyproject.toml$") end
  end
  local out, seen = {}, {}
  local function walk(folder)
    local text = core.read(svc.dir, folder .. "/pyproject.toml") or ""
    local sources = text:match("\n%[tool%.uv%.sources%]%s*\n(.-)\n%[") or text:match("\n%[tool%.uv%.sources%]%s*\n(.*)$") or ""
    for name in sources:gmatch('([%w_.%-]+)%s*=%s*{[^}]*workspace%s*=%s*true') do
      local dep = folder_of[name:lower():gsub("[-_.]+", "-")]
      if dep and not seen[dep] and dep ~= svc.package then
        seen[dep] = true
        out[#out + 1] = dep
        walk(dep)
      end
    end
  end
  walk(svc.package)
  table.sort(out)
  return out
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

-- uv installs a project only when it has a build system, or [tool.uv] package = true.
function uv.installable(svc)
  local m = svc.own_meta
  local flag = (m["tool.uv"] or {}).package
  if type(flag) == "boolean" then return flag end
  return m["build-system"] ~= nil
end

function uv.not_installable(svc)
  local m = svc.own_meta
  if (m["tool.uv"] or {}).package == false then return "[tool.uv] package = false: uv does not install the project" end
  return "pyproject.toml has no [build-system], so uv does not install the project"
end

-- Third-party dependencies only: the project itself comes with the source layer.
function uv.install_deps(svc, variant)
  return ("uv sync --locked %s %s"):format(svc.package and "--no-install-workspace" or "--no-install-project",
    extras(svc, variant))
end

-- A package: the project itself, editable in dev, a plain install in prod.
-- An application: only its local packages (workspace members, path
-- dependencies); nothing when it has none.
function uv.install_project(svc, variant)
  local prod = variant == "prod" and " --no-editable" or ""
  if svc.kind == "app" then
    if not svc.package and #(svc.members or {}) == 0 then return nil end
    return ("uv sync --locked --no-install-project %s%s"):format(extras(svc, variant), prod)
  end
  return ("uv sync --locked %s%s"):format(extras(svc, variant), prod)
end

-- The host-side freshness check of the lock file. Without a host Python that
-- fits requires-python uv cannot check; the deps layer's --locked does.
function uv.check(svc)
  local argv = lockcheck.argv("uv", "uv lock", "no Python on this machine fits requires-python, so the lock is "
    .. "checked inside the image build instead (uv sync --locked)", { "uv", "lock", "--check", "--project", svc.project })
  table.insert(argv, 1, "UV_PYTHON_DOWNLOADS=never")
  table.insert(argv, 1, "env")
  return argv
end

return uv
