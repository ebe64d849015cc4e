"""The real servers and clients the stream proxy tests stand on, checked
directly (no relaisd): if one of these fails, a stream test failing says
nothing about mod_proxy_stream."""
import socket

from helpers_stream import (RespReader, dig, dns_ask, parse_proxy_header,
                            proxy_v1, proxy_v2, psql, read_all, redis_cli,
                            resp)


def test_two_redis_say_who_they_are(redis_pair):
    r1, r2 = redis_pair
    assert redis_cli(r1.port, "GET", "whoami").strip() == "redis1"
    assert redis_cli(r2.port, "GET", "whoami").strip() == "redis2"
    with socket.create_connection(("127.0.0.1", r1.port), timeout=5) as s:
        s.sendall(resp("PING") + resp("CONFIG", "GET", "port"))
        rd = RespReader(s)
        assert rd.reply() == "PONG"
        assert rd.reply() == [b"port", str(r1.port).encode()]
    r1.kill()
    assert redis_cli(r1.port, "PING") == ""
    r1.start()  # comes back with its name
    assert redis_cli(r1.port, "GET", "whoami").strip() == "redis1"


def test_two_postgres_clusters(pg_pair):
    p1, p2 = pg_pair
    rc, out, err = psql(p1.port, "CREATE TABLE t (v int); "
                        "INSERT INTO t VALUES (41), (1); "
                        "SELECT sum(v) FROM t")
    assert rc == 0 and out.strip() == "42", err
    assert psql(p2.port, "SHOW cluster_name")[1].strip() == "pg2"
    p2.kill()
    assert psql(p2.port, "SELECT 1")[0] != 0


def test_two_dnsmasq(dns_pair):
    d1, d2 = dns_pair
    assert dig(d1.port) == ["dns1"]
    assert dig(d2.port, "a.test", "A") == ["10.0.0.2"]
    assert dns_ask(d2.port) == ["dns2"]
    assert d1.queries() >= 1
    d1.stop()
    assert dig(d1.port) is None


def test_python_members(make_member):
    m = make_member(mode="eof_echo")
    with socket.create_connection(("127.0.0.1", m.port), timeout=5) as s:
        s.sendall(b"x" * 100000)
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b"x" * 100000
    p = make_member(mode="hello", name="m2", proxy="v2")
    with socket.create_connection(("127.0.0.1", p.port), timeout=5) as s:
        s.sendall(proxy_v2("192.0.2.7", 4242, "127.0.0.1", 9) + b"hi")
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b"m2\nhi"
    h = p.conns[0].header
    assert (h["src"], h["sport"], h["dst"], h["dport"]) == (
        "192.0.2.7", 4242, "127.0.0.1", 9)
    line = proxy_v1("10.1.2.3", 5, "10.3.2.1", 6)
    h, used = parse_proxy_header(line + b"rest")
    assert (h["version"], h["src"], h["sport"], used) == (1, "10.1.2.3", 5,
                                                          len(line))
