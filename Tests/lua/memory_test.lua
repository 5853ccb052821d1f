-- The Lua allocator (Sources/CLuaShim/alloc.c): small blocks live in slabs that go
-- back to the system once empty, so a spike does not pin its memory (strings up to
-- 8 KiB included). The collector's pace (Sources/CLuaShim/gcpace.c).
local curio = require "curio"
local support = require "support"

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

  it("blocks of 1 to 20 KiB (slabs, then malloc) keep their contents through reuse, growth and shrinking", function()
    local keep = {}
    for round = 1, 3 do
      local garbage = {}
      for n = 1000, 20000, 97 do
        local s = string.rep(string.char(65 + n % 26), n)
        garbage[#garbage + 1] = s
        if n % 7 == round then keep[#keep + 1] = { n, s } end
      end
      assert.equal(196, #garbage) -- all alive until here, then garbage
      garbage = nil
      collectgarbage()
    end
    for _, k in ipairs(keep) do assert.equal(string.rep(string.char(65 + k[1] % 26), k[1]), k[2]) end
    -- a table's array part grows from small through medium to large blocks and back
    local t = {}
    for i = 1, 5000 do t[i] = i * 3 end
    for i = 5000, 11, -1 do t[i] = nil end
    collectgarbage() -- shrinks the array part
    for i = 1, 10 do assert.equal(i * 3, t[i]) end
    for i = 11, 3000 do t[i] = -i end
    for i = 11, 3000 do assert.equal(-i, t[i]) end
  end)

  -- A script in its own process (the pace is per Lua state): counts collector
  -- cycles while 4 KiB strings churn beside ~3 MB of live tables, yielding now and
  -- then (the pace is set at traps). Prints "cycles peak_kib live_kib".
  local CHURN = [[
    local curio = require "curio"
    local cycles = 0
    local function arm() setmetatable({}, { __gc = function() cycles = cycles + 1; arm() end }) end
    if arg[1] == "own" then collectgarbage("setpause", 200) end
    curio.run(function()
      local live = {}
      for i = 1, 30000 do live[i] = { i, i + 1 } end
      collectgarbage(); collectgarbage()
      local live_kib = collectgarbage("count")
      curio.sleep(0)
      arm()
      cycles = 0
      local peak, sink = 0, nil
      for i = 1, 10000 do -- 80 MB of 4 KiB strings
        sink = string.rep("x", 4096) .. i
        if i % 100 == 0 then
          curio.sleep(0)
          peak = math.max(peak, collectgarbage("count"))
        end
      end
      print(cycles, math.floor(peak), math.floor(live_kib))
    end)
  ]]
  local function churn(mode)
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(CHURN)
    f:close()
    local out, rc = support.run("'" .. path .. "' " .. (mode or ""))
    os.remove(path)
    assert.equal(0, rc, out)
    local cycles, peak, live = out:match("^(%d+)%s+(%d+)%s+(%d+)")
    assert.truthy(cycles, out)
    return tonumber(cycles), tonumber(peak), tonumber(live)
  end

  it("the collector lets garbage reach 8 MiB before a cycle, not only the live data's size", function()
    local cycles, peak, live = churn()
    -- 80 MB of strings (two per round); Lua's own pace (pause 200) runs a cycle per
    -- ~3 MB of it (~24 cycles), the floor one per ~8 MiB (~10)
    assert.is_true(cycles <= 14, ("%d cycles"):format(cycles))
    -- garbage stays near live + 8 MiB (the incremental collector overshoots a little)
    assert.is_true(peak < live + 14 * 1024, ("peak %d KiB, live %d KiB"):format(peak, live))
  end)

  it("a script that sets its own pause keeps it", function()
    local cycles, peak, live = churn("own") -- collectgarbage("setpause", 200)
    assert.is_true(cycles >= 18, ("%d cycles"):format(cycles))
    assert.is_true(peak < live * 2.5, ("peak %d KiB, live %d KiB"):format(peak, live))
  end)

  it("trim_memory gives back the free pages of slabs that still hold survivors", function()
    -- One survivor in every 2,000 objects: most slabs stay in use, so only a
    -- trim of the pages inside them can give the spike back.
    rss_checked()
    local core = require "curio.core"
    collectgarbage()
    core.trim_memory()
    local before = rss_kib()
    local t, keep = {}, {}
    for i = 1, 600000 do
      t[i] = { i, i + 1 } -- a table and its array part: two small blocks
      if i % 2000 == 0 then keep[#keep + 1] = t[i] end
    end
    local peak = rss_kib()
    t = nil
    collectgarbage()
    collectgarbage()
    local untrimmed = rss_kib()
    core.trim_memory()
    local after = rss_kib()
    assert.is_true(untrimmed - before > (peak - before) / 3, "survivors pin their slabs without the trim")
    assert.is_true(after - before < (peak - before) / 4,
      ("RSS before %d KiB, peak %d, collected %d, trimmed %d"):format(before, peak, untrimmed, after))
    -- the survivors are intact, and the slabs serve new blocks (in the pages given back too)
    for j, v in ipairs(keep) do assert.is_true(v[1] == j * 2000 and v[2] == j * 2000 + 1) end
    local again = {}
    for i = 1, 300000 do again[i] = { i, -i } end
    for i = 1, 300000, 997 do assert.is_true(again[i][1] == i and again[i][2] == -i) end
    for j, v in ipairs(keep) do assert.is_true(v[1] == j * 2000 and v[2] == j * 2000 + 1) end
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
