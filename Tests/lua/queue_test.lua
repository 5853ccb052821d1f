local curio = require "curio"

describe("Queue", function()
  it("bounded producer/consumer keeps order and blocks the producer", function()
    local q = curio.Queue(2)
    local log = {}
    local producer = curio.spawn(function()
      for i = 1, 4 do
        q:put(i)
        log[#log + 1] = "put " .. i
      end
    end)
    curio.sleep(0)
    assert.same({ "put 1", "put 2" }, log)
    assert.is_true(q:full())
    for _ = 1, 4 do
      local v = q:get()
      log[#log + 1] = "got " .. v
    end
    producer:join()
    assert.same({ "put 1", "put 2", "got 1", "got 2", "got 3", "put 3", "put 4", "got 4" }, log)
  end)

  it("put on a non-full queue never suspends", function()
    local q = curio.Queue()
    local other = curio.spawn(function() end)
    for i = 1, 100 do q:put(i) end
    assert.equal("READY", other.state)
    assert.equal(100, q:qsize())
    other:join()
  end)

  it("getters are served FIFO", function()
    local q = curio.Queue()
    local log = {}
    local function getter(n)
      local v = q:get()
      log[#log + 1] = n .. ":" .. v
    end
    local g = curio.TaskGroup()
    for i = 1, 3 do g:spawn(getter, i) end
    curio.sleep(0)
    q:put("a"); q:put("b"); q:put("c")
    g:join()
    assert.same({ "1:a", "2:b", "3:c" }, log)
  end)

  it("an item put for a cancelled getter goes to the next one", function()
    local q = curio.Queue()
    local a = curio.spawn(q.get, q)
    local b = curio.spawn(q.get, q)
    curio.sleep(0)
    a:cancel()
    q:put("x")
    assert.equal("x", b:join())
    assert.equal(0, q:qsize())
  end)

  it("a timed-out putter's item is not added", function()
    local q = curio.Queue(1)
    q:put(1)
    assert.raises_kind("TaskTimeout", curio.timeout_after, 0.01, q.put, q, 2)
    assert.equal(1, q:qsize())
    assert.equal(1, q:get())
    assert.is_true(q:empty())
  end)

  it("waiting putters enter FIFO as room appears", function()
    local q = curio.Queue(1)
    q:put("first")
    local p1 = curio.spawn(q.put, q, "p1")
    local p2 = curio.spawn(q.put, q, "p2")
    curio.sleep(0)
    assert.same({ "first", "p1", "p2" }, { q:get(), q:get(), q:get() })
    p1:join(); p2:join()
  end)

  it("get honours timeouts and cancellation", function()
    local q = curio.Queue()
    assert.raises_kind("TaskTimeout", curio.timeout_after, 0.01, q.get, q)
    local t = curio.spawn(q.get, q)
    curio.sleep(0)
    t:cancel()
    assert.equal("TaskCancelled", t:exception().kind)
    q:put(5)
    assert.equal(5, q:get())
  end)

  it("join waits for task_done of every item", function()
    local q = curio.Queue()
    local log = {}
    local worker = curio.spawn(function()
      while true do
        local item = q:get()
        curio.sleep(0.005)
        log[#log + 1] = item
        q:task_done()
      end
    end)
    for i = 1, 3 do q:put(i) end
    q:join()
    log[#log + 1] = "joined"
    assert.same({ 1, 2, 3, "joined" }, log)
    worker:cancel()
  end)

  it("task_done too many times raises", function()
    local q = curio.Queue()
    q:put(1)
    q:get()
    q:task_done()
    assert.raises_kind("CurioError", q.task_done, q)
  end)

  it("nil items raise", function()
    local q = curio.Queue()
    local e = assert.raises_kind("CurioError", q.put, q, nil)
    assert.matches("nil", e.message)
  end)

  it("rejects a bad maxsize", function()
    assert.error_matches(function() curio.Queue("x") end, "bad argument #1 to 'Queue' %(integer expected, got string%)")
    assert.error_matches(function() curio.LifoQueue(-1) end,
      "bad argument #1 to 'LifoQueue' %(out of range: %-1 is less than 0%)")
    assert.error_matches(function() curio.Queue(0 / 0) end, "number has no integer representation")
    assert.equal(3, curio.Queue("3")._maxsize) -- a numeric string counts, as lauxlib takes it
  end)

  it("empty, full and qsize", function()
    local q = curio.Queue(2)
    assert.is_true(q:empty()); assert.is_false(q:full())
    q:put(false) -- false is a valid item
    q:put("x")
    assert.is_true(q:full()); assert.equal(2, q:qsize())
    assert.is_false(q:get())
  end)
end)

describe("PriorityQueue", function()
  it("returns the smallest first, ties FIFO", function()
    local pq = curio.PriorityQueue()
    local items = { { 3, "c" }, { 1, "a1" }, { 2, "b" }, { 1, "a2" }, { 5, "e" }, { 1, "a3" } }
    local keyed = setmetatable({}, { __mode = "k" })
    local mt = { __lt = function(x, y) return x[1] < y[1] end }
    for _, it in ipairs(items) do pq:put(setmetatable(it, mt)) end
    local out = {}
    while not pq:empty() do out[#out + 1] = pq:get()[2] end
    assert.same({ "a1", "a2", "a3", "b", "c", "e" }, out)
  end)

  it("orders numbers and strings", function()
    local pq = curio.PriorityQueue()
    for _, v in ipairs { 9, 4, 7, 1, 8 } do pq:put(v) end
    assert.same({ 1, 4, 7, 8, 9 }, { pq:get(), pq:get(), pq:get(), pq:get(), pq:get() })
  end)

  it("an item that cannot be compared raises and is not added", function()
    local pq = curio.PriorityQueue()
    pq:put(1)
    assert.has_error(function() pq:put({}) end)
    assert.equal(1, pq:qsize())
  end)

  it("a waiting getter gets the next item put", function()
    local pq = curio.PriorityQueue()
    local t = curio.spawn(pq.get, pq)
    curio.sleep(0)
    pq:put(3)
    assert.equal(3, t:join())
  end)
end)

describe("LifoQueue", function()
  it("returns the newest first", function()
    local q = curio.LifoQueue()
    for i = 1, 4 do q:put(i) end
    assert.same({ 4, 3, 2, 1 }, { q:get(), q:get(), q:get(), q:get() })
  end)

  it("bounded: a waiting putter enters when room appears", function()
    local q = curio.LifoQueue(1)
    q:put("a")
    local p = curio.spawn(q.put, q, "b")
    curio.sleep(0)
    assert.equal("a", q:get())
    assert.equal("b", q:get())
    p:join()
  end)
end)
