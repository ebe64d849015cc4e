"""Helpers of the hostile-input tests (test/integration/hardening) and of
test/hostile/compare.py, which runs the same cases through HAProxy and
nginx.  Nothing here depends on pytest.

- RecordingBackend: a backend on a raw socket that keeps every byte it
  receives, per connection, and parses it with a strict HTTP/1.1 parser of
  its own (CRLF only, no obs-fold, no controls, one framing).  It answers
  each complete request with a small 200 naming it.  What a test asserts
  on is what came in since a mark(): complete requests, malformed input,
  and incomplete requests left over.
- HostileBackend: answers the first request of each connection with
  exactly the bytes it is given (then, optionally, more bytes later), and
  later requests on a kept connection with a clean answer that names the
  connection.
- talk(): a raw-socket client that sends bytes (at once, or in timed
  pieces) and reads every response that comes back until the server
  closes, the expected number of final responses is in, or a deadline.
- relais_conf() / start_relais(): the relaisd configuration the tests use.

Everything listens on 127.0.0.1 on free ports; every socket has a timeout
and every thread ends when its backend is stopped.
"""
import importlib.util
import os
import re
import socket
import threading
import time

# The suite's root conftest under its own name (pytest may have put this
# directory's conftest in sys.modules as "conftest").
_ROOT_CONFTEST = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "conftest.py")
_spec = importlib.util.spec_from_file_location("relais_root_conftest_hard",
                                               _ROOT_CONFTEST)
root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(root)

free_port = root.free_port
wait_port = root.wait_port
mpm_lines = root.mpm_lines
MPMS = root.MPMS
Relais = root.Relais

# ----------------------------------------------------------------------
# A strict request parser (the backend's view of what the proxy sent)
# ----------------------------------------------------------------------

TCHARS = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
REQUEST_LINE = re.compile(rb"^([" + TCHARS + rb"]+) ([\x21-\x7e]+) "
                          rb"HTTP/1\.[01]$")
FIELD_LINE = re.compile(rb"^([" + TCHARS + rb"]+):[ \t]*(.*?)[ \t]*$",
                        re.S)
BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
HEAD_LIMIT = 1 << 17


class Malformed(Exception):
    """What a proxy sent is not a well-framed HTTP/1.1 request."""


class Request:
    def __init__(self, conn, index, method, target, version, headers,
                 raw_head):
        self.conn = conn              # connection number at the backend
        self.index = index            # nth request on that connection
        self.method = method          # str
        self.target = target          # str (latin-1)
        self.version = version
        self.headers = headers        # [(name, value)] as str
        self.raw_head = raw_head
        self.body = b""
        self.chunked = False
        self.complete = False

    def header(self, name):
        vals = self.header_all(name)
        return vals[0] if vals else None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def __repr__(self):
        return "<Request c%d#%d %s %s body=%r>" % (
            self.conn, self.index, self.method, self.target, self.body[:60])


def parse_head(buf, conn=0, index=0):
    """The request head at the start of buf as a Request (body not yet
    read) and its length, or (None, 0) when the head is not all there."""
    end = buf.find(b"\r\n\r\n")
    probe = buf if end < 0 else buf[:end + 4]
    # a LF not preceded by CR, or a CR not followed by LF, is malformed
    if re.search(rb"(?<!\r)\n|\r(?!\n|\Z)", probe):
        raise Malformed("bare CR or LF in the head")
    if end < 0:
        if len(buf) > HEAD_LIMIT:
            raise Malformed("head over %d bytes" % HEAD_LIMIT)
        return None, 0
    lines = buf[:end].split(b"\r\n")
    m = REQUEST_LINE.match(lines[0])
    if m is None:
        raise Malformed("bad request line %r" % lines[0][:100])
    version = lines[0].rsplit(b" ", 1)[1].decode()
    headers = []
    for ln in lines[1:]:
        f = FIELD_LINE.match(ln)
        if f is None or ln[:1] in (b" ", b"\t"):
            raise Malformed("bad field line %r" % ln[:100])
        if BAD_VALUE.search(f.group(2)):
            raise Malformed("control byte in field %r" % ln[:100])
        headers.append((f.group(1).decode("latin-1"),
                        f.group(2).decode("latin-1")))
    req = Request(conn, index, m.group(1).decode("latin-1"),
                  m.group(2).decode("latin-1"), version, headers,
                  buf[:end + 4])
    return req, end + 4


