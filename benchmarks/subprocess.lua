-- The curio-lua side of benchmarks/subprocess_c.c (same arguments, same output):
--   curio-lua benchmarks/subprocess.lua seq N | inflight N K | cat MIB REPS [generational]
-- ("generational": the same with Lua's generational collector, for comparison).
local curio = require "curio"
local subprocess = require "curio.subprocess"
local Popen, PIPE = subprocess.Popen, subprocess.PIPE

local mode = arg[1]
local TRUE = { "/bin/true" }

if mode == "seq" then
  local n = tonumber(arg[2])
  local t0 = curio.clock()
  for _ = 1, n do Popen(TRUE):wait() end
  print(("spawn_seq %.1f spawns/s"):format(n / (curio.clock() - t0)))
elseif mode == "inflight" then
  local n, k = tonumber(arg[2]), tonumber(arg[3])
  local started = 0
  local t0 = curio.clock()
  local g <close> = curio.TaskGroup()
  for _ = 1, math.min(k, n) do
    g:spawn(function()
      while started < n do
        started = started + 1
        Popen(TRUE):wait()
      end
    end)
  end
  g:join()
  print(("spawn_inflight %.1f spawns/s"):format(n / (curio.clock() - t0)))
elseif mode == "cat" then
  local mib, reps = tonumber(arg[2]), tonumber(arg[3])
  local name = "cat"
  if arg[4] == "generational" then
    collectgarbage("generational")
    name = "cat_generational"
  end
  local data = string.rep("x", 1 << 20)
  local dt = 0
  for _ = 1, reps do
    local t0 = curio.clock()
    local p <close> = Popen({ "cat" }, { stdin = PIPE, stdout = PIPE })
    local writer = curio.spawn(function()
      for _ = 1, mib do p.stdin:write(data) end
      p.stdin:close()
    end)
    local got, out = 0, p.stdout
    while true do
      local chunk = out:read(65536)
      if not chunk then break end
      got = got + #chunk
    end
    writer:join()
    p:wait()
    dt = dt + curio.clock() - t0
    assert(got == mib << 20, "cat: short output")
  end
  print(("%s %.1f MB/s"):format(name, (mib * reps << 20) / dt / 1e6))
else
  io.stderr:write("usage: subprocess.lua seq N | inflight N K | cat MIB REPS\n")
  os.exit(2)
end
