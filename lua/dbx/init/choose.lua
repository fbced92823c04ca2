-- dbx.init.choose: the command, port and health path of one project, each
-- from the most specific source that names it — the project's Dockerfile,
-- compose file or Procfile, then its framework's conventions, then guesses —
-- with the words that say where it came from. P is the facts dbx.init.service
-- gathered: dir, toml, name, deps, files, texts, wide, wide_texts, shown,
-- compose, df, proc, scripts, script_names, notes.
local core = require "dbx.core"
local cmdw = require "dbx.init.cmd"
local code = require "dbx.init.code"

local M = {}

-- The command the project's own container files give: words, why, and what
-- was left out of a shell chain; nil when they give none.
local function own_command(P)
  local compose, df, proc = P.compose, P.df, P.proc
  local cmd, why
  if compose and compose.command then
    cmd, why = compose.command, ("from %s: services.%s.command"):format(compose.file, compose.name)
  elseif df and df.cmd then
    cmd, why = df.cmd, ("from %s: CMD %s"):format(df.file, df.cmd_text)
    local ep = df.entrypoint
    if ep and (ep[1]:match("%.sh$") or (ep[2] or ""):match("%.sh$")) then
      P.notes[#P.notes + 1] = ("%s's ENTRYPOINT %s runs a script of its own; not carried over")
        :format(df.file, df.entrypoint_text)
    elseif ep then
      cmd = { table.unpack(ep) }
      for _, w in ipairs(df.cmd) do cmd[#cmd + 1] = w end
    end
  elseif df and df.entrypoint and not df.entrypoint[1]:match("%.sh$") then
    cmd, why = df.entrypoint, ("from %s: ENTRYPOINT %s"):format(df.file, df.entrypoint_text)
  elseif proc then
    cmd, why = proc.cmd, "from Procfile: " .. proc.text
  end
  if proc and proc.release then
    P.notes[#P.notes + 1] = "Procfile's release step (" .. proc.release .. ") is not part of cmd"
  end
  if not cmd then return nil end
  local dropped
  cmd, dropped = cmdw.last_step(cmd)
  return cmd, why, dropped
end

-- The command an app object is served with, by what the project depends on.
local function serve_app(P, app)
  local deps, target, fw = P.deps, code.target(app), app.framework
  local why = ("a guess: %s app found at %s"):format(fw.class, app.file)
  if not fw.asgi then
    if deps.gunicorn then return { "gunicorn", target }, why, 8000 end
    return { "flask", "--app", target, "run" }, why, 5000
  end
  if deps.uvicorn or (deps.fastapi and deps.fastapi:find("standard")) then return { "uvicorn", target }, why, 8000 end
  if deps.hypercorn then return { "hypercorn", target }, why, 8000 end
  if deps.gunicorn then return { "gunicorn", "-k", "uvicorn.workers.UvicornWorker", target }, why, 8000 end
  return { "uvicorn", target }, why .. "; uvicorn is not among its dependencies: add it", 8000
end

-- The command by convention: a console script that serves, the framework's
-- way to serve, a file or module that runs. words, why, the framework's port.
local function convention_command(P)
  for _, s in ipairs(P.scripts) do
    if s.serves and s.name:lower():gsub("[^a-z0-9]+", "-") == P.name then
      return { s.name }, ("the console script %s (%s) starts a server"):format(s.name, s.target)
    end
  end
  for _, s in ipairs(P.scripts) do
    if s.serves then return { s.name }, ("the console script %s (%s) starts a server"):format(s.name, s.target) end
  end
  local deps = P.deps
  local fastapi_ep = (P.toml["tool.fastapi"] or {}).entrypoint
  if type(fastapi_ep) == "string" then
    -- fastapi[standard] brings uvicorn; `fastapi run` alone reads the same entrypoint
    local uv = deps.uvicorn or (deps.fastapi and deps.fastapi:find("standard"))
    return uv and { "uvicorn", fastapi_ep } or { "fastapi", "run" },
      ('from pyproject.toml: [tool.fastapi] entrypoint = "%s"'):format(fastapi_ep), 8000
  end
  local django = code.django(P.dir)
  if django then
    local seen = ("a Django project (manage.py, %s/wsgi.py)"):format(django)
    if deps.gunicorn then return { "gunicorn", django .. ".wsgi" }, "a guess: " .. seen .. ", served by gunicorn, a dependency", 8000 end
    return { "python", "manage.py", "runserver" }, "a guess: " .. seen .. "; gunicorn is not a dependency", 8000
  end
  local st_file = deps.streamlit and code.streamlit_file(P.dir, P.files, P.texts)
  if st_file then
    return { "streamlit", "run", st_file, "--server.address", "0.0.0.0", "--server.headless", "true" },
      "a guess: a Streamlit app found at " .. st_file, 8501
  end
  local app = code.find_app(P.dir, P.files, P.texts)
  if app then return serve_app(P, app) end
  for _, f in ipairs({ "main.py", "app.py", "server.py", "run.py" }) do
    if code.serves(P.texts(f)) then return { "python", f }, "a guess: " .. f .. " starts a server" end
  end
  local mod = (P.pname or ""):gsub("[-.]", "_")
  local f = code.runnable_module(P.dir, mod)
  if f then return { "python", "-m", mod }, "a guess: " .. f .. " is there to run" end
end

-- The command: { words, why, dropped, fw_port }, or nil and why there is none.
function M.command(P)
  local cmd, why, dropped = own_command(P)
  local fw_port
  if not cmd then cmd, why, fw_port = convention_command(P) end
  if cmd then return { words = cmd, why = why, dropped = dropped, fw_port = fw_port } end
  local none = "nothing says how it starts (no Dockerfile CMD, compose command, Procfile, serving console script or app object)"
  if #P.scripts > 0 then none = none .. "; its console scripts do not serve" end
  return nil, none
end

local DEFAULT = { uvicorn = 8000, gunicorn = 8000, hypercorn = 8000, fastapi = 8000, daphne = 8000,
                  ["manage.py"] = 8000, flask = 5000, streamlit = 8501 }

-- Where gunicorn's config (-c FILE, else ./gunicorn.conf.py) binds: whether it
-- does, and the port it names.
local function gunicorn_bind(P, words)
  local conf = select(2, cmdw.opt(words, { "-c", "--config" })) or "gunicorn.conf.py"
  local text = core.read(P.dir, (conf:gsub("^python:", ""))) or ""
  if not (text:match("\nbind%s*=") or text:match("^bind%s*=")) then return false end
  local p = code.default_port({ conf }, function() return text end)
    or tonumber(text:match("\nbind%s*=[^\n]-:(%d+)"))
  return true, p, conf
end

-- The port before the command is read: what the project's files say, else
-- the framework's usual one. port, why, and whether gunicorn's config binds.
function M.port(P, c)
  local compose, df, words = P.compose, P.df, c.words
  local prog = cmdw.program(words)
  if compose and compose.port then return compose.port, ("from %s: %s"):format(compose.file, compose.port_text) end
  if df and df.port then return df.port, ("from %s: %s"):format(df.file, df.port_text) end
  if compose and compose.health_port then return compose.health_port, "from " .. compose.file .. ": its healthcheck URL" end
  if df and df.health_port then return df.health_port, "from " .. df.file .. ": its HEALTHCHECK URL" end
  if P.script_names[words[1]] or (prog:match("%.py$") and prog ~= "manage.py") or (words[2] == "-m" and not DEFAULT[prog]) then
    local p, f = code.default_port(P.wide, P.wide_texts)
    if p then return p, "a guess: the default port in " .. P.shown(f) end
  end
  local binds, p, conf = false, nil, nil
  if prog == "gunicorn" then binds, p, conf = gunicorn_bind(P, words) end
  if p then return p, "from " .. conf .. ": its bind", binds end
  if c.fw_port or DEFAULT[prog] then
    return c.fw_port or DEFAULT[prog], "a guess: " .. prog .. "'s usual port", binds
  end
  return nil, nil, binds
end

-- The health path and why, or nil.
function M.health(P, prog)
  local compose, df = P.compose, P.df
  if compose and compose.health then return compose.health, ("from %s: %s"):format(compose.file, compose.health_text) end
  if df and df.health then return df.health, ("from %s: %s"):format(df.file, df.health_text) end
  local r = code.health_route(P.wide, P.wide_texts)
  if r then
    return r.path, "a guess: a route in " .. P.shown(r.file)
      .. (r.prefixed and " under its router's prefix; check where the router is mounted" or "")
  end
  if prog == "streamlit" or P.deps.streamlit then return "/_stcore/health", "Streamlit's own health path" end
end

return M
