-- curio.test.output: the runner's output formats. Each handler gets
-- header(info), test_end(result), list(test), finish(counts).
--   default  one line per test (ok/FAIL/skip file:line name), failure details
--   utf      busted's utfTerminal: a mark per test, details at the end
--   plain    the same in ASCII (busted's plainTerminal)
--   TAP      TAP version 13, as busted -o TAP
--   junit    JUnit XML (to -O FILE, or stdout)
-- Every human format ends with the line "N passed, N failed[, N skipped]"
-- (failed counts failures and errors), which CI scripts read.
local M = {}

local function summary(c)
  local line = ("%d passed, %d failed"):format(c.passed, c.failures + c.errors)
  if c.skipped > 0 then line = line .. (", %d skipped"):format(c.skipped) end
  return line
end
M.summary = summary

local function indent(s, pre) return pre .. tostring(s):gsub("\n", "\n" .. pre) end

local function details(r, verbose)
  local s = indent(r.message or "", "    ")
  if r.trace and (verbose or r.status ~= "pending") then s = s .. "\n" .. indent(r.trace, "    ") end
  return s
end

-- ---------------------------------------------------------------- default

local Default = {}
Default.__index = Default
function Default:header(info)
  local a = info.assertions == "luassert" and "luassert"
    or "built-in assertions (luassert not installed: apt-get install lua-luassert)"
  self.f:write(("curio-lua test: %d files, %s%s\n"):format(info.files, a,
    info.seed and (", seed %d"):format(info.seed) or ""))
end
function Default:test_end(r)
  local f = self.f
  if r.status == "success" then
    f:write(("ok   %s %s%s\n"):format(r.where, r.name,
      self.o.verbose and (" (%.3fs)"):format(r.duration) or ""))
  elseif r.status == "pending" then
    f:write(("skip %s %s\n"):format(r.where, r.name))
  elseif r.loading then
    f:write(("FAIL %s\n%s\n"):format(r.name, indent(r.message, "    ")))
  else
    f:write(("FAIL %s %s\n%s\n"):format(r.where, r.name, details(r, self.o.verbose)))
  end
  f:flush()
end
function Default:list(t) self.f:write(("%s %s\n"):format(t.where, t.name)) end
function Default:finish(c)
  self.f:write(summary(c), "\n")
  self.f:flush()
end

-- ---------------------------------------------------------------- utf / plain

local Term = {}
Term.__index = Term
Term.header, Term.list = Default.header, Default.list
function Term:test_end(r)
  local marks = self.marks
  self.f:write(marks[r.status])
  self.f:flush()
  if r.status ~= "success" then self.results[#self.results + 1] = r end
end
function Term:finish(c)
  local f = self.f
  f:write("\n")
  local seconds = os.clock() - self.t0
  f:write(("%d %s / %d %s / %d %s / %d pending : %.6f seconds\n"):format(
    c.passed, c.passed == 1 and "success" or "successes", c.failures, c.failures == 1 and "failure" or "failures",
    c.errors, c.errors == 1 and "error" or "errors", c.skipped, seconds))
  local titles = { pending = "Pending", failure = "Failure", error = "Error" }
  for _, r in ipairs(self.results) do
    f:write(("\n%s %s %s @ %s\n%s\n"):format(titles[r.status], self.arrow, r.where, r.name,
      details(r, self.o.verbose)))
  end
  f:write(summary(c), "\n")
  f:flush()
end

-- ---------------------------------------------------------------- TAP

local Tap = {}
Tap.__index = Tap
function Tap:header() self.f:write("TAP version 13\n") end
function Tap:list(t) self.f:write(("# %s %s\n"):format(t.where, t.name)) end
function Tap:test_end(r)
  local f = self.f
  self.n = self.n + 1
  if r.status == "success" then
    f:write(("ok %d - %s\n"):format(self.n, r.name))
  elseif r.status == "pending" then
    f:write(("ok %d - # SKIP %s\n"):format(self.n, r.name))
  else
    f:write(("not ok %d - %s\n"):format(self.n, r.name))
    f:write(("# %s\n"):format(r.where))
    f:write(indent("Failure message: " .. tostring(r.message), "# "), "\n")
    if self.o.verbose and r.trace then f:write(indent(r.trace, "# "), "\n") end
  end
  f:flush()
end
function Tap:finish(c)
  self.f:write(("1..%d\n# %s\n"):format(self.n, summary(c)))
  self.f:flush()
end

-- ---------------------------------------------------------------- JUnit XML

local function xml_escape(s)
  s = tostring(s):gsub("[%z\1-\8\11\12\14-\31]", "?") -- not allowed in XML 1.0
  return (s:gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
    ['"'] = "&quot;", ["'"] = "&apos;" }))