def body_framing(req):
    """("chunked", None), ("length", n) or ("none", 0); Malformed when the
    framing is ambiguous."""
    te = req.header_all("Transfer-Encoding")
    cl = req.header_all("Content-Length")
    if te and cl:
        raise Malformed("both Transfer-Encoding and Content-Length")
    if te:
        if len(te) != 1 or te[0].lower() != "chunked":
            raise Malformed("Transfer-Encoding %r" % te)
        return "chunked", None
    if cl:
        if len(set(cl)) != 1 or not re.fullmatch(r"[0-9]{1,15}", cl[0]):
            raise Malformed("Content-Length %r" % cl)
        return "length", int(cl[0])
    return "none", 0


def dechunk(data):
    """(body, consumed) of a complete chunked body at the start of data,
    or None when it is not all there; Malformed on anything but strict
    CRLF framing."""
    pos, body = 0, []
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            if b"\n" in data[pos:] or len(data) - pos > 4096:
                raise Malformed("bad chunk size line")
            return None
        line = data[pos:eol]
        m = re.fullmatch(rb"([0-9A-Fa-f]{1,15})(;[\x20-\x7e\t]*)?", line)
        if m is None:
            raise Malformed("bad chunk size line %r" % line[:60])
        size = int(m.group(1), 16)
        pos = eol + 2
        if size == 0:
            # trailer fields, then the empty line
            while True:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    return None
                if eol == pos:
                    return b"".join(body), pos + 2
                if not FIELD_LINE.match(data[pos:eol]):
                    raise Malformed("bad trailer %r" % data[pos:eol][:60])
                pos = eol + 2
        if len(data) < pos + size + 2:
            return None
        body.append(data[pos:pos + size])
        if data[pos + size:pos + size + 2] != b"\r\n":
            raise Malformed("chunk data not followed by CRLF")
        pos += size + 2


# ----------------------------------------------------------------------
# Backends
# ----------------------------------------------------------------------

class Mark:
    def __init__(self, log, requests, malformed, conns):
        self.log = log
        self.requests = requests
        self.malformed = malformed
        self.conns = conns


class View:
    """What a RecordingBackend received since a mark."""

    def __init__(self, raw, requests, malformed, pending, conns):
        self.raw = raw                # every byte, all connections
        self.requests = requests      # complete, well-framed requests
        self.malformed = malformed    # [(conn, reason)]
        self.pending = pending        # {conn: bytes of an unfinished request}
        self.conns = conns            # connections accepted

    def targets(self):
        return [r.target for r in self.requests]

    def heads(self):
        """The request heads the backend could act on or start to act
        on: those of the complete requests, and the start of each
        unfinished one (up to its empty line, or all of it)."""
        out = [r.raw_head for r in self.requests]
        for b in self.pending.values():
            end = b.find(b"\r\n\r\n")
            out.append(b if end < 0 else b[:end + 4])
        return out

    def smuggled(self, allowed=1, forbidden=(b"/smuggled",)):
        """Why this is smuggling, or None: more complete requests than
        allowed, malformed input forwarded, or a forbidden byte string in
        a request head (a body may carry any bytes)."""
        why = []
        if len(self.requests) > allowed:
            why.append("%d requests: %s" % (len(self.requests),
                                             self.targets()))
        if self.malformed:
            why.append("malformed: %s" % [m[1] for m in self.malformed])
        heads = b"\n".join(self.heads()).lower()
        for f in forbidden:
            if f.lower() in heads:
                why.append("forwarded %r in a request head" % f)
        return "; ".join(why) or None

    def __repr__(self):
        return "<View requests=%r malformed=%r pending=%r conns=%d>" % (
            self.requests, self.malformed,
            {k: v[:200] for k, v in self.pending.items()}, self.conns)


