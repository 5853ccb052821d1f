"""Shared pieces of the fault suite (Tests/faults/*.py): start a curio-lua server on
loopback, measure its fds and RSS, and print the one PASS/FAIL line.

Every script checks, besides its own property: the server process did not die,
no byte was lost or corrupted, its fd count came back to the start, its RSS came
back near the start. FAULTS_FULL=1 selects the full sizes (scripts/faults.sh)."""
import os, resource, signal, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CURIO = os.environ.get("CURIO") or os.path.join(ROOT, ".build/debug/curio-lua")
FULL = os.environ.get("FAULTS_FULL") == "1"
NAME = os.path.splitext(os.path.basename(sys.argv[0]))[0]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, n), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


class Server:
    def __init__(self, script="echo_server.lua", nofile=None, args=()):
        self.port = free_port()
        # stderr to a file: a pipe nobody drains would block the server's crash reports
        self.errfile = tempfile.TemporaryFile()
        def pre():
            if nofile:
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (min(nofile, hard), hard))
        self.proc = subprocess.Popen([CURIO, os.path.join(ROOT, "Tests/faults", script), str(self.port), *args],
                                     stdout=subprocess.DEVNULL, stderr=self.errfile, preexec_fn=pre)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.settle()
        self.fds0, self.rss0 = self.fds(), self.rss()

    def alive(self):
        return self.proc.poll() is None

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def rss(self):  # KiB
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu(self):  # seconds of CPU used so far
        with open(f"/proc/{self.proc.pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")

    def settle(self, secs=0.3):
        time.sleep(secs)

    def wait_fds_back(self, timeout=10):
        """The fd count back to its start (connections closed take a moment)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.alive() and self.fds() <= self.fds0:
                return True
            time.sleep(0.05)
        return False

    def end_checks(self, rss_slack_kib=None):
        """The common checks: alive, fds back, RSS near the start."""
        problems = []
        if not self.alive():
            problems.append(f"server died (rc {self.proc.returncode})")
            return problems
        if not self.wait_fds_back():
            problems.append(f"fds {self.fds()} (start {self.fds0})")
        slack = rss_slack_kib if rss_slack_kib is not None else max(self.rss0, 8192)
        if self.rss() > self.rss0 + slack:
            problems.append(f"RSS {self.rss()} KiB (start {self.rss0})")
        return problems

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.errfile.seek(0)
        err = self.errfile.read().decode(errors="replace")
        self.errfile.close()
        return err


def echo_once(port, payload, timeout=10):
    """Sends payload, half-closes, reads until EOF: returns what came back."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    return read_to_eof(s)


def read_to_eof(s):
    """Reads s until EOF, closes it: returns what came."""
    got = bytearray()
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    return bytes(got)


def pattern(n, seed=0):
    """n bytes that reveal loss, duplication or reordering."""
    base = bytes((i * 7 + seed) % 251 for i in range(251))
    return (base * (n // 251 + 1))[:n]


def signal_mid_transfer(server, sig, want, connect, clients, chunk, errors=OSError):
    """Sends `sig` to `server` while `clients` threads, each on connect(i), send
    `chunk`-byte pieces and read the echo; waits for the server and the clients.
    Returns (exit status or None, seconds the server took to end, problems)."""
    import threading
    ended = [0]

    def client(i):
        try:
            c = connect(i)
            while True:
                c.sendall(pattern(chunk, i))
                if not c.recv(chunk):
                    break
        except errors:
            pass
        ended[0] += 1
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    t0 = time.time()
    server.proc.send_signal(sig)
    problems = []
    try:
        rc = server.proc.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
        problems.append(f"{sig.name}: did not end within 10 s")
        server.proc.kill()
    took = time.time() - t0
    for t in threads:
        t.join(20)
    if rc != want:
        problems.append(f"{sig.name}: exit status {rc}, expected {want}")
    if ended[0] != clients:
        problems.append(f"{sig.name}: {clients - ended[0]} clients hung")
    err = server.stop()
    if "Sanitizer" in err or "PANIC" in err or "Task Crash" in err:
        problems.append(f"{sig.name}: crash report on stderr")
    return rc, took, problems


def report(server, problems, detail=""):
    """Prints the one line, stops the server, exits 0 on PASS."""
    if server is not None:
        problems = problems + server.end_checks()
        rss, rss0, fds, fds0 = (server.rss(), server.rss0, server.fds(), server.fds0) if server.alive() else (0, 0, 0, 0)
        err = server.stop()
        if "Sanitizer" in err or "PANIC" in err:
            problems.append("sanitizer/panic report on stderr")
        detail += f" fds {fds0}->{fds} rss {rss0}->{rss} KiB"
    ok = not problems
    print(f"{'PASS' if ok else 'FAIL'} {NAME}:{detail}" + ("" if ok else " -- " + "; ".join(problems)))
    sys.stdout.flush()
    sys.exit(0 if ok else 1)
