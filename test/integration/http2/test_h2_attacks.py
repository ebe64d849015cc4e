"""HTTP/2 abuse from a raw client (hand-made frames, HPACK from
python3-hpack): rapid reset (CVE-2023-44487), CONTINUATION flood, HPACK
bomb.  Each ends with the connection closed (or the request refused) and
relaisd's child using no more CPU time and memory than a bound computed
from a baseline of ordinary HTTP/2 traffic measured first."""
import os
import socket
import struct
import subprocess

import hpack

from helpers_h2 import PREFACE, start_h2

ONE_CHILD = "StartServers 1\nServerLimit 1\n"

DATA, HEADERS, RST_STREAM, SETTINGS, GOAWAY = 0, 1, 3, 4, 7
WINDOW_UPDATE, CONTINUATION = 8, 9
END_STREAM, END_HEADERS = 0x1, 0x4
ENHANCE_YOUR_CALM = 0xb


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


class H2Raw:
    """A client that writes frames as it likes and reads what comes."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        # 1 MiB windows, so that responses are not held by flow control
        self.s.sendall(PREFACE + frame(SETTINGS, 0, 0, struct.pack(
            ">HI", 4, 1 << 20)) + frame(WINDOW_UPDATE, 0, 0, struct.pack(
                ">I", 1 << 20)))
        self.buf = b""
        self.enc = hpack.Encoder()

    def request_block(self, path="/", extra=()):
        return self.enc.encode([(":method", "GET"), (":scheme", "http"),
                                (":path", path),
                                (":authority", "relais.test")] + list(extra))

    def send(self, data):
        self.s.sendall(data)

    def frames(self, until, limit=10000):
        """Reads frames until until(type, flags, stream, payload) is true
        or the server closes; returns (frames, closed)."""
        got = []
        while len(got) < limit:
            while len(self.buf) >= 9:
                n = struct.unpack(">I", b"\0" + self.buf[:3])[0]
                if len(self.buf) < 9 + n:
                    break
                f = (self.buf[3], self.buf[4],
                     struct.unpack(">I", self.buf[5:9])[0] & 0x7fffffff,
                     self.buf[9:9 + n])
                self.buf = self.buf[9 + n:]
                got.append(f)
                if until(*f):
                    return got, False
            try:
                b = self.s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                return got, True
            if not b:
                return got, True
            self.buf += b
        return got, False

    def close(self):
        self.s.close()


def child_usage(pid):
    """(CPU seconds, RSS KiB) of one process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open("/proc/%d/status" % pid) as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return cpu, rss


def start_one_child(relais, backend, body=""):
    port, _ = start_h2(relais, body + "ProxyPass / %s/\n" % backend.url,
                       mpm_extra=ONE_CHILD)
    pids = relais.children()
    assert len(pids) == 1, pids
    return port, pids[0]


def baseline(port, pid):
    """Ordinary traffic first (so that buffers and pools exist), then the
    usage the attack is compared with: CPU for 400 ordinary requests over
    HTTP/2, and RSS after them."""
    before = child_usage(pid)[0]
    p = subprocess.run(["h2load", "-n", "400", "-c", "2", "-m", "20",
                        "http://127.0.0.1:%d/base" % port],
                       capture_output=True, text=True, timeout=60)
    assert "400 succeeded" in p.stdout, p.stdout
    cpu, rss = child_usage(pid)
    return cpu - before, rss


def assert_bounded(pid, cpu_before, base_cpu, base_rss):
    """The attack cost at most what 400 ordinary requests cost plus a
    quarter second, and left RSS within 16 MiB of the baseline."""
    cpu, rss = child_usage(pid)
    assert cpu - cpu_before <= base_cpu + 0.25, (cpu - cpu_before, base_cpu)
    assert rss <= base_rss + 16 * 1024, (rss, base_rss)