class _Server:
    """Accept loop and connection threads, shared by both backends."""

    def __init__(self, port=0):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(128)
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.socks = set()
        self.open_ids = set()  # connection numbers still open
        self.conns = 0
        self.errors = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def _accept(self):
        while not self.stopping.is_set():
            try:
                s, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            s.settimeout(0.2)
            with self.lock:
                self.conns += 1
                cid = self.conns
                self.socks.add(s)
                self.open_ids.add(cid)
            threading.Thread(target=self._run, args=(s, cid),
                             daemon=True).start()

    def _run(self, s, cid):
        try:
            self.serve(s, cid)
        except OSError:
            pass
        except Exception as e:  # a bug in the backend itself
            self.errors.append("conn %d: %r" % (cid, e))
        finally:
            with self.lock:
                self.socks.discard(s)
                self.open_ids.discard(cid)
            try:
                s.close()
            except OSError:
                pass

    def recv(self, s):
        """Bytes, b"" at EOF, None when stopping."""
        while not self.stopping.is_set():
            try:
                return s.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return b""
        return None

    def stop(self):
        self.stopping.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        self.acceptor.join(timeout=2)
        with self.lock:
            socks = list(self.socks)
        for s in socks:
            try:
                s.close()
            except OSError:
                pass


class RecordingBackend(_Server):
    """Keeps what it receives and answers each complete request with
    "200 seen <method> <target> <body length>" (keep-alive unless the
    request says close)."""

    def __init__(self, port=0):
        self.log = []          # (conn, bytes) in arrival order
        self.requests = []
        self.malformed = []    # (conn, reason)
        self.pending = {}      # conn -> unparsed bytes
        super().__init__(port)

    def mark(self):
        with self.lock:
            return Mark(len(self.log), len(self.requests),
                        len(self.malformed), self.conns)

    def since(self, mark, settle=0.0):
        """What came in since mark, after waiting settle seconds for
        stragglers."""
        if settle:
            time.sleep(settle)
        with self.lock:
            log = self.log[mark.log:]
            active = {c for c, _ in log}
            return View(b"".join(d for _, d in log),
                        list(self.requests[mark.requests:]),
                        list(self.malformed[mark.malformed:]),
                        {c: b for c, b in self.pending.items()
                         if b and c in active},
                        self.conns - mark.conns)

    def serve(self, s, cid):
        buf = b""
        index = 0
        sent_100 = False
        while True:
            data = self.recv(s)
            if not data:
                return
            with self.lock:
                self.log.append((cid, data))
            buf += data
            while buf:
                try:
                    req, hl = parse_head(buf, cid, index)
                    if req is None:
                        break
                    kind, n = body_framing(req)
                    if kind == "chunked":
                        got = dechunk(buf[hl:])
                        if got is None:
                            req = None
                        else:
                            req.body, used = got
                            req.chunked = True
                            consumed = hl + used
                    elif len(buf) - hl >= n:
                        req.body = buf[hl:hl + n]
                        consumed = hl + n
                    else:
                        req = None
                except Malformed as e:
                    with self.lock:
                        self.malformed.append((cid, str(e)))
                        self.pending[cid] = buf
                    return  # a real server would close here too
                if req is None:
                    # head in, body not yet: answer an Expect once
                    head, _ = parse_head(buf, cid, index)
                    if (head.header("Expect") or "").lower() == \
                            "100-continue" and not sent_100:
                        sent_100 = True
                        s.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                    break
                req.complete = True
                buf = buf[consumed:]
                index += 1
                sent_100 = False
                with self.lock:
                    self.requests.append(req)
                body = ("seen %s %s %d\n" % (req.method, req.target,
                                             len(req.body))).encode("latin-1")
                close = "close" in (req.header("Connection") or "").lower()
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                          b"Content-Length: %d\r\n%s\r\n%s" % (
                              len(body),
                              b"Connection: close\r\n" if close else b"",
                              body))
                if close:
                    return
            with self.lock:
                self.pending[cid] = buf


