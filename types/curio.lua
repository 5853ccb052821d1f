---@meta curio
-- LuaLS annotations for curio-lua (https://luals.github.io). Point your
-- .luarc.json at this folder: { "workspace.library": ["/usr/local/share/curio-lua/types"] }
-- or write them out with `curio-lua --types DIR`.

---@class curio
---@field errors curio.errors Error classes.
---@field socket curio.socket The socket module.
---@field test curio.test The test runner's module.
---@field stdin curio.Stream Standard input as a stream (set up at first use).
---@field stdout curio.Stream Standard output as a stream (flushes io.stdout first).
---@field stderr curio.Stream Standard error as a stream (flushes io.stderr first).
local curio = {}

---Runs `fn(...)` as the main task of a fresh kernel and returns its results (or
---re-raises its error). Inside a running kernel, runs it as a task and waits.
---@param fn function
---@param ... any
---@return any ...
function curio.run(fn, ...) end

---Starts a task running `fn(...)`; never suspends the caller.
---@param fn function|table a function or callable table
---@param ... any
---@return curio.Task
function curio.spawn(fn, ...) end

---Like spawn, for a daemon task (cancelled, not waited for, at shutdown).
---@param fn function|table
---@param ... any
---@return curio.Task
function curio.spawn_daemon(fn, ...) end

---An iterator over the live tasks of the running kernel, in id order.
---@return fun(): curio.Task?
function curio.tasks() end

---The running task, or nil outside any task.
---@return curio.Task?
function curio.current_task() end

---Sleeps `seconds` (0: to the back of the ready queue). Returns the clock at wake-up.
---@param seconds number
---@return number clock
function curio.sleep(seconds) end

---Yields to other ready tasks (sleep(0)).
function curio.schedule() end

---Sleeps until the kernel clock reaches `clock`.
---@param clock number
---@return number clock
function curio.wake_at(clock) end

---The kernel's monotonic clock in seconds (virtual under the test runner's virtual clock).
---@return number
function curio.clock() end

---Runs `fn(...)` with a deadline `seconds` from now; raises TaskTimeout when it expires.
---@param seconds number?
---@param fn function
---@param ... any
---@return any ...
function curio.timeout_after(seconds, fn, ...) end

---Like timeout_after, but returns nil instead of raising on timeout.
---@param seconds number?
---@param fn function
---@param ... any
---@return any ...
function curio.ignore_after(seconds, fn, ...) end

---timeout_after with an absolute deadline on curio.clock().
---@param clock number?
---@param fn function
---@param ... any
---@return any ...
function curio.timeout_at(clock, fn, ...) end

---ignore_after with an absolute deadline on curio.clock().
---@param clock number?
---@param fn function
---@param ... any
---@return any ...
function curio.ignore_at(clock, fn, ...) end

---Runs `fn(...)` with cancellation deferred until the next blocking call after it.
---@param fn function
---@param ... any
---@return any ...
function curio.disable_cancellation(fn, ...) end

---The pending cancellation error (not raised, not cleared), or nil.
---@return curio.CurioError?
function curio.check_cancellation() end

---@class curio.TaskGroupOptions
---@field wait? "all"|"any"|"object"|"none" when the group's block may exit

---A group of tasks whose lifetime is a block: `local g <close> = curio.TaskGroup()`.
---@param opts? curio.TaskGroupOptions
---@return curio.TaskGroup
function curio.TaskGroup(opts) end

---@return curio.Event
function curio.Event() end
---@return curio.Lock
function curio.Lock() end
---@return curio.RLock
function curio.RLock() end
---@param n? integer permits (default 1)
---@return curio.Semaphore
function curio.Semaphore(n) end
---A semaphore whose release past its initial value raises.
---@param n? integer
---@return curio.Semaphore
function curio.BoundedSemaphore(n) end
---@param lock? curio.Lock|curio.RLock
---@return curio.Condition
function curio.Condition(lock) end
---FIFO queue; maxsize 0 is unbounded.
---@param maxsize? integer
---@return curio.Queue
function curio.Queue(maxsize) end
---Smallest item first (by `<`), ties FIFO.
---@param maxsize? integer
---@return curio.Queue
function curio.PriorityQueue(maxsize) end
---Last in, first out.
---@param maxsize? integer
---@return curio.Queue
function curio.LifoQueue(maxsize) end
---Task-local storage: fields are per task, copied to spawned tasks.
---@return table
function curio.Local() end

