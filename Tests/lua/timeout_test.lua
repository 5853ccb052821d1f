local curio = require "curio"
local errors = curio.errors

describe("timeout_after", function()
  it("returns the function's results in time", function()
    local a, b = curio.timeout_after(1, function(x) curio.sleep(0.001) return x, "b" end, "a")
    assert.equal("a", a); assert.equal("b", b)
  end)

  it("raises TaskTimeout when it takes too long", function()
    local e = assert.raises_kind("TaskTimeout", curio.timeout_after, 0.01, curio.sleep, 1)
    assert.is_number(e.clock)
    assert.is_true(e:is(curio.CancelledError))
  end)

  it("ignore_after returns nil on timeout", function()
    assert.is_nil(curio.ignore_after(0.01, curio.sleep, 1))
    assert.equal(3, curio.ignore_after(1, function() return 3 end))
  end)

  it("timeout_after(nil, fn) adds no deadline", function()
    local before = curio.current_task().timeout -- the test runner's own deadline
    local inside
    assert.equal("ok", curio.timeout_after(nil, function()
      inside = curio.current_task().timeout
      curio.sleep(0.01)
      return "ok"
    end))
    assert.equal(before, inside)
  end)

  it("rejects a non-number timeout", function()
    assert.error_matches(function() curio.timeout_after("1", curio.sleep, 0) end,
      "bad argument #1 to 'timeout_after' %(number expected, got string%)")
    assert.error_matches(function() curio.ignore_after({}, curio.sleep, 0) end, "number expected, got table")
  end)

  it("rejects a non-function", function()
    assert.error_matches(function() curio.timeout_after(1, 5) end, "function expected, got number")
  end)

  it("leaves no deadline behind", function()
    local before = curio.current_task().timeout
    local inside
    curio.timeout_after(0.5, function() inside = curio.current_task().timeout end)
    assert.is_true(inside < before)
    assert.equal(before, curio.current_task().timeout)
    curio.sleep(0.01)
  end)

  it("the timeout error can be caught inside and the block goes on", function()
    local r = curio.timeout_after(0.01, function()
      local ok, e = pcall(curio.sleep, 1)
      return e.kind
    end)
    assert.equal("TaskTimeout", r)
  end)

  it("propagates other errors unchanged", function()
    local obj = {}
    local ok, e = pcall(curio.timeout_after, 1, function() error(obj) end)
    assert.equal(obj, e)
  end)

  it("a timed-out task is cancelled at the blocking call", function()
    local log = {}
    local r = curio.ignore_after(0.02, function()
      log[#log + 1] = "start"
      curio.sleep(1)
      log[#log + 1] = "not reached"
    end)
    assert.same({ "start" }, log)
  end)

  it("applies to waits on primitives", function()
    local ev = curio.Event()
    assert.raises_kind("TaskTimeout", curio.timeout_after, 0.01, ev.wait, ev)
    local q = curio.Queue()
    assert.raises_kind("TaskTimeout", curio.timeout_after, 0.01, q.get, q)
  end)

  it("timeout_at takes an absolute clock", function()
    local t0 = curio.clock()
    assert.raises_kind("TaskTimeout", curio.timeout_at, t0 + 0.01, curio.sleep, 1)
    assert.is_true(curio.clock() - t0 < 0.5)
  end)
end)

describe("nested timeouts", function()
  it("inner expires first: inner gets TaskTimeout, outer goes on", function()
    local log = {}
    local r = curio.timeout_after(1, function()
      local ok, e = pcall(curio.timeout_after, 0.01, curio.sleep, 1)
      log[#log + 1] = e.kind
      curio.sleep(0.01)
      return "outer done"
    end)
    log[#log + 1] = r
    assert.same({ "TaskTimeout", "outer done" }, log)
  end)

  it("outer expires first: inner sees TimeoutCancellationError, outer TaskTimeout", function()
    local log = {}
    local ok, e = pcall(curio.timeout_after, 0.01, function()
      local ok2, e2 = pcall(curio.timeout_after, 1, curio.sleep, 2)
      log[#log + 1] = e2.kind
      error(e2, 0)
    end)
    log[#log + 1] = e.kind
    assert.same({ "TimeoutCancellationError", "TaskTimeout" }, log)
  end)

  it("an inner timeout escaping an unexpired outer block is UncaughtTimeoutError", function()
    local e = assert.raises_kind("UncaughtTimeoutError", curio.timeout_after, 1, function()
      local inner = curio.TaskTimeout("timeout", { clock = curio.clock() })
      error(inner, 0)
    end)
    assert.is_false(e:is(curio.CancelledError))
  end)

  it("an inner TaskTimeout caught too late still escapes as Uncaught", function()
    local e = assert.raises_kind("UncaughtTimeoutError", curio.timeout_after, 1, function()
      local ok, err = pcall(curio.timeout_after, 0.01, curio.sleep, 1)
      error(err, 0) -- re-raised outside its own block
    end)
  end)

  it("a deadline never extends an outer one", function()
    local t0 = curio.clock()
    local ok, e = pcall(curio.timeout_after, 0.02, function()
      curio.timeout_after(5, curio.sleep, 5)
    end)
    assert.equal("TaskTimeout", e.kind)
    assert.is_true(curio.clock() - t0 < 1)
  end)

  it("ignore_after inside timeout_after: outer expiry propagates", function()
    local log = {}
    local ok, e = pcall(curio.timeout_after, 0.01, function()
      local r = curio.ignore_after(1, curio.sleep, 2)
      log[#log + 1] = "not reached"
    end)
    assert.equal("TaskTimeout", e.kind)
    assert.same({}, log)
  end)

  it("three levels: the middle one expires", function()
    local log = {}
    curio.timeout_after(1, function()
      local ok, e = pcall(curio.timeout_after, 0.01, function()
        local ok2, e2 = pcall(curio.timeout_after, 1, curio.sleep, 2)
        log[#log + 1] = e2.kind
        error(e2, 0)
      end)
      log[#log + 1] = e.kind
    end)
    assert.same({ "TimeoutCancellationError", "TaskTimeout" }, log)
  end)

  it("an expired outer deadline is delivered at the next blocking call", function()
    local log = {}
    local ok, e = pcall(curio.timeout_after, 0.01, function()
      curio.disable_cancellation(function()
        curio.timeout_after(1, curio.sleep, 0.02)
        log[#log + 1] = "inner ok"
      end)
      curio.sleep(0)
      log[#log + 1] = "not reached"
    end)
    assert.equal("TaskTimeout", e.kind)
    assert.same({ "inner ok" }, log)
  end)

  it("many sequential timeouts leave nothing pending", function()
    local before = curio.current_task().timeout
    for i = 1, 200 do curio.timeout_after(10, curio.sleep, 0) end
    assert.equal(before, curio.current_task().timeout)
    curio.sleep(0.001)
  end)
end)
