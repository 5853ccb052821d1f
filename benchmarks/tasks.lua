-- Task benchmarks: spawn+join throughput, scheduler hop, memory per sleeping task.
-- Run: curio-lua benchmarks/tasks.lua [n]   (prints one line per figure)
local curio = require "curio"
local N = tonumber(arg and arg[1]) or 100000

local function rss_kib()
  local f = io.open("/proc/self/status")
  if not f then return 0 end
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s+(%d+)")) or 0
end

local function noop() end

-- spawn + join
local t0 = curio.clock()
local tasks = {}
for i = 1, N do tasks[i] = curio.spawn(noop) end
for i = 1, N do tasks[i]:join() end
local dt = curio.clock() - t0
tasks = nil
print(("spawn_join tasks=%d seconds=%.3f tasks_per_s=%.0f"):format(N, dt, N / dt))

-- scheduler hop: one task doing sleep(0)
local HOPS = N * 10
t0 = curio.clock()
for _ = 1, HOPS do curio.sleep(0) end
dt = curio.clock() - t0
print(("sleep0_hop hops=%d ns_per_hop=%.0f"):format(HOPS, dt / HOPS * 1e9))

-- memory of N tasks sleeping at once
collectgarbage()
collectgarbage()
local before = rss_kib()
local ev = curio.Event()
local sleepers = {}
for i = 1, N do sleepers[i] = curio.spawn(ev.wait, ev) end
curio.sleep(0)
collectgarbage()
local after = rss_kib()
print(("sleeping_tasks tasks=%d rss_kib=%d bytes_per_task=%.0f"):format(N, after - before,
  (after - before) * 1024 / N))
ev:set()
for i = 1, N do sleepers[i]:join() end
