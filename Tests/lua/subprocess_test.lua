local curio = require "curio"
local subprocess = require "curio.subprocess"
local socket = require "curio.socket"
local cp = require "curio.cprocess"

local PIPE, STDOUT, DEVNULL = subprocess.PIPE, subprocess.STDOUT, subprocess.DEVNULL
local Popen = subprocess.Popen

local read_file = require("support").read_file

-- Our children as the kernel sees them (/proc): pid -> state letter ("Z": zombie).
local function children()
  local me = cp.getpid()
  local list = read_file(("/proc/%d/task/%d/children"):format(me, me)) or ""
  local out = {}
  for pid in list:gmatch("%d+") do
    -- The process pool's idle workers (run_in_process, e.g. from workers_test.lua
    -- run earlier in the same process) are ours but no subprocess's.
    local cmdline = read_file("/proc/" .. pid .. "/cmdline") or ""
    if not cmdline:find("--curio-worker-process", 1, true) then
      local stat = read_file("/proc/" .. pid .. "/stat")
      out[tonumber(pid)] = stat and stat:match("^%d+ %b() (%a)") or "?"
    end
  end
  return out
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- Open descriptors below 1024.
local function open_fds()
  local n = 0
  for fd = 0, 1023 do if cp.fdvalid(fd) then n = n + 1 end end
  return n
end

