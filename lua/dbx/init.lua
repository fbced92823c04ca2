-- dbx init: a first build.lua for an existing Python project — or for every
-- service of a monorepo or uv workspace — from what the project already says:
-- its Dockerfile, compose file and Procfile first, then its framework's
-- conventions (dbx.init.code), then guesses; every field with a comment
-- saying where it came from (dbx.init.service).
local core = require "dbx.core"
local service = require "dbx.init.service"
local code = require "dbx.init.code"

local M = {}

local parse_toml = require("dbx.toml").parse

local function join(dir, f) return dir == "" and f or (dir .. "/" .. f) end

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

local LOCKS = { { "uv.lock", "uv" }, { "pdm.lock", "pdm" }, { "poetry.lock", "poetry" },
                { "requirements.txt", "pip" } }

local function find_lock(dir)
  for _, l in ipairs(LOCKS) do
    if core.read(dir, l[1]) then return l[1], l[2] end
  end
end

-- The pyproject.toml of dir as a table ({} when there is none), or nil and a message.
local function read_toml(dir)
  local text = core.read(dir, "pyproject.toml")
  if not text then return {}, "" end
  local t, bad = parse_toml(text)
  if not t then return nil, join(dir, "pyproject.toml") .. ": " .. bad end
  return t, text
end

-- The folder's and its parent's names: for dir "" the recipe's own folder
-- (here is its path), else read off dir.
local function folder_names(dir, here)
  local hparent, hfolder = (here or ""):match("([^/]*)/([^/]*)$")
  hfolder = hfolder or here or ""
  if dir == "" then return hfolder, hparent or "" end
  local parent, folder = dir:match("^(.*)/([^/]+)$")
  if not folder then return dir, hfolder end
  return folder, parent:match("([^/]+)$")
end

local HEADER = {
  "-- build.lua written by `dbx init`: each service as layered images (base, deps,",
  "-- source, entrypoint) in a prod and a dev variant. Every field says where it was",
  "-- read from; check the ones marked \"a guess\", then:",
  "--   dbx build prod      dbx targets      dbx gen",
  "local python = require \"dbx.python\"",
}

