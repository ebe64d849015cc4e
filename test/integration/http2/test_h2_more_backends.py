"""HTTP/2 streams and their backends: many streams of one connection wait
on their own backend at once (the master waits on every backend socket
of its streams, under each MPM); a stream reset while its backend request
is in flight frees the backend socket at once; a client that takes
nothing holds the server to a bounded buffer while other connections are
served, and gives everything back when it goes."""
import re
import subprocess
import time

import pytest

from helpers_h2 import (MPMS, curl, fd_count, have, rss_kib, sockets_to,
                      start_h2, H2Client)

ONE_CHILD = "StartServers 1\nServerLimit 1\n"


def wait_for(fn, timeout=10.0):
    end = time.monotonic() + timeout
    v = fn()
    while not v and time.monotonic() < end:
        time.sleep(0.05)
        v = fn()
    return v


@pytest.mark.skipif(not have("h2load"), reason="needs h2load")
@pytest.mark.parametrize("mpm", MPMS)
def test_h2_streams_wait_on_their_backends_at_once(relais, counting_backend,
                                                   mpm):
    b = counting_backend
    b.on("/slow", delay=0.3, body=b"slow answer\n")
    port, _ = start_h2(relais, "ProxyPass / %s/\n" % b.url, mpm=mpm)
    # 2 connections, 50 streams open on each at any time
    p = subprocess.run(["h2load", "-n", "200", "-c", "2", "-m", "50",
                        "http://127.0.0.1:%d/slow" % port],
                       capture_output=True, text=True, timeout=60)
    assert re.search(r"requests: 200 total, 200 started, 200 done, "
                     r"200 succeeded, 0 failed", p.stdout), \
        p.stdout + p.stderr
    assert "status codes: 200 2xx" in p.stdout, p.stdout
    assert len(b.wait_requests(200)) == 200
    # the backend had many of them in flight at the same moment: the
    # streams' backend sockets were waited on together, not one by one
    assert b.max_in_flight > 10, b.max_in_flight
    assert b.in_flight == 0


@pytest.mark.parametrize("mpm", ("event", "prefork"))
def test_h2_reset_streams_free_their_backend_sockets(relais,
                                                     counting_backend, mpm):
    b = counting_backend
    b.on("/hang", hang=5)
    b.on("/fine", body=b"fine\n")
    port, _ = start_h2(relais, "ProxyPass / %s/\n" % b.url, mpm=mpm,
                       mpm_extra=ONE_CHILD)
    pids = relais.children()
    assert len(pids) == 1, pids
    pid = pids[0]
    base = wait_for(lambda: fd_count(pid))
    c = H2Client(port)
    sids = [c.request("/hang/%d" % i) for i in range(10)]
    assert len(b.wait_requests(10)) == 10
    # ten backend sockets and the client's are open now
    assert sockets_to(pid, b.port) == 10
    assert fd_count(pid) >= base + 11, (fd_count(pid), base)
    for sid in sids:
        c.reset(sid)
    # the connection stays; the backend sockets go at once, not when the
    # backend answers (5 s) nor when the connection ends
    assert wait_for(lambda: sockets_to(pid, b.port) == 0, timeout=3), \
        sockets_to(pid, b.port)
    assert wait_for(lambda: fd_count(pid) == base + 1, timeout=3), \
        (fd_count(pid), base)
    # the connection still serves a stream
    sid = c.request("/fine")
    assert c.pump(c.done([sid]))
    assert c.streams[sid]["status"] == 200
    assert c.streams[sid]["body"] == b"fine\n"
    c.close()
    # the child is still the same, and a new connection is served
    assert relais.children() == [pid]
    p = curl("--http2-prior-knowledge", "-w", "\n%{http_version} "
             "%{response_code}", "http://127.0.0.1:%d/fine" % port)
    assert p.stdout == b"fine\n\n2 200", p
    # nothing left of the resets (the pooled keep-alive connection of
    # /fine is the only backend socket)
    assert wait_for(lambda: sockets_to(pid, b.port) <= 1)
    assert "exited on signal" not in relais.error_log()


