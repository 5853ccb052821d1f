-- curio.test.cli: `curio-lua test [options] [paths...]`, busted 2.1's options
-- plus --timeout and --virtual-clock; a `.busted` file in the current folder
-- supplies defaults (its `default` task, or the one named by --run).
local core = require "curio.core"
local output = require "curio.test.output"

local USAGE = [[
Usage: curio-lua test [options] [paths...]

Runs busted-style tests (describe/it): files named *_spec.lua, *_test.lua or
test_*.lua under the given paths (default: the first of Tests/lua, tests, spec
that exists). Each `it` runs as the main task of a fresh kernel.

Options:
  -o, --output=FORMAT       default | utf | plain | TAP | junit
  -O, --output-file=FILE    write the junit XML to FILE (stdout keeps the summary)
  -p, --pattern=PATTERN     only files whose name matches the Lua pattern (repeatable)
      --exclude-pattern=P   skip files whose name matches P (repeatable)
  -t, --tags=TAGS           only tests tagged #TAG (comma-separated, repeatable)
      --exclude-tags=TAGS   skip tests with any of these tags
      --filter=PATTERN      only tests whose full name matches (repeatable)
      --filter-out=PATTERN  skip tests whose full name matches (repeatable)
      --shuffle             run files and tests in random order
      --seed=N              random seed for --shuffle and randomize() (default: time)
      --repeat=N            run the whole suite N times
  -m, --lpath=PATH          prepend PATH to package.path
      --cpath=PATH          prepend PATH to package.cpath
      --run=TASK            use this task of the .busted file instead of "default"
  -l, --list                list the tests, run nothing
      --timeout=SECONDS     per test and per setup/teardown (default 10)
      --virtual-clock       run tests on the virtual clock (sleep returns at once)
      --builtin-assert      use the built-in assertions even if luassert is installed
  -v, --verbose             durations, and tracebacks in every format
      --version             print the runner's version
  -h, --help                this text

Exit status: the number of failed tests plus errors (at most 255); 2 for a usage error.
]]

-- option name -> { key, kind }: kind "flag", "list" (repeatable, commas split
-- for tags), "string", "number".
local OPTS = {
  output = { "output", "string" }, o = { "output", "string" },
  ["output-file"] = { "output_file", "string" }, O = { "output_file", "string" },
  pattern = { "pattern", "list" }, p = { "pattern", "list" },
  ["exclude-pattern"] = { "exclude_pattern", "list" },
  tags = { "tags", "tags" }, t = { "tags", "tags" },
  ["exclude-tags"] = { "exclude_tags", "tags" },
  filter = { "filter", "list" }, ["filter-out"] = { "filter_out", "list" },
  shuffle = { "shuffle", "flag" }, ["shuffle-files"] = { "shuffle", "flag" },
  ["shuffle-tests"] = { "shuffle", "flag" },
  seed = { "seed", "number" }, ["repeat"] = { "repeat", "number" },
  lpath = { "lpath", "string" }, m = { "lpath", "string" }, cpath = { "cpath", "string" },
  run = { "run", "string" }, r = { "run", "string" },
  list = { "list", "flag" }, l = { "list", "flag" },
  timeout = { "timeout", "number" }, ["virtual-clock"] = { "vclock", "flag" },
  ["builtin-assert"] = { "builtin_assert", "flag" },
  verbose = { "verbose", "flag" }, v = { "verbose", "flag" },
  version = { "version", "flag" }, help = { "help", "flag" }, h = { "help", "flag" },
  -- accepted for compatibility, no effect here
  coverage = { "coverage", "flag" }, c = { "coverage", "flag" },
  ["auto-insulate"] = { "auto_insulate", "flag" }, ["keep-going"] = { "keep_going", "flag" },
  ["suppress-pending"] = { "suppress_pending", "flag" },
  ["defer-print"] = { "defer_print", "flag" }, ["sort"] = { "sort", "flag" },
}

