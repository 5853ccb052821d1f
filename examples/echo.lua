-- The echo server of curio's README, with raw sockets:
--   curio-lua examples/echo.lua [port]      (default 25000)
-- Try it with `nc localhost 25000`.
local curio = require "curio"
local socket = curio.socket

local function echo_client(client, addr)
  print("Connection from", addr)
  local c <close> = client
  while true do
    local data = c:recv(100000)
    if not data then break end
    c:sendall(data)
  end
  print("Connection closed")
end

local function echo_server(host, port)
  local sock <close> = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
  sock:setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  sock:bind(host, port)
  sock:listen(128) -- curio's README says 5; 128 absorbs bursts of new clients
  print("Server listening at", sock:getsockname())
  io.stdout:flush()
  while true do
    local client, addr = sock:accept()
    curio.spawn_daemon(echo_client, client, addr)
  end
end

curio.run(echo_server, "", tonumber(arg and arg[1]) or 25000)
