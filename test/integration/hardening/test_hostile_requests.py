"""Malformed and hostile requests through the proxy (client -> relaisd ->
RecordingBackend), under every MPM.

Each case of hostile_cases.REQUEST_CASES asserts the exact status Relais
answers, that the connection is closed after an error, and, from the raw
bytes the backend received, that nothing was smuggled: only the complete
requests the case allows, nothing malformed, and never the hidden
"/smuggled" request.  test/integration/http/test_parse_rejections.py checks
the same parser with mod_echo behind it (error pages, no reflection);
these tests are about what reaches a backend.
"""
import time

import pytest

from helpers_hardening import H, check_request_case, talk
from hostile_cases import HOST, REQUEST_CASES, SMUGGLED

CASES = [c for c in REQUEST_CASES if c.group != "limit"]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_request_case(front, case):
    check_request_case(front, case)


def test_backend_connection_of_a_body_error_is_closed(front):
    """A chunk error after the head went to the backend: the backend's
    connection is closed (never pooled with a request half sent), so the
    unfinished request can never be completed by the next one."""
    mark = front.backend.mark()
    data = H("POST /half HTTP/1.1", HOST, "Transfer-Encoding: chunked",
             body=b"5\r\nhello\r\nzz\r\n" + SMUGGLED)
    out = talk(front.port, data)
    assert out.status == 400 and out.closed, out
    deadline = time.monotonic() + 5
    while True:
        seen = front.backend.since(mark)
        still_open = [c for c in seen.pending
                      if c in _open_ids(front.backend)]
        if (seen.pending and not still_open) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert seen.pending and not seen.requests, seen
    assert not still_open, "backend connection %s left open" % still_open
    # the next request is clean and complete
    mark = front.backend.mark()
    out = talk(front.port, H("GET /after HTTP/1.1", HOST))
    assert out.status == 200, out
    assert front.backend.since(mark, settle=0.1).targets() == ["/main/after"]


def _open_ids(backend):
    with backend.lock:
        return set(backend.open_ids)


def test_pipeline_in_pieces(front):
    """The pipelined pair arriving a few bytes at a time: still two
    answers in order, two well-framed requests at the backend."""
    data = (H("POST /p1 HTTP/1.1", HOST, "Content-Length: 5", body=b"hello")
            + H("GET /p2 HTTP/1.1", HOST))
    pieces = [(data[i:i + 7], 0.01) for i in range(0, len(data), 7)]
    mark = front.backend.mark()
    out = talk(front.port, pieces, expect=2)
    assert out.statuses() == [200, 200], out
    assert out.responses[0].body == b"seen POST /main/p1 5\n", out
    assert out.responses[1].body == b"seen GET /main/p2 0\n", out
    seen = front.backend.since(mark, settle=0.2)
    assert seen.targets() == ["/main/p1", "/main/p2"], seen
    assert seen.requests[0].body == b"hello"
    assert not seen.malformed and not seen.pending, seen


def test_http09_gets_a_status_line_at_once(front):
    """HTTP/0.9 has no header section: its client waits after the request
    line, so the answer must not wait for one (RequestReadTimeout's 20 s
    default).  A status line comes back, not an HTTP/0.9 body."""
    t0 = time.monotonic()
    out = talk(front.port, b"GET /\r\n", timeout=10)
    took = time.monotonic() - t0
    assert out.raw.startswith(b"HTTP/1.1 400 "), out
    assert out.closed
    assert took < 5, "HTTP/0.9 answered after %.1f s" % took
