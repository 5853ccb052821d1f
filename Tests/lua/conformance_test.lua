-- Defects found trying curio-lua as a new user would (issue 9), each pinned down.
local curio = require "curio"
local socket = require "curio.socket"

local HERE = debug.getinfo(1, "S").short_src

-- The message of the error f raises, from a frame of this file.
local function message_of(f, ...)
  local ok, e = pcall(f, ...)
  assert(not ok, "expected an error")
  return type(e) == "table" and tostring(e) or e
end

describe("bad calls name the public function at the caller's line", function()
  it("curio.run(nil)", function()
    local m = message_of(function() curio.run(nil) end)
    assert.truthy(m:find("^" .. HERE:gsub("%p", "%%%0") .. ":%d+: bad argument #1 to 'run' %(function expected, got nil%)"), m)
  end)

  it("a method called with a dot", function()
    local m = message_of(function() curio.Event().wait() end)
    assert.truthy(m:find("calling 'wait' on bad self", 1, true), m)
    m = message_of(function() socket.tcp().recv(nil, 10) end)
    assert.truthy(m:find("calling 'recv' on bad self", 1, true), m)
    assert.truthy(m:find(HERE, 1, true) == 1, m)
  end)

  it("TaskGroup():spawn(5), errors.class(5), Queue(-1)", function()
    assert.truthy(message_of(function() curio.TaskGroup():spawn(5) end)
      :find("bad argument #1 to 'spawn' (function expected, got number)", 1, true))
    assert.truthy(message_of(function() curio.errors.class(5) end)
      :find("bad argument #1 to 'class' (string expected, got number)", 1, true))
    assert.truthy(message_of(function() curio.Queue(-1) end)
      :find("bad argument #1 to 'Queue' (out of range: -1 is less than 0)", 1, true))
  end)

  it("a PriorityQueue of items that cannot be ordered", function()
    local q = curio.PriorityQueue()
    q:put(1)
    local e = select(2, pcall(q.put, q, "x"))
    assert.equal("CurioError", e.kind)
    assert.truthy(e.message:find("cannot be ordered", 1, true))
    assert.equal(1, q:qsize()) -- the queue is unchanged
    assert.equal(1, q:get())
  end)

  it("NaN, infinities and huge numbers never reach the kernel", function()
    assert.truthy(message_of(curio.sleep, 0 / 0):find("bad argument #1 to 'sleep' (number is NaN)", 1, true))
    assert.truthy(message_of(curio.wake_at, 0 / 0):find("number is NaN", 1, true))
    assert.is_nil(curio.ignore_after(0.01, curio.sleep, math.huge)) -- sleeps until cancelled
    assert.is_true(curio.sleep(-1) >= 0) -- a negative sleep is sleep(0)
    local a, b = socket.socketpair()
    local s = a:as_stream()
    for _, n in ipairs { math.huge, 0 / 0, 1.5 } do
      assert.truthy(message_of(s.read, s, n):find("number has no integer representation", 1, true))
    end
    b:sendall("abc")
    assert.equal("abc", s:read(math.maxinteger)) -- a huge count reads what is there
    assert.equal("abc", (function() b:sendall("abc") return a:recv(1 << 40) end)())
    assert.truthy(message_of(a.shutdown, a, 2 ^ 32 + 1):find("out of range", 1, true))
    assert.truthy(message_of(socket.socket, 2 ^ 32 + 2):find("out of range", 1, true))
    local l = socket.tcp()
    l:bind("127.0.0.1", 0)
    assert.truthy(message_of(l.listen, l, -1):find("out of range", 1, true))
    assert.truthy(message_of(l.listen, l, 2 ^ 40):find("out of range", 1, true))
    local c = curio.Condition()
    c:acquire()
    assert.truthy(message_of(c.notify, c, 0 / 0):find("number has no integer representation", 1, true))
    assert.truthy(message_of(c.notify, c, -1):find("out of range", 1, true))
    c:release()
    s:close(); b:close(); l:close()
  end)
end)

