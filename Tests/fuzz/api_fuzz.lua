-- The driver of the API-argument fuzz target (Tests/fuzz/api/ApiFuzz.swift): the
-- input bytes choose calls to public functions and methods of curio, and each
-- argument (self included) from every kind of Lua value: nil, booleans, integers
-- (small, huge, negative), floats (NaN, inf, 2^63, fractions), strings (random
-- bytes and known names), tables (lists, option tables with known option names and
-- random values), functions, coroutines, curio objects (open and closed). Each
-- call runs in a task under a short timeout (so calls that block legitimately end).
-- A finding is a crash or sanitizer report, a hang (libFuzzer's -timeout), or an
-- error that is not clean: a curio error object, or a "bad argument" message
-- located at the caller (this file), as Tests/lua/api_args_test.lua requires.
--
-- Left out on purpose, so that random input cannot harm the machine: signal.kill
-- and raise_signal (pid -1 as root), socket.fromfd (it would own libFuzzer's
-- descriptors), the `shell` option and program names other than a few harmless
-- ones, absolute paths outside a short list, and the process's std streams.
local curio = require "curio"
local socket = require "curio.socket"
local subprocess = require "curio.subprocess"
local signal = require "curio.signal"
local ssl = require "curio.ssl"
local errors = require "curio.errors"

local HERE = debug.getinfo(1, "S").short_src
local TRACE = os.getenv("API_FUZZ_TRACE") -- each call's name and time on stderr
local M = {}

-- ---- the input as a byte reader (0 once exhausted)
local input, at = "", 1
local function byte()
  local b = input:byte(at) or 0
  at = at + 1
  return b
end
local function left() return at <= #input end

-- ---- values
local FLOATS = { 0 / 0, math.huge, -math.huge, 2 ^ 63, -2 ^ 63, 2 ^ 31, 2 ^ 32 + 1, 1.5, -0.5, -0.0, 1e-300,
  2 ^ 53, 0.001, 65536.0, 1e18 }
local INTS = { 0, 1, -1, 2, 3, 10, 255, 256, 65535, 65536, 2 ^ 31 - 1, -2 ^ 31, math.maxinteger, math.mininteger,
  100000, 1024 }
local STRINGS = { "", "x", "127.0.0.1", "localhost", "::1", "0.0.0.0", "r", "w", "rb", "r+", "a", "l", "L", "n",
  "all", "any", "object", "none", "set", "cur", "end", "SIGUSR1", "USR2", "SIGNOPE", "client", "server",
  "TLSv1.2", "TLSv1.3", "TLSv1", "string.len", "string.rep", "math.max", "no.such", "/dev/null",
  "/nonexistent/x", "/tmp", "true", "cat", "false", "fz.sock", "fz.txt", "\0", "%s%d", "h2", "http/1.1",
  ("y"):rep(300), "DEFAULT", "ECDHE+AESGCM", "a\nb" }
local OPTS = { "timeout", "ssl", "backlog", "reuse_address", "reuse_port", "family", "source_addr",
  "server_hostname", "alpn_protocols", "stdin", "stdout", "stderr", "cwd", "env", "capture_output",
  "input", "check", "wait", "blocking", "error", "verify", "certfile", "keyfile", "cafile", "capath",
  "ciphers", "min_version", "max_version", "server", "server_side", "do_handshake_on_connect",
  "ssl_handshake_timeout", "check_hostname", "daemon", "maxsize", "n", "nonblocking", "mode",
  "buffering", "encoding", "newline", "interval", "stdot" }
local PROGRAMS = { "true", "false", "cat", "/nonexistent/prog", "/dev/null", "" }

local objects -- per input: live objects to pass around (made by fresh())
local value

local function rand_string()
  local n = byte() % 40
  local s = input:sub(at, at + n - 1)
  at = at + n
  if s:sub(1, 1) == "/" then s = "_" .. s end -- no absolute paths but the listed ones
  return s
end

local function options(depth)
  local t = {}
  for _ = 1, byte() % 4 do
    local k = OPTS[byte() % #OPTS + 1]
    if k == "env" and byte() % 2 == 0 then t.env = { PATH = "/bin:/usr/bin", X = value(depth + 1) }
    else t[k] = value(depth + 1) end
  end
  return t
end

local FUNCS = {
  function() end,
  function() error("fuzz function error") end,
  function() curio.sleep(0.001) return 1, 2, 3 end,
  function(...) return ... end,
  print, -- a C function (one that raises would raise its own, unlocated errors)
}

function value(depth)
  depth = depth or 0
  local k = byte() % (depth > 2 and 9 or 14)
  if k == 0 then return nil
  elseif k == 1 then return byte() % 2 == 0
  elseif k == 2 then return byte() - 128
  elseif k == 3 then return INTS[byte() % #INTS + 1]
  elseif k == 4 then return FLOATS[byte() % #FLOATS + 1]
  elseif k == 5 then return rand_string()
  elseif k == 6 then return STRINGS[byte() % #STRINGS + 1]
  elseif k == 7 then return FUNCS[byte() % #FUNCS + 1]
  elseif k == 8 then return objects[byte() % #objects + 1]
  elseif k == 9 then return {}
  elseif k == 10 then
    local t = {}
    for i = 1, byte() % 4 do t[i] = value(depth + 1) end
    return t
  elseif k == 11 then return options(depth)
  elseif k == 12 then
    local n = byte() % 8
    local v = (string.unpack("<i8", input:sub(at, at + 7) .. ("\0"):rep(8)))
    at = at + 8
    return n == 0 and v or v % (1 << (n * 8))
  else
    return { PROGRAMS[byte() % #PROGRAMS + 1], value(depth + 1) } -- an argv
  end
end

-- ---- the objects of one input (fresh each time: calls close and consume them)
local FIX = HERE:match("^(.*)/[^/]*$") .. "/../lua/fixtures/ssl/"
local server_ctx, client_ctx -- made once: loading the system CA store takes milliseconds
local function fresh()
  local a, b = socket.socketpair()
  local closed = socket.tcp()
  closed:close()
  local listening = socket.tcp()
  listening:bind("127.0.0.1", 0)
  listening:listen(4)
  client_ctx = client_ctx or ssl.create_default_context("client")
  server_ctx = server_ctx or ssl.context { server = true, certfile = FIX .. "server.pem", keyfile = FIX .. "server.key" }
  local lock = curio.Lock()
  local sleeper = curio.spawn(curio.sleep, 3600)
  objects = {
    a, b, closed, listening, socket.udp(), a:as_stream(), curio.open_file("/dev/null", "r"),
    lock, curio.RLock(), curio.Event(), curio.Semaphore(1), curio.BoundedSemaphore(1), curio.Condition(lock),
    curio.Queue(1), curio.PriorityQueue(), curio.LifoQueue(2), curio.TaskGroup(), sleeper,
    curio.spawn(function() end), curio.UniversalQueue(), curio.UniversalEvent(), curio.Local(),
    client_ctx, server_ctx, coroutine.create(print), subprocess.PIPE,
    subprocess.DEVNULL, subprocess.STDOUT, errors.CurioError, curio.TaskTimeout("x"), setmetatable({}, {}),
  }
  return objects
end

-- ---- the callables
local MODULE_FUNCS = {
  { "run", curio.run }, { "spawn", curio.spawn }, { "spawn_daemon", curio.spawn_daemon },
  { "sleep", curio.sleep }, { "wake_at", curio.wake_at }, { "schedule", curio.schedule },
  { "timeout_after", curio.timeout_after }, { "ignore_after", curio.ignore_after },
  { "timeout_at", curio.timeout_at }, { "ignore_at", curio.ignore_at },
  { "disable_cancellation", curio.disable_cancellation }, { "check_cancellation", curio.check_cancellation },
  { "current_task", curio.current_task }, { "tasks", curio.tasks }, { "clock", curio.clock },
  { "TaskGroup", curio.TaskGroup }, { "Event", curio.Event }, { "Lock", curio.Lock }, { "RLock", curio.RLock },
  { "Semaphore", curio.Semaphore }, { "BoundedSemaphore", curio.BoundedSemaphore },
  { "Condition", curio.Condition }, { "Queue", curio.Queue }, { "PriorityQueue", curio.PriorityQueue },
  { "LifoQueue", curio.LifoQueue }, { "Local", curio.Local }, { "open_file", curio.open_file },
  { "open_connection", curio.open_connection }, { "open_unix_connection", curio.open_unix_connection },
  { "tcp_server_socket", curio.tcp_server_socket }, { "unix_server_socket", curio.unix_server_socket },
  { "tcp_server", curio.tcp_server }, { "unix_server", curio.unix_server }, { "run_server", curio.run_server },
  { "run_in_thread", curio.run_in_thread }, { "run_in_process", curio.run_in_process },
  { "UniversalQueue", curio.UniversalQueue }, { "UniversalEvent", curio.UniversalEvent },
  { "Channel", curio.Channel }, { "SignalQueue", curio.SignalQueue }, { "SignalEvent", curio.SignalEvent },
  { "errors.class", errors.class }, { "errors.is", errors.is }, { "errors.new", errors.new },
  { "errors.oserror", errors.oserror }, { "TaskError", curio.TaskError }, { "OSError", curio.OSError },
  { "socket.socket", socket.socket }, { "socket.tcp", socket.tcp }, { "socket.tcp6", socket.tcp6 },
  { "socket.udp", socket.udp }, { "socket.unix", socket.unix }, { "socket.socketpair", socket.socketpair },
  { "socket.getaddrinfo", socket.getaddrinfo }, { "socket.gethostbyname", socket.gethostbyname },
  { "socket.address", socket.address }, { "socket.show_address", socket.show_address },
  { "socket.is_socket", socket.is_socket }, { "signal.name", signal.name }, { "signal.getpid", signal.getpid },
  { "subprocess.Popen", subprocess.Popen }, { "subprocess.run", subprocess.run },
  { "subprocess.check_output", subprocess.check_output }, { "subprocess.check_call", subprocess.check_call },
  { "ssl.context", ssl.context }, { "ssl.create_default_context", ssl.create_default_context },
  { "ssl.is_context", ssl.is_context }, { "ssl.is_sslsocket", ssl.is_sslsocket },
}

-- Methods: every public function of each object's metatable (found at load).
local METHODS = {}
do
  local saved = objects
  curio.run(function()
    local seen = {}
    for _, o in ipairs(fresh()) do
      local mt = getmetatable(o)
      local idx = mt and (type(mt.__index) == "table" and mt.__index or mt)
      if type(o) ~= "function" and type(idx) == "table" and not seen[idx] then
        seen[idx] = true
        for name, f in pairs(idx) do
          if type(f) == "function" and type(name) == "string" and not name:find("^_") then
            METHODS[#METHODS + 1] = { name, f }
          end
        end
      end
    end
  end)
  table.sort(METHODS, function(x, y) return x[1] < y[1] end)
  objects = saved
end

-- Strings a program name or argv may hold: only the harmless ones.
local PROCESS_FNS = { ["subprocess.Popen"] = true, ["subprocess.run"] = true,
  ["subprocess.check_output"] = true, ["subprocess.check_call"] = true }
local function harmless_argv(v)
  if type(v) == "string" then return PROGRAMS[#v % #PROGRAMS + 1] end
  if type(v) == "table" and type(v[1]) == "string" then v[1] = PROGRAMS[#v[1] % #PROGRAMS + 1] end
  return v
end

-- ---- the check of one outcome
local findings = {}
local UNINDEXABLE = { number = true, boolean = true, ["function"] = true, thread = true }
local CARRIES_USER_TEXT = { OSError = true, WorkerError = true, TaskError = true, SSLError = true,
  CalledProcessError = true, TransferError = true, TimeoutExpired = true }
local function unclean(what, err, self)
  -- Documented (docs/reference.md): the hot methods of the synchronization
  -- primitives, queues and streams check self by a field of their own, so a self
  -- that cannot be indexed gets Lua's own "attempt to index" (api_args_test.lua
  -- checks which methods those are).
  if UNINDEXABLE[type(self)] and type(err) == "string"
      and err:find("attempt to index a " .. type(self) .. " value (local 'self')", 1, true) then
    return nil
  end
  if type(err) == "table" and errors.is_error(err) then
    -- these carry text of the caller's (paths, hosts, a job's own error): only a
    -- library location in them is unclean
    local m = tostring(err.message)
    if CARRIES_USER_TEXT[err.kind] then
      if m:find("^%[curio%]/") then return what .. " -> " .. tostring(err) end
    elseif m:find("^PriorityQueue:put: the item cannot be ordered") then
      -- quotes `<`'s own message on purpose ("attempt to compare number with function")
      if m:find("[curio]", 1, true) then return what .. " -> " .. tostring(err) end
    elseif m:find("attempt to", 1, true) or m:find("[curio]", 1, true) then
      return what .. " -> " .. tostring(err)
    end
    return nil
  end
  local s = tostring(err)
  -- an error class of the pool called as a task's function raises its own error
  if s:find("^bad argument #%d+ to 'CurioError'") then return nil end
  -- not located at the caller, or a raw Lua error at the call itself
  if s:sub(1, #HERE + 1) ~= HERE .. ":" or s:find("^:%d+: attempt to", #HERE + 1) then
    return what .. " -> " .. s
  end
end

-- Calls f(...) from a frame of this file (a located error names this file).
local function call(f, ...)
  local r = table.pack(f(...))
  return r
end

local function one_call()
  local pick = byte()
  local name, f, args, n, self
  n = byte() % 6
  args = {}
  for i = 1, n do args[i] = value() end
  if pick % 3 == 0 then
    local m = METHODS[byte() % #METHODS + 1]
    name, f = m[1], m[2]
    -- self: an object (most often one that has this method) or any value
    self = byte() % 4 ~= 0 and objects[byte() % #objects + 1] or value()
    table.insert(args, 1, self)
    n = n + 1
  else
    local e = MODULE_FUNCS[byte() % #MODULE_FUNCS + 1]
    name, f = e[1], e[2]
    if PROCESS_FNS[name] then
      args[1] = harmless_argv(args[1])
      if type(args[2]) == "table" then args[2].shell = nil end
    end
  end
  if name == "send_signal" and type(args[2]) ~= "nil" then args[2] = "SIGKILL" end
  local t0 = TRACE and curio.clock()
  local ok, err = pcall(curio.ignore_after, 0.002, call, f, table.unpack(args, 1, n))
  if TRACE then io.stderr:write(("api fuzz call %-24s %.4f s\n"):format(name, curio.clock() - t0)) end
  if not ok then
    local problem = unclean(name, err, self)
    if problem then findings[#findings + 1] = problem end
  end
end

local function main()
  fresh()
  local calls = 0
  while left() and calls < 8 do
    one_call()
    calls = calls + 1
  end
  -- Close what the input opened (and kill children a call may have started).
  for _, o in ipairs(objects) do
    if type(o) == "table" or type(o) == "userdata" then
      local mt = getmetatable(o)
      local idx = mt and type(mt.__index) == "table" and mt.__index
      if idx and type(idx.kill) == "function" then pcall(idx.kill, o) end
      if idx and type(idx.close) == "function" then pcall(curio.ignore_after, 0.002, idx.close, o) end
    end
  end
end

local function unhex(h)
  return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

--- one(hex): runs one input; raises a description of what was unclean.
function M.one(hex)
  input, at = unhex(hex), 1
  findings = {}
  local ok, err = pcall(curio.run, main)
  if not ok then
    -- curio.run itself may only fail by a driver error or a broken kernel.
    error("curio.run failed: " .. tostring(err), 0)
  end
  if #findings > 0 then error(table.concat(findings, "\n"), 0) end
  collectgarbage("step", 0)
  return 0
end

return M
