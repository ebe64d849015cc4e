"""RateLimit (mod_acl): a token bucket per client in shared memory.

A burst, then 429 with Retry-After; the refill; separate counts per
RateLimit line and per header value (a missing header is one client);
one count across prefork children serving alternate requests; the count
kept across a graceful restart (and a plain one); a flood of 100,000 distinct clients that
leaves memory where it was and a held-back client held back; and
configuration errors naming file:line.

The backend is mod_echo answering empty bodies (EchoResponseSize 0), and
the access log records the pid of the child that served each request
(%P), so a test can see which process answered.
"""
import re
import signal
import socket
import threading
import time

import http.client

import pytest

from conftest import free_port, mpm_lines

LOG_FMT = 'LogFormat "%P %>s %U" pidfmt\nCustomLog logs/access_log pidfmt\n'


def conf(port, mpm="event", extra="", procs=None):
    """The whole configuration: `extra` starts on line 14 (line 16 with
    procs set)."""
    text = mpm_lines(mpm) + """LoadModule echo_module modules/mod_echo.so
LoadModule log_module modules/mod_log.so
LoadModule acl_module modules/mod_acl.so
Listen 127.0.0.1:%d
ServerName rl.test
ErrorLog logs/error_log
PidFile logs/relaisd.pid
LogLevel warn acl:info
SetHandler echo
EchoResponseSize 0
""" % port + LOG_FMT
    if procs:
        text += ("StartServers %d\nMinSpareServers 1\nMaxSpareServers %d\n" %
                 (procs, procs))
    return text + "\n" + extra


def start(relais, extra, mpm="event", procs=None):
    port = free_port()
    relais.write_conf(conf(port, mpm, extra, procs))
    relais.start(port)
    return port


def line_of(relais, needle):
    """1-based line of the configuration holding needle."""
    with open(relais.conf) as f:
        for i, line in enumerate(f, 1):
            if needle in line:
                return i
    raise AssertionError(needle)