def test_h2_client_taking_nothing_holds_a_bounded_buffer(
        relais, counting_backend, no_asan_quarantine):
    b = counting_backend
    b.on("/big", size=10 << 20)
    body = ("<Location /e>\n    SetHandler echo\n</Location>\n"
            "ProxyPass /p/ %s/\n" % b.url)
    port, _ = start_h2(relais, body, mpm_extra=ONE_CHILD)
    pid = relais.children()[0]
    # ordinary traffic first, so that buffers and pools exist
    for _ in range(3):
        p = curl("--http2-prior-knowledge", "-o", "/dev/null", "-w",
                 "%{response_code}",
                 "http://127.0.0.1:%d/e?size=1000000" % port)
        assert p.stdout == b"200", p
    base_fds = wait_for(lambda: fd_count(pid))
    base_rss = rss_kib(pid)
    # a client whose stream window is 0 and that gives none back: the
    # head comes, no DATA can
    c = H2Client(port, settings={4: 0}, hold=True)  # INITIAL_WINDOW_SIZE
    sid = c.request("/p/big")
    assert c.pump(lambda: c.streams[sid]["status"] is not None)
    assert c.streams[sid]["status"] == 200
    assert dict(c.streams[sid]["headers"])["content-length"] == \
        str(10 << 20)
    assert len(b.wait_requests(1)) == 1
    time.sleep(1.0)  # the backend pushes what the server will take
    c.pump(lambda: False, timeout=0.2)
    assert c.streams[sid]["body"] == b"" and not c.streams[sid]["ended"]
    # the 10 MiB stay in the backend's socket, not in relaisd
    assert rss_kib(pid) <= base_rss + 4 * 1024, (rss_kib(pid), base_rss)
    assert b.in_flight == 1  # the backend is still sending
    # meanwhile other connections are served, by the same child
    p = curl("--http2-prior-knowledge", "-o", "/dev/null", "-w",
             "%{http_version} %{response_code} %{size_download}",
             "http://127.0.0.1:%d/e?size=200000" % port)
    assert p.stdout == b"2 200 200000", p
    assert rss_kib(pid) <= base_rss + 4 * 1024, (rss_kib(pid), base_rss)
    # the client goes: its socket and the backend's are closed
    c.close()
    assert wait_for(lambda: sockets_to(pid, b.port) == 0, timeout=5), \
        sockets_to(pid, b.port)
    assert wait_for(lambda: fd_count(pid) == base_fds, timeout=5), \
        (fd_count(pid), base_fds)
    assert wait_for(lambda: b.in_flight == 0, timeout=5)


@pytest.mark.parametrize("size", (100000, 10 << 20))
def test_h2_stream_whose_window_stays_shut_is_reset_after_timeout(
        relais, counting_backend, size):
    """Slow read over flow control: the client never opens its window.
    100000 bytes fit in the stream's buffer (the handler is done, the
    bytes wait); 10 MiB do not (the handler waits too).  Either way the
    stream is reset after Timeout, as an HTTP/1.1 client that reads
    nothing is dropped, and prefork's only child is free again."""
    b = counting_backend
    b.on("/big", size=size)
    b.on("/fine", body=b"fine\n")
    port, _ = start_h2(relais, "Timeout 1\nKeepAliveTimeout 1\n"
                       "ProxyPass / %s/\n" % b.url, mpm="prefork",
                       mpm_extra=ONE_CHILD)
    pid = relais.children()[0]
    c = H2Client(port, settings={4: 0}, hold=True)  # INITIAL_WINDOW_SIZE
    sid = c.request("/big")
    st = c.streams[sid]
    assert c.pump(lambda: st["reset"] is not None or st["ended"],
                  timeout=15), st
    assert st["status"] == 200 and st["body"] == b"" and not st["ended"]
    assert st["reset"] == 8, st  # CANCEL
    assert "client opened no window for 1 s (Timeout): stream reset" in \
        relais.error_log()
    # the backend's socket is closed (or, the answer complete, pooled)
    pooled = 1 if size == 100000 else 0
    assert wait_for(lambda: sockets_to(pid, b.port) <= pooled, timeout=5)
    # then the connection, without streams, ends after KeepAliveTimeout
    assert c.pump(lambda: False, timeout=10) is False and c.closed
    c.close()
    p = curl("--http2-prior-knowledge", "-w", "\n%{http_version} "
             "%{response_code}", "http://127.0.0.1:%d/fine" % port)
    assert p.stdout == b"fine\n\n2 200", p
    assert relais.children() == [pid]
