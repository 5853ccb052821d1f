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
