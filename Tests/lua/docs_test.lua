-- The runnable examples of docs/tutorial.md and docs/howto.md (```lua blocks whose
-- first line is "-- example: NAME") must run and exit 0. Expected output, when a
-- block gives it, is in "--> value" comments checked against the printed lines.
local support = require "support"

local function examples(path)
  local text = assert(io.open(path)):read("a")
  local list = {}
  for block in text:gmatch("```lua\n(.-)```") do
    local name = block:match("^%-%- example: ([^\n]+)")
    if name then list[#list + 1] = { name = name, code = block } end
  end
  return list
end

for _, doc in ipairs { "docs/tutorial.md", "docs/howto.md" } do
  describe(doc, function()
    local list = examples(doc)
    it("has runnable examples", function() assert.is_true(#list >= 3) end)
    for _, ex in ipairs(list) do
      it(ex.name, function()
        local file = os.tmpname()
        local f = assert(io.open(file, "w"))
        f:write(ex.code)
        f:close()
        local out, rc = support.run("'" .. file .. "'")
        os.remove(file)
        assert.equal(0, rc, out)
        out = out:gsub("\t", " ")
        for want in ex.code:gmatch("%-%->%s*([^\n]+)") do
          assert.truthy(out:find(want, 1, true), ("%q not in output:\n%s"):format(want, out))
        end
      end)
    end
  end)
end
