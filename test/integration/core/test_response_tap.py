"""Three core APIs a cache needs, driven by test/testmods/mod_tap_test.c:

- rl_response_tap(): the tap sees every body byte once (also those held
  back before the head), then one final call: 1 when the response went out
  whole, -1 when it did not (the backend broke mid-body, the client left);
- rl_sendfile(): a file region as the body (offsets, HEAD, big files,
  keep-alive after it), under every MPM;
- the error_response hook: a module answers instead of the core's error
  page (here for a proxy's 503 when the backend is down).
"""
import os
import re
import socket
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import Backend, RawConn, request_bytes, start_proxy  # noqa

from conftest import BUILD, MPMS, free_port  # noqa: E402

TESTMOD = os.path.join(BUILD, "testmods", "mod_tap_test.so")


def checksum(data):
    s = 0
    for b in data:
        s = (s * 31 + b) % 1000000007
    return s


def tap_lines(relais, n, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        lines = [l for l in relais.error_log().splitlines() if "tap:" in l]
        if len(lines) >= n:
            return lines
        time.sleep(0.05)
    return [l for l in relais.error_log().splitlines() if "tap:" in l]


def conf_body(backend, extra=""):
    return ("LoadModule tap_test_module %s\n" % TESTMOD
            + "LogLevel info tap_test:notice\n"
            + "ProxyPass /p/ %s/\n" % backend.url
            + "<Location /file>\n    SetHandler sendfile-test\n</Location>\n"
            + extra)


def fetch(port, target, headers=(), method="GET"):
    with RawConn(port) as c:
        c.send(request_bytes(method=method, target=target, headers=headers))
        return c.read_response(head_request=method == "HEAD")


@pytest.fixture
def backend():
    b = Backend()
    yield b
    b.stop()


@pytest.mark.parametrize("size", [10, 5000, 70000, 1 << 20])
def test_tap_sees_every_byte_once_then_complete(relais, backend, size):
    backend.on("/obj", size=size)
    port = start_proxy(relais, conf_body(backend))
    resp = fetch(port, "/p/obj", headers=[("X-Tap", "1")])
    assert resp.status == 200 and len(resp.body) == size
    lines = tap_lines(relais, 1)
    assert len(lines) == 1, lines
    assert "status=200 bytes=%d sum=%d final=1" % (
        size, checksum(resp.body)) in lines[0], lines
    assert "BUG" not in relais.error_log()


def test_tap_chunked_backend_and_handler_pieces(relais, backend):
    backend.on("/chunks", size=40000, chunked=True, chunk=3000)
    port = start_proxy(relais, conf_body(backend))
    resp = fetch(port, "/p/chunks", headers=[("X-Tap", "1")])
    assert resp.status == 200 and len(resp.body) == 40000
    assert "bytes=40000 sum=%d final=1" % checksum(resp.body) in \
        tap_lines(relais, 1)[0]


def test_tap_backend_breaks_mid_body_is_final_minus_one(relais, backend):
    backend.on("/cut", size=200000, cut_after=50000)
    port = start_proxy(relais, conf_body(backend))
    with RawConn(port) as c:
        c.send(request_bytes(target="/p/cut", headers=[("X-Tap", "1")]))
        try:
            c.read_response()
        except Exception:
            pass  # the response is cut: that is the point
    lines = tap_lines(relais, 1)
    assert len(lines) == 1 and "final=-1" in lines[0], lines


def test_tap_client_leaves_mid_body_is_final_minus_one(relais, backend):
    backend.on("/slow", size=4 << 20, pace=0.01)
    port = start_proxy(relais, conf_body(backend))
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(request_bytes(target="/p/slow", headers=[("X-Tap", "1")]))
    s.recv(1000)
    s.close()
    lines = tap_lines(relais, 1, timeout=15)
    assert len(lines) == 1 and "final=-1" in lines[0], lines


def test_no_tap_without_asking(relais, backend):
    port = start_proxy(relais, conf_body(backend))
    assert fetch(port, "/p/x").status == 200
    time.sleep(0.2)
    assert tap_lines(relais, 0, timeout=0) == []


def test_error_response_hook_answers_instead(relais):
    dead = free_port()  # nothing listens there: the proxy answers 503
    port = start_proxy(relais,
                       "LoadModule tap_test_module %s\n" % TESTMOD
                       + "ProxyPass /down/ http://127.0.0.1:%d/\n" % dead)
    resp = fetch(port, "/down/x")
    assert resp.status == 503
    resp = fetch(port, "/down/x", headers=[("X-Replace-Error", "1")])
    assert resp.status == 200 and resp.body == b"replaced 503\n"
    # a 404 of the core too
    resp = fetch(port, "/nowhere", headers=[("X-Replace-Error", "1")])
    assert resp.status == 200 and resp.body == b"replaced 404\n"


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "data.bin"
    data = os.urandom(3 << 20)
    path.write_bytes(data)
    return str(path), data


@pytest.mark.parametrize("mpm", MPMS)
def test_sendfile_body_under_every_mpm(relais, backend, data_file, mpm):
    path, data = data_file
    port = start_proxy(relais, conf_body(backend), mpm=mpm)
    with RawConn(port, timeout=20) as c:
        # whole file, a slice, HEAD, then a proxied request on the same
        # keep-alive connection: the framing after a file holds
        c.send(request_bytes(target="/file?path=%s" % path))
        r1 = c.read_response()
        c.send(request_bytes(target="/file?path=%s&off=1000&len=70000"
                             % path))
        r2 = c.read_response()
        c.send(request_bytes(method="HEAD", target="/file?path=%s" % path))
        r3 = c.read_response(head_request=True)
        c.send(request_bytes(target="/p/after"))
        r4 = c.read_response()
    assert r1.status == 200 and r1.body == data
    assert r1.header("Content-Length") == str(len(data))
    assert r2.status == 200 and r2.body == data[1000:71000]
    assert r3.status == 200 and r3.body == b""
    assert r3.header("Content-Length") == str(len(data))
    assert r4.status == 200


def test_sendfile_client_gone_closes_the_file(relais, backend, data_file):
    path, _ = data_file
    port = start_proxy(relais, conf_body(backend), one_thread=True)
    pid = relais.children()[0]

    def open_data_files():
        n = 0
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == path:
                    n += 1
            except OSError:
                pass
        return n

    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(request_bytes(target="/file?path=%s" % path))
        s.recv(100)
        s.close()
    end = time.time() + 10
    while open_data_files() and time.time() < end:
        time.sleep(0.1)
    assert open_data_files() == 0
    assert fetch(port, "/p/alive").status == 200
    assert not re.search(r"exited on signal", relais.error_log())
