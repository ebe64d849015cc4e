"""Request and response bodies: Content-Length and chunked request bodies,
Expect: 100-continue, LimitRequestBody, large responses to slow readers,
HEAD, HTTP/1.0 without a length, 204."""
import os
import socket
import time

import pytest

from conftest import MPMS
from helpers_http import (PATTERN, RawConn, chunk, curl, http_client,
                          pattern_bytes, request_bytes, sha256_hex,
                          start_echo, start_module_server)


@pytest.fixture(scope="module", params=MPMS)
def server(request, tmp_path_factory):
    r, port = start_module_server(tmp_path_factory, request.param, "body",
                                  extra="TraceEnable On\n")
    yield r, port
    r.stop()


def test_pattern_matches_mod_echo_source():
    """The pattern the tests check against is the one mod_echo sends."""
    src = os.path.join(os.path.dirname(__file__), "..", "..", "..",
                       "modules", "echo", "mod_echo.c")
    with open(src) as f:
        text = f.read()
    assert '"%s\\n"' % PATTERN[:-1].decode() in text
    assert len(PATTERN) == 64


def test_post_content_length_http_client(server):
    _, port = server
    body = os.urandom(200000)
    conn = http_client(port)
    try:
        conn.request("POST", "/upload?k=v", body=body,
                     headers={"Content-Type": "application/octet-stream"})
        resp = conn.getresponse()
        j = __import__("json").loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 200
    assert j["method"] == "POST"
    assert j["args"] == "k=v"
    assert j["body_length"] == len(body)
    assert j["body_sha256"] == sha256_hex(body)


def test_post_with_curl(server, tmp_path):
    _, port = server
    body = os.urandom(50000)
    f = tmp_path / "body.bin"
    f.write_bytes(body)
    out = curl(["--data-binary", "@%s" % f, "-H",
                "Content-Type: application/octet-stream",
                "http://127.0.0.1:%d/curl" % port])
    assert out.returncode == 0, out.stderr
    j = __import__("json").loads(out.stdout)
    assert j["body_length"] == len(body)
    assert j["body_sha256"] == sha256_hex(body)


def test_get_with_curl(server):
    _, port = server
    out = curl(["-D", "-", "http://127.0.0.1:%d/hello?a=1" % port])
    assert out.returncode == 0, out.stderr
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    j = __import__("json").loads(body)
    assert j["uri"] == "/hello" and j["args"] == "a=1"
    assert j["method"] == "GET"


def test_chunked_body_with_extensions_and_trailers(server):
    _, port = server
    parts = [b"first part,", b"x" * 5000, b"", b"last"]
    body = b"".join(parts)
    data = request_bytes(method="POST", target="/chunked",
                         headers=[("Transfer-Encoding", "chunked"),
                                  ("Trailer", "X-Checksum")])
    data += chunk(parts[0], b";name=value")
    data += chunk(parts[1], b';quoted="a b";flag')
    data += chunk(parts[3], b" ; ext=1")
    data += b"0;last=yes\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
    with RawConn(port) as c:
        c.send(data)
        j = c.read_response().json()
        assert j["body_length"] == len(body)
        assert j["body_sha256"] == sha256_hex(body)
        # the trailers were consumed: the next request parses cleanly
        c.send(request_bytes(target="/next"))
        assert c.read_response().json()["uri"] == "/next"


def test_chunked_in_tiny_pieces_with_delays(server):
    _, port = server
    body = b"The quick brown fox jumps over the lazy dog" * 3
    data = request_bytes(method="POST", target="/slowchunks",
                         headers=[("Transfer-Encoding", "chunked")])
    data += b"".join(chunk(body[i:i + 7]) for i in range(0, len(body), 7))
    data += b"0\r\n\r\n"
    head_end = data.index(b"\r\n\r\n") + 4
    with RawConn(port, timeout=10) as c:
        c.send(data[:head_end])
        rest = data[head_end:]
        # 3-byte pieces, 20 ms apart: framing split everywhere
        for i in range(0, len(rest), 3):
            c.send(rest[i:i + 3])
            time.sleep(0.02)
        j = c.read_response().json()
    assert j["body_length"] == len(body)
    assert j["body_sha256"] == sha256_hex(body)


def test_expect_100_continue(server):
    _, port = server
    body = b"payload after 100 Continue"
    with RawConn(port) as c:
        c.send(request_bytes(method="POST", target="/expect",
                             headers=[("Expect", "100-continue"),
                                      ("Content-Length", str(len(body)))]))
        # no body yet: the interim response must come first
        status, reason, headers, raw = c.read_head(timeout=3)
        assert raw.startswith(b"HTTP/1.1 100 Continue\r\n"), raw
        assert status == 100
        c.send(body)
        resp = c.read_response(skip_1xx=False)
        assert resp.status == 200
        j = resp.json()
        assert j["body_length"] == len(body)
        assert j["body_sha256"] == sha256_hex(body)


@pytest.mark.parametrize("mpm", MPMS)
def test_limit_request_body_declared_length(relais, mpm):
    port = start_echo(relais, mpm, extra="LimitRequestBody 1000\n")
    with RawConn(port) as c:
        # only the head is sent: the 413 must not wait for the body
        c.send(request_bytes(method="POST", target="/big",
                             headers=[("Content-Length", "2000")]))
        resp = c.read_response(timeout=3)
        assert resp.status == 413
        assert resp.header("Connection") == "close"
        assert c.wait_closed(timeout=4)
    # within the limit still works
    with RawConn(port) as c:
        c.send(request_bytes(method="POST", target="/ok", body=b"a" * 1000))
        assert c.read_response().json()["body_length"] == 1000


