"""What the balancer and health-check tests share: the front
configuration, a request, counting which backend got what, waiting for an
error-log line."""
import http.client
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from conftest import mpm_lines  # noqa: E402


def balancer_conf(front, body, extra=""):
    """relaisd on 127.0.0.1:front with mod_proxy, mod_balancer and
    mod_healthcheck, balancer://app holding `body`, everything proxied to
    it."""
    return mpm_lines("event") + """
LoadModule proxy_module modules/mod_proxy.so
LoadModule balancer_module modules/mod_balancer.so
LoadModule healthcheck_module modules/mod_healthcheck.so
ErrorLog logs/error_log
LogLevel info
Listen 127.0.0.1:%d
%s
<Proxy "balancer://app">
%s
</Proxy>
ProxyPass / balancer://app/
""" % (front, extra, body)


def get(port, path="/x"):
    """One request on its own connection: (status, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def served_by(front, backends, n, path="/page"):
    """n requests (each must answer 200): how many each backend got."""
    for b in backends:
        b.reset()
    for _ in range(n):
        status, _ = get(front, path)
        assert status == 200
    return [sum(1 for q in b.requests if q.target == path.encode())
            for b in backends]


def wait_log(relais, text, timeout=10.0):
    """True once `text` is in the error log, False after timeout."""
    end = time.time() + timeout
    while time.time() < end:
        if text in relais.error_log():
            return True
        time.sleep(0.05)
    return False
