-- A minimal HTTP/1.1 server answering "hello" to every request, with keep-alive
-- (connections stay open for further requests unless the client says close).
--   curio-lua examples/http_hello.lua [port]      (default 8080)
--   curl -v http://127.0.0.1:8080/    or    wrk -c 100 http://127.0.0.1:8080/
-- On every core: one worker process per CPU, all listening on the same port
-- (reuse_port below lets them; see docs/processes.md):
--   curio-lua --processes auto examples/http_hello.lua 8080
local curio = require "curio"

local BODY = "hello\n"
local HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " .. #BODY .. "\r\n"
local KEEP_ALIVE = HEAD .. "\r\n" .. BODY
local CLOSE = HEAD .. "Connection: close\r\n\r\n" .. BODY

local function http_client(client)
  local s = client:as_stream()
  while true do
    local request = s:readline()
    if not request then return end
    -- HTTP/1.1 keeps the connection by default, HTTP/1.0 closes it.
    local keep = not request:find("HTTP/1.0", 1, true)
    local length = 0
    while true do
      local line = s:readline()
      if not line then return end
      if line == "\r\n" or line == "\n" then break end
      local colon = line:find(":", 1, true)
      local name = colon and line:sub(1, colon - 1):lower()
      if name == "connection" or name == "content-length" then
        local value = line:match("^%s*(.-)%s*$", colon + 1):lower()
        if name == "content-length" then
          length = tonumber(value) or 0
        elseif value == "close" then
          keep = false
        elseif value == "keep-alive" then
          keep = true
        end
      end
    end
    if length > 0 then s:read_exactly(length) end -- a body we do not need
    s:write(keep and KEEP_ALIVE or CLOSE)
    if not keep then return end
  end
end

local port = tonumber(arg and arg[1]) or 8080
print("HTTP server listening at port", port)
curio.run(curio.tcp_server, "", port, http_client, { reuse_port = true })
