-- curio.test: a busted-style test runner. Each `it` body runs as the main task of
-- a fresh kernel, under a timeout. Used by `curio-lua test`.
local core = require "curio.core"
local errors = require "curio.errors"

local M = {}

-- ---------------------------------------------------------------- assertions

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
    fail(("expected (deep) %s, got %s%s"):format(fmt(expected), fmt(actual), suffix(msg)))
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
M.assert = setmetatable({}, {
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

-- ---------------------------------------------------------------- collection

local function new_suite()
  return { tests = {}, stack = {} }
end

local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  return ("%s:%d"):format(info.short_src, info.currentline)
end

local function env_for(suite)
  local env = setmetatable({}, { __index = _G })
  local function block() return suite.stack[#suite.stack] end
  local function full_name(name)
    local parts = {}
    for _, b in ipairs(suite.stack) do parts[#parts + 1] = b.name end
    parts[#parts + 1] = name
    return table.concat(parts, " ")
  end
  function env.describe(name, fn)
    local b = { name = tostring(name), before = {}, after = {}, parent = block() }
    suite.stack[#suite.stack + 1] = b
    local ok, e = pcall(fn)
    suite.stack[#suite.stack] = nil
    if not ok then error(e, 0) end
  end
  env.context = env.describe
  function env.it(name, fn)
    suite.tests[#suite.tests + 1] = { name = full_name(tostring(name)), fn = fn, where = where(2),
      block = block(), pending = fn == nil }
  end
  function env.pending(name)
    suite.tests[#suite.tests + 1] = { name = full_name(tostring(name)), where = where(2), pending = true }
  end
  function env.before_each(fn)
    local b = block()
    if not b then error("before_each outside describe", 2) end
    b.before[#b.before + 1] = fn
  end
  function env.after_each(fn)
    local b = block()
    if not b then error("after_each outside describe", 2) end
    b.after[#b.after + 1] = fn
  end
  env.assert = M.assert
  return env
end

-- While a file's tests load and run, its folder is first on package.path, so
-- test files can `require` helpers that sit beside them.
local function with_path_of(file, fn, ...)
  local dir = file:match("^(.*)/[^/]*$") or "."
  local saved = package.path
  package.path = dir .. "/?.lua;" .. saved
  local r = table.pack(pcall(fn, ...))
  package.path = saved
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end
M.with_path_of = with_path_of

--- Loads a test file and returns its tests (or nil, error).
function M.collect(path)
  local suite = new_suite()
  local env = env_for(suite)
  local chunk, err = loadfile(path, "t", env)
  if not chunk then return nil, err end
  local ok, e = pcall(chunk)
  if not ok then return nil, tostring(e) end
  return suite.tests
end

-- ---------------------------------------------------------------- running

local function chain(block)
  local list = {}
  while block do table.insert(list, 1, block); block = block.parent end
  return list
end

local function run_body(test, timeout)
  local curio = require "curio"
  local deadline
  local function body()
    local blocks = chain(test.block)
    for _, b in ipairs(blocks) do for _, f in ipairs(b.before) do f() end end
    local ok, e = pcall(test.fn)
    for i = #blocks, 1, -1 do
      for _, f in ipairs(blocks[i].after) do
        local ok2, e2 = pcall(f)
        if ok and not ok2 then ok, e = false, e2 end
      end
    end
    if not ok then error(e, 0) end
  end
  local function main()
    deadline = curio.clock() + timeout + 1
    -- A busy loop never reaches a blocking call: check the time every so often.
    debug.sethook(function()
      if curio.clock() > deadline then
        debug.sethook()
        error(("test exceeded its %gs timeout without blocking"):format(timeout), 2)
      end
    end, "", 1000000)
    local r = table.pack(pcall(curio.timeout_after, timeout, body))
    debug.sethook()
    if not r[1] then
      local e = r[2]
      if errors.is(e, errors.TaskTimeout) then
        error(("test timed out after %gs"):format(timeout), 0)
      end
      error(e, 0)
    end
  end
  local t = curio._run_main(main)
  local K = require "curio.kernel"
  if K.kcall(K.K.INTERRUPTED) > 0 then -- Ctrl-C: stop the whole run, like an interpreter
    io.stdout:write("interrupted\n")
    io.stdout:flush()
    os.exit(130)
  end
  if t._error ~= nil then return false, t._error, t._traceback end
  return true
end

local function describe_error(e, tb)
  local lines = {}
  if getmetatable(e) == Failure then
    lines[#lines + 1] = e.message
    tb = e.traceback
  else
    lines[#lines + 1] = tostring(e)
    if type(e) == "table" and e.cause ~= nil then lines[#lines + 1] = "caused by: " .. tostring(e.cause) end
    if type(e) == "table" and rawget(e, "traceback") then tb = rawget(e, "traceback") end
  end
  local trace = tb and require("curio.task").user_traceback(tb)
  if trace then
    local kept = {}
    for line in trace:gmatch("[^\n]+") do
      if not (line:find("[curio]/", 1, true) or line:find("[C]: in function 'pcall'", 1, true)
          or line:find("[C]: in function 'error'", 1, true)) then
        kept[#kept + 1] = line
      end
    end
    if #kept > 1 then lines[#lines + 1] = table.concat(kept, "\n") end
  end
  return "    " .. table.concat(lines, "\n"):gsub("\n", "\n    ")
end

local function find_files(path, out)
  if core.isdir(path) then
    local entries = core.listdir(path) or {}
    table.sort(entries, function(a, b) return a.name < b.name end)
    for _, e in ipairs(entries) do
      local p = path .. "/" .. e.name
      if e.dir then
        find_files(p, out)
      elseif e.name:match("_test%.lua$") or e.name:match("^test_.*%.lua$") then
        out[#out + 1] = p
      end
    end
  else
    out[#out + 1] = path
  end
  return out
end

--- Runs the tests in `paths`; returns passed, failed, skipped.
function M.run(paths, opts)
  opts = opts or {}
  local timeout = opts.timeout or 10
  local files = {}
  for _, p in ipairs(paths) do find_files(p, files) end
  local counts = { passed = 0, failed = 0, skipped = 0 }
  local out = io.stdout
  for _, file in ipairs(files) do
    with_path_of(file, M.run_file, file, opts, out, counts, timeout)
  end
  return counts.passed, counts.failed, counts.skipped
end

--- Runs one file's tests, adding to counts.
function M.run_file(file, opts, out, counts, timeout)
  do
    local passed, failed, skipped = 0, 0, 0
    local tests, err = M.collect(file)
    if not tests then
      failed = failed + 1
      out:write(("FAIL %s (loading)\n    %s\n"):format(file, tostring(err)))
    else
      for _, test in ipairs(tests) do
        if not opts.filter or test.name:find(opts.filter) then
          if opts.list then
            out:write(("%s %s\n"):format(test.where, test.name))
          elseif test.pending then
            skipped = skipped + 1
            out:write(("skip %s %s\n"):format(test.where, test.name))
          else
            local ok, e, tb = run_body(test, timeout)
            if ok then
              passed = passed + 1
              out:write(("ok   %s %s\n"):format(test.where, test.name))
            else
              failed = failed + 1
              out:write(("FAIL %s %s\n%s\n"):format(test.where, test.name, describe_error(e, tb)))
            end
          end
          out:flush()
        end
      end
    end
    counts.passed = counts.passed + passed
    counts.failed = counts.failed + failed
    counts.skipped = counts.skipped + skipped
  end
end

--- `curio-lua test [--filter P] [--list] [--timeout S] [paths...]`
function M.cli(argv)
  local opts, paths = {}, {}
  local i = 1
  while i <= argv.n do
    local a = argv[i]
    if a == "--filter" then i = i + 1; opts.filter = argv[i]
    elseif a == "--list" then opts.list = true
    elseif a == "--timeout" then
      i = i + 1
      opts.timeout = tonumber(argv[i])
      if not opts.timeout then
        io.stderr:write("curio-lua test: --timeout needs a number of seconds\n")
        return 2
      end
    elseif a:sub(1, 2) == "--" then
      io.stderr:write(("curio-lua test: unknown option '%s'\n"):format(a))
      return 2
    else paths[#paths + 1] = a end
    i = i + 1
  end
  if #paths == 0 then
    if core.isdir("Tests/lua") then paths[1] = "Tests/lua"
    elseif core.isdir("tests") then paths[1] = "tests"
    else
      io.stderr:write("curio-lua test: no paths given and no Tests/lua or tests folder\n")
      return 2
    end
  end
  for _, p in ipairs(paths) do
    local f = io.open(p, "r")
    if not f then
      io.stderr:write(("curio-lua test: cannot open %s\n"):format(p))
      return 2
    end
    f:close()
  end
  local passed, failed, skipped = M.run(paths, opts)
  if opts.list then return 0 end
  local line = ("%d passed, %d failed"):format(passed, failed)
  if skipped > 0 then line = line .. (", %d skipped"):format(skipped) end
  io.stdout:write(line, "\n")
  io.stdout:flush()
  return failed > 0 and 1 or 0
end

return M
