-- curio.ssl: TLS over curio sockets, on OpenSSL (Sources/CLuaShim/ssl.c, module
-- curio.cssl). OpenSSL runs on the non-blocking socket: each call tries once and
-- says what it is missing (WANT_READ / WANT_WRITE); the task then waits for that
-- readiness with the kernel's IO trap and tries again, exactly as curio.socket does
-- with EAGAIN. The socket keeps its one epoll registration; nothing busy-waits.
local c = require "curio.cssl"
local cs = require "curio.csocket"
local K = require "curio.kernel"
local errors = require "curio.errors"
local socket = require "curio.socket"

local trap, trap_nothrow = K.trap, K.trap_nothrow
local IO, SLEEP = K.T.IO, K.T.SLEEP
local WANT_READ, WANT_WRITE, ERR_SSL, ERR_SYSCALL = c.WANT_READ, c.WANT_WRITE, c.ERR_SSL, c.ERR_SYSCALL
local EBUSY, EBADF = cs.EBUSY, cs.EBADF
local c_read, c_write = c.read, c.write
local check = require "curio.check"
local badarg, argerror, badself = check.badarg, check.argerror, check.badself
local math_type, type, error, setmetatable, getmetatable = math.type, type, error, setmetatable, getmetatable

local M = { OPENSSL_VERSION = c.OPENSSL_VERSION }
M._live = c.live -- OpenSSL connections not yet freed (for leak tests)
M.SSLError = errors.SSLError

-- ---------------------------------------------------------------- errors

local function sslerror(what, reason, verify, fields)
  local msg = what .. ": " .. reason
  if verify then msg = msg .. " (" .. verify .. ")" end
  local e = errors.new(errors.SSLError, msg, fields or {})
  e.reason, e.verify_message = reason, verify
  return e
end

local function closed_error(what)
  return errors.new(errors.OSError, what .. ": socket is closed", { errno = EBADF, code = "EBADF" })
end

-- The error for a failed OpenSSL call (code other than WANT_*). After one, the
-- connection is unusable: close() then sends no close_notify.
local function io_error(self, what, code, reason, extra)
  self._failed = true
  if code == ERR_SYSCALL then return errors.oserror(what, extra) end
  if code == ERR_SSL then return sslerror(what, reason, extra) end
  return sslerror(what, "connection closed by peer")
end

-- ---------------------------------------------------------------- contexts

local Context = { __name = "curio.ssl.SSLContext" }
Context.__index = Context
M.SSLContext = Context

local function is_context(v) return getmetatable(v) == Context end
M.is_context = is_context

-- Raises SSLError for a failed configuration call (nil, false, message).
local function check_cfg(ok, _, msg, what)
  if not ok then error(sslerror(what or "context", msg, nil), 0) end
end

-- A file OpenSSL is about to read: its absence is reported as the OS says it.
local function check_file(kind, path, i, fname)
  if type(path) ~= "string" then argerror(i, fname, kind .. " as string", path) end
  local f, msg = io.open(path, "rb")
  if not f then error(sslerror("context", kind .. " " .. msg, nil, { filename = path }), 0) end
  f:close()
end

--- ctx:load_cert_chain(certfile, [keyfile]): the certificate chain (PEM, leaf
--- first) and its private key (PEM; default: in certfile).
function Context:load_cert_chain(certfile, keyfile)
  if self == nil or self._ctx == nil then badself("load_cert_chain", self, "SSLContext") end -- no C call
  check_file("certfile", certfile, 1, "load_cert_chain")
  if keyfile ~= nil then check_file("keyfile", keyfile, 2, "load_cert_chain") end
  check_cfg(c.load_cert_chain(self._ctx, certfile, keyfile))
end

--- ctx:load_verify_locations([cafile], [capath]): CA certificates that peers'
--- certificates must chain to. With neither, the system CA store.
function Context:load_verify_locations(cafile, capath)
  if self == nil or self._ctx == nil then badself("load_verify_locations", self, "SSLContext") end -- no C call
  if cafile ~= nil then check_file("cafile", cafile, 1, "load_verify_locations") end
  if capath ~= nil and type(capath) ~= "string" then argerror(2, "load_verify_locations", "string", capath) end
  check_cfg(c.load_verify(self._ctx, cafile, capath))
