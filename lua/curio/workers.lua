-- curio.workers: run_in_thread. A call crosses to a pool thread as an encoded
-- message (curio.ccodec's format): the function as bytecode or a
-- "module.function" name, then its arguments; the outcome comes back the same way.
-- Each pool thread keeps its own Lua state between calls (Sources/CLuaShim/workers.c).
local core = require "curio.core"
local K = require "curio.kernel"
local errors = require "curio.errors"
local check = require "curio.check"
local cw = require "curio.cworkers"

local kcall, trap, THREAD = core.kcall, core.trap, K.T.THREAD
-- Kernel calls (Sources/CurioLua/LuaRuntime+Workers.swift; rows 300-349 of curio_ops.h).
local OP_THREAD_SUBMIT, OP_THREAD_RESULT = core.K.THREAD_SUBMIT, core.K.THREAD_RESULT
-- Outcome statuses (workers.c): ST_OK, ST_TRANSFER, and anything else (1: fn
-- raised, 3: out of memory) is a WorkerError.
local ST_OK, ST_TRANSFER = 0, 2

local M = {}
local last_path, last_cpath

-- The arguments of a host call as a message box (their positions start at #2).
local function ccodec_encode_args(...)
  return cw.pack_args(...)
end

local function outcome(st, ...)
  if st == ST_OK then return ... end
  local message, traceback = ...
  if st == ST_TRANSFER then error(errors.TransferError(message), 0) end
  error(errors.WorkerError(message, { traceback = traceback or "" }), 0)
end

--- run_in_thread(fn, ...): runs fn(...) in a pool thread's own Lua state and
--- returns its results; only the calling task waits.
-- fn: a function, or "module.function" (checked here, at the caller's line).
local function check_fn(fn, fname)
  local t = type(fn)
  if t == "string" then
    -- as the C side: a dot, not first nor last (and no NUL, which C would stop at)
    if not fn:find("^.+%.[^.]+$") or fn:find("\0", 1, true) then
      check.badarg(1, fname, ("'module.function' expected, got '%s'"):format(fn))
    end
  elseif t ~= "function" then
    check.argerror(1, fname, "function or string", fn)
  end
end

function M.run_in_thread(fn, ...)
  check_fn(fn, "run_in_thread")
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

-- Blocking host functions ----------------------------------------------------

local OP_HOST_CALL = core.K.HOST_CALL

--- call_host(name, ...): calls the Swift function the embedder registered as
--- `name` (LuaRuntime.registerBlocking) on the thread pool; only this task waits.
function M.call_host(name, ...)
  if type(name) ~= "string" then
    error(("bad argument #1 to 'call_host' (string expected, got %s)"):format(type(name)), 2)
  end
  local box, err = ccodec_encode_args(...)
  if not box then error(errors.TransferError(err), 2) end
  if not K.current() then error(errors.NotInTask("must be called inside a curio task"), 2) end
  local job = kcall(OP_HOST_CALL, name, box)
  trap(THREAD, job)
  return outcome(cw.unpack(kcall(OP_THREAD_RESULT, job)))
end

--- host.name(...) == call_host("name", ...)
M.host = setmetatable({}, { __index = function(_, name)
  return function(...) return M.call_host(name, ...) end
end })

-- Worker processes ---------------------------------------------------------
-- Each is `curio-lua --curio-worker-process` serving framed codec messages on one
-- end of a socketpair (Sources/CLuaShim/worker_process.c). Idle workers wait in `idle`;
-- at most `M.process_pool_size` exist. A worker whose caller was cancelled, or
-- that died, is killed and reaped (no zombie) and a new one replaces it on demand.
local cp = require "curio.cworkerproc"
local ccodec = require "curio.ccodec"

M.process_pool_size = cp.nproc()
local idle, nprocs = {}, 0
local slots -- a Semaphore of M.process_pool_size: one unit per busy worker

-- Kills and reaps a worker (no zombie); returns how it ended.
local function reap(w)
  nprocs = nprocs - 1
  w.sock:close()
  return cp.kill_reap(w.pid)
end

local function spawn_worker()
  local socket = require "curio.socket"
  local a, b = socket.socketpair()
  local pid, err = cp.spawn(core.exepath(), b:fileno())
  b:close()
  if not pid then
    a:close()
    error(errors.OSError(("cannot start a worker process: %s"):format(core.strerror(err)),
      { errno = err, code = core.errname(err) }), 0)
  end
  nprocs = nprocs + 1
  local w = { sock = a, pid = pid }
  local ok, e = pcall(a.sendall, a, cp.frame(ccodec.encode(package.path, package.cpath)))
  if not ok then reap(w); error(e, 0) end
  return w
end

-- A worker for one call: an idle one, or a new one while the pool has room.
-- Waiters are served FIFO by the semaphore (cancellation-safe).
local function acquire()
  slots = slots or require("curio.sync").Semaphore(M.process_pool_size)
  slots:acquire()
  local w = table.remove(idle)
  if w then return w end
  local ok, e = pcall(spawn_worker)
  if not ok then slots:release(); error(e, 0) end
  return e
end

-- Reads one frame; nil if the worker closed the connection.
local function read_frame(sock)
  local buf = ""
  while #buf < 4 do
    local d = sock:recv(65536)
    if not d then return nil end
    buf = buf .. d
  end
  local n = cp.frame_length(buf)
  local parts, have = { buf:sub(5) }, #buf - 4
  while have < n do
    local d = sock:recv(math.min(n - have, 1 << 20))
    if not d then return nil end
    parts[#parts + 1] = d
    have = have + #d
  end
  return table.concat(parts)
end

--- run_in_process(fn, ...): runs fn(...) in a worker process; same contract as
--- run_in_thread, except that Universal objects cannot cross.
function M.run_in_process(fn, ...)
  check_fn(fn, "run_in_process")
  local box, err = cw.pack_process("run_in_process", fn, ...)
  if not box then error(errors.TransferError(err), 2) end
  if not K.current() then error(errors.NotInTask("must be called inside a curio task"), 2) end
  local frame = cp.frame(box)
  local w = acquire()
  -- Any error while the call is in flight (cancellation, timeout) leaves the
  -- worker in an unknown state: kill it.
  local ok, reply = pcall(function()
    w.sock:sendall(frame)
    return read_frame(w.sock)
  end)
  if not ok then
    reap(w)
    slots:release()
    error(reply, 0)
  end
  if not reply then
    local how = reap(w)
    slots:release()
    error(errors.WorkerError(("worker process died (%s)"):format(how), { traceback = "" }), 0)
  end
  idle[#idle + 1] = w
  slots:release()
  return outcome(ccodec.loads(reply))
end

return M
