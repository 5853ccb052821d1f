-- curio.socket: sockets whose blocking methods suspend only the calling task.
-- Every socket is non-blocking. A blocking method tries its syscall first and
-- waits (an IO trap) only on EAGAIN, then tries again: the kernel's epoll is
-- edge-triggered, so "try, then wait" is the only correct order. (One exception,
-- in recv: after a short TCP read, which shows the socket is empty, it waits first.)
-- The syscalls are in Sources/CLuaShim/socket.c (module curio.csocket).
local c = require "curio.csocket"
local K = require "curio.kernel"
local errors = require "curio.errors"
local check = require "curio.check"

local trap, trap_nothrow, kcall = K.trap, K.trap_nothrow, K.kcall
local IO, THREAD = K.T.IO, K.T.THREAD
local OP_RESOLVE, OP_JOB_RESULT = K.K.RESOLVE, K.K.JOB_RESULT
local EAGAIN, EINPROGRESS, EBUSY, EBADF = c.EAGAIN, c.EINPROGRESS, c.EBUSY, c.EBADF
local c_recv, c_send, c_accept, c_recvfrom, c_sendto = c.recv, c.send, c.accept, c.recvfrom, c.sendto
local math_type, setmetatable, error, type = math.type, setmetatable, error, type
-- debug.getmetatable: the base getmetatable looks up a `__metatable` field (a string
-- push and a strcmp in the string cache), ~250 instructions per check on every
-- recv and sendall (benchmarks/README.md). Socket has no such field: same answer.
local getmetatable, rawget = debug.getmetatable, rawget

local M = {}
for _, k in ipairs { "AF_INET", "AF_INET6", "AF_UNIX", "AF_UNSPEC", "SOCK_STREAM", "SOCK_DGRAM",
  "SOCK_RAW", "SOL_SOCKET", "SO_REUSEADDR", "SO_REUSEPORT", "SO_KEEPALIVE", "SO_BROADCAST",
  "SO_RCVBUF", "SO_SNDBUF", "SO_ERROR", "SO_TYPE", "SO_LINGER", "IPPROTO_IP", "IPPROTO_IPV6", "IPPROTO_TCP",
  "IPPROTO_UDP", "IPV6_V6ONLY", "TCP_NODELAY", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT",
  "SHUT_RD", "SHUT_WR", "SHUT_RDWR", "AI_PASSIVE", "AI_CANONNAME", "AI_NUMERICHOST",
  "AI_ADDRCONFIG" } do
  M[k] = c[k]
end
local AF_INET, AF_INET6, AF_UNIX, SOCK_STREAM, SOCK_DGRAM = c.AF_INET, c.AF_INET6, c.AF_UNIX,
  c.SOCK_STREAM, c.SOCK_DGRAM
local IPPROTO_TCP = c.IPPROTO_TCP
local FAMILY = { [AF_INET] = "AF_INET", [AF_INET6] = "AF_INET6", [AF_UNIX] = "AF_UNIX" }
local TYPE = { [SOCK_STREAM] = "SOCK_STREAM", [SOCK_DGRAM] = "SOCK_DGRAM" }

-- ---------------------------------------------------------------- addresses

--- Returned addresses: {host=, port=}, printed "127.0.0.1:5555" / "[::1]:5555".
local Address = { __name = "curio.Address" }
Address.__index = Address
function Address.__tostring(a)
  if a.host:find(":", 1, true) then return ("[%s]:%d"):format(a.host, a.port) end
  return ("%s:%d"):format(a.host, a.port)
end
function Address.__eq(a, b) return a.host == b.host and a.port == b.port end
M.Address = Address

-- Unix addresses stay path strings; the port is nil for them.
local function address(host, port)
  if port == nil then return host end
  return setmetatable({ host = host, port = port }, Address)
end
M.address = address

-- "127.0.0.1:1", "[::1]:1" or the path, for error messages.
local function show(host, port)
  -- (a Unix socket ignores a port argument, whatever its type)
  if math.type(port) ~= "integer" then return tostring(host) end
  return tostring(address(tostring(host), port))
