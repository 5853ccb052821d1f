-- The monitor, driven over a socket from a child `curio-lua --monitor` process, and
-- its client `curio-lua monitor`. Each child listens on a port the OS picks
-- (CURIO_MONITOR_ADDR=127.0.0.1:0) and says which on stderr.
local support = require "support"
local curio = require "curio"
local monitor = require "curio.monitor"

local exe = support.exe
local target = "Tests/lua/fixtures/monitor_target.lua"

local slurp = require("support").read_file

-- Polls f() until it returns a value (at most 8 s: the runner's limit is 10).
local function eventually(f, what)
  for _ = 1, 400 do
    local v = f()
    if v then return v end
    curio.sleep(0.02)
  end
  error("timed out waiting for " .. what, 2)
end

local children = {}

-- Starts `curio-lua args` in the background; its stdout, stderr, pid and exit
-- status go to files next to a temporary name.
local function start(args, env)
  local base = os.tmpname()
  local c = { base = base }
  os.execute(("(%s '%s' %s > %s.out 2> %s.err & echo $! > %s.pid; wait $!; echo $? > %s.rc) "
    .. "> /dev/null 2>&1 &"):format(env or "CURIO_MONITOR_ADDR=127.0.0.1:0", exe, args, base,
    base, base, base))
  children[#children + 1] = c
  c.pid = eventually(function() return tonumber(slurp(base .. ".pid")) end, "the child's pid")
  return c
end

local function port_of(c)
  return tonumber(eventually(function()
    return (slurp(c.base .. ".err") or ""):match("curio: monitor listening on 127%.0%.0%.1:(%d+)")
  end, "the monitor to listen"))
end

local function status_of(c)
  return eventually(function() return tonumber(slurp(c.base .. ".rc")) end, "the child to exit")
end

local function cleanup()
  for _, c in ipairs(children) do
    if not slurp(c.base .. ".rc") then os.execute("kill -9 " .. c.pid .. " 2>/dev/null") end
    for _, ext in ipairs { "", ".out", ".err", ".pid", ".rc" } do os.remove(c.base .. ext) end
  end
  children = {}
end

-- A connection to a monitor: cmd(line) returns its answer (the text before the
-- next prompt), or the text before the connection closed and false.
local function connect(port)
  local sock = curio.open_connection("127.0.0.1", port)
  local stream = sock:as_stream()
  local function answer()
    local buf = ""
    while true do
      if buf:sub(-#monitor.PROMPT) == monitor.PROMPT then return buf:sub(1, -#monitor.PROMPT - 1), true end
      local data = curio.timeout_after(5, stream.read, stream, 4096)
      if not data then return buf, false end
      buf = buf .. data
    end
  end
  local s = { greeting = answer(), stream = stream }
  function s.cmd(line)
    stream:write(line .. "\n")
    return answer()
  end
  return s
end

local function row(ps, name)
  for line in ps:gmatch("[^\n]+") do
    if line:find(name, 1, true) then return line end
  end
end

local function id_of(ps, name)
  return tonumber((row(ps, name) or ""):match("^(%d+)"))
end

describe("curio-lua --monitor", function()
  after_each(cleanup)

  it("greets and lists the tasks with ps: id, state, cycles, timeout, daemon, name", function()
    local c = start("--monitor " .. target)
    local m = connect(port_of(c))
    assert.matches("^curio%-lua monitor: process " .. c.pid .. ", %d+ tasks%. Type help", m.greeting)
    local ps = m.cmd("ps")
    assert.matches("^ID%s+STATE%s+CYCLES%s+TIMEOUT%s+DAEMON%s+NAME\n", ps)
    assert.matches("^1%s+JOIN_WAIT%s+%d+%s+%-%s+main$", row(ps, "main"))
    assert.matches("^%d+%s+SLEEP%s+1%s+%-%s+sleeper$", row(ps, "sleeper"))
    assert.matches("^%d+%s+EVENT_WAIT%s+1%s+%-%s+waiter$", row(ps, "waiter"))
    assert.matches("^%d+%s+SLEEP%s+1%s+%-%s+yes%s+background$", row(ps, "background"))
    assert.matches("^%d+%s+READ_WAIT%s+%d+%s+%-%s+yes%s+curio%.monitor$", row(ps, "curio.monitor\n") or row(ps, " curio.monitor"))
    assert.matches("^%d+%s+RUNNING%s+%d+%s+%-%s+yes%s+curio%.monitor client 127%.0%.0%.1:%d+$", row(ps, "monitor client"))
    local left = tonumber(row(ps, "timed"):match("^%d+%s+SLEEP%s+%d+%s+([%d.]+)"))
    assert.is_true(left > 0 and left <= 25, "timeout column: " .. row(ps, "timed"))
  end)

  it("where shows the user's line of the blocking call", function()
    local c = start("--monitor " .. target)
    local m = connect(port_of(c))
    local ps = m.cmd("ps")
    local where = m.cmd("where " .. id_of(ps, "sleeper"))
    assert.matches("^task %d+ %(sleeper%) SLEEP\nstack traceback:\n\t" .. target:gsub("%p", "%%%0") .. ":4: in ", where)
    where = m.cmd("where " .. id_of(ps, "waiter"))
    assert.matches("^task %d+ %(waiter%) EVENT_WAIT\nstack traceback:\n\t[^\n]*monitor_target%.lua:8: in ", where)
    -- (m.cmd(...)): cmd also returns whether the prompt came back, which luassert's
    -- matches would take as its `init` argument
    assert.matches("monitor_target%.lua:17: in main chunk", (m.cmd("where 1")))
  end)

  it("answers bad commands and bad ids with one error line", function()
    local c = start("--monitor " .. target)
    local m = connect(port_of(c))
    assert.equal("error: unknown command 'frobnicate' (try help)\n", m.cmd("frobnicate now"))
    assert.equal("error: where: no task 999\n", m.cmd("where 999"))
    assert.equal("error: where: expected a task id\n", m.cmd("where sleeper"))
    assert.equal("error: cancel: expected a task id\n", m.cmd("cancel"))
    assert.equal("error: cancel: no task 999\n", m.cmd("cancel 999"))
    assert.equal("error: signal: unknown signal 'NOPE'\n", m.cmd("signal NOPE"))
    assert.equal("error: signal: expected a signal name (e.g. INT)\n", m.cmd("signal"))
    assert.equal("", m.cmd(""))
    assert.equal("error: unknown command 'psx' (try help)\n", m.cmd("psx\r"))
    assert.matches("^Commands:\n.*ps.*where ID.*cancel ID.*signal NAME.*help.*quit", (m.cmd("help")))
    -- the script is unaffected
    assert.matches("sleeper", (m.cmd("ps")))
  end)

  it("cancel ends a task; the script then finishes normally", function()
    local c = start("--monitor " .. target)
    local m = connect(port_of(c))
    local id = id_of(m.cmd("ps"), "sleeper")
    -- the main task was waiting for it, so the script ends (closing the connection)
    assert.matches("^cancelled task " .. id .. " %(sleeper%)\n", (m.cmd("cancel " .. id)))
    assert.equal(0, status_of(c))
    assert.equal("pid " .. c.pid .. "\nsleeper ended, cancelled=true\n", slurp(c.base .. ".out"))
    -- the monitor's own tasks, and the cancelled ones, are no crash
    assert.matches("^curio: monitor listening on [^\n]*\n$", slurp(c.base .. ".err"))
  end)

  it("closes a connection that sends a line too long", function()
    local c = start("--monitor " .. target)
    local m = connect(port_of(c))
    -- The server closes with the rest of the line unread, so the client may see a
    -- reset instead of the error line.
    local ok, answer, open = pcall(m.cmd, string.rep("x", 10000))
    if ok then
      assert.equal("error: line too long\n", answer)
      assert.is_false(open)
    else
      assert.equal("ECONNRESET", answer.code)
    end
    assert.matches("sleeper", (connect(port_of(c)).cmd("ps")))
  end)

  it("quit closes only this connection", function()
    local c = start("--monitor " .. target)
    local port = port_of(c)
    local m1, m2 = connect(port), connect(port)
    local ps = m1.cmd("ps")
    assert.equal(2, select(2, ps:gsub("monitor client", "")), "one task per connection")
    local answer, open = m2.cmd("quit")
    assert.equal("bye\n", answer)
    assert.is_false(open)
    assert.equal(1, select(2, m1.cmd("ps"):gsub("monitor client", "")))
  end)

  it("signal sends a signal to the process (INT: a clean interrupt, exit 130)", function()
    local c = start("--monitor " .. target)
    local m = connect(port_of(c))
    local answer = m.cmd("signal sigint")
    assert.matches("^sending SIGINT to process " .. c.pid .. "\n", answer)
    assert.equal(130, status_of(c))
  end)

  it("CURIO_MONITOR=1 starts it too", function()
    local c = start(target, "CURIO_MONITOR=1 CURIO_MONITOR_ADDR=127.0.0.1:0")
    local m = connect(port_of(c))
    assert.matches("sleeper", (m.cmd("ps")))
  end)

  it("refuses a non-loopback bind unless the address is explicit", function()
    local out, rc = support.run("--monitor -e 'print(\"ran\")'", "CURIO_MONITOR_ADDR='*:0'")
    assert.equal(0, rc)
    assert.matches("^curio: monitor not started: '%*' means every address;", out)
    assert.matches("\nran\n$", out)
    out = support.run("--monitor -e 'print(\"ran\")'", "CURIO_MONITOR_ADDR=':0'")
    assert.matches("^curio: monitor not started: '' means every address;", out)
    -- the policy: loopback is fine, a numeric address is explicit (with a warning)
    assert.same({ true }, { monitor.check_address("127.0.0.1") })
    assert.same({ true }, { monitor.check_address("::1") })
    assert.same({ true }, { monitor.check_address("localhost") })
    local ok, warning = monitor.check_address("0.0.0.0")
    assert.is_true(ok)
    assert.matches("not on a loopback address", warning)
    assert.is_false((monitor.check_address("*")))
    assert.is_false((monitor.check_address("")))
  end)

  it("parses host:port addresses", function()
    assert.same({ "127.0.0.1", 48802 }, { monitor.parse_address("127.0.0.1:48802") })
    assert.same({ "::1", 5 }, { monitor.parse_address("[::1]:5") })
    assert.same({ "localhost", 0 }, { monitor.parse_address("localhost:0") })
    assert.same({ "127.0.0.1", 7 }, { monitor.parse_address("7") })
    for _, bad in ipairs { "nonsense", "::1:5", "h:70000", "h:", ":x" } do
      assert.is_nil((monitor.parse_address(bad)), bad)
    end
  end)

  it("reports an address it cannot use and runs the script all the same", function()
    local out, rc = support.run("--monitor -e 'print(\"ran\")'", "CURIO_MONITOR_ADDR=nonsense")
    assert.equal(0, rc)
    assert.matches("^curio: monitor not started: bad monitor address 'nonsense' %(expected host:port%)\nran\n$", out)
  end)
end)

describe("curio-lua monitor (the client)", function()
  after_each(cleanup)

  it("reads commands from stdin and prints each answer", function()
    local c = start("--monitor " .. target)
    local port = port_of(c)
    local out, rc = support.sh(("printf 'ps\\nwhere 1\\nbogus\\nquit\\nps\\n' | '%s' monitor 127.0.0.1:%d")
      :format(exe, port))
    assert.equal(0, rc)
    assert.matches("^ID%s+STATE[^\n]*\n1%s+JOIN_WAIT", out)
    assert.matches("\ntask 1 %(main%) JOIN_WAIT\nstack traceback:\n", out)
    assert.matches("\nerror: unknown command 'bogus' %(try help%)\nbye\n$", out)
    assert.is_nil(out:find(monitor.PROMPT, 1, true))
  end)

  it("ends quietly when the script ends under it", function()
    local c = start("--monitor " .. target)
    local port = port_of(c)
    -- task 3 is the sleeper (1 is main, 2 the monitor); cancelling it ends the script
    local out, rc = support.sh(("printf 'cancel 3\\nps\\nps\\n' | '%s' monitor 127.0.0.1:%d"):format(exe, port))
    assert.equal(0, rc, out)
    assert.matches("^cancelled task 3 %(sleeper%)\n", out)
    assert.is_nil(out:find("traceback", 1, true))
    assert.equal(0, status_of(c))
  end)

  it("says so when nothing listens", function()
    local sock = curio.socket.tcp()
    sock:bind("127.0.0.1", 0)
    local port = sock:getsockname().port
    sock:close() -- a port nobody listens on
    local out, rc = support.run("monitor 127.0.0.1:" .. port .. " </dev/null")
    assert.equal(1, rc)
    assert.matches("^curio%-lua monitor: cannot connect to 127%.0%.0%.1:%d+: ", out)
  end)
end)
