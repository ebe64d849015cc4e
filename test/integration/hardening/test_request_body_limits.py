"""Request bodies a client uses against the proxy: over LimitRequestBody
(Content-Length, chunked, with Expect: 100-continue) and trickled below
RequestReadTimeout's body MinRate, under every MPM.  What the backend gets
is checked from its raw bytes: never a complete request it could act on.
test/integration/http/test_bodies.py has the same limits with mod_echo
behind them; here the question is what reaches a backend.
"""
import socket
import time

import pytest

from helpers_hardening import (H, Relais, chunk, check_request_case,
                               dechunk, free_port, talk)
from hostile_cases import HOST, REQUEST_CASES

LIMIT_CASES = [c for c in REQUEST_CASES if c.group == "limit"]


@pytest.mark.parametrize("case", LIMIT_CASES,
                         ids=[c.name for c in LIMIT_CASES])
def test_limit_case(front, case):
    check_request_case(front, case)


def _closed(backend, conns, timeout=5.0):
    """Waits until none of the backend connections conns is open."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with backend.lock:
            if not set(conns) & backend.open_ids:
                return True
        time.sleep(0.05)
    return False


def test_chunked_over_limit_backend_gets_part_then_close(front):
    """A chunked body growing past LimitRequestBody 1000: the backend has
    the head and at most 1000 body bytes, never the last chunk, and its
    connection is closed: an unfinished request nothing can complete."""
    mark = front.backend.mark()
    data = H("POST /limited/big HTTP/1.1", HOST, "Transfer-Encoding: chunked",
             body=b"".join(chunk(b"q" * 300) for _ in range(10))
             + b"0\r\n\r\n")
    out = talk(front.port, data)
    assert out.status == 413 and out.closed, out
    seen = front.backend.since(mark, settle=0.2)
    assert not seen.requests and not seen.malformed, seen
    assert len(seen.pending) == 1, seen
    (conn, got), = seen.pending.items()
    head, _, body = got.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head, got[:300]
    assert dechunk(body) is None, "a complete body reached the backend"
    assert body.count(b"q") <= 1000, body.count(b"q")
    assert _closed(front.backend, [conn]), "backend connection left open"


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_body_at_the_limit_passes(front, framing):
    """Exactly LimitRequestBody bytes are allowed, in either framing."""
    body = b"z" * 1000
    if framing == "length":
        data = H("POST /limited/ok HTTP/1.1", HOST, "Content-Length: 1000",
                 body=body)
    else:
        data = H("POST /limited/ok HTTP/1.1", HOST,
                 "Transfer-Encoding: chunked",
                 body=chunk(body[:600]) + chunk(body[600:]) + b"0\r\n\r\n")
    mark = front.backend.mark()
    out = talk(front.port, data)
    assert out.status == 200 and not out.closed, out
    seen = front.backend.since(mark, settle=0.1)
    assert seen.targets() == ["/main/limited/ok"], seen
    assert seen.requests[0].body == body


def test_expect_100_within_limit(front):
    """Expect: 100-continue for a body within the limit: "100 Continue"
    first, then the body goes to the backend, which never sees the
    expectation (the proxy met it)."""
    mark = front.backend.mark()
    with socket.create_connection(("127.0.0.1", front.port), timeout=5) as s:
        s.sendall(H("POST /limited/e HTTP/1.1", HOST, "Expect: 100-continue",
                    "Content-Length: 500"))
        got = b""
        while b"\r\n\r\n" not in got:
            b = s.recv(4096)
            assert b, "closed before 100 Continue"
            got += b
        assert got.startswith(b"HTTP/1.1 100 Continue\r\n"), got
        s.sendall(b"e" * 500)
        while b"seen POST" not in got:
            b = s.recv(4096)
            assert b, "closed before the answer: %r" % got
            got += b
    assert b"HTTP/1.1 200 OK" in got, got
    seen = front.backend.since(mark, settle=0.1)
    assert seen.targets() == ["/main/limited/e"], seen
    assert seen.requests[0].body == b"e" * 500
    assert seen.requests[0].header("Expect") is None, seen.requests[0]


# ----------------------------------------------------------------------
# RequestReadTimeout body=2,MinRate=1000 (the slow_front fixture)
# ----------------------------------------------------------------------

def test_trickled_body_cut_off(slow_front):
    """One byte every 0.25 s (4 bytes/s, far below MinRate=1000): after
    body=2 seconds the request ends with a 408 and a close (every MPM),
    and the backend never has a complete request."""
    f = slow_front
    mark = f.backend.mark()
    pieces = [(H("POST /trickle HTTP/1.1", HOST, "Content-Length: 1000"),
               0.25)] + [(b"t", 0.25)] * 60
    t0 = time.monotonic()
    out = talk(f.port, pieces, timeout=20)
    took = time.monotonic() - t0
    assert out.closed, out
    assert out.status == 408, out
    # body=2 with 4 bytes/s earns no extra second: cut at about 2 s after
    # the body started (wide bounds: the machine is shared)
    assert 1.5 <= took < 12, took
    seen = f.backend.since(mark, settle=0.3)
    assert not seen.requests and not seen.malformed, seen
    assert all(b.count(b"t") < 1000 for b in seen.pending.values()), seen
    assert _closed(f.backend, list(seen.pending)), \
        "backend connection left open after the timeout"
    assert "timed out reading the request body" in f.relais.error_log()


def test_body_above_min_rate_passes(slow_front):
    """6000 bytes at about 1700 bytes/s take 3 s, longer than body=2:
    each 1000 bytes received earn a second (MinRate=1000), so the request
    completes."""
    f = slow_front
    mark = f.backend.mark()
    pieces = [(H("POST /steady HTTP/1.1", HOST, "Content-Length: 6000"),
               0.0)] + [(b"s" * 1000, 0.6)] * 6
    t0 = time.monotonic()
    out = talk(f.port, pieces, timeout=15)
    assert out.status == 200, out
    assert time.monotonic() - t0 > 2.5, "the body was not slower than body="
    seen = f.backend.since(mark, settle=0.1)
    assert seen.targets() == ["/main/steady"], seen
    assert seen.requests[0].body == b"s" * 6000


BAD_RRT = [
    ("body=2,MinRate=", "bad MinRate"),
    ("body=2,MinRate=abc", "bad MinRate"),
    ("body=2,MinRate=-1", "bad MinRate"),
    ("body=2,MinRate=99999999999999999999", "bad MinRate"),
    ("body=,MinRate=500", "expected seconds"),
    ("body=2-,MinRate=500", "bad maximum"),
    ("body=3-2,MinRate=500", "expected seconds"),
    ("body=2-5", "needs MinRate"),
    ("body=2,Rate=500", "expected MinRate"),
    ("bogus=2", "unknown stage"),
]


@pytest.mark.parametrize("value,message", BAD_RRT,
                         ids=[b[0] for b in BAD_RRT])
def test_request_read_timeout_errors(tmp_path, value, message):
    """RequestReadTimeout values that are typos are refused with the file,
    the line and what is wrong, never read as 0 (which would disable the
    timeout)."""
    r = Relais(tmp_path)
    conf = r.write_conf(
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "Listen 127.0.0.1:%d\n"
        "RequestReadTimeout %s\n" % (free_port(), value))
    res = r.run("-t")
    assert res.returncode == 1, res
    line = [ln for ln in res.stderr.splitlines() if "RequestReadTimeout" in ln]
    assert line, res.stderr
    assert "%s:3:" % conf in line[0] and message in line[0], line


@pytest.mark.parametrize("value", ["body=2,MinRate=1000",
                                   "header=20-40,MinRate=500 body=20",
                                   "body=0", "body=10-30,minrate=100"])
def test_request_read_timeout_accepted(tmp_path, value):
    r = Relais(tmp_path)
    r.write_conf("LoadModule mpm_event_module modules/mod_mpm_event.so\n"
                 "Listen 127.0.0.1:%d\n"
                 "RequestReadTimeout %s\n" % (free_port(), value))
    res = r.run("-t")
    assert res.returncode == 0, res.stderr
