"""mod_cache and the RFC 9111 storing rules, the origin's request count as
the witness: a hit leaves it alone, a miss adds one.  Each test starts
relaisd (event MPM) with mod_proxy and mod_cache in front of a counting
origin (helpers_cache.Origin)."""
import time

import pytest

from helpers_cache import get, http_date, start_cache

MEM = "CacheEnable mem /\n"


def twice(port, path, **kw):
    """Two requests; returns both responses."""
    return get(port, path, **kw), get(port, path, **kw)


def test_hit_after_miss_same_bytes_and_headers(relais, origin):
    origin.on("/a", headers=[("Cache-Control", "max-age=60"),
                             ("X-Origin", "yes"),
                             ("Content-Type", "text/x-test")])
    port = start_cache(relais, origin, MEM)
    r1, r2 = twice(port, "/a")
    assert (r1.status, r1.header("X-Cache")) == (200, "MISS"), r1
    assert (r2.status, r2.header("X-Cache")) == (200, "HIT"), r2
    assert r2.body == r1.body
    assert r2.header("X-Origin") == "yes"
    assert r2.header("Content-Type") == "text/x-test"
    assert r2.header("Content-Length") == str(len(r1.body))
    assert origin.count("/a") == 1


def test_age_counts_upstream_age_and_residence(relais, origin):
    # RFC 9111 §4.2.3: the upstream's Age (10) plus the time it spent here
    origin.on("/aged", headers=[("Cache-Control", "max-age=100"),
                                ("Age", "10")])
    port = start_cache(relais, origin, MEM)
    get(port, "/aged")
    r = get(port, "/aged")
    assert r.header("X-Cache") == "HIT"
    assert 10 <= int(r.header("Age")) <= 11, r
    time.sleep(1.2)
    r = get(port, "/aged")
    assert 11 <= int(r.header("Age")) <= 13, r
    assert origin.count("/aged") == 1


def test_age_from_an_old_date(relais, origin):
    # apparent age: the origin's Date is 30 s old (no Age header)
    origin.on("/old", headers=lambda n: [
        ("Cache-Control", "max-age=100"), ("Date", http_date(time.time() - 30))])
    port = start_cache(relais, origin, MEM)
    get(port, "/old")
    r = get(port, "/old")
    assert r.header("X-Cache") == "HIT"
    assert 29 <= int(r.header("Age")) <= 32, r


# Lifetimes here are 2 s, not 1: Date has whole seconds, so an answer
# may be up to a second old on arrival (RFC 9111's apparent age).


def test_expiry_goes_back_to_the_origin(relais, origin):
    origin.on("/short", headers=[("Cache-Control", "max-age=2")])
    port = start_cache(relais, origin, MEM)
    get(port, "/short")
    assert get(port, "/short").header("X-Cache") == "HIT"
    time.sleep(2.2)
    r = get(port, "/short")
    assert r.header("X-Cache") == "MISS"
    assert r.body == b"body of /short #2\n"
    assert origin.count("/short") == 2


@pytest.mark.parametrize("cc,why", [
    ("no-store", "no-store"),
    ("private, max-age=60", "private"),
])
def test_response_directives_that_forbid_storing(relais, origin, cc, why):
    origin.on("/x", headers=[("Cache-Control", cc)])
    port = start_cache(relais, origin, MEM + "CacheDetailHeader on\n")
    r1, r2 = twice(port, "/x")
    assert r2.header("X-Cache") == "MISS", r2
    assert why in r1.header("X-Cache-Detail")
    assert origin.count("/x") == 2


def test_store_private_and_no_store_when_told(relais, origin):
    origin.on("/p", headers=[("Cache-Control", "private, max-age=60")])
    origin.on("/n", headers=[("Cache-Control", "no-store, max-age=60")])
    port = start_cache(relais, origin, MEM + "CacheStorePrivate on\n"
                       "CacheStoreNoStore on\n")
    for path in ("/p", "/n"):
        r1, r2 = twice(port, path)
        assert r2.header("X-Cache") == "HIT", (path, r2)
        assert origin.count(path) == 1


