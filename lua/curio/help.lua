-- curio.help: `curio-lua --help` (the usage: lua5.4's options plus curio-lua's)
-- and `curio-lua --types DIR` (writes the LuaLS stubs compiled into the binary).
local M = {}

-- Each line of the usage; curio-lua's own commands and options after lua's.
M.lines = {
  "usage: curio-lua [options] [script [args]]",
  "       curio-lua test [options] [paths...]",
  "       curio-lua monitor [host:port]",
  "",
  "Runs a Lua 5.4 script as the main task of a curio kernel: top-level code may block.",
  "",
  "Options (as lua5.4's):",
  "  -e stat   execute string 'stat'",
  "  -i        enter interactive mode after executing 'script'",
  "  -l mod    require library 'mod' into global 'mod'",
  "  -l g=mod  require library 'mod' into global 'g'",
  "  -v        show version information",
  "  -E        ignore environment variables",
  "  -W        turn warnings on",
  "  --        stop handling options",
  "  -         stop handling options and execute stdin",
  "",
  "curio-lua's own:",
  "  test          run busted-style tests (curio-lua test --help for its options)",
  "  monitor [host:port]  connect to a running script's monitor (see --monitor)",
  "  --monitor     serve the monitor (CURIO_MONITOR_ADDR, default 127.0.0.1:48802)",
  "  --debug LIST  debug options: longblock[=S],schedtrace,traptrace,-logcrash",
  "  --types DIR   write the LuaLS annotation stubs (---@meta) of the curio API to DIR",
  "  --help        this text",
  "",
  "With no arguments on a terminal: an interactive prompt with line editing and",
  "history (~/.curio_lua_history); Ctrl-C cancels the running line, Ctrl-D exits.",
  "Environment: LUA_INIT_5_4 / LUA_INIT, LUA_PATH(_5_4), LUA_CPATH(_5_4) as lua5.4.",
  "Manual: man curio-lua (after scripts/install.sh).",
}

function M.main(argv)
  if argv[1] == "--help" then
    io.stdout:write(table.concat(M.lines, "\n"), "\n")
    return 0
  end
  local dir = argv[2]
  if not dir or dir == "" then
    io.stderr:write("curio-lua: '--types' needs a folder\n")
    return 1
  end
  local ok, stubs = pcall(require, "curio.stubs")
  if not ok then
    io.stderr:write("curio-lua: this build has no LuaLS stubs\n")
    return 1
  end
  local written, err = stubs.write(dir)
  if not written then
    io.stderr:write("curio-lua: ", err, "\n")
    return 1
  end
  for _, p in ipairs(written) do io.stdout:write(p, "\n") end
  return 0
end

return M
