local curio = require "curio"
local socket = require "curio.socket"

-- Blocking outside any task (at load time, no kernel): NotInTask.
do
  local a, b = socket.socketpair()
  outside_recv = select(2, pcall(a.recv, a, 10))
  a:close()
  b:close()
end

local function listener(host, family)
  local s = socket.socket(family or socket.AF_INET, socket.SOCK_STREAM)
  s:bind(host or "127.0.0.1", 0)
  s:listen()
  return s, s:getsockname()
end

-- A connected TCP pair: (client side, server side).
local function tcp_pair(host, family)
  local l, addr = listener(host, family)
  local t = curio.spawn(function() return l:accept() end)
  local c = socket.socket(family or socket.AF_INET)
  c:connect(addr.host, addr.port)
  local s = t:join()
  l:close()
  return c, s
end

local function tmp_path(name)
  return os.tmpname() .. "." .. name .. ".sock"
end

-- A port nobody listens on.
local function closed_port()
  local s, addr = listener()
  s:close()
  return addr.port
end

describe("socket module", function()
  it("has the spec's constants", function()
    for _, k in ipairs { "AF_INET", "AF_INET6", "AF_UNIX", "SOCK_STREAM", "SOCK_DGRAM", "SOL_SOCKET",
      "SO_REUSEADDR", "SO_REUSEPORT", "SO_KEEPALIVE", "IPPROTO_TCP", "TCP_NODELAY", "SHUT_RD",
      "SHUT_WR", "SHUT_RDWR" } do
      assert.is_number(socket[k], k)
    end
    assert.equal(socket, curio.socket)
  end)

  it("raises NotInTask when blocking outside a task", function()
    assert.equal("NotInTask", outside_recv.kind)
  end)

  it("creates sockets of each kind", function()
    for _, s in ipairs { socket.tcp(), socket.tcp6(), socket.udp(), socket.unix(), socket.socket() } do
      assert.is_true(s:fileno() >= 0)
      assert.matches("^curio.socket%(fd=%d+", tostring(s))
      s:close()
      assert.equal(-1, s:fileno())
    end
    local s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    assert.equal(socket.AF_INET, s.family)
    assert.equal(socket.SOCK_DGRAM, s.type)
    s:close()
  end)

  it("checks argument types", function()
    local a, b = socket.socketpair()
    assert.error_matches(function() a:recv("x") end, "bad argument #1 to 'recv' %(integer expected, got string%)")
    assert.error_matches(function() a:sendall(42) end, "bad argument #1 to 'sendall' %(string expected")
    assert.error_matches(function() a:setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, {}) end,
      "bad argument #3 to 'setsockopt'")
    local t = socket.tcp()
    assert.error_matches(function() t:connect(127, 1) end, "bad argument #1 to 'connect' %(string expected")
    assert.error_matches(function() t:connect("127.0.0.1") end, "bad argument #2 to 'connect'")
    assert.error_matches(function() socket.socket("inet") end, "bad argument #1 to 'socket'")
    -- Located at the caller's line, however deep the check is made.
    -- (pcall: luassert's error_matches strips the position before matching)
    assert.matches("socket_test%.lua:%d+: bad argument #1 to 'recv' %(negative size%)",
      select(2, pcall(function() a:recv(-1) end)))
    assert.matches("socket_test%.lua:%d+: bad argument #2 to 'connect' %(port out of range%)",
      select(2, pcall(function() t:connect("127.0.0.1", 70000) end)))
    local u <close> = socket.udp()
    assert.error_matches(function() u:sendto("x", 5, 6) end, "bad argument #2 to 'sendto' %(string expected")
    t:close(); a:close(); b:close()
  end)
end)

