-- Uses the host's async and blocking functions, and curio to do two at once.
local curio = require "curio"

function handle(event)
  -- host.fetch is async in Swift: only this task waits, the runtime goes on.
  local a = curio.spawn(host.fetch, "temp:" .. event.name)
  local b = curio.spawn(host.fetch, "wind:" .. event.name)
  local report = ("%s: %s, %s"):format(event.name, a:join(), b:join())
  notices:put("weather reported for " .. event.name) -- a Universal queue shared with Swift
  -- host.checksum runs on the thread pool (blocking work).
  return report .. " #" .. host.checksum(report)
end
