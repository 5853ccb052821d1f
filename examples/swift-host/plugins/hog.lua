-- A misbehaving plugin: allocates without bound. Its runtime's memory limit
-- makes the allocation fail inside the handler (the memory is freed after).
function handle(event)
  local t = {}
  for i = 1, math.huge do t[#t + 1] = event.name:rep(1000) .. i end
end
