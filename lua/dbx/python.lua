-- dbx.python: a Python service as layered images.
--
--   local python = require "dbx.python"
--   python.service "allocator" { dir = "allocator", port = 5000, health = "/health",
--                                cmd = { "lablink-allocator" } }
--
-- declares, for each variant (prod, dev):
--   SERVICE/base          FROM the base image: OS packages, env, non-root user, workdir
--   SERVICE/VARIANT/deps  the manifest and lock only -> third-party deps in the venv
--   SERVICE/VARIANT/source the application code, the project installed
--   SERVICE/VARIANT       start script, ENTRYPOINT/CMD, HEALTHCHECK, EXPOSE, USER
-- plus SERVICE/lock (the host-side lock check) and the groups prod, dev, all.
-- prod is multi-stage: its final image is the base with the venv copied in, so
-- it holds no package manager, no compiler, no dev dependencies, no source tree.
local recipe = require "dbx.recipe"

local M = {}

local MANAGERS = { "uv", "pdm", "poetry", "pip" }  -- each is recipes/NAME.lua
local apt = require "dbx.recipes.apt"
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
}

local RELEASE_FIELDS = { package = true, index = true, version_arg = true, index_arg = true }

local DEV_FIELDS = { extras = true, groups = true, cmd = true, restart = true, mode = true }

local groups = { prod = {}, dev = {}, all = {}, release = {} }
local groups_declared = false

local function fail(msg, level) error(msg, level + 1) end

local keys_of = recipe.keys_of
local closest = require("dbx.core").closest

-- "a b" quoting for Dockerfile JSON arrays.
local function json_list(items)
  local out = {}
  for i, s in ipairs(items) do
    out[i] = '"' .. s:gsub('[%c"\\]', function(c)
      if c == '"' or c == "\\" then return "\\" .. c end
      return ("\\u%04x"):format(c:byte())
    end) .. '"'
  end
  return "[" .. table.concat(out, ", ") .. "]"
end

