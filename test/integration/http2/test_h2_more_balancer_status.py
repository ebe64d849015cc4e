"""mod_balancer and mod_status under HTTP/2: the streams of one HTTP/2
connection are spread over the members by byrequests, a dead member is
failed over for every stream, and /server-status?auto and /metrics are
served over h2 (TLS, ALPN) with what they count."""
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from helpers_h2 import (PREFACE, Backend, access_lines, curl, free_port, have,
                      start_h2)
from test_h2_attacks import END_HEADERS, END_STREAM, HEADERS, SETTINGS, frame

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "status"))

from helpers_status import parse_auto, parse_metrics, total  # noqa: E402

needs_h2load = pytest.mark.skipif(not have("h2load"), reason="needs h2load")

BALANCER = """<Proxy "balancer://app">
    BalancerMember %s
    BalancerMember %s
    ProxySet lbmethod=byrequests
</Proxy>
ProxyPass / balancer://app/
"""


def h2load(port, path, n, c=1, m=10):
    p = subprocess.run(["h2load", "-n", str(n), "-c", str(c), "-m", str(m),
                        "http://127.0.0.1:%d%s" % (port, path)],
                       capture_output=True, text=True, timeout=60)
    assert re.search(r"requests: %d total, %d started, %d done, %d succeeded"
                     % (n, n, n, n), p.stdout), p.stdout + p.stderr
    assert "status codes: %d 2xx" % n in p.stdout, p.stdout
    return p.stdout


@pytest.fixture
def two_backends():
    bs = [Backend(), Backend()]
    yield bs
    for b in bs:
        b.stop()
    errors = [e for b in bs for e in b.errors]
    assert not errors, errors


@needs_h2load
def test_h2_balancer_spreads_the_streams_of_one_connection(relais,
                                                           two_backends):
    b1, b2 = two_backends
    port, _ = start_h2(relais, BALANCER % (b1.url, b2.url),
                       modules=("balancer",))
    # 40 requests, 10 at a time, over ONE HTTP/2 connection
    h2load(port, "/bal", 40, c=1, m=10)
    n1 = len(b1.wait_requests(20, timeout=5))
    n2 = len(b2.wait_requests(20, timeout=5))
    assert n1 + n2 == 40, (n1, n2)
    # byrequests with equal weights: an even share each
    assert abs(n1 - n2) <= 2, (n1, n2)
    assert all(r.target == b"/bal" and r.version == "HTTP/1.1"
               for r in b1.requests + b2.requests)
    lines = access_lines(relais, 40)
    assert len(lines) == 40
    assert all('"GET /bal HTTP/2.0" 200 ' in l for l in lines), lines[:3]


@needs_h2load
def test_h2_balancer_fails_over_a_dead_member_for_every_stream(relais,
                                                               two_backends):
    alive = two_backends[0]
    dead = "http://127.0.0.1:%d" % free_port()  # nobody listens there
    port, _ = start_h2(relais, BALANCER.replace(
        "BalancerMember %s\n    BalancerMember %s",
        "BalancerMember %s\n    BalancerMember %s retry=60") % (alive.url,
                                                                 dead),
        modules=("balancer",))
    h2load(port, "/fo", 40, c=1, m=10)
    assert len(alive.wait_requests(40)) == 40
    log = relais.error_log()
    assert "put in error state" in log, log[-2000:]
    lines = access_lines(relais, 40)
    assert len(lines) == 40 and all(" 200 " in l for l in lines), lines


@needs_h2load
def test_h2_server_status_and_metrics_over_tls(relais, certs):
    body = """<Location /server-status>
    SetHandler server-status
</Location>
<Location /metrics>
    SetHandler metrics
</Location>
<Location /app>
    SetHandler echo
</Location>
"""
    _, tls = start_h2(relais, body, modules=("status",), tls=True,
                      certs=certs)
    # traffic over HTTP/2 on the TLS vhost first: 30 requests
    p = subprocess.run(["h2load", "-n", "30", "-c", "1", "-m", "10",
                        "https://127.0.0.1:%d/app" % tls],
                       capture_output=True, text=True, timeout=60)
    assert "30 succeeded" in p.stdout, p.stdout + p.stderr
    tls_args = ("--http2", "--cacert", certs.path("ca.crt"), "--resolve",
                "localhost:%d:127.0.0.1" % tls, "-w", "\n%{http_version}")
    p = curl(*(tls_args + ("https://localhost:%d/server-status?auto" % tls,)))
    text, version = p.stdout.rsplit(b"\n", 1)
    assert p.returncode == 0 and version == b"2", p
    _, fields = parse_auto(text)
    assert fields["ServerMPM"] == "event"
    # the 30 streams were counted as requests (BusyWorkers: see
    # test_h2_status_counts_the_thread_serving_a_stream)
    assert int(fields["Total Accesses"]) >= 30, fields
    for key in ("Uptime", "Total kBytes", "BusyWorkers", "IdleWorkers",
                "Scoreboard", "ConnsTotal"):
        assert key in fields, (key, fields)

    p = curl(*(tls_args + ("https://localhost:%d/metrics" % tls,)))
    text, version = p.stdout.rsplit(b"\n", 1)
    assert p.returncode == 0 and version == b"2", p
    m = parse_metrics(text.decode())
    assert total(m, "relais_requests_total") >= 31, \
        [k for k in m["samples"] if k[0] == "relais_requests_total"]
    assert total(m, "relais_requests_total", code="2xx", method="GET") >= 31
    # both pages were served as HTTP/2 streams, and logged so
    lines = access_lines(relais, 32)
    assert any('"GET /server-status?auto HTTP/2.0" 200 ' in l
               for l in lines), lines[-3:]
    assert any('"GET /metrics HTTP/2.0" 200 ' in l for l in lines), \
        lines[-3:]


@pytest.mark.parametrize("mpm", ["event", "worker", "prefork"])
def test_h2_status_counts_the_thread_serving_a_stream(relais, mpm):
    """?auto asked on a stream: the thread serving it is busy, as it is
    over HTTP/1.1.  The preface, SETTINGS and the request go in one
    write, as a client with prior knowledge sends them."""
    port, _ = start_h2(relais, "<Location /server-status>\n"
                       "    SetHandler server-status\n</Location>\n",
                       mpm=mpm, modules=("status",))
    block = __import__("hpack").Encoder().encode(
        [(":method", "GET"), (":scheme", "http"),
         (":path", "/server-status?auto"), (":authority", "relais.test")])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(PREFACE + frame(SETTINGS, 0, 0) +
                  frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
        got, end = b"", time.monotonic() + 10
        while b"\nScoreboard: " not in got and time.monotonic() < end:
            b = s.recv(65536)
            if not b:
                break
            got += b
    m = re.search(rb"\nBusyWorkers: (\d+)\n", got)
    assert m, got[-500:]
    assert int(m.group(1)) >= 1, got[-500:]
