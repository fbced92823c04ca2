-- dbx.pylayers: the Dockerfile text of a python.service's layers, shared by
-- the layer targets (dbx.python) and by `dbx gen`'s standalone files.
--   base     FROM the base image, runtime OS packages, fixed env, user, workdir
--   builder  what prod installs in: build-only OS packages (build_apt), or
--            the recipe's builder image
--   deps     the manifests and lock -> third-party dependencies in the venv
--   source   the tree; the project installed when it is a package
--   final    prod: base + the venv (a package) or the tree and the venv (an
--            application); runtime env, start script, command, health check
local recipe = require "dbx.recipe"
local apt = require "dbx.recipes.apt"

local M = {}

local keys_of = recipe.keys_of

-- "a b" quoting for Dockerfile JSON arrays.
function M.json_list(items)
  local out = {}
  for i, s in ipairs(items) do
    out[i] = '"' .. s:gsub('[%c"\\]', function(c)
      if c == '"' or c == "\\" then return "\\" .. c end
      return ("\\u%04x"):format(c:byte())
    end) .. '"'
  end
  return "[" .. table.concat(out, ", ") .. "]"
end

-- A Dockerfile ENV value, double-quoted, with $ kept literal (ENV expands it).
local function env_value(v)
  return '"' .. v:gsub('[\\"$]', "\\%0") .. '"'
end

