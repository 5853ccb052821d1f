-- The test runner, driven as a user would: curio-lua test ...
local support = require "support"
local sample = "Tests/lua/fixtures/runner/sample.lua"

local function run(args) return support.run("test " .. args) end

describe("curio-lua test", function()
  it("reports each test and a closing summary; exit status = failures", function()
    local out, rc = run("--timeout 0.3 " .. sample)
    assert.equal(3, rc)
    assert.matches("ok   Tests/lua/fixtures/runner/sample.lua:6 sample passes\n", out)
    assert.matches("FAIL Tests/lua/fixtures/runner/sample.lua:7 sample fails\n    [^\n]*Expected objects to be equal", out)
    assert.matches("FAIL [^\n]*sample times out\n    test timed out after 0.3s\n", out)
    assert.matches("FAIL [^\n]*sample spins\n    [^\n]*without blocking", out)
    assert.matches("skip Tests/lua/fixtures/runner/sample.lua:10 sample is pending\n", out)
    assert.matches("ok   [^\n]*sample nested also passes\n", out)
    assert.matches("\n2 passed, 3 failed, 1 skipped\n$", out)
  end)

  it("--filter keeps matching tests", function()
    local out, rc = run("--filter 'passes' " .. sample)
    assert.equal(0, rc)
    assert.matches("\n?2 passed, 0 failed\n$", out)
  end)

  it("--list prints the tests without running them", function()
    local out, rc = run("--list " .. sample)
    assert.equal(0, rc)
    assert.matches("^Tests/lua/fixtures/runner/sample.lua:6 sample passes\n", out)
    assert.is_nil(out:find("passed"))
  end)

  it("a file that does not load is a failure", function()
    local out, rc = run("Tests/lua/fixtures/runner/broken.lua")
    assert.equal(1, rc)
    assert.matches("FAIL Tests/lua/fixtures/runner/broken.lua %(loading%)", out)
    assert.matches("0 passed, 1 failed\n$", out)
  end)

  it("a missing path is a usage error", function()
    local out, rc = run("/no/such/dir")
    assert.equal(2, rc)
    assert.matches("cannot open /no/such/dir", out)
  end)

  it("Ctrl-C stops the run with status 130", function()
    local out, rc = support.sh("'" .. support.exe .. "' test " .. sample ..
      " & pid=$!; sleep 0.5; kill -INT $pid; wait $pid")
    assert.equal(130, rc, out)
    assert.matches("interrupted\n$", out)
  end)

  it("each test gets a fresh kernel", function()
    -- task ids restart at 1 in every test's kernel
    assert.equal(1, require("curio").current_task().id)
  end)
end)
