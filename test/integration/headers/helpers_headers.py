"""What the mod_headers tests share: a relaisd configuration with mod_proxy,
mod_echo and mod_headers, a relaisd started once for a whole test file,
and line numbers of a configuration text."""
import os
import time

from helpers_proxy import (Backend, free_port, get,  # noqa: F401
                           proxy_conf, root)

HEADERS = "LoadModule headers_module modules/mod_headers.so\n"
LOG = "LoadModule log_module modules/mod_log.so\n"


def conf(port, body, mpm="event", log=False):
    """MPM, mod_proxy, mod_echo, mod_headers (and mod_log), one listener
    on port, then body (@PORT@ in it is the port)."""
    body = body.replace("@PORT@", str(port))
    return proxy_conf(port, HEADERS + (LOG if log else "") + body, mpm=mpm,
                      echo=True)


def start(relais, body, mpm="event", log=False):
    """Writes conf() and starts relaisd; returns its port."""
    port = free_port()
    relais.write_conf(conf(port, body, mpm=mpm, log=log))
    relais.start(port)
    return port


class Shared:
    """One relaisd and one backend for all the tests of a file (module
    fixtures); @BACKEND@ in body is the backend's URL."""

    def __init__(self, tmp_path_factory, body, name, behaviours=()):
        self.backend = Backend()
        for prefix, beh in behaviours:
            self.backend.on(prefix, **beh)
        self.relais = root.Relais(tmp_path_factory.mktemp(name))
        try:
            self.port = start(self.relais,
                              body.replace("@BACKEND@", self.backend.url))
        except Exception:
            self.close()
            raise

    def get(self, target, **kw):
        return get(self.port, target, **kw)

    def close(self):
        self.relais.stop()
        self.backend.stop()
        crashes = [l for l in self.relais.error_log().splitlines()
                   if "exited on signal" in l]
        reports = root.sanitizer_reports(self.relais.read("stderr.txt"))
        assert not crashes and not reports, (crashes, reports)
        assert not self.backend.errors, self.backend.errors


def line_of(text, needle):
    """1-based number of the first line of text containing needle."""
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError("%r not in the configuration" % needle)


def wait_for(predicate, timeout=5.0):
    """Polls predicate() until it is true (log lines are written just
    after the response is queued); returns its last value."""
    end = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() > end:
            return v
        time.sleep(0.02)


def read(path):
    if not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        return f.read()
