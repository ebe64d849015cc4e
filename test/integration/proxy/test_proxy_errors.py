"""Backend failures: refused (503), silent (504), invalid responses (502),
cut mid-body (the client connection is cut too, never a short body passed
as complete); error pages that reveal nothing of the backend;
ProxyErrorOverride; ProxyRequests On refused."""
import socket
import threading
import time

import pytest

from helpers_proxy import (MPMS, Backend, RawConn, error_page_clean, free_port,
                           get, request_bytes, start_proxy)


@pytest.mark.parametrize("mpm", MPMS)
def test_connection_refused_503_then_retry(relais, mpm):
    """Nobody listens: 503.  With retry=0 the next request tries again, and
    succeeds once the backend is up."""
    bport = free_port()
    port = start_proxy(relais, "ProxyPass /app/ http://127.0.0.1:%d/ retry=0\n"
                       % bport, mpm=mpm)
    resp = get(port, "/app/x")
    assert resp.status == 503, resp
    assert error_page_clean(resp.body, bport) == [], resp.body
    resp = get(port, "/app/x")
    assert resp.status == 503
    b = Backend(port=bport)
    try:
        resp = get(port, "/app/y")
        assert resp.status == 200, resp
        assert b.last().target == b"/y"
    finally:
        b.stop()


def test_connection_refused_in_error_state_during_retry(relais):
    """With retry=30 the worker stays in error: later requests get 503 at
    once, without a new connect."""
    bport = free_port()
    port = start_proxy(relais, "ProxyPass /app/ http://127.0.0.1:%d/ retry=30\n"
                       % bport)
    assert get(port, "/app/x").status == 503
    b = Backend(port=bport)
    try:
        resp = get(port, "/app/x")
        assert resp.status == 503, resp
        assert b.accepted == 0
    finally:
        b.stop()


def test_backend_hangs_504_after_timeout(relais, backend):
    backend.on("/slow", hang=10)
    port = start_proxy(relais, "ProxyPass /app/ %s/ timeout=1\n" % backend.url)
    t0 = time.monotonic()
    resp = get(port, "/app/slow", timeout=10)
    took = time.monotonic() - t0
    assert resp.status == 504, resp
    assert 0.8 <= took < 4, took
    assert error_page_clean(resp.body, backend.port) == [], resp.body


def test_proxy_timeout_directive_504(relais, backend):
    backend.on("/slow", hang=10)
    port = start_proxy(relais, "ProxyTimeout 1\n"
                       "ProxyPass /app/ %s/\n" % backend.url)
    t0 = time.monotonic()
    resp = get(port, "/app/slow", timeout=10)
    assert resp.status == 504, resp
    assert time.monotonic() - t0 < 4


def test_client_connection_usable_after_504(relais, backend):
    backend.on("/slow", hang=10)
    port = start_proxy(relais, "ProxyPass /app/ %s/ timeout=1\n" % backend.url)
    with RawConn(port) as c:
        c.send(request_bytes(target="/app/slow"))
        resp = c.read_response()
        assert resp.status == 504
        if resp.header("Connection") != "close":
            c.send(request_bytes(target="/app/fine"))
            assert c.read_response().status == 200


