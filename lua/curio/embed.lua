-- curio.embed: entry points the Swift embedding API calls (Sources/CurioLua/
-- LuaRuntime.swift and Embedding/). The host's scripts run in an environment
-- built from the configuration's library allow-list.
local M = {}

--- Runs `source` as the main task of a fresh kernel; returns its first result,
--- or raises its error (as a string with the traceback's first line).
function M.run_string(source, name)
  local curio = require "curio"
  local chunk, err = load(source, name)
  if not chunk then error(err, 0) end
  local t = curio._run_main(chunk)
  if t._error ~= nil then error(require("curio.cli").error_text(t._error), 0) end
  if not t:done() then error("the main task did not finish", 0) end
  return (t:result())
end

-- Everything below is for LuaHost.

local core = require "curio.core"
local errors = require "curio.errors"
local K = core.K
local ecore

--- The environment scripts run in, and where their `require` looks.
M.env = _G
M.path = package.path

-- Modules of the library that scripts never get: they reach the kernel directly.
local INTERNAL = {
  ["curio.core"] = true, ["curio.csocket"] = true, ["curio.embed"] = true,
  ["curio.embedcore"] = true, ["curio.cli"] = true,
}
local STD = { "coroutine", "table", "string", "math", "utf8", "os", "io", "debug" }
local BASE = {
  "assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "print",
  "rawequal", "rawget", "rawlen", "rawset", "select", "setmetatable", "tonumber",
  "tostring", "type", "xpcall", "collectgarbage", "_VERSION", "warn",
}
local host_modules = {}

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

--- Builds the scripts' environment. `libs`: the allowed names, comma-separated
--- (LuaLibraries.names); `all`: scripts share the state's globals; `path`: where
--- script modules are looked for.
function M.configure(libs, all, path)
  ecore = require "curio.embedcore"
  errors.SwiftError = errors.SwiftError or errors.class("SwiftError", errors.CurioError)
  errors.BudgetExceeded = errors.BudgetExceeded or errors.class("BudgetExceeded", errors.CurioError)
  ecore.set_raise(function(kind, message)
    error((errors[kind] or errors.SwiftError)(message), 0)
  end)
  ecore.set_start(M.start_call)
  if path then M.path = path end
  local allow = {}
  for name in libs:gmatch("[^,]+") do allow[name] = true end
  M.allow = allow
  if all then
    M.env = _G
    if path then package.path = path end
    return
  end
  local env = {}
  for _, n in ipairs(BASE) do env[n] = _G[n] end
  for _, n in ipairs(STD) do
    if allow[n] then env[n] = copy(_G[n]) end
  end
  if not allow.os and allow.ostime then
    env.os = { time = os.time, clock = os.clock, date = os.date, difftime = os.difftime }
  end
  if allow.io then
    env.dofile = function(f) return loadfile(f, "t", env)() end
    env.loadfile = function(f, mode, e)
      return loadfile(f, allow.binary and mode or "t", e == nil and env or e)
    end
  end
  if allow.native then env.package = package end
  env.load = function(chunk, name, mode, e)
    return load(chunk, name, allow.binary and mode or "t", e == nil and env or e)
  end
  env._G = env
  env.require = M.require
  M.env = env
  M.loaded = {}
end

local function module_allowed(name)
  if INTERNAL[name] then return false end
  if name == "curio.subprocess" then return M.allow.subprocess end
  if name == "curio" or name:sub(1, 6) == "curio." then return M.allow.curio end
  return nil -- not a library module
end

--- `require` for scripts: the allowed library modules, the host's Swift modules,
--- and script modules on M.path, loaded into the scripts' environment.
function M.require(name)
  if type(name) ~= "string" then
    error(("bad argument #1 to 'require' (string expected, got %s)"):format(type(name)), 2)
  end
  if M.env == _G then return require(name) end
  local v = M.loaded[name]
  if v ~= nil then return v end
  if host_modules[name] then return package.loaded[name] end
  for _, n in ipairs(STD) do
    if n == name then
      if M.env[n] == nil then error(("module '%s' is not allowed"):format(name), 2) end
      return M.env[n]
    end
  end
  local lib = module_allowed(name)
  if lib == false then error(("module '%s' is not allowed"):format(name), 2) end
  if lib then return require(name) end
  local file, err = package.searchpath(name, M.path)
  if not file then error(("module '%s' not found:%s"):format(name, err), 2) end
  local chunk, lerr = loadfile(file, "t", M.env)
  if not chunk then error(lerr, 2) end
  local r = chunk(name, file)
  if r == nil then r = M.loaded[name] == nil and true or M.loaded[name] end
  M.loaded[name] = r
  return r
end

--- Makes a Swift module visible to scripts (as a global and to require).
function M.publish(name)
  host_modules[name] = true
  M.env[name] = package.loaded[name]
end

--- Makes the state's global `name` (a shared Universal queue or event) a global
--- of the scripts' environment.
function M.publish_global(name)
  M.env[name] = _G[name]
end

--- The host's main task: serves Swift's requests until it is cancelled.
function M.serve()
  local curio = require "curio"
  curio._run_main(function()
    core.kcall(K.EMBED_SERVE)
    core.sleep(math.huge)
  end)
  return 0
end

local find = string.find

local function resolve(path)
  if type(path) ~= "string" or path == "" then error("bad function path", 0) end
  local v
  if not find(path, ".", 1, true) then -- a global: no pattern matching
    v = M.env[path]
    if v == nil then v = M.require(path) end
  else
    local first, rest = path:match("^([^.]+)(.*)$")
    v = M.env[first]
    if v == nil then v = M.require(first) end
    local walked = first
    for part in rest:gmatch("%.([^.]+)") do
      if type(v) ~= "table" then
        error(("'%s' is not a table (a %s value)"):format(walked, type(v)), 0)
      end
      v = v[part]
      walked = walked .. "." .. part
    end
  end
  if type(v) ~= "function" then
    local mt = getmetatable(v)
    if not (type(mt) == "table" and mt.__call) then
      error(("'%s' is not a function (a %s value)"):format(path, type(v)), 0)
    end
  end
  return v
end

--- The body of a call's task: finds the function `a` names (by kind) and calls
--- it with the rest. Runs inside the task, so a module loaded on the way is
--- under the call's limits.
local function invoke(kind, a, b, ...)
  local fn
  if kind == "path" then
    fn = resolve(a)
  elseif kind == "ref" then
    fn = a
  elseif kind == "chunk" then
    local err
    fn, err = load(a, b, "t", M.env)
    if not fn then error(err, 0) end
  elseif kind == "file" then
    local err
    fn, err = loadfile(a, "t", M.env)
    if not fn then error(err, 0) end
  elseif kind == "require" then
    return M.require(a)
  end
  return fn(...)
end

local TASK_ID = require("curio.task").SLOT.ID

--- Starts call `id` of Swift as a task and returns the task's id (through
--- cl_embed_start). `hook`: the instruction count of the call's budget hook (0:
--- as inherited).
function M.start_call(id, hook, ...)
  return core.spawn(ecore.run_call, id, hook, invoke, ...)[TASK_ID]
end

function M.collect()
  collectgarbage()
  collectgarbage()
  return 0
end

return M