end
function Context:load_default_certs()
  if self == nil or self._ctx == nil then badself("load_default_certs", self, "SSLContext") end
  check_cfg(c.load_verify(self._ctx, nil, nil))
end

local function alpn_wire(list, i, fname)
  if type(list) ~= "table" then argerror(i, fname, "table of strings", list) end
  local parts = {}
  for j, p in ipairs(list) do
    if type(p) ~= "string" or #p == 0 or #p > 255 then
      badarg(i, fname, ("ALPN protocol #%d must be a string of 1 to 255 bytes"):format(j))
    end
    parts[j] = string.char(#p) .. p
  end
  return table.concat(parts)
end

--- ctx:set_alpn_protocols(list): a client offers these (in order of preference);
--- a server picks the first of its own list that the client offers.
function Context:set_alpn_protocols(list)
  if self == nil or self._ctx == nil then badself("set_alpn_protocols", self, "SSLContext") end -- no C call
  check_cfg(c.set_alpn(self._ctx, alpn_wire(list, 1, "set_alpn_protocols"), self.server))
  self.alpn_protocols = list
end

--- ctx:set_ciphers(list): OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are
--- always OpenSSL's defaults).
function Context:set_ciphers(list)
  if self == nil or self._ctx == nil then badself("set_ciphers", self, "SSLContext") end -- no C call
  if type(list) ~= "string" then argerror(1, "set_ciphers", "string", list) end
  check_cfg(c.set_ciphers(self._ctx, list))
end

local VERSIONS = { ["TLSv1.2"] = c.TLS1_2, ["TLSv1.3"] = c.TLS1_3, [1.2] = c.TLS1_2, [1.3] = c.TLS1_3 }
local function version_of(v, name)
  if v == nil then return nil end
  local n = VERSIONS[v]
  if not n then badarg(1, "context", ("%s must be \"TLSv1.2\" or \"TLSv1.3\""):format(name)) end
  return n
end

local OPTIONS = { server = "boolean", certfile = "string", keyfile = "string", cafile = "string",
  capath = "string", verify = "boolean", check_hostname = "boolean", alpn_protocols = "table",
  ciphers = "string", min_version = true, max_version = true }

--- context{server=, certfile=, keyfile=, cafile=, capath=, verify=, check_hostname=,
--- alpn_protocols=, ciphers=, min_version=, max_version=} -> SSLContext.
--- Clients verify the server (with cafile/capath, else the system CA store) and
--- check its host name unless told not to; servers ask for a client certificate
--- only with verify=true (then cafile or capath says whom to trust).
function M.context(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then argerror(1, "context", "table", opts) end
  for k, v in pairs(opts) do
    local want = OPTIONS[k]
    if not want then badarg(1, "context", ("unknown option '%s'"):format(tostring(k))) end
    if want ~= true and type(v) ~= want then
      badarg(1, "context", ("option '%s': %s expected, got %s"):format(k, want, type(v)))
    end
  end
  local server = opts.server == true
  local verify = opts.verify
  if verify == nil then verify = not server end
  local check_host = opts.check_hostname
  if check_host == nil then check_host = verify and not server end
  if check_host and not verify then badarg(1, "context", "check_hostname requires verify") end
  if check_host and server then badarg(1, "context", "check_hostname is for client contexts") end
  local min, max = version_of(opts.min_version, "min_version"), version_of(opts.max_version, "max_version")
  local ud, _, msg = c.ctx_new(server)
  if not ud then error(sslerror("context", msg), 0) end
  local self = setmetatable({ _ctx = ud, server = server, verify = verify, check_hostname = check_host }, Context)
  if min or max then check_cfg(c.set_versions(ud, min or c.TLS1_2, max or 0)) end
  if opts.certfile then self:load_cert_chain(opts.certfile, opts.keyfile)
  elseif opts.keyfile then badarg(1, "context", "keyfile without certfile") end
  if opts.cafile or opts.capath then
    self:load_verify_locations(opts.cafile, opts.capath)
  elseif verify then
    if server then badarg(1, "context", "a server with verify=true needs cafile or capath") end
    self:load_default_certs()
  end
  c.set_verify(ud, verify and (server and 2 or 1) or 0)
  if opts.alpn_protocols then self:set_alpn_protocols(opts.alpn_protocols) end
  if opts.ciphers then self:set_ciphers(opts.ciphers) end
  return self
end

--- create_default_context([purpose="client"]): "client" verifies servers against
--- the system CA store and checks host names; "server" needs load_cert_chain.
function M.create_default_context(purpose)
  if purpose == nil or purpose == "client" then return M.context {} end
  if purpose == "server" then return M.context { server = true } end
  badarg(1, "create_default_context", "\"client\" or \"server\" expected")
end

function Context:__tostring()
  return ("curio.ssl.SSLContext(%s)"):format(self.server and "server" or "client")
end

-- ---------------------------------------------------------------- SSL sockets

local SSLSocket = { __name = "curio.ssl.SSLSocket" }
SSLSocket.__index = SSLSocket
M.SSLSocket = SSLSocket

-- The IO trap on the socket for `what` resumed with r ~= 0 (a negative errno).
-- Raises, unless r is -EBUSY for the direction the operation does not own (a read
-- that must write, answering a TLS 1.3 key update, while another task writes):
-- then it pauses briefly and returns, to try again.
local function wait_failed(self, what, r, write, w, fields)
  local e
  if r == -EBUSY and (w == 1) ~= write then
    local ok
    ok, e = trap_nothrow(SLEEP, 0.001, 0)
    if ok then return end
  elseif r == -EBUSY then
    e = errors.ResourceBusy(("%s: another task is already %s this socket"):format(what,
      write and "writing to" or "reading from"))
  elseif r == -EBADF or not self._ssl then
    e = closed_error(what)
  else
    e = errors.oserror(what, -r)
  end
  if fields then for k, v in pairs(fields) do e[k] = v end end
  error(e, 0)
end

-- Waits for the readiness OpenSSL asked for (code). `write`: whether the operation
-- itself writes. With `fields` (progress), a cancellation is raised with them.
local function wait(self, what, code, write, fields)
  local w = code == WANT_WRITE and 1 or 0
  local r
  if fields then
    local ok
    ok, r = trap_nothrow(IO, self._fd, w)
    if not ok then
      for k, v in pairs(fields) do r[k] = v end
      error(r, 0)
    end
  else
    r = trap(IO, self._fd, w) -- C: no Lua frame while the task waits
  end
  if r == 0 and self._ssl then return end
  if r == 0 then r = -EBADF end
  return wait_failed(self, what, r, write, w, fields)
end

local function retry_or_raise(self, what, write, code, reason, extra, fields)
  if code == WANT_READ or code == WANT_WRITE then return wait(self, what, code, write, fields) end
  local e = io_error(self, what, code, reason, extra)
  if fields then for k, v in pairs(fields) do e[k] = v end end
  error(e, 0)
end

--- do_handshake(): runs the TLS handshake (wrap_socket does it already).
function SSLSocket:do_handshake()
  if self == nil or self._sock == nil then badself("do_handshake", self, "SSLSocket") end -- no C call
  while true do
    local ssl = self._ssl
    if not ssl then error(closed_error("handshake"), 0) end
    local ok, code, reason, extra = c.handshake(ssl)
    if ok then return end
    retry_or_raise(self, "handshake", false, code, reason, extra)
  end
end

local recv_size = 1 -- the last size recv checked (never 0: recv(0) returns at once)

--- recv(maxbytes) -> data, or nil at the end of the stream (the peer's
--- close_notify). A peer that closes without close_notify raises SSLError
--- ("unexpected eof while reading"): the data may have been cut short.
-- Try, then wait (edge-triggered epoll). After a short read of the socket (its
-- queue was empty) with nothing buffered in OpenSSL, c_read answers WANT_READ at
-- once instead of making a recv() that would say EAGAIN (see lssl in ssl.c).
function SSLSocket:recv(maxbytes)
  if self == nil or self._sock == nil then badself("recv", self, "SSLSocket") end -- no C call
  if maxbytes ~= recv_size then
    if math_type(maxbytes) ~= "integer" then
      local n = type(maxbytes) == "number" and math.tointeger(maxbytes)
      if not n then argerror(1, "recv", "integer", maxbytes) end
      maxbytes = n
    end
    if maxbytes < 0 then badarg(1, "recv", "negative size") end
    if maxbytes == 0 then return "" end
    recv_size = maxbytes
  end
  while true do
    local ssl = self._ssl
    if not ssl then error(closed_error("recv"), 0) end
    local data, code, reason, extra = c_read(ssl, maxbytes)
    if data then
      if data == "" then return nil end
      return data
    end
    if code == WANT_READ then
      local r = trap(IO, self._fd, 0)
      if r ~= 0 then wait_failed(self, "recv", r, false, 0) end
    else
      retry_or_raise(self, "recv", false, code, reason, extra)
    end
  end
end

--- send(data) -> bytes sent (at least one unless data is "").
function SSLSocket:send(data)
  if self == nil or self._sock == nil then badself("send", self, "SSLSocket") end -- no C call
  if type(data) ~= "string" then argerror(1, "send", "string", data) end
  while true do
    local ssl = self._ssl
    if not ssl then error(closed_error("send"), 0) end
    local n, code, reason, extra = c_write(ssl, data, 0)
    if n then return n end
    retry_or_raise(self, "send", true, code, reason, extra)
  end
end

--- sendall(data): sends everything; err.bytes_sent says how much went out if it
--- is interrupted or fails.
function SSLSocket:sendall(data)
  if self == nil or self._sock == nil then badself("sendall", self, "SSLSocket") end -- no C call
  if type(data) ~= "string" then argerror(1, "sendall", "string", data) end
  local sent, len = 0, #data
  while sent < len do
    local ssl = self._ssl
    if not ssl then
      local e = closed_error("sendall")
      e.bytes_sent = sent
      error(e, 0)
    end
    local n, code, reason, extra = c_write(ssl, data, sent)
    if n then
      sent = sent + n
    else
      retry_or_raise(self, "sendall", true, code, reason, extra, { bytes_sent = sent })
    end
  end
end

--- close(): sends close_notify if the socket can take it now (never waits for
--- the peer's), frees the OpenSSL connection and closes the socket. Idempotent.
function SSLSocket:close()
  if self == nil or self._sock == nil then badself("close", self, "SSLSocket") end -- no C call
  local ssl = self._ssl
  if not ssl then return end
  self._ssl = nil
  if not self._failed and not self._shut then pcall(c.shutdown, ssl) end
  c.free(ssl)
  self._fd = -1
  self._sock:close()
end
SSLSocket.__close = SSLSocket.close

--- shutdown(how): with SHUT_WR or SHUT_RDWR, sends close_notify first (the peer
--- reads the end of the stream), then shuts the socket down.
function SSLSocket:shutdown(how)
  if self == nil or self._sock == nil then badself("shutdown", self, "SSLSocket") end -- no C call
  if math_type(how) ~= "integer" then argerror(1, "shutdown", "integer", how) end
  local ssl = self._ssl
  if not ssl then error(closed_error("shutdown"), 0) end
  if how ~= socket.SHUT_RD and not self._shut and not self._failed then
    self._shut = true
    while true do
      local ok, code, reason, extra = c.shutdown(ssl)
      if ok then break end
      retry_or_raise(self, "shutdown", true, code, reason, extra)
    end
  end
  return self._sock:shutdown(how)
end

--- getpeercert([binary]) -> {subject=, issuer=, san=, notBefore=, notAfter=,
--- serial=, version=}, the DER bytes if `binary`, or nil if the peer sent none.
function SSLSocket:getpeercert(binary)
  if self == nil or self._sock == nil then badself("getpeercert", self, "SSLSocket") end -- no C call
  local ssl = self._ssl
  if not ssl then error(closed_error("getpeercert"), 2) end
  return c.peercert(ssl, binary)
end

--- selected_alpn_protocol() -> the protocol both sides agreed on, or nil.
function SSLSocket:selected_alpn_protocol()
  if self == nil or self._sock == nil then badself("selected_alpn_protocol", self, "SSLSocket") end -- no C call
  if not self._ssl then return nil end
  return c.alpn(self._ssl)
end

--- version() -> "TLSv1.3", "TLSv1.2", or nil before the handshake.
function SSLSocket:version()
  if self == nil or self._sock == nil then badself("version", self, "SSLSocket") end -- no C call
  if not self._ssl then return nil end
  return c.version(self._ssl)
end

--- cipher() -> name, protocol, secret bits (as Python's), or nil.
function SSLSocket:cipher()
  if self == nil or self._sock == nil then badself("cipher", self, "SSLSocket") end -- no C call
  if not self._ssl then return nil end
  return c.cipher(self._ssl)
end

--- pending() -> decrypted bytes buffered inside OpenSSL.
function SSLSocket:pending()
  if self == nil or self._sock == nil then badself("pending", self, "SSLSocket") end -- no C call
  if not self._ssl then return 0 end
  return c.pending(self._ssl)
end

--- key_update([request_peer]): TLS 1.3 key update, sent with the next write.
function SSLSocket:key_update(request_peer)
  if self == nil or self._sock == nil then badself("key_update", self, "SSLSocket") end -- no C call
  local ssl = self._ssl
  if not ssl then error(closed_error("key_update"), 2) end
  local ok, _, msg = c.key_update(ssl, request_peer)
  check_cfg(ok, nil, msg, "key_update")
end

local function me(self, fname)
  if self == nil or self._sock == nil then badself(fname, self, "SSLSocket") end
  return self
end
function SSLSocket:fileno() return me(self, "fileno")._fd end
function SSLSocket:getsockname() return me(self, "getsockname")._sock:getsockname() end
function SSLSocket:getpeername() return me(self, "getpeername")._sock:getpeername() end
function SSLSocket:setsockopt(...) return me(self, "setsockopt")._sock:setsockopt(...) end
function SSLSocket:getsockopt(...) return me(self, "getsockopt")._sock:getsockopt(...) end
function SSLSocket:as_stream() return require("curio.io").SocketStream(me(self, "as_stream")) end
function SSLSocket:__tostring()
  return ("curio.ssl.SSLSocket(fd=%d, %s)"):format(self._fd, self.server_side and "server" or "client")
end

M.is_sslsocket = function(v) return getmetatable(v) == SSLSocket end

--- ctx:wrap_socket(sock, {server_side=, server_hostname=, alpn_protocols=,
--- do_handshake_on_connect=true}) -> SSLSocket, after the handshake. The SSL
--- socket then owns the descriptor and `sock` reads as closed; if the handshake
--- fails, `sock` stays open and the caller's.
function Context:wrap_socket(sock, opts)
  if self == nil or self._ctx == nil then badself("wrap_socket", self, "SSLContext") end -- no C call
  if not socket.is_socket(sock) then argerror(1, "wrap_socket", "socket", sock) end
  if opts ~= nil and type(opts) ~= "table" then argerror(2, "wrap_socket", "table", opts) end
  opts = opts or {}
  local server = opts.server_side
  if server == nil then server = self.server end
  local host = opts.server_hostname
  if host ~= nil and type(host) ~= "string" then argerror(2, "wrap_socket", "server_hostname as string", host) end
  if host and (host == "" or host:find("\0", 1, true)) then badarg(2, "wrap_socket", "invalid server_hostname") end
  if server and not self.server then badarg(2, "wrap_socket", "server_side needs a server context") end
  if not server and self.server then badarg(2, "wrap_socket", "a server context needs server_side") end
  local check_host = not server and self.check_hostname
  if check_host and not host then badarg(2, "wrap_socket", "check_hostname requires server_hostname") end
  local alpn = opts.alpn_protocols and alpn_wire(opts.alpn_protocols, 2, "wrap_socket")
  local fd = sock:fileno()
  if fd < 0 then error(closed_error("wrap_socket"), 0) end
  if sock.type ~= socket.SOCK_STREAM then badarg(1, "wrap_socket", "stream socket expected") end
  local ud, _, msg = c.new(self._ctx, fd, server, host, check_host, alpn)
  if not ud then error(sslerror("wrap_socket", msg), 0) end
  local s = setmetatable({ _sock = sock, _ssl = ud, _fd = fd, family = sock.family,
    type = sock.type, server_side = server, server_hostname = host, context = self }, SSLSocket)
  if opts.do_handshake_on_connect ~= false then
    local ok, e = pcall(s.do_handshake, s)
    if not ok then
      s._ssl = nil
      c.free(ud)
      error(e, 0)
    end
  end
  -- The SSL socket takes the descriptor over (as Python's detach): `sock` now reads
  -- as closed, so it cannot close the descriptor under OpenSSL, whose number the
  -- OS could then give to another socket.
  s._sock = setmetatable({ _fd = fd, family = sock.family, type = sock.type }, getmetatable(sock))
  rawset(sock, "_fd", -1)
  return s
end

-- ---------------------------------------------------------------- network hooks

local default_client
--- The context `open_connection(..., {ssl=true})` uses (made once).
function M._default_client_context()
  if not default_client then default_client = M.create_default_context("client") end
  return default_client
end

-- open_connection's TLS step: wraps the connected sock (closing it on failure).
function M._client(sock, host, opts)
  local ctx = opts.ssl
  if ctx == true then ctx = M._default_client_context() end
  local ok, s = pcall(Context.wrap_socket, ctx, sock,
    { server_hostname = opts.server_hostname or host, alpn_protocols = opts.alpn_protocols })
  if not ok then
    sock:close()
    error(s, 0)
  end
  return s
end

--- on_handshake_error(addr, err): how tcp_server reports a client whose TLS
--- handshake failed (that connection is closed; the server goes on). The default
--- logs a line only with the `ssl` debug option (CURIO_DEBUG=ssl).
function M.on_handshake_error(addr, err)
  local diagnostics = require "curio.diagnostics"
  if diagnostics.options().ssl then
    diagnostics.write(("curio: ssl handshake with %s failed: %s"):format(tostring(addr), tostring(err)))
  end
end

local HANDSHAKE_TIMEOUT = 60

-- tcp_server's handler for opts.ssl: handshakes (bounded by
-- opts.ssl_handshake_timeout), then runs handler(ssl_socket, addr).
function M._server_handler(ctx, handler, opts)
  local limit = opts.ssl_handshake_timeout
  if limit == nil then limit = HANDSHAKE_TIMEOUT end
  if type(limit) ~= "number" or limit ~= limit or limit <= 0 then
    badarg(4, "tcp_server", "ssl_handshake_timeout must be a positive number of seconds")
  end
  if limit == math.huge then limit = nil end
  local time = require "curio.time"
  return function(client, addr)
    local ok, s = pcall(time.timeout_after, limit, ctx.wrap_socket, ctx, client, { server_side = true })
    if not ok then
      if errors.is(s, errors.SSLError) or errors.is(s, errors.OSError) or errors.is(s, errors.TaskTimeout) then
        M.on_handshake_error(addr, s)
        return
      end
      error(s, 0)
    end
    local _ <close> = s
    return handler(s, addr)
  end
end

-- network.lua's check of the ssl options (opts is argument i of fname).
function M._check_option(opts, i, fname, server)
  local v = opts.ssl
  if not server then
    local h, alpn = opts.server_hostname, opts.alpn_protocols
    if h ~= nil and type(h) ~= "string" then argerror(i, fname, "server_hostname as string", h) end
    if alpn ~= nil then alpn_wire(alpn, i, fname) end
  end
  if v == nil or v == false then return end
  if v == true and not server then return end
  if not is_context(v) then argerror(i, fname, server and "ssl as SSLContext" or "ssl as true or SSLContext", v) end
  if server and not v.server then badarg(i, fname, "ssl needs a server context") end
  if not server and v.server then badarg(i, fname, "ssl needs a client context") end
end

return M