class HostileBackend(_Server):
    """Answers GET /hostile/<name> with the bytes of cases[name] (an
    object with raw, after, after_delay and keep): exactly `raw`, then
    `after` once after_delay seconds, then it closes, unless keep is set.
    Any other request gets "200 clean c<conn>#<n>" (the backend's
    connection number, and the request's on it): so a later client
    request shows whether the proxy reused a connection that misbehaved.
    hostile_conn[name] is the connection that last answered name, and
    wait_sent(name) waits until all its bytes went out."""

    def __init__(self, cases, port=0):
        self.cases = cases
        self.hostile_conn = {}
        self.after_sent = {}   # name -> threading.Event, set once sent
        self.requests = []     # (conn, index, raw head)
        super().__init__(port)

    def wait_sent(self, name, timeout=10.0):
        """Waits until the last answer to /hostile/name, `after` bytes
        included, was sent; False on timeout."""
        with self.lock:
            ev = self.after_sent.setdefault(name, threading.Event())
        return ev.wait(timeout)

    def _read_request(self, s, buf):
        """(head bytes, rest) of one request, or (None, buf) at EOF.
        Lenient: this backend is the hostile one."""
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                head, rest = buf[:end + 4], buf[end + 4:]
                m = re.search(rb"(?im)^content-length:[ \t]*([0-9]+)",
                              head)
                n = int(m.group(1)) if m else 0
                while len(rest) < n:
                    data = self.recv(s)
                    if not data:
                        return None, buf
                    rest += data
                return head, rest[n:]
            data = self.recv(s)
            if not data:
                return None, buf
            buf += data

    def serve(self, s, cid):
        buf = b""
        index = 0
        while True:
            head, buf = self._read_request(s, buf)
            if head is None:
                return
            with self.lock:
                self.requests.append((cid, index, head))
            m = re.match(rb"^\S+ \S*/hostile/([A-Za-z0-9_]+)", head)
            case = self.cases.get(m.group(1).decode()) if m else None
            if case is not None:
                with self.lock:
                    self.hostile_conn[case.name] = cid
                    sent = self.after_sent.setdefault(case.name,
                                                      threading.Event())
                    sent.clear()
                s.sendall(case.raw)
                if case.after:
                    time.sleep(case.after_delay)
                    s.sendall(case.after)
                sent.set()
                if not case.keep:
                    try:
                        s.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    # read what is left so that the close is no reset
                    while self.recv(s):
                        pass
                    return
            else:
                body = b"clean c%d#%d\n" % (cid, index)
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                          % (len(body), body))
            index += 1


# ----------------------------------------------------------------------
# Client
# ----------------------------------------------------------------------

class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def __repr__(self):
        return "<Response %d %r body=%r>" % (self.status, self.headers,
                                              self.body[:200])


class Outcome:
    """Everything one client connection got back."""

    def __init__(self):
        self.responses = []    # final responses, in order
        self.interim = []      # 1xx statuses, in order of arrival
        self.first = None      # the first status line's code (1xx too)
        self.closed = False    # the server closed (or reset) it
        self.reset = False
        self.timed_out = False
        self.raw = b""
        self.extra = b""       # bytes that do not parse as a response
        self.send_failed = False

    @property
    def status(self):
        return self.responses[0].status if self.responses else None

    def statuses(self):
        return [r.status for r in self.responses]

    @property
    def cut(self):
        """The status of a response whose head came but whose body was
        cut short by a close, or None."""
        m = re.match(rb"^HTTP/1\.[01] ([0-9]{3})[^\r\n]*\r\n.*?\r\n\r\n",
                     self.extra, re.S)
        return int(m.group(1)) if m and self.closed else None

    def summary(self):
        """"400", "200,200", "200 cut", "closed", "timeout" (for
        compare.py)."""
        parts = [str(s) for s in self.statuses()]
        if self.cut is not None:
            parts.append("%d cut" % self.cut)
        elif self.extra:
            parts.append("garbage")
        if parts:
            out = ",".join(parts)
            if self.timed_out:
                out += " timeout"
            return out
        return "closed" if self.closed else "timeout"

    def __repr__(self):
        return ("<Outcome %s interim=%r closed=%s timed_out=%s extra=%r "
                "raw=%r>" % (self.summary(), self.interim, self.closed,
                             self.timed_out, self.extra[:100],
                             self.raw[:300]))


