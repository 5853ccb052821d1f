#!/usr/bin/env python3
"""REPL tests through a pseudo-terminal: curio-lua with no script on a terminal.
Usage: repl_pty.py CURIO_LUA_BINARY. Checks line editing, history (in a
temporary HOME), multi-line input, Ctrl-C (cancels the running line, clears the
line being typed), tasks running between lines, Ctrl-D. Prints one line per check
and exits 1 if any failed. Every wait is bounded."""
import os, pty, select, sys, tempfile, time

EXE = sys.argv[1]
failures = 0

class Repl:
    def __init__(self, home):
        env = dict(os.environ, HOME=home, TERM="xterm")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(EXE, [EXE], env)
        self.buf = b""

    def send(self, s):
        os.write(self.fd, s.encode() if isinstance(s, str) else s)

    def expect(self, what, timeout=10):
        """Reads until `what` appears after the last match; returns the text before it."""
        what = what.encode()
        end = time.time() + timeout
        while what not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise TimeoutError(f"expected {what!r}, got {self.buf[-300:]!r}")
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    raise EOFError(f"EOF waiting for {what!r}, got {self.buf[-300:]!r}")
                self.buf += data
        i = self.buf.index(what)
        before, self.buf = self.buf[:i], self.buf[i + len(what):]
        return before.decode(errors="replace")

    def wait_exit(self, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            try:
                r, _, _ = select.select([self.fd], [], [], 0.05)
                if r: self.buf += os.read(self.fd, 4096)
            except OSError:
                pass
        os.kill(self.pid, 9)
        raise TimeoutError("the REPL did not exit")

def check(name, fn):
    global failures
    try:
        fn()
        print(f"ok   {name}")
    except Exception as e:
        failures += 1
        print(f"FAIL {name}: {e}")

home = tempfile.mkdtemp()
r = Repl(home)

def banner():
    r.expect("Lua 5.4")
    r.expect("> ")

def evaluate():
    r.send("1 + 41\r")
    r.expect("42")
    r.expect("> ")

def editing():
    # type "10 + 5", left arrow, insert 2 (-> "10 + 25"), Ctrl-A to the start of
    # the line and type "return " there: "return 10 + 25"
    r.send("10 + 5" + "\x1b[D" + "2" + "\x01" + "return " + "\r")
    r.expect("\r\n35\r\n")
    r.expect("> ")

def history():
    r.send("'hist' .. 'ory'\r")
    r.expect("history")
    r.expect("> ")
    r.send("\x1b[A\r")  # up arrow: the same line again
    r.expect("history")
    r.expect("> ")

def multiline():
    r.send("for i = 1, 3 do\r")
    r.expect(">> ")
    r.send("io.write(i * 11, ' ')\r")
    r.expect(">> ")
    r.send("end\r")
    r.expect("11 22 33")
    r.expect("> ")

def tasks_between_lines():
    r.send("curio = require 'curio'\r")
    r.expect("> ")
    r.send("q = curio.Queue(); t = curio.spawn(function() curio.sleep(0.2); q:put('bg done') end)\r")
    r.expect("> ")
    time.sleep(0.4)
    r.send("q:get()\r")
    r.expect("bg done")
    r.expect("> ")

def ctrl_c_running():
    r.send("curio.sleep(30); print('not cancelled')\r")
    time.sleep(0.3)
    r.send("\x03")
    r.expect("interrupted")
    r.expect("> ")
    r.send("'still' .. ' alive'\r")
    r.expect("still alive")
    r.expect("> ")

def ctrl_c_prompt():
    r.send("this is not lua")
    time.sleep(0.1)
    r.send("\x03")
    r.expect("> ")
    r.send("2 * 21\r")
    out = r.expect("> ")
    if "42" not in out or "syntax" in out:
        raise AssertionError(f"line was not cleared: {out!r}")

def ctrl_d():
    r.send("\x04")
    code = r.wait_exit()
    if code != 0:
        raise AssertionError(f"exit status {code}")
    hist = open(os.path.join(home, ".curio_lua_history")).read().replace("\\040", " ")
    if "'hist' .. 'ory'" not in hist:
        raise AssertionError(f"history file: {hist!r}")

def history_survives():
    r2 = Repl(home)
    r2.expect("> ")
    r2.send("\x1b[A\x1b[A\r")  # two up: the line before "2 * 21"
    r2.expect("still alive")
    r2.expect("> ")
    r2.send("\x04")
    if r2.wait_exit() != 0:
        raise AssertionError("exit status")

for name, fn in [("banner", banner), ("evaluates a line", evaluate), ("line editing", editing),
                 ("history (up arrow)", history), ("multi-line input", multiline),
                 ("tasks keep running between lines", tasks_between_lines),
                 ("Ctrl-C cancels the running line", ctrl_c_running),
                 ("Ctrl-C at the prompt clears the line", ctrl_c_prompt),
                 ("Ctrl-D exits and saves the history", ctrl_d),
                 ("history is loaded by the next session", history_survives)]:
    check(name, fn)
try:
    os.kill(r.pid, 9)
except OSError:
    pass
sys.exit(1 if failures else 0)
