-- A plugin with a bug: its error reaches the host with message and traceback.
function handle(event)
  return event.missing.field
end