local function sorted_env(env)
  local out = {}
  for _, k in ipairs(keys_of(env)) do
    local v = env[k]
    out[#out + 1] = ("%s=%q"):format(k, v):gsub("\\\n", "\\n")
  end
  return out
end

local function check_words(what, list, level)
  for _, w in ipairs(list) do
    if type(w) ~= "string" or not w:match("^[%w][%w%._%-+:=<>~!]*$") then
      fail(("%s: '%s' is not a valid name"):format(what, tostring(w)), level + 1)
    end
  end
end

-- Whether the project has file (reading it makes it an input of the recipe).
local function has_file(svc, file)
  local p = svc.project and svc.project ~= "." and (svc.project .. "/" .. file) or file
  return require("dbx.core").read(svc.dir, p) ~= nil
end

-- Pick the package manager from the lock files present.
local function detect(svc, level)
  local found = {}
  for _, l in ipairs(LOCKS) do
    if has_file(svc, l[1]) then found[#found + 1] = l end
  end
  if #found == 1 then return found[1][2] end
  local names = {}
  for _, l in ipairs(found) do names[#names + 1] = l[1] end
  if #found == 0 then
    fail(("python.service '%s': no lock file in %s (looked for uv.lock, pdm.lock, poetry.lock, requirements.txt); "
      .. "lock the project (e.g. `uv lock`) or set manager = \"uv\""):format(svc.name,
      svc.dir == "" and "." or svc.dir), level + 1)
  end
  fail(("python.service '%s': several lock files (%s); choose one with manager = \"...\"")
    :format(svc.name, table.concat(names, ", ")), level + 1)
end

local function normalise(name, spec, level)
  level = level + 1
  if type(spec) ~= "table" then
    fail(("python.service '%s': expected a table of fields { ... }"):format(name), level)
  end
  for k, v in pairs(spec) do
    local shape = FIELDS[k]
    if not shape then
      local hint = type(k) == "string" and closest(k, keys_of(FIELDS))
      fail(("python.service '%s': unknown field '%s'%s"):format(name, tostring(k),
        hint and (" — did you mean '" .. hint .. "'?") or ""), level)
    end
    local ok = (shape == "list" and type(v) == "table") or (shape == "map" and type(v) == "table")
      or type(v) == shape
    if not ok then
      fail(("python.service '%s': field '%s' must be a %s, got %s"):format(name, k, shape, type(v)), level)
    end
  end
  local here = recipe.current_dir()
  local svc = {
    name = name,
    dir = spec.dir and recipe.join(here, spec.dir) or here,
    rel = spec.dir or ".",
    python = spec.python or "3.11",
    apt = spec.apt or {},
    env = spec.env or {},
    user = spec.user or "app",
    uid = math.tointeger(spec.uid or 1000),
    workdir = spec.workdir or "/app",
    port = spec.port and math.tointeger(spec.port),
    health = spec.health,
    health_cmd = spec.health_cmd,
    cmd = spec.cmd,
    sources = spec.sources or { "**" },
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
    prune = spec.prune or {},
    build_args = spec.build_args or {},
  }
  for _, p in ipairs({ svc.project, svc.package or ".", table.unpack(svc.members) }) do
    if p:find("%.%.") or p:match("^/") or not p:match("^[%w%._/%-]+$") then
      fail(("python.service '%s': '%s' must be a plain folder inside dir"):format(name, p), level)
    end
  end
  -- the path of a project file inside dir
  svc.at = function(file) return svc.project == "." and file or (svc.project .. "/" .. file) end
  if svc.package and svc.project ~= "." then
    fail(("python.service '%s': package (a workspace member) and project cannot both be set"):format(name), level)
  end
  if not spec.sources then
    if svc.package then
      svc.sources = {}
      for _, m in ipairs(svc.members) do svc.sources[#svc.sources + 1] = m .. "/**" end
      svc.sources[#svc.sources + 1] = svc.package .. "/**"
    elseif svc.project == "." then
      svc.sources = { "**" }
    else
      svc.sources = {}
      for _, m in ipairs(svc.members) do svc.sources[#svc.sources + 1] = m .. "/**" end
      svc.sources[#svc.sources + 1] = svc.project .. "/**"
    end
  end
  svc.base = spec.base or ("python:" .. svc.python .. "-slim")
  svc.venv = spec.venv or (svc.workdir .. "/.venv")
  local dev = spec.dev or {}
  for k in pairs(dev) do
    if not DEV_FIELDS[k] then
      local hint = type(k) == "string" and closest(k, keys_of(DEV_FIELDS))
      fail(("python.service '%s': dev: unknown field '%s'%s (fields: %s)"):format(name, tostring(k),
        hint and (" — did you mean '" .. hint .. "'?") or "", table.concat(keys_of(DEV_FIELDS), ", ")), level)
    end
  end
  svc.dev = { extras = dev.extras or {}, groups = dev.groups or {}, cmd = dev.cmd,
              restart = dev.restart or "warm", mode = dev.mode or "sync" }
  if svc.dev.restart ~= "warm" and svc.dev.restart ~= "cold" then
    fail(("python.service '%s': dev.restart must be \"warm\" or \"cold\", got '%s'"):format(name,
      tostring(svc.dev.restart)), level)
  end
  if svc.dev.mode ~= "sync" and svc.dev.mode ~= "mount" then
    fail(("python.service '%s': dev.mode must be \"sync\" or \"mount\", got '%s'"):format(name,
      tostring(svc.dev.mode)), level)
  end
  svc.prod = { cmd = (spec.prod or {}).cmd }
  svc.tags = spec.tags or { prod = name .. ":prod", dev = name .. ":dev", release = name .. ":release" }
  if not svc.cmd or (#svc.cmd == 0 and #svc.entrypoint == 0) then
    fail(("python.service '%s': needs cmd = { ... }, the command that runs it"):format(name), level)
  end
  if not svc.user:match("^[a-z_][a-z0-9_-]*$") then
    fail(("python.service '%s': user must be a user name, got '%s'"):format(name, svc.user), level)
  end
  if svc.user == "root" then -- allowed when asked for by name, and said at every build
    svc.uid = 0
    svc.warning = ("runs as root (user = \"root\" in the recipe); a non-root user is safer"):format()
  end
  for _, p in ipairs(svc.apt) do
    if not apt.valid_name(p) then
      fail(("python.service '%s': apt package: '%s' is not a valid name"):format(name, tostring(p)), level)
    end
  end
  check_words(("python.service '%s': dev group"):format(name), svc.dev.groups, level)
  check_words(("python.service '%s': dev extra"):format(name), svc.dev.extras, level)
  local paths = { svc.workdir, svc.venv }
  for _, d in ipairs(svc.dirs) do paths[#paths + 1] = d end
  for _, p in ipairs(paths) do
    if not p:match("^/[%w%._/%-]*$") then
      fail(("python.service '%s': '%s' must be an absolute path of plain characters"):format(name, p), level)
    end
  end
  if svc.health and not svc.health:match("^/[%w%._/%-?=&]*$") then
    fail(("python.service '%s': health must be a URL path such as /health"):format(name), level)
  end
  if not svc.stop_signal:match("^SIG[A-Z0-9]+$") then
    fail(("python.service '%s': stop_signal must be a signal name such as SIGTERM"):format(name), level)
  end
  if not svc.health_interval:match("^%d+[smh]$") then
    fail(("python.service '%s': health_interval must be like 30s"):format(name), level)
  end
  for _, k in ipairs(svc.keep) do
    if k:find("%.%.") or k:match("^/") or not k:match("^[%w%._/%-]+$") then
      fail(("python.service '%s': keep: '%s' must be a plain path inside the project"):format(name, k), level)
    end
  end
  if svc.gpus and not (svc.gpus == "all" or svc.gpus:match("^[1-9]%d?$")) then
    fail(("python.service '%s': gpus must be \"all\" or a count such as \"1\", got '%s'"):format(name, svc.gpus), level)
  end
  for _, n in ipairs(svc.prune) do
    if not n:match("^[%w%._%-*]+$") then
      fail(("python.service '%s': prune: '%s' must be a file or folder name (wildcards allowed)"):format(name, n), level)
    end
  end
  for _, k in ipairs(keys_of(svc.build_args)) do
    local v = svc.build_args[k]
    if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") or type(v) ~= "string" or not v:match("^[%w%._/:@+%-]*$") then
      fail(("python.service '%s': build_args: '%s' must be NAME = \"plain value\""):format(name, tostring(k)), level)
    end
  end
  if spec.release then
    for k in pairs(spec.release) do
      if not RELEASE_FIELDS[k] then
        local hint = type(k) == "string" and closest(k, keys_of(RELEASE_FIELDS))
        fail(("python.service '%s': release: unknown field '%s'%s (fields: %s)"):format(name, tostring(k),
          hint and (" — did you mean '" .. hint .. "'?") or "", table.concat(keys_of(RELEASE_FIELDS), ", ")), level)
      end
    end
    local r = spec.release
    svc.release = { package = r.package, index = r.index or "https://pypi.org/simple",
                    version_arg = r.version_arg or "PACKAGE_VERSION", index_arg = r.index_arg or "PACKAGE_INDEX" }
    svc.project_meta = require("dbx.toml").read(svc.dir, svc.at("pyproject.toml")).project or {}
    svc.release.package = svc.release.package or svc.project_meta.name
    if type(svc.release.package) ~= "string" or not svc.release.package:match("^[%w][%w%._%-]*$") then
      fail(("python.service '%s': release.package must name the published package"):format(name), level)
    end
    if type(svc.release.index) ~= "string" or not svc.release.index:match("^https?://[%w%._:/%-@]+$") then
      fail(("python.service '%s': release.index must be an http(s) URL of a package index"):format(name), level)
    end
    for _, a in ipairs({ svc.release.version_arg, svc.release.index_arg }) do
      if type(a) ~= "string" or not a:match("^[%a_][%w_]*$") then
        fail(("python.service '%s': release: '%s' is not a build argument name"):format(name, tostring(a)), level)
      end
    end
  end
  -- secrets = { netrc = { src = "~/.netrc", target = "/root/.netrc" }, token = "secrets/token" }:
  -- mounted (never copied) into each install step; the file at /run/secrets/ID by default
  svc.secrets, svc.secret_mounts = {}, ""
  for _, id in ipairs(keys_of(spec.secrets or {})) do
    local v = spec.secrets[id]
    local src, target = v, "/run/secrets/" .. tostring(id)
    if type(v) == "table" then src, target = v.src, v.target or target end
    if type(id) ~= "string" or not id:match("^[%w_.%-]+$") or type(src) ~= "string" or src == ""
      or type(target) ~= "string" or not target:match("^/[%w%._/%-]*$") then
      fail(("python.service '%s': secrets: '%s' must be ID = \"file\" or ID = { src = \"file\", target = \"/path\" }")
        :format(name, tostring(id)), level)
    end
    svc.secrets[id] = src
    svc.secret_mounts = svc.secret_mounts .. (" --mount=type=secret,id=%s,target=%s"):format(id, target)
  end
  if svc.health_cmd then
    if svc.health then
      fail(("python.service '%s': health (HTTP) and health_cmd (a command) exclude each other"):format(name), level)
    end
    if #svc.health_cmd == 0 then fail(("python.service '%s': health_cmd needs a command"):format(name), level) end
    for _, a in ipairs(svc.health_cmd) do
      if type(a) ~= "string" or a:find("\n") then
        fail(("python.service '%s': health_cmd must be a list of strings without newlines"):format(name), level)
      end
    end
  end
  if svc.health and not svc.port then
    fail(("python.service '%s': health needs port"):format(name), level)
  end
  local manager = spec.manager or "auto"
  if manager == "auto" then manager = detect(svc, level) end
  local known = false
  for _, m in ipairs(MANAGERS) do known = known or m == manager end
  if not known then
    fail(("python.service '%s': unknown manager '%s' (this dbx knows: %s)"):format(name, manager,
      table.concat(MANAGERS, ", ")), level)
  end
  svc.manager = require("dbx.recipes." .. manager)
  if svc.package and not svc.manager.workspaces then
    fail(("python.service '%s': package (a workspace member) needs a manager with workspaces (uv), not %s")
      :format(name, manager), level)
  end
  local lock = svc.manager.lockfile
  if not has_file(svc, lock) then
    local how = { uv = "uv lock", pdm = "pdm lock", poetry = "poetry lock",
                  pip = "pin every installed package: pip freeze > constraints.txt" }
    fail(("python.service '%s': manager '%s' needs %s in %s, and there is none; create it (%s)")
      :format(name, manager, lock, svc.dir == "" and "." or svc.dir, how[manager]), level)
  end
  return svc
end

-- ---- the Dockerfile pieces, shared by the layers and by `dbx gen` ----

local function env_lines(svc, l)
  local env = { PYTHONUNBUFFERED = "1", PYTHONDONTWRITEBYTECODE = "1", VIRTUAL_ENV = svc.venv }
  for k, v in pairs(svc.env) do env[k] = v end
  l[#l + 1] = "ENV " .. table.concat(sorted_env(env), " \\\n    ")
  l[#l + 1] = ("ENV PATH=%s/bin:$PATH"):format(svc.venv)
  return l
end

-- The image prod's dependencies and project are installed in when the
-- recipe names a builder (a uv image, say): the same env and workdir as base.
local function builder_lines(svc)
  local l = env_lines(svc, { "FROM " .. svc.builder })
  l[#l + 1] = "WORKDIR " .. svc.workdir
  return l
end

local function base_lines(svc)
  local l = { "FROM " .. svc.base }
  l[#l + 1] = apt.install(svc.apt)
  env_lines(svc, l)
  if svc.user ~= "root" then
    l[#l + 1] = ("RUN groupadd --gid %d %s && useradd --uid %d --gid %d --create-home --shell /usr/sbin/nologin %s")
      :format(svc.uid, svc.user, svc.uid, svc.uid, svc.user)
  end
  if #svc.dirs > 0 then
    l[#l + 1] = ("RUN mkdir -p %s && chown %s:%s %s"):format(table.concat(svc.dirs, " "), svc.user, svc.user,
      table.concat(svc.dirs, " "))
  end
  l[#l + 1] = "WORKDIR " .. svc.workdir
  return l
end

local function deps_lines(svc, variant)
  local m = svc.manager
  local l = {}
  for _, s in ipairs(m.setup(svc)) do l[#l + 1] = s end
  local files = m.manifests(svc)
  for _, f in ipairs(files) do
    local destdir = f:match("^(.*)/[^/]*$")
    l[#l + 1] = ("COPY %s %s/%s"):format(f, svc.workdir, destdir and (destdir .. "/") or "")
  end
  if svc.project ~= "." then l[#l + 1] = ("WORKDIR %s/%s"):format(svc.workdir, svc.project) end
  l[#l + 1] = ("RUN --mount=type=cache,target=%s%s \\\n    %s"):format(m.cache, svc.secret_mounts, m.install_deps(svc, variant))
  return l
end

local function source_lines(svc, variant)
  local l = {}
  if svc.project == "." and #svc.members == 0 and not svc.package then
    l[1] = ("COPY . %s"):format(svc.workdir)
  else -- the shared members' source before the project's, as they change less often
    for _, p in ipairs(svc.members) do l[#l + 1] = ("COPY %s %s/%s"):format(p, svc.workdir, p) end
    local own = svc.package or svc.project
    l[#l + 1] = ("COPY %s %s/%s"):format(own, svc.workdir, own)
  end
  local install = svc.manager.install_project(svc, variant)
  if install then
    l[#l + 1] = ("RUN --mount=type=cache,target=%s%s \\\n    %s"):format(svc.manager.cache, svc.secret_mounts, install)
  end
  if variant == "prod" and #svc.prune > 0 then
    -- what prod does not run: tests, caches; the venv (and its compiled bytecode) is left alone
    local names = {}
    for _, n in ipairs(svc.prune) do names[#names + 1] = ("-name '%s'"):format(n) end
    l[#l + 1] = ("RUN find %s -path %s -prune -o \\( %s \\) -prune -exec rm -rf {} +")
      :format(svc.workdir, svc.venv, table.concat(names, " -o "))
  end
  return l
end

-- The release variant: the published package at the version given as a
-- build argument, from a package index, into a fresh venv; no source.
local function release_lines(svc)
  local r = svc.release
  return {
    "COPY --from=" .. (svc.uv_image or require("dbx.recipes.uv").image) .. " /usr/local/bin/uv /usr/local/bin/uv",
    "ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=0",
    "ARG " .. r.version_arg,
    ("ARG %s=%s"):format(r.index_arg, r.index),
    ('RUN test -n "$%s" || { echo "%s is not set: build with --build-arg %s=X.Y.Z" >&2; exit 1; }')
      :format(r.version_arg, r.version_arg, r.version_arg),
    -- --index comes before the default index (PyPI), so the package is taken
    -- from it alone, and its dependencies from PyPI when the index lacks them
    ('RUN --mount=type=cache,target=/root/.cache/uv%s \\\n    uv venv %s && uv pip install --python %s/bin/python --index "$%s" "%s==$%s"')
      :format(svc.secret_mounts, svc.venv, svc.venv, r.index_arg, r.package, r.version_arg),
  }
end

local START = [[#!/bin/sh
# Generated by dbx: run the service's command inside its virtual environment.
set -e
. %s/bin/activate
exec "$@"
]]

local function entry_lines(svc, variant)
  local cmd = (variant ~= "release" and svc[variant].cmd) or svc.cmd
  local l = {}
  for _, k in ipairs(keys_of(svc.build_args)) do
    l[#l + 1] = ("ARG %s=%s"):format(k, svc.build_args[k])
    l[#l + 1] = ("ENV %s=${%s}"):format(k, k)
  end
  l[#l + 1] = ("COPY start.sh %s/start.sh"):format(svc.workdir)
  l[#l + 1] = ("LABEL dbx.service=%q dbx.variant=%q"):format(svc.name, variant)
  for _, k in ipairs(keys_of(svc.labels)) do l[#l + 1] = ("LABEL %s=%q"):format(k, svc.labels[k]) end
  local ports = {}
  if svc.port then ports[1] = tostring(svc.port) end
  for _, p in ipairs(svc.expose) do ports[#ports + 1] = tostring(math.tointeger(p) or p) end
  if #ports > 0 then l[#l + 1] = "EXPOSE " .. table.concat(ports, " ") end
  if svc.health_cmd then
    l[#l + 1] = ("HEALTHCHECK --interval=%s --timeout=3s --start-period=5s --retries=3 \\\n    CMD ")
      :format(svc.health_interval) .. json_list(svc.health_cmd)
  elseif svc.health then
    -- health_when = { MODE = "api" }: only a container started that way is probed
    local cond = {}
    for _, k in ipairs(keys_of(svc.health_when)) do
      cond[#cond + 1] = ("os.environ.get(%q) != %q"):format(k, svc.health_when[k])
    end
    local probe = ("import urllib.request; urllib.request.urlopen('http://127.0.0.1:%d%s', timeout=2)")
      :format(svc.port, svc.health)
    if #cond > 0 then
      probe = ("import os, sys\nif %s: sys.exit(0)\n%s"):format(table.concat(cond, " or "), probe)
    end
    l[#l + 1] = ("HEALTHCHECK --interval=%s --timeout=3s --start-period=5s --retries=3 \\\n    CMD ")
      :format(svc.health_interval) .. json_list({ svc.venv .. "/bin/python", "-c", probe })
  end
  if svc.project ~= "." then l[#l + 1] = ("WORKDIR %s/%s"):format(svc.workdir, svc.project) end
  l[#l + 1] = "STOPSIGNAL " .. svc.stop_signal
  l[#l + 1] = "USER " .. svc.user
  local entry = { svc.workdir .. "/start.sh" }
  for _, e in ipairs(svc.entrypoint) do
    entry[#entry + 1] = e:match("^/") and e or (svc.workdir .. "/" .. e)
  end
  l[#l + 1] = "ENTRYPOINT " .. json_list(entry)
  l[#l + 1] = "CMD " .. json_list(cmd)
  return l
end

local function text(...)
  local out = {}
  for _, part in ipairs({ ... }) do
    for _, line in ipairs(part) do out[#out + 1] = line end
  end
  return table.concat(out, "\n") .. "\n"
end

-- Dockerfile and Dockerfile.dev for the first service of a folder;
-- Dockerfile.NAME and Dockerfile.NAME.dev for any other one there.
local gen_owner = {}
-- With a release variant, that one is Dockerfile and prod from the checkout
-- is Dockerfile.source.
local function gen_name(svc, variant)
  gen_owner[svc.dir] = gen_owner[svc.dir] or svc.name
  local base = gen_owner[svc.dir] == svc.name and "Dockerfile" or ("Dockerfile." .. svc.name)
  if variant == "dev" then return base .. ".dev" end
  if variant == "prod" and svc.release then return base .. ".source" end
  return base
end

-- The standalone Dockerfile `dbx gen` writes: the same instructions as the
-- layers, as stages of one multi-stage file.
local function standalone(svc, variant)
  local head = { "# Generated by dbx gen from build.lua: the same steps dbx builds as layers.",
                 "# Build from this folder: docker build -f " .. gen_name(svc, variant)
                 .. (variant == "release" and (" --build-arg " .. svc.release.version_arg .. "=X.Y.Z") or "") .. " ." }
  for _, id in ipairs(keys_of(svc.secrets)) do
    head[#head + 1] = ("#   with the secret: --secret id=%s,src=%s"):format(id, svc.secrets[id])
  end
  if svc.gpus then
    head[#head + 1] = ("# Run with its GPUs: docker run --gpus %s IMAGE"):format(svc.gpus)
  end
  local base = base_lines(svc)
  base[1] = base[1] .. " AS base"
  local builder = variant ~= "dev" and svc.builder and builder_lines(svc)
  if builder then builder[1] = builder[1] .. " AS builder" end
  if variant == "release" then
    local install = { "FROM " .. (builder and "builder" or "base") .. " AS install" }
    for _, l in ipairs(release_lines(svc)) do install[#install + 1] = l end
    local final = { "FROM base", ("COPY --from=install %s %s"):format(svc.venv, svc.venv) }
    for _, l in ipairs(entry_lines(svc, variant)) do final[#final + 1] = l end
    return text(head, { "" }, base, { "" }, builder or {}, builder and { "" } or {}, install, { "" }, final)
  end
  local deps = { "FROM " .. (builder and "builder" or "base") .. " AS deps" }
  for _, l in ipairs(deps_lines(svc, variant)) do deps[#deps + 1] = l end
  local src = { "FROM deps AS source" }
  for _, l in ipairs(source_lines(svc, variant)) do src[#src + 1] = l end
  local final
  if variant == "prod" then
    final = { "FROM base", ("COPY --from=source %s %s"):format(svc.venv, svc.venv) }
    for _, k in ipairs(svc.keep) do
      final[#final + 1] = ("COPY --from=source %s/%s %s/%s"):format(svc.workdir, k, svc.workdir, k)
    end
  else
    final = { "FROM source" }
  end
  for _, l in ipairs(entry_lines(svc, variant)) do final[#final + 1] = l end
  return text(head, { "" }, base, { "" }, builder or {}, builder and { "" } or {}, deps, { "" }, src, { "" }, final)
end

-- What `dbx dev` needs to run a variant's image: not keyed, so changing the
-- way it runs rebuilds nothing. Project-relative paths; the source folder's
-- files land at workdir/PATH (PATH relative to context).
local function run_facts(svc, variant)
  local v = svc.name .. "/" .. variant
  return {
    service = svc.name, variant = variant, default = svc.in_groups and "1" or "0",
    workdir = svc.workdir, user = svc.user, uid = tostring(svc.uid),
    port = svc.port and tostring(svc.port) or nil, health = svc.health,
    health_cmd = svc.health_cmd and table.concat(svc.health_cmd, "\n") or nil,
    stop_signal = svc.stop_signal,
    context = svc.dir, sources = table.concat(svc.sources, "\n"),
    source = v .. "/source", deps = v .. "/deps", base = svc.name .. "/base", lock = svc.name .. "/lock",
    restart = svc.dev.restart, mode = svc.dev.mode, gpus = svc.gpus, warning = svc.warning,
  }
end

local function declare(kind, name, spec, svc, where)
  spec.network = spec.network or svc.network
  recipe.declare(kind, name, spec, svc.dir, 1, { where = where })
end

local function declare_groups()
  if groups_declared then return end
  groups_declared = true
  for _, g in ipairs({ "prod", "dev", "all", "release" }) do
    if not recipe.declared(g) and #groups[g] > 0 then
      recipe.declare("group", g, groups[g], "", 1, { where = "(dbx.python)" })
    end
  end
end

function M.service(name)
  return function(spec)
    local info = debug.getinfo(2, "Sl")
    local where = info.short_src .. ":" .. (info.currentline or 0)
    local svc = normalise(name, spec, 2)
    local check = name .. "/lock"
    declare("cmd", check, {
      desc = svc.manager.check_desc,
      inputs = svc.manager.manifests(svc),
      run = svc.manager.check(svc),
    }, svc, where)
    local base = name .. "/base"
    declare("image", base, { desc = "base image, OS packages, user", dockerfile = text(base_lines(svc)) }, svc, where)
    local start = START:format(svc.venv)
    if svc.builder then
      declare("image", name .. "/builder", { desc = "the builder prod installs in", dockerfile = text(builder_lines(svc)) },
        svc, where)
    end
    -- the final image of a variant: start script, command, health check
    local function final(variant, first, from)
      local v = name .. "/" .. variant
      local spec = {
        desc = variant .. " image: start script, command, health check",
        deps = { from, base },
        files = { ["start.sh"] = start },
        dockerfile = text(first, entry_lines(svc, variant)),
        tags = { svc.tags[variant] or (name .. ":" .. variant) },
      }
      spec.network = spec.network or svc.network
      recipe.declare("image", v, spec, svc.dir, 2, { where = where, meta = run_facts(svc, variant) })
      recipe.set_gen(v, { [gen_name(svc, variant)] = standalone(svc, variant), ["start.sh"] = start })
      if svc.in_groups then
        groups[variant][#groups[variant] + 1] = v
        if variant ~= "release" then groups.all[#groups.all + 1] = v end
      end
    end
    for _, variant in ipairs({ "prod", "dev" }) do
      local v = name .. "/" .. variant
      local under = (variant == "prod" and svc.builder) and (name .. "/builder") or base
      declare("image", v .. "/deps", {
        desc = variant .. " dependencies from the lock file",
        deps = { under, check },
        inputs = svc.manager.manifests(svc),
        dockerfile = text({ "FROM {{dep:" .. under .. "}}" }, deps_lines(svc, variant)),
        secrets = svc.secrets,
      }, svc, where)
      declare("image", v .. "/source", {
        desc = "the application installed" .. (variant == "dev" and " (editable)" or ""),
        deps = { v .. "/deps" },
        inputs = svc.sources,
        dockerfile = text({ "FROM {{dep:" .. v .. "/deps}}" }, source_lines(svc, variant)),
        secrets = svc.secrets,
      }, svc, where)
      local first
      if variant == "prod" then
        first = { "FROM {{dep:" .. v .. "/source}} AS build", "FROM {{dep:" .. base .. "}}",
                  ("COPY --from=build %s %s"):format(svc.venv, svc.venv) }
        for _, k in ipairs(svc.keep) do -- project files prod needs besides the venv
          first[#first + 1] = ("COPY --from=build %s/%s %s/%s"):format(svc.workdir, k, svc.workdir, k)
        end
      else
        first = { "FROM {{dep:" .. v .. "/source}}" }
      end
      final(variant, first, v .. "/source")
    end
    if svc.release then
      local v = name .. "/release"
      local under = svc.builder and (name .. "/builder") or base
      local r = svc.release
      declare("image", v .. "/install", {
        desc = ("%s==$%s from %s (or $%s)"):format(r.package, r.version_arg, r.index, r.index_arg),
        deps = { under },
        args = { r.version_arg, r.index_arg .. "=" .. r.index },
        secrets = svc.secrets,
        dockerfile = text({ "FROM {{dep:" .. under .. "}}" }, release_lines(svc)),
      }, svc, where)
      final("release", { "FROM {{dep:" .. v .. "/install}} AS build", "FROM {{dep:" .. base .. "}}",
                         ("COPY --from=build %s %s"):format(svc.venv, svc.venv) }, v .. "/install")
    end
    if svc.release and svc.project == "." and not svc.package then
      -- the wheel to publish, built on the host; a pure-Python package's name is known ahead
      local core = require "dbx.core"
      local proj = svc.project_meta
      local inputs = svc.manager.manifests(svc)
      for _, extra in ipairs({ "README.md", "README.rst", "LICENSE" }) do
        if core.read(svc.dir, extra) then inputs[#inputs + 1] = extra end
      end
      local src = #core.glob(svc.dir, "src/**") > 0 and { "src/**" } or svc.sources
      for _, p in ipairs(src) do inputs[#inputs + 1] = p end
      local whl = proj.name and proj.version and
        ("dist/%s-%s-py3-none-any.whl"):format(proj.name:lower():gsub("[-_.]+", "_"), proj.version)
      declare("cmd", name .. "/wheel", {
        desc = "the wheel to publish, built on the host (uv build)" .. (whl and (": " .. whl) or ""),
        inputs = inputs,
        run = { "uv", "build", "--wheel", "--out-dir", "dist", "." },
        outputs = whl and { whl } or nil,
      }, svc, where)
    end
    recipe.at_end(declare_groups)
    return name
  end
end

return M
