"""What the server-side mod_ssl tests share: a relaisd configuration with
an https listener, TLS clients (Python's ssl module on raw sockets, the
openssl command line, curl), and a keep-alive load client that runs
through a graceful restart.

Everything listens on 127.0.0.1 on ports from free_port(); every process
started here is ended by PID.
"""
import hashlib
import os
import re
import socket
import ssl
import subprocess
import threading
import time

from helpers_proxy import free_port, mpm_lines, root  # noqa: F401 (re-exported)

MODULES = ("ssl", "proxy", "echo", "log", "headers", "acl")


def conf(port, body, mpm="event", modules=MODULES, listen="https",
         extra_listen=""):
    """MPM, the modules, `Listen 127.0.0.1:port https`, an error log at
    info, then body (@PORT@ in it is the port)."""
    text = mpm_lines(mpm)
    for m in modules:
        text += "LoadModule %s_module modules/mod_%s.so\n" % (m, m)
    text += "Listen 127.0.0.1:%d%s\n" % (port, " " + listen if listen else "")
    text += extra_listen
    text += ("ServerName relais.test\nErrorLog logs/error_log\n"
             "LogLevel info\nPidFile logs/relaisd.pid\n")
    return text + body.replace("@PORT@", str(port))


def vhost(certs, name="localhost", body="", keys=("rsa",), port="*:@PORT@"):
    """A TLS <VirtualHost> named `name` with the certificates of `keys`
    (stems of the test PKI: "rsa", "ec", "alt"...) and `body`."""
    lines = ["<VirtualHost %s>" % port, "    ServerName %s" % name,
             "    SSLEngine on"]
    for k in keys:
        lines.append("    SSLCertificateFile %s" % certs.path(k + ".crt"))
        lines.append("    SSLCertificateKeyFile %s" % certs.path(k + ".key"))
    lines += ["    " + l for l in body.strip("\n").split("\n") if l]
    lines.append("</VirtualHost>")
    return "\n".join(lines) + "\n"


def start(relais, text, port):
    relais.write_conf(text)
    relais.start(port)
    return port


def wait_log(relais, needle, timeout=5.0, name=None):
    """Waits until needle (a string or compiled regex) is in the error log
    (or in logs/<name>); returns the matching line or None."""
    end = time.time() + timeout
    while True:
        text = relais.read("logs/" + name) if name else relais.error_log()
        for line in text.splitlines():
            if (needle.search(line) if hasattr(needle, "search")
                    else needle in line):
                return line
        if time.time() > end:
            return None
        time.sleep(0.05)


# ----------------------------------------------------------------------
# Python TLS client
# ----------------------------------------------------------------------

def context(certs, client=None, min_version=None, max_version=None,
            ciphers=None, alpn=None, verify=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(certs.ca_crt)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if client:
        ctx.load_cert_chain(certs.path(client + ".crt"),
                            certs.path(client + ".key"))
    if min_version:
        ctx.minimum_version = min_version
    if max_version:
        ctx.maximum_version = max_version
    if ciphers:
        ctx.set_ciphers(ciphers)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # [(name, value)]
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        import json
        return json.loads(self.body)


class Closed(Exception):
    """The server closed the connection after `received` bytes."""

    def __init__(self, received):
        super().__init__("connection closed after %d response bytes"
                         % received)
        self.received = received


def read_response(sock, head_only=False):
    """One response from a (TLS) socket, Content-Length or chunked."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, ssl.SSLZeroReturnError,
                ssl.SSLEOFError):
            raise Closed(len(buf))
        if not chunk:
            raise Closed(len(buf))
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = []
    for l in lines[1:]:
        k, v = l.split(":", 1)
        headers.append((k.strip(), v.strip()))
    resp = Response(status, headers, b"")
    if head_only:
        return resp
    length = resp.header("Content-Length")
    te = (resp.header("Transfer-Encoding") or "").lower()
    reader = _Buffered(sock, rest, len(head) + 4)
    if length is not None:
        resp.body = reader.exact(int(length))
    elif te == "chunked":
        body = []
        while True:
            size = int(reader.line().split(b";")[0], 16)
            if size == 0:
                while reader.line() != b"":
                    pass
                break
            body.append(reader.exact(size))
            reader.exact(2)
        resp.body = b"".join(body)
    else:
        resp.body = reader.until_close()
    return resp


class _Buffered:
    def __init__(self, sock, buf, seen):
        self.sock = sock
        self.buf = buf
        self.seen = seen

    def _fill(self):
        try:
            b = self.sock.recv(1 << 20)
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError,
                ConnectionResetError):
            b = b""
        if not b:
            raise Closed(self.seen + len(self.buf))
        self.buf += b

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        self.seen += n
        return out

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        out, self.buf = self.buf.split(b"\r\n", 1)
        self.seen += len(out) + 2
        return out

    def until_close(self):
        try:
            while True:
                self._fill()
        except Closed:
            out, self.buf = self.buf, b""
            return out


class TLSConn:
    """One TLS connection to relaisd; several requests may go over it."""

    def __init__(self, port, ctx, sni="localhost", timeout=10.0,
                 session=None):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        try:
            self.sock = ctx.wrap_socket(raw, server_hostname=sni,
                                        session=session)
        except Exception:
            raw.close()
            raise

    @property
    def version(self):
        return self.sock.version()

    @property
    def cipher(self):
        return self.sock.cipher()[0]

    def peer_cert_der(self):
        return self.sock.getpeercert(binary_form=True)

    def request(self, target="/", host="localhost", method="GET",
                headers=(), body=None):
        head = "%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, target, host)
        for k, v in headers:
            head += "%s: %s\r\n" % (k, v)
        if body is not None:
            head += "Content-Length: %d\r\n" % len(body)
        self.sock.sendall(head.encode("latin-1") + b"\r\n")
        if body is not None:
            view = memoryview(body)
            for i in range(0, len(body), 1 << 18):
                self.sock.sendall(view[i:i + (1 << 18)])
        return read_response(self.sock)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def https_get(port, certs, target="/", host="localhost", sni="localhost",
              **ctx_kw):
    with TLSConn(port, context(certs, **ctx_kw), sni=sni) as c:
        return c.request(target, host=host)


def cert_fingerprint(der):
    return hashlib.sha256(der).hexdigest()


def file_fingerprint(path):
    """SHA-256 of the DER form of a PEM certificate file."""
    with open(path) as f:
        pem = f.read()
    return cert_fingerprint(ssl.PEM_cert_to_DER_cert(pem))


# ----------------------------------------------------------------------
# openssl s_client and curl
# ----------------------------------------------------------------------

def s_client(port, *args, stdin=b"", timeout=10):
    """`openssl s_client -connect 127.0.0.1:port args`, with stdin; returns
    the combined output (text).  -ign_eof keeps the connection open until
    the server closes it or the timeout."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port]
    cmd += list(args)
    try:
        p = subprocess.run(cmd, input=stdin, capture_output=True,
                           timeout=timeout)
        out = p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"") + (e.stderr or b"")
    return out.decode("latin-1")


