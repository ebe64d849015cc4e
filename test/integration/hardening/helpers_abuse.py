"""Helpers of the resource-abuse tests (test_resource_abuse.py): a backend
that serves big responses as fast as the socket takes them, a trickling
client (slowloris), and readers of a process's descriptors and memory.

Everything listens on 127.0.0.1 on free ports; every socket has a timeout
and every thread ends when its backend is stopped.  Nothing here depends
on pytest.
"""
import importlib.util
import os
import resource
import select
import socket
import threading
import time

# The suite's root conftest under its own name (pytest may have put this
# directory's conftest in sys.modules as "conftest").
_ROOT_CONFTEST = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "conftest.py")
_spec = importlib.util.spec_from_file_location("relais_root_conftest_abuse",
                                               _ROOT_CONFTEST)
root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(root)

free_port = root.free_port
wait_port = root.wait_port
mpm_lines = root.mpm_lines

MIB = 1024 * 1024
PATTERN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.\n"
BLOCK = PATTERN * (1 << 12)  # 256 KiB


def raise_nofile(want=8192):
    """This test process opens hundreds of sockets at once."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE,
                           (min(want, hard), hard))


# ----------------------------------------------------------------------
# /proc readers
# ----------------------------------------------------------------------

def fd_count(pid):
    """Open descriptors of a process."""
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    """VmRSS of a process in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def wait_for(cond, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


class RssSampler:
    """Samples a process's VmRSS every 50 ms in a thread; .peak in KiB."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = 0
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop_ev.is_set():
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except OSError:
                break
            self.stop_ev.wait(0.05)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *a):
        self.stop_ev.set()
        self.t.join(timeout=5)


# ----------------------------------------------------------------------
# A backend for big responses
# ----------------------------------------------------------------------

class BigBackend:
    """HTTP/1.1 keep-alive backend on a raw socket, one thread per
    connection.  GET /<anything>?size=N answers N pattern bytes with a
    Content-Length, sent as fast as the socket takes them; a request body
    (Content-Length) is read and counted.  It counts connections accepted,
    connections open, and body bytes sent (what a proxy took from it)."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1024)
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.accepted = 0
        self.open = 0
        self.sent = 0
        self.requests = 0
        self.conns = set()
        self.stopping = threading.Event()
        self.threads = []
        self.acceptor = threading.Thread(target=self._accept_loop,
                                         daemon=True)
        self.acceptor.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.stopping.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        self.acceptor.join(timeout=5)
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            for f in (lambda: c.shutdown(socket.SHUT_RDWR), c.close):
                try:
                    f()
                except OSError:
                    pass
        for t in list(self.threads):
            t.join(timeout=5)

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            with self.lock:
                self.accepted += 1
                self.open += 1
                self.conns.add(c)
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            self.threads = [x for x in self.threads if x.is_alive()]
            self.threads.append(t)
            t.start()

    def _serve(self, c):
        c.settimeout(30)
        buf = b""
        try:
            while not self.stopping.is_set():
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.split(b"\r\n")
                target = lines[0].split(b" ")[1]
                length = 0
                for ln in lines[1:]:
                    k, _, v = ln.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v.strip())
                while len(buf) < length:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                buf = buf[length:]
                with self.lock:
                    self.requests += 1
                size = 2
                if b"size=" in target:
                    size = int(target.split(b"size=")[1].split(b"&")[0])
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                          b"Content-Length: %d\r\n\r\n" % size)
                left = size
                while left > 0:
                    k = min(left, len(BLOCK))
                    c.sendall(BLOCK[:k])
                    left -= k
                    with self.lock:
                        self.sent += k
        except OSError:
            pass
        finally:
            with self.lock:
                self.open -= 1
                self.conns.discard(c)
            try:
                c.close()
            except OSError:
                pass


def pattern_bytes(n):
    return (BLOCK * (n // len(BLOCK) + 1))[:n]


# ----------------------------------------------------------------------
# Clients
# ----------------------------------------------------------------------

def get(port, target="/", timeout=5.0):
    """One GET on a fresh connection, read to the end of its body;
    returns (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: abuse.test\r\n"
                  b"Connection: close\r\n\r\n" % target.encode())
        data = b""
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            data += d
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


class Trickler:
    """n connections that each send one more byte of a request head that
    never ends, every `interval` seconds (slowloris).  A connection counts
    as closed by the server when a read gives EOF or a reset, or a write
    fails; what the server sent before (a 408) is kept."""

    HEAD = b"GET /slow HTTP/1.1\r\nHost: abuse.test\r\nX-Slow: "

    def __init__(self, port, n, interval=0.5):
        self.interval = interval
        self.socks = []
        self.first_byte = {}  # fileno -> time of the first byte
        self.closed_at = {}   # fileno -> when the server closed it
        self.got = {}         # fileno -> bytes the server sent
        self.sent = {}
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.setblocking(False)
            self.socks.append(s)
            self.sent[s.fileno()] = 0
            self.got[s.fileno()] = b""
            self._send_one(s)
            self.first_byte[s.fileno()] = time.monotonic()
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _next_byte(self, fd):
        i = self.sent[fd]
        return self.HEAD[i:i + 1] if i < len(self.HEAD) else b"a"

    def _send_one(self, s):
        fd = s.fileno()
        try:
            if s.send(self._next_byte(fd)) == 1:
                self.sent[fd] += 1
        except BlockingIOError:
            pass
        except OSError:
            self._closed(s)

    def _closed(self, s):
        self.closed_at.setdefault(s.fileno(), time.monotonic())

    def open_count(self):
        return len(self.socks) - len(self.closed_at)

    def _poll_reads(self):
        # poll(), not select(): descriptors may pass FD_SETSIZE
        live = {s.fileno(): s for s in self.socks
                if s.fileno() not in self.closed_at}
        if not live:
            return
        p = select.poll()
        for fd in live:
            p.register(fd, select.POLLIN)
        for fd, _ in p.poll(0):
            s = live[fd]
            try:
                d = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                self._closed(s)
                continue
            if d:
                self.got[s.fileno()] += d
            else:
                self._closed(s)

    def _run(self):
        next_round = time.monotonic() + self.interval
        while not self.stop_ev.is_set():
            self._poll_reads()
            if time.monotonic() >= next_round:
                for s in self.socks:
                    if s.fileno() not in self.closed_at:
                        self._send_one(s)
                next_round += self.interval
            self.stop_ev.wait(0.02)

    def wait_all_closed(self, timeout):
        return wait_for(lambda: self.open_count() == 0, timeout)

    def close(self):
        self.stop_ev.set()
        self.t.join(timeout=5)
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass


def abuse_conf(port, mpm="event", extra=""):
    """mod_proxy and mod_echo, one listener; `extra` adds ProxyPass lines
    and limits."""
    return (mpm_lines(mpm)
            + "LoadModule proxy_module modules/mod_proxy.so\n"
            + "LoadModule echo_module modules/mod_echo.so\n"
            + "Listen 127.0.0.1:%d\n" % port
            + "ServerName abuse.test\n"
            + "ErrorLog logs/error_log\n"
            + "PidFile logs/relaisd.pid\n"
            + extra)
