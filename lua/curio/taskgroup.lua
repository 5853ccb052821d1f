-- curio.taskgroup: structured concurrency. `local g <close> = curio.TaskGroup()`;
-- closing the group waits per its policy, then cancels what remains.
local K = require "curio.kernel"
local errors = require "curio.errors"
local task = require "curio.task"
local check = require "curio.check"

local is = errors.is
local S = task.SLOT
local ID, DAEMON, DONE, RESULTS, GROUP = S.ID, S.DAEMON, S.DONE, S.RESULTS, S.GROUP
local JOIN_WAIT = K.STATE.JOIN_WAIT
local waiting = K.waiting

local TaskGroup = {}
TaskGroup.__index = TaskGroup
TaskGroup.__name = "curio.TaskGroup"

local POLICIES = { all = true, any = true, object = true, none = true }

local M = {}

function M.TaskGroup(opts)
  local wait = "all"
  if opts ~= nil then
    check.table(opts, 1, "TaskGroup")
    wait = opts.wait or "all"
    if not POLICIES[wait] then
      check.badarg(1, "TaskGroup", ("field 'wait': 'all', 'any', 'object' or 'none' expected, got %s"):format(
        type(wait) == "string" and ("'" .. wait .. "'") or check.typename(wait)))
    end
  end
  return setmetatable({
    _wait = wait,
    _members = {},     -- non-daemon tasks, in the order they were added
    _daemons = {},
    _running = 0,      -- non-daemon members not finished
    _finished = {},    -- finished tasks not yet returned by next_done: [_fhead, _ftail]
    _fhead = 1,
    _ftail = 0,
    _next_wq = K.waitqueue(true), -- next_done() waiters: woken by every finish
    _join_wq = K.waitqueue(true), -- join() waiters: woken once the policy is met
    _closed = false,
    completed = nil,
  }, TaskGroup)
end

local function failed(t)
  local e = rawget(t, "_error") -- most tasks have none: skip Task.__index
  return e ~= nil and not is(e, errors.CancelledError)
end

-- Whether join() may stop waiting: the policy's task completed (a failure for
-- "all"), or no non-daemon member is left running.
local function satisfied(self)
  return self.completed ~= nil or self._running == 0
end

-- Called from the member task itself as it finishes.
function TaskGroup:_task_done(t)
  if not t[DAEMON] then self._running = self._running - 1 end
  self._ftail = self._ftail + 1
  self._finished[self._ftail] = t
  if self.completed == nil then
    local w = self._wait
    if w == "any" and not t[DAEMON] then
      self.completed = t
    elseif w == "object" and not t[DAEMON] and rawget(t, "_error") == nil and t[RESULTS] and t[RESULTS][1] ~= nil then
      self.completed = t
    elseif w == "all" and failed(t) then
      self.completed = t
    end
  end
  if waiting(self._next_wq) > 0 then K.wake(self._next_wq, math.maxinteger) end
  if satisfied(self) and waiting(self._join_wq) > 0 then K.wake(self._join_wq, math.maxinteger) end
end

local function check_group(g, method)
  if getmetatable(g) ~= TaskGroup then check.badself(method, g, "TaskGroup") end
end

