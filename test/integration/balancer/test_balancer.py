"""mod_balancer: balancer://name targets with httpd's <Proxy> /
BalancerMember / ProxySet syntax, the bundled lbmethods, failover, hot
standby and the all-down answer.  Backends are relaisd's own mod_echo
vhosts, each telling its name."""
import http.client
import json
import socket

import pytest

from conftest import free_port, mpm_lines


def conf(front, backends, balancer_body, extra="", mpm="event"):
    """front port, [(port, name)], the <Proxy> body."""
    text = mpm_lines(mpm) + """
LoadModule echo_module modules/mod_echo.so
LoadModule proxy_module modules/mod_proxy.so
LoadModule balancer_module modules/mod_balancer.so
ErrorLog logs/error_log
LogLevel info
Listen 127.0.0.1:%d
""" % front
    for port, name in backends:
        text += """Listen 127.0.0.1:%d
<VirtualHost 127.0.0.1:%d>
    SetHandler echo
    EchoName %s
</VirtualHost>
""" % (port, port, name)
    text += """<VirtualHost 127.0.0.1:%d>
    <Proxy "balancer://app">
%s
    </Proxy>
    ProxyPass / balancer://app/
%s
</VirtualHost>
""" % (front, balancer_body, extra)
    return text


def names(port, n, path="/x", source=None, headers=None):
    """n requests on one keep-alive connection; the backend names seen."""
    seen = []
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                   source_address=(source, 0) if source
                                   else None)
    for _ in range(n):
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        assert r.status == 200, (r.status, body)
        seen.append(json.loads(body)["name"])
    c.close()
    return seen


def test_byrequests_weights_3_to_1(relais):
    front = free_port()
    b1, b2 = free_port(), free_port()
    relais.write_conf(conf(front, [(b1, "b1"), (b2, "b2")], """
        BalancerMember http://127.0.0.1:%d loadfactor=3
        BalancerMember http://127.0.0.1:%d loadfactor=1
        ProxySet lbmethod=byrequests""" % (b1, b2)))
    relais.start(front)
    seen = names(front, 4000)
    share = seen.count("b1") / len(seen)
    assert abs(share - 0.75) <= 0.02 * 0.75, share


def test_failover_hides_a_dead_member(relais):
    front, b1, dead = free_port(), free_port(), free_port()
    relais.write_conf(conf(front, [(b1, "b1")], """
        BalancerMember http://127.0.0.1:%d
        BalancerMember http://127.0.0.1:%d retry=60""" % (b1, dead)))
    relais.start(front)
    seen = names(front, 200)          # every request answered
    assert set(seen) == {"b1"}
    log = relais.error_log()
    assert "put in error state" in log
    assert "failing over" in log


def test_hot_standby_only_when_others_are_down(relais):
    front, b1, spare, dead = free_port(), free_port(), free_port(), free_port()
    relais.write_conf(conf(front, [(b1, "b1"), (spare, "spare")], """
        BalancerMember http://127.0.0.1:%d
        BalancerMember http://127.0.0.1:%d status=+H""" % (b1, spare)))
    relais.start(front)
    assert set(names(front, 50)) == {"b1"}
    relais.stop()
    relais.write_conf(conf(front, [(spare, "spare")], """
        BalancerMember http://127.0.0.1:%d retry=60
        BalancerMember http://127.0.0.1:%d status=+H""" % (dead, spare)))
    relais.start(front)
    assert set(names(front, 20)) == {"spare"}


def test_all_members_down_is_503_with_retry_after(relais):
    front, d1, d2 = free_port(), free_port(), free_port()
    relais.write_conf(conf(front, [], """
        BalancerMember http://127.0.0.1:%d retry=30
        BalancerMember http://127.0.0.1:%d retry=30""" % (d1, d2)))
    relais.start(front)
    for _ in range(3):
        c = http.client.HTTPConnection("127.0.0.1", front, timeout=10)
        c.request("GET", "/x")
        r = c.getresponse()
        body = r.read()
        assert r.status == 503
        assert r.getheader("Retry-After")
        assert b"127.0.0.1:%d" % d1 not in body
        c.close()


def loopback_ok(addr):
    try:
        with socket.socket() as s:
            s.bind((addr, 0))
        return True
    except OSError:
        return False


def test_source_hash_moves_only_the_removed_members_clients(relais):
    if not loopback_ok("127.0.0.9"):
        pytest.skip("cannot bind to 127.0.0.x source addresses here")
    front = free_port()
    backends = [(free_port(), "m%d" % i) for i in range(3)]
    body = "\n".join("        BalancerMember http://127.0.0.1:%d" % p
                     for p, _ in backends) + "\n        ProxySet lbmethod=source"
    relais.write_conf(conf(front, backends, body))
    relais.start(front)
    clients = ["127.0.0.%d" % i for i in range(2, 62)]
    before = {c: names(front, 2, source=c) for c in clients}
    for c, seen in before.items():
        assert seen[0] == seen[1], "source hashing is not sticky for %s" % c
    assert len({s[0] for s in before.values()}) == 3
    relais.stop()
    body2 = "\n".join("        BalancerMember http://127.0.0.1:%d%s" % (
        p, " status=+D" if n == "m2" else "") for p, n in backends) + \
        "\n        ProxySet lbmethod=source"
    relais.write_conf(conf(front, backends, body2))
    relais.start(front)
    moved = 0
    for c in clients:
        now = names(front, 1, source=c)[0]
        if before[c][0] != "m2":
            assert now == before[c][0], "a client of a remaining member moved"
        else:
            moved += 1
            assert now != "m2"
    assert 0 < moved < len(clients)


