"""The stores seen through mod_cache: eviction under CacheSize, disk entries
across a restart, no torn entry after kill -9 mid-fill, concurrent hits
byte-identical, and under prefork a hit in one child is a hit in all."""
import concurrent.futures
import hashlib
import os
import re
import signal
import socket
import time

import pytest

from helpers_cache import get, start_cache
from helpers_proxy import RawConn, request_bytes

DISK = "CacheEnable disk /\nCacheRoot @ROOT@/cache\n"


def blob(n, seed):
    """n bytes that differ per seed."""
    out = hashlib.sha256(seed.encode()).digest()
    return (out * (n // len(out) + 1))[:n]


def test_eviction_under_cache_size(relais, origin):
    # 1 MiB of memory, 50 KiB objects: the store cannot keep 40 of them
    n = 40
    for i in range(n):
        origin.on("/e%d" % i, headers=[("Cache-Control", "max-age=600")],
                  body=blob(50 * 1024, str(i)))
    port = start_cache(relais, origin, "CacheEnable mem /\nCacheSize 1M\n")
    for i in range(n):
        assert get(port, "/e%d" % i).status == 200
    assert all(origin.count("/e%d" % i) == 1 for i in range(n))
    # newest first, so that looking up does not reorder what is checked
    hits = [i for i in reversed(range(n))
            if get(port, "/e%d" % i).header("X-Cache") == "HIT"]
    assert 0 < len(hits) < n, hits
    # least recently used go first: the newest stayed, the oldest went
    assert n - 1 in hits and 0 not in hits, hits
    assert origin.count("/e0") == 2
    for i in range(n):
        assert get(port, "/e%d" % i).body == blob(50 * 1024, str(i))


@pytest.mark.parametrize("store", ["mem", "disk"])
def test_concurrent_hits_are_byte_identical(relais, origin, store):
    body = blob(700 * 1024, "same")
    origin.on("/obj", headers=[("Cache-Control", "max-age=600")], body=body)
    conf = DISK if store == "disk" else "CacheEnable mem /\n"
    port = start_cache(relais, origin, conf + "CacheMaxFileSize 2M\n")
    assert get(port, "/obj").body == body
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        rs = list(ex.map(lambda _: get(port, "/obj"), range(32)))
    assert all(r.header("X-Cache") == "HIT" for r in rs)
    assert all(r.body == body for r in rs)
    assert origin.count("/obj") == 1


def test_disk_entries_survive_a_restart(relais, origin):
    body = blob(300 * 1024, "persist")
    origin.on("/keep", headers=[("Cache-Control", "max-age=600")], body=body)
    origin.on("/v", headers=[("Cache-Control", "max-age=600"),
                             ("Vary", "Accept-Language")],
              vary_body="Accept-Language")
    port = start_cache(relais, origin, DISK)
    get(port, "/keep")
    fr = [("Accept-Language", "fr")]
    get(port, "/v", headers=fr)
    assert get(port, "/keep").header("X-Cache") == "HIT"
    relais.stop()
    port = start_cache(relais, origin, DISK, port=port)
    r = get(port, "/keep")
    assert (r.header("X-Cache"), r.body) == ("HIT", body)
    r = get(port, "/v", headers=fr)
    assert (r.header("X-Cache"), r.body) == ("HIT", b"Accept-Language=fr #1\n")
    assert origin.count("/keep") == 1 and origin.count("/v") == 1


def test_kill_during_a_large_fill_leaves_no_torn_entry(relais, origin):
    body = blob(3 * 1024 * 1024, "torn")
    origin.on("/large", headers=[("Cache-Control", "max-age=600")],
              body=body, pace=0.02)
    port = start_cache(relais, origin, DISK + "CacheMaxFileSize 8M\n")
    with RawConn(port, timeout=10) as c:
        c.send(request_bytes(target="/large"))
        got = b""
        while len(got) < 1024 * 1024:  # a third of it has gone through
            got += c.sock.recv(65536)
        for pid in relais.children():
            os.kill(pid, signal.SIGKILL)
        os.kill(relais.proc.pid, signal.SIGKILL)
        relais.proc.wait(timeout=5)
    port = start_cache(relais, origin, DISK + "CacheMaxFileSize 8M\n",
                       port=port)
    origin.on("/large", headers=[("Cache-Control", "max-age=600")],
              body=body)
    r = get(port, "/large", timeout=20)
    assert r.status == 200 and r.body == body
    # absent (fetched again) or whole, never a part
    assert r.header("X-Cache") == "MISS"
    assert origin.count("/large") == 2
    assert get(port, "/large").body == body


def test_prefork_a_hit_in_one_child_is_a_hit_in_all(relais, origin):
    origin.on("/p", headers=[("Cache-Control", "max-age=600")])
    port = start_cache(
        relais, origin,
        "CacheEnable mem /\n"
        "LogFormat \"%P %{cache-status}n\" pids\n"
        "CustomLog logs/access_log pids\n",
        mpm="prefork",
        mpm_extra="StartServers 4\nMinSpareServers 4\nMaxSpareServers 8\n"
                  "ServerLimit 8\nMaxRequestWorkers 8\n",
        modules="LoadModule log_module modules/mod_log.so\n")
    get(port, "/p")
    # four connections held open at once: prefork gives each its own child
    conns = [RawConn(port) for _ in range(4)]
    try:
        for c in conns:
            c.send(request_bytes(target="/p"))
        rs = [c.read_response() for c in conns]
    finally:
        for c in conns:
            c.close()
    assert all(r.header("X-Cache") == "HIT" for r in rs), rs
    assert origin.count("/p") == 1
    log = relais.read("logs/access_log")
    for _ in range(50):
        if log.count("HIT") >= 4:
            break
        time.sleep(0.1)
        log = relais.read("logs/access_log")
    pids = set(re.findall(r"(?m)^(\d+) HIT$", log))
    assert len(pids) >= 3, log


def test_slow_reader_of_a_large_memory_hit(relais, origin):
    # 3 MiB from memory to a client that reads slowly: every byte arrives,
    # and the one event thread keeps answering others meanwhile
    body = blob(3 * 1024 * 1024, "slow")
    origin.on("/huge", headers=[("Cache-Control", "max-age=600")], body=body)
    origin.on("/small", headers=[("Cache-Control", "max-age=600")])
    port = start_cache(relais, origin,
                       "CacheEnable mem /\nCacheMaxFileSize 4M\n"
                       "CacheSize 32M\n",
                       mpm_extra="StartServers 1\nServerLimit 1\n"
                                 "ThreadsPerChild 1\n")
    assert get(port, "/huge", timeout=20).body == body
    get(port, "/small")
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(request_bytes(target="/huge"))
    got = s.recv(65536)
    time.sleep(0.5)
    t0 = time.monotonic()
    assert get(port, "/small").header("X-Cache") == "HIT"
    assert time.monotonic() - t0 < 1.0
    while b"\r\n\r\n" not in got:
        got += s.recv(65536)
    head, _, rest = got.partition(b"\r\n\r\n")
    while len(rest) < len(body):
        b = s.recv(1 << 20)
        if not b:
            break
        rest += b
    s.close()
    assert b"X-Cache: HIT" in head
    assert rest == body
    assert origin.count("/huge") == 1


def test_graceful_restart_keeps_the_memory_store(relais, origin):
    origin.on("/g", headers=[("Cache-Control", "max-age=600")], etag='"g"')
    origin.on("/old", headers=[("Cache-Control", "max-age=1")], etag='"o"')
    port = start_cache(relais, origin, "CacheEnable mem /\n")
    get(port, "/g")
    get(port, "/old")
    before = relais.children()
    relais.send(signal.SIGUSR1)
    for _ in range(100):
        if set(relais.children()) - set(before):
            break
        time.sleep(0.05)
    assert set(relais.children()) - set(before), "no new generation"
    time.sleep(0.3)
    r = get(port, "/g")
    assert (r.status, r.header("X-Cache")) == (200, "HIT"), r
    assert origin.count("/g") == 1
    # revalidation still reaches mod_proxy's hook in the new generation
    time.sleep(1.2)
    assert get(port, "/old").header("X-Cache") == "REVALIDATED"
