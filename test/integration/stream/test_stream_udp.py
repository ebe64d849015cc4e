"""DNS behind a `Listen … udp` listener: two dnsmasq members answer dig
through Relais; the datagrams are balanced over both; one stopped,
answers keep coming from the other (marked down by hcmethod=UDP, or by
the passive check); each client gets its own replies."""
import signal
import socket

import pytest

from helpers_stream import (MPMS, balancer, dig, dns_ask, dns_query_bytes,
                            dns_txt, free_udp_port, members_seen,
                            needs_module, parse_stream_line, start_stream,
                            stream_conf, stream_log, stream_vhost,
                            wait_for, wait_log, wait_stream_lines)

pytestmark = needs_module

NAMES = ("dns1", "dns2")



def escaped(data):
    """Bytes as hcsend=/hcexpect= take them: \\xHH escapes."""
    return "".join("\\x%02x" % b for b in data)


# The health check a DNS member gets: a query for who.test TXT (id 0x5254),
# and the reply must echo the question (the same bytes).
HC_QUERY = dns_query_bytes(0x5254, "who.test")
HC_SEND = escaped(HC_QUERY)
HC_EXPECT = escaped(HC_QUERY[12:])


def dns_front(relais, dns_pair, mpm="event", keys="", extra=""):
    front = free_udp_port()
    members = ["udp://127.0.0.1:%d %s" % (d.port, keys) for d in dns_pair]
    start_stream(relais, stream_conf(
        balancer("dns", members, "ProxySet lbmethod=byrequests") +
        stream_vhost(front, "balancer://dns", "ProxyStreamUDPResponses 1\n" +
                     extra),
        mpm=mpm, listen=[(front, "udp")]),
        udp_probe=lambda: dns_ask(front) is not None)
    return front


@pytest.mark.parametrize("mpm", MPMS)
def test_dig_through_relais_reaches_both(relais, dns_pair, mpm):
    front = dns_front(relais, dns_pair, mpm)
    answers = [dig(front) for _ in range(10)]
    assert all(a in (["dns1"], ["dns2"]) for a in answers), answers
    assert members_seen(lambda: dig(front)[0], NAMES) == set(NAMES)
    assert dig(front, "a.test", "A") in (["10.0.0.1"], ["10.0.0.2"])
    # every question reached a member, and the members' own logs agree
    # with the answers (each logged as many who.test queries as it gave)
    before = [d.queries() for d in dns_pair]
    answered = [dig(front)[0] for _ in range(10)]
    after = [d.queries() for d in dns_pair]
    assert [a - b for a, b in zip(after, before)] == [
        answered.count("dns1"), answered.count("dns2")]


@pytest.mark.parametrize("mpm", MPMS)
def test_replies_go_back_to_the_right_client(relais, dns_pair, mpm):
    front = dns_front(relais, dns_pair, mpm)
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for s in (a, b):
            s.bind(("127.0.0.1", 0))
            s.settimeout(3)
        sent = {a: [], b: []}
        up = {a: 0, b: 0}
        down = {a: 0, b: 0}
        # interleaved: a, b, a, b... each with ids of its own range
        for i in range(20):
            s, base = (a, 1000) if i % 2 == 0 else (b, 2000)
            qid = base + i
            sent[s].append(qid)
            q = dns_query_bytes(qid, "who.test")
            up[s] += len(q)
            s.sendto(q, ("127.0.0.1", front))
        for s in (a, b):
            got = []
            for _ in sent[s]:
                data, addr = s.recvfrom(4096)
                assert addr == ("127.0.0.1", front)
                down[s] += len(data)
                qid, txt = dns_txt(data)
                assert txt in (["dns1"], ["dns2"])
                got.append(qid)
            assert sorted(got) == sorted(sent[s])
        # the stream log counts each client's bytes exactly (its datagrams
        # may have reached several children: one session, one line each)
        for s in (a, b):
            needle = "client=127.0.0.1:%d " % s.getsockname()[1]

            def totals():
                lines = [parse_stream_line(l) for l in stream_log(relais)
                         if needle in l]
                return (sum(e["up"] for e in lines),
                        sum(e["down"] for e in lines),
                        {e["proto"] for e in lines},
                        {e["cause"] for e in lines})
            assert wait_for(lambda: totals()[:2] == (up[s], down[s])), (
                totals(), up[s], down[s], relais.read("logs/stream.log"))
            assert totals()[2:] == ({"udp"}, {"responses"})
    finally:
        a.close()
        b.close()