def test_set_cookie_is_not_stored_by_default(relais, origin):
    origin.on("/c", headers=[("Cache-Control", "max-age=60"),
                             ("Set-Cookie", "sid=secret")])
    port = start_cache(relais, origin, MEM)
    r1, r2 = twice(port, "/c")
    assert r1.header("Set-Cookie") == "sid=secret"
    assert r2.header("X-Cache") == "MISS"
    assert origin.count("/c") == 2


def test_set_cookie_ignored_stores_the_rest(relais, origin):
    origin.on("/c", headers=[("Cache-Control", "max-age=60"),
                             ("Set-Cookie", "sid=secret"),
                             ("X-Kept", "1")])
    port = start_cache(relais, origin,
                       MEM + "CacheIgnoreHeaders Set-Cookie X-Other\n")
    r1, r2 = twice(port, "/c")
    assert r1.header("Set-Cookie") == "sid=secret"  # the filler gets it
    assert r2.header("X-Cache") == "HIT"
    assert r2.header("Set-Cookie") is None  # nobody else does
    assert r2.header("X-Kept") == "1"
    assert origin.count("/c") == 1


def test_authorization_rules(relais, origin):
    # RFC 9111 §3.5: with Authorization, only public / s-maxage /
    # must-revalidate responses are stored and reused
    origin.on("/plain", headers=[("Cache-Control", "max-age=60")])
    origin.on("/pub", headers=[("Cache-Control", "public, max-age=60")])
    port = start_cache(relais, origin, MEM)
    auth = [("Authorization", "Basic dTpw")]
    r1, r2 = twice(port, "/plain", headers=auth)
    assert r2.header("X-Cache") == "MISS"
    assert origin.count("/plain") == 2
    r1, r2 = twice(port, "/pub", headers=auth)
    assert r2.header("X-Cache") == "HIT"
    assert origin.count("/pub") == 1
    # an entry stored without Authorization is not handed to a request
    # with it unless the response allowed it
    get(port, "/plain")
    assert get(port, "/plain").header("X-Cache") == "HIT"
    n = origin.count("/plain")
    assert get(port, "/plain", headers=auth).header("X-Cache") == "MISS"
    assert origin.count("/plain") == n + 1


def test_s_maxage_wins_over_max_age(relais, origin):
    origin.on("/s", headers=[("Cache-Control", "max-age=0, s-maxage=60")])
    port = start_cache(relais, origin, MEM)
    r1, r2 = twice(port, "/s")
    assert r2.header("X-Cache") == "HIT"
    assert origin.count("/s") == 1


def test_expires_and_an_invalid_expires(relais, origin):
    origin.on("/e", headers=lambda n: [("Expires",
                                        http_date(time.time() + 60))])
    origin.on("/bad", headers=[("Expires", "0")], etag='"b"')
    port = start_cache(relais, origin, MEM)
    twice(port, "/e")
    assert origin.count("/e") == 1
    # "Expires: 0" means already expired: stored only to revalidate
    r1, r2 = twice(port, "/bad")
    assert origin.count("/bad") == 2
    assert r2.header("X-Cache") == "REVALIDATED"


def test_heuristic_freshness_from_last_modified(relais, origin):
    # modified 10 days ago: 10% of that is a day, CacheMaxExpire caps it
    lm = http_date(time.time() - 10 * 86400)
    origin.on("/h", last_modified=lm)
    port = start_cache(relais, origin, MEM + "CacheMaxExpire 2\n")
    r1, r2 = twice(port, "/h")
    assert r2.header("X-Cache") == "HIT"
    time.sleep(2.2)  # past CacheMaxExpire: revalidated (If-Modified-Since)
    r3 = get(port, "/h")
    assert r3.header("X-Cache") == "REVALIDATED", r3
    last = origin.requests("/h")[-1][2]
    assert last.get("if-modified-since") == lm


def test_last_modified_factor(relais, origin):
    # modified 20 s ago, factor 0.1: fresh for 2 s
    origin.on("/f", headers=lambda n: [("Last-Modified",
                                        http_date(time.time() - 20))])
    port = start_cache(relais, origin, MEM + "CacheLastModifiedFactor 0.1\n")
    get(port, "/f")
    assert get(port, "/f").header("X-Cache") == "HIT"
    time.sleep(2.2)
    assert get(port, "/f").header("X-Cache") != "HIT"
    assert origin.count("/f") == 2


