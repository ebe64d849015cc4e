"""Conditional requests and ranges: 304s answered from the cache,
revalidation of stale entries with the origin (ETag / Last-Modified), 206
and 416 cut from a stored full response, Vary variants kept apart."""
import time

import pytest

from helpers_cache import get, http_date, start_cache

MEM = "CacheEnable mem /\n"
DISK = "CacheEnable disk /\nCacheRoot @ROOT@/cache\n"
LM = http_date(time.time() - 3600)


def test_client_conditionals_get_304_from_the_cache(relais, origin):
    origin.on("/c", headers=[("Cache-Control", "max-age=60")], etag='"v1"',
              last_modified=LM)
    port = start_cache(relais, origin, MEM)
    assert get(port, "/c").status == 200
    r = get(port, "/c", headers=[("If-None-Match", '"v0", W/"v1"')])
    assert (r.status, r.header("X-Cache"), r.body) == (304, "HIT", b"")
    assert r.header("ETag") == '"v1"'
    r = get(port, "/c", headers=[("If-Modified-Since", LM)])
    assert r.status == 304
    # a non-matching tag, an older date: the whole entry
    r = get(port, "/c", headers=[("If-None-Match", '"other"')])
    assert r.status == 200 and r.body == b"body of /c #1\n"
    r = get(port, "/c", headers=[("If-Modified-Since",
                                  http_date(time.time() - 7200))])
    assert r.status == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
    r = get(port, "/c", headers=[("If-None-Match", '"other"'),
                                 ("If-Modified-Since", LM)])
    assert r.status == 200
    assert origin.count("/c") == 1


def test_conditional_miss_fills_and_answers_304(relais, origin):
    # the client's validator matches what the origin will send: the
    # origin is asked unconditionally (so the entry can be stored), the
    # client still gets its 304
    origin.on("/m", headers=[("Cache-Control", "max-age=60")], etag='"m1"')
    port = start_cache(relais, origin, MEM)
    r = get(port, "/m", headers=[("If-None-Match", '"m1"')])
    assert (r.status, r.header("X-Cache")) == (304, "MISS"), r
    assert "if-none-match" not in origin.requests("/m")[0][2]
    r = get(port, "/m")
    assert (r.status, r.header("X-Cache")) == (200, "HIT")
    assert r.body == b"body of /m #1\n"
    assert origin.count("/m") == 1


@pytest.mark.parametrize("store", ["mem", "disk"])
def test_stale_entry_revalidated_with_304(relais, origin, store):
    origin.on("/v", headers=[("Cache-Control", "max-age=1"),
                             ("X-Gen", "1")], etag='"e1"', last_modified=LM)
    port = start_cache(relais, origin, MEM if store == "mem" else DISK)
    first = get(port, "/v")
    time.sleep(1.3)
    origin.on("/v", headers=[("Cache-Control", "max-age=60"),
                             ("X-Gen", "2")], etag='"e1"', last_modified=LM)
    r = get(port, "/v")
    assert (r.status, r.header("X-Cache")) == (200, "REVALIDATED"), r
    assert r.body == first.body  # the stored body: the origin sent none
    assert r.header("X-Gen") == "2"  # the 304's fields replace ours
    sent = origin.requests("/v")[-1][2]
    assert sent.get("if-none-match") == '"e1"'
    assert sent.get("if-modified-since") == LM
    # refreshed: fresh again for the 304's max-age
    r = get(port, "/v")
    assert (r.header("X-Cache"), r.header("X-Gen")) == ("HIT", "2")
    assert origin.count("/v") == 2


def test_revalidation_with_a_conditional_client(relais, origin):
    origin.on("/vc", headers=[("Cache-Control", "max-age=1")], etag='"k"')
    port = start_cache(relais, origin, MEM)
    get(port, "/vc")
    time.sleep(1.3)
    r = get(port, "/vc", headers=[("If-None-Match", '"k"')])
    assert (r.status, r.header("X-Cache")) == (304, "REVALIDATED"), r
    assert origin.count("/vc") == 2


