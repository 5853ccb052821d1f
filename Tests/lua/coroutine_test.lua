local curio = require "curio"

describe("coroutines inside tasks", function()
  it("a blocking call inside coroutine.wrap suspends the task and resumes the coroutine", function()
    local gen = coroutine.wrap(function()
      for i = 1, 3 do
        curio.sleep(0.001)
        coroutine.yield(i)
      end
    end)
    assert.equal(1, gen()); assert.equal(2, gen()); assert.equal(3, gen())
  end)

  it("user yields still reach the user's resume", function()
    local co = coroutine.create(function(a)
      local b = coroutine.yield(a + 1)
      curio.sleep(0)
      local c = coroutine.yield(b * 2)
      return c .. "!"
    end)
    assert.same({ true, 2 }, { coroutine.resume(co, 1) })
    assert.same({ true, 20 }, { coroutine.resume(co, 10) })
    assert.same({ true, "end!" }, { coroutine.resume(co, "end") })
    assert.equal("dead", coroutine.status(co))
  end)

  it("other tasks run while a user coroutine is blocked", function()
    local log = {}
    local other = curio.spawn(function() log[#log + 1] = "other" end)
    local co = coroutine.wrap(function()
      log[#log + 1] = "co before"
      curio.sleep(0.01)
      log[#log + 1] = "co after"
    end)
    co()
    other:join()
    assert.same({ "co before", "other", "co after" }, log)
  end)

  it("nested user coroutines forward traps through every level", function()
    local outer = coroutine.wrap(function()
      local inner = coroutine.wrap(function()
        curio.sleep(0.001)
        coroutine.yield("inner")
      end)
      coroutine.yield(inner())
      curio.sleep(0.001)
      coroutine.yield("outer")
    end)
    assert.equal("inner", outer())
    assert.equal("outer", outer())
  end)

  it("cancellation reaches a task blocked inside a user coroutine", function()
    local log = {}
    local t = curio.spawn(function()
      local co = coroutine.wrap(function()
        local ok, e = pcall(curio.sleep, 5)
        log[#log + 1] = e.kind
        error(e, 0)
      end)
      co()
    end)
    curio.sleep(0.01)
    t:cancel()
    assert.same({ "TaskCancelled" }, log)
    assert.equal("TaskCancelled", t:exception().kind)
  end)

  it("timeouts apply inside user coroutines", function()
    local co = coroutine.wrap(function() return curio.ignore_after(0.01, curio.sleep, 1) end)
    assert.is_nil(co())
  end)

  it("errors in wrapped coroutines propagate to the caller", function()
    local co = coroutine.wrap(function() curio.sleep(0); error("inside", 0) end)
    assert.has_error(co, "inside")
  end)

  it("coroutine.resume returns false and the error", function()
    local co = coroutine.create(function() curio.sleep(0); error("bad", 0) end)
    local ok, e = coroutine.resume(co)
    assert.is_false(ok)
    assert.equal("bad", e)
  end)

  it("a generator can use a queue", function()
    local q = curio.Queue()
    local producer = curio.spawn(function() for i = 1, 3 do q:put(i) curio.sleep(0.001) end end)
    local gen = coroutine.wrap(function() for _ = 1, 3 do coroutine.yield(q:get()) end end)
    assert.same({ 1, 2, 3 }, { gen(), gen(), gen() })
    producer:join()
  end)
end)
