-- The examples are part of the documentation: they must keep running.
local run = require("support").run

describe("examples", function()
  it("tour.lua", function()
    local out, rc = run("examples/tour.lua")
    assert.equal(0, rc, out)
    assert.matches("countdown says:\tliftoff\n", out)
    assert.matches("worker unwinding:\tTaskCancelled\n", out)
    assert.matches("inner block sees:\tTimeoutCancellationError\nouter block gets:\tTaskTimeout\n", out)
    assert.matches("first finished:\tfast\n", out)
    assert.matches("generator:\t1\t2\t3\n", out)
  end)

  it("pipeline.lua", function()
    local out, rc = run("examples/pipeline.lua 30 3")
    assert.equal(0, rc, out)
    -- 1^2 + ... + 30^2
    assert.matches("processed 30 items, sum of squares 9455\n", out)
    local handled = 0
    for n in out:gmatch("handled (%d+)") do handled = handled + tonumber(n) end
    assert.equal(30, handled)
  end)

  it("stuck.lua (docs/debugging.md)", function()
    local out, rc = run("examples/stuck.lua 0.3", "CURIO_DEBUG=longblock")
    assert.equal(0, rc, out)
    assert.is_nil(out:find("worker", 1, true), "the workers are stuck behind the lock")
    assert.matches("curio: longblock task 5 %(crunch@examples/stuck%.lua:28%) ran [%d.]+ s without blocking; " ..
      "then blocked at examples/stuck%.lua:32:", out)
  end)
end)
