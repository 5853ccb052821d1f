-- examples/subprocess.lua and examples/signals.lua must keep running.
local support = require "support"

describe("subprocess and signal examples", function()
  it("subprocess.lua reads the pipeline's lines as they come, while a ticker runs", function()
    local out, rc = support.run("examples/subprocess.lua 4")
    assert.equal(0, rc, out)
    local times = {}
    for t, n in out:gmatch("([%d.]+)s\tread:\tLINE (%d) of 4\n") do times[tonumber(n)] = tonumber(t) end
    assert.equal(4, #times, out)
    assert.is_true(times[4] - times[1] >= 0.2, "lines arrive over time, not at the end")
    assert.matches("tick\n", out)
    assert.matches("run: returncode=3 stdout=to stdout\\n stderr=to stderr\\n\n", out)
    assert.matches("check_output:\tCalledProcessError\t2\n", out)
    assert.matches("timeout:\tTimeoutExpired\n", out)
    assert.matches("pipeline done: 4 lines, exit codes 0 and 0\n", out)
  end)

  it("signals.lua reloads on SIGHUP and shuts down gracefully on SIGTERM", function()
    local out, rc = support.run("examples/signals.lua demo")
    assert.equal(0, rc, out)
    assert.matches("reloaded configuration: version 2\ngot SIGTERM: shutting down\n", out)
    for id = 1, 3 do assert.matches(("worker %d finished after %%d+ jobs\n"):format(id), out) end
    assert.matches("bye\n$", out)
  end)

  it("signals.lua stops on a real SIGTERM from outside", function()
    local log = os.tmpname()
    local out, rc = support.sh(("'%s' examples/signals.lua >%s & pid=$!; "
      .. "for i in $(seq 200); do grep -q '^pid' %s && break; sleep 0.05; done; "
      .. "kill -HUP $pid; for i in $(seq 200); do grep -q reloaded %s && break; sleep 0.05; done; "
      .. "kill -TERM $pid; wait $pid; rc=$?; cat %s; exit $rc"):format(support.exe, log, log, log, log))
    os.remove(log)
    assert.equal(0, rc, out)
    assert.matches("reloaded configuration: version 2\n", out)
    assert.matches("got SIGTERM: shutting down\n", out)
  end)
end)
