"""Helpers of the backend-TLS tests (test_ssl_proxy*.py).

TLSBackend is the recording backend of the proxy tests
(test/integration/proxy/helpers_proxy.py) behind Python's ssl module: it
counts handshakes and resumed sessions, and records the SNI name and the
ALPN protocol each client sent and the client certificate it showed, so a
test can assert what reached the backend over TLS.
"""
import os
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import Backend, proxy_conf, free_port  # noqa: E402

NO_SNI = "<none>"


class TLSBackend(Backend):
    """A Backend that speaks TLS with `cert`/`key`; with `client_ca` it
    requires a client certificate signed by that CA."""

    def __init__(self, cert, key, client_ca=None, tls13=True, **kw):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if not tls13:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(client_ca)
        ctx.set_alpn_protocols(["http/1.1"])
        ctx.sni_callback = self._on_sni
        self.ctx = ctx
        self.tls_lock = threading.Lock()
        self.handshakes = 0
        self.resumed = 0
        self.sni = []           # the name of every ClientHello, or NO_SNI
        self.alpn = []          # the protocol agreed on each connection
        self.versions = []      # "TLSv1.3" ...
        self.ciphers = []       # OpenSSL's name of each connection's cipher
        self.client_cns = []    # CN of the client certificate, or None
        self.tls_failures = []  # handshakes that failed, as repr()
        self._hello_names = {}
        super().__init__(**kw)

    @property
    def url(self):
        return "https://localhost:%d" % self.port

    def _on_sni(self, sslobj, name, ctx):
        with self.tls_lock:
            self._hello_names[id(sslobj)] = name
        return None

    def _serve(self, c, conn_id):
        c.settimeout(10)
        try:
            s = self.ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with self.tls_lock:
                self.tls_failures.append(repr(e))
            with self.lock:
                self.conns.discard(c)
            try:
                c.close()
            except OSError:
                pass
            return
        with self.lock:
            self.conns.discard(c)
            self.conns.add(s)
        with self.tls_lock:
            self.handshakes += 1
            if s.session_reused:
                self.resumed += 1
            # the callback saw this SSLSocket; it is not called at all
            # when the client sends no name
            name = self._hello_names.pop(id(s), None)
            self.sni.append(name if name is not None else NO_SNI)
            self.alpn.append(s.selected_alpn_protocol())
            self.versions.append(s.version())
            self.ciphers.append(s.cipher()[0])
            cert = s.getpeercert()
            cn = None
            if cert:
                for rdn in cert.get("subject", ()):
                    for k, v in rdn:
                        if k == "commonName":
                            cn = v
            self.client_cns.append(cn)
        Backend._serve(self, s, conn_id)


def ssl_proxy_conf(port, body, mpm="event", mpm_extra="", modules=()):
    """proxy_conf() with mod_ssl (and `modules`, e.g. ("balancer",))."""
    loads = "LoadModule ssl_module modules/mod_ssl.so\n"
    for m in modules:
        loads += "LoadModule %s_module modules/mod_%s.so\n" % (m, m)
    return proxy_conf(port, loads + body, mpm=mpm, mpm_extra=mpm_extra)


def start_ssl_proxy(relais, body, mpm="event", one_thread=False,
                    modules=()):
    """Starts relaisd with mod_ssl and `body` (@PORT@ in it is replaced
    by the listening port); returns that port."""
    from helpers_proxy import ONE_THREAD
    port = free_port()
    body = body.replace("@PORT@", str(port))
    relais.write_conf(ssl_proxy_conf(
        port, body, mpm=mpm, modules=modules,
        mpm_extra=ONE_THREAD[mpm] if one_thread else ""))
    relais.start(port)
    return port


def wait_log(relais, text, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if text in relais.error_log():
            return True
        time.sleep(0.05)
    return False


def log_lines(relais, *words):
    """Error-log lines holding every word."""
    return [ln for ln in relais.error_log().splitlines()
            if all(w in ln for w in words)]
