"""What an HTTP/2 header list becomes for the backend, from a raw client
that sends fields no well-behaved client would: CR/LF or NUL in a value
(which would start a field or a request of the client's in HTTP/1.1),
whitespace at a value's ends, upper case in a name, connection-specific
fields.  Each such stream is reset (RFC 9113 8.2.1, 8.2.2: malformed) and
never reaches the backend, while the connection goes on; the fields HTTP/2
allows are passed on as HTTP/1.1 expects them (cookie crumbs joined, the
empty one left out; `te: trailers` dropped; :authority over host)."""
import struct

import hpack

from helpers_h2 import start_h2
from test_h2_attacks import (DATA, END_HEADERS, END_STREAM, HEADERS,
                             RST_STREAM, H2Raw, frame)

PROTOCOL_ERROR = 1


def send(c, sid, path, extra):
    """A GET with `extra` fields (literal, not Huffman-coded, so that the
    bytes go as they are); returns the frames of that stream until it
    ends or is reset."""
    enc = hpack.Encoder()
    block = enc.encode([(":method", "GET"), (":scheme", "http"),
                        (":path", path), (":authority", "relais.test")])
    for name, value in extra:
        block += enc.encode([(name, value)], huffman=False)
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, sid, block))
    got, closed = c.frames(lambda t, f, s, p: s == sid and (
        t == RST_STREAM or (t in (HEADERS, DATA) and f & END_STREAM)))
    assert not closed, got
    return [g for g in got if g[2] == sid]


MALFORMED = [
    ("/crlf", [("x-a", "1\r\nx-injected: yes"), ("x-ok", "fine")]),
    ("/lf", [("x-b", "2\nGET /smuggled HTTP/1.1")]),
    ("/nul", [("x-c", "3\x00z")]),
    ("/space", [("x-d", " 5")]),
    ("/upper", [("X-Upper", "4")]),
    ("/connection", [("connection", "close")]),
    ("/te-gzip", [("te", "gzip")]),
    ("/transfer-encoding", [("transfer-encoding", "chunked")]),
]


def test_h2_malformed_fields_reset_the_stream_not_the_connection(relais,
                                                                 backend):
    port, _ = start_h2(relais, "ProxyPass / %s/\n" % backend.url)
    c = H2Raw(port)
    sid = 1
    for path, extra in MALFORMED:
        got = send(c, sid, path, extra)
        assert got[-1][0] == RST_STREAM, (path, got)
        assert struct.unpack(">I", got[-1][3])[0] == PROTOCOL_ERROR, path
        sid += 2
    # the connection goes on; the fields HTTP/2 allows are translated
    got = send(c, sid, "/ok", [("te", "trailers"), ("cookie", "a=1"),
                               ("cookie", ""), ("cookie", "b=2"),
                               ("host", "other.example"),
                               ("x-ok", "fine")])
    c.close()
    assert got[0][0] == HEADERS and \
        (":status", "200") in hpack.Decoder().decode(got[0][3]), got
    reqs = backend.wait_requests(1)
    # not one malformed stream reached the backend
    assert [r.target for r in reqs] == [b"/ok"], reqs
    r = reqs[0]
    names = [k.lower() for k, _ in r.headers]
    assert "te" not in names and "transfer-encoding" not in names
    assert r.header_all("cookie") == ["a=1; b=2"], r.headers
    assert r.header("x-ok") == "fine"
    # :authority named the host, not the host field
    assert r.header("X-Forwarded-Host") == "relais.test", r.headers
    assert r.body_len == 0 and not r.chunked
    assert "smuggled" not in relais.read("logs/access_log")
