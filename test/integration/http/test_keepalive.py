"""Persistent connections: reuse, HTTP/1.0 rules, Connection: close,
MaxKeepAliveRequests, KeepAliveTimeout, KeepAlive Off, pipelining.  Every
MPM must behave the same."""
import time

import pytest

from conftest import MPMS
from helpers_http import (RawConn, chunk, http_client, request_bytes,
                          sha256_hex, start_echo, start_module_server)


@pytest.fixture(scope="module", params=MPMS)
def server(request, tmp_path_factory):
    """Default keep-alive settings (KeepAlive On, KeepAliveTimeout 5,
    MaxKeepAliveRequests 100)."""
    r, port = start_module_server(tmp_path_factory, request.param, "ka")
    yield r, port
    r.stop()


def test_keepalive_reuse_counts_up(server):
    """A client that pauses between requests (as real ones do, well within
    KeepAliveTimeout) keeps its connection; connection_requests counts."""
    _, port = server
    with RawConn(port) as c:
        for i in range(5):
            c.send(request_bytes(target="/r%d" % i))
            resp = c.read_response()
            assert resp.status == 200
            assert resp.header("Connection") is None, resp
            j = resp.json()
            assert j["uri"] == "/r%d" % i
            assert j["connection_requests"] == i
            time.sleep(0.4)


def test_keepalive_reuse_http_client(server):
    _, port = server
    conn = http_client(port)
    try:
        seen = []
        for i in range(3):
            conn.request("GET", "/hc%d?x=%d" % (i, i))
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200
            seen.append(__import__("json").loads(body)["connection_requests"])
            time.sleep(0.3)
        assert seen == [0, 1, 2]
    finally:
        conn.close()


def test_http10_without_keepalive_closes(server):
    _, port = server
    with RawConn(port) as c:
        c.send(request_bytes(target="/ten", proto="HTTP/1.0", host=None))
        resp = c.read_response()
        assert resp.status == 200
        assert resp.json()["protocol"] == "HTTP/1.0"
        assert resp.header("Connection") == "close"
        assert c.wait_closed(timeout=3)


def test_http10_keepalive_stays_open(server):
    _, port = server
    with RawConn(port) as c:
        c.send(request_bytes(target="/a", proto="HTTP/1.0", host=None,
                             headers=[("Connection", "keep-alive")]))
        resp = c.read_response()
        assert resp.status == 200
        assert resp.header("Connection") == "keep-alive", resp
        assert resp.header("Content-Length") is not None
        time.sleep(0.5)
        c.send(request_bytes(target="/b", proto="HTTP/1.0", host=None,
                             headers=[("Connection", "keep-alive")]))
        resp = c.read_response()
        assert resp.json()["uri"] == "/b"
        assert resp.json()["connection_requests"] == 1


def test_connection_close_honoured(server):
    _, port = server
    with RawConn(port) as c:
        c.send(request_bytes(target="/bye",
                             headers=[("Connection", "close")]))
        resp = c.read_response()
        assert resp.status == 200
        assert resp.header("Connection") == "close"
        assert c.wait_closed(timeout=3)
        assert c.extra == b""


def test_pipelining_ten_in_one_send(server):
    _, port = server
    data = b"".join(request_bytes(target="/p%d" % i, headers=[
        ("X-Seq", str(i))]) for i in range(10))
    with RawConn(port) as c:
        c.send(data)  # one sendall of all ten requests
        for i in range(10):
            resp = c.read_response()
            assert resp.status == 200
            j = resp.json()
            assert j["uri"] == "/p%d" % i, "response %d out of order" % i
            assert j["headers"]["X-Seq"] == str(i)
            assert j["connection_requests"] == i
        # the connection is still usable afterwards
        c.send(request_bytes(target="/after"))
        assert c.read_response().json()["uri"] == "/after"


def test_pipelining_with_bodies(server):
    _, port = server
    bodies = [b"", b"x" * 10, b"hello world", bytes(range(256)) * 20,
              b"chunked-one", b"z" * 70000]
    data = b""
    for i, b in enumerate(bodies):
        if i == 4:
            data += request_bytes(method="POST", target="/b%d" % i,
                                  headers=[("Transfer-Encoding", "chunked")])
            data += chunk(b[:5]) + chunk(b[5:]) + b"0\r\n\r\n"
        elif b:
            data += request_bytes(method="POST", target="/b%d" % i, body=b)
        else:
            data += request_bytes(method="GET", target="/b%d" % i)
    with RawConn(port, timeout=10) as c:
        c.send(data)
        for i, b in enumerate(bodies):
            j = c.read_response().json()
            assert j["uri"] == "/b%d" % i
            assert j["body_length"] == len(b)
            assert j["body_sha256"] == sha256_hex(b)
            assert j["connection_requests"] == i


@pytest.mark.parametrize("mpm", MPMS)
def test_max_keepalive_requests(relais, mpm):
    port = start_echo(relais, mpm, extra="MaxKeepAliveRequests 3\n")
    with RawConn(port) as c:
        for i in range(3):
            c.send(request_bytes(target="/m%d" % i))
            resp = c.read_response()
            assert resp.status == 200
            assert resp.json()["connection_requests"] == i
            if i < 2:
                assert resp.header("Connection") is None, (i, resp)
        assert resp.header("Connection") == "close", resp
        assert c.wait_closed(timeout=3)
        assert c.extra == b""


@pytest.mark.parametrize("mpm", MPMS)
def test_keepalive_timeout_closes_idle(relais, mpm):
    port = start_echo(relais, mpm, extra="KeepAliveTimeout 1\n")
    with RawConn(port) as c:
        c.send(request_bytes(target="/idle"))
        resp = c.read_response()
        assert resp.status == 200
        assert resp.header("Connection") is None
        t0 = time.monotonic()
        closed = c.wait_closed(timeout=4)
        took = time.monotonic() - t0
    assert closed, "idle connection still open 4 s after KeepAliveTimeout 1"
    assert 0.7 <= took <= 2.5, "closed after %.2f s, KeepAliveTimeout 1" % took


@pytest.mark.parametrize("mpm", MPMS)
def test_keepalive_off(relais, mpm):
    port = start_echo(relais, mpm, extra="KeepAlive Off\n")
    with RawConn(port) as c:
        c.send(request_bytes(target="/"))
        resp = c.read_response()
        assert resp.status == 200
        assert resp.header("Connection") == "close"
        assert c.wait_closed(timeout=3)
