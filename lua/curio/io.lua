-- curio.io: buffered streams. One Stream class reads and writes through a "raw"
-- object with recv(n) (data, or nil at end of stream), sendall(data) (setting
-- err.bytes_sent when interrupted) and close():
--   * a socket (sock:as_stream()),
--   * FdRaw: a non-blocking pipe or terminal, waited for with IO traps,
--   * FileRaw: a regular file, whose reads and writes run on the kernel's thread
--     pool (regular files are always "ready" to epoll, so they would block).
local c = require "curio.csocket"
local K = require "curio.kernel"
local errors = require "curio.errors"

local trap, trap_nothrow, kcall = K.trap, K.trap_nothrow, K.kcall
local IO, THREAD = K.T.IO, K.T.THREAD
local CANCEL_DISABLE = K.K.CANCEL_DISABLE
-- Sources/CurioLua/LuaRuntime+IO.swift
local OP_JOB_RESULT, OP_FILE_OPEN, OP_FILE_READ = K.K.JOB_RESULT, K.K.FILE_OPEN, K.K.FILE_READ
local OP_FILE_WRITE, OP_FILE_CLOSE = K.K.FILE_WRITE, K.K.FILE_CLOSE
local EAGAIN, EBUSY, EBADF = c.EAGAIN, c.EBUSY, c.EBADF
local find, sub, concat, max = string.find, string.sub, table.concat, math.max
local math_type, type, error, setmetatable, pcall = math.type, type, error, setmetatable, pcall

local CHUNK = 65536

local M = {}

local function closed_error(what)
  return errors.new(errors.OSError, what .. ": stream is closed", { errno = EBADF, code = "EBADF" })
end

-- Raises e for a write that got `sent` bytes out before it failed.
local function write_failed(e, sent)
  e.bytes_sent = sent
  error(e, 0)
end

local check = require "curio.check"
local argerror, badself = check.argerror, check.badself

-- A stream of another class (subprocess pipes, SSL) built by new_stream.
local function streamlike(v)
  return type(v) == "table" and type(rawget(v, "_buf")) == "string"
end

-- ---------------------------------------------------------------- FdRaw

--- A non-blocking descriptor that is not a socket (pipe, terminal).
local FdRaw = { __name = "curio.FdRaw" }
FdRaw.__index = FdRaw

local function fd_wait(self, write, what, fields)
  local ok, r = trap_nothrow(IO, self.fd, write and 1 or 0)
  local e
  if not ok then
    e = r
  elseif r == 0 then
    return
  elseif r == -EBUSY then
    e = errors.ResourceBusy(what .. ": another task is already using this stream")
  elseif r == -EBADF or self.fd < 0 then
    e = closed_error(what)
  else
    e = errors.oserror(what, -r)
  end
  if fields then for k, v in pairs(fields) do e[k] = v end end
  error(e, 0)
end

function FdRaw:recv(n)
  while true do
    local data, err = c.read(self.fd, n)
    if data then return data ~= "" and data or nil end
    if self.fd < 0 then error(closed_error("read"), 0) end
    if err ~= EAGAIN then error(errors.oserror("read", err), 0) end
    fd_wait(self, false, "read")
  end
end

function FdRaw:sendall(data)
  local sent, len = 0, #data
  while sent < len do
    local n, err = c.write(self.fd, data, sent)
    if n then
      sent = sent + n
    elseif self.fd < 0 then
      write_failed(closed_error("write"), sent)
    elseif err ~= EAGAIN then
      write_failed(errors.oserror("write", err), sent)
    else
      fd_wait(self, true, "write", { bytes_sent = sent })
    end
  end
end

function FdRaw:close()
  local fd = self.fd
  if fd < 0 then return end
  self.fd = -1
  K.close_fd(fd)
end
FdRaw.__gc = FdRaw.close -- dropped without close(): do not leak the descriptor

-- ---------------------------------------------------------------- FileRaw

--- A regular file: every read and write is a job on the kernel's thread pool. The
--- task waits with cancellation deferred (file I/O always finishes soon), so the
--- file position and err.bytes_written stay exact; a cancellation or timeout is
--- delivered at the next blocking call.
local FileRaw = { __name = "curio.FileRaw" }
FileRaw.__index = FileRaw

local function job_result(job)
  if not K.current() then K.not_in_task(4) end
  kcall(CANCEL_DISABLE, 1)
  local ok, e = trap_nothrow(THREAD, job)
  kcall(CANCEL_DISABLE, -1)
  if not ok then error(e, 0) end
  return kcall(OP_JOB_RESULT, job)
