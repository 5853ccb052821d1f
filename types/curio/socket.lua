---@meta curio.socket
-- Non-blocking sockets whose blocking methods suspend only the calling task.

---@class curio.Socket
---@field family integer
---@field type integer
local Socket = {}
---@return curio.Socket client
---@return any addr
function Socket:accept() end
---@param host string host, or a path for Unix sockets
---@param port? integer
function Socket:connect(host, port) end
---Up to maxbytes bytes; nil at end of stream.
---@param maxbytes integer
---@return string?
function Socket:recv(maxbytes) end
---At least one byte unless data is "".
---@param data string
---@return integer
function Socket:send(data) end
---All of data (err.bytes_sent if interrupted).
---@param data string
function Socket:sendall(data) end
---@param maxbytes integer
---@return string data
---@return any addr
function Socket:recvfrom(maxbytes) end
---@param data string
---@param host string
---@param port? integer
---@return integer
function Socket:sendto(data, host, port) end
---@param host string
---@param port? integer
function Socket:bind(host, port) end
---@param backlog? integer default 128
function Socket:listen(backlog) end
---@param level integer
---@param opt integer
---@param value integer|boolean|string
function Socket:setsockopt(level, opt, value) end
---@param level integer
---@param opt integer
---@return integer
function Socket:getsockopt(level, opt) end
---@return any
function Socket:getsockname() end
---@return any
function Socket:getpeername() end
---@param how integer SHUT_RD, SHUT_WR or SHUT_RDWR
function Socket:shutdown(how) end
---@return integer fd, -1 once closed
function Socket:fileno() end
function Socket:close() end
---@return curio.Stream
function Socket:as_stream() end

---@class curio.socket
---@field AF_INET integer
---@field AF_INET6 integer
---@field AF_UNIX integer
---@field AF_UNSPEC integer
---@field SOCK_STREAM integer
---@field SOCK_DGRAM integer
---@field SOCK_RAW integer
---@field SOL_SOCKET integer
---@field SO_REUSEADDR integer
---@field SO_REUSEPORT integer
---@field SO_KEEPALIVE integer
---@field SO_BROADCAST integer
---@field SO_RCVBUF integer
---@field SO_SNDBUF integer
---@field SO_ERROR integer
---@field SO_TYPE integer
---@field SO_LINGER integer
---@field IPPROTO_IP integer
---@field IPPROTO_IPV6 integer
---@field IPPROTO_TCP integer
---@field IPPROTO_UDP integer
---@field IPV6_V6ONLY integer
---@field TCP_NODELAY integer
---@field TCP_KEEPIDLE integer
---@field TCP_KEEPINTVL integer
---@field TCP_KEEPCNT integer
---@field SHUT_RD integer
---@field SHUT_WR integer
---@field SHUT_RDWR integer
---@field AI_PASSIVE integer
---@field AI_CANONNAME integer
---@field AI_NUMERICHOST integer
---@field AI_ADDRCONFIG integer
local socket = {}
---@param family? integer default AF_INET
---@param socktype? integer default SOCK_STREAM
---@param proto? integer
---@return curio.Socket
function socket.socket(family, socktype, proto) end
---@return curio.Socket
function socket.tcp() end
---@return curio.Socket
function socket.tcp6() end
---@param family? integer
---@return curio.Socket
function socket.udp(family) end
---@return curio.Socket
function socket.unix() end
---@param family? integer
---@param socktype? integer
---@return curio.Socket, curio.Socket
function socket.socketpair(family, socktype) end
---A socket on a duplicate of fd.
---@param fd integer
---@return curio.Socket
function socket.fromfd(fd) end
---Resolves on the thread pool; numeric addresses.
---@return {family: integer, type: integer, proto: integer, addr: {host: string, port: integer}}[]
function socket.getaddrinfo(host, port, family, socktype, proto, flags) end
---The first IPv4 address of host.
---@param host string
---@return string
function socket.gethostbyname(host) end

return socket
