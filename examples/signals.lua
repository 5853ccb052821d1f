-- Unix signals with curio.signal: a service that reloads its configuration on
-- SIGHUP and shuts down gracefully on SIGTERM (or Ctrl-C), letting its workers
-- finish what they are doing.
-- Run: curio-lua examples/signals.lua          (then: kill -HUP <pid>, kill -TERM <pid>)
--      curio-lua examples/signals.lua demo     (sends itself SIGHUP, then SIGTERM)
local curio = require "curio"
local signal = require "curio.signal"

local config = { version = 1, delay = 0.1 }
local function reload()
  config = { version = config.version + 1, delay = config.delay }
  print(("reloaded configuration: version %d"):format(config.version))
end

local function worker(id, stopping)
  local jobs = 0
  while not stopping:is_set() do
    -- A job is never interrupted half-way: shutdown waits for the current one.
    curio.sleep(config.delay)
    jobs = jobs + 1
  end
  print(("worker %d finished after %d jobs"):format(id, jobs))
end

print("pid " .. signal.getpid() .. ": kill -HUP to reload, kill -TERM to stop")
local signals <close> = curio.SignalQueue(signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
local stopping = curio.Event()
local workers <close> = curio.TaskGroup()
for id = 1, 3 do workers:spawn(worker, id, stopping) end

if arg and arg[1] == "demo" then
  curio.spawn(function()
    curio.sleep(0.3)
    signal.raise_signal(signal.SIGHUP)
    curio.sleep(0.3)
    signal.raise_signal(signal.SIGTERM)
  end)
end

while true do
  local sig = signals:get()
  if sig == signal.SIGHUP then
    reload()
  else
    print(("got %s: shutting down"):format(signal.name(sig)))
    break
  end
end
stopping:set()
-- A worker stuck for more than 2 s is cancelled.
local finished = curio.ignore_after(2, function() workers:join(); return true end)
if not finished then workers:cancel_remaining() end
print("bye")
