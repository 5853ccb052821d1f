-- curio.check: argument checks for the public API, with lauxlib's messages
-- ("bad argument #1 to 'sleep' (number expected, got string)") raised at the
-- user's call: the first frame outside curio's own Lua files, however deep in the
-- library the check was made. Not part of the public API.
local math_type, type, error, tointeger = math.type, type, error, math.tointeger
local getinfo, getmetatable, format = debug.getinfo, getmetatable, string.format

local M = {}

-- The level (for error) of the first frame that is not curio's own code.
local function user_level()
  local level = 3 -- error's caller's caller
  while true do
    local info = getinfo(level, "S")
    if not info then return level - 1 end
    local src = info.source
    if not (src:find("^@%[curio%]") or src:find("^=%[curio%]") or src:find("[/\\]curio[/\\][%w_]+%.lua$")
        or src:find("[/\\]curio%.lua$")) then
      return level - 1
    end
    level = level + 1
  end
end
M.user_level = user_level

--- Raises "bad argument #i to 'fname' (why)" at the user's call.
function M.badarg(i, fname, why)
  error(format("bad argument #%d to '%s' (%s)", i, fname, why), user_level())
end
local badarg = M.badarg

--- A type name for messages: the value's __name (lauxlib's luaL_typename rule) or type.
local function typename(v)
  local mt = getmetatable(v)
  if type(mt) == "table" then
    local n = rawget(mt, "__name")
    if type(n) == "string" then return n end
  end
  if v == nil then return "nil" end
  return type(v)
end
M.typename = typename

--- Raises "bad argument #i to 'fname' (expected expected, got <type>)".
function M.argerror(i, fname, expected, v)
  badarg(i, fname, format("%s expected, got %s", expected, typename(v)))
end
local argerror = M.argerror

--- Raises "calling 'fname' on bad self" (a method called with a dot, or on the
--- wrong kind of object), as lauxlib does.
function M.badself(fname, v, expected)
  error(format("calling '%s' on bad self (%s expected, got %s)", fname, expected or "object", typename(v)),
    user_level())
end

--- An integer argument (a float with an exact integer value is taken, as Lua
--- does), optionally within lo..hi.
function M.int(v, i, fname, lo, hi)
  local n = v
  if math_type(v) ~= "integer" then
    if type(v) == "string" then n = tonumber(v) end
    if type(n) ~= "number" then argerror(i, fname, "integer", v) end
    n = tointeger(n)
    if n == nil then badarg(i, fname, "number has no integer representation") end
  end
  if (lo and n < lo) or (hi and n > hi) then
    if lo and hi then
      badarg(i, fname, format("out of range: %d not in %d..%d", n, lo, hi))
    elseif lo then
      badarg(i, fname, format("out of range: %d is less than %d", n, lo))
    else
      badarg(i, fname, format("out of range: %d is more than %d", n, hi))
    end
  end
  return n
end

--- Like int, but nil gives `default`.
function M.optint(v, i, fname, default, lo, hi)
  if v == nil then return default end
  return M.int(v, i, fname, lo, hi)
end

--- A number that is not NaN (infinities allowed).
function M.number(v, i, fname)
  if type(v) ~= "number" then
    local n = type(v) == "string" and tonumber(v)
    if not n then argerror(i, fname, "number", v) end
    v = n
  end
  if v ~= v then badarg(i, fname, "number is NaN") end
  return v
end

--- A string argument (numbers are not converted: they are almost always a mistake
--- for data).
function M.string(v, i, fname)
  if type(v) ~= "string" then argerror(i, fname, "string", v) end
  return v
end

function M.optstring(v, i, fname)
  if v == nil then return nil end
  return M.string(v, i, fname)
end

--- A function, or a table or userdata with __call.
function M.callable(v, i, fname)
  if type(v) == "function" then return v end
  local mt = getmetatable(v)
  if type(mt) == "table" and rawget(mt, "__call") then return v end
  argerror(i, fname, "function", v)
end

function M.table(v, i, fname)
  if type(v) ~= "table" then argerror(i, fname, "table", v) end
  return v
end

function M.opttable(v, i, fname)
  if v == nil then return nil end
  return M.table(v, i, fname)
end

--- An option field of an options table: `t[k]` checked by `check(v, i, fname)`.
function M.field(t, k, i, fname, expected, ok)
  local v = t[k]
  if v ~= nil and not ok(v) then
    badarg(i, fname, format("field '%s': %s expected, got %s", k, expected, typename(v)))
  end
  return v
end

-- Signals a handler cannot take: SIGKILL and SIGSTOP cannot be caught at all, and
-- returning from a handler for a fault re-runs the faulting instruction.
local UNCATCHABLE = {
  SIGKILL = "cannot be caught", SIGSTOP = "cannot be caught", SIGSEGV = "is a fault",
  SIGBUS = "is a fault", SIGFPE = "is a fault", SIGILL = "is a fault",
}

--- A signal argument (a number, or a name such as "SIGTERM" or "TERM") as its
--- number. `any`: for sending (0 and signals no handler can take are allowed).
function M.signal(sig, i, fname, any)
  local cp = require "curio.cprocess"
  local n = sig
  if type(sig) == "string" then
    n = cp.signals[sig] or cp.signals["SIG" .. sig]
    if n == nil then badarg(i, fname, format("unknown signal '%s'", sig)) end
  elseif type(sig) == "number" then
    n = tointeger(sig)
  else
    argerror(i, fname, "signal number or name", sig)
  end
  if n == nil or n < (any and 0 or 1) or n > cp.SIGRTMAX or (n > 31 and n < cp.SIGRTMIN) then
    badarg(i, fname, format("unknown signal %s", tostring(sig)))
  end
  if not any then
    for name, why in pairs(UNCATCHABLE) do
      if cp.signals[name] == n then badarg(i, fname, format("%s %s", name, why)) end
    end
  end
  return n
end


return M
