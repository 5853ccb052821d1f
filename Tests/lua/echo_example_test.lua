-- The network examples, each run as its own process and driven by clients that
-- are not written in Lua (Python's socket module, curl) where available.
local curio = require "curio"
local core = require "curio.core"

local exe = core.exepath()

local function sh(cmd)
  local p = io.popen("( " .. cmd .. "\n) 2>&1")
  local out = p:read("a")
  p:close()
  return out
end

local have_python = sh("command -v python3 >/dev/null && echo yes"):find("yes") ~= nil
local have_curl = sh("command -v curl >/dev/null && echo yes"):find("yes") ~= nil

local free_port = require("support").free_port

local start = require("support").start_example

-- Python client: several connections, 1 B .. 1 MiB of random bytes (every byte
-- value), echoed back exactly; then a half-close is answered by end of stream.
local CLIENT = [[
import os, socket, sys, threading
port = int(sys.argv[1])
def roundtrip(s, msg):
    t = threading.Thread(target=s.sendall, args=(msg,))
    t.start()
    got = bytearray()
    while len(got) < len(msg):
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        got += chunk
    t.join()
    return bytes(got) == msg
socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
ok = True
for size in (1, 2, 100, 4096, 65535, 65536, 65537, 100000, 1 << 20):
    for s in socks:
        if not roundtrip(s, os.urandom(size)):
            ok = False
            print("mismatch at", size)
if not roundtrip(socks[0], bytes(range(256)) * 64):
    ok = False
for s in socks:
    s.shutdown(socket.SHUT_WR)
    if s.recv(10) != b"":
        ok = False
        print("no end of stream after half-close")
    s.close()
print("echo-ok" if ok else "echo-FAIL")
]]

describe("examples/echo.lua", function()
  local it_python = have_python and it or pending
  it_python("echoes every byte to a Python client", function()
    local port, output, stop = start("examples/echo.lua")
    local script = os.tmpname() .. ".py"
    local f = io.open(script, "w")
    f:write(CLIENT)
    f:close()
    -- The client blocks this test's kernel: fine, the server is another process.
    local out = sh(("timeout 60 python3 %s %d"):format(script, port))
    os.remove(script)
    local log = output()
    stop()
    assert.equal("echo-ok\n", out)
    assert.matches("Server listening at\t0%.0%.0%.0:" .. port, log)
    assert.matches("Connection from\t127%.0%.0%.1:%d+\n", log)
    assert.matches("Connection closed\n", log)
  end)

  it("echoes to a Lua client too (no Python needed)", function()
    local port, output, stop = start("examples/echo.lua")
    local ok, e = pcall(function()
      local c <close> = curio.open_connection("127.0.0.1", port)
      local msg = string.rep("0123456789", 50000)
      curio.spawn(c.sendall, c, msg)
      local got = {}
      local n = 0
      while n < #msg do
        local d = curio.timeout_after(5, c.recv, c, 65536)
        got[#got + 1] = d
        n = n + #d
      end
      assert.is_true(table.concat(got) == msg)
    end)
    stop()
    if not ok then error(e, 0) end
  end)
end)

describe("examples/echo.lua out of descriptors", function()
  it("survives EMFILE: says so once, backs off, serves again", function()
    -- 32 descriptors in all: the server runs out after some 25 clients.
    local port, output, stop = start("examples/echo.lua", "ulimit -n 32; exec ")
    local ok, e = pcall(function()
      local clients = {}
      for i = 1, 60 do
        clients[i] = curio.open_connection("127.0.0.1", port) -- queued in the backlog past the limit
      end
      curio.sleep(0.3)
      assert.matches("curio: accept on [^\n]*EMFILE[^\n]*retrying", output())
      local _, lines = output():gsub("EMFILE", "")
      assert.equal(1, lines) -- said once, not once per attempt
      for _, c in ipairs(clients) do c:close() end
      -- Descriptors come back: a new client (and the queued ones) are served.
      local c <close> = curio.timeout_after(5, curio.open_connection, "127.0.0.1", port)
      c:sendall("still here")
      assert.equal("still here", curio.timeout_after(5, c.recv, c, 100))
    end)
    stop()
    if not ok then error(e, 0) end
  end)
end)

describe("examples/echo_server.lua", function()
  it("echoes with tcp_server", function()
    local port, output, stop = start("examples/echo_server.lua")
    local ok, e = pcall(function()
      local c <close> = curio.open_connection("127.0.0.1", port)
      c:sendall("one\ntwo")
      local s = c:as_stream()
      assert.equal("one\n", curio.timeout_after(5, s.readline, s))
      c:shutdown(curio.socket.SHUT_WR)
      assert.equal("two", curio.timeout_after(5, s.readall, s))
    end)
    stop()
    if not ok then error(e, 0) end
  end)
end)

describe("examples/chat.lua", function()
  it("relays lines between clients", function()
    local port, output, stop = start("examples/chat.lua")
    local ok, e = pcall(function()
      local function join(name)
        local s = curio.open_connection("127.0.0.1", port):as_stream()
        assert.equal("Welcome! Your name? ", curio.timeout_after(5, s.read, s, 100))
        s:write(name .. "\n")
        return s
      end
      local ann <close> = join("ann")
      local bob <close> = join("bob")
      assert.equal("bob joined\n", curio.timeout_after(5, ann.readline, ann))
      ann:write("hi bob\r\n")
      assert.equal("ann: hi bob\n", curio.timeout_after(5, bob.readline, bob))
      bob:write("hi ann\n")
      assert.equal("bob: hi ann\n", curio.timeout_after(5, ann.readline, ann))
      bob:close()
      assert.equal("bob left\n", curio.timeout_after(5, ann.readline, ann))
    end)
    stop()
    if not ok then error(e, 0) end
  end)
end)

describe("examples/http_hello.lua", function()
  it("answers hello, keeping the connection alive", function()
    local port, output, stop = start("examples/http_hello.lua")
    local ok, e = pcall(function()
      local c <close> = curio.open_connection("127.0.0.1", port)
      local s = c:as_stream()
      for _ = 1, 3 do
        s:write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert.equal("HTTP/1.1 200 OK\r\n", curio.timeout_after(5, s.readline, s))
        local length
        while true do
          local line = s:readline()
          if line == "\r\n" then break end
          length = length or tonumber(line:match("^Content%-Length: (%d+)"))
        end
        assert.equal("hello\n", s:read_exactly(length))
      end
      s:write("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")
      local reply = curio.timeout_after(5, s.readall, s)
      assert.matches("Connection: close\r\n\r\nhello\n$", reply)
      if have_curl then
        local out = sh(("curl -s http://127.0.0.1:%d/ http://127.0.0.1:%d/again"):format(port, port))
        assert.equal("hello\nhello\n", out)
      end
    end)
    stop()
    if not ok then error(e, 0) end
  end)
end)
