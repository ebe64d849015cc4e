"""Stale answers: CacheStaleOnError and stale-if-error when the origin is
down, stale-while-revalidate with a background refresh."""
import concurrent.futures
import time

import pytest

from helpers_cache import get, start_cache, wait_for

MEM = "CacheEnable mem /\n"


@pytest.mark.parametrize("store", ["mem", "disk"])
def test_stale_on_error_with_the_origin_stopped(relais, origin, store):
    origin.on("/s", headers=[("Cache-Control", "max-age=1")])
    conf = MEM if store == "mem" else \
        "CacheEnable disk /\nCacheRoot @ROOT@/cache\n"
    port = start_cache(relais, origin, conf + "ProxyTimeout 2\n")
    first = get(port, "/s")
    time.sleep(1.3)
    origin.stop()
    r = get(port, "/s")
    assert (r.status, r.header("X-Cache")) == (200, "STALE"), r
    assert r.body == first.body
    assert int(r.header("Age")) >= 1
    assert "answering with the stale cache entry" in relais.error_log()
    # a path never cached gets the proxy's error as before
    assert get(port, "/never").status in (502, 503)


def test_stale_on_error_off(relais, origin):
    origin.on("/s", headers=[("Cache-Control", "max-age=1")])
    port = start_cache(relais, origin, MEM + "CacheStaleOnError off\n")
    get(port, "/s")
    time.sleep(1.3)
    origin.stop()
    r = get(port, "/s")
    assert r.status in (502, 503), r


def test_stale_if_error_without_stale_on_error(relais, origin):
    origin.on("/sie", headers=[("Cache-Control",
                                "max-age=1, stale-if-error=60")])
    origin.on("/mr", headers=[("Cache-Control", "max-age=1, must-revalidate")])
    port = start_cache(relais, origin, MEM + "CacheStaleOnError off\n")
    get(port, "/sie")
    get(port, "/mr")
    time.sleep(1.3)
    origin.stop()
    assert get(port, "/sie").header("X-Cache") == "STALE"
    # must-revalidate: never served stale, not even on errors
    assert get(port, "/mr").status in (502, 503)


def test_must_revalidate_beats_stale_on_error(relais, origin):
    origin.on("/mr", headers=[("Cache-Control", "max-age=1, must-revalidate")])
    port = start_cache(relais, origin, MEM)
    get(port, "/mr")
    time.sleep(1.3)
    origin.stop()
    assert get(port, "/mr").status in (502, 503)


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_stale_while_revalidate_refreshes_in_the_background(relais, origin,
                                                            mpm):
    origin.on("/swr", headers=[("Cache-Control",
                                "max-age=1, stale-while-revalidate=30")],
              etag=lambda n: '"g%d"' % n, delay=0.0)
    port = start_cache(relais, origin, MEM, mpm=mpm)
    assert get(port, "/swr").body == b"body of /swr #1\n"
    time.sleep(1.3)
    # the refresh is slow: stale answers must not wait for it
    origin.on("/swr", headers=[("Cache-Control",
                                "max-age=60, stale-while-revalidate=30")],
              etag=lambda n: '"g%d"' % n, delay=2.0)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as ex:
        rs = list(ex.map(lambda _: get(port, "/swr"), range(10)))
    assert time.monotonic() - t0 < 1.8
    assert {r.header("X-Cache") for r in rs} == {"STALE"}
    assert {r.body for r in rs} == {b"body of /swr #1\n"}
    # exactly one refresh reached the origin, marked with our validator
    assert wait_for(lambda: origin.count("/swr") == 2, timeout=5)
    sent = origin.requests("/swr")[-1][2]
    assert sent.get("if-none-match") == '"g1"'
    assert "x-relais-cache-refresh" not in sent  # never passed on
    assert wait_for(lambda: get(port, "/swr").header("X-Cache") == "HIT",
                    timeout=5)
    r = get(port, "/swr")
    assert r.body == b"body of /swr #2\n"
    assert origin.count("/swr") == 2


def test_swr_refresh_revalidated_with_304(relais, origin):
    origin.on("/r", headers=[("Cache-Control",
                              "max-age=1, stale-while-revalidate=30"),
                             ("X-Gen", "1")], etag='"same"')
    port = start_cache(relais, origin, MEM)
    get(port, "/r")
    time.sleep(1.3)
    origin.on("/r", headers=[("Cache-Control",
                              "max-age=60, stale-while-revalidate=30"),
                             ("X-Gen", "2")], etag='"same"')
    assert get(port, "/r").header("X-Cache") == "STALE"
    assert wait_for(lambda: get(port, "/r").header("X-Gen") == "2",
                    timeout=5)
    r = get(port, "/r")
    assert (r.header("X-Cache"), r.body) == ("HIT", b"body of /r #1\n")
    assert origin.count("/r") == 2


def test_forged_refresh_marker_is_ignored(relais, origin):
    origin.on("/f", headers=[("Cache-Control", "max-age=60")])
    port = start_cache(relais, origin, MEM)
    get(port, "/f")
    r = get(port, "/f", headers=[("X-Relais-Cache-Refresh", "guess")])
    assert r.header("X-Cache") == "HIT"
    assert origin.count("/f") == 1
