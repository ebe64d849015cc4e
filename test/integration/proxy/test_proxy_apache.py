"""Relais in front of a real Apache httpd (Debian's apache2): a 10 MiB file
intact, directory index, mod_dir's redirect rewritten by ProxyPassReverse,
conditional and range requests, HEAD, and keep-alive reuse of the backend
connection (counted from /proc/net/tcp)."""

from helpers_proxy import RawConn, get, request_bytes, sha256_hex, start_proxy


def _conf(apache):
    return ("MaxKeepAliveRequests 0\n"
            "ProxyPass /ap/ %s/\n"
            "ProxyPassReverse /ap/ %s/\n" % (apache.url, apache.url))


def test_apache_10mib_intact(relais, apache):
    port = start_proxy(relais, _conf(apache))
    with RawConn(port, timeout=30) as c:
        c.send(request_bytes(target="/ap/big.bin"))
        resp = c.read_response()
        assert resp.status == 200, resp
        assert resp.header("Content-Length") == str(apache.BIG)
        assert sha256_hex(resp.body) == sha256_hex(apache.files["big.bin"])
        # again, on the same client connection
        c.send(request_bytes(target="/ap/hello.txt"))
        resp = c.read_response()
        assert resp.body == apache.files["hello.txt"]


def test_apache_server_header_hidden(relais, apache):
    port = start_proxy(relais, _conf(apache))
    resp = get(port, "/ap/hello.txt")
    assert resp.status == 200
    for v in resp.header_all("Server"):
        assert "Apache" not in v and "Debian" not in v, resp.headers


def test_apache_directory_index(relais, apache):
    port = start_proxy(relais, _conf(apache))
    resp = get(port, "/ap/")
    assert resp.status == 200, resp
    assert resp.body == apache.files["index.html"]
    assert (resp.header("Content-Type") or "").startswith("text/html")


def test_apache_directory_redirect_rewritten(relais, apache):
    """GET /ap/sub: Apache's mod_dir answers 301 to
    http://127.0.0.1:PORT/sub/; the client must see its own URL."""
    port = start_proxy(relais, _conf(apache))
    resp = get(port, "/ap/sub", host="front.example")
    assert resp.status == 301, resp
    assert resp.header("Location") == "http://front.example/ap/sub/", resp
    assert b"127.0.0.1:%d" % apache.port not in resp.raw_head


def test_apache_conditional_304(relais, apache):
    port = start_proxy(relais, _conf(apache))
    with RawConn(port) as c:
        c.send(request_bytes(target="/ap/hello.txt"))
        first = c.read_response()
        etag = first.header("ETag")
        assert etag, first
        c.send(request_bytes(target="/ap/hello.txt",
                             headers=[("If-None-Match", etag)]))
        resp = c.read_response()
        assert resp.status == 304, resp
        assert resp.header("ETag") == etag, resp
        c.send(request_bytes(target="/ap/hello.txt"))
        assert c.read_response().body == apache.files["hello.txt"]


def test_apache_range_request(relais, apache):
    port = start_proxy(relais, _conf(apache))
    resp = get(port, "/ap/big.bin", headers=[("Range", "bytes=1000-1999")])
    assert resp.status == 206, resp
    assert resp.body == apache.files["big.bin"][1000:2000]
    assert resp.header("Content-Range") == "bytes 1000-1999/%d" % apache.BIG


def test_apache_head_big_file(relais, apache):
    port = start_proxy(relais, _conf(apache))
    with RawConn(port) as c:
        c.send(request_bytes("HEAD", "/ap/big.bin"))
        resp = c.read_response(head_request=True)
        assert resp.status == 200
        assert resp.header("Content-Length") == str(apache.BIG)
        c.send(request_bytes(target="/ap/hello.txt"))
        resp = c.read_response()
        assert resp.body == apache.files["hello.txt"]


def test_apache_404_error_override(relais, apache):
    port = start_proxy(relais, "ProxyErrorOverride On\n" + _conf(apache))
    resp = get(port, "/ap/no-such-file")
    assert resp.status == 404
    assert b"Apache" not in resp.body
    assert str(apache.port).encode() not in resp.body


def _established_to(port):
    """Number of ESTABLISHED IPv4 TCP sockets whose remote port is port
    (the proxy's side of its connections to the backend)."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            rem = fields[2]
            st = fields[3]
            if st == "01" and int(rem.split(":")[1], 16) == port:
                n += 1
    return n


def test_apache_backend_connection_reused(relais, apache):
    """300 requests over one client connection through one relaisd thread
    use one connection to Apache."""
    port = start_proxy(relais, _conf(apache), one_thread=True)
    before = _established_to(apache.port)
    with RawConn(port) as c:
        for i in range(300):
            c.send(request_bytes(target="/ap/hello.txt?i=%d" % i))
            resp = c.read_response()
            assert resp.status == 200, (i, resp)
            assert resp.body == apache.files["hello.txt"]
        assert _established_to(apache.port) - before == 1
