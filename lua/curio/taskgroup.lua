-- curio.taskgroup: structured concurrency. `local g <close> = curio.TaskGroup()`;
-- closing the group waits per its policy, then cancels what remains.
local K = require "curio.kernel"
local errors = require "curio.errors"
local task = require "curio.task"

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
    if type(opts) ~= "table" then
      error(("bad argument #1 to 'TaskGroup' (table expected, got %s)"):format(type(opts)), 2)
    end
    wait = opts.wait or "all"
    if not POLICIES[wait] then
      error(("bad wait policy '%s' (expected all, any, object or none)"):format(tostring(wait)), 2)
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

function TaskGroup:add_task(t)
  if not task.is_task(t) then
    error(("bad argument #1 to 'add_task' (Task expected, got %s)"):format(type(t)), 2)
  end
  if self._closed then error(errors.CurioError("task group is closed"), 2) end
  if t[GROUP] then error(errors.CurioError("task already belongs to a group"), 2) end
  if t[DONE] == "joined" then error(errors.CurioError("task was already joined"), 2) end
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
  if self._closed then error(errors.CurioError("task group is closed"), 2) end
  return self:add_task(task.spawn(fn, ...))
end

function TaskGroup:spawn_daemon(fn, ...)
  return self:add_task(task.spawn_daemon(fn, ...))
end

--- The next finished member (in finishing order), or nil when none remain.
function TaskGroup:next_done()
  while self._fhead > self._ftail do
    local alive = self._running > 0
    if not alive then
      for _, d in ipairs(self._daemons) do if not d:done() then alive = true break end end
    end
    if not alive then return nil end
    K.wait(self._next_wq, JOIN_WAIT)
  end
  local t = self._finished[self._fhead]
  self._finished[self._fhead] = nil
  self._fhead = self._fhead + 1
  t[DONE] = "joined"
  return t
end

function TaskGroup:next_result()
  local t = self:next_done()
  if not t then error(errors.CurioError("no tasks remain"), 2) end
  return t:join()
end

function TaskGroup:each_done()
  return function() return self:next_done() end
end

--- Iterates over the (non-daemon) members.
function TaskGroup:tasks()
  local i = 0
  return function()
    i = i + 1
    return self._members[i]
  end
end

--- Cancels every member still running (newest first) and waits for them.
function TaskGroup:cancel_remaining()
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
  local t = self.completed
  if t == nil then error(errors.CurioError("no task completed"), 2) end
  return first(t)
end

function TaskGroup:exception()
  local t = self.completed
  return t and t._error
end

--- The first result of every member, in spawn order; raises the first error met.
function TaskGroup:results()
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
  local out = { n = #self._members }
  for i, t in ipairs(self._members) do out[i] = t._error end
  return out
end

M.TaskGroupClass = TaskGroup
return M