def test_h2_rapid_reset_gets_goaway_and_close(relais, backend,
                                              no_asan_quarantine):
    backend.on("/slow", hang=5)
    port, pid = start_one_child(relais, backend,
                                "H2StreamResetLimit 50\n")
    base_cpu, base_rss = baseline(port, pid)
    backend.reset()
    cpu0 = child_usage(pid)[0]
    c = H2Raw(port)
    sent = 0
    try:
        for batch in range(50):
            out = b""
            for i in range(100):
                sid = 1 + 2 * (batch * 100 + i)
                out += frame(HEADERS, END_HEADERS | END_STREAM, sid,
                             c.request_block("/slow"))
                out += frame(RST_STREAM, 0, sid, struct.pack(">I", 8))
            c.send(out)
            sent += 100
    except (BrokenPipeError, ConnectionResetError):
        pass
    got, closed = c.frames(lambda t, f, s, p: False)
    c.close()
    goaways = [p for t, f, s, p in got if t == GOAWAY]
    assert goaways, got[:20]
    assert struct.unpack(">I", goaways[-1][4:8])[0] == ENHANCE_YOUR_CALM
    assert closed
    assert "rapid reset" in relais.error_log()
    # far fewer requests reached the backend than streams were opened
    assert len(backend.requests) <= 100, (len(backend.requests), sent)
    assert_bounded(pid, cpu0, base_cpu, base_rss)
    # the server still serves
    p = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o",
                        "/dev/null", "-w", "%{http_code}",
                        "http://127.0.0.1:%d/after" % port],
                       capture_output=True, text=True, timeout=30)
    assert p.stdout == "200", p


def test_h2_continuation_flood_is_closed(relais, backend, no_asan_quarantine):
    port, pid = start_one_child(relais, backend)
    base_cpu, base_rss = baseline(port, pid)
    cpu0 = child_usage(pid)[0]
    c = H2Raw(port)
    # a HEADERS without END_HEADERS, then CONTINUATION frames that never
    # end the block, each carrying a 1000-byte field
    c.send(frame(HEADERS, 0, 1, c.request_block("/flood")))
    piece = hpack.Encoder().encode([("x-flood", "f" * 1000)])
    sent = 0
    try:
        for _ in range(200):
            c.send(frame(CONTINUATION, 0, 1, piece) * 100)
            sent += 100
    except (BrokenPipeError, ConnectionResetError):
        pass
    got, closed = c.frames(lambda t, f, s, p: False)
    c.close()
    assert closed
    # nghttp2 ends the session after H2MaxContinuations (8): it says so
    # with a GOAWAY, and not a byte of the block reached the backend
    assert any(t == GOAWAY for t, f, s, p in got), relais.error_log()[-3000:]
    assert not [r for r in backend.requests if r.target == b"/flood"]
    assert_bounded(pid, cpu0, base_cpu, base_rss)


def test_h2_hpack_bomb_is_refused(relais, backend, no_asan_quarantine):
    port, pid = start_one_child(relais, backend)
    base_cpu, base_rss = baseline(port, pid)
    cpu0 = child_usage(pid)[0]
    c = H2Raw(port)
    # one 4000-byte field enters the HPACK table (index 62), then 16000
    # one-byte references to it: 16 KB on the wire, 64 MB decoded
    block = c.request_block("/bomb", [("x-bomb", "b" * 4000)])
    block += b"\xbe" * (16000 - len(block))
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
    got, closed = c.frames(lambda t, f, s, p: t == HEADERS and s == 1)
    assert not closed and got[-1][0] == HEADERS, got
    status = hpack.Decoder().decode(got[-1][3])
    assert (":status", "431") in status, status
    # the connection stays usable: the next stream is served
    dec = hpack.Decoder()
    dec.decode(got[-1][3])
    c.send(frame(HEADERS, END_HEADERS | END_STREAM, 3,
                 c.request_block("/fine")))
    got, closed = c.frames(lambda t, f, s, p: t == HEADERS and s == 3)
    assert not closed and (":status", "200") in dec.decode(got[-1][3])
    c.close()
    assert not [r for r in backend.requests if r.target == b"/bomb"]
    assert "request header fields too large" in relais.error_log()
    assert_bounded(pid, cpu0, base_cpu, base_rss)
