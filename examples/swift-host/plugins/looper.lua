-- A misbehaving plugin: its handler never returns. The instruction budget (or
-- the per-call timeout) stops it; the other plugins are not slowed down.
function handle(event)
  local n = 0
  while event do n = n + 1 end
  return n
end
