"""httpd mod_proxy_balancer details an httpd configuration relies on: a
member URL's path goes in front of the request's, ProxyPassReverse with a
balancer:// URL rewrites every member's redirects, status=+E starts a
member in error until retry=, and relaisd -t catches a backend name that
does not resolve."""
import http.client
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import Backend  # noqa: E402

from conftest import free_port  # noqa: E402
from helpers_balancer import balancer_conf, get  # noqa: E402


def test_member_path_goes_in_front(relais):
    a, b = Backend(), Backend()
    try:
        front = free_port()
        relais.write_conf(balancer_conf(front, """
    BalancerMember %s/shop/
    BalancerMember %s/store lbset=1""" % (a.url, b.url)))
        relais.start(front)
        assert get(front, "/cart?id=1")[0] == 200
        assert a.last().target == b"/shop/cart?id=1"
        a.stop()                      # fails over: b's own path is used
        assert get(front, "/cart?id=2")[0] == 200
        assert b.last().target == b"/store/cart?id=2"
    finally:
        a.stop()
        b.stop()


def test_proxypassreverse_with_a_balancer_url(relais):
    a, b = Backend(), Backend()
    try:
        for be in (a, b):
            be.on("/app/go", status=302,
                  headers=[("Location", be.url + "/app/next")])
        front = free_port()
        relais.write_conf(balancer_conf(front, """
    BalancerMember %s/app
    BalancerMember %s/app""" % (a.url, b.url)) + """
ProxyPassReverse / balancer://app/
""")
        relais.start(front)
        seen = set()
        for _ in range(6):
            c = http.client.HTTPConnection("127.0.0.1", front, timeout=10)
            c.request("GET", "/go", headers={"Host": "www.example.test"})
            r = c.getresponse()
            r.read()
            c.close()
            assert r.status == 302
            seen.add(r.getheader("Location"))
        assert seen == {"http://www.example.test/next"}, seen
        assert len(a.requests) > 0 and len(b.requests) > 0
    finally:
        a.stop()
        b.stop()


def test_configured_error_status_waits_for_retry(relais):
    a, b = Backend(), Backend()
    try:
        front = free_port()
        relais.write_conf(balancer_conf(front, """
    BalancerMember %s
    BalancerMember %s status=+E retry=60""" % (a.url, b.url)))
        relais.start(front)
        for _ in range(10):
            assert get(front, "/x")[0] == 200
        assert len(b.requests) == 0
    finally:
        a.stop()
        b.stop()


def test_configtest_catches_a_name_that_does_not_resolve(relais):
    front = free_port()
    relais.write_conf(balancer_conf(front, """
    BalancerMember http://no-such-host.invalid:8080"""))
    r = relais.run("-t")
    assert r.returncode != 0
    assert "cannot resolve backend host 'no-such-host.invalid'" in r.stderr
    assert "relais.conf:" in r.stderr
