-- Workers benchmarks (benchmarks/workers.sh): prints "name value" lines.
--   curio-lua benchmarks/workers.lua SCALE
local curio = require "curio"
local codec = require "curio.ccodec"
local clock = curio.clock
local scale = tonumber(arg[1]) or 1
local mode = arg[2] or "all" -- "pool", "codec" or "all"

local function n(x) return math.max(1, math.floor(x * scale)) end
local function trivial(x) return x end

if mode ~= "codec" then
-- round trips of a trivial function, one task in sequence
local N = n(100000)
curio.run_in_thread(trivial, 1)
local t0 = clock()
for _ = 1, N do curio.run_in_thread(trivial, 1) end
print(("seq %.0f"):format(N / (clock() - t0)))

-- the same from 100 tasks at once
local per = n(1000)
t0 = clock()
local g = curio.TaskGroup()
for _ = 1, 100 do
  g:spawn(function() for _ = 1, per do curio.run_in_thread(trivial, 1) end end)
end
g:join()
print(("par100 %.0f"):format(100 * per / (clock() - t0)))

-- CPU-bound: sum 1..1e6, 64 times, in sequence (the same function in the main
-- state, one call after the other) and through the pools (64 at once)
local function sum(k)
  local s = 0
  for i = 1, k do s = s + i end
  return s
end
local jobs, K = math.max(2, n(64)), 1000000
-- wall and CPU seconds of the jobs in sequence
local function in_sequence()
  local c, t = os.clock(), clock()
  for _ = 1, jobs do sum(K) end
  return clock() - t, os.clock() - c
end
local function hold(started, ev)
  started:put(true)
  return ev:wait()
end
for _, pool in ipairs { "thread", "process" } do
  local run = pool == "thread" and curio.run_in_thread or curio.run_in_process
  -- Start the workers (and their Lua states) first: measure the work, not the
  -- start. Threads: `jobs` calls that all wait on one event until every one of
  -- them runs, so that the pool grows to `jobs` threads, each with its Lua state
  -- (quick calls would reuse a few threads and leave the rest to be started
  -- inside the measurement). Processes: one per CPU; quick calls start them all.
  local warm, started, ev = curio.TaskGroup(), curio.UniversalQueue(), curio.UniversalEvent()
  for _ = 1, jobs do
    if pool == "thread" then warm:spawn(run, hold, started, ev) else warm:spawn(run, sum, 1) end
  end
  if pool == "thread" then
    for _ = 1, jobs do started:get() end
    ev:set()
  end
  warm:join()
  -- in sequence before and after the fan-out (the machine's load drifts)
  local w1, c1 = in_sequence()
  local c, t = os.clock(), clock()
  local gg = curio.TaskGroup()
  for _ = 1, jobs do gg:spawn(run, sum, K) end
  gg:join()
  local wall, cpu = clock() - t, os.clock() - c
  local w2, c2 = in_sequence()
  print(("cpu_speedup_%s %.2f"):format(pool, (w1 + w2) / 2 / wall))
  -- os.clock counts every thread of this process (not child processes): the CPU
  -- the thread pool spent on the jobs per CPU they take in sequence (1.0: no
  -- overhead; then the speed-up is bounded by the CPUs left free by others)
  if pool == "thread" then print(("cpu_cost_thread %.3f"):format(cpu / ((c1 + c2) / 2))) end
end

end
if mode == "pool" then return end

-- codec round trips (dumps + loads) next to lua-cjson, when installed
local records = {}
for i = 1, 1000 do records[i] = { id = i, name = "name" .. i, tags = { "a", "b", "c" } } end
local nested = { leaf = "x" }
for _ = 1, 9 do nested = { child = nested, n = 1 } end
local cases = { records = records, mib = string.rep("x", 1 << 20), nested10 = nested }
local ok, cjson = pcall(require, "cjson")
-- CPU time (os.clock), as the pickle side (process_time): on a shared machine
-- that is fairer than wall time.
local function rate(f, v)
  local reps, t = 0, os.clock()
  local budget = 0.5 * scale + 0.02
  repeat
    for _ = 1, 10 do f(v) end
    reps = reps + 10
  until os.clock() - t > budget
  return reps / (os.clock() - t)
end
for _, name in ipairs { "records", "mib", "nested10" } do
  local v = cases[name]
  print(("codec_%s %.0f"):format(name, rate(function(x) return codec.loads(codec.dumps(x)) end, v)))
  if ok then
    print(("cjson_%s %.0f"):format(name, rate(function(x) return cjson.decode(cjson.encode(x)) end, v)))
  end
end
