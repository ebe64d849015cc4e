"""HTTP/2 and operations: a graceful restart (SIGUSR1) while twenty
streams of a connection wait on their backend lets every one of them
finish, and the next connections are served by the new generation;
request bodies of 1 MiB reach the backend whole under the MPMs that run
one connection per process or per thread."""
import hashlib
import json
import os
import signal
import struct
import time

import hpack
import pytest

from helpers_h2 import H2Client, curl, start_h2
from helpers_proxy import pattern_bytes
from test_h2_attacks import (DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS,
                             RST_STREAM, H2Raw, frame)


def wait_for(fn, timeout=10.0):
    end = time.monotonic() + timeout
    v = fn()
    while not v and time.monotonic() < end:
        time.sleep(0.05)
        v = fn()
    return v


@pytest.mark.parametrize("mpm", ("event", "prefork"))
def test_h2_graceful_restart_finishes_twenty_streams(relais, backend, mpm):
    """A raw client (python3-h2 drops DATA that follows a GOAWAY, though
    RFC 9113 6.8 lets the streams below its last stream id finish)."""
    backend.on("/slow", delay=1.0, size=50000)
    backend.on("/after", body=b"after\n")
    port, _ = start_h2(relais, "ProxyPass / %s/\n" % backend.url, mpm=mpm,
                       mpm_extra="StartServers 1\n")
    old = set(relais.children())
    c = H2Raw(port)
    sids = list(range(1, 41, 2))
    c.send(b"".join(frame(HEADERS, END_HEADERS | END_STREAM, sid,
                          c.request_block("/slow/%d" % sid))
                    for sid in sids))
    assert len(backend.wait_requests(20)) == 20
    relais.send(signal.SIGUSR1)
    ended = set()
    got, closed = c.frames(lambda t, f, s, p: (
        t in (DATA, HEADERS) and f & END_STREAM and
        (ended.add(s) or len(ended) == 20)))
    assert ended == set(sids), (sorted(ended), closed, got[-5:])
    # then the connection ends, after a GOAWAY that took all 20 streams
    more, closed = c.frames(lambda t, f, s, p: False)
    c.close()
    got += more
    assert closed
    goaways = [p for t, f, s, p in got if t == GOAWAY]
    assert goaways and struct.unpack(">II", goaways[-1][:8]) == (39, 0), \
        goaways
    assert not [f for f in got if f[0] == RST_STREAM]
    dec = hpack.Decoder()
    status = {}
    body = {sid: b"" for sid in sids}
    for t, f, s, p in got:
        if t == HEADERS:
            status[s] = dict(dec.decode(p))[":status"]
        elif t == DATA:
            body[s] += p
    assert status == {sid: "200" for sid in sids}, status
    for sid in sids:
        assert body[sid] == pattern_bytes(50000), (sid, len(body[sid]))
    assert "SIGUSR1 received: graceful restart" in relais.error_log()
    # the old generation's children leave once their streams are done;
    # new connections are served by the new generation
    assert wait_for(lambda: not old & set(relais.children()), timeout=15), \
        (old, relais.children())
    p = curl("--http2-prior-knowledge", "-w", "\n%{http_version} "
             "%{response_code}", "http://127.0.0.1:%d/after" % port)
    assert p.stdout == b"after\n\n2 200", p
    assert relais.children() and not old & set(relais.children())
    assert relais.proc.poll() is None  # still the same parent


@pytest.mark.parametrize("mpm", ("prefork", "worker"))
def test_h2_one_mib_request_bodies_reach_the_backend(relais, backend, mpm,
                                                     tmp_path):
    port, _ = start_h2(relais, "ProxyPass / %s/\n" % backend.url, mpm=mpm)
    data = os.urandom(1 << 20)
    up = tmp_path / "up.bin"
    up.write_bytes(data)
    want = hashlib.sha256(data).hexdigest()
    # with a content-length, then without one (DATA frames only: the
    # backend gets it chunked)
    for extra in ((), ("-H", "Content-Length:")):
        p = curl("--http2-prior-knowledge", "--data-binary", "@%s" % up,
                 "-H", "Content-Type: application/octet-stream", *extra,
                 "-w", "\n%{http_version} %{response_code}",
                 "http://127.0.0.1:%d/up" % port)
        body, tail = p.stdout.rsplit(b"\n", 1)
        assert tail == b"2 200", p
        seen = json.loads(body)
        assert seen["method"] == "POST"
        assert seen["body_len"] == len(data)
        assert seen["body_sha256"] == want
    reqs = backend.wait_requests(2)
    assert [r.body_sha256 for r in reqs] == [want, want]
    assert reqs[0].header("Content-Length") == str(len(data))
    assert reqs[1].chunked and reqs[1].header("Content-Length") is None
    # two at once on one connection, from python3-h2
    c = H2Client(port)
    sids = []
    for i in range(2):
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"),
                                  (":path", "/pair/%d" % i),
                                  (":authority", "relais.test")])
        c.streams[sid] = {"status": None, "headers": [], "body": b"",
                          "ended": False, "reset": None}
        sids.append(sid)
    c.flush()
    sent = {sid: 0 for sid in sids}
    deadline = time.monotonic() + 30
    while any(n < len(data) for n in sent.values()):
        assert time.monotonic() < deadline, sent
        for sid in sids:
            room = min(c.conn.local_flow_control_window(sid),
                       c.conn.max_outbound_frame_size,
                       len(data) - sent[sid])
            if room > 0:
                c.conn.send_data(sid, data[sent[sid]:sent[sid] + room],
                                 end_stream=sent[sid] + room == len(data))
                sent[sid] += room
        c.flush()
        if all(n == len(data) for n in sent.values()):
            break

        def window_open():
            return any(sent[s] < len(data) and
                       c.conn.local_flow_control_window(s) > 0
                       for s in sids)
        # wait for WINDOW_UPDATEs: the server opens the windows as the
        # backend reads
        c.pump(window_open, timeout=5)
    assert c.pump(c.done(sids), timeout=20)
    for sid in sids:
        st = c.streams[sid]
        assert st["status"] == 200, st
        seen = json.loads(st["body"])
        assert seen["body_len"] == len(data) and seen["body_sha256"] == want
    c.close()
    assert len(backend.wait_requests(4)) == 4
