-- The TLS examples, each run as its own process; https_hello.lua is driven by curl.
local curio = require "curio"
local support = require "support"

local have_curl = support.sh("command -v curl")
have_curl = have_curl and have_curl:find("curl") ~= nil
local CA = "Tests/lua/fixtures/ssl/ca.pem"

local free_port = require("support").free_port

-- Starts an example; returns its port and stop() (which returns its output).
local function start(example)
  local port, _, stop = support.start_example(example)
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
