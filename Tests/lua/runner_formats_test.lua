-- Machine-readable outputs: JUnit XML (parsed with Python's xml module) and TAP
-- (checked line by line).
local support = require "support"
local sample = "Tests/lua/fixtures/runner/sample.lua"

describe("runner output formats", function()
  it("-o junit -O FILE writes JUnit XML that parses, with one testcase per test", function()
    local xml = os.tmpname()
    local out, rc = support.run("test -o junit -O " .. xml .. " --timeout 0.3 " .. sample)
    assert.equal(3, rc)
    assert.equal("2 passed, 3 failed, 1 skipped\n", out)
    local check = [[
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
suite = root.find("testsuite")
cases = suite.findall("testcase")
print(len(cases), suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped"))
for c in cases:
    kids = [k.tag for k in c]
    print(c.get("name"), "|", ",".join(kids) or "ok", "|", c.get("classname"))
fail = [c for c in cases if c.get("name") == "sample fails"][0].find("failure")
assert "Expected objects to be equal" in fail.text, fail.text
]]
    local py, prc = support.sh("python3 -c '" .. check .. "' " .. xml)
    os.remove(xml)
    assert.equal(0, prc, py)
    local expected = table.concat({
      "6 6 1 2 1",
      "sample passes | ok | Tests/lua/fixtures/runner/sample.lua:6",
      "sample fails | failure | Tests/lua/fixtures/runner/sample.lua:7",
      "sample times out | error | Tests/lua/fixtures/runner/sample.lua:8",
      "sample spins | error | Tests/lua/fixtures/runner/sample.lua:9",
      "sample is pending | skipped | Tests/lua/fixtures/runner/sample.lua:10",
      "sample nested also passes | ok | Tests/lua/fixtures/runner/sample.lua:12",
    }, "\n") .. "\n"
    assert.equal(expected, py)
  end)

  it("-o junit without -O prints only the XML, escaped", function()
    local out = support.run("test -o junit --filter passes " .. sample)
    assert.matches('^<%?xml version="1%.0" encoding="UTF%-8"%?>\n<testsuites tests="2"', out)
    assert.matches("</testsuites>\n$", out)
    local esc = require("curio.test.output").xml_escape
    assert.equal("a&lt;b&gt;&amp;&quot;&apos;?", esc("a<b>&\"'\1"))
  end)

  it("-o TAP prints TAP version 13, line by line", function()
    local out, rc = support.run("test -o TAP --timeout 0.3 " .. sample)
    assert.equal(3, rc)
    local lines = {}
    for l in out:gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
    local expected = {
      "TAP version 13",
      "ok 1 - sample passes",
      "not ok 2 - sample fails",
      "# Tests/lua/fixtures/runner/sample.lua:7",
      "# Failure message: Tests/lua/fixtures/runner/sample.lua:7: Expected objects to be equal.",
      "# Passed in:",
      "# (number) 2",
      "# Expected:",
      "# (number) 1",
      "not ok 3 - sample times out",
      "# Tests/lua/fixtures/runner/sample.lua:8",
      "# Failure message: test timed out after 0.3s",
      "not ok 4 - sample spins",
      "# Tests/lua/fixtures/runner/sample.lua:9",
      "# Failure message: Tests/lua/fixtures/runner/sample.lua:9: test exceeded its 0.3s timeout without blocking",
      "ok 5 - # SKIP sample is pending",
      "ok 6 - sample nested also passes",
      "1..6",
      "# 2 passed, 3 failed, 1 skipped",
    }
    for i, l in ipairs(expected) do assert.equal(l, lines[i], "line " .. i) end
    assert.equal(#expected, #lines)
  end)
end)
