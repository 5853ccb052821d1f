-- The trap protocol's numbers come from one table (curio_ops.h), published to Lua.
local core = require "curio.core"
local K = require "curio.kernel"
local curio = require "curio"

describe("the op table", function()
  it("is published as core.K, core.T and core.S", function()
    assert.equal(core.K, K.K)
    assert.equal("number", math.type(core.K.CLOCK) and "number")
    assert.equal(0, core.S.OK)
    for _, name in ipairs { "SLEEP", "WAIT", "IO", "JOIN", "THREAD" } do
      assert.is_true(math.type(core.T[name]) == "integer", name)
    end
  end)

  it("numbers every kernel call the kernel answers", function()
    local seen = {}
    for name, n in pairs(core.K) do
      assert.is_nil(seen[n], "duplicate number " .. n)
      seen[n] = name
    end
    assert.is_true(math.abs(core.kcall(core.K.CLOCK) - curio.clock()) < 1)
  end)

  it("rejects a number outside the table", function()
    local ok, err = pcall(core.kcall, 99999)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("unknown kernel call 99999", 1, true))
    ok, err = pcall(core.kcall, 2^40 + core.K.CLOCK) -- no truncation onto a real call
    assert.is_false(ok)
  end)

  it("drives traps by name", function()
    local t0 = curio.clock()
    K.trap(core.T.SLEEP, 0.01, 0)
    assert.is_true(curio.clock() - t0 >= 0.009)
  end)
end)