end
M.xml_escape = xml_escape

local Junit = {}
Junit.__index = Junit
function Junit:header() self.t0 = os.time() end
function Junit.list(_, t) io.stdout:write(("%s %s\n"):format(t.where, t.name)) end
function Junit:test_end(r) self.cases[#self.cases + 1] = r end
function Junit:finish(c)
  local x = {}
  local tests = #self.cases
  local total = 0
  for _, r in ipairs(self.cases) do total = total + r.duration end
  x[#x + 1] = '<?xml version="1.0" encoding="UTF-8"?>'
  x[#x + 1] = ('<testsuites tests="%d" failures="%d" errors="%d" skipped="%d" time="%.3f">'):format(
    tests, c.failures, c.errors, c.skipped, total)
  x[#x + 1] = ('  <testsuite name="curio-lua test" tests="%d" failures="%d" errors="%d" skipped="%d"'
    .. ' time="%.3f" timestamp="%s">'):format(
    tests, c.failures, c.errors, c.skipped, total, os.date("!%Y-%m-%dT%H:%M:%S", self.t0))
  for _, r in ipairs(self.cases) do
    local open = ('    <testcase classname="%s" name="%s" time="%.3f"'):format(
      xml_escape(r.where), xml_escape(r.name), r.duration)
    if r.status == "success" then
      x[#x + 1] = open .. "/>"
    else
      x[#x + 1] = open .. ">"
      local tag = r.status == "pending" and "skipped" or r.status
      local text = r.message or ""
      if r.trace then text = text .. "\n" .. r.trace end
      x[#x + 1] = ('      <%s message="%s">%s</%s>'):format(tag,
        xml_escape((tostring(r.message or "")):match("^[^\n]*")), xml_escape(text), tag)
      x[#x + 1] = "    </testcase>"
    end
  end
  x[#x + 1] = "  </testsuite>"
  x[#x + 1] = "</testsuites>"
  local doc = table.concat(x, "\n") .. "\n"
  if self.o.output_file then
    local f, err = io.open(self.o.output_file, "w")
    if not f then
      io.stderr:write("curio-lua test: ", err, "\n")
    else
      f:write(doc)
      f:close()
    end
    io.stdout:write(summary(c), "\n")
  else
    io.stdout:write(doc)
  end
  io.stdout:flush()
end

-- ---------------------------------------------------------------- factory

local formats = {
  default = Default, utf = Term, plain = Term, TAP = Tap, tap = Tap, junit = Junit,
  utfTerminal = Term, plainTerminal = Term,
}
M.names = { "default", "utf", "plain", "TAP", "junit" }

--- A handler for format `name`, writing to file `f`; nil if there is no such format.
function M.new(name, o, f)
  local cls = formats[name]
  if not cls then return nil end
  local h = setmetatable({ o = o, f = f, n = 0, cases = {}, results = {}, t0 = os.clock() }, cls)
  if cls == Term then
    local utf = name == "utf" or name == "utfTerminal"
    h.marks = utf and { success = "●", failure = "◼", error = "✱", pending = "◌" }
      or { success = "+", failure = "-", error = "*", pending = "." }
    h.arrow = utf and "→" or "->"
  end
  return h
end

return M
