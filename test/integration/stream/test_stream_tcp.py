"""The TCP relay of mod_proxy_stream with Python members: half-close,
idle timeout, connect refused or timed out then retried on another
member, the stream log line (exact bytes each way, termination cause),
a graceful restart with a connection open, and no descriptor leak."""
import signal
import socket

import pytest

from helpers_stream import (MPMS, balancer, child_fds, free_port,
                            log_entry, needs_module, read_all, start_stream,
                            stream_conf, stream_vhost, wait_for, wait_log)

pytestmark = needs_module


def tcp_front(relais, target, mpm="event", extra="", top="", mpm_extra=""):
    front = free_port()
    start_stream(relais, stream_conf(top + stream_vhost(front, target, extra),
                                     mpm=mpm, listen=[(front, "tcp")],
                                     mpm_extra=mpm_extra))
    return front


def blackhole():
    """A listening socket whose accept queue is full: further SYNs are
    dropped, so a connect() to it neither succeeds nor fails until its
    own timeout.  Returns (port, sockets to close)."""
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(0)
    port = lsn.getsockname()[1]
    held = [lsn]
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        held.append(c)
    return port, held


@pytest.mark.parametrize("mpm", MPMS)
def test_half_close_keeps_the_other_direction(relais, make_member, mpm):
    m = make_member(mode="eof_echo")
    front = tcp_front(relais, m.url, mpm)
    data = bytes(range(256)) * 4096 + b"end"  # 1 MiB and a bit
    with socket.create_connection(("127.0.0.1", front), timeout=20) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)  # the member answers only after this
        assert read_all(s) == data
    assert m.wait_conns(1)
    rec = m.conns[0]
    assert rec.closed.wait(10)
    assert rec.eof and rec.received == len(data) and rec.error is None


def test_idle_timeout_closes_a_silent_connection(relais, make_member):
    m = make_member(mode="silent")
    front = tcp_front(relais, m.url, extra="ProxyStreamTimeout 1")
    with socket.create_connection(("127.0.0.1", front), timeout=20) as s:
        s.sendall(b"hello?")
        port = s.getsockname()[1]
        try:
            rest = read_all(s, timeout=20)
        except ConnectionResetError:
            rest = b""
        assert rest == b""
    e = log_entry(relais, port)
    assert e and e["cause"] == "idle-timeout", relais.read("logs/stream.log")
    assert e["up"] == 6 and e["down"] == 0
    # the member's side was closed too
    assert m.wait_conns(1) and m.conns[0].closed.wait(10)


def test_refused_member_is_retried_on_the_other(relais, make_member):
    m = make_member(mode="hello", name="alive")
    dead = free_port()
    front = tcp_front(relais, "balancer://pair", top=balancer(
        "pair", ["tcp://127.0.0.1:%d" % dead, m.url],
        "ProxySet lbmethod=byrequests"))
    for _ in range(4):
        with socket.create_connection(("127.0.0.1", front), timeout=10) as s:
            s.sendall(b"ping")
            s.shutdown(socket.SHUT_WR)
            assert read_all(s) == b"alive\nping"
    assert wait_log(relais, lambda l: "127.0.0.1:%d" % dead in l and
                    "refused" in l.lower()), relais.error_log()


def test_connect_timeout_is_retried_on_the_other(relais, make_member):
    m = make_member(mode="hello", name="alive")
    hole, held = blackhole()
    try:
        front = tcp_front(relais, "balancer://pair", top=balancer(
            "pair", ["tcp://127.0.0.1:%d" % hole, m.url],
            "ProxySet lbmethod=byrequests"),
            extra="ProxyStreamConnectTimeout 1")
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", front),
                                          timeout=20) as s:
                s.sendall(b"ping")
                s.shutdown(socket.SHUT_WR)
                assert read_all(s, timeout=20) == b"alive\nping"
        assert wait_log(relais, lambda l: "127.0.0.1:%d" % hole in l and
                        "timed out" in l.lower()), relais.error_log()
    finally:
        for s in held:
            s.close()


