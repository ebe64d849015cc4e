"""The basic exchanges through mod_proxy under every MPM: GET, POST with a
Content-Length body and with a chunked body (SHA-256 checked at the
backend), client keep-alive, and the backend connection pool (1000
sequential requests through one relaisd thread open one backend
connection, also across client connections)."""
import os

import pytest

from helpers_proxy import (MPMS, RawConn, chunk, get, request_bytes,
                           sha256_hex, start_proxy)


def conf(backend, extra=""):
    return ("MaxKeepAliveRequests 0\n"
            "ProxyPass /app/ %s/backend/\n" % backend.url + extra)


@pytest.mark.parametrize("mpm", MPMS)
def test_get_roundtrip(relais, backend, mpm):
    port = start_proxy(relais, conf(backend), mpm=mpm)
    resp = get(port, "/app/hello?x=1")
    assert resp.status == 200, resp
    j = resp.json()
    assert j["method"] == "GET"
    assert j["target"] == "/backend/hello?x=1"
    req = backend.last()
    assert req.version == "HTTP/1.1"
    assert req.body_len == 0
    assert req.header("Content-Length") is None
    assert req.header("Transfer-Encoding") is None


@pytest.mark.parametrize("mpm", MPMS)
def test_post_content_length_intact(relais, backend, mpm):
    port = start_proxy(relais, conf(backend), mpm=mpm)
    body = os.urandom(300 * 1024 + 7)
    with RawConn(port) as c:
        c.send(request_bytes("POST", "/app/upload", body=body,
                             headers=[("Content-Type",
                                       "application/octet-stream")]))
        resp = c.read_response()
    assert resp.status == 200, resp
    req = backend.last()
    assert req.method == "POST"
    assert req.body_len == len(body)
    assert req.body_sha256 == sha256_hex(body)
    assert req.header("Content-Type") == "application/octet-stream"
    # the length is known: sent as Content-Length, not re-chunked
    assert req.header("Content-Length") == str(len(body))
    assert req.header("Transfer-Encoding") is None


@pytest.mark.parametrize("mpm", MPMS)
def test_post_chunked_intact(relais, backend, mpm):
    port = start_proxy(relais, conf(backend), mpm=mpm)
    pieces = [os.urandom(n) for n in (1, 17, 4096, 20000, 65536, 3, 100000)]
    body = b"".join(pieces)
    with RawConn(port) as c:
        c.send(request_bytes("POST", "/app/chunked",
                             headers=[("Transfer-Encoding", "chunked")]))
        for p in pieces:
            c.send(chunk(p))
        c.send(b"0\r\n\r\n")
        resp = c.read_response()
    assert resp.status == 200, resp
    req = backend.last()
    assert req.body_len == len(body)
    assert req.body_sha256 == sha256_hex(body)
    assert resp.json()["body_sha256"] == sha256_hex(body)


@pytest.mark.parametrize("mpm", MPMS)
def test_client_keepalive_through_proxy(relais, backend, mpm):
    """Several requests on one client connection, each answered in turn;
    the connection stays open (the backend's keep-alive is its own)."""
    port = start_proxy(relais, conf(backend), mpm=mpm)
    with RawConn(port) as c:
        for i in range(20):
            body = b"b%d" % i if i % 2 else b""
            c.send(request_bytes("POST" if body else "GET", "/app/k%d" % i,
                                 body=body))
            resp = c.read_response()
            assert resp.status == 200, resp
            assert resp.json()["target"] == "/backend/k%d" % i
            assert resp.json()["body_len"] == len(body)
            assert resp.header("Connection") is None, resp
        assert not c.wait_closed(timeout=0.3)


@pytest.mark.parametrize("mpm", MPMS)
def test_backend_reuse_1000_requests_one_connection(relais, backend, mpm):
    """1000 sequential requests over one client connection through one
    relaisd thread: the backend accepts exactly 1 connection."""
    port = start_proxy(relais, conf(backend), mpm=mpm, one_thread=True)
    with RawConn(port) as c:
        for i in range(1000):
            c.send(request_bytes(target="/app/r%d" % i))
            resp = c.read_response()
            assert resp.status == 200, (i, resp)
    assert backend.accepted == 1, backend.accepted
    reqs = backend.requests
    assert len(reqs) == 1000
    assert [r.index for r in reqs] == list(range(1000))


@pytest.mark.parametrize("mpm", MPMS)
def test_backend_reuse_across_client_connections(relais, backend, mpm):
    """Pooled connections outlive the client connection: 100 client
    connections one after the other, 2 requests each, 1 backend
    connection."""
    port = start_proxy(relais, conf(backend), mpm=mpm, one_thread=True)
    for i in range(100):
        with RawConn(port) as c:
            for j in range(2):
                c.send(request_bytes(target="/app/c%d-%d" % (i, j)))
                resp = c.read_response()
                assert resp.status == 200, (i, j, resp)
    assert len(backend.requests) == 200
    assert backend.accepted == 1, backend.accepted
