local curio = require "curio"
local socket = require "curio.socket"
local core = require "curio.core"

local exe = core.exepath()

local capture_stderr = require("support").capture_stderr

local function echo_handler(client, addr)
  while true do
    local data = client:recv(65536)
    if not data then break end
    client:sendall(data)
  end
end

-- Starts tcp_server on an ephemeral port; returns the server task and the port.
local function start_server(handler, opts)
  local sock = curio.tcp_server_socket("127.0.0.1", 0, opts)
  local port = sock:getsockname().port
  local t = curio.spawn(curio.run_server, sock, handler)
  return t, port
end

local function roundtrip(port, msg)
  local c <close> = curio.open_connection("127.0.0.1", port)
  c:sendall(msg)
  c:shutdown(socket.SHUT_WR)
  local got = {}
  while true do
    local d = c:recv(65536)
    if not d then break end
    got[#got + 1] = d
  end
  return table.concat(got)
end

local function closed_port()
  local s = curio.tcp_server_socket("127.0.0.1", 0)
  local port = s:getsockname().port
  s:close()
  return port
end

describe("open_connection", function()
  it("connects to numeric addresses and host names", function()
    local srv, port = start_server(echo_handler)
    local c <close> = curio.open_connection("127.0.0.1", port)
    c:sendall("a")
    assert.equal("a", c:recv(10))
    local c2 <close> = curio.open_connection("localhost", port)
    c2:sendall("b")
    assert.equal("b", c2:recv(10))
    srv:cancel()
  end)

  it("raises ECONNREFUSED naming the address", function()
    local port = closed_port()
    local e = assert.raises_kind("OSError", curio.open_connection, "127.0.0.1", port)
    assert.equal("ECONNREFUSED", e.code)
    assert.matches("connect 127%.0%.0%.1:" .. port .. ": ECONNREFUSED", tostring(e))
    e = assert.raises_kind("OSError", curio.open_connection, "localhost", port)
    assert.equal("ECONNREFUSED", e.code)
  end)

  it("binds source_addr and honours timeout", function()
    local srv, port = start_server(function(client, addr) client:sendall(tostring(addr.host)) end)
    local c <close> = curio.open_connection("127.0.0.1", port, { source_addr = { "127.0.0.2", 0 } })
    assert.equal("127.0.0.2", c:recv(100))
    assert.equal("127.0.0.2", c:getsockname().host)
    local c2 <close> = curio.open_connection("127.0.0.1", port, { timeout = 1 })
    -- A black-holed address times out, is unreachable at once, or (behind some
    -- sandboxes' proxies) connects: it must not wait longer than the timeout.
    local t0 = curio.clock()
    local ok, e = pcall(curio.open_connection, "10.255.255.1", 9, { timeout = 0.1 })
    assert.is_true(curio.clock() - t0 < 1)
    if ok then e:close() else assert.is_true(e.kind == "TaskTimeout" or e.kind == "OSError", tostring(e)) end
    srv:cancel()
  end)

  it("takes ssl options (Tests/lua/ssl_test.lua tests TLS itself)", function()
    local e = assert.raises_kind("OSError", curio.open_connection, "127.0.0.1", closed_port(), { ssl = true })
    assert.equal("ECONNREFUSED", e.code) -- connecting comes first
    assert.error_matches(function() curio.tcp_server("", 0, echo_handler, { ssl = {} }) end,
      "bad argument #4 to 'tcp_server' %(ssl as SSLContext expected, got table%)")
  end)

  it("checks its arguments", function()
    assert.error_matches(function() curio.open_connection(1, 2) end, "bad argument #1 to 'open_connection'")
    assert.error_matches(function() curio.open_connection("h", "x") end, "bad argument #2 to 'open_connection'")
    assert.error_matches(function() curio.tcp_server("", 0, 42) end, "bad argument #3 to 'tcp_server'")
  end)
end)

describe("tcp_server", function()
  it("serves clients concurrently and closes each client when its handler ends", function()
    local srv, port = start_server(echo_handler)
    local g <close> = curio.TaskGroup()
    for i = 1, 20 do
      g:spawn(function()
        return roundtrip(port, ("client %d "):format(i):rep(1000))
      end)
    end
    g:join()
    for i, r in ipairs(g:results()) do assert.equal(("client %d "):format(i):rep(1000), r) end
    -- A handler that returns at once: the client sees end of stream.
    local srv2, port2 = start_server(function() end)
    local c <close> = curio.open_connection("127.0.0.1", port2)
    assert.is_nil(curio.timeout_after(1, c.recv, c, 10))
    srv:cancel()
    srv2:cancel()
  end)

  it("survives resets, half-closes, idle clients and handler errors", function()
    local srv, port = start_server(function(client, addr)
      local s = client:as_stream()
      for line in s:lines() do
        if line == "crash" then error("handler failed on purpose") end
        s:write(line .. "\n")
      end
    end)
    local out = capture_stderr(function()
      -- idle: connects and says nothing
      local idle <close> = curio.open_connection("127.0.0.1", port)
      -- reset: closes with SO_LINGER 0 (an RST) while the server has data for it
      local r = curio.open_connection("127.0.0.1", port)
      r:sendall("x\n")
      curio.sleep(0.01)
      r:setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, string.pack("i4i4", 1, 0))
      r:close()
      -- half-close: sends, shuts its side, still reads the answer
      local h <close> = curio.open_connection("127.0.0.1", port)
      h:sendall("half\n")
      h:shutdown(socket.SHUT_WR)
      assert.equal("half\n", curio.timeout_after(1, h.recv, h, 100))
      -- handler error
      local c <close> = curio.open_connection("127.0.0.1", port)
      c:sendall("crash\n")
      assert.is_nil(curio.timeout_after(1, c.recv, c, 100))
      -- the server still works
      assert.equal("still\n", roundtrip(port, "still\n"))
    end)
    assert.matches("Task Crash: ", out)
    assert.matches("handler failed on purpose", out)
    assert.equal("READ_WAIT", srv.state) -- still accepting
    srv:cancel()
  end)

  it("cancelling the server cancels its handlers and closes their sockets", function()
    local started = 0
    local handlers_cancelled = 0
    local srv, port = start_server(function(client)
      started = started + 1
      local ok, e = pcall(client.recv, client, 10)
      if not ok and e.kind == "TaskCancelled" then handlers_cancelled = handlers_cancelled + 1 end
      error(e, 0)
    end)
    local clients = {}
    for i = 1, 3 do clients[i] = curio.open_connection("127.0.0.1", port) end
    while started < 3 do curio.sleep(0.005) end
    srv:cancel()
    assert.is_true(srv:cancelled())
    assert.equal(3, handlers_cancelled)
    for _, c in ipairs(clients) do
      assert.is_nil(curio.timeout_after(1, c.recv, c, 10))
      c:close()
    end
    -- The listening socket is closed too.
    assert.raises_kind("OSError", curio.open_connection, "127.0.0.1", port)
  end)

  it("run_server returns when another task closes the listening socket", function()
    local sock = curio.tcp_server_socket("127.0.0.1", 0)
    local t = curio.spawn(curio.run_server, sock, echo_handler)
    curio.sleep(0.01)
    sock:close()
    t:join()
  end)

  it("tcp_server_socket reuses addresses by default, and reports addresses in use", function()
    local s1 = curio.tcp_server_socket("127.0.0.1", 0)
    local port = s1:getsockname().port
    assert.equal(1, s1:getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR))
    local e = assert.raises_kind("OSError", curio.tcp_server_socket, "127.0.0.1", port)
    assert.equal("EADDRINUSE", e.code)
    assert.matches("bind 127%.0%.0%.1:" .. port, e.message)
    s1:close()
    local s2 = curio.tcp_server_socket("127.0.0.1", 0, { reuse_address = false, reuse_port = true, backlog = 5 })
    assert.equal(0, s2:getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR))
    assert.equal(1, s2:getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT))
    s2:close()
  end)

  it("serves IPv6 when the host is an IPv6 address", function()
    local ok, sock = pcall(curio.tcp_server_socket, "::1", 0)
    if not ok then return end -- no IPv6 here
    assert.equal(socket.AF_INET6, sock.family)
    local port = sock:getsockname().port
    local srv = curio.spawn(curio.run_server, sock, echo_handler)
    local c <close> = curio.open_connection("::1", port)
    c:sendall("v6")
    assert.equal("v6", c:recv(10))
    srv:cancel()
  end)
