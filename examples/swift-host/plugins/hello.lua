-- The smallest plugin: a handler the host calls for each event.
function handle(event)
  host.log("hello got " .. event.name)
  return "hello, " .. event.name .. "!"
end