def test_connect_timeout_with_no_other_member(relais):
    hole, held = blackhole()
    try:
        front = tcp_front(relais, "tcp://127.0.0.1:%d" % hole,
                          extra="ProxyStreamConnectTimeout 1")
        with socket.create_connection(("127.0.0.1", front), timeout=20) as s:
            port = s.getsockname()[1]
            s.sendall(b"lost")
            try:
                assert read_all(s, timeout=20) == b""
            except ConnectionResetError:
                pass
        e = log_entry(relais, port)
        assert e and e["cause"] == "connect-timeout", \
            relais.read("logs/stream.log") + relais.error_log()
        assert wait_log(relais, lambda l: "127.0.0.1:%d" % hole in l and
                        "timed out" in l), relais.error_log()
    finally:
        for s in held:
            s.close()


@pytest.mark.parametrize("mpm", MPMS)
def test_log_line_counts_exact_bytes(relais, make_member, mpm):
    m = make_member(mode="hello", name="counted")
    front = tcp_front(relais, m.url, mpm)
    sizes = (1, 70000, 3 << 20)
    ports = []
    for n in sizes:
        with socket.create_connection(("127.0.0.1", front), timeout=20) as s:
            ports.append(s.getsockname()[1])
            s.sendall(b"z" * n)
            s.shutdown(socket.SHUT_WR)
            got = read_all(s)
        assert got == b"counted\n" + b"z" * n
    for n, port in zip(sizes, ports):
        e = log_entry(relais, port)
        assert e, relais.read("logs/stream.log")
        assert e["proto"] == "tcp"
        assert e["listener"].endswith(":%d" % front)
        assert e["member"].endswith("127.0.0.1:%d" % m.port)
        assert (e["up"], e["down"]) == (n, n + 8)
        assert e["balancer"] == "-" and e["attempts"] == 1
        # both sides ended their stream: the client first (SHUT_WR), the
        # member after its echo
        assert e["cause"] in ("client-close", "member-close"), e


@pytest.mark.parametrize("mpm", MPMS)
def test_graceful_restart_with_a_connection_open(relais, make_member, mpm):
    m = make_member(mode="echo")
    front = tcp_front(relais, m.url, mpm)
    s = socket.create_connection(("127.0.0.1", front), timeout=10)
    try:
        s.sendall(b"before")
        assert s.recv(100) == b"before"
        old = set(relais.children())
        relais.send(signal.SIGUSR1)
        # the new generation runs (a child the old one did not have)
        assert wait_for(lambda: set(relais.children()) - old, 15), \
            relais.error_log()
        # the open connection keeps working
        s.sendall(b"during")
        assert s.recv(100) == b"during"
        # and new connections work
        with socket.create_connection(("127.0.0.1", front), timeout=10) as n:
            n.sendall(b"new")
            n.shutdown(socket.SHUT_WR)
            assert read_all(n) == b"new"
        s.sendall(b"still")
        assert s.recv(100) == b"still"
    finally:
        s.close()
    # the old child ends once its last connection is closed
    assert wait_for(lambda: not (set(relais.children()) & old), 15), \
        relais.error_log()


@pytest.mark.parametrize("mpm", MPMS)
def test_no_descriptor_leak_after_200_connections(relais, make_member, mpm):
    m = make_member(mode="echo")
    # a member that refuses, tried again at once (retry=0): the failed
    # connects, and the failovers, must leave nothing open either
    dead = free_port()
    front = tcp_front(relais, "balancer://pair", mpm, top=balancer(
        "pair", ["tcp://127.0.0.1:%d retry=0" % dead, m.url],
        "ProxySet lbmethod=byrequests"),
        mpm_extra="StartServers 2\nMinSpareServers 2\nMaxSpareServers 2\n"
        if mpm == "prefork" else "")

    def one(i):
        with socket.create_connection(("127.0.0.1", front), timeout=10) as s:
            s.sendall(b"n%d" % i)
            s.shutdown(socket.SHUT_WR)
            assert read_all(s) == b"n%d" % i

    for i in range(5):
        one(i)
    base = child_fds(relais)
    for i in range(200):
        one(i)
    assert wait_log(relais, "cannot connect to tcp://127.0.0.1:%d" % dead)
    # a closed connection's descriptors are back within a moment
    assert wait_for(lambda: all(
        child_fds(relais).get(pid, 0) <= n + 2 for pid, n in base.items()),
        10), (base, child_fds(relais))
