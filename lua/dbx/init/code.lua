-- dbx.init.code: what a project's manifest and Python code say about how it
-- runs, by the conventions of its framework: the app object and its module,
-- console scripts that serve, health routes, default ports.
local core = require "dbx.core"

local M = {}

local function join(dir, f) return dir == "" and f or (dir .. "/" .. f) end

-- A distribution name as pip compares them: lower case, runs of -_. as "-".
local function canon(name) return (name:lower():gsub("[-_.]+", "-")) end
M.canon = canon

-- The requirement strings of the project: [project] dependencies, Poetry's
-- dependencies, requirements.txt (and the files it includes with -r).
function M.requirements(dir, toml)
  local out = {}
  local project = toml.project or {}
  for _, r in ipairs(project.dependencies or {}) do out[#out + 1] = r end
  for k, v in pairs(toml["tool.poetry.dependencies"] or {}) do
    if k ~= "python" then
      local extras = type(v) == "table" and v.extras
      out[#out + 1] = k .. (type(extras) == "table" and ("[" .. table.concat(extras, ",") .. "]") or "")
    end
  end
  local function read_req(file, depth)
    local text = core.read(dir, file)
    if not text or depth > 3 then return end
    for line in (text .. "\n"):gmatch("(.-)\r?\n") do
      local inc = line:match("^%s*%-r%s+(%S+)") or line:match("^%s*%-%-requirement[=%s]+(%S+)")
      local base = file:match("^(.*)/") or ""
      if inc then read_req(base == "" and inc or (base .. "/" .. inc), depth + 1)
      elseif line:match("^%s*[%w]") then out[#out + 1] = line:gsub("#.*", "") end
    end
  end
  read_req("requirements.txt", 0)
  return out
end

-- name -> the requirement string, for each requirement.
function M.dep_set(reqs)
  local set = {}
  for _, r in ipairs(reqs) do
    local name = r:match("^%s*([%w][%w%._%-]*)")
    if name then set[canon(name)] = r end
  end
  return set
end

local SKIP = { "^%.", "/%.", "^venv/", "^env/", "node_modules/", "site%-packages/", "^tests?/", "/tests?/",
               "^docs/", "migrations/", "alembic/versions/", "/test_[^/]*$", "^test_[^/]*$", "conftest%.py$",
               "setup%.py$", "noxfile%.py$" }

-- The project's own Python files (no virtual envs, tests or migrations),
-- shallowest first, at most 500.
function M.py_files(dir)
  local out = {}
  for _, f in ipairs(core.glob(dir, "**/*.py")) do
    local skip = false
    for _, p in ipairs(SKIP) do skip = skip or f:find(p) ~= nil end
    if not skip then out[#out + 1] = f end
  end
  local function depth(f) return select(2, f:gsub("/", "")) end
  table.sort(out, function(a, b)
    if depth(a) ~= depth(b) then return depth(a) < depth(b) end
    return a < b
  end)
  while #out > 500 do out[#out] = nil end
  return out
end

-- The module a file is imported as: src/pkg/app.py -> pkg.app.
function M.module_of(f)
  return (f:gsub("^src/", ""):gsub("%.py$", ""):gsub("/__init__$", ""):gsub("/", "."))
end

-- Where module mod is in the project: its .py file, or nil.
function M.module_file(dir, mod)
  local base = mod:gsub("%.", "/")
  for _, f in ipairs({ base .. ".py", base .. "/__init__.py", "src/" .. base .. ".py", "src/" .. base .. "/__init__.py" }) do
    if core.read(dir, f) then return f end
  end
end

local FRAMEWORKS = {
  { class = "FastAPI", dep = "fastapi", asgi = true },
  { class = "Quart", dep = "quart", asgi = true },
  { class = "Starlette", dep = "starlette", asgi = true },
  { class = "Litestar", dep = "litestar", asgi = true },
  { class = "Flask", dep = "flask" },
}

local PREFERRED = { ["main.py"] = 1, ["app.py"] = 2, ["server.py"] = 3, ["api.py"] = 4, ["wsgi.py"] = 5, ["asgi.py"] = 6 }

-- The app object: { file, module, var, framework, factory } for the first
-- `X = FastAPI(` (or Quart, Starlette, Litestar, Flask), preferring main.py
-- and app.py; nil when there is none.
function M.find_app(dir, files, texts)
  local best, rank
  for _, f in ipairs(files) do
    local text = texts(f)
    for _, fw in ipairs(FRAMEWORKS) do
      local var = text:match("\n%s*([%a_][%w_]*)%s*:?[^=\n]*=%s*" .. fw.class .. "%(")
        or text:match("^([%a_][%w_]*)%s*:?[^=\n]*=%s*" .. fw.class .. "%(")
      local factory
      if not var and text:find(fw.class .. "(", 1, true) then
        factory = text:match("def%s+(create_app)%s*%(") or text:match("def%s+(make_app)%s*%(")
      end
      if var or factory then
        local r = (PREFERRED[f:match("([^/]+)$")] or 9) * 100 + select(2, f:gsub("/", ""))
        if not rank or r < rank then
          best, rank = { file = f, module = M.module_of(f), var = var, factory = factory, framework = fw }, r
        end
        break
      end
    end
  end
  return best
end

-- "pkg.mod:app", the target servers import.
function M.target(app)
  return app.module .. ":" .. (app.var or (app.factory .. "()"))
end

local SERVES = { "uvicorn%.run", "uvicorn%.Server", "hypercorn", "gunicorn", "waitress", "%.run%(",
                 "run_app%(", "serve%(", "serve_forever", "make_server", "HTTPServer", "run_simple",
                 "run_serv[a-z]*%(", "streamlit[\"'%s,]+run", "%.exec[lv]p?e?%(" }

-- Whether Python text starts a server.
function M.serves(text)
  for _, p in ipairs(SERVES) do
    if text:find(p) then return true end
  end
  return false
end

-- Console scripts: { name, target = "pkg.mod:func", file, serves } sorted by name.
function M.scripts(dir, toml)
  local out = {}
  local function add(name, target)
    if type(target) == "table" then target = target.callable or target.reference end
    if type(target) ~= "string" then return end
    local mod = target:match("^([%w_%.]+)")
    local file = mod and M.module_file(dir, mod)
    local text = file and core.read(dir, file) or ""
    out[#out + 1] = { name = name, target = target, file = file, serves = M.serves(text) }
  end
  for k, v in pairs(toml["project.scripts"] or {}) do add(k, v) end
  for k, v in pairs(toml["tool.poetry.scripts"] or {}) do add(k, v) end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

-- Where file's router is mounted: the literal prefix of the include_router()
-- that names it (by its variable, or its module's name), or of the only one
-- the project has; "" when none says.
local function mount_prefix(files, texts, file, text)
  local var = text:match("\n([%a_][%w_]*)%s*=%s*APIRouter%(") or text:match("^([%a_][%w_]*)%s*=%s*APIRouter%(")
  if not var then return "" end
  local mod = file:match("([^/]+)%.py$")
  local mounts, prefixes = {}, {}
  for _, f in ipairs(files) do
    for arg, prefix in (texts(f) or ""):gmatch("include_router%(%s*([%w_.]+)%s*,[^)]-prefix%s*=%s*[\"'](/[^\"']*)[\"']") do
      mounts[#mounts + 1] = { arg = arg, prefix = prefix }
      prefixes[prefix] = true
    end
  end
  for _, m in ipairs(mounts) do
    if m.arg == var or m.arg == mod .. "." .. var or m.arg == mod then return m.prefix end
  end
  if #mounts > 0 and next(prefixes, next(prefixes)) == nil then return mounts[1].prefix end
  return ""
end

-- A health route in the code: { path, file } for the first string that looks
-- like a URL path with "health" in it on a route line (a decorator, path(),
-- route(), add_route, a comparison with the request's path); an APIRouter's
-- prefix in the same file goes in front, and the prefix it is mounted at.
function M.health_route(files, texts)
  for _, f in ipairs(files) do
    local text = texts(f)
    if text:find("health", 1, true) then
      local prefix = text:match("APIRouter%([^)]-prefix%s*=%s*[\"'](/[^\"']*)[\"']") or ""
      for line in (text .. "\n"):gmatch("(.-)\n") do
        local path = line:match("[\"'](/?[%w_%-/%.]*health[%w_%-/%.]*)[\"']")
        if path and (line:find("@") or line:find("route") or line:find("path") or line:find("url")) then
          if not path:match("^/") then path = "/" .. path end
          local mounted = mount_prefix(files, texts, f, text):gsub("/$", "")
          prefix = mounted .. prefix
          return { path = prefix .. path, file = f, prefixed = prefix ~= "" }
        end
      end
    end
  end
end

-- A port the code defaults to (PORT = 8080, getenv("PORT", "8080"), port=8080).
function M.default_port(files, texts)
  for _, f in ipairs(files) do
    local text = texts(f)
    local p = tonumber(text:match('PORT["\']%s*,%s*["\']?(%d%d%d%d?%d?)'))
      or tonumber(text:match("PORT%s*:?[%w%s]*=%s*(%d%d%d%d?%d?)"))
      or tonumber(text:match("run%([^\n]-port%s*=%s*(%d%d%d%d?%d?)"))
    if p then return p, f end
  end
end

-- The Django project: the folder holding wsgi.py next to settings.py, when manage.py is there.
function M.django(dir)
  if not core.read(dir, "manage.py") then return nil end
  for _, f in ipairs(core.glob(dir, "*/wsgi.py")) do
    return f:match("^(.-)/wsgi%.py$")
  end
  for _, f in ipairs(core.glob(dir, "src/*/wsgi.py")) do
    return f:match("^src/(.-)/wsgi%.py$")
  end
end

-- A Streamlit entry file: one importing streamlit, preferring the usual names.
function M.streamlit_file(dir, files, texts)
  for _, name in ipairs({ "streamlit_app.py", "app.py", "main.py", "Home.py" }) do
    for _, f in ipairs(files) do
      if f:match("([^/]+)$") == name and texts(f):find("import streamlit", 1, true) then return f end
    end
  end
  for _, f in ipairs(files) do
    if texts(f):find("import streamlit", 1, true) and texts(f):find("st%.") then return f end
  end
end

-- python -m X when X/__main__.py (or src/X/__main__.py) or X.py exists.
function M.runnable_module(dir, name)
  if not name or name == "" then return nil end
  for _, f in ipairs({ name .. "/__main__.py", "src/" .. name .. "/__main__.py", name .. ".py" }) do
    if core.read(dir, f) then return f end
  end
end

M.join = join
return M
