-- curio.repl: the interactive loop of `curio-lua` (lua5.4's, with lines run as
-- tasks). On a terminal it edits lines with libedit (`curio.lineedit`, which the
-- curio-lua executable provides): history in ~/.curio_lua_history, the prompt
-- read on the kernel's thread while other tasks keep running. Ctrl-C cancels the
-- running line (or clears the line being typed) and returns to the prompt;
-- Ctrl-D on an empty line exits. Elsewhere lines come from a worker thread.
local K = require "curio.kernel"
local core = require "curio.core"

local M = {}

local HISTORY_MAX = 1000

local function history_path()
  local home = os.getenv("HOME")
  return home and home ~= "" and (home .. "/.curio_lua_history") or nil
end

-- A reader: read(prompt) -> line, or nil at end of input, or false after Ctrl-C.
local function edit_reader(le)
  local hist = history_path()
  if hist then le.load_history(hist) end
  local me = require("curio").current_task().id
  local reader = {}
  function reader.read(prompt)
    le.start(prompt)
    K.kcall(K.K.INTERRUPT_TARGET, me)
    while true do
      local ok, e = K.trap_nothrow(K.T.IO, 0, 0)
      if not ok then -- Ctrl-C at the prompt: drop the line, prompt again
        local errors = require "curio.errors"
        if not errors.is(e, errors.CancelledError) then error(e, 0) end
        le.cancel()
        return false
      end
      local line = le.feed()
      if line ~= nil then return line or nil end
    end
  end
  function reader.remember(text)
    if text:find("%S") then
      le.add_history(text)
      if hist then le.save_history(hist, HISTORY_MAX) end
    end
  end
  return reader
end

local function plain_reader()
  local reader = {}
  function reader.read(prompt)
    io.stdout:write(prompt)
    io.stdout:flush()
    local job = K.kcall(K.K.READ_LINE)
    K.trap(K.T.THREAD, job)
    return K.kcall(K.K.JOB_STRING, job)
  end
  function reader.remember() end
  return reader
end

function M.reader()
  if core.isatty(0) and os.getenv("TERM") ~= "dumb" then
    local ok, le = pcall(require, "curio.lineedit")
    if ok then return edit_reader(le) end
  end
  return plain_reader()
end

--- Reads one statement (more lines while it is incomplete, lua5.4's `>>`):
--- returns the chunk or nil, err; nil at end of input; false after Ctrl-C.
local function read_chunk(reader)
  local line = reader.read("> ")
  if not line then return line end
  local chunk, err = load("return " .. line, "=stdin")
  if not chunk then
    chunk, err = load(line, "=stdin")
    while not chunk and err:match("<eof>$") do
      local more = reader.read(">> ")
      if more == false then return false end
      if more == nil then break end
      line = line .. "\n" .. more
      chunk, err = load(line, "=stdin")
    end
  end
  reader.remember(line)
  return chunk or false, err
end

--- The loop: report(e, traceback) prints an error, traceback_of(task) its trace.
function M.run(curio, report, traceback_of)
  local reader = M.reader()
  local me = curio.current_task().id
  while true do
    local chunk, err = read_chunk(reader)
    if chunk == nil and err == nil then io.stdout:write("\n"); io.stdout:flush(); break end
    if chunk == false and err then
      io.stderr:write(err, "\n")
    elseif chunk then
      local t = curio.spawn(chunk)
      t._quiet = true
      K.kcall(K.K.INTERRUPT_TARGET, t.id)
      local ok = pcall(t.wait, t)
      if not ok then t:cancel() end -- the REPL itself was cancelled while waiting
      K.kcall(K.K.INTERRUPT_TARGET, me)
      local errors = require "curio.errors"
      if errors.is(t._error, errors.CancelledError) then
        io.stderr:write("interrupted\n")
      elseif t._error ~= nil then
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
  K.kcall(K.K.INTERRUPT_TARGET, 0)
end

return M
