-- curio.subprocess: child processes whose pipes are curio streams. Children are
-- started with posix_spawn (Sources/CLuaShim/process.c); their exit is noticed
-- through a pidfd waited for on the kernel's poller (no SIGCHLD, no polling), and
-- a child whose Popen is collected while it still runs is reaped by a detached
-- thread: no zombie is left behind. See docs/subprocess.md.
local cp = require "curio.cprocess"
local K = require "curio.kernel"
local errors = require "curio.errors"
local io_ = require "curio.io"
local time = require "curio.time"
local task = require "curio.task"

local check = require "curio.check"
local badarg, argerror, close_fd = check.badarg, check.argerror, K.close_fd
local trap_nothrow, kcall = K.trap_nothrow, K.kcall
local IO, OP_CANCEL_DISABLE = K.T.IO, K.K.CANCEL_DISABLE
local type, math_type, tostring, setmetatable, pcall, error = type, math.type, tostring, setmetatable, pcall, error
local concat = table.concat

local M = {}

local function sentinel(name)
  return setmetatable({}, { __tostring = function() return "subprocess." .. name end, __name = name })
end
M.PIPE, M.STDOUT, M.DEVNULL = sentinel("PIPE"), sentinel("STDOUT"), sentinel("DEVNULL")
local PIPE, STDOUT, DEVNULL = M.PIPE, M.STDOUT, M.DEVNULL

-- ---------------------------------------------------------------- arguments

local function check_string(v, i, fname, what)
  if math_type(v) == "integer" then v = tostring(v) end
  if type(v) ~= "string" then
    badarg(i, fname, ("%s: string expected, got %s"):format(what, type(v)))
  end
  if v:find("\0", 1, true) then badarg(i, fname, what .. " contains a zero byte") end
  return v
end

-- argv (a list, or a string naming the program / the shell command) -> a list.
local function build_argv(argv, shell, fname)
  local list = {}
  if type(argv) == "string" then
    list[1] = check_string(argv, 1, fname, "argv")
  elseif type(argv) == "table" then
    local n = #argv
    if n == 0 then badarg(1, fname, "argv is empty") end
    for i = 1, n do list[i] = check_string(argv[i], 1, fname, ("argv[%d]"):format(i)) end
  else
    argerror(1, fname, "table or string", argv)
  end
  if shell then table.insert(list, 1, "-c"); table.insert(list, 1, "/bin/sh") end
  return list
end

