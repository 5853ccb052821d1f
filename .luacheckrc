-- luacheck configuration (Debian's lua-check): `luacheck .` lints the project's
-- Lua code; scripts/test.sh runs it when luacheck is installed.
--
-- For your own project, the two stds below are what curio-lua adds: `curio`
-- (scripts run by curio-lua see Lua 5.4's globals, plus `arg`) and `curio_test`
-- (the globals `curio-lua test` gives test files: busted's and luassert's).
stds.curio = { read_globals = { "arg" } }
stds.curio_test = {
  read_globals = {
    "describe", "context", "insulate", "expose", "it", "spec", "test", "pending",
    "setup", "teardown", "lazy_setup", "strict_setup", "lazy_teardown", "strict_teardown",
    "before_each", "after_each", "finally", "randomize",
    "spy", "stub", "mock", "match", "fail",
  },
  -- luassert's assert is callable and has fields (assert.equal, assert:register ...)
  globals = { "assert" },
}

std = "lua54+curio"
max_line_length = 120
exclude_files = {
  ".build*/**",
  -- deliberately broken test fixtures
  "Tests/lua/fixtures/runner/broken.lua", "Tests/lua/fixtures/syntax_error.lua",
  -- LuaLS stubs: declarations only
  "types/**",
}

-- curio.coroutine replaces coroutine.resume/wrap with task-aware versions on purpose.
files["lua/curio/coroutine.lua"] = { ignore = { "122" } }
-- errors.lua: Class is the root of the class chain (found through metatables).
files["lua/curio/errors.lua"] = { ignore = { "241/Class" } }
-- cli.lua's script loading is being reworked (lua5.4's messages); its `msg` goes with it.
files["lua/curio/cli.lua"] = { ignore = { "211/msg" } }

-- Tests: discarded pcall results and callback arguments are the norm there.
-- Top-level globals (outside_*) are set on purpose, support.lua swaps io.stderr.
files["Tests"] = { std = "+curio_test", allow_defined_top = true, max_line_length = false,
  ignore = { "211", "212", "213", "241", "311", "122/io" } }
files["Tests/lua/fixtures"] = { std = "+curio_test", allow_defined_top = true, ignore = { "211", "212", "111", "112", "113" } }
-- busted-style test files anywhere (examples/backoff_spec.lua)
files["**/*_spec.lua"] = { std = "+curio_test" }

-- The example host's plugins define `handle` for the host and call its `host` module.
files["examples/swift-host/plugins"] = { globals = { "handle" }, read_globals = { "host", "notices" } }
