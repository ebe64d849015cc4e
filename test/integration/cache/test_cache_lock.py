"""CacheLock: concurrent misses on one URL reach the origin once; the
waiters sleep in the event loop (rl_request_sleep), not on a thread, and
give up waiting after CacheLockMaxAge."""
import concurrent.futures
import socket
import time

from helpers_cache import get, start_cache

# few threads: 100 waiting clients must not need 100 threads
FEW_THREADS = "StartServers 1\nServerLimit 1\nThreadsPerChild 2\n"


def many(port, path, n, timeout=20.0):
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as ex:
        futs = [ex.submit(get, port, path, timeout=timeout) for _ in range(n)]
        return [f.result() for f in futs]


def test_hundred_concurrent_misses_one_backend_request(relais, origin):
    origin.on("/hot", headers=[("Cache-Control", "max-age=60")], delay=0.8)
    port = start_cache(relais, origin, "CacheEnable mem /\nCacheLock on\n",
                       mpm_extra=FEW_THREADS)
    rs = many(port, "/hot", 100)
    assert all(r.status == 200 for r in rs), [r for r in rs if r.status != 200]
    assert {r.body for r in rs} == {b"body of /hot #1\n"}
    assert origin.count("/hot") == 1
    kinds = [r.header("X-Cache") for r in rs]
    assert kinds.count("MISS") == 1 and kinds.count("HIT") == 99, kinds


def test_without_lock_every_miss_goes_to_the_origin(relais, origin):
    origin.on("/hot", headers=[("Cache-Control", "max-age=60")], delay=0.5)
    port = start_cache(relais, origin, "CacheEnable mem /\n")
    rs = many(port, "/hot", 10)
    assert all(r.status == 200 for r in rs)
    assert origin.count("/hot") > 1


def test_waiters_give_up_after_lock_max_age(relais, origin):
    origin.on("/slow", headers=[("Cache-Control", "max-age=60")], delay=2.5)
    port = start_cache(relais, origin, "CacheEnable mem /\nCacheLock on\n"
                       "CacheLockMaxAge 1\n", mpm_extra=FEW_THREADS)
    start = time.monotonic()
    rs = many(port, "/slow", 4)
    assert all(r.status == 200 for r in rs)
    # the filler, and the waiters after one second each on their own
    assert origin.count("/slow") == 4
    assert time.monotonic() - start < 8
    assert "waited CacheLockMaxAge" in relais.error_log()


def test_a_waiting_loop_still_serves_others(relais, origin):
    # one event thread: while 20 requests wait for a slow fill, a hit on
    # another URL is answered at once
    origin.on("/slow", headers=[("Cache-Control", "max-age=60")], delay=1.5)
    origin.on("/fast", headers=[("Cache-Control", "max-age=60")])
    port = start_cache(relais, origin, "CacheEnable mem /\nCacheLock on\n",
                       mpm_extra="StartServers 1\nServerLimit 1\n"
                                 "ThreadsPerChild 1\n")
    get(port, "/fast")
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as ex:
        futs = [ex.submit(get, port, "/slow") for _ in range(20)]
        time.sleep(0.4)
        t0 = time.monotonic()
        r = get(port, "/fast")
        took = time.monotonic() - t0
        assert r.header("X-Cache") == "HIT"
        assert took < 1.0, took
        assert all(f.result().status == 200 for f in futs)
    assert origin.count("/slow") == 1


def test_uncacheable_answer_releases_all_waiters_at_once(relais, origin):
    # the first answer says private: the waiters go to the origin together
    # (hit-for-pass), not one after the other nor after CacheLockMaxAge
    origin.on("/priv", headers=[("Cache-Control", "private")], delay=0.6)
    port = start_cache(relais, origin, "CacheEnable mem /\nCacheLock on\n",
                       mpm_extra=FEW_THREADS)
    t0 = time.monotonic()
    rs = many(port, "/priv", 20)
    took = time.monotonic() - t0
    assert all(r.status == 200 for r in rs)
    assert origin.count("/priv") == 20
    assert took < 4.0, took
    assert "waited CacheLockMaxAge" not in relais.error_log()


def test_collapsed_requests_share_a_no_cache_answer(relais, origin):
    # stale on arrival (no-cache), yet fetched for the waiters: they take it
    origin.on("/nc", headers=[("Cache-Control", "no-cache")], etag='"n"',
              delay=0.6)
    port = start_cache(relais, origin, "CacheEnable mem /\nCacheLock on\n",
                       mpm_extra=FEW_THREADS)
    rs = many(port, "/nc", 20)
    assert {r.body for r in rs} == {b"body of /nc #1\n"}
    assert origin.count("/nc") == 1


def test_client_leaving_mid_fill_releases_the_lock(relais, origin):
    origin.on("/big", headers=[("Cache-Control", "max-age=60")],
              body=b"z" * (600 * 1024), pace=0.05)
    port = start_cache(relais, origin, "CacheEnable mem /\nCacheLock on\n")
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /big HTTP/1.1\r\nHost: relais.test\r\n\r\n")
    s.recv(1000)
    s.close()  # the filler is gone: its fill is abandoned, the claim freed
    time.sleep(0.3)
    t0 = time.monotonic()
    r = get(port, "/big")
    assert r.status == 200 and r.body == b"z" * (600 * 1024)
    assert r.header("X-Cache") == "MISS"
    # not held up until CacheLockMaxAge (5 s): the claim was released
    assert time.monotonic() - t0 < 4, time.monotonic() - t0
    assert "waited CacheLockMaxAge" not in relais.error_log()
