-- A small service with two problems to find (docs/debugging.md walks through it):
--   curio-lua --monitor examples/stuck.lua
-- then, from another terminal, `curio-lua monitor`: `ps` shows the workers stuck
-- in LOCK_WAIT, `where ID` shows the line each waits on, and cancelling the task
-- that holds the lock lets them go on. `CURIO_DEBUG=longblock` names the task that
-- keeps the kernel busy for 80 ms at a time.
-- Argument: seconds to run (default: until interrupted).
local curio = require "curio"

local lock = curio.Lock()
local never = curio.Event()
local jobs = curio.Queue()

local function holder()
  local _ <close> = lock:hold()
  never:wait() -- the bug: it holds the lock while waiting for an event nobody sets
end

local function worker(n)
  while true do
    local job = jobs:get()
    local _ <close> = lock:hold() -- stuck here while holder() keeps the lock
    print(("worker %d: job %d"):format(n, job))
    io.stdout:flush()
  end
end

local function crunch()
  while true do
    local t0, spins = curio.clock(), 0
    while curio.clock() - t0 < 0.08 do spins = spins + 1 end -- 80 ms without blocking
    curio.sleep(1)
  end
end

local function producer()
  for i = 1, math.huge do
    jobs:put(i)
    curio.sleep(0.5)
  end
end

local seconds = tonumber(arg and arg[1])
curio.spawn(holder)
for n = 1, 2 do curio.spawn(worker, n) end
curio.spawn(crunch)
local p = curio.spawn(producer)
if seconds then curio.sleep(seconds) else p:join() end
