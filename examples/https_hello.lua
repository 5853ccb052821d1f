-- A minimal HTTPS server: HTTP/1.1 with keep-alive over TLS (curio.ssl), answering
-- "hello" to every request. ALPN offers http/1.1.
--   curio-lua examples/https_hello.lua [port] [certfile] [keyfile]   (default 8443)
--   curl --cacert Tests/lua/fixtures/ssl/ca.pem https://localhost:8443/
-- The default certificate is the test one for localhost (Tests/lua/fixtures/ssl).
local curio = require "curio"
local ssl = require "curio.ssl"

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local FIXTURES = here .. "/../Tests/lua/fixtures/ssl/"

local BODY = "hello\n"
local HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " .. #BODY .. "\r\n"
local KEEP_ALIVE = HEAD .. "\r\n" .. BODY
local CLOSE = HEAD .. "Connection: close\r\n\r\n" .. BODY

local function https_client(client)
  local s = client:as_stream()
  while true do
    local request = s:readline()
    if not request then return end
    local keep = not request:find("HTTP/1.0", 1, true) -- HTTP/1.0 closes by default
    local length = 0
    while true do
      local line = s:readline()
      if not line then return end
      if line == "\r\n" or line == "\n" then break end
      local name, value = line:match("^([^:]+):%s*(.-)%s*$")
      name, value = name and name:lower(), value and value:lower()
      if name == "content-length" then
        length = tonumber(value) or 0
      elseif name == "connection" then
        if value == "close" then keep = false elseif value == "keep-alive" then keep = true end
      end
    end
    if length > 0 then s:read_exactly(length) end -- a body we do not need
    s:write(keep and KEEP_ALIVE or CLOSE)
    if not keep then return end
  end
end

local port = tonumber(arg and arg[1]) or 8443
local ctx = ssl.context { server = true, certfile = arg[2] or FIXTURES .. "server.pem",
  keyfile = arg[3] or FIXTURES .. "server.key", alpn_protocols = { "http/1.1" } }
print("HTTPS server listening at port", port)
curio.run(curio.tcp_server, "", port, https_client, { ssl = ctx })
