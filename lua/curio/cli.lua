-- curio.cli: the `curio-lua` command, compatible with the `lua` standalone
-- interpreter, except that scripts run as the main task of a kernel.
local M = {}

local progname = "curio-lua"

local function eprint(msg)
  io.stderr:write(progname, ": ", msg, "\n")
  io.stderr:flush()
end

local function usage(badopt)
  if badopt then
    if badopt:sub(2, 2) == "e" or badopt:sub(2, 2) == "l" then
      io.stderr:write(("%s: '%s' needs argument\n"):format(progname, badopt))
    else
      io.stderr:write(("%s: unrecognized option '%s'\n"):format(progname, badopt))
    end
  end
  io.stderr:write(([==[
usage: %s [options] [script [args]]
       %s test [--filter PATTERN] [--list] [--timeout S] [paths...]
Available options are:
  -e stat   execute string 'stat'
  -i        enter interactive mode after executing 'script'
  -l mod    require library 'mod' into global 'mod'
  -l g=mod  require library 'mod' into global 'g'
  -v        show version information
  -E        ignore environment variables
  --processes N|auto  run the script in N worker processes (auto: one per CPU)
  -W        turn warnings on
  --        stop handling options
  -         stop handling options and execute stdin
]==]):format(progname, progname))
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

local function report(e, tb)
  local msg = tostring(e)
  if type(e) == "table" and getmetatable(e) == nil then msg = "(error object is a table value)" end
  io.stderr:write(progname, ": ", msg, "\n")
  if tb then io.stderr:write(tb, "\n") end
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
  local f = io.open(name, "r")
  if not f then
    local _, msg = io.open(name, "r")
    return nil, ("cannot open %s"):format(name)
  end
  f:close()
  return loadfile(name)
end

local function run_repl(curio)
  local K = require "curio.kernel"
  -- Lines are read on a worker thread, so tasks keep running at the prompt.
  local function readline(prompt)
    io.stdout:write(prompt)
    io.stdout:flush()
    local job = K.kcall(K.K.READ_LINE)
    K.trap(K.T.THREAD, job)
    return K.kcall(K.K.JOB_STRING, job)
  end
  while true do
    local line = readline("> ")
    if line == nil then io.stdout:write("\n"); break end
    local chunk, err = load("return " .. line, "=stdin")
    if not chunk then
      chunk, err = load(line, "=stdin")
      while not chunk and err:match("<eof>$") do
        local more = readline(">> ")
        if more == nil then break end
        line = line .. "\n" .. more
        chunk, err = load(line, "=stdin")
      end
    end
    if not chunk then
      io.stderr:write(err, "\n")
    else
      local t = curio.spawn(chunk)
      t._quiet = true
      t:wait()
      if t._error ~= nil then
        report(t._error, traceback_of(t))
      else
        local r = table.pack(t:result())
        if r.n > 0 then
          local out = {}
          for i = 1, r.n do out[i] = tostring(r[i]) end
          print(table.unpack(out))
        end
      end
    end
  end
end

local function main_task(o, argv, curio)
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
      _G[g] = require(mod)
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

function M.main(prog, ...)
  local argv = { ... }
  if argv[1] == "test" then
    return require("curio.test").cli(table.pack(table.unpack(argv, 2)))
  end
  local o, bad = collect(argv)
  if not o then usage(bad); return 1 end
  if o.warn then warn("@on") end
  -- the `arg` table, as lua.c builds it
  local script = o.script or (#argv + 1)
  local arg = { [0] = argv[script] or prog }
  arg[-script] = prog
  for i = 1, #argv do arg[i - script] = argv[i] end
  arg[0] = argv[script]
  if not o.script then arg[0] = prog end
  _G.arg = arg
  if o.version then print(_VERSION .. " (curio-lua 0.1)  Copyright (C) 1994-2022 Lua.org, PUC-Rio") end
  local interactive_default = not o.script and #o.actions == 0 and not o.version
  if interactive_default then
    local tty = require("curio.core").isatty(0)
    if tty then
      o.interactive = true
      print(_VERSION .. " (curio-lua 0.1)  Copyright (C) 1994-2022 Lua.org, PUC-Rio")
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
