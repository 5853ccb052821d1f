-- The TLS examples, each run as its own process; https_hello.lua is driven by curl.
local curio = require "curio"
local support = require "support"

local have_curl = support.sh("command -v curl")
have_curl = have_curl and have_curl:find("curl") ~= nil
local CA = "Tests/lua/fixtures/ssl/ca.pem"

local function free_port()
  local s = curio.tcp_server_socket("127.0.0.1", 0)
  local port = s:getsockname().port
  s:close()
  return port
end

-- Starts `curio-lua example port` in the background; waits until it accepts.
local function start(example)
  local port = free_port()
  local log = os.tmpname()
  local p = io.popen(("'%s' %s %d > %s 2>&1 & echo $!"):format(support.exe, example, port, log))
  local pid = p:read("l")
  p:close()
  for _ = 1, 250 do
    local ok, c = pcall(curio.open_connection, "127.0.0.1", port)
    if ok then c:close() break end
    curio.sleep(0.02)
  end
  local function stop()
    os.execute("kill " .. pid .. " 2>/dev/null")
    local f = io.open(log)
    local out = f and f:read("a") or ""
    if f then f:close() end
    os.remove(log)
    return out
  end
  return port, stop
end

describe("TLS examples", function()
  it("tls_echo.lua: server and client", function()
    local port, stop = start("examples/tls_echo.lua server")
    local out, rc = support.run(("examples/tls_echo.lua client localhost %d %s one 'two words'"):format(port, CA))
    local log = stop()
    assert.equal(0, rc, out)
    assert.matches("connected to localhost %(TLSv1%.3, ", out)
    assert.matches("echo:\tone\necho:\ttwo words\n", out)
    assert.matches("connection from\t127%.0%.0%.1:%d+\tTLSv1%.3", log)
  end)

  it("https_hello.lua answers curl --cacert, with keep-alive", function()
    if not have_curl then return end
    local port, stop = start("examples/https_hello.lua")
    local url = ("https://localhost:%d/"):format(port)
    local out, rc = support.sh(("curl -sS --max-time 10 --cacert %s %s %s -w '%%{http_version} %%{num_connects}\\n'")
      :format(CA, url, url))
    -- Without the CA, curl refuses the certificate.
    local bad, brc = support.sh(("curl -sS --max-time 10 %s"):format(url))
    stop()
    assert.equal(0, rc, out)
    assert.matches("^hello\n1%.1 1\nhello\n1%.1 0\n$", out) -- the second request reused the connection
    assert.is_true(brc ~= 0, bad)
  end)
end)