def parse_responses(buf, out, head_request=False, eof=False):
    """Moves the complete responses at the start of buf into out; returns
    the rest.  A body without a length ends at EOF."""
    while buf:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return buf
        head = buf[:end]
        lines = head.split(b"\r\n")
        m = re.match(rb"^HTTP/1\.[01] ([0-9]{3})(?: (.*))?$", lines[0])
        if m is None:
            return buf
        status = int(m.group(1))
        if out.first is None:
            out.first = status
        headers = []
        for ln in lines[1:]:
            k, _, v = ln.decode("latin-1").partition(":")
            headers.append((k, v.strip()))
        resp = Response(status, (m.group(2) or b"").decode("latin-1"),
                        headers, b"", buf[:end + 4])
        rest = buf[end + 4:]
        if 100 <= status < 200:
            out.interim.append(status)
            buf = rest
            continue
        te = resp.header("Transfer-Encoding")
        cl = resp.header("Content-Length")
        if head_request or status in (204, 304):
            used = 0
        elif te is not None:
            try:
                got = dechunk(rest)
            except Malformed:
                return buf
            if got is None:
                return buf
            resp.body, used = got
        elif cl is not None:
            n = int(cl)
            if len(rest) < n:
                return buf
            resp.body, used = rest[:n], n
        else:
            if not eof:
                return buf
            resp.body, used = rest, len(rest)
        out.responses.append(resp)
        buf = rest[used:]
    return buf


def talk(port, data, expect=1, timeout=5.0, settle=0.3, head_request=False,
         sock_opts=None):
    """Sends data (bytes, or a list of (bytes, seconds to wait after)) on
    a new connection and reads until the server closes, `expect` final
    responses are in and nothing more came for `settle` seconds, or
    `timeout` seconds pass.  Returns an Outcome."""
    out = Outcome()
    pieces = [(data, 0)] if isinstance(data, bytes) else list(data)
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if sock_opts:
        sock_opts(s)
    deadline = time.monotonic() + timeout
    buf = b""
    last_rx = time.monotonic()

    def read_some(wait):
        nonlocal buf, last_rx
        s.settimeout(max(0.01, wait))
        try:
            b = s.recv(65536)
        except socket.timeout:
            return True
        except ConnectionResetError:
            out.reset = True
            b = b""
        if not b:
            out.closed = True
            return False
        out.raw += b
        buf += b
        last_rx = time.monotonic()
        return True

    try:
        for chunk, pause in pieces:
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                out.send_failed = True
                break
            end = time.monotonic() + pause
            while pause and time.monotonic() < end and not out.closed:
                if not read_some(end - time.monotonic()):
                    break
            if out.closed:
                break
        while not out.closed:
            buf = parse_responses(buf, out, head_request)
            now = time.monotonic()
            if now >= deadline:
                out.timed_out = len(out.responses) < expect
                break
            if len(out.responses) >= expect and now - last_rx >= settle:
                break
            wait = deadline - now
            if len(out.responses) >= expect:
                wait = min(wait, settle - (now - last_rx))
            read_some(wait)
        buf = parse_responses(buf, out, head_request, eof=out.closed)
        out.extra = buf
    finally:
        s.close()
    return out


