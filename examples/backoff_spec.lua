-- A test file for `curio-lua test` (busted style) on the virtual clock:
--   curio-lua test examples/backoff_spec.lua
-- The reconnect loop below waits 1 + 2 + 4 + ... seconds between attempts and
-- gives up after a minute; on the virtual clock the whole test takes milliseconds.
local curio = require "curio"
curio.test.virtual_clock()

-- Calls connect() until it succeeds, sleeping 1, 2, 4 ... seconds (at most `cap`)
-- between attempts; raises TaskTimeout after `limit` seconds in all.
local function reconnect(connect, cap, limit)
  return curio.timeout_after(limit, function()
    local delay = 1
    while true do
      local ok, conn = pcall(connect)
      if ok then return conn end
      if curio.errors.is(conn, curio.CancelledError) then error(conn, 0) end
      curio.sleep(delay)
      delay = math.min(delay * 2, cap)
    end
  end)
end

describe("reconnect #slow", function()
  local attempts, t0
  before_each(function() attempts, t0 = 0, curio.clock() end)

  it("backs off exponentially until the server answers", function()
    local conn = reconnect(function()
      attempts = attempts + 1
      if attempts < 5 then error("connection refused") end
      return "connected"
    end, 30, 60)
    assert.equal("connected", conn)
    assert.near(1 + 2 + 4 + 8, curio.clock() - t0, 0.01)
  end)

  it("caps the delay", function()
    local waits, last = {}, curio.clock()
    pcall(reconnect, function()
      local now = curio.clock()
      waits[#waits + 1] = math.floor(now - last + 0.5)
      last = now
      error("down")
    end, 8, 40)
    assert.same({ 0, 1, 2, 4, 8, 8, 8, 8 }, { table.unpack(waits, 1, 8) })
  end)

  it("gives up after the limit", function()
    assert.raises_kind("TaskTimeout", reconnect, function() error("down") end, 30, 60)
    assert.near(60, curio.clock() - t0, 0.01)
  end)
end)
