-- The fault suite's server: curio.tcp_server echoing on 127.0.0.1:PORT. A client
-- whose first bytes are "CRASH" makes its handler raise (tcp_server must survive).
-- With "tls", a TLS echo server (the test certificate for localhost/127.0.0.1 of
-- Tests/lua/fixtures/ssl), each handshake bounded by HANDSHAKE_TIMEOUT seconds.
--   curio-lua Tests/faults/echo_server.lua PORT [tls [HANDSHAKE_TIMEOUT]]
local curio = require "curio"

local function echo(client)
  local first = true
  while true do
    local data = client:recv(65536)
    if not data then break end
    if first and data:sub(1, 5) == "CRASH" then error("the handler crashed on purpose") end
    first = false
    client:sendall(data)
  end
end

local port = assert(tonumber(arg[1]), "usage: echo_server.lua PORT")
io.stdout:write("listening ", port, "\n")
io.stdout:flush()
local opts
if arg[2] == "tls" then
  local fixtures = arg[0]:match("^(.*)/[^/]*$") .. "/../lua/fixtures/ssl/"
  local ctx = require("curio.ssl").context {
    server = true, certfile = fixtures .. "server.pem", keyfile = fixtures .. "server.key" }
  opts = { ssl = ctx, ssl_handshake_timeout = tonumber(arg[3]) or 60 }
end
curio.run(curio.tcp_server, "127.0.0.1", port, echo, opts)