def H(*lines, body=b""):
    """A request from header lines (str or bytes), CRLF-terminated."""
    parts = [ln if isinstance(ln, bytes) else ln.encode("latin-1")
             for ln in lines]
    return b"\r\n".join(parts) + b"\r\n\r\n" + body


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def check_request_case(front, case):
    """Runs a hostile_cases.RequestCase against a front (a proxy port and
    its RecordingBackend) and asserts all the case says."""
    mark = front.backend.mark()
    out = talk(front.port, case.data, expect=case.responses,
               timeout=case.timeout)
    seen = front.backend.since(mark, settle=0.2)
    deadline = time.monotonic() + 5
    while case.head_forwarded and not seen.pending and \
            time.monotonic() < deadline:
        # the head went out before the error: give a loaded machine time
        seen = front.backend.since(mark, settle=0.1)

    assert not out.timed_out, "%s: no answer in %.0f s: %r" % (
        case.name, case.timeout, out)
    assert out.status == case.status, "%s: %r" % (case.name, out)
    assert len(out.responses) == case.responses, out
    assert out.interim == list(case.interim), out
    assert out.extra == b"", "bytes after the responses: %r" % out.extra
    if case.status >= 400:
        assert out.responses[0].header("Connection") == "close", out
    assert out.closed == case.closed, (
        "%s: connection %s" % (case.name,
                               "closed" if out.closed else "left open"))

    # the backend's side
    assert seen.targets() == case.backend, seen
    assert not seen.malformed, seen
    why = seen.smuggled(allowed=len(case.backend), forbidden=case.forbidden)
    assert why is None, "%s: %s" % (case.name, why)
    if case.body is not None:
        assert [r.body for r in seen.requests] == [case.body], seen
    if not case.backend:
        if case.head_forwarded:
            # the head went out before the body showed the error: the
            # backend has an unfinished request and a closed connection
            assert seen.pending, seen
            assert all(b.count(b"\r\n\r\n") == 1 and
                       not b.endswith(b"0\r\n\r\n")
                       for b in seen.pending.values()), seen
        else:
            assert seen.raw == b"", "%s: forwarded %r" % (case.name,
                                                          seen.raw[:300])
            assert seen.conns == 0, seen


# ----------------------------------------------------------------------
# relaisd
# ----------------------------------------------------------------------

def relais_conf(port, backend_port, mpm="event", extra=""):
    """relaisd in front of one backend: the default host proxies / to
    <backend>/main/, the name-based host other.test to <backend>/other/
    (so an absolute-form target's host shows at the backend), and
    /limited/ has LimitRequestBody 1000."""
    b = "http://127.0.0.1:%d" % backend_port
    return (mpm_lines(mpm)
            + "LoadModule proxy_module modules/mod_proxy.so\n"
            + "Listen 127.0.0.1:%d\n" % port
            + "ServerName relais.test\n"
            + "ErrorLog logs/error_log\n"
            + "LogLevel info\n"
            + "PidFile logs/relaisd.pid\n"
            + extra
            + "ProxyPass / %s/main/\n" % b
            + "<Location /limited/>\n    LimitRequestBody 1000\n"
              "</Location>\n"
            + "<VirtualHost *:%d>\n" % port
            + "    ServerName relais.test\n"
            + "    ProxyPass / %s/main/\n" % b
            + "    <Location /limited/>\n        LimitRequestBody 1000\n"
              "    </Location>\n"
            + "</VirtualHost>\n"
            + "<VirtualHost *:%d>\n" % port
            + "    ServerName other.test\n"
            + "    ProxyPass / %s/other/\n" % b
            + "</VirtualHost>\n")


def start_relais(root_dir, backend_port, mpm="event", extra=""):
    """A relaisd with relais_conf(); returns (Relais, port)."""
    r = Relais(root_dir)
    port = free_port()
    r.write_conf(relais_conf(port, backend_port, mpm, extra))
    r.start(port)
    return r, port
