-- curio.kernel: the trap protocol between Lua tasks and the Swift kernel.
-- Blocking operations yield (TRAP, op, a, b) out of the task's coroutine; the
-- kernel resumes with (status, value). Non-blocking operations call core.kcall,
-- which never suspends. The numbers come from Sources/CLuaShim/include/curio_ops.h
-- through core.K (kernel calls), core.T (traps) and core.S (resume statuses).
local core = require "curio.core"
local errors = require "curio.errors"

local K = {}
local kcall, TRAP = core.kcall, core.TRAP
local yield, isyieldable = coroutine.yield, coroutine.isyieldable

K.kcall = kcall
K.TRAP = TRAP
K.K = core.K
K.T = core.T
K.S = core.S
-- Task states, as the kernel numbers them.
K.STATES = { [0] = "READY", "RUNNING", "SLEEP", "READ_WAIT", "WRITE_WAIT", "EVENT_WAIT",
  "LOCK_WAIT", "QUEUE_WAIT", "JOIN_WAIT", "THREAD_WAIT", "PROCESS_WAIT", "TERMINATED" }
K.STATE = {}
for i = 0, #K.STATES do K.STATE[K.STATES[i]] = i end

local OP_CURRENT = K.K.CURRENT
--- The current Task object, or nil outside a task.
function K.current()
  return kcall(OP_CURRENT)
end

local NOT_IN_TASK = core.S.NOT_IN_TASK
K.NOT_IN_TASK = NOT_IN_TASK

local function not_in_task(level)
  if K.current() then
    error(errors.NotInTask("cannot block here: not yieldable (inside a C call or metamethod?)"), level)
  end
  error(errors.NotInTask("must be called inside a curio task"), level)
end
K.not_in_task = not_in_task

--- Turns a resume status into the error the blocking call raises.
function K.cancel_error(st, v)
  if st == core.S.TIMEOUT then
    return errors.TaskTimeout("timeout", { clock = v })
  elseif st == NOT_IN_TASK then
    return errors.NotInTask("must be called inside a curio task")
  end
  local t = K.current()
  local e = t and t._cancel_error
  if e then return e end
  return errors.TaskCancelled("task cancelled")
end
local cancel_error = K.cancel_error

local NOT_YIELDABLE = core.S.NOT_YIELDABLE

-- Raises what a trap's non-zero resume status stands for (called by core.trap).
core.set_raiser(function(st, v)
  if st == NOT_YIELDABLE then not_in_task(3) end
  error(cancel_error(st, v), 0)
end)

--- trap(op, a, b): suspends the current task on a trap; returns the kernel's value
--- or raises the cancellation (TaskCancelled, TaskTimeout, a custom error)
--- delivered instead. Implemented in C (core.trap): no Lua frame per blocking call.
K.trap = core.trap

--- Like trap, but returns false, error instead of raising (for code that must
--- clean up before propagating).
function K.trap_nothrow(op, a, b)
  if not isyieldable() then not_in_task(3) end
  local st, v = yield(TRAP, op, a, b)
  if st == 0 then return true, v end
  return false, cancel_error(st, v)
end

function K.clock() return kcall(2) end

-- Wait queues (kernel-side FIFO lists of suspended tasks).
local WQ_NEW, WQ_WAKE, WQ_LEN, WQ_FREE = K.K.WQ_NEW, K.K.WQ_WAKE, K.K.WQ_LEN, K.K.WQ_FREE
local WAIT = K.T.WAIT
local wq_mt = { __gc = function(q) kcall(WQ_FREE, q[1]) end }
--- A kernel wait queue; `barrier` ones are meant to be woken all at once.
function K.waitqueue(barrier)
  return setmetatable({ kcall(WQ_NEW, barrier and 1 or 0) }, wq_mt)
end
--- Suspends the current task on `q` in `state` (a number from K.STATE); returns the
--- waker's value.
function K.wait(q, state)
  --- Forgets fd's kernel registration (waking its waiters with EBADF) and closes it.
local FD_FORGET = K.K.FD_FORGET
function K.close_fd(fd)
  pcall(kcall, FD_FORGET, fd) -- fails only when no kernel runs: nothing to forget
  require("curio.csocket").close(fd)
end

return K.trap(WAIT, q[1], state)
end
function K.wait_nothrow(q, state)
  --- Forgets fd's kernel registration (waking its waiters with EBADF) and closes it.
local FD_FORGET = K.K.FD_FORGET
function K.close_fd(fd)
  pcall(kcall, FD_FORGET, fd) -- fails only when no kernel runs: nothing to forget
  require("curio.csocket").close(fd)
end

return K.trap_nothrow(WAIT, q[1], state)
end
--- Wakes up to n (default 1) waiters with `value`; returns count woken and the
--- first woken Task.
function K.wake(q, n, value)
  return kcall(WQ_WAKE, q[1], n or 1, value)
end
function K.waiting(q)
  return kcall(WQ_LEN, q[1])
end

--- Forgets fd's kernel registration (waking its waiters with EBADF) and closes it.
local FD_FORGET = K.K.FD_FORGET
function K.close_fd(fd)
  pcall(kcall, FD_FORGET, fd) -- fails only when no kernel runs: nothing to forget
  require("curio.csocket").close(fd)
end

return K
