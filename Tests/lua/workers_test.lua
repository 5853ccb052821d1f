-- Worker functions cannot capture upvalues, so they take what they use as
-- parameters, often named as the test's own locals.
-- luacheck: ignore 431
local curio = require "curio"

package.path = "Tests/lua/fixtures/?.lua;" .. package.path

-- Busy for `seconds` of CPU time (workers have no sleep: curio.sleep is NotInTask).
local function spin(seconds)
  local t = os.clock()
  while os.clock() - t < seconds do end
  return true
end

describe("run_in_thread", function()
  it("returns every result, nils included", function()
    local r = table.pack(curio.run_in_thread(function(a, b) return a + b, nil, "x", nil end, 2, 3))
    assert.equal(4, r.n)
    assert.same({ 5, nil, "x", nil, n = 4 }, r)
    assert.equal(0, select("#", curio.run_in_thread(function() end)))
  end)

  it("moves values exactly: integers, floats, NaN, inf, binary strings", function()
    local s = "a\0b\255"
    local i, f, nan, inf, ninf, str, big = curio.run_in_thread(function(...) return ... end,
      math.mininteger, 0.1, 0 / 0, math.huge, -math.huge, s, math.maxinteger)
    assert.equal(math.mininteger, i)
    assert.equal("integer", math.type(i))
    assert.equal(0.1, f)
    assert.is_true(nan ~= nan)
    assert.equal(math.huge, inf)
    assert.equal(-math.huge, ninf)
    assert.equal(s, str)
    assert.equal(math.maxinteger, big)
  end)

  it("keeps shared and cyclic tables", function()
    local shared = { 1, 2 }
    local t = { a = shared, b = shared }
    t.self = t
    local u = curio.run_in_thread(function(t)
      assert(t.a == t.b and t.self == t)
      t.c = t.a
      return t
    end, t)
    assert.is_true(u.a == u.b and u.c == u.a and u.self == u)
    assert.is_false(u == t)
  end)

  it("accepts a 'module.function' name resolved with require in the worker", function()
    assert.equal("ababab", curio.run_in_thread("string.rep", "ab", 3))
    assert.equal(7, curio.run_in_thread("workmod.add", 3, 4))
  end)

  it("worker states are reused: a module required once stays loaded", function()
    local most, loads = 0, 0
    for _ = 1, 6 do
      local calls, l = curio.run_in_thread("workmod.count")
      most = math.max(most, calls)
      loads = math.max(loads, l)
    end
    assert.is_true(most > 1, "a state served several calls")
    assert.equal(1, loads, "the module loaded once per state")
  end)

  it("workers see the caller's package.path", function()
    assert.equal(package.path, curio.run_in_thread(function() return package.path end))
    assert.equal(package.cpath, curio.run_in_thread(function() return package.cpath end))
  end)

  it("functions with upvalues other than _ENV raise TransferError", function()
    local up = 1
    local e = assert.raises_kind("TransferError", curio.run_in_thread, function() return up end)
    assert.matches("argument #1: function with upvalues %('up'%)", e.message)
    e = assert.raises_kind("TransferError", curio.run_in_thread, print)
    assert.matches("argument #1: C function", e.message)
  end)

  it("non-transferable arguments raise TransferError naming the argument", function()
    local f = function() end
    local e = assert.raises_kind("TransferError", curio.run_in_thread, "workmod.add", 1, f)
    assert.equal("argument #3: function", e.message)
    e = assert.raises_kind("TransferError", curio.run_in_thread, "workmod.add", { x = { io.stdout } })
    assert.equal("argument #2 field 'x'[1]: userdata", e.message)
    e = assert.raises_kind("TransferError", curio.run_in_thread, "workmod.add", coroutine.create(f))
    assert.equal("argument #2: thread", e.message)
    local up = 1
    e = assert.raises_kind("TransferError", curio.run_in_thread, "workmod.add", function() return up end)
    assert.equal("argument #2: function with upvalues", e.message)
  end)

  it("non-transferable results raise TransferError naming the result", function()
    local e = assert.raises_kind("TransferError", curio.run_in_thread, function() return 1, { x = io.stdout } end)
    assert.equal("result #2 field 'x': userdata", e.message)
    e = assert.raises_kind("TransferError", curio.run_in_thread, function() return print end)
    assert.equal("result #1: function", e.message)
  end)

  it("bad first arguments raise at the call", function()
    assert.error_matches(function() curio.run_in_thread(42) end,
      "bad argument #1 to 'run_in_thread' %(function or string expected, got number%)")
    assert.error_matches(function() curio.run_in_thread("nodot") end,
      "bad argument #1 to 'run_in_thread' %('module.function' expected, got 'nodot'%)")
  end)

  it("an unknown 'module.function' raises WorkerError", function()
    local e = assert.raises_kind("WorkerError", curio.run_in_thread, "no_such_module_x.fn")
    assert.matches("module 'no_such_module_x' not found", e.message)
    e = assert.raises_kind("WorkerError", curio.run_in_thread, "workmod.missing")
    assert.matches("'workmod.missing' is not a function %(got nil%)", e.message)
    e = assert.raises_kind("WorkerError", curio.run_in_thread, "workmod.not_a_function")
    assert.matches("is not a function %(got number%)", e.message)
  end)

  it("errors arrive as WorkerError with the message and a traceback", function()
    local e = assert.raises_kind("WorkerError", curio.run_in_thread, function() error("boom") end)
    assert.matches("workers_test.lua:%d+: boom$", e.message)
    assert.matches("stack traceback", e.traceback)
    e = assert.raises_kind("WorkerError", curio.run_in_thread, function() error({ code = 1 }) end)
    assert.matches("^table: ", e.message)
    e = assert.raises_kind("WorkerError", curio.run_in_thread, function() error(require("curio").TaskError("inner")) end)
    assert.equal("TaskError: inner", e.message)
  end)

  it("curio blocking calls raise NotInTask in a worker", function()
    local e = assert.raises_kind("WorkerError", curio.run_in_thread, function()
      require("curio").sleep(0.01)
    end)
    assert.matches("NotInTask: must be called inside a curio task", e.message)
    -- worker states load the library as bytecode compiled once per process: with
    -- its chunk names and line numbers
    assert.matches("%[curio%]/curio/kernel%.lua:%d+: in function", e.traceback)
    local msg = curio.run_in_thread(function()
      local curio = require "curio"
      local ok, err = pcall(curio.sleep, 0)
      return not ok and err.kind
    end)
    assert.equal("NotInTask", msg)
    local kind = curio.run_in_thread(function()
      local curio = require "curio"
      local ok, err = pcall(curio.spawn, function() end)
      return not ok and err.kind
    end)
    assert.equal("NotInTask", kind)
  end)

  it("the process pool size is curio.workers.process_pool_size", function()
    assert.equal(require("curio.workers"), curio.workers)
    assert.equal("integer", math.type(curio.workers.process_pool_size))
    assert.is_true(curio.workers.process_pool_size >= 1)
  end)

  it("a worker that runs out of memory fails with WorkerError and later calls work", function()
    local e = assert.raises_kind("WorkerError", curio.run_in_thread, function()
      require("curio.cworkers").set_memory_limit(collectgarbage("count") * 1024 + 4e6)
      local t = {}
      for i = 1, 1e8 do t[i] = i end
    end)
    assert.matches("out of memory %(its Lua state was discarded%)", e.message)
    assert.equal(3, curio.run_in_thread("workmod.add", 1, 2))
  end)

  it("other tasks run while a worker computes", function()
    local ticks = 0
    local ticker = curio.spawn(function()
      while true do curio.sleep(0.01); ticks = ticks + 1 end
    end)
    curio.run_in_thread(spin, 0.3)
    ticker:cancel()
    assert.is_true(ticks > 0)
  end)

  it("runs jobs in parallel on several threads", function()
    local g = curio.TaskGroup()
    local ev = curio.UniversalEvent()
    -- the second job sets the event the first one waits for: both must run at once
    g:spawn(curio.run_in_thread, function(ev) ev:wait() return true end, ev)
    g:spawn(curio.run_in_thread, function(ev) ev:set() return true end, ev)
    curio.timeout_after(30, g.join, g)
  end)

  it("a timeout releases the waiting task at once; the result is dropped", function()
    local finished = curio.UniversalEvent()
    local e = assert.raises_kind("TaskTimeout", curio.timeout_after, 0.05, curio.run_in_thread,
      function(ev)
        local t = os.clock()
        while os.clock() - t < 1 do end
        ev:set()
        return "late"
      end, finished)
    assert.is_false(finished:is_set(), "released before the worker finished")
    curio.timeout_after(30, finished.wait, finished)
  end)

  it("cancelling the waiting task releases it", function()
    local finished = curio.UniversalEvent()
    local t = curio.spawn(curio.run_in_thread, function(ev)
      local t = os.clock()
      while os.clock() - t < 1 do end
      ev:set()
    end, finished)
    curio.sleep(0.02)
    t:cancel()
    assert.is_false(finished:is_set(), "released before the worker finished")
    assert.raises_kind("TaskError", t.join, t)
    curio.timeout_after(30, finished.wait, finished)
  end)

  it("Universal objects cross as handles: the worker gets the same queue", function()
    local q = curio.UniversalQueue()
    local n = curio.run_in_thread(function(q)
      for i = 1, 3 do q:put(i) end
      return q:qsize()
    end, q)
    assert.equal(3, n)
    assert.same({ 1, 2, 3 }, { q:get(), q:get(), q:get() })
  end)
end)

