-- The fault suite's server: curio.tcp_server echoing on 127.0.0.1:PORT. A client
-- whose first bytes are "CRASH" makes its handler raise (tcp_server must survive).
--   curio-lua Tests/faults/echo_server.lua PORT
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
curio.run(curio.tcp_server, "127.0.0.1", port, echo)
