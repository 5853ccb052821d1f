-- curio.ssl: contexts, verification, SSL sockets, the network helpers' ssl options.
-- Certificates: Tests/lua/fixtures/ssl (made by make_certs.sh there, 100-year validity).
local curio = require "curio"
local ssl = require "curio.ssl"
local socket = require "curio.socket"

local F = "Tests/lua/fixtures/ssl/"
local CA, OTHER_CA = F .. "ca.pem", F .. "other_ca.pem"

local function server_ctx(opts)
  opts = opts or {}
  local o = { server = true, certfile = F .. (opts.cert or "server") .. ".pem",
    keyfile = F .. (opts.cert or "server") .. ".key" }
  for k, v in pairs(opts) do if k ~= "cert" then o[k] = v end end
  return ssl.context(o)
end

local function client_ctx(opts)
  local o = { cafile = CA }
  for k, v in pairs(opts or {}) do o[k] = v end
  return ssl.context(o)
end

local function echo(s)
  while true do
    local d = s:recv(65536)
    if not d then break end
    s:sendall(d)
  end
end

-- Listens on loopback; each client runs handler(ssl_socket_or_error, plain, addr)
-- after the server side of the handshake (wrap_socket). Returns port, server task.
local function serve(ctx, handler)
  local lsock = curio.tcp_server_socket("127.0.0.1", 0)
  local port = lsock:getsockname().port
  local t = curio.spawn(curio.run_server, lsock, function(client, addr)
    local ok, s = pcall(ctx.wrap_socket, ctx, client, { server_side = true })
    if not ok then return handler(nil, s, client) end
    local _ <close> = s
    return handler(s, nil, client)
  end)
  return port, t
end

local function connect(port, ctx, host)
  return curio.timeout_after(5, curio.open_connection, "127.0.0.1", port,
    { ssl = ctx or client_ctx(), server_hostname = host })
end

-- A port nobody listens on yet (for tcp_server, which picks no port of its own).
local free_port = require("support").free_port

describe("contexts", function()
  it("client contexts verify and check host names by default", function()
    local ctx = ssl.create_default_context()
    assert.is_true(ctx.verify)
    assert.is_true(ctx.check_hostname)
    assert.is_false(ctx.server)
    local c2 = ssl.create_default_context("client")
    assert.is_true(c2.verify)
    local s = ssl.create_default_context("server")
    assert.is_true(s.server)
    assert.is_false(s.verify)
    assert.is_false(s.check_hostname)
    assert.matches("SSLContext%(server%)", tostring(s))
    assert.matches("^OpenSSL 3", ssl.OPENSSL_VERSION)
    assert.equal(ssl, curio.ssl)
    assert.equal(curio.SSLError, ssl.SSLError)
  end)

  it("rejects bad options with argument errors", function()
    assert.error_matches(function() ssl.context(5) end, "bad argument #1 to 'context' %(table expected, got number%)")
    assert.error_matches(function() ssl.context { verfy = true } end, "unknown option 'verfy'")
    assert.error_matches(function() ssl.context { verify = "yes" } end, "option 'verify': boolean expected, got string")
    assert.error_matches(function() ssl.context { verify = false, check_hostname = true } end,
      "check_hostname requires verify")
    assert.error_matches(function() ssl.context { min_version = "TLSv1.0" } end, "min_version must be")
    assert.error_matches(function() ssl.create_default_context("both") end, "to 'create_default_context'")
    assert.error_matches(function() ssl.context { server = true, verify = true } end, "needs cafile or capath")
    assert.error_matches(function() ssl.context { alpn_protocols = { "" } } end, "ALPN protocol #1")
    assert.error_matches(function() ssl.context { ciphers = "NO-SUCH-CIPHER" } end, "no cipher")
  end)

  it("names a missing or invalid certificate or key file", function()
    local e = assert.raises_kind("SSLError", ssl.context, { server = true, certfile = F .. "nope.pem" })
    assert.matches("certfile " .. F .. "nope%.pem: No such file or directory", e.message)
    e = assert.raises_kind("SSLError", ssl.context, { server = true, certfile = F .. "server.pem",
      keyfile = F .. "nokey.key" })
    assert.matches("keyfile .*nokey%.key", e.message)
    e = assert.raises_kind("SSLError", ssl.context, { server = true, certfile = F .. "make_certs.sh",
      keyfile = F .. "server.key" })
    assert.matches("certfile .*make_certs%.sh: cannot load certificate %(.+%)", e.message)
    e = assert.raises_kind("SSLError", ssl.context, { server = true, certfile = F .. "server.pem",
      keyfile = F .. "client.key" })
    assert.matches("keyfile .*client%.key does not match certfile .*server%.pem", e.message)
    e = assert.raises_kind("SSLError", ssl.context, { cafile = F .. "server.key" })
    assert.matches("cafile .*server%.key", e.message)
  end)
end)

