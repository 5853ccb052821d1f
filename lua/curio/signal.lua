-- curio.signal: Unix signals as curio objects. SignalQueue(sig, ...) queues
-- deliveries (a count per signal: none is lost while it is open); SignalEvent(sig,
-- ...) is an event set by a delivery. Both are built on the kernel's
-- async-signal-safe handler (Sources/CSys), which wakes the kernel through its
-- inbox; the kernel keeps a running total per signal and wakes the tasks waiting
-- (Sources/CurioLua/LuaRuntime+Signals.swift). See docs/subprocess.md.
local cp = require "curio.cprocess"
local K = require "curio.kernel"
local errors = require "curio.errors"

local check = require "curio.check"
local badarg, argerror = check.badarg, check.argerror
local kcall = K.kcall
local math_type, pairs, ipairs, setmetatable = math.type, pairs, ipairs, setmetatable

-- Kernel calls (Sources/CurioLua/LuaRuntime+Signals.swift).
local OP_WATCH, OP_UNWATCH, OP_TOTAL, OP_EPOCH = K.K.SIG_WATCH, K.K.SIG_UNWATCH, K.K.SIG_TOTAL, K.K.SIG_EPOCH
local EVENT_WAIT = K.STATE.EVENT_WAIT

local M = {}
local NAMES = {}
for name, n in pairs(cp.signals) do
  M[name] = n
  NAMES[n] = name
end
M.SIGRTMIN, M.SIGRTMAX = cp.SIGRTMIN, cp.SIGRTMAX

--- The name of signal number n ("SIGTERM"), or nil.
function M.name(n)
  if NAMES[n] then return NAMES[n] end
  if math_type(n) == "integer" and n >= M.SIGRTMIN and n <= M.SIGRTMAX then
    return ("SIGRTMIN+%d"):format(n - M.SIGRTMIN)
  end
  return nil
end

--- kill(pid, sig): sends sig to process pid (OSError on failure).
function M.kill(pid, sig)
  if math_type(pid) ~= "integer" then argerror(1, "kill", "integer", pid) end
  if pid < -0x7fffffff or pid > 0x7fffffff then badarg(1, "kill", "pid out of range") end
  sig = check.signal(sig, 2, "kill", true)
  local ok, err = cp.kill(pid, sig)
  if not ok then error(errors.oserror(("kill %d"):format(pid), err), 2) end
end

--- raise_signal(sig): sends sig to this process.
function M.raise_signal(sig)
  sig = check.signal(sig, 1, "raise_signal", true)
  local ok, err = cp.kill(cp.getpid(), sig)
  if not ok then error(errors.oserror("raise_signal", err), 2) end
end

--- getpid(): this process's id.
M.getpid = cp.getpid

-- ---------------------------------------------------------------- watchers

-- One barrier wait queue per run (kernel epoch), woken on every delivery.
local run_state = { epoch = nil, q = nil }
local function wait_queue(epoch)
  if run_state.epoch ~= epoch then run_state.epoch, run_state.q = epoch, K.waitqueue(true) end
  return run_state.q
end

