"""A member dies under load and comes back: clients see no error, health
checks take it out within hcinterval x hcfails + 1 s and put it back
within hcinterval x hcpasses + 1 s after it recovers, and the error log
tells the story."""
import http.client
import os
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import Backend  # noqa: E402

from conftest import free_port  # noqa: E402
from helpers_balancer import balancer_conf, get  # noqa: E402

INTERVAL, FAILS, PASSES = 0.5, 2, 2
CLIENTS, PER_CLIENT = 4, 750          # 3000 requests in all


class Load:
    """CLIENTS threads, each PER_CLIENT keep-alive requests; every answer
    that is not a 200 (or a connection error) is recorded."""

    def __init__(self, port):
        self.port = port
        self.errors = []
        self.done = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.client, daemon=True)
                        for _ in range(CLIENTS)]

    def client(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        for _ in range(PER_CLIENT):
            try:
                c.request("GET", "/page")
                r = c.getresponse()
                r.read()
                ok = r.status == 200
                what = r.status
            except (OSError, http.client.HTTPException) as e:
                ok, what = False, repr(e)
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", self.port,
                                               timeout=10)
            with self.lock:
                self.done += 1
                if not ok:
                    self.errors.append(what)
            time.sleep(0.002)         # ~3000 requests over a few seconds
        c.close()

    def start(self):
        for t in self.threads:
            t.start()

    def wait_done(self, n, timeout=60):
        end = time.time() + timeout
        while time.time() < end and self.done < n:
            time.sleep(0.01)

    def join(self):
        for t in self.threads:
            t.join(120)


def wait_line(relais, text, start, timeout):
    """Seconds from `start` until `text` is in the error log."""
    end = time.time() + timeout
    while time.time() < end:
        if text in relais.error_log():
            return time.time() - start
        time.sleep(0.02)
    raise AssertionError("no %r in the error log after %.1f s" %
                         (text, timeout))


@pytest.mark.parametrize("method", ["byrequests", "bybusyness"])
def test_member_killed_and_back_under_load(relais, method):
    a, b, c = Backend(), Backend(), Backend()
    port_b = b.port
    keys = "hcmethod=GET hcuri=/health hcinterval=%dms hcfails=%d " \
           "hcpasses=%d retry=1" % (INTERVAL * 1000, FAILS, PASSES)
    try:
        front = free_port()
        relais.write_conf(balancer_conf(front, """
    BalancerMember %s %s
    BalancerMember %s %s
    BalancerMember %s %s
    ProxySet lbmethod=%s""" % (a.url, keys, b.url, keys, c.url, keys,
                                method)))
        relais.start(front)
        load = Load(front)
        load.start()
        load.wait_done(600)
        killed = time.time()
        b.stop()                      # the member dies mid-load
        out = wait_line(relais, "member %s failed its health check"
                        % b.url, killed, 10)
        load.wait_done(1800)
        b = Backend(port=port_b)      # it comes back on the same port
        back_at = time.time()
        back = wait_line(relais, "member %s passed its health check"
                         % b.url, back_at, 10)
        load.join()
        assert load.done == CLIENTS * PER_CLIENT
        assert load.errors == [], load.errors[:10]
        assert out <= INTERVAL * FAILS + 1, out
        assert back <= INTERVAL * PASSES + 1, back
        # it takes traffic again
        for _ in range(30):
            assert get(front, "/page")[0] == 200
        assert sum(1 for q in b.requests if q.target == b"/page") > 0
        log = relais.error_log()
        assert "taken out of service" in log and "back in service" in log
    finally:
        a.stop()
        b.stop()
        c.stop()


def test_dropped_request_fails_over_only_when_idempotent(relais):
    """b takes the request and closes without a byte of answer: a GET goes
    to a instead (the client sees 200); a POST is never sent twice (502)."""
    import http.client as hc
    a, b = Backend(), Backend()
    try:
        b.on("/drop", raw=b"")
        front = free_port()
        relais.write_conf(balancer_conf(front, """
    BalancerMember %s lbset=1
    BalancerMember %s lbset=0 retry=0""" % (a.url, b.url)))
        relais.start(front)
        c = hc.HTTPConnection("127.0.0.1", front, timeout=10)
        c.request("GET", "/drop")
        r = c.getresponse()
        r.read()
        assert r.status == 200
        assert [q.method for q in b.requests] == ["GET"]
        assert [q.method for q in a.requests] == ["GET"]
        c.close()
        c = hc.HTTPConnection("127.0.0.1", front, timeout=10)
        c.request("POST", "/drop", body=b"pay once")
        r = c.getresponse()
        r.read()
        assert r.status == 502
        assert [q.method for q in b.requests] == ["GET", "POST"]
        assert [q.method for q in a.requests] == ["GET"]
        c.close()
        log = relais.error_log()
        assert "closed the connection before answering" in log
        assert "failing over from %s to %s" % (b.url, a.url) in log
    finally:
        a.stop()
        b.stop()
