-- The curio-lua side of the TLS echo benchmarks: tcp_server with an SSL context,
-- each client echoed with recv/sendall (as examples/echo_server.lua, over TLS).
--   curio-lua benchmarks/tls_echo.lua PORT CERTFILE KEYFILE
local curio = require "curio"
local ssl = require "curio.ssl"

local port, certfile, keyfile = tonumber(arg[1]), arg[2], arg[3]
local ctx = ssl.context { server = true, certfile = certfile, keyfile = keyfile }

curio.run(curio.tcp_server, "127.0.0.1", port, function(client)
  while true do
    local data = client:recv(65536)
    if not data then break end
    client:sendall(data)
  end
end, { ssl = ctx, backlog = 1024 })