describe("TCP", function()
  it("echoes over IPv4 with the curio README's calls", function()
    local sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock:setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock:bind("127.0.0.1", 0)
    sock:listen(5)
    local addr = sock:getsockname()
    assert.equal("127.0.0.1", addr.host)
    assert.equal(addr.host .. ":" .. addr.port, tostring(addr))
    local server = curio.spawn(function()
      local client, caddr = sock:accept()
      local c <close> = client
      assert.equal("127.0.0.1", caddr.host)
      while true do
        local data = c:recv(100000)
        if not data then break end
        c:sendall(data)
      end
      return "done"
    end)
    local c <close> = socket.tcp()
    c:connect("127.0.0.1", addr.port)
    assert.equal(addr, c:getpeername())
    for _, msg in ipairs { "x", "hello world", string.rep("abc", 5000) } do
      c:sendall(msg)
      local got = {}
      local n = 0
      while n < #msg do
        local d = c:recv(65536)
        got[#got + 1] = d
        n = n + #d
      end
      assert.equal(msg, table.concat(got))
    end
    c:shutdown(socket.SHUT_WR)
    assert.is_nil(c:recv(10))
    assert.equal("done", server:join())
    sock:close()
  end)

  it("echoes over IPv6", function()
    local ok, l = pcall(listener, "::1", socket.AF_INET6)
    if not ok then return end -- no IPv6 on this machine
    local addr = l:getsockname()
    assert.equal("::1", addr.host)
    assert.equal("[::1]:" .. addr.port, tostring(addr))
    curio.spawn(function()
      local c <close> = l:accept()
      c:sendall(c:recv(100))
    end)
    local c <close> = socket.tcp6()
    c:connect("::1", addr.port)
    c:sendall("six")
    assert.equal("six", c:recv(100))
    l:close()
  end)

  it("send returns the count sent, recv(0) returns an empty string", function()
    local a, b = tcp_pair()
    assert.equal(5, a:send("hello"))
    assert.equal("hello", b:recv(5))
    assert.equal("", b:recv(0))
    a:close(); b:close()
  end)

  it("reads nil at end of stream, after a half-close the other way still works", function()
    local a, b = tcp_pair()
    a:shutdown(socket.SHUT_WR)
    assert.is_nil(b:recv(10))
    b:sendall("still open")
    assert.equal("still open", a:recv(100))
    a:close(); b:close()
  end)

  it("sets and gets options", function()
    local a, b = tcp_pair()
    a:setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, true)
    assert.equal(1, a:getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
    a:setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    assert.equal(1, a:getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))
    a:setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0)
    assert.equal(0, a:getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))
    a:close(); b:close()
  end)

  it("raises OSError ECONNREFUSED with the address in the message", function()
    local port = closed_port()
    local s <close> = socket.tcp()
    local e = assert.raises_kind("OSError", s.connect, s, "127.0.0.1", port)
    assert.equal("ECONNREFUSED", e.code)
    assert.is_number(e.errno)
    assert.matches("^connect 127%.0%.0%.1:" .. port .. ": ECONNREFUSED", e.message)
    assert.matches("^OSError: connect 127%.0%.0%.1:" .. port .. ": ECONNREFUSED", tostring(e))
  end)

  it("raises EADDRINUSE when the address is taken", function()
    local l, addr = listener()
    local s <close> = socket.tcp()
    local e = assert.raises_kind("OSError", s.bind, s, "127.0.0.1", addr.port)
    assert.equal("EADDRINUSE", e.code)
    assert.matches("bind 127%.0%.0%.1:" .. addr.port, e.message)
    l:close()
  end)

  it("connects to a host name resolved on the thread pool", function()
    local l, addr = listener()
    curio.spawn(function() local c <close> = l:accept(); c:sendall("hi") end)
    local c <close> = socket.tcp()
    c:connect("localhost", addr.port)
    assert.equal("hi", c:recv(10))
    l:close()
  end)
end)

