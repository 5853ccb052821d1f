-- The REPL on a terminal, driven through a pseudo-terminal by Tests/repl/repl_pty.py
-- (Python's pty module): editing, history, multi-line input, Ctrl-C, Ctrl-D.
local support = require "support"

describe("REPL on a terminal", function()
  it("passes every pty check", function()
    local out, rc = support.sh("timeout 120 python3 Tests/repl/repl_pty.py '" .. support.exe .. "'")
    assert.equal(0, rc, out)
    for _, check in ipairs { "line editing", "history %(up arrow%)", "multi%-line input",
        "Ctrl%-C cancels the running line", "Ctrl%-C at the prompt clears the line",
        "Ctrl%-D exits and saves the history", "history is loaded by the next session",
        "tasks keep running between lines" } do
      assert.matches("ok   " .. check, out)
    end
  end)
end)
