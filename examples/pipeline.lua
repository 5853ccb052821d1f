-- A bounded producer/consumer pipeline with a pool of worker tasks.
-- Run: curio-lua examples/pipeline.lua [items] [workers]
local curio = require "curio"

local N = tonumber(arg and arg[1]) or 20
local WORKERS = tonumber(arg and arg[2]) or 4

local jobs = curio.Queue(5)       -- bounded: the producer waits when workers lag
local results = curio.Queue()
local done = curio.Event()

local function producer()
  for i = 1, N do
    jobs:put(i)
  end
  jobs:join()                     -- every job was task_done()
  done:set()
end

local function worker(id)
  while true do
    local n = jobs:get()
    curio.sleep(0.005 * (n % 3))  -- pretend to work
    results:put({ worker = id, n = n, square = n * n })
    jobs:task_done()
  end
end

local g <close> = curio.TaskGroup { wait = "none" }   -- closing cancels the workers
for id = 1, WORKERS do g:spawn(worker, id) end
curio.spawn(producer)

done:wait()
local total, per_worker = 0, {}
while not results:empty() do
  local r = results:get()
  total = total + r.square
  per_worker[r.worker] = (per_worker[r.worker] or 0) + 1
end
print(("processed %d items, sum of squares %d"):format(N, total))
for id = 1, WORKERS do print(("worker %d handled %d"):format(id, per_worker[id] or 0)) end