-- The recipe text for described services (see dbx.init.service).
local function render(svcs)
  local l = {}
  for _, h in ipairs(HEADER) do l[#l + 1] = h end
  local used = {}
  for _, s in ipairs(svcs) do
    l[#l + 1] = ""
    if s.runnable then
      local name, n = s.name, 1
      while used[name] do n = n + 1; name = s.name .. "-" .. n end
      used[name] = true
      l[#l + 1] = "-- the name: " .. s.name_why .. (name ~= s.name and "; made unique" or "")
      l[#l + 1] = ('python.service "%s" {'):format(name)
      for _, line in ipairs(s.lines) do l[#l + 1] = line end
      l[#l + 1] = "}"
    else
      l[#l + 1] = ("-- %s: not a service: %s"):format(s.dir, s.skipped)
    end
  end
  return table.concat(l, "\n") .. "\n"
end

local function describe(dir, toml, ctx)
  local s = service.describe(dir, toml, ctx)
  s.dir = dir == "" and "." or dir
  return s
end

-- The members of the uv workspace whose root is "": their folders (sorted),
-- folder -> pyproject table, canonical project name -> folder; or nil and a message.
local function workspace_members(ws)
  local dirs, tomls, names = {}, {}, {}
  for _, pat in ipairs(ws.members or {}) do
    for _, f in ipairs(core.glob("", pat .. "/pyproject.toml")) do
      local d = f:match("^(.*)/pyproject%.toml$")
      local excluded = false
      for _, ex in ipairs(ws.exclude or {}) do
        for _, e in ipairs(core.glob("", ex .. "/pyproject.toml")) do excluded = excluded or e == f end
      end
      if d and not excluded and not tomls[d] then
        local t, bad = read_toml(d)
        if not t then return nil, bad end
        dirs[#dirs + 1], tomls[d] = d, t
        local pname = (t.project or {}).name
        if pname then names[code.canon(pname)] = d end
      end
    end
  end
  table.sort(dirs)
  return dirs, tomls, names
end

-- Every member of the uv workspace whose root is "": a service each.
local function workspace(toml, here)
  if not core.read("", "uv.lock") then
    return nil, "a uv workspace without uv.lock: lock it first (`uv lock`)"
  end
  local dirs, tomls, names = workspace_members(toml["tool.uv.workspace"])
  if not dirs then return nil, tomls end
  if #dirs == 0 then return nil, "a uv workspace whose members hold no pyproject.toml" end
  local svcs = {}
  for _, d in ipairs(dirs) do
    svcs[#svcs + 1] = M.member(d, tomls[d], names, here)
  end
  return svcs
end

-- The service for workspace member d (names: canonical project name -> member folder).
function M.member(d, t, names, here)
  local members, seen = {}, {}
  for _, r in ipairs((t.project or {}).dependencies or {}) do
    local n = r:match("^%s*([%w][%w%._%-]*)")
    local m = n and names[code.canon(n)]
    if m and m ~= d and not seen[m] then seen[m] = true; members[#members + 1] = m end
  end
  table.sort(members)
  local folder, parent = folder_names(d, here)
  return describe(d, t, { folder = folder, parent = parent, root = "", place = "package", manager = "uv",
                          lock = "uv.lock at the workspace's root", members = members })
end

-- A folder with no project of its own: every project below it (two levels
-- down at most), a service each.
local function monorepo(here)
  local dirs, seen = {}, {}
  for _, pat in ipairs({ "*/pyproject.toml", "*/requirements.txt", "*/*/pyproject.toml", "*/*/requirements.txt" }) do
    for _, f in ipairs(core.glob("", pat)) do
      local d = f:match("^(.*)/[^/]+$")
      if d and not seen[d] and not d:match("^%.") and not d:find("/%.") and not d:match("venv") then
        seen[d] = true
        dirs[#dirs + 1] = d
      end
    end
  end
  if #dirs == 0 then
    return nil, "no Python project here: there is no pyproject.toml or requirements.txt"
  end
  table.sort(dirs)
  local svcs = {}
  for _, d in ipairs(dirs) do
    local t, text = read_toml(d)
    if not t then return nil, text end
    local lock, manager = find_lock(d)
    local folder, parent = folder_names(d, here)
    if not lock then
      svcs[#svcs + 1] = { dir = d, runnable = false, skipped = "no lock file (uv.lock, pdm.lock, poetry.lock or requirements.txt)" }
    else
      local ctx = { folder = folder, parent = parent, root = "", place = "dir", manager = manager, lock = lock }
      local deps = path_deps(text)
      if reach(deps) > 0 then
        ctx.place, ctx.members = "project", {}
        for _, rel in ipairs(deps) do
          local m = core.norm(d, rel)
          if m then ctx.members[#ctx.members + 1] = m end
        end
      end
      svcs[#svcs + 1] = describe(d, t, ctx)
    end
  end
  return svcs
end

local function finish(svcs, err)
  if not svcs then return nil, err end
  for _, s in ipairs(svcs) do
    if s.runnable then return render(svcs) end
  end
  local why = {}
  for _, s in ipairs(svcs) do why[#why + 1] = s.dir .. ": " .. s.skipped end
  return nil, "no service to run here: " .. table.concat(why, "; ")
end

-- The text of a build.lua for the project in dir (project-relative, "" for
-- the current folder; here is the current folder's path, for names), or nil
-- and a message; or nil, "up", N when the recipe belongs N folders up (its
-- local packages are there); or nil, message, "above" when the project has
-- no lock of its own and a workspace above may hold it.
function M.generate(dir, here)
  local has_req = core.read(dir, "requirements.txt") ~= nil
  local toml, text = read_toml(dir)
  if not toml then return nil, text end
  if text == "" and not has_req then
    if dir == "" then return finish(monorepo(here)) end
    return nil, "no Python project here: there is no pyproject.toml or requirements.txt"
  end
  if dir == "" and toml["tool.uv.workspace"] then return finish(workspace(toml, here)) end
  local deps_local = path_deps(text)
  if dir == "" and reach(deps_local) > 0 then
    -- a monorepo member: the recipe goes where its path dependencies are reachable
    return nil, "up", reach(deps_local)
  end
  if dir ~= "" then
    local root = read_toml("")
    if root and root["tool.uv.workspace"] then
      -- called again from a workspace's root for one of its members
      local _, _, names = workspace_members(root["tool.uv.workspace"])
      return finish({ M.member(dir, toml, names or {}, here) })
    end
  end
  local lock, manager = find_lock(dir)
  if not lock then
    return nil, "no lock file here (uv.lock, pdm.lock, poetry.lock, or requirements.txt): "
      .. "lock the project first, e.g. `uv lock`", "above"
  end
  local members = {}
  for _, rel in ipairs(deps_local) do
    local m = core.norm(dir, rel)
    if m then members[#members + 1] = m end
  end
  local folder, parent = folder_names(dir, here)
  return finish({ describe(dir, toml, { folder = folder, parent = parent, root = "",
    place = dir ~= "" and "project" or nil, manager = manager, lock = lock, members = members }) })
end

return M
