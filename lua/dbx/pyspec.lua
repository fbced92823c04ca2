-- dbx.pyspec: a python.service's fields read, checked and completed with
-- their defaults (the manager from the lock files, application or package
-- from the project and its command). Every mistake is an error naming the
-- field; dbx.python prefixes it with the recipe's file:line.
local recipe = require "dbx.recipe"
local core = require "dbx.core"
local toml = require "dbx.toml"
local apt = require "dbx.recipes.apt"
local pyapp = require "dbx.pyapp"

local M = {}

local MANAGERS = { "uv", "pdm", "poetry", "pip" }  -- each is recipes/NAME.lua
local LOCKS = { { "uv.lock", "uv" }, { "pdm.lock", "pdm" }, { "poetry.lock", "poetry" },
                { "requirements.txt", "pip" } }

local FIELDS = {
  dir = "string", manager = "string", python = "string", base = "string", apt = "list",
  env = "map", user = "string", uid = "number", workdir = "string", venv = "string",
  port = "number", health = "string", cmd = "list", dev = "table", prod = "table",
  sources = "list", members = "list", tags = "table", network = "string", uv_image = "string",
  labels = "map", stop_signal = "string", manager_version = "string", dirs = "list",
  entrypoint = "list", keep = "list", health_interval = "string", health_when = "map",
  in_groups = "boolean", project = "string", expose = "list",
  release = "table", gpus = "string", builder = "string", package = "string", prune = "list",
  build_args = "map", secrets = "table", health_cmd = "list",
  kind = "string", build_env = "map", env_file = "string", build_apt = "list",
}

local RELEASE_FIELDS = { package = true, index = true, version_arg = true, index_arg = true }
local DEV_FIELDS = { extras = true, groups = true, cmd = true, restart = true, mode = true }
-- what an application's prod image leaves out of its tree, unless prune says
local APP_PRUNE = { "tests", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "*.egg-info" }

local keys_of = recipe.keys_of
local closest = core.closest

local function fail(msg) error(msg, 0) end

local function check_words(what, list)
  for _, w in ipairs(list) do
    if type(w) ~= "string" or not w:match("^[%w][%w%._%-+:=<>~!]*$") then
      fail(("%s: '%s' is not a valid name"):format(what, tostring(w)))
    end
  end
end

-- Whether the project has file (reading it makes it an input of the recipe).
function M.has_file(svc, file)
  return core.read(svc.dir, svc.at(file)) ~= nil
end

