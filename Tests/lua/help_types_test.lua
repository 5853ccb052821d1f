-- curio-lua --help and --types DIR (the LuaLS stubs compiled into the binary).
local support = require "support"

describe("curio-lua --help", function()
  it("prints lua5.4's options and curio-lua's to stdout, status 0", function()
    local out, rc = support.run("--help 2>/dev/null")
    assert.equal(0, rc)
    for _, opt in ipairs { "-e stat", "-i ", "-l mod", "-v ", "-E ", "-W ", "test ", "monitor", "--monitor", "--debug",
        "--types DIR", "--help" } do
      assert.truthy(out:find(opt, 1, true), opt)
    end
  end)
end)

describe("curio-lua --types DIR", function()
  it("writes the stubs of types/ byte for byte", function()
    local dir = os.tmpname()
    os.remove(dir)
    local out, rc = support.run("--types " .. dir)
    assert.equal(0, rc, out)
    for _, rel in ipairs { "curio.lua", "curio/errors.lua", "curio/socket.lua", "curio/test.lua" } do
      local got = assert(io.open(dir .. "/" .. rel)):read("a")
      local want = assert(io.open("types/" .. rel)):read("a")
      assert.equal(want, got, rel)
      assert.matches("^%-%-%-@meta", got)
    end
    os.execute("rm -rf '" .. dir .. "'")
  end)
  it("fails with a message when the folder cannot be made", function()
    local out, rc = support.run("--types /proc/no/such/dir")
    assert.equal(1, rc)
    assert.matches("curio%-lua: /proc/no/such/dir: ", out)
    out, rc = support.run("--types")
    assert.equal(1, rc)
    assert.matches("needs a folder", out)
  end)
  it("the stubs cover every public function of curio", function()
    local curio = require "curio"
    local stub = assert(io.open("types/curio.lua")):read("a")
    for _, name in ipairs { "run", "spawn", "spawn_daemon", "current_task", "sleep", "schedule", "wake_at",
        "clock", "timeout_after", "ignore_after", "timeout_at", "ignore_at", "disable_cancellation",
        "check_cancellation", "TaskGroup", "Event", "Lock", "RLock", "Semaphore", "BoundedSemaphore",
        "Condition", "Queue", "PriorityQueue", "LifoQueue", "Local", "open_connection",
        "open_unix_connection", "tcp_server_socket", "unix_server_socket", "run_server", "tcp_server",
        "unix_server", "open_file", "tasks" } do
      assert.is_not_nil(curio[name], name)
      assert.truthy(stub:find("function curio%." .. name .. "%("), name)
    end
  end)
end)
