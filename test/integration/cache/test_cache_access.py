"""The cache and the rest of the server: mod_acl applies to hits, PURGE is
refused unless allowed and can be gated with Require, the access log
field %{cache-status}n, the CacheQuickHandler Off path, mod_headers edits
applied once per answer, the configuration's errors."""
import os
import time

from helpers_cache import BUILD, get, start_cache

ACL = "LoadModule acl_module modules/mod_acl.so\n"
LOG = ("LoadModule log_module modules/mod_log.so\n")


def test_acl_applies_to_hits(relais, origin):
    origin.on("/secret", headers=[("Cache-Control", "public, max-age=600")])
    port = start_cache(relais, origin,
                       "CacheEnable mem /\n"
                       "<Location /secret>\n"
                       "    <RequireAny>\n"
                       "        Require ip 10.9.9.9\n"
                       "        Require expr \"%{HTTP:X-Let-In} == 'yes'\"\n"
                       "    </RequireAny>\n"
                       "</Location>\n", modules=ACL)
    let_in = [("X-Let-In", "yes")]
    assert get(port, "/secret", headers=let_in).status == 200
    assert get(port, "/secret", headers=let_in).header("X-Cache") == "HIT"
    # the entry is there, but 127.0.0.1 without the header may not see it
    r = get(port, "/secret")
    assert r.status == 403, r
    assert b"body of" not in r.body
    assert origin.count("/secret") == 1


def test_purge_refused_unless_allowed(relais, origin):
    origin.on("/p", headers=[("Cache-Control", "max-age=600")])
    port = start_cache(relais, origin, "CacheEnable mem /\n")
    get(port, "/p")
    assert get(port, "/p", method="PURGE").status == 405
    assert get(port, "/p").header("X-Cache") == "HIT"
    assert origin.count("/p") == 1


def test_purge(relais, origin):
    origin.on("/p", headers=[("Cache-Control", "max-age=600")])
    origin.on("/v", headers=[("Cache-Control", "max-age=600"),
                             ("Vary", "Accept-Encoding")])
    port = start_cache(relais, origin, "CacheEnable mem /\nCachePurge on\n")
    get(port, "/p")
    r = get(port, "/p", method="PURGE")
    assert r.status == 200 and b"purged 1 entry" in r.body, r
    assert get(port, "/p").header("X-Cache") == "MISS"
    assert origin.count("/p") == 2
    get(port, "/p?x=1")
    r = get(port, "/p?x=2", method="PURGE")
    assert r.status == 404 and b"nothing cached" in r.body
    assert get(port, "/p?x=1").header("X-Cache") == "HIT"
    # a Vary'd URL: the marker and each variant
    for enc in ("gzip", "br"):
        get(port, "/v", headers=[("Accept-Encoding", enc)])
    r = get(port, "/v", method="PURGE")
    assert r.status == 200 and b"purged 3 entries" in r.body, r
    assert get(port, "/v", headers=[("Accept-Encoding", "br")]) \
        .header("X-Cache") == "MISS"
    assert origin.count("/p", ) == 2 and origin.count("/p?x=2") == 0


def test_purge_behind_require(relais, origin):
    origin.on("/p", headers=[("Cache-Control", "max-age=600")])
    port = start_cache(relais, origin,
                       "CacheEnable mem /\nCachePurge on\n"
                       "<Location />\n"
                       "    <If \"%{REQUEST_METHOD} == 'PURGE'\">\n"
                       "        Require ip 10.9.9.9\n"
                       "    </If>\n"
                       "</Location>\n", modules=ACL)
    get(port, "/p")
    assert get(port, "/p", method="PURGE").status == 403
    assert get(port, "/p").header("X-Cache") == "HIT"
    assert origin.count("/p") == 1


def test_log_field_and_quick_handler_off(relais, origin):
    origin.on("/l", headers=[("Cache-Control", "max-age=600")])
    port = start_cache(relais, origin,
                       "CacheEnable mem /\nCacheQuickHandler off\n"
                       "LogFormat \"%r %>s %{cache-status}n\" c\n"
                       "CustomLog logs/access_log c\n", modules=LOG)
    assert get(port, "/l").header("X-Cache") == "MISS"
    assert get(port, "/l").header("X-Cache") == "HIT"
    get(port, "/l", method="POST", body=b"x")
    time.sleep(0.2)
    log = relais.read("logs/access_log").splitlines()
    assert log[:3] == ["GET /l HTTP/1.1 200 MISS", "GET /l HTTP/1.1 200 HIT",
                       "POST /l HTTP/1.1 200 -"], log
    assert origin.count("/l") == 1 + 1  # the POST went through


