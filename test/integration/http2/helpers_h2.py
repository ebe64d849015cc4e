"""Helpers of the mod_http2 tests: a certificate made at test time with
the openssl tool, configurations with `Protocols h2 h2c http/1.1`, and
curl / h2load / raw HTTP/2 clients.  The fixtures are in conftest.py.

Tests import these names from here, never from "conftest": pytest keeps
one module of that name (the last folder's conftest.py it loaded), so a
folder's own names are not reliably there.
"""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import Backend, root  # noqa: E402,F401

for _name, _value in vars(root).items():
    if not _name.startswith("_") and \
            not hasattr(_value, "_pytestfixturefunction") and \
            _name not in globals():
        globals()[_name] = _value
del _name, _value


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class Certs:
    """ca.crt, and server.crt / server.key for localhost and 127.0.0.1."""

    def __init__(self, d):
        self.dir = str(d)
        os.makedirs(self.dir, exist_ok=True)

        def run(*args):
            subprocess.run(("openssl",) + args, cwd=self.dir, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        run("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
            "-out", "ca.crt", "-days", "2", "-subj", "/CN=Relais H2 Test CA")
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost")
        with open(os.path.join(self.dir, "ext.cnf"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey",
            "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2",
            "-extfile", "ext.cnf")

    def path(self, name):
        return os.path.join(self.dir, name)


def h2_conf(port, body, mpm="event", modules=(), tls_port=None, certs=None,
            protocols="h2 h2c http/1.1", mpm_extra=""):
    """relaisd: the MPM, mod_http2, mod_proxy, mod_echo, mod_log and the
    `modules` given, `Protocols`, a cleartext listener on port (and a TLS
    one on tls_port, vhost localhost with the same body), then body."""
    text = mpm_lines(mpm) + mpm_extra
    for m in ("http2", "proxy", "echo", "log") + tuple(modules):
        text += "LoadModule %s_module modules/mod_%s.so\n" % (m, m)
    text += "Listen 127.0.0.1:%d\n" % port
    if tls_port:
        text += "LoadModule ssl_module modules/mod_ssl.so\n"
        text += "Listen 127.0.0.1:%d https\n" % tls_port
    text += ("ServerName relais.test\nErrorLog logs/error_log\n"
             "LogLevel info\nPidFile logs/relaisd.pid\n"
             "Protocols %s\n" % protocols)
    text += ('LogFormat "%h \\"%r\\" %>s %b %H" h2log\n'
             "CustomLog logs/access_log h2log\n")
    text += body
    if tls_port:
        text += ("<VirtualHost *:%d>\nServerName localhost\nSSLEngine on\n"
                 "SSLCertificateFile %s\nSSLCertificateKeyFile %s\n%s"
                 "</VirtualHost>\n" % (tls_port, certs.path("server.crt"),
                                       certs.path("server.key"), body))
    return text


def start_h2(relais, body, mpm="event", modules=(), tls=False, certs=None,
             protocols="h2 h2c http/1.1", mpm_extra=""):
    """Writes h2_conf() and starts relaisd; returns (port, tls_port)."""
    port = free_port()
    tls_port = free_port() if tls else None
    relais.write_conf(h2_conf(port, body, mpm=mpm, modules=modules,
                              tls_port=tls_port, certs=certs,
                              protocols=protocols, mpm_extra=mpm_extra))
    relais.start(port)
    if tls_port:
        assert wait_port(tls_port)
    return port, tls_port


def curl(*args, timeout=60):
    """curl -sS with args; returns CompletedProcess (stdout bytes)."""
    return subprocess.run(("curl", "-sS", "--max-time", str(timeout)) + args,
                          capture_output=True, timeout=timeout + 10)


def have(tool):
    return shutil.which(tool) is not None


def access_lines(relais, n, timeout=5.0):
    """The access log once it has at least n lines (buffered writes)."""
    import time
    end = time.time() + timeout
    while True:
        lines = relais.read("logs/access_log").splitlines()
        if len(lines) >= n or time.time() > end:
            return lines
        time.sleep(0.05)


class CountingBackend(Backend):
    """A Backend that also records how many requests it had in flight at
    once (from the first byte of a request to the end of its answer)."""

    def __init__(self, **kw):
        import threading
        self.in_flight = 0
        self.max_in_flight = 0
        self._count_lock = threading.Lock()
        super().__init__(**kw)

    def _one_request(self, c, rd, conn_id, index):
        with self._count_lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return super()._one_request(c, rd, conn_id, index)
        finally:
            with self._count_lock:
                self.in_flight -= 1


def fd_count(pid):
    """Open descriptors of a process."""
    return len(os.listdir("/proc/%d/fd" % pid))


def sockets_to(pid, port):
    """TCP sockets of process pid connected to 127.0.0.1:port (any state
    but LISTEN), from /proc/<pid>/fd and /proc/<pid>/net/tcp."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    n = 0
    with open("/proc/%d/net/tcp" % pid) as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            rport = int(parts[2].split(":")[1], 16)
            if rport == port and parts[3] != "0A" and parts[9] in inodes:
                n += 1
    return n


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


class H2Client:
    """An HTTP/2 client on python3-h2 (h2.connection), cleartext with prior
    knowledge.  Responses by stream id: {"status", "headers", "body",
    "ended", "reset"}.  With hold=True it gives no window back: the
    server may send only what the windows allow."""

    def __init__(self, port, settings=None, hold=False, timeout=10):
        import socket
        import h2.config
        import h2.connection
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True,
                                      header_encoding="utf-8"))
        self.conn.initiate_connection()
        if settings:
            self.conn.update_settings(settings)
        self.hold = hold
        self.timeout = timeout
        self.streams = {}
        self.goaway = None
        self.closed = False
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.settimeout(self.timeout)
            self.sock.sendall(data)

    def request(self, path, method="GET", headers=(), end=True):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", method), (":scheme", "http"),
                                     (":path", path),
                                     (":authority", "relais.test")] +
                               list(headers), end_stream=end)
        self.streams[sid] = {"status": None, "headers": [], "body": b"",
                             "ended": False, "reset": None}
        self.flush()
        return sid

    def reset(self, sid, code=8):
        self.conn.reset_stream(sid, error_code=code)
        self.flush()

    def pump(self, until, timeout=10.0):
        """Reads and handles events until until() or the deadline; returns
        until()'s last value."""
        import socket
        import time
        import h2.events
        end = time.monotonic() + timeout
        while not until() and not self.closed:
            left = end - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
                break
            for ev in self.conn.receive_data(data):
                st = self.streams.get(getattr(ev, "stream_id", None))
                if isinstance(ev, h2.events.ResponseReceived) and st:
                    st["headers"] = ev.headers
                    st["status"] = int(dict(ev.headers)[":status"])
                elif isinstance(ev, h2.events.DataReceived) and st:
                    st["body"] += ev.data
                    if not self.hold:
                        self.conn.acknowledge_received_data(
                            ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded) and st:
                    st["ended"] = True
                elif isinstance(ev, h2.events.StreamReset) and st:
                    st["reset"] = ev.error_code
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    self.goaway = ev
            self.flush()
        return until()

    def done(self, sids):
        return lambda: all(self.streams[s]["ended"] or
                           self.streams[s]["reset"] is not None
                           for s in sids)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
