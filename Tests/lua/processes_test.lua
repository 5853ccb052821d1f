-- `curio-lua --processes N`: a supervisor process and its workers, driven as a
-- child process. Every wait is bounded; nothing here measures speed.
local curio = require "curio"
local support = require "support"

local exe = support.exe
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local SERVER = dir .. "fixtures/processes_server.lua"

local free_port = require("support").free_port

local read_file = require("support").read_file

-- A process is gone when /proc has no entry for it or it is a zombie.
local function alive(pid)
  local stat = read_file("/proc/" .. pid .. "/stat")
  return stat ~= nil and not stat:match("^%d+ %b() Z")
end

-- Waits (up to `secs`) until `cond()` returns a true value, and returns it.
local function eventually(secs, cond)
  local deadline = curio.clock() + secs
  repeat
    local v = cond()
    if v then return v end
    curio.sleep(0.05)
  until curio.clock() > deadline
  return nil
end

-- Supervisors started by the current test: after_each cleans up what a failed
-- test left running.
local started = {}

-- Starts `curio-lua --processes N script args` in the background, through a
-- shell that records its exit status. Returns a handle.
local function supervise(n, script, args)
  local h = { log = os.tmpname(), pidfile = os.tmpname(), rcfile = os.tmpname() }
  started[#started + 1] = h
  os.remove(h.rcfile)
  os.execute(("( '%s' --processes %s '%s' %s > %s 2>&1 & echo $! > %s; wait $!; echo $? > %s ) >/dev/null 2>&1 &"):format(
    exe, n, script, args or "", h.log, h.pidfile, h.rcfile))
  h.pid = eventually(5, function() return tonumber(read_file(h.pidfile)) end)
  assert(h.pid, "supervisor did not start")
  function h.output() return read_file(h.log) or "" end
  -- The exit status, once the supervisor exited (nil if not within `secs`).
  function h.status(secs)
    return eventually(secs or 10, function() return tonumber(read_file(h.rcfile)) end)
  end
  -- The pids of the supervisor's children (its workers).
  function h.workers()
    local out = {}
    local p = io.popen("cat /proc/" .. h.pid .. "/task/*/children 2>/dev/null")
    for pid in p:read("a"):gmatch("%d+") do out[#out + 1] = tonumber(pid) end
    p:close()
    return out
  end
  function h.kill(sig) os.execute(("kill -%s %d 2>/dev/null"):format(sig, h.pid)) end
  function h.cleanup()
    if h.cleaned then return end
    h.cleaned = true
    -- SIGTERM first: the supervisor stops its workers (a SIGKILLed worker would
    -- be restarted); then SIGKILL whatever is left.
    local workers = h.workers()
    if alive(h.pid) then
      h.kill("TERM")
      eventually(5, function() return not alive(h.pid) end)
    end
    for _, w in ipairs(workers) do os.execute("kill -9 " .. w .. " 2>/dev/null") end
    h.kill("KILL")
    os.remove(h.log); os.remove(h.pidfile); os.remove(h.rcfile)
  end
  return h
end

-- One connection's answer ("INDEX PID"), or nil if the port does not answer.
-- (Connections waiting in the accept queue of a worker that dies are reset.)
local function ask(port)
  local ok, s = pcall(curio.open_connection, "127.0.0.1", port)
  if not ok then return nil end
  local line
  ok, line = pcall(curio.timeout_after, 5, function() return s:as_stream():readline() end)
  s:close()
  if not ok or not line then return nil end
  local index, pid = line:match("^(%d+) (%d+)")
  return tonumber(index), tonumber(pid)
end


-- A supervisor of two SERVER workers on a free port, once both answer: port, the
-- supervisor's handle, the workers' pids.
local function two_workers()
  local port = free_port()
  local h = supervise(2, SERVER, port)
  local workers = eventually(8, function()
    local w = h.workers()
    return #w == 2 and ask(port) and w
  end)
  assert.is_true(workers ~= nil, "two workers started")
  return port, h, workers
end

describe("curio-lua --processes", function()
  after_each(function()
    for _, h in ipairs(started) do h.cleanup() end
    started = {}
  end)

  it("spreads connections over every worker, each knowing its index", function()
    local port = free_port()
    local h = supervise(2, SERVER, port)
    local seen, pids = {}, {}
    eventually(8, function()
      local index, pid = ask(port)
      if index then seen[index] = true; pids[index] = pid end
      return seen[1] and seen[2]
    end)
    local workers = h.workers()
    h.cleanup()
    assert.is_true(seen[1] == true and seen[2] == true, "both workers answered")
    assert.is_nil(seen[3])
    assert.equal(2, #workers)
    assert.is_true(pids[1] ~= pids[2])
    for _, index in ipairs { 1, 2 } do
      assert.is_true(pids[index] == workers[1] or pids[index] == workers[2], "a worker is the supervisor's child")
    end
  end)

  it("restarts a killed worker with the same index and keeps the port answering", function()
    local port = free_port()
    local h = supervise(2, SERVER, port)
    local pids = {}
    eventually(8, function()
      local index, pid = ask(port)
      if index then pids[index] = pid end
      return pids[1] and pids[2]
    end)
    assert.is_true(pids[1] ~= nil and pids[2] ~= nil, "both workers answered")
    os.execute("kill -9 " .. pids[1])
    local new = eventually(8, function()
      local index, pid = ask(port)
      return index == 1 and pid ~= pids[1] and pid or nil
    end)
    local answered = 0
    for _ = 1, 20 do if ask(port) then answered = answered + 1 end end
    local log = h.output()
    h.cleanup()
    assert.is_true(new ~= nil, "worker 1 came back with a new pid")
    assert.equal(20, answered)
    assert.is_true(log:find("worker 1 (pid " .. pids[1] .. ") was killed by signal 9 (SIGKILL)", 1, true) ~= nil, log)
  end)

  it("forwards SIGTERM to every worker and exits 0 once they are gone, leaving no orphan", function()
    local port, h, workers = two_workers()
    h.kill("TERM")
    local rc = h.status(10)
    local log = h.output()
    local left = {}
    for _, w in ipairs(workers) do if alive(w) then left[#left + 1] = w end end
    -- nothing else running the fixture on this port either
    local p = io.popen("grep -l -a -F -- '" .. SERVER .. "' /proc/[0-9]*/cmdline 2>/dev/null")
    for path in p:read("a"):gmatch("/proc/(%d+)/cmdline") do
      local cmd = read_file("/proc/" .. path .. "/cmdline") or ""
      if cmd:find(tostring(port), 1, true) and alive(path) then left[#left + 1] = tonumber(path) end
    end
    p:close()
    h.cleanup()
    assert.equal(0, rc, log)
    assert.equal(0, #left, "orphans: " .. table.concat(left, " "))
    assert.is_false(alive(h.pid))
  end)

  it("takes its workers along when it is killed itself (SIGKILL)", function()
    local port, h, workers = two_workers()
    h.kill("KILL")
    local gone = eventually(8, function() return not alive(workers[1]) and not alive(workers[2]) end)
    h.cleanup()
    assert.is_true(gone == true, "workers outlived the supervisor")
  end)

  it("forwards SIGHUP and restarts the workers that die of it, without stopping", function()
    local port, h, before = two_workers()
    h.kill("HUP")
    local after = eventually(8, function()
      local w = h.workers()
      if #w ~= 2 or alive(before[1]) or alive(before[2]) then return nil end
      return ask(port) and w
    end)
    local still = alive(h.pid)
    h.kill("TERM")
    local rc = h.status(10)
    local log = h.output()
    h.cleanup()
    assert.is_true(after ~= nil, "both workers were restarted: " .. log)
    assert.is_true(still, "the supervisor went on after SIGHUP")
    assert.is_true(log:find("(SIGHUP)", 1, true) ~= nil, log)
    assert.equal(0, rc)
  end)

  it("exits 130 after SIGINT", function()
    local port = free_port()
    local h = supervise(2, SERVER, port)
    eventually(8, function() return #h.workers() == 2 and ask(port) end)
    h.kill("INT")
    local rc = h.status(10)
    h.cleanup()
    assert.equal(130, rc)
  end)

  it("does not restart a worker that fails at start in a tight loop", function()
    local h = supervise(1, dir .. "fixtures/processes_fail.lua")
    curio.sleep(2)
    local log = h.output()
    h.kill("TERM")
    local rc = h.status(10)
    h.cleanup()
    local starts = select(2, log:gsub("configuration missing", ""))
    local _, restarts = log:gsub("restarting it in", "")
    -- Delays 0.1, 0.2, 0.4, 0.8, 1.6 s: at most 5 restarts in 2 s (a tight loop
    -- would make hundreds); at least 2 show that it is restarted at all.
    assert.is_true(restarts >= 2 and restarts <= 5, log)
    assert.is_true(starts >= restarts, log)
    assert.is_true(log:find("worker 1 (pid ", 1, true) ~= nil and log:find("exited with status 1", 1, true) ~= nil, log)
    assert.is_true(log:find("restarting it in 0.200 s", 1, true) ~= nil, log)
    assert.equal(0, rc)
  end)

  it("does not restart a worker that finished (status 0), and exits when all did", function()
    local h = supervise(2, dir .. "fixtures/processes_done.lua")
    local rc = h.status(10)
    local log = h.output()
    h.cleanup()
    assert.equal(0, rc, log)
    assert.is_true(log:find("worker 1 done", 1, true) ~= nil and log:find("worker 2 done", 1, true) ~= nil, log)
    assert.is_nil(log:find("restarting", 1, true))
  end)

  it("runs examples/http_hello.lua on several workers", function()
    local port = free_port()
    local h = supervise(2, dir .. "../../examples/http_hello.lua", port)
    local answer = eventually(8, function()
      local ok, s = pcall(curio.open_connection, "127.0.0.1", port)
      if not ok then return nil end
      s:sendall("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
      local got = curio.timeout_after(5, function() return s:as_stream():read() end)
      s:close()
      return got
    end)
    local workers = h.workers()
    h.cleanup()
    assert.equal(2, #workers)
    assert.is_true(answer ~= nil and answer:find("^HTTP/1.1 200 OK") ~= nil and answer:find("hello\n$") ~= nil, answer)
  end)

  it("refuses a bad process count or a missing script", function()
    for _, args in ipairs { "--processes 0 x.lua", "--processes -1 x.lua", "--processes two x.lua",
                            "--processes 1e3 x.lua", "--processes", "--processes 2", "--processes=2 -i x.lua" } do
      local out, rc = support.run(args)
      assert.equal(1, rc, args)
      assert.is_true(out:find("--processes", 1, true) ~= nil, out)
    end
    local out, rc = support.run("--processes auto -e 'print(1)' " .. dir .. "fixtures/processes_done.lua")
    assert.equal(0, rc, out)
    assert.is_true(out:find("worker 1 done", 1, true) ~= nil, out)
  end)

  it("process_index() is nil outside a worker, also in a worker's own children", function()
    assert.is_nil(curio.process_index())
    local out, rc = support.run("-e 'print(require(\"curio\").process_index())'")
    assert.equal(0, rc)
    assert.equal("nil\n", out)
    local child = ("os.execute([[%s -e \"print(require(\\\"curio\\\").process_index())\"]])"):format(exe)
    local f = os.tmpname()
    local w = io.open(f, "w"); w:write(child, "\nprint('w', require('curio').process_index())\n"); w:close()
    out, rc = support.run("--processes 1 " .. f)
    os.remove(f)
    assert.equal(0, rc, out)
    assert.is_true(out:find("w\t1", 1, true) ~= nil, out)
    assert.is_true(out:find("^nil\n") ~= nil, out)
  end)
end)