def test_revalidation_gets_a_new_body(relais, origin):
    origin.on("/nb", headers=[("Cache-Control", "max-age=2")],
              etag=lambda n: '"gen%d"' % n)
    port = start_cache(relais, origin, MEM)
    get(port, "/nb")
    time.sleep(2.2)
    r = get(port, "/nb")
    assert r.status == 200 and r.body == b"body of /nb #2\n"
    assert r.header("X-Cache") == "MISS"
    r = get(port, "/nb")
    assert r.header("X-Cache") == "HIT" and r.body == b"body of /nb #2\n"


def test_no_cache_response_is_revalidated_every_time(relais, origin):
    origin.on("/nc", headers=[("Cache-Control", "no-cache")], etag='"n"')
    port = start_cache(relais, origin, MEM)
    get(port, "/nc")
    for _ in range(2):
        r = get(port, "/nc")
        assert r.header("X-Cache") == "REVALIDATED" and r.status == 200
    assert origin.count("/nc") == 3


@pytest.mark.parametrize("store", ["mem", "disk"])
def test_ranges_from_a_stored_response(relais, origin, store):
    body = bytes(range(256)) * 4
    origin.on("/r", headers=[("Cache-Control", "max-age=60")], body=body,
              etag='"r"')
    port = start_cache(relais, origin, MEM if store == "mem" else DISK)
    # a Range on a miss: the origin sends it all, the client gets it all
    r = get(port, "/r", headers=[("Range", "bytes=0-9")])
    assert r.status == 200 and r.body == body
    assert "range" not in origin.requests("/r")[0][2]
    r = get(port, "/r", headers=[("Range", "bytes=10-19")])
    assert r.status == 206 and r.body == body[10:20]
    assert r.header("Content-Range") == "bytes 10-19/1024"
    r = get(port, "/r", headers=[("Range", "bytes=-5")])
    assert r.status == 206 and r.body == body[-5:]
    r = get(port, "/r", headers=[("Range", "bytes=1000-")])
    assert r.status == 206 and r.body == body[1000:]
    r = get(port, "/r", headers=[("Range", "bytes=5000-")])
    assert r.status == 416
    assert r.header("Content-Range") == "bytes */1024"
    # several ranges, or an If-Range that does not hold: the whole body
    r = get(port, "/r", headers=[("Range", "bytes=0-1,5-6")])
    assert r.status == 200 and r.body == body
    r = get(port, "/r", headers=[("Range", "bytes=0-1"),
                                 ("If-Range", '"other"')])
    assert r.status == 200 and r.body == body
    r = get(port, "/r", headers=[("Range", "bytes=0-1"), ("If-Range", '"r"')])
    assert r.status == 206 and r.body == body[:2]
    assert origin.count("/r") == 1


def test_vary_variants_are_stored_apart(relais, origin):
    origin.on("/v", headers=[("Cache-Control", "max-age=60"),
                             ("Vary", "Accept-Encoding")],
              vary_body="Accept-Encoding")
    port = start_cache(relais, origin, MEM)
    gz = [("Accept-Encoding", "gzip")]
    br = [("Accept-Encoding", "br")]
    assert get(port, "/v", headers=gz).body == b"Accept-Encoding=gzip #1\n"
    assert get(port, "/v", headers=br).body == b"Accept-Encoding=br #2\n"
    assert get(port, "/v").body == b"Accept-Encoding=- #3\n"
    for h, want in ((gz, b"Accept-Encoding=gzip #1\n"),
                    (br, b"Accept-Encoding=br #2\n"),
                    ([], b"Accept-Encoding=- #3\n"),
                    ([("Accept-Encoding", "  gzip ")],
                     b"Accept-Encoding=gzip #1\n")):
        r = get(port, "/v", headers=h)
        assert (r.header("X-Cache"), r.body) == ("HIT", want), h
    assert origin.count("/v") == 3
    # an unsafe method removes the marker and every variant
    get(port, "/v", method="POST", body=b"x")
    assert get(port, "/v", headers=gz).header("X-Cache") == "MISS"
    assert get(port, "/v", headers=br).header("X-Cache") == "MISS"


def test_vary_star_is_never_stored(relais, origin):
    origin.on("/star", headers=[("Cache-Control", "max-age=60"),
                                ("Vary", "*")])
    port = start_cache(relais, origin, MEM)
    get(port, "/star")
    assert get(port, "/star").header("X-Cache") == "MISS"
    assert origin.count("/star") == 2
