"""Fixtures of the ProxyResolver tests: a dnsmasq of the test's own on a
free 127.0.0.1 port, and tiny HTTP backends that answer with a tag (on
127.0.0.1 or ::1), so that a test sees which backend answered.

pytest puts this module in sys.modules as "conftest" in place of the
suite's root conftest.py, so the root's public names are re-exported here
(as test/integration/proxy/conftest.py does): a later `from conftest import
free_port` anywhere keeps working.
"""
import grp
import http.server
import os
import pwd
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import root  # noqa: E402

for _name, _value in vars(root).items():
    if not _name.startswith("_") and \
            not hasattr(_value, "_pytestfixturefunction") and \
            _name not in globals():
        globals()[_name] = _value
del _name, _value

DNSMASQ = "/usr/sbin/dnsmasq"
DOMAIN = "relais.test"


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# ----------------------------------------------------------------------
# DNS
# ----------------------------------------------------------------------

def dns_query(port, name, qtype=1, timeout=0.5):
    """One DNS query over UDP to 127.0.0.1:port; the answer's rcode, or
    None when nothing answered."""
    qid = random.randint(0, 65535)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(q, ("127.0.0.1", port))
            data, _ = s.recvfrom(4096)
        except OSError:
            return None
    if len(data) < 12 or struct.unpack(">H", data[:2])[0] != qid:
        return None
    return data[3] & 0x0F


def free_dns_port():
    """A port free for both UDP and TCP on 127.0.0.1 (dnsmasq binds both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            try:
                with socket.socket() as t:
                    t.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for dnsmasq")


class Dnsmasq:
    """dnsmasq answering for *.relais.test from a hosts file (TTL 1 s),
    on 127.0.0.1:port, with no upstream server: other names get REFUSED,
    unknown *.relais.test names NXDOMAIN.  SIGHUP re-reads the file."""

    def __init__(self, directory, records=()):
        self.dir = str(directory)
        self.hosts = os.path.join(self.dir, "dns-hosts")
        self.log = os.path.join(self.dir, "dnsmasq.log")
        self.port = free_dns_port()
        self.proc = None
        self.write(records)

    def write(self, records):
        """records: [(ip, name)], written as a hosts file."""
        tmp = self.hosts + ".tmp"
        with open(tmp, "w") as f:
            for ip, name in records:
                f.write("%s %s\n" % (ip, name))
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.hosts)

    def start(self, probe=None):
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        cmd = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null",
               "--no-resolv", "--no-hosts", "--no-poll",
               "--port=%d" % self.port, "--listen-address=127.0.0.1",
               "--bind-interfaces", "--addn-hosts=%s" % self.hosts,
               "--local-ttl=1", "--local=/%s/" % DOMAIN,
               "--pid-file=%s" % os.path.join(self.dir, "dnsmasq.pid"),
               "--user=%s" % user, "--group=%s" % group,
               "--log-facility=%s" % self.log, "--log-queries"]
        self.out = open(os.path.join(self.dir, "dnsmasq.out"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.out,
                                     stderr=subprocess.STDOUT)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                break
            if dns_query(self.port, probe or "probe." + DOMAIN) is not None:
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("dnsmasq did not answer on port %d:\n%s" % (
            self.port, open(os.path.join(self.dir, "dnsmasq.out")).read()))

    def reload(self, records):
        """New records; dnsmasq re-reads them on SIGHUP."""
        self.write(records)
        self.proc.send_signal(signal.SIGHUP)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "out", None):
            self.out.close()
            self.out = None


@pytest.fixture
def dnsmasq(tmp_path):
    """Factory: dnsmasq(records) starts one; all are stopped by PID."""
    if not os.path.exists(DNSMASQ):
        pytest.skip("%s is not installed (Debian package dnsmasq)" % DNSMASQ)
    made = []

    def make(records):
        path = tmp_path / ("dns%d" % len(made))
        path.mkdir()
        d = Dnsmasq(path, records)
        made.append(d)
        d.start()
        return d
    yield make
    for d in made:
        d.stop()


# ----------------------------------------------------------------------
# Backends that say who they are
# ----------------------------------------------------------------------

class _TagHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = self.server.tag.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with self.server.lock:
            self.server.hits += 1

    def log_message(self, *args):
        pass


class TagServer:
    """HTTP/1.1 keep-alive server whose every answer is its tag."""

    def __init__(self, tag, host="127.0.0.1", port=0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET

        class Server(http.server.ThreadingHTTPServer):
            address_family = family
            daemon_threads = True
            allow_reuse_address = True

        self.httpd = Server((host, port), _TagHandler, bind_and_activate=True)
        self.httpd.tag = tag
        self.httpd.hits = 0
        self.httpd.lock = threading.Lock()
        self.host = host
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def tag_server():
    """Factory: tag_server(tag, host="127.0.0.1", port=0)."""
    made = []

    def make(tag, host="127.0.0.1", port=0):
        s = TagServer(tag, host, port)
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop()


@pytest.fixture
def twin_servers(tag_server):
    """X on 127.0.0.1:P and Y on [::1]:P (the same port): a name that moves
    from one address to the other lands on the other server."""
    if not have_ipv6_loopback():
        pytest.skip("::1 is not available here (no IPv6 loopback)")
    for _ in range(20):
        x = tag_server("X")
        try:
            y = tag_server("Y", host="::1", port=x.port)
        except OSError:
            continue
        return x, y
    pytest.skip("found no port free on both 127.0.0.1 and ::1")


@pytest.fixture(autouse=True)
def no_child_crash(request):
    """Fails a test whose relaisd logged a child killed by a signal."""
    r = request.getfixturevalue("relais") if "relais" in \
        request.fixturenames else None
    yield
    if r is not None:
        crashes = [l for l in r.error_log().splitlines()
                   if "exited on signal" in l]
        assert not crashes, "relaisd child crashed:\n" + "\n".join(crashes)