describe("timeouts and cancellation", function()
  it("accept times out, then works (the registration is kept)", function()
    local l <close>, addr = listener()
    local e = assert.raises_kind("TaskTimeout", curio.timeout_after, 0.05, l.accept, l)
    assert.is_nil(curio.ignore_after(0.02, l.accept, l))
    local c <close> = socket.tcp()
    c:connect("127.0.0.1", addr.port)
    local s <close> = curio.timeout_after(1, l.accept, l)
    assert.is_true(s:fileno() >= 0)
  end)

  it("accept can be cancelled", function()
    local l <close> = listener()
    local t = curio.spawn(function() return l:accept() end)
    curio.sleep(0.02)
    assert.equal("READ_WAIT", t.state)
    t:cancel()
    assert.equal("TaskCancelled", t:exception().kind)
  end)

  it("recv times out and can be cancelled, and data is not lost", function()
    local a, b = tcp_pair()
    assert.raises_kind("TaskTimeout", curio.timeout_after, 0.05, b.recv, b, 10)
    local t = curio.spawn(function() return b:recv(10) end)
    curio.sleep(0.02)
    t:cancel()
    assert.is_true(t:cancelled())
    a:sendall("after")
    assert.equal("after", curio.timeout_after(1, b.recv, b, 10))
    a:close(); b:close()
  end)

  it("sendall reports bytes_sent when it times out against a peer that does not read", function()
    local a, b = tcp_pair()
    local data = string.rep("z", 16 * 1024 * 1024)
    local e = assert.raises_kind("TaskTimeout", curio.timeout_after, 0.2, a.sendall, a, data)
    assert.is_number(e.bytes_sent)
    assert.is_true(e.bytes_sent > 0 and e.bytes_sent < #data, tostring(e.bytes_sent))
    -- Exactly bytes_sent bytes arrive.
    a:shutdown(socket.SHUT_WR)
    local n = 0
    while true do
      local d = b:recv(1 << 20)
      if not d then break end
      n = n + #d
    end
    assert.equal(e.bytes_sent, n)
    a:close(); b:close()
  end)

  it("sendall reports bytes_sent when cancelled", function()
    local a, b = tcp_pair()
    local t = curio.spawn(function() a:sendall(string.rep("q", 16 * 1024 * 1024)) end)
    curio.sleep(0.05)
    assert.equal("WRITE_WAIT", t.state)
    t:cancel()
    local e = t:exception()
    assert.equal("TaskCancelled", e.kind)
    assert.is_true(e.bytes_sent > 0)
    a:close(); b:close()
  end)

  it("sendall moves 4 MiB to a slow reader, every byte in order", function()
    local a, b = tcp_pair()
    local parts = {}
    for i = 1, 4 * 1024 do parts[i] = string.format("%07d", i) .. string.rep(string.char(65 + i % 26), 1017) end
    local data = table.concat(parts)
    assert.equal(4 * 1024 * 1024, #data)
    local reader = curio.spawn(function()
      local got, n = {}, 0
      while true do
        local d = b:recv(65536)
        if not d then break end
        got[#got + 1] = d
        n = n + 1
        if n % 8 == 0 then curio.sleep(0.001) end -- slow
      end
      return table.concat(got)
    end)
    a:sendall(data)
    a:shutdown(socket.SHUT_WR)
    assert.is_true(reader:join() == data)
    a:close(); b:close()
  end)
end)

describe("one reader, one writer", function()
  it("a second reader gets ResourceBusy", function()
    local a, b = tcp_pair()
    local t = curio.spawn(function() return b:recv(10) end)
    curio.sleep(0.01)
    local e = assert.raises_kind("ResourceBusy", b.recv, b, 10)
    assert.matches("reading", e.message)
    a:sendall("x")
    assert.equal("x", t:join())
    a:close(); b:close()
  end)

  it("a second writer gets ResourceBusy, a reader may wait meanwhile", function()
    local a, b = tcp_pair()
    local w = curio.spawn(function() a:sendall(string.rep("w", 16 * 1024 * 1024)) end)
    curio.sleep(0.02)
    assert.raises_kind("ResourceBusy", a.sendall, a, "more")
    local r = curio.spawn(function() return a:recv(10) end)
    curio.sleep(0.01)
    assert.equal("READ_WAIT", r.state)
    b:sendall("ok")
    assert.equal("ok", r:join())
    w:cancel()
    a:close(); b:close()
  end)
end)

describe("closing", function()
  it("is idempotent and works with <close>", function()
    local s
    do
      local x <close> = socket.tcp()
      s = x
    end
    assert.equal(-1, s:fileno())
    s:close()
  end)

  it("using a closed socket raises a clear OSError", function()
    local a, b = socket.socketpair()
    a:close()
    local e = assert.raises_kind("OSError", a.recv, a, 10)
    assert.equal("EBADF", e.code)
    assert.matches("socket is closed", e.message)
    assert.raises_kind("OSError", a.sendall, a, "x")
    assert.raises_kind("OSError", a.getsockname, a)
    b:close()
  end)

  it("a task waiting on a socket closed by another task gets an error", function()
    local a, b = socket.socketpair()
    local t = curio.spawn(function() return pcall(a.recv, a, 10) end)
    curio.sleep(0.01)
    a:close()
    local ok, e = t:join()
    assert.is_false(ok)
    assert.equal("OSError", e.kind)
    assert.equal("EBADF", e.code)
    assert.matches("socket is closed", e.message)
    b:close()
  end)
end)

describe("UDP", function()
  it("echoes datagrams with recvfrom and sendto", function()
    local s <close> = socket.udp()
    s:bind("127.0.0.1", 0)
    local addr = s:getsockname()
    curio.spawn(function()
      for _ = 1, 3 do
        local data, from = s:recvfrom(65536)
        s:sendto(data, from.host, from.port)
      end
    end)
    local c <close> = socket.udp()
    for _, msg in ipairs { "ping", "", string.rep("u", 8000) } do
      assert.equal(#msg, c:sendto(msg, "127.0.0.1", addr.port))
      local data, from = curio.timeout_after(1, c.recvfrom, c, 65536)
      assert.equal(msg, data)
      assert.equal(addr, from)
    end
  end)

  it("connected datagram sockets use send and recv; recvfrom times out", function()
    local a <close> = socket.udp()
    a:bind("127.0.0.1", 0)
    local b <close> = socket.udp()
    b:connect("127.0.0.1", a:getsockname().port)
    b:send("hi")
    assert.equal("hi", a:recv(100))
    assert.raises_kind("TaskTimeout", curio.timeout_after, 0.03, a.recvfrom, a, 100)
  end)
end)

describe("Unix sockets", function()
  it("echoes over a Unix stream socket", function()
    local path = tmp_path("echo")
    local l <close> = socket.unix()
    l:bind(path)
    l:listen()
    assert.equal(path, l:getsockname())
    curio.spawn(function()
      local c <close>, addr = l:accept()
      assert.equal("", addr)
      c:sendall(c:recv(100))
    end)
    local c <close> = socket.unix()
    c:connect(path)
    assert.equal(path, c:getpeername())
    c:sendall("unix")
    assert.equal("unix", c:recv(100))
    os.remove(path)
  end)

  it("connecting to a missing path raises ENOENT", function()
    local c <close> = socket.unix()
    local e = assert.raises_kind("OSError", c.connect, c, "/nonexistent/curio.sock")
    assert.equal("ENOENT", e.code)
    assert.matches("/nonexistent/curio.sock", e.message)
  end)

  it("socketpair gives two connected sockets", function()
    local a, b = socket.socketpair()
    local _ <close> = a
    local _ <close> = b
    a:sendall("ping")
    assert.equal("ping", b:recv(10))
    b:sendall("pong")
    assert.equal("pong", a:recv(10))
    local d1, d2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    d1:send("")
    assert.equal("", d2:recv(10)) -- an empty datagram is not end of stream
    d1:close(); d2:close()
  end)

  it("fromfd wraps a duplicate of a descriptor", function()
    local a, b = socket.socketpair()
    local c <close> = socket.fromfd(a:fileno())
    assert.not_equal(a:fileno(), c:fileno())
    assert.equal(socket.AF_UNIX, c.family)
    assert.equal(socket.SOCK_STREAM, c.type)
    c:sendall("dup")
    assert.equal("dup", b:recv(10))
    assert.raises_kind("OSError", socket.fromfd, 987654)
    a:close(); b:close()
  end)
end)

describe("name resolution", function()
  it("getaddrinfo returns numeric addresses", function()
    local list = socket.getaddrinfo("localhost", 80, socket.AF_INET, socket.SOCK_STREAM)
    assert.is_true(#list >= 1)
    assert.equal(socket.AF_INET, list[1].family)
    assert.equal(socket.SOCK_STREAM, list[1].type)
    assert.equal("127.0.0.1", list[1].addr.host)
    assert.equal(80, list[1].addr.port)
    assert.equal("127.0.0.1", socket.gethostbyname("localhost"))
    assert.equal("10.1.2.3", socket.gethostbyname("10.1.2.3"))
  end)

  it("getaddrinfo failures are OSErrors with the resolver's code", function()
    local e = assert.raises_kind("OSError", socket.getaddrinfo, "no-such-host.invalid", 80)
    assert.matches("^EAI_", e.code)
    assert.matches("no%-such%-host%.invalid", e.message)
  end)

  it("getaddrinfo errors carry glibc's symbolic names, GNU ones too", function()
    local e = assert.raises_kind("OSError", socket.getaddrinfo, "::1", 80, socket.AF_INET)
    assert.equal("EAI_ADDRFAMILY", e.code)
    assert.matches("EAI_ADDRFAMILY %(Address family for hostname not supported%)", e.message)
  end)

  it("other tasks run while a name resolves", function()
    local ticks = 0
    local t = curio.spawn(function() while true do curio.sleep(0) ticks = ticks + 1 end end)
    socket.getaddrinfo("localhost", nil)
    t:cancel()
    assert.is_true(ticks > 0)
  end)
end)
