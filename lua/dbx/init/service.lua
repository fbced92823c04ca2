-- dbx.init.service: one python.service for one project folder, its fields
-- chosen in this order: what the project's own Dockerfile, compose file and
-- Procfile say; then its framework's conventions; then guesses. Each field
-- carries a comment saying where it was read from.
local core = require "dbx.core"
local cmdw = require "dbx.init.cmd"
local docker = require "dbx.init.docker"
local code = require "dbx.init.code"
local choose = require "dbx.init.choose"

local M = {}

local join = code.join

local GENERIC = { app = true, backend = true, api = true, server = true, src = true, web = true,
                  service = true, project = true, main = true, [""] = true }

local function clean(s) return ((s or ""):lower():gsub("[^a-z0-9]+", "-"):gsub("^%-+", ""):gsub("%-+$", "")) end

-- A name for the service and why: the project's own unless empty or a generic
-- word, else the folder's, else parent-folder.
function M.name(project_name, folder, parent)
  local n = clean(project_name)
  if not GENERIC[n] then return n, "from pyproject.toml: name = \"" .. project_name .. "\"" end
  local why = project_name and project_name ~= "" and ('the project\'s name "' .. project_name .. '" is too generic')
    or "the project names itself nowhere"
  local f = clean(folder)
  if not GENERIC[f] then return f, why .. ": the folder's name" end
  local p = clean(parent)
  if p == "" then return (f ~= "" and f .. "-service" or "python-service"), why .. ": the folder's name" end
  return p .. "-" .. (f ~= "" and f or "app"), why .. ": the folder's name after its parent's"
end

local SECRET = { "SECRET", "PASSWORD", "PASSWD", "TOKEN", "API_KEY", "PRIVATE", "CREDENTIAL", "_KEY$", "^KEY$", "DSN" }
-- Set by dbx itself in every image, or only meaningful to a build.
local OWN = { PATH = true, VIRTUAL_ENV = true, PYTHONUNBUFFERED = true, PYTHONDONTWRITEBYTECODE = true,
              HOME = true, LANG = true, LC_ALL = true, DEBIAN_FRONTEND = true }

-- Whether v names one of a compose file's other services as a host (db,
-- postgresql://u@db:5432/x): an address only compose's network knows.
local function names_service(v, services)
  for _, s in ipairs(services or {}) do
    local e = s:gsub("%p", "%%%0")
    if v == s or v:find("[@/]" .. e .. "[:/]") or v:find("[@/]" .. e .. "$") or v:match("^" .. e .. ":%d+$") then
      return true
    end
  end
end

local function env_skip(k, v, services)
  if OWN[k] or k:match("^UV_") or k:match("^PIP_") or k:match("^POETRY_") or k:match("^PDM_") then
    return "set by dbx or only for builds"
  end
  if v:find("${", 1, true) or v:find("%$[%a_]") then return "${...} interpolated from the environment" end
  if names_service(v, services) then return "it names a host of the compose file's own network" end
  for _, p in ipairs(SECRET) do
    if k:upper():find(p) then return "it looks like a secret" end
  end
end

local DEP_APT = {
  { "psycopg2", { "gcc", "libpq-dev" }, { "libpq5" }, "psycopg2 builds against libpq" },
  { "mysqlclient", { "gcc", "pkg-config", "default-libmysqlclient-dev" }, { "libmariadb3" },
    "mysqlclient builds against the MariaDB client library" },
  { "opencv-python", {}, { "libgl1", "libglib2.0-0" }, "OpenCV's wheels load libGL and GLib" },
  { "opencv-contrib-python", {}, { "libgl1", "libglib2.0-0" }, "OpenCV's wheels load libGL and GLib" },
  { "mediapipe", {}, { "libgl1", "libglib2.0-0" }, "MediaPipe's wheels load libGL and GLib" },
}

