-- A TLS echo server and client (curio.ssl).
--   curio-lua examples/tls_echo.lua server [port] [certfile] [keyfile]
--   curio-lua examples/tls_echo.lua client [host] [port] [cafile] [message...]
-- The defaults use the test certificates in Tests/lua/fixtures/ssl (a private CA
-- and a certificate for localhost / 127.0.0.1; make_certs.sh there shows how).
local curio = require "curio"
local ssl = require "curio.ssl"

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local FIXTURES = here .. "/../Tests/lua/fixtures/ssl/"

local function server(port, certfile, keyfile)
  local ctx = ssl.context { server = true, certfile = certfile, keyfile = keyfile }
  print("TLS echo server listening at port", port)
  curio.tcp_server("", port, function(client, addr)
    print("connection from", addr, client:version(), (client:cipher()))
    while true do
      local data = client:recv(65536)
      if not data then break end
      client:sendall(data)
    end
    print("connection closed", addr)
  end, { ssl = ctx })
end

local function client(host, port, cafile, messages)
  -- Verifies the server against cafile and checks that it is `host`.
  local sock <close> = curio.open_connection(host, port, { ssl = ssl.context { cafile = cafile }, timeout = 10 })
  local cert = sock:getpeercert()
  print(("connected to %s (%s, %s)"):format(cert.subject.CN, sock:version(), (sock:cipher())))
  local stream = sock:as_stream()
  for _, msg in ipairs(messages) do
    stream:write(msg .. "\n")
    print("echo:", stream:read("l"))
  end
end

local mode = arg and arg[1] or "server"
if mode == "server" then
  server(tonumber(arg[2]) or 25443, arg[3] or FIXTURES .. "server.pem", arg[4] or FIXTURES .. "server.key")
elseif mode == "client" then
  local messages = { table.unpack(arg, 5) }
  if #messages == 0 then messages = { "hello", "over TLS" } end
  client(arg[2] or "localhost", tonumber(arg[3]) or 25443, arg[4] or FIXTURES .. "ca.pem", messages)
else
  io.stderr:write("usage: tls_echo.lua server [port] [certfile] [keyfile]\n",
    "       tls_echo.lua client [host] [port] [cafile] [message...]\n")
  os.exit(2)
end
