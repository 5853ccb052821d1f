-- curio.cli: the `curio-lua` command, compatible with the `lua` standalone
-- interpreter, except that scripts run as the main task of a kernel.
local M = {}

local progname = "curio-lua"

local function eprint(msg)
  io.stderr:write(progname .. ": " .. msg .. "\n")
  io.stderr:flush()
end

local function usage(badopt)
  if badopt then
    if badopt:sub(2, 2) == "e" or badopt:sub(2, 2) == "l" or badopt == "--debug" then
      io.stderr:write(("%s: '%s' needs argument\n"):format(progname, badopt))
    else
      io.stderr:write(("%s: unrecognized option '%s'\n"):format(progname, badopt))
    end
  end
  io.stderr:write(([==[
usage: %s [options] [script [args]]
       %s test [--filter PATTERN] [--list] [--timeout S] [paths...]
       %s monitor [host:port]   (the client of --monitor)
Available options are:
  -e stat   execute string 'stat'
  -i        enter interactive mode after executing 'script'
  -l mod    require library 'mod' into global 'mod'
  -l g=mod  require library 'mod' into global 'g'
  -v        show version information
  -E        ignore environment variables
  --processes N|auto  run the script in N worker processes (auto: one per CPU)
  -W        turn warnings on
  --monitor     serve the monitor (CURIO_MONITOR_ADDR, default 127.0.0.1:48802)
  --debug LIST  debug options: longblock[=S],schedtrace,traptrace,-logcrash,ssl
  --        stop handling options
  -         stop handling options and execute stdin
]==]):format(progname, progname, progname))
  io.stderr:flush()
end