local function add_unique(list, seen, items)
  for _, p in ipairs(items) do
    if not seen[p] then seen[p] = true; list[#list + 1] = p end
  end
end

-- The Python version and why.
local function python_version(dir, toml, df)
  if df and df.python then return df.python, "from " .. df.file .. ": FROM " .. df.from end
  for line in ((core.read(dir, ".python-version") or "") .. "\n"):gmatch("(.-)\n") do
    local pv = not line:match("^%s*#") and line:match("^%s*(%d+%.%d+)")
    if pv then return pv, "from .python-version" end
  end
  local rt = (core.read(dir, "runtime.txt") or ""):match("python%-(%d+%.%d+)")
  if rt then return rt, "from runtime.txt" end
  local rp, what = (toml.project or {})["requires-python"], "requires-python"
  if not rp then rp, what = (toml["tool.poetry.dependencies"] or {}).python, "Poetry's python" end
  local major, minor = (type(rp) == "string" and rp or ""):match("(%d+)%.(%d+)")
  if major then
    local v = major .. "." .. minor
    if tonumber(major) == 3 and tonumber(minor) < 10 and not rp:find("<%s*3%.%d") then
      return "3.11", ('%s "%s" allows 3.11; %s is past its end of life'):format(what, rp, v)
    end
    return v, ('from %s "%s"'):format(what, rp)
  end
  return "3.11", "a default: nothing here names a Python version (requires-python, .python-version, runtime.txt)"
end

-- The first compose service (in the project's folder, then in the recipe's)
-- whose build context is the project.
local function find_compose(dir, root)
  local places = { dir }
  if root ~= dir then places[#places + 1] = root end
  local parent = dir:match("^(.*)/[^/]+$")
  if parent and parent ~= root then places[#places + 1] = parent end
  for _, cdir in ipairs(places) do
    for _, f in ipairs(docker.COMPOSE) do
      local c, err = docker.compose_service(cdir, f, dir)
      if c or err then return c, err end
    end
  end
end

-- env = { ... } from the Dockerfile's ENV and compose's environment: literal,
-- non-secret runtime values; a comment names what was left out and why.
local function env_fields(P, env_map, field, L)
  local df, compose = P.df, P.compose
  local env_keys, skipped, reasons = {}, {}, {}
  for k in pairs(env_map) do env_keys[#env_keys + 1] = k end
  table.sort(env_keys)
  local env_lines = {}
  for _, k in ipairs(env_keys) do
    local others = {}
    for _, n in ipairs(compose and compose.others or {}) do
      if n ~= compose.name then others[#others + 1] = n end
    end
    local why = env_skip(k, env_map[k], others)
    if why then
      if not skipped[why] then skipped[why] = {}; reasons[#reasons + 1] = why end
      table.insert(skipped[why], k)
    else env_lines[#env_lines + 1] = ("    %s = %q,"):format(k:match("^[%a_][%w_]*$") and k or ("[%q]"):format(k), env_map[k]) end
  end
  if #env_lines > 0 then
    local from = {}
    if df and #df.env > 0 then from[#from + 1] = df.file .. " ENV" end
    if compose and #compose.env > 0 then from[#from + 1] = compose.file .. " environment" end
    field("from " .. table.concat(from, " and ") .. " (runtime only)", "env = {")
    for _, e in ipairs(env_lines) do L[#L + 1] = e end
    L[#L + 1] = "  },"
  end
  for _, why in ipairs(reasons) do
    L[#L + 1] = ("  -- env left out, %s: %s"):format(why, table.concat(skipped[why], ", "))
  end

end

-- build_apt and apt from the dependencies and the Dockerfile's apt-get install.
local function apt_fields(P, field)
  local deps, df = P.deps, P.df
  local apt, build_apt, seen_a, seen_b, apt_why = {}, {}, {}, {}, {}
  for _, rule in ipairs(DEP_APT) do
    if deps[rule[1]] then
      add_unique(build_apt, seen_b, rule[2]); add_unique(apt, seen_a, rule[3])
      apt_why[#apt_why + 1] = rule[4]
    end
  end
  if df and (#df.apt > 0 or #df.build_apt > 0) then
    add_unique(build_apt, seen_b, df.build_apt); add_unique(apt, seen_a, df.apt)
    apt_why[#apt_why + 1] = "from " .. df.file .. ": apt-get install"
  end
  if #build_apt > 0 then field("only to build wheels: " .. table.concat(apt_why, "; "), "build_apt = " .. cmdw.lua(build_apt) .. ",") end
  if #apt > 0 then field("at run time: " .. table.concat(apt_why, "; "), "apt = " .. cmdw.lua(apt) .. ",") end

end

-- The facts of the project in dir that the choices are made from (see dbx.init.choose).
local function gather(dir, toml, ctx)
  local project, poetry = toml.project or {}, toml["tool.poetry"] or {}
  local P = { dir = dir, toml = toml, notes = {} }
  local pname = project.name or poetry.name
  P.pname = type(pname) == "string" and pname or nil
  P.name, P.name_why = M.name(P.pname, ctx.folder, ctx.parent)
  P.deps = code.dep_set(code.requirements(dir, toml))
  P.files = code.py_files(dir)
  local cache = {}
  P.texts = function(f)
    cache[f] = cache[f] or core.read(dir, f) or ""
    return cache[f]
  end
  -- the project's files and its local packages', relative to the recipe, for
  -- routes and ports defined in a shared library
  P.wide = {}
  for _, d in ipairs({ dir, table.unpack(ctx.members or {}) }) do
    for _, f in ipairs(d == dir and P.files or code.py_files(d)) do P.wide[#P.wide + 1] = join(d, f) end
  end
  P.wide_texts = function(f) return core.read("", f) or "" end
  -- a file of P.wide as the project sees it
  P.shown = function(f)
    if dir ~= "" and f:sub(1, #dir + 1) == dir .. "/" then return f:sub(#dir + 2) end
    return f
  end
  local cerr
  P.compose, cerr = find_compose(dir, ctx.root)
  if cerr then P.notes[#P.notes + 1] = cerr .. " (not read)" end
  local dfile = P.compose and P.compose.dockerfile or docker.find_dockerfile(dir)
  P.df = dfile and docker.dockerfile(dir, dfile)
  P.proc = docker.procfile(dir)
  P.scripts = code.scripts(dir, toml)
  P.script_names = {}
  for _, s in ipairs(P.scripts) do P.script_names[s.name] = s end
  return P
end

-- The service for the project in dir: { name, name_why, runnable, lines =
-- { Lua text }, skipped = why } — ctx: { folder, parent, root, place = "dir"|
-- "project"|"package"|nil, manager, lock, members }.
-- Folders the app writes into, as a project ships them: an uploads/,
-- media/, instance/, data/ or storage/ folder holding nothing but a
-- placeholder (.gitkeep, .keep, a .gitignore). Their paths in the image
-- (workdir /app; under sub, a monorepo project's folder).
local WRITABLE = { "uploads", "media", "instance", "data", "storage" }
function M.writable_dirs(dir, sub)
  local out = {}
  for _, name in ipairs(WRITABLE) do
    local files = core.glob(dir, name .. "/**")
    local only_keep = #files > 0
    for _, f in ipairs(files) do
      if not (f:match("/%.gitkeep$") or f:match("/%.keep$") or f:match("/%.gitignore$")) then only_keep = false end
    end
    if only_keep then out[#out + 1] = "/app/" .. (sub and (sub .. "/") or "") .. name end
  end
  return out
end

function M.describe(dir, toml, ctx)
  local P = gather(dir, toml, ctx)
  local name, df, compose, notes = P.name, P.df, P.compose, P.notes
  local L = {}
  local function field(comment, text)
    if comment then L[#L + 1] = "  -- " .. comment:gsub("[\r\n]+", " ") end
    L[#L + 1] = "  " .. text
  end
  local c, none = choose.command(P)
  if not c then return { name = name, runnable = false, skipped = none } end
  local port, port_why, config_binds = choose.port(P, c)
  local env_map = {}
  for _, kv in ipairs(df and df.env or {}) do env_map[kv[1]] = kv[2] end
  for _, kv in ipairs(compose and compose.env or {}) do env_map[kv[1]] = kv[2] end
  local cmd, named, bind_note = cmdw.bind(cmdw.expand(c.words, port, env_map), port, config_binds)
  if named and named ~= port then port, port_why = named, "the port its command names" end
  local cmd_why = c.why .. (bind_note and ("; " .. bind_note) or "")
    .. (c.dropped and ("; left out of cmd: " .. c.dropped) or "")
  local prog = cmdw.program(cmd)
  local health, health_why = choose.health(P, prog)

  -- the fields, in the order a reader checks them
  if ctx.place == "dir" then field("the project's folder", ("dir = %q,"):format(dir))
  elseif ctx.place == "project" then
    field("the project inside this monorepo, and the local packages it depends on", ("project = %q,"):format(dir))
    if ctx.members and #ctx.members > 0 then field(nil, "members = " .. cmdw.lua(ctx.members) .. ",") end
  elseif ctx.place == "package" then
    field("a member of the uv workspace here (uv.lock is at its root)", ("package = %q,"):format(dir))
    if ctx.members and #ctx.members > 0 then
      field("workspace libraries it depends on", "members = " .. cmdw.lua(ctx.members) .. ",")
    end
  end
  field("found " .. ctx.lock, ("manager = %q,"):format(ctx.manager))
  local py, py_why = python_version(dir, toml, df)
  field(py_why, ("python = %q,"):format(py))
  local is_script = P.script_names[cmd[1]] ~= nil
  if is_script then field("a console script of the project: run from the venv", 'kind = "package",')
  else field("run from its source tree (" .. prog .. ")", 'kind = "app",') end
  field(cmd_why, "cmd = " .. cmdw.lua(cmd) .. ",")
  if port then field(port_why, ("port = %d,"):format(port))
  else L[#L + 1] = "  -- port = 8000,  -- the port it serves on, if it is a server" end
  if health and port then field(health_why, ("health = %q,"):format(health))
  else L[#L + 1] = '  -- health = "/health",  -- an HTTP path for the HEALTHCHECK; none was found' end

  env_fields(P, env_map, field, L)

  -- env_file is relative to the build context: the recipe's folder for a
  -- monorepo project or a workspace member, else the project's
  local at_root = ctx.place == "project" or ctx.place == "package"
  local own = (at_root and dir ~= "") and (dir .. "/") or ""
  local env_file, ef_why
  if compose and compose.env_files[1] then
    local cdir = compose.file:match("^(.*)/[^/]+$") or ""
    local abs = core.norm(cdir, compose.env_files[1])
    local rel = abs and ((dir == "" or at_root) and abs or (abs:sub(1, #dir + 1) == dir .. "/" and abs:sub(#dir + 2)))
    if rel then env_file, ef_why = rel, ("from %s: env_file %s"):format(compose.file, compose.env_files[1])
    else notes[#notes + 1] = ("%s names env_file %s, outside this project"):format(compose.file, compose.env_files[1]) end
  end
  if not env_file and core.read(dir, ".env") then env_file, ef_why = own .. ".env", "a .env file is here" end
  if not env_file and core.read(dir, ".env.example") then
    env_file, ef_why = own .. ".env", "from .env.example: copy it to .env and fill it in"
  end
  if env_file then field(ef_why .. " (for dbx dev and one-off runs, never in an image)", ("env_file = %q,"):format(env_file)) end

  apt_fields(P, field)
  local writable = M.writable_dirs(dir, (ctx.place == "project" or ctx.place == "package") and dir or nil)
  if #writable > 0 then
    field("a guess: folders that hold only a placeholder, for the app to write into (writable for its user)",
      "dirs = " .. cmdw.lua(writable) .. ",")
  end

  local extras = {}
  for k in pairs(toml["project.optional-dependencies"] or {}) do extras[#extras + 1] = k end
  table.sort(extras)
  if #extras > 0 then field("its optional dependencies, in the dev image", "dev = { extras = " .. cmdw.lua(extras) .. " },") end

  if core.read(dir, "alembic.ini") then
    notes[#notes + 1] = "alembic.ini is here: cmd does not run migrations; run `alembic upgrade head` in the image before it starts"
  end
  for _, n in ipairs(notes) do L[#L + 1] = "  -- " .. n:gsub("[\r\n]+", " ") end
  return { name = name, name_why = P.name_why, runnable = true, lines = L }
end

return M
