"""RequestReadTimeout: a client trickling its head is dropped while others
are served; a partial request line is dropped; a stalled body is dropped."""
import socket
import threading
import time

import pytest

from conftest import MPMS
from helpers_http import RawConn, request_bytes, start_echo


def drop_outcome(sock, deadline):
    """Waits (bounded) for the server to end the connection.  Returns
    (data received, seconds waited) or (data, None) if still open."""
    t0 = time.monotonic()
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            b = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            return data, time.monotonic() - t0
        if not b:
            return data, time.monotonic() - t0
        data += b
    return data, None


@pytest.mark.parametrize("mpm", MPMS)
def test_slowloris_dropped_others_served(relais, mpm):
    port = start_echo(relais, mpm,
                      extra="RequestReadTimeout header=2-4,MinRate=1000\n")
    head = request_bytes(target="/slow", headers=[
        ("X-Pad-%d" % i, "p" * 20) for i in range(10)])
    result = {}

    def trickle():
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        t0 = time.monotonic()
        got = b""
        try:
            for i in range(len(head) - 2):  # never completes the head
                if time.monotonic() - t0 > 10:
                    break
                try:
                    s.sendall(head[i:i + 1])
                except (BrokenPipeError, ConnectionResetError):
                    break
                # look for a verdict (non-blocking) every 0.5 s
                s.settimeout(0.5)
                try:
                    b = s.recv(65536)
                    if not b:
                        break
                    got += b
                except socket.timeout:
                    continue
                except ConnectionResetError:
                    break
            else:
                pass
            more, _ = drop_outcome(s, time.monotonic() + 1)
            got += more
        finally:
            result["elapsed"] = time.monotonic() - t0
            result["got"] = got
            s.close()

    t = threading.Thread(target=trickle)
    t.start()
    try:
        # meanwhile, other clients are served promptly
        time.sleep(0.7)
        for i in range(3):
            t0 = time.monotonic()
            with RawConn(port, timeout=2) as c:
                c.send(request_bytes(target="/other%d" % i))
                resp = c.read_response()
            took = time.monotonic() - t0
            assert resp.status == 200
            assert took < 1.0, "other client waited %.2f s" % took
            time.sleep(0.3)
    finally:
        t.join(timeout=15)
    assert not t.is_alive()
    got, elapsed = result["got"], result["elapsed"]
    assert elapsed < 7.0, "slow client held for %.1f s" % elapsed
    assert elapsed > 1.5, "dropped too early (%.1f s)" % elapsed
    assert got == b"" or got.startswith(b"HTTP/1.1 408 "), got[:200]
    assert "RequestReadTimeout" in relais.error_log() or got == b""


@pytest.mark.parametrize("mpm", MPMS)
def test_partial_request_line_dropped(relais, mpm):
    port = start_echo(relais, mpm, extra="RequestReadTimeout header=1\n")
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(b"GET /never-fin")
        got, took = drop_outcome(s, time.monotonic() + 6)
    finally:
        s.close()
    assert took is not None, "partial request line kept > 6 s"
    assert took < 3.5, "dropped after %.2f s, header=1" % took
    assert got == b"" or got.startswith(b"HTTP/1.1 408 "), got


@pytest.mark.parametrize("mpm", MPMS)
def test_stalled_body_dropped(relais, mpm):
    port = start_echo(relais, mpm, extra="RequestReadTimeout body=2\n")
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(request_bytes(method="POST", target="/stall",
                                headers=[("Content-Length", "100")])
                  + b"0123456789")
        t0 = time.monotonic()
        got, took = drop_outcome(s, t0 + 8)
    finally:
        s.close()
    assert took is not None, "stalled body kept > 8 s with body=2"
    assert 1.5 <= took < 4.5, "dropped after %.2f s, body=2" % took
    assert got == b"" or got.startswith(b"HTTP/1.1 408 "), got


# One event loop only, so that a blocked loop shows; enough workers in the
# other MPMs for a second client to be served while one waits.
ONE_LOOP = {
    "event": "StartServers 1\nServerLimit 1\nThreadsPerChild 1\n",
    "worker": "StartServers 1\nServerLimit 1\nThreadsPerChild 4\n",
    "prefork": "StartServers 3\nMinSpareServers 3\n",
}


def cpu_seconds(pids):
    total = 0
    tick = float(__import__("os").sysconf("SC_CLK_TCK"))
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


@pytest.mark.parametrize("mpm", MPMS)
def test_waiting_for_body_serves_others(relais, mpm):
    """While a handler waits for the rest of a request body, the process
    serves other clients (under event: the same single event loop)."""
    port = start_echo(relais, mpm, extra=ONE_LOOP[mpm]
                      + "RequestReadTimeout body=10\n")
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(request_bytes(method="POST", target="/stall",
                                headers=[("Content-Length", "100")])
                  + b"0123456789")
        time.sleep(0.5)
        t0 = time.monotonic()
        with RawConn(port, timeout=3) as c:
            c.send(request_bytes(target="/other"))
            try:
                resp = c.read_response()
            except socket.timeout:
                resp = None
        took = time.monotonic() - t0
        assert resp is not None, "other client got no answer in 3 s"
        assert resp.status == 200
        assert took < 1.0, "other client waited %.2f s" % took
        # the first client can still finish its body
        s.sendall(b"x" * 90)
        s.settimeout(3)
        assert s.recv(65536).startswith(b"HTTP/1.1 200 ")
    finally:
        s.close()


@pytest.mark.parametrize("mpm", MPMS)
def test_waiting_for_body_does_not_spin(relais, mpm):
    """A handler waiting for body bytes costs no CPU while it waits."""
    port = start_echo(relais, mpm, extra=ONE_LOOP[mpm]
                      + "RequestReadTimeout body=10\n")
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(request_bytes(method="POST", target="/stall",
                                headers=[("Content-Length", "100")])
                  + b"0123456789")
        time.sleep(0.3)
        kids = relais.children()
        before = cpu_seconds(kids)
        time.sleep(1.5)
        used = cpu_seconds(kids) - before
    finally:
        s.close()
    assert used < 0.3, "children used %.2f s of CPU in 1.5 s of waiting" % used
