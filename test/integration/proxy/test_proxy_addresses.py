"""A backend name with several addresses: when the first refuses, the
proxy and the health checks try the next, as httpd and nginx do.

The usual case is `localhost`, which some systems resolve to ::1 before
127.0.0.1 while the backend listens on 127.0.0.1 only.  To make that
order certain, the test runs relaisd, its backend and the client in a
network namespace of its own, whose /etc/hosts (ip netns exec bind-mounts
/etc/netns/<name>/hosts) gives `dual.test` both addresses, ::1 first.
Nothing touches the host's network; the namespace and its /etc/netns
directory are removed afterwards.  Skipped, saying why, where network
namespaces are not allowed."""
import os
import secrets
import shutil
import subprocess
import sys
import time

import pytest

from conftest import MODULES, RELAISD, mpm_lines

BACKEND = r"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b"from the IPv4 backend\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])),
                                H).serve_forever()
"""


def run(*cmd, check=True):
    return subprocess.run(list(cmd), capture_output=True, text=True,
                          check=check, timeout=30)


@pytest.fixture
def netns(tmp_path):
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and ip(8) for a network namespace")
    name = "rlpx%d%s" % (os.getpid() % 100000, secrets.token_hex(2))
    out = run("ip", "netns", "add", name, check=False)
    if out.returncode != 0:
        pytest.skip("this machine forbids network namespaces: ip netns "
                    "add: " + out.stderr.strip())
    etc = "/etc/netns/" + name
    procs = []
    try:
        out = run("ip", "netns", "exec", name, "true", check=False)
        if out.returncode != 0:
            pytest.skip("this machine forbids entering a network namespace:"
                        " ip netns exec: " + out.stderr.strip())
        os.makedirs(etc)
        with open(os.path.join(etc, "hosts"), "w") as f:
            f.write("::1 dual.test\n127.0.0.1 dual.test\n")
        run("ip", "-n", name, "link", "set", "lo", "up")
        order = run("ip", "netns", "exec", name, "getent", "ahostsv6",
                    "dual.test", check=False).stdout
        first = run("ip", "netns", "exec", name, sys.executable, "-c",
                    "import socket; print(socket.getaddrinfo('dual.test', 1,"
                    " type=socket.SOCK_STREAM)[0][4][0])").stdout.strip()
        if first != "::1":
            pytest.skip("dual.test does not resolve to ::1 first in the "
                        "namespace (%r; getent: %r)" % (first, order))
        yield name, procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        run("ip", "netns", "del", name, check=False)
        shutil.rmtree(etc, ignore_errors=True)


def in_ns(ns, *cmd, **kw):
    return subprocess.Popen(["ip", "netns", "exec", ns] + list(cmd), **kw)


def get(ns, port, path):
    out = run("ip", "netns", "exec", ns, "curl", "-s", "-o", "/dev/stderr",
              "-w", "%{http_code}", "--max-time", "10",
              "http://127.0.0.1:%d%s" % (port, path), check=False)
    return out.stdout, out.stderr


def wait_answer(ns, port, path, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        code, _ = get(ns, port, path)
        if code not in ("", "000"):
            return code
        time.sleep(0.1)
    return None


def test_next_address_is_tried_by_proxy_and_health_checks(netns, tmp_path):
    ns, procs = netns
    back, front = 18081, 18080  # inside the namespace: nothing else there
    procs.append(in_ns(ns, sys.executable, "-c", BACKEND, str(back)))
    assert wait_answer(ns, back, "/") == "200", "the backend did not start"
    root = tmp_path / "root"
    (root / "logs").mkdir(parents=True)
    os.symlink(MODULES, root / "modules")
    user = "User root\n" if os.geteuid() == 0 else ""
    (root / "relais.conf").write_text(mpm_lines("event") + user + """
LoadModule proxy_module modules/mod_proxy.so
LoadModule balancer_module modules/mod_balancer.so
LoadModule healthcheck_module modules/mod_healthcheck.so
Listen 127.0.0.1:%(front)d
ServerName front.test
ErrorLog logs/error_log
LogLevel info proxy:info healthcheck:debug
PidFile logs/relaisd.pid
ProxyPass /direct/ http://dual.test:%(back)d/
<Proxy "balancer://checked">
    BalancerMember http://dual.test:%(back)d hcmethod=GET hcuri=/ hcinterval=1
</Proxy>
ProxyPass /checked/ balancer://checked/
""" % {"front": front, "back": back})
    procs.append(in_ns(ns, RELAISD, "-d", str(root), "-f", "relais.conf",
                       "-D", "FOREGROUND", stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL))
    assert wait_answer(ns, front, "/direct/x") == "200", \
        (root / "logs" / "error_log").read_text()
    code, body = get(ns, front, "/direct/y")
    assert code == "200" and body == "from the IPv4 backend\n"
    log = (root / "logs" / "error_log").read_text()
    assert "backend http://dual.test:%d: Connection refused; trying its " \
        "next address, 127.0.0.1" % back in log, log
    # the member is not put in error for the address that refused
    assert "put in error state" not in log, log
    # three health-check rounds pass on the second address: the member
    # stays in service
    time.sleep(3.5)
    log = (root / "logs" / "error_log").read_text()
    assert "health check of http://dual.test:%d (GET /): passed" % back \
        in log, log
    assert "failed:" not in log.split("health check of", 1)[-1], log
    for i in range(3):
        code, body = get(ns, front, "/checked/%d" % i)
        assert code == "200" and body == "from the IPv4 backend\n", log
