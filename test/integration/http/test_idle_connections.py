"""10,000 idle keep-alive connections on the event MPM with ONE child and
ONE event loop: a new client is still answered within a second, each idle
connection costs under 2 KiB of the child's memory (its pool is given back
while it waits: rl_conn_rest), and relaisd raised its own open-files limit
to hold them.  The figures are printed (pytest -s or
-rA) and recorded as properties (junit XML)."""
import os
import resource
import selectors
import socket
import time

import pytest

from conftest import free_port
from helpers_http import RawConn, echo_conf, request_bytes

N_CONN = 10000
MAX_INFLIGHT = 256          # well below the listen backlog (ListenBacklog)
RSS_LIMIT_KB = 100 * 1024
# an idle connection's record is about 0.5 KiB; it was 8 KiB while each
# kept its APR pool
BYTES_PER_CONN_LIMIT = 2048


def sanitizer_build():
    """True for an ASan build: its allocator's redzones and shadow memory
    multiply RSS, so the memory budget is not meaningful there (the
    responsiveness check still is)."""
    import subprocess
    from conftest import RELAISD
    out = subprocess.run(["ldd", RELAISD], capture_output=True, text=True)
    return "libasan" in out.stdout
# Each side (this process, the relaisd child) holds N_CONN descriptors in
# its own table, so each needs N_CONN plus some headroom.
FD_NEEDED = N_CONN + 2000


def soft_nofile(pid):
    """The soft "Max open files" of a process, as /proc shows it."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return line.split()[3]
    raise AssertionError("no open files limit for %d" % pid)


def vm_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def the_child(relais, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        kids = relais.children()
        if len(kids) == 1:
            return kids[0]
        time.sleep(0.1)
    raise AssertionError("expected one child, have %r" % relais.children())


def response_complete(buf):
    i = buf.find(b"\r\n\r\n")
    if i < 0:
        return False
    head = buf[:i].decode("latin-1").lower()
    for line in head.split("\r\n")[1:]:
        if line.startswith("content-length:"):
            return len(buf) - i - 4 >= int(line.split(":", 1)[1])
    raise AssertionError("response without Content-Length: %r" % buf[:300])


def open_idle_connections(port, n, deadline):
    """Opens n connections; on each sends one request and reads the whole
    response, leaving the connection open.  Returns the sockets."""
    sel = selectors.DefaultSelector()
    req = request_bytes(target="/idle")
    socks, started, done = [], 0, 0
    inflight = 0
    try:
        while done < n:
            assert time.monotonic() < deadline, (
                "only %d of %d connections served in time" % (done, n))
            while started < n and inflight < MAX_INFLIGHT:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.setblocking(False)
                rc = s.connect_ex(("127.0.0.1", port))
                assert rc in (0, 115), "connect: %s" % os.strerror(rc)
                sel.register(s, selectors.EVENT_WRITE, {"buf": b""})
                started += 1
                inflight += 1
            for key, _ in sel.select(timeout=1.0):
                s, st = key.fileobj, key.data
                if key.events & selectors.EVENT_WRITE:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    assert err == 0, "connect #%d: %s" % (
                        started, os.strerror(err))
                    assert s.send(req) == len(req)
                    sel.modify(s, selectors.EVENT_READ, st)
                    continue
                b = s.recv(65536)
                assert b, "server closed connection #%d early" % done
                st["buf"] += b
                if response_complete(st["buf"]):
                    assert st["buf"].startswith(b"HTTP/1.1 200 "), st["buf"]
                    assert b"Connection: close" not in st["buf"]
                    sel.unregister(s)
                    done += 1
                    inflight -= 1
    finally:
        sel.close()
    return socks


def still_open(socks):
    """How many of the sockets have nothing to read (no EOF, no data)."""
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    ready = len(sel.select(timeout=0))
    sel.close()
    return len(socks) - ready


def test_10k_idle_keepalive_connections(relais, record_property):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < FD_NEEDED:
        pytest.skip("RLIMIT_NOFILE hard limit %d < %d: cannot open %d "
                    "connections" % (hard, FD_NEEDED, N_CONN))
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def low_soft_limit():
        # the usual 1024 of a login shell: relaisd must raise it to the hard
        # limit itself (server/main.c) to hold N_CONN connections
        low = 1024 if hard == resource.RLIM_INFINITY else min(1024, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))

    port = free_port()
    relais.write_conf(echo_conf("event", port, top="""
StartServers 1
ServerLimit 1
ThreadsPerChild 1
KeepAliveTimeout 60
MaxKeepAliveRequests 0
LogLevel warn
"""))
    socks = []
    try:
        relais.start(port, preexec_fn=low_soft_limit)
        child = the_child(relais)
        with RawConn(port) as c:  # warm up
            c.send(request_bytes(target="/warm"))
            assert c.read_response().status == 200
        want = "unlimited" if hard == resource.RLIM_INFINITY else str(hard)
        assert soft_nofile(child) == want, "child's open files limit"
        base_kb = vm_rss_kb(child)

        t0 = time.monotonic()
        socks = open_idle_connections(port, N_CONN, t0 + 90)
        opened_in = time.monotonic() - t0
        time.sleep(1.0)  # let the server settle them all as idle

        assert relais.children() == [child], "the child changed"
        open_now = still_open(socks)
        assert open_now == N_CONN, (
            "%d of %d idle connections were closed" % (N_CONN - open_now,
                                                       N_CONN))
        nfd = len(os.listdir("/proc/%d/fd" % child))
        assert nfd >= N_CONN, "child holds only %d descriptors" % nfd

        t1 = time.monotonic()
        with RawConn(port, timeout=5) as c:
            c.send(request_bytes(target="/new-client"))
            resp = c.read_response()
        latency = time.monotonic() - t1
        assert resp.status == 200
        assert resp.json()["uri"] == "/new-client"

        rss_kb = vm_rss_kb(child)
        per_conn = (rss_kb - base_kb) * 1024.0 / N_CONN
        msg = ("event MPM, 1 child / 1 loop, %d idle keep-alive connections "
               "(opened in %.1f s): child VmRSS %.1f MB (baseline %.1f MB), "
               "%.0f bytes per idle connection; new client answered in "
               "%.0f ms" % (N_CONN, opened_in, rss_kb / 1024.0,
                            base_kb / 1024.0, per_conn, latency * 1000))
        print("\n" + msg)
        record_property("idle_connections", N_CONN)
        record_property("child_rss_kb", rss_kb)
        record_property("child_rss_baseline_kb", base_kb)
        record_property("bytes_per_idle_connection", round(per_conn))
        record_property("new_client_latency_ms", round(latency * 1000, 1))

        assert latency < 1.0, "new client waited %.2f s" % latency
        if not sanitizer_build():
            assert rss_kb < RSS_LIMIT_KB, msg
            assert per_conn < BYTES_PER_CONN_LIMIT, msg
    finally:
        for s in socks:
            s.close()
        relais.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
