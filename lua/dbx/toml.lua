-- dbx.toml: the parts of pyproject.toml dbx reads.
local M = {}

-- parse(text) -> { ["table.name"] = { key = "string" or { "array", ... } } },
-- with the top-level keys under "". Tables of string values and string
-- arrays only (the subset of pyproject.toml dbx reads); other values are skipped.
function M.parse(text)
  local out, cur = {}, {}
  out[""] = cur
  local pending_key, pending = nil, nil
  for raw in (text .. "\n"):gmatch("([^\n]*)\n") do
    local line = raw:gsub("^%s+", ""):gsub("%s+$", "")
    if pending then
      for s in line:gmatch('"([^"]*)"') do pending[#pending + 1] = s end
      if line:find("]", 1, true) then cur[pending_key], pending = pending, nil end
    elseif line:match("^%[%[") then
      cur = {} -- an array of tables: not needed
    elseif line:match("^%[") then
      local name = line:match("^%[%s*([^%]]-)%s*%]")
      cur = out[name] or {}
      out[name] = cur
    else
      local k, v = line:match('^"?([%w_.%-]+)"?%s*=%s*(.*)$')
      if k then
        if v:match('^"') then
          cur[k] = v:match('^"(.-)"')
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

return M
