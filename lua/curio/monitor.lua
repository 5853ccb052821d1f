-- curio.monitor: a TCP console into a running kernel, as curio's monitor.
-- `curio-lua --monitor script.lua` (or CURIO_MONITOR=1) starts it as a daemon task
-- of the script's kernel; `curio-lua monitor [host:port]` is its client. Each
-- connection is served by its own daemon task, so the monitor never blocks the
-- kernel and never outlives the script. The protocol is lines: the server sends a
-- greeting, then after each command its answer followed by the prompt "curio > ".
local curio = require "curio"
local core = require "curio.core"
local K = require "curio.kernel"
local diagnostics = require "curio.diagnostics"

local M = {}
M.DEFAULT_ADDRESS = "127.0.0.1:48802"
M.PROMPT = "curio > "

--- parse_address("host:port") -> host, port; or nil and a message. "[::1]:port"
--- for IPv6 hosts; a bare "port" means 127.0.0.1.
function M.parse_address(s)
  if type(s) ~= "string" then return nil, "address must be a string" end
  local host, port = s:match("^%[(.*)%]:(%d+)$")
  if not host then host, port = s:match("^([^:]*):(%d+)$") end
  if not host and s:match("^%d+$") then host, port = "127.0.0.1", s end
  port = tonumber(port)
  if not host or not port or port > 65535 then
    return nil, ("bad monitor address '%s' (expected host:port)"):format(s)
  end
  return host, math.tointeger(port)
end

local function is_loopback(host)
  return host == "localhost" or host == "::1" or host:match("^127%.%d+%.%d+%.%d+$") ~= nil
end
local function is_numeric(host)
  return host:match("^%d+%.%d+%.%d+%.%d+$") ~= nil or host:find(":", 1, true) ~= nil
end

--- check_address(host) -> true, [warning]; or false and why. Anyone who can reach
--- the monitor may cancel tasks and signal the process, so it binds to a loopback
--- address unless a non-loopback one is given explicitly, as a numeric address
--- ("0.0.0.0", "192.168.1.5", "::"), which is allowed with a warning. "" and "*"
--- (any address) are refused, and so is a host name that resolves to a
--- non-loopback address. Resolving a name needs a task.
function M.check_address(host)
  if is_loopback(host) then return true end
  if host == "" or host == "*" then
    return false, ("'%s' means every address; give a numeric address (e.g. 0.0.0.0) to " ..
      "expose the monitor deliberately"):format(host)
  end
  if is_numeric(host) then
    return true, ("the monitor on %s is not on a loopback address: anyone who can reach " ..
      "it can cancel tasks and signal this process"):format(host)
  end
  local ok, list = pcall(require("curio.socket").getaddrinfo, host, 0)
  if not ok then return false, ("cannot resolve '%s': %s"):format(host, tostring(list)) end
  for _, a in ipairs(list) do
    if not is_loopback(a.addr.host) then
      return false, ("'%s' resolves to %s, not a loopback address; give the numeric " ..
        "address to expose the monitor deliberately"):format(host, a.addr.host)
    end
  end
  return true
end

-- ---------------------------------------------------------------- commands

local function find_task(arg)
  local id = math.tointeger(tonumber(arg or ""))
  if not id then return nil, "expected a task id" end
  local t = K.kcall(K.K.TASK_GET, id)
  if not t then return nil, ("no task %d"):format(id) end
  return t
end

-- A task's name on one line of the protocol (names are the script's to set).
local function name_of(t)
  return (tostring(t.name):gsub("%c", "?"))
end

local function ps()
  local now = curio.clock()
  local rows = { ("%-6s %-12s %8s %9s %-6s %s"):format("ID", "STATE", "CYCLES", "TIMEOUT", "DAEMON", "NAME") }
  for t in curio.tasks() do
    local deadline = t.timeout
    rows[#rows + 1] = ("%-6d %-12s %8d %9s %-6s %s"):format(t.id, t.state, t.cycles,
      deadline and ("%.3f"):format(math.max(0, deadline - now)) or "-", t.daemon and "yes" or "",
      name_of(t))
  end
  return table.concat(rows, "\n")
