-- Child processes with curio.subprocess: a pipeline of two children whose output
-- a task reads line by line as it comes, while other tasks keep running.
-- Run: curio-lua examples/subprocess.lua [lines]
local curio = require "curio"
local subprocess = require "curio.subprocess"
local PIPE = subprocess.PIPE

local N = tonumber(arg and arg[1]) or 5
local t0 = curio.clock()
local function stamp() return ("%5.2fs"):format(curio.clock() - t0) end

-- producer | sed: the first child writes a line every 0.1 s; its stdout is handed
-- to the second child (sed -u: unbuffered, so its lines come out as they go in),
-- whose stdout we read.
local producer = subprocess.Popen(
  ("for i in $(seq %d); do echo \"line $i of %d\"; sleep 0.1; done"):format(N, N),
  { shell = true, stdout = PIPE })
local upper <close> = subprocess.Popen({ "sed", "-u", "s/line/LINE/" }, { stdin = producer.stdout, stdout = PIPE })

-- Reads the pipeline's output live.
local reader = curio.spawn(function()
  local n = 0
  for line in upper.stdout:lines() do
    n = n + 1
    print(stamp(), "read:", line)
  end
  return n
end)

-- Meanwhile, other work goes on.
local ticker = curio.spawn(function()
  while true do
    curio.sleep(0.25)
    print(stamp(), "tick")
  end
end)

-- And one-shot commands run alongside: run() captures, check_output raises on failure.
local r = subprocess.run({ "sh", "-c", "echo to stdout; echo to stderr >&2; exit 3" }, { capture_output = true })
local function show(s) return (s:gsub("\n", "\\n")) end
print(stamp(), ("run: returncode=%d stdout=%s stderr=%s"):format(r.returncode, show(r.stdout), show(r.stderr)))
local _, e = pcall(subprocess.check_output, { "sh", "-c", "exit 2" })
print(stamp(), "check_output:", e.kind, e.returncode)
_, e = pcall(subprocess.run, { "sleep", "10" }, { timeout = 0.2 })
print(stamp(), "timeout:", e.kind)

local lines = reader:join()
print(stamp(), ("pipeline done: %d lines, exit codes %d and %d"):format(lines, producer:wait(), upper:wait()))
ticker:cancel()
