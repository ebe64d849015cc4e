"""Redis behind a `Listen … tcp` listener (mod_proxy_stream): redis-cli
and raw RESP clients through Relais reach one of two real redis-server
members of a balancer; a member killed is routed around (and marked by
hcmethod=TCP), and used again when it comes back."""
import socket

import pytest

from helpers_stream import (MPMS, RespReader, balancer, free_port,
                            members_seen, needs_module, redis_cli, resp,
                            start_stream, stream_conf, stream_vhost, wait_for,
                            wait_log)

pytestmark = needs_module

NAMES = ("redis1", "redis2")


def redis_front(relais, redis_pair, mpm="event", keys="",
                lbmethod="byrequests"):
    front = free_port()
    members = ["tcp://127.0.0.1:%d %s" % (r.port, keys) for r in redis_pair]
    start_stream(relais, stream_conf(
        balancer("redis", members, "ProxySet lbmethod=%s" % lbmethod) +
        stream_vhost(front, "balancer://redis"),
        mpm=mpm, listen=[(front, "tcp")]))
    return front


def who(front):
    """Which member a new connection reaches (its `whoami` key)."""
    return redis_cli(front, "GET", "whoami").strip()


@pytest.mark.parametrize("mpm", MPMS)
def test_redis_cli_through_relais(relais, redis_pair, mpm):
    front = redis_front(relais, redis_pair, mpm)
    # one redis-cli session: every command on one relayed connection
    out = redis_cli(front, stdin="SET k hello\nGET k\nINCR n\nINCR n\n"
                    "INCR n\nGET whoami\nCONFIG GET port\n").split("\n")
    assert out[:5] == ["OK", "hello", "1", "2", "3"], out
    name, port = out[5], out[7]
    member = {r.name: r for r in redis_pair}[name]
    assert int(port) == member.port
    # the key landed on that member, and only there
    assert member.cli("GET", "k").strip() == "hello"
    other = [r for r in redis_pair if r is not member][0]
    assert other.cli("EXISTS", "k").strip() == "0"
    # connections are balanced: both members answer over ten of them
    assert members_seen(lambda: who(front), NAMES) == set(NAMES)


@pytest.mark.parametrize("mpm", MPMS)
def test_pipeline_and_a_4mib_value(relais, redis_pair, mpm):
    front = redis_front(relais, redis_pair, mpm)
    with socket.create_connection(("127.0.0.1", front), timeout=20) as s:
        rd = RespReader(s)
        # 1000 commands in one write, then the 1000 replies in order
        s.sendall(b"".join(resp("INCR", "pipelined") for _ in range(1000)))
        assert [rd.reply() for _ in range(1000)] == list(range(1, 1001))
        big = bytes((i * 7 + i // 251) & 0xFF for i in range(4 << 20))
        s.sendall(resp("SET", "big", big) + resp("GET", "big") +
                  resp("STRLEN", "big") + resp("GET", "whoami"))
        assert rd.reply() == "OK"
        got = rd.reply()
        assert len(got) == len(big) and got == big
        assert rd.reply() == 4 << 20
        name = rd.reply().decode()
    member = {r.name: r for r in redis_pair}[name]
    assert member.cli("GET", "pipelined").strip() == "1000"


def test_killed_member_is_routed_around_and_comes_back(relais, redis_pair):
    r1, r2 = redis_pair
    front = redis_front(relais, redis_pair,
                        keys="hcmethod=TCP hcinterval=200ms retry=1")
    assert members_seen(lambda: who(front), NAMES) == set(NAMES)
    r1.kill()
    # from now on every new connection is served by redis2
    assert [who(front) for _ in range(10)] == ["redis2"] * 10
    # the health check marks the dead one
    assert wait_log(relais, "tcp://127.0.0.1:%d failed its health check"
                    % r1.port), relais.error_log()
    r1.start()  # same port, comes back
    assert wait_log(relais, lambda l: "tcp://127.0.0.1:%d" % r1.port in l
                    and "back in service" in l), relais.error_log()
    assert wait_for(lambda: "redis1" in {who(front) for _ in range(6)},
                    timeout=10)


def test_member_killed_without_health_check(relais, redis_pair):
    """No hcmethod: the first connection that fails to reach the dead
    member is retried on the other one, so no client sees an error."""
    r1, r2 = redis_pair
    front = redis_front(relais, redis_pair)
    r1.kill()
    assert [who(front) for _ in range(10)] == ["redis2"] * 10


@pytest.mark.parametrize("mpm", MPMS)
def test_bybusyness_spreads_open_connections(relais, redis_pair, mpm):
    """lbmethod=bybusyness counts the connections each member holds
    (shared by every child): of 6 connections held open, each member
    gets 3."""
    front = redis_front(relais, redis_pair, mpm, lbmethod="bybusyness")
    held = []
    try:
        names = []
        for _ in range(6):
            s = socket.create_connection(("127.0.0.1", front), timeout=10)
            held.append(s)
            s.sendall(resp("GET", "whoami"))
            names.append(RespReader(s).reply().decode())
        assert sorted(names) == ["redis1"] * 3 + ["redis2"] * 3, names
    finally:
        for s in held:
            s.close()
