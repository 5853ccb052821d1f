-- curio.sync: Event, Lock, RLock, Semaphore, BoundedSemaphore, Condition.
-- All are built on kernel wait queues (FIFO lists of suspended tasks). A release
-- hands the lock or permit straight to the first waiter (no barging); a waiter that
-- is cancelled or times out has been taken off the queue by the kernel, so it can
-- never be handed anything.
local K = require "curio.kernel"
local errors = require "curio.errors"
local check = require "curio.check"

local kwait, kwake, waiting, waitqueue = K.wait, K.wake, K.waiting, K.waitqueue
local STATE = K.STATE
local CurioError = errors.CurioError

local M = {}

-- The current task, inline (no helper frames: a task's stack depth at a kernel
-- call decides how large its coroutine's stack must grow).
local kcall, OP_CURRENT = K.kcall, K.K.CURRENT

-- Methods check self as lauxlib does (its metatable). The hot ones (a hand-off is
-- a few hundred instructions, a C call such as getmetatable another ~300) check a
-- field of their own instead: nil, a string or another object is reported as a bad
-- self all the same; a number or boolean self gets Lua's own "attempt to index".
local getmetatable, badself = getmetatable, check.badself

local function class(name)
  local c = { __name = "curio." .. name }
  c.__index = c
  c.__tostring = function(o) return ("%s(%s)"):format(name, o:_describe()) end
  return c
end

-- A guard returned by hold(): releases once when closed (block exit, error too).
local Guard = { __name = "curio.Guard" }
Guard.__index = Guard
function Guard:close()
  if not self.released then
    self.released = true
    self.owner:release()
  end
end
Guard.__close = Guard.close

local function hold(self)
  if type(self) ~= "table" or type(self.acquire) ~= "function" then badself("hold", self) end
  self:acquire()
  return setmetatable({ owner = self, released = false }, Guard)
end

-- ------------------------------------------------------------------ Event

local Event = class("Event")
M.Event = function()
  return setmetatable({ _set = false, _wq = waitqueue(true) }, Event)
end
function Event:_describe() return self._set and "set" or ("unset, waiting=" .. waiting(self._wq)) end
function Event:is_set()
  if self == nil or self._set == nil then badself("is_set", self, "Event") end -- hot: no C call
  return self._set
end
function Event:set()
  if self == nil or self._set == nil then badself("set", self, "Event") end -- hot: no C call
  self._set = true
  kwake(self._wq, math.maxinteger)
end
function Event:clear()
  if self == nil or self._set == nil then badself("clear", self, "Event") end -- hot: no C call
  self._set = false
end
function Event:wait()
  if self == nil or self._set == nil then badself("wait", self, "Event") end -- hot: no C call
  if self._set then return end
  return kwait(self._wq, STATE.EVENT_WAIT) -- the trap raises NotInTask outside a task
end

-- ------------------------------------------------------------------ Lock

local Lock = class("Lock")
M.Lock = function()
  return setmetatable({ _owner = false, _wq = waitqueue() }, Lock)
end
function Lock:_describe() return self._owner and "locked" or "unlocked" end
function Lock:locked()
  if self == nil or self._owner == nil then badself("locked", self, "Lock") end -- hot: no C call
  return self._owner ~= false
end
function Lock:acquire()
  if self == nil or self._owner == nil then badself("acquire", self, "Lock") end -- hot: no C call
  local me = kcall(OP_CURRENT) or K.not_in_task(2)
  if self._owner == false then
    self._owner = me
    return true
  end
  kwait(self._wq, STATE.LOCK_WAIT) -- woken only by a release that hands us the lock
  return true
end
function Lock:release()
  if self == nil or self._owner == nil then badself("release", self, "Lock") end -- hot: no C call
  if self._owner == false then error(CurioError("Lock is not acquired"), 2) end
  local n, next_owner = kwake(self._wq, 1)
  self._owner = n > 0 and next_owner or false
end
Lock.hold = hold

-- ------------------------------------------------------------------ RLock

local RLock = class("RLock")
M.RLock = function()
  return setmetatable({ _owner = false, _count = 0, _wq = waitqueue() }, RLock)
end
function RLock:_describe() return self._owner and ("locked, count=" .. self._count) or "unlocked" end
function RLock:locked()
  if getmetatable(self) ~= RLock then badself("locked", self, "RLock") end
  return self._owner ~= false
end
function RLock:acquire()
  if self == nil or self._count == nil then badself("acquire", self, "RLock") end -- hot: no C call
  local me = kcall(OP_CURRENT) or K.not_in_task(2)
  if self._owner == false then
    self._owner, self._count = me, 1
  elseif self._owner == me then
    self._count = self._count + 1
  else
    kwait(self._wq, STATE.LOCK_WAIT)
  end
  return true
end
function RLock:release()
  if self == nil or self._count == nil then badself("release", self, "RLock") end -- hot: no C call
  local me = K.current()
  if self._owner == false or self._owner ~= me then
    error(CurioError("RLock can only be released by the task that holds it"), 2)
  end
  self._count = self._count - 1
  if self._count > 0 then return end
  local n, next_owner = kwake(self._wq, 1)
  if n > 0 then
    self._owner, self._count = next_owner, 1
  else
    self._owner = false
  end
end
RLock.hold = hold

-- ------------------------------------------------------------------ Semaphores

local Semaphore = class("Semaphore")
local BoundedSemaphore = class("BoundedSemaphore")
local function new_semaphore(cls, n, name)
  n = check.optint(n, 1, name, 1, 0)
  return setmetatable({ _value = n, _bound = n, _wq = waitqueue() }, cls)
end
M.Semaphore = function(n) return new_semaphore(Semaphore, n, "Semaphore") end
function Semaphore:_describe() return ("value=%d, waiting=%d"):format(self._value, waiting(self._wq)) end
function Semaphore:value()
  local mt = getmetatable(self)
  if mt ~= Semaphore and mt ~= BoundedSemaphore then badself("value", self, "Semaphore") end
  return self._value
end
function Semaphore:locked()
  local mt = getmetatable(self)
  if mt ~= Semaphore and mt ~= BoundedSemaphore then badself("locked", self, "Semaphore") end
  return self._value == 0
end
function Semaphore:acquire()
  if self == nil or self._value == nil then badself("acquire", self, "Semaphore") end -- hot: no C call
  if self._value > 0 then
    if not kcall(OP_CURRENT) then K.not_in_task(2) end
    self._value = self._value - 1
    return true
  end
  kwait(self._wq, STATE.LOCK_WAIT) -- the releaser handed us its permit
  return true
end
function Semaphore:release()
  if self == nil or self._value == nil then badself("release", self, "Semaphore") end -- hot: no C call
  if kwake(self._wq, 1) == 0 then
    self._value = self._value + 1
  end
end
Semaphore.hold = hold

for k, v in pairs(Semaphore) do if BoundedSemaphore[k] == nil then BoundedSemaphore[k] = v end end
BoundedSemaphore.__index = BoundedSemaphore
M.BoundedSemaphore = function(n) return new_semaphore(BoundedSemaphore, n, "BoundedSemaphore") end
function BoundedSemaphore:release()
  if getmetatable(self) ~= BoundedSemaphore then badself("release", self, "BoundedSemaphore") end
  if waiting(self._wq) == 0 and self._value >= self._bound then
    error(CurioError("BoundedSemaphore released too many times"), 2)
  end
  Semaphore.release(self)
end

-- ------------------------------------------------------------------ Condition

local Condition = class("Condition")
M.Condition = function(lock)
  if lock == nil then
    lock = M.Lock()
  elseif getmetatable(lock) ~= Lock and getmetatable(lock) ~= RLock then
    check.argerror(1, "Condition", "Lock or RLock", lock)
  end
  return setmetatable({ _lock = lock, _wq = waitqueue() }, Condition)
end
function Condition:_describe() return ("%s, waiting=%d"):format(self._lock:_describe(), waiting(self._wq)) end
function Condition:locked()
  if getmetatable(self) ~= Condition then badself("locked", self, "Condition") end
  return self._lock:locked()
end
function Condition:acquire()
  if getmetatable(self) ~= Condition then badself("acquire", self, "Condition") end
  return self._lock:acquire()
end
function Condition:release()
  if getmetatable(self) ~= Condition then badself("release", self, "Condition") end
  return self._lock:release()
end
Condition.hold = hold

local function check_held(self, what)
  local me = K.current()
  if me == nil then K.not_in_task(4) end
  if self._lock._owner ~= me then
    error(CurioError(("Condition:%s() called without holding its lock"):format(what)), 3)
  end
end

local disable_cancellation = nil
--- Releases the lock, waits to be notified, and re-acquires the lock before
--- returning — also before a cancellation or timeout propagates.
function Condition:wait()
  if getmetatable(self) ~= Condition then badself("wait", self, "Condition") end
  check_held(self, "wait")
  local lock = self._lock
  local count = lock._count
  if count then lock._count = 1 end
  lock:release()
  local ok, err = K.wait_nothrow(self._wq, STATE.EVENT_WAIT)
  disable_cancellation = disable_cancellation or require("curio.time").disable_cancellation
  disable_cancellation(lock.acquire, lock)
  if count then lock._count = count end
  if not ok then error(err, 0) end
end

function Condition:wait_for(predicate)
  if getmetatable(self) ~= Condition then badself("wait_for", self, "Condition") end
  check.callable(predicate, 1, "wait_for")
  while true do
    local r = predicate()
    if r then return r end
    self:wait()
  end
end

function Condition:notify(n)
  if getmetatable(self) ~= Condition then badself("notify", self, "Condition") end
  n = check.optint(n, 1, "notify", 1, 0)
  check_held(self, "notify")
  kwake(self._wq, n)
end

function Condition:notify_all()
  if getmetatable(self) ~= Condition then badself("notify_all", self, "Condition") end
  check_held(self, "notify_all")
  kwake(self._wq, math.maxinteger)
end

M.classes = { Event = Event, Lock = Lock, RLock = RLock, Semaphore = Semaphore,
  BoundedSemaphore = BoundedSemaphore, Condition = Condition }
return M
