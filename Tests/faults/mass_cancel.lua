-- Mass cancellation: tasks blocked in every kind of wait are cancelled at once;
-- each must end with TaskCancelled (none left blocked, none resumed wrongly).
package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local common = require "common"
local curio = require "curio"

local per = common.full and 10000 or 1000
local fds0 = common.fds()
local problems, count, secs = {}, 0, 0

local function round()
  local ev, lock, sem, cond = curio.Event(), curio.Lock(), curio.Semaphore(0), curio.Condition()
  local empty, full = curio.Queue(), curio.Queue(1)
  full:put(0)
  lock:acquire()
  local sleeper = curio.spawn(curio.sleep, 3600)
  local listener = curio.tcp_server_socket("127.0.0.1", 0)
  local pairs_ = {}
  local waits = {
    sleep = function() curio.sleep(3600) end,
    event = function() ev:wait() end,
    lock = function() lock:acquire() end,
    semaphore = function() sem:acquire() end,
    condition = function() -- a cancelled wait re-takes the lock: give it back
      cond:acquire()
      local _, e = pcall(cond.wait, cond)
      cond:release()
      error(e, 0)
    end,
    queue_get = function() empty:get() end,
    queue_put = function() full:put(1) end,
    join = function() sleeper:join() end,
    timeout = function() curio.timeout_after(3600, curio.sleep, 7200) end,
    accept = function() listener:accept() end,
    recv = function()
      local a, b = curio.socket.socketpair()
      pairs_[#pairs_ + 1] = a
      pairs_[#pairs_ + 1] = b
      a:recv(10)
    end,
  }
  local kinds = {}
  local tasks = {}
  for kind, fn in pairs(waits) do
    kinds[#kinds + 1] = kind
    -- one task per kind may wait on a socket for accept (others: ResourceBusy)
    local n = kind == "accept" and 1 or (kind == "recv" and math.min(per, 400) or per)
    for _ = 1, n do tasks[#tasks + 1] = { kind, curio.spawn(fn) } end
  end
  curio.sleep(0.05)
  for _, t in ipairs(tasks) do
    if t[2].terminated then problems[#problems + 1] = t[1] .. " task ended before the cancel" break end
  end
  local t0 = curio.clock()
  for _, t in ipairs(tasks) do t[2]:cancel({ blocking = false }) end
  for _, t in ipairs(tasks) do
    local ok, e = pcall(t[2].wait, t[2])
    if not t[2].cancelled then
      problems[#problems + 1] = t[1] .. " task not cancelled: " .. tostring(e)
      break
    end
    count = count + 1
  end
  secs = curio.clock() - t0
  sleeper:cancel()
  lock:release()
  listener:close()
  for _, s in ipairs(pairs_) do s:close() end
end

-- Two rounds to warm up: the first spikes' memory is partly kept (kernel tables
-- keep their capacity, docs/reliability.md), so RSS after them is the baseline and
-- later rounds must not grow beyond it.
curio.run(round)
curio.run(round)
collectgarbage()
local rss0 = common.rss()
curio.run(round)
curio.run(round)

common.report("mass_cancel", problems, ("4 rounds: %d tasks blocked in %d kinds of wait cancelled (last round: %.2f s)"):format(count, 11, secs), fds0, rss0)
