---@meta curio.test
-- The test runner's module (`curio-lua test`) and the globals test files see.

---@class curio.test
local test = {}
---Runs this file's tests on the virtual clock (call at the top of a test file).
---@param on? boolean default true
function test.virtual_clock(on) end
---Runs the test files under paths; returns counts {passed, failures, errors, skipped}.
---@param paths string[]
---@param opts? table the command line's options (timeout, tags, filter, output ...)
---@return {passed: integer, failures: integer, errors: integer, skipped: integer}
function test.run(paths, opts) end
---Loads a test file; returns its tests.
---@param path string
---@return table[]? tests
---@return string? err
function test.collect(path) end

---A block of tests.
---@param name string
---@param fn fun()
function describe(name, fn) end
context = describe
insulate = describe
expose = describe
---A test (pending without fn); runs as the main task of a fresh kernel.
---@param name string
---@param fn? fun()
function it(name, fn) end
spec = it
test = it
---A pending test; inside a running test, marks it pending and stops it.
---@param name string
function pending(name) end
---@param fn fun()
function setup(fn) end
teardown = setup
lazy_setup = setup
strict_setup = setup
lazy_teardown = setup
strict_teardown = setup
before_each = setup
after_each = setup
---Inside a test: fn runs when the test ends.
---@param fn fun()
function finally(fn) end
---Runs this block's children in random order.
---@param seed? integer
function randomize(seed) end

return test