--- Adds a task (running or finished, even joined, as curio) to the group.
function TaskGroup:add_task(t)
  check_group(self, "add_task")
  if not task.is_task(t) then check.argerror(1, "add_task", "Task", t) end
  if self._closed then error(errors.CurioError("task group is closed"), 2) end
  if t[GROUP] then error(errors.CurioError("task already belongs to a group"), 2) end
  t[GROUP] = self
  if t[DAEMON] then
    self._daemons[#self._daemons + 1] = t
  else
    self._members[#self._members + 1] = t
    self._running = self._running + 1
  end
  if t:done() then
    self:_task_done(t)
  end
  return t
end

function TaskGroup:spawn(fn, ...)
  check_group(self, "spawn")
  check.callable(fn, 1, "spawn")
  if self._closed then error(errors.CurioError("task group is closed"), 2) end
  return self:add_task(task.spawn(fn, ...))
end

function TaskGroup:spawn_daemon(fn, ...)
  check_group(self, "spawn_daemon")
  check.callable(fn, 1, "spawn_daemon")
  if self._closed then error(errors.CurioError("task group is closed"), 2) end
  return self:add_task(task.spawn_daemon(fn, ...))
end

local function remove(list, t)
  for i = #list, 1, -1 do
    if list[i] == t then table.remove(list, i) return true end
  end
  return false
end

-- A finished member taken out by its owner (task:join(), next_done): as curio, it
-- leaves the group's results and no longer decides its policy.
function TaskGroup:_discard(t)
  if t[GROUP] ~= self then return end
  t[GROUP] = nil
  if not remove(self._members, t) then remove(self._daemons, t) end
  local f = self._finished
  for i = self._fhead, self._ftail do
    if f[i] == t then -- shift the later ones down (the window may start past 1)
      for j = i, self._ftail - 1 do f[j] = f[j + 1] end
      f[self._ftail] = nil
      self._ftail = self._ftail - 1
      break
    end
  end
  if self.completed == t then
    self.completed = nil
    -- Another finished member may satisfy the policy in its place.
    for i = self._fhead, self._ftail do
      local o = self._finished[i]
      local w = self._wait
      if not o[DAEMON] and (w == "any" or (w == "all" and failed(o))
          or (w == "object" and rawget(o, "_error") == nil and o[RESULTS] and o[RESULTS][1] ~= nil)) then
        self.completed = o
        break
      end
    end
  end
end

--- The next finished member (in finishing order), or nil when none remain.
function TaskGroup:next_done()
  check_group(self, "next_done")
  while self._fhead > self._ftail do
    local alive = self._running > 0
    if not alive then
      for _, d in ipairs(self._daemons) do if not d:done() then alive = true break end end
    end
    if not alive then return nil end
    K.wait(self._next_wq, JOIN_WAIT)
  end
  local t = self._finished[self._fhead]
  self:_discard(t) -- taken out: it leaves the finished list and the group
  t[DONE] = "joined"
  return t
end

function TaskGroup:next_result()
  check_group(self, "next_result")
  local t = self:next_done()
  if not t then error(errors.CurioError("no tasks remain"), 2) end
  return t:join()
end

function TaskGroup:each_done()
  check_group(self, "each_done")
  return function() return self:next_done() end
end

--- Iterates over the (non-daemon) members.
function TaskGroup:tasks()
  check_group(self, "tasks")
  local i = 0
  return function()
    i = i + 1
    return self._members[i]
  end
end

--- Cancels every member still running (newest first) and waits for them.
function TaskGroup:cancel_remaining()
  check_group(self, "cancel_remaining")
  local live = {}
  for _, list in ipairs { self._members, self._daemons } do
    for _, t in ipairs(list) do
      if t[DONE] == false then live[#live + 1] = t end
    end
  end
  if #live == 0 then return end
  table.sort(live, function(a, b) return a[ID] > b[ID] end)
  for _, t in ipairs(live) do t:cancel(false) end
  for _, t in ipairs(live) do t:wait() end
end

--- Waits according to the policy, then cancels whatever remains.
function TaskGroup:join()
  check_group(self, "join")
  if self._wait ~= "none" then
    while not satisfied(self) do
      K.wait(self._join_wq, JOIN_WAIT)
    end
  end
  self._closed = true
  self:cancel_remaining()
  for _, t in ipairs(self._members) do t[DONE] = "joined" end
end

function TaskGroup:close(err)
  check_group(self, "close")
  if self._closed then return end
  if err ~= nil then
    self._closed = true
    self:cancel_remaining()
  else
    local ok, e = pcall(self.join, self)
    if not ok then
      -- Interrupted while waiting (e.g. the owner was cancelled): never leave
      -- members behind.
      self._closed = true
      self:cancel_remaining()
      error(e, 0)
    end
  end
end
TaskGroup.__close = TaskGroup.close

local function first(t)
  if t._error ~= nil then
    error(errors.TaskError("task crashed: " .. tostring(t._error), { cause = t._error, task = t }), 0)
  end
  return table.unpack(t[RESULTS], 1, t[RESULTS].n)
end

--- Results of the task that satisfied the policy.
function TaskGroup:result()
  check_group(self, "result")
  local t = self.completed
  if t == nil then error(errors.CurioError("no task completed"), 2) end
  return first(t)
end

function TaskGroup:exception()
  check_group(self, "exception")
  local t = self.completed
  return t and t._error
end

--- The first result of every member, in spawn order; raises the first error met.
local function check_joined(g, method)
  check_group(g, method)
  if not g._closed then
    error(errors.CurioError(method .. ": the task group has not been joined yet"), 3)
  end
end

function TaskGroup:results()
  check_joined(self, "results")
  local out = {}
  for i, t in ipairs(self._members) do
    if not t:done() then error(errors.CurioError("task group has unfinished tasks"), 2) end
    out[i] = (first(t))
  end
  return out
end

--- Every member's error (nil for those that succeeded), in spawn order; `n` is
--- the number of members.
function TaskGroup:exceptions()
  check_joined(self, "exceptions")
  local out = { n = #self._members }
  for i, t in ipairs(self._members) do out[i] = t._error end
  return out
end

M.TaskGroupClass = TaskGroup
return M
