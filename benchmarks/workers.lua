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

-- CPU-bound: sum 1..1e6, 64 times, in sequence and through the pools
local function sum(k)
  local s = 0
  for i = 1, k do s = s + i end
  return s
end
local jobs, K = math.max(2, n(64)), 1000000
t0 = clock()
for _ = 1, jobs do sum(K) end
local serial = clock() - t0
for _, pool in ipairs { "thread", "process" } do
  local run = pool == "thread" and curio.run_in_thread or curio.run_in_process
  -- start the workers (and their Lua states) first: measure the work, not the start
  local warm = curio.TaskGroup()
  for _ = 1, jobs do warm:spawn(run, sum, 1) end
  warm:join()
  t0 = clock()
  local gg = curio.TaskGroup()
  for _ = 1, jobs do gg:spawn(run, sum, K) end
  gg:join()
  print(("cpu_speedup_%s %.2f"):format(pool, serial / (clock() - t0)))
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