def test_headers_edits_once_per_answer(relais, origin):
    # mod_headers' edits are not stored: a hit gets them once, not twice
    origin.on("/h", headers=[("Cache-Control", "max-age=600")])
    port = start_cache(relais, origin,
                       "CacheEnable mem /\n"
                       "Header append X-Trail edited\n",
                       modules="LoadModule headers_module "
                               "modules/mod_headers.so\n")
    get(port, "/h")
    r = get(port, "/h")
    assert r.header("X-Cache") == "HIT"
    assert r.header_all("X-Trail") == ["edited"], r


def test_configuration_errors(relais, origin):
    port = 1
    relais.write_conf(
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "LoadModule cache_module modules/mod_cache.so\n"
        "Listen 127.0.0.1:%d\n"
        "ErrorLog logs/error_log\n"
        "CacheEnable floppy /\n"
        "CacheEnable disk http://elsewhere/\n"
        "CacheSocache memcache:127.0.0.1:11211\n"
        "CacheLastModifiedFactor lots\n"
        "CacheDirLevels 12\n"
        "CacheLockPath /tmp/x\n" % port)
    r = relais.run("-t")
    assert r.returncode != 0
    err = r.stderr
    for line, what in ((5, "unknown cache type 'floppy'"),
                       (6, "expected a URL-path"),
                       (7, "only shmcb is provided"),
                       (8, "expected a number"),
                       (9, "expected 1 to 8")):
        assert ":%d: " % line in err and what in err, (what, err)
    assert "CacheLockPath has no effect" in err


def test_disk_without_cache_root_is_refused(relais, origin):
    relais.write_conf(
        "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
        "LoadModule cache_module modules/mod_cache.so\n"
        "Listen 127.0.0.1:1\n"
        "ErrorLog logs/error_log\n"
        "<Location /x>\n"
        "    CacheEnable disk\n"
        "</Location>\n")
    r = relais.run("-t")
    assert r.returncode != 0
    assert "relais.conf:6: CacheEnable disk: no CacheRoot" in \
        r.stderr + relais.error_log(), r.stderr


def test_httpd_socache_configuration_runs(relais, origin):
    origin.on("/s", headers=[("Cache-Control", "max-age=600")])
    port = start_cache(relais, origin,
                       "CacheSocache shmcb\n"
                       "CacheSocacheMaxSize 102400\n"
                       "CacheSocacheMaxTime 2\n"
                       "CacheEnable socache /\n")
    get(port, "/s")
    assert get(port, "/s").header("X-Cache") == "HIT"
    time.sleep(2.2)  # CacheSocacheMaxTime caps the lifetime
    assert get(port, "/s").header("X-Cache") == "MISS"


def test_metrics_and_purge_for_other_modules(relais, origin):
    # test/testmods/mod_cache_metrics.c calls mod_cache.h's functions as
    # the status module will
    origin.on("/m", headers=[("Cache-Control", "max-age=600")])
    mod = os.path.join(BUILD, "testmods", "mod_cache_metrics.so")
    port = start_cache(relais, origin,
                       "CacheEnable mem /m\n"
                       "<Location /metrics>\n"
                       "    SetHandler cache-metrics\n"
                       "    ProxyPass !\n"
                       "</Location>\n",
                       modules="LoadModule cache_metrics_module %s\n" % mod)

    def metrics(q=""):
        r = get(port, "/metrics" + q)
        assert r.status == 200, r
        return dict((k, int(v)) for k, v in
                    (l.split() for l in r.body.decode().splitlines()))

    before = metrics()
    assert before["configured"] == 1
    get(port, "/m/a")
    get(port, "/m/a")
    get(port, "/m/b")
    m = metrics()
    assert m["hits"] - before["hits"] == 1
    assert m["misses"] - before["misses"] == 2
    assert m["stored"] - before["stored"] == 2
    assert m["bytes_served"] - before["bytes_served"] == len(b"body of /m/a #1\n")
    assert m["mem_entries"] == 2 and m["mem_capacity"] > 0
    m = metrics("?purge=http://relais.test:%d/m/" % port)
    assert m["purged"] == 2 and m["mem_entries"] == 0
    assert get(port, "/m/a").header("X-Cache") == "MISS"
