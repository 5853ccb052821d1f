local curio = require "curio"
local core = require "curio.core"

local exe = core.exepath()

local function tmpfile()
  local p = os.tmpname()
  return p
end

-- Runs a shell command line, returns its output (stdout and stderr).
local function sh(cmd)
  local p = io.popen("( " .. cmd .. "\n) 2>&1")
  local out = p:read("a")
  p:close()
  return out
end

describe("file streams", function()
  it("writes, then reads back, with open_file and aopen", function()
    local path = tmpfile()
    do
      local f <close> = curio.open_file(path, "w")
      assert.equal(6, f:write("hello\n"))
      f:writelines { "second line\n", "third" }
      f:flush()
    end
    local f <close> = curio.aopen(path)
    assert.equal("hello\n", f:readline())
    assert.equal("second line", f:read("l"))
    assert.equal("third", f:read(100))
    assert.is_nil(f:read(100))
    assert.is_nil(f:readline())
    os.remove(path)
  end)

  it("reads a whole file, exactly n bytes, lines", function()
    local path = tmpfile()
    local content = {}
    for i = 1, 20000 do content[i] = ("line %d\n"):format(i) end
    content = table.concat(content)
    local w <close> = curio.open_file(path, "wb")
    w:write(content)
    w:close()
    local f <close> = curio.open_file(path, "rb")
    assert.equal(content, f:read("a"))
    f:seek("set", 0)
    assert.equal("line 1\nline", f:read_exactly(11))
    local got = {}
    for line in f:lines() do got[#got + 1] = line end
    assert.equal(" 2", got[1])
    assert.equal("line 20000", got[#got])
    assert.equal(19999, #got)
    f:seek("set", #content - 3)
    local e = assert.raises_kind("IncompleteRead", f.read_exactly, f, 10)
    assert.equal("00\n", e.partial)
    os.remove(path)
  end)

  it("seek and tell account for buffered data", function()
    local path = tmpfile()
    local f <close> = curio.open_file(path, "w+")
    f:write("0123456789")
    assert.equal(10, f:tell())
    assert.equal(0, f:seek("set"))
    assert.equal("01", f:read(2))
    assert.equal(2, f:tell())
    assert.equal(5, f:seek("cur", 3))
    assert.equal("5", f:read(1))
    f:write("X") -- goes where the reader stands
    assert.equal(7, f:tell())
    assert.equal(10, f:seek("end"))
    f:seek("set", 0)
    assert.equal("012345X789", f:readall())
    os.remove(path)
  end)

  it("appends with mode 'a'", function()
    local path = tmpfile()
    local f = curio.open_file(path, "w")
    f:write("one\n")
    f:close()
    f = curio.open_file(path, "a")
    f:write("two\n")
    f:close()
    f = curio.open_file(path)
    assert.same({ "one\n", "two\n" }, f:readlines())
    f:close()
    os.remove(path)
  end)

  it("raises OSError for a missing file and for bad modes", function()
    local e = assert.raises_kind("OSError", curio.open_file, "/nonexistent/dir/file")
    assert.equal("ENOENT", e.code)
    assert.matches("open /nonexistent/dir/file", e.message)
    assert.error_matches(function() curio.open_file("/tmp/x", "q") end, "invalid mode")
    assert.error_matches(function() curio.open_file(42) end, "bad argument #1 to 'open_file'")
    local path = tmpfile()
    e = assert.raises_kind("OSError", curio.open_file, path, "x")
    assert.equal("EEXIST", e.code)
    os.remove(path)
  end)

  it("a closed file raises", function()
    local path = tmpfile()
    local f = curio.open_file(path, "w")
    f:close()
    f:close()
    assert.raises_kind("OSError", f.write, f, "x")
    os.remove(path)
  end)

  it("other tasks run while file I/O is in progress", function()
    local path = tmpfile()
    local ticks = 0
    local t = curio.spawn(function() while true do curio.sleep(0) ticks = ticks + 1 end end)
    local f <close> = curio.open_file(path, "w")
    f:write(string.rep("x", 1 << 20))
    f:close()
    t:cancel()
    assert.is_true(ticks > 0)
    os.remove(path)
  end)

  it("a timeout during a file write is delivered after it, with nothing lost", function()
    local path = tmpfile()
    local f <close> = curio.open_file(path, "w")
    local data = string.rep("y", 4 << 20)
    local ok = pcall(curio.timeout_after, 0.000001, function() f:write(data) curio.sleep(1) end)
    assert.is_false(ok)
    f:close()
    local r <close> = curio.open_file(path)
    local back = r:readall()
    assert.is_true(#back == 0 or #back == #data, tostring(#back))
    os.remove(path)
  end)
end)

describe("standard streams", function()
  it("stdin, stdout and stderr are streams", function()
    for _, k in ipairs { "stdin", "stdout", "stderr" } do
      assert.is_function(curio[k].write)
      assert.is_function(curio[k].readline)
    end
  end)

  it("read from a pipe and write to a pipe", function()
    local out = sh(("printf 'a\\nb\\n' | '%s' -e 'local c = require \"curio\"; for l in c.stdin:lines() do c.stdout:write(\"<\" .. l .. \">\") end; c.stderr:write(\"!\")'"):format(exe))
    assert.equal("<a><b>!", out)
  end)

  it("read from a regular file and write to one", function()
    local path, outp = tmpfile(), tmpfile()
    local f = io.open(path, "w")
    f:write("from file\n")
    f:close()
    sh(("'%s' -e 'local c = require \"curio\"; print(\"first\"); c.stdout:write(c.stdin:readall())' < %s > %s"):format(exe, path, outp))
    f = io.open(outp)
    assert.equal("first\nfrom file\n", f:read("a"))
    f:close()
    os.remove(path)
    os.remove(outp)
  end)
end)
