"""PROXY protocol with mod_proxy_stream: sent to members (per member,
proxyprotocol=v1 or v2), and accepted from a load balancer in front
(RemoteIPProxyProtocol On, with RemoteIPProxyProtocolExceptions).  The
members are Python servers that parse the header and record it."""
import socket
import time

import pytest

from helpers_stream import (balancer, free_port, log_entry, needs_module,
                            proxy_v1, proxy_v2, read_all, start_stream,
                            stream_conf, stream_vhost)

pytestmark = needs_module


def front_to(relais, member, pp, extra="", mpm="event"):
    """A tcp listener relaying to `member` with proxyprotocol=pp."""
    front = free_port()
    start_stream(relais, stream_conf(
        balancer("m", ["%s proxyprotocol=%s" % (member.url, pp)]) +
        stream_vhost(front, "balancer://m", extra),
        mpm=mpm, listen=[(front, "tcp")]))
    return front


def exchange(front, data, head=b"", source="127.0.0.1", split=False):
    """Connects from source, sends head (in two writes when split) then
    data, ends its side; (local port, everything the server sent).  A
    server that closes early (a refused header) may reset the sending:
    what came until then is returned."""
    with socket.socket() as s:
        s.settimeout(10)
        s.bind((source, 0))
        s.connect(("127.0.0.1", front))
        port = s.getsockname()[1]
        try:
            if head and split:
                s.sendall(head[:7])
                time.sleep(0.1)  # the rest in another segment
                s.sendall(head[7:])
            elif head:
                s.sendall(head)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            return port, read_all(s)
        except (BrokenPipeError, ConnectionResetError):
            return port, b""


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_header_to_the_member(relais, make_member, version):
    m = make_member(mode="hello", name="pp", proxy=version)
    front = front_to(relais, m, version)
    port, got = exchange(front, b"payload")
    assert got == b"pp\npayload"
    rec = m.conns[0]
    assert rec.error is None
    h = rec.header
    assert h["version"] == int(version[1])
    assert (h["src"], h["sport"], h["dst"], h["dport"]) == (
        "127.0.0.1", port, "127.0.0.1", front)
    assert rec.received == len(b"payload")  # the header is not data


def test_no_header_to_a_member_with_proxyprotocol_off(relais, make_member):
    m = make_member(mode="hello", name="plain")
    front = front_to(relais, m, "off")
    assert exchange(front, b"raw")[1] == b"plain\nraw"
    assert m.conns[0].received == 3


def test_header_from_the_front(relais, make_member):
    m = make_member(mode="hello", name="behind", proxy="v1")
    front = front_to(relais, m, "v1", extra="RemoteIPProxyProtocol On\n"
                     "RemoteIPProxyProtocolExceptions 127.0.0.2")
    # a v1 line from the load balancer in front
    _, got = exchange(front, b"one", proxy_v1("192.0.2.7", 4242, "127.0.0.1",
                                              front))
    assert got == b"behind\none"
    # a v2 header, arriving in two pieces
    _, got = exchange(front, b"two", proxy_v2("198.51.100.9", 5353,
                                              "127.0.0.1", front), split=True)
    assert got == b"behind\ntwo"
    # the exception address needs no header
    xport, got = exchange(front, b"three", source="127.0.0.2")
    assert got == b"behind\nthree"
    seen = [(c.header["src"], c.header["sport"]) for c in m.conns]
    assert seen == [("192.0.2.7", 4242), ("198.51.100.9", 5353),
                    ("127.0.0.2", xport)]
    assert [c.received for c in m.conns] == [3, 3, 5]
    # the log names the client the header gave
    e = log_entry(relais, 4242, client_ip="192.0.2.7")
    assert e and (e["up"], e["down"]) == (3, 10), relais.read(
        "logs/stream.log")
    assert log_entry(relais, 5353, client_ip="198.51.100.9")
    assert log_entry(relais, xport, client_ip="127.0.0.2")


def test_client_without_header_is_closed(relais, make_member):
    m = make_member(mode="hello", name="behind", proxy="v1")
    front = front_to(relais, m, "v1", extra="RemoteIPProxyProtocol On")
    # plain bytes where the header should be: closed, nothing relayed
    p1, got = exchange(front, b"PING\r\n")
    assert got == b""
    # a malformed header too
    p2, got = exchange(front, b"x", b"PROXY TCP4 300.1.2.3 1.2.3.4 1 2\r\n")
    assert got == b""
    for port in (p1, p2):
        e = log_entry(relais, port)
        assert e and e["cause"] == "proxy-protocol" and e["member"] == "-", \
            relais.read("logs/stream.log")
    # a good one still works, and is the member's first connection
    assert exchange(front, b"ok", proxy_v1("192.0.2.1", 1000, "127.0.0.1",
                                           front))[1] == b"behind\nok"
    assert [c.header["src"] for c in m.conns] == ["192.0.2.1"]
