"""mod_healthcheck: a watchdog process checks balancer members
(hcmethod/hcuri/hcinterval/hcfails/hcpasses, httpd's mod_proxy_hcheck
keys); a member failing its check gets no traffic, and takes traffic again
after it passes; every transition is logged."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import Backend  # noqa: E402

from conftest import free_port, mpm_lines  # noqa: E402
from helpers_balancer import balancer_conf, served_by, wait_log  # noqa: E402


def test_failing_member_is_taken_out_and_comes_back(relais):
    b1, b2 = Backend(), Backend()
    try:
        b2.on("/health", status=503)
        front = free_port()
        keys = "hcmethod=GET hcuri=/health hcinterval=200ms hcfails=2 hcpasses=2"
        relais.write_conf(balancer_conf(front, """
    BalancerMember %s %s
    BalancerMember %s %s""" % (b1.url, keys, b2.url, keys)))
        relais.start(front)
        assert wait_log(relais, "failed its health check 2 time(s)")
        assert "member http://127.0.0.1:%d" % b2.port in relais.error_log()
        one, two = served_by(front, [b1, b2], 30)
        assert (one, two) == (30, 0)
        b2.on("/health", status=200)
        assert wait_log(relais, "back in service")
        one, two = served_by(front, [b1, b2], 30)
        assert one > 0 and two > 0
    finally:
        b1.stop()
        b2.stop()


def test_tcp_check_of_a_dead_member(relais):
    b1 = Backend()
    dead = free_port()
    try:
        front = free_port()
        relais.write_conf(balancer_conf(front, """
    BalancerMember %s hcmethod=TCP hcinterval=200ms
    BalancerMember http://127.0.0.1:%d hcmethod=TCP hcinterval=200ms"""
                                        % (b1.url, dead)))
        relais.start(front)
        assert wait_log(relais, "http://127.0.0.1:%d failed its health check"
                        % dead)
        # no request is ever sent to the dead member: none fails over
        relais.stop()
        assert "failing over" not in relais.error_log()
    finally:
        b1.stop()


def test_bad_health_check_keys_are_config_errors(relais):
    front = free_port()
    relais.write_conf(mpm_lines("event") + """
LoadModule proxy_module modules/mod_proxy.so
LoadModule balancer_module modules/mod_balancer.so
LoadModule healthcheck_module modules/mod_healthcheck.so
Listen 127.0.0.1:%d
<Proxy "balancer://app">
    BalancerMember http://127.0.0.1:1 hcmethod=PING
    BalancerMember http://127.0.0.1:2 hcinterval=10us
</Proxy>
""" % front)
    res = relais.run("-t")
    assert res.returncode == 1
    assert "hcmethod=PING: expected TCP, OPTIONS, HEAD or GET" in res.stderr
    assert "hcinterval=10us: at least 100ms" in res.stderr