---@class curio.ConnectionOptions
---@field timeout? number seconds for resolving and connecting
---@field source_addr? {[1]: string, [2]: integer} address to bind first

---Connects to host:port (names resolved, addresses tried in order).
---@param host string
---@param port integer
---@param opts? curio.ConnectionOptions
---@return curio.Socket
function curio.open_connection(host, port, opts) end

---@param path string
---@return curio.Socket
function curio.open_unix_connection(path) end

---@class curio.ServerOptions
---@field backlog? integer listen backlog (128)
---@field reuse_address? boolean default true
---@field reuse_port? boolean
---@field family? integer

---A listening TCP socket.
---@param host string
---@param port integer
---@param opts? curio.ServerOptions
---@return curio.Socket
function curio.tcp_server_socket(host, port, opts) end

---A listening Unix socket.
---@param path string
---@param opts? curio.ServerOptions
---@return curio.Socket
function curio.unix_server_socket(path, opts) end

---Accepts forever, running handler(client, addr) in a task per connection.
---@param sock curio.Socket
---@param handler fun(client: curio.Socket, addr: any)
function curio.run_server(sock, handler) end

---run_server over tcp_server_socket(host, port, opts).
---@param host string
---@param port integer
---@param handler fun(client: curio.Socket, addr: any)
---@param opts? curio.ServerOptions
function curio.tcp_server(host, port, handler, opts) end

---run_server over unix_server_socket(path, opts).
---@param path string
---@param handler fun(client: curio.Socket, addr: any)
---@param opts? curio.ServerOptions
function curio.unix_server(path, handler, opts) end

---Opens a file as a stream (C modes "r", "w", "a", "x", with "+"); I/O on the thread pool.
---@param path string
---@param mode? string
---@return curio.FileStream
function curio.open_file(path, mode) end
curio.aopen = curio.open_file

-- Every error class is also on curio (curio.TaskTimeout ...).
curio.CurioError = nil ---@type curio.ErrorClass
curio.CancelledError = nil ---@type curio.ErrorClass
curio.TaskCancelled = nil ---@type curio.ErrorClass
curio.TaskTimeout = nil ---@type curio.ErrorClass
curio.TimeoutCancellationError = nil ---@type curio.ErrorClass
curio.TaskError = nil ---@type curio.ErrorClass
curio.UncaughtTimeoutError = nil ---@type curio.ErrorClass
curio.NotInTask = nil ---@type curio.ErrorClass
curio.ResourceBusy = nil ---@type curio.ErrorClass
curio.BrokenResource = nil ---@type curio.ErrorClass
curio.OSError = nil ---@type curio.ErrorClass
curio.IncompleteRead = nil ---@type curio.ErrorClass

-- ------------------------------------------------------------------ classes

---@class curio.Task
---@field id integer increasing from 1 in each kernel (read-only)
---@field name string settable
---@field parent_id integer 0 for the main task (read-only)
---@field daemon boolean (read-only)
---@field state string READY, RUNNING, SLEEP, READ_WAIT, ... TERMINATED (read-only)
---@field cycles integer times resumed (read-only)
---@field timeout number? effective deadline (read-only)
local Task = {}
---Waits and returns the task's results; raises TaskError if it failed or was cancelled.
---@return any ...
function Task:join() end
---Waits without raising.
function Task:wait() end
---The results of a finished task (raises CurioError if not done).
---@return any ...
function Task:result() end
---The task's error, or nil.
---@return any
function Task:exception() end
---@return boolean
function Task:done() end
---True once a cancel call took effect.
---@return boolean
function Task:cancelled() end
---Where the task is suspended ("" once terminated).
---@return string
function Task:traceback() end
---Delivers TaskCancelled (or opts.error) at the task's blocking call; waits unless blocking=false.
---@param opts? boolean|{blocking?: boolean, error?: any}
---@return boolean caused whether this call caused the cancellation
function Task:cancel(opts) end

