-- Every blocking wait of every primitive, cancelled and timed out: the waiter gets
-- the error, and the primitive keeps working with nothing lost.
local curio = require "curio"

-- Each case: setup() -> state; wait(state) blocks; after(state) checks the
-- primitive is intact (it may block briefly, e.g. to hand over to a new waiter).
local cases = {
  Event = {
    setup = function() return curio.Event() end,
    wait = function(ev) ev:wait() end,
    after = function(ev) ev:set(); ev:wait() end,
  },
  Lock = {
    setup = function() local l = curio.Lock(); l:acquire(); return l end,
    wait = function(l) l:acquire() end,
    after = function(l)
      l:release()
      assert.is_false(l:locked(), "no cancelled waiter was handed the lock")
    end,
  },
  RLock = { -- held by another task (its owner would simply re-enter)
    setup = function()
      local s = { lock = curio.RLock(), done = curio.Event() }
      s.holder = curio.spawn(function() s.lock:acquire(); s.done:wait(); s.lock:release() end)
      curio.sleep(0)
      return s
    end,
    wait = function(s) s.lock:acquire() end,
    after = function(s)
      s.done:set()
      s.holder:join()
      assert.is_false(s.lock:locked(), "no cancelled waiter was handed the lock")
    end,
  },
  Semaphore = {
    setup = function() return curio.Semaphore(0) end,
    wait = function(s) s:acquire() end,
    after = function(s) s:release(); assert.equal(1, s:value(), "the permit was not lost") end,
  },
  BoundedSemaphore = {
    setup = function() local s = curio.BoundedSemaphore(1); s:acquire(); return s end,
    wait = function(s) s:acquire() end,
    after = function(s) s:release(); assert.equal(1, s:value()) end,
  },
  Condition = {
    setup = function() return curio.Condition() end,
    wait = function(c) local _ <close> = c:hold(); c:wait() end,
    after = function(c) assert.is_false(c:locked(), "the waiter released the lock") end,
  },
  ["Queue:get"] = {
    setup = function() return curio.Queue() end,
    wait = function(q) q:get() end,
    after = function(q) q:put("x"); assert.equal("x", q:get(), "the item was not lost") end,
  },
  ["Queue:put"] = {
    setup = function() local q = curio.Queue(1); q:put("a"); return q end,
    wait = function(q) q:put("b") end,
    after = function(q)
      assert.equal(1, q:qsize(), "the cancelled put added nothing")
      assert.equal("a", q:get())
    end,
  },
  ["Queue:join"] = {
    setup = function() local q = curio.Queue(); q:put(1); return q end,
    wait = function(q) q:join() end,
    after = function(q) q:get(); q:task_done(); q:join() end,
  },
  ["PriorityQueue:get"] = {
    setup = function() return curio.PriorityQueue() end,
    wait = function(q) q:get() end,
    after = function(q) q:put(2); q:put(1); assert.equal(1, q:get()) end,
  },
  ["LifoQueue:get"] = {
    setup = function() return curio.LifoQueue() end,
    wait = function(q) q:get() end,
    after = function(q) q:put(1); q:put(2); assert.equal(2, q:get()) end,
  },
  ["Task:join"] = {
    setup = function() return curio.spawn(curio.sleep, 0.05) end,
    wait = function(t) t:join() end,
    after = function(t) t:join(); assert.is_true(t:done()) end,
  },
}

local names = {}
for name in pairs(cases) do names[#names + 1] = name end
table.sort(names)

describe("blocking waits", function()
  for _, name in ipairs(names) do
    local c = cases[name]
    it(name .. " can be cancelled", function()
      local state = c.setup()
      local waiter = curio.spawn(c.wait, state)
      curio.sleep(0)
      assert.is_true(waiter:cancel())
      assert.equal("TaskCancelled", waiter:exception().kind)
      c.after(state)
    end)

    it(name .. " honours a timeout", function()
      local state = c.setup()
      local e = assert.raises_kind("TaskTimeout", curio.timeout_after, 0.01, c.wait, state)
      c.after(state)
    end)
  end
end)
