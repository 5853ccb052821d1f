local curio = require "curio"

outside_error = select(2, pcall(curio.sleep, 0))
outside_spawn_error = select(2, pcall(curio.spawn, print))
outside_coroutine_error = select(2, coroutine.resume(coroutine.create(function()
  local ok, e = pcall(curio.sleep, 0)
  return e
end)))

local capture_stderr = require("support").capture_stderr

describe("spawn and join", function()
  it("runs the child only when the parent blocks", function()
    local log = {}
    local t = curio.spawn(function() log[#log + 1] = "child" end)
    log[#log + 1] = "parent"
    t:join()
    assert.same({ "parent", "child" }, log)
  end)

  it("follows curio's event order for join", function()
    local log = {}
    local function child()
      log[#log + 1] = "start"
      curio.sleep(0.05)
      log[#log + 1] = "end"
      return 37
    end
    local t = curio.spawn(child)
    curio.sleep(0.01)
    log[#log + 1] = "joining"
    local r = t:join()
    log[#log + 1] = r
    assert.same({ "start", "joining", "end", 37 }, log)
  end)

  it("returns every result", function()
    local t = curio.spawn(function(a, b) return a + b, a * b, nil, "x" end, 3, 4)
    local r = table.pack(t:join())
    assert.equal(4, r.n)
    assert.same({ 7, 12, nil, "x", n = 4 }, r)
  end)

  it("passes arguments, including nils", function()
    local t = curio.spawn(function(...) return select("#", ...), ... end, nil, 2, nil)
    local n, a, b, c = t:join()
    assert.equal(3, n)
    assert.is_nil(a); assert.equal(2, b); assert.is_nil(c)
  end)

  it("gives increasing unique ids and the parent id", function()
    local me = curio.current_task()
    local a = curio.spawn(function() end)
    local b = curio.spawn(function() end)
    assert.is_true(b.id > a.id)
    assert.is_true(a.id > me.id)
    assert.equal(me.id, a.parent_id)
    assert.equal(math.type(a.id), "integer")
    a:join(); b:join()
  end)

  it("names a task after its function", function()
    local function worker_thing() end
    local t = curio.spawn(worker_thing)
    assert.matches("^worker_thing@.*task_test%.lua:%d+$", t.name)
    t.name = "custom"
    assert.equal("custom", t.name)
    t:join()
  end)

  it("raises TaskError with the cause on join", function()
    local t = curio.spawn(function() error({ code = 7 }) end)
    t._quiet = true
    local e = assert.raises_kind("TaskError", t.join, t)
    assert.same({ code = 7 }, e.cause)
    assert.equal(t, e.task)
  end)

  it("raises TaskError again on a second join", function()
    local t = curio.spawn(function() error("boom", 0) end)
    t._quiet = true
    t:wait()
    local e1 = assert.raises_kind("TaskError", t.join, t)
    local e2 = assert.raises_kind("TaskError", t.join, t)
    assert.equal("boom", e1.cause)
    assert.equal("boom", e2.cause)
  end)

  it("wait() never raises", function()
    local t = curio.spawn(function() error("boom") end)
    t._quiet = true
    t:wait()
    assert.is_true(t:done())
    assert.matches("boom", t:exception())
  end)

  it("result() returns results or raises", function()
    local t = curio.spawn(function() curio.sleep(0.01) return 5 end)
    assert.raises_kind("CurioError", t.result, t)
    t:wait()
    assert.equal(5, t:result())
    assert.is_nil(t:exception())
  end)

  it("rejects joining itself", function()
    local me = curio.current_task()
    local e = assert.raises_kind("CurioError", me.join, me)
    assert.matches("itself", tostring(e))
  end)

  it("rejects a non-function", function()
    assert.error_matches(function() curio.spawn(42) end, "bad argument #1 to 'spawn' %(function expected, got number%)")
    assert.error_matches(function() curio.spawn(nil) end, "function expected, got nil")
  end)

  it("names spawn_daemon in its argument error", function()
    assert.error_matches(function() curio.spawn_daemon("x") end,
      "bad argument #1 to 'spawn_daemon' %(function expected, got string%)")
  end)

  it("raises NotInTask when spawning outside a task", function()
    -- produced while this file loaded, outside any kernel
    assert.equal("NotInTask", outside_spawn_error.kind)
  end)

  it("keeps every result, nils included, and the arguments", function()
    local t = curio.spawn(function(...) return ... end, 1, nil, "three", nil)
    local r = table.pack(t:join())
    assert.equal(4, r.n)
    assert.same({ 1, nil, "three", nil, n = 4 }, r)
    assert.equal(0, select("#", curio.spawn(function() end):join()))
  end)

  it("exposes id, parent_id and daemon as attributes", function()
    local me = curio.current_task()
    local t = curio.spawn_daemon(function() end)
    assert.is_true(t.id > me.id)
    assert.equal(me.id, t.parent_id)
    assert.is_true(t.daemon)
    t:join()
    assert.is_true(t.daemon) -- still readable once it ended
    assert.error_matches(function() t.id = 7 end, "task%.id is read%-only")
    assert.error_matches(function() t.state = "READY" end, "task%.state is read%-only")
    t.name, t.note = "renamed", "mine"
    assert.equal("renamed", t.name)
    assert.equal("mine", t.note)
  end)

  it("hands a task that has not run yet its arguments, however many", function()
    local args = {}
    for i = 1, 200 do args[i] = i end
    args[100] = nil
    local t = curio.spawn(function(...) return select("#", ...), (select(200, ...)) end,
      table.unpack(args, 1, 200))
    assert.same({ 200, 200 }, { t:join() })
    -- cancelled before it ever ran: it runs until a blocking call, here its end
    local c = curio.spawn(function() return "ran" end)
    assert.is_true(c:cancel())
    assert.is_nil(c:exception())
    assert.equal("ran", c:result())
  end)

  it("accepts a callable table", function()
    local callable = setmetatable({}, { __call = function(_, x) return x * 2 end })
    assert.equal(10, curio.spawn(callable, 5):join())
  end)

  it("reports states", function()
    local ev = curio.Event()
    local t = curio.spawn(function() ev:wait() end)
    assert.equal("READY", t.state)
    curio.sleep(0)
    assert.equal("EVENT_WAIT", t.state)
    local s = curio.spawn(function() curio.sleep(1) end)
    curio.sleep(0)
    assert.equal("SLEEP", s.state)
    local j = curio.spawn(function() s:wait() end)
    curio.sleep(0)
    assert.equal("JOIN_WAIT", j.state)
    assert.equal("RUNNING", curio.current_task().state)
    ev:set()
    t:join()
    assert.equal("TERMINATED", t.state)
    s:cancel()
    j:wait()
  end)

  it("counts cycles", function()
    local t = curio.spawn(function() for _ = 1, 5 do curio.sleep(0) end end)
    curio.sleep(0); curio.sleep(0)
    local c = t.cycles
    assert.is_true(c >= 2)
    t:join()
    assert.equal(6, t.cycles) -- kept once it ended: 5 sleeps, then the end
    assert.equal(0, curio.spawn(function() end).cycles) -- not run yet
  end)

  it("shows where a task is suspended", function()
    local function sleeper() curio.sleep(1) end
    local t = curio.spawn(sleeper)
    assert.equal("", t:traceback()) -- not started: its coroutine is made as it first runs
    curio.sleep(0)
    assert.matches("task_test%.lua:%d+", t:traceback())
    t:cancel()
    assert.equal("", t:traceback())
  end)

  it("keeps other tasks running when one crashes", function()
    local out = capture_stderr(function()
      local bad = curio.spawn(function() curio.sleep(0.01); error("kaboom") end)
      local good = curio.spawn(function() curio.sleep(0.03); return "fine" end)
      assert.equal("fine", good:join())
      bad:wait()
    end)
    assert.matches("Task Crash: .* %(id %d+%)", out)
    assert.matches("kaboom", out)
    assert.matches("stack traceback", out)
  end)

  it("reports a crash once, and not for cancellation", function()
    local out = capture_stderr(function()
      local bad = curio.spawn(function() error("once only") end)
      bad:wait()
      pcall(bad.join, bad)
      pcall(bad.join, bad)
      local c = curio.spawn(function() curio.sleep(5) end)
      curio.sleep(0)
      c:cancel()
    end)
    local n = 0
    for _ in out:gmatch("Task Crash") do n = n + 1 end
    assert.equal(1, n)
  end)

  it("spawn_daemon marks the task", function()
    local d = curio.spawn_daemon(function() curio.sleep(10) end)
    assert.is_true(d.daemon)
    assert.is_false(curio.spawn(function() end).daemon)
  end)

  it("current_task returns the running task", function()
    local inner
    local t = curio.spawn(function() inner = curio.current_task() end)
    t:join()
    assert.equal(t, inner)
  end)

  it("tostring shows the task", function()
    local t = curio.spawn(function() end)
    assert.matches("^Task%(id=%d+, name=.*, state=READY%)$", tostring(t))
    t:join()
  end)
end)

describe("scheduling", function()
  it("sleep(0) goes to the back of the ready queue", function()
    local log = {}
    local function w(name)
      for i = 1, 3 do log[#log + 1] = name .. i; curio.sleep(0) end
    end
    local a = curio.spawn(w, "a")
    local b = curio.spawn(w, "b")
    a:join(); b:join()
    assert.same({ "a1", "b1", "a2", "b2", "a3", "b3" }, log)
  end)

  it("a cycle runs only the tasks ready when it began", function()
    local log = {}
    local t1 = curio.spawn(function()
      log[#log + 1] = "t1"
      curio.spawn(function() log[#log + 1] = "grandchild" end)
      curio.sleep(0)
      log[#log + 1] = "t1 again"
    end)
    local t2 = curio.spawn(function() log[#log + 1] = "t2" end)
    t1:join(); t2:join()
    curio.sleep(0)
    assert.same({ "t1", "t2", "grandchild", "t1 again" }, log)
  end)

  it("sleep returns the clock at wake-up", function()
    local before = curio.clock()
    local woke = curio.sleep(0.02)
    assert.is_true(woke >= before + 0.02)
    assert.is_true(curio.clock() >= woke)
  end)

  it("timers fire in deadline order", function()
    local log = {}
    for _, d in ipairs { 0.03, 0.01, 0.02 } do
      curio.spawn(function() curio.sleep(d); log[#log + 1] = d end)
    end
    curio.sleep(0.05)
    assert.same({ 0.01, 0.02, 0.03 }, log)
  end)

  it("wake_at sleeps until a clock value", function()
    local target = curio.clock() + 0.02
    local woke = curio.wake_at(target)
    assert.is_true(woke >= target)
  end)

  it("schedule() yields like sleep(0)", function()
    local log = {}
    local t = curio.spawn(function() log[#log + 1] = "child" end)
    curio.schedule()
    log[#log + 1] = "parent"
    t:join()
    assert.same({ "child", "parent" }, log)
  end)

  it("sleep rejects a non-number", function()
    assert.error_matches(function() curio.sleep("1") end, "number expected, got string")
  end)

  it("clock never suspends and increases", function()
    local a = curio.clock()
    local b = curio.clock()
    assert.is_number(a)
    assert.is_true(b >= a)
  end)

  it("a blocking call outside a task raises NotInTask", function()
    -- outside_error was produced while this file loaded, outside any kernel
    assert.equal("NotInTask", outside_error.kind)
    assert.equal("must be called inside a curio task", outside_error.message)
  end)

  it("a user coroutine resumed outside a task gets NotInTask", function()
    assert.equal("NotInTask", outside_coroutine_error.kind)
  end)

  it("blocking where Lua cannot yield raises NotInTask", function()
    local e = assert.raises_kind("NotInTask", table.sort, { 1, 2, 3 }, function(a, b)
      curio.sleep(0)
      return a < b
    end)
    assert.matches("not yieldable", e.message)
  end)
end)

describe("curio.run", function()
  it("runs a function as a task of the running kernel", function()
    local r1, r2 = curio.run(function(a) curio.sleep(0.001) return a, "two" end, "one")
    assert.equal("one", r1)
    assert.equal("two", r2)
  end)

  it("re-raises the error unchanged", function()
    local obj = { "mine" }
    local ok, e = pcall(curio.run, function() error(obj) end)
    assert.is_false(ok)
    assert.equal(obj, e)
  end)
end)
