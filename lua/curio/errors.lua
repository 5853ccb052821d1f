-- curio.errors: error classes. An error is a table whose metatable is its class;
-- classes inherit through `parent`. err.kind, err.message, err:is(Class),
-- tostring(err) == "Kind: message".
local check = require "curio.check"

local M = {}

local Class = {}
Class.__index = Class

local function is(e, cls)
  if type(e) ~= "table" then return false end
  local c = getmetatable(e)
  while type(c) == "table" do
    if c == cls then return true end
    c = rawget(c, "parent")
  end
  return false
end

local function tostr(e)
  local m = rawget(e, "message")
  if m == nil or m == "" then return e.kind end
  return e.kind .. ": " .. tostring(m)
end

--- Creates an error class named `name` deriving from `parent`.
function M.class(name, parent)
  if type(name) ~= "string" then check.argerror(1, "class", "string", name) end
  if parent ~= nil and not M.is_class(parent) then check.argerror(2, "class", "error class", parent) end
  local cls = { kind = name, parent = parent, __tostring = tostr, __name = name }
  cls.__index = cls
  cls.is = is
  return setmetatable(cls, {
    __index = parent,
    __call = function(c, message, fields) return M.new(c, message, fields) end,
    __tostring = function(c) return "class " .. c.kind end,
  })
end

--- Instantiates `cls` with a message (or a table of fields with `message`). The
--- fields are copied: the table given is never turned into the error itself.
function M.new(cls, message, fields)
  if not M.is_class(cls) then check.argerror(1, "new", "error class", cls) end
  if type(message) == "table" and fields == nil and getmetatable(message) == nil then
    fields = message
    message = fields.message
  end
  local e = {}
  if fields ~= nil then
    if type(fields) ~= "table" or getmetatable(fields) ~= nil then
      check.argerror(2, rawget(cls, "kind") or "new", "table of fields", fields)
    end
    for k, v in pairs(fields) do e[k] = v end
  end
  if message == nil then message = "" end
  e.message = message
  return setmetatable(e, cls)
end

--- True if `e` is an instance of `cls` or of one of its descendants.
M.is = is

--- True if `v` is an error class created by `class`.
function M.is_class(v)
  return type(v) == "table" and rawget(v, "__tostring") == tostr and rawget(v, "kind") ~= nil
end

--- True if `v` is an error object (an instance of an error class).
function M.is_error(v)
  return type(v) == "table" and M.is_class(getmetatable(v))
end

local CurioError = M.class("CurioError")
M.CurioError = CurioError
local CancelledError = M.class("CancelledError", CurioError)
M.CancelledError = CancelledError
for _, n in ipairs { "TaskCancelled", "TaskTimeout", "TimeoutCancellationError" } do
  M[n] = M.class(n, CancelledError)
end
for _, n in ipairs { "TaskError", "UncaughtTimeoutError", "NotInTask", "ResourceBusy",
  "BrokenResource", "TransferError", "OSError", "IncompleteRead", "SSLError",
  "CalledProcessError", "TimeoutExpired", "WorkerError", "AuthenticationError" } do
  M[n] = M.class(n, CurioError)
end

--- An OSError for errno `code` from operation `what` (e.g. "connect 127.0.0.1:1").
function M.oserror(what, errno)
  if math.type(errno) ~= "integer" then check.argerror(2, "oserror", "integer", errno) end
  local core = require "curio.core"
  local code = core.errname(errno)
  return M.new(M.OSError, ("%s: %s (%s)"):format(what, code, core.strerror(errno)),
    { errno = errno, code = code })
end

return M