---@class curio.TaskGroup
---@field completed curio.Task? the task that satisfied the policy (or failed, for "all")
local TaskGroup = {}
---@param fn function
---@param ... any
---@return curio.Task
function TaskGroup:spawn(fn, ...) end
---@param fn function
---@param ... any
---@return curio.Task
function TaskGroup:spawn_daemon(fn, ...) end
---@param task curio.Task
function TaskGroup:add_task(task) end
---The next member to finish, or nil when none is left.
---@return curio.Task?
function TaskGroup:next_done() end
---The results of the next member to finish.
---@return any ...
function TaskGroup:next_result() end
---Iterator over members as they finish.
---@return fun(): curio.Task?
function TaskGroup:each_done() end
---@return curio.Task[]
function TaskGroup:tasks() end
---Waits per the group's policy, then cancels the rest.
function TaskGroup:join() end
---Cancels the remaining members (newest first) and waits for them.
function TaskGroup:cancel_remaining() end
---The results of `completed`.
---@return any ...
function TaskGroup:result() end
---@return any
function TaskGroup:exception() end
---The first result of every member, in spawn order.
---@return any[]
function TaskGroup:results() end
---@return table
function TaskGroup:exceptions() end
function TaskGroup:close() end

---@class curio.Event
local Event = {}
function Event:set() end
function Event:clear() end
---@return boolean
function Event:is_set() end
---Waits until set (returns at once if it is).
function Event:wait() end

---A guard that releases when closed: `local _ <close> = lock:hold()`.
---@class curio.Guard
local Guard = {}
function Guard:close() end

---@class curio.Lock
local Lock = {}
function Lock:acquire() end
function Lock:release() end
---@return boolean
function Lock:locked() end
---@return curio.Guard
function Lock:hold() end

---@class curio.RLock: curio.Lock

---@class curio.Semaphore: curio.Lock
---@field value integer permits left

---@class curio.Condition: curio.Lock
local Condition = {}
function Condition:wait() end
---@param predicate fun(): any
---@return any
function Condition:wait_for(predicate) end
---@param n? integer
function Condition:notify(n) end
function Condition:notify_all() end

---@class curio.Queue
local Queue = {}
---Adds an item (not nil); waits only if the queue is bounded and full.
---@param item any
function Queue:put(item) end
---Removes and returns the next item; waits while empty.
---@return any
function Queue:get() end
---@return boolean
function Queue:empty() end
---@return boolean
function Queue:full() end
---@return integer
function Queue:qsize() end
function Queue:task_done() end
---Waits until every item put was marked done.
function Queue:join() end

---@class curio.Stream
local Stream = {}
---Up to n bytes (nil at end); read() / read("a") everything; read("l"/"L") a line.
---@param n? integer|string
---@return string?
function Stream:read(n) end
---@return string
function Stream:readall() end
---Exactly n bytes, or IncompleteRead.
---@param n integer
---@return string
function Stream:read_exactly(n) end
---The next line with its "\n", nil at end.
---@return string?
function Stream:readline() end
---@return fun(): string?
function Stream:lines() end
---@return string[]
function Stream:readlines() end
---@param data string
---@return integer
function Stream:write(data) end
---@param list string[]
function Stream:writelines(list) end
function Stream:flush() end
function Stream:close() end
---@return integer
function Stream:fileno() end

---@class curio.FileStream: curio.Stream
local FileStream = {}
---@param whence? "set"|"cur"|"end"
---@param offset? integer
---@return integer position
function FileStream:seek(whence, offset) end
---@return integer
function FileStream:tell() end

return curio
