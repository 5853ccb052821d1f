-- curio.network: opening connections and running servers over curio.socket.
local socket = require "curio.socket"
local errors = require "curio.errors"
local task = require "curio.task"
local time = require "curio.time"
local K = require "curio.kernel"
local c = require "curio.csocket"
local core = require "curio.core"

local AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC = socket.AF_INET, socket.AF_INET6, socket.AF_UNIX, socket.AF_UNSPEC
local SOCK_STREAM = socket.SOCK_STREAM
local is = errors.is

local M = {}

local check = require "curio.check"
local argerror = check.argerror

local function check_callable(fn, i, fname)
  local mt = getmetatable(fn)
  if type(fn) ~= "function" and not (mt and mt.__call) then argerror(i, fname, "function", fn) end
end

local function check_opts(opts, i, fname)
  if opts ~= nil and type(opts) ~= "table" then argerror(i, fname, "table", opts) end
  opts = opts or {}
  if opts.ssl then require("curio.ssl")._check_option(opts, i, fname, fname ~= "open_connection") end
  return opts
end

local function check_port(port, i, fname)
  return check.int(port, i, fname, 0, 65535) -- "8080" is taken, as by the socket calls
end

-- The family of a numeric host, or nil if the name must be resolved.
local function numeric_family(host)
  if host == "" or host == "*" or host == "localhost" then return AF_INET end
  if host:find(":", 1, true) then return AF_INET6 end
  if host:match("^%d+%.%d+%.%d+%.%d+$") then return AF_INET end
  return nil
end

-- Runs f(sock) on a new socket; closes the socket if f fails.
local function with_new_socket(family, f)
  local sock = socket.socket(family, SOCK_STREAM)
  local ok, e = pcall(f, sock)
  if not ok then
    sock:close()
    error(e, 0)
  end
  return sock
end

local function source_of(src)
  if src == nil then return nil end
  if type(src) == "string" then return src, 0 end
  if type(src) == "table" then return src.host or src[1] or "", src.port or src[2] or 0 end
  argerror(3, "open_connection", "source_addr as {host, port}", src)
end

local function connect_to(family, host, port, opts)
  return with_new_socket(family, function(sock)
    local shost, sport = source_of(opts.source_addr)
    if shost then sock:bind(shost, sport) end
    sock:connect(host, port)
  end)
end

--- open_connection(host, port, [opts]) -> a connected socket. opts: timeout
--- (seconds, the TLS handshake included), source_addr ({host, port}); ssl (true
--- or a client SSLContext), server_hostname (default: host), alpn_protocols give
--- an SSL socket (curio.ssl). A host name is resolved on the thread pool and its
--- addresses are tried in order.
function M.open_connection(host, port, opts)
  if type(host) ~= "string" then argerror(1, "open_connection", "string", host) end
  port = check_port(port, 2, "open_connection")
  opts = check_opts(opts, 3, "open_connection")
  local function go()
    local family = numeric_family(host)
    if family then return connect_to(family, host, port, opts) end
    local last
    for _, a in ipairs(socket.getaddrinfo(host, port, AF_UNSPEC, SOCK_STREAM)) do
      local ok, s = pcall(connect_to, a.family, a.addr.host, a.addr.port, opts)
      if ok then return s end
      if not is(s, errors.OSError) then error(s, 0) end -- cancellation, timeout
      last = s
    end
    error(last or errors.new(errors.OSError, ("open_connection %s: no address"):format(host),
      { errno = -2, code = "EAI_NONAME" }), 0)
  end
  local connect = go
  if opts.ssl then
    connect = function() return require("curio.ssl")._client(go(), host, opts) end
  end
  if opts.timeout then return time.timeout_after(opts.timeout, connect) end
  return connect()
end

--- open_unix_connection(path) -> a connected Unix stream socket.
function M.open_unix_connection(path)
  if type(path) ~= "string" then argerror(1, "open_unix_connection", "string", path) end
  return with_new_socket(AF_UNIX, function(sock) sock:connect(path) end)
end

--- tcp_server_socket(host, port, [opts]) -> a listening socket. opts: backlog
--- (128), reuse_address (true), reuse_port (false), family (from the host).
function M.tcp_server_socket(host, port, opts)
  host = host or ""
  if type(host) ~= "string" then argerror(1, "tcp_server_socket", "string", host) end
  port = check_port(port, 2, "tcp_server_socket")
  opts = check_opts(opts, 3, "tcp_server_socket")
  local family = opts.family or numeric_family(host)
  if not family then
    local a = socket.getaddrinfo(host, port, AF_UNSPEC, SOCK_STREAM, 0, socket.AI_PASSIVE)[1]
    if not a then error(errors.new(errors.OSError, "tcp_server_socket " .. host .. ": no address"), 0) end
    family, host = a.family, a.addr.host
  end
  return with_new_socket(family, function(sock)
    if opts.reuse_address ~= false then sock:setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1) end
    if opts.reuse_port then sock:setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1) end
    sock:bind(host, port)
    sock:listen(opts.backlog or 128)
  end)
