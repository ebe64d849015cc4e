"""WebSocket tunnelling (ProxyPass ... upgrade=websocket): a real RFC 6455
handshake through the proxy to a Python WebSocket echo backend, then
frames both ways (text, a 70000-byte binary frame, ping/pong, close).

Without upgrade=websocket an Upgrade request is an ordinary request: the
Upgrade field (hop-by-hop) is not forwarded."""
import base64
import hashlib
import os

from helpers_proxy import (WS_GUID, RawConn, request_bytes, start_proxy,
                           ws_frame, ws_read_frame)


def _handshake(port, path):
    key = base64.b64encode(os.urandom(16)).decode()
    c = RawConn(port, timeout=5)
    c.send(request_bytes(target=path, headers=[
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
        ("Origin", "http://relais.test")]))
    status, reason, headers, raw = c.read_head()
    expected = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID)
                                .digest()).decode()
    return c, status, dict((k.lower(), v) for k, v in headers), raw, expected


def _exact(c, timeout=5):
    import time

    def exact(n):
        return c.read_exact(n, time.monotonic() + timeout)
    return exact


def test_websocket_echo_through_proxy(relais, backend):
    backend.on("/ws", websocket=True)
    port = start_proxy(relais, "ProxyPass /chat/ %s/ws/ upgrade=websocket\n"
                       % backend.url)
    c, status, h, raw, expected = _handshake(port, "/chat/room1")
    try:
        assert status == 101, raw
        assert h.get("upgrade", "").lower() == "websocket", raw
        assert "upgrade" in h.get("connection", "").lower(), raw
        assert h.get("sec-websocket-accept") == expected, raw
        req = backend.last()
        assert req.target == b"/ws/room1"
        assert req.header("Sec-WebSocket-Version") == "13"
        exact = _exact(c)
        # text frame both ways
        c.send(ws_frame(1, b"hello through relais"))
        assert ws_read_frame(exact, expect_masked=False) == \
            (1, b"hello through relais")
        # a big binary frame (64-bit length)
        big = os.urandom(70000)
        c.send(ws_frame(2, big))
        assert ws_read_frame(exact, expect_masked=False) == (2, big)
        # several frames in one write
        c.send(ws_frame(1, b"a") + ws_frame(1, b"b") + ws_frame(1, b"c"))
        for ch in (b"a", b"b", b"c"):
            assert ws_read_frame(exact, expect_masked=False) == (1, ch)
        # ping -> pong
        c.send(ws_frame(9, b"p1"))
        assert ws_read_frame(exact, expect_masked=False) == (10, b"p1")
        # close handshake
        c.send(ws_frame(8, b"\x03\xe8"))
        assert ws_read_frame(exact, expect_masked=False) == (8, b"\x03\xe8")
        assert c.wait_closed(timeout=5)
    finally:
        c.close()


def test_upgrade_not_forwarded_without_upgrade_param(relais, backend):
    """Without upgrade=websocket the Upgrade request is not tunnelled: the
    backend never sees the Upgrade field, and the client gets an ordinary
    response."""
    port = start_proxy(relais, "ProxyPass /plain/ %s/\n" % backend.url)
    c, status, h, raw, _ = _handshake(port, "/plain/x")
    try:
        assert status != 101, raw
        req = backend.last()
        assert req.header("Upgrade") is None, req.headers
    finally:
        c.close()
