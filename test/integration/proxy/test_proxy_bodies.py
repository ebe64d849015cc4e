"""Response bodies and framing through the proxy: big bodies intact,
chunked and close-delimited responses re-framed, HEAD, 1xx, 204, 304,
Expect: 100-continue.  After each framing case the same client connection
is used again: a framing mistake shows as a broken next response."""
import os

from helpers_proxy import (RawConn, pattern_bytes, pattern_sha256,
                           request_bytes, sha256_hex, start_proxy)

MIB = 1024 * 1024


def _conf(backend):
    return "ProxyPass / %s/\n" % backend.url


def _next_ok(c):
    c.send(request_bytes(target="/after"))
    resp = c.read_response()
    assert resp.status == 200, resp
    assert resp.json()["target"] == "/after"


def test_10mib_response_from_python_intact(relais, backend):
    backend.on("/big", size=10 * MIB)
    port = start_proxy(relais, _conf(backend))
    with RawConn(port, timeout=30) as c:
        c.send(request_bytes(target="/big"))
        resp = c.read_response()
        assert resp.status == 200
        assert resp.header("Content-Length") == str(10 * MIB)
        assert len(resp.body) == 10 * MIB
        assert sha256_hex(resp.body) == pattern_sha256(10 * MIB)
        _next_ok(c)


def test_chunked_response_relayed(relais, backend):
    backend.on("/chunky", size=100003, chunked=True, chunk=1000)
    port = start_proxy(relais, _conf(backend))
    with RawConn(port) as c:
        c.send(request_bytes(target="/chunky"))
        resp = c.read_response()
        assert resp.status == 200, resp
        assert resp.header("Content-Length") in (None, "100003"), resp
        assert resp.body == pattern_bytes(100003)
        _next_ok(c)


def test_chunked_response_with_trailers_relayed(relais, backend):
    backend.on("/trail", size=5000, chunked=True, chunk=700,
               trailers=[("X-Checksum", "abc")])
    port = start_proxy(relais, _conf(backend))
    with RawConn(port) as c:
        c.send(request_bytes(target="/trail"))
        resp = c.read_response()
        assert resp.status == 200, resp
        assert resp.body == pattern_bytes(5000)
        _next_ok(c)


def test_big_chunked_response_intact(relais, backend):
    backend.on("/bigchunks", size=8 * MIB + 5, chunked=True, chunk=60000)
    port = start_proxy(relais, _conf(backend))
    with RawConn(port, timeout=30) as c:
        c.send(request_bytes(target="/bigchunks"))
        resp = c.read_response()
        assert resp.status == 200
        assert sha256_hex(resp.body) == pattern_sha256(8 * MIB + 5)
        _next_ok(c)


def test_close_delimited_response_relayed(relais, backend):
    """A backend body delimited by its close is framed for the client
    (chunked or with a length), and the client connection stays open."""
    backend.on("/untilclose", size=70000, no_length=True)
    port = start_proxy(relais, _conf(backend))
    with RawConn(port) as c:
        c.send(request_bytes(target="/untilclose"))
        resp = c.read_response()
        assert resp.status == 200, resp
        assert resp.header("Transfer-Encoding") == "chunked" or \
            resp.header("Content-Length") == "70000", resp
        assert resp.body == pattern_bytes(70000)
        _next_ok(c)


def test_head_framed_right(relais, backend):
    backend.on("/sized", size=5000)
    port = start_proxy(relais, _conf(backend))
    with RawConn(port) as c:
        c.send(request_bytes("HEAD", "/sized"))
        resp = c.read_response(head_request=True)
        assert resp.status == 200
        assert resp.header("Content-Length") == "5000", resp
        assert backend.last().method == "HEAD"
        _next_ok(c)
        assert c.buf == b""


def test_204_framed_right(relais, backend):
    backend.on("/nocontent", status=204, reason="No Content",
               headers=[("X-Done", "yes")])
    port = start_proxy(relais, _conf(backend))
    with RawConn(port) as c:
        c.send(request_bytes("DELETE", "/nocontent"))
        resp = c.read_response()
        assert resp.status == 204
        assert resp.header("Content-Length") is None, resp
        assert resp.header("Transfer-Encoding") is None, resp
        assert resp.header("X-Done") == "yes", resp
        _next_ok(c)