-- Opens a watcher over the signals in ...; fields: _sigs, _seen[sig], _epoch.
local function open(self, fname, ...)
  local n = select("#", ...)
  if n == 0 then badarg(1, fname, "at least one signal expected") end
  local sigs, seen = {}, {}
  for i = 1, n do
    local s = check.signal((select(i, ...)), i, fname, false)
    if not seen[s] then sigs[#sigs + 1] = s; seen[s] = true end
  end
  if not kcall(K.K.RUNNING) then
    error(errors.NotInTask(fname .. " must be created inside a curio task"), 3)
  end
  local epoch = kcall(OP_EPOCH)
  local q = wait_queue(epoch)
  self._sigs, self._seen, self._epoch, self._q = sigs, {}, epoch, q
  for i, s in ipairs(sigs) do
    local ok, total = pcall(kcall, OP_WATCH, s, q[1])
    if not ok then
      for j = 1, i - 1 do kcall(OP_UNWATCH, sigs[j], epoch) end
      error(errors.OSError(("%s: cannot watch %s: %s"):format(fname, NAMES[s] or s, tostring(total))), 3)
    end
    self._seen[s] = total
  end
  return setmetatable(self, self._class)
end

local function is_open(self)
  return self._sigs ~= nil and self._epoch == kcall(OP_EPOCH)
end

local function closed_error(self, what)
  error(errors.CurioError(("%s: the %s is closed"):format(what, self._class.__name:match("[%w]+$"))), 3)
end

-- The first signal (round robin from the last one taken) with a delivery not yet
-- consumed, consuming it; or nil.
local function take(self)
  local sigs, seen = self._sigs, self._seen
  local n = #sigs
  local start = self._next or 1
  for k = 0, n - 1 do
    local i = (start - 1 + k) % n + 1
    local s = sigs[i]
    if kcall(OP_TOTAL, s) > seen[s] then
      seen[s] = seen[s] + 1
      self._next = i % n + 1
      return s
    end
  end
  return nil
end

local function close(self)
  local sigs = self._sigs
  if sigs == nil then return end
  self._sigs = nil
  if self._epoch == kcall(OP_EPOCH) then
    for _, s in ipairs(sigs) do kcall(OP_UNWATCH, s, self._epoch) end
    K.wake(self._q, math.maxinteger) -- tasks waiting on this object see it closed
  end
end

-- Closing from __gc: the kernel may be gone (kernel calls then fail).
local function gc(self) pcall(close, self) end

-- ---------------------------------------------------------------- SignalQueue

local SignalQueue = { __name = "curio.SignalQueue" }
SignalQueue.__index = SignalQueue
SignalQueue._class = SignalQueue
M.SignalQueue = SignalQueue
setmetatable(SignalQueue, {
  __call = function(_, ...) return open({ _class = SignalQueue }, "SignalQueue", ...) end,
})

--- get(): the next signal number delivered (waits if none is pending).
function SignalQueue:get()
  while true do
    if not is_open(self) then closed_error(self, "get") end
    local s = take(self)
    if s then return s end
    K.wait(self._q, EVENT_WAIT)
  end
end

--- get_nowait() -> the next pending signal number, or nil.
function SignalQueue:get_nowait()
  if not is_open(self) then closed_error(self, "get_nowait") end
  return take(self)
end

--- qsize(): deliveries pending.
function SignalQueue:qsize()
  if not is_open(self) then return 0 end
  local n = 0
  for _, s in ipairs(self._sigs) do n = n + kcall(OP_TOTAL, s) - self._seen[s] end
  return n
end

function SignalQueue:signals() return { table.unpack(self._sigs or {}) } end

SignalQueue.close = close
SignalQueue.__close = close
SignalQueue.__gc = gc

-- ---------------------------------------------------------------- SignalEvent

local SignalEvent = { __name = "curio.SignalEvent" }
SignalEvent.__index = SignalEvent
SignalEvent._class = SignalEvent
M.SignalEvent = SignalEvent
setmetatable(SignalEvent, {
  __call = function(_, ...) return open({ _class = SignalEvent, _set = false }, "SignalEvent", ...) end,
})

-- Takes every delivery so far: any sets the event.
local function update(self)
  if not is_open(self) then return end
  for _, s in ipairs(self._sigs) do
    local total = kcall(OP_TOTAL, s)
    if total > self._seen[s] then
      self._seen[s] = total
      self._set = true
    end
  end
end

--- is_set(): whether a watched signal arrived since the last clear().
function SignalEvent:is_set()
  update(self)
  return self._set
end

--- clear(): forgets the deliveries so far.
function SignalEvent:clear()
  update(self)
  self._set = false
end

--- set(): sets the event by hand (as curio's SignalEvent, an Event).
function SignalEvent:set()
  self._set = true
  if is_open(self) then K.wake(self._q, math.maxinteger) end
end

--- wait(): returns once a watched signal has arrived (at once if the event is set).
function SignalEvent:wait()
  while true do
    update(self)
    if self._set then return end
    if not is_open(self) then closed_error(self, "wait") end
    K.wait(self._q, EVENT_WAIT)
  end
end

SignalEvent.close = close
SignalEvent.__close = close
SignalEvent.__gc = gc

return M
