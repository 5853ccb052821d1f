-- Shared by the Lua fault scripts: fd count, RSS and the one PASS/FAIL line.
local M = {}

M.full = os.getenv("FAULTS_FULL") == "1"

function M.fds()
  local p = io.popen("ls /proc/" .. M.pid() .. "/fd | wc -l")
  local n = tonumber(p:read("a"))
  p:close()
  return n - 1 -- the pipe of popen itself
end

function M.pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("a"):match("^(%d+)")
  f:close()
  return pid
end

function M.rss()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s+(%d+)"))
end

-- n bytes of a pattern that depends on seed (a byte lost or moved shows).
function M.pattern(n, seed)
  local t = {}
  for i = 1, 251 do t[i] = string.char((i * 7 + seed) % 251) end
  return table.concat(t):rep(n // 251 + 1):sub(1, n)
end

-- Children of this process (other than the `ps` pipeline's own shell), and zombies.
function M.children()
  local p = io.popen("ps -o pid=,stat=,comm= --ppid " .. M.pid())
  local n, z = 0, 0
  for line in p:lines() do
    local stat, comm = line:match("^%s*%d+%s+(%S+)%s+(%S+)")
    if comm ~= "sh" and comm ~= "ps" then
      n = n + 1
      if stat:sub(1, 1) == "Z" then z = z + 1 end
    end
  end
  p:close()
  return n, z
end

-- Collects (two cycles: finalizers) and gives free memory back (as run_server
-- does when idle): RSS then shows what is kept, not glibc's free lists.
function M.settle()
  collectgarbage()
  collectgarbage()
  require("curio.core").trim_memory()
end

-- RSS after settle(): the baseline of a script's rounds.
function M.baseline()
  M.settle()
  return M.rss()
end

-- Prints the line and exits with its status; adds the common checks (fds back to
-- fds0; RSS within 10% + 2 MiB of rss0, measured after a first round; `slack`
-- {ratio, kib} widens that where memory plateaus over several rounds).
function M.report(name, problems, detail, fds0, rss0, slack)
  slack = slack or { 1.1, 2048 }
  M.settle()
  local fds = M.fds()
  for _ = 1, 20 do -- a pool thread may still be closing a descriptor
    if fds <= fds0 then break end
    os.execute("sleep 0.1")
    fds = M.fds()
  end
  local rss = M.rss()
  if fds > fds0 then problems[#problems + 1] = ("fds %d (start %d)"):format(fds, fds0) end
  if rss > rss0 * slack[1] + slack[2] then problems[#problems + 1] = ("RSS %d KiB (start %d)"):format(rss, rss0) end
  local ok = #problems == 0
  print(("%s %s: %s fds %d->%d rss %d->%d KiB%s"):format(ok and "PASS" or "FAIL", name, detail, fds0, fds, rss0, rss,
    ok and "" or " -- " .. table.concat(problems, "; ")))
  io.stdout:flush()
  os.exit(ok and 0 or 1)
end

return M
