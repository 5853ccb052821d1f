-- scripts/install.sh [PREFIX] (into a DESTDIR, with the binary under test).
local support = require "support"

describe("scripts/install.sh", function()
  it("installs the binary, the man page and the LuaLS stubs", function()
    local dest = os.tmpname()
    os.remove(dest)
    local out, rc = support.sh("BIN='" .. support.exe .. "' DESTDIR='" .. dest .. "' scripts/install.sh /opt/cl")
    assert.equal(0, rc, out)
    local root = dest .. "/opt/cl"
    local _, brc = support.sh("'" .. root .. "/bin/curio-lua' -e 'assert(require(\"curio\").run(function() return 1 end) == 1)'")
    assert.equal(0, brc)
    assert.truthy(io.open(root .. "/share/man/man1/curio-lua.1"))
    assert.truthy(io.open(root .. "/share/curio-lua/types/curio.lua"))
    assert.truthy(io.open(root .. "/share/curio-lua/types/curio/socket.lua"))
    local man, mrc = support.sh("man -l '" .. root .. "/share/man/man1/curio-lua.1' 2>/dev/null | head -3")
    if mrc == 0 and man ~= "" then assert.matches("CURIO%-LUA%(1%)", man) end
    os.execute("rm -rf '" .. dest .. "'")
  end)
end)