-- env table -> list of "NAME=value", and its PATH (for the program lookup).
local function build_env(env, fname)
  if env == nil then return nil, nil end
  if type(env) ~= "table" then badarg(2, fname, ("env: table expected, got %s"):format(type(env))) end
  local list, path = {}, nil
  for k, v in pairs(env) do
    if type(k) ~= "string" then badarg(2, fname, ("env: string keys expected, got %s"):format(type(k))) end
    if k == "" or k:find("=", 1, true) or k:find("\0", 1, true) then
      badarg(2, fname, ("env: invalid variable name '%s'"):format(k))
    end
    if type(v) == "number" then v = tostring(v) end
    v = check_string(v, 2, fname, "env." .. k)
    list[#list + 1] = k .. "=" .. v
    if k == "PATH" then path = v end
  end
  table.sort(list)
  return list, path or "/bin:/usr/bin" -- as Python: no PATH in env means os.defpath
end

local POPEN_OPTS = { stdin = true, stdout = true, stderr = true, cwd = true, env = true, shell = true }

-- Per slot, what the child gets: fd (-1: ours), the parent's end of a pipe, the
-- descriptors to close in this process after the spawn, the stream to close
-- (a pipe handed over to this child).
local function resolve_stdio(v, slot, fname, plan)
  local name = ({ [0] = "stdin", "stdout", "stderr" })[slot]
  if v == nil then return -1 end
  if v == PIPE then
    local r, w = cp.pipe()
    if not r then error(errors.oserror(fname .. ": pipe", w), 0) end
    local mine, theirs = r, w
    if slot == 0 then mine, theirs = w, r end
    plan.close[#plan.close + 1] = theirs
    plan.pipes[slot] = mine
    return theirs
  end
  if v == DEVNULL then
    local fd, err = cp.devnull()
    if not fd then error(errors.oserror(fname .. ": open /dev/null", err), 0) end
    plan.close[#plan.close + 1] = fd
    return fd
  end
  if v == STDOUT then
    if slot ~= 2 then badarg(2, fname, name .. ": STDOUT is only valid for stderr") end
    return -2
  end
  if math_type(v) == "integer" then
    if v < 0 or v > 0x7fffffff or not cp.fdvalid(v) then badarg(2, fname, ("%s: fd %d is not open"):format(name, v)) end
    return v
  end
  local mt = type(v) == "table" and getmetatable(v)
  if mt and type(v.fileno) == "function" then
    local fd = v:fileno()
    if math_type(fd) ~= "integer" or fd < 0 then badarg(2, fname, name .. ": the stream is closed") end
    if rawget(v, "_subprocess_pipe") then
      -- Another child's pipe end: it is handed over (closed here after the spawn),
      -- and made blocking, as programs expect of their standard descriptors.
      plan.handover[#plan.handover + 1] = v
      cp.set_nonblocking(fd, false)
    end
    return fd
  end
  badarg(2, fname, ("%s: PIPE, DEVNULL, %san fd or a stream expected, got %s"):format(
    name, slot == 2 and "STDOUT, " or "", type(v)))
end

-- ---------------------------------------------------------------- Popen

local Popen = { __name = "curio.Popen" }
Popen.__index = Popen
M.Popen = Popen

local function pipe_stream(fd)
  cp.set_nonblocking(fd, true)
  local s = io_.fd_stream(fd)
  s._subprocess_pipe = true
  return s
end

local function spawn_failed(fname, argv, cwd, err, what)
  local e
  if what == "cwd" then
    e = errors.oserror(("%s: cwd '%s'"):format(fname, cwd), err)
    e.filename = cwd
  else
    e = errors.oserror(("%s '%s'"):format(fname, argv[1]), err)
    e.filename = argv[1]
  end
  error(e, 0)
end

local function new_popen(fname, argv, opts)
  if opts ~= nil and type(opts) ~= "table" then argerror(2, fname, "table", opts) end
  opts = opts or {}
  for k in pairs(opts) do
    if not POPEN_OPTS[k] then badarg(2, fname, ("unknown option '%s'"):format(tostring(k))) end
  end
  local shell = opts.shell
  if shell ~= nil and type(shell) ~= "boolean" then
    badarg(2, fname, ("shell: boolean expected, got %s"):format(type(shell)))
  end
  local args = build_argv(argv, shell, fname)
  local envlist, path = build_env(opts.env, fname)
  local cwd = opts.cwd
  if cwd ~= nil then cwd = check_string(cwd, 2, fname, "cwd") end

  local plan = { close = {}, pipes = {}, handover = {} }
  local ok, fds = pcall(function()
    local f0 = resolve_stdio(opts.stdin, 0, fname, plan)
    local f1 = resolve_stdio(opts.stdout, 1, fname, plan)
    local f2 = resolve_stdio(opts.stderr, 2, fname, plan)
    if f2 == -2 then f2 = f1 >= 0 and f1 or 1 end
    return { f0, f1, f2 }
  end)
  if not ok then
    for _, fd in ipairs(plan.close) do cp.close(fd) end
    for _, fd in pairs(plan.pipes) do cp.close(fd) end
    error(fds, 0)
  end
  local pid, pidfd, what = cp.spawn(args, envlist, cwd, fds[1], fds[2], fds[3], path)
  for _, fd in ipairs(plan.close) do cp.close(fd) end
  if not pid then
    for _, fd in pairs(plan.pipes) do cp.close(fd) end
    for _, s in ipairs(plan.handover) do cp.set_nonblocking(s:fileno(), true) end
    spawn_failed(fname, args, cwd, pidfd, what)
  end
  for _, s in ipairs(plan.handover) do s:close() end
  local p = setmetatable({ pid = pid, args = args, _pidfd = pidfd }, Popen)
  if plan.pipes[0] then p.stdin = pipe_stream(plan.pipes[0]) end
  if plan.pipes[1] then p.stdout = pipe_stream(plan.pipes[1]) end
  if plan.pipes[2] then p.stderr = pipe_stream(plan.pipes[2]) end
  return p
end

--- Popen(argv, [opts]): starts a child. argv: a list {program, args...} or a
--- string (the program; with shell=true the command for /bin/sh -c). opts: stdin,
--- stdout, stderr (PIPE, DEVNULL, STDOUT for stderr, an fd, a stream or socket,
--- another Popen's stdout), cwd, env (replaces the environment), shell.
setmetatable(Popen, { __call = function(_, argv, opts) return new_popen("Popen", argv, opts) end })

local function drop_pidfd(self)
  local fd = self._pidfd
  if fd and fd >= 0 then
    self._pidfd = -1
    close_fd(fd)
  end
end

--- poll(): the returncode if the child has exited (reaping it), else nil.
function Popen:poll()
  if self.returncode ~= nil then return self.returncode end
  local rc, err = cp.wait(self.pid, false)
  if rc == false then return nil end
  if rc == nil then
    if err ~= cp.ECHILD then error(errors.oserror("wait", err), 2) end
    rc = 0 -- reaped by someone else (SIGCHLD ignored): the status is lost
  end
  self.returncode = rc
  drop_pidfd(self)
  if self._waiters then K.wake(self._waiters, math.maxinteger) end
  return rc
end

-- Waits once for the exit (or for another waiter to give up watching).
local function wait_exit(self)
  local fd = self._pidfd
  if fd < 0 then
    -- No pidfd (Linux < 5.3): poll with a growing interval.
    self._nap = math.min((self._nap or 0.0005) * 2, 0.05)
    return time.sleep(self._nap)
  end
  if self._watching then
    -- Another task watches the pidfd: wait to be told.
    self._waiters = self._waiters or K.waitqueue(true)
    return K.wait(self._waiters, K.STATE.PROCESS_WAIT)
  end
  self._watching = true
  local ok, r = trap_nothrow(IO, fd, 0)
  self._watching = false
  if self._waiters then K.wake(self._waiters, math.maxinteger) end -- let one of them take over
  if not ok then error(r, 0) end
  -- r == -EBADF: the pidfd was closed because another task reaped the child.
end

--- wait(): waits for the child to exit; returns its returncode (the exit status,
--- or -N if killed by signal N). Cancelling the wait leaves the child running.
function Popen:wait()
  while true do
    local rc = self:poll()
    if rc then return rc end
    if not K.current() then K.not_in_task(3) end
    wait_exit(self)
  end
end

local function check_signal(sig, fname)
  return check.signal(sig, 1, fname, true)
end

--- send_signal(sig): sends sig (a number or a name like "SIGTERM") unless the
--- child has already been reaped.
function Popen:send_signal(sig)
  sig = check_signal(sig, "send_signal")
  if self.returncode ~= nil then return end
  local ok, err = cp.kill(self.pid, sig)
  if not ok and err ~= cp.ESRCH then error(errors.oserror("kill", err), 2) end
end

function Popen:terminate() return self:send_signal(15) end
function Popen:kill() return self:send_signal(9) end

-- Reads all of stream into parts (so that a cancelled read keeps what it got).
local function drain(stream, parts)
  while true do
    local data = stream:read(65536)
    if not data then return end
    parts[#parts + 1] = data
  end
end

local function feed(stream, input)
  if input and input ~= "" then
    local ok, e = pcall(stream.write, stream, input)
    -- The child closed its stdin early: what it did not read is dropped, as Python.
    if not ok and not (errors.is(e, errors.OSError) and e.code == "EPIPE") then
      stream:close()
      error(e, 0)
    end
  end
  stream:close()
end

--- communicate([input]) -> stdout, stderr: writes input to the child's stdin (then
--- closes it) while reading its stdout and stderr to their ends, then waits for
--- the child. Outputs that are not pipes are nil. Cancelled or timed out part-way,
--- the error carries err.stdout / err.stderr (what was read so far); the child
--- keeps running.
function Popen:communicate(input)
  if input ~= nil and type(input) ~= "string" then argerror(1, "communicate", "string", input) end
  if input and input ~= "" and not (self.stdin and self.stdin._raw) then
    badarg(1, "communicate", self.stdin and "stdin is closed" or "stdin is not a pipe")
  end
  if not K.current() then K.not_in_task(3) end
  local open = function(s) return s and s._raw ~= nil end -- a closed pipe takes no part
  local out = open(self.stdout) and {} or nil
  local err = open(self.stderr) and {} or nil
  local helpers = {}
  local jobs = {}
  if open(self.stdin) then jobs[#jobs + 1] = function() feed(self.stdin, input) end end
  if err then jobs[#jobs + 1] = function() drain(self.stderr, err) end end
  if out then jobs[#jobs + 1] = function() drain(self.stdout, out) end end
  -- All but the last job run in helper tasks; the last runs here.
  for i = 1, #jobs - 1 do
    helpers[i] = task.spawn(jobs[i])
    helpers[i]._quiet = true -- its error is raised here
  end
  local ok, e = pcall(function()
    if #jobs > 0 then jobs[#jobs]() end
    for _, t in ipairs(helpers) do t:join() end
    return self:wait()
  end)
  if not ok then
    for i = #helpers, 1, -1 do helpers[i]:cancel() end
    if errors.is(e, errors.TaskError) and e.cause ~= nil then e = e.cause end
    if type(e) == "table" then
      e.stdout = out and concat(out)
      e.stderr = err and concat(err)
    end
    error(e, 0)
  end
  if self.stdout then self.stdout:close() end
  if self.stderr then self.stderr:close() end
  return out and concat(out), err and concat(err)
end

--- close(): closes the pipes and waits for the child (the `<close>` action).
--- Where it cannot wait (outside a task) it only closes the pipes: the child is
--- reaped by a later wait()/poll(), or by the reaper once the Popen is collected.
function Popen:close()
  for _, k in ipairs { "stdin", "stdout", "stderr" } do
    local s = self[k]
    if s then s:close() end
  end
  if self.returncode ~= nil then return end
  if K.current() and coroutine.isyieldable() then
    self:wait()
  else
    self:poll()
  end
end
Popen.__close = Popen.close

-- Collected while the child may still run: never leave a zombie.
function Popen:__gc()
  if self.returncode == nil and self.pid then
    drop_pidfd(self)
    cp.reap_later(self.pid)
  end
end

function Popen:__tostring()
  return ("curio.Popen(pid=%d, returncode=%s)"):format(self.pid, tostring(self.returncode))
end

-- ---------------------------------------------------------------- run

local function command_string(args)
  return concat(args, " ")
end

local function called_process_error(args, rc, out, err)
  local what
  if rc < 0 then
    what = ("died with signal %d"):format(-rc)
  else
    what = ("returned non-zero exit status %d"):format(rc)
  end
  return errors.CalledProcessError(("Command '%s' %s"):format(command_string(args), what), {
    returncode = rc, cmd = args, output = out, stdout = out, stderr = err })
end

local RUN_OPTS = { input = true, capture_output = true, timeout = true, check = true }

local function run(fname, argv, opts, force_stdout)
  if opts ~= nil and type(opts) ~= "table" then argerror(2, fname, "table", opts) end
  opts = opts or {}
  local popts = {}
  for k, v in pairs(opts) do
    if not RUN_OPTS[k] then popts[k] = v end
  end
  local input, timeout = opts.input, opts.timeout
  if input ~= nil and type(input) ~= "string" then
    badarg(2, fname, ("input: string expected, got %s"):format(type(input)))
  end
  if timeout ~= nil and (type(timeout) ~= "number" or timeout ~= timeout or timeout < 0) then
    badarg(2, fname, ("timeout: non-negative number expected, got %s"):format(
      type(timeout) ~= "number" and type(timeout) or timeout ~= timeout and "nan" or tostring(timeout)))
  end
  for _, k in ipairs { "capture_output", "check" } do
    if opts[k] ~= nil and type(opts[k]) ~= "boolean" then
      badarg(2, fname, ("%s: boolean expected, got %s"):format(k, type(opts[k])))
    end
  end
  if input ~= nil then
    if popts.stdin ~= nil then badarg(2, fname, "stdin and input cannot both be given") end
    popts.stdin = PIPE
  end
  if opts.capture_output then
    if popts.stdout ~= nil or popts.stderr ~= nil then
      badarg(2, fname, "stdout and stderr cannot be given with capture_output")
    end
    popts.stdout, popts.stderr = PIPE, PIPE
  end
  if force_stdout then
    if popts.stdout ~= nil then badarg(2, fname, "stdout is not allowed: it is captured") end
    popts.stdout = PIPE
  end
  if not K.current() then K.not_in_task(3) end
  local p = new_popen(fname, argv, popts)
  local ok, out, err = pcall(time.timeout_after, timeout, p.communicate, p, input)
  if not ok then
    local e = out
    -- run owns the child: on a timeout or any other error it is killed and reaped
    -- before the error is raised.
    kcall(OP_CANCEL_DISABLE, 1)
    p:kill()
    pcall(p.wait, p)
    kcall(OP_CANCEL_DISABLE, -1)
    p:close()
    if timeout ~= nil and errors.is(e, errors.TaskTimeout) then -- our own deadline
      e = errors.TimeoutExpired(("Command '%s' timed out after %g seconds"):format(command_string(p.args), timeout), {
        cmd = p.args, timeout = timeout, output = e.stdout, stdout = e.stdout, stderr = e.stderr })
    end
    error(e, 0)
  end
  p:close()
  local rc = p.returncode
  if opts.check and rc ~= 0 then error(called_process_error(p.args, rc, out, err), 0) end
  return { returncode = rc, stdout = out, stderr = err, args = p.args }
end

--- run(argv, [opts]) -> {returncode=, stdout=, stderr=, args=}. opts: Popen's,
--- plus input (a string for stdin), capture_output, timeout (seconds: the child is
--- killed and reaped, then TimeoutExpired is raised), check (CalledProcessError
--- if the returncode is not 0).
function M.run(argv, opts) return run("run", argv, opts, false) end

--- check_output(argv, [opts]) -> the child's stdout; CalledProcessError if it fails.
function M.check_output(argv, opts)
  if opts ~= nil and type(opts) ~= "table" then argerror(2, "check_output", "table", opts) end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.check = true
  return run("check_output", argv, o, true).stdout
end

--- check_call(argv, [opts]) -> 0, or CalledProcessError.
function M.check_call(argv, opts)
  if opts ~= nil and type(opts) ~= "table" then argerror(2, "check_call", "table", opts) end
  local o = {}
  for k, v in pairs(opts or {}) do o[k] = v end
  o.check = true
  return run("check_call", argv, o, false).returncode
end

M.CalledProcessError = errors.CalledProcessError
M.TimeoutExpired = errors.TimeoutExpired

return M
