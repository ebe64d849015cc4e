"""Hostile backend responses (a backend on a raw socket that answers with
exactly the bytes of hostile_cases.RESPONSE_CASES), under every MPM.

A malformed head or framing gives the client a 502 and never a byte of
what the backend sent; once the head went out, the client connection is
cut instead.  Stray bytes after a complete response are never relayed,
and the backend connection that carried them is never reused: a second
request gets a clean answer on a new backend connection.
test/integration/proxy/test_proxy_errors.py has the first versions of a
few of these (status line, injection, framing) with the general backend.
"""
import time

import pytest

from helpers_hardening import H, talk
from hostile_cases import HOST, RESPONSE_CASES


def request(name):
    return H("GET /hostile/%s HTTP/1.1" % name, HOST)


@pytest.mark.parametrize("case", RESPONSE_CASES,
                         ids=[c.name for c in RESPONSE_CASES])
def test_response_case(hostile_front, case):
    f = hostile_front
    out = talk(f.port, request(case.name), timeout=8)
    got = out.raw.lower()
    for bad in case.forbidden:
        assert bad.lower() not in got, "%s: relayed %r: %r" % (
            case.name, bad, out)
    if case.status is None:
        # the head went out before the body went wrong: a cut, never a
        # complete response
        assert out.responses == [], out
        assert out.cut == 200 and out.closed, out
        return
    assert out.status == case.status, "%s: %r" % (case.name, out)
    assert len(out.responses) == 1 and out.extra == b"", out
    if case.status == 502:
        body = out.responses[0].body
        assert b"Bad Gateway" in body, out
        assert str(f.backend.port).encode() not in body, body
    if case.second:
        # the stray bytes must be in before the next request, or no proxy
        # could tell them from its answer: wait until they were sent and
        # for them to arrive, then ask again
        assert f.backend.wait_sent(case.name), "backend never sent them"
        time.sleep(0.3)
        bad_conn = f.backend.hostile_conn[case.name]
        out2 = talk(f.port, H("GET /clean HTTP/1.1", HOST))
        assert out2.status == 200, out2
        body = out2.responses[0].body
        assert body.startswith(b"clean c"), out2
        assert not body.startswith(b"clean c%d#" % bad_conn), (
            "the connection that sent stray bytes was reused: %r" % body)
        for bad in case.forbidden:
            assert bad.lower() not in out2.raw.lower(), out2


def test_client_connection_usable_after_502(hostile_front):
    """A 502 for a hostile response leaves the client's connection in a
    known state: the next request on it gets a clean answer."""
    f = hostile_front
    data = request("cr_in_value") + H("GET /clean HTTP/1.1", HOST)
    out = talk(f.port, data, expect=2, timeout=8)
    assert out.statuses()[0] == 502, out
    if not out.closed or len(out.responses) == 2:
        assert out.statuses() == [502, 200], out
        assert out.responses[1].body.startswith(b"clean c"), out
    assert b"injected" not in out.raw.lower()
