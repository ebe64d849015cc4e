"""Passive health from live traffic: failonstatus (httpd), failontimeout,
and passivefails= (failed exchanges in a row before a member is put in
error); and member state kept across graceful restarts."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import Backend  # noqa: E402

from conftest import free_port  # noqa: E402
from helpers_balancer import balancer_conf, get  # noqa: E402


def hits(b, path="/x"):
    return sum(1 for q in b.requests if q.target == path.encode())


def run_requests(front, n, path="/x"):
    return [get(front, path)[0] for _ in range(n)]


def test_failonstatus_puts_the_member_in_error(relais):
    a, b = Backend(), Backend()
    try:
        b.on("/x", status=503)
        front = free_port()
        relais.write_conf(balancer_conf(front, """
    BalancerMember %s
    BalancerMember %s retry=60
    ProxySet failonstatus=500,502-504""" % (a.url, b.url)))
        relais.start(front)
        statuses = run_requests(front, 20)
        # httpd semantics: the answer that trips it is relayed, then the
        # member takes no more traffic
        assert hits(b) == 1
        assert statuses.count(503) == 1 and statuses.count(200) == 19
        log = relais.error_log()
        assert "answered 503 (failonstatus)" in log
        assert "member %s put in error state for 60 s" % b.url in log
    finally:
        a.stop()
        b.stop()


def send_until(front, path, cond, limit=200):
    for _ in range(limit):
        if cond():
            return
        get(front, path)
    raise AssertionError("condition not reached in %d requests" % limit)


def test_passivefails_counts_failures_in_a_row(relais):
    a, b = Backend(), Backend()
    try:
        b.on("/x", status=500)
        b.on("/ok", status=200)
        front = free_port()
        relais.write_conf(balancer_conf(front, """
    BalancerMember %s
    BalancerMember %s retry=60 passivefails=3
    ProxySet failonstatus=500""" % (a.url, b.url)))
        relais.start(front)
        # two failures, then a success: the run starts again
        send_until(front, "/x", lambda: hits(b) == 2)
        send_until(front, "/ok", lambda: hits(b, "/ok") == 1)
        assert "put in error state" not in relais.error_log()
        # three failures in a row put it in error, not fewer
        send_until(front, "/x",
                   lambda: "put in error state" in relais.error_log())
        assert hits(b) == 2 + 3
        assert "after 3 failure(s) in a row" in relais.error_log()
        assert "2 of 3 failure(s) in a row" in relais.error_log()
        run_requests(front, 10)
        assert hits(b) == 5
    finally:
        a.stop()
        b.stop()


def test_failontimeout(relais):
    for flag, expect_out in (("On", True), ("Off", False)):
        a, b = Backend(), Backend()
        try:
            b.on("/x", hang=3)
            front = free_port()
            relais.write_conf(balancer_conf(front, """
    BalancerMember %s
    BalancerMember %s timeout=1 retry=60
    ProxySet failontimeout=%s""" % (a.url, b.url, flag)))
            before = len(relais.error_log())
            relais.start(front)
            statuses = run_requests(front, 8)
            # children keep their own rotation: b's share is about half
            if expect_out:
                assert statuses.count(504) == 1, statuses
            else:
                assert statuses.count(504) >= 2, statuses
            log = relais.error_log()[before:]
            assert ("no answer in time (failontimeout)" in log) == expect_out
        finally:
            relais.stop()
            a.stop()
            b.stop()


def graceful(relais):
    """SIGUSR1, then wait until a new generation of children serves."""
    old = set(relais.children())
    relais.send(signal.SIGUSR1)
    end = time.time() + 15
    while time.time() < end:
        now = set(relais.children())
        if now and not (now & old):
            return
        time.sleep(0.05)
    raise AssertionError("no new generation of children")


def test_graceful_restart_keeps_member_state(relais):
    a, b, c = Backend(), Backend(), Backend()
    try:
        b.on("/x", status=503)
        front = free_port()
        members = """
    BalancerMember %s
    BalancerMember %s retry=60
    ProxySet failonstatus=503""" % (a.url, b.url)
        relais.write_conf(balancer_conf(front, members))
        relais.start(front)
        send_until(front, "/x", lambda: hits(b) == 1)
        run_requests(front, 4)
        assert hits(b) == 1             # b is in error now, for 60 s
        b.on("/x", status=200)
        # graceful restart with the same members: b stays in error
        graceful(relais)
        b.reset()
        assert run_requests(front, 10) == [200] * 10
        assert hits(b) == 0
        # a changed member set: b is still known by name and stays out;
        # the new member c takes its share
        relais.write_conf(balancer_conf(front, members + """
    BalancerMember %s""" % c.url))
        graceful(relais)
        deadline = time.time() + 10
        while time.time() < deadline and hits(c) == 0:
            get(front)
            time.sleep(0.05)
        assert hits(c) > 0
        b.reset()
        assert run_requests(front, 10) == [200] * 10
        assert hits(b) == 0
        # a full stop and start forgets it
        relais.stop()
        relais.start(front)
        b.reset()
        run_requests(front, 10)
        assert hits(b) > 0
    finally:
        a.stop()
        b.stop()
        c.stop()
