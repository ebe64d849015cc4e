"""Helpers of the operations tests (test/integration/ops).

- KeepAliveClient: a raw-socket HTTP/1.1 client thread that sends requests
  one after another on a keep-alive connection, as a real client does, and
  counts every outcome (see its docstring for what is a failure).
- Server: a ServerRoot in a temporary directory run through relaisctl
  (daemonized relaisd), stopped by PID at the end.
- root: the suite's root conftest, the one instance helpers_proxy loads
  (free_port() then never hands out a port twice in a run).
"""
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import root  # noqa: E402

BUILD = root.BUILD
RELAISD = root.RELAISD
RELAISCTL = os.path.join(BUILD, "bin", "relaisctl")
TOP = root.ROOT


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def is_relaisd(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip() == "relaisd"
    except OSError:
        return False


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def children_of(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)],
                         capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


# ----------------------------------------------------------------------
# Keep-alive load client
# ----------------------------------------------------------------------

class Truncated(Exception):
    """The connection ended (EOF) after a request was sent, before its
    response was complete; `got` response bytes had arrived."""

    def __init__(self, got):
        super().__init__("connection closed after %d response bytes" % got)
        self.got = got


def read_response(sock, buf=b""):
    """One Content-Length framed response -> (status, headers, body).
    Raises Truncated on EOF, ConnectionResetError on a reset."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise Truncated(len(buf))
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise Truncated(len(head) + 4 + len(body))
        body += chunk
    if len(body) > length:
        raise AssertionError("%d bytes after the response" %
                             (len(body) - length))
    return status, headers, body


class KeepAliveClient(threading.Thread):
    """Sends GET requests one after another on a keep-alive connection.

    Like a real client (browsers, urllib3), before it reuses an idle
    connection it looks whether the server closed it: a clean close (EOF)
    seen then is the server ending an idle keep-alive connection, not a
    failure; the client opens a new connection (counted in idle_closes).
    A response with "Connection: close" ends the connection too (counted
    in conn_close).  Failures, each counted:
      resets     ECONNRESET (or EPIPE) on a connection, idle or not
      truncated  EOF after the request was sent, before the response was
                 complete (missing: no byte of it at all)
      bad        a status other than 200, or a body check() refuses
      refused    connect() refused (only expected after a stop)
    check(status, headers, body) returns a label for the response (which
    configuration, which member answered) or raises.
    """

    def __init__(self, port, path, check, maximum, deadline, stop_when=None,
                 host="localhost"):
        super().__init__(daemon=True)
        self.port = port
        self.path = path
        self.check = check
        self.maximum = maximum
        self.deadline = deadline
        self.stop_when = stop_when
        self.host = host
        self.sock = None
        self.done = 0
        self.ok = 0
        self.connects = 0
        self.idle_closes = 0
        self.conn_close = 0
        self.resets = 0
        self.truncated = 0
        self.missing = 0
        self.bad = 0
        self.refused = 0
        self.errors = []
        self.labels = []
        self.halt = threading.Event()

    # -- connection ------------------------------------------------------
    def _close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def _usable(self):
        """A clean close of the idle connection by the server?  (poll for
        readability without waiting, as urllib3's is_connection_dropped)"""
        r, _, _ = select.select([self.sock], [], [], 0)
        if not r:
            return True
        try:
            data = self.sock.recv(1, socket.MSG_PEEK)
        except (ConnectionResetError, BrokenPipeError):
            self.resets += 1
            self.errors.append("reset of an idle connection")
            self._close()
            return False
        if data == b"":
            self.idle_closes += 1
            self._close()
            return False
        self.bad += 1
        self.errors.append("unexpected bytes on an idle connection")
        self._close()
        return False

    def _connect(self):
        try:
            self.sock = socket.create_connection(("127.0.0.1", self.port),
                                                 timeout=15)
        except ConnectionRefusedError:
            self.refused += 1
            return False
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connects += 1
        return True

    # -- one request -----------------------------------------------------
    def one(self, i):
        if self.sock is not None and not self._usable():
            pass
        if self.sock is None and not self._connect():
            return False
        req = ("GET %s?i=%d HTTP/1.1\r\nHost: %s\r\n"
               "User-Agent: relais-ops-test\r\n\r\n" %
               (self.path, i, self.host)).encode()
        try:
            self.sock.sendall(req)
            status, headers, body = read_response(self.sock)
        except (ConnectionResetError, BrokenPipeError) as e:
            self.resets += 1
            self.errors.append("request %d: %r" % (i, e))
            self._close()
            return True
        except Truncated as e:
            if e.got == 0:
                self.missing += 1
            else:
                self.truncated += 1
            self.errors.append("request %d: %s" % (i, e))
            self._close()
            return True
        except socket.timeout:
            self.errors.append("request %d: timed out" % i)
            self.truncated += 1
            self._close()
            return True
        if headers.get("connection", "").lower() == "close":
            self.conn_close += 1
            self._close()
        try:
            if status != 200:
                raise AssertionError("status %d" % status)
            self.labels.append(self.check(status, headers, body))
            self.ok += 1
        except Exception as e:  # noqa: B902 - any refusal counts
            self.bad += 1
            self.errors.append("request %d: %r" % (i, e))
        return True

    def failures(self):
        return self.resets + self.truncated + self.missing + self.bad

    def run(self):
        i = 0
        try:
            while (i < self.maximum and time.time() < self.deadline and
                   not self.halt.is_set()):
                if self.stop_when is not None and self.stop_when(self):
                    break
                i += 1
                if not self.one(i):
                    break  # refused: the server is gone
                self.done = i
        except Exception as e:  # noqa: B902 - reported by the test
            self.errors.append("client crashed: %r" % e)
            self.bad += 1
        finally:
            self._close()

    def summary(self):
        return ("%d requests, %d ok, %d connects, %d idle closes, %d "
                "Connection: close, %d resets, %d truncated, %d missing, "
                "%d bad, %d refused" %
                (self.done, self.ok, self.connects, self.idle_closes,
                 self.conn_close, self.resets, self.truncated, self.missing,
                 self.bad, self.refused))


# ----------------------------------------------------------------------
# A server run through relaisctl
# ----------------------------------------------------------------------

class CtlServer:
    """A ServerRoot in a temporary directory, controlled with relaisctl
    as an operator would: relaisd detaches, so it is no child of the
    test; every parent pid it wrote is stopped by PID at cleanup().

    relaisctl is build/bin/relaisctl unless `ctl` names another (an
    installed one); the environment names the relaisd, the ServerRoot
    and the configuration file, as test_programs.py does."""

    def __init__(self, root_dir, relaisd=RELAISD, ctl=RELAISCTL,
                 modules=root.MODULES):
        self.root = str(root_dir)
        self.relaisd = relaisd
        self.ctl_path = ctl
        self.conf = os.path.join(self.root, "relais.conf")
        self.pid_file = os.path.join(self.root, "logs", "relaisd.pid")
        self.pids = set()
        os.makedirs(os.path.join(self.root, "logs"), exist_ok=True)
        link = os.path.join(self.root, "modules")
        if modules and not os.path.lexists(link):
            os.symlink(modules, link)

    def write_conf(self, text, name="relais.conf"):
        path = os.path.join(self.root, name)
        if name == "relais.conf":
            text = root.workers_user(text)
        with open(path, "w") as f:
            f.write(text)
        return path

    def env(self, **extra):
        """relaisctl's environment.  status waits up to 10 s for an answer
        here (not its 2 s default): a loaded test machine must not turn
        "serving" into "not answering"; tests of that case set
        RELAIS_STATUS_TIMEOUT themselves."""
        env = dict(os.environ)
        env.update(RELAISD=self.relaisd, RELAIS_ROOT=self.root,
                   RELAIS_CONF=self.conf, RELAIS_STATUS_TIMEOUT="10")
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def ctl(self, *args, timeout=90, env=None, **extra):
        """relaisctl ARGS -> (returncode, stdout, stderr).  Output goes
        through files: a daemon must not be able to hold a pipe open."""
        out_p = os.path.join(self.root, "ctl.out")
        err_p = os.path.join(self.root, "ctl.err")
        with open(out_p, "w") as out, open(err_p, "w") as err:
            rc = subprocess.run([self.ctl_path] + list(args), stdout=out,
                                stderr=err, stdin=subprocess.DEVNULL,
                                env=env or self.env(**extra),
                                timeout=timeout).returncode
        self.track()
        with open(out_p) as f1, open(err_p) as f2:
            return rc, f1.read(), f2.read()

    def track(self):
        """Remembers the parent the pid file names, to stop it at the end
        (only a relaisd: a test may plant another pid in the file)."""
        pid = read_pid(self.pid_file)
        if pid and is_relaisd(pid):
            self.pids.add(pid)
        return pid

    def pid(self):
        return read_pid(self.pid_file)

    def start(self, port=None):
        rc, out, err = self.ctl("start")
        assert rc == 0, "relaisctl start: %d\n%s%s\n%s" % (
            rc, out, err, self.error_log())
        pid = self.track()
        assert pid and alive(pid), "no live pid after relaisctl start"
        if port is not None:
            assert root.wait_port(port), self.error_log()
        return pid

    def error_log(self):
        try:
            with open(os.path.join(self.root, "logs", "error_log"),
                      errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def crashes(self):
        return [l for l in self.error_log().splitlines()
                if "exited on signal" in l]

    def cleanup(self):
        for pid in self.pids:
            if alive(pid):
                os.kill(pid, signal.SIGTERM)
        for pid in self.pids:
            if not wait_for(lambda: not alive(pid), 15):
                os.kill(pid, signal.SIGKILL)