describe("internals are not reachable from the public tables", function()
  it("has no _close_fd, _badarg or _argerror", function()
    for _, k in ipairs { "_close_fd", "_badarg", "_argerror" } do assert.is_nil(socket[k], k) end
  end)

  it("an error constructor never adopts the table it is given", function()
    local fields = { errno = 5 }
    local e = curio.OSError("x", fields)
    assert.equal(5, e.errno)
    assert.is_nil(getmetatable(fields))
    assert.has_error(function() curio.TaskError("x", curio.CurioError) end)
    -- CurioError is still itself
    assert.equal("CurioError", curio.CurioError("y").kind)
    assert.is_true(curio.TaskError("z"):is(curio.CurioError))
  end)
end)

describe("Task:cancel's argument", function()
  it("rejects what is neither an error, options nor a boolean", function()
    local t = curio.spawn(curio.sleep, 1)
    assert.truthy(message_of(t.cancel, t, "x"):find("bad argument #1 to 'cancel'", 1, true))
    assert.truthy(message_of(t.cancel, t, { error = 5 }):find("field 'error'", 1, true))
    assert.is_false(t:done()) -- nothing happened
    local MyError = curio.errors.class("MyError", curio.CurioError)
    t:cancel(MyError)
    assert.equal("MyError", t:exception().kind)
  end)
end)

describe("TaskGroup bookkeeping, as curio", function()
  it("a member joined by its owner leaves the group", function()
    local g = curio.TaskGroup()
    local bad = g:spawn(function() error("boom") end)
    local good = g:spawn(function() curio.sleep(0.02) return "ok" end)
    assert.has_error(function() bad:join() end) -- joined ourselves: the group ignores it
    g:join()
    assert.is_false(good:cancelled()) -- not cancelled by the failure we took
    assert.same({ "ok" }, g:results())
    assert.equal(1, g:exceptions().n)
  end)

  it("next_done takes a member out of the group", function()
    local g = curio.TaskGroup()
    g:spawn(function() error("boom") end)
    local t2 = g:spawn(function() curio.sleep(0.02) return 2 end)
    local first = g:next_done()
    assert.truthy(first:exception())
    g:join()
    assert.is_false(t2:cancelled())
    assert.same({ 2 }, g:results())
  end)

  it("add_task takes a finished, even joined, task", function()
    local t = curio.spawn(function() return 7 end)
    t:join()
    local g = curio.TaskGroup()
    g:add_task(t)
    g:join()
    assert.same({ 7 }, g:results())
  end)

  it("results() and exceptions() raise before the group is joined", function()
    local g = curio.TaskGroup()
    g:spawn(function() return 1 end)
    assert.has_error(function() g:results() end)
    assert.has_error(function() g:exceptions() end)
    g:join()
    assert.same({ 1 }, g:results())
  end)
end)

describe("a bounded Queue with waiting getters", function()
  it("counts an item handed to a getter until it runs (curio)", function()
    local q = curio.Queue(1)
    local log = {}
    local getter = curio.spawn(function() log[#log + 1] = "got " .. q:get() end)
    curio.sleep(0) -- the getter waits
    q:put("a") -- handed to the getter, which has not run yet
    assert.is_true(q:full())
    assert.equal(1, q:qsize())
    q:put("b") -- blocks until the getter has taken "a"
    log[#log + 1] = "put b"
    getter:join()
    assert.same({ "got a", "put b" }, log)
    assert.equal("b", q:get())
  end)

  it("a putter released by a getter feeds the next waiting getter", function()
    local q = curio.Queue(1)
    local out = {}
    local g1 = curio.spawn(function() table.insert(out, q:get()) end)
    local g2 = curio.spawn(function() table.insert(out, q:get()) end)
    curio.sleep(0)
    q:put(1)
    local p = curio.spawn(function() q:put(2) end) -- blocks: 1 is still counted
    curio.timeout_after(1, function() g1:join(); g2:join(); p:join() end)
    table.sort(out)
    assert.same({ 1, 2 }, out)
  end)
end)