end

function FileRaw:recv(n)
  if self.fd < 0 then error(closed_error("read"), 0) end
  local data, err = job_result(kcall(OP_FILE_READ, self.fd, n))
  if not data then error(errors.oserror("read " .. self.name, err), 0) end
  return data ~= "" and data or nil
end

function FileRaw:sendall(data)
  local sent, len = 0, #data
  while sent < len do
    if self.fd < 0 then write_failed(closed_error("write"), sent) end
    local chunk = sent == 0 and data or sub(data, sent + 1)
    local n, err = job_result(kcall(OP_FILE_WRITE, self.fd, chunk))
    if not n then write_failed(errors.oserror("write " .. self.name, err), sent) end
    sent = sent + n
  end
end

function FileRaw:close()
  local fd = self.fd
  if fd < 0 then return end
  self.fd = -1
  if not (self.borrowed or pcall(kcall, OP_FILE_CLOSE, fd)) then c.close(fd) end
end
FileRaw.__gc = FileRaw.close

-- ---------------------------------------------------------------- Stream

local Stream = { __name = "curio.Stream" }
Stream.__index = Stream
M.Stream = Stream

local function new_stream(raw, cls)
  return setmetatable({ _raw = raw, _buf = "", _pos = 1, _reading = false, _writing = false }, cls or Stream)
end

-- At most one reader and one writer at a time, as for sockets.
local function begin(self, flag, doing, what)
  if self[flag] then
    error(errors.ResourceBusy(("%s: another task is already %s this stream"):format(what, doing)), 4)
  end
  if self._raw == nil then error(closed_error(what), 4) end
  self[flag] = true
end
local function begin_read(self, what) begin(self, "_reading", "reading from", what) end
local function begin_write(self, what) begin(self, "_writing", "writing to", what) end

-- Ends a read: clears the flag and re-raises an error with progress fields.
local function end_read(self, ok, ...)
  self._reading = false
  if ok then return ... end
  local e = ...
  error(e, 0)
end

local function with_progress(e, data)
  if type(e) == "table" then
    e.bytes_read = #data
    e.partial = data
  end
  return e
end

-- The buffered bytes, consumed.
local function take_buffer(self)
  local buf, pos = self._buf, self._pos
  self._buf, self._pos = "", 1
  if pos == 1 then return buf end
  return sub(buf, pos)
end