def test_304_framed_right(relais, backend):
    backend.on("/cached", status=304, reason="Not Modified",
               headers=[("ETag", '"v1"'), ("Cache-Control", "max-age=60")])
    port = start_proxy(relais, _conf(backend))
    with RawConn(port) as c:
        c.send(request_bytes("GET", "/cached",
                             headers=[("If-None-Match", '"v1"')]))
        resp = c.read_response()
        assert resp.status == 304
        assert resp.header("Transfer-Encoding") is None, resp
        assert backend.last().header("If-None-Match") == '"v1"'
        assert resp.header("ETag") == '"v1"', resp
        _next_ok(c)


def test_backend_interim_1xx_then_final(relais, backend):
    """A backend's 103/102 before the final response: the client gets the
    final response intact (interim heads may be relayed or not)."""
    backend.on("/early", interim=[103, 102], body=b"final body")
    port = start_proxy(relais, _conf(backend))
    with RawConn(port) as c:
        c.send(request_bytes(target="/early"))
        resp = c.read_response()
        assert resp.status == 200, resp
        assert resp.body == b"final body"
        _next_ok(c)


def test_expect_100_continue(relais, backend):
    """Expect: 100-continue: the client gets 100 Continue before it sends
    the body, then the final response; the body arrives intact."""
    port = start_proxy(relais, _conf(backend))
    body = os.urandom(50000)
    with RawConn(port) as c:
        c.send(request_bytes("POST", "/upload", headers=[
            ("Expect", "100-continue"),
            ("Content-Length", str(len(body)))]))
        status, _, _, _ = c.read_head(timeout=3)
        assert status == 100
        c.send(body)
        resp = c.read_response()
        assert resp.status == 200, resp
        assert resp.json()["body_sha256"] == sha256_hex(body)
    assert backend.last().body_sha256 == sha256_hex(body)


def test_post_chunked_with_extensions_and_trailers(relais, backend):
    """Chunk extensions and trailers from the client do not corrupt the
    body the backend gets."""
    port = start_proxy(relais, _conf(backend))
    parts = [b"hello ", os.urandom(3000), b" world"]
    with RawConn(port) as c:
        c.send(request_bytes("POST", "/ext",
                             headers=[("Transfer-Encoding", "chunked")]))
        for i, p in enumerate(parts):
            c.send(b"%x;name=v%d\r\n%s\r\n" % (len(p), i, p))
        c.send(b"0\r\nX-Trailer: t\r\n\r\n")
        resp = c.read_response()
        assert resp.status == 200, resp
    assert backend.last().body_sha256 == sha256_hex(b"".join(parts))


def test_large_post_10mib_intact(relais, backend):
    port = start_proxy(relais, _conf(backend))
    body = os.urandom(10 * MIB)
    with RawConn(port, timeout=30) as c:
        c.send(request_bytes("POST", "/bigpost", body=body))
        resp = c.read_response()
        assert resp.status == 200, resp
    req = backend.last()
    assert req.body_len == len(body)
    assert req.body_sha256 == sha256_hex(body)


def test_http10_client_gets_no_chunked_framing(relais, backend):
    """An HTTP/1.0 client never gets chunked framing: a chunked backend
    body arrives as plain bytes (close-delimited or with a length)."""
    backend.on("/chunky10", size=30000, chunked=True, chunk=1000)
    port = start_proxy(relais, _conf(backend))
    with RawConn(port) as c:
        c.send(request_bytes(target="/chunky10", proto="HTTP/1.0"))
        resp = c.read_response()
        assert resp.status == 200
        assert resp.header("Transfer-Encoding") is None, resp
        assert resp.body == pattern_bytes(30000)


def test_http10_backend_response_not_pooled(relais, backend):
    """An HTTP/1.0 backend answer without keep-alive ends that backend
    connection: the next request opens a new one."""
    backend.on("/old", raw=b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold",
               raw_keep=True)
    port = start_proxy(relais, _conf(backend), one_thread=True)
    with RawConn(port) as c:
        for _ in range(3):
            c.send(request_bytes(target="/old"))
            resp = c.read_response()
            assert resp.status == 200 and resp.body == b"old", resp
    assert backend.accepted == 3


def test_empty_post_content_length_zero(relais, backend):
    port = start_proxy(relais, _conf(backend))
    with RawConn(port) as c:
        c.send(request_bytes("POST", "/empty",
                             headers=[("Content-Length", "0")]))
        resp = c.read_response()
        assert resp.status == 200, resp
    req = backend.last()
    assert req.method == "POST"
    assert req.body_len == 0
    # httpd sends Content-Length: 0 for a POST without a body
    assert req.header("Content-Length") in ("0", None)
    assert req.header("Transfer-Encoding") is None
