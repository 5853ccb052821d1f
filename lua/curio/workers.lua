-- curio.workers: run_in_thread. A call crosses to a pool thread as an encoded
-- message (curio.ccodec's format): the function as bytecode or a
-- "module.function" name, then its arguments; the outcome comes back the same way.
-- Each pool thread keeps its own Lua state between calls (Sources/CLuaShim/workers.c).
local core = require "curio.core"
local K = require "curio.kernel"
local errors = require "curio.errors"
local cw = require "curio.cworkers"

local kcall, trap, THREAD = core.kcall, core.trap, K.T.THREAD
-- Kernel calls (Sources/CurioLua/LuaRuntime+Workers.swift; workers range 300-349).
local OP_THREAD_SUBMIT, OP_THREAD_RESULT = 300, 301
-- Outcome statuses (workers.c).
local ST_OK, ST_ERROR, ST_TRANSFER = 0, 1, 2

local M = {}
local last_path, last_cpath

local function outcome(st, ...)
  if st == ST_OK then return ... end
  local message, traceback = ...
  if st == ST_TRANSFER then error(errors.TransferError(message), 0) end
  error(errors.WorkerError(message, { traceback = traceback or "" }), 0)
end

--- run_in_thread(fn, ...): runs fn(...) in a pool thread's own Lua state and
--- returns its results; only the calling task waits.
function M.run_in_thread(fn, ...)
  if package.path ~= last_path or package.cpath ~= last_cpath then
    cw.configure(package.path, package.cpath)
    last_path, last_cpath = package.path, package.cpath
  end
  local box, err = cw.pack("run_in_thread", fn, ...)
  if not box then error(errors.TransferError(err), 2) end
  if not K.current() then error(errors.NotInTask("must be called inside a curio task"), 2) end
  local job = kcall(OP_THREAD_SUBMIT, box)
  trap(THREAD, job)
  return outcome(cw.unpack(kcall(OP_THREAD_RESULT, job)))
end

return M
