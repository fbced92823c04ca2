-- uv: installs a project's locked dependencies with `uv sync --frozen`.
-- Used by dbx.python when the project has uv.lock (or manager = "uv").
local uv = {
  name = "uv",
  lockfile = "uv.lock",
  -- where the builder gets uv from (an image holding /usr/local/bin/uv)
  image = "ghcr.io/astral-sh/uv:python3.11-bookworm-slim",
  check_desc = "uv.lock matches pyproject.toml (uv lock --check)",
  cache = "/root/.cache/uv",
}

-- Files the deps layer needs: the manifest and the lock, nothing else.
function uv.manifests(svc)
  local files = { svc.at("pyproject.toml"), svc.at("uv.lock") }
  for _, m in ipairs(svc.members or {}) do files[#files + 1] = m .. "/pyproject.toml" end
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
  if variant == "prod" then return "--no-dev" end
  local out = {}
  for _, e in ipairs(svc.dev.extras) do out[#out + 1] = "--extra " .. e end
  return table.concat(out, " ")
end

-- Third-party dependencies only: the project itself comes with the source layer.
function uv.install_deps(svc, variant)
  return ("uv sync --frozen --no-install-project %s"):format(extras(svc, variant))
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
