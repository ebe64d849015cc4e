"""mod_balancer member tiers and recovery: lbset (lower sets first), hot
spares (+R stand in one for one), forcerecovery (httpd's default: when
every member is in error, try them rather than refuse), and slow start
(a member back in service gets a growing share)."""
import http.client
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import Backend  # noqa: E402

from conftest import free_port  # noqa: E402
from helpers_balancer import balancer_conf, get, served_by, wait_log  # noqa: E402
from test_balancer import conf, names  # noqa: E402


def test_lower_lbset_first_higher_only_when_it_is_out(relais):
    front, a, b, dead = free_port(), free_port(), free_port(), free_port()
    relais.write_conf(conf(front, [(a, "a"), (b, "b")], """
        BalancerMember http://127.0.0.1:%d lbset=0
        BalancerMember http://127.0.0.1:%d lbset=1""" % (a, b)))
    relais.start(front)
    assert set(names(front, 40)) == {"a"}
    relais.stop()
    # the whole lower set is out: the next set takes over, no error
    relais.write_conf(conf(front, [(b, "b")], """
        BalancerMember http://127.0.0.1:%d lbset=0 retry=60
        BalancerMember http://127.0.0.1:%d lbset=1""" % (dead, b)))
    relais.start(front)
    assert set(names(front, 40)) == {"b"}


def test_hot_spare_stands_in_for_a_member_that_is_out(relais):
    front, a, b, s = free_port(), free_port(), free_port(), free_port()
    dead = free_port()
    relais.write_conf(conf(front, [(a, "a"), (b, "b"), (s, "s")], """
        BalancerMember http://127.0.0.1:%d
        BalancerMember http://127.0.0.1:%d
        BalancerMember http://127.0.0.1:%d status=+R""" % (a, b, s)))
    relais.start(front)
    seen = names(front, 60)
    assert set(seen) == {"a", "b"}
    relais.stop()
    # one regular member out: the spare takes its place beside the other
    relais.write_conf(conf(front, [(a, "a"), (s, "s")], """
        BalancerMember http://127.0.0.1:%d
        BalancerMember http://127.0.0.1:%d retry=60
        BalancerMember http://127.0.0.1:%d status=+R""" % (a, dead, s)))
    relais.start(front)
    seen = names(front, 60)
    assert set(seen) == {"a", "s"}
    assert abs(seen.count("a") - seen.count("s")) <= 4


def both_in_error_then_one_comes_back(relais, force):
    front, pa, pb = free_port(), free_port(), free_port()
    relais.write_conf(balancer_conf(front, """
    BalancerMember http://127.0.0.1:%d retry=60
    BalancerMember http://127.0.0.1:%d retry=60
    ProxySet forcerecovery=%s""" % (pa, pb, force)))
    relais.start(front)
    status, _ = get(front)
    assert status == 503          # nobody listens: both put in error
    assert relais.error_log().count("put in error state") == 2
    back = Backend(port=pa)
    try:
        return get(front)[0], back
    finally:
        back.stop()


def test_forcerecovery_tries_members_in_error_when_all_are(relais):
    status, back = both_in_error_then_one_comes_back(relais, "On")
    assert status == 200
    assert len(back.requests) == 1
    assert "answered again" in relais.error_log()


def test_forcerecovery_off_waits_for_retry(relais):
    status, back = both_in_error_then_one_comes_back(relais, "Off")
    assert status == 503
    assert back.requests == []


def test_slow_start_ramps_a_recovered_member_up(relais):
    a, b = Backend(), Backend()
    try:
        b.on("/health", status=503)
        front = free_port()
        keys = "hcmethod=GET hcuri=/health hcinterval=200ms slowstart=6s"
        relais.write_conf(balancer_conf(front, """
    BalancerMember %s %s
    BalancerMember %s %s""" % (a.url, keys, b.url, keys)))
        relais.start(front)
        assert wait_log(relais, "failed its health check")
        b.on("/health", status=200)
        assert wait_log(relais, "back in service")
        assert "(slow start)" in relais.error_log()
        early = served_by(front, [b, a], 100)[0] / 100
        time.sleep(6.5)
        late = served_by(front, [b, a], 100)[0] / 100
        # right after recovery b gets a small part, after the window half
        assert early < 0.25, early
        assert 0.4 <= late <= 0.6, late
    finally:
        a.stop()
        b.stop()