local function readall(self)
  local parts = { take_buffer(self) }
  local raw = self._raw
  local ok, e = pcall(function()
    while true do
      local data = raw:recv(self._bigchunk or CHUNK)
      if not data then return end
      parts[#parts + 1] = data
    end
  end)
  local all = concat(parts)
  if not ok then error(with_progress(e, all), 0) end
  return all
end

local function read_n(self, n)
  local buf, pos = self._buf, self._pos
  local avail = #buf - pos + 1
  if avail > 0 then
    if n >= avail then
      self._buf, self._pos = "", 1
      return pos == 1 and buf or sub(buf, pos)
    end
    self._pos = pos + n
    return sub(buf, pos, pos + n - 1)
  end
  if n == 0 then return "" end
  local ok, data = pcall(self._raw.recv, self._raw, n)
  if not ok then error(with_progress(data, ""), 0) end
  return data
end

-- Reads until "\n" (kept) or end of stream; nil at end of stream. Bytes of an
-- unfinished line stay buffered if the read is interrupted. `from`: where to start
-- looking for "\n" (the buffer before it is known to have none).
local function readline(self, from)
  local raw = self._raw
  from = from or self._pos
  while true do
    local buf, pos = self._buf, self._pos
    local i = find(buf, "\n", from, true)
    if i then
      self._pos = i + 1
      return sub(buf, pos, i)
    end
    from = #buf + 1
    local data = raw:recv(CHUNK)
    if not data then
      if pos > #buf then return nil end
      return take_buffer(self)
    end
    if pos > #buf then
      self._buf, self._pos, from = data, 1, 1
    else
      from = from - pos + 1
      self._buf, self._pos = sub(buf, pos) .. data, 1
    end
  end
end

--- read(n): up to n bytes (what is buffered, else one receive); nil at end of
--- stream. read("a") / read() / read(-1): everything up to end of stream ("" if
--- nothing is left). read("l") / read("L"): a line without / with its "\n".
function Stream:read(n)
  if self == nil or self._buf == nil then badself("read", self, "stream") end -- hot: no C call
  begin_read(self, "read")
  if type(n) == "number" and math_type(n) ~= "integer" then
    self._reading = false
    n = check.int(n, 1, "read") -- 10.0 is 10; NaN, inf and 1.5 are errors, as for Lua's files
    self._reading = true
  end
  if math_type(n) == "integer" and n >= 0 then
    return end_read(self, pcall(read_n, self, n))
  end
  if n == nil or n == "a" or n == "*a" or math_type(n) == "integer" then -- read(-1): all
    return end_read(self, pcall(readall, self))
  end
  if n == "l" or n == "L" or n == "*l" or n == "*L" then
    local ok, line = pcall(readline, self)
    self._reading = false
    if not ok then error(line, 0) end
    if line and (n == "l" or n == "*l") and sub(line, -1) == "\n" then line = sub(line, 1, -2) end
    return line
  end
  self._reading = false
  argerror(1, "read", "integer, 'a', 'l' or 'L'", n)
end

--- readall(): everything up to end of stream ("" if nothing is left).
function Stream:readall()
  if getmetatable(self) ~= Stream and not streamlike(self) then badself("readall", self, "stream") end
  begin_read(self, "readall")
  return end_read(self, pcall(readall, self))
end

--- read_exactly(n): exactly n bytes, or raises IncompleteRead (err.partial has
--- what was read) at end of stream.
function Stream:read_exactly(n)
  if getmetatable(self) ~= Stream and not streamlike(self) then badself("read_exactly", self, "stream") end
  n = check.int(n, 1, "read_exactly", 0)
  begin_read(self, "read_exactly")
  local parts, got = {}, 0
  local ok, e = pcall(function()
    while got < n do
      local chunk
      if self._pos <= #self._buf then
        chunk = read_n(self, n - got)
      else
        chunk = self._raw:recv(max(n - got, 1))
      end
      if not chunk then
        local data = concat(parts)
        error(errors.IncompleteRead(("expected %d bytes, got %d before end of stream"):format(n, #data),
          { partial = data, bytes_read = #data, expected = n }), 0)
      end
      parts[#parts + 1] = chunk
      got = got + #chunk
    end
  end)
  self._reading = false
  local data = concat(parts)
  if not ok then
    if type(e) == "table" and e.partial == nil then with_progress(e, data) end
    error(e, 0)
  end
  return data
end

--- readline(): the next line with its "\n" (the last line may lack it); nil at
--- end of stream.
function Stream:readline()
  if self == nil or self._buf == nil then badself("readline", self, "stream") end -- hot: no C call
  begin_read(self, "readline")
  local buf, pos = self._buf, self._pos
  local i = find(buf, "\n", pos, true)
  if i then -- a whole line is buffered: nothing can fail, no pcall needed
    self._pos = i + 1
    self._reading = false
    return sub(buf, pos, i)
  end
  local ok, line = pcall(readline, self, #buf + 1)
  self._reading = false
  if not ok then error(line, 0) end
  return line
end

--- lines(): iterator over lines without their "\n".
function Stream:lines()
  if getmetatable(self) ~= Stream and not streamlike(self) then badself("lines", self, "stream") end
  return function()
    local line = self:readline()
    if line and sub(line, -1) == "\n" then return sub(line, 1, -2) end
    return line
  end
end

--- readlines(): a list of every remaining line (each keeps its "\n"). If
--- interrupted, err.lines_read holds the lines read so far.
function Stream:readlines()
  if getmetatable(self) ~= Stream and not streamlike(self) then badself("readlines", self, "stream") end
  begin_read(self, "readlines")
  local lines = {}
  local ok, e = pcall(function()
    while true do
      local line = readline(self)
      if not line then return end
      lines[#lines + 1] = line
    end
  end)
  self._reading = false
  if not ok then
    if type(e) == "table" then e.lines_read = lines end
    error(e, 0)
  end
  return lines
end

-- The error of an interrupted sendall, with bytes_written.
local function write_error(e)
  if type(e) == "table" then e.bytes_written = e.bytes_sent or 0 end
  return e
end

local function write_raw(self, data)
  local ok, e = pcall(self._raw.sendall, self._raw, data)
  if not ok then error(write_error(e), 0) end
end

--- write(data): writes all of data. If interrupted, err.bytes_written says how
--- much went out.
function Stream:write(data)
  if self == nil or self._buf == nil then badself("write", self, "stream") end -- hot: no C call
  if type(data) ~= "string" then
    if type(data) ~= "number" then argerror(1, "write", "string", data) end
    data = tostring(data)
  end
  begin_write(self, "write")
  if self._before_write then self:_before_write() end
  local raw = self._raw
  local ok, e = pcall(raw.sendall, raw, data)
  self._writing = false
  if not ok then error(write_error(e), 0) end
  return #data
end

--- writelines(list): writes each string; err.bytes_written counts all of them.
function Stream:writelines(list)
  if getmetatable(self) ~= Stream and not streamlike(self) then badself("writelines", self, "stream") end
  if type(list) ~= "table" then argerror(1, "writelines", "table", list) end
  for i, v in ipairs(list) do
    if type(v) ~= "string" then check.badarg(1, "writelines", ("item %d: string expected, got %s")
      :format(i, check.typename(v))) end
  end
  begin_write(self, "writelines")
  if self._before_write then self:_before_write() end
  local written = 0
  local ok, e = pcall(function()
    for _, s in ipairs(list) do
      write_raw(self, s)
      written = written + #s
    end
  end)
  self._writing = false
  if not ok then
    if type(e) == "table" and e.bytes_written then e.bytes_written = written + e.bytes_written end
    error(e, 0)
  end
end

--- flush(): writes are not buffered, so there is nothing to wait for.
function Stream:flush()
  if getmetatable(self) ~= Stream and not streamlike(self) then badself("flush", self, "stream") end
  if self._raw == nil then error(closed_error("flush"), 2) end
end

function Stream:close()
  if getmetatable(self) ~= Stream and not streamlike(self) then badself("close", self, "stream") end
  local raw = self._raw
  if raw == nil then return end
  self._raw = nil
  self._buf, self._pos = "", 1
  raw:close()
end
Stream.__close = Stream.close

function Stream:__tostring()
  return ("curio.Stream(%s)"):format(self._raw and tostring(self._raw) or "closed")
end

--- The socket, pipe descriptor or file behind the stream.
function Stream:fileno()
  if getmetatable(self) ~= Stream and not streamlike(self) then badself("fileno", self, "stream") end
  local raw = self._raw
  if raw == nil then return -1 end
  if raw.fileno then return raw:fileno() end
  return raw.fd
end

function M.SocketStream(sock)
  return new_stream(sock)
end

--- fd_stream(fd) -> a stream over a non-blocking pipe or terminal descriptor,
--- which it owns (closing the stream closes fd). For subprocess pipes and such.
function M.fd_stream(fd)
  if math_type(fd) ~= "integer" then argerror(1, "fd_stream", "integer", fd) end
  return new_stream(setmetatable({ fd = fd }, FdRaw))
end

-- ---------------------------------------------------------------- files

local FileStream = setmetatable({ __name = "curio.FileStream" }, { __index = Stream })
FileStream.__index = FileStream
FileStream.__close = Stream.close
FileStream.__tostring = Stream.__tostring
M.FileStream = FileStream

local WHENCE = { set = c.SEEK_SET, cur = c.SEEK_CUR, ["end"] = c.SEEK_END }

--- seek([whence="cur"], [offset=0]) -> the new position (as Lua's file:seek).
function FileStream:seek(whence, offset)
  if getmetatable(self) ~= FileStream and not streamlike(self) then badself("seek", self, "stream") end
  if self._raw == nil then error(closed_error("seek"), 2) end
  -- another kind of stream (a socket's) called through FileStream.seek
  if math.type(self._raw.fd) ~= "integer" then badself("seek", self, "file stream") end
  if self._reading or self._writing then
    error(errors.ResourceBusy("seek: the stream is in use by another task"), 2)
  end
  local w = WHENCE[whence or "cur"]
  if not w then argerror(1, "seek", "'set', 'cur' or 'end'", whence) end
  offset = check.optint(offset, 2, "seek", 0)
  -- The OS position is ahead of ours by what is buffered.
  if w == c.SEEK_CUR then offset = offset - (#self._buf - self._pos + 1) end
  self._buf, self._pos = "", 1
  local pos, err = c.lseek(self._raw.fd, offset, w)
  if not pos then error(errors.oserror("seek " .. self._raw.name, err), 2) end
  return pos
end

function FileStream:tell()
  if getmetatable(self) ~= FileStream and not streamlike(self) then badself("tell", self, "stream") end
  if self._raw ~= nil and math.type(self._raw.fd) ~= "integer" then badself("tell", self, "file stream") end
  return FileStream.seek(self, "cur", 0)
end

-- A write after buffered reads goes where the reader stands, not past the buffer.
function FileStream:_before_write()
  if self._pos <= #self._buf then
    c.lseek(self._raw.fd, -(#self._buf - self._pos + 1), c.SEEK_CUR)
    self._buf, self._pos = "", 1
  end
end

local MODES = {
  r = c.O_RDONLY, w = c.O_WRONLY | c.O_CREAT | c.O_TRUNC, a = c.O_WRONLY | c.O_CREAT | c.O_APPEND,
  x = c.O_WRONLY | c.O_CREAT | c.O_EXCL,
  ["r+"] = c.O_RDWR, ["w+"] = c.O_RDWR | c.O_CREAT | c.O_TRUNC, ["a+"] = c.O_RDWR | c.O_CREAT | c.O_APPEND,
  ["x+"] = c.O_RDWR | c.O_CREAT | c.O_EXCL,
}

--- open_file(path, [mode="r"]) -> a FileStream. Modes as C's fopen ("r", "w",
--- "a", "x", with "+"; "b" is accepted and ignored). The open runs on the thread
--- pool.
function M.open_file(path, mode)
  if type(path) ~= "string" then argerror(1, "open_file", "string", path) end
  mode = mode or "r"
  if type(mode) ~= "string" then argerror(2, "open_file", "string", mode) end
  local flags = MODES[(mode:gsub("b", ""))]
  if not flags then check.badarg(2, "open_file", ("invalid mode '%s'"):format(mode)) end
  if not K.current() then K.not_in_task(2) end
  -- The open may wait (a FIFO waits for its other end): it is cancellable, and a
  -- late descriptor is closed by the kernel.
  local job = kcall(OP_FILE_OPEN, path, flags, 438) -- 0666, less the umask
  trap(THREAD, job)
  local fd, err = kcall(OP_JOB_RESULT, job)
  if not fd then error(errors.oserror("open " .. path, err), 0) end
  if c.fdkind(fd) == "other" then
    -- A FIFO, terminal or character device: non-blocking, waited for on the poller.
    return new_stream(setmetatable({ fd = fd, name = path }, FdRaw), FileStream)
  end
  local s = new_stream(setmetatable({ fd = fd, name = path }, FileRaw), FileStream)
  s._bigchunk = 1 << 20
  return s
end

-- ---------------------------------------------------------------- stdin, stdout, stderr

-- The standard descriptors are set up at first use: a regular file goes through
-- the thread pool; a pipe or terminal is reopened through /proc/self/fd, which
-- gives a file description of our own that can be made non-blocking without
-- affecting the shell that shares the original; a socket is duplicated.
local function std_raw(fd, write)
  local kind = c.fdkind(fd)
  if kind == "file" or kind == nil then
    return setmetatable({ fd = fd, name = ("<fd %d>"):format(fd), borrowed = true }, FileRaw)
  end
  if kind == "socket" then
    return require("curio.socket").fromfd(fd)
  end
  local nfd = c.reopen(fd, write)
  if not nfd then nfd = c.dup(fd) end
  if not nfd then
    return setmetatable({ fd = fd, name = ("<fd %d>"):format(fd), borrowed = true }, FileRaw)
  end
  return setmetatable({ fd = nfd }, FdRaw)
end

local LazyStd = { __name = "curio.StdRaw" }
LazyStd.__index = LazyStd
local function real(self)
  local r = self.real
  if not r then r = std_raw(self.fd, self.write); self.real = r end
  return r
end
function LazyStd:recv(n) return real(self):recv(n) end
function LazyStd:sendall(data) return real(self):sendall(data) end
function LazyStd:close()
  local r = self.real
  self.real = nil
  if r then r:close() end -- closes our reopened copy; fds 0, 1, 2 stay open
end
function LazyStd:fileno() return self.fd end
function LazyStd:__tostring() return ("<fd %d>"):format(self.fd) end

local function std_stream(fd, write, luafile)
  local s = new_stream(setmetatable({ fd = fd, write = write }, LazyStd))
  -- Keep order with print()/io.write, which buffer in C's stdio.
  if luafile then s._before_write = function() luafile:flush() end end
  return s
end

M.stdin = std_stream(0, false)
M.stdout = std_stream(1, true, io.stdout)
M.stderr = std_stream(2, true, io.stderr)

return M
