"""The life of a running relaisd: parent and children per MPM, the pid
file, signals (TERM stop, HUP restart, USR1 graceful restart under load,
WINCH graceful stop), the drop of privileges, a crashed child replaced, and
the error log (line format, LogLevel filtering per module, piped and syslog
destinations).

Processes are checked by PID (/proc), never by name.
"""
import datetime
import json
import os
import re
import signal
import socket
import threading
import time
import urllib.request

import pytest

from conftest import MPMS, free_port, mpm_lines, raw_request, status_of

ECHO_PATTERN = (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                b"0123456789.\n")


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)


def ids(pid, key):
    """The four ids of the Uid: or Gid: line."""
    return [int(x) for x in proc_status(pid)[key].split()]


def conf(mpm, port, name="one", extra=""):
    """A served configuration: mod_echo everywhere, the error log in
    logs/error_log.  Process counts are pinned so that they are exact."""
    return mpm_lines(mpm) + """LoadModule echo_module modules/mod_echo.so
Listen 127.0.0.1:%d
ErrorLog logs/error_log
PidFile logs/relaisd.pid
SetHandler echo
EchoName %s
""" % (port, name) + extra


def get_json(port, path="/", timeout=5.0):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                timeout=timeout) as resp:
        return json.loads(resp.read())


def wait_children(relais, n, timeout=10.0):
    """Waits until the parent has exactly n children; returns them."""
    assert wait_for(lambda: len(relais.children()) == n, timeout), \
        "expected %d children, have %s\n%s" % (n, relais.children(),
                                               relais.error_log())
    return relais.children()


def wait_log(relais, needle, count=1, timeout=10.0):
    return wait_for(lambda: relais.error_log().count(needle) >= count,
                    timeout)


PINNED = {
    # StartServers children exactly: prefork's spare-server scaling
    # is bounded to that number
    "prefork": "StartServers {n}\nMinSpareServers 1\nMaxSpareServers {n}\n",
    "worker": "StartServers {n}\nThreadsPerChild 4\n",
    "event": "StartServers {n}\nThreadsPerChild 4\n",
}


def pinned(mpm, n):
    return PINNED[mpm].format(n=n)


# ------------------------------------------------------------ processes

@pytest.mark.parametrize("mpm", MPMS)
def test_start_servers_children(relais, mpm):
    port = free_port()
    relais.write_conf(conf(mpm, port, extra=pinned(mpm, 3)))
    relais.start(port)
    kids = wait_children(relais, 3)
    # still exactly those after the supervisor had time to scale
    time.sleep(1.2)
    assert sorted(relais.children()) == sorted(kids)
    for k in kids:
        st = proc_status(k)
        assert int(st["PPid"]) == relais.proc.pid
        if mpm != "prefork":
            assert int(st["Threads"]) >= 4, st["Threads"]
    assert get_json(port)["name"] == "one"
    assert "(%s MPM) configured -- resuming normal operations" % mpm in \
        relais.error_log()


@pytest.mark.parametrize("mpm", MPMS)
def test_sigterm_stops_parent_and_every_child(relais, mpm):
    port = free_port()
    relais.write_conf(conf(mpm, port, extra=pinned(mpm, 2)))
    relais.start(port)
    kids = wait_children(relais, 2)
    get_json(port)
    rc = relais.stop(signal.SIGTERM)
    assert rc == 0
    assert wait_for(lambda: not any(alive(k) for k in kids), 5), \
        [k for k in kids if alive(k)]
    assert "caught SIGTERM, shutting down" in relais.error_log()


def test_pid_file_written_and_removed(relais):
    port = free_port()
    relais.write_conf(conf("event", port, extra=pinned("event", 1)))
    pid_file = os.path.join(relais.root, "logs", "relaisd.pid")
    relais.start(port)
    assert wait_for(lambda: os.path.exists(pid_file))
    with open(pid_file) as f:
        assert f.read() == "%d\n" % relais.proc.pid
    relais.stop()
    assert not os.path.exists(pid_file)


def test_sighup_restart_reads_the_new_config(relais):
    port = free_port()
    relais.write_conf(conf("event", port, "one", pinned("event", 2)))
    relais.start(port)
    old = set(wait_children(relais, 2))
    assert get_json(port)["name"] == "one"
    relais.write_conf(conf("event", port, "two", pinned("event", 2)))
    relais.send(signal.SIGHUP)
    assert wait_log(relais, "SIGHUP received: attempting to restart")
    assert wait_for(lambda: get_name_or_none(port) == "two")
    assert relais.proc.poll() is None
    new = set(wait_children(relais, 2))
    assert not old & new, "HUP must replace every child"
    assert not any(alive(k) for k in old)