end)

describe("Unix servers", function()
  it("unix_server and open_unix_connection", function()
    local path = os.tmpname() .. ".sock"
    local srv = curio.spawn(curio.unix_server, path, echo_handler)
    curio.sleep(0.01)
    local c <close> = curio.open_unix_connection(path)
    c:sendall("over unix")
    assert.equal("over unix", c:recv(100))
    srv:cancel()
    local e = assert.raises_kind("OSError", curio.open_unix_connection, path .. ".missing")
    assert.equal("ENOENT", e.code)
    -- The file is left behind (as curio does): binding again is an error.
    e = assert.raises_kind("OSError", curio.unix_server_socket, path)
    assert.equal("EADDRINUSE", e.code)
    os.remove(path)
    local s = curio.unix_server_socket(path, { backlog = 3 })
    s:close()
    os.remove(path)
  end)
end)

-- ------------------------------------------------------------------ descriptors exhausted

local SERVER = [[
local curio = require "curio"
curio.tcp_server("127.0.0.1", tonumber(arg[1]), function(client)
  while true do
    local d = client:recv(1000)
    if not d then break end
    client:sendall(d)
  end
end)
]]

local function cpu_seconds(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return nil end
  local stat = f:read("a")
  f:close()
  local fields = {}
  for x in stat:match("%) (.*)$"):gmatch("%S+") do fields[#fields + 1] = x end
  return (tonumber(fields[12]) + tonumber(fields[13])) / 100 -- utime + stime, in ticks
end

describe("a server out of file descriptors", function()
  it("logs once, backs off without spinning, and recovers", function()
    local script = os.tmpname() .. ".lua"
    local log = os.tmpname()
    local f = io.open(script, "w")
    f:write(SERVER)
    f:close()
    local port = closed_port()
    local p = io.popen(("sh -c 'ulimit -n 32; exec \"%s\" \"%s\" %d' > %s 2>&1 & echo $!"):format(exe, script, port, log))
    local pid = p:read("l")
    p:close()
    local ok, e = pcall(function()
      local first
      for _ = 1, 200 do
        local ok2, c = pcall(curio.open_connection, "127.0.0.1", port)
        if ok2 then first = c break end
        curio.sleep(0.02)
      end
      assert.is_not_nil(first, "server did not start")
      -- Many more connections than the server has descriptors for.
      local clients = { first }
      for i = 2, 60 do clients[i] = curio.open_connection("127.0.0.1", port) end
      curio.sleep(0.3)
      local cpu0 = cpu_seconds(pid)
      curio.sleep(1)
      local cpu = cpu_seconds(pid) - cpu0
      assert.is_true(cpu < 0.3, ("server used %.2fs of CPU in 1s while out of descriptors"):format(cpu))
      -- Release most of them: the server accepts the rest and echoes.
      for i = 1, 50 do clients[i]:close() end
      local last = clients[60]
      last:sendall("alive")
      assert.equal("alive", curio.timeout_after(3, last.recv, last, 100))
      for i = 51, 60 do clients[i]:close() end
      local lf = io.open(log)
      local text = lf:read("a")
      lf:close()
      local _, count = text:gsub("EMFILE", "")
      assert.equal(1, count, text)
      assert.is_nil(text:find("Task Crash", 1, true), text)
    end)
    os.execute("kill " .. pid)
    os.remove(script)
    os.remove(log)
    if not ok then error(e, 0) end
  end)
end)

describe("run_server memory", function()
  it("collects the garbage of a spike of connections once its last client has gone", function()
    collectgarbage()
    collectgarbage("stop") -- only run_server's collection can bring the count back
    local before = collectgarbage("count")
    local peak = before
    local sampler = curio.spawn(function()
      while true do
        peak = math.max(peak, collectgarbage("count"))
        curio.sleep(0.002)
      end
    end)
    local srv, port = start_server(echo_handler)
    local g <close> = curio.TaskGroup()
    for _ = 1, 200 do
      g:spawn(function() -- the clients keep nothing: what is left is garbage
        local c <close> = curio.open_connection("127.0.0.1", port)
        c:sendall(("x"):rep(60000))
        c:shutdown(socket.SHUT_WR)
        while c:recv(65536) do end
      end)
    end
    g:join()
    local after
    for _ = 1, 200 do -- the last handler ends just after its client's EOF
      after = collectgarbage("count")
      if after < before + 4096 then break end
      curio.sleep(0.01)
    end
    collectgarbage("restart")
    sampler:cancel()
    srv:cancel()
    assert.is_true(peak > before + 4096, ("the spike should show: %.0f KiB -> %.0f"):format(before, peak))
    assert.is_true(after < before + 4096, ("before %.0f KiB, peak %.0f, after %.0f"):format(before, peak, after))
  end)
end)