-- One ENV instruction for a map (nil for an empty one), sorted by name.
local function env_instr(env)
  local out = {}
  for _, k in ipairs(keys_of(env)) do out[#out + 1] = k .. "=" .. env_value(env[k]) end
  if #out == 0 then return nil end
  return "ENV " .. table.concat(out, " \\\n    ")
end

-- A value for sh, single-quoted.
local function sh_quote(v) return "'" .. v:gsub("'", "'\\''") .. "'" end

-- The fixed environment every stage shares: the venv first on PATH.
local function base_env(svc, l)
  l[#l + 1] = env_instr({ PYTHONUNBUFFERED = "1", PYTHONDONTWRITEBYTECODE = "1", VIRTUAL_ENV = svc.venv })
  l[#l + 1] = ("ENV PATH=%s/bin:$PATH"):format(svc.venv)
  return l
end

function M.base_lines(svc)
  local l = { "FROM " .. svc.base }
  l[#l + 1] = apt.install(svc.apt)
  base_env(svc, l)
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

-- Whether the service has a builder layer: a builder image, or build-only packages.
function M.has_builder(svc)
  return svc.builder ~= nil or #svc.build_apt > 0
end

-- The builder, FROM the recipe's builder image (with base's env and
-- workdir) or FROM base (from_base: the text base stands for).
function M.builder_lines(svc, from_base)
  local l
  if svc.builder then
    l = base_env(svc, { "FROM " .. svc.builder })
    l[#l + 1] = "WORKDIR " .. svc.workdir
  else
    l = { "FROM " .. from_base }
  end
  l[#l + 1] = apt.install(svc.build_apt)
  return l
end

-- The layer the deps of variant are installed on: the builder where there is
-- one (dev too, when the builder is base plus build-only packages), else base.
function M.deps_parent(svc, variant)
  if not M.has_builder(svc) then return "base" end
  if variant == "prod" or not svc.builder then return "builder" end
  return "base"
end

-- The install steps' own environment (build_env), as sh assignments.
local function with_build_env(svc, command)
  local parts = {}
  for _, k in ipairs(keys_of(svc.build_env)) do parts[#parts + 1] = k .. "=" .. sh_quote(svc.build_env[k]) end
  if #parts == 0 then return command end
  return "export " .. table.concat(parts, " ") .. " \\\n    && " .. command
end

local function install_step(svc, command)
  return ("RUN --mount=type=cache,target=%s%s \\\n    %s"):format(svc.manager.cache, svc.secret_mounts,
    with_build_env(svc, command))
end

function M.deps_lines(svc, variant)
  local m = svc.manager
  local l = {}
  if variant == "dev" and svc.builder and #svc.build_apt > 0 then
    l[#l + 1] = apt.install(svc.build_apt) -- dev builds on base: the compilers come here
  end
  for _, s in ipairs(m.setup(svc)) do l[#l + 1] = s end
  for _, f in ipairs(m.manifests(svc)) do
    local destdir = f:match("^(.*)/[^/]*$")
    l[#l + 1] = ("COPY %s %s/%s"):format(f, svc.workdir, destdir and (destdir .. "/") or "")
  end
  if svc.project ~= "." then l[#l + 1] = ("WORKDIR %s/%s"):format(svc.workdir, svc.project) end
  l[#l + 1] = install_step(svc, m.install_deps(svc, variant))
  return l
end

function M.source_lines(svc, variant)
  local l = {}
  if svc.project == "." and #svc.members == 0 and not svc.package then
    l[1] = ("COPY . %s"):format(svc.workdir)
  else -- the shared members' source before the project's, as they change less often
    for _, p in ipairs(svc.members) do l[#l + 1] = ("COPY %s %s/%s"):format(p, svc.workdir, p) end
    local own = svc.package or svc.project
    l[#l + 1] = ("COPY %s %s/%s"):format(own, svc.workdir, own)
  end
  local install = svc.manager.install_project(svc, variant)
  if install then l[#l + 1] = install_step(svc, install) end
  if variant == "prod" and #svc.prune > 0 then
    -- what prod does not run: tests, caches; the venv (and its compiled bytecode) is left alone
    local names = {}
    for _, n in ipairs(svc.prune) do names[#names + 1] = ("-name '%s'"):format(n) end
    l[#l + 1] = ("RUN find %s -path %s -prune -o \\( %s \\) -prune -exec rm -rf {} +")
      :format(svc.workdir, svc.venv, table.concat(names, " -o "))
  end
  return l
end

-- Whether path is folder or lies inside it.
local function under(path, folder)
  return path == folder or path:sub(1, #folder + 1) == folder .. "/"
end

-- What prod's final image takes from the source stage (named from): the
-- venv, and for an application its tree (for a package, keep's files).
-- Files stay root's, read-only for the service; dirs the copies cover are
-- given back to the user (an upload folder stays writable).
function M.prod_copy(svc, from)
  local l, copied = {}, {}
  if svc.kind == "app" then
    l[#l + 1] = ("COPY --from=%s %s %s"):format(from, svc.workdir, svc.workdir)
    copied[1] = svc.workdir
    if not under(svc.venv, svc.workdir) then l[#l + 1] = ("COPY --from=%s %s %s"):format(from, svc.venv, svc.venv) end
  else
    l[#l + 1] = ("COPY --from=%s %s %s"):format(from, svc.venv, svc.venv)
    for _, k in ipairs(svc.keep) do -- project files prod needs besides the venv
      local at = svc.workdir .. "/" .. k
      l[#l + 1] = ("COPY --from=%s %s %s"):format(from, at, at)
      copied[#copied + 1] = at
    end
  end
  local mine = {}
  for _, d in ipairs(svc.dirs) do
    for _, c in ipairs(copied) do
      if under(d, c) or under(c, d) then mine[#mine + 1] = d; break end
    end
  end
  if #mine > 0 and svc.user ~= "root" then
    l[#l + 1] = ("RUN mkdir -p %s && chown %s:%s %s"):format(table.concat(mine, " "), svc.user, svc.user,
      table.concat(mine, " "))
  end
  return l
end

-- The release variant: the published package at the version given as a
-- build argument, from a package index, into a fresh venv; no source.
function M.release_lines(svc)
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

function M.start_script(svc) return START:format(svc.venv) end

-- The start script written by a RUN step: a standalone Dockerfile needs no
-- file of dbx's in its build context.
local function start_inline(svc)
  local lines = {}
  for line in M.start_script(svc):gmatch("([^\n]*)\n") do lines[#lines + 1] = sh_quote(line) end
  local at = svc.workdir .. "/start.sh"
  return ("RUN printf '%%s\\n' %s \\\n    > %s && chmod 755 %s"):format(table.concat(lines, " "), at, at)
end

-- The final layer: runtime env, start script, labels, ports, health check,
-- user, entrypoint and command. standalone: the start script is written by
-- a RUN step instead of copied from the context.
function M.entry_lines(svc, variant, standalone)
  local cmd = (variant ~= "release" and svc[variant].cmd) or svc.cmd
  local l = {}
  for _, k in ipairs(keys_of(svc.build_args)) do
    l[#l + 1] = ("ARG %s=%s"):format(k, svc.build_args[k])
    l[#l + 1] = ("ENV %s=${%s}"):format(k, k)
  end
  l[#l + 1] = env_instr(svc.env)
  l[#l + 1] = standalone and start_inline(svc) or ("COPY start.sh %s/start.sh"):format(svc.workdir)
  l[#l + 1] = ("LABEL dbx.service=%q dbx.variant=%q"):format(svc.name, variant)
  for _, k in ipairs(keys_of(svc.labels)) do l[#l + 1] = ("LABEL %s=%q"):format(k, svc.labels[k]) end
  local ports = {}
  if svc.port then ports[1] = tostring(svc.port) end
  for _, p in ipairs(svc.expose) do ports[#ports + 1] = tostring(math.tointeger(p) or p) end
  if #ports > 0 then l[#l + 1] = "EXPOSE " .. table.concat(ports, " ") end
  if svc.health_cmd then
    l[#l + 1] = ("HEALTHCHECK --interval=%s --timeout=3s --start-period=5s --retries=3 \\\n    CMD ")
      :format(svc.health_interval) .. M.json_list(svc.health_cmd)
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
      :format(svc.health_interval) .. M.json_list({ svc.venv .. "/bin/python", "-c", probe })
  end
  -- a monorepo's project, a workspace's member: commands run from its folder
  local own = svc.package or (svc.project ~= "." and svc.project)
  if own then l[#l + 1] = ("WORKDIR %s/%s"):format(svc.workdir, own) end
  l[#l + 1] = "STOPSIGNAL " .. svc.stop_signal
  l[#l + 1] = "USER " .. svc.user
  local entry = { svc.workdir .. "/start.sh" }
  for _, e in ipairs(svc.entrypoint) do
    entry[#entry + 1] = e:match("^/") and e or (svc.workdir .. "/" .. e)
  end
  l[#l + 1] = "ENTRYPOINT " .. M.json_list(entry)
  l[#l + 1] = "CMD " .. M.json_list(cmd)
  return l
end

-- Lines of several parts, as one text.
function M.text(...)
  local out = {}
  for _, part in ipairs({ ... }) do
    for _, line in ipairs(part) do out[#out + 1] = line end
  end
  return table.concat(out, "\n") .. "\n"
end

local function stage(first, lines)
  local l = { first }
  for _, x in ipairs(lines) do l[#l + 1] = x end
  return l
end

-- The standalone Dockerfile `dbx gen` writes (name: its file name): the same
-- instructions as the layers, as stages of one multi-stage file.
function M.standalone(svc, variant, name)
  local head = { "# Generated by dbx gen from build.lua: the same steps dbx builds as layers.",
                 "# Build from the project folder: docker build -f " .. name
                 .. (variant == "release" and (" --build-arg " .. svc.release.version_arg .. "=X.Y.Z") or "") .. " ." }
  for _, id in ipairs(keys_of(svc.secrets)) do
    head[#head + 1] = ("#   with the secret: --secret id=%s,src=%s"):format(id, svc.secrets[id])
  end
  if svc.gpus then
    head[#head + 1] = ("# Run with its GPUs: docker run --gpus %s IMAGE"):format(svc.gpus)
  end
  local base = M.base_lines(svc)
  base[1] = base[1] .. " AS base"
  -- dev installs on base when the builder is an image of its own (deps_lines
  -- adds the build-only packages there)
  local builder = M.has_builder(svc) and not (variant == "dev" and svc.builder) and M.builder_lines(svc, "base")
  if builder then builder[1] = builder[1] .. " AS builder" end
  local parts = { head, { "" }, base, { "" } }
  if builder then parts[#parts + 1] = builder; parts[#parts + 1] = { "" } end
  local under = builder and "builder" or "base"
  local final
  if variant == "release" then
    parts[#parts + 1] = stage("FROM " .. under .. " AS install", M.release_lines(svc))
    final = { "FROM base", ("COPY --from=install %s %s"):format(svc.venv, svc.venv) }
  else
    parts[#parts + 1] = stage("FROM " .. under .. " AS deps", M.deps_lines(svc, variant))
    parts[#parts + 1] = { "" }
    parts[#parts + 1] = stage("FROM deps AS source", M.source_lines(svc, variant))
    if variant == "prod" then
      final = stage("FROM base", M.prod_copy(svc, "source"))
    else
      final = { "FROM source" }
    end
  end
  parts[#parts + 1] = { "" }
  for _, l in ipairs(M.entry_lines(svc, variant, true)) do final[#final + 1] = l end
  parts[#parts + 1] = final
  return M.text(table.unpack(parts))
end

return M