describe("run_in_process", function()
  local getpid = require("curio.core").getpid

  local function zombies()
    local p = io.popen("ps -o stat= --ppid " .. getpid())
    local out = p:read("a")
    p:close()
    local n = 0
    for stat in out:gmatch("%S+") do if stat:sub(1, 1) == "Z" then n = n + 1 end end
    return n
  end

  it("runs fn in another process and returns its results", function()
    local sum, pid = curio.run_in_process(function(a, b)
      return a + b, require("curio.core").getpid()
    end, 2, 3)
    assert.equal(5, sum)
    assert.is_true(pid ~= getpid())
    local t = { 1, { 2 } }
    t.self = t
    local u = curio.run_in_process(function(t) return t end, t)
    assert.is_true(u.self == u and u[2][1] == 2)
    assert.equal("xyxy", curio.run_in_process("string.rep", "xy", 2))
    assert.equal(9, curio.run_in_process("workmod.add", 4, 5))
  end)

  it("errors arrive as WorkerError with message and traceback", function()
    local e = assert.raises_kind("WorkerError", curio.run_in_process, function() error("bad") end)
    assert.matches("workers_test.lua:%d+: bad$", e.message)
    assert.matches("stack traceback", e.traceback)
    e = assert.raises_kind("WorkerError", curio.run_in_process, "no_such_module_y.f")
    assert.matches("module 'no_such_module_y' not found", e.message)
  end)

  it("refuses what cannot cross: Universal objects, functions, userdata", function()
    local e = assert.raises_kind("TransferError", curio.run_in_process, "workmod.add", curio.UniversalQueue())
    assert.equal("argument #2: UniversalQueue cannot leave its process", e.message)
    e = assert.raises_kind("TransferError", curio.run_in_process, function() return io.stdout end)
    assert.equal("result #1: userdata", e.message)
    local up = 1
    assert.raises_kind("TransferError", curio.run_in_process, function() return up end)
  end)

  it("a worker that exits or is killed raises WorkerError and is replaced", function()
    local e = assert.raises_kind("WorkerError", curio.run_in_process, function() os.exit(3) end)
    assert.equal("worker process died (exit status 3)", e.message)
    e = assert.raises_kind("WorkerError", curio.run_in_process, function()
      os.execute("kill -9 " .. require("curio.core").getpid())
      while true do end
    end)
    assert.equal("worker process died (signal 9)", e.message)
    assert.equal(3, curio.run_in_process("workmod.add", 1, 2))
    assert.equal(0, zombies())
  end)

  it("a timeout kills the worker at once (reaped, no zombie)", function()
    local path = os.tmpname()
    assert.raises_kind("TaskTimeout", curio.timeout_after, 0.3, curio.run_in_process, function(path)
      local f = io.open(path, "w")
      f:write(require("curio.core").getpid())
      f:close()
      while true do end
    end, path)
    local f = io.open(path)
    local pid = f and f:read("n")
    if f then f:close() end
    os.remove(path)
    if pid then assert.is_nil(io.open("/proc/" .. pid .. "/stat"), "the worker is gone") end
    assert.equal(0, zombies())
    assert.equal(2, curio.run_in_process("workmod.add", 1, 1))
  end)

  it("cancelling the waiting task kills its worker", function()
    local t = curio.spawn(curio.run_in_process, function() while true do end end)
    curio.sleep(0.05)
    t:cancel()
    assert.raises_kind("TaskError", t.join, t)
    assert.equal(0, zombies())
  end)

  it("workers die with their parent", function()
    local path = os.tmpname()
    local exe = require("curio.core").exepath()
    curio.run_in_thread(function(cmd) return os.execute(cmd) end,
      ("{ %q Tests/lua/fixtures/pdeathsig.lua %q; } 2>/dev/null"):format(exe, path))
    local f = assert(io.open(path))
    local pid = f:read("n")
    f:close()
    os.remove(path)
    assert.is_not_nil(pid)
    local alive = true
    for _ = 1, 200 do -- gone, or a zombie waiting for init to reap it
      local st = io.open("/proc/" .. pid .. "/stat")
      local state = st and st:read("a"):match("^%d+ %b() (%a)")
      if st then st:close() end
      if not state or state == "Z" then alive = false break end
      curio.sleep(0.02)
    end
    assert.is_false(alive, "the worker outlived its parent")
  end)

  it("more calls than workers wait their turn", function()
    local g = curio.TaskGroup()
    local n = 0
    for i = 1, 6 do g:spawn(curio.run_in_process, "workmod.add", i, 0) end
    curio.timeout_after(60, g.join, g)
    for _, r in ipairs(g:results()) do n = n + r end
    assert.equal(21, n)
  end)
end)

describe("examples/workers.lua", function()
  it("fans out across threads and processes and collects through a UniversalQueue", function()
    local out, rc = require("support").run("examples/workers.lua 100000 6")
    assert.equal(0, rc, out)
    -- pi(100000) = 9592
    assert.matches("^9592 primes below 100000 %(6 chunks: 3 in threads, 3 in processes%)", out)
  end)
end)

describe("worker kernel calls", function()
  it("refuse what is not a call message", function()
    local core = require "curio.core"
    local fake = io.stdout -- a userdata of another kind
    assert.error_matches(function() core.kcall(core.K.THREAD_SUBMIT, fake) end, "bad call message")
    assert.error_matches(function() core.kcall(core.K.THREAD_SUBMIT, "x") end, "bad call message")
    assert.error_matches(function() core.kcall(core.K.UNIVERSAL_WAIT, fake, 1) end, "not a Universal object")
  end)
end)
