-- Kernel micro-benchmarks, one per process so memory figures start clean.
-- Run: curio-lua benchmarks/micro.lua NAME [scale]   (NAME "list" lists them)
-- Prints "NAME value unit"; scale < 1 shrinks every count (smoke runs).
local curio = require "curio"
local NAME = arg and arg[1] or "list"
local SCALE = tonumber(arg and arg[2]) or 1

local function n(x) return math.max(10, math.floor(x * SCALE)) end
local function rss_kib()
  local f = io.open("/proc/self/status")
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s+(%d+)"))
end
local function noop() end

local bench = {}

-- one task doing sleep(0): a full trip through the scheduler
function bench.hop()
  local hops = n(1000000)
  local t0 = curio.clock()
  for _ = 1, hops do curio.sleep(0) end
  return (curio.clock() - t0) / hops * 1e9, "ns"
end

-- the same with CURIO_DEBUG=longblock on (threshold 1 s: it never warns): the cost
-- of the kernel's tracer, two clock reads a step
function bench.hop_longblock()
  local diagnostics = require "curio.diagnostics"
  diagnostics.configure("longblock=1")
  local ns, unit = bench.hop()
  diagnostics.configure("")
  return ns, unit
end

-- spawn + join: all 100,000 spawned first (all alive at once), then all joined
function bench.spawn_join()
  local count = n(100000)
  local tasks = {}
  local t0 = curio.clock()
  for i = 1, count do tasks[i] = curio.spawn(noop) end
  for i = 1, count do tasks[i]:join() end
  return count / (curio.clock() - t0), "tasks/s"
end

-- spawn + join one task at a time: each join suspends the parent until the child ran
function bench.spawn_join_each()
  local count = n(100000)
  local t0 = curio.clock()
  for _ = 1, count do curio.spawn(noop):join() end
  return count / (curio.clock() - t0), "tasks/s"
end

-- spawn + join in batches of 1,000 (spawned, then joined): memory stays warm
function bench.spawn_join_batch()
  local count, batch = n(100000), 1000
  local tasks = {}
  local t0 = curio.clock()
  for _ = 1, math.max(1, count // batch) do
    for i = 1, batch do tasks[i] = curio.spawn(noop) end
    for i = 1, batch do tasks[i]:join() end
  end
  return math.max(1, count // batch) * batch / (curio.clock() - t0), "tasks/s"
end

-- resident memory of tasks sleeping at once
local function sleeping(count)
  collectgarbage()
  collectgarbage()
  local before = rss_kib()
  local tasks = {} -- kept alive while RSS is measured
  for i = 1, count do tasks[i] = curio.spawn(curio.sleep, 3600) end
  assert(#tasks == count)
  curio.sleep(0)
  collectgarbage()
  local bytes = (rss_kib() - before) * 1024 / count
  os.exit(print(("%s %.6g B"):format(NAME, bytes)) and 0) -- skip cancelling them all
end
function bench.sleeping_100k() sleeping(n(100000)) end
function bench.sleeping_1m() sleeping(n(1000000)) end

-- queue ping-pong between two tasks
function bench.queue_pingpong()
  local msgs = n(200000)
  local q1, q2 = curio.Queue(), curio.Queue()
  local pong = curio.spawn(function() for _ = 1, msgs do q2:put(q1:get()) end end)
  local t0 = curio.clock()
  for i = 1, msgs do q1:put(i); q2:get() end
  local dt = curio.clock() - t0
  pong:join()
  return 2 * msgs / dt, "msgs/s"
end

-- Event hand-off between two tasks
function bench.event_handoff()
  local k = n(200000)
  local a, b = curio.Event(), curio.Event()
  local other = curio.spawn(function()
    for _ = 1, k do a:wait(); a:clear(); b:set() end
  end)
  local t0 = curio.clock()
  for _ = 1, k do a:set(); b:wait(); b:clear() end
  local dt = curio.clock() - t0
  other:join()
  return 2 * k / dt, "handoffs/s"
end

-- Lock hand-off among 10 tasks (each holds it across a sleep(0))
function bench.lock_handoff()
  local per = n(20000)
  local lock = curio.Lock()
  local function worker()
    for _ = 1, per do lock:acquire(); curio.sleep(0); lock:release() end
  end
  local t0 = curio.clock()
  local g = curio.TaskGroup()
  for _ = 1, 10 do g:spawn(worker) end
  g:join()
  return 10 * per / (curio.clock() - t0), "handoffs/s"
end

-- 10,000 tasks sleeping over the next 100 ms, spread uniformly: wall time until
-- the last one is awake, against the ideal 100 ms. `start(i, t0, d)` is what
-- task i runs to sleep d seconds.
local function sleepers(start)
  local count = n(10000)
  local t0 = curio.clock()
  local g = curio.TaskGroup()
  for i = 1, count do g:spawn(start, t0, 0.1 * (i - 1) / (count - 1)) end
  g:join()
  return (curio.clock() - t0) * 1000, "ms"
end

-- Absolute deadlines: how late a kernel with 10,000 pending timers wakes its
-- sleepers (spawning them is measured by spawn_join).
function bench.sleepers_10k()
  return sleepers(function(t0, d) curio.wake_at(t0 + d) end)
end

-- Relative sleeps (sleep(d) as each task starts): includes spawning 10,000 tasks.
function bench.sleepers_10k_relative()
  return sleepers(function(_, d) curio.sleep(d) end)
end

-- timeout_after deadlines created and cancelled
function bench.timeouts()
  local count = n(100000)
  local t0 = curio.clock()
  for _ = 1, count do curio.timeout_after(10, noop) end
  return count / (curio.clock() - t0), "timeouts/s"
end

-- 100,000 deadlines pending at once (one per task, each waiting inside
-- timeout_after), then all cancelled as the blocks finish early
function bench.pending_timeouts()
  local count = n(100000)
  local go = curio.Event()
  local function waiter() curio.timeout_after(60, go.wait, go) end
  local t0 = curio.clock()
  local g = curio.TaskGroup()
  for _ = 1, count do g:spawn(waiter) end
  curio.sleep(0) -- every task now waits with its deadline pending
  go:set()
  g:join()
  return count / (curio.clock() - t0), "tasks/s"
end

if NAME == "list" then
  local names = {}
  for k in pairs(bench) do names[#names + 1] = k end
  table.sort(names)
  print(table.concat(names, " "))
elseif bench[NAME] then
  local v, unit = bench[NAME]()
  print(("%s %.6g %s"):format(NAME, v, unit))
else
  io.stderr:write("unknown benchmark ", NAME, "\n")
  os.exit(2)
end
