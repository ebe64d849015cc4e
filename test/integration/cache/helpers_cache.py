"""Helpers of the mod_cache tests (test/integration/cache).

- Origin: a threaded HTTP/1.1 backend that counts the requests reaching
  it, per path: the witness of every cache test (a hit leaves the count
  alone).  What it answers is chosen per path prefix with on(): status,
  headers, a body (or a function of the request count, so that a new
  fetch is visible in the body), a delay, and validators (ETag,
  Last-Modified) that it honours with 304.  stop() closes the listener
  and every open connection (relaisd's pooled ones too); start() listens
  again on the same port.
- cache_conf() / start_cache(): relaisd with mod_proxy and mod_cache in
  front of an Origin (CacheHeader on, so X-Cache shows the outcome).
- get(): one request on a fresh connection (helpers_proxy's RawConn).
"""
import email.utils
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import helpers_proxy
from helpers_proxy import RawConn, free_port, mpm_lines, request_bytes

BUILD = helpers_proxy.root.BUILD
MODULES = os.path.join(BUILD, "modules")


def http_date(t=None):
    return email.utils.formatdate(time.time() if t is None else t,
                                  usegmt=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class Origin:
    """The counting backend.  on(prefix, **kw) sets what paths starting
    with prefix answer (longest prefix wins):

      status=200, headers=[(k, v)] (or a function of the request count
      n, 1-based, returning the list), body=bytes (or a function of n),
      delay=seconds before answering, etag=..., last_modified=... (sent,
      and an If-None-Match / If-Modified-Since matching them gets a 304
      with the headers), vary_body=header (the body names that request
      header's value: variants are told apart), chunked=True,
      pace=seconds between 64 KiB pieces of the body.
    """

    def __init__(self, port=0):
        self.lock = threading.Lock()
        self.routes = {"/": {}}
        self.counts = {}
        self.log = []  # (method, target, headers dict lower-case)
        self.conns = set()
        self.port = port
        self.server = None
        self.start()

    # -- control -----------------------------------------------------------
    def start(self):
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with origin.lock:
                    origin.conns.add(self.connection)

            def finish(self):
                try:
                    super().finish()
                finally:
                    with origin.lock:
                        origin.conns.discard(self.connection)

            def log_message(self, *a):
                pass

            def _any(self):
                origin._answer(self)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _any
            do_PATCH = do_OPTIONS = do_PURGE = _any

        self.server = _Server(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        """Stops listening and cuts every connection: the backend is
        down."""
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(timeout=5)
        self.server = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def on(self, prefix, **kw):
        self.routes[prefix] = kw

    def count(self, path=None):
        """Requests received for exactly path (target with query), or in
        all."""
        with self.lock:
            if path is None:
                return sum(self.counts.values())
            return self.counts.get(path, 0)

    def requests(self, path):
        with self.lock:
            return [e for e in self.log if e[1] == path]

    # -- internals ---------------------------------------------------------
    def _route(self, path):
        best, blen = {}, -1
        for prefix, kw in self.routes.items():
            if path.startswith(prefix) and len(prefix) > blen:
                best, blen = kw, len(prefix)
        return best

    def _answer(self, h):
        target = h.path
        path = target.split("?", 1)[0]
        length = int(h.headers.get("Content-Length") or 0)
        if length:
            h.rfile.read(length)
        hdrs = {k.lower(): v for k, v in h.headers.items()}
        with self.lock:
            n = self.counts.get(target, 0) + 1
            self.counts[target] = n
            self.log.append((h.command, target, hdrs))
        kw = self._route(path)
        if kw.get("delay"):
            time.sleep(kw["delay"])
        status = kw.get("status", 200)
        extra = kw.get("headers", [])
        if callable(extra):
            extra = extra(n)
        body = kw.get("body", b"body of %s #%d\n" % (target.encode(), n))
        if callable(body):
            body = body(n)
        if kw.get("vary_body"):
            body = b"%s=%s #%d\n" % (kw["vary_body"].encode(),
                                     (hdrs.get(kw["vary_body"].lower()) or
                                      "-").encode(), n)
        etag, lm = kw.get("etag"), kw.get("last_modified")
        if callable(etag):
            etag = etag(n)
        validators = []
        if etag:
            validators.append(("ETag", etag))
        if lm:
            validators.append(("Last-Modified", lm))
        inm, ims = hdrs.get("if-none-match"), hdrs.get("if-modified-since")
        not_modified = False
        if etag and inm is not None:
            not_modified = etag in [t.strip() for t in inm.split(",")]
        elif lm and ims is not None and inm is None:
            not_modified = ims == lm
        def begin(code):
            # the origin's own Date unless the route sets one
            h.send_response_only(code)
            if not any(k.lower() == "date" for k, _ in extra):
                h.send_header("Date", http_date())

        if not_modified and h.command in ("GET", "HEAD"):
            begin(304)
            for k, v in validators + list(extra):
                h.send_header(k, v)
            h.end_headers()
            return
        begin(status)
        for k, v in validators + list(extra):
            h.send_header(k, v)
        if kw.get("chunked"):
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            if h.command != "HEAD":
                for i in range(0, len(body), 1000):
                    piece = body[i:i + 1000]
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                h.wfile.write(b"0\r\n\r\n")
            return
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command == "HEAD":
            return
        if kw.get("pace"):
            for i in range(0, len(body), 65536):
                h.wfile.write(body[i:i + 65536])
                h.wfile.flush()
                time.sleep(kw["pace"])
            return
        h.wfile.write(body)


def cache_conf(port, origin, body, mpm="event", mpm_extra="", modules="",
               proxy=True):
    """relaisd: the MPM, mod_proxy (ProxyPass / to the origin), mod_cache
    with CacheHeader on, one listener, then body."""
    return (mpm_lines(mpm) + mpm_extra
            + "LoadModule cache_module modules/mod_cache.so\n"
            + ("LoadModule proxy_module modules/mod_proxy.so\n"
               if proxy else "")
            + modules
            + "Listen 127.0.0.1:%d\n" % port
            + "ServerName relais.test\n"
            + "ErrorLog logs/error_log\n"
            + "LogLevel info cache:debug\n"
            + "PidFile logs/relaisd.pid\n"
            + "CacheHeader on\n"
            + ("ProxyPass / %s/\n" % origin.url if proxy and origin else "")
            + body)


def start_cache(relais, origin, body, mpm="event", mpm_extra="",
                modules="", proxy=True, port=None):
    """Writes cache_conf() and starts relaisd; returns its port (a free one
    unless given: the keys hold the port, so a restart that must find its
    entries again keeps it).  @ROOT@ and @PORT@ in body become the
    ServerRoot and the port."""
    port = port or free_port()
    body = body.replace("@ROOT@", relais.root).replace("@PORT@", str(port))
    relais.write_conf(cache_conf(port, origin, body, mpm=mpm,
                                 mpm_extra=mpm_extra, modules=modules,
                                 proxy=proxy))
    relais.start(port)
    return port


def get(port, target="/", method="GET", headers=(), timeout=10.0,
        host="relais.test", body=b""):
    """One request on a fresh connection; returns helpers_proxy's
    Response (status, header(), body)."""
    with RawConn(port, timeout=timeout) as c:
        c.send(request_bytes(method=method, target=target, host=host,
                             headers=headers, body=body))
        return c.read_response(head_request=method == "HEAD")


def wait_for(pred, timeout=5.0, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()
