"""An HTTP/2 connection's life: the SETTINGS the directives announce, the
limit on concurrent streams, GOAWAY when idle past KeepAliveTimeout, and a
graceful stop that lets the stream in flight finish after GOAWAY."""
import signal
import struct

import hpack
import pytest

from helpers_h2 import MPMS, start_h2
from test_h2_attacks import (DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS,
                             RST_STREAM, SETTINGS, H2Raw, frame)


def settings_of(payload):
    return {struct.unpack(">H", payload[i:i + 2])[0]:
            struct.unpack(">I", payload[i + 2:i + 6])[0]
            for i in range(0, len(payload), 6)}


def test_h2_settings_and_stream_limit(relais, backend):
    backend.on("/slow", delay=1.0)
    port, _ = start_h2(relais, "H2MaxSessionStreams 3\nH2WindowSize 100000\n"
                               "ProxyPass / %s/\n" % backend.url)
    c = H2Raw(port)
    got, _ = c.frames(lambda t, f, s, p: t == SETTINGS and not f & 1)
    st = settings_of(got[-1][3])
    assert st[3] == 3 and st[4] == 100000, st  # MAX_CONCURRENT, WINDOW
    # a fourth stream while three are open is refused (REFUSED_STREAM)
    out = b""
    for sid in (1, 3, 5, 7):
        out += frame(HEADERS, END_HEADERS | END_STREAM, sid,
                     c.request_block("/slow"))
    c.send(out)
    got, closed = c.frames(lambda t, f, s, p: t == RST_STREAM and s == 7)
    assert not closed and struct.unpack(">I", got[-1][3])[0] == 7
    # the three others are answered
    done = set()
    got, closed = c.frames(lambda t, f, s, p: (t in (DATA, HEADERS) and
                                               f & END_STREAM and
                                               (done.add(s) or
                                                len(done) == 3)))
    assert done == {1, 3, 5}, got
    c.close()


def test_h2_idle_connection_gets_goaway(relais):
    port, _ = start_h2(relais, "KeepAliveTimeout 1\nSetHandler echo\n")
    c = H2Raw(port)
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1,
                 c.request_block("/x")))
    got, closed = c.frames(lambda t, f, s, p: False)
    c.close()
    assert closed
    goaway = [p for t, f, s, p in got if t == GOAWAY]
    assert goaway and struct.unpack(">II", goaway[-1][:8]) == (1, 0), got
    assert any(t == DATA and s == 1 and f & END_STREAM
               for t, f, s, p in got)


@pytest.mark.parametrize("mpm", MPMS)
def test_h2_graceful_stop_finishes_the_stream_in_flight(relais, backend, mpm):
    backend.on("/slow", delay=1.0, size=100000)
    port, _ = start_h2(relais, "ProxyPass / %s/\n" % backend.url, mpm=mpm)
    c = H2Raw(port)
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1,
                 c.request_block("/slow")))
    assert backend.wait_requests(1)
    relais.send(signal.SIGWINCH)  # graceful stop
    got, closed = c.frames(lambda t, f, s, p: False)
    c.close()
    assert closed
    goaways = [p for t, f, s, p in got if t == GOAWAY]
    assert goaways, got
    # the last GOAWAY says stream 1 was taken, with no error
    assert struct.unpack(">II", goaways[-1][:8]) == (1, 0), goaways
    heads = [p for t, f, s, p in got if t == HEADERS and s == 1]
    assert (":status", "200") in hpack.Decoder().decode(heads[0])
    body = b"".join(p for t, f, s, p in got if t == DATA and s == 1)
    assert len(body) == 100000
    assert any(t == DATA and s == 1 and f & END_STREAM for t, f, s, p in got)
    relais.proc.wait(timeout=15)
