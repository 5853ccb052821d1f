-- curio.local: task-local storage. `local l = curio.Local(); l.x = 1` sets x for
-- the current task only; a spawned task starts with a copy of its parent's values.
local K = require "curio.kernel"

local M = {}
local LocalMT = { __name = "curio.Local" }
local hooked = false -- spawn copies values only once a Local exists

-- Outside any task (e.g. code run by an embedding host) values live here.
local outside = setmetatable({}, { __mode = "k" })

local function storage(self, create)
  local t = K.current()
  local all
  if t then
    all = rawget(t, "_locals")
    if not all then
      if not create then return nil end
      all = setmetatable({}, { __mode = "k" })
      rawset(t, "_locals", all)
    end
  else
    all = outside
  end
  local s = all[self]
  if not s and create then
    s = {}
    all[self] = s
  end
  return s
end

LocalMT.__index = function(self, k)
  local s = storage(self, false)
  return s and s[k]
end
LocalMT.__newindex = function(self, k, v)
  storage(self, true)[k] = v
end
LocalMT.__tostring = function() return "curio.Local" end

function M.Local()
  if not hooked then -- from now on, spawn copies the parent's values
    hooked = true
    require("curio.core").set_spawn_hook(function(child)
      local parent = K.current()
      if parent then M.inherit(parent, child) end
    end)
  end
  return setmetatable({}, LocalMT)
end

--- Called at spawn: the child starts with a copy of the parent's values.
function M.inherit(parent, child)
  local all = rawget(parent, "_locals")
  if not all then return end
  local copy = setmetatable({}, { __mode = "k" })
  for obj, values in pairs(all) do
    local c = {}
    for k, v in pairs(values) do c[k] = v end
    copy[obj] = c
  end
  rawset(child, "_locals", copy)
end

return M