def test_lbset_and_passive_keys_are_checked(relais):
    front = free_port()
    for bad, what in (("lbset=x", "lbset=x"),
                      ("slowstart=soon", "slowstart=soon"),
                      ("passivefails=0", "passivefails=0")):
        relais.write_conf(balancer_conf(front, """
    BalancerMember http://127.0.0.1:1 %s""" % bad))
        r = relais.run("-t")
        assert r.returncode != 0
        assert "BalancerMember" in r.stderr and what in r.stderr, r.stderr
        assert "relais.conf:" in r.stderr
    relais.write_conf(balancer_conf(front, """
    BalancerMember http://127.0.0.1:1
    ProxySet failonstatus=5x3"""))
    r = relais.run("-t")
    assert r.returncode != 0 and "failonstatus=5x3" in r.stderr, r.stderr


def test_timeout_waits_for_a_member_to_come_back(relais):
    import threading
    b = Backend()
    try:
        b.on("/health", status=503)
        front = free_port()
        relais.write_conf(balancer_conf(front, """
    BalancerMember %s hcmethod=GET hcuri=/health hcinterval=200ms
    ProxySet timeout=3 growth=2""" % b.url))
        relais.start(front)
        assert wait_log(relais, "failed its health check")
        # nobody can take it: after timeout= the answer is 503
        t0 = time.time()
        assert get(front, "/page")[0] == 503
        assert 2.8 <= time.time() - t0 <= 5, time.time() - t0
        # the member comes back while a request waits: it is served
        result = {}

        def client():
            t = time.time()
            result["status"] = get(front, "/page")[0]
            result["took"] = time.time() - t
        th = threading.Thread(target=client)
        th.start()
        time.sleep(0.7)
        b.on("/health", status=200)
        th.join(10)
        assert result["status"] == 200
        assert result["took"] < 3, result
        assert "waiting up to 3000 ms (timeout=)" in relais.error_log()
    finally:
        b.stop()


def test_spares_of_a_set_before_the_next_set(relais):
    """httpd's order: when every regular member of lbset 0 is out, lbset
    0's hot spare stands in before lbset 1 is used."""
    front, spare, b, dead = free_port(), free_port(), free_port(), free_port()
    relais.write_conf(conf(front, [(spare, "spare"), (b, "b")], """
        BalancerMember http://127.0.0.1:%d lbset=0 retry=60
        BalancerMember http://127.0.0.1:%d lbset=0 status=+R
        BalancerMember http://127.0.0.1:%d lbset=1""" % (dead, spare, b)))
    relais.start(front)
    assert set(names(front, 20)) == {"spare"}


def test_sticky_session_with_nofailover_is_not_moved(relais):
    front, a, dead = free_port(), free_port(), free_port()
    body = """
        BalancerMember http://127.0.0.1:%d route=one
        BalancerMember http://127.0.0.1:%d route=two retry=60
        ProxySet stickysession=SID nofailover=%s"""
    for flag, expect in (("Off", 200), ("On", 503)):
        relais.write_conf(conf(front, [(a, "one")], body % (a, dead, flag)))
        relais.start(front)
        c = http.client.HTTPConnection("127.0.0.1", front, timeout=10)
        c.request("GET", "/x", headers={"Cookie": "SID=abc.two"})
        r = c.getresponse()
        r.read()
        c.close()
        relais.stop()
        assert r.status == expect, (flag, r.status)


def test_balancer_config_errors_seen_by_configtest(relais):
    front = free_port()
    relais.write_conf(balancer_conf(front, "    BalancerMember http://127.0.0.1:1")
                      + """
ProxyPass /e balancer://empty/ lbmethod=bybusyness
""")
    r = relais.run("-t")
    assert r.returncode != 0
    assert "balancer://empty has no BalancerMember" in r.stderr, r.stderr
    assert "relais.conf:" in r.stderr
    # one name, members in two virtual hosts: refused, not merged
    p1 = free_port()
    relais.write_conf(balancer_conf(front, "    BalancerMember http://127.0.0.1:1")
                      + """
Listen 127.0.0.1:%d
<VirtualHost 127.0.0.1:%d>
    <Proxy "balancer://app">
        BalancerMember http://127.0.0.1:2
    </Proxy>
</VirtualHost>
""" % (p1, p1))
    r = relais.run("-t")
    assert r.returncode != 0
    assert "already has members in another virtual host" in r.stderr, r.stderr