@pytest.mark.parametrize("mpm", MPMS)
def test_expect_100_continue_too_large_gets_413_not_100(relais, mpm):
    port = start_echo(relais, mpm, extra="LimitRequestBody 1000\n")
    with RawConn(port) as c:
        c.send(request_bytes(method="POST", target="/big",
                             headers=[("Expect", "100-continue"),
                                      ("Content-Length", "5000")]))
        resp = c.read_response(timeout=3, skip_1xx=False)
        assert resp.status == 413, "no 100 Continue for a refused body"
        assert c.wait_closed(timeout=4)


@pytest.mark.parametrize("mpm", MPMS)
def test_limit_request_body_chunked_grows_past(relais, mpm):
    port = start_echo(relais, mpm, extra="LimitRequestBody 1000\n")
    data = request_bytes(method="POST", target="/bigchunks",
                         headers=[("Transfer-Encoding", "chunked")])
    data += b"".join(chunk(b"q" * 400) for _ in range(5)) + b"0\r\n\r\n"
    with RawConn(port) as c:
        c.send(data)
        resp = c.read_response(timeout=5)
        assert resp.status == 413
        assert resp.header("Connection") == "close"
        assert c.wait_closed(timeout=4)


@pytest.mark.parametrize("mpm", MPMS)
def test_large_response_slow_reader(relais, mpm):
    size = 5000000
    port = start_echo(relais, mpm)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    with RawConn.__new__(RawConn) as c:
        c.sock, c.timeout, c.buf, c.eof = s, 10.0, b"", False
        c.send(request_bytes(target="/big?size=%d" % size))
        status, _, headers, _ = c.read_head()
        assert status == 200
        hd = {k.lower(): v for k, v in headers}
        assert hd.get("content-length") == str(size), headers
        assert "transfer-encoding" not in hd
        got = bytearray(c.buf)
        c.buf = b""
        # slow reader: small reads with pauses, bounded in time
        deadline = time.monotonic() + 60
        reads = 0
        while len(got) < size:
            assert time.monotonic() < deadline, "only %d bytes" % len(got)
            b = s.recv(min(16384, size - len(got)))
            assert b, "closed after %d of %d bytes" % (len(got), size)
            got += b
            reads += 1
            if reads % 4 == 0:
                time.sleep(0.002)
        assert len(got) == size
        assert bytes(got) == pattern_bytes(size), "pattern mismatch"
        # framing intact: the next response starts right after
        c.send(request_bytes(target="/after"))
        assert c.read_response().json()["uri"] == "/after"


def test_head_has_length_no_body_then_next_request(server):
    _, port = server
    with RawConn(port) as c:
        c.send(request_bytes(method="HEAD", target="/h?size=1234"))
        resp = c.read_response(head_request=True)
        assert resp.status == 200
        assert resp.header("Content-Length") == "1234"
        c.send(request_bytes(method="HEAD", target="/json"))
        resp = c.read_response(head_request=True)
        assert int(resp.header("Content-Length")) > 0
        # no body bytes came: the next response head starts at once
        c.send(request_bytes(target="/next"))
        resp = c.read_response()
        assert resp.status == 200 and resp.json()["uri"] == "/next"


def test_head_with_curl(server):
    _, port = server
    out = curl(["-I", "http://127.0.0.1:%d/x?size=99" % port])
    assert out.returncode == 0, out.stderr
    assert b"Content-Length: 99" in out.stdout


def test_http10_response_without_known_length(server):
    """A response too large to hold back has no length: HTTP/1.0 gets it
    close-delimited (even when keep-alive was asked for); HTTP/1.1 gets it
    chunked.  TRACE echoes ~24 KB of header fields, more than the core
    buffers before choosing the framing."""
    _, port = server
    big = [("X-Big-%d" % i, "v" * 6000) for i in range(4)]
    with RawConn(port) as c:
        c.send(request_bytes(method="TRACE", target="/t", proto="HTTP/1.0",
                             host=None, headers=big + [
                                 ("Connection", "keep-alive")]))
        resp = c.read_response()
        assert resp.status == 200
        assert resp.header("Content-Length") is None, resp
        assert resp.header("Transfer-Encoding") is None, resp
        assert resp.header("Connection") == "close"
        assert c.eof, "body not ended by the close"
        assert resp.body.startswith(b"TRACE /t HTTP/1.0\r\n")
        assert resp.body.count(b"v" * 6000) == 4
    with RawConn(port) as c:
        c.send(request_bytes(method="TRACE", target="/t", headers=big))
        resp = c.read_response()
        assert resp.header("Transfer-Encoding") == "chunked", resp
        assert resp.body.count(b"v" * 6000) == 4


def test_204_has_no_body_no_length(server):
    _, port = server
    with RawConn(port) as c:
        c.send(request_bytes(target="/nc?status=204"))
        resp = c.read_response()
        assert resp.status == 204
        assert resp.header("Content-Length") is None, resp
        assert resp.header("Transfer-Encoding") is None, resp
        c.send(request_bytes(target="/next"))
        resp = c.read_response()
        assert resp.status == 200, "stray bytes after the 204?"
        assert resp.json()["uri"] == "/next"
