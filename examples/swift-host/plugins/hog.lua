-- A misbehaving plugin: allocates without bound. Its runtime's memory limit
-- makes the allocation fail inside the handler.
function handle(event)
  local t = {}
  for i = 1, math.huge do t[i] = ("x"):rep(1000) .. i end
end
