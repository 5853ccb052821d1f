-- Runs the curio-lua binary itself, as a user would.
local support = require "support"

local exe, sh, run = support.exe, support.sh, support.run
local fixtures = "Tests/lua/fixtures/"

describe("curio-lua CLI", function()
  it("runs a script as the main task", function()
    local out, rc = run("-e 'local c = require \"curio\"; c.sleep(0.01); print(\"slept\")'")
    assert.equal(0, rc)
    assert.equal("slept\n", out)
  end)

  it("reports a syntax error as file:line and exits 1", function()
    local out, rc = run(fixtures .. "syntax_error.lua")
    assert.equal(1, rc)
    assert.matches("^curio%-lua: Tests/lua/fixtures/syntax_error.lua:1: unexpected symbol near '='\n$", out)
  end)

  it("reports an uncaught error with a traceback and exits 1", function()
    local out, rc = run(fixtures .. "uncaught.lua")
    assert.equal(1, rc)
    assert.matches("^curio%-lua: Tests/lua/fixtures/uncaught.lua:1: something broke\n", out)
    assert.matches("stack traceback:", out)
    assert.matches("uncaught.lua:2: in main chunk", out)
  end)

  it("reports a missing script in one line and exits 1", function()
    local out, rc = run("/nonexistent/script.lua")
    assert.equal(1, rc)
    assert.equal("curio-lua: cannot open /nonexistent/script.lua: No such file or directory\n", out)
  end)

  it("reports an unreadable script in one line", function()
    local out, rc = run("Tests/lua")
    assert.equal(1, rc)
    assert.matches("^curio%-lua: cannot read Tests/lua", out)
    local _, lines = out:gsub("\n", "")
    assert.equal(1, lines)
  end)

  it("sets arg like the lua interpreter", function()
    local out = run("-e 'x=1' - a b <<'EOF'\nprint(#arg, arg[0], arg[1], arg[2], arg[-1], arg[-2] ~= nil)\nEOF")
    assert.equal("2\t-\ta\tb\tx=1\ttrue\n", out)
  end)

  it("runs -e and -l in order", function()
    local out = run("-l string -e 'print(string.rep(\"ab\", 2))' -l g=table -e 'print(g.concat({1,2}, \"-\"))'")
    assert.equal("abab\n1-2\n", out)
  end)

  it("loads Debian's Lua 5.4 C modules with -l (lua-cjson)", function()
    local out, rc = run("-l cjson -e 'print(cjson.encode({a=1}))'")
    assert.equal(0, rc, out)
    assert.equal('{"a":1}\n', out)
  end)

  it("honours LUA_INIT and -E ignores it", function()
    local out = run("-e 'print(INIT)'", "LUA_INIT='INIT=\"yes\"'")
    assert.equal("yes\n", out)
    out = run("-E -e 'print(INIT)'", "LUA_INIT='INIT=\"yes\"'")
    assert.equal("nil\n", out)
    out = run("-e 'print(INIT)'", "LUA_INIT_5_4='INIT=54' LUA_INIT='INIT=1'")
    assert.equal("54\n", out)
  end)

  it("honours LUA_PATH", function()
    local out = run("-l fixmod -e 'print(fixmod.answer)'", "LUA_PATH='Tests/lua/fixtures/?.lua;;'")
    assert.equal("42\n", out)
  end)

  it("prints the version with -v", function()
    local out, rc = run("-v")
    assert.equal(0, rc)
    assert.matches("^Lua 5%.4", out)
  end)

  it("rejects an unknown option with usage", function()
    local out, rc = run("-z")
    assert.equal(1, rc)
    assert.matches("unrecognized option '%-z'", out)
    assert.matches("usage:", out)
  end)

  it("cancels remaining tasks, newest first, when the main task ends", function()
    local out, rc = run(fixtures .. "shutdown.lua")
    assert.equal(0, rc)
    assert.equal("main done\nnew TaskCancelled\nold TaskCancelled\n", out)
  end)

  it("supports curio.run at the bottom of a script", function()
    local out, rc = run(fixtures .. "curio_run.lua")
    assert.equal(0, rc)
    assert.equal("main got 41\nresult 42\n", out)
  end)

  it("SIGINT cancels the main task, tasks unwind, exit 130", function()
    local out, rc = sh("'" .. exe .. "' " .. fixtures .. "sigint.lua & pid=$!; sleep 0.5; kill -INT $pid; wait $pid")
    assert.equal(130, rc, out)
    assert.matches("^ready\nmain TaskCancelled\nchild TaskCancelled\n$", out)
  end)

  it("keeps other tasks running while the REPL waits for a line", function()
    local out, rc = sh("(sleep 0.4; echo 'print(\"typed\")') | '" .. exe .. "' -i -e " ..
      "'local c = require \"curio\"; c.spawn(function() c.sleep(0.05) print(\"background ran\") end)'")
    assert.equal(0, rc, out)
    assert.matches("> background ran\ntyped\n", out)
  end)

  it("os.exit sets the exit status", function()
    local _, rc = run("-e 'os.exit(3)'")
    assert.equal(3, rc)
  end)

  it("reads the script from stdin with -", function()
    local out = run("- <<'EOF'\nprint(require('curio').sleep(0) ~= nil)\nEOF")
    assert.equal("true\n", out)
  end)

  it("runs lines as tasks in interactive mode", function()
    local out, rc = run("-i <<'EOF'\nlocal c = require 'curio'; c.sleep(0.01); print('after sleep')\n1 + 2\nEOF")
    assert.equal(0, rc)
    assert.matches("after sleep\n", out)
    assert.matches("3\n", out)
  end)

  -- As the lua 5.4 standalone (issue 9, items 4 and 11).
  it("treats error() and error(false) as errors, worded as lua5.4", function()
    local out, rc = run("-e 'error()'")
    assert.equal(1, rc)
    assert.matches("^curio%-lua: %(error object is a nil value%)\nstack traceback:", out)
    out, rc = run("-e 'error(false)'")
    assert.equal(1, rc)
    assert.matches("^curio%-lua: %(error object is a boolean value%)\n", out)
    out, rc = run("-e 'error({})'")
    assert.equal(1, rc)
    assert.matches("^curio%-lua: %(error object is a table value%)\n", out)
  end)

  it("prints an error object with __tostring as lua5.4 does", function()
    local out, rc = run("-e 'error(setmetatable({}, {__tostring = function() return \"custom!\" end}))'")
    assert.equal(1, rc)
    assert.equal("curio-lua: custom!\n", out)
  end)

  it("records error() in a task as an error", function()
    local out, rc = run([[-e 'local c = require "curio"
      local t = c.spawn(error); c.sleep(0.01)
      print(t:exception()); print(pcall(t.join, t))' 2>/dev/null]])
    assert.equal(0, rc)
    assert.matches("^%(error object is a nil value%)\nfalse\tTaskError: task crashed: %(error object is a nil value%)\n$", out)
  end)

  it("builds arg as lua5.4 does with -e only", function()
    local out = run("-e 'print(arg[0] == arg[-0], arg[1], #arg, arg[-1])'")
    assert.matches("^true\t%-e\t2\tnil\n$", out)
  end)

  it("reports -l failures without the library's location", function()
    local out, rc = run("-l no_such_module_x -e 'print(1)'")
    assert.equal(1, rc)
    assert.matches("^curio%-lua: module 'no_such_module_x' not found:\n", out)
  end)

  it("-v prints lua's version line, then ours", function()
    local out, rc = run("-v")
    assert.equal(0, rc)
    assert.matches("^Lua 5%.4%.%d+  Copyright %(C%) 1994%-%d+ Lua%.org, PUC%-Rio\ncurio%-lua %d", out)
  end)

  it("a second SIGINT ends a CPU-bound script at once with status 130", function()
    local dir = os.tmpname()
    os.remove(dir)
    local script, ready = dir .. "_spin.lua", dir .. "_ready"
    local f = assert(io.open(script, "w"))
    f:write(("io.open(%q, 'w'):close() while true do end"):format(ready))
    f:close()
    local out = support.sh(([[
      '%s' '%s' & pid=$!
      i=0; while [ ! -e '%s' ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
      kill -INT $pid; sleep 0.2
      kill -0 $pid 2>/dev/null && echo "alive after one"
      kill -INT $pid
      i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
      kill -9 $pid 2>/dev/null
      wait $pid; echo "rc=$?"]]):format(exe, script, ready))
    os.remove(script); os.remove(ready)
    assert.equal("alive after one\nrc=130\n", out)
  end)

  it("a write to curio.stdout after its reader has gone raises EPIPE", function()
    local out = support.sh(([[( '%s' -e 'local c = require "curio"; c.sleep(0.1)
      local ok, e = pcall(c.stdout.write, c.stdout, ("x"):rep(100000))
      io.stderr:write(tostring(e.code), "\n")'; echo "rc=$?" >&2 ) | true]]):format(exe))
    assert.equal("EPIPE\nrc=0\n", out)
  end)
end)