def test_no_validator_no_expiry_needs_ignore_no_last_mod(relais, origin):
    origin.on("/bare")
    port = start_cache(relais, origin, MEM)
    twice(port, "/bare")
    assert origin.count("/bare") == 2
    relais.stop()
    port = start_cache(relais, origin, MEM + "CacheIgnoreNoLastMod On\n"
                       "CacheDefaultExpire 60\n")
    r1, r2 = twice(port, "/bare")
    assert r2.header("X-Cache") == "HIT"
    assert origin.count("/bare") == 3


def test_max_expire_caps_explicit_lifetimes(relais, origin):
    origin.on("/cap", headers=[("Cache-Control", "max-age=3600")])
    port = start_cache(relais, origin, MEM + "CacheMaxExpire 2\n")
    twice(port, "/cap")
    assert origin.count("/cap") == 1
    time.sleep(2.2)
    assert get(port, "/cap").header("X-Cache") == "MISS"
    assert origin.count("/cap") == 2


def test_statuses(relais, origin):
    origin.on("/404", status=404, headers=[("Cache-Control", "max-age=60")])
    origin.on("/500", status=500, headers=[("Cache-Control", "max-age=60")])
    origin.on("/302", status=302, headers=[("Location", "/a")])
    origin.on("/302e", status=302, headers=[("Location", "/a"),
                                            ("Cache-Control", "max-age=60")])
    origin.on("/301", status=301, headers=[("Location", "/a"),
                                           ("Last-Modified",
                                            http_date(time.time() - 86400))])
    port = start_cache(relais, origin, MEM)
    for path, stored in (("/404", True), ("/500", False), ("/302", False),
                         ("/302e", True), ("/301", True)):
        r1, r2 = twice(port, path)
        assert r2.status == r1.status
        assert origin.count(path) == (1 if stored else 2), path


def test_request_directives(relais, origin):
    origin.on("/r", headers=[("Cache-Control", "max-age=60")])
    port = start_cache(relais, origin, MEM)
    # only-if-cached on a miss: 504, the origin never asked
    assert get(port, "/r", headers=[("Cache-Control",
                                     "only-if-cached")]).status == 504
    assert origin.count("/r") == 0
    get(port, "/r")
    assert get(port, "/r", headers=[("Cache-Control",
                                     "only-if-cached")]).status == 200
    # no-cache and max-age=0: back to the origin; Pragma too
    for h in (("Cache-Control", "no-cache"), ("Cache-Control", "max-age=0"),
              ("Pragma", "no-cache")):
        n = origin.count("/r")
        assert get(port, "/r", headers=[h]).header("X-Cache") == "MISS"
        assert origin.count("/r") == n + 1, h
    # no-store: not stored from this request, but a stored one may answer
    r = get(port, "/r", headers=[("Cache-Control", "no-store")])
    assert r.header("X-Cache") == "HIT"


def test_ignore_cache_control_serves_hits_anyway(relais, origin):
    origin.on("/i", headers=[("Cache-Control", "max-age=60")])
    port = start_cache(relais, origin, MEM + "CacheIgnoreCacheControl On\n")
    get(port, "/i")
    r = get(port, "/i", headers=[("Cache-Control", "no-cache")])
    assert r.header("X-Cache") == "HIT"
    assert origin.count("/i") == 1


def test_head_and_query_strings(relais, origin):
    origin.on("/q", headers=[("Cache-Control", "max-age=60")])
    port = start_cache(relais, origin, MEM)
    # a HEAD miss is passed through and stores nothing
    r = get(port, "/q", method="HEAD")
    assert r.status == 200 and r.header("X-Cache") == "BYPASS"
    get(port, "/q?a=1")
    get(port, "/q?a=2")
    r = get(port, "/q?a=1")
    assert r.header("X-Cache") == "HIT" and r.body == b"body of /q?a=1 #1\n"
    r = get(port, "/q?a=1", method="HEAD")
    assert r.header("X-Cache") == "HIT"
    assert r.header("Content-Length") == str(len(b"body of /q?a=1 #1\n"))
    assert origin.count("/q?a=1") == 1 and origin.count("/q?a=2") == 1


def test_ignore_query_string(relais, origin):
    origin.on("/q", headers=[("Cache-Control", "max-age=60")])
    port = start_cache(relais, origin, MEM + "CacheIgnoreQueryString On\n")
    get(port, "/q?a=1")
    r = get(port, "/q?a=2")
    assert r.header("X-Cache") == "HIT" and r.body == b"body of /q?a=1 #1\n"


