-- curio: tasks, cancellation, timeouts, synchronization and I/O for Lua 5.4,
-- on a Swift kernel. See docs/reference.md.
local K = require "curio.kernel"
local errors = require "curio.errors"
local task = require "curio.task"
local time = require "curio.time"
local taskgroup = require "curio.taskgroup"
local check = require "curio.check"

require("curio.coroutine").install()

local curio = { _VERSION = "curio-lua 0.1" }

curio.errors = errors
for k, v in pairs(errors) do
  if errors.is_class(v) then curio[k] = v end
end

curio.spawn = task.spawn
curio.spawn_daemon = task.spawn_daemon
curio.current_task = task.current_task
curio.tasks = task.tasks
curio.Task = task.Task
for _, k in ipairs { "sleep", "schedule", "wake_at", "clock", "timeout_after", "ignore_after",
  "timeout_at", "ignore_at", "disable_cancellation", "check_cancellation" } do
  curio[k] = time[k]
end
curio.TaskGroup = taskgroup.TaskGroup

local OP_RUN, OP_RUNNING = K.K.RUN, K.K.RUNNING

--- Runs main(...) as the main task of a new kernel and returns its results, or
--- raises its error unchanged. Inside a running kernel it runs fn as a task of
--- that kernel and waits for it.
function curio.run(main, ...)
  check.callable(main, 1, "run")
  if K.kcall(OP_RUNNING) then
    local t = task.spawn(main, ...)
    t._quiet = true -- its error is re-raised here, not reported as a crash
    t:wait()
    if t._error ~= nil then error(t._error, 0) end
    return t:result()
  end
  local t = curio._run_main(main, ...)
  if t._error ~= nil then error(t._error, 0) end
  if not t:done() then error(errors.CurioError("main task did not finish"), 0) end
  return t:result()
end

--- Runs main(...) in a new kernel; returns the finished main Task (its _error,
--- _traceback, and its results through t:result()). Used by the CLI and the test runner.
function curio._run_main(main, ...)
  if K.kcall(OP_RUNNING) then error(errors.CurioError("a kernel is already running"), 2) end
  local t = task.spawn_main(main, ...)
  t._quiet = true
  K.kcall(OP_RUN, t.id)
  return t
end

-- Lazily loaded parts (each is also `require "curio.X"`).
local lazy = {
  socket = "curio.socket", test = "curio.test", ssl = "curio.ssl",
  subprocess = "curio.subprocess", signal = "curio.signal",
  SignalQueue = { "curio.signal", "SignalQueue" }, SignalEvent = { "curio.signal", "SignalEvent" },
  Event = { "curio.sync", "Event" }, Lock = { "curio.sync", "Lock" },
  RLock = { "curio.sync", "RLock" }, Semaphore = { "curio.sync", "Semaphore" },
  BoundedSemaphore = { "curio.sync", "BoundedSemaphore" },
  Condition = { "curio.sync", "Condition" },
  Queue = { "curio.queue", "Queue" }, PriorityQueue = { "curio.queue", "PriorityQueue" },
  LifoQueue = { "curio.queue", "LifoQueue" },
  Local = { "curio.local", "Local" },
  open_connection = { "curio.network", "open_connection" },
  open_unix_connection = { "curio.network", "open_unix_connection" },
  tcp_server = { "curio.network", "tcp_server" },
  unix_server = { "curio.network", "unix_server" },
  tcp_server_socket = { "curio.network", "tcp_server_socket" },
  unix_server_socket = { "curio.network", "unix_server_socket" },
  run_server = { "curio.network", "run_server" },
  open_file = { "curio.io", "open_file" }, aopen = { "curio.io", "open_file" },
  stdin = { "curio.io", "stdin" }, stdout = { "curio.io", "stdout" },
  stderr = { "curio.io", "stderr" },
  workers = "curio.workers", run_in_thread = { "curio.workers", "run_in_thread" },
  run_in_process = { "curio.workers", "run_in_process" },
  channel = "curio.channel", Channel = { "curio.channel", "Channel" },
  UniversalQueue = { "curio.universal", "UniversalQueue" },
  UniversalEvent = { "curio.universal", "UniversalEvent" },
  process_index = { "curio.processes", "process_index" },
}

setmetatable(curio, {
  __index = function(t, k)
    local where = lazy[k]
    if where == nil then return nil end
    local v
    if type(where) == "string" then
      v = require(where)
    else
      v = require(where[1])[where[2]]
    end
    rawset(t, k, v)
    return v
  end,
})

package.loaded["curio"] = curio
return curio
