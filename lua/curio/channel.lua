-- curio.channel: message passing between processes, as curio's Channel. A
-- Connection moves transferable values (curio's transfer codec, no Universal
-- objects) or raw strings in frames: a 4-byte length (host byte order), then the
-- bytes. With an authkey both ends prove they know it before any message:
-- HMAC-SHA256 challenge/response in each direction (as multiprocessing's).
local errors = require "curio.errors"
local network = require "curio.network"
local time = require "curio.time"
local codec = require "curio.ccodec"
local cp = require "curio.cworkerproc"
local cc = require "curio.cchannel"

local M = {}

local MAXFRAME = cp.MAXSIZE
local AUTH_MAXFRAME = 256 -- frames before authentication stay small
local CHALLENGE, WELCOME, FAILURE = "#CHALLENGE#", "#WELCOME#", "#FAILURE#"

local function argerror(i, fname, expected, v)
  error(("bad argument #%d to '%s' (%s expected, got %s)"):format(i, fname, expected,
    v == nil and "no value" or type(v)), 3)
end

-- Connection ---------------------------------------------------------------

local Connection = { __name = "curio.Connection" }
Connection.__index = Connection
M.Connection = Connection

local function new_connection(sock)
  return setmetatable({ _sock = sock, _parts = {}, _have = 0, _closed = false }, Connection)
end

local function check_open(self, fname)
  if getmetatable(self) ~= Connection then argerror(1, fname, "Connection", self) end
  if self._closed then error(errors.BrokenResource(fname .. ": connection is closed"), 3) end
end

local function frame(s)
  return string.pack("=I4", #s) .. s
end

-- Buffers at least n bytes (false if the peer closed first). Whatever arrives is
-- kept in the buffer at once, so a cancelled read loses nothing.
local function fill(self, n)
  while self._have < n do
    local d = self._sock:recv(math.max(65536, math.min(n - self._have, 1 << 20)))
    if not d then return false end
    local p = self._parts
    p[#p + 1] = d
    self._have = self._have + #d
  end
  if #self._parts > 1 then self._parts = { table.concat(self._parts) } end
  return true
end

-- Removes and returns the first n buffered bytes (fill(n) came first).
local function take(self, n)
  local all = self._parts[1]
  self._parts = { all:sub(n + 1) }
  self._have = self._have - n
  return all:sub(1, n)
end

local function read_frame(self, limit)
  if not fill(self, 4) then
    if self._have > 0 then error(errors.IncompleteRead("connection closed inside a message"), 0) end
    return nil
  end
  local n = string.unpack("=I4", self._parts[1])
  if n > limit then
    self:close()
    error(errors.CurioError(("message of %d bytes exceeds the limit (%d)"):format(n, limit)), 0)
  end
  if not fill(self, 4 + n) then error(errors.IncompleteRead("connection closed inside a message"), 0) end
  take(self, 4)
  return take(self, n)
end

--- send_bytes(s): sends a string as one message.
function Connection:send_bytes(s)
  check_open(self, "send_bytes")
  if type(s) ~= "string" then argerror(1, "send_bytes", "string", s) end
  if #s > MAXFRAME then error(errors.TransferError("message too large"), 2) end
  self._sock:sendall(frame(s))
end

--- recv_bytes() -> the next message as a string, or nil once the peer closed.
function Connection:recv_bytes()
  check_open(self, "recv_bytes")
  return read_frame(self, MAXFRAME)
end

--- send(value): sends one transferable value.
function Connection:send(value)
  check_open(self, "send")
  if value == nil then argerror(1, "send", "value", value) end
  local s, err = codec.dumps(value)
  if not s then error(errors.TransferError(err), 2) end
  self._sock:sendall(frame(s))
end

--- recv() -> the next value, or nil once the peer closed.
function Connection:recv()
  check_open(self, "recv")
  local s = read_frame(self, MAXFRAME)
  if s == nil then return nil end
  local ok, v = pcall(codec.loads, s)
  if not ok then error(errors.TransferError(tostring(v)), 2) end
  return v
end

function Connection:close()
  if not self._closed then
    self._closed = true
    self._sock:close()
  end
end
Connection.__close = Connection.close
Connection.__gc = function(self) if not self._closed then self._sock:close() end end

function Connection:fileno() return self._sock:fileno() end
function Connection.__tostring(c) return ("Connection(fd=%d)"):format(c._sock:fileno()) end

-- Authentication: the challenger sends a random nonce, the other end answers
-- HMAC(authkey, nonce), the challenger replies WELCOME or FAILURE. Each side
-- raises AuthenticationError when it sees a wrong digest or a FAILURE.
local function auth_fail(conn, message)
  conn:close()
  error(errors.AuthenticationError(message), 0)
end

local function deliver_challenge(conn, authkey)
  local nonce = cc.random(32)
  conn._sock:sendall(frame(CHALLENGE .. nonce))
  local answer = read_frame(conn, AUTH_MAXFRAME)
  if answer and cc.equal(answer, cc.hmac_sha256(authkey, nonce)) then
    conn._sock:sendall(frame(WELCOME))
    return
  end
  if answer then pcall(conn._sock.sendall, conn._sock, frame(FAILURE)) end
  auth_fail(conn, "digest received was wrong")
end

local function answer_challenge(conn, authkey)
  local msg = read_frame(conn, AUTH_MAXFRAME)
  if not msg or msg:sub(1, #CHALLENGE) ~= CHALLENGE then
    auth_fail(conn, "the peer did not send an authentication challenge")
  end
  conn._sock:sendall(frame(cc.hmac_sha256(authkey, msg:sub(#CHALLENGE + 1))))
  local reply = read_frame(conn, AUTH_MAXFRAME)
  if reply ~= WELCOME then auth_fail(conn, "digest sent was rejected") end
end

local function authenticate(conn, authkey, server)
  local ok, e = pcall(function()
    if server then
      deliver_challenge(conn, authkey)
      answer_challenge(conn, authkey)
    else
      answer_challenge(conn, authkey)
      deliver_challenge(conn, authkey)
    end
  end)
  if not ok then
    conn:close()
    error(e, 0)
  end
end

local function check_opts(opts, fname)
  if opts == nil then return nil end
  if type(opts) ~= "table" then argerror(1, fname, "table", opts) end
  local key = opts.authkey
  if key ~= nil and type(key) ~= "string" then
    error(("bad argument #1 to '%s' (authkey must be a string, got %s)"):format(fname, type(key)), 3)
  end
  return key
end

-- Channel ------------------------------------------------------------------

local Channel = { __name = "curio.Channel" }
Channel.__index = Channel
M.ChannelClass = Channel

--- Channel(host, port) or Channel(path): an address to accept or connect on.
function M.Channel(host, port)
  if type(host) ~= "string" then argerror(1, "Channel", "string", host) end
  if port ~= nil then
    if math.type(port) ~= "integer" or port < 0 or port > 65535 then
      error(("bad argument #2 to 'Channel' (port 0..65535 expected, got %s)"):format(tostring(port)), 2)
    end
  end
  return setmetatable({ host = host, port = port }, Channel)
end

function Channel.__tostring(ch)
  if ch.port then return ("Channel(%s:%d)"):format(ch.host, ch.port) end
  return ("Channel(%s)"):format(ch.host)
end

-- The listening socket, made on first use.
local function listener(ch)
  if not ch._listener then
    if ch.port then
      ch._listener = network.tcp_server_socket(ch.host, ch.port)
    else
      ch._listener = network.unix_server_socket(ch.host)
      ch._unlink = ch.host
    end
  end
  return ch._listener
end

--- accept([{authkey=}]) -> Connection. Listens on first use.
function Channel:accept(opts)
  local authkey = check_opts(opts, "accept")
  local client = listener(self):accept()
  local conn = new_connection(client)
  if authkey then authenticate(conn, authkey, true) end
  return conn
end

--- The address the channel listens on (after the first accept or listen()).
function Channel:listen()
  return listener(self):getsockname()
end

local RETRY = { ECONNREFUSED = true, ENOENT = true, ECONNRESET = true, EAGAIN = true }

--- connect([{authkey=}]) -> Connection. Retries until the server is up; bound
--- it with timeout_after.
function Channel:connect(opts)
  local authkey = check_opts(opts, "connect")
  local delay = 0.01
  while true do
    local ok, s
    if self.port then
      ok, s = pcall(network.open_connection, self.host, self.port)
    else
      ok, s = pcall(network.open_unix_connection, self.host)
    end
    if ok then
      local conn = new_connection(s)
      if authkey then authenticate(conn, authkey, false) end
      return conn
    end
    if not (errors.is(s, errors.OSError) and RETRY[s.code]) then error(s, 0) end
    time.sleep(delay)
    delay = math.min(delay * 2, 0.5)
  end
end

function Channel:close()
  if self._listener then
    self._listener:close()
    self._listener = nil
    if self._unlink then os.remove(self._unlink); self._unlink = nil end
  end
end
Channel.__close = Channel.close

setmetatable(M, { __call = function(_, ...) return M.Channel(...) end })
return M