def s_client_field(out, name):
    """A field of s_client's session summary ("Protocol", "Cipher")."""
    m = re.search(r"^\s*%s\s*:\s*(\S+)" % re.escape(name), out, re.M)
    if m and not (name == "Cipher" and m.group(1) == "0000"):
        return m.group(1)
    # the handshake line ("New, TLSv1.3, Cipher is ..."): a TLS 1.3
    # session summary may be missing when the connection ends before a
    # ticket arrives (its version is the cipher's, not the connection's)
    m = re.search(r"^New, (\S+), Cipher is (\S+)", out, re.M)
    if m and name in ("Protocol", "Cipher"):
        return m.group(1 if name == "Protocol" else 2)
    return None


def curl(port, certs, target="/", host="localhost", args=(), timeout=20):
    """curl --cacert CA --resolve host:port:127.0.0.1 https://host:port/...
    returns CompletedProcess (bytes)."""
    cmd = ["curl", "-sS", "--max-time", str(timeout), "--cacert", certs.ca_crt,
           "--resolve", "%s:%d:127.0.0.1" % (host, port)]
    cmd += list(args)
    cmd.append("https://%s:%d%s" % (host, port, target))
    return subprocess.run(cmd, capture_output=True, timeout=timeout + 10)


# ----------------------------------------------------------------------
# Keep-alive load through a graceful restart
# ----------------------------------------------------------------------

class LoadClient(threading.Thread):
    """Keep-alive HTTPS requests in a loop until stop() or `maximum`.  A
    request that finds its REUSED connection closed before any response
    byte is retried once on a new connection (RFC 9112 §9.3.1, what every
    browser does); anything else that goes wrong is a failure.  Records
    the SHA-256 of the certificate of each new connection."""

    def __init__(self, port, certs, maximum=100000):
        super().__init__(daemon=True)
        self.port = port
        self.ctx = context(certs)
        self.maximum = maximum
        self.done = 0
        self.retries = 0
        self.failures = []
        self.fingerprints = []
        self.conn = None
        self.reused = False
        self.halt = threading.Event()

    def stop(self):
        self.halt.set()

    def connect(self):
        self.conn = TLSConn(self.port, self.ctx)
        self.fingerprints.append(cert_fingerprint(self.conn.peer_cert_der()))
        self.reused = False

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def one(self, i):
        if self.conn is None:
            self.connect()
        try:
            r = self.conn.request("/load?i=%d" % i)
        except (Closed, OSError) as e:
            received = getattr(e, "received", 0)
            was_reused = self.reused
            self.close()
            if not (was_reused and received == 0):
                raise
            self.retries += 1
            self.connect()
            r = self.conn.request("/load?i=%d" % i)
        self.reused = True
        if (r.header("Connection") or "").lower() == "close":
            self.close()
        if r.status != 200:
            raise AssertionError("status %d" % r.status)

    def run(self):
        i = 0
        while i < self.maximum and not self.halt.is_set():
            i += 1
            try:
                self.one(i)
            except Exception as e:  # noqa: B902 - every failure counts
                self.failures.append("request %d: %r" % (i, e))
                self.close()
            self.done = i
        self.close()


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def relaisd_children(relais):
    return relais.children()


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False
