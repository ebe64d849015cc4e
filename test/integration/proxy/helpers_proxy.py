"""Helpers of the mod_proxy integration tests (test/integration/proxy).

- Backend: a threaded HTTP/1.1 server written on raw sockets, so that it
  can misbehave on purpose (bad status line, CR injection, CL+TE, close
  mid-body, hang, 1xx, WebSocket echo).  It records every request it
  receives (method, raw target, raw header fields, body length and
  SHA-256, the body itself when small) and counts accepted TCP
  connections.  What it answers is chosen per path prefix with on().
- Apache: Debian's /usr/sbin/apache2 serving a DocumentRoot, started and
  stopped (by PID) by a fixture.
- RawConn: a raw-socket client that parses responses byte by byte.
- proxy_conf() / start_proxy(): a relaisd configuration with mod_proxy.

Everything listens on 127.0.0.1 on free ports; every thread and socket is
bounded by a timeout and stopped by stop().
"""
import base64
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

# The suite's root conftest, loaded under its own name: "conftest" in
# sys.modules may be this directory's conftest (pytest replaces it).
_ROOT_CONFTEST = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "conftest.py")
_spec = importlib.util.spec_from_file_location("relais_root_conftest",
                                               _ROOT_CONFTEST)
root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(root)

free_port = root.free_port
wait_port = root.wait_port
mpm_lines = root.mpm_lines
MPMS = root.MPMS
raw_request = root.raw_request
status_of = root.status_of

APACHE = "/usr/sbin/apache2"
APACHE_MODULES = "/usr/lib/apache2/modules"