-- Pick the package manager from the lock files present.
local function detect(svc)
  local found = {}
  for _, l in ipairs(LOCKS) do
    if M.has_file(svc, l[1]) then found[#found + 1] = l end
  end
  if #found == 1 then return found[1][2] end
  local names = {}
  for _, l in ipairs(found) do names[#names + 1] = l[1] end
  if #found == 0 then
    fail(("python.service '%s': no lock file in %s (looked for uv.lock, pdm.lock, poetry.lock, requirements.txt); "
      .. "lock the project (e.g. `uv lock`) or set manager = \"uv\""):format(svc.name,
      svc.dir == "" and "." or svc.dir))
  end
  -- a pyproject-managed project that also exports a requirements.txt: the lock wins
  if #found == 2 and found[2][2] == "pip" then return found[1][2] end
  fail(("python.service '%s': several lock files (%s); choose one with manager = \"...\"")
    :format(svc.name, table.concat(names, ", ")))
end

local function unknown(what, k, fields)
  local hint = type(k) == "string" and closest(k, keys_of(fields))
  fail(("%s: unknown field '%s'%s"):format(what, tostring(k), hint and (" — did you mean '" .. hint .. "'?") or ""))
end

local function check_shapes(name, spec)
  if type(spec) ~= "table" then
    fail(("python.service '%s': expected a table of fields { ... }"):format(name))
  end
  for k, v in pairs(spec) do
    local shape = FIELDS[k]
    if not shape then unknown(("python.service '%s'"):format(name), k, FIELDS) end
    local ok = (shape == "list" and type(v) == "table") or (shape == "map" and type(v) == "table")
      or type(v) == shape
    if not ok then
      fail(("python.service '%s': field '%s' must be a %s, got %s"):format(name, k, shape, type(v)))
    end
  end
end

-- Default sources: the whole folder, or a monorepo service's folder and its members.
local function default_sources(svc)
  if svc.project == "." and not svc.package then return { "**" } end
  local out = {}
  for _, m in ipairs(svc.members) do out[#out + 1] = m .. "/**" end
  out[#out + 1] = (svc.package or svc.project) .. "/**"
  return out
end

local function check_env(name, field, env)
  for _, k in ipairs(keys_of(env)) do
    local v = env[k]
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then
      fail(("python.service '%s': %s: '%s' is not an environment variable name"):format(name, field, tostring(k)))
    end
    if type(v) ~= "string" and type(v) ~= "number" then
      fail(("python.service '%s': %s: %s must be a string, got %s"):format(name, field, k, type(v)))
    end
    env[k] = tostring(v)
    if env[k]:find("[\r\n]") then
      fail(("python.service '%s': %s: %s holds a line break, which an image's environment cannot carry; "
        .. "use env_file for dbx dev, or split it"):format(name, field, k))
    end
  end
  return env
end

local function check_paths(svc)
  local name = svc.name
  for _, p in ipairs({ svc.project, svc.package or ".", table.unpack(svc.members) }) do
    if p:find("%.%.") or p:match("^/") or not p:match("^[%w%._/%-]+$") then
      fail(("python.service '%s': '%s' must be a plain folder inside dir"):format(name, p))
    end
  end
  local paths = { svc.workdir, svc.venv }
  for _, d in ipairs(svc.dirs) do paths[#paths + 1] = d end
  for _, p in ipairs(paths) do
    if type(p) ~= "string" or not p:match("^/[%w%._/%-]*$") or p:find("/%.%.") then
      fail(("python.service '%s': '%s' must be an absolute path of plain characters, without '..'")
        :format(name, tostring(p)))
    end
  end
  for _, p in ipairs(svc.expose) do
    local n = math.tointeger(tonumber(tostring(p):match("^(%d+)$") or tostring(p):match("^(%d+)/%a+$")))
    local proto = tostring(p):match("^%d+/(%a+)$")
    if not n or n < 1 or n > 65535 or (proto and proto ~= "tcp" and proto ~= "udp" and proto ~= "sctp") then
      fail(("python.service '%s': expose: '%s' must be a port (1 to 65535), optionally /tcp, /udp or /sctp")
        :format(name, tostring(p)))
    end
  end
  for _, f in ipairs({ "base", "builder", "uv_image" }) do
    local v = svc[f]
    if v and not v:match("^[%w][%w%._/:@%-]*$") then
      fail(("python.service '%s': %s must be an image reference such as python:3.11-slim, got '%s'")
        :format(name, f, v:gsub("%c", "?")))
    end
  end
  for _, k in ipairs(svc.keep) do
    if k:find("%.%.") or k:match("^/") or not k:match("^[%w%._/%-]+$") then
      fail(("python.service '%s': keep: '%s' must be a plain path inside the project"):format(name, k))
    end
  end
  for _, n in ipairs(svc.prune or {}) do
    if not n:match("^[%w%._%-*]+$") then
      fail(("python.service '%s': prune: '%s' must be a file or folder name (wildcards allowed)"):format(name, n))
    end
  end
end

local function check_dev(svc, dev)
  for k in pairs(dev) do
    if not DEV_FIELDS[k] then
      unknown(("python.service '%s': dev"):format(svc.name), k, DEV_FIELDS)
    end
  end
  svc.dev = { extras = dev.extras or {}, groups = dev.groups or {}, cmd = dev.cmd,
              restart = dev.restart or "warm", mode = dev.mode or "sync" }
  if svc.dev.restart ~= "warm" and svc.dev.restart ~= "cold" then
    fail(("python.service '%s': dev.restart must be \"warm\" or \"cold\", got '%s'"):format(svc.name,
      tostring(svc.dev.restart)))
  end
  if svc.dev.mode ~= "sync" and svc.dev.mode ~= "mount" then
    fail(("python.service '%s': dev.mode must be \"sync\" or \"mount\", got '%s'"):format(svc.name,
      tostring(svc.dev.mode)))
  end
  check_words(("python.service '%s': dev group"):format(svc.name), svc.dev.groups)
  check_words(("python.service '%s': dev extra"):format(svc.name), svc.dev.extras)
end

local function check_release(svc, r)
  local name = svc.name
  for k in pairs(r) do
    if not RELEASE_FIELDS[k] then unknown(("python.service '%s': release"):format(name), k, RELEASE_FIELDS) end
  end
  svc.release = { package = r.package or svc.meta.name, index = r.index or "https://pypi.org/simple",
                  version_arg = r.version_arg or "PACKAGE_VERSION", index_arg = r.index_arg or "PACKAGE_INDEX" }
  if type(svc.release.package) ~= "string" or not svc.release.package:match("^[%w][%w%._%-]*$") then
    fail(("python.service '%s': release.package must name the published package"):format(name))
  end
  if type(svc.release.index) ~= "string" or not svc.release.index:match("^https?://[%w%._:/%-@]+$") then
    fail(("python.service '%s': release.index must be an http(s) URL of a package index"):format(name))
  end
  for _, a in ipairs({ svc.release.version_arg, svc.release.index_arg }) do
    if type(a) ~= "string" or not a:match("^[%a_][%w_]*$") then
      fail(("python.service '%s': release: '%s' is not a build argument name"):format(name, tostring(a)))
    end
  end
end

-- secrets = { netrc = { src = "~/.netrc", target = "/root/.netrc" }, token = "secrets/token" }:
-- mounted (never copied) into each install step; the file at /run/secrets/ID by default
local function check_secrets(svc, secrets)
  svc.secrets, svc.secret_mounts = {}, ""
  for _, id in ipairs(keys_of(secrets)) do
    local v = secrets[id]
    local src, target = v, "/run/secrets/" .. tostring(id)
    if type(v) == "table" then src, target = v.src, v.target or target end
    if type(id) ~= "string" or not id:match("^[%w_.%-]+$") or type(src) ~= "string" or src == ""
      or type(target) ~= "string" or not target:match("^/[%w%._/%-]*$") then
      fail(("python.service '%s': secrets: '%s' must be ID = \"file\" or ID = { src = \"file\", target = \"/path\" }")
        :format(svc.name, tostring(id)))
    end
    svc.secrets[id] = src
    svc.secret_mounts = svc.secret_mounts .. (" --mount=type=secret,id=%s,target=%s"):format(id, target)
  end
end

local function check_health(svc)
  local name = svc.name
  if svc.health and not svc.health:match("^/[%w%._/%-?=&]*$") then
    fail(("python.service '%s': health must be a URL path such as /health"):format(name))
  end
  if not svc.health_interval:match("^%d+[smh]$") then
    fail(("python.service '%s': health_interval must be like 30s"):format(name))
  end
  if svc.health_cmd then
    if svc.health then
      fail(("python.service '%s': health (HTTP) and health_cmd (a command) exclude each other"):format(name))
    end
    if #svc.health_cmd == 0 then fail(("python.service '%s': health_cmd needs a command"):format(name)) end
    for _, a in ipairs(svc.health_cmd) do
      if type(a) ~= "string" or a:find("\n") then
        fail(("python.service '%s': health_cmd must be a list of strings without newlines"):format(name))
      end
    end
  end
  if svc.health and not svc.port then
    fail(("python.service '%s': health needs port"):format(name))
  end
end

local function check_manager(svc, spec)
  local name = svc.name
  local manager = spec.manager or "auto"
  if manager == "auto" then manager = detect(svc) end
  local known = false
  for _, m in ipairs(MANAGERS) do known = known or m == manager end
  if not known then
    fail(("python.service '%s': unknown manager '%s' (this dbx knows: %s)"):format(name, manager,
      table.concat(MANAGERS, ", ")))
  end
  svc.manager = require("dbx.recipes." .. manager)
  if svc.package and not svc.manager.workspaces then
    fail(("python.service '%s': package (a workspace member) needs a manager with workspaces (uv), not %s")
      :format(name, manager))
  end
  local lock = svc.manager.lockfile
  if not M.has_file(svc, lock) then
    local how = { uv = "uv lock", pdm = "pdm lock", poetry = "poetry lock",
                  pip = "list the dependencies in requirements.txt" }
    fail(("python.service '%s': manager '%s' needs %s in %s, and there is none; create it (%s)")
      :format(name, manager, lock, svc.dir == "" and "." or svc.dir, how[manager]))
  end
end

-- Application or package: the recipe's word, else a guess that says why.
local function settle_kind(svc, spec)
  if spec.kind then
    if spec.kind ~= "app" and spec.kind ~= "package" then
      fail(("python.service '%s': kind must be \"app\" (run from its source tree) or \"package\" "
        .. "(run from the venv's console scripts), got '%s'"):format(svc.name, spec.kind))
    end
    svc.kind, svc.kind_why = spec.kind, "kind = \"" .. spec.kind .. "\" in the recipe"
    if spec.kind == "package" and not svc.manager.installable(svc) then
      fail(("python.service '%s': kind = \"package\", but %s"):format(svc.name, svc.manager.not_installable(svc)))
    end
    return
  end
  if not svc.manager.installable(svc) then
    svc.kind, svc.kind_why = "app", svc.manager.not_installable(svc)
    return
  end
  svc.kind, svc.kind_why = pyapp.guess_kind(svc)
end

function M.normalise(name, spec)
  check_shapes(name, spec)
  local here = recipe.current_dir()
  local svc = {
    name = name,
    dir = spec.dir and recipe.join(here, spec.dir) or here,
    python = spec.python or "3.11",
    apt = spec.apt or {},
    build_apt = spec.build_apt or {},
    env = check_env(name, "env", spec.env or {}),
    build_env = check_env(name, "build_env", spec.build_env or {}),
    user = spec.user or "app",
    uid = spec.uid or 1000,
    workdir = spec.workdir or "/app",
    port = spec.port,
    health = spec.health,
    health_cmd = spec.health_cmd,
    cmd = spec.cmd,
    members = spec.members or {},
    -- where pyproject.toml and the lock are, inside dir (a monorepo's service)
    project = spec.project or ".",
    expose = spec.expose or {},
    network = spec.network,
    labels = spec.labels or {},
    uv_image = spec.uv_image,
    manager_version = spec.manager_version,
    dirs = spec.dirs or {},
    entrypoint = spec.entrypoint or {},
    keep = spec.keep or {},
    health_interval = spec.health_interval or "10s",
    health_when = spec.health_when or {},
    in_groups = spec.in_groups ~= false,
    -- Python as PID 1 ignores SIGTERM unless the app handles it; SIGINT becomes
    -- KeyboardInterrupt, so the container stops at once either way
    stop_signal = spec.stop_signal or "SIGINT",
    gpus = spec.gpus,
    builder = spec.builder,
    package = spec.package,   -- a uv workspace member folder: the package this service runs
    prune = spec.prune,
    build_args = spec.build_args or {},
    env_file = spec.env_file,
  }
  if math.type(svc.uid) ~= "integer" and not (type(svc.uid) == "number" and svc.uid == math.floor(svc.uid)) then
    fail(("python.service '%s': uid must be a whole number, got %s"):format(name, tostring(svc.uid)))
  end
  svc.uid = math.tointeger(svc.uid)
  if svc.uid < 0 or svc.uid > 2147483647 then
    fail(("python.service '%s': uid must be from 0 to 2147483647, got %d"):format(name, svc.uid))
  end
  if svc.port then
    svc.port = math.tointeger(svc.port)
    if not svc.port or svc.port < 1 or svc.port > 65535 then
      fail(("python.service '%s': port must be a whole number from 1 to 65535"):format(name))
    end
  end
  -- the path of a project file inside dir
  svc.at = function(file) return svc.project == "." and file or (svc.project .. "/" .. file) end
  if svc.package and svc.project ~= "." then
    fail(("python.service '%s': package (a workspace member) and project cannot both be set"):format(name))
  end
  svc.base = spec.base or ("python:" .. svc.python .. "-slim")
  svc.venv = spec.venv or (svc.workdir .. "/.venv")
  svc.meta = toml.read(svc.dir, svc.at("pyproject.toml"))
  svc.project_meta = svc.meta.project or {}
  -- the manifest of what the service runs: a workspace member's own
  svc.own_meta = svc.package and toml.read(svc.dir, svc.package .. "/pyproject.toml") or svc.meta
  check_dev(svc, spec.dev or {})
  svc.prod = { cmd = (spec.prod or {}).cmd }
  svc.tags = spec.tags or { prod = name .. ":prod", dev = name .. ":dev", release = name .. ":release" }
  if not svc.cmd or (#svc.cmd == 0 and #svc.entrypoint == 0) then
    fail(("python.service '%s': needs cmd = { ... }, the command that runs it"):format(name))
  end
  if not svc.user:match("^[a-z_][a-z0-9_-]*$") then
    fail(("python.service '%s': user must be a user name, got '%s'"):format(name, svc.user))
  end
  if svc.user == "root" then -- allowed when asked for by name, and said at every build
    svc.uid = 0
    svc.warning = "runs as root (user = \"root\" in the recipe); a non-root user is safer"
  end
  for _, list in ipairs({ svc.apt, svc.build_apt }) do
    for _, p in ipairs(list) do
      if not apt.valid_name(p) then
        fail(("python.service '%s': apt package: '%s' is not a valid name"):format(name, tostring(p)))
      end
    end
  end
  check_paths(svc)
  check_health(svc)
  if not svc.stop_signal:match("^SIG[A-Z0-9]+$") then
    fail(("python.service '%s': stop_signal must be a signal name such as SIGTERM"):format(name))
  end
  if svc.gpus and not (svc.gpus == "all" or svc.gpus:match("^[1-9]%d?$")) then
    fail(("python.service '%s': gpus must be \"all\" or a count such as \"1\", got '%s'"):format(name, svc.gpus))
  end
  for _, k in ipairs(keys_of(svc.build_args)) do
    local v = svc.build_args[k]
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") or type(v) ~= "string" or not v:match("^[%w%._/:@+%-]*$") then
      fail(("python.service '%s': build_args: '%s' must be NAME = \"plain value\""):format(name, tostring(k)))
    end
  end
  if svc.env_file and (svc.env_file:find("%.%.") or svc.env_file:match("^/") or not svc.env_file:match("^[%w%._/%-]+$")) then
    fail(("python.service '%s': env_file must be a plain path inside the project, such as \".env\""):format(name))
  end
  if not svc.env_file and core.exists(svc.dir, svc.at(".env")) == "file" then svc.env_file = svc.at(".env") end
  if spec.release then check_release(svc, spec.release) end
  check_secrets(svc, spec.secrets or {})
  check_manager(svc, spec)
  if svc.package and not spec.members and svc.manager.workspace_deps then
    svc.members = svc.manager.workspace_deps(svc) -- the members it needs, with their source
  end
  svc.sources = spec.sources or default_sources(svc)
  settle_kind(svc, spec)
  if not svc.prune then svc.prune = svc.kind == "app" and APP_PRUNE or {} end
  pyapp.check_cmd(svc, svc.prod.cmd or svc.cmd)
  return svc
end

return M
