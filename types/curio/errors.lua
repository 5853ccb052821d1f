---@meta curio.errors
-- Error classes: an error is a table whose metatable is its class.

---@class curio.CurioError
---@field kind string the class name ("TaskTimeout" ...)
---@field message string
---@field cause any the error behind this one (TaskError)
---@field task curio.Task? (TaskError)
---@field clock number? when a timeout fired (TaskTimeout)
---@field errno integer? (OSError)
---@field partial string? (IncompleteRead)
---@field bytes_sent integer? (sendall)
local CurioError = {}
---@param cls curio.ErrorClass
---@return boolean
function CurioError:is(cls) end

---@class curio.ErrorClass
---@overload fun(message?: string, fields?: table): curio.CurioError

---@class curio.errors
---@field CurioError curio.ErrorClass
---@field CancelledError curio.ErrorClass
---@field TaskCancelled curio.ErrorClass
---@field TaskTimeout curio.ErrorClass
---@field TimeoutCancellationError curio.ErrorClass
---@field TaskError curio.ErrorClass
---@field UncaughtTimeoutError curio.ErrorClass
---@field NotInTask curio.ErrorClass
---@field ResourceBusy curio.ErrorClass
---@field BrokenResource curio.ErrorClass
---@field TransferError curio.ErrorClass
---@field OSError curio.ErrorClass
---@field IncompleteRead curio.ErrorClass
---@field SSLError curio.ErrorClass
---@field CalledProcessError curio.ErrorClass
---@field TimeoutExpired curio.ErrorClass
---@field WorkerError curio.ErrorClass
local errors = {}

---Makes an error class (usable with task:cancel{error=...}).
---@param name string
---@param parent? curio.ErrorClass default CurioError
---@return curio.ErrorClass
function errors.class(name, parent) end

---Whether `value` is an error of class `cls` (or a subclass); safe on any value.
---@param value any
---@param cls curio.ErrorClass
---@return boolean
function errors.is(value, cls) end

return errors