end
M.show_address = show

-- ---------------------------------------------------------------- errors

local function oserror(what, errno, fields)
  local e = errors.oserror(what, errno)
  if fields then for k, v in pairs(fields) do e[k] = v end end
  return e
end

local function closed_error(what)
  return errors.new(errors.OSError, what .. ": socket is closed", { errno = EBADF, code = "EBADF" })
end

-- The error for a failed syscall: "socket is closed" if it was, else the errno.
local function syscall_error(self, what, errno)
  if self._fd < 0 then return closed_error(what) end
  return oserror(what, errno)
end

-- The error for an IO trap that resumed with a negative errno.
local function wait_error(self, what, r)
  if r == -EBUSY then
    return errors.ResourceBusy(("%s: another task is already %s this socket"):format(what,
      (what == "send" or what == "sendall" or what == "sendto" or what == "connect") and "writing to"
      or "reading from"))
  elseif r == -EBADF or self._fd < 0 then
    return closed_error(what)
  end
  return oserror(what, -r)
end

-- Argument errors at the user's call (curio.check).
local badarg, argerror, check_int, badself = check.badarg, check.argerror, check.int, check.badself

-- A C int argument (levels, options, flags, backlogs): never truncated.
local INT_MIN, INT_MAX = -2147483648, 2147483647
local function cint(v, i, fname, lo)
  return check_int(v, i, fname, lo or INT_MIN, INT_MAX)
end

-- A socket of another class (SSL) that keeps the socket API.
local function socketlike(v)
  return type(v) == "table" and math_type(rawget(v, "_fd")) == "integer"
end

local function check_port(v, i, fname)
  if type(v) == "string" and tonumber(v) then v = tonumber(v) end
  v = check_int(v, i, fname)
  if v < 0 or v > 65535 then
    badarg(i, fname, "port out of range")
  end
  return v
end

-- A byte count: a non-negative integer.
local function check_size(v, i, fname)
  v = check_int(v, i, fname)
  if v < 0 then badarg(i, fname, "negative size") end
  return v
end

local function check_string(v, i, fname)
  if type(v) ~= "string" then argerror(i, fname, "string", v) end
  return v
end

-- ---------------------------------------------------------------- name resolution

local function in_task(level)
  if not K.current() then K.not_in_task(level + 1) end
end

-- Runs getaddrinfo on the kernel's thread pool; returns the flat results.
local function resolve_raw(host, port, family, socktype, flags)
  in_task(3)
  local job = kcall(OP_RESOLVE, host, port, family or 0, socktype or 0, flags or 0)
  trap(THREAD, job)
  return kcall(OP_JOB_RESULT, job)
end

local function addrinfo_list(host, r)
  if r[1] == nil then
    if r.n >= 4 then
      error(errors.new(errors.OSError, ("getaddrinfo %s: %s (%s)"):format(tostring(host), r[3], r[4]),
        { errno = r[2], code = r[3] }), 0)
    end
    error(oserror("getaddrinfo " .. tostring(host), r[2]), 0)
  end
  local out = {}
  for i = 1, r[1] do
    local b = (i - 1) * 5 + 1
    out[i] = { family = r[b + 1], type = r[b + 2], proto = r[b + 3], addr = address(r[b + 4], r[b + 5]) }
  end
  return out
end

