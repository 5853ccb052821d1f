-- The echo server again, with the tcp_server helper: it accepts connections, runs
-- the handler in a task per connection and closes the client socket afterwards.
--   curio-lua examples/echo_server.lua [port]      (default 25000)
local curio = require "curio"

local function echo_client(client, addr)
  print("Connection from", addr)
  while true do
    local data = client:recv(100000)
    if not data then break end
    client:sendall(data)
  end
  print("Connection closed")
end

local port = tonumber(arg and arg[1]) or 25000
print("Server listening at port", port)
curio.run(curio.tcp_server, "", port, echo_client)