def test_one_stopped_health_check_marks_it(relais, dns_pair):
    d1, d2 = dns_pair
    front = dns_front(relais, dns_pair,
                      keys='hcmethod=UDP hcinterval=200ms hcsend="%s" '
                      'hcexpect="%s"' % (HC_SEND, HC_EXPECT))
    assert members_seen(lambda: (dig(front) or ["none"])[0], NAMES) == \
        set(NAMES)
    d1.stop()
    assert wait_log(relais, "udp://127.0.0.1:%d failed its health check"
                    % d1.port), relais.error_log()
    answers = [dig(front) for _ in range(10)]
    assert answers == [["dns2"]] * 10, answers


def test_one_stopped_passive_failover(relais, dns_pair):
    """No health check: the stopped member's port refuses (ICMP port
    unreachable), which puts it in error, and the question that met it
    goes on to the other member: every dig, asking once, is answered."""
    d1, d2 = dns_pair
    front = dns_front(relais, dns_pair)
    d1.stop()
    answers = [dig(front, timeout=2, tries=1) for _ in range(10)]
    assert answers == [["dns2"]] * 10, answers
    assert wait_log(relais, lambda l: "udp://127.0.0.1:%d put in error" %
                    d1.port in l), relais.error_log()
    # the session that met the stopped member says so: two attempts
    assert wait_for(lambda: any("attempts=2" in l
                                for l in stream_log(relais)))
    tried = [parse_stream_line(l) for l in stream_log(relais)
             if "attempts=2" in l]
    assert all(e["member"] == "udp://127.0.0.1:%d" % d2.port
                         for e in tried), stream_log(relais)


def test_session_table_is_bounded(relais, dns_pair):
    """ProxyStreamUDPSessions 2 in the one child: a third client's
    session evicts the idlest; every client is still answered, an
    evicted one again when it comes back (a new session)."""
    front = free_udp_port()
    start_stream(relais, stream_conf(
        balancer("dns", ["udp://127.0.0.1:%d" % d.port for d in dns_pair]) +
        stream_vhost(front, "balancer://dns", "ProxyStreamUDPSessions 2\n"
                     "ProxyStreamTimeout 60"),
        listen=[(front, "udp")], mpm_extra="StartServers 1\n"),
        udp_probe=lambda: dns_ask(front) is not None)
    clients = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
               for _ in range(6)]
    try:
        for i, s in enumerate(clients + clients[:1]):
            s.settimeout(3)
            s.sendto(dns_query_bytes(100 + i, "who.test"),
                     ("127.0.0.1", front))
            qid, txt = dns_txt(s.recvfrom(4096)[0])
            assert qid == 100 + i and txt in (["dns1"], ["dns2"])
        # each new session evicted the idlest: the start-up probe's, then
        # clients 0 to 4 in turn (client 0 came back as a new session,
        # and stays open with client 5)
        lines = [parse_stream_line(l) for l in wait_stream_lines(relais, 6)]
        assert [e["cause"] for e in lines] == ["evicted"] * 6, lines
        assert [e["client"] for e in lines[1:]] == [
            "127.0.0.1:%d" % s.getsockname()[1] for s in clients[:5]]
    finally:
        for s in clients:
            s.close()


@pytest.mark.parametrize("mpm", MPMS)
def test_graceful_restart_keeps_answering(relais, dns_pair, mpm):
    front = dns_front(relais, dns_pair, mpm)
    assert dig(front) in (["dns1"], ["dns2"])
    old = set(relais.children())
    relais.send(signal.SIGUSR1)
    assert wait_for(lambda: set(relais.children()) - old, 15), \
        relais.error_log()
    # during the switch and after it, every question is answered
    assert all(dig(front) in (["dns1"], ["dns2"])
               for _ in range(10))
    assert wait_for(lambda: not (set(relais.children()) & old), 15), \
        relais.error_log()
    assert all(dig(front) in (["dns1"], ["dns2"]) for _ in range(5))
