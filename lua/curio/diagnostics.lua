-- curio.diagnostics: curio's debug options (CURIO_DEBUG, `curio-lua --debug`).
-- The Swift kernel reports steps and traps through a tracer that exists only while
-- an option is on (one branch per step otherwise); this module formats each event
-- as one line, "curio: ...", and writes it to stderr or to the embedding host's
-- logger (LuaRuntime.diagnosticLog).
local K = require "curio.kernel"

local kcall = K.kcall
local OP_LOG, OP_SET = K.K.DEBUG_LOG, K.K.DEBUG_SET
local SCHEDTRACE, TRAPTRACE, LONGBLOCK = 1, 2, 4

local M = {}
M.DEFAULT_LONGBLOCK = 0.05

-- The options in force (logcrash is on unless turned off).
local options = { logcrash = true }

--- Writes text (one or more lines) to the host's logger, a line per call, or, when
--- the host set none, to stderr.
function M.write(text)
  text = text:gsub("\n$", "")
  if kcall(OP_LOG, (text:match("^[^\n]*"))) then
    for line in text:gmatch("\n([^\n]*)") do kcall(OP_LOG, line) end
    return
  end
  io.stderr:write(text, "\n")
  io.stderr:flush()
end

--- A task's crash report (logcrash).
function M.crash(text)
  if options.logcrash then M.write(text) end
end

--- parse(list) -> options table, or nil and a message. list: "longblock=0.1,
--- schedtrace", as CURIO_DEBUG takes it; "-logcrash" (or "nologcrash") turns the
--- crash report off.
function M.parse(list)
  if type(list) ~= "string" then
    return nil, ("debug options must be a string (got %s)"):format(type(list))
  end
  local o = { logcrash = true }
  for item in list:gmatch("[^,]+") do
    item = item:match("^%s*(.-)%s*$")
    local name, value = item:match("^([%w%-]+)=(.*)$")
    name = name or item
    if name == "longblock" then
      local s = M.DEFAULT_LONGBLOCK
      if value then
        s = tonumber(value)
        if not s or s ~= s or s < 0 or s == math.huge then
          return nil, ("bad debug option '%s' (longblock=SECONDS: a number >= 0)"):format(item)
        end
      end
      o.longblock = s
    elseif value then
      return nil, ("bad debug option '%s' (only longblock takes a value)"):format(item)
    elseif name == "schedtrace" or name == "traptrace" or name == "logcrash" or name == "ssl" then
      o[name] = true
    elseif name == "-logcrash" or name == "nologcrash" then
      o.logcrash = false
    elseif name ~= "" then
      return nil, ("unknown debug option '%s' (known: longblock[=SECONDS], schedtrace, " ..
        "traptrace, logcrash, -logcrash, ssl)"):format(item)
    end
  end
  return o
end

--- configure(list): turns the options in `list` on and every other one off (""
--- restores the defaults). Raises on an unknown option. Returns the options.
function M.configure(list)
  local o, err = M.parse(list)
  if not o then error(err, 2) end
  options = o
  local flags = (o.schedtrace and SCHEDTRACE or 0) | (o.traptrace and TRAPTRACE or 0)
    | (o.longblock and LONGBLOCK or 0)
  kcall(OP_SET, flags, o.longblock or M.DEFAULT_LONGBLOCK)
  return o
end

--- The options in force (a copy).
function M.options()
  local c = {}
  for k, v in pairs(options) do c[k] = v end
  return c
end

-- One line: the traceback's frames joined with " <- " (innermost first).
local function one_line(tb)
  local frames = {}
  for line in tb:gmatch("[^\n]+") do
    if line ~= "stack traceback:" then frames[#frames + 1] = line:match("^%s*(.-)%s*$") end
  end
  return table.concat(frames, " <- ")
end

local function label(t)
  return ("task %d (%s)"):format(t.id, t.name)
end

-- Called by the kernel's tracer (Sources/CurioLua/LuaDiagnostics.swift) through
-- registry["curio.diagnostics"]: kind is resume, suspend, exit, trap or longblock.
local function event(kind, t, detail, seconds)
  if kind == "resume" then
    M.write(("curio: resume %s%s"):format(label(t), detail ~= "" and " (" .. detail .. ")" or ""))
  elseif kind == "suspend" then
    M.write(("curio: suspend %s after %.3f ms"):format(label(t), seconds * 1000))
  elseif kind == "exit" then
    M.write(("curio: exit %s after %.3f ms"):format(label(t), seconds * 1000))
  elseif kind == "trap" then
    M.write(("curio: trap %s %s"):format(label(t), detail))
  elseif kind == "longblock" then
    local where = one_line(t:traceback())
    M.write(("curio: longblock %s ran %.3f s without blocking%s"):format(label(t), seconds,
      where ~= "" and "; then blocked at " .. where or "; then ended"))
  end
end
debug.getregistry()["curio.diagnostics"] = event

return M