def test_enable_paths_and_disable(relais, origin):
    origin.on("/", headers=[("Cache-Control", "max-age=60")])
    port = start_cache(relais, origin,
                       "CacheEnable mem /static\n"
                       "CacheDisable /static/live\n"
                       "<Location /loc>\n    CacheEnable disk\n</Location>\n"
                       "<Location /loc/off>\n    CacheDisable on\n"
                       "</Location>\n"
                       "CacheRoot @ROOT@/cache\n")
    for path, cached in (("/static/a", True), ("/static/live/b", False),
                         ("/statics", False), ("/static/lively", True),
                         ("/other", False), ("/loc/c", True),
                         ("/loc/off/d", False)):
        r1, r2 = twice(port, path)
        assert origin.count(path) == (1 if cached else 2), path
        assert (r2.header("X-Cache") == "HIT") == cached, (path, r2)


def test_chunked_response_is_stored(relais, origin):
    body = bytes(range(256)) * 40
    origin.on("/ch", headers=[("Cache-Control", "max-age=60")], body=body,
              chunked=True)
    port = start_cache(relais, origin, MEM)
    r1, r2 = twice(port, "/ch")
    assert r1.body == body
    assert r2.header("X-Cache") == "HIT" and r2.body == body
    assert r2.header("Content-Length") == str(len(body))


def test_max_and_min_file_size(relais, origin):
    origin.on("/big", headers=[("Cache-Control", "max-age=60")],
              body=b"x" * 5000)
    origin.on("/big/chunked", headers=[("Cache-Control", "max-age=60")],
              body=b"y" * 5000, chunked=True)
    origin.on("/tiny", headers=[("Cache-Control", "max-age=60")], body=b"t")
    port = start_cache(relais, origin, MEM + "CacheMaxFileSize 4000\n"
                       "CacheMinFileSize 2\n")
    for path in ("/big", "/big/chunked", "/tiny"):
        r1, r2 = twice(port, path)
        assert r2.status == 200 and r2.body == r1.body
        assert origin.count(path) == 2, path


def test_unsafe_methods_invalidate(relais, origin):
    origin.on("/doc", headers=[("Cache-Control", "max-age=60")])
    origin.on("/other", headers=[("Cache-Control", "max-age=60")])
    origin.on("/form", status=303, headers=[("Location", "/other")])
    origin.on("/fail", status=500)
    port = start_cache(relais, origin, MEM)
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        get(port, "/doc")
        assert get(port, "/doc").header("X-Cache") == "HIT"
        r = get(port, "/doc", method=method, body=b"x")
        assert r.status == 200
        assert get(port, "/doc").header("X-Cache") == "MISS", method
    # a POST elsewhere whose Location names /other invalidates it too
    get(port, "/other")
    assert get(port, "/other").header("X-Cache") == "HIT"
    get(port, "/form", method="POST", body=b"x")
    assert get(port, "/other").header("X-Cache") == "MISS"
    # an error answer invalidates nothing
    origin.on("/doc", status=500)
    get(port, "/doc", method="DELETE")
    assert get(port, "/doc").header("X-Cache") == "HIT"


def test_per_vhost_enable_and_keys(relais, origin):
    # a.test caches, b.test does not; the same path on two hosts is two
    # entries (the key holds the host)
    origin.on("/", headers=[("Cache-Control", "max-age=60")])
    port = start_cache(relais, origin,
                       "<VirtualHost *:@PORT@>\n"
                       "    ServerName a.test\n"
                       "    ServerAlias c.test\n"
                       "    CacheEnable mem /\n"
                       "</VirtualHost>\n"
                       "<VirtualHost *:@PORT@>\n"
                       "    ServerName b.test\n"
                       "</VirtualHost>\n")
    for _ in range(2):
        get(port, "/page", host="a.test")
        get(port, "/page", host="b.test")
    assert origin.count("/page") == 3  # a once, b twice
    r = get(port, "/page", host="c.test")
    assert r.header("X-Cache") == "MISS"
    assert get(port, "/page", host="A.test").header("X-Cache") == "HIT"
    assert origin.count("/page") == 4
