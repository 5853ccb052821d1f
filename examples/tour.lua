-- A tour of tasks, cancellation and timeouts.  Run: curio-lua examples/tour.lua
local curio = require "curio"

-- A countdown that can be cancelled part-way.
local function countdown(n)
  while n > 0 do
    print("T-minus", n)
    curio.sleep(0.1)
    n = n - 1
  end
  return "liftoff"
end

-- spawn() starts a task; join() waits for its result.
local t = curio.spawn(countdown, 3)
print("countdown says:", t:join())

-- cancel() raises TaskCancelled at the task's blocking call; it may clean up.
local function worker()
  local _, e = pcall(curio.sleep, 10)
  print("worker unwinding:", e.kind)
  error(e, 0) -- re-raise so the task ends as cancelled
end
local w = curio.spawn(worker)
curio.sleep(0.05)
w:cancel()
print("worker cancelled:", w:cancelled())

-- timeout_after raises TaskTimeout; ignore_after returns nil instead.
local _, e = pcall(curio.timeout_after, 0.1, curio.sleep, 1)
print("timeout_after:", e.kind)
print("ignore_after:", curio.ignore_after(0.1, curio.sleep, 1))

-- Nested timeouts: the outer deadline expires while the inner block runs.
local _, outer = pcall(curio.timeout_after, 0.05, function()
  local _, inner = pcall(curio.timeout_after, 1, curio.sleep, 2)
  print("inner block sees:", inner.kind)
  error(inner, 0)
end)
print("outer block gets:", outer.kind)

-- A task group waits for its members; with wait="any", for the first to finish.
do
  local g <close> = curio.TaskGroup { wait = "any" }
  g:spawn(function() curio.sleep(0.2) return "slow" end)
  g:spawn(function() curio.sleep(0.05) return "fast" end)
  g:join()
  print("first finished:", g:result())
end

-- Your own coroutines may block too.
local numbers = coroutine.wrap(function()
  for i = 1, 3 do
    curio.sleep(0.01)
    coroutine.yield(i)
  end
end)
print("generator:", numbers(), numbers(), numbers())