end

--- unix_server_socket(path, [opts]) -> a listening Unix socket (opts.backlog).
--- As in curio, an existing file at `path` is an error (EADDRINUSE): remove it first.
function M.unix_server_socket(path, opts)
  if type(path) ~= "string" then argerror(1, "unix_server_socket", "string", path) end
  opts = check_opts(opts, 2, "unix_server_socket")
  return with_new_socket(AF_UNIX, function(sock)
    sock:bind(path)
    sock:listen(opts.backlog or 128)
  end)
end

-- Errors at accept that concern only the connection being accepted.
local TRANSIENT = { [c.ECONNABORTED] = true, [c.EPROTO] = true, [c.EPERM] = true }

-- When the last client of a server has gone and Lua holds 4 MiB more than after the
-- last such collection, collect and give the memory back: an idle server allocates
-- nothing, so the garbage of a spike of connections (their tasks, stacks and
-- buffers) would otherwise stay until the next spike (docs/reliability.md). At
-- most one full collection per 4 MiB allocated, and only when no client is left.
-- Or per 1,000 connections: what a TLS connection holds (OpenSSL's buffers, ~30
-- KiB) is C memory that Lua's count does not see, freed when its socket is.
local idle_kib, served = 0, 0
local function collect_if_spike()
  local kib = collectgarbage("count")
  if kib < idle_kib + 4096 and served < 1000 then return end
  collectgarbage()
  collectgarbage() -- what finalizers (sockets' __gc) kept goes in the second cycle
  core.trim_memory()
  idle_kib, served = collectgarbage("count"), 0
end

-- Each client runs in its own task, which removes itself from the server's set
-- and closes its socket however the handler ends.
local Untrack = { __close = function(g)
  g.set[g.task] = nil
  if next(g.set) == nil then collect_if_spike() end
end }

local function client_main(clients, handler, client, addr)
  local _ <close> = setmetatable({ set = clients, task = K.current() }, Untrack)
  local _ <close> = client
  served = served + 1
  return handler(client, addr)
end

--- run_server(sock, handler): accepts connections on the listening socket forever,
--- running handler(client, addr) in a new task per connection and closing the
--- client when it returns. A handler's error is reported (Task Crash) and the
--- server goes on. Cancelling the server cancels its handlers and closes their
--- sockets and the listening one. Returns if another task closes `sock`.
function M.run_server(sock, handler, name_fn) -- name_fn (internal): names crash reports
  if not socket.is_socket(sock) then argerror(1, "run_server", "socket", sock) end
  check_callable(handler, 2, "run_server")
  local clients = {}
  local ok, e = pcall(function()
    while true do
      local accepted, client, addr = pcall(sock.accept, sock)
      if accepted then
        local t = task.spawn(client_main, clients, handler, client, addr)
        rawset(t, "_fn_for_name", name_fn or handler) -- report crashes under the handler's name
        clients[t] = true
      elseif sock:fileno() < 0 then
        return -- closed by another task: a clean stop
      elseif not TRANSIENT[client.errno] then
        error(client, 0)
      end
    end
  end)
  -- Cancel the handlers (newest first) and wait until their sockets are closed.
  time.disable_cancellation(function()
    local list = {}
    for t in pairs(clients) do list[#list + 1] = t end
    table.sort(list, function(a, b) return a.id > b.id end)
    for _, t in ipairs(list) do t:cancel(false) end
    for _, t in ipairs(list) do t:wait() end
  end)
  sock:close()
  if not ok then error(e, 0) end
end

--- tcp_server(host, port, handler, [opts]): serves forever (see run_server);
--- opts as tcp_server_socket, and ssl (a server SSLContext: each client's TLS
--- handshake runs in its task, bounded by ssl_handshake_timeout, default 60 s;
--- one that fails ends that connection only).
function M.tcp_server(host, port, handler, opts)
  check_callable(handler, 3, "tcp_server")
  opts = check_opts(opts, 4, "tcp_server")
  local serve = handler
  if opts.ssl then serve = require("curio.ssl")._server_handler(opts.ssl, handler, opts) end
  return M.run_server(M.tcp_server_socket(host, port, opts), serve, handler)
end

--- unix_server(path, handler, [opts])
function M.unix_server(path, handler, opts)
  check_callable(handler, 2, "unix_server")
  return M.run_server(M.unix_server_socket(path, opts), handler)
end

return M
