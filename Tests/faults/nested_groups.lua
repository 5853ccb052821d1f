-- Nested task groups (3 levels, several groups per level, tasks blocked at every
-- level) cancelled from outside and ended by a timeout around the outer group:
-- every task ends cancelled, every group reports it, nothing is left running.
package.path = arg[0]:gsub("[^/]*$", "") .. "?.lua;" .. package.path
local common = require "common"
local curio = require "curio"

local width = common.full and 8 or 4
local fds0 = common.fds()
local problems = {}
local started, ended = 0, 0

local function leaf()
  started = started + 1
  local ok, e = pcall(curio.sleep, 3600)
  ended = ended + 1
  error(e, 0)
end

local function level(depth)
  local g <close> = curio.TaskGroup()
  for _ = 1, width do g:spawn(depth == 0 and leaf or level, depth - 1) end
  g:spawn(leaf)
  g:join()
end

local function round()
  started, ended = 0, 0
  -- a cancel from outside
  local outer = curio.spawn(level, 3)
  curio.sleep(0.05)
  outer:cancel()
  if not outer.cancelled then problems[#problems + 1] = "the cancelled outer task did not end cancelled" end
  -- a timeout around the outer group
  local ok, e = pcall(curio.timeout_after, 0.05, level, 3)
  if ok or not curio.errors.is(e, curio.errors.TaskTimeout) then
    problems[#problems + 1] = "timeout_after around nested groups: " .. tostring(e)
  end
  if started == 0 or started ~= ended then
    problems[#problems + 1] = ("%d leaves started, %d ended"):format(started, ended)
  end
  local left = 0
  for _ in curio.tasks() do left = left + 1 end
  if left > 2 then problems[#problems + 1] = left - 2 .. " tasks left" end -- main and this one
end

-- Two rounds to warm up (the kernel's tables and the allocator's warm slabs keep
-- the first spikes' capacity), then RSS must not grow over three more.
curio.run(round)
curio.run(round)
collectgarbage()
local rss0 = common.rss()
for _ = 1, 3 do curio.run(round) end
common.report("nested_groups", problems, ("5 rounds of %d leaves in 3 levels of groups, cancelled and timed out"):format(started), fds0, rss0)