INVALID = {
    "garbage": b"garbage\r\n\r\n",
    "bad-code": b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok",
    "bad-version": b"HTTP/9.9 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "four-digit": b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok",
    "no-code": b"HTTP/1.1\r\nContent-Length: 2\r\n\r\nok",
    "http09": b"<html>hello</html>",
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_status_line_502(relais, backend, name):
    backend.on("/bad", raw=INVALID[name])
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    resp = get(port, "/bad")
    assert resp.status == 502, resp
    assert b"hello" not in resp.body
    assert error_page_clean(resp.body, backend.port) == [], resp.body


INJECTION = {
    "bare-cr-in-value": b"HTTP/1.1 200 OK\r\nX-Evil: a\rInjected: yes\r\n"
                        b"Content-Length: 2\r\n\r\nok",
    "nul-in-value": b"HTTP/1.1 200 OK\r\nX-Evil: a\x00Injected: yes\r\n"
                    b"Content-Length: 2\r\n\r\nok",
    "bare-cr-in-name": b"HTTP/1.1 200 OK\r\nX-E\rvil: a\r\n"
                       b"Content-Length: 2\r\n\r\nok",
    "space-before-colon": b"HTTP/1.1 200 OK\r\nX-Evil : a\r\n"
                          b"Content-Length: 2\r\n\r\nok",
    "obs-fold": b"HTTP/1.1 200 OK\r\nX-Evil: a\r\n Injected: yes\r\n"
                b"Content-Length: 2\r\n\r\nok",
}


@pytest.mark.parametrize("name", sorted(INJECTION))
def test_header_injection_502(relais, backend, name):
    backend.on("/inject", raw=INJECTION[name])
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    with RawConn(port) as c:
        c.send(request_bytes(target="/inject"))
        resp = c.read_response()
        assert resp.status == 502, resp
        assert b"Injected" not in resp.raw_head
        assert b"X-Evil" not in resp.raw_head
        assert b"Injected" not in resp.body


FRAMING = {
    "cl-and-te": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "two-different-cl": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                        b"Content-Length: 3\r\n\r\nok!",
    "negative-cl": b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok",
    "te-not-chunked-last": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, "
                           b"gzip\r\n\r\n2\r\nok\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(FRAMING))
def test_conflicting_framing_502(relais, backend, name):
    backend.on("/framing", raw=FRAMING[name])
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    resp = get(port, "/framing")
    assert resp.status == 502, resp
    assert resp.body not in (b"ok", b"ok!")
    assert error_page_clean(resp.body, backend.port) == [], resp.body


def test_close_mid_body_with_content_length(relais, backend):
    """The backend promises 1 MiB and closes after 300 KB: the client gets
    the head with the full length, fewer bytes, then a closed connection."""
    backend.on("/cut", size=1 << 20, cut_after=300000)
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    with RawConn(port) as c:
        c.send(request_bytes(target="/cut"))
        status, _, headers, _ = c.read_head()
        assert status == 200
        cl = dict((k.lower(), v) for k, v in headers).get("content-length")
        assert cl == str(1 << 20)
        body, closed = c.read_to_close(timeout=10)
        assert closed, "connection left open after a cut body"
        assert len(body) < 1 << 20, len(body)


def test_chunked_cut_mid_body_no_last_chunk(relais, backend):
    """A chunked backend response cut mid-body: the client never sees the
    terminating 0-chunk, and the connection is closed."""
    backend.on("/cutchunks", size=1 << 20, chunked=True, chunk=10000,
               cut_after=250000)
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    with RawConn(port) as c:
        c.send(request_bytes(target="/cutchunks"))
        status, _, headers, _ = c.read_head()
        assert status == 200
        rest, closed = c.read_to_close(timeout=10)
        assert closed, "connection left open after a cut body"
        h = dict((k.lower(), v) for k, v in headers)
        if h.get("transfer-encoding") == "chunked":
            assert not rest.endswith(b"0\r\n\r\n"), rest[-50:]
            assert b"\r\n0\r\n" not in rest
        else:
            assert int(h.get("content-length", "0")) > len(rest)


def test_close_before_any_response_502(relais, backend):
    backend.on("/drop", raw=b"")
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    resp = get(port, "/drop")
    assert resp.status == 502, resp
    assert error_page_clean(resp.body, backend.port) == [], resp.body


def test_error_override_replaces_backend_404(relais, backend):
    backend.on("/missing", status=404, reason="Not Found",
               headers=[("Content-Type", "text/html")],
               body=b"<h1>BACKEND-404-MARKER Python</h1>")
    port = start_proxy(relais, "ProxyErrorOverride On\n"
                       "ProxyPass / %s/\n" % backend.url)
    resp = get(port, "/missing")
    assert resp.status == 404
    assert b"BACKEND-404-MARKER" not in resp.body
    assert b"Not Found" in resp.body, resp.body
    # successful responses are still relayed as they are
    resp = get(port, "/fine")
    assert resp.status == 200 and resp.json()["target"] == "/fine"


def test_without_error_override_backend_404_relayed(relais, backend):
    backend.on("/missing", status=404, reason="Not Found",
               body=b"BACKEND-404-MARKER")
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    resp = get(port, "/missing")
    assert resp.status == 404
    assert resp.body == b"BACKEND-404-MARKER"


def test_proxy_requests_on_refused(relais):
    relais.write_conf("LoadModule mpm_event_module modules/mod_mpm_event.so\n"
                      "LoadModule proxy_module modules/mod_proxy.so\n"
                      "Listen 127.0.0.1:%d\n"
                      "ProxyRequests On\n" % free_port())
    res = relais.run("-t")
    assert res.returncode == 1, res.stderr
    line = [l for l in res.stderr.splitlines() if "ProxyRequests" in l]
    assert line, res.stderr
    assert "relais.conf:4" in line[0], line
    assert "reverse proxy" in line[0] and "forward" in line[0], line


def test_proxy_requests_off_accepted(relais):
    relais.write_conf("LoadModule mpm_event_module modules/mod_mpm_event.so\n"
                      "LoadModule proxy_module modules/mod_proxy.so\n"
                      "Listen 127.0.0.1:%d\n"
                      "ProxyRequests Off\n" % free_port())
    res = relais.run("-t")
    assert res.returncode == 0, res.stderr


def test_absolute_form_request_not_forward_proxied(relais, backend):
    """A forward-proxy style request (absolute-form target for another
    host) is never sent to that host: Relais is no open proxy."""
    port = start_proxy(relais, "ProxyPass /app/ %s/\n" % backend.url)
    other = Backend()
    try:
        resp = get(port, "http://127.0.0.1:%d/x" % other.port)
        assert resp.status != 200 or other.accepted == 0
        assert other.accepted == 0
    finally:
        other.stop()


def test_bad_worker_parameter_refused(relais):
    relais.write_conf("LoadModule mpm_event_module modules/mod_mpm_event.so\n"
                      "LoadModule proxy_module modules/mod_proxy.so\n"
                      "Listen 127.0.0.1:%d\n"
                      "ProxyPass /a/ http://127.0.0.1:9/ bogus=1\n"
                      % free_port())
    res = relais.run("-t")
    assert res.returncode == 1
    assert "bogus" in res.stderr


def test_backend_stalls_mid_body_connection_cut(relais):
    """Head and 1000 of 100000 body bytes, then silence with the connection
    open: after timeout=1 the client connection is cut (never a short body
    passed as complete)."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    lport = lsock.getsockname()[1]
    held = []

    def serve():
        lsock.settimeout(5)
        try:
            s, _ = lsock.accept()
        except OSError:
            return
        held.append(s)
        s.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            d = s.recv(4096)
            if not d:
                return
            data += d
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
                  + b"x" * 1000)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        port = start_proxy(relais, "ProxyPass / http://127.0.0.1:%d/ "
                           "timeout=1\n" % lport)
        with RawConn(port) as c:
            t0 = time.monotonic()
            c.send(request_bytes(target="/stall"))
            status, _, _, _ = c.read_head()
            assert status == 200
            body, closed = c.read_to_close(timeout=8)
            took = time.monotonic() - t0
            assert closed, "connection left open after the backend stalled"
            assert len(body) < 100000
            assert took < 6, took
    finally:
        t.join(timeout=6)
        for s in held:
            s.close()
        lsock.close()


def test_connect_timeout_503(relais):
    """A backend whose listen queue is full never completes the TCP
    handshake: connectiontimeout=1 gives 503 within a couple of seconds."""
    so = socket
    lsock = so.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    lport = lsock.getsockname()[1]
    fillers = []
    try:
        # fill the accept queue (never accepted)
        for _ in range(4):
            f = so.socket()
            f.setblocking(False)
            try:
                f.connect(("127.0.0.1", lport))
            except BlockingIOError:
                pass
            fillers.append(f)
        time.sleep(0.2)
        port = start_proxy(relais, "ProxyPass / http://127.0.0.1:%d/ "
                           "connectiontimeout=1 timeout=6 retry=0\n" % lport)
        t0 = time.monotonic()
        resp = get(port, "/x", timeout=15)
        took = time.monotonic() - t0
        assert took < 4, "connectiontimeout=1 ignored: %.1f s (status %d)" % (
            took, resp.status)
        assert resp.status == 503, resp
    finally:
        for f in fillers:
            f.close()
        lsock.close()


def test_request_body_not_parsed_as_request_after_503(relais):
    """A POST whose body looks like a request, to a backend that refuses
    connections: the body is never taken for a second request on the
    client connection (drained or the connection closed)."""
    bport = free_port()
    port = start_proxy(relais, "ProxyPass / http://127.0.0.1:%d/ retry=0\n"
                       % bport)
    smuggled = (b"GET /smuggled HTTP/1.1\r\nHost: relais.test\r\n"
                b"Content-Length: 0\r\n\r\n")
    with RawConn(port) as c:
        c.send(request_bytes("POST", "/form", body=smuggled))
        resp = c.read_response()
        assert resp.status == 503, resp
        try:
            c.send(request_bytes(target="/second"))
            rest, _ = c.read_to_close(timeout=3)
        except OSError:
            rest = b""
        # at most one more response: the one for /second (503 again)
        assert rest.count(b"HTTP/1.1 ") <= 1, rest


def test_extra_bytes_after_body_never_relayed(relais, backend):
    """The backend sends more than its Content-Length (a second response
    hidden after the first): the client gets exactly the announced body,
    and the stray bytes are never read as the answer to a later
    request."""
    backend.on("/split", raw=b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
               b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!",
               raw_keep=True)
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url,
                       one_thread=True)
    with RawConn(port) as c:
        c.send(request_bytes(target="/split"))
        resp = c.read_response()
        assert resp.status == 200 and resp.body == b"ok", resp
        time.sleep(0.1)
        for i in range(3):
            c.send(request_bytes(target="/clean%d" % i))
            resp = c.read_response()
            assert resp.body != b"EVIL!", resp
            assert resp.status == 200
            assert resp.json()["target"] == "/clean%d" % i


def test_oversized_backend_header_502(relais, backend):
    backend.on("/hugehdr", headers=[("X-Huge", "a" * 20000)], body=b"ok")
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    resp = get(port, "/hugehdr")
    assert resp.status == 502, resp
    assert b"aaaaaaaaaa" not in resp.raw_head


def test_too_many_backend_headers_502(relais, backend):
    backend.on("/manyhdr", headers=[("X-H%d" % i, "v") for i in range(300)],
               body=b"ok")
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    resp = get(port, "/manyhdr")
    assert resp.status == 502, resp
