-- The virtual clock (curio.test.virtual_clock() for this file; --virtual-clock
-- for a whole run): sleeps and timeouts take no real time.
local curio = require "curio"
local support = require "support"
curio.test.virtual_clock()

describe("virtual clock", function()
  it("sleep(3600) returns at once and clock() reports virtual seconds", function()
    local wall = os.time()
    local t0 = curio.clock()
    assert.near(3600, curio.sleep(3600) - t0, 0.5)
    assert.near(3600, curio.clock() - t0, 0.5)
    assert.is_true(os.time() - wall < 60)
  end)

  it("timeouts fire at their virtual deadline, in deadline order", function()
    local order = {}
    local g = curio.TaskGroup()
    for _, d in ipairs { 30, 10, 20 } do
      g:spawn(function() curio.sleep(d); order[#order + 1] = d end)
    end
    g:join()
    assert.same({ 10, 20, 30 }, order)
    local t0 = curio.clock()
    local e = assert.raises_kind("TaskTimeout", curio.timeout_after, 5, curio.sleep, 100)
    assert.truthy(e)
    assert.near(5, curio.clock() - t0, 0.5)
  end)

  it("a retry loop with back-off runs instantly", function()
    local t0, tries = curio.clock(), 0
    local delay = 1
    while tries < 10 do tries = tries + 1; curio.sleep(delay); delay = delay * 2 end
    assert.near(1023, curio.clock() - t0, 0.5)
  end)

  it("real I/O still works (no jump while it is pending)", function()
    local socket = curio.socket
    local a, b = socket.socketpair()
    curio.spawn(function() curio.sleep(0.01); b:sendall("hi") end)
    assert.equal("hi", a:recv(10))
    a:close(); b:close()
  end)

  it("a deadlock is reported at once instead of after the timeout", function()
    local out = support.run("test --timeout 5 Tests/lua/fixtures/runner/deadlock.lua")
    assert.matches("timed out after 86400 virtual seconds %(deadlocked%?%)", out)
  end)

  it("examples/backoff_spec.lua runs its minutes of back-off at once", function()
    local wall = os.time()
    local out, rc = support.run("test examples/backoff_spec.lua")
    assert.equal(0, rc, out)
    assert.matches("\n3 passed, 0 failed\n$", out)
    assert.is_true(os.time() - wall < 30)
  end)

  it("--virtual-clock applies to a whole run; without it, time is real", function()
    local out = support.run("test --virtual-clock Tests/lua/fixtures/runner/sleeper.lua")
    assert.matches("\n1 passed, 0 failed\n$", out)
    out = support.run("test --timeout 0.5 Tests/lua/fixtures/runner/sleeper.lua")
    assert.matches("test timed out after 0.5s", out)
  end)
end)
