local curio = require "curio"
local errors = curio.errors

describe("cancellation", function()
  it("follows curio's event order for a blocking cancel", function()
    local log = {}
    local function child()
      log[#log + 1] = "start"
      local ok, e = pcall(curio.sleep, 0.5)
      if not ok and errors.is(e, curio.CancelledError) then
        log[#log + 1] = "cancelled"
        error(e, 0)
      end
      log[#log + 1] = "end"
    end
    local t = curio.spawn(child)
    log[#log + 1] = "cancel start"
    curio.sleep(0.01)
    log[#log + 1] = "cancelling"
    local caused = t:cancel()
    log[#log + 1] = "done"
    assert.is_true(caused)
    assert.same({ "cancel start", "start", "cancelling", "cancelled", "done" }, log)
    assert.is_true(t:cancelled())
    assert.equal("TaskCancelled", t:exception().kind)
  end)

  it("non-blocking cancel returns at once", function()
    local log = {}
    local t = curio.spawn(function()
      local ok = pcall(curio.sleep, 1)
      log[#log + 1] = "child unwound"
    end)
    curio.sleep(0)
    assert.is_true(t:cancel(false))
    log[#log + 1] = "cancel returned"
    t:wait()
    assert.same({ "cancel returned", "child unwound" }, log)
  end)

  it("chains through join", function()
    local log = {}
    local function child()
      local ok, e = pcall(curio.sleep, 1)
      log[#log + 1] = "child cancelled"
      error(e, 0)
    end
    local function parent()
      local c = curio.spawn(child)
      local ok, e = pcall(c.join, c)
      log[#log + 1] = "parent cancelled"
      c:cancel()
      error(e, 0)
    end
    local p = curio.spawn(parent)
    curio.sleep(0.01)
    p:cancel()
    log[#log + 1] = "done"
    assert.same({ "parent cancelled", "child cancelled", "done" }, log)
  end)

  it("is deferred for a task that has not run yet", function()
    local log = {}
    local t = curio.spawn(function()
      log[#log + 1] = "runs until its first blocking call"
      local ok, e = pcall(curio.sleep, 0)
      log[#log + 1] = e.kind
      error(e, 0)
    end)
    t:cancel()
    assert.same({ "runs until its first blocking call", "TaskCancelled" }, log)
  end)

  it("delivers a custom error class", function()
    local MyError = errors.class("MyError", curio.CancelledError)
    local got
    local t = curio.spawn(function()
      local ok, e = pcall(curio.sleep, 1)
      got = e
      error(e, 0)
    end)
    curio.sleep(0)
    t:cancel { error = MyError }
    assert.equal("MyError", got.kind)
    assert.is_true(got:is(curio.CancelledError))
  end)

  it("delivers a custom error object", function()
    local obj = curio.CurioError("stop now")
    local got
    local t = curio.spawn(function()
      local ok, e = pcall(curio.sleep, 1)
      got = e
    end)
    curio.sleep(0)
    t:cancel { error = obj, blocking = false }
    t:wait()
    assert.equal(obj, got)
  end)

  it("only the first cancellation counts", function()
    local t = curio.spawn(function() pcall(curio.sleep, 1); curio.sleep(0.01) end)
    curio.sleep(0)
    assert.is_true(t:cancel(false))
    assert.is_false(t:cancel(false))
    t:wait()
  end)

  it("cancelling a finished task is a no-op", function()
    local t = curio.spawn(function() return 1 end)
    t:join()
    assert.is_false(t:cancel())
    assert.equal(1, t:result())
    assert.is_false(t:cancelled())
  end)

  it("a caught cancellation lets the task go on", function()
    local t = curio.spawn(function()
      pcall(curio.sleep, 1)
      curio.sleep(0.001)
      return "survived"
    end)
    curio.sleep(0)
    t:cancel()
    assert.equal("survived", t:result())
  end)

  it("join of a cancelled task raises TaskError caused by TaskCancelled", function()
    local t = curio.spawn(curio.sleep, 1)
    curio.sleep(0)
    t:cancel()
    local e = assert.raises_kind("TaskError", t.join, t)
    assert.equal("TaskCancelled", e.cause.kind)
  end)

  it("cancels a task waiting on an event, a join and a lock", function()
    local ev, lock = curio.Event(), curio.Lock()
    lock:acquire()
    local long = curio.spawn(curio.sleep, 5)
    local waiters = {
      curio.spawn(function() ev:wait() end),
      curio.spawn(function() long:join() end),
      curio.spawn(function() lock:acquire() end),
    }
    curio.sleep(0)
    for _, w in ipairs(waiters) do
      w:cancel()
      assert.equal("TaskCancelled", w:exception().kind)
    end
    long:cancel()
    lock:release()
    assert.is_false(lock:locked())
  end)

  it("a task cannot cancel itself with blocking", function()
    local me = curio.current_task()
    assert.raises_kind("CurioError", me.cancel, me)
  end)

  it("self-cancel without blocking arrives at the next blocking call", function()
    local t = curio.spawn(function()
      curio.current_task():cancel(false)
      local ok, e = pcall(curio.sleep, 0)
      return e.kind
    end)
    assert.equal("TaskCancelled", t:join())
  end)
end)

describe("disable_cancellation", function()
  it("defers cancellation until the block ends", function()
    local log = {}
    local t = curio.spawn(function()
      curio.disable_cancellation(function()
        curio.sleep(0.02)
        log[#log + 1] = "slept through"
        log[#log + 1] = curio.check_cancellation().kind
      end)
      local ok, e = pcall(curio.sleep, 0)
      log[#log + 1] = e.kind
    end)
    curio.sleep(0)
    t:cancel()
    assert.same({ "slept through", "TaskCancelled", "TaskCancelled" }, log)
  end)

  it("check_cancellation is nil when nothing is pending", function()
    assert.is_nil(curio.check_cancellation())
  end)

  it("returns the function's results and propagates its errors", function()
    local a, b = curio.disable_cancellation(function(x) return x, x + 1 end, 1)
    assert.equal(1, a); assert.equal(2, b)
    assert.has_error(function() curio.disable_cancellation(error, "inner", 0) end, "inner")
  end)

  it("defers a timeout to the next blocking call", function()
    local log = {}
    local r = curio.ignore_after(0.01, function()
      curio.disable_cancellation(curio.sleep, 0.03)
      log[#log + 1] = "after block"
      curio.sleep(0)
      log[#log + 1] = "not reached"
    end)
    assert.is_nil(r)
    assert.same({ "after block" }, log)
  end)

  it("a block that expired but never blocked again completes (as curio)", function()
    local r = curio.ignore_after(0.01, function()
      curio.disable_cancellation(curio.sleep, 0.03)
      return "finished"
    end)
    assert.equal("finished", r)
    curio.sleep(0) -- and no stale timeout is left behind
  end)
end)


describe("cancellation voids deadlines (curio's trap_cancel_task)", function()
  it("no old deadline fires while a cancelled task cleans up", function()
    local t = curio.spawn(function()
      curio.timeout_after(0.05, function()
        local _, e = pcall(curio.sleep, 10) -- cancelled here
        curio.sleep(0.1) -- cleanup that blocks past the old deadline
        error(e, 0)
      end)
    end)
    curio.sleep(0.01)
    t:cancel()
    assert.is_true(t:cancelled())
    assert.equal("TaskCancelled", t:exception().kind)
  end)

  it("nested deadlines are voided too, and new ones in cleanup still work", function()
    local t = curio.spawn(function()
      curio.timeout_after(0.04, curio.timeout_after, 0.03, function()
        local _, e = pcall(curio.sleep, 10)
        curio.sleep(0.08)
        -- a deadline set during cleanup applies
        local r = curio.ignore_after(0.01, curio.sleep, 1)
        assert(r == nil, "the cleanup's own timeout fires")
        error(e, 0)
      end)
    end)
    curio.sleep(0.01)
    t:cancel()
    assert.equal("TaskCancelled", t:exception().kind)
  end)
end)
