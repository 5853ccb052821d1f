-- Subprocess pipes under faults: children killed mid-pipe (their writer sees EPIPE,
-- their reader EOF), a child that never reads its stdin (the writer blocks without
-- spinning and a timeout ends it), mass cancellation of tasks waiting on children
-- and their pipes (wait, read, write, communicate, run), and beside all that, echoes
-- through `cat` verified byte for byte. After each round: no child left, no zombie.
package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local common = require "common"
local curio = require "curio"
local subprocess = require "curio.subprocess"
local PIPE = subprocess.PIPE

local per = common.full and 100 or 15
local problems, cancelled, killed, echoed = {}, 0, 0, 0

local pattern = common.pattern

local function problem(s) if #problems < 5 then problems[#problems + 1] = s end end

-- A child echoing through cat: every byte must come back, in order.
local function echo(i)
  local data = pattern(1000 + (i * 7919) % 300000, i)
  local p <close> = subprocess.Popen({ "cat" }, { stdin = PIPE, stdout = PIPE })
  local out = p:communicate(data)
  if out ~= data then problem("echo through cat lost or corrupted bytes") end
  if p.returncode ~= 0 then problem("cat exited " .. tostring(p.returncode)) end
  echoed = echoed + 1
end

-- cat killed while a writer and a reader are busy on its pipes.
local function killed_mid_pipe(i)
  local p = subprocess.Popen({ "cat" }, { stdin = PIPE, stdout = PIPE })
  local chunk = pattern(65536, i)
  local writer = curio.spawn(function() -- ends with EPIPE once cat is killed
    local _, e = pcall(function() while true do p.stdin:write(chunk) end end)
    return e
  end)
  local got = 0
  local reader = curio.spawn(function()
    while true do
      local b = p.stdout:read(65536)
      if not b then return end
      got = got + #b
    end
  end)
  curio.sleep(0.02 + (i % 5) * 0.01)
  p:kill()
  local e = writer:join()
  if not curio.errors.is(e, curio.OSError) or e.code ~= "EPIPE" then
    problem("writer to a killed child: " .. tostring(e))
  end
  reader:join() -- EOF
  if p:wait() ~= -9 then problem("killed child returncode " .. tostring(p.returncode)) end
  p.stdin:close()
  p.stdout:close()
  killed = killed + 1
end

-- A child that never reads its stdin: the writer blocks (the pipe is full) until
-- the timeout; then the child is killed and reaped.
local function never_reads()
  local p = subprocess.Popen({ "sleep", "3600" }, { stdin = PIPE })
  local cpu0 = os.clock()
  local ok, e = pcall(curio.timeout_after, 0.3, p.stdin.write, p.stdin, pattern(1 << 20, 1))
  if ok or not curio.errors.is(e, curio.TaskTimeout) then problem("write to a non-reader: " .. tostring(e)) end
  if os.clock() - cpu0 > 0.2 then problem(("the blocked writer spun: %.2f s CPU"):format(os.clock() - cpu0)) end
  p:kill()
  p:wait()
  p.stdin:close()
end

-- Tasks blocked on children and their pipes, cancelled at once.
local function mass_cancel()
  local kids, tasks = {}, {}
  local function add(kind, fn) tasks[#tasks + 1] = { kind, curio.spawn(fn) } end
  for i = 1, per do
    local p = subprocess.Popen({ "sleep", "3600" }, { stdin = PIPE, stdout = PIPE })
    kids[#kids + 1] = p
    add("wait", function() p:wait() end)
    add("read", function() p.stdout:read(10) end)
    if i % 3 == 0 then
      add("write", function() p.stdin:write(pattern(1 << 20, i)) end)
    elseif i % 3 == 1 then
      local c = subprocess.Popen({ "sleep", "3600" }, { stdin = PIPE, stdout = PIPE, stderr = PIPE })
      kids[#kids + 1] = c
      add("communicate", function() c:communicate("x") end)
    else
      add("run", function() subprocess.run({ "sleep", "3600" }, { capture_output = true }) end)
    end
  end
  curio.sleep(0.3)
  for _, t in ipairs(tasks) do t[2]:cancel({ blocking = false }) end
  for _, t in ipairs(tasks) do
    pcall(t[2].wait, t[2])
    if not t[2].cancelled then problem(t[1] .. " task not cancelled") else cancelled = cancelled + 1 end
  end
  -- Popen waits leave their children running (documented); run killed its own.
  for _, p in ipairs(kids) do
    if p:poll() ~= nil then problem("a child ended by its waiter's cancel") end
    p:kill()
    p:wait()
    for _, s in ipairs({ p.stdin, p.stdout, p.stderr }) do s:close() end
  end
end

local function round()
  local tasks = {}
  for i = 1, per // 3 + 1 do tasks[#tasks + 1] = curio.spawn(echo, i) end
  for i = 1, per // 3 + 1 do tasks[#tasks + 1] = curio.spawn(killed_mid_pipe, i) end
  tasks[#tasks + 1] = curio.spawn(never_reads)
  tasks[#tasks + 1] = curio.spawn(mass_cancel)
  for _, t in ipairs(tasks) do
    local ok, e = pcall(t.join, t)
    if not ok then problem(tostring(e.cause or e)) end
  end
  local n, z = common.children()
  if n > 0 or z > 0 then problem(("%d children (%d zombies) left after the round"):format(n, z)) end
end

-- Two warm-up rounds (the kernel's tables and the reaper keep their capacity), then
-- fds and RSS must stay flat.
curio.run(round)
curio.run(round)
local fds0, rss0 = common.fds(), common.baseline()
local rounds = common.full and 4 or 2
for _ = 1, rounds do curio.run(round) end
common.report("subprocess", problems,
  ("%d rounds: %d echoes through cat verified, %d children killed mid-pipe, %d tasks waiting on children/pipes cancelled, no child or zombie left")
  :format(rounds + 2, echoed, killed, cancelled), fds0, rss0)
