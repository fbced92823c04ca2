-- dbx init: a first build.lua for an existing Python project, read off its
-- pyproject.toml (name, scripts, requires-python), its lock file and its code.
-- What cannot be known (the port, the health path) is guessed from the
-- framework and the source, and the recipe says so in a comment.
local core = require "dbx.core"

local M = {}

local parse_toml = require("dbx.toml").parse

local function has(dir, file) return core.read(dir, file) ~= nil end

local function sorted_keys(t)
  local out = {}
  for k in pairs(t or {}) do out[#out + 1] = k end
  table.sort(out)
  return out
end

-- Known frameworks: how they serve, where they answer health checks.
local FRAMEWORKS = {
  { dep = "streamlit", port = 8501, health = "/_stcore/health" },
  { dep = "quart", port = 8000 },
  { dep = "fastapi", port = 8000 },
  { dep = "flask", port = 5000 },
}

-- Look through the project's (and its members') Python files for a health
-- route and a default port.
local function scan_source(dirs)
  local health, port
  for _, dir in ipairs(dirs) do
  for _, f in ipairs(core.glob(dir, "**/*.py")) do
    if not f:match("^%.venv/") and not f:match("^tests?/") then
      local text = core.read(dir, f) or ""
      for _, path in ipairs({ "/healthz", "/health", "/_stcore/health" }) do
        if not health and (text:find('"' .. path .. '"', 1, true) or text:find("'" .. path .. "'", 1, true)) then
          health = path
        end
      end
      port = port or tonumber(text:match('PORT["\']%s*,%s*["\']?(%d%d%d%d?%d?)'))
        or tonumber(text:match("PORT%s*=%s*(%d%d%d%d?%d?)"))
    end
  end
  end
  return health, port
end

