-- Helpers shared by the Lua tests (the runner puts each test file's folder on
-- package.path, so `require "support"` finds this file).
local core = require "curio.core"

local M = {}

--- Absolute path of the curio-lua binary running the tests.
M.exe = core.exepath()

--- Runs a shell command; returns its combined output and exit status.
function M.sh(cmd)
  local p = io.popen("( " .. cmd .. "\n) 2>&1; echo \"rc=$?\"")
  local out = p:read("a")
  p:close()
  local body, rc = out:match("^(.-)rc=(%d+)\n$")
  return body, tonumber(rc)
end

--- The whole file at `path`, or nil if it cannot be opened.
function M.read_file(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- A connected TCP pair over loopback: (client side, server side). In a task.
function M.tcp_pair()
  local socket = require "curio.socket"
  local curio = require "curio"
  local l = socket.tcp()
  l:bind("127.0.0.1", 0)
  l:listen()
  local addr = l:getsockname()
  local t = curio.spawn(function() return l:accept() end)
  local c = socket.tcp()
  c:connect(addr.host, addr.port)
  local s = t:join()
  l:close()
  return c, s
end

--- A loopback TCP port that was free a moment ago. In a task.
function M.free_port()
  local curio = require "curio"
  local s = curio.tcp_server_socket("127.0.0.1", 0)
  local port = s:getsockname().port
  s:close()
  return port
end

--- Starts `curio-lua example PORT` in the background (`prefix`: shell words before
--- it, e.g. "ulimit -n 32; exec ") and waits until the port accepts. Returns the
--- port, output() (what it printed so far) and stop() (kills it; returns output).
function M.start_example(example, prefix)
  local curio = require "curio"
  local port = M.free_port()
  local log = os.tmpname()
  local p = io.popen(("%s'%s' %s %d > %s 2>&1 & echo $!"):format(prefix or "", M.exe, example, port, log))
  local pid = p:read("l")
  p:close()
  for _ = 1, 250 do
    local ok, c = pcall(curio.open_connection, "127.0.0.1", port)
    if ok then c:close() break end
    curio.sleep(0.02)
  end
  local function output()
    local f = io.open(log)
    local out = f and f:read("a") or ""
    if f then f:close() end
    return out
  end
  local function stop()
    os.execute("kill " .. pid .. " 2>/dev/null")
    local out = output()
    os.remove(log)
    return out
  end
  return port, output, stop
end

--- Runs curio-lua with `args` (shell words), with `env` assignments before it.
function M.run(args, env)
  return M.sh((env or "") .. " '" .. M.exe .. "' " .. args)
end

--- Captures what is written to io.stderr while fn runs.
function M.capture_stderr(fn)
  local buf = {}
  local real = io.stderr
  io.stderr = {
    write = function(self, ...) for _, s in ipairs { ... } do buf[#buf + 1] = s end return self end,
    flush = function() end,
  }
  local ok, e = pcall(fn)
  io.stderr = real
  if not ok then error(e, 0) end
  return table.concat(buf)
end

return M
