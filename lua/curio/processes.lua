-- curio.processes: this process's place among the workers of
-- `curio-lua --processes N script.lua` (docs/processes.md).
local M = {}

local index -- set by the command line in a worker process

--- process_index() -> 1..N in a worker started by `curio-lua --processes N`,
--- nil otherwise.
function M.process_index()
  return index
end

-- Called by the curio-lua binary before the script runs (not part of the API).
function M._set_index(i)
  index = math.tointeger(tonumber(i))
  return 0
end

return M
