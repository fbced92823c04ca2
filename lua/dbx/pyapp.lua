-- dbx.pyapp: what a service's command runs, read off its argv: the module,
-- the file or the console script it names. From that, whether the service is
-- an application (run from its source tree) or a package (run from the venv's
-- console scripts), and whether the image would hold what the command needs.
local core = require "dbx.core"

local M = {}

-- servers that take the application as MODULE:ATTRIBUTE
local SERVERS = { uvicorn = true, gunicorn = true, hypercorn = true, daphne = true, granian = true }

local function fail(msg) error(msg, 0) end

-- The console scripts the project declares (PEP 621 and Poetry's own table).
function M.scripts(svc)
  local out = {}
  for _, t in ipairs({ svc.own_meta["project.scripts"], svc.own_meta["tool.poetry.scripts"] }) do
    for k in pairs(t or {}) do out[k] = true end
  end
  return out
end

-- What argv names: { module = "a.b" } (python -m), { app = "a.b:attr" }
-- (a server's application), { file = "path" } (a script or an app file).
function M.runs(argv)
  local w = {}
  for i, a in ipairs(argv or {}) do w[i] = a end
  local out = {}
  local prog = (w[1] or ""):match("([^/]+)$") or ""
  local i = 2
  if prog:match("^python[%d.]*$") then
    while w[i] and w[i]:match("^%-[^m]") do i = i + 1 end -- -u, -O, -X… before -m or the file
    if w[i] == "-m" and w[i + 1] then
      local mod = w[i + 1]
      if SERVERS[mod] or mod == "flask" or mod == "streamlit" or mod == "fastapi" then
        prog, i = mod, i + 2
      else
        out[#out + 1] = { module = mod }
        return out
      end
    elseif w[i] and w[i]:match("%.py$") then
      out[#out + 1] = { file = w[i] }
      return out
    else
      return out
    end
  end
  if SERVERS[prog] then
    for k = i, #w do
      local after_option = (w[k - 1] or ""):match("^%-") and not w[k - 1]:find("=", 1, true)
      if not after_option and (w[k]:match("^[%a_][%w_.]*:[%a_][%w_]*%(?%)?$")
          or (prog ~= "uvicorn" and w[k]:match("^[%a_][%w_]*%.[%a_][%w_.]*$"))) then
        -- MODULE:ATTR, or gunicorn's MODULE alone (Django's PROJECT.wsgi)
        out[#out + 1] = { app = w[k]:find(":", 1, true) and w[k] or (w[k] .. ":application") }
        break
      end
    end
  elseif prog == "fastapi" and (w[i] == "run" or w[i] == "dev") then
    for k = i + 1, #w do -- the path: options (--workers 4) come before or after it
      if w[k]:match("%.py$") then out[#out + 1] = { file = w[k] } break end
    end
  elseif prog == "streamlit" and w[i] == "run" and w[i + 1] then
    out[#out + 1] = { file = w[i + 1] }
  elseif prog == "flask" then
    for k = i, #w - 1 do
      if w[k] == "--app" or w[k] == "-A" then out[#out + 1] = { app = w[k + 1]:match("^[^:(]+") .. ":x" } end
    end
  end
  return out
end

-- The folders a module of the project may live in, project-relative.
local function roots(svc)
  local base = svc.package or (svc.project ~= "." and svc.project) or nil
  local function at(p) return base and (base .. "/" .. p) or p end
  local out = { at(""), at("src/") }
  for _, m in ipairs(svc.members) do out[#out + 1] = m .. "/"; out[#out + 1] = m .. "/src/" end
  return out
end

-- Existence only: a file the recipe read would be an input of the recipe, and
-- dbx dev would take each edit of the app's module for a recipe change.
local function is_file(svc, p) return core.exists(svc.dir, p) == "file" end
local function is_dir(svc, p) return core.exists(svc.dir, p) == "dir" end

-- Where module a.b.c is in the tree: the root it was found under, whether it
-- is a package folder, and the part that was not found ("" when all was).
local function find_module(svc, mod)
  local path = mod:gsub("%.", "/")
  local top = mod:match("^[^.]+")
  for _, r in ipairs(roots(svc)) do
    if is_file(svc, r .. path .. ".py") then return r, false end
    if is_dir(svc, r .. path) then return r, true end
  end
  for _, r in ipairs(roots(svc)) do
    if is_file(svc, r .. top .. ".py") or is_dir(svc, r .. top) then return r, nil, path end
  end
  return nil
end

-- The project's dependencies' import names, as far as their names tell.
local function dependency_names(svc)
  local out = {}
  local function add(spec)
    local n = tostring(spec):match("^%s*([%w][%w._-]*)")
    if n then out[n:lower():gsub("[-.]", "_")] = true end
  end
  for _, d in ipairs((svc.own_meta.project or {}).dependencies or {}) do add(d) end
  for k in pairs(svc.own_meta["tool.poetry.dependencies"] or {}) do add(k) end
  local reqs = core.read(svc.dir, svc.at("requirements.txt")) or ""
  for line in reqs:gmatch("[^\n]+") do add(line) end
  return out
end

-- Application or package, and why: a service whose command is one of the
-- project's console scripts, or whose module lives under src/ (a layout
-- only an install puts on the path), is a package; any other command runs
-- from the tree.
function M.guess_kind(svc)
  local argv = (#svc.cmd > 0 and svc.cmd) or svc.entrypoint
  local scripts = M.scripts(svc)
  local first = (argv[1] or ""):match("([^/]+)$")
  if first and scripts[first] then
    return "package", ("a guess: cmd runs %s, one of the project's console scripts"):format(first)
  end
  for _, r in ipairs(M.runs(argv)) do
    local mod = r.module or (r.app and r.app:match("^[^:]+"))
    if mod then
      local root = find_module(svc, mod)
      if root and root:match("src/$") then
        return "package", ("a guess: %s is under %s, so the project is installed"):format(mod, root)
      end
    end
  end
  return "app", ("a guess: cmd (%s) is not one of the project's console scripts, so it runs from the source tree")
    :format(table.concat(argv, " "))
end

-- A prod cmd that names a module or a file the image would lack is an
-- error that names the fix.
function M.check_cmd(svc, argv)
  local deps = dependency_names(svc)
  for _, r in ipairs(M.runs(argv)) do
    local what = table.concat(argv, " ")
    if r.file then
      local f = r.file
      if f:sub(1, #svc.workdir + 1) == svc.workdir .. "/" then f = f:sub(#svc.workdir + 2) end
      local own = svc.package or (svc.project ~= "." and svc.project)
      local rel = own and not f:match("^/") and (own .. "/" .. f) or f
      if not f:match("^/") and not is_file(svc, rel) and not is_dir(svc, rel) then
        fail(("python.service '%s': cmd `%s` runs %s, which is not in the project (%s, where it runs); "
          .. "name a file that is, or add it"):format(svc.name, what, f,
          own and (own .. "/") or (svc.dir == "" and "." or svc.dir)))
      end
    end
    local mod = r.module or (r.app and r.app:match("^[^:]+"))
    if mod then
      local root, pkg, missing = find_module(svc, mod)
      local top = mod:match("^[^.]+")
      if missing then
        fail(("python.service '%s': cmd `%s` imports %s, but %s has no %s.py or %s/; name the module that "
          .. "holds the app"):format(svc.name, what, mod, root == "" and "the project" or root, missing, missing))
      elseif root and r.module and pkg and not is_file(svc, root .. mod:gsub("%.", "/") .. "/__main__.py") then
        fail(("python.service '%s': cmd `%s` runs package %s, which has no __main__.py, so python -m cannot start it; "
          .. "name the module that starts the app (e.g. uvicorn %s.main:app) or add %s%s/__main__.py")
          :format(svc.name, what, mod, mod, root, mod:gsub("%.", "/")))
      elseif not root and not deps[top:lower()] and svc.kind == "app" and r.app then
        fail(("python.service '%s': cmd `%s` names %s, which is neither in the project's tree nor one of its "
          .. "dependencies"):format(svc.name, what, top))
      end
    end
  end
end

return M