end

local HELP = [[
Commands:
  ps            list the tasks: id, state, cycles, seconds left before a timeout, name
  where ID      where task ID is suspended (its traceback)
  cancel ID     cancel task ID (waits up to 2 s for it to end)
  signal NAME   send signal NAME (INT, TERM, HUP, USR1, ...) to this process
  help          this text
  quit          close this connection]]

-- Each command returns its answer (an "error: ..." line for a bad one), and true
-- to close the connection after it.
local commands = {}

function commands.ps() return ps() end
function commands.help() return HELP end
function commands.quit() return "bye", true end

function commands.where(arg)
  local t, err = find_task(arg)
  if not t then return "error: where: " .. err end
  local tb = t:traceback()
  if tb == "" then return ("task %d has not run yet"):format(t.id) end
  return ("task %d (%s) %s\n%s"):format(t.id, name_of(t), t.state, tb)
end

function commands.cancel(arg)
  local t, err = find_task(arg)
  if not t then return "error: cancel: " .. err end
  if t == curio.current_task() then return "error: cancel: that is this monitor connection (use quit)" end
  if not t:cancel(false) then return ("task %d was already cancelled"):format(t.id) end
  curio.ignore_after(2, t.wait, t)
  if not t:done() then return ("cancelled task %d; it has not ended yet"):format(t.id) end
  return ("cancelled task %d (%s)"):format(t.id, name_of(t))
end

function commands.signal(arg)
  if not arg then return "error: signal: expected a signal name (e.g. INT)" end
  local name = arg:upper():gsub("^SIG", "")
  local ok, n = pcall(require("curio.check").signal, name, 1, "signal", true)
  if not ok or n == 0 then return ("error: signal: unknown signal '%s'"):format(arg) end
  -- Answered first, sent after: the signal may end this process.
  return ("sending SIG%s to process %d"):format(name, core.getpid()), false, function()
    require("curio.signal").raise_signal(n)
  end
end

--- run_command(line) -> answer, close, action: the monitor's command interpreter.
--- The server writes the answer (nil for an empty line), closes the connection if
--- `close`, then runs `action` if any.
function M.run_command(line)
  local cmd, arg = line:match("^%s*(%S*)%s*(.-)%s*$")
  if cmd == "" then return nil end
  local f = commands[cmd]
  if not f then return ("error: unknown command '%s' (try help)"):format(cmd) end
  return f(arg ~= "" and arg or nil)
end

-- ---------------------------------------------------------------- server

local function count_tasks()
  local n = 0
  for _ in curio.tasks() do n = n + 1 end
  return n
end

local MAX_LINE = 4096

-- The lines a client sends (without "\n"); a line longer than MAX_LINE ends the
-- connection (nothing the monitor understands is that long).
local function lines_of(sock)
  local buf = ""
  return function()
    while true do
      local i = buf:find("\n", 1, true)
      if i then
        local line = buf:sub(1, i - 1):gsub("\r$", "")
        buf = buf:sub(i + 1)
        return line
      end
      if #buf > MAX_LINE then
        sock:sendall("error: line too long\n")
        return nil
      end
      local data = sock:recv(MAX_LINE)
      if not data then return nil end
      buf = buf .. data
    end
  end
end

local function serve_client(sock)
  local _ <close> = sock
  local function send(s) sock:sendall(s) end
  send(("curio-lua monitor: process %d, %d tasks. Type help for commands.\n%s"):format(
    core.getpid(), count_tasks(), M.PROMPT))
  for line in lines_of(sock) do
    local answer, close, action = M.run_command(line)
    if answer then send(answer .. "\n") end
    if close then return end
    if action then
      local r = action()
      if r < 0 then send(("error: signal: %s\n"):format(core.strerror(-r))) end
    end
    send(M.PROMPT)
  end
end

