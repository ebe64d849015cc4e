"""bench/lib_idle.py: many idle keep-alive client connections, for the
memory an idle connection costs a proxy (used by bench/run --idle).

The client is one thread with non-blocking sockets and a selector (epoll):
at most `in_flight` connections are connecting or waiting for their
response at a time, each has a deadline, and the loop sleeps in select()
until a socket is ready or the nearest deadline passes (no busy loop).
A connection counts as open and idle once it has received one complete,
correct response and the proxy did not announce `Connection: close`.
"""
import errno
import selectors
import socket
import time

# the same request a browser-like client would send; HTTP/1.1 keeps alive
REQUEST = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           "User-Agent: relais-bench-idle\r\n\r\n")

# errors that mean "this machine cannot open more", not "the proxy failed"
LOCAL_LIMITS = (errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL, errno.ENOBUFS)


# ----------------------------------------------------------- HTTP parsing


def _chunked_body(data):
    """The decoded body of a complete chunked message body, or None when
    more bytes are needed."""
    body, pos = b"", 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(data[pos:eol].split(b";")[0] or b"0", 16)
        pos = eol + 2
        if size == 0:
            # trailers end with an empty line
            return body if data.find(b"\r\n", pos) >= 0 else None
        if len(data) < pos + size + 2:
            return None
        body += data[pos:pos + size]
        pos += size + 2


