-- dbx.toml: the parts of pyproject.toml dbx reads.
local M = {}

-- parse(text) -> { ["table.name"] = { key = "string" or { "array", ... } } },
-- with the top-level keys under "". Strings, string arrays, booleans and
-- whole numbers only (the subset of pyproject.toml dbx reads); other values
-- are skipped. A table header that does not close: nil, "line N: why".
function M.parse(text)
  local out, cur = {}, {}
  out[""] = cur
  local pending_key, pending = nil, nil
  local n = 0
  for raw in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local line = raw:gsub("^%s+", ""):gsub("%s+$", "")
    if pending then
      for s in line:gmatch('"([^"]*)"') do pending[#pending + 1] = s end
      if line:find("]", 1, true) then cur[pending_key], pending = pending, nil end
    elseif line:match("^%[%[") then
      cur = {} -- an array of tables: not needed
    elseif line:match("^%[") then
      local name = line:match("^%[%s*([^%]]-)%s*%]")
      if not name or name == "" then
        return nil, ("line %d: '%s' is not a table header like [project]"):format(n, line:sub(1, 60))
      end
      cur = out[name] or {}
      out[name] = cur
    else
      local k, v = line:match('^"?([%w_.%-]+)"?%s*=%s*(.*)$')
      if k then
        if v:match('^"') then
          cur[k] = v:match('^"(.-)"')
        elseif v:match("^true%f[^%w_]") or v:match("^false%f[^%w_]") then
          cur[k] = v:match("^true") ~= nil
        elseif v:match("^%-?%d+%s*$") or v:match("^%-?%d+%s*#") then
          cur[k] = math.tointeger(tonumber(v:match("^%-?%d+")))
        elseif v:match("^%[") then
          local arr = {}
          for s in v:gmatch('"([^"]*)"') do arr[#arr + 1] = s end
          if v:find("]", 1, true) then cur[k] = arr else pending_key, pending = k, arr end
        end
      end
    end
  end
  return out
end

-- The parsed file (dir-relative) read through dbx.core, so it becomes an input
-- of the recipe; {} when it does not exist; a malformed one raises
-- "FILE:LINE: why" for the recipe that asked.
function M.read(dir, file)
  local text = require("dbx.core").read(dir, file)
  if not text then return {} end
  local t, err = M.parse(text)
  if not t then
    error(("%s%s: %s"):format(dir ~= "" and (dir .. "/") or "", file, err), 0)
  end
  return t
end

return M
