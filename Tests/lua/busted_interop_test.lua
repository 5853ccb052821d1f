-- The other way round: busted itself (Debian's lua-busted) with curio-lua as its
-- interpreter: `busted --lua=curio-lua`. Each busted test runs inside curio-lua's
-- main task, so blocking curio calls work in it directly.
local support = require "support"

local function has_busted() return select(2, support.sh("command -v busted")) == 0 end

describe("busted --lua=curio-lua", function()
  it("runs a spec that blocks on curio calls", function()
    if not has_busted() then return pending("busted is not installed (apt-get install lua-busted)") end
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir .. "/spec"))
    local f = assert(io.open(dir .. "/spec/curio_spec.lua", "w"))
    f:write([[
local curio = require "curio"
describe("curio under busted", function()
  it("sleeps in the main task", function()
    local t0 = curio.clock()
    curio.sleep(0.01)
    assert.is_true(curio.clock() - t0 >= 0.009)
  end)
  it("runs a task group", function()
    local g = curio.TaskGroup()
    local t = g:spawn(function() return 42 end)
    g:join()
    assert.equal(42, t:result())
  end)
  it("fails like any busted test", function() assert.equal(1, 2) end)
end)
]])
    f:close()
    local out, rc = support.sh("cd " .. dir .. " && timeout 60 busted --lua='" .. support.exe .. "' -o TAP")
    os.execute("rm -rf '" .. dir .. "'")
    assert.equal(1, rc, out)
    assert.matches("ok 1 %- curio under busted sleeps in the main task\n", out)
    assert.matches("ok 2 %- curio under busted runs a task group\n", out)
    assert.matches("not ok 3 %- curio under busted fails like any busted test\n", out)
    assert.matches("1..3\n", out)
  end)
end)
