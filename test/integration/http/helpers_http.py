"""Shared helpers for the HTTP/1.1 integration tests (test/integration/http).

Everything here is a real client: raw sockets that parse responses byte by
byte (so that framing mistakes show), plus small wrappers around curl and
http.client.  Every loop is bounded by a deadline.
"""
import hashlib
import http.client
import json
import socket
import subprocess
import time

from conftest import mpm_lines

# mod_echo's ECHO_PATTERN: byte i of a ?size=N body is PATTERN[i % 64].
PATTERN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.\n"


def pattern_bytes(n):
    """The first n bytes mod_echo sends for ?size=n."""
    return (PATTERN * (n // 64 + 1))[:n]


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def echo_conf(mpm, port, extra="", top="", handler=True, listen=None):
    """A configuration with one listener on 127.0.0.1:port, mod_echo loaded
    and (by default) `SetHandler echo` for the main server.

    `top` goes before the main server's settings (e.g. ServerTokens), `extra`
    after them (directives, <VirtualHost>, <Location>...)."""
    listen = listen if listen is not None else "Listen 127.0.0.1:%d\n" % port
    return (mpm_lines(mpm) + "LoadModule echo_module modules/mod_echo.so\n"
            + listen
            + "ErrorLog logs/error_log\n"
            + "LogLevel info\n"
            + "PidFile logs/relaisd.pid\n"
            + top
            + ("SetHandler echo\n" if handler else "")
            + extra)


def start_echo(relais, mpm, extra="", top="", handler=True):
    """Writes an echo configuration, starts relaisd, returns its port."""
    from conftest import free_port
    port = free_port()
    relais.write_conf(echo_conf(mpm, port, extra=extra, top=top,
                                handler=handler))
    relais.start(port)
    return port


class Response:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers      # list of (name, value) as received
        self.body = body
        self.raw_head = raw_head

    def header(self, name):
        """First value of a field (case-insensitive), or None."""
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %r %r body=%r>" % (
            self.status, self.reason, self.headers, self.body[:200])


class ProtocolError(Exception):
    pass


class RawConn:
    """One client connection on a raw socket, with a read buffer so that
    several (pipelined) responses can be parsed off it one by one."""

    def __init__(self, port, timeout=5.0, host="127.0.0.1", family=None):
        if family == socket.AF_INET6:
            self.sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
        else:
            self.sock = socket.create_connection((host, port),
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

    # -- reading -------------------------------------------------------
    def _fill(self, deadline):
        if self.eof:
            raise ProtocolError("connection closed; have %r" % self.buf[:300])
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no complete response in time; have %r"
                                 % self.buf[:300])
        self.sock.settimeout(left)
        b = self.sock.recv(65536)
        if not b:
            self.eof = True
            raise ProtocolError("connection closed; have %r" % self.buf[:300])
        self.buf += b

    def _read_until(self, marker, deadline):
        while marker not in self.buf:
            self._fill(deadline)
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _read_exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self, timeout=None):
        """Reads one response head (may be a 1xx)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        raw = self._read_until(b"\r\n\r\n", deadline)
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

    def read_response(self, head_request=False, timeout=None,
                      skip_1xx=True):
        """Reads one complete response, framed as RFC 9112 §6.3 says."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            status, reason, headers, raw = self.read_head(
                timeout=max(0.01, deadline - time.monotonic()))
            if 100 <= status < 200 and skip_1xx:
                continue
            break
        resp = Response(status, reason, headers, b"", raw)
        te = resp.header("Transfer-Encoding")
        cl = resp.header("Content-Length")
        if head_request or status in (204, 304) or 100 <= status < 200:
            return resp
        if te is not None:
            if te.lower() != "chunked":
                raise ProtocolError("unexpected Transfer-Encoding %r" % te)
            body = []
            while True:
                line = self._read_until(b"\r\n", deadline)
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    # trailers until the empty line
                    while self._read_until(b"\r\n", deadline) != b"\r\n":
                        pass
                    break
                body.append(self._read_exact(size, deadline))
                if self._read_exact(2, deadline) != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
            resp.body = b"".join(body)
        elif cl is not None:
            resp.body = self._read_exact(int(cl), deadline)
        else:
            # close-delimited
            while True:
                try:
                    self._fill(deadline)
                except ProtocolError:
                    break
            resp.body, self.buf = self.buf, b""
        return resp

    def wait_closed(self, timeout=5.0):
        """True when the server closes (recv returns b"") within timeout;
        the bytes received meanwhile are left in self.extra."""
        deadline = time.monotonic() + timeout
        self.extra = self.buf
        self.buf = b""
        if self.eof:
            return True
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                b = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not b:
                self.eof = True
                return True
            self.extra += b
        return False


def request_bytes(method="GET", target="/", host="localhost", headers=(),
                  body=b"", proto="HTTP/1.1"):
    """Builds a request head (+ body); Content-Length added for a body."""
    lines = ["%s %s %s" % (method, target, proto)]
    if host is not None:
        lines.append("Host: %s" % host)
    names = [h[0].lower() for h in headers]
    for k, v in headers:
        lines.append("%s: %s" % (k, v))
    if body and "content-length" not in names and \
            "transfer-encoding" not in names:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def get_raw(port, target="/", **kw):
    """One request on a fresh connection; returns the Response."""
    with RawConn(port) as c:
        c.send(request_bytes(target=target, **kw))
        return c.read_response(head_request=kw.get("method") == "HEAD")


def curl(args, timeout=20):
    """Runs curl with args; returns CompletedProcess (bytes)."""
    return subprocess.run(["curl", "-sS", "--max-time", str(timeout)]
                          + list(args), capture_output=True, timeout=timeout + 5)


def http_client(port, timeout=10):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def chunk(data, ext=b""):
    """One chunk of the chunked coding."""
    return b"%x%s\r\n%s\r\n" % (len(data), ext, data)


def start_module_server(tmp_path_factory, mpm, name, extra="", top="",
                        handler=True):
    """A relaisd for a module-scoped fixture (several tests share it).
    Returns (Relais, port); the caller stops it."""
    from conftest import Relais
    r = Relais(tmp_path_factory.mktemp("%s-%s" % (name, mpm)))
    port = start_echo(r, mpm, extra=extra, top=top, handler=handler)
    return r, port
