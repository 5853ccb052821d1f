-- curio.test: a busted 2.1-compatible test runner (`curio-lua test`). Files are
-- loaded to collect the tree of describe/it blocks; then each `it` (with its
-- before_each/after_each/finally) runs as the main task of a fresh kernel under a
-- timeout, and setup/teardown blocks run the same way.
local core = require "curio.core"
local errors = require "curio.errors"
local asserts = require "curio.test.assert"
local output = require "curio.test.output"

local M = {}
M.format = asserts.format
M.deep_equal = asserts.deep_equal
M.VERSION = "2.1.1-curio"

-- Settings a test file can change for itself (curio.test.virtual_clock()).
local file_settings = {}

--- Runs this file's tests on the virtual clock (call at the top of a test file).
function M.virtual_clock(on)
  file_settings.virtual_clock = on ~= false
end

-- ---------------------------------------------------------------- collection

local Pending = setmetatable({}, { __tostring = function(p) return p.message end })
Pending.__index = Pending

local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  return ("%s:%d"):format(info.short_src, info.currentline)
end

local function tags_of(name, into)
  for tag in name:gmatch("#([%w_%-]+)") do into[tag] = true end
  return into
end

local function new_block(kind, name, parent)
  local b = { kind = kind, name = name, parent = parent, children = {},
    before_each = {}, after_each = {}, lazy_setup = {}, strict_setup = {},
    lazy_teardown = {}, strict_teardown = {} }
  b.tags = tags_of(name, {})
  if parent then for t in pairs(parent.tags) do b.tags[t] = true end end
  return b
end

