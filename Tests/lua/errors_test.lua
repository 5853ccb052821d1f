local curio = require "curio"
local errors = curio.errors

describe("errors", function()
  it("follow curio's hierarchy", function()
    for _, k in ipairs { "TaskCancelled", "TaskTimeout", "TimeoutCancellationError" } do
      assert.is_true(errors[k]("x"):is(curio.CancelledError), k)
      assert.is_true(errors[k]("x"):is(curio.CurioError), k)
    end
    for _, k in ipairs { "TaskError", "UncaughtTimeoutError", "NotInTask", "ResourceBusy",
      "BrokenResource", "TransferError", "OSError", "IncompleteRead", "SSLError",
      "CalledProcessError", "TimeoutExpired", "WorkerError" } do
      local e = errors[k]("x")
      assert.is_true(e:is(curio.CurioError), k)
      assert.is_false(e:is(curio.CancelledError), k)
      assert.equal(curio[k], errors[k])
    end
  end)

  it("have kind, message and tostring", function()
    local e = curio.TaskTimeout("too slow")
    assert.equal("TaskTimeout", e.kind)
    assert.equal("too slow", e.message)
    assert.equal("TaskTimeout: too slow", tostring(e))
  end)

  it("can carry fields", function()
    local e = curio.OSError("connect failed", { errno = 111, code = "ECONNREFUSED" })
    assert.equal(111, e.errno)
    assert.equal("ECONNREFUSED", e.code)
  end)

  it("is() is false for strings and other tables", function()
    assert.is_false(errors.is("TaskTimeout", curio.TaskTimeout))
    assert.is_false(errors.is({ kind = "TaskTimeout" }, curio.TaskTimeout))
  end)

  it("user classes derive from curio classes", function()
    local AppError = errors.class("AppError", curio.CurioError)
    local e = AppError("bad")
    assert.is_true(e:is(curio.CurioError))
    assert.equal("AppError: bad", tostring(e))
  end)

  it("oserror names the errno", function()
    local e = errors.oserror("connect 127.0.0.1:1", 111)
    assert.equal("ECONNREFUSED", e.code)
    assert.matches("^connect 127.0.0.1:1: ECONNREFUSED", e.message)
  end)
end)
