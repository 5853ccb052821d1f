-- curio.queue: Queue (FIFO), PriorityQueue (smallest first, ties FIFO), LifoQueue.
-- One implementation over three storages. Items are handed straight to waiting
-- getters, and waiting putters' items straight into the queue, in FIFO order: a
-- task woken by the kernel was never cancelled at that wait, and a cancelled one was
-- taken off the wait queue, so no item is ever lost or delivered twice.
local K = require "curio.kernel"
local errors = require "curio.errors"
local check = require "curio.check"

local kwait, kwake, waiting, waitqueue = K.wait, K.wake, K.waiting, K.waitqueue
local QUEUE_WAIT = K.STATE.QUEUE_WAIT
local M = {}

-- Storages: push(s, item), pop(s) -> item, s.n = count.
local fifo = {
  new = function() return { n = 0, head = 1 } end,
  push = function(s, v) s[s.head + s.n] = v; s.n = s.n + 1 end,
  pop = function(s)
    local h = s.head
    local v = s[h]
    s[h] = nil
    s.head, s.n = h + 1, s.n - 1
    if s.n == 0 then s.head = 1 end
    return v
  end,
}

local lifo = {
  new = function() return { n = 0 } end,
  push = function(s, v) s.n = s.n + 1; s[s.n] = v end,
  pop = function(s)
    local v = s[s.n]
    s[s.n] = nil
    s.n = s.n - 1
    return v
  end,
}

-- A binary heap of {item, seq}; seq breaks ties so equal items leave FIFO.
local function before(a, b)
  if a[1] < b[1] then return true end
  if b[1] < a[1] then return false end
  return a[2] < b[2]
end
local function slot_of(s, e, k)
  while k > 1 and before(e, s[k // 2]) do k = k // 2 end
  return k
end
local heap = {
  new = function() return { n = 0, seq = 0 } end,
  push = function(s, v)
    local e = { v, s.seq + 1 }
    -- find the slot first, moving nothing, so an item that `<` cannot order
    -- raises before the heap changes
    local n = s.n + 1
    local ok, k = pcall(slot_of, s, e, n)
    if not ok then
      error(errors.CurioError(("PriorityQueue:put: the item cannot be ordered with the queued items (%s)")
        :format(tostring(k):gsub("^.-:%d+: ", ""))), 3)
    end
    s.seq, s.n = s.seq + 1, n
    while n > k do
      s[n] = s[n // 2]
      n = n // 2
    end
    s[k] = e
  end,
  pop = function(s)
    local top = s[1]
    local last = s[s.n]
    s[s.n] = nil
    s.n = s.n - 1
    local n = s.n
    if n > 0 then
      local i = 1
      while true do
        local c = 2 * i
        if c > n then break end
        if c < n and before(s[c + 1], s[c]) then c = c + 1 end
        if not before(s[c], last) then break end
        s[i] = s[c]
        i = c
      end
      s[i] = last
    end
    return top[1]
  end,
}

local Queue = { __name = "curio.Queue" }
Queue.__index = Queue

local function new_queue(storage, maxsize, name)
  maxsize = check.optint(maxsize, 1, name, 0, 0)
  return setmetatable({
    _s = storage.new(), _st = storage, _maxsize = maxsize, _kind = name,
    _getters = waitqueue(), _putters = waitqueue(), _joiners = waitqueue(true),
    -- Items handed to woken getters, in wake order: woken tasks run in the order
    -- they were woken, and a woken task is never cancelled at that wait.
    _handoff = { n = 0, head = 1 },
    _outbox = {},  -- Task -> item of a waiting putter
    _unfinished = 0,
  }, Queue)
end

function M.Queue(maxsize) return new_queue(fifo, maxsize, "Queue") end
function M.LifoQueue(maxsize) return new_queue(lifo, maxsize, "LifoQueue") end
function M.PriorityQueue(maxsize) return new_queue(heap, maxsize, "PriorityQueue") end

function Queue:__tostring()
  return ("%s(size=%d, maxsize=%d, getters=%d, putters=%d)"):format(self._kind, self._s.n,
    self._maxsize, waiting(self._getters), waiting(self._putters))
end

-- Items handed to woken getters count until those getters run (curio appends
-- them to the queue): a producer is never more than maxsize items ahead.
function Queue:qsize()
  if self == nil or self._handoff == nil then check.badself("qsize", self, "Queue") end -- hot: no C call
  return self._s.n + self._handoff.n
end
function Queue:empty()
  if self == nil or self._handoff == nil then check.badself("empty", self, "Queue") end -- hot: no C call
  return self._s.n + self._handoff.n == 0
end
function Queue:full()
  if self == nil or self._handoff == nil then check.badself("full", self, "Queue") end -- hot: no C call
  local max = self._maxsize
  return max > 0 and self._s.n + self._handoff.n >= max
end

local kcall, OP_CURRENT = K.kcall, K.K.CURRENT

--- put(item): never suspends unless the queue is bounded and full.
function Queue:put(item)
  if self == nil or self._handoff == nil then check.badself("put", self, "Queue") end -- hot: no C call
  if item == nil then error(errors.CurioError("cannot put nil into a queue"), 2) end
  local max = self._maxsize
  local full = max > 0 and self._s.n + self._handoff.n >= max
  if not full and kwake(self._getters, 1) > 0 then
    fifo.push(self._handoff, item)
    self._unfinished = self._unfinished + 1
    return
  end
  if full then
    local me = kcall(OP_CURRENT) or K.not_in_task(2)
    self._outbox[me] = item
    local ok, err = K.wait_nothrow(self._putters, QUEUE_WAIT)
    if not ok then
      self._outbox[me] = nil
      error(err, 0)
    end
    return -- a getter moved our item into the queue
  end
  self._st.push(self._s, item)
  self._unfinished = self._unfinished + 1
end

--- get(): the next item, waiting (FIFO among getters) while the queue is empty.
function Queue:get()
  if self == nil or self._handoff == nil then check.badself("get", self, "Queue") end -- hot: no C call
  local s = self._s
  if s.n > 0 then
    local item = self._st.pop(s)
    local n, putter = kwake(self._putters, 1)
    if n > 0 then
      self._st.push(s, self._outbox[putter])
      self._outbox[putter] = nil
      self._unfinished = self._unfinished + 1
    end
    return item
  end
  kwait(self._getters, QUEUE_WAIT) -- raises NotInTask outside a task
  local item = fifo.pop(self._handoff)
  if self._maxsize == 0 then return item end -- unbounded: no putter ever waits
  -- The handed item no longer counts: room for a waiting putter's item, which goes
  -- to the next waiting getter, if any, else into the queue.
  local n, putter = kwake(self._putters, 1)
  if n > 0 then
    local it = self._outbox[putter]
    self._outbox[putter] = nil
    if kwake(self._getters, 1) > 0 then fifo.push(self._handoff, it) else self._st.push(s, it) end
    self._unfinished = self._unfinished + 1
  end
  return item
end

function Queue:task_done()
  if getmetatable(self) ~= Queue then check.badself("task_done", self, "Queue") end
  if self._unfinished <= 0 then
    error(errors.CurioError("task_done() called more times than there were items"), 2)
  end
  self._unfinished = self._unfinished - 1
  if self._unfinished == 0 then kwake(self._joiners, math.maxinteger) end
end

--- join(): waits until every item put has been marked task_done().
function Queue:join()
  if getmetatable(self) ~= Queue then check.badself("join", self, "Queue") end
  if self._unfinished == 0 then return end
  return kwait(self._joiners, QUEUE_WAIT)
end

return M
