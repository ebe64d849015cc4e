"""Graceful restart and graceful stop under load, through relaisctl, under
every MPM: 4 keep-alive clients send about 5000 proxied requests in all,
and in the middle the configuration changes (a balancer member is added
and the header every response carries changes) and `relaisctl graceful`
applies it, or `relaisctl graceful-stop` stops the server.

The clients are raw-socket HTTP/1.1 keep-alive clients that behave like
real ones (helpers_ops.KeepAliveClient): a server that closes an idle
keep-alive connection cleanly between two requests is no failure (the
client sees the close before it sends and reconnects); a reset, or a
request sent and answered incompletely or not at all, is one.  Every
outcome is counted, and the assertion is zero failures and zero resets.
"""
import threading
import time

import pytest

from conftest import MPMS, free_port, mpm_lines
from helpers_ops import KeepAliveClient, alive, children_of, wait_for

CLIENTS = 4
PER_CLIENT = 1250          # at least 5000 requests in all
CHANGE_AT = 2000           # requests done when the configuration changes
SETTLED = 200              # a client stops after this many on gen2
CAP = 5000                 # and never sends more than this

MPM_SETTINGS = {
    # prefork: one connection per child; room for the 4 clients in the
    # old generation and in the new one at the same time
    "prefork": "StartServers 6\nMinSpareServers 2\nMaxSpareServers 12\n"
               "MaxRequestWorkers 32\n",
    "worker": "StartServers 2\nThreadsPerChild 4\n",
    "event": "StartServers 2\n",
}


def proxy_conf(mpm, port, members, generation):
    """relaisd in front of a balancer of Python backends; every response
    says which configuration answered (X-Config)."""
    lines = "".join("    BalancerMember http://127.0.0.1:%d\n" % m.port
                    for m in members)
    return mpm_lines(mpm) + """\
LoadModule proxy_module modules/mod_proxy.so
LoadModule balancer_module modules/mod_balancer.so
LoadModule headers_module modules/mod_headers.so
Listen 127.0.0.1:%d
ErrorLog logs/error_log
PidFile logs/relaisd.pid
KeepAlive On
MaxKeepAliveRequests 100
%s
<Proxy "balancer://pool">
%s</Proxy>
ProxyPass "/app" "balancer://pool"
Header always set X-Config %s
""" % (port, MPM_SETTINGS[mpm], lines, generation)


def check(status, headers, body):
    """Label of a response: (configuration, member); anything unexpected
    raises and counts as a failure."""
    config = headers.get("x-config")
    if config not in ("gen1", "gen2"):
        raise AssertionError("X-Config %r" % config)
    if body not in (b"member-a", b"member-b"):
        raise AssertionError("body %r" % body[:80])
    if body == b"member-b" and config != "gen2":
        raise AssertionError("member b answered under gen1")
    return (config, body.decode())


def settled(c):
    """A client of the restart test is done when it sent its share and
    its last SETTLED responses came from the new configuration."""
    tail = c.labels[-SETTLED:]
    return (c.done >= PER_CLIENT and len(tail) == SETTLED and
            all(l[0] == "gen2" for l in tail))


def start_clients(port, deadline, stop_when, n=CLIENTS, path="/app/x"):
    clients = [KeepAliveClient(port, path, check, CAP, deadline,
                               stop_when=stop_when)
               for _ in range(n)]
    for c in clients:
        c.start()
    return clients


def report(mpm, what, clients, started):
    total = sum(c.done for c in clients)
    print("%s %s: %d requests in %.1f s" % (mpm, what, total,
                                             time.time() - started))
    for c in clients:
        print("  " + c.summary())
    return total


def failures(clients):
    return [e for c in clients for e in c.errors], \
        sum(c.failures() for c in clients), sum(c.resets for c in clients)


def backends(make_backend):
    a = make_backend()
    a.on("/", body=b"member-a")
    b = make_backend()
    b.on("/", body=b"member-b")
    return a, b


@pytest.mark.parametrize("mpm", MPMS)
def test_ops_graceful_restart_under_load(server, make_backend, mpm):
    a, b = backends(make_backend)
    port = free_port()
    server.write_conf(proxy_conf(mpm, port, [a], "gen1"))
    pid = server.start(port)
    old_children = children_of(pid)

    started = time.time()
    clients = start_clients(port, started + 120, settled)
    assert wait_for(lambda: sum(c.done for c in clients) >= CHANGE_AT, 60)
    # the change: member b added, the header changed; applied gracefully
    server.write_conf(proxy_conf(mpm, port, [a, b], "gen2"))
    rc, out, err = server.ctl("graceful")
    assert rc == 0, out + err
    for c in clients:
        c.join(120)
        assert not c.is_alive(), "a client did not finish"
    total = report(mpm, "graceful restart", clients, started)

    errors, failed, resets = failures(clients)
    assert failed == 0 and resets == 0, errors[:10]
    assert total >= CLIENTS * PER_CLIENT
    # the new configuration took over: each client ends on it (and saw
    # the old one first), and the added member takes its share
    for c in clients:
        assert settled(c), (c.done, c.labels[-SETTLED:][:5])
        assert c.labels[0][0] == "gen1"
    served_b = sum(1 for c in clients for l in c.labels if l[1] == "member-b")
    assert served_b > 0 and len(b.requests) > 0
    # same parent; the old generation's children are gone
    assert server.pid() == pid and alive(pid)
    assert wait_for(lambda: not any(alive(k) for k in old_children), 15)
    assert "SIGUSR1 received: graceful restart" in server.error_log()
    rc, out, _ = server.ctl("status")
    assert rc == 0, out


@pytest.mark.parametrize("mpm", MPMS)
def test_ops_graceful_stop_under_load(server, make_backend, mpm):
    a, _ = backends(make_backend)
    a.on("/slow", body=b"member-a", delay=0.3)
    port = free_port()
    server.write_conf(proxy_conf(mpm, port, [a], "gen1"))
    pid = server.start(port)
    kids = children_of(pid)

    started = time.time()
    # the clients go on until the server refuses their connection
    clients = start_clients(port, started + 120, None)
    # and one client whose requests take 0.3 s at the backend: one of
    # them is in flight when the stop begins, and must complete
    slow = KeepAliveClient(port, "/app/slow", check, CAP, started + 120)
    slow.start()
    assert wait_for(lambda: sum(c.done for c in clients) >= CHANGE_AT, 60)
    assert wait_for(lambda: slow.done >= 2, 30)

    result = {}

    def stop():
        result["ctl"] = server.ctl("graceful-stop", timeout=120)
    stopper = threading.Thread(target=stop)
    stopper.start()
    stopper.join(130)
    everyone = clients + [slow]
    for c in everyone:
        c.join(60)
        assert not c.is_alive(), "a client did not finish"
    report(mpm, "graceful stop", everyone, started)

    rc, out, err = result["ctl"]
    assert rc == 0, out + err
    assert not alive(pid)
    assert wait_for(lambda: not any(alive(k) for k in kids), 10)
    errors, failed, resets = failures(everyone)
    assert failed == 0 and resets == 0, errors[:10]
    # every request that was sent got its whole response; after the stop
    # the clients found the port closed (refused), not a reset
    for c in everyone:
        assert c.ok == c.done, c.summary()
        assert c.refused == 1, c.summary()
    assert slow.ok >= 2
    assert "SIGWINCH received: graceful stop" in server.error_log()
    rc, out, _ = server.ctl("status")
    assert rc == 3, out
