"""Smoke tests of mod_proxy_stream, written with the module: a Redis
behind a TCP listener under each MPM (which member answered, the log
line), a member that refuses (failover, the failed one in error), and DNS
over UDP (two dnsmasq, each answering with its own name).  The full suite
is the other test_stream_*.py files."""
import os
import re

import pytest

from conftest import free_port
from helpers_stream import (Dnsmasq, DIG, DNSMASQ, dig, free_udp_port,
                            members_seen, needs_module, redis_cli, stream_conf,
                            start_stream, wait_log)

pytestmark = needs_module

LOG_RE = re.compile(
    r"^\[[^\]]+\] client=(?P<client>\S+) listener=(?P<listener>\S+) "
    r"proto=(?P<proto>tcp|udp) balancer=(?P<balancer>\S+) "
    r"member=(?P<member>\S+) up=(?P<up>\d+) down=(?P<down>\d+) "
    r"duration_ms=(?P<ms>\d+) attempts=(?P<attempts>\d+) "
    r"cause=(?P<cause>\S+)$")


def log_lines(relais):
    return [LOG_RE.match(line).groupdict()
            for line in relais.read("logs/stream.log").splitlines()]


@pytest.mark.parametrize("mpm", ["event", "worker", "prefork"])
def test_stream_smoke_redis(relais, redis_pair, mpm):
    r1, r2 = redis_pair
    port = free_port()
    start_stream(relais, stream_conf("""
<Proxy balancer://redis>
    BalancerMember tcp://127.0.0.1:%d
    BalancerMember tcp://127.0.0.1:%d
</Proxy>
<VirtualHost 127.0.0.1:%d>
    ProxyStream balancer://redis
    ProxyStreamLog logs/stream.log
</VirtualHost>
""" % (r1.port, r2.port, port), mpm=mpm, listen=[(port, "tcp")]),
                 tcp_port=port)
    # byrequests: both answer (under prefork and worker each child keeps
    # its own turn, so a few connections in a row may go to one member)
    seen = members_seen(lambda: redis_cli(port, "GET", "whoami").strip(),
                        {"redis1", "redis2"})
    assert seen == {"redis1", "redis2"}

    # the start-up probe (a connect without bytes) is logged too
    def served():
        return [l for l in log_lines(relais) if l["up"] != "0"]
    assert wait_log(relais, lambda _: len(served()) >= 2, name="stream.log")
    lines = served()
    assert {l["member"] for l in lines} == {
    "tcp://127.0.0.1:%d" % r1.port, "tcp://127.0.0.1:%d" % r2.port}
    for l in lines:
        assert l["proto"] == "tcp" and l["balancer"] == "balancer://redis"
        assert l["cause"] == "client-close" and l["attempts"] == "1"
        assert l["listener"] == "127.0.0.1:%d" % port
        assert int(l["up"]) > 0 and int(l["down"]) > 0
    relais.stop()


def test_stream_smoke_failover(relais, redis_pair):
    r1, r2 = redis_pair
    r2.stop()                       # refuses connections from now on
    port = free_port()
    start_stream(relais, stream_conf("""
<Proxy balancer://redis>
    BalancerMember tcp://127.0.0.1:%d
    BalancerMember tcp://127.0.0.1:%d
</Proxy>
<VirtualHost 127.0.0.1:%d>
    ProxyStream balancer://redis
    ProxyStreamLog logs/stream.log
</VirtualHost>
""" % (r1.port, r2.port, port), listen=[(port, "tcp")]), tcp_port=port)
    for _ in range(4):
        assert redis_cli(port, "GET", "whoami").strip() == "redis1"
    # the failed member is put in error (passive health) and the client
    # never saw it: its connection went on to redis1 (2 attempts)
    assert wait_log(relais, "put in error state")
    assert wait_log(relais, "attempts=2", name="stream.log")
    assert all(l["member"] == "tcp://127.0.0.1:%d" % r1.port
               for l in log_lines(relais))
    relais.stop()


def test_stream_smoke_dns(relais, tmp_path):
    for p in (DIG, DNSMASQ):
        if not os.path.exists(p):
            pytest.skip("%s is not installed" % p)
    d1 = Dnsmasq(tmp_path / "d1", "dns1", "10.0.0.1")
    d2 = Dnsmasq(tmp_path / "d2", "dns2", "10.0.0.2")
    d1.start()
    d2.start()
    try:
        port = free_udp_port()
        start_stream(relais, stream_conf("""
<Proxy balancer://dns>
    BalancerMember udp://127.0.0.1:%d
    BalancerMember udp://127.0.0.1:%d
</Proxy>
<VirtualHost 127.0.0.1:%d>
    ProxyStream balancer://dns
    ProxyStreamUDPResponses 1
    ProxyStreamLog logs/stream.log
</VirtualHost>
""" % (d1.port, d2.port, port), listen=[(port, "udp")]),
                     udp_probe=lambda: dig(port) is not None)
        names = set()
        for _ in range(6):
            names.update(dig(port) or [])
        assert names == {"dns1", "dns2"}
        d2.stop()
        for _ in range(4):
            assert dig(port, tries=2) == ["dns1"]
        lines = log_lines(relais)
        assert all(l["proto"] == "udp" for l in lines)
        assert {l["cause"] for l in lines} == {"responses"}
        relais.stop()
    finally:
        d1.stop()
        d2.stop()
