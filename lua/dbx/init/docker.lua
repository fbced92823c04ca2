-- dbx.init.docker: what a project's own Dockerfile, compose file and Procfile
-- say about how it runs — command, port, health path, env, OS packages —
-- each fact with the words it was read from, for the recipe's comments.
local core = require "dbx.core"
local cmdw = require "dbx.init.cmd"

local M = {}

local function join(dir, f) return dir == "" and f or (dir .. "/" .. f) end

-- The path of the first http URL in text, and its port.
local function url_path(text)
  local port, path = text:match("https?://[^/%s\"':]+:?(%d*)(/[^%s\"'|;&)]*)")
  if not path then return nil end
  return (path:gsub("[?#].*$", "")), tonumber(port)
end
M.url_path = url_path

local BUILD_ONLY = { gcc = true, ["g++"] = true, ["build-essential"] = true, make = true,
                     ["pkg-config"] = true, cmake = true, clang = true }

-- Debian packages named by `apt-get install` / `apt install` in a RUN line.
local function apt_packages(run, out)
  for seg in (run .. "&&"):gsub(";", "&&"):gmatch("(.-)&&") do
    local rest = seg:match("apt%-get%s+[^&]-install%s+(.*)") or seg:match("apt%s+[^&]-install%s+(.*)")
    if rest then
      for _, w in ipairs(cmdw.split(rest:gsub("|.*", ""):gsub(">.*", ""))) do
        if not w:match("^%-") and w:match("^[%w][%w%.+%-]*") then
          local p = w:match("^([%w][%w%.+%-]*)")
          local list = (BUILD_ONLY[p] or p:match("%-dev$")) and out.build_apt or out.apt
          list[#list + 1] = p
        end
      end
    end
  end
end

-- Dockerfile instructions: { word = "CMD", args = "…", line = N } with
-- continuation lines joined and comments dropped.
local function instructions(text)
  local out, buf, start, n = {}, nil, 0, 0
  for line in (text .. "\n"):gmatch("(.-)\r?\n") do
    n = n + 1
    if not line:match("^%s*#") then
      local cont = line:match("^(.-)\\%s*$")
      if not buf then start = n end
      buf = (buf and (buf .. " ") or "") .. (cont or line)
      if not cont then
        local word, args = buf:match("^%s*(%a+)%s*(.-)%s*$")
        if word then out[#out + 1] = { word = word:upper(), args = args, line = start } end
        buf = nil
      end
    end
  end
  return out
end

-- What a Dockerfile says: { file, cmd, cmd_text, entrypoint, port, health,
-- health_text, env = { {name, value} }, apt, build_apt, python }.
function M.dockerfile(dir, file)
  local text = core.read(dir, file)
  if not text then return nil end
  local d = { file = file, env = {}, apt = {}, build_apt = {} }
  for _, ins in ipairs(instructions(text)) do
    local w, a = ins.word, ins.args
    if w == "FROM" then
      -- a new stage: its CMD, ports and health replace the previous stage's
      d.cmd, d.entrypoint, d.port, d.health = nil, nil, nil, nil
      d.python = a:match("python:(%d+%.%d+)") or a:match("python(%d+%.%d+)") or d.python
      d.from = a:match("^(%S+)")
    elseif w == "CMD" then
      d.cmd, d.cmd_text = cmdw.words(a), a
      if #d.cmd == 0 then d.cmd = nil end
    elseif w == "ENTRYPOINT" then
      d.entrypoint, d.entrypoint_text = cmdw.words(a), a
      if #d.entrypoint == 0 then d.entrypoint = nil end
    elseif w == "EXPOSE" then
      d.port = d.port or tonumber(a:match("(%d+)")) or a:match("%${?[%w_]+:%-(%d+)")
      d.port_text = "EXPOSE " .. a
    elseif w == "HEALTHCHECK" then
      local path, port = url_path(a)
      if path then d.health, d.health_port, d.health_text = path, port, "HEALTHCHECK " .. a end
    elseif w == "ENV" then
      local words = cmdw.split(a)
      if words[1] and words[1]:find("=", 1, true) then
        for _, kv in ipairs(words) do
          local k, v = kv:match("^([%w_]+)=(.*)$")
          if k then d.env[#d.env + 1] = { k, v } end
        end
      elseif words[1] then
        d.env[#d.env + 1] = { words[1], (a:match("^%S+%s+(.*)$") or "") }
      end
    elseif w == "RUN" then
      apt_packages(a, d)
    end
  end
  d.port = tonumber(d.port)
  return d
end

-- The project's Dockerfile: "Dockerfile", else the one a name like
-- Dockerfile.prod or app.Dockerfile gives (never one for development).
function M.find_dockerfile(dir)
  if core.read(dir, "Dockerfile") then return "Dockerfile" end
  local found = {}
  for _, pat in ipairs({ "Dockerfile.*", "*.Dockerfile", "*.dockerfile", "docker/Dockerfile*" }) do
    for _, f in ipairs(core.glob(dir, pat)) do
      if not f:lower():match("dev") and not f:lower():match("test") then found[#found + 1] = f end
    end
  end
  table.sort(found)
  return found[1]
end

M.COMPOSE = { "compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml" }

local function list_of(v)
  if v == nil then return {} end
  if type(v) ~= "table" then return { v } end
  return v
end

-- The service of compose file (in folder cdir) whose build context is the
-- folder pdir (or whose Dockerfile is in pdir), as { file, name, command, port, port_text, health, health_text,
-- env = { {name, value} }, env_files, dockerfile }; nil when none builds it;
-- nil and a message when the file is not YAML.
function M.compose_service(cdir, file, pdir)
  local text = core.read(cdir, file)
  if not text then return nil end
  local doc, err = core.yaml(text)
  if not doc then
    if err then return nil, join(cdir, file) .. ": " .. err end
    return nil
  end
  if type(doc) ~= "table" or type(doc.services) ~= "table" then return nil end
  local names = {}
  for name in pairs(doc.services) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local s = doc.services[name]
    local b = type(s) == "table" and s.build
    local ctx = type(b) == "string" and b or (type(b) == "table" and (b.context or ".")) or nil
    local rel, dockerfile = nil, type(b) == "table" and type(b.dockerfile) == "string" and b.dockerfile or nil
    if ctx then
      ctx = ctx:gsub("/+$", "")
      if ctx == "." or ctx == "" then rel = cdir else rel = core.norm(cdir, ctx) end
    end
    -- built from the project's folder, or from a folder above it (a workspace's
    -- root) with a Dockerfile inside the project
    local inside = rel and rel ~= pdir and dockerfile and core.norm(rel, dockerfile)
    inside = inside and pdir ~= "" and inside:sub(1, #pdir + 1) == pdir .. "/" and inside:sub(#pdir + 2)
    if rel and (rel == pdir or inside) then
      local c = { file = join(cdir, file), name = name, env = {}, env_files = {}, others = names,
                  dockerfile = inside or dockerfile }
      if s.command then c.command = cmdw.words(s.command) end
      if c.command and #c.command == 0 then c.command = nil end
      for _, p in ipairs(list_of(s.ports)) do
        local target = type(p) == "table" and p.target or tostring(p):gsub("/%a+$", ""):match("(%d+)$")
        if not c.port and tonumber(target) then
          c.port = tonumber(target)
          c.port_text = ('ports "%s"'):format(type(p) == "table" and ("target: " .. target) or tostring(p))
        end
      end
      local env = s.environment
      if type(env) == "table" and #env > 0 then
        for _, kv in ipairs(env) do
          local k, v = tostring(kv):match("^([%w_]+)=(.*)$")
          if k then c.env[#c.env + 1] = { k, v } end
        end
      elseif type(env) == "table" then
        local keys = {}
        for k in pairs(env) do keys[#keys + 1] = k end
        table.sort(keys)
        for _, k in ipairs(keys) do c.env[#c.env + 1] = { k, tostring(env[k]) } end
      end
      for _, f in ipairs(list_of(s.env_file)) do
        local path = type(f) == "table" and f.path or f
        if type(path) == "string" then c.env_files[#c.env_files + 1] = path end
      end
      local hc = type(s.healthcheck) == "table" and s.healthcheck.test
      if hc then
        local t = type(hc) == "table" and table.concat(cmdw.words(hc), " ") or tostring(hc)
        local path, port = url_path(t)
        if path then c.health, c.health_port, c.health_text = path, port, "healthcheck " .. t end
      end
      return c
    end
  end
  return nil
end

-- The Procfile's process: { name = "web", cmd = words, text, release = text }.
function M.procfile(dir)
  local text = core.read(dir, "Procfile")
  if not text then return nil end
  local procs, order = {}, {}
  for line in (text .. "\n"):gmatch("(.-)\r?\n") do
    local name, c = line:match("^%s*([%w_%-]+)%s*:%s*(.-)%s*$")
    if name and c ~= "" then
      procs[name] = c
      order[#order + 1] = name
    end
  end
  local pick = procs.web and "web"
  for _, n in ipairs(order) do
    if not pick and n ~= "release" then pick = n end
  end
  if not pick then return nil end
  return { name = pick, cmd = cmdw.split(procs[pick]), text = pick .. ": " .. procs[pick], release = procs.release }
end

return M
