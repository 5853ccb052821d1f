-- Synchronization benchmarks: queue ping-pong, Event hand-off, Lock hand-off.
-- Run: curio-lua benchmarks/sync.lua [n]
local curio = require "curio"
local N = tonumber(arg and arg[1]) or 200000

-- queue ping-pong between two tasks
local q1, q2 = curio.Queue(), curio.Queue()
local pong = curio.spawn(function()
  for _ = 1, N do q2:put(q1:get()) end
end)
local t0 = curio.clock()
for i = 1, N do
  q1:put(i)
  q2:get()
end
local dt = curio.clock() - t0
pong:join()
print(("queue_pingpong msgs=%d msgs_per_s=%.0f"):format(2 * N, 2 * N / dt))

-- Event hand-off: two tasks alternate through a pair of events
local a, b = curio.Event(), curio.Event()
local other = curio.spawn(function()
  for _ = 1, N do
    a:wait(); a:clear()
    b:set()
  end
end)
t0 = curio.clock()
for _ = 1, N do
  a:set()
  b:wait(); b:clear()
end
dt = curio.clock() - t0
other:join()
print(("event_handoff handoffs=%d per_s=%.0f"):format(2 * N, 2 * N / dt))

-- Lock hand-off among 10 tasks
local lock = curio.Lock()
local per = N // 10
local function worker()
  for _ = 1, per do
    lock:acquire()
    curio.sleep(0)
    lock:release()
  end
end
t0 = curio.clock()
local g = curio.TaskGroup()
for _ = 1, 10 do g:spawn(worker) end
g:join()
dt = curio.clock() - t0
print(("lock_handoff tasks=10 handoffs=%d per_s=%.0f"):format(per * 10, per * 10 / dt))
