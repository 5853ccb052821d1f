-- After a TCP recv shorter than asked for, the next recv waits for readiness
-- before trying (the poller remembers edges that come while nobody waits). These
-- cases would hang if an edge were lost: each runs under a timeout.
local curio = require "curio"
local socket = require "curio.socket"

local tcp_pair = require("support").tcp_pair

local function within(seconds, fn)
  return curio.timeout_after(seconds, fn)
end

describe("recv after a short read", function()
  it("gets data that arrived while the task was blocked elsewhere", function()
    local c, s = tcp_pair()
    within(5, function()
      local t = curio.spawn(function() return s:recv(100) end) -- waits: registers the fd
      curio.sleep(0.01)
      c:sendall("abc")
      assert.equal("abc", t:join()) -- short: the socket is drained
      -- The edge for "def" comes while the reader sleeps: it is remembered.
      local sender = curio.spawn(function() c:sendall("def") end)
      curio.sleep(0.05)
      sender:join()
      assert.equal("def", s:recv(100))
    end)
    c:close()
    s:close()
  end)

  it("survives a remembered edge whose data was already read", function()
    local c, s = tcp_pair()
    within(5, function()
      c:sendall("abc")
      curio.sleep(0.01)
      assert.equal("a", s:recv(1)) -- full: not drained
      local t = curio.spawn(function() return s:recv(1) end) -- "b"
      assert.equal("b", t:join())
      -- Registered; now an edge with no reader, whose data the next recv takes.
      c:sendall("de")
      curio.sleep(0.05)
      assert.equal("cde", s:recv(100)) -- short: drained, the remembered edge is stale
      local r = curio.spawn(function() return s:recv(100) end) -- wakes, gets EAGAIN, waits
      curio.sleep(0.05)
      c:sendall("f")
      assert.equal("f", r:join())
    end)
    c:close()
    s:close()
  end)

  it("sees an end of stream that came with the last data", function()
    local c, s = tcp_pair()
    within(5, function()
      local t = curio.spawn(function() return s:recv(100), s:recv(100) end)
      curio.sleep(0.01)
      -- Data and FIN arrive before the reader runs: one edge for both, and the
      -- short read that takes the data leaves the FIN for the next recv.
      c:sendall("abc")
      c:close()
      local data, eof = t:join()
      assert.equal("abc", data)
      assert.is_nil(eof)
    end)
    s:close()
  end)

  it("sees the end of stream", function()
    local c, s = tcp_pair()
    within(5, function()
      c:sendall("x")
      curio.sleep(0.01)
      assert.equal("x", s:recv(100))
      c:close()
      assert.is_nil(s:recv(100))
    end)
    s:close()
  end)

  it("keeps a stream's lines flowing", function()
    local c, s = tcp_pair()
    local stream = s:as_stream()
    within(5, function()
      local reader = curio.spawn(function()
        local lines = {}
        for line in stream:lines() do lines[#lines + 1] = line end
        return lines
      end)
      for i = 1, 20 do
        c:sendall(("line %d\n"):format(i))
        if i % 5 == 0 then curio.sleep(0.005) end
      end
      c:close()
      local lines = reader:join()
      assert.equal(20, #lines)
      assert.equal("line 20", lines[20])
    end)
    stream:close()
  end)

  it("raises when the socket is closed while drained", function()
    local c, s = tcp_pair()
    c:sendall("x")
    curio.sleep(0.01)
    assert.equal("x", s:recv(100))
    s:close()
    assert.error_matches(function() s:recv(100) end, "socket is closed")
    c:close()
  end)
end)