local function set(o, spec, value, name)
  local key, kind = spec[1], spec[2]
  if kind == "flag" then
    o[key] = value ~= false and value ~= "false"
  elseif kind == "number" then
    local n = tonumber(value)
    if not n or n ~= n or n < 0 or n == math.huge then
      return nil, ("--%s needs a non-negative number, got '%s'"):format(name, tostring(value))
    end
    o[key] = n
  elseif kind == "list" or kind == "tags" then
    o[key] = o[key] or {}
    local values = type(value) == "table" and value or { value }
    for _, v in ipairs(values) do
      if kind == "tags" then
        for t in tostring(v):gmatch("[^,%s]+") do o[key][#o[key] + 1] = (t:gsub("^#", "")) end
      else
        o[key][#o[key] + 1] = tostring(v)
      end
    end
  else
    o[key] = tostring(value)
  end
  return true
end

--- Parses argv (a packed table) into options and paths; nil, message on error.
local function parse(argv)
  local o, paths = {}, {}
  local i = 1
  while i <= argv.n do
    local a = argv[i]
    local name, value
    if a == "--" then
      for j = i + 1, argv.n do paths[#paths + 1] = argv[j] end
      break
    elseif a:sub(1, 2) == "--" then
      name, value = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      if name:sub(1, 3) == "no-" and OPTS[name:sub(4)] and OPTS[name:sub(4)][2] == "flag" then
        name, value = name:sub(4), false
      end
    elseif a:sub(1, 1) == "-" and #a > 1 then
      name = a:sub(2, 2)
      if #a > 2 then value = a:sub(3) end
    else
      paths[#paths + 1] = a
    end
    if name then
      local spec = OPTS[name]
      if not spec then return nil, ("unknown option '%s'"):format(a) end
      if spec[2] ~= "flag" and value == nil then
        i = i + 1
        value = argv[i]
        if value == nil then return nil, ("option '%s' needs a value"):format(a) end
      end
      local ok, err = set(o, spec, value, name)
      if not ok then return nil, err end
    end
    i = i + 1
  end
  return o, paths
end

-- The .busted file's task: a table of long option names (and ROOT, the paths).
local function load_dotbusted(task)
  local f = io.open(".busted", "r")
  if not f then return {} end
  f:close()
  local chunk, err = loadfile(".busted", "t", {})
  if not chunk then return nil, ".busted: " .. err end
  local ok, cfg = pcall(chunk)
  if not ok or type(cfg) ~= "table" then return nil, ".busted: " .. tostring(cfg) end
  local t = cfg[task or "default"]
  if t == nil then
    if task then return nil, (".busted has no task '%s'"):format(task) end
    return {}
  end
  if type(t) ~= "table" then return nil, ".busted: task is not a table" end
  return t
end

local function apply_config(o, cfg)
  local extra = {}
  for k, v in pairs(cfg) do
    if k == "ROOT" then
      extra.paths = type(v) == "table" and v or { v }
    elseif type(k) == "string" and OPTS[k] then
      local key = OPTS[k][1]
      if o[key] == nil then
        local ok, err = set(o, OPTS[k], v, k)
        if not ok then return nil, ".busted: " .. err end
      end
    end
  end
  return extra
end

return function(runner)
  local function fail(msg)
    io.stderr:write("curio-lua test: ", msg, "\n")
    return 2
  end
  return function(argv)
    local o, paths = parse(argv)
    if not o then return fail(paths .. " (see curio-lua test --help)") end
    if o.help then io.stdout:write(USAGE); return 0 end
    if o.version then io.stdout:write(runner.VERSION, "\n"); return 0 end
    local cfg, err = load_dotbusted(o.run)
    if not cfg then return fail(err) end
    local extra, err2 = apply_config(o, cfg)
    if not extra then return fail(err2) end
    if #paths == 0 and extra.paths then paths = extra.paths end
    if #paths == 0 then
      for _, d in ipairs { "Tests/lua", "tests", "spec" } do
        if core.isdir(d) then paths[1] = d; break end
      end
      if #paths == 0 then return fail("no paths given and no Tests/lua, tests or spec folder") end
    end
    for _, p in ipairs(paths) do
      local f = io.open(p, "r")
      if not f then return fail(("cannot open %s"):format(p)) end
      f:close()
    end
    o.output = o.output or "default"
    if not output.new(o.output, o, io.stdout) then
      return fail(("unknown output format '%s' (one of: %s)"):format(o.output, table.concat(output.names, ", ")))
    end
    if o.timeout and o.timeout <= 0 then return fail("--timeout needs a positive number of seconds") end
    if o.seed then
      o.seed = math.tointeger(math.floor(o.seed))
      if not o.seed then return fail("--seed needs an integer") end
    end
    if o.shuffle and not o.seed then o.seed = os.time() end
    if o.seed then math.randomseed(o.seed) end
    if o.lpath then package.path = o.lpath .. ";" .. package.path end
    if o.cpath then package.cpath = o.cpath .. ";" .. package.cpath end
    if o["repeat"] then o["repeat"] = math.max(1, math.floor(o["repeat"])) end
    if os.getenv("CURIO_TEST_BUILTIN_ASSERT") == "1" then o.builtin_assert = true end
    local c = runner.run(paths, o)
    if o.list then return 0 end
    return math.min(c.failures + c.errors, 255)
  end
end
