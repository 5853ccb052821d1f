-- curio.time: sleeping, the clock, timeouts and cancellation control.
local core = require "curio.core"
local K = require "curio.kernel"
local errors = require "curio.errors"

local kcall = K.kcall
local is = errors.is
local OP_CLOCK, OP_ENTER, OP_LEAVE = K.K.CLOCK, K.K.TIMEOUT_ENTER, K.K.TIMEOUT_LEAVE
local OP_DISABLE, OP_PENDING = K.K.CANCEL_DISABLE, K.K.CANCEL_PENDING
local TaskTimeout, TimeoutCancellationError = errors.TaskTimeout, errors.TimeoutCancellationError

local M = {}

local function check_number(v, i, fname)
  if type(v) ~= "number" then
    error(("bad argument #%d to '%s' (number expected, got %s)"):format(i, fname, type(v)), 3)
  end
end

-- sleep(seconds) returns the kernel clock at wake-up (0 yields to other tasks);
-- wake_at(clock) sleeps until an absolute clock; schedule() is sleep(0). In C
-- (curio.core): a sleeping task keeps no Lua frame of ours.
M.sleep, M.wake_at, M.schedule = core.sleep, core.wake_at, core.schedule

function M.clock()
  return kcall(OP_CLOCK)
end

local function check_callable(fn, i, fname)
  local t = type(fn)
  if t == "function" then return end
  local mt = getmetatable(fn)
  if t == "table" and mt and mt.__call then return end
  error(("bad argument #%d to '%s' (function expected, got %s)"):format(i, fname, t), 3)
end

-- Curio's nesting rules, decided by the kernel from the task's deadline stack.
local OURS, OUTER, UNCAUGHT = 1, 2, 3
local function leave(ignore, ok, ...)
  if ok then
    kcall(OP_LEAVE, nil)
    return ...
  end
  local e = ...
  local clock
  if is(e, TaskTimeout) or is(e, TimeoutCancellationError) then clock = e.clock end
  local verdict = kcall(OP_LEAVE, clock)
  if verdict == OURS then
    if ignore then return nil end
    if is(e, TimeoutCancellationError) then
      e = TaskTimeout("timeout", { clock = clock })
    end
  elseif verdict == OUTER then
    if is(e, TaskTimeout) then
      e = TimeoutCancellationError("timeout in an enclosing block", { clock = clock })
    end
  elseif verdict == UNCAUGHT then
    e = errors.UncaughtTimeoutError("uncaught timeout received", { clock = clock })
  end
  error(e, 0)
end

local function timeout_block(deadline, ignore, fn, ...)
  if K.current() == nil then K.not_in_task(3) end
  kcall(OP_ENTER, deadline)
  return leave(ignore, pcall(fn, ...))
end

--- timeout_after(seconds, fn, ...): fn's results, or raises TaskTimeout.
function M.timeout_after(seconds, fn, ...)
  check_callable(fn, 2, "timeout_after")
  if seconds == nil then return fn(...) end
  check_number(seconds, 1, "timeout_after")
  return timeout_block(kcall(OP_CLOCK) + seconds, false, fn, ...)
end

--- ignore_after(seconds, fn, ...): fn's results, or nil on timeout.
function M.ignore_after(seconds, fn, ...)
  check_callable(fn, 2, "ignore_after")
  if seconds == nil then return fn(...) end
  check_number(seconds, 1, "ignore_after")
  return timeout_block(kcall(OP_CLOCK) + seconds, true, fn, ...)
end

function M.timeout_at(clock, fn, ...)
  check_callable(fn, 2, "timeout_at")
  if clock == nil then return fn(...) end
  check_number(clock, 1, "timeout_at")
  return timeout_block(clock, false, fn, ...)
end

function M.ignore_at(clock, fn, ...)
  check_callable(fn, 2, "ignore_at")
  if clock == nil then return fn(...) end
  check_number(clock, 1, "ignore_at")
  return timeout_block(clock, true, fn, ...)
end

local function enable(ok, ...)
  kcall(OP_DISABLE, -1)
  if ok then return ... end
  error((...), 0)
end

--- Runs fn(...) with cancellation deferred; a pending cancellation is delivered at
--- the next blocking call after it returns.
function M.disable_cancellation(fn, ...)
  check_callable(fn, 1, "disable_cancellation")
  if K.current() == nil then K.not_in_task(2) end
  kcall(OP_DISABLE, 1)
  return enable(pcall(fn, ...))
end

--- Returns the pending cancellation error, or nil.
function M.check_cancellation()
  if K.current() == nil then K.not_in_task(2) end
  local kind, v = kcall(OP_PENDING, false)
  if kind == 0 then return nil end
  return K.cancel_error(kind, v)
end

return M