def test_hash_by_header_is_sticky(relais):
    front = free_port()
    backends = [(free_port(), "m%d" % i) for i in range(3)]
    body = "\n".join("        BalancerMember http://127.0.0.1:%d" % p
                     for p, _ in backends)
    body += "\n        ProxySet lbmethod=hash hashkey=header:X-User"
    relais.write_conf(conf(front, backends, body))
    relais.start(front)
    owners = {}
    for user in ["user%d" % i for i in range(30)]:
        seen = names(front, 3, headers={"X-User": user})
        assert len(set(seen)) == 1, (user, seen)
        owners[user] = seen[0]
    # 30 keys over 3 members: each member owns some (all on one would be
    # a broken hash: probability 3^-29)
    assert len(set(owners.values())) == 3, owners


@pytest.mark.parametrize("method", ["bybusyness", "leastconn", "random",
                                    "bytraffic"])
def test_other_methods_spread_over_members(relais, method):
    front = free_port()
    backends = [(free_port(), "m%d" % i) for i in range(2)]
    body = "\n".join("        BalancerMember http://127.0.0.1:%d" % p
                     for p, _ in backends)
    relais.write_conf(conf(front, backends, body,
                           extra="    ProxySet balancer://app lbmethod=%s"
                           % method))
    relais.start(front)
    seen = names(front, 200)
    assert set(seen) <= {"m0", "m1"}
    if method in ("random", "bybusyness", "leastconn"):
        assert len(set(seen)) == 2, seen


def test_unknown_lbmethod_lists_the_loaded_ones(relais):
    front = free_port()
    relais.write_conf(conf(front, [], """
        BalancerMember http://127.0.0.1:1
        ProxySet lbmethod=fastest"""))
    res = relais.run("-t")
    assert res.returncode == 1
    assert "ProxySet: lbmethod=fastest: unknown method (loaded:" in res.stderr
    assert "byrequests" in res.stderr


def test_balancer_params_on_proxypass_and_json_member(relais):
    front, b1 = free_port(), free_port()
    relais.write_conf(mpm_lines("event") + """
LoadModule echo_module modules/mod_echo.so
LoadModule proxy_module modules/mod_proxy.so
LoadModule balancer_module modules/mod_balancer.so
LoadModule log_module modules/mod_log.so
Listen 127.0.0.1:%d
Listen 127.0.0.1:%d
<VirtualHost 127.0.0.1:%d>
    SetHandler echo
    EchoName b1
</VirtualHost>
<VirtualHost 127.0.0.1:%d>
    CustomLog logs/access.json json
    BalancerMember balancer://app http://127.0.0.1:%d
    ProxyPass / balancer://app/ lbmethod=bybusyness maxattempts=1
</VirtualHost>
""" % (front, b1, b1, front, b1))
    relais.start(front)
    assert names(front, 3) == ["b1"] * 3
    relais.stop()
    lines = [json.loads(l) for l in
             open(relais.root + "/logs/access.json") if l.strip()]
    assert lines and all(l["member"] == "http://127.0.0.1:%d" % b1
                         for l in lines)


def sticky_conf(front, backends, extra_member="", proxyset=""):
    body = "\n".join("        BalancerMember http://127.0.0.1:%d route=%s%s" % (
        p, n, extra_member if n == "b" else "") for p, n in backends)
    body += "\n        ProxySet stickysession=JSESSIONID%s" % proxyset
    return conf(front, backends, body)


def test_sticky_cookie_and_url_parameter(relais):
    front = free_port()
    backends = [(free_port(), "a"), (free_port(), "b")]
    relais.write_conf(sticky_conf(front, backends))
    relais.start(front)
    assert set(names(front, 20, headers={"Cookie": "x=1; JSESSIONID=s1.b"})) \
        == {"b"}
    assert set(names(front, 20, path="/p;JSESSIONID=s2.a")) == {"a"}
    # no session: the lbmethod spreads
    assert set(names(front, 20)) == {"a", "b"}


def test_sticky_pair_form_and_separator(relais):
    front = free_port()
    backends = [(free_port(), "a"), (free_port(), "b")]
    relais.write_conf(conf(front, backends, """
        BalancerMember http://127.0.0.1:%d route=a
        BalancerMember http://127.0.0.1:%d route=b
        ProxySet stickysession=SESS|sid stickysessionsep=-""" % (
        backends[0][0], backends[1][0])))
    relais.start(front)
    assert set(names(front, 10, headers={"Cookie": "SESS=z-b"})) == {"b"}
    assert set(names(front, 10, path="/x?sid=z-a")) == {"a"}


def test_draining_member_serves_only_its_sticky_clients(relais):
    front = free_port()
    backends = [(free_port(), "a"), (free_port(), "b")]
    relais.write_conf(sticky_conf(front, backends, extra_member=" status=+N"))
    relais.start(front)
    assert set(names(front, 30)) == {"a"}
    assert set(names(front, 10, headers={"Cookie": "JSESSIONID=q.b"})) == {"b"}


def test_sticky_member_down_fails_over(relais):
    front, a = free_port(), free_port()
    dead = free_port()
    relais.write_conf(conf(front, [(a, "a")], """
        BalancerMember http://127.0.0.1:%d route=a
        BalancerMember http://127.0.0.1:%d route=b retry=60
        ProxySet stickysession=JSESSIONID""" % (a, dead)))
    relais.start(front)
    assert set(names(front, 10, headers={"Cookie": "JSESSIONID=q.b"})) == {"a"}
