-- dbx.init.cmd: commands as lists of words — read from shell text and
-- Dockerfile JSON arrays, cut down to the server they start, and made to
-- listen on 0.0.0.0 and a known port inside the container.
local M = {}

-- Words of a shell command line: quotes group, backslashes escape; no expansion.
function M.split(text)
  local words, cur, q, i, have = {}, {}, nil, 1, false
  while i <= #text do
    local c = text:sub(i, i)
    if q then
      if c == q then q = nil
      elseif c == "\\" and q == '"' and i < #text then i = i + 1; cur[#cur + 1] = text:sub(i, i)
      else cur[#cur + 1] = c end
    elseif c == '"' or c == "'" then q, have = c, true
    elseif c == "\\" and i < #text then i = i + 1; cur[#cur + 1] = text:sub(i, i); have = true
    elseif c:match("%s") then
      if have or #cur > 0 then words[#words + 1] = table.concat(cur) end
      cur, have = {}, false
    else cur[#cur + 1] = c end
    i = i + 1
  end
  if have or #cur > 0 then words[#words + 1] = table.concat(cur) end
  return words
end

-- The strings of a JSON array of strings ('["a", "b"]'), or nil when text is not one.
function M.json_list(text)
  text = text:match("^%s*%[(.*)%]%s*$")
  if not text then return nil end
  local out, i = {}, 1
  while true do
    local s = text:find("%S", i)
    if not s then return out end
    if text:sub(s, s) ~= '"' then return nil end
    local cur, j = {}, s + 1
    while true do
      local c = text:sub(j, j)
      if c == "" then return nil end
      if c == '"' then break end
      if c == "\\" then
        j = j + 1
        local e = text:sub(j, j)
        cur[#cur + 1] = ({ n = "\n", t = "\t" })[e] or e
      else cur[#cur + 1] = c end
      j = j + 1
    end
    out[#out + 1] = table.concat(cur)
    i = text:find("%S", j + 1)
    if not i then return out end
    local sep = text:sub(i, i)
    if sep ~= "," then return nil end
    i = i + 1
  end
end

-- Words from a Dockerfile/compose value: a JSON array, a list, or shell text.
function M.words(v)
  if type(v) == "table" then
    local out = {}
    for i, w in ipairs(v) do out[i] = tostring(w) end
    return out
  end
  return M.json_list(v) or M.split(v)
end

local SHELLS = { sh = true, bash = true, ["/bin/sh"] = true, ["/bin/bash"] = true }

-- Programs named by their folder in a project's Dockerfile (/venv/bin/gunicorn)
-- that the service's venv has on PATH under their own name.
local ON_PATH = { uvicorn = true, gunicorn = true, hypercorn = true, daphne = true, granian = true,
                  fastapi = true, flask = true, streamlit = true, alembic = true }

-- A command as the venv runs it: no leading `exec`, python and the servers
-- by name rather than by their place in the project's own image.
local function tidy(words)
  local w = {}
  for i, x in ipairs(words) do w[i] = x end
  while w[1] == "exec" do table.remove(w, 1) end
  local base = (w[1] or ""):match("([^/]+)$") or ""
  if w[1] and w[1]:find("/", 1, true) and (ON_PATH[base] or base:match("^python[%d.]*$")) then w[1] = base end
  return w
end

-- The server a command starts: `sh -c "alembic upgrade head && exec uvicorn …"`
-- becomes `uvicorn …`. Returns the words and, when something was left out, what.
function M.last_step(words)
  local text
  if SHELLS[words[1] or ""] and words[2] == "-c" and words[3] then
    text = words[3]
  else
    local joined = table.concat(words, " ")
    if not (joined:find("&&", 1, true) or joined:find(";", 1, true)) then return tidy(words) end
    text = joined
  end
  local steps = {}
  for step in (text .. ";"):gsub("&&", ";"):gmatch("([^;]*);") do
    if step:match("%S") then steps[#steps + 1] = step end
  end
  local last = (steps[#steps] or ""):gsub("^%s*exec%s+", "")
  local dropped = {}
  for i = 1, #steps - 1 do dropped[#dropped + 1] = steps[i]:match("^%s*(.-)%s*$") end
  return tidy(M.split(last)), #dropped > 0 and table.concat(dropped, "; ") or nil
end

-- Replace ${NAME:-default} by its default and $PORT/${PORT} by port.
function M.expand(words, port, env)
  local out = {}
  for i, w in ipairs(words) do
    w = w:gsub("%${([%w_]+):%-([^}]*)}", function(name, def) return env and env[name] or def end)
    w = w:gsub("%${?([%w_]+)}?", function(name)
      if env and env[name] then return env[name] end -- the project's own ENV PORT=5000 first
      if name == "PORT" and port then return tostring(port) end
    end)
    out[i] = w
  end
  return out
end

-- The index of option name (or any of names) and its value: "--port 80" or "--port=80".
local function opt(words, names)
  for i, w in ipairs(words) do
    for _, n in ipairs(names) do
      if w == n then return i, words[i + 1], false end
      if w:sub(1, #n + 1) == n .. "=" then return i, w:sub(#n + 2), true end
    end
  end
end

M.opt = opt

local function set_opt(words, names, value)
  local i, _, joined = opt(words, names)
  if not i then
    words[#words + 1] = names[1]
    words[#words + 1] = value
  elseif joined then words[i] = names[1] .. "=" .. value
  else words[i + 1] = value end
end

-- The program a command runs: "uvicorn", "gunicorn", "manage.py", …
function M.program(words)
  local w1 = (words[1] or ""):match("([^/]+)$") or ""
  if w1:match("^python[%d%.]*$") then
    if words[2] == "-m" then return words[3] or "", 3 end
    return ((words[2] or ""):match("([^/]+)$") or ""), 2
  end
  return w1, 1
end

local LOCAL = { ["127.0.0.1"] = true, localhost = true, [""] = true }

-- A server command made to listen on 0.0.0.0: returns the new words, the
-- port the command names (nil when it names none) and a note of what changed.
-- port is the one to add when the command names none; config_binds: a config
-- file of the server's says where it listens.
function M.bind(words, port, config_binds)
  local w = {}
  for i, x in ipairs(words) do w[i] = x end
  local prog, at = M.program(w)
  local named, note
  local function hostport(names, default_port)
    local i, v = opt(w, names)
    local host, p = (v or ""):match("^(.-):(%d+)$")
    if i then
      named = tonumber(p)
      if LOCAL[host or ""] then
        set_opt(w, names, "0.0.0.0:" .. (p or port or default_port)); note = "to listen on 0.0.0.0"
      end
    else
      set_opt(w, names, "0.0.0.0:" .. (port or default_port)); note = "to listen on 0.0.0.0"
    end
  end
  local function host_and_port(hosts, ports, default_port)
    local hi, h = opt(w, hosts)
    if not hi or LOCAL[h or ""] then set_opt(w, hosts, "0.0.0.0"); note = "to listen on 0.0.0.0" end
    local pi, p = opt(w, ports)
    if pi then named = tonumber(p)
    elseif port and port ~= default_port then set_opt(w, ports, tostring(port)); note = "to listen on 0.0.0.0 and port " .. port end
  end
  if prog == "uvicorn" then host_and_port({ "--host" }, { "--port" }, 8000)
  elseif prog == "gunicorn" then
    if not config_binds or opt(w, { "--bind", "-b" }) then hostport({ "--bind", "-b" }, 8000) end
  elseif prog == "hypercorn" then hostport({ "--bind", "-b" }, 8000)
  elseif prog == "daphne" then host_and_port({ "--bind", "-b" }, { "--port", "-p" }, 8000)
  elseif prog == "fastapi" then
    if w[at + 1] == "dev" then host_and_port({ "--host" }, { "--port" }, 8000)
    else
      local pi, p = opt(w, { "--port" })
      if pi then named = tonumber(p)
      elseif port and port ~= 8000 then set_opt(w, { "--port" }, tostring(port)); note = "to listen on port " .. port end
    end
  elseif prog == "flask" then host_and_port({ "--host", "-h" }, { "--port", "-p" }, 5000)
  elseif prog == "streamlit" then
    local pi, p = opt(w, { "--server.port" })
    if pi then named = tonumber(p)
    elseif port and port ~= 8501 then set_opt(w, { "--server.port" }, tostring(port)); note = "to listen on port " .. port end
    local hi, h = opt(w, { "--server.address" })
    if hi and LOCAL[h or ""] then set_opt(w, { "--server.address" }, "0.0.0.0"); note = "to listen on 0.0.0.0" end
  elseif prog == "manage.py" then
    for i = at + 1, #w do
      if w[i] == "runserver" then
        local a = w[i + 1]
        if a and not a:match("^%-") then
          local host, p = a:match("^(.-):(%d+)$")
          if not p and a:match("^%d+$") then p, host = a, "" end
          named = tonumber(p)
          if LOCAL[host or ""] then w[i + 1] = "0.0.0.0:" .. (p or port or 8000); note = "to listen on 0.0.0.0" end
        else
          table.insert(w, i + 1, "0.0.0.0:" .. (port or 8000)); note = "to listen on 0.0.0.0"
        end
        break
      end
    end
  end
  return w, named, note
end

-- Lua source for a list of words: { "a", "b" }.
function M.lua(words)
  local out = {}
  for i, w in ipairs(words) do out[i] = ("%q"):format(w):gsub("\\\n", "\\n") end
  return "{ " .. table.concat(out, ", ") .. " }"
end

return M
