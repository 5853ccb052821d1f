local curio = require "curio"

local function sleeper(d, v) curio.sleep(d) return v end
local function failer(d, msg) curio.sleep(d) error(msg, 0) end

describe("TaskGroup", function()
  it("wait=all waits for every member", function()
    local g
    do
      local grp <close> = curio.TaskGroup()
      g = grp
      grp:spawn(sleeper, 0.02, "a")
      grp:spawn(sleeper, 0.01, "b")
      grp:spawn(sleeper, 0.03, "c")
    end
    assert.same({ "a", "b", "c" }, g:results())
    for t in g:tasks() do assert.is_true(t:done()) end
  end)

  it("wait=all stops at the first failure and cancels the rest", function()
    local g = curio.TaskGroup()
    local slow = g:spawn(sleeper, 1, "slow")
    local bad = g:spawn(failer, 0.01, "bad")
    bad._quiet = true
    g:join()
    assert.equal(bad, g.completed)
    assert.equal("bad", g:exception())
    assert.is_true(slow:cancelled())
    assert.equal("TaskCancelled", slow:exception().kind)
    -- results() raises the first error in spawn order: the cancelled member's
    local e = assert.raises_kind("TaskError", g.results, g)
    assert.equal("TaskCancelled", e.cause.kind)
  end)

  it("wait=any takes the first to finish", function()
    local g = curio.TaskGroup { wait = "any" }
    g:spawn(sleeper, 0.5, "slow")
    local fast = g:spawn(sleeper, 0.01, "fast")
    g:join()
    assert.equal(fast, g.completed)
    assert.equal("fast", g:result())
  end)

  it("wait=object takes the first non-nil result", function()
    local g = curio.TaskGroup { wait = "object" }
    g:spawn(sleeper, 0.01, nil)
    local obj = g:spawn(sleeper, 0.02, "value")
    g:spawn(sleeper, 0.5, "late")
    g:join()
    assert.equal(obj, g.completed)
    assert.equal("value", g:result())
  end)

  it("wait=none cancels everything at once", function()
    local t
    do
      local g <close> = curio.TaskGroup { wait = "none" }
      t = g:spawn(sleeper, 1, "x")
    end
    assert.is_true(t:cancelled())
  end)

  it("cancels members first when the block exits with an error", function()
    local t
    local ok, e = pcall(function()
      local g <close> = curio.TaskGroup()
      t = g:spawn(sleeper, 1, "x")
      curio.sleep(0)
      error("block failed", 0)
    end)
    assert.equal("block failed", e)
    assert.is_true(t:done())
    assert.is_true(t:cancelled())
  end)

  it("cancels daemon members always", function()
    local d
    do
      local g <close> = curio.TaskGroup()
      d = g:add_task(curio.spawn_daemon(curio.sleep, 10))
      g:spawn(sleeper, 0.01, 1)
    end
    assert.is_true(d:done())
    assert.is_true(d:cancelled())
  end)

  it("next_done returns tasks in finishing order, then nil", function()
    local g <close> = curio.TaskGroup()
    g:spawn(sleeper, 0.03, 3)
    g:spawn(sleeper, 0.01, 1)
    g:spawn(sleeper, 0.02, 2)
    local order = {}
    for t in g:each_done() do order[#order + 1] = t:result() end
    assert.same({ 1, 2, 3 }, order)
    assert.is_nil(g:next_done())
  end)

  it("next_result returns results or raises", function()
    local g <close> = curio.TaskGroup()
    g:spawn(sleeper, 0.01, "first")
    local b = g:spawn(failer, 0.02, "second failed")
    b._quiet = true
    assert.equal("first", g:next_result())
    local e = assert.raises_kind("TaskError", g.next_result, g)
    assert.equal("second failed", e.cause)
  end)

  it("exceptions lists errors in spawn order", function()
    local g = curio.TaskGroup()
    g:spawn(sleeper, 0.01, 1)
    local b = g:spawn(failer, 0.02, "x")
    b._quiet = true
    g:join()
    local ex = g:exceptions()
    assert.equal(2, ex.n)
    assert.is_nil(ex[1])
    assert.equal("x", ex[2])
  end)

  it("add_task adopts an existing task", function()
    local t = curio.spawn(sleeper, 0.01, "adopted")
    local g = curio.TaskGroup()
    g:add_task(t)
    g:join()
    assert.same({ "adopted" }, g:results())
  end)

  it("add_task rejects a task already in a group, and non-tasks", function()
    local g1, g2 = curio.TaskGroup(), curio.TaskGroup()
    local t = g1:spawn(sleeper, 0.01)
    assert.raises_kind("CurioError", g2.add_task, g2, t)
    assert.error_matches(function() g2:add_task(42) end, "Task expected")
    g1:join()
  end)

  it("rejects a bad policy", function()
    assert.has_error(function() curio.TaskGroup { wait = "some" } end,
      "bad argument #1 to 'TaskGroup' (field 'wait': 'all', 'any', 'object' or 'none' expected, got 'some')")
  end)

  it("cancel_remaining cancels and waits", function()
    local g = curio.TaskGroup()
    local a = g:spawn(sleeper, 1)
    local b = g:spawn(sleeper, 1)
    curio.sleep(0)
    g:cancel_remaining()
    assert.is_true(a:done() and b:done())
  end)

  it("spawning into a closed group raises", function()
    local g = curio.TaskGroup()
    g:join()
    assert.raises_kind("CurioError", g.spawn, g, sleeper, 0)
  end)

  it("cancelling the owner cancels the members", function()
    local member
    local owner = curio.spawn(function()
      local g <close> = curio.TaskGroup()
      member = g:spawn(sleeper, 5)
      curio.sleep(5)
    end)
    curio.sleep(0.01)
    owner:cancel()
    assert.is_true(member:done())
    assert.is_true(member:cancelled())
  end)

  it("result() without a completed task raises", function()
    local g = curio.TaskGroup { wait = "any" }
    assert.raises_kind("CurioError", g.result, g)
  end)

  it("members' errors are not raised by the group", function()
    local ok = pcall(function()
      local g <close> = curio.TaskGroup()
      local t = g:spawn(failer, 0, "member error")
      t._quiet = true
    end)
    assert.is_true(ok)
  end)
end)