-- Parses argv like lua.c's collectargs. Returns opts or nil on error.
local function collect(argv)
  local o = { actions = {}, script = nil }
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a:sub(1, 1) ~= "-" then o.script = i; break end
    if a == "--" then
      if argv[i + 1] then o.script = i + 1 end
      break
    elseif a == "-" then
      o.script = i; break
    elseif a == "-E" then o.noenv = true
    elseif a == "-W" then o.warn = true
    elseif a == "-i" then o.interactive = true; o.version = true
    elseif a == "-v" then o.version = true
    elseif a == "--monitor" then o.monitor = true
    elseif a == "--debug" or a:sub(1, 8) == "--debug=" then
      local v = a:sub(9)
      if a == "--debug" then
        i = i + 1
        v = argv[i]
        if v == nil then return nil, a end
      end
      o.debug = v
    elseif a:sub(1, 2) == "-e" or a:sub(1, 2) == "-l" then
      local v = a:sub(3)
      if v == "" then
        i = i + 1
        v = argv[i]
        if v == nil or v:sub(1, 1) == "-" then return nil, a end
      end
      o.actions[#o.actions + 1] = { a:sub(2, 2), v }
    else
      return nil, a
    end
    i = i + 1
  end
  return o
end

local function traceback_of(t)
  return require("curio.task").user_traceback(t._traceback)
end

-- An error value as lua.c's message handler shows it.
local function error_text(e)
  local t = type(e)
  if t == "string" or t == "number" then return tostring(e) end
  local mt = getmetatable(e)
  if type(mt) == "table" and mt.__tostring then return tostring(e) end
  return ("(error object is a %s value)"):format(t)
end
M.error_text = error_text

local function report(e, tb)
  local msg = error_text(e)
  -- As lua.c: an object that prints itself carries no traceback (curio's errors do).
  if type(e) == "table" and not require("curio.errors").is_error(e) then tb = nil end
  -- One write per report: the workers of --processes share one stderr.
  io.stderr:write(progname .. ": " .. msg .. "\n" .. (tb and tb .. "\n" or ""))
  io.stderr:flush()
end

local function dochunk(chunk, err)
  if not chunk then error({ syntax = err }, 0) end
  return chunk()
end

local function load_script(name)
  if name == "-" then
    local src = io.stdin:read("a")
    return load(src, "=stdin")
  end
  return loadfile(name) -- "cannot open x.lua: No such file or directory", as lua's
end

local function run_repl(curio)
  require("curio.repl").run(curio, report, traceback_of)
end

-- The monitor, if --monitor or CURIO_MONITOR asks for it: a failure to start it
-- is reported, and the script runs all the same.
local function start_monitor(o)
  local env = not o.noenv and os.getenv("CURIO_MONITOR")
  if not (o.monitor or (env and env ~= "" and env ~= "0")) then return end
  local addr = not o.noenv and os.getenv("CURIO_MONITOR_ADDR") or nil
  local t, err = require("curio.monitor").start(addr or require("curio.monitor").DEFAULT_ADDRESS)
  if not t then require("curio.diagnostics").write("curio: monitor not started: " .. err) end
end

local function main_task(o, argv, curio)
  curio.current_task().name = "main"
  start_monitor(o)
  if not o.noenv then
    local init = os.getenv("LUA_INIT_5_4") or os.getenv("LUA_INIT")
    if init then
      local chunk, err
      if init:sub(1, 1) == "@" then chunk, err = loadfile(init:sub(2))
      else chunk, err = load(init, "=LUA_INIT") end
      dochunk(chunk, err)
    end
  end
  for _, act in ipairs(o.actions) do
    if act[1] == "e" then
      dochunk(load(act[2], "=(command line)"))
    else
      local g, mod = act[2]:match("^([^=]+)=(.+)$")
      if not g then g, mod = act[2], act[2] end
      local ok, m = pcall(require, mod) -- its message, without our location
      if not ok then error(m, 0) end
      _G[g] = m
    end
  end
  if o.script then
    local chunk, err = load_script(argv[o.script])
    if not chunk then error({ syntax = err }, 0) end
    local script_args = {}
    for i = o.script + 1, #argv do script_args[#script_args + 1] = argv[i] end
    -- Called from C (xpcall), so tracebacks say "in main chunk" as lua's do.
    local task = require "curio.task"
    local ok, e = xpcall(chunk, task.msgh, table.unpack(script_args))
    if not ok then error(e, 0) end
  end
  if o.interactive then run_repl(curio) end
end

--- lua's version line, then ours.
function M.print_version()
  print(require("curio.core").LUA_COPYRIGHT)
  print(require("curio")._VERSION .. " (curio's programming model on a Swift kernel)")
end

function M.main(prog, ...)
  local argv = { ... }
  if argv[1] == "test" then
    return require("curio.test").cli(table.pack(table.unpack(argv, 2)))
  end
  if argv[1] == "monitor" then
    return require("curio").run(function() return require("curio.monitor").client(argv[2]) end)
  end
  if argv[1] == "--help" or argv[1] == "--types" then
    return require("curio.help").main(argv)
  end
  local o, bad = collect(argv)
  if not o then usage(bad); return 1 end
  local debug_list = o.debug or (not o.noenv and os.getenv("CURIO_DEBUG")) or nil
  if debug_list then
    local ok, err = pcall(require("curio.diagnostics").configure, debug_list)
    if not ok then
      eprint(("%s: %s"):format(o.debug and "--debug" or "CURIO_DEBUG", tostring(err):gsub("^.-:%d+: ", "")))
      return 1
    end
  end
  if o.warn then warn("@on") end
  -- the `arg` table, as lua.c builds it: the script at 0 (the program when there
  -- is none), the options before it at negative indices
  local script = o.script or 0
  local arg = { [-script] = prog }
  for i = 1, #argv do arg[i - script] = argv[i] end
  _G.arg = arg
  if o.version then M.print_version() end
  local interactive_default = not o.script and #o.actions == 0 and not o.version
  if interactive_default then
    local tty = require("curio.core").isatty(0)
    if tty then
      o.interactive = true
      M.print_version()
    else
      o.script = #argv + 1
      argv[o.script] = "-"
    end
  end
  local curio = require "curio"
  local t = curio._run_main(main_task, o, argv, curio)
  local K = require "curio.kernel"
  if K.kcall(K.K.INTERRUPTED) > 0 then
    return 130
  end
  if t._error ~= nil then
    local e = t._error
    if type(e) == "table" and e.syntax then
      eprint(e.syntax)
      return 1
    end
    report(e, traceback_of(t))
    return 1
  end
  return 0
end

return M