def get_name_or_none(port):
    try:
        return get_json(port, timeout=2)["name"]
    except OSError:
        return None


# -------------------------------------------------- graceful under load

class Closed(Exception):
    """The server closed the connection; `received` bytes of the response
    had arrived."""

    def __init__(self, received):
        super().__init__("connection closed after %d response bytes" %
                         received)
        self.received = received


def read_response(sock):
    """One response (Content-Length framed) -> (status, headers, body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            raise Closed(len(buf))
        if not chunk:
            raise Closed(len(buf))
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        k, v = l.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    length = int(headers["content-length"])
    while len(body) < length:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            raise Closed(len(head) + 4 + len(body))
        if not chunk:
            raise Closed(len(head) + 4 + len(body))
        body += chunk
    return status, headers, body[:length]


class LoadClient(threading.Thread):
    """Keep-alive requests in a loop.  A request that finds its REUSED
    connection closed before any response byte is retried once on a fresh
    connection (RFC 9112 §9.3.1); everything else that goes wrong is a
    failure."""

    def __init__(self, port, minimum, maximum, new_name, deadline):
        super().__init__(daemon=True)
        self.port = port
        self.minimum = minimum
        self.maximum = maximum
        self.new_name = new_name
        self.deadline = deadline
        self.done = 0
        self.retries = 0
        self.failures = []
        self.names = []
        self.sock = None
        self.reused = False

    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port),
                                             timeout=10)
        self.reused = False

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def exchange(self, i):
        req = ("GET /load?i=%d HTTP/1.1\r\nHost: localhost\r\n\r\n" %
               i).encode()
        self.sock.sendall(req)
        return read_response(self.sock)

    def one(self, i):
        if self.sock is None:
            self.connect()
        try:
            status, headers, body = self.exchange(i)
        except socket.timeout:
            self.close()
            raise
        except (Closed, OSError) as e:
            received = getattr(e, "received", 0)
            was_reused = self.reused
            self.close()
            if not (was_reused and received == 0):
                raise
            self.retries += 1
            self.connect()
            status, headers, body = self.exchange(i)
        self.reused = True
        if headers.get("connection", "").lower() == "close":
            self.close()
        if status != 200:
            raise AssertionError("status %d" % status)
        return json.loads(body)["name"]

    def satisfied(self):
        tail = self.names[-20:]
        return (self.done >= self.minimum and len(tail) == 20 and
                all(n == self.new_name for n in tail))

    def run(self):
        i = 0
        while i < self.maximum and time.time() < self.deadline:
            if self.satisfied():
                break
            i += 1
            try:
                self.names.append(self.one(i))
            except Exception as e:  # noqa: B902 - every failure counts
                self.failures.append("request %d: %r" % (i, e))
                self.close()
            self.done = i
        self.close()


@pytest.mark.parametrize("mpm", MPMS)
def test_graceful_restart_under_load_loses_nothing(relais, mpm):
    port = free_port()
    extra = pinned(mpm, 4) if mpm == "prefork" else pinned(mpm, 2)
    relais.write_conf(conf(mpm, port, "old", extra))
    relais.start(port)
    pid = relais.proc.pid
    old_kids = wait_children(relais, 4 if mpm == "prefork" else 2)
    assert get_json(port)["name"] == "old"

    started = time.time()
    deadline = started + 30
    clients = [LoadClient(port, 1250, 2500, "new", deadline)
               for _ in range(4)]
    for c in clients:
        c.start()
    # change the configuration and send USR1 in the middle of the load
    assert wait_for(lambda: sum(c.done for c in clients) >= 2000, 20)
    relais.write_conf(conf(mpm, port, "new", extra))
    relais.send(signal.SIGUSR1)
    for c in clients:
        c.join(40)
        assert not c.is_alive()

    total = sum(c.done for c in clients)
    retries = sum(c.retries for c in clients)
    failures = [f for c in clients for f in c.failures]
    olds = sum(c.names.count("old") for c in clients)
    print("%s: %d requests (%d on the old config) in %.2f s, %d retried "
          "on a reused connection closed before any response byte, %d "
          "failed" % (mpm, total, olds, time.time() - started, retries,
                      len(failures)))
    assert not failures, failures[:10]
    assert total >= 5000
    # the new configuration took over: every client ended on it
    for c in clients:
        assert c.satisfied(), (c.done, c.names[-25:])
    assert get_json(port)["name"] == "new"
    # same parent, the old generation's children gone
    assert relais.proc.poll() is None and relais.proc.pid == pid
    assert wait_for(lambda: not any(alive(k) for k in old_kids), 10)
    assert "SIGUSR1 received: graceful restart" in relais.error_log()


# -------------------------------------------------------- graceful stop

@pytest.mark.parametrize("mpm", MPMS)
def test_sigwinch_lets_an_inflight_slow_download_finish(relais, mpm):
    port = free_port()
    relais.write_conf(conf(mpm, port, extra=pinned(mpm, 2)))
    relais.start(port)
    kids = wait_children(relais, 2)
    size = 16 * 1024 * 1024
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    s.settimeout(20)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /big?size=16M HTTP/1.1\r\nHost: localhost\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(8192)
        assert chunk, "closed before the head"
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    body = bytearray(rest)
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"Content-Length: %d" % size in head

    relais.send(signal.SIGWINCH)
    assert wait_log(relais, "SIGWINCH received: graceful stop")
    # the download is far from done: the server must wait for it
    time.sleep(0.7)
    assert relais.proc.poll() is None, "parent exited with a download " \
        "in flight"
    while len(body) < size:
        chunk = s.recv(262144)
        assert chunk, "cut after %d of %d body bytes" % (len(body), size)
        body.extend(chunk)
        time.sleep(0.001)  # a slow reader
    s.close()
    assert len(body) == size
    assert body == ECHO_PATTERN * (size // len(ECHO_PATTERN))
    # then everything ends by itself
    try:
        rc = relais.proc.wait(timeout=15)
    except Exception:
        pytest.fail("relaisd still running 15 s after the graceful stop")
    assert rc == 0
    assert not any(alive(k) for k in kids)


# ----------------------------------------------------- privileges

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@needs_root
def test_children_run_as_user_and_group(relais):
    port = free_port()
    relais.write_conf(conf("worker", port, extra="User nobody\n"
                           "Group nogroup\n" + pinned("worker", 2)))
    relais.start(port)
    kids = wait_children(relais, 2)
    # the parent keeps root (to reopen logs, bind on restart)
    assert ids(relais.proc.pid, "Uid") == [0, 0, 0, 0]
    nobody = 65534
    for k in kids:
        assert wait_for(lambda: ids(k, "Uid") == [nobody] * 4, 5), \
            proc_status(k)["Uid"]
        assert ids(k, "Gid") == [nobody] * 4
        groups = proc_status(k).get("Groups", "").split()
        assert "0" not in groups, groups
    body = get_json(port)
    assert body["name"] == "one"


@needs_root
def test_unknown_user_is_a_config_error(relais):
    """An account that does not exist is refused when the configuration is
    read (file:line, directive), not when the first child fails to drop
    privileges."""
    port = free_port()
    relais.write_conf(conf("event", port, extra="User nosuchuser\n" +
                           pinned("event", 2)))
    res = relais.run("-t")
    assert res.returncode == 1
    assert re.search(r"relais\.conf:\d+: User: no such user 'nosuchuser' on "
                     r"this system", res.stderr), res.stderr


# ------------------------------------------------------- crash resilience

@pytest.mark.parametrize("mpm", MPMS)
def test_killed_child_is_replaced(relais, mpm):
    port = free_port()
    relais.write_conf(conf(mpm, port, extra=pinned(mpm, 2)))
    relais.start(port)
    kids = wait_children(relais, 2)
    victim = kids[0]
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: len(relais.children()) == 2 and
                    victim not in relais.children(), 10), relais.children()
    assert kids[1] in relais.children()
    assert wait_log(relais, "child pid %d exited on signal 9" % victim)
    for _ in range(10):
        assert get_json(port)["name"] == "one"


# ------------------------------------------------------------ error log

LINE_RE = re.compile(
    r"^\[(?P<date>(Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d "
    r"\d\d:\d\d:\d\d\.\d{6} \d{4})\] \[(?P<module>[a-z_]+):(?P<level>[a-z0-9]+)\] "
    r"\[pid (?P<pid>\d+):tid (?P<tid>\d+)\] (?P<msg>.*)$")


def test_error_log_line_format(relais):
    port = free_port()
    relais.write_conf(conf("event", port, extra=pinned("event", 1)))
    before = datetime.datetime.now()
    relais.start(port)
    assert wait_log(relais, "resuming normal operations")
    lines = relais.error_log().splitlines()
    line = [l for l in lines if "resuming normal operations" in l][0]
    m = LINE_RE.match(line)
    assert m, line
    assert m.group("module") == "core" and m.group("level") == "notice"
    assert int(m.group("pid")) == relais.proc.pid
    assert m.group("msg").startswith("Relais/")
    stamp = datetime.datetime.strptime(m.group("date"),
                                       "%a %b %d %H:%M:%S.%f %Y")
    assert abs((stamp - before).total_seconds()) < 60, (stamp, before)
    for l in lines:
        assert LINE_RE.match(l), l


@pytest.mark.parametrize("level,logged", [("debug", True), ("warn", False)])
def test_loglevel_filters_by_level(relais, level, logged):
    port = free_port()
    relais.write_conf(conf("event", port, extra="LogLevel %s\n" % level +
                           pinned("event", 1)))
    relais.start(port)
    # mod_echo logs ?delay= at debug when EchoAllowDelay is Off
    get_json(port, "/?delay=5")
    get_json(port, "/after")
    relais.stop()
    log = relais.error_log()
    found = re.search(r"\[echo:debug\] \[pid \d+:tid \d+\] "
                      r"\[client 127\.0\.0\.1:\d+\] \?delay ignored", log)
    assert bool(found) == logged, log
    # notices are written whatever the level
    assert "resuming normal operations" in log


def test_loglevel_per_module(relais):
    port = free_port()
    relais.write_conf(conf("event", port, extra="LogLevel warn core:info\n" +
                           pinned("event", 1)))
    relais.start(port)
    # a malformed request: logged by core at info, with the client
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        client_port = s.getsockname()[1]
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n")
        resp = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            resp += chunk
    assert status_of(resp) == 400
    # a bad ?status= is logged by echo at info: echo stays at warn
    resp = raw_request(port, b"GET /?status=abc HTTP/1.1\r\nHost: a\r\n"
                             b"Connection: close\r\n\r\n")
    assert status_of(resp) == 400
    needle = "[client 127.0.0.1:%d] bad request (400)" % client_port
    assert wait_log(relais, needle), relais.error_log()
    line = [l for l in relais.error_log().splitlines() if needle in l][0]
    assert re.match(r"^\[[^]]+\] \[core:info\] \[pid \d+:tid \d+\] "
                    r"\[client 127\.0\.0\.1:%d\] bad request \(400\): \S" %
                    client_port, line), line
    relais.stop()
    assert "bad query parameter" not in relais.error_log()


def test_piped_error_log(relais):
    port = free_port()
    piped = os.path.join(relais.root, "piped.log")
    relais.write_conf(conf("event", port, extra=pinned("event", 1)).replace(
        "ErrorLog logs/error_log",
        'ErrorLog "|cat >> %s"\nLogLevel warn echo:info' % piped))
    relais.start(port)
    assert wait_for(lambda: "resuming normal operations" in
                    relais.read("piped.log"))
    # a child's line goes through the pipe too
    resp = raw_request(port, b"GET /?status=abc HTTP/1.1\r\nHost: a\r\n"
                             b"Connection: close\r\n\r\n")
    assert status_of(resp) == 400
    assert wait_for(lambda: "[echo:info]" in relais.read("piped.log") and
                    "bad query parameter status=abc" in
                    relais.read("piped.log")), relais.read("piped.log")
    for l in relais.read("piped.log").splitlines():
        assert LINE_RE.match(l), l
    # the logger is the parent's child; it ends with the server
    loggers = [k for k in relais.children()
               if b"cat" in open("/proc/%d/cmdline" % k, "rb").read()]
    assert loggers
    assert relais.stop() == 0
    assert wait_for(lambda: "caught SIGTERM" in relais.read("piped.log"))
    assert wait_for(lambda: not any(alive(k) for k in loggers), 5)
    assert not os.path.exists(os.path.join(relais.root, "logs", "error_log"))


def test_syslog_error_log_accepted(relais):
    relais.write_conf(conf("event", free_port()).replace(
        "ErrorLog logs/error_log", "ErrorLog syslog:local0"))
    res = relais.run("-t")
    assert res.returncode == 0, res.stderr
    assert "Syntax OK" in res.stderr