-- A dropped connection ends its task quietly; anything else is a crash report.
local function client_task(sock)
  local ok, e = pcall(serve_client, sock)
  if not ok and not (type(e) == "table" and e.is and e:is(curio.errors.OSError)) then error(e, 0) end
end

local function accept_loop(sock)
  local _ <close> = sock
  while true do
    local client, addr = sock:accept()
    local t = curio.spawn_daemon(client_task, client)
    t.name = "curio.monitor client " .. tostring(addr)
  end
end

--- start([address]) -> the monitor's Task, or nil and a message: listens on
--- address (default CURIO_MONITOR_ADDR, else 127.0.0.1:48802) and serves it from a
--- daemon task of the running kernel. Says where it listens on stderr (or the
--- host's logger): "curio: monitor listening on 127.0.0.1:48802" (port 0 picks a
--- free port, shown there). Must be called inside a task.
function M.start(address)
  address = address or os.getenv("CURIO_MONITOR_ADDR") or M.DEFAULT_ADDRESS
  local host, port = M.parse_address(address)
  if not host then return nil, port end
  local ok, warning = M.check_address(host)
  if not ok then return nil, warning end
  local bound, sock = pcall(curio.tcp_server_socket, host, port)
  if not bound then return nil, ("cannot listen on %s: %s"):format(address, tostring(sock)) end
  if warning then diagnostics.write("curio: warning: " .. warning) end
  diagnostics.write("curio: monitor listening on " .. tostring(sock:getsockname()))
  local t = curio.spawn_daemon(accept_loop, sock)
  t.name = "curio.monitor"
  return t
end

-- ---------------------------------------------------------------- client

-- Reads up to the next prompt (which ends every answer, at the start of a line).
-- Returns the text before it and true, or what came before the connection closed
-- and false.
local function read_answer(stream)
  local buf = ""
  while true do
    if buf == M.PROMPT then return "", true end
    if buf:sub(-#M.PROMPT - 1) == "\n" .. M.PROMPT then return buf:sub(1, -#M.PROMPT - 1), true end
    local ok, data = pcall(stream.read, stream, 4096)
    if not ok and not curio.errors.is(data, curio.errors.OSError) then error(data, 0) end
    if not ok or not data then return buf, false end -- closed, or reset
    buf = buf .. data
  end
end

local function read_stdin_line()
  local job = K.kcall(K.K.READ_LINE)
  K.trap(K.T.THREAD, job)
  return K.kcall(K.K.JOB_STRING, job)
end

--- client([address], [interactive]): the `curio-lua monitor` command. Sends each
--- line of standard input and prints the answer. Interactive (default: when stdin
--- is a terminal) shows the greeting and a prompt. Returns the exit status.
function M.client(address, interactive)
  address = address or os.getenv("CURIO_MONITOR_ADDR") or M.DEFAULT_ADDRESS
  local host, port = M.parse_address(address)
  if not host then
    io.stderr:write("curio-lua monitor: ", port, "\n")
    return 1
  end
  if interactive == nil then interactive = core.isatty(0) end
  local ok, sock = pcall(curio.open_connection, host, port)
  if not ok then
    io.stderr:write(("curio-lua monitor: cannot connect to %s: %s\n"):format(address, tostring(sock)))
    return 1
  end
  local stream <close> = sock:as_stream()
  local greeting, open = read_answer(stream)
  if interactive or not open then io.stdout:write(greeting) end
  while open do
    if interactive then io.stdout:write(M.PROMPT); io.stdout:flush() end
    local line = read_stdin_line()
    if not line then
      if interactive then io.stdout:write("\n") end
      break
    end
    local answer
    local sent, e = pcall(stream.write, stream, line .. "\n")
    if sent then
      answer, open = read_answer(stream)
    elseif curio.errors.is(e, curio.errors.OSError) then
      answer, open = "", false -- the monitor went away (the script ended)
    else
      error(e, 0)
    end
    io.stdout:write(answer)
    io.stdout:flush()
  end
  return 0
end

return M
