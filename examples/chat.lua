-- A multi-client chat server: each line a client types goes to every other client.
--   curio-lua examples/chat.lua [port]      (default 25000)
-- Connect with `nc localhost 25000` from a few terminals.
--
-- Each client has a queue of outgoing messages and two tasks in a task group:
-- one reads the client's lines and puts them on everyone else's queue, one writes
-- the client's queue to its socket. A slow client only fills its own queue (then
-- its messages are dropped); it never holds up the others.
local curio = require "curio"

local members = {} -- queue -> name

local function broadcast(from, msg)
  for q in pairs(members) do
    if q ~= from and not q:full() then q:put(msg) end -- never blocks: not full
  end
end

-- A client that vanishes (reset, broken pipe) just leaves: OS errors end its
-- session quietly; anything else (a cancellation, a bug) goes on up.
local function quietly(fn, ...)
  local ok, e = pcall(fn, ...)
  if not ok and not curio.errors.is(e, curio.OSError) then error(e, 0) end
end

local function outgoing(stream, q)
  quietly(function()
    while true do stream:write(q:get()) end
  end)
end

local function incoming(stream, q, name)
  quietly(function()
    for line in stream:lines() do
      broadcast(q, ("%s: %s\n"):format(name, (line:gsub("\r$", ""))))
    end
  end)
end

local function chat_client(client, addr)
  local stream = client:as_stream()
  stream:write("Welcome! Your name? ")
  local name = stream:read("l")
  if not name then return end
  name = name:gsub("%s+$", "")
  if name == "" then name = tostring(addr) end
  print(("%s joined from %s"):format(name, addr))

  local q = curio.Queue(100)
  members[q] = name
  broadcast(q, name .. " joined\n")
  do
    -- "any": when the client leaves (incoming ends), the writer is cancelled.
    local g <close> = curio.TaskGroup { wait = "any" }
    g:spawn(incoming, stream, q, name)
    g:spawn(outgoing, stream, q)
  end
  members[q] = nil
  broadcast(q, name .. " left\n")
  print(name .. " left")
end

local port = tonumber(arg and arg[1]) or 25000
print("Chat server listening at port", port)
curio.run(curio.tcp_server, "", port, chat_client)
