-- curio.test.assert: the assertions test files see. Debian's luassert (with
-- say) when installed, as busted uses it, with curio's additions registered
-- through luassert's extension API; otherwise a built-in subset of it.
local errors = require "curio.errors"

local M = {}


local first_difference
local function fmt(v)
  if type(v) == "string" then return ("%q"):format(v) end
  if type(v) == "table" and getmetatable(v) == nil then
    local parts, n = {}, 0
    for k, x in pairs(v) do
      n = n + 1
      if n > 20 then parts[#parts + 1] = "..."; break end
      parts[#parts + 1] = ("[%s]=%s"):format(fmt(k), type(x) == "table" and tostring(x) or fmt(x))
    end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return tostring(v)
end
M.format = fmt

local Failure = {}
Failure.__tostring = function(f) return f.message end

local function fail(msg, level)
  error(setmetatable({ message = msg, traceback = debug.traceback("", (level or 2) + 1) }, Failure), 0)
end

local function deep_equal(a, b, seen)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  seen = seen or {}
  if seen[a] == b then return true end
  seen[a] = b
  for k, v in pairs(a) do
    if not deep_equal(v, b[k], seen) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end
M.deep_equal = deep_equal

-- The whole value, every level (cycles shown as <cycle>), keys sorted.
function M.pretty(v, indent, seen)
  indent, seen = indent or "", seen or {}
  if type(v) ~= "table" or getmetatable(v) ~= nil and getmetatable(v).__tostring then return fmt(v) end
  if seen[v] then return "<cycle>" end
  seen[v] = true
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then return a < b end
    return type(a) < type(b)
  end)
  if #keys == 0 then seen[v] = nil; return "{}" end
  local lines = {}
  for _, k in ipairs(keys) do
    lines[#lines + 1] = ("%s  [%s] = %s"):format(indent, fmt(k), M.pretty(v[k], indent .. "  ", seen))
  end
  seen[v] = nil
  return "{\n" .. table.concat(lines, ",\n") .. "\n" .. indent .. "}"
end

-- The path (t.a[2]...) of the first place where two values differ.
first_difference = function(a, b, path)
  path = path or "the top"
  if deep_equal(a, b) then return nil end
  if type(a) == "table" and type(b) == "table" then
    local function at(k) return ("%s[%s]"):format(path == "the top" and "" or path, fmt(k)) end
    for k, v in pairs(a) do
      if not deep_equal(v, b[k]) then return first_difference(v, b[k], at(k)) end
    end
    for k, v in pairs(b) do
      if a[k] == nil then return first_difference(nil, v, at(k)) end
    end
  end
  return ("%s (expected %s, got %s)"):format(path, fmt(a), fmt(b))
end

local function suffix(msg) return msg and (": " .. tostring(msg)) or "" end

local A = {}
function A.equal(expected, actual, msg)
  if expected ~= actual then
    fail(("expected %s, got %s%s"):format(fmt(expected), fmt(actual), suffix(msg)))
  end
end
A.equals = A.equal
function A.not_equal(a, b, msg)
  if a == b then fail(("expected values to differ, both %s%s"):format(fmt(a), suffix(msg))) end
end
function A.same(expected, actual, msg)
  if not deep_equal(expected, actual) then
    fail(("expected (deep):\n%s\ngot:\n%s\nfirst difference at %s%s"):format(
      M.pretty(expected), M.pretty(actual), first_difference(expected, actual), suffix(msg)))
  end
end
function A.is_true(v, msg) if v ~= true then fail(("expected true, got %s%s"):format(fmt(v), suffix(msg))) end end
function A.is_false(v, msg) if v ~= false then fail(("expected false, got %s%s"):format(fmt(v), suffix(msg))) end end
function A.is_nil(v, msg) if v ~= nil then fail(("expected nil, got %s%s"):format(fmt(v), suffix(msg))) end end
function A.is_not_nil(v, msg) if v == nil then fail("expected a value, got nil" .. suffix(msg)) end end
function A.truthy(v, msg) if not v then fail(("expected a truthy value, got %s%s"):format(fmt(v), suffix(msg))) end end
function A.falsy(v, msg) if v then fail(("expected a falsy value, got %s%s"):format(fmt(v), suffix(msg))) end end
for _, ty in ipairs { "string", "number", "table", "function", "boolean", "thread", "userdata" } do
  A["is_" .. ty] = function(v, msg)
    if type(v) ~= ty then fail(("expected a %s, got %s%s"):format(ty, type(v), suffix(msg))) end
  end
end
function A.matches(pattern, s, msg)
  if type(s) ~= "string" or not s:find(pattern) then
    fail(("expected %s to match %s%s"):format(fmt(s), fmt(pattern), suffix(msg)))
  end
end
function A.near(expected, actual, tolerance, msg)
  if type(actual) ~= "number" or math.abs(expected - actual) > tolerance then
    fail(("expected %s ± %s, got %s%s"):format(fmt(expected), fmt(tolerance), fmt(actual), suffix(msg)))
  end
end

local function message_of(e)
  if type(e) == "table" and e.message ~= nil then return tostring(e.message), tostring(e) end
  return tostring(e), tostring(e)
end

--- has_error(fn, [expected]): fn must raise; if given, the error must equal
--- `expected` (a string is compared with the message, position prefix ignored).
function A.has_error(fn, expected, msg)
  local ok, e = pcall(fn)
  if ok then fail("expected an error, none was raised" .. suffix(msg)) end
  if expected ~= nil then
    if type(expected) == "string" then
      local m, full = message_of(e)
      local stripped = m:gsub("^[^:]+:%d+: ", "")
      if m ~= expected and stripped ~= expected and full ~= expected then
        fail(("expected error %s, got %s%s"):format(fmt(expected), fmt(full), suffix(msg)))
      end
    elseif not deep_equal(expected, e) then
      fail(("expected error %s, got %s%s"):format(fmt(expected), fmt(e), suffix(msg)))
    end
  end
  return e
end
A.error = A.has_error
A.has_errors = A.has_error

--- error_matches(fn, pattern): fn must raise an error whose text matches pattern.
function A.error_matches(fn, pattern, msg)
  local ok, e = pcall(fn)
  if ok then fail("expected an error, none was raised" .. suffix(msg)) end
  local _, full = message_of(e)
  if not full:find(pattern) then
    fail(("expected error matching %s, got %s%s"):format(fmt(pattern), fmt(full), suffix(msg)))
  end
  return e
end

--- raises_kind(kind, fn, ...): fn(...) must raise a curio error of `kind` (or a
--- subclass); returns the error.
function A.raises_kind(kind, fn, ...)
  local ok, e = pcall(fn, ...)
  if ok then fail(("expected %s, no error was raised"):format(kind)) end
  local cls = errors[kind]
  if type(e) ~= "table" or not (e.kind == kind or (cls and errors.is(e, cls))) then
    fail(("expected %s, got %s"):format(kind, fmt(type(e) == "table" and tostring(e) or e)))
  end
  return e
end
A.no_error = function(fn, msg)
  local ok, e = pcall(fn)
  if not ok then fail(("expected no error, got %s%s"):format(fmt(tostring(e)), suffix(msg))) end
end

-- luassert-style aliases: assert.are.equal, assert.is.truthy, assert.is_not.equal ...
local assert_mt = {
  __call = function(_, v, msg, ...)
    if not v then fail(msg ~= nil and tostring(msg) or "assertion failed!") end
    return v, msg, ...
  end,
}
local function negate(name)
  return function(...)
    local f = A[name]
    if not f then error("no assertion " .. name, 2) end
    local ok = pcall(f, ...)
    if ok then fail(("expected '%s' to fail"):format(name)) end
  end
end
local Not = setmetatable({}, { __index = function(_, k) return negate(k) end })
local builtin = setmetatable({}, {
  __call = assert_mt.__call,
  __index = function(_, k)
    if k == "are" or k == "is" or k == "has" then return M.assert end
    if k == "is_not" or k == "are_not" or k == "has_no" then return Not end
    local v = A[k]
    if v then return v end
    local base = k:match("^is_(.+)$") or k:match("^are_(.+)$")
    if base and A[base] then return A[base] end
    return nil
  end,
})


M.Failure = Failure
M.fail = function(msg) fail(tostring(msg), 2) end

--- True when `e` (raised at stack level `level` of a message handler) is an
--- assertion failure rather than an error: our Failure, or an error raised by
--- luassert's own code.
function M.is_failure(e, level)
  if getmetatable(e) == Failure then return true end
  for l = level, level + 3 do
    local info = debug.getinfo(l, "S")
    if not info then break end
    if info.source:find("luassert[/\\]") then return true end
    if info.what ~= "C" then break end
  end
  return false
end

local function kind_ok(e, kind)
  local cls = errors[kind]
  return type(e) == "table" and (e.kind == kind or (cls ~= nil and errors.is(e, cls)))
end

-- luassert, if installed: the same table busted gives test files.
local function load_luassert()
  local ok, luassert = pcall(require, "luassert")
  if not ok then return nil end
  local say = require "say"
  local function raises_kind(_, args)
    local kind, fn = args[1], args[2]
    local r = table.pack(pcall(fn, table.unpack(args, 3, args.n)))
    local e = r[2]
    args.n = 2
    args[2] = r[1] and "(no error)" or (type(e) == "table" and tostring(e) or e)
    args.nofmt = { true, r[1] }
    return not r[1] and kind_ok(e, kind), { e }
  end
  say:set("assertion.raises_kind.positive", "Expected an error of kind %s, got:\n%s")
  say:set("assertion.raises_kind.negative", "Expected no error of kind %s, got:\n%s")
  luassert:register("assertion", "raises_kind", raises_kind,
    "assertion.raises_kind.positive", "assertion.raises_kind.negative")
  -- "show the whole difference": no depth limit on tables in messages
  luassert:set_parameter("TableFormatLevel", -1)
  return {
    assert = luassert, spy = require "luassert.spy", stub = require "luassert.stub",
    mock = require "luassert.mock", match = require "luassert.match",
    name = "luassert", version = luassert._VERSION,
  }
end

--- The assertion kit: { assert, spy, stub, mock, match, name }. `force_builtin`
--- (env CURIO_TEST_BUILTIN_ASSERT=1) skips luassert.
function M.kit(force_builtin)
  local kit = not force_builtin and load_luassert()
  if kit then return kit end
  return { assert = builtin, name = "built-in" }
end
M.builtin = builtin

return M
