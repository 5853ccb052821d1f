-- Debug options (CURIO_DEBUG / --debug), task introspection (curio.tasks(),
-- task:traceback(), task.state) and the diagnostics parser.
local support = require "support"
local curio = require "curio"
local diagnostics = require "curio.diagnostics"

local run = support.run

-- A script that spawns one task, which sleeps once, and joins it.
local HOP = [[-e 'local c = require "curio"; local t = c.spawn(function() c.sleep(0) end); t.name = "hop"; t:join()']]

local function lines_with(out, prefix)
  local n = 0
  for line in out:gmatch("[^\n]+") do
    if line:sub(1, #prefix) == prefix then n = n + 1 end
  end
  return n
end

describe("debug options", function()
  it("are silent when off", function()
    local out, rc = run(HOP)
    assert.equal(0, rc)
    assert.equal("", out)
  end)

  it("schedtrace logs every task resumed and suspended", function()
    local out, rc = run(HOP, "CURIO_DEBUG=schedtrace")
    assert.equal(0, rc)
    assert.matches("curio: resume task 1 %(main%)\n", out)
    assert.matches("curio: suspend task 1 %(main%) after [%d.]+ ms\n", out)
    assert.matches("curio: resume task 2 %(hop%)\ncurio: suspend task 2 %(hop%) after [%d.]+ ms\n", out)
    assert.matches("curio: resume task 2 %(hop%)\ncurio: exit task 2 %(hop%) after [%d.]+ ms\n", out)
    assert.equal(lines_with(out, "curio: resume"), lines_with(out, "curio: suspend") + lines_with(out, "curio: exit"))
    assert.equal(0, lines_with(out, "curio: trap"))
  end)

  it("schedtrace says when a task is resumed to be cancelled", function()
    local out = run([[-e 'local c = require "curio"; local t = c.spawn(c.sleep, 10); t.name = "s"; c.sleep(0); t:cancel()']],
      "CURIO_DEBUG=schedtrace")
    assert.matches("curio: resume task 2 %(s%) %(cancelled%)\n", out)
  end)

  it("traptrace logs every trap with its arguments", function()
    local out, rc = run([[-e 'local c = require "curio"; local t = c.spawn(function() c.sleep(0) end); t.name = "hop"; t:join(); c.sleep(0.5)']],
      "CURIO_DEBUG=traptrace")
    assert.equal(0, rc)
    assert.matches("curio: trap task 1 %(main%) sleep%(0%.[45]%d*%)\n", out)
    assert.matches("curio: trap task 2 %(hop%) sleep%(0%)\n", out)
    assert.matches("curio: trap task 1 %(main%) join%(task 2%)\n", out)
    assert.equal(0, lines_with(out, "curio: resume"))
    out = run([[-e 'local c = require "curio"; local e = c.Event(); local l = c.Lock(); l:acquire(); c.spawn(function() l:acquire() end); c.spawn(function() e:wait() end); c.sleep(0); e:set(); l:release()']],
      "CURIO_DEBUG=traptrace")
    assert.matches("trap task 2 %(.-%) wait%(LOCK_WAIT%)\n", out)
    assert.matches("trap task 3 %(.-%) wait%(EVENT_WAIT%)\n", out)
  end)

  it("longblock warns with the task's name, id, time and where it then blocked", function()
    local out, rc = run("Tests/lua/fixtures/longblock.lua", "CURIO_DEBUG=longblock=0.02")
    assert.equal(0, rc)
    local line = out:match("curio: longblock [^\n]*")
    assert.matches("^curio: longblock task 2 %(busy@Tests/lua/fixtures/longblock%.lua:4%) ran [%d.]+ s without " ..
      "blocking; then blocked at Tests/lua/fixtures/longblock%.lua:7: in ", line)
    assert.is_true(tonumber(line:match("ran ([%d.]+) s")) >= 0.1)
    assert.equal(1, lines_with(out, "curio: "), "only the long run is reported")
  end)

  it("--debug takes the same list as CURIO_DEBUG, and wins over it", function()
    local out = run("--debug longblock=0.02,traptrace Tests/lua/fixtures/longblock.lua", "CURIO_DEBUG=schedtrace")
    assert.equal(1, lines_with(out, "curio: longblock"))
    assert.is_true(lines_with(out, "curio: trap") > 0)
    assert.equal(0, lines_with(out, "curio: resume"))
    out = run("--debug=schedtrace " .. HOP)
    assert.is_true(lines_with(out, "curio: resume") > 0)
  end)

  it("logcrash (on by default) is the task crash report; -logcrash turns it off", function()
    local crash = [[-e 'local c = require "curio"; c.spawn(function() error("boom") end):wait()']]
    local out = run(crash)
    assert.matches("^Task Crash: task@%(command line%):1 %(id 2%)\n%(command line%):1: boom\n", out)
    out = run(crash, "CURIO_DEBUG=logcrash")
    assert.matches("^Task Crash: ", out)
    out = run("--debug -logcrash " .. crash)
    assert.equal("", out)
    out = run(crash, "CURIO_DEBUG=schedtrace,nologcrash")
    assert.is_nil(out:find("Task Crash", 1, true))
  end)

  it("an unknown option is an error naming where it came from", function()
    local out, rc = run(HOP, "CURIO_DEBUG=longblok")
    assert.equal(1, rc)
    assert.matches("^curio%-lua: CURIO_DEBUG: unknown debug option 'longblok' %(known: longblock", out)
    out, rc = run("--debug longblock=-1 " .. HOP)
    assert.equal(1, rc)
    assert.matches("^curio%-lua: %-%-debug: bad debug option 'longblock=%-1'", out)
    out, rc = run("--debug")
    assert.equal(1, rc)
    assert.matches("'%-%-debug' needs argument", out)
  end)

  it("-E ignores CURIO_DEBUG", function()
    local out = run("-E " .. HOP, "CURIO_DEBUG=schedtrace")
    assert.equal("", out)
  end)
end)

describe("curio.diagnostics.parse", function()
  it("reads curio's option list", function()
    assert.same({ logcrash = true, longblock = 0.05 }, diagnostics.parse("longblock"))
    assert.same({ logcrash = true, longblock = 0.25, schedtrace = true, traptrace = true },
      diagnostics.parse(" longblock=0.25 , schedtrace,traptrace"))
    assert.same({ logcrash = false }, diagnostics.parse("-logcrash"))
    assert.same({ logcrash = true }, diagnostics.parse(""))
  end)

  it("rejects bad values with a message", function()
    for _, bad in ipairs { "longblock=x", "longblock=nan", "longblock=inf", "longblock=-0.5", "schedtrace=1", "nope" } do
      local o, err = diagnostics.parse(bad)
      assert.is_nil(o)
      assert.matches("debug option '" .. bad:gsub("%p", "%%%0") .. "'", err)
    end
    assert.is_nil((diagnostics.parse(42)))
    assert.has_error(function() diagnostics.configure("nope") end)
  end)
end)

describe("task introspection", function()
  it("curio.tasks() iterates over the live tasks in id order", function()
    local ev = curio.Event()
    local a = curio.spawn(ev.wait, ev)
    local b = curio.spawn(curio.sleep, 10)
    local done = curio.spawn(function() end)
    done:join()
    local seen = {}
    for t in curio.tasks() do seen[#seen + 1] = t end
    assert.equal(3, #seen)
    assert.equal(curio.current_task(), seen[1])
    assert.equal(a, seen[2])
    assert.equal(b, seen[3])
    assert.equal("EVENT_WAIT", a.state)
    assert.equal("SLEEP", b.state)
    assert.equal("RUNNING", curio.current_task().state)
    assert.equal("TERMINATED", done.state)
    -- a task that ends while the iteration runs is skipped
    local it = curio.tasks()
    assert.equal(curio.current_task(), it())
    a:cancel()
    assert.equal(b, it())
    assert.is_nil(it())
    b:cancel()
  end)

  it("task:traceback() starts at the user's blocking call", function()
    local q = curio.Queue()
    local function getter()
      local v = q:get() -- the line traceback must show first
      return v
    end
    local line = debug.getinfo(1, "l").currentline - 3
    local t = curio.spawn(getter)
    curio.sleep(0)
    local tb = t:traceback()
    assert.matches("^stack traceback:\n\t[^\n]*diagnostics_test%.lua:" .. line .. ": in ", tb)
    assert.is_nil(tb:find("[curio]", 1, true))
    assert.is_nil(tb:find("task_body", 1, true))
    t:cancel()
    assert.equal("", t:traceback())
    -- a tail call leaves no frame of the user's: curio's own are shown then
    t = curio.spawn(function() return q:get() end)
    curio.sleep(0)
    assert.matches("^stack traceback:\n.*\t%[curio%]/curio/queue%.lua:%d+: in ", t:traceback())
    t:cancel()
    assert.has_error(function() curio.Task.traceback({}) end)
  end)
end)
