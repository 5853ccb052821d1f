-- curio.task: Task objects, spawn, join, cancel. A task is a coroutine running
-- task_main, which runs the body inside xpcall so that __close handlers run (and
-- may block) while an error unwinds, then records the outcome for join().
local core = require "curio.core"
local K = require "curio.kernel"
local errors = require "curio.errors"
local check = require "curio.check"

local kcall, trap = K.kcall, K.trap
local pack, unpack = table.pack, table.unpack
local is = errors.is
local JOIN = K.T.JOIN
local OP_CANCEL, OP_TASK_INFO = K.K.CANCEL, K.K.TASK_INFO

local M = {}
local Task = {}
M.Task = Task

-- A Task's own state lives in the array part of its table, set by core.spawn (C):
-- eight array slots cost a third of the memory and a tenth of the time of eight
-- hash fields. Its public attributes (id, parent_id, daemon...) are read through
-- __index. Other curio modules use these slot numbers too.
-- The coroutine slot holds the number of arguments (after the Task's slots) until
-- the task first runs, then its coroutine, and its cycle count once it ended.
local CO, FN, ID, PARENT, DAEMON, DONE, RESULTS, GROUP = 1, 2, 3, 4, 5, 6, 7, 8
M.SLOT = { CO = CO, FN = FN, ID = ID, PARENT = PARENT, DAEMON = DAEMON, DONE = DONE,
  RESULTS = RESULTS, GROUP = GROUP }
local ATTRIBUTE = { id = ID, parent_id = PARENT, daemon = DAEMON }

-- Names are derived lazily (spawning must stay cheap): "<function>@<file>:<line>",
-- the function's name read from the line that defines it.
local source_lines = setmetatable({}, { __mode = "k" })
local function function_name(fn)
  local info = debug.getinfo(fn, "S")
  if not info then return "task" end
  local where = ("%s:%d"):format(info.short_src, info.linedefined)
  local name
  if info.source:sub(1, 1) == "@" and info.linedefined > 0 then
    local path = info.source:sub(2)
    local lines = source_lines[path]
    if lines == nil then
      lines = {}
      local f = io.open(path, "r")
      if f then
        for l in f:lines() do lines[#lines + 1] = l end
        f:close()
      end
      source_lines[path] = lines
    end
    local l = lines[info.linedefined]
    if l then
      name = l:match("function%s+([%w_%.:]+)%s*%(") or l:match("([%w_%.]+)%s*=%s*function%s*%(")
      if name then name = name:match("([%w_]+)$") end
    end
  elseif info.what == "C" then
    return "task"
  end
  return (name or "task") .. "@" .. where
end

Task.__name = "curio.Task"
function Task.__index(t, k)
  local m = Task[k]
  if m ~= nil then return m end
  local slot = ATTRIBUTE[k]
  if slot then return t[slot] end
  if k == "name" then
    local n = function_name(rawget(t, "_fn_for_name") or t[FN])
    rawset(t, "name", n)
    return n
  elseif k == "state" then
    if t[DONE] then return "TERMINATED" end
    local s = kcall(OP_TASK_INFO, t[ID])
    return s and K.STATES[s] or "TERMINATED"
  elseif k == "cycles" then
    local _, c = kcall(OP_TASK_INFO, t[ID])
    if c then return c end
    c = t[CO] -- an ended task's coroutine slot keeps its cycle count
    return t[DONE] and math.type(c) == "integer" and c or 0
  elseif k == "timeout" then
    local _, _, d = kcall(OP_TASK_INFO, t[ID])
    return d
  end
end

function Task.__newindex(t, k, v)
  if ATTRIBUTE[k] or k == "state" or k == "cycles" or k == "timeout" then
    error(("task.%s is read-only"):format(k), 2)
  end
  rawset(t, k, v)
end

function Task.__tostring(t)
  return ("Task(id=%d, name=%s, state=%s)"):format(t[ID], t.name, t.state)
end

-- The message handler: keeps error objects (adding a traceback) and wraps other
-- values so the traceback travels with them.
local Wrapped = {}
local function msgh(e)
  local mt = type(e) == "table" and getmetatable(e)
  if mt == Wrapped then return e end -- already carries its traceback
  if mt and rawget(mt, "kind") then
    -- A cancellation is control flow, never reported: skip the (costly) traceback.
    if rawget(e, "traceback") == nil and not is(e, errors.CancelledError) then
      rawset(e, "traceback", debug.traceback("", 2))
    end
    return e
  end
  return setmetatable({ value = e, traceback = debug.traceback(tostring(e), 2) }, Wrapped)
end
M.msgh = msgh

local function unwrap(e)
  if type(e) ~= "table" then return e end -- e.g. "not enough memory": no handler ran
  if getmetatable(e) == Wrapped then return e.value, e.traceback end
  return e, rawget(e, "traceback")
end
M.unwrap = unwrap

--- The "stack traceback:" part of tb, without the frames of curio's own task runner.
function M.user_traceback(tb)
  local trace = tb and tb:match("stack traceback:.*$")
  if not trace then return nil end
  local out = {}
  for line in trace:gmatch("[^\n]+") do
    -- stop at curio's own frames: the task body at the base of every task
    if line:find("[C]: in function 'curio.core.task_body'", 1, true)
        or line:find("[C]: in function 'xpcall'", 1, true) or line:find("[curio]/curio/cli.lua", 1, true) then
      break
    end
    if not line:find("(...tail calls...)", 1, true) then out[#out + 1] = line end
  end
  return table.concat(out, "\n")
end

local function report_crash(t, e, tb)
  local trace = M.user_traceback(tb)
  -- curio.diagnostics decides (logcrash) and routes it (stderr or the host's logger).
  require("curio.diagnostics").crash(("Task Crash: %s (id %d)\n%s\n%s"):format(t.name, t[ID],
    tostring(e), trace and trace .. "\n" or ""))
end

local NO_RESULTS = { n = 0 } -- shared by every task that returns nothing

-- How a task ended, when core.task_body does not record it itself (it does for a
-- task that returned and belongs to no group: the same two slots as below).
local function finish(t, ok, ...)
  if ok then
    t[RESULTS] = select("#", ...) == 0 and NO_RESULTS or pack(...)
  else
    local e, tb = unwrap((...))
    -- Any raised value is an error, nil and false too: they are recorded as the
    -- lua standalone prints them, so that "no error" always means success.
    if e == nil or e == false then e = ("(error object is a %s value)"):format(type(e)) end
    t._error, t._traceback = e, tb
    if not is(e, errors.CancelledError) and not t._quiet then report_crash(t, e, tb) end
  end
  t[DONE] = true
  local g = t[GROUP]
  if g then g:_task_done(t) end
end

-- Spawning is C (curio.core): it makes the Task table; the task's coroutine, made
-- when it first runs, runs core.task_body(task, msgh, fn, ...): fn under msgh like
-- xpcall, then the outcome is recorded (by finish when C does not). No Lua frame of
-- ours below the body keeps the coroutine's stack at its initial size.
core.set_task_class(Task, msgh, finish, NO_RESULTS)

--- spawn(fn, ...) -> Task: schedules fn(...) as a new task; never suspends.
M.spawn = core.spawn
M.spawn_daemon = core.spawn_daemon
--- The main task of a new kernel run (no current task needed).
M.spawn_main = core.spawn_main

function M.current_task()
  local t = K.current()
  if not t then K.not_in_task(2) end
  return t
end

local function check_task(t, method)
  if getmetatable(t) ~= Task then check.badself(method, t, "Task") end
end

--- Waits for the task to terminate, without raising its error.
function Task:wait()
  check_task(self, "wait")
  if self[DONE] then return end
  if trap(JOIN, self[ID]) == -1 then error(errors.CurioError("a task cannot wait for itself"), 2) end
end

local function task_error(t)
  local e = t._error
  return errors.TaskError("task crashed: " .. tostring(e), { cause = e, task = t })
end

local function outcome(t)
  local r = t[RESULTS]
  if r then return unpack(r, 1, r.n) end
  if t._error ~= nil then error(task_error(t), 0) end
  error(errors.TaskError("task died without a result (its error could not be recorded: see stderr)", { task = t }), 0)
end

--- Waits for the task and returns its results, or raises TaskError (err.cause is the
--- task's error).
function Task:join()
  if type(self) ~= "table" or self[CO] == nil then check_task(self, "join") end -- a Task has this slot
  if not self[DONE] and trap(JOIN, self[ID]) == -1 then
    error(errors.CurioError("a task cannot join itself"), 2)
  end
  self[DONE] = "joined"
  local g = self[GROUP]
  if g then g:_discard(self) end -- joined by its owner: it leaves the group (curio)
  if self[RESULTS] == NO_RESULTS then return end -- most tasks return nothing
  return outcome(self)
end

--- cancel([blocking=true]) or cancel{blocking=, error=}: returns true if this call
--- caused the cancellation.
function Task:cancel(opts)
  check_task(self, "cancel")
  local blocking, err = true, nil
  if errors.is_class(opts) or errors.is_error(opts) then
    err = opts -- cancel(ErrorClass) or cancel(error object)
  elseif type(opts) == "table" and getmetatable(opts) == nil then
    blocking = opts.blocking ~= false
    err = opts.error
    if err ~= nil and not (errors.is_class(err) or errors.is_error(err)) then
      check.badarg(1, "cancel", "field 'error': error class or error object expected, got "
        .. check.typename(err))
    end
  elseif type(opts) == "boolean" then
    blocking = opts
  elseif opts ~= nil then
    check.argerror(1, "cancel", "boolean, error class, error object or table of options", opts)
  end
  if self[DONE] then return false end
  local cur = K.current()
  if not cur then K.not_in_task(2) end
  if self == cur and blocking then
    error(errors.CurioError("a task cannot cancel itself with blocking=true"), 2)
  end
  local caused = kcall(OP_CANCEL, self[ID], 0)
  if caused then
    self._cancelled = true
    if err ~= nil then
      if errors.is_class(err) then err = err("task cancelled") end
      self._cancel_error = err
    else
      self._cancel_error = errors.TaskCancelled("task cancelled")
    end
  end
  if blocking and self ~= cur then self:wait() end
  return caused
end

function Task:done()
  if getmetatable(self) ~= Task then check_task(self, "done") end
  return self[DONE] ~= false
end
function Task:cancelled()
  if getmetatable(self) ~= Task then check_task(self, "cancelled") end
  return self._cancelled == true
end

function Task:result()
  check_task(self, "result")
  if not self[DONE] then error(errors.CurioError("task not done"), 2) end
  return outcome(self)
end

function Task:exception()
  check_task(self, "exception")
  return self._error
end

-- Frames of curio's own code, and C functions, above the user's blocking call.
local function internal_frame(line)
  return line:find("^%s*%[C%]") or line:find("[curio]/", 1, true)
end

--- Where the task is suspended: "stack traceback:" and the task's frames, the
--- first being the user's line that made the blocking call (frames of curio's own
--- code above it are left out, unless no frame of the user's is left: a tail call
--- drops its caller's). "" once it has terminated, or before it first ran.
function Task:traceback()
  check_task(self, "traceback")
  if self[DONE] then return "" end
  local co = self[CO]
  if type(co) ~= "thread" then return "" end
  local frames, first = {}, nil
  for line in debug.traceback(co):gmatch("[^\n]+") do
    if line:find("[C]: in function 'curio.core.task_body'", 1, true)
        or line:find("[C]: in function 'xpcall'", 1, true) or line:find("[curio]/curio/cli.lua", 1, true) then
      break -- the task runner's own frames, at the base of every task
    end
    if line ~= "stack traceback:" and not line:find("(...tail calls...)", 1, true) then
      frames[#frames + 1] = line
      if not first and not internal_frame(line) then first = #frames end
    end
  end
  return "stack traceback:\n" .. table.concat(frames, "\n", first or 1)
end

local OP_TASK_IDS, OP_TASK_GET = K.K.TASK_IDS, K.K.TASK_GET
--- tasks() -> iterator over the live tasks of the running kernel (those alive when
--- it is called and still alive when reached), in id order. Outside a kernel it
--- yields nothing.
function M.tasks()
  local ids = pack(kcall(OP_TASK_IDS))
  local i = 0
  return function()
    while i < ids.n do
      i = i + 1
      local t = kcall(OP_TASK_GET, ids[i])
      if t then return t end
    end
  end
end

M.is_task = function(v) return getmetatable(v) == Task end
return M