-- Local path dependencies, as written relative to the project: PEP 508
-- "name @ file:///${PROJECT_ROOT}/REL" (pdm), and path = "REL" tables
-- (poetry, uv sources).
local function path_deps(text)
  local out = {}
  for rel in text:gmatch("file:///%${PROJECT_ROOT}/([^\"'%s,]+)") do out[#out + 1] = rel end
  for rel in text:gmatch('path%s*=%s*"([^"]+)"') do out[#out + 1] = rel end
  return out
end

-- How many folders above the project its path dependencies reach (0: none).
local function reach(deps)
  local up = 0
  for _, rel in ipairs(deps) do
    local n = 0
    for _ in rel:gmatch("%.%./") do n = n + 1 end
    up = math.max(up, n)
  end
  return up
end

local MANAGERS = { { "uv.lock", "uv" }, { "pdm.lock", "pdm" }, { "poetry.lock", "poetry" },
                   { "requirements.txt", "pip" } }

-- The text of a build.lua for the project in dir (project-relative, "" for
-- the current folder), or nil and a message.
function M.generate(dir)
  local text = core.read(dir, "pyproject.toml")
  if not text and not has(dir, "requirements.txt") then
    return nil, "no Python project here: there is no pyproject.toml or requirements.txt"
  end
  local deps_local = path_deps(text or "")
  if dir == "" and reach(deps_local) > 0 then
    -- a monorepo member: the recipe goes where its path dependencies are reachable
    return nil, "up", reach(deps_local)
  end
  local members = {}
  for _, rel in ipairs(deps_local) do
    local m = core.norm(dir, rel)
    if m then members[#members + 1] = m end
  end
  local toml, bad = parse_toml(text or "")
  if not toml then return nil, "pyproject.toml: " .. bad end
  local project = toml.project or {}
  local found = {}
  for _, m in ipairs(MANAGERS) do
    if has(dir, m[1]) then found[#found + 1] = m end
  end
  if #found == 0 then
    return nil, "no lock file here (uv.lock, pdm.lock, poetry.lock, or requirements.txt with "
      .. "constraints.txt): lock the project first, e.g. `uv lock`"
  end
  local manager = found[1][2]
  local name = (project.name or dir:match("([^/]+)$") or "app"):lower():gsub("[^%w]+", "-")
  local scripts = sorted_keys(toml["project.scripts"])
  local deps = table.concat(project.dependencies or {}, " "):lower()
  for k in pairs(toml["tool.poetry.dependencies"] or {}) do deps = deps .. " " .. k:lower() end
  deps = deps .. " " .. (core.read(dir, "requirements.txt") or ""):lower()
  -- wheels known to need Debian libraries at run time
  local apt = {}
  if deps:find("opencv%-python") or deps:find("opencv%-contrib%-python") or deps:find("mediapipe") then
    apt = { "libgl1", "libglib2.0-0" }
  end
  local fw
  for _, f in ipairs(FRAMEWORKS) do
    if not fw and deps:find(f.dep, 1, true) then fw = f end
  end
  local scan = { dir }
  for _, m in ipairs(members) do scan[#scan + 1] = m end
  local health, port = scan_source(scan)
  health = health or (fw and fw.health)
  port = port or (fw and fw.port)
  -- the console script named like the project, else one that names a server, else the first
  local main
  for _, sname in ipairs(scripts) do
    if sname == name then main = sname end
  end
  for _, sname in ipairs(scripts) do
    if not main and (sname:find("serve", 1, true) or sname:find("api", 1, true) or sname:find("app", 1, true)) then
      main = sname
    end
  end
  main = main or scripts[1]
  local cmd
  if main then
    cmd = ('{ "%s" }'):format(main)
  elseif fw and fw.dep == "streamlit" then
    cmd = '{ "streamlit", "run", "app.py", "--server.headless", "true" }'
  else
    cmd = ('{ "python", "-m", "%s" }'):format((project.name or "app"):gsub("-", "_"))
  end
  local dev_extras = sorted_keys(toml["project.optional-dependencies"])
  local py = (project["requires-python"] or ""):match("(%d+%.%d+)") or "3.11"
  local l = {
    "-- build.lua written by `dbx init`: " .. name .. " as layered images (base, deps, source,",
    "-- entrypoint) in a prod and a dev variant. Check the guesses marked below, then:",
    "--   dbx build prod      dbx targets      dbx gen",
    "local python = require \"dbx.python\"",
    "",
    ('python.service "%s" {'):format(name),
    ("  -- found %s"):format(found[1][1]),
    ('  manager = "%s",'):format(manager),
    "  -- from requires-python",
    ('  python = "%s",'):format(py),
  }
  if dir ~= "" then
    table.insert(l, 7, "  -- the project inside this monorepo, and the local packages it depends on")
    table.insert(l, 8, ('  project = "%s",'):format(dir))
    if #members > 0 then table.insert(l, 9, ('  members = { "%s" },'):format(table.concat(members, '", "'))) end
  end
  local others = {}
  for _, sname in ipairs(scripts) do
    if sname ~= main then others[#others + 1] = sname end
  end
  if main then
    l[#l + 1] = "  -- the console script that starts it"
      .. (#others > 0 and (" (the others: " .. table.concat(others, ", ") .. ")") or "")
  else
    l[#l + 1] = "  -- a guess: the command that starts it"
  end
  l[#l + 1] = ("  cmd = %s,"):format(cmd)
  if port then
    l[#l + 1] = "  -- a guess: the default port in the code" .. (fw and (", or " .. fw.dep .. "'s usual one") or "")
    l[#l + 1] = ("  port = %d,"):format(port)
  else
    l[#l + 1] = "  -- port = 8000,  -- the port it serves on, if it is a server"
  end
  if health and port then
    l[#l + 1] = "  -- a path the app answers, for the HEALTHCHECK"
    l[#l + 1] = ('  health = "%s",'):format(health)
  else
    l[#l + 1] = '  -- health = "/health",  -- an HTTP path for the HEALTHCHECK'
  end
  if #apt > 0 then
    l[#l + 1] = "  -- Debian libraries its wheels load (OpenCV: libGL, GLib)"
    l[#l + 1] = ('  apt = { "%s" },'):format(table.concat(apt, '", "'))
  end
  if #dev_extras > 0 then
    l[#l + 1] = ('  dev = { extras = { "%s" } },'):format(table.concat(dev_extras, '", "'))
  end
  l[#l + 1] = "}"
  return table.concat(l, "\n") .. "\n"
end

return M
