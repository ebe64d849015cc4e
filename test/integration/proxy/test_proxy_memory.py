"""Bounded memory while streaming: a slow client reading a 50 MiB response,
a 200 MiB upload and a 200 MiB download through the proxy keep the
relaisd child's RSS growth under 16 MiB.  The figures are printed (run
with -s to see them).

One child, one event loop; RSS is VmRSS from /proc, sampled every 50 ms
while the transfer runs; the baseline is taken after a warm-up request."""
import hashlib
import socket
import threading
import time

import pytest

from helpers_proxy import (BLOCK, get, pattern_sha256,
                           request_bytes, rss_kib, start_proxy)

MIB = 1024 * 1024
LIMIT_KIB = 16 * 1024


class Sampler:
    """Samples a process's VmRSS every 50 ms in a thread."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = 0
        self.samples = 0
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop_ev.is_set():
            try:
                v = rss_kib(self.pid)
            except OSError:
                break
            self.peak = max(self.peak, v)
            self.samples += 1
            self.stop_ev.wait(0.05)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *a):
        self.stop_ev.set()
        self.t.join(timeout=5)


@pytest.fixture(autouse=True)
def _no_asan_quarantine(no_asan_quarantine):
    """Every test here measures RSS (see conftest.no_asan_quarantine)."""


def _start(relais, backend):
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url,
                       one_thread=True)
    # warm-up: code paths, buffers and the pool touched once
    backend.on("/warm", size=1 * MIB)
    for _ in range(3):
        assert get(port, "/warm").status == 200
    (pid,) = relais.children()
    time.sleep(0.2)
    return port, pid, rss_kib(pid)


def _recv_exact_hash(sock, n, h, deadline):
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    left = n
    while left > 0:
        if time.monotonic() > deadline:
            raise AssertionError("transfer too slow: %d bytes left" % left)
        k = sock.recv_into(view, min(left, len(buf)))
        if k == 0:
            raise AssertionError("connection closed with %d bytes left" % left)
        h.update(view[:k])
        left -= k


def _read_head(sock, deadline):
    data = b""
    while b"\r\n\r\n" not in data:
        if time.monotonic() > deadline:
            raise AssertionError("no response head")
        b = sock.recv(4096)
        if not b:
            raise AssertionError("closed before the head: %r" % data)
        data += b
    head, rest = data.split(b"\r\n\r\n", 1)
    return head, rest


def test_slow_client_50mib_bounded_rss(relais, backend):
    """The client reads a 50 MiB response at about 5 MB/s for 3 s (the
    backend could send it all at once): relaisd must push back on the
    backend instead of buffering."""
    size = 50 * MIB
    backend.on("/big", size=size)
    port, pid, base = _start(relais, backend)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.settimeout(20)
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(request_bytes(target="/big"))
        deadline = time.monotonic() + 25
        head, rest = _read_head(s, deadline)
        assert head.startswith(b"HTTP/1.1 200"), head
        h = hashlib.sha256()
        h.update(rest)
        got = len(rest)
        with Sampler(pid) as smp:
            t0 = time.monotonic()
            while time.monotonic() - t0 < 3.0:
                b = s.recv(16 * 1024)
                assert b, "closed early"
                h.update(b)
                got += len(b)
                # 5 MB/s: 16 KiB every ~3.3 ms
                target_t = t0 + got / 5e6
                pause = target_t - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            slow_peak = smp.peak
            slow_got = got
        _recv_exact_hash(s, size - got, h, deadline)
    finally:
        s.close()
    growth = slow_peak - base
    print("\nslow client: baseline %d KiB, peak %d KiB during the slow read "
          "(%d bytes read slowly), growth %d KiB"
          % (base, slow_peak, slow_got, growth))
    assert h.hexdigest() == pattern_sha256(size)
    assert growth < LIMIT_KIB, growth


def test_upload_200mib_bounded_rss(relais, backend):
    size = 200 * MIB
    port, pid, base = _start(relais, backend)
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        with Sampler(pid) as smp:
            t0 = time.monotonic()
            s.sendall(request_bytes("POST", "/upload", headers=[
                ("Content-Length", str(size))]))
            for _ in range(size // len(BLOCK)):
                s.sendall(BLOCK)
            head, rest = _read_head(s, time.monotonic() + 30)
            took = time.monotonic() - t0
            peak = smp.peak
    finally:
        s.close()
    growth = peak - base
    print("\n200 MiB upload: %.1f s, baseline %d KiB, peak %d KiB, "
          "growth %d KiB" % (took, base, peak, growth))
    assert head.startswith(b"HTTP/1.1 200"), head
    req = backend.last()
    assert req.body_len == size
    assert req.body_sha256 == pattern_sha256(size)
    assert growth < LIMIT_KIB, growth


def test_download_200mib_bounded_rss(relais, backend):
    size = 200 * MIB
    backend.on("/huge", size=size, chunk=1 << 20)
    port, pid, base = _start(relais, backend)
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        with Sampler(pid) as smp:
            t0 = time.monotonic()
            s.sendall(request_bytes(target="/huge"))
            deadline = time.monotonic() + 40
            head, rest = _read_head(s, deadline)
            assert head.startswith(b"HTTP/1.1 200"), head
            assert b"Content-Length: %d" % size in head, head
            h = hashlib.sha256()
            h.update(rest)
            _recv_exact_hash(s, size - len(rest), h, deadline)
            took = time.monotonic() - t0
            peak = smp.peak
    finally:
        s.close()
    growth = peak - base
    print("\n200 MiB download: %.1f s, baseline %d KiB, peak %d KiB, "
          "growth %d KiB" % (took, base, peak, growth))
    assert h.hexdigest() == pattern_sha256(size)
    assert growth < LIMIT_KIB, growth


def test_chunked_upload_100mib_bounded_rss(relais, backend):
    """Chunked in (the client's), chunked out to the backend: bounded too."""
    size = 100 * MIB
    port, pid, base = _start(relais, backend)
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    framed = b"%x\r\n" % len(BLOCK) + BLOCK + b"\r\n"
    try:
        with Sampler(pid) as smp:
            s.sendall(request_bytes("POST", "/upchunks", headers=[
                ("Transfer-Encoding", "chunked")]))
            for _ in range(size // len(BLOCK)):
                s.sendall(framed)
            s.sendall(b"0\r\n\r\n")
            head, rest = _read_head(s, time.monotonic() + 30)
            peak = smp.peak
    finally:
        s.close()
    growth = peak - base
    print("\n100 MiB chunked upload: baseline %d KiB, peak %d KiB, growth "
          "%d KiB" % (base, peak, growth))
    assert head.startswith(b"HTTP/1.1 200"), head
    req = backend.last()
    assert req.body_len == size
    assert req.body_sha256 == pattern_sha256(size)
    assert growth < LIMIT_KIB, growth