def parse_response(buf):
    """(status, headers, body) once buf holds a complete response, else
    None.  Header names are lower-case; the body is decoded."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    rest = buf[end + 4:]
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _chunked_body(rest)
        return None if body is None else (status, headers, body)
    if "content-length" in headers:
        n = int(headers["content-length"])
        return (status, headers, rest[:n]) if len(rest) >= n else None
    # no length: the body ends when the proxy closes (not keep-alive)
    return None


# ------------------------------------------------------------- exchanges


class Exchange:
    """One request and its response on one socket: a new connection
    (sock None: connect first) or an idle one being reused."""

    def __init__(self, port, path, body, timeout, sock=None):
        self.port = port
        self.body = body
        self.out = (REQUEST % path).encode()
        self.timeout = timeout
        self.sock = sock
        self.reuse = sock is not None
        self.buf = b""
        self.deadline = None
        self.done = False
        self.ok = False
        self.error = None          # why it failed, when it did
        self.closed = False        # the proxy closed it before answering
        self.local_limit = False   # our fd or port limit, not the proxy

    def start(self, sel):
        """Connect (or, on an open socket, send at once) and register."""
        self.deadline = time.monotonic() + self.timeout
        if self.sock is None:
            try:
                self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            except OSError as e:
                self.local_limit = e.errno in LOCAL_LIMITS
                return self.fail("socket(): %s" % e)
            self.sock.setblocking(False)
            rc = self.sock.connect_ex(("127.0.0.1", self.port))
            if rc not in (0, errno.EINPROGRESS):
                self.local_limit = rc in LOCAL_LIMITS
                return self.fail("connect(): %s" % errno.errorcode.get(rc, rc))
        # writable: connected (or failed: SO_ERROR says), or ready to send
        sel.register(self.sock, selectors.EVENT_WRITE, self)

    def on_event(self, sel):
        if self.out:
            self._send(sel)
        else:
            self._recv(sel)

    def _send(self, sel):
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            # on an idle connection, a pending error is the proxy's reset
            self.closed = self.reuse
            return self.finish(sel, "socket error: %s"
                               % errno.errorcode.get(err, err))
        try:
            n = self.sock.send(self.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.closed = True
            return self.finish(sel, "send: %s" % e)
        self.out = self.out[n:]
        if not self.out:
            sel.modify(self.sock, selectors.EVENT_READ, self)

    def _recv(self, sel):
        try:
            data = self.sock.recv(262144)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.closed = not self.buf
            return self.finish(sel, "recv: %s" % e)
        if not data:
            self.closed = not self.buf
            return self.finish(sel, "closed by the proxy" if self.closed
                               else "closed in the middle of a response")
        self.buf += data
        resp = parse_response(self.buf)
        if resp is None:
            return
        status, headers, body = resp
        if status != 200 or body != self.body:
            return self.finish(sel, "status %d, %d body bytes (want 200, %d)"
                               % (status, len(body), len(self.body)))
        if "close" in headers.get("connection", "").lower():
            return self.finish(sel, "answered with Connection: close")
        self.ok = True
        self.finish(sel, None)

    def finish(self, sel, error):
        sel.unregister(self.sock)
        self.done = True
        self.error = error
        if error:
            self.sock.close()
            self.sock = None

    def fail(self, error):
        """Failed before being registered."""
        self.done = True
        self.error = error
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def drive(exchanges, in_flight, log=None):
    """Runs the exchanges (an iterable, consumed lazily), at most in_flight
    at a time; returns them all, done.  Stops starting new ones after a
    local limit (fd or port exhaustion): the rest are not attempted."""
    sel = selectors.DefaultSelector()
    active, finished = set(), []
    it = iter(exchanges)
    more = True
    try:
        while True:
            while more and len(active) < in_flight:
                ex = next(it, None)
                if ex is None:
                    more = False
                    break
                ex.start(sel)
                if ex.done:
                    finished.append(ex)
                    if ex.local_limit:
                        more = False
                        if log:
                            log("idle: local limit reached: %s" % ex.error)
                else:
                    active.add(ex)
            if not active:
                return finished
            wait = min(ex.deadline for ex in active) - time.monotonic()
            for key, _ in sel.select(timeout=max(0.0, wait)):
                ex = key.data
                ex.on_event(sel)
                if ex.done:
                    active.discard(ex)
                    finished.append(ex)
            now = time.monotonic()
            for ex in [e for e in active if e.deadline <= now]:
                ex.finish(sel, "timeout after %.0f s" % ex.timeout)
                active.discard(ex)
                finished.append(ex)
    finally:
        sel.close()


def open_idle(port, n, path, body, in_flight, timeout, log=None):
    """n new connections, one complete GET each: (open sockets, failures)."""
    done = drive((Exchange(port, path, body, timeout) for _ in range(n)),
                 in_flight, log)
    return ([ex.sock for ex in done if ex.ok],
            [ex for ex in done if not ex.ok])


def count_closed(socks):
    """How many of these idle sockets the proxy closed (EOF or reset
    waiting to be read), and how many got bytes nobody asked for."""
    sel = selectors.DefaultSelector()
    closed = unsolicited = 0
    try:
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        for key, _ in sel.select(timeout=0):
            try:
                data = key.fileobj.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                continue
            except OSError:
                closed += 1
                continue
            if data:
                unsolicited += 1
            else:
                closed += 1
    finally:
        sel.close()
    return closed, unsolicited


def spread(items, k):
    """k items spread evenly over the list (all of them when k >= len)."""
    if k >= len(items):
        return list(items)
    return [items[i * len(items) // k] for i in range(k)]


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def measure(port, n, rss_kib, path, body, base=100, in_flight=200,
            sample=200, settle=1.0, timeout=15.0, log=None):
    """RSS per idle keep-alive connection on the proxy at port.

    Opens `base` connections (one GET each) so that pools, buffers and
    backend connections exist, measures the proxy's RSS (rss_kib(): KiB),
    opens n more the same way, waits `settle` seconds, measures again;
    (delta) / (connections opened) is the cost of one idle connection.
    Then checks they are still open keep-alive connections: how many the
    proxy closed while they idled, and a second GET on `sample` of them
    spread over the n.  Everything is closed at the end."""
    held = []
    r = {"requested": n, "base": base, "in_flight": in_flight}
    try:
        socks, fails = open_idle(port, base, path, body, in_flight, timeout,
                                 log)
        held += socks
        r["base_open"] = len(socks)
        r["base_failures"] = _failure_summary(fails)
        time.sleep(settle)
        r["rss_base_kib"] = rss_kib()

        t0 = time.monotonic()
        socks, fails = open_idle(port, n, path, body, in_flight, timeout, log)
        r["open_s"] = round(time.monotonic() - t0, 2)
        held += socks
        r["opened"] = len(socks)
        r["failures"] = _failure_summary(fails)
        r["failed"] = sum(1 for ex in fails if not ex.local_limit)
        r["not_attempted_local_limit"] = n - len(socks) - r["failed"]
        time.sleep(settle)
        r["rss_idle_kib"] = rss_kib()
        r["kib_per_conn"] = ((r["rss_idle_kib"] - r["rss_base_kib"])
                             / len(socks) if socks else None)

        r["closed_while_idle"], r["unsolicited"] = count_closed(held)
        picked = spread(socks, sample)
        done = drive((Exchange(port, path, body, timeout, sock=s)
                      for s in picked), in_flight, log)
        r["sample"] = len(picked)
        r["sample_ok"] = sum(1 for ex in done if ex.ok)
        r["sample_closed"] = sum(1 for ex in done if ex.closed)
        r["sample_failures"] = _failure_summary(
            [ex for ex in done if not ex.ok])
        r["idle_s"] = round(time.monotonic() - t0, 2)
    finally:
        # reused sockets that failed were closed by their Exchange already
        close_all(s for s in held if s.fileno() >= 0)
    return r


def _failure_summary(fails):
    """{error text: count}, for the report."""
    out = {}
    for ex in fails:
        out[ex.error] = out.get(ex.error, 0) + 1
    return out
