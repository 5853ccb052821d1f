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
    assert.equal("curio-lua: cannot open /nonexistent/script.lua\n", out)
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
end)
