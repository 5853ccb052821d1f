-- curio.embed: entry points the Swift embedding API calls.
local M = {}

--- Runs `source` as the main task of a fresh kernel; returns its first result,
--- or raises its error (as a string with the traceback's first line).
function M.run_string(source, name)
  local curio = require "curio"
  local chunk, err = load(source, name)
  if not chunk then error(err, 0) end
  local t = curio._run_main(chunk)
  if t._error ~= nil then error(require("curio.cli").error_text(t._error), 0) end
  if not t:done() then error("the main task did not finish", 0) end
  return (t:result())
end

return M
