-- curio.universal: UniversalQueue and UniversalEvent, shared by kernel tasks,
-- worker threads' Lua states and Swift host threads (Sources/CLuaShim/universal.c).
-- In a task only the task waits (a kernel wake-up through the inbox); in a worker
-- state the OS thread blocks. Items are encoded on put and decoded on get, so
-- only transferable values go through.
local core = require "curio.core"
local K = require "curio.kernel"
local errors = require "curio.errors"
local cu = require "curio.cuniversal"

local kcall, trap, THREAD = core.kcall, core.trap, K.T.THREAD
local OP_UNIVERSAL_WAIT = core.K.UNIVERSAL_WAIT -- Sources/CurioLua/LuaRuntime+Workers.swift
local WAIT_GET, WAIT_PUT, WAIT_JOIN, WAIT_SET = cu.WAIT_GET, cu.WAIT_PUT, cu.WAIT_JOIN, cu.WAIT_SET
local in_worker = cu.in_worker()

local M = {}

-- Suspends the current task until `what` may hold (the caller re-checks).
local function wait(obj, what)
  if not K.current() then error(errors.NotInTask("must be called inside a curio task"), 3) end
  local job = kcall(OP_UNIVERSAL_WAIT, obj, what)
  if job then trap(THREAD, job) end
end

local function check_self(self, mt, name, method)
  if getmetatable(self) ~= mt then
    error(("bad argument #1 to '%s' (%s expected, got %s; use %s:%s)"):format(method, name,
      type(self), name, method), 3)
  end
end

-- UniversalQueue ------------------------------------------------------------

local QMT = cu.metatable(1)
local Q = {}
QMT.__index = Q
QMT.__name = "UniversalQueue"
QMT.__tostring = function(q)
  return ("UniversalQueue(size=%d, maxsize=%d)"):format(cu.qsize(q), cu.maxsize(q))
end

function M.UniversalQueue(maxsize)
  if maxsize == nil then maxsize = 0 end
  if math.type(maxsize) ~= "integer" and not (type(maxsize) == "number" and maxsize == math.floor(maxsize)
      and maxsize >= 0 and maxsize < 2^53) then
    error(("bad argument #1 to 'UniversalQueue' (non-negative integer expected, got %s)"):format(
      type(maxsize) == "number" and tostring(maxsize) or type(maxsize)), 2)
  end
  if maxsize < 0 then
    error(("bad argument #1 to 'UniversalQueue' (non-negative integer expected, got %d)"):format(maxsize), 2)
  end
  return cu.new_queue(math.tointeger(maxsize))
end

--- put(item): appends item (a transferable value, not nil), waiting while full.
function Q:put(item)
  check_self(self, QMT, "UniversalQueue", "put")
  if item == nil then error("bad argument #1 to 'put' (item must not be nil)", 2) end
  local box, err = cu.pack(self, item)
  if not box then error(errors.TransferError(err), 2) end
  if in_worker then cu.put_block(self, box) return end
  while not cu.tryput(self, box) do wait(self, WAIT_PUT) end
end

--- get(): removes and returns the oldest item, waiting while empty.
function Q:get()
  check_self(self, QMT, "UniversalQueue", "get")
  if in_worker then
    local _, v = cu.get_block(self)
    return v
  end
  while true do
    local ok, v = cu.tryget(self)
    if ok then return v end
    wait(self, WAIT_GET)
  end
end

function Q:qsize() check_self(self, QMT, "UniversalQueue", "qsize") return cu.qsize(self) end
function Q:empty() check_self(self, QMT, "UniversalQueue", "empty") return cu.qsize(self) == 0 end
function Q:full()
  check_self(self, QMT, "UniversalQueue", "full")
  local m = cu.maxsize(self)
  return m > 0 and cu.qsize(self) >= m
end

--- task_done(): one fewer unfinished item (join returns when none is left).
function Q:task_done()
  check_self(self, QMT, "UniversalQueue", "task_done")
  if not cu.task_done(self) then error(errors.CurioError("task_done() called too many times"), 2) end
end

--- join(): waits until every item put has been marked done.
function Q:join()
  check_self(self, QMT, "UniversalQueue", "join")
  if in_worker then cu.join_block(self) return end
  while cu.unfinished(self) > 0 do wait(self, WAIT_JOIN) end
end

-- UniversalEvent ------------------------------------------------------------

local EMT = cu.metatable(2)
local E = {}
EMT.__index = E
EMT.__name = "UniversalEvent"
EMT.__tostring = function(e) return ("UniversalEvent(set=%s)"):format(cu.is_set(e)) end

function M.UniversalEvent() return cu.new_event() end

function E:set() check_self(self, EMT, "UniversalEvent", "set") cu.set(self) end
function E:clear() check_self(self, EMT, "UniversalEvent", "clear") cu.clear(self) end
function E:is_set() check_self(self, EMT, "UniversalEvent", "is_set") return cu.is_set(self) end

--- wait(): returns once the event is set.
function E:wait()
  check_self(self, EMT, "UniversalEvent", "wait")
  if in_worker then cu.wait_block(self) return end
  while not cu.is_set(self) do wait(self, WAIT_SET) end
end

return M
