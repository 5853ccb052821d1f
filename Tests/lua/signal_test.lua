local curio = require "curio"
local signal = require "curio.signal"
local support = require "support"

local SIGUSR1, SIGUSR2, SIGHUP = signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP

-- Whether this process catches `sig` with a handler (/proc's SigCgt mask).
local function caught(sig)
  local f = io.open("/proc/self/status")
  local s = f:read("a")
  f:close()
  local mask = tonumber(s:match("SigCgt:%s*(%x+)"), 16)
  return mask & (1 << (sig - 1)) ~= 0
end


-- Runs `script` in a curio-lua process in the background ($pid), then the shell
-- `steps`, where `await WORD` waits until the script has printed WORD; returns the
-- script's output and exit status.
local function run_signalled(script, steps)
  local path, log = os.tmpname(), os.tmpname()
  local f = io.open(path, "w")
  f:write(script)
  f:close()
  local out, rc = support.sh(("'%s' %s >%s & pid=$!; "):format(support.exe, path, log)
    .. ("await() { for i in $(seq 200); do grep -q $1 %s && break; sleep 0.05; done; }; "):format(log)
    .. steps .. ("; wait $pid; rc=$?; cat %s; exit $rc"):format(log))
  os.remove(path)
  os.remove(log)
  return out, rc
end

describe("curio.signal", function()
  it("is a field of curio and requirable, with the usual constants", function()
    assert.equal(signal, curio.signal)
    assert.equal(curio.SignalQueue, signal.SignalQueue)
    assert.equal(curio.SignalEvent, signal.SignalEvent)
    local expect = { SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGKILL = 9, SIGUSR1 = 10, SIGUSR2 = 12,
      SIGPIPE = 13, SIGALRM = 14, SIGTERM = 15, SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGWINCH = 28 }
    for name, n in pairs(expect) do assert.equal(n, signal[name], name) end
    assert.equal("SIGTERM", signal.name(15))
    assert.is_nil(signal.name(0))
  end)

  it("SignalQueue.get returns each delivery: none lost while open", function()
    local q <close> = curio.SignalQueue(SIGUSR1, SIGUSR2)
    for _ = 1, 5 do signal.raise_signal(SIGUSR1) end
    signal.raise_signal("SIGUSR2")
    assert.equal(6, q:qsize())
    local got = {}
    for _ = 1, 6 do got[#got + 1] = q:get() end
    table.sort(got)
    assert.same({ 10, 10, 10, 10, 10, 12 }, got)
    assert.is_nil(q:get_nowait())
    assert.equal(0, q:qsize())
  end)

  it("get waits for a delivery from another task", function()
    local q <close> = curio.SignalQueue(SIGHUP)
    local t = curio.spawn(function() return q:get() end)
    curio.sleep(0.02)
    assert.is_false(t:done())
    signal.raise_signal(SIGHUP)
    assert.equal(SIGHUP, t:join())
  end)

  it("several queues on one signal each receive it", function()
    local a <close> = curio.SignalQueue(SIGUSR1)
    local b <close> = curio.SignalQueue(SIGUSR1, SIGUSR2)
    local ta = curio.spawn(function() return a:get() end)
    local tb = curio.spawn(function() return b:get() end)
    curio.sleep(0.01)
    signal.raise_signal(SIGUSR1)
    assert.equal(SIGUSR1, ta:join())
    assert.equal(SIGUSR1, tb:join())
    assert.is_nil(a:get_nowait())
  end)

  it("a queue sees only what arrives while it is open", function()
    local a <close> = curio.SignalQueue(SIGUSR1)
    signal.raise_signal(SIGUSR1)
    local b <close> = curio.SignalQueue(SIGUSR1)
    assert.is_nil(b:get_nowait())
    assert.equal(SIGUSR1, a:get_nowait())
  end)

  it("closing restores the previous disposition (after the last watcher)", function()
    assert.is_false(caught(SIGUSR2))
    local a = curio.SignalQueue(SIGUSR2)
    local b = curio.SignalEvent(SIGUSR2)
    assert.is_true(caught(SIGUSR2))
    a:close()
    assert.is_true(caught(SIGUSR2), "b still watches")
    b:close()
    assert.is_false(caught(SIGUSR2))
    a:close() -- idempotent
    b:close()
    do
      local _ <close> = curio.SignalQueue(SIGUSR2)
      assert.is_true(caught(SIGUSR2))
    end
    assert.is_false(caught(SIGUSR2))
  end)

  it("closing restores an ignored disposition too (SIGPIPE stays ignored)", function()
    local function ignored(sig)
      local f = io.open("/proc/self/status")
      local st = f:read("a")
      f:close()
      return tonumber(st:match("SigIgn:%s*(%x+)"), 16) & (1 << (sig - 1)) ~= 0
    end
    require "curio.subprocess"
    assert.is_true(ignored(signal.SIGPIPE))
    do
      local q <close> = curio.SignalQueue(signal.SIGPIPE)
      assert.is_false(ignored(signal.SIGPIPE))
      assert.is_true(caught(signal.SIGPIPE))
    end
    assert.is_true(ignored(signal.SIGPIPE))
    assert.is_false(caught(signal.SIGPIPE))
  end)

  it("get is cancellable and times out like any blocking call", function()
    local q <close> = curio.SignalQueue(SIGUSR1)
    assert.raises_kind("TaskTimeout", curio.timeout_after, 0.02, q.get, q)
    local t = curio.spawn(q.get, q)
    curio.sleep(0.01)
    t:cancel()
    assert.is_true(t:cancelled())
    signal.raise_signal(SIGUSR1)
    assert.equal(SIGUSR1, q:get(), "the delivery waits for the next get")
  end)

  it("using a closed queue raises; a task waiting in get sees the close", function()
    local q = curio.SignalQueue(SIGUSR1)
    local t = curio.spawn(function() return select(2, pcall(q.get, q)) end)
    curio.sleep(0.01)
    q:close()
    assert.equal("CurioError: get: the SignalQueue is closed", tostring(t:join()))
    assert.raises_kind("CurioError", q.get, q)
    assert.equal(0, q:qsize())
  end)

  it("SignalEvent: wait, is_set, clear, set", function()
    local ev <close> = curio.SignalEvent(SIGHUP, SIGUSR2)
    assert.is_false(ev:is_set())
    local t = curio.spawn(function() ev:wait(); return "woke" end)
    curio.sleep(0.01)
    assert.is_false(t:done())
    signal.raise_signal(SIGUSR2)
    assert.equal("woke", t:join())
    assert.is_true(ev:is_set())
    ev:wait() -- set: returns at once
    ev:clear()
    assert.is_false(ev:is_set())
    assert.raises_kind("TaskTimeout", curio.timeout_after, 0.02, ev.wait, ev)
    ev:set()
    assert.is_true(ev:is_set())
    ev:clear()
    signal.raise_signal(SIGHUP)
    assert.is_true(ev:is_set())
    ev:close()
    assert.is_true(ev:is_set(), "keeps its state once closed")
    ev:clear()
    assert.raises_kind("CurioError", ev.wait, ev)
  end)

  it("while a SIGINT queue is open SIGINT goes to it, not to the main task", function()
    local q <close> = curio.SignalQueue(signal.SIGINT)
    signal.raise_signal(signal.SIGINT)
    assert.equal(signal.SIGINT, q:get())
    curio.sleep(0.01) -- not cancelled
  end)

  it("a process started by curio-lua: SIGTERM and SIGHUP handled, SIGINT to a queue", function()
    local script = [[
      local curio = require "curio"
      local signal = require "curio.signal"
      local q <close> = curio.SignalQueue(signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
      io.write("ready\n"); io.flush()
      while true do
        local s = q:get()
        io.write(signal.name(s), "\n"); io.flush()
        if s == signal.SIGTERM then break end
      end
    ]]
    local out, rc = run_signalled(script,
      "await ready; kill -HUP $pid; await SIGHUP; kill -INT $pid; await SIGINT; kill -TERM $pid")
    assert.equal("ready\nSIGHUP\nSIGINT\nSIGTERM\n", out)
    assert.equal(0, rc)
  end)

  it("once the SIGINT queue closes, SIGINT cancels the main task again (exit 130)", function()
    local script = [[
      local curio = require "curio"
      local signal = require "curio.signal"
      do
        local q <close> = curio.SignalQueue(signal.SIGINT)
        io.write("ready\n"); io.flush()
        q:get()
      end
      io.write("closed\n"); io.flush()
      curio.sleep(20)
      io.write("not cancelled\n")
    ]]
    local out, rc = run_signalled(script, "await ready; kill -INT $pid; await closed; kill -INT $pid")
    assert.equal("ready\nclosed\n", out)
    assert.equal(130, rc)
  end)

  it("bad signals raise clear errors", function()
    local cases = {
      { "bad argument #1 to 'SignalQueue' (SIGKILL cannot be caught)", curio.SignalQueue, signal.SIGKILL },
      { "bad argument #1 to 'SignalQueue' (SIGSTOP cannot be caught)", curio.SignalQueue, "SIGSTOP" },
      { "bad argument #2 to 'SignalEvent' (SIGSEGV is a fault)", curio.SignalEvent, SIGHUP, signal.SIGSEGV },
      { "bad argument #1 to 'SignalQueue' (unknown signal 0)", curio.SignalQueue, 0 },
      { "bad argument #1 to 'SignalQueue' (unknown signal 99)", curio.SignalQueue, 99 },
      { "bad argument #1 to 'SignalQueue' (unknown signal -1)", curio.SignalQueue, -1 },
      { "bad argument #1 to 'SignalQueue' (unknown signal 1.5)", curio.SignalQueue, 1.5 },
      { "bad argument #1 to 'SignalQueue' (unknown signal 'SIGFOO')", curio.SignalQueue, "SIGFOO" },
      { "bad argument #1 to 'SignalQueue' (signal number or name expected, got table)", curio.SignalQueue, {} },
      { "bad argument #1 to 'SignalQueue' (at least one signal expected)", curio.SignalQueue },
      { "bad argument #1 to 'raise_signal' (unknown signal 'x')", signal.raise_signal, "x" },
      { "bad argument #1 to 'kill' (integer expected, got string)", signal.kill, "1", 15 },
      { "bad argument #1 to 'kill' (pid out of range)", signal.kill, (1 << 32) + 1, 0 },
    }
    for _, c in ipairs(cases) do
      assert.has_error(function() c[2](table.unpack(c, 3)) end, c[1])
    end
    assert.has_error(function() curio.SignalQueue(0 / 0) end)
    assert.has_error(function() curio.SignalQueue(math.huge) end)
    assert.has_error(function() curio.SignalQueue(math.mininteger) end)
    assert.is_false(caught(SIGHUP), "a failed constructor installs nothing")
    local q <close> = curio.SignalQueue("TERM", 15, "SIGTERM")
    assert.same({ 15 }, q:signals())
  end)
end)
