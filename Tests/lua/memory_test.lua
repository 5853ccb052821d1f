-- The Lua allocator (Sources/CLuaShim/alloc.c): small blocks live in slabs that go
-- back to the system once empty, so a spike does not pin its memory.
local curio = require "curio"

local function rss_kib()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s+(%d+)"))
end

-- Collects, then checks that RSS came back to within `share` of the spike.
-- scripts/sanitize.sh sets CURIO_SANITIZER: under ASan every block is malloc'd
-- and freed blocks sit in ASan's quarantine, so RSS says nothing about alloc.c.
local function rss_checked()
  if os.getenv("CURIO_SANITIZER") then pending("RSS is not alloc.c's under a sanitizer") end
end

local function assert_returned(before, peak, share)
  collectgarbage()
  collectgarbage()
  local after = rss_kib()
  assert.is_true(after - before < (peak - before) * share,
    ("RSS before %d KiB, peak %d, after %d"):format(before, peak, after))
end

describe("memory", function()
  it("returns the memory of a spike of small objects", function()
    rss_checked()
    collectgarbage()
    local before = rss_kib()
    local t = {}
    for i = 1, 1000000 do t[i] = { i } end -- ~80 MB of small blocks
    local peak = rss_kib()
    assert.is_true(peak - before > 50000, "the spike should be visible in RSS")
    t = nil
    assert_returned(before, peak, 1 / 4) -- a few MiB of empty slabs stay warm for reuse
  end)

  it("reuses freed blocks across size classes and keeps values intact", function()
    local keep = {}
    for round = 1, 3 do
      local garbage = {}
      for i = 1, 20000 do
        garbage[i] = string.rep("x", i % 900) -- many classes, up to the small limit
        if i % 100 == 0 then keep[#keep + 1] = { round, i, garbage[i] } end
      end
      garbage = nil
      collectgarbage()
    end
    for _, k in ipairs(keep) do assert.equal(string.rep("x", k[2] % 900), k[3]) end
    assert.equal(600, #keep)
  end)

  it("100,000 waiting tasks: most of their memory comes back once they end", function()
    rss_checked()
    local before = rss_kib()
    local ev = curio.Event()
    local g = curio.TaskGroup()
    for _ = 1, 100000 do g:spawn(ev.wait, ev) end
    curio.sleep(0)
    local peak = rss_kib()
    ev:set()
    g:join()
    g = nil
    -- the Lua side returns its slabs; the kernel's tables keep their capacity
    assert_returned(before, peak, 1 / 2)
  end)
end)