describe("SSL sockets", function()
  it("echo over TLS 1.3 with the socket API, and close_notify ends the stream", function()
    local port, srv = serve(server_ctx(), function(s) echo(s) end)
    local c <close> = connect(port, nil, "localhost")
    assert.equal("TLSv1.3", c:version())
    local name, proto, bits = c:cipher()
    assert.is_string(name)
    assert.equal("TLSv1.3", proto)
    assert.is_true(bits >= 128)
    assert.equal(5, c:send("hello"))
    assert.equal("hello", c:recv(100))
    local big = string.rep("0123456789abcdef", 100000)
    local sender = curio.spawn(function() c:sendall(big) end)
    local got = {}
    local n = 0
    while n < #big do
      local d = c:recv(65536)
      got[#got + 1] = d
      n = n + #d
    end
    sender:join()
    assert.is_true(table.concat(got) == big)
    c:shutdown(socket.SHUT_WR) -- close_notify: the server's recv returns nil, it closes
    assert.is_nil(c:recv(100))
    srv:cancel()
  end)

  it("streams read lines and see the end of the stream", function()
    local port, srv = serve(server_ctx(), function(s)
      local st = s:as_stream()
      for line in st:lines() do st:write(line:upper() .. "\n") end
    end)
    local c = connect(port)
    local st <close> = c:as_stream()
    st:write("one\ntwo\n")
    assert.equal("ONE\n", st:readline())
    assert.equal("TWO", st:read("l"))
    c:shutdown(socket.SHUT_WR)
    assert.is_nil(st:readline())
    srv:cancel()
  end)

  it("getpeercert, ALPN, versions", function()
    local seen = {}
    local sctx = server_ctx { alpn_protocols = { "h2", "http/1.1" }, verify = true, cafile = CA }
    local port, srv = serve(sctx, function(s)
      seen.alpn = s:selected_alpn_protocol()
      seen.cert = s:getpeercert()
      s:sendall("x")
      echo(s)
    end)
    local cctx = client_ctx { alpn_protocols = { "spdy/1", "http/1.1" }, certfile = F .. "client.pem",
      keyfile = F .. "client.key" }
    local c <close> = connect(port, cctx, "127.0.0.1")
    assert.equal("x", c:recv(1))
    assert.equal("http/1.1", c:selected_alpn_protocol())
    assert.equal("http/1.1", seen.alpn)
    assert.equal("curio-client", seen.cert.subject.CN)
    local cert = c:getpeercert()
    assert.equal("localhost", cert.subject.CN)
    assert.equal("curio-lua tests", cert.subject.O)
    assert.equal("curio test ca", cert.issuer.CN)
    assert.same({ "DNS:localhost", "IP:127.0.0.1", "IP:::1" }, cert.san)
    assert.matches("GMT$", cert.notBefore)
    assert.matches("21%d%d GMT$", cert.notAfter)
    assert.matches("^%x+$", cert.serial)
    assert.equal(3, cert.version)
    local der = c:getpeercert(true)
    assert.equal("\x30", der:sub(1, 1))
    -- Per-connection ALPN and a TLS 1.2 ceiling.
    local c2 <close> = curio.open_connection("127.0.0.1", port, { ssl = client_ctx {
      max_version = "TLSv1.2", certfile = F .. "client.pem", keyfile = F .. "client.key" },
      alpn_protocols = { "h2" } })
    assert.equal("x", c2:recv(1))
    assert.equal("TLSv1.2", c2:version())
    assert.equal("h2", c2:selected_alpn_protocol())
    srv:cancel()
  end)

  it("ciphers and version bounds", function()
    local port, srv = serve(server_ctx { ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305" },
      function(s) if s then s:sendall("ok") end end)
    local c <close> = connect(port, client_ctx { max_version = "TLSv1.2", ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305" })
    assert.equal("ok", c:recv(10))
    assert.equal("TLSv1.2", c:version())
    assert.equal("ECDHE-ECDSA-CHACHA20-POLY1305", (c:cipher()))
    srv:cancel()
    local port13, srv13 = serve(server_ctx { min_version = "TLSv1.3" }, function() end)
    local e = assert.raises_kind("SSLError", connect, port13, client_ctx { max_version = "TLSv1.2" })
    assert.matches("protocol", e.reason)
    srv13:cancel()
  end)

  it("checks DNS names and IP addresses", function()
    local port, srv = serve(server_ctx(), function(s) if s then s:sendall("ok") end end)
    for _, h in ipairs { "localhost", "127.0.0.1", "::1" } do
      local c <close> = connect(port, nil, h)
      assert.equal("ok", c:recv(10))
    end
    -- open_connection checks the host it connects to when no server_hostname is given
    local c <close> = curio.open_connection("localhost", port, { ssl = client_ctx() })
    assert.equal("ok", c:recv(10))
    for _, h in ipairs { "example.com", "127.0.0.2", "local" } do
      local e = assert.raises_kind("SSLError", connect, port, nil, h)
      assert.equal("certificate verify failed", e.reason)
      assert.equal(h == "127.0.0.2" and "IP address mismatch" or "hostname mismatch", e.verify_message)
      assert.matches("certificate verify failed %(.*mismatch%)", tostring(e))
    end
    srv:cancel()
  end)

  it("rejects unknown CAs, self-signed and expired certificates", function()
    local cases = {
      { "selfsigned", nil, "self%-signed certificate" },
      { "server", client_ctx { cafile = OTHER_CA }, "unable to get local issuer certificate" },
      { "expired", nil, "certificate has expired" },
    }
    for _, case in ipairs(cases) do
      local port, srv = serve(server_ctx { cert = case[1] }, function() end)
      local e = assert.raises_kind("SSLError", connect, port, case[2], "localhost")
      assert.equal("certificate verify failed", e.reason)
      assert.matches(case[3], e.verify_message)
      srv:cancel()
    end
    -- ssl=true: the system CA store does not know our private CA
    local port, srv = serve(server_ctx(), function() end)
    local e = assert.raises_kind("SSLError", curio.open_connection, "localhost", port, { ssl = true })
    assert.equal("certificate verify failed", e.reason)
    -- verify=false accepts anything (and checks no host name)
    local c <close> = connect(port, ssl.context { verify = false }, "whatever")
    assert.equal("TLSv1.3", c:version())
    srv:cancel()
  end)

  it("a server that requires client certificates refuses clients without one", function()
    local failures = {}
    local port, srv = serve(server_ctx { verify = true, cafile = CA }, function(s, err)
      if not s then failures[#failures + 1] = err; return end
      s:sendall("hi")
    end)
    local c = connect(port, client_ctx(), "localhost") -- TLS 1.3: the client finishes first
    local e = assert.raises_kind("SSLError", c.recv, c, 10)
    assert.matches("certificate required", e.reason)
    c:close()
    curio.sleep(0.05)
    assert.equal(1, #failures)
    assert.equal("SSLError", failures[1].kind)
    assert.matches("peer did not return a certificate", failures[1].reason)
    -- a client certificate from a CA the server does not trust
    local c2 = connect(port, client_ctx { certfile = F .. "selfsigned.pem", keyfile = F .. "selfsigned.key" })
    assert.raises_kind("SSLError", c2.recv, c2, 10)
    c2:close()
    curio.sleep(0.05)
    assert.equal(2, #failures)
    assert.equal("certificate verify failed", failures[2].reason)
    srv:cancel()
  end)

  it("never falls back to plain text: a TLS client against a plain server", function()
    local lsock = curio.tcp_server_socket("127.0.0.1", 0)
    local port = lsock:getsockname().port
    local srv = curio.spawn(curio.run_server, lsock, function(client)
      client:sendall("HTTP/1.0 400 Bad Request\r\n\r\nnot TLS at all, not TLS at all\r\n")
    end)
    local e = assert.raises_kind("SSLError", connect, port, nil, "localhost")
    assert.is_string(e.reason)
    srv:cancel()
  end)

  it("a peer closing without close_notify raises SSLError", function()
    local port, srv = serve(server_ctx(), function(s)
      s:sendall("partial")
      s._failed = true -- skip close_notify: close the TCP connection bare
      s:close()
    end)
    local c <close> = connect(port)
    assert.equal("partial", c:recv(100))
    local e = assert.raises_kind("SSLError", c.recv, c, 100)
    assert.matches("unexpected eof", e.reason)
    srv:cancel()
  end)

  it("sees the end of the stream after short reads, with and without close_notify", function()
    for _, polite in ipairs { true, false } do
      local go = curio.Event()
      local port, srv = serve(server_ctx(), function(s)
        curio.sleep(0.05)
        s:sendall(("a"):rep(50))
        go:wait()
        s:sendall(("b"):rep(150))
        if not polite then s._failed = true end -- close without close_notify
        s:close()
      end)
      local c <close> = connect(port)
      assert.equal(50, #c:recv(100)) -- waited, then a short read
      go:set()
      curio.sleep(0.05) -- the data and the end arrive together
      assert.equal(100, #c:recv(100))
      assert.equal(50, #c:recv(100))
      if polite then
        assert.is_nil(curio.timeout_after(2, c.recv, c, 100))
      else
        local e = assert.raises_kind("SSLError", curio.timeout_after, 2, c.recv, c, 100)
        assert.matches("unexpected eof", e.reason)
      end
      srv:cancel()
    end
  end)

  it("honours timeouts and cancellation, with progress fields", function()
    local release = curio.Event()
    local port, srv = serve(server_ctx(), function(s)
      release:wait() -- reads nothing until told
      echo(s)
    end)
    local c <close> = connect(port)
    assert.raises_kind("TaskTimeout", curio.timeout_after, 0.05, c.recv, c, 10)
    local big = string.rep("z", 16 * 1024 * 1024)
    local e = assert.raises_kind("TaskTimeout", curio.timeout_after, 0.2, c.sendall, c, big)
    assert.is_true(e.bytes_sent > 0 and e.bytes_sent < #big, tostring(e.bytes_sent))
    local st = c:as_stream()
    e = assert.raises_kind("TaskTimeout", curio.timeout_after, 0.05, st.read_exactly, st, 10)
    assert.equal(0, e.bytes_read)
    local t = curio.spawn(function()
      local ok, err = pcall(c.recv, c, 10)
      return ok, err.kind
    end)
    curio.sleep(0.01)
    t:cancel()
    assert.same({ false, "TaskCancelled" }, { t:join() })
    release:set()
    srv:cancel()
  end)

  it("handshakes honour timeouts: a server that never answers", function()
    local lsock = curio.tcp_server_socket("127.0.0.1", 0)
    local port = lsock:getsockname().port
    local srv = curio.spawn(curio.run_server, lsock, function() curio.sleep(10) end)
    local t0 = curio.clock()
    assert.raises_kind("TaskTimeout", curio.open_connection, "127.0.0.1", port,
      { ssl = client_ctx(), server_hostname = "localhost", timeout = 0.1 })
    assert.is_true(curio.clock() - t0 < 2)
    srv:cancel()
  end)

  it("one reader at a time; closed sockets say so", function()
    local port, srv = serve(server_ctx(), function(s) echo(s) end)
    local c = connect(port)
    local reader = curio.spawn(function() return pcall(c.recv, c, 10) end)
    curio.sleep(0.01)
    assert.raises_kind("ResourceBusy", c.recv, c, 10)
    c:close()
    c:close() -- idempotent
    local ok, e = reader:join()
    assert.is_false(ok)
    assert.matches("socket is closed", tostring(e))
    e = assert.raises_kind("OSError", c.recv, c, 10)
    assert.equal("EBADF", e.code)
    assert.raises_kind("OSError", c.sendall, c, "x")
    assert.equal(-1, c:fileno())
    srv:cancel()
  end)

  it("TLS 1.3 key updates, both ways, mid-stream", function()
    local port, srv = serve(server_ctx(), function(s)
      for i = 1, 20 do
        local d = s:recv(100)
        if not d then return end
        if i % 3 == 0 then s:key_update(true) end
        s:sendall(d)
      end
    end)
    local c <close> = connect(port)
    for i = 1, 20 do
      if i % 4 == 0 then c:key_update(i % 8 == 0) end
      c:sendall("msg" .. i)
      assert.equal("msg" .. i, c:recv(100))
    end
    srv:cancel()
  end)

  it("many connections, large messages, a small server send buffer, full duplex", function()
    local port, srv = serve(server_ctx(), function(s)
      if not s then return end
      s:setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
      echo(s)
    end)
    local cctx = client_ctx()
    local g = curio.TaskGroup()
    for i = 1, 12 do
      g:spawn(function()
        local c <close> = connect(port, cctx)
        local msg = string.rep(string.char(65 + i) .. "0123456789", 3000 * i) -- 33 KB .. 396 KB
        local writer = curio.spawn(function()
          for _ = 1, 3 do c:sendall(msg) end
          c:shutdown(socket.SHUT_WR)
        end)
        local got, n = {}, 0
        while true do
          local d = c:recv(100000)
          if not d then break end
          got[#got + 1] = d
          n = n + #d
        end
        writer:join()
        assert(n == 3 * #msg and table.concat(got) == msg:rep(3), "echo mismatch on connection " .. i)
      end)
    end
    curio.timeout_after(60, g.join, g)
    srv:cancel()
  end)

  it("a key update requested while this side is writing and reading at once", function()
    local port, srv = serve(server_ctx(), function(s)
      if not s then return end
      local n = 0
      while true do
        local d = s:recv(65536)
        if not d then break end
        n = n + #d
        if n > 100000 and n - #d <= 100000 then s:key_update(true) end
        s:sendall(d)
      end
    end)
    local c <close> = connect(port)
    local big = string.rep("k", 1 << 20)
    local writer = curio.spawn(function() c:sendall(big); c:shutdown(socket.SHUT_WR) end)
    local n = 0
    while true do
      local d = curio.timeout_after(20, c.recv, c, 65536)
      if not d then break end
      n = n + #d
    end
    writer:join()
    assert.equal(#big, n)
    srv:cancel()
  end)

  it("wrap_socket takes the descriptor over", function()
    local port, srv = serve(server_ctx(), function(s) if s then echo(s) end end)
    local sock = socket.tcp()
    sock:connect("127.0.0.1", port)
    local fd = sock:fileno()
    local s <close> = client_ctx():wrap_socket(sock, { server_hostname = "localhost" })
    assert.equal(fd, s:fileno())
    assert.equal(-1, sock:fileno())
    sock:close() -- does nothing to the TLS connection
    s:sendall("still")
    assert.equal("still", s:recv(10))
    -- a failed handshake leaves the socket with its owner
    local bad, bport = nil, nil
    local lsock = curio.tcp_server_socket("127.0.0.1", 0)
    bport = lsock:getsockname().port
    local plain = curio.spawn(curio.run_server, lsock, function(client) client:sendall("no TLS here\n") end)
    bad = socket.tcp()
    bad:connect("127.0.0.1", bport)
    assert.raises_kind("SSLError", client_ctx().wrap_socket, client_ctx(), bad, { server_hostname = "localhost" })
    assert.is_true(bad:fileno() >= 0)
    bad:close()
    plain:cancel()
    srv:cancel()
  end)

  it("wrap_socket checks its arguments", function()
    local ctx = client_ctx()
    local s <close> = socket.tcp()
    assert.error_matches(function() ctx:wrap_socket(42) end, "bad argument #1 to 'wrap_socket' %(socket expected")
    assert.error_matches(function() ctx.wrap_socket(s) end, "calling 'wrap_socket' on bad self")
    assert.error_matches(function() ssl.SSLSocket.recv({}, 10) end, "calling 'recv' on bad self %(SSLSocket expected")
    assert.error_matches(function() ssl.SSLSocket.fileno("x") end, "calling 'fileno' on bad self")
    assert.error_matches(function() ctx.set_ciphers() end, "calling 'set_ciphers' on bad self")
    assert.error_matches(function() ctx:wrap_socket(s) end, "check_hostname requires server_hostname")
    assert.error_matches(function() ctx:wrap_socket(s, { server_side = true }) end, "server context")
    assert.error_matches(function() ctx:wrap_socket(s, { server_hostname = "localhost\0.evil" }) end,
      "invalid server_hostname")
    assert.error_matches(function() curio.open_connection("127.0.0.1", 1, { ssl = "yes" }) end,
      "bad argument #3 to 'open_connection' %(ssl as true or SSLContext expected, got string%)")
    assert.error_matches(function() curio.tcp_server("127.0.0.1", 1, print, { ssl = ctx }) end,
      "ssl needs a server context")
    assert.error_matches(function() curio.tcp_server("127.0.0.1", 1, print, { ssl = server_ctx(),
      ssl_handshake_timeout = 0 / 0 }) end, "ssl_handshake_timeout must be a positive number")
    assert.error_matches(function() curio.open_connection("127.0.0.1", 1, { ssl = true, server_hostname = 5 }) end,
      "bad argument #3 to 'open_connection' %(server_hostname as string expected, got number%)")
    assert.error_matches(function() curio.open_connection("127.0.0.1", 1, { ssl = true, alpn_protocols = { 1 } }) end,
      "bad argument #3 to 'open_connection' %(ALPN protocol #1")
    local u <close> = socket.udp()
    assert.error_matches(function() ctx:wrap_socket(u, { server_hostname = "x" }) end, "stream socket expected")
    -- recv's size
    local port, srv = serve(server_ctx(), function(ss) if ss then echo(ss) end end)
    local c <close> = connect(port)
    for _, bad in ipairs { 1.5, 0 / 0, math.huge, "10", {} } do
      assert.error_matches(function() c:recv(bad) end, "bad argument #1 to 'recv' %(integer expected")
    end
    assert.error_matches(function() c:recv(-1) end, "bad argument #1 to 'recv' %(negative size%)")
    assert.error_matches(function() c:sendall(42) end, "bad argument #1 to 'sendall' %(string expected")
    c:sendall("big ask")
    assert.equal("big ask", c:recv(math.maxinteger))
    assert.equal("", c:recv(0))
    srv:cancel()
  end)

  it("frees OpenSSL connections on close and when collected", function()
    collectgarbage()
    local before = ssl._live()
    local port, srv = serve(server_ctx(), function(s) s:sendall("x") end)
    local cctx = client_ctx()
    for i = 1, 30 do
      local c = connect(port, cctx)
      assert.equal("x", c:recv(1))
      if i % 2 == 0 then c:close() end -- the others are left to the collector
    end
    srv:cancel()
    curio.sleep(0.01)
    collectgarbage()
    collectgarbage()
    assert.equal(before, ssl._live())
  end)
end)

describe("tcp_server with ssl", function()
  it("serves TLS clients; a failed handshake ends only that connection", function()
    local failures = {}
    local saved = ssl.on_handshake_error
    ssl.on_handshake_error = function(addr, err) failures[#failures + 1] = err end
    local port = free_port()
    local srv = curio.spawn(curio.tcp_server, "127.0.0.1", port, function(s, addr)
      assert(ssl.is_sslsocket(s))
      echo(s)
    end, { ssl = server_ctx(), ssl_handshake_timeout = 0.3 })
    curio.sleep(0.01)
    local function tls_roundtrip()
      local c <close> = connect(port)
      c:sendall("ping")
      return c:recv(10)
    end
    assert.equal("ping", tls_roundtrip())
    -- a plain-text client
    local p <close> = curio.open_connection("127.0.0.1", port)
    p:sendall("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert.is_nil(curio.timeout_after(5, p.recv, p, 100))
    -- garbage bytes
    local g <close> = curio.open_connection("127.0.0.1", port)
    g:sendall(string.rep("\22\3\1\255\255garbage", 20))
    assert.is_nil(curio.timeout_after(5, function()
      local ok, d = pcall(g.recv, g, 100)
      while ok and d do ok, d = pcall(g.recv, g, 100) end
    end))
    -- a truncated handshake: the first bytes of a ClientHello, then the end
    local tr <close> = curio.open_connection("127.0.0.1", port)
    tr:sendall("\22\3\1\2\0\1\0\1\252\3\3")
    tr:shutdown(socket.SHUT_WR)
    assert.is_nil(curio.timeout_after(5, tr.recv, tr, 100))
    -- a client that stalls mid-handshake is dropped after ssl_handshake_timeout
    local st <close> = curio.open_connection("127.0.0.1", port)
    st:sendall("\22\3\1")
    assert.is_nil(curio.timeout_after(5, st.recv, st, 100))
    assert.equal("ping", tls_roundtrip()) -- still serving
    assert.equal(4, #failures)
    local kinds = {}
    for _, e in ipairs(failures) do kinds[#kinds + 1] = e.kind end
    assert.same({ "SSLError", "SSLError", "SSLError", "TaskTimeout" }, kinds)
    assert.matches("unexpected eof", failures[3].reason)
    ssl.on_handshake_error = saved
    srv:cancel()
  end)

  it("reports a crashing handler under its own name", function()
    local port = free_port()
    local function tls_handler(s) error("handler broke") end
    local srv = curio.spawn(curio.tcp_server, "127.0.0.1", port, tls_handler, { ssl = server_ctx() })
    curio.sleep(0.01)
    local out = require("support").capture_stderr(function()
      local c <close> = connect(port)
      assert.is_nil(curio.timeout_after(5, c.recv, c, 10))
      curio.sleep(0.01)
    end)
    assert.matches("Task Crash: tls_handler", out)
    assert.matches("handler broke", out)
    srv:cancel()
  end)

  it("the default handshake error report is quiet but for the ssl debug option", function()
    local support = require "support"
    local script = os.tmpname()
    local f = io.open(script, "w")
    f:write([[
      local curio = require "curio"
      local ssl = require "curio.ssl"
      local F = "Tests/lua/fixtures/ssl/"
      local ctx = ssl.context { server = true, certfile = F .. "server.pem", keyfile = F .. "server.key" }
      local s = curio.tcp_server_socket("127.0.0.1", 0)
      local port = s:getsockname().port
      s:close()
      local srv = curio.spawn(curio.tcp_server, "127.0.0.1", port, print, { ssl = ctx })
      curio.sleep(0.01)
      local c <close> = curio.open_connection("127.0.0.1", port)
      c:sendall("plain text")
      assert(c:recv(10) == nil)
      srv:cancel()
    ]])
    f:close()
    local out, rc = support.run(script)
    assert.equal(0, rc, out)
    assert.equal("", out)
    out, rc = support.run(script, "CURIO_DEBUG=ssl")
    os.remove(script)
    assert.equal(0, rc, out)
    assert.matches("^curio: ssl handshake with 127%.0%.0%.1:%d+ failed: SSLError: handshake: ", out)
  end)
end)