def get(port, path="/", headers=None, conn=None):
    """(status, headers) of one request, on conn or a fresh connection."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.headers
    finally:
        if own:
            conn.close()


def statuses(port, n, path="/", headers=None):
    return [get(port, path, headers)[0] for _ in range(n)]


def wait_log(relais, pattern, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        m = re.search(pattern, relais.error_log(), re.M)
        if m:
            return m
        time.sleep(0.05)
    raise AssertionError("no %r in the error log:\n%s" %
                         (pattern, relais.error_log()[-3000:]))


def access_lines(relais, count, timeout=5.0):
    """[(pid, status, path)] once the access log has count lines."""
    end = time.time() + timeout
    while True:
        lines = relais.read("logs/access_log").splitlines()
        if len(lines) >= count or time.time() > end:
            return [(int(p), int(s), u) for p, s, u in
                    (l.split() for l in lines)]
        time.sleep(0.05)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------- tests

def test_burst_then_429_with_retry_after(relais):
    port = start(relais, "RateLimit 1/m burst=3\n")
    line = line_of(relais, "RateLimit 1/m")
    assert statuses(port, 3) == [200, 200, 200]
    status, headers = get(port)
    assert status == 429
    # 60 s per token, minus the moment since the burst
    assert headers["Retry-After"] in ("59", "60"), headers
    assert statuses(port, 2) == [429, 429]
    m = wait_log(relais, r"\[acl:info\] \[pid [^]]*\] \[client 127\.0\.0\.1:\d+\] "
                 r"RateLimit (\S+):(\d+) \(1/m burst=3\) exceeded by "
                 r"127\.0\.0\.1: 429, Retry-After (\d+)$")
    assert m.group(1) == relais.conf and int(m.group(2)) == line
    # the refusals are answered, and logged, as 429s
    assert [s for _, s, _ in access_lines(relais, 6)] == [200] * 3 + [429] * 3
    # another address is another client (loopback takes any 127.x)
    other = []
    for _ in range(4):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10,
                                       source_address=("127.0.0.2", 0))
        other.append(get(port, conn=c)[0])
        c.close()
    assert other == [200, 200, 200, 429]


def test_refill_after_time(relais):
    port = start(relais, "<Location /slow>\nRateLimit 1/s burst=1\n"
                 "</Location>\n<Location /fast>\nRateLimit 4/s burst=2\n"
                 "</Location>\n")
    assert get(port, "/slow")[0] == 200
    status, headers = get(port, "/slow")
    assert status == 429 and headers["Retry-After"] == "1"
    time.sleep(1.1)
    assert statuses(port, 1, "/slow") == [200]
    assert get(port, "/slow")[0] == 429
    # 0.25 s per token: one token back after 0.3 s, not a whole burst
    assert statuses(port, 2, "/fast") == [200, 200]
    assert get(port, "/fast")[0] == 429
    time.sleep(0.3)
    assert get(port, "/fast")[0] == 200
    assert get(port, "/fast")[0] == 429


def test_each_ratelimit_line_counts_separately(relais):
    port = start(relais, "<Location /api>\nRateLimit 1/m burst=2\n"
                 "</Location>\n<Location /login>\nRateLimit 1/m burst=2\n"
                 "</Location>\n")
    assert statuses(port, 3, "/api/x") == [200, 200, 429]
    # the same client, the same rate, another line: its own count
    assert statuses(port, 3, "/login") == [200, 200, 429]
    # and no limit where none is set
    assert statuses(port, 5, "/other") == [200] * 5
    wait_log(relais, r"(?s)exceeded.*exceeded")
    lines = re.findall(r"RateLimit \S+:(\d+) \(1/m burst=2\) exceeded",
                       relais.error_log())
    assert sorted(int(l) for l in lines) == [
        line_of(relais, "<Location /api>") + 1,
        line_of(relais, "<Location /login>") + 1]


def test_by_header_keys_are_independent(relais):
    port = start(relais, "RateLimit 1/m burst=2 by=header:X-Client\n")
    a = {"X-Client": "secret-token-a"}
    b = {"X-Client": "secret-token-b"}
    assert statuses(port, 3, headers=a) == [200, 200, 429]
    assert statuses(port, 2, headers=b) == [200, 200]
    assert get(port, headers=b)[0] == 429
    # without the header (or empty): one shared client, not a way out
    assert statuses(port, 2) == [200, 200]
    assert get(port, headers={"X-Client": ""})[0] == 429
    assert get(port)[0] == 429
    m = wait_log(relais, r"exceeded by the requests without X-Client: 429")
    assert m
    # a header's value may be a credential: never in the log
    wait_log(relais, r"exceeded by X-Client #[0-9a-f]{8}: 429")
    assert "secret-token" not in relais.error_log()


def test_shared_across_prefork_children(relais):
    """Three keep-alive connections, each held by its own prefork child,
    take turns: the limit is one count, whichever child serves."""
    port = start(relais, "RateLimit 1/m burst=10\n", mpm="prefork", procs=3)
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10)
             for _ in range(3)]
    try:
        for c in conns:
            assert get(port, "/open", conn=c)[0] == 200
        got = [get(port, "/turn", conn=conns[i % 3])[0] for i in range(21)]
    finally:
        for c in conns:
            c.close()
    # 3 + 7: the burst of 10 is used up once, not once per child
    assert got == [200] * 7 + [429] * 14
    lines = access_lines(relais, 24)
    pids = {p for p, _, _ in lines}
    assert len(pids) == 3, lines
    assert {p for p, s, _ in lines if s == 429} == pids
    # many short connections too: still refused, by every child
    assert statuses(port, 10) == [429] * 10


@pytest.mark.parametrize("sig", [signal.SIGUSR1, signal.SIGHUP],
                         ids=["graceful", "restart"])
def test_kept_across_graceful_restart(relais, sig):
    port = start(relais, "RateLimit 1/m burst=3\n<Location /other>\n"
                 "RateLimit 1/m burst=2\n</Location>\n")
    assert statuses(port, 4) == [200, 200, 200, 429]
    assert statuses(port, 1, "/other") == [200]
    old = set(relais.children())
    relais.send(sig)
    end = time.time() + 15
    while time.time() < end:
        now = set(relais.children())
        if now and not (now & old):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the old generation did not go")
    wait_log(relais, r"kept from before the restart")
    # served by the new generation: the counts are those of before
    assert get(port)[0] == 429
    assert statuses(port, 2, "/other") == [200, 429]


@pytest.mark.usefixtures("no_asan_quarantine")  # it measures RSS
def test_flood_of_distinct_keys_is_bounded(relais):
    """100,000 distinct X-Client values, pipelined on 4 connections, into
    a 1024-client table: the children's memory does not follow, and a
    client held back before the flood is held back after it."""
    port = start(relais, "MaxKeepAliveRequests 0\nRateLimitTableSize 1024\n"
                 "RateLimit 1/m burst=5 by=header:X-Client\n")
    # the size is fixed when it starts: 1024 x 16 bytes and the locks
    wait_log(relais, r"RateLimit: 1024 clients x 16 bytes = 20 KiB")
    good = {"X-Client": "good"}
    assert statuses(port, 6, headers=good) == [200] * 5 + [429]

    def flood(prefix, first, count, results):
        ok = 0
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            for base in range(first, first + count, 500):
                n = min(500, first + count - base)
                s.sendall(b"".join(
                    b"GET /f HTTP/1.1\r\nHost: rl.test\r\n"
                    b"X-Client: %s-%d\r\n\r\n" % (prefix, i)
                    for i in range(base, base + n)))
                buf = b""
                while buf.count(b"HTTP/1.1 ") < n or \
                        not buf.endswith(b"\r\n\r\n"):
                    chunk = s.recv(1 << 20)
                    assert chunk, "connection closed during the flood"
                    buf += chunk
                ok += buf.count(b"HTTP/1.1 200 ")
        results.append(ok)

    def run(prefix, total):
        results = []
        threads = [threading.Thread(target=flood,
                                    args=(prefix, i * total // 4, total // 4,
                                          results))
                   for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        return sum(results)

    # a first round warms the connections' buffers and the allocators up,
    # so that what the second one adds is what it keeps
    assert run(b"warm", 10000) == 10000
    children = relais.children()
    before = sum(rss_kib(p) for p in children)
    t0 = time.time()
    flooded = run(b"flood", 100000)
    elapsed = time.time() - t0
    # every newcomer had its burst
    assert flooded == 100000
    after = sum(rss_kib(p) for p in relais.children())
    assert relais.children() == children
    # a table that grew per client would take several MiB here
    print("flood: %.1f s, children's RSS %d -> %d KiB" % (elapsed, before,
                                                         after))
    assert after - before < 3 * 1024, (before, after, elapsed)
    # still held back; a new client gets its burst, and no more
    assert get(port, headers=good)[0] == 429
    assert statuses(port, 6, headers={"X-Client": "new"}) == [200] * 5 + [429]


def test_config_errors_name_file_and_line(relais):
    bad = [("RateLimit 10/h", "unknown unit '/h'"),
           ("RateLimit ten/s", "from 1 to 1000000"),
           ("RateLimit 10/s burst=0", "burst=0"),
           ("RateLimit 10/s by=cookie", "unknown by=cookie"),
           ("RateLimit 10/s by=header:", "not a header field name"),
           # one table for all: refused in a vhost
           ("<VirtualHost *:80>\nRateLimitTableSize 1000\n</VirtualHost>",
            "not allowed in <VirtualHost>"),
           ("RateLimitTableSize 10", "from 64 to")]
    text = conf(free_port(), extra="\n".join(b for b, _ in bad) + "\n")
    path = relais.write_conf(text)
    res = relais.run("-t")
    assert res.returncode == 1, res.stderr
    for directive, why in bad:
        name = directive.split()[0] if "\n" not in directive else \
            "RateLimitTableSize"
        needle = directive.splitlines()[-2 if "\n" in directive else 0]
        line = text.splitlines().index(needle) + 1
        prefix = "%s:%d: %s: " % (path, line, name)
        lines = [l for l in res.stderr.splitlines() if prefix in l]
        assert lines and why in lines[0], (prefix, why, res.stderr)
    assert "%d errors in the configuration" % len(bad) in res.stderr
