-- curio.coroutine: lets scripts use their own coroutines inside tasks. A curio trap
-- yielded inside a user coroutine is passed up to the kernel by the resume that
-- runs it, and the answer is passed back down; the user's own yields still go to
-- the user's resume. Installed into the global `coroutine` table by `curio`.
local K = require "curio.kernel"

local TRAP = K.TRAP
local co_resume, co_create, co_status, co_close = coroutine.resume, coroutine.create,
  coroutine.status, coroutine.close
local yield, isyieldable = coroutine.yield, coroutine.isyieldable
local NOT_IN_TASK = K.NOT_IN_TASK

local M = {}

local function forward(co, ok, first, ...)
  if ok and first == TRAP and co_status(co) == "suspended" then
    if isyieldable() then
      return forward(co, co_resume(co, yield(TRAP, ...)))
    end
    return forward(co, co_resume(co, NOT_IN_TASK, 0))
  end
  return ok, first, ...
end

function M.resume(co, ...)
  return forward(co, co_resume(co, ...))
end
local resume = M.resume

local function wrap_results(co, ok, ...)
  if ok then return ... end
  local err = ...
  if co_status(co) == "dead" then co_close(co) end
  error(err, 0)
end

function M.wrap(f)
  local co = co_create(f)
  return function(...)
    return wrap_results(co, resume(co, ...))
  end
end

function M.install()
  coroutine.resume = M.resume
  coroutine.wrap = M.wrap
end

return M
