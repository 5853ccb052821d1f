-- Worker pools under faults: worker processes killed mid-job (WorkerError, the
-- worker replaced), mass cancellation of tasks waiting in run_in_thread (jobs
-- blocked in the pool, more than its threads) and in run_in_process (running and
-- queued; each running worker killed and reaped); afterwards both pools serve
-- again, every result verified byte for byte. After each round: no zombie, and
-- no child beyond the process pool's idle workers.
package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local common = require "common"
local curio = require "curio"

local per = common.full and 1000 or 100
local problems, cancelled, killed, verified = {}, 0, 0, 0

local function problem(s) if #problems < 5 then problems[#problems + 1] = s end end

local pattern = common.pattern

-- Jobs (moved as bytecode: globals and arguments only).
local function reverse(s) return s:reverse(), #s end
local function suicide() os.execute("kill -9 $PPID") while true do end end -- the shell's parent: the worker
local function spin() while true do end end
local function blocked(ev) ev:wait() return true end

-- Both pools serve, and every result comes back intact.
local function serve(n)
  local tasks = {}
  for i = 1, n do
    local data = pattern(1 + (i * 7919) % 200000, i)
    local run = i % 4 == 0 and curio.run_in_process or curio.run_in_thread
    tasks[i] = curio.spawn(function()
      local r, len = run(reverse, data)
      if r ~= data:reverse() or len ~= #data then problem("a worker result lost or corrupted") end
      verified = verified + 1
    end)
  end
  for _, t in ipairs(tasks) do
    local ok, e = pcall(t.join, t)
    if not ok then problem("serve: " .. tostring(e.cause or e)) end
  end
end

local function round()
  serve(per // 10)
  -- Worker processes killed mid-job (by SIGKILL from inside, and by exiting).
  for _ = 1, 3 do
    local ok, e = pcall(curio.run_in_process, suicide)
    if ok or not curio.errors.is(e, curio.WorkerError) or e.message ~= "worker process died (signal 9)" then
      problem("killed worker: " .. tostring(e))
    end
    killed = killed + 1
  end
  -- Mass cancellation of run_in_thread waits: more jobs than the pool's 64 threads,
  -- blocked on an event; the waiting tasks are released at once.
  local ev = curio.UniversalEvent()
  local tasks = {}
  for _ = 1, per do tasks[#tasks + 1] = curio.spawn(curio.run_in_thread, blocked, ev) end
  -- and of run_in_process waits: running (a worker spinning) and queued behind them.
  local n_proc = math.max(8, per // 20)
  for _ = 1, n_proc do tasks[#tasks + 1] = curio.spawn(curio.run_in_process, spin) end
  curio.sleep(0.3)
  for _, t in ipairs(tasks) do t:cancel({ blocking = false }) end
  for _, t in ipairs(tasks) do
    pcall(t.wait, t)
    if t.cancelled then cancelled = cancelled + 1 else problem("a worker wait was not cancelled") end
  end
  ev:set() -- the threads finish their jobs; the results are dropped
  serve(per // 10)
  local n, z = common.children()
  if z > 0 or n > curio.workers.process_pool_size then
    problem(("%d children (%d zombies) after the round; pool size %d"):format(n, z, curio.workers.process_pool_size))
  end
end

-- Warm-up rounds (the pools' threads, states and workers start), then fds and RSS
-- must stay flat. Each of the 64 pool threads has its own Lua state, collected by
-- its own allocation only: each holds up to a collection cycle's garbage of the
-- jobs it ran (strings of up to 200 KB here), so RSS reaches its plateau over
-- several rounds and moves within it (full sizes: 116-132 MB over 24 rounds, no
-- growth beyond); hence more warm-up and a wider margin (20% + 8 MiB) here.
local warm = common.full and 4 or 2
for _ = 1, warm do curio.run(round) end
local fds0, rss0 = common.fds(), common.baseline()
local rounds = common.full and 4 or 2
for _ = 1, rounds do curio.run(round) end
common.report("workers", problems,
  ("%d rounds (%d to warm up): %d worker processes killed mid-job, %d run_in_thread/run_in_process waits cancelled, %d results verified after, no zombie")
  :format(warm + rounds, warm, killed, cancelled, verified), fds0, rss0, { 1.2, 8192 })
