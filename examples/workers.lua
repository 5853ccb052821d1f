-- examples/workers.lua: a CPU-bound fan-out across threads and processes.
-- Counts the primes below N in chunks: half the chunks run in the thread pool
-- (each worker thread puts its result straight into a UniversalQueue, the same
-- object the tasks see), half in worker processes (a Universal queue cannot leave
-- the process, so their results come back to a task, which forwards them). One
-- task collects everything from the queue while the workers compute.
--   curio-lua examples/workers.lua [N=2000000] [CHUNKS=16]
local curio = require "curio"

local N = math.tointeger(tonumber(arg and arg[1] or "")) or 2000000
local CHUNKS = math.tointeger(tonumber(arg and arg[2] or "")) or 16

-- Runs in a worker, so it uses only globals and its arguments (it moves as
-- bytecode). Puts its result into `results` if given, else returns it.
local function count_primes(lo, hi, results)
  local count = 0
  for n = math.max(lo, 2), hi do
    local prime = true
    for d = 2, math.floor(math.sqrt(n)) do
      if n % d == 0 then prime = false; break end
    end
    if prime then count = count + 1 end
  end
  if not results then return count end
  results:put({ lo = lo, hi = hi, count = count, where = "thread" })
end

local function main()
  local results = curio.UniversalQueue()
  local step = N // CHUNKS + 1
  local t0 = curio.clock()
  local g = curio.TaskGroup()
  for i = 0, CHUNKS - 1 do
    local lo, hi = i * step, math.min(N - 1, (i + 1) * step - 1)
    if i % 2 == 0 then
      g:spawn(curio.run_in_thread, count_primes, lo, hi, results)
    else
      g:spawn(function()
        local count = curio.run_in_process(count_primes, lo, hi)
        results:put({ lo = lo, hi = hi, count = count, where = "process" })
      end)
    end
  end
  local total, by = 0, { thread = 0, process = 0 }
  for _ = 1, CHUNKS do
    local r = results:get()
    total = total + r.count
    by[r.where] = by[r.where] + 1
  end
  g:join()
  print(("%d primes below %d (%d chunks: %d in threads, %d in processes) in %.2f s"):format(
    total, N, CHUNKS, by.thread, by.process, curio.clock() - t0))
  return total
end

return curio.run(main)
