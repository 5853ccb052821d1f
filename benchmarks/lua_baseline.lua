-- The same shapes in plain Lua 5.4 coroutines, without a kernel: the floor each
-- micro-benchmark is compared with. Run: lua5.4 benchmarks/lua_baseline.lua NAME [scale]
local NAME = arg[1]
local SCALE = tonumber(arg[2]) or 1
local function n(x) return math.max(10, math.floor(x * SCALE)) end
local clock = os.clock
local function rss_kib()
  local f = io.open("/proc/self/status")
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s+(%d+)"))
end

local bench = {}

function bench.hop() -- a resume/yield round trip
  local hops = n(1000000)
  local co = coroutine.wrap(function() while true do coroutine.yield() end end)
  local t0 = clock()
  for _ = 1, hops do co() end
  return (clock() - t0) / hops * 1e9, "ns"
end

function bench.spawn_join() -- create, then run to completion
  local count = n(100000)
  local function noop() end
  local cos = {}
  local t0 = clock()
  for i = 1, count do cos[i] = coroutine.create(noop) end
  for i = 1, count do coroutine.resume(cos[i]) end
  return count / (clock() - t0), "tasks/s"
end

function bench.spawn_join_each() -- create one, run it to completion, next
  local count = n(100000)
  local function noop() end
  local t0 = clock()
  for _ = 1, count do coroutine.resume(coroutine.create(noop)) end
  return count / (clock() - t0), "tasks/s"
end

function bench.spawn_join_batch() -- batches of 1,000: created, then run
  local count, batch = n(100000), 1000
  local function noop() end
  local cos = {}
  local t0 = clock()
  for _ = 1, math.max(1, count // batch) do
    for i = 1, batch do cos[i] = coroutine.create(noop) end
    for i = 1, batch do coroutine.resume(cos[i]) end
  end
  return math.max(1, count // batch) * batch / (clock() - t0), "tasks/s"
end

local function sleeping(count) -- suspended coroutines
  collectgarbage(); collectgarbage()
  local before = rss_kib()
  local cos = {}
  for i = 1, count do
    cos[i] = coroutine.create(function() coroutine.yield() end)
    coroutine.resume(cos[i])
  end
  collectgarbage()
  return (rss_kib() - before) * 1024 / count, "B"
end
function bench.sleeping_100k() return sleeping(n(100000)) end
function bench.sleeping_1m() return sleeping(n(1000000)) end

function bench.queue_pingpong() -- a value through a coroutine and back
  local msgs = n(200000)
  local co = coroutine.wrap(function(v) while true do v = coroutine.yield(v) end end)
  local t0 = clock()
  for i = 1, msgs do co(i) end
  return 2 * msgs / (clock() - t0), "msgs/s"
end
bench.event_handoff = bench.queue_pingpong
bench.hop_longblock = bench.hop

if bench[NAME] then
  local v, unit = bench[NAME]()
  print(("%s %.6g %s"):format(NAME, v, unit))
end
