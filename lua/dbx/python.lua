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
-- plus SERVICE/lock (the host-side lock check), SERVICE/builder where there
-- are build-only packages or a builder image, and the groups prod, dev, all.
-- prod is multi-stage: its final image is the base with the venv copied in
-- (a package), or the venv and the application tree (an application), so it
-- holds no package manager, no compiler, no dev dependencies.
local recipe = require "dbx.recipe"
local pyspec = require "dbx.pyspec"
local layers = require "dbx.pylayers"

local M = {}

local groups = { prod = {}, dev = {}, all = {}, release = {} }
local groups_declared = false

local keys_of = recipe.keys_of
local text = layers.text

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
    env_file = svc.env_file,
  }
end

local function declare(kind, name, spec, svc, where)
  if kind == "image" then spec.network = spec.network or svc.network end -- a host command has no build network
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

-- The layers of one service (where: the recipe's file:line).
local function declare_service(name, spec, where)
  local svc = pyspec.normalise(name, spec)
  -- said when the guess leaves an installable project uninstalled
  if svc.kind == "app" and svc.kind_why:match("^a guess") then
    require("dbx.core").say(("%s: python.service '%s' is an application (%s; set kind = \"app\" to say so)")
      :format(where, name, svc.kind_why))
  end
  local check = name .. "/lock"
  declare("cmd", check, {
    desc = svc.manager.check_desc,
    inputs = svc.manager.manifests(svc),
    run = svc.manager.check(svc),
  }, svc, where)
  local base = name .. "/base"
  declare("image", base, { desc = "base image, OS packages, user", dockerfile = text(layers.base_lines(svc)) },
    svc, where)
  local start = layers.start_script(svc)
  if layers.has_builder(svc) then
    declare("image", name .. "/builder", {
      desc = "the builder dependencies are installed in" .. (#svc.build_apt > 0 and " (with build-only packages)" or ""),
      deps = svc.builder and {} or { base },
      dockerfile = text(layers.builder_lines(svc, "{{dep:" .. base .. "}}")),
    }, svc, where)
  end
  local what = svc.kind == "app" and "an application, run from its tree" or "a package, run from the venv"
  -- the final image of a variant: runtime env, start script, command, health check
  local function final(variant, first, from)
    local v = name .. "/" .. variant
    local spec = {
      desc = variant .. " image (" .. what .. "): start script, command, health check",
      deps = { from, base },
      files = { ["start.sh"] = start },
      dockerfile = text(first, layers.entry_lines(svc, variant)),
      tags = { svc.tags[variant] or (name .. ":" .. variant) },
    }
    spec.network = spec.network or svc.network
    recipe.declare("image", v, spec, svc.dir, 2, { where = where, meta = run_facts(svc, variant) })
    local file = gen_name(svc, variant)
    recipe.set_gen(v, { [file] = layers.standalone(svc, variant, file) })
    if svc.in_groups then
      groups[variant][#groups[variant] + 1] = v
      if variant ~= "release" then groups.all[#groups.all + 1] = v end
    end
  end
  for _, variant in ipairs({ "prod", "dev" }) do
    local v = name .. "/" .. variant
    local under = name .. "/" .. layers.deps_parent(svc, variant)
    declare("image", v .. "/deps", {
      desc = variant .. " dependencies from the lock file",
      deps = { under, check },
      inputs = svc.manager.manifests(svc),
      dockerfile = text({ "FROM {{dep:" .. under .. "}}" }, layers.deps_lines(svc, variant)),
      secrets = svc.secrets,
    }, svc, where)
    declare("image", v .. "/source", {
      desc = svc.kind == "app" and "the application tree" .. (svc.manager.install_project(svc, variant)
               and ", its local packages installed" or "")
        or ("the project installed" .. (variant == "dev" and " (editable)" or "")),
      deps = { v .. "/deps" },
      inputs = svc.sources,
      dockerfile = text({ "FROM {{dep:" .. v .. "/deps}}" }, layers.source_lines(svc, variant)),
      secrets = svc.secrets,
    }, svc, where)
    local first
    if variant == "prod" then
      first = { "FROM {{dep:" .. v .. "/source}} AS build", "FROM {{dep:" .. base .. "}}" }
      for _, l in ipairs(layers.prod_copy(svc, "build")) do first[#first + 1] = l end
    else
      first = { "FROM {{dep:" .. v .. "/source}}" }
    end
    final(variant, first, v .. "/source")
  end
  if svc.release then
    local v = name .. "/release"
    local under = layers.has_builder(svc) and (name .. "/builder") or base
    local r = svc.release
    declare("image", v .. "/install", {
      desc = ("%s==$%s from %s (or $%s)"):format(r.package, r.version_arg, r.index, r.index_arg),
      deps = { under },
      args = { r.version_arg, r.index_arg .. "=" .. r.index },
      secrets = svc.secrets,
      dockerfile = text({ "FROM {{dep:" .. under .. "}}" }, layers.release_lines(svc)),
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
end

-- A mistake found anywhere below names the recipe's line; where dbx's own
-- Lua raised it, that place follows in brackets.
local function at_recipe(where, err)
  local msg = tostring(err)
  if msg:sub(1, #where) == where then return msg end
  local place, inner = msg:match("^([^:\n]*dbx/[%w_/]+%.lua:%d+): (.*)$")
  if not place then place, inner = msg:match("^(%[string [^%]]*%]:%d+): (.*)$") end
  if place then return ("%s: %s (raised at %s)"):format(where, inner, place) end
  return where .. ": " .. msg
end

-- The message handler: a runtime error raised by a C function (a fault of
-- dbx's, not a message meant for the recipe) carries no place; the
-- innermost line of dbx's Lua is added.
local function with_place(e)
  if type(e) ~= "string" or not (e:match("^attempt to ") or e:match("^bad argument")) then return e end
  for level = 2, 30 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.currentline > 0 and info.short_src:match("dbx/[%w_/]+%.lua$") then
      return ("%s:%d: %s"):format(info.short_src, info.currentline, e)
    end
  end
  return e
end

function M.service(name)
  return function(spec)
    local info = debug.getinfo(2, "Sl")
    local where = info.short_src .. ":" .. (info.currentline or 0)
    local ok, err = xpcall(declare_service, with_place, name, spec, where)
    if not ok then error(at_recipe(where, err), 0) end
    return name
  end
end

return M
