-- Worker functions cannot capture upvalues, so they take what they use as
-- parameters, often named as the test's own locals.
-- luacheck: ignore 431
local curio = require "curio"

describe("UniversalQueue", function()
  it("is FIFO and reports its size", function()
    local q = curio.UniversalQueue()
    assert.is_true(q:empty())
    assert.is_false(q:full())
    for i = 1, 5 do q:put(i) end
    assert.equal(5, q:qsize())
    for i = 1, 5 do assert.equal(i, q:get()) end
    assert.is_true(q:empty())
    assert.matches("^UniversalQueue%(size=0, maxsize=0%)$", tostring(q))
  end)

  it("moves transferable values and refuses the rest", function()
    local q = curio.UniversalQueue()
    local t = { 1, x = { y = "z" } }
    t.self = t
    q:put(t)
    local u = q:get()
    assert.is_true(u.self == u and u.x.y == "z" and u ~= t)
    local e = assert.raises_kind("TransferError", q.put, q, { f = print })
    assert.equal("item field 'f': function", e.message)
    assert.error_matches(function() q:put(nil) end, "bad argument #1 to 'put' %(item must not be nil%)")
    assert.equal(0, q:qsize())
  end)

  it("blocks a putter while full (maxsize)", function()
    local q = curio.UniversalQueue(2)
    local log = {}
    local producer = curio.spawn(function()
      for i = 1, 4 do q:put(i); log[#log + 1] = "put " .. i end
    end)
    curio.sleep(0.01)
    assert.same({ "put 1", "put 2" }, log)
    assert.is_true(q:full())
    local got = {}
    for _ = 1, 4 do got[#got + 1] = q:get() end
    curio.timeout_after(30, producer.join, producer)
    assert.same({ 1, 2, 3, 4 }, got)
  end)

  it("task_done and join work as Queue's", function()
    local q = curio.UniversalQueue()
    for i = 1, 3 do q:put(i) end
    local joined = false
    local j = curio.spawn(function() q:join(); joined = true end)
    for _ = 1, 3 do
      q:get()
      curio.sleep(0.005)
      assert.is_false(joined)
      q:task_done()
    end
    curio.timeout_after(30, j.join, j)
    assert.is_true(joined)
    assert.raises_kind("CurioError", q.task_done, q)
  end)

  it("a cancelled getter loses nothing: the item goes to the next one", function()
    local q = curio.UniversalQueue()
    local a = curio.spawn(q.get, q)
    local b = curio.spawn(q.get, q)
    curio.sleep(0.01)
    a:cancel()
    q:put("x")
    assert.equal("x", curio.timeout_after(30, b.join, b))
    assert.equal(0, q:qsize())
  end)

  it("a getter woken and then cancelled passes the item on", function()
    local q = curio.UniversalQueue()
    local a = curio.spawn(q.get, q)
    local b = curio.spawn(q.get, q)
    curio.sleep(0.01)
    q:put("x") -- wakes a, which is cancelled before it runs
    a:cancel()
    assert.equal("x", curio.timeout_after(30, b.join, b))
  end)

  it("a timed-out get and put lose nothing", function()
    local q = curio.UniversalQueue(1)
    assert.raises_kind("TaskTimeout", curio.timeout_after, 0.01, q.get, q)
    q:put(1)
    assert.raises_kind("TaskTimeout", curio.timeout_after, 0.01, q.put, q, 2)
    assert.equal(1, q:qsize())
    assert.equal(1, q:get())
    assert.is_true(q:empty())
  end)

  it("a cancelled join leaves the count intact", function()
    local q = curio.UniversalQueue()
    q:put(1)
    assert.raises_kind("TaskTimeout", curio.timeout_after, 0.01, q.join, q)
    local j = curio.spawn(q.join, q)
    curio.sleep(0.01)
    j:cancel()
    local k = curio.spawn(q.join, q)
    q:get()
    q:task_done()
    curio.timeout_after(30, k.join, k)
  end)

  it("a worker thread waits in join until tasks mark items done", function()
    local q = curio.UniversalQueue()
    q:put("a")
    local w = curio.spawn(curio.run_in_thread, function(q) q:join() return "joined" end, q)
    curio.sleep(0.02)
    assert.equal("a", q:get())
    q:task_done()
    assert.equal("joined", curio.timeout_after(30, w.join, w))
  end)

  it("a task getter is woken by a worker thread", function()
    local q = curio.UniversalQueue()
    local getter = curio.spawn(q.get, q)
    curio.sleep(0.01)
    curio.run_in_thread(function(q) q:put("from a thread") end, q)
    assert.equal("from a thread", curio.timeout_after(30, getter.join, getter))
  end)

  it("a worker thread blocks on get until a task puts", function()
    local q, back = curio.UniversalQueue(), curio.UniversalQueue()
    local w = curio.spawn(curio.run_in_thread, function(q, back)
      local v = q:get()
      back:put(v * 2)
      return v
    end, q, back)
    curio.sleep(0.02)
    q:put(21)
    assert.equal(42, curio.timeout_after(30, back.get, back))
    assert.equal(21, curio.timeout_after(30, w.join, w))
  end)

  it("many tasks and threads share a queue without losing items", function()
    local q, out = curio.UniversalQueue(4), curio.UniversalQueue()
    local g = curio.TaskGroup()
    for _ = 1, 3 do
      g:spawn(curio.run_in_thread, function(q, out)
        while true do
          local v = q:get()
          if v == false then return end
          out:put(v)
        end
      end, q, out)
    end
    for i = 1, 300 do q:put(i) end
    for _ = 1, 3 do q:put(false) end
    local sum = 0
    for _ = 1, 300 do sum = sum + curio.timeout_after(30, out.get, out) end
    curio.timeout_after(30, g.join, g)
    assert.equal(300 * 301 // 2, sum)
  end)

  it("bad arguments raise at the caller", function()
    assert.error_matches(function() curio.UniversalQueue(-1) end,
      "bad argument #1 to 'UniversalQueue' %(non%-negative integer expected, got %-1%)")
    assert.error_matches(function() curio.UniversalQueue(1.5) end,
      "bad argument #1 to 'UniversalQueue' %(non%-negative integer expected, got 1.5%)")
    assert.error_matches(function() curio.UniversalQueue("x") end,
      "bad argument #1 to 'UniversalQueue' %(non%-negative integer expected, got string%)")
    local q = curio.UniversalQueue()
    assert.error_matches(function() q.get({}) end, "bad argument #1 to 'get' %(UniversalQueue expected")
  end)
end)

describe("UniversalEvent", function()
  it("set, clear, is_set, wait", function()
    local e = curio.UniversalEvent()
    assert.is_false(e:is_set())
    local woke = false
    local t = curio.spawn(function() e:wait(); woke = true end)
    curio.sleep(0.01)
    assert.is_false(woke)
    e:set()
    curio.timeout_after(30, t.join, t)
    assert.is_true(woke)
    e:wait() -- already set: returns at once
    e:clear()
    assert.is_false(e:is_set())
  end)

  it("may be set from a worker thread", function()
    local e = curio.UniversalEvent()
    local t = curio.spawn(e.wait, e)
    curio.sleep(0.01)
    curio.run_in_thread(function(e) e:set() end, e)
    curio.timeout_after(30, t.join, t)
    assert.is_true(e:is_set())
  end)

  it("a worker thread waits for a task to set it", function()
    local e = curio.UniversalEvent()
    local w = curio.spawn(curio.run_in_thread, function(e) e:wait() return "done" end, e)
    curio.sleep(0.02)
    e:set()
    assert.equal("done", curio.timeout_after(30, w.join, w))
  end)

  it("a cancelled or timed-out wait leaves the event usable", function()
    local e = curio.UniversalEvent()
    assert.raises_kind("TaskTimeout", curio.timeout_after, 0.01, e.wait, e)
    local t = curio.spawn(e.wait, e)
    curio.sleep(0.01)
    t:cancel()
    local u = curio.spawn(e.wait, e)
    curio.sleep(0.01)
    e:set()
    curio.timeout_after(30, u.join, u)
  end)
end)