local function full_name(block, name)
  local parts = {}
  while block and block.kind ~= "file" do table.insert(parts, 1, block.name); block = block.parent end
  parts[#parts + 1] = name
  return table.concat(parts, " ")
end

-- The environment a test file runs in: busted's globals over _G.
local function env_for(file_block, kit)
  local env = setmetatable({}, { __index = _G })
  local stack = { file_block }
  local running = nil -- the test being run, if any (for finally / pending)
  local function top() return stack[#stack] end
  local function block_fn(kind, extra)
    return function(name, fn)
      if running then error(kind .. " inside a running test", 2) end
      local b = new_block("describe", tostring(name), top())
      b.where = where(2)
      if extra then extra(b) end
      top().children[#top().children + 1] = b
      stack[#stack + 1] = b
      local ok, e = pcall(fn)
      stack[#stack] = nil
      if not ok then error(e, 0) end
    end
  end
  env.describe = block_fn("describe")
  env.context = env.describe
  env.insulate = block_fn("insulate", function(b) b.insulate = true end)
  env.expose = block_fn("expose", function(b) b.expose = true end)
  local function add_test(name, fn, level)
    if running then error("it inside a running test", level + 1) end
    name = tostring(name)
    local b = top()
    b.children[#b.children + 1] = { kind = "it", name = full_name(b, name), fn = fn,
      where = where(level + 1), block = b, pending = fn == nil,
      tags = tags_of(name, setmetatable({}, { __index = b.tags })) }
  end
  function env.it(name, fn) add_test(name, fn, 2) end
  env.spec, env.test = env.it, env.it
  function env.pending(name, fn)
    if running then error(setmetatable({ message = tostring(name or "pending") }, Pending), 2) end
    add_test(name, nil, 2)
    local _ = fn
  end
  for _, kind in ipairs { "lazy_setup", "strict_setup", "lazy_teardown", "strict_teardown",
      "before_each", "after_each" } do
    env[kind] = function(fn)
      if running then error(kind .. " inside a running test", 2) end
      local list = top()[kind]
      list[#list + 1] = fn
    end
  end
  env.setup, env.teardown = env.strict_setup, env.strict_teardown
  function env.finally(fn)
    if not running then error("finally outside a running test", 2) end
    running.finally[#running.finally + 1] = fn
  end
  function env.randomize(seed)
    top().randomize = seed == nil and true or seed
  end
  env.assert, env.spy, env.stub, env.mock, env.match = kit.assert, kit.spy, kit.stub, kit.mock, kit.match
  env.fail = asserts.fail
  local function set_running(t) running = t end
  return env, set_running
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

--- Loads a test file: returns its file block (tree of blocks and tests), or nil, error.
function M.load_file(path, kit)
  local file_block = new_block("file", path)
  local env, set_running = env_for(file_block, kit or asserts.kit())
  file_block.set_running, file_block.env = set_running, env
  local chunk, err = loadfile(path, "t", env)
  if not chunk then return nil, err end
  local saved = file_settings
  file_settings = {}
  local ok, e = pcall(chunk)
  file_block.settings, file_settings = file_settings, saved
  if not ok then return nil, tostring(e) end
  return file_block
end

local function each_test(block, fn)
  for _, c in ipairs(block.children) do
    if c.kind == "it" then fn(c) else each_test(c, fn) end
  end
end

--- Loads a test file and returns its tests as a flat list (or nil, error).
function M.collect(path)
  local fb, err = M.load_file(path)
  if not fb then return nil, err end
  local tests = {}
  each_test(fb, function(t) tests[#tests + 1] = t end)
  return tests
end

-- ---------------------------------------------------------------- selection

local function any_tag(test, tags)
  for _, t in ipairs(tags) do if test.tags[t] then return true end end
  return false
end

local function any_match(name, pats)
  for _, p in ipairs(pats) do if name:find(p) then return true end end
  return false
end

local function selected(test, o)
  if #o.tags > 0 and not any_tag(test, o.tags) then return false end
  if #o.exclude_tags > 0 and any_tag(test, o.exclude_tags) then return false end
  if #o.filter > 0 and not any_match(test.name, o.filter) then return false end
  if #o.filter_out > 0 and any_match(test.name, o.filter_out) then return false end
  return true
end

local function count_selected(block, o)
  local n = 0
  each_test(block, function(t) if selected(t, o) then n = n + 1 end end)
  return n
end

-- ---------------------------------------------------------------- running

local function is_cancel(e) return errors.is(e, errors.CancelledError) end

-- Message handler for test code: what was raised, how (failure, error, pending),
-- and the traceback. Cancellation passes through untouched (the timeout needs it).
local function handler(e)
  if is_cancel(e) then return e end
  local status = "error"
  if getmetatable(e) == Pending then status = "pending"
  elseif asserts.is_failure(e, 3) then status = "failure" end
  local message
  if e == nil then message = "error raised with a nil value (error() or error(nil))"
  elseif e == false then message = "error(false) raised"
  elseif getmetatable(e) == asserts.Failure then message = e.message
  else message = tostring(e) end
  if type(e) == "table" and e.cause ~= nil then message = message .. "\ncaused by: " .. tostring(e.cause) end
  local tb = getmetatable(e) == asserts.Failure and e.traceback or debug.traceback("", 2)
  return { captured = true, status = status, message = message, traceback = tb, value = e }
end

-- Traceback lines that belong to the test, not to the runner or curio.
local function user_trace(tb)
  local trace = tb and require("curio.task").user_traceback(tb)
  if not trace then return nil end
  local kept = {}
  for line in trace:gmatch("[^\n]+") do
    if line:find("[curio]/curio/test", 1, true) then break end
    if not (line:find("[curio]/", 1, true) or line:find("[C]: in function 'pcall'", 1, true)
        or line:find("[C]: in function 'xpcall'", 1, true) or line:find("luassert/", 1, true)
        or line:find("[C]: in function 'error'", 1, true)) then
      kept[#kept + 1] = line
    end
  end
  return #kept > 1 and table.concat(kept, "\n") or nil
end

local function set_virtual_clock(on)
  local K = require "curio.kernel"
  K.kcall(K.K.VIRTUAL_CLOCK, on and true or false)
end

-- Runs steps (a list of functions, called in order; `always` ones run even after a
-- failure) as the main task of a fresh kernel, under `timeout` seconds. Returns
-- nil when all passed, or the first problem { status, message, traceback }.
local function run_in_kernel(steps, o)
  local curio = require "curio"
  local timeout = o.timeout
  local problem
  local function call(f)
    local ok, r = xpcall(f, handler)
    if ok then return true end
    if type(r) ~= "table" or not r.captured then error(r, 0) end -- cancellation
    problem = problem or r
    return false
  end
  local function body()
    for _, step in ipairs(steps) do
      if not problem or step.always then call(step.fn) end
    end
  end
  local function main()
    local deadline = os.clock() + timeout + 1
    -- A busy loop never reaches a blocking call: check the CPU time it has used.
    debug.sethook(function()
      if os.clock() > deadline then
        debug.sethook()
        error(("test exceeded its %gs timeout without blocking"):format(timeout), 2)
      end
    end, "", 1000000)
    local limit = timeout
    local real_timeout = false
    if o.vclock then
      -- On the virtual clock the test's deadline is virtual: 1000 timeouts or a
      -- day, whichever is longer (a deadlock jumps straight to it). Real time is
      -- bounded by a watchdog that checks the wall clock each time it wakes (at
      -- least every `timeout` seconds of real time: virtual time never runs slower).
      limit = math.max(timeout * 1000, 86400)
      local wall0, main_id = os.time(), curio.current_task().id
      local K = require "curio.kernel"
      curio.spawn_daemon(function()
        while true do
          curio.sleep(timeout)
          if os.time() - wall0 > timeout then
            real_timeout = true
            K.kcall(K.K.CANCEL, main_id, 0)
            return
          end
        end
      end)
    end
    local ok, e = pcall(curio.timeout_after, limit, body)
    debug.sethook()
    if real_timeout then
      problem = problem or { status = "error", message = ("test timed out after %gs (real time)"):format(timeout) }
    elseif not ok then
      if errors.is(e, errors.TaskTimeout) and o.vclock then
        problem = problem or { status = "error",
          message = ("test timed out after %g virtual seconds (deadlocked?)"):format(limit) }
      elseif errors.is(e, errors.TaskTimeout) then
        problem = problem or { status = "error", message = ("test timed out after %gs"):format(timeout) }
      else
        problem = problem or { status = "error", message = tostring(e) }
      end
    end
  end
  set_virtual_clock(o.vclock)
  local t = curio._run_main(main)
  set_virtual_clock(false)
  local K = require "curio.kernel"
  if K.kcall(K.K.INTERRUPTED) > 0 then -- Ctrl-C: stop the whole run, like an interpreter
    io.stdout:write("interrupted\n")
    io.stdout:flush()
    os.exit(130)
  end
  if not problem and t._error ~= nil then
    problem = { status = "error", message = tostring(t._error), traceback = t._traceback }
  end
  return problem
end

-- Snapshot and restore of the global state an insulate block protects.
local function snapshot(env)
  local s = { g = {}, loaded = {}, env = {} }
  for k, v in pairs(_G) do s.g[k] = v end
  for k, v in pairs(package.loaded) do s.loaded[k] = v end
  for k, v in pairs(env) do s.env[k] = v end
  return s
end
-- curio's own modules and the assertion library stay loaded: they hold state
-- (task classes, registered assertions) that a second copy would not share.
local function kept(t, k)
  return t == package.loaded and type(k) == "string"
    and (k == "curio" or k:find("^curio%.") or k:find("^luassert") or k == "say")
end
local function restore(s, env)
  for _, pair in ipairs { { _G, s.g }, { package.loaded, s.loaded }, { env, s.env } } do
    local t, saved = pair[1], pair[2]
    for k in pairs(t) do if saved[k] == nil and not kept(t, k) then t[k] = nil end end
    for k, v in pairs(saved) do if rawget(t, k) ~= v then t[k] = v end end
  end
end

local function shuffle(list, rng)
  for i = #list, 2, -1 do
    local j = rng(i)
    list[i], list[j] = list[j], list[i]
  end
end

local function chain(block)
  local list = {}
  while block do table.insert(list, 1, block); block = block.parent end
  return list
end

local Runner = {}
Runner.__index = Runner

function Runner:report(r)
  r.duration = r.duration or 0
  local c = self.counts
  if r.status == "success" then c.passed = c.passed + 1
  elseif r.status == "pending" then c.skipped = c.skipped + 1
  elseif r.status == "failure" then c.failures = c.failures + 1
  else c.errors = c.errors + 1 end
  r.trace = r.traceback and user_trace(r.traceback)
  self.out:test_end(r)
end

function Runner:snapshot()
  local a = self.kit.assert
  return self.kit.name == "luassert" and a.snapshot and a:snapshot() or nil
end

function Runner:run_hooks(list, block, what)
  for _, fn in ipairs(list) do
    local p = run_in_kernel({ { fn = fn } }, self.o)
    if p then
      self:report({ status = "error", name = full_name(block, what), where = block.where or block.name,
        message = p.message, traceback = p.traceback, hook = true })
      return false
    end
  end
  return true
end

function Runner:run_test(test)
  if test.pending then
    self:report({ status = "pending", name = test.name, where = test.where })
    return
  end
  local steps = {}
  local blocks = chain(test.block)
  for _, b in ipairs(blocks) do for _, f in ipairs(b.before_each) do steps[#steps + 1] = { fn = f } end end
  local running = { finally = {} }
  steps[#steps + 1] = { fn = test.fn }
  steps[#steps + 1] = { always = true, fn = function()
    for i = #running.finally, 1, -1 do running.finally[i]() end
  end }
  for i = #blocks, 1, -1 do
    for _, f in ipairs(blocks[i].after_each) do steps[#steps + 1] = { fn = f, always = true } end
  end
  local fb = blocks[1]
  fb.set_running(running)
  local o = self.o
  local saved_vclock = o.vclock
  o.vclock = o.vclock or (fb.settings and fb.settings.virtual_clock) or false
  local t0 = os.clock()
  -- luassert: stubs, spies and parameters set by the test are undone after it (as busted)
  local snap = self:snapshot()
  local p = run_in_kernel(steps, o)
  if snap then snap:revert() end
  o.vclock = saved_vclock
  fb.set_running(nil)
  local r = { name = test.name, where = test.where, duration = os.clock() - t0 }
  if p then
    r.status, r.message, r.traceback = p.status, p.message, p.traceback
  else
    r.status = "success"
  end
  self:report(r)
end

function Runner:run_block(block)
  local o = self.o
  local n = count_selected(block, o)
  local has_strict = #block.strict_setup > 0 or #block.strict_teardown > 0
  if n == 0 and not has_strict then return end
  local snap = block.insulate and snapshot(self.env)
  local stubs = self:snapshot() -- what the block's setups stub is undone when it ends
  local ok = self:run_hooks(block.strict_setup, block, "strict_setup")
  if ok and n > 0 then ok = self:run_hooks(block.lazy_setup, block, "lazy_setup") end
  if ok then
    local children = { table.unpack(block.children) }
    if o.shuffle or block.randomize then
      local seed = type(block.randomize) == "number" and block.randomize or o.seed
      local rng = seed and (function()
        local state = seed
        return function(i) state = (state * 1103515245 + 12345) % 2147483648; return state % i + 1 end
      end)() or math.random
      shuffle(children, rng)
    end
    for _, c in ipairs(children) do
      if c.kind == "it" then
        if selected(c, o) then self:run_test(c) end
      else
        self:run_block(c)
      end
    end
  end
  if n > 0 then self:run_hooks(block.lazy_teardown, block, "lazy_teardown") end
  self:run_hooks(block.strict_teardown, block, "strict_teardown")
  if stubs then stubs:revert() end
  if snap then restore(snap, self.env) end
end

function Runner:run_file(file)
  local snap = snapshot({})
  local fb, err = M.load_file(file, self.kit)
  if not fb then
    self:report({ status = "error", name = file .. " (loading)", where = file, message = err, loading = true })
    restore(snap, {})
    return
  end
  if self.o.list then
    each_test(fb, function(t) if selected(t, self.o) then self.out:list(t) end end)
  else
    self.env = fb.env
    self:run_block(fb)
  end
  -- files are insulated, unless an expose block says otherwise
  local exposed = false
  for _, c in ipairs(fb.children) do if c.expose then exposed = true end end
  if not exposed then restore(snap, {}) end
end

-- ---------------------------------------------------------------- discovery

local function matches_any(name, pats)
  local base = name:gsub("%.lua$", "")
  for _, p in ipairs(pats) do if base:find(p) or name:find(p) then return true end end
  return false
end

local DEFAULT_PATTERNS = { "_spec$", "_test$", "^test_" }

local function find_files(path, o, out)
  if core.isdir(path) then
    local entries = core.listdir(path) or {}
    table.sort(entries, function(a, b) return a.name < b.name end)
    for _, e in ipairs(entries) do
      local p = path .. "/" .. e.name
      if e.dir then
        if e.name:sub(1, 1) ~= "." then find_files(p, o, out) end
      elseif e.name:match("%.lua$") and matches_any(e.name, #o.pattern > 0 and o.pattern or DEFAULT_PATTERNS)
          and not (#o.exclude_pattern > 0 and matches_any(e.name, o.exclude_pattern)) then
        out[#out + 1] = p
      end
    end
  else
    out[#out + 1] = path
  end
  return out
end

--- Runs the tests in `paths` with options `o` (see M.cli); returns the counts
--- { passed, failures, errors, skipped }.
function M.run(paths, o)
  o = M.defaults(o)
  local files = {}
  for _, p in ipairs(paths) do find_files(p, o, files) end
  local self = setmetatable({ o = o, kit = asserts.kit(o.builtin_assert),
    counts = { passed = 0, failures = 0, errors = 0, skipped = 0 } }, Runner)
  self.out = o.handler or output.new(o.output, o, io.stdout)
  if not o.list then self.out:header({ assertions = self.kit.name, seed = o.seed, files = #files }) end
  local rng_files = o.shuffle and o.seed and (function()
    local state = o.seed
    return function(i) state = (state * 1103515245 + 12345) % 2147483648; return state % i + 1 end
  end)() or math.random
  for _ = 1, o["repeat"] do
    local order = { table.unpack(files) }
    if o.shuffle then shuffle(order, rng_files) end
    for _, file in ipairs(order) do
      with_path_of(file, self.run_file, self, file)
    end
  end
  if not o.list then self.out:finish(self.counts) end
  return self.counts
end

-- ---------------------------------------------------------------- options

function M.defaults(o)
  o = o or {}
  for _, k in ipairs { "tags", "exclude_tags", "filter", "filter_out", "pattern", "exclude_pattern" } do
    o[k] = o[k] or {}
    if type(o[k]) == "string" then o[k] = { o[k] } end
  end
  o.timeout = o.timeout or 10
  o["repeat"] = o["repeat"] or 1
  o.output = o.output or "default"
  return o
end

M.cli = require("curio.test.cli")(M)

return M
