-- The recipe language: what build.lua files may call. Each recipe file runs
-- in its own sandbox (listed globals only; no io, no os.execute) with
-- target/group/glob/include/read bound to the file's folder.
local core = require "dbx.core"

local M = {}

local targets, byname, included = {}, {}, {}
local at_end = {}   -- functions run once every recipe file has been evaluated
local dir_stack = {} -- folder of the recipe file being evaluated, innermost last

-- The fields each kind accepts, and what each must hold.
local FIELDS = {
  cmd = { deps = "list", inputs = "list", run = "list", outputs = "list", env = "map",
          desc = "string", pool = "string" },
  group = { deps = "list", desc = "string" },
  image = { deps = "list", inputs = "list", desc = "string", pool = "string",
            dockerfile = "string", context = "string", files = "files", build_args = "map",
            stage = "string", tags = "list", network = "string", args = "list", secrets = "map" },
}

local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  if info and info.currentline and info.currentline > 0 then
    return info.short_src .. ":" .. info.currentline
  end
  return "?"
end

local function typeof(v)
  local t = type(v)
  if t == "table" then
    return next(v) == nil and "an empty table" or "a table"
  end
  return t == "nil" and "nothing" or ("a " .. t)
end

local function keys_of(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

-- Check one field's value against its shape; returns a clean copy.
local function check_field(what, field, shape, v, level)
  local function bad(expected) -- level + 2: bad, check_field, then the caller's frames
    error(("%s: field '%s' must be %s, got %s"):format(what, field, expected, typeof(v)), level + 2)
  end
  if shape == "string" then
    if type(v) ~= "string" then bad("a string") end
    return v
  elseif shape == "list" then
    if type(v) == "string" and field == "run" then
      error(("%s: field 'run' must be a list of strings (the argv, run without a shell), got a string;"
        .. " write run = { \"prog\", \"arg\" }, or run = { \"sh\", \"-c\", %q } for a shell")
        :format(what, v), level + 1)
    end
    if type(v) == "string" then v = { v } end
    if type(v) ~= "table" then bad("a list of strings") end
    local out, n = {}, 0
    for k in pairs(v) do
      if math.type(k) ~= "integer" or k < 1 then
        error(("%s: field '%s' must be a list of strings, but has the key '%s'"):format(
          what, field, tostring(k)), level + 1)
      end
      n = math.max(n, k)
    end
    for i = 1, n do
      local x = v[i]
      if type(x) == "number" then x = tostring(x) end
      if type(x) ~= "string" then
        error(("%s: field '%s' item %d must be a string, got %s"):format(what, field, i, typeof(x)),
          level + 1)
      end
      out[i] = x
    end
    return out
  elseif shape == "files" then
    if type(v) ~= "table" then bad("a table of [\"path\"] = content") end
    local out = {}
    for k, x in pairs(v) do
      if type(k) ~= "string" or k == "" or k:sub(1, 1) == "/" or k:find("%.%.") then
        error(("%s: field '%s' has a bad path '%s'"):format(what, field, tostring(k)), level + 1)
      end
      if type(x) ~= "string" then
        error(("%s: field '%s' content of %s must be a string, got %s"):format(what, field, k, typeof(x)),
          level + 1)
      end
      out[k] = x
    end
    return out
  elseif shape == "map" then
    if type(v) ~= "table" then bad("a table of NAME = value") end
    local out = {}
    for k, x in pairs(v) do
      if type(k) ~= "string" or not k:match("^[%a_][%w_]*$") then
        error(("%s: field '%s' has a bad name '%s'"):format(what, field, tostring(k)), level + 1)
      end
      if type(x) == "number" or type(x) == "boolean" then x = tostring(x) end
      if type(x) ~= "string" then
        error(("%s: field '%s' value of %s must be a string, got %s"):format(what, field, k, typeof(x)),
          level + 1)
      end
      out[k] = x
    end
    return out
  end
  error("unknown shape " .. shape)
end

local function check_name(name, kind, level)
  kind = kind == "cmd" and "target" or kind
  if type(name) ~= "string" then
    error(("%s name must be a string, got %s"):format(kind, typeof(name)), level + 1)
  end
  if not name:match("^[%w_][%w_%.%-/:@+]*$") then
    error(("%s name '%s' may hold only letters, digits and _ . - / : @ + (and not start with a sign)")
      :format(kind, name), level + 1)
  end
end

-- Declare a target of kind from spec; level is the caller's stack level.
-- Extra fields (params, kind-specific) may be passed by dbx's own modules.
function M.declare(kind, name, spec, dir, level, extra)
  level = level + 1
  check_name(name, kind, level)
  local what = ("%s '%s'"):format(kind == "cmd" and "target" or kind, name)
  if type(spec) ~= "table" then
    error(("%s: expected a table of fields { ... }, got %s"):format(what, typeof(spec)), level)
  end
  local fields = FIELDS[kind] or FIELDS.cmd
  local t = { name = name, kind = kind, where = where(level), dir = dir, deps = {}, inputs = {},
              run = {}, outputs = {}, env = {}, params = {} }
  for k, v in pairs(spec) do
    if kind == "group" and math.type(k) == "integer" then
      -- group "all" { "a", "b" }: the list part names the members
    elseif type(k) ~= "string" or not fields[k] then
      local hint = type(k) == "string" and core.closest(k, keys_of(fields))
      error(("%s: unknown field '%s'%s (fields: %s)"):format(what, tostring(k),
        hint and (" — did you mean '" .. hint .. "'?") or "", table.concat(keys_of(fields), ", ")),
        level)
    else
      t[k] = check_field(what, k, fields[k], v, level)
    end
  end
  if kind == "group" then
    for i = 1, #spec do
      if type(spec[i]) ~= "string" then
        error(("%s: member %d must be a target name, got %s"):format(what, i, typeof(spec[i])), level)
      end
      t.deps[#t.deps + 1] = spec[i]
    end
  elseif kind == "cmd" and #t.run == 0 and #t.outputs > 0 then
    error(("%s: has outputs but no 'run' command to make them"):format(what), level)
  elseif kind == "image" and type(t.dockerfile) ~= "string" then
    error(("%s: needs a 'dockerfile'"):format(what), level)
  end
  for id, src in pairs(t.secrets or {}) do -- RUN --mount=type=secret,id=ID
    if type(id) ~= "string" or not id:match("^[%w_.%-]+$") or type(src) ~= "string" or src == "" then
      error(("%s: secrets: '%s' must be ID = \"path of the file\""):format(what, tostring(id)), level)
    end
  end
  for _, a in ipairs(t.args or {}) do -- build arguments given with --build-arg
    local n = a:match("^([%a_][%w_]*)=") or a:match("^([%a_][%w_]*)$")
    if not n then
      error(("%s: args: '%s' must be NAME or NAME=default"):format(what, a), level)
    end
    if t.build_args and t.build_args[n] then
      error(("%s: '%s' is both in build_args and in args"):format(what, n), level)
    end
  end
  for k, v in pairs(extra or {}) do t[k] = v end
  local old = byname[name]
  if old then
    error(("duplicate target '%s': first declared at %s"):format(name, old.where), level)
  end
  byname[name] = t
  targets[#targets + 1] = t
  return name
end

local function join(dir, p)
  if dir == "" then return p end
  return dir .. "/" .. p
end

local base_env -- shared read-only globals, built below

local function sandbox(dir)
  local env = {}
  local api = {}
  function api.target(name)
    return function(spec)
      local r = M.declare("cmd", name, spec, dir, 2) -- not a tail call: keeps the recipe's frame
      return r
    end
  end
  function api.image(name)
    return function(spec)
      local r = M.declare("image", name, spec, dir, 2)
      return r
    end
  end
  function api.group(name)
    return function(spec)
      local r = M.declare("group", name, spec, dir, 2)
      return r
    end
  end
  function api.glob(...)
    local out = {}
    for i = 1, select("#", ...) do
      local pat = select(i, ...)
      if type(pat) ~= "string" then
        error(("glob: pattern %d must be a string, got %s"):format(i, typeof(pat)), 2)
      end
      for _, p in ipairs(core.glob(dir, pat)) do out[#out + 1] = p end
    end
    table.sort(out)
    return out
  end
  function api.read(path)
    if type(path) ~= "string" then error("read: expected a path, got " .. typeof(path), 2) end
    local data, err = core.read(dir, path)
    if not data then error("read: " .. err, 2) end
    return data
  end
  function api.include(path)
    if type(path) ~= "string" then error("include: expected a path, got " .. typeof(path), 2) end
    local file, err = core.norm(dir, path)
    if not file then error("include: " .. err, 2) end
    M.run_file(file, 2)
  end
  api.print = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = tostring(select(i, ...)) end
    core.say(table.concat(parts, "\t"))
  end
  return setmetatable(env, {
    __index = function(_, k)
      local v = api[k]
      if v == nil then v = base_env[k] end
      if v == nil then
        local names = keys_of(api)
        for n in pairs(base_env) do names[#names + 1] = n end
        local hint = type(k) == "string" and core.closest(k, names)
        error(("unknown name '%s'%s"):format(tostring(k),
          hint and (" (did you mean '" .. hint .. "'?)") or ""), 2)
      end
      return v
    end,
  })
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- pcall and xpcall that cannot swallow the step limit: once it is hit, every
-- protected call re-raises, so an endless loop inside pcall still stops.
local function rethrow_if_stopped(ok, ...)
  if not ok and core.exceeded() then error((...), 0) end
  return ok, ...
end
local function safe_pcall(f, ...) return rethrow_if_stopped(pcall(f, ...)) end
local function safe_xpcall(f, h, ...) return rethrow_if_stopped(xpcall(f, h, ...)) end

base_env = {
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, pcall = safe_pcall,
  select = select, tonumber = tonumber, tostring = tostring, type = type, xpcall = safe_xpcall,
  rawequal = rawequal, rawget = rawget, rawlen = rawlen, rawset = rawset,
  setmetatable = setmetatable, getmetatable = getmetatable, _VERSION = _VERSION,
  string = copy(string), table = copy(table), math = copy(math), utf8 = copy(utf8),
  os = setmetatable({ getenv = core.getenv, time = os.time, clock = os.clock, date = os.date }, {
    __index = function(_, k)
      error(("os.%s is not available to recipes: a recipe describes work, a target's run = { ... } does it")
        :format(tostring(k)), 2)
    end,
  }),
  io = setmetatable({}, {
    __index = function(_, k)
      error(("io.%s is not available to recipes: read files with read(path), write them from a target's run")
        :format(tostring(k)), 2)
    end,
  }),
}
base_env.require = function(name)
  if type(name) ~= "string" or not core.public_module(name) then
    error(("require: no module '%s' for recipes (dbx offers: %s)"):format(
      tostring(name), table.concat(core.public_modules(), ", ")), 2)
  end
  return require(name)
end

-- Run one recipe file (project-relative path) in a fresh sandbox.
function M.run_file(file, level)
  if included[file] then return end
  included[file] = true
  local text, err = core.read("", file)
  if not text then error(err, level and level + 1 or 0) end
  local dir = file:match("^(.*)/[^/]*$") or ""
  local chunk, perr = load(text, "@" .. file, "t", sandbox(dir))
  if not chunk then error(perr, 0) end
  dir_stack[#dir_stack + 1] = dir
  chunk()
  dir_stack[#dir_stack] = nil
end

-- The project-relative folder of the recipe file being evaluated ("" at the root).
function M.current_dir()
  return dir_stack[#dir_stack] or ""
end

-- Run fn once every recipe has been evaluated (e.g. to declare collected groups).
function M.at_end(fn)
  at_end[#at_end + 1] = fn
end

-- Files `dbx gen` writes for a declared target: { ["Dockerfile"] = text, ... }.
function M.set_gen(name, files)
  byname[name].gen = files
end

-- Whether a target of this name has been declared.
function M.declared(name)
  return byname[name] ~= nil
end

-- Evaluate the root recipe and return every declared target, in order.
function M.run(file)
  M.run_file(file)
  for _, fn in ipairs(at_end) do fn() end
  return targets
end

M.join = join
M.keys_of = keys_of
return M