PATTERN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.\n"
BLOCK = PATTERN * (1 << 14)  # 1 MiB of the pattern
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def pattern_bytes(n):
    """The first n bytes the Backend sends for size=n."""
    return (PATTERN * (n // 64 + 1))[:n]


def pattern_sha256(n):
    h = hashlib.sha256()
    left = n
    while left > 0:
        k = min(left, len(BLOCK))
        h.update(BLOCK[:k])
        left -= k
    return h.hexdigest()


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------
# Python backend
# ----------------------------------------------------------------------

class BackendRequest:
    def __init__(self, method, target, version, headers, raw_head, conn_id,
                 index):
        self.method = method
        self.target = target          # raw bytes of the request target
        self.version = version
        self.headers = headers        # [(name, value)] as received (str)
        self.raw_head = raw_head
        self.conn_id = conn_id
        self.index = index            # nth request on its connection
        self.body = b""               # kept when small
        self.body_len = 0
        self.body_sha256 = sha256_hex(b"")
        self.chunked = False

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def __repr__(self):
        return "<BackendRequest %s %r %r>" % (self.method, self.target,
                                              self.headers)


class _Closed(Exception):
    pass


class _Reader:
    """Buffered reads from a socket with a per-read timeout."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        b = self.sock.recv(1 << 20)
        if not b:
            raise _Closed()
        self.buf += b

    def until(self, marker, limit=1 << 16):
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise _Closed()
            self.fill()
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def stream(self, n, sink):
        """Passes n bytes to sink(bytes) without keeping them."""
        if self.buf:
            k = min(n, len(self.buf))
            sink(self.buf[:k])
            self.buf = self.buf[k:]
            n -= k
        while n > 0:
            b = self.sock.recv(min(n, 1 << 20))
            if not b:
                raise _Closed()
            sink(b)
            n -= len(b)


class Backend:
    """A threaded HTTP/1.1 backend on 127.0.0.1 that records what it gets.

    on(prefix, **behaviour) chooses the answer for targets whose path starts
    with prefix (longest prefix wins; default: a JSON description of the
    request).  Behaviour keys:
      status, reason, headers=[(k, v)], body=bytes, size=N (pattern bytes),
      chunked=True (chunk=bytes per chunk), cut_after=N (send N body bytes
      then close), close=True (Connection: close and close), silent_close
      (close after the response without saying so), no_length=True (body
      delimited by close), delay=s, hang=s (read the request then say
      nothing for up to s seconds), interim=[codes] (1xx heads first),
      raw=bytes (the whole response as is, then close; raw_keep=True keeps
      the connection for further requests), pace=s (pause between body
      pieces), websocket=True
      (echo server after a 101 handshake), continue_100=True (answer
      Expect: 100-continue before reading the body), trailers=[(k, v)].
    keepalive_timeout=s closes a connection idle for s seconds between
    requests.
    """

    def __init__(self, keepalive_timeout=None, server_header="PythonBackend/1.0 (Python)",
                 conn_timeout=30.0, keep_body=1 << 20, port=0):
        self.keepalive_timeout = keepalive_timeout
        self.server_header = server_header
        self.conn_timeout = conn_timeout
        self.keep_body = keep_body
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(256)
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.requests = []
        self.accepted = 0
        self.behaviours = {}
        self.stopping = threading.Event()
        self.threads = []
        self.conns = set()
        self.errors = []
        self.acceptor = threading.Thread(target=self._accept_loop,
                                         daemon=True)
        self.acceptor.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def on(self, prefix, **behaviour):
        self.behaviours[prefix] = behaviour

    def reset(self):
        with self.lock:
            self.requests = []
            self.accepted = 0

    def last(self):
        with self.lock:
            return self.requests[-1] if self.requests else None

    def wait_requests(self, n, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if len(self.requests) >= n:
                    return list(self.requests)
            time.sleep(0.01)
        with self.lock:
            return list(self.requests)

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
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        for t in list(self.threads):
            t.join(timeout=5)

    # -- internals -------------------------------------------------------
    def _accept_loop(self):
        conn_id = 0
        while not self.stopping.is_set():
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            with self.lock:
                self.accepted += 1
                self.conns.add(c)
            t = threading.Thread(target=self._serve, args=(c, conn_id),
                                 daemon=True)
            conn_id += 1
            self.threads.append(t)
            t.start()

    def _behaviour(self, path):
        best, blen = {}, -1
        for prefix, b in self.behaviours.items():
            if path.startswith(prefix) and len(prefix) > blen:
                best, blen = b, len(prefix)
        return best

    def _serve(self, c, conn_id):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rd = _Reader(c)
        index = 0
        try:
            while not self.stopping.is_set():
                idle = self.keepalive_timeout if index > 0 else None
                c.settimeout(idle if idle is not None and not rd.buf
                             else self.conn_timeout)
                try:
                    if not rd.buf:
                        rd.fill()
                except socket.timeout:
                    if idle is not None:
                        break  # idle keep-alive timeout: close silently
                    raise
                c.settimeout(self.conn_timeout)
                if not self._one_request(c, rd, conn_id, index):
                    break
                index += 1
        except (_Closed, OSError):
            pass
        except Exception as e:  # recorded for the test to see
            self.errors.append(repr(e))
        finally:
            with self.lock:
                self.conns.discard(c)
            try:
                c.close()
            except OSError:
                pass

    def _one_request(self, c, rd, conn_id, index):
        raw_head = rd.until(b"\r\n\r\n")
        lines = raw_head[:-4].split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3:
            c.sendall(b"HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n"
                      b"Connection: close\r\n\r\n")
            return False
        method, target, version = (parts[0].decode("latin-1"), parts[1],
                                   parts[2].decode("latin-1"))
        headers = []
        for ln in lines[1:]:
            k, _, v = ln.decode("latin-1").partition(":")
            headers.append((k, v.strip(" \t")))
        req = BackendRequest(method, target, version, headers, raw_head,
                             conn_id, index)
        path = target.split(b"?", 1)[0].decode("latin-1")
        beh = self._behaviour(path)
        with self.lock:
            self.requests.append(req)

        # request body
        te = req.header("Transfer-Encoding")
        cl = req.header("Content-Length")
        expect = req.header("Expect")
        if expect and expect.lower() == "100-continue" and \
                beh.get("continue_100", True):
            c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        h = hashlib.sha256()
        kept = []
        state = {"n": 0}

        def sink(b):
            h.update(b)
            state["n"] += len(b)
            if state["n"] <= self.keep_body:
                kept.append(b)

        if te is not None and te.lower() == "chunked":
            req.chunked = True
            while True:
                line = rd.until(b"\r\n")
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while rd.until(b"\r\n") != b"\r\n":
                        pass
                    break
                rd.stream(size, sink)
                if rd.exact(2) != b"\r\n":
                    raise _Closed()
        elif cl is not None:
            rd.stream(int(cl), sink)
        req.body_len = state["n"]
        req.body_sha256 = h.hexdigest()
        req.body = b"".join(kept) if state["n"] <= self.keep_body else None

        if beh.get("websocket"):
            return self._websocket(c, rd, req)
        if "hang" in beh:
            self.stopping.wait(beh["hang"])
            return False
        if "delay" in beh:
            if self.stopping.wait(beh["delay"]):
                return False
        for code in beh.get("interim", ()):
            c.sendall(b"HTTP/1.1 %d Interim\r\nX-Interim: %d\r\n\r\n"
                      % (code, code))
        if "raw" in beh:
            c.sendall(beh["raw"])
            if beh.get("raw_keep"):
                return True
            return False
        return self._respond(c, req, beh)

    def _respond(self, c, req, beh):
        status = beh.get("status", 200)
        reason = beh.get("reason", "OK")
        head = ["HTTP/1.1 %d %s" % (status, reason)]
        if self.server_header:
            head.append("Server: %s" % self.server_header)
        if "body" in beh:
            body = beh["body"]
            size = len(body)
        elif "size" in beh:
            body = None
            size = beh["size"]
        else:
            body = json.dumps({
                "method": req.method,
                "target": req.target.decode("latin-1"),
                "headers": req.headers,
                "body_len": req.body_len,
                "body_sha256": req.body_sha256,
                "conn": req.conn_id,
                "index": req.index,
            }).encode()
            size = len(body)
            head.append("Content-Type: application/json")
        for k, v in beh.get("headers", ()):
            head.append("%s: %s" % (k, v))
        no_body = status in (204, 304) or 100 <= status < 200
        chunked = beh.get("chunked", False) and not no_body
        if no_body:
            pass
        elif chunked:
            head.append("Transfer-Encoding: chunked")
        elif not beh.get("no_length"):
            head.append("Content-Length: %d" % size)
        close = beh.get("close") or beh.get("no_length")
        if close:
            head.append("Connection: close")
        c.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if req.method == "HEAD" or no_body:
            return not close and not beh.get("silent_close")
        cut = beh.get("cut_after")
        chunk = beh.get("chunk", 1 << 16)
        sent = 0
        pos = 0
        while pos < size:
            k = min(chunk, size - pos)
            if cut is not None:
                k = min(k, cut - sent)
                if k <= 0:
                    return False
            if body is not None:
                data = body[pos:pos + k]
            else:
                off = pos % len(PATTERN)
                k = min(k, len(BLOCK) - off)
                data = BLOCK[off:off + k]
            if chunked:
                c.sendall(b"%x\r\n" % len(data) + data + b"\r\n")
            else:
                c.sendall(data)
            pos += len(data)
            sent += len(data)
            if beh.get("pace"):
                time.sleep(beh["pace"])
        if cut is not None and sent >= cut and sent < size:
            return False
        if chunked:
            tr = "".join("%s: %s\r\n" % kv for kv in beh.get("trailers", ()))
            c.sendall(b"0\r\n" + tr.encode("latin-1") + b"\r\n")
        if close or beh.get("silent_close"):
            return False
        return True

    # -- WebSocket echo ------------------------------------------------------
    def _websocket(self, c, rd, req):
        up = (req.header("Upgrade") or "").lower()
        key = req.header("Sec-WebSocket-Key")
        if up != "websocket" or not key:
            body = b"backend expected an Upgrade: websocket request\n"
            c.sendall(b"HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\n"
                      b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
                      % (len(body), body))
            return False
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID)
                                  .digest())
        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept +
                  b"\r\n\r\n")
        for _ in range(1000):
            opcode, payload = ws_read_frame(rd.exact, expect_masked=True)
            if opcode == 8:
                c.sendall(ws_frame(8, payload[:2], mask=False))
                return False
            if opcode == 9:
                c.sendall(ws_frame(10, payload, mask=False))
                continue
            c.sendall(ws_frame(opcode, payload, mask=False))
        return False


def ws_frame(opcode, payload, mask=True):
    """One final WebSocket frame (RFC 6455 §5.2)."""
    b0 = 0x80 | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n < 65536:
        head = bytes([b0, mbit | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, mbit | 127]) + n.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


def ws_read_frame(exact, expect_masked):
    """Reads one frame with exact(n) -> bytes; returns (opcode, payload)."""
    b0, b1 = exact(2)
    opcode = b0 & 0x0F
    masked = bool(b1 & 0x80)
    if masked != expect_masked:
        raise ValueError("frame masking is wrong (masked=%s)" % masked)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(exact(2), "big")
    elif n == 127:
        n = int.from_bytes(exact(8), "big")
    key = exact(4) if masked else None
    payload = exact(n) if n else b""
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return opcode, payload


# ----------------------------------------------------------------------
# Apache httpd
# ----------------------------------------------------------------------

class Apache:
    """Debian's apache2 serving a DocumentRoot with a few files, among them
    big.bin (10 MiB of random bytes).  Its files live in a directory
    readable by the unprivileged user the children run as."""

    BIG = 10 * 1024 * 1024

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="relais-apache-")
        os.chmod(self.dir, 0o755)
        self.docroot = os.path.join(self.dir, "htdocs")
        os.makedirs(os.path.join(self.docroot, "sub"))
        self.files = {}
        self._write("index.html", b"<html><body>apache index</body></html>\n")
        self._write("hello.txt", b"hello from apache\n")
        self._write("sub/page.txt", b"a page in a sub directory\n")
        self._write("big.bin", os.urandom(self.BIG))
        for d, _, fs in os.walk(self.dir):
            os.chmod(d, 0o755)
            for f in fs:
                os.chmod(os.path.join(d, f), 0o644)
        self.port = free_port()
        self.proc = None
        self.conf = os.path.join(self.dir, "httpd.conf")
        user = "nobody"
        group = "nogroup"
        with open(self.conf, "w") as f:
            f.write("""ServerRoot "{d}"
DefaultRuntimeDir "{d}"
Listen 127.0.0.1:{port}
PidFile "{d}/httpd.pid"
ErrorLog "{d}/error.log"
LogLevel warn
LoadModule mpm_event_module {m}/mod_mpm_event.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule mime_module {m}/mod_mime.so
LoadModule dir_module {m}/mod_dir.so
User {user}
Group {group}
ServerName localhost
TypesConfig /etc/mime.types
DocumentRoot "{root}"
DirectoryIndex index.html
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 15
StartServers 1
<Directory />
    Require all denied
</Directory>
<Directory "{root}">
    Require all granted
</Directory>
""".format(d=self.dir, port=self.port, m=APACHE_MODULES, root=self.docroot,
           user=user, group=group))

    def _write(self, name, data):
        path = os.path.join(self.docroot, name)
        with open(path, "wb") as f:
            f.write(data)
        self.files[name] = data

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        env = dict(os.environ)
        env.update({"APACHE_RUN_DIR": self.dir, "APACHE_PID_FILE":
                    os.path.join(self.dir, "httpd.pid"),
                    "APACHE_LOCK_DIR": self.dir, "APACHE_LOG_DIR": self.dir,
                    "APACHE_RUN_USER": "nobody",
                    "APACHE_RUN_GROUP": "nogroup", "LANG": "C"})
        self.out = open(os.path.join(self.dir, "stdout.txt"), "w")
        self.proc = subprocess.Popen(
            [APACHE, "-f", self.conf, "-DFOREGROUND"], env=env,
            stdout=self.out, stderr=subprocess.STDOUT)
        if not wait_port(self.port, timeout=10):
            self.stop()
            raise RuntimeError("apache2 did not listen:\n%s\n%s" % (
                self._read("stdout.txt"), self._read("error.log")))

    def _read(self, name):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "out", None):
            self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# ----------------------------------------------------------------------
# relaisd configuration
# ----------------------------------------------------------------------

def proxy_conf(port, body, mpm="event", mpm_extra="", echo=False):
    """A relaisd configuration: the MPM, mod_proxy (and mod_echo), one
    listener, then `body` (ProxyPass lines, vhosts...)."""
    return (mpm_lines(mpm) + (mpm_extra or "")
            + "LoadModule proxy_module modules/mod_proxy.so\n"
            + ("LoadModule echo_module modules/mod_echo.so\n" if echo else "")
            + "Listen 127.0.0.1:%d\n" % port
            + "ServerName relais.test\n"
            + "ErrorLog logs/error_log\n"
            + "LogLevel info\n"
            + "PidFile logs/relaisd.pid\n"
            + body)


# One thread of one child, so that backend connections can be counted
# exactly (1 per relaisd thread).
ONE_THREAD = {
    "event": "StartServers 1\nServerLimit 1\nThreadsPerChild 1\n",
    "worker": "StartServers 1\nServerLimit 1\nThreadsPerChild 1\n",
    "prefork": "StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\n"
               "ServerLimit 1\nMaxRequestWorkers 1\n",
}


def start_proxy(relais, body, mpm="event", one_thread=False, mpm_extra="",
                echo=False):
    """Writes proxy_conf() and starts relaisd; returns its port (@PORT@ in
    body is replaced by it)."""
    port = free_port()
    extra = (ONE_THREAD[mpm] if one_thread else "") + mpm_extra
    body = body.replace("@PORT@", str(port))
    relais.write_conf(proxy_conf(port, body, mpm=mpm, mpm_extra=extra,
                                 echo=echo))
    relais.start(port)
    return port


def rss_kib(pid):
    """VmRSS of a process in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def children_rss_kib(relais):
    return {pid: rss_kib(pid) for pid in relais.children()}


# ----------------------------------------------------------------------
# Client side
# ----------------------------------------------------------------------

class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.raw_head = raw_head
        self.interim = []

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def names(self):
        return [k.lower() for k, _ in self.headers]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %r %r body=%r>" % (
            self.status, self.reason, self.headers, self.body[:300])


class ProtocolError(Exception):
    pass


class RawConn:
    """One client connection on a raw socket with a read buffer."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _fill(self, deadline):
        if self.eof:
            raise ProtocolError("connection closed; have %r" % self.buf[:300])
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("nothing complete in time; have %r"
                                 % self.buf[:300])
        self.sock.settimeout(left)
        try:
            b = self.sock.recv(1 << 20)
        except ConnectionResetError:
            b = b""
        if not b:
            self.eof = True
            raise ProtocolError("connection closed; have %r" % self.buf[:300])
        self.buf += b

    def read_until(self, marker, deadline):
        while marker not in self.buf:
            self._fill(deadline)
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        raw = self.read_until(b"\r\n\r\n", deadline)
        lines = raw[:-4].split(b"\r\n")
        first = lines[0].decode("latin-1")
        parts = first.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ProtocolError("bad status line %r" % first)
        headers = []
        for ln in lines[1:]:
            k, _, v = ln.decode("latin-1").partition(":")
            headers.append((k, v.strip()))
        return int(parts[1]), (parts[2] if len(parts) > 2 else ""), \
            headers, raw

    def read_response(self, head_request=False, timeout=None):
        """One complete response (1xx heads kept in .interim)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        interim = []
        while True:
            status, reason, headers, raw = self.read_head(
                timeout=max(0.01, deadline - time.monotonic()))
            if 100 <= status < 200:
                interim.append((status, headers))
                continue
            break
        resp = Response(status, reason, headers, b"", raw)
        resp.interim = interim
        te = resp.header("Transfer-Encoding")
        cl = resp.header("Content-Length")
        if head_request or status in (204, 304):
            return resp
        if te is not None:
            if te.lower() != "chunked":
                raise ProtocolError("unexpected Transfer-Encoding %r" % te)
            body = []
            while True:
                line = self.read_until(b"\r\n", deadline)
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.read_until(b"\r\n", deadline) != b"\r\n":
                        pass
                    break
                body.append(self.read_exact(size, deadline))
                if self.read_exact(2, deadline) != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
            resp.body = b"".join(body)
        elif cl is not None:
            resp.body = self.read_exact(int(cl), deadline)
        else:
            while True:
                try:
                    self._fill(deadline)
                except ProtocolError:
                    break
            resp.body, self.buf = self.buf, b""
        return resp

    def read_to_close(self, timeout=None):
        """Everything until the server closes; (bytes, closed)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                self._fill(deadline)
            except ProtocolError:
                out, self.buf = self.buf, b""
                return out, True
            except socket.timeout:
                out, self.buf = self.buf, b""
                return out, False

    def wait_closed(self, timeout=5.0):
        _, closed = self.read_to_close(timeout)
        return closed


def request_bytes(method="GET", target="/", host="relais.test", headers=(),
                  body=b"", proto="HTTP/1.1"):
    """A request head (+ body); Content-Length added for a body."""
    if isinstance(target, str):
        target = target.encode("latin-1")
    lines = [b"%s %s %s" % (method.encode(), target, proto.encode())]
    if host is not None:
        lines.append(b"Host: " + host.encode("latin-1"))
    names = [h[0].lower() for h in headers]
    for k, v in headers:
        lines.append(("%s: %s" % (k, v)).encode("latin-1"))
    if body and "content-length" not in names and \
            "transfer-encoding" not in names:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def get(port, target="/", timeout=10.0, **kw):
    """One request on a fresh connection; returns the Response."""
    with RawConn(port, timeout=timeout) as c:
        c.send(request_bytes(target=target, **kw))
        return c.read_response(head_request=kw.get("method") == "HEAD")


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def error_page_clean(body, backend_port):
    """What an error page must never show: the backend's address or port,
    or the software of the backends."""
    text = body.decode("latin-1")
    bad = ["127.0.0.1:%d" % backend_port, ":%d" % backend_port,
           str(backend_port), "Python", "Apache", "python", "apache"]
    return [b for b in bad if b in text]
