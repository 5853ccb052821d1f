-- The transfer codec's string back references: a short string (under 256 bytes)
-- met again is sent as a reference to its first copy (format tags 12 and 13 in
-- Sources/CLuaShim/codec.c).
local codec = require "curio.ccodec"

local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

describe("codec string references", function()
  it("round-trips records whose keys and values repeat", function()
    local records = {}
    for i = 1, 200 do records[i] = { id = i, name = "name" .. (i % 7), tags = { "a", "b", "a" } } end
    local back = codec.loads(assert(codec.dumps(records)))
    assert.is_true(same(records, back))
  end)

  it("sends a repeated short string once, a long one each time", function()
    local long = string.rep("L", 256)
    assert.is_true(#assert(codec.dumps(long, long)) > 2 * 256)
    local s = string.rep("k", 255)
    local once = #assert(codec.dumps(s))
    local twice = #assert(codec.dumps(s, s, { [s] = s }))
    assert.is_true(twice < once + 40, ("%d bytes for 4 copies, %d for one"):format(twice, once))
    local a, b, t = codec.loads(codec.dumps(s, s, { [s] = s }))
    assert.is_true(a == s and b == s and t[s] == s)
  end)

  it("keeps more repeated strings than the decoder's stack slots", function()
    local t = {}
    for i = 1, 100 do t[i] = { ["key" .. i] = "value" .. i, again = "key" .. i } end
    local u = { t, t[1], "key50", "value99" }
    local back = { codec.loads(assert(codec.dumps(table.unpack(u)))) }
    assert.is_true(same(u[1], back[1]))
    assert.is_true(back[2] == back[1][1])
    assert.equal("key50", back[3])
    assert.equal("value99", back[4])
  end)

  it("keeps repeated strings that come after 4 KiB of other bytes", function()
    local big = string.rep("z", 5000)
    local a, t, u = codec.loads(assert(codec.dumps(big, { key = "value" }, { key = "value" })))
    assert.equal(big, a)
    assert.is_true(t.key == "value" and u.key == "value")
  end)

  it("refuses references to strings not kept or not yet sent", function()
    local function corrupt(bytes)
      local ok, e = pcall(codec.loads, bytes)
      assert.is_false(ok)
      assert.matches("corrupt message: bad string reference", e)
    end
    corrupt(string.pack("=BI4", 13, 0))                      -- no string yet
    corrupt(string.pack("=Bs1BI4", 7, "a", 13, 0))           -- "a" not kept
    corrupt(string.pack("=Bs1BI4", 12, "a", 13, 1))          -- past the last string
    corrupt(string.pack("=BI4I4BI4", 8, 0, 1, 13, 0))        -- a table is no string
    corrupt(string.pack("=Bs4BI4", 6, "long", 13, 0))        -- long strings are not numbered
    local a, b = codec.loads(string.pack("=Bs1BI4", 12, "a", 13, 0))
    assert.is_true(a == "a" and b == "a")
  end)
end)