--- getaddrinfo(host, port, [family], [type], [proto], [flags]) -> list of
--- {family=, type=, proto=, addr={host=, port=}}; resolved on a worker thread.
function M.getaddrinfo(host, port, family, socktype, proto, flags)
  if host ~= nil and type(host) ~= "string" then argerror(1, "getaddrinfo", "string", host) end
  if port ~= nil and type(port) ~= "string" and type(port) ~= "number" then
    argerror(2, "getaddrinfo", "number or string", port)
  end
  if host == "" or host == "*" then host = nil; flags = (flags or 0) | c.AI_PASSIVE end
  local list = addrinfo_list(host, table.pack(resolve_raw(host, port, family, socktype, flags)))
  if proto and proto ~= 0 then
    local keep = {}
    for _, a in ipairs(list) do if a.proto == proto then keep[#keep + 1] = a end end
    list = keep
  end
  return list
end

--- gethostbyname(host) -> an IPv4 address string.
function M.gethostbyname(host)
  check_string(host, 1, "gethostbyname")
  local list = M.getaddrinfo(host, nil, AF_INET, SOCK_STREAM)
  if #list == 0 then
    error(errors.new(errors.OSError, ("gethostbyname %s: no IPv4 address"):format(host),
      { errno = -2, code = "EAI_NONAME" }), 0)
  end
  return list[1].addr.host
end

-- The first address of `family` for a host name that is not numeric.
local function resolve_one(host, port, family, socktype)
  local list = M.getaddrinfo(host, port, family, socktype)
  if #list == 0 then
    error(errors.new(errors.OSError, ("getaddrinfo %s: no address"):format(host),
      { errno = -2, code = "EAI_NONAME" }), 0)
  end
  return list[1].addr
end

-- ---------------------------------------------------------------- sockets

local Socket = { __name = "curio.socket" }
Socket.__index = Socket
M.Socket = Socket

local function is_tcp(family, socktype, proto)
  return socktype == SOCK_STREAM and (family == AF_INET or family == AF_INET6)
    and (proto == 0 or proto == IPPROTO_TCP)
end

-- TCP sockets have _drained (see recv); it stays nil on others. (Four fields: the
-- table's hash part stays at four slots.)
local function wrap(fd, family, socktype, tcp)
  local s = setmetatable({ _fd = fd, family = family, type = socktype }, Socket)
  if tcp then s._drained = false end
  return s
end

function Socket:__tostring()
  return ("curio.socket(fd=%d, family=%s, type=%s)"):format(self._fd, FAMILY[self.family] or self.family,
    TYPE[self.type] or self.type)
end

-- Calls f(fd, family, host, port); if host needs resolving, resolves it on the
-- thread pool and calls again.
local function with_address(self, f, what, host, port, extra)
  local i = extra ~= nil and 2 or 1 -- sendto's address follows the data
  if self.family == AF_UNIX then
    check_string(host, i, what)
  elseif what == "bind" then
    -- bind() alone, or bind(nil, port): any address
    if host ~= nil and type(host) ~= "string" then argerror(i, what, "string", host) end
    if port ~= nil then port = check_port(port, i + 1, what) end
  else
    check_string(host, i, what)
    port = check_port(port, i + 1, what)
  end
  local ok, err
  if extra ~= nil then ok, err = f(self._fd, extra, self.family, host, port)
  else ok, err = f(self._fd, self.family, host, port) end
  if err == false then
    local a = resolve_one(host, port, self.family, self.type)
    if extra ~= nil then ok, err = f(self._fd, extra, self.family, a.host, a.port)
    else ok, err = f(self._fd, self.family, a.host, a.port) end
    if err == false then err = c.EINVAL end
  end
  return ok, err, port
end

--- bind(host, port) / bind(path). Host names other than "", "*" and "localhost"
--- are resolved on the thread pool (so they need a task).
function Socket:bind(host, port)
  if getmetatable(self) ~= Socket and not socketlike(self) then badself("bind", self, "socket") end
  local ok, err
  ok, err, port = with_address(self, c.bind, "bind", host, port)
  if not ok then error(syscall_error(self, "bind " .. show(host or "", port), err), 0) end
end

function Socket:listen(backlog)
  if getmetatable(self) ~= Socket and not socketlike(self) then badself("listen", self, "socket") end
  if backlog ~= nil then backlog = cint(backlog, 1, "listen", 0) end
  local ok, err = c.listen(self._fd, backlog or 128)
  if not ok then error(syscall_error(self, "listen", err), 0) end
end

--- accept() -> client socket, address. Blocks until a client connects.
-- Out of descriptors or memory at accept: the pending connection stays queued, so
-- accept waits for some to be released instead of failing (a server loop as
-- simple as curio's echo example survives EMFILE). Said on stderr once a minute.
local EXHAUSTED = { [c.EMFILE] = true, [c.ENFILE] = true, [c.ENOBUFS] = true, [c.ENOMEM] = true }
local ACCEPT_BACKOFF, ACCEPT_LOG_EVERY = 0.1, 60
local accept_logged_at = setmetatable({}, { __mode = "k" })

local function accept_exhausted(self, errno)
  local now = K.clock()
  local last = accept_logged_at[self]
  if not last or now - last >= ACCEPT_LOG_EVERY then
    accept_logged_at[self] = now
    local ok, name = pcall(self.getsockname, self)
    io.stderr:write(("curio: accept on %s: %s; retrying every %gs\n"):format(ok and tostring(name) or "?",
      tostring(oserror("accept", errno)), ACCEPT_BACKOFF))
    io.stderr:flush()
  end
  trap(K.T.SLEEP, ACCEPT_BACKOFF, 0) -- cancellable; a close meanwhile fails the retry
end

function Socket:accept()
  if getmetatable(self) ~= Socket and not socketlike(self) then badself("accept", self, "socket") end
  while true do
    local fd = self._fd
    local cfd, host, port = c_accept(fd)
    if cfd then return wrap(cfd, self.family, self.type, self._drained ~= nil), address(host, port) end
    if EXHAUSTED[host] and fd >= 0 then
      accept_exhausted(self, host)
    else
      if host ~= EAGAIN then error(syscall_error(self, "accept", host), 0) end
      local r = trap(IO, fd, 0)
      if r ~= 0 then error(wait_error(self, "accept", r), 0) end
    end
  end
end

--- connect(host, port) / connect(path).
function Socket:connect(host, port)
  if getmetatable(self) ~= Socket and not socketlike(self) then badself("connect", self, "socket") end
  local ok, err
  ok, err, port = with_address(self, c.connect, "connect", host, port)
  if ok then return end
  local fd = self._fd
  while err == EAGAIN and self.family == AF_UNIX do
    -- A Unix listener's backlog is full: it has no readiness to wait for.
    K.trap(K.T.SLEEP, 0.005, 0)
    ok, err = c.connect(fd, AF_UNIX, host)
    if ok then return end
  end
  if err == EINPROGRESS then
    local r = trap(IO, fd, 1)
    if r ~= 0 then error(wait_error(self, "connect", r), 0) end
    err = c.sockerror(fd)
    if err == 0 then return end
  end
  error(syscall_error(self, "connect " .. show(host, port), err), 0)
end

--- recv(maxbytes) -> data, or nil at end of stream.
-- A TCP read shorter than asked for emptied the receive queue (TCP copies all it
-- has), so the next recv waits for readiness before trying, saving a syscall that
-- would only return EAGAIN. That is safe with edge-triggered epoll because the
-- poller remembers edges that come while nobody waits (Sources/CurioKernel/Poller.swift).
local recv_size = 0 -- the last size recv checked (programs mostly ask for one size)

function Socket:recv(maxbytes)
  if self == nil or self._fd == nil then badself("recv", self, "socket") end -- hot: no C call
  if maxbytes ~= recv_size then
    maxbytes = check_size(maxbytes, 1, "recv")
    recv_size = maxbytes
  end
  local fd = self._fd
  if self._drained and fd >= 0 then
    self._drained = false
    local r = trap(IO, fd, 0)
    if r ~= 0 then error(wait_error(self, "recv", r), 0) end
  end
  while true do
    local data, err = c_recv(fd, maxbytes)
    if data then
      local n = #data
      if n < maxbytes and self.type ~= SOCK_DGRAM then
        if n == 0 then return nil end
        if self._drained ~= nil then self._drained = true end -- TCP
      end
      return data
    end
    if err ~= EAGAIN then error(syscall_error(self, "recv", err), 0) end
    local r = trap(IO, fd, 0)
    if r ~= 0 then error(wait_error(self, "recv", r), 0) end
  end
end

--- send(data) -> number of bytes sent (at least one, unless data is "").
function Socket:send(data)
  if self == nil or self._fd == nil then badself("send", self, "socket") end -- hot: no C call
  if type(data) ~= "string" then check_string(data, 1, "send") end
  local fd = self._fd
  while true do
    local n, err = c_send(fd, data, 0)
    if n then return n end
    if err ~= EAGAIN then error(syscall_error(self, "send", err), 0) end
    local r = trap(IO, fd, 1)
    if r ~= 0 then error(wait_error(self, "send", r), 0) end
  end
end

--- sendall(data): sends everything. If cancelled (or failing) part-way, the
--- error carries err.bytes_sent.
function Socket:sendall(data)
  if self == nil or self._fd == nil then badself("sendall", self, "socket") end -- hot: no C call
  local fd, sent = self._fd, 0
  repeat
    local n, err = c_send(fd, data, sent)
    if n then
      sent = sent + n
    elseif err == false then
      check_string(data, 1, "sendall") -- not a string: raises
    elseif err == EAGAIN then
      local ok, r = trap_nothrow(IO, fd, 1)
      if not ok then
        r.bytes_sent = sent
        error(r, 0)
      elseif r ~= 0 then
        local e = wait_error(self, "sendall", r)
        e.bytes_sent = sent
        error(e, 0)
      end
    else
      local e = syscall_error(self, "sendall", err)
      e.bytes_sent = sent
      error(e, 0)
    end
  until sent >= #data
end

--- recvfrom(maxbytes) -> data, address (datagram sockets).
function Socket:recvfrom(maxbytes)
  if getmetatable(self) ~= Socket and not socketlike(self) then badself("recvfrom", self, "socket") end
  maxbytes = check_size(maxbytes, 1, "recvfrom")
  local fd = self._fd
  while true do
    local data, host, port = c_recvfrom(fd, maxbytes)
    if data then return data, address(host, port) end
    if host ~= EAGAIN then error(syscall_error(self, "recvfrom", host), 0) end
    local r = trap(IO, fd, 0)
    if r ~= 0 then error(wait_error(self, "recvfrom", r), 0) end
  end
end

--- sendto(data, host, port) / sendto(data, path) -> bytes sent.
function Socket:sendto(data, host, port)
  if getmetatable(self) ~= Socket and not socketlike(self) then badself("sendto", self, "socket") end
  check_string(data, 1, "sendto")
  local fd = self._fd
  while true do
    local n, err
    n, err, port = with_address(self, c_sendto, "sendto", host, port, data)
    if n then return n end
    if err ~= EAGAIN then error(syscall_error(self, "sendto " .. show(host, port), err), 0) end
    local r = trap(IO, fd, 1)
    if r ~= 0 then error(wait_error(self, "sendto", r), 0) end
  end
end

--- setsockopt(level, opt, value): value an integer, a boolean or raw bytes.
function Socket:setsockopt(level, opt, value)
  if getmetatable(self) ~= Socket and not socketlike(self) then badself("setsockopt", self, "socket") end
  level = cint(level, 1, "setsockopt")
  opt = cint(opt, 2, "setsockopt")
  local tv = type(value)
  if tv == "number" then
    value = cint(value, 3, "setsockopt")
  elseif tv ~= "boolean" and tv ~= "string" then
    argerror(3, "setsockopt", "integer, boolean or string", value)
  end
  local ok, err = c.setsockopt(self._fd, level, opt, value)
  if not ok then error(syscall_error(self, "setsockopt", err), 0) end
end

function Socket:getsockopt(level, opt)
  if getmetatable(self) ~= Socket and not socketlike(self) then badself("getsockopt", self, "socket") end
  level = cint(level, 1, "getsockopt")
  opt = cint(opt, 2, "getsockopt")
  local v, err = c.getsockopt(self._fd, level, opt)
  if not v then error(syscall_error(self, "getsockopt", err), 0) end
  return v
end

local function name_result(self, what, a, b)
  if a == nil and math_type(b) == "integer" then error(syscall_error(self, what, b), 0) end
  return address(a, b)
end

--- getsockname() -> address ({host=, port=}, or a path for Unix sockets).
function Socket:getsockname()
  if getmetatable(self) ~= Socket and not socketlike(self) then badself("getsockname", self, "socket") end
  return name_result(self, "getsockname", c.getsockname(self._fd))
end
function Socket:getpeername()
  if getmetatable(self) ~= Socket and not socketlike(self) then badself("getpeername", self, "socket") end
  return name_result(self, "getpeername", c.getpeername(self._fd))
end

function Socket:shutdown(how)
  if getmetatable(self) ~= Socket and not socketlike(self) then badself("shutdown", self, "socket") end
  how = cint(how, 1, "shutdown")
  local ok, err = c.shutdown(self._fd, how)
  if not ok then error(syscall_error(self, "shutdown", err), 0) end
end

--- fileno() -> the descriptor, or -1 once closed.
function Socket:fileno()
  if getmetatable(self) ~= Socket and not socketlike(self) then badself("fileno", self, "socket") end
  return self._fd
end

--- close(): idempotent. Tasks waiting on the socket get an error ("socket is closed").
local close_fd = K.close_fd

function Socket:close()
  if getmetatable(self) ~= Socket and not socketlike(self) then badself("close", self, "socket") end
  local fd = self._fd
  if fd < 0 then return end
  self._fd = -1
  close_fd(fd)
end
Socket.__close = Socket.close
Socket.__gc = Socket.close -- dropped without close(): do not leak the descriptor

--- as_stream() -> a buffered stream over this socket (closing it closes the socket).
function Socket:as_stream()
  if getmetatable(self) ~= Socket and not socketlike(self) then badself("as_stream", self, "socket") end
  return require("curio.io").SocketStream(self)
end

-- ---------------------------------------------------------------- constructors

local function new(family, socktype, proto, fname)
  local fd, err = c.socket(family, socktype, proto or 0)
  if not fd then error(oserror(fname, err), 0) end
  return wrap(fd, family, socktype, is_tcp(family, socktype, proto or 0))
end

--- socket([family=AF_INET], [type=SOCK_STREAM], [proto=0])
function M.socket(family, socktype, proto)
  family = family == nil and AF_INET or cint(family, 1, "socket")
  socktype = socktype == nil and SOCK_STREAM or cint(socktype, 2, "socket")
  if proto ~= nil then proto = cint(proto, 3, "socket") end
  return new(family, socktype, proto, "socket")
end

function M.tcp() return new(AF_INET, SOCK_STREAM, 0, "socket") end
function M.tcp6() return new(AF_INET6, SOCK_STREAM, 0, "socket") end
--- udp([family=AF_INET])
function M.udp(family)
  return new(family == nil and AF_INET or cint(family, 1, "udp"), SOCK_DGRAM, 0, "udp")
end
function M.unix() return new(AF_UNIX, SOCK_STREAM, 0, "socket") end

--- socketpair([family=AF_UNIX], [type=SOCK_STREAM]) -> two connected sockets.
function M.socketpair(family, socktype)
  family = family == nil and AF_UNIX or cint(family, 1, "socketpair")
  socktype = socktype == nil and SOCK_STREAM or cint(socktype, 2, "socketpair")
  local a, b = c.socketpair(family, socktype)
  if not a then error(oserror("socketpair", b), 0) end
  return wrap(a, family, socktype, false), wrap(b, family, socktype, false)
end

--- fromfd(fd) -> a socket on a duplicate of descriptor fd (as Python's
--- socket.fromfd; the original stays open and is the caller's to close).
function M.fromfd(fd)
  fd = cint(fd, 1, "fromfd", 0)
  local family, socktype, proto = c.sockinfo(fd)
  if not family then error(oserror("fromfd " .. fd, socktype), 0) end
  local nfd, err = c.dup(fd)
  if not nfd then error(oserror("fromfd " .. fd, err), 0) end
  return wrap(nfd, family, socktype, is_tcp(family, socktype, proto))
end

M.is_socket = function(v) return getmetatable(v) == Socket end
return M