-- No child of ours left, running or zombie (the reaper thread may need a moment).
local function assert_no_children()
  for _ = 1, 200 do
    if count(children()) == 0 then return end
    curio.sleep(0.01)
  end
  local left = {}
  for pid, st in pairs(children()) do left[#left + 1] = pid .. ":" .. st end
  error("children left behind: " .. table.concat(left, " "), 2)
end

local tmpdir = os.getenv("TMPDIR") or "/tmp"

describe("curio.subprocess", function()
  after_each(function() assert_no_children() end)

  it("is a field of curio and requirable; PIPE, STDOUT, DEVNULL are distinct", function()
    assert.equal(subprocess, curio.subprocess)
    assert.is_not_nil(PIPE)
    assert.is_not_nil(STDOUT)
    assert.is_not_nil(DEVNULL)
    assert.not_equal(PIPE, STDOUT)
    assert.not_equal(PIPE, DEVNULL)
    assert.equal("subprocess.PIPE", tostring(PIPE))
  end)

  it("stdout=PIPE gives a stream: read, readline, lines; pid and returncode", function()
    local p = Popen({ "printf", "one\\ntwo\\nthree\\nfour" }, { stdout = PIPE })
    assert.is_true(math.type(p.pid) == "integer" and p.pid > 0)
    assert.is_nil(p.stdin)
    assert.is_nil(p.stderr)
    assert.equal("one\n", p.stdout:readline())
    local rest = {}
    for line in p.stdout:lines() do rest[#rest + 1] = line end
    assert.same({ "two", "three", "four" }, rest)
    assert.is_nil(p.stdout:read(10))
    assert.equal(0, p:wait())
    assert.equal(0, p.returncode)
    p:close()
  end)

  it("stdin=PIPE: write, then close gives the child end of file", function()
    local p = Popen({ "cat" }, { stdin = PIPE, stdout = PIPE })
    assert.equal(6, p.stdin:write("hello\n"))
    assert.equal("hello\n", p.stdout:readline())
    p.stdin:write("bye")
    p.stdin:close()
    assert.equal("bye", p.stdout:readall())
    assert.equal(0, p:wait())
    p:close()
  end)

  it("stderr=STDOUT merges the two; stderr=PIPE keeps them apart", function()
    local p = Popen({ "sh", "-c", "echo out; echo err >&2" }, { stdout = PIPE, stderr = STDOUT })
    assert.is_nil(p.stderr)
    assert.equal("out\nerr\n", p.stdout:readall())
    p:close()
    local q = Popen({ "sh", "-c", "echo out; echo err >&2" }, { stdout = PIPE, stderr = PIPE })
    local out, err = q:communicate()
    assert.equal("out\n", out)
    assert.equal("err\n", err)
    q:close()
  end)

  it("DEVNULL: no input, output dropped", function()
    local p = Popen({ "cat" }, { stdin = DEVNULL, stdout = PIPE })
    assert.equal("", p.stdout:readall())
    assert.equal(0, p:wait())
    p:close()
    local r = subprocess.run({ "sh", "-c", "echo gone; echo gone >&2" }, { stdout = DEVNULL, stderr = DEVNULL })
    assert.equal(0, r.returncode)
    assert.is_nil(r.stdout)
  end)

  it("an fd, a socket and a file stream serve as stdio", function()
    local a, b = socket.socketpair()
    local p = Popen({ "echo", "to a socket" }, { stdout = b })
    assert.equal(0, p:wait())
    local p2 = Popen({ "echo", "to an fd" }, { stdout = b:fileno() })
    assert.equal(0, p2:wait())
    b:close()
    local s = a:as_stream()
    assert.equal("to a socket\nto an fd\n", s:readall())
    s:close()
    local path = tmpdir .. "/curio_subprocess_test_" .. cp.getpid()
    local f <close> = curio.open_file(path, "w")
    subprocess.run({ "echo", "to a file" }, { stdout = f })
    f:close()
    local input = curio.open_file(path, "r")
    local out = subprocess.check_output({ "tr", "a-z", "A-Z" }, { stdin = input })
    input:close()
    os.remove(path)
    assert.equal("TO A FILE\n", out)
  end)

  it("another Popen's stdout feeds a pipeline; it is handed over to the child", function()
    local p1 = Popen({ "printf", "b\\na\\nc\\n" }, { stdout = PIPE })
    local handed = p1.stdout
    local p2 = Popen({ "sort" }, { stdin = p1.stdout, stdout = PIPE })
    assert.equal(-1, handed:fileno(), "closed in this process")
    assert.equal("a\nb\nc\n", (p2:communicate()))
    assert.equal(0, p1:wait())
    assert.equal(0, p2.returncode)
    p1:close()
    p2:close()
  end)

  it("cwd sets the child's directory; env replaces the environment", function()
    assert.equal("/\n", subprocess.check_output({ "pwd" }, { cwd = "/" }))
    assert.equal("FOO=bar\n", subprocess.check_output({ "/usr/bin/env" }, { env = { FOO = "bar" } }))
    assert.equal("", subprocess.check_output({ "/usr/bin/env" }, { env = {} }))
    local out = subprocess.check_output({ "env" }, { env = { PATH = "/usr/bin:/bin", N = 42 } })
    assert.equal("N=42\nPATH=/usr/bin:/bin\n", out)
  end)

  it("programs are found on PATH (the env's PATH when env is given)", function()
    assert.equal("hi\n", subprocess.check_output({ "echo", "hi" }))
    local e = assert.raises_kind("OSError", Popen, { "true" }, { env = { PATH = "/nonexistent" } })
    assert.equal("ENOENT", e.code)
    assert.equal(0, subprocess.run({ "true" }, { env = {} }).returncode, "no PATH in env: /bin:/usr/bin")
  end)

  it("shell=true runs a command string through /bin/sh -c", function()
    assert.equal("42\n", subprocess.check_output("echo $((6 * 7))", { shell = true }))
    assert.equal("a b\n", subprocess.check_output({ "echo $0 $1", "a", "b" }, { shell = true }))
    local r = subprocess.run("exit 7", { shell = true })
    assert.equal(7, r.returncode)
  end)

  it("a missing program or a bad cwd raises OSError with the errno code", function()
    local e = assert.raises_kind("OSError", Popen, { "/nonexistent/program" })
    assert.equal("ENOENT", e.code)
    assert.equal(cp.ENOENT, e.errno)
    assert.matches("/nonexistent/program", e.message)
    e = assert.raises_kind("OSError", Popen, { "no-such-program-curio" })
    assert.equal("ENOENT", e.code)
    e = assert.raises_kind("OSError", Popen, { "true" }, { cwd = "/nonexistent/dir" })
    assert.equal("ENOENT", e.code)
    assert.matches("cwd '/nonexistent/dir'", e.message)
    e = assert.raises_kind("OSError", Popen, { "/etc/passwd" })
    assert.equal("EACCES", e.code)
    local before = open_fds()
    assert.raises_kind("OSError", Popen, { "/nonexistent" }, { stdin = PIPE, stdout = PIPE, stderr = PIPE })
    assert.equal(before, open_fds(), "pipes of a failed spawn are closed")
  end)

  it("children inherit only their standard descriptors", function()
    local a, b = socket.socketpair()
    local out = subprocess.check_output({ "sh", "-c", "ls /proc/$$/fd" })
    a:close()
    b:close()
    local fds = {}
    for fd in out:gmatch("%d+") do fds[#fds + 1] = tonumber(fd) end
    table.sort(fds)
    assert.same({ 0, 1, 2 }, fds)
  end)

  it("children start with SIGPIPE at its default even though we ignore it", function()
    local p = Popen({ "sleep", "5" })
    local ign = read_file("/proc/" .. p.pid .. "/status"):match("SigIgn:%s*(%x+)")
    p:kill()
    p:wait()
    assert.equal(0, tonumber(ign:sub(-4), 16) & (1 << 12))
    local mine = read_file("/proc/self/status"):match("SigIgn:%s*(%x+)")
    assert.is_true(tonumber(mine:sub(-4), 16) & (1 << 12) ~= 0, "SIGPIPE ignored in curio-lua")
  end)

  it("returncode is the exit status, or -N when killed by signal N", function()
    assert.equal(3, Popen({ "sh", "-c", "exit 3" }):wait())
    local p = Popen({ "sleep", "10" })
    p:terminate()
    assert.equal(-15, p:wait())
    p = Popen({ "sleep", "10" })
    p:kill()
    assert.equal(-9, p:wait())
    p = Popen({ "sleep", "10" })
    p:send_signal("SIGUSR1")
    assert.equal(-10, p:wait())
    p:send_signal(9) -- reaped already: nothing happens
    p:kill()
    assert.equal(-10, p.returncode)
  end)

  it("poll() is nil while the child runs, then its returncode", function()
    local p = Popen({ "sh", "-c", "read x; exit 5" }, { stdin = PIPE })
    assert.is_nil(p:poll())
    assert.is_nil(p.returncode)
    p.stdin:write("\n")
    p.stdin:close()
    local rc
    for _ = 1, 500 do
      rc = p:poll()
      if rc then break end
      curio.sleep(0.01)
    end
    assert.equal(5, rc)
    assert.equal(5, p:wait())
  end)

  it("several tasks may wait for one child", function()
    local p = Popen({ "sh", "-c", "sleep 0.1; exit 2" })
    local g <close> = curio.TaskGroup()
    for _ = 1, 3 do g:spawn(p.wait, p) end
    g:join()
    assert.same({ 2, 2, 2 }, g:results())
  end)

  it("communicate writes and reads at once: no deadlock with large data both ways", function()
    local data = string.rep("0123456789abcdef", 1 << 17) -- 2 MiB
    local p = Popen({ "sh", "-c", "tee /dev/stderr" }, { stdin = PIPE, stdout = PIPE, stderr = PIPE })
    local out, err = p:communicate(data)
    assert.equal(#data, #out)
    assert.is_true(out == data)
    assert.is_true(err == data)
    assert.equal(0, p.returncode)
    p:close()
  end)

  it("communicate a second time finds the pipes closed", function()
    local p = Popen({ "echo", "once" }, { stdin = PIPE, stdout = PIPE })
    assert.equal("once\n", p:communicate())
    local out, err = p:communicate()
    assert.is_nil(out)
    assert.is_nil(err)
    assert.has_error(function() p:communicate("x") end, "bad argument #1 to 'communicate' (stdin is closed)")
  end)

  it("communicate: outputs that are not pipes are nil; input needs a stdin pipe", function()
    local p = Popen({ "true" })
    local out, err = p:communicate()
    assert.is_nil(out)
    assert.is_nil(err)
    assert.equal(0, p.returncode)
    local q = Popen({ "cat" }, { stdout = DEVNULL })
    assert.has_error(function() q:communicate("x") end,
      "bad argument #1 to 'communicate' (stdin is not a pipe)")
    q:close()
  end)

  it("communicate cancelled part-way sets err.stdout / err.stderr; the child keeps running", function()
    local p = Popen({ "sh", "-c", "echo partial; echo oops >&2; exec sleep 10" }, { stdout = PIPE, stderr = PIPE })
    -- Interrupted again and again until both lines are in (a loaded machine may be
    -- slow to start sh): nothing read is ever lost between the attempts.
    local out, err = "", ""
    for _ = 1, 100 do
      local e = assert.raises_kind("TaskTimeout", curio.timeout_after, 0.05, p.communicate, p)
      out, err = out .. e.stdout, err .. e.stderr
      if out == "partial\n" and err == "oops\n" then break end
    end
    assert.equal("partial\n", out)
    assert.equal("oops\n", err)
    assert.is_nil(p:poll(), "still running")
    p:kill()
    assert.equal(-9, p:wait())
    p:close()
  end)

  it("cancelling a task in wait() leaves the child running", function()
    local p = Popen({ "sleep", "10" })
    local t = curio.spawn(p.wait, p)
    curio.sleep(0.05)
    t:cancel()
    assert.is_true(t:cancelled())
    assert.is_nil(p:poll())
    assert.is_not_nil(children()[p.pid])
    local e = assert.raises_kind("TaskTimeout", curio.timeout_after, 0.05, p.wait, p)
    assert.is_not_nil(e)
    p:kill()
    assert.equal(-9, p:wait())
  end)

  it("<close> waits for the child", function()
    local p
    do
      local q <close> = Popen({ "sh", "-c", "sleep 0.1; exit 4" }, { stdout = PIPE })
      p = q
    end
    assert.equal(4, p.returncode)
    assert.equal(-1, p.stdout:fileno(), "pipes closed")
    p:close() -- idempotent
  end)

  it("close() where it cannot wait closes the pipes; wait() still reaps later", function()
    local p = Popen({ "sh", "-c", "sleep 0.1; exit 6" }, { stdout = PIPE })
    table.sort({ 1, 2 }, function() p:close() return false end) -- a comparator cannot yield
    assert.equal(-1, p.stdout:fileno())
    assert.equal(6, p:wait())
  end)

  it("writing into a child that closed its stdin raises OSError EPIPE", function()
    local p = Popen({ "true" }, { stdin = PIPE })
    p:wait()
    local e = assert.raises_kind("OSError", p.stdin.write, p.stdin, string.rep("x", 100000))
    assert.equal("EPIPE", e.code)
    p:close()
  end)

  it("run returns returncode, stdout, stderr; input and capture_output", function()
    local r = subprocess.run({ "sh", "-c", "cat; echo err >&2; exit 1" }, { input = "in", capture_output = true })
    assert.equal(1, r.returncode)
    assert.equal("in", r.stdout)
    assert.equal("err\n", r.stderr)
    r = subprocess.run({ "true" })
    assert.same({ returncode = 0, args = { "true" } }, r)
  end)

  it("check=true and check_output raise CalledProcessError with returncode, output, stderr", function()
    local e = assert.raises_kind("CalledProcessError", subprocess.run,
      { "sh", "-c", "echo o; echo e >&2; exit 2" }, { capture_output = true, check = true })
    assert.equal(2, e.returncode)
    assert.equal("o\n", e.output)
    assert.equal("o\n", e.stdout)
    assert.equal("e\n", e.stderr)
    assert.equal("CalledProcessError: Command 'sh -c echo o; echo e >&2; exit 2' returned non-zero exit status 2",
      tostring(e))
    assert.is_true(e:is(curio.CurioError))
    e = assert.raises_kind("CalledProcessError", subprocess.check_output, { "sh", "-c", "echo x; kill -9 $$" })
    assert.equal(-9, e.returncode)
    assert.equal("x\n", e.output)
    assert.matches("died with signal 9", e.message)
    assert.equal("ok\n", subprocess.check_output({ "echo", "ok" }))
    assert.equal(0, subprocess.check_call({ "true" }))
  end)

  it("a timeout kills the child and raises TimeoutExpired after reaping it", function()
    local t0 = curio.clock()
    local e = assert.raises_kind("TimeoutExpired", subprocess.run,
      { "sh", "-c", "echo started; exec sleep 10" }, { timeout = 1, capture_output = true })
    assert.is_true(curio.clock() - t0 < 8)
    assert.equal(1, e.timeout)
    assert.equal("started\n", e.stdout)
    assert.equal("", e.stderr)
    assert.equal(0, count(children()), "reaped before the error is raised")
    e = assert.raises_kind("TimeoutExpired", subprocess.check_output, { "sleep", "10" }, { timeout = 0.1 })
    assert.same({ "sleep", "10" }, e.cmd)
    assert.equal(0, count(children()))
  end)

  it("run without its own timeout passes an enclosing timeout on (and kills the child)", function()
    assert.raises_kind("TaskTimeout", curio.timeout_after, 0.1, subprocess.run, { "sleep", "10" })
    assert.equal(0, count(children()))
  end)

  it("a Popen nobody waits for is reaped when collected: no zombie", function()
    local pid
    do
      local p = Popen({ "sh", "-c", "sleep 0.1" })
      pid = p.pid
      Popen({ "true" }) -- dropped at once
      p = nil
    end
    collectgarbage()
    collectgarbage()
    assert_no_children()
    assert.is_nil(children()[pid])
  end)

  it("1,000 short-lived children leave no zombie and no descriptor behind", function()
    local before = open_fds()
    local g <close> = curio.TaskGroup()
    local next_i, done = 0, 0
    for _ = 1, 20 do
      g:spawn(function()
        while next_i < 1000 do
          next_i = next_i + 1
          local opts = next_i % 2 == 0 and { stdout = PIPE } or nil
          local p <close> = Popen({ "/bin/true" }, opts)
          if p:wait() == 0 then done = done + 1 end
        end
      end)
    end
    g:join()
    assert.equal(1000, done)
    assert.equal(0, count(children()))
    collectgarbage()
    assert.equal(before, open_fds())
  end)

  it("bad arguments raise clear errors naming the function and argument", function()
    local cases = {
      { "bad argument #1 to 'Popen' (table or string expected, got number)", Popen, 42 },
      { "bad argument #1 to 'Popen' (argv is empty)", Popen, {} },
      { "bad argument #1 to 'Popen' (argv[2]: string expected, got table)", Popen, { "echo", {} } },
      { "bad argument #1 to 'Popen' (argv[1] contains a zero byte)", Popen, { "ec\0ho" } },
      { "bad argument #2 to 'Popen' (table expected, got number)", Popen, { "true" }, 5 },
      { "bad argument #2 to 'Popen' (unknown option 'stdot')", Popen, { "true" }, { stdot = PIPE } },
      { "bad argument #2 to 'Popen' (stdin: STDOUT is only valid for stderr)", Popen, { "true" }, { stdin = STDOUT } },
      { "bad argument #2 to 'Popen' (stdout: PIPE, DEVNULL, an fd or a stream expected, got string)",
        Popen, { "true" }, { stdout = "x" } },
      { "bad argument #2 to 'Popen' (stdin: fd 99999 is not open)", Popen, { "true" }, { stdin = 99999 } },
      { "bad argument #2 to 'Popen' (stdin: fd -5 is not open)", Popen, { "true" }, { stdin = -5 } },
      { "bad argument #2 to 'Popen' (stdin: fd 4294967296 is not open)", Popen, { "true" }, { stdin = 1 << 32 } },
      { "bad argument #2 to 'Popen' (stderr: PIPE, DEVNULL, STDOUT, an fd or a stream expected, got number)",
        Popen, { "true" }, { stderr = 0.5 } },
      { "bad argument #2 to 'Popen' (cwd: string expected, got number)", Popen, { "true" }, { cwd = 1.5 } },
      { "bad argument #2 to 'Popen' (env: table expected, got string)", Popen, { "true" }, { env = "A=1" } },
      { "bad argument #2 to 'Popen' (env: string keys expected, got number)", Popen, { "true" }, { env = { "x" } } },
      { "bad argument #2 to 'Popen' (env: invalid variable name 'A=B')", Popen, { "true" }, { env = { ["A=B"] = "x" } } },
      { "bad argument #2 to 'Popen' (env.A: string expected, got boolean)", Popen, { "true" }, { env = { A = true } } },
      { "bad argument #2 to 'Popen' (shell: boolean expected, got string)", Popen, { "true" }, { shell = "yes" } },
      { "bad argument #2 to 'run' (timeout: non-negative number expected, got -1)", subprocess.run, { "true" }, { timeout = -1 } },
      { "bad argument #2 to 'run' (timeout: non-negative number expected, got nan)", subprocess.run, { "true" }, { timeout = 0 / 0 } },
      { "bad argument #2 to 'run' (timeout: non-negative number expected, got string)", subprocess.run, { "true" }, { timeout = "1" } },
      { "bad argument #2 to 'run' (input: string expected, got number)", subprocess.run, { "cat" }, { input = 5 } },
      { "bad argument #2 to 'run' (capture_output: boolean expected, got string)", subprocess.run, { "true" }, { capture_output = "y" } },
      { "bad argument #2 to 'run' (check: boolean expected, got number)", subprocess.run, { "true" }, { check = 1 } },
      { "bad argument #2 to 'run' (stdin and input cannot both be given)", subprocess.run, { "cat" }, { input = "", stdin = DEVNULL } },
      { "bad argument #2 to 'run' (stdout and stderr cannot be given with capture_output)", subprocess.run, { "true" },
        { capture_output = true, stdout = DEVNULL } },
      { "bad argument #2 to 'run' (table expected, got string)", subprocess.run, { "true" }, "x" },
      { "bad argument #2 to 'check_output' (stdout is not allowed: it is captured)", subprocess.check_output, { "true" },
        { stdout = DEVNULL } },
    }
    for _, c in ipairs(cases) do
      assert.has_error(function() c[2](table.unpack(c, 3)) end, c[1])
    end
    local p = Popen({ "cat" }, { stdin = PIPE, stdout = PIPE })
    assert.has_error(function() p:communicate(5) end, "bad argument #1 to 'communicate' (string expected, got number)")
    assert.has_error(function() p:send_signal("SIGNOPE") end, "bad argument #1 to 'send_signal' (unknown signal 'SIGNOPE')")
    assert.has_error(function() p:send_signal(1.5) end, "bad argument #1 to 'send_signal' (unknown signal 1.5)")
    assert.has_error(function() p:send_signal(nil) end,
      "bad argument #1 to 'send_signal' (signal number or name expected, got nil)")
    assert.has_error(function() p:send_signal(1e300) end, "bad argument #1 to 'send_signal' (unknown signal 1e+300)")
    p:close()
  end)

  it("errors point at the caller's line", function()
    local ok, e = pcall(function() Popen(42) end)
    assert.is_false(ok)
    assert.matches("subprocess_test%.lua:%d+: bad argument #1 to 'Popen'", e)
  end)
end)
