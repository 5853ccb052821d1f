local curio = require "curio"

describe("Event", function()
  it("wakes every waiter when set", function()
    local ev = curio.Event()
    local log = {}
    local function waiter(n) ev:wait(); log[#log + 1] = n end
    local ts = { curio.spawn(waiter, 1), curio.spawn(waiter, 2), curio.spawn(waiter, 3) }
    curio.sleep(0)
    assert.is_false(ev:is_set())
    ev:set()
    for _, t in ipairs(ts) do t:join() end
    assert.same({ 1, 2, 3 }, log)
    assert.is_true(ev:is_set())
  end)

  it("wait returns at once when set, blocks again after clear", function()
    local ev = curio.Event()
    ev:set()
    ev:wait()
    ev:clear()
    assert.is_false(ev:is_set())
    assert.raises_kind("TaskTimeout", curio.timeout_after, 0.01, ev.wait, ev)
  end)

  it("a cancelled waiter leaves the others waiting", function()
    local ev = curio.Event()
    local a = curio.spawn(ev.wait, ev)
    local b = curio.spawn(ev.wait, ev)
    curio.sleep(0)
    a:cancel()
    assert.equal("EVENT_WAIT", b.state)
    ev:set()
    b:join()
  end)
end)

describe("Lock", function()
  it("serves three workers FIFO (curio's log)", function()
    local lock = curio.Lock()
    local log = {}
    local function worker(name)
      log[#log + 1] = name .. " wait"
      local _ <close> = lock:hold()
      log[#log + 1] = name .. " acquire"
      curio.sleep(0.01)
      log[#log + 1] = name .. " release"
    end
    local g = curio.TaskGroup()
    g:spawn(worker, "w1"); g:spawn(worker, "w2"); g:spawn(worker, "w3")
    g:join()
    assert.same({ "w1 wait", "w1 acquire", "w2 wait", "w3 wait", "w1 release", "w2 acquire",
      "w2 release", "w3 acquire", "w3 release" }, log)
  end)

  it("hands the lock straight to the next waiter (no barging)", function()
    local lock = curio.Lock()
    lock:acquire()
    local waiter = curio.spawn(function() lock:acquire(); return "got it" end)
    curio.sleep(0)
    lock:release()
    assert.is_true(lock:locked(), "already owned by the waiter")
    local barger = curio.spawn(function() return curio.ignore_after(0.01, lock.acquire, lock) end)
    assert.equal("got it", waiter:join())
    assert.is_nil(barger:join())
  end)

  it("raises when released while not held", function()
    local lock = curio.Lock()
    local e = assert.raises_kind("CurioError", lock.release, lock)
    assert.matches("not acquired", e.message)
  end)

  it("hold releases when the block exits with an error", function()
    local lock = curio.Lock()
    pcall(function()
      local _ <close> = lock:hold()
      error("inside")
    end)
    assert.is_false(lock:locked())
  end)

  it("a cancelled waiter never gets the lock; the next one does", function()
    local lock = curio.Lock()
    lock:acquire()
    local a = curio.spawn(lock.acquire, lock)
    local b = curio.spawn(function() lock:acquire(); return "b" end)
    curio.sleep(0)
    a:cancel()
    lock:release()
    assert.equal("b", b:join())
    assert.is_true(lock:locked())
  end)

  it("acquire honours timeouts", function()
    local lock = curio.Lock()
    lock:acquire()
    local t = curio.spawn(function() return curio.ignore_after(0.01, lock.acquire, lock) end)
    assert.is_nil(t:join())
    lock:release()
    assert.is_false(lock:locked())
  end)
end)

describe("RLock", function()
  it("may be acquired again by its owner", function()
    local r = curio.RLock()
    r:acquire(); r:acquire()
    r:release()
    assert.is_true(r:locked())
    r:release()
    assert.is_false(r:locked())
  end)

  it("raises when released by another task", function()
    local r = curio.RLock()
    r:acquire()
    local t = curio.spawn(function() return pcall(r.release, r) end)
    local ok, e = t:join()
    assert.is_false(ok)
    assert.equal("CurioError", e.kind)
    r:release()
  end)

  it("hands over only when fully released", function()
    local r = curio.RLock()
    local log = {}
    r:acquire(); r:acquire()
    local t = curio.spawn(function() r:acquire(); log[#log + 1] = "other"; r:release() end)
    curio.sleep(0)
    r:release()
    curio.sleep(0)
    log[#log + 1] = "owner"
    r:release()
    t:join()
    assert.same({ "owner", "other" }, log)
  end)
end)

describe("Semaphore", function()
  it("Semaphore(2) admits two at a time, in order", function()
    local sem = curio.Semaphore(2)
    local log = {}
    local function worker(n, d)
      local _ <close> = sem:hold()
      log[#log + 1] = "in " .. n
      curio.sleep(d)
      log[#log + 1] = "out " .. n
    end
    local g = curio.TaskGroup()
    for i, d in ipairs { 0.02, 0.09, 0.02, 0.02 } do g:spawn(worker, i, d) end
    g:join()
    -- 1 and 2 enter; 3 takes 1's permit, 4 takes 3's; 2 leaves last
    assert.same({ "in 1", "in 2", "out 1", "in 3", "out 3", "in 4", "out 4", "out 2" }, log)
    assert.equal(2, sem:value())
  end)

  it("value and locked track permits", function()
    local sem = curio.Semaphore(1)
    assert.is_false(sem:locked())
    sem:acquire()
    assert.equal(0, sem:value())
    assert.is_true(sem:locked())
    sem:release()
    sem:release()
    assert.equal(2, sem:value())
  end)

  it("BoundedSemaphore raises past its initial value", function()
    local b = curio.BoundedSemaphore(1)
    b:acquire()
    b:release()
    local e = assert.raises_kind("CurioError", b.release, b)
    assert.matches("too many", e.message)
  end)

  it("a timed-out waiter never loses a permit", function()
    local sem = curio.Semaphore(0)
    local a = curio.spawn(function() return curio.ignore_after(0.01, sem.acquire, sem) end)
    local b = curio.spawn(function() sem:acquire(); return "b" end)
    assert.is_nil(a:join())
    sem:release()
    assert.equal("b", b:join())
    assert.equal(0, sem:value())
  end)

  it("rejects a bad count", function()
    assert.error_matches(function() curio.Semaphore(-1) end, "out of range: %-1 is less than 0")
    assert.error_matches(function() curio.Semaphore("x") end, "integer expected, got string")
    assert.error_matches(function() curio.BoundedSemaphore(1.5) end,
      "bad argument #1 to 'BoundedSemaphore' %(number has no integer representation%)")
  end)
end)

describe("Condition", function()
  it("alternates a producer and two consumers", function()
    local cond = curio.Condition()
    local items, log = {}, {}
    local function consumer(name)
      for _ = 1, 2 do
        local _ <close> = cond:hold()
        cond:wait_for(function() return #items > 0 end)
        log[#log + 1] = name .. " " .. table.remove(items, 1)
      end
    end
    local g = curio.TaskGroup()
    g:spawn(consumer, "c1"); g:spawn(consumer, "c2")
    curio.sleep(0)
    for i = 1, 4 do
      do
        local _ <close> = cond:hold()
        items[#items + 1] = i
        cond:notify()
      end
      curio.sleep(0.01) -- the woken consumer takes it and waits again, at the back
    end
    g:join()
    assert.same({ "c1 1", "c2 2", "c1 3", "c2 4" }, log)
  end)

  it("notify_all wakes everyone, who run once the notifier releases", function()
    local cond = curio.Condition()
    local log = {}
    local function waiter(n)
      local _ <close> = cond:hold()
      cond:wait()
      log[#log + 1] = "woke " .. n
    end
    local g = curio.TaskGroup()
    for i = 1, 3 do g:spawn(waiter, i) end
    curio.sleep(0)
    do
      local _ <close> = cond:hold()
      cond:notify_all()
      log[#log + 1] = "notifier blocks"
      curio.sleep(0.01)
      log[#log + 1] = "notifier releases"
    end
    g:join()
    assert.same({ "notifier blocks", "notifier releases", "woke 1", "woke 2", "woke 3" }, log)
  end)

  it("wait re-acquires the lock before a cancellation propagates", function()
    local cond = curio.Condition()
    local held_when_cancelled
    local t = curio.spawn(function()
      local _ <close> = cond:hold()
      local ok, e = pcall(cond.wait, cond)
      held_when_cancelled = cond:locked() and cond._lock._owner == curio.current_task()
      error(e, 0)
    end)
    curio.sleep(0)
    t:cancel()
    assert.is_true(held_when_cancelled)
    assert.is_false(cond:locked())
  end)

  it("wait times out with the lock held again", function()
    local cond = curio.Condition()
    local _ <close> = cond:hold()
    local ok, e = pcall(curio.timeout_after, 0.01, cond.wait, cond)
    assert.equal("TaskTimeout", e.kind)
    assert.is_true(cond:locked())
  end)

  it("notify and wait without the lock raise", function()
    local cond = curio.Condition()
    assert.error_matches(function() cond:notify() end, "without holding its lock")
    assert.error_matches(function() cond:notify_all() end, "without holding its lock")
    assert.error_matches(function() cond:wait() end, "without holding its lock")
  end)

  it("accepts a given lock and rejects other values", function()
    local lock = curio.Lock()
    local cond = curio.Condition(lock)
    cond:acquire()
    assert.is_true(lock:locked())
    cond:release()
    assert.error_matches(function() curio.Condition(42) end, "Lock or RLock expected, got number")
  end)

  it("works over an RLock held twice", function()
    local r = curio.RLock()
    local cond = curio.Condition(r)
    r:acquire(); r:acquire()
    local t = curio.spawn(function()
      local _ <close> = cond:hold()
      cond:notify()
    end)
    cond:wait()
    assert.equal(2, r._count)
    r:release(); r:release()
    t:join()
  end)
end)

describe("Local", function()
  it("keeps values per task and copies the parent's into a child", function()
    local l = curio.Local()
    l.x = 1
    local seen = {}
    local t = curio.spawn(function()
      seen[#seen + 1] = l.x
      l.x = 2
      curio.sleep(0)
      seen[#seen + 1] = l.x
    end)
    curio.sleep(0)
    l.x = 10
    t:join()
    assert.same({ 1, 2 }, seen)
    assert.equal(10, l.x)
  end)

  it("is empty in a task whose parent set nothing", function()
    local l = curio.Local()
    assert.is_nil(l.y)
    local t = curio.spawn(function() return l.y end)
    assert.is_nil(t:join())
  end)

  it("separate Local objects do not mix", function()
    local a, b = curio.Local(), curio.Local()
    a.v = "a"
    b.v = "b"
    assert.equal("a", a.v)
    assert.equal("b", b.v)
  end)
end)
