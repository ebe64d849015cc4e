/*
 * cache_mem_test.c: unit tests of mod_cache's memory store
 * (modules/cache/cache_mem.c) through its cache_store_ops_t: store, hit
 * and release; an entry replaced or removed while pinned; LRU eviction
 * order; limits; PURGE by prefix; metadata updates; sharing with forked
 * processes; what dead processes leave (fills, pins, the lock, a
 * half-done commit, a damaged arena); the segment kept by the next
 * generation; and 10,000 random operations checked against a model, with
 * the segment's invariants walked after each one.
 *
 * The source file is included, not linked, so that the tests can walk the
 * segment and reach its lock.  mod_cache.c, which defines cache_module, is
 * not part of this program: a record of the same name stands in for it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "core.h"

#include "../../modules/cache/cache_mem.c"

RL_DECLARE_DATA rl_module_t cache_module = {
    .magic = RL_MODULE_MAGIC, .name = "cache", .index = -1};

static apr_pool_t *pglobal; /* the whole run */
static apr_pool_t *pconf;   /* one test */
static rl_server_t server;  /* the main server, quiet */

#define KiB 1024

/* ------------------------------------------------------------------ */
/* Fixtures and helpers                                               */
/* ------------------------------------------------------------------ */

static int group_setup(void **state)
{
    (void)state;
    if (apr_initialize() != APR_SUCCESS ||
        apr_pool_create(&pglobal, NULL) != APR_SUCCESS) {
        return -1;
    }
    memset(&rl_proc, 0, sizeof(rl_proc));
    rl_proc.pglobal = pglobal;
    memset(&server, 0, sizeof(server));
    /* the crash tests make warnings and errors on purpose */
    server.log_level = getenv("CMT_LOG") ? RL_LOG_WARNING : RL_LOG_EMERG;
    rl_proc.main_server = &server;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    apr_pool_destroy(pglobal);
    apr_terminate();
    return 0;
}

static int test_setup(void **state)
{
    (void)state;
    apr_pool_create(&pconf, pglobal);
    /* a fresh process: nothing retained from an earlier test */
    rl_retained_data_create(CM_RETAINED_KEY, sizeof(cm_retained_t));
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    apr_pool_destroy(pconf);
    return 0;
}

static cache_store_t *mk(apr_off_t size, apr_off_t max_file)
{
    cache_store_conf_t conf;
    cache_store_t *s;

    memset(&conf, 0, sizeof(conf));
    conf.size = size;
    conf.max_file_size = max_file;
    s = cache_mem_create(pconf, &conf);
    assert_non_null(s);
    assert_string_equal(s->ops->name, "mem");
    return s;
}

static cm_seg_t *seg(cache_store_t *s)
{
    return ((cm_store_t *)s->data)->sg;
}

/* Body byte i of version v: every version's bytes differ. */
static char body_byte(unsigned v, apr_size_t i)
{
    return (char)((v * 131u + i * 7u + (i >> 8)) & 0xff);
}

/* Bytes [from, from + n) of version v into dst. */
static void gen(char *dst, unsigned v, apr_size_t from, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        dst[i] = body_byte(v, from + i);
    }
}

static char *make_body(unsigned v, apr_size_t len)
{
    char *b = apr_palloc(pconf, len + 1);

    gen(b, v, 0, len);
    return b;
}

static int body_is(const char *b, unsigned v, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (b[i] != body_byte(v, i)) {
            return 0;
        }
    }
    return 1;
}

static cache_meta_t meta_of(int status, const char *headers, const char *vary)
{
    cache_meta_t m;

    memset(&m, 0, sizeof(m));
    m.status = status;
    m.request_time = 1000000;
    m.response_time = 2000000;
    m.expires = 3000000 + status;
    m.stale_until = 4000000;
    m.headers = headers;
    m.headers_len = headers ? strlen(headers) : 0;
    m.vary = vary;
    return m;
}

/* Stores key with version v of len bytes in chunks of chunk bytes (0: one
 * write), its length told in advance unless unknown; 0 or -1. */
static int store_ex(cache_store_t *s, const char *key, unsigned v,
                    apr_size_t len, const char *headers, int unknown,
                    apr_size_t chunk)
{
    static char b[256 * KiB];
    cache_meta_t m = meta_of(200, headers, NULL);
    cache_fill_t *f;
    apr_size_t at = 0;

    assert_true(len <= sizeof(b));
    gen(b, v, 0, len);
    m.body_len = (apr_off_t)len;
    f = s->ops->fill_begin(s, key, &m, unknown ? -1 : (apr_off_t)len);
    if (f == NULL) {
        return -1;
    }
    while (at < len) {
        apr_size_t n = chunk == 0 || len - at < chunk ? len - at : chunk;

        if (s->ops->fill_write(f, b + at, n) != 0) {
            s->ops->fill_abort(f);
            return -1;
        }
        at += n;
    }
    return s->ops->fill_commit(f);
}

static int store(cache_store_t *s, const char *key, unsigned v, apr_size_t len)
{
    return store_ex(s, key, v, len, "Content-Type: text/plain\r\n", 0, 0);
}

/* Whether key is there (without pinning it). */
static int present(cache_store_t *s, const char *key)
{
    cm_seg_t *sg = seg(s);
    int found;

    assert_int_equal(seg_lock(sg), 0);
    found = ent_find(sg, key_hash(sg, key, strlen(key)), key, strlen(key)) != 0;
    seg_unlock(sg);
    return found;
}

/* Looks key up and releases it at once; 1 when its body is version v. */
static int holds(cache_store_t *s, const char *key, unsigned v, apr_size_t len)
{
    cache_hit_t hit;
    int ok;

    if (!s->ops->lookup(s, key, pconf, &hit)) {
        return 0;
    }
    ok = hit.meta.body_len == (apr_off_t)len && body_is(hit.body, v, len);
    s->ops->release(s, &hit);
    return ok;
}

static apr_uint64_t count_state(cm_seg_t *sg, apr_uint32_t state,
                                apr_uint32_t pid)
{
    apr_uint64_t n = 0;
    cm_off_t pos;

    for (pos = sg->arena_off; pos < sg->arena_end;
         pos += CM_BLK(sg, pos)->size) {
        if (CM_BLK(sg, pos)->state == state &&
            (pid == 0 || CM_BLK(sg, pos)->pid == pid)) {
            n++;
        }
    }
    return n;
}

static apr_uint64_t free_bytes(cm_seg_t *sg)
{
    apr_uint64_t n = 0;
    cm_off_t pos;

    for (pos = sg->arena_off; pos < sg->arena_end;
         pos += CM_BLK(sg, pos)->size) {
        if (CM_BLK(sg, pos)->state == CM_FREE) {
            n += CM_BLK(sg, pos)->size;
        }
    }
    return n;
}

/* Everything that must hold between two operations; with fills open,
 * their blocks are the only CM_FILL ones. */
static void check_invariants(cache_store_t *s, int fills_open)
{
    cm_seg_t *sg = seg(s);
    cm_pin_t *t = CM_PINS(sg);
    apr_uint64_t prev = 0, nfree = 0, nlive = 0, bytes = 0, nlist = 0;
    apr_uint64_t nfill = 0;
    cm_off_t pos, o, last;
    apr_uint32_t i, used = 0;
    unsigned c;

    assert_int_equal(seg_lock(sg), 0);
    /* the walk: sizes, prev sizes, no two free blocks side by side */
    for (pos = sg->arena_off; pos < sg->arena_end;
         pos += CM_BLK(sg, pos)->size) {
        cm_blk_t *b = CM_BLK(sg, pos);

        assert_true(b->size >= CM_ALIGN && b->size % CM_ALIGN == 0);
        assert_true(b->size <= sg->arena_end - pos);
        assert_true(b->prev_size == prev);
        if (b->state == CM_FREE) {
            assert_false(pos + b->size < sg->arena_end &&
                         CM_BLK(sg, pos + b->size)->state == CM_FREE);
            nfree++;
        } else if (b->state == CM_FILL) {
            nfill++;
        } else {
            cm_ent_t *e = CM_ENT(sg, pos);
            apr_uint32_t pins = 0;

            assert_int_equal(b->state, CM_ENTRY);
            assert_true(ent_sane(e));
            for (i = 0; i < sg->npins; i++) {
                if (t[i].ent == pos) {
                    pins += t[i].count;
                }
            }
            assert_int_equal(e->pins, pins);
            if (e->flags & CM_DEAD) {
                assert_true(e->pins > 0); /* else it would be free */
                assert_int_not_equal(
                    ent_find(sg, e->hash, CM_KEY(e), e->key_len), pos);
            } else {
                assert_int_equal(ent_find(sg, e->hash, CM_KEY(e), e->key_len),
                                 pos);
                assert_int_equal(e->hash, key_hash(sg, CM_KEY(e), e->key_len));
                nlive++;
                bytes += b->size;
            }
        }
        prev = b->size;
    }
    assert_int_equal(pos, sg->arena_end);
    assert_true(nfill <= (apr_uint64_t)fills_open);
    /* the list of fills holds them all */
    last = 0;
    for (o = sg->fill_head; o != 0; o = CM_BLK(sg, o)->fnext) {
        assert_int_equal(CM_BLK(sg, o)->state, CM_FILL);
        assert_int_equal(CM_BLK(sg, o)->fprev, last);
        last = o;
        nlist++;
    }
    assert_int_equal(nlist, nfill);
    nlist = 0;
    assert_int_equal(sg->entries, nlive);
    assert_int_equal(sg->bytes, bytes);
    /* free lists: each block free, of its class, linked both ways */
    for (c = 0; c < CM_CLASSES; c++) {
        assert_int_equal((sg->free_map >> c) & 1, sg->free_head[c] != 0);
        last = 0;
        for (o = sg->free_head[c]; o != 0; o = CM_BLK(sg, o)->fnext) {
            assert_int_equal(CM_BLK(sg, o)->state, CM_FREE);
            assert_int_equal(size_class(CM_BLK(sg, o)->size), c);
            assert_int_equal(CM_BLK(sg, o)->fprev, last);
            last = o;
            nlist++;
        }
    }
    assert_int_equal(nlist, nfree);
    /* the LRU list holds the live entries, linked both ways */
    nlist = 0;
    last = 0;
    for (o = sg->lru_head; o != 0; o = CM_ENT(sg, o)->lru_next) {
        assert_int_equal(CM_ENT(sg, o)->lru_prev, last);
        assert_false(CM_ENT(sg, o)->flags & CM_DEAD);
        last = o;
        nlist++;
    }
    assert_int_equal(sg->lru_tail, last);
    assert_int_equal(nlist, nlive);
    /* the pin table: counts above 0, each record found from its home */
    for (i = 0; i < sg->npins; i++) {
        if (t[i].ent != 0) {
            used++;
            assert_true(t[i].count > 0);
            assert_ptr_equal(pin_find(sg, t[i].ent, t[i].pid, 0), &t[i]);
        }
    }
    assert_int_equal(sg->pins_used, used);
    seg_unlock(sg);
}

static pid_t wait_child(pid_t pid)
{
    int status;

    assert_true(waitpid(pid, &status, 0) == pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* ------------------------------------------------------------------ */
/* Tests                                                              */
/* ------------------------------------------------------------------ */

static void store_lookup_release(void **state)
{
    cache_store_t *s = mk(256 * KiB, 0);
    cm_seg_t *sg = seg(s);
    cache_meta_t m =
        meta_of(301, "Location: /b\r\nX: y\r\n", "Accept-Encoding");
    cache_store_stats_t stats;
    cache_fill_t *f;
    cache_hit_t hit;

    (void)state;
    assert_false(s->ops->lookup(s, "http://h:80/a", pconf, &hit));
    f = s->ops->fill_begin(s, "http://h:80/a", &m, 5);
    assert_non_null(f);
    /* not visible before the commit */
    assert_false(s->ops->lookup(s, "http://h:80/a", pconf, &hit));
    assert_int_equal(s->ops->fill_write(f, "hel", 3), 0);
    assert_int_equal(s->ops->fill_write(f, "lo", 2), 0);
    check_invariants(s, 1);
    assert_int_equal(s->ops->fill_commit(f), 0);

    assert_true(s->ops->lookup(s, "http://h:80/a", pconf, &hit));
    assert_int_equal(hit.meta.status, 301);
    assert_true(hit.meta.request_time == 1000000);
    assert_true(hit.meta.response_time == 2000000);
    assert_true(hit.meta.expires == 3000301);
    assert_true(hit.meta.stale_until == 4000000);
    assert_true(hit.meta.body_len == 5);
    assert_memory_equal(hit.body, "hello", 5);
    assert_int_equal(hit.meta.headers_len, strlen(m.headers));
    assert_memory_equal(hit.meta.headers, m.headers, hit.meta.headers_len);
    assert_string_equal(hit.meta.vary, "Accept-Encoding");
    assert_int_equal(hit.fd, -1);
    /* zero-copy: the body is in the segment */
    assert_true(hit.body > (char *)sg && hit.body < CM_AT(sg, sg->arena_end));
    assert_int_equal(CM_ENT(sg, CM_OFF(sg, hit.handle))->pins, 1);
    check_invariants(s, 0);
    s->ops->release(s, &hit);
    assert_int_equal(CM_ENT(sg, sg->lru_head)->pins, 0);

    /* another key, no Vary, an empty body, no headers */
    m = meta_of(204, NULL, NULL);
    f = s->ops->fill_begin(s, "http://h:80/a?x", &m, 0);
    assert_non_null(f);
    assert_int_equal(s->ops->fill_commit(f), 0);
    assert_true(s->ops->lookup(s, "http://h:80/a?x", pconf, &hit));
    assert_null(hit.meta.vary);
    assert_true(hit.meta.body_len == 0);
    assert_int_equal(hit.meta.headers_len, 0);
    s->ops->release(s, &hit);
    /* a prefix of a key is another key */
    assert_false(s->ops->lookup(s, "http://h:80/", pconf, &hit));

    s->ops->stats(s, &stats);
    assert_true(stats.entries == 2);
    assert_true(stats.stored == 2);
    assert_true(stats.capacity == sg->arena_end - sg->arena_off);
    assert_true(stats.bytes > 0 && stats.bytes < 2 * KiB);
    assert_true(stats.evicted == 0 && stats.removed == 0);
    check_invariants(s, 0);
}

static void replace_while_pinned(void **state)
{
    cache_store_t *s = mk(256 * KiB, 0);
    cm_seg_t *sg = seg(s);
    cache_hit_t h1, h2, h3;
    apr_uint64_t before;

    (void)state;
    assert_int_equal(store_ex(s, "k", 1, 3000, "V: 1\r\n", 0, 0), 0);
    assert_true(s->ops->lookup(s, "k", pconf, &h1));
    assert_true(s->ops->lookup(s, "k", pconf, &h3)); /* twice */
    assert_int_equal(store_ex(s, "k", 2, 5000, "V: 2\r\n", 0, 0), 0);
    check_invariants(s, 0);
    /* the old one is still whole for those who hold it */
    assert_true(body_is(h1.body, 1, 3000));
    assert_memory_equal(h1.meta.headers, "V: 1\r\n", 6);
    assert_true(s->ops->lookup(s, "k", pconf, &h2));
    assert_true(h2.meta.body_len == 5000 && body_is(h2.body, 2, 5000));
    assert_memory_equal(h2.meta.headers, "V: 2\r\n", 6);
    assert_int_equal(count_state(sg, CM_ENTRY, 0), 2);
    assert_true(sg->entries == 1);

    s->ops->release(s, &h1);
    assert_int_equal(count_state(sg, CM_ENTRY, 0), 2);
    assert_true(body_is(h3.body, 1, 3000));
    before = free_bytes(sg);
    s->ops->release(s, &h3); /* the last one: freed */
    assert_int_equal(count_state(sg, CM_ENTRY, 0), 1);
    assert_true(free_bytes(sg) > before + 3000);
    check_invariants(s, 0);
    s->ops->release(s, &h2);
    check_invariants(s, 0);
}

static void lru_eviction_order(void **state)
{
    cache_store_t *s = mk(256 * KiB, 0);
    cache_store_stats_t st;
    char key[32];
    int n, i, first_missing;

    (void)state;
    /* equal sizes until the first eviction: it must be the oldest */
    for (n = 0;; n++) {
        snprintf(key, sizeof(key), "k%d", n);
        assert_int_equal(store(s, key, (unsigned)n, 4000), 0);
        s->ops->stats(s, &st);
        if (st.evicted > 0) {
            break;
        }
        assert_true(n < 100);
    }
    assert_true(st.evicted == 1);
    assert_false(present(s, "k0"));
    for (i = 1; i <= n; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_true(present(s, key));
    }
    /* k1 is used: k2, k3 … go before it */
    assert_true(holds(s, "k1", 1, 4000));
    for (i = 0; i < 3; i++) {
        snprintf(key, sizeof(key), "n%d", i);
        assert_int_equal(store(s, key, 100u + (unsigned)i, 4000), 0);
    }
    s->ops->stats(s, &st);
    assert_true(st.evicted == 4);
    assert_true(present(s, "k1"));
    assert_false(present(s, "k2"));
    assert_false(present(s, "k3"));
    assert_false(present(s, "k4"));
    assert_true(present(s, "k5"));
    /* the rest follow in order of use */
    for (first_missing = 5; first_missing <= n; first_missing++) {
        snprintf(key, sizeof(key), "n%d", first_missing);
        assert_int_equal(store(s, key, (unsigned)first_missing, 4000), 0);
        snprintf(key, sizeof(key), "k%d", first_missing);
        assert_false(present(s, key));
        if (first_missing < n) {
            snprintf(key, sizeof(key), "k%d", first_missing + 1);
            assert_true(present(s, key));
        }
    }
    /* then the one that was used */
    assert_true(present(s, "k1"));
    assert_int_equal(store(s, "last", 1, 4000), 0);
    assert_false(present(s, "k1"));
    assert_true(present(s, "n0"));
    check_invariants(s, 0);
}

static void too_big_refused(void **state)
{
    cache_store_t *s = mk(256 * KiB, 10000);
    cm_store_t *st = s->data;
    cm_seg_t *sg = seg(s);
    cache_meta_t m = meta_of(200, "A: b\r\n", NULL);
    apr_uint64_t arena = sg->arena_end - sg->arena_off;
    cache_fill_t *f;
    char *big = make_body(7, 64 * KiB);

    (void)state;
    assert_true(st->max_block == arena / 8 / CM_ALIGN * CM_ALIGN);
    /* CacheMaxFileSize, told in advance or found while writing */
    assert_null(s->ops->fill_begin(s, "k", &m, 10001));
    assert_int_equal(store(s, "k", 1, 10000), 0);
    f = s->ops->fill_begin(s, "k2", &m, -1);
    assert_non_null(f);
    assert_int_equal(s->ops->fill_write(f, big, 6000), 0);
    assert_int_equal(s->ops->fill_write(f, big, 4001), -1);
    assert_int_equal(s->ops->fill_write(f, big, 1), -1); /* stays failed */
    s->ops->fill_abort(f);
    /* a length that lied: more than announced, past the limit */
    f = s->ops->fill_begin(s, "k3", &m, 100);
    assert_non_null(f);
    assert_int_equal(s->ops->fill_write(f, big, 9000), 0);
    assert_int_equal(s->ops->fill_write(f, big, 1001), -1);
    s->ops->fill_abort(f);
    /* and fewer than announced: not stored */
    f = s->ops->fill_begin(s, "k4", &m, 100);
    assert_non_null(f);
    assert_int_equal(s->ops->fill_write(f, big, 99), 0);
    assert_int_equal(s->ops->fill_commit(f), -1);
    assert_false(present(s, "k2") || present(s, "k3") || present(s, "k4"));
    assert_int_equal(count_state(sg, CM_FILL, 0), 0);
    check_invariants(s, 0);

    /* 1/8 of the arena, with CacheMaxFileSize out of the way */
    s = mk(256 * KiB, 1024 * 1024);
    st = s->data;
    sg = seg(s);
    assert_null(s->ops->fill_begin(s, "k", &m, (apr_off_t)st->max_block));
    assert_int_equal(store(s, "k", 2, st->max_block - CM_ENT_HDR - 100), 0);
    assert_true(holds(s, "k", 2, st->max_block - CM_ENT_HDR - 100));
    assert_int_equal(store_ex(s, "u", 3, st->max_block - CM_ENT_HDR - 100,
                              "A: b\r\n", 1, 1000),
                     0);
    assert_true(holds(s, "u", 3, st->max_block - CM_ENT_HDR - 100));
    assert_int_equal(store_ex(s, "v", 3, st->max_block, "A: b\r\n", 1, 1000),
                     -1);
    assert_false(present(s, "v"));
    /* a key or header block that alone is too big */
    m.headers = big;
    m.headers_len = st->max_block;
    assert_null(s->ops->fill_begin(s, "w", &m, 0));
    assert_null(s->ops->fill_begin(s, "w", &m, -1));
    check_invariants(s, 0);
    /* the smallest store there is, and a size below it */
    s = mk(CM_SIZE_MIN, 0);
    assert_int_equal(store(s, "k", 1, 100), 0);
    {
        cache_store_conf_t conf;

        memset(&conf, 0, sizeof(conf));
        conf.size = CM_SIZE_MIN - 1;
        assert_null(cache_mem_create(pconf, &conf));
    }
}

static void prefix_remove(void **state)
{
    cache_store_t *s = mk(256 * KiB, 0);
    cache_store_stats_t st;
    cache_hit_t hit;

    (void)state;
    assert_int_equal(store(s, "http://a/x/1", 1, 100), 0);
    assert_int_equal(store(s, "http://a/x/2", 2, 100), 0);
    assert_int_equal(store(s, "http://a/x", 3, 100), 0);
    assert_int_equal(store(s, "http://a/y", 4, 100), 0);
    assert_int_equal(store(s, "http://b/x/1", 5, 100), 0);
    /* a pinned one goes from the index but stays readable */
    assert_true(s->ops->lookup(s, "http://a/x/2", pconf, &hit));
    assert_int_equal(s->ops->remove(s, "http://a/x/", 1), 2);
    assert_false(present(s, "http://a/x/1"));
    assert_false(present(s, "http://a/x/2"));
    assert_true(present(s, "http://a/x"));
    assert_true(body_is(hit.body, 2, 100));
    check_invariants(s, 0);
    s->ops->release(s, &hit);
    assert_int_equal(s->ops->remove(s, "http://a/x/", 1), 0);
    /* exact */
    assert_int_equal(s->ops->remove(s, "http://a/", 0), 0);
    assert_int_equal(s->ops->remove(s, "http://a/y", 0), 1);
    assert_int_equal(s->ops->remove(s, "http://a/y", 0), 0);
    assert_true(present(s, "http://a/x"));
    assert_true(present(s, "http://b/x/1"));
    s->ops->stats(s, &st);
    assert_true(st.removed == 3 && st.entries == 2);
    /* everything */
    assert_int_equal(s->ops->remove(s, "", 1), 2);
    s->ops->stats(s, &st);
    assert_true(st.entries == 0 && st.bytes == 0);
    check_invariants(s, 0);
    assert_int_equal(count_state(seg(s), CM_FREE, 0), 1);
}

static void update_meta(void **state)
{
    cache_store_t *s = mk(256 * KiB, 0);
    cm_seg_t *sg = seg(s);
    cache_meta_t m;
    cache_hit_t h1, h2;
    const char *where;
    char big[2000];

    (void)state;
    assert_int_equal(store_ex(s, "k", 1, 1000, "ETag: \"1\"\r\nA: 1\r\n", 0, 0),
                     0);
    assert_true(s->ops->lookup(s, "k", pconf, &h1));
    where = h1.body;
    s->ops->release(s, &h1);

    /* fits: rewritten in place */
    m = meta_of(200, "ETag: \"1\"\r\n", "Cookie");
    m.expires = 99;
    assert_int_equal(s->ops->update_meta(s, "k", &m), 1);
    assert_true(s->ops->lookup(s, "k", pconf, &h1));
    assert_ptr_equal(h1.body, where);
    assert_true(h1.meta.expires == 99);
    assert_int_equal(h1.meta.headers_len, 11);
    assert_memory_equal(h1.meta.headers, "ETag: \"1\"\r\n", 11);
    assert_string_equal(h1.meta.vary, "Cookie");
    assert_true(body_is(h1.body, 1, 1000));
    check_invariants(s, 0);

    /* pinned: a new copy; the holder still sees the old metadata */
    m = meta_of(200, "ETag: \"2\"\r\n", NULL);
    m.expires = 100;
    assert_int_equal(s->ops->update_meta(s, "k", &m), 1);
    assert_true(h1.meta.expires == 99);
    assert_memory_equal(h1.meta.headers, "ETag: \"1\"\r\n", 11);
    assert_true(s->ops->lookup(s, "k", pconf, &h2));
    assert_true(h2.body != h1.body);
    assert_true(h2.meta.expires == 100);
    assert_memory_equal(h2.meta.headers, "ETag: \"2\"\r\n", 11);
    assert_null(h2.meta.vary);
    assert_true(body_is(h2.body, 1, 1000));
    check_invariants(s, 0);
    s->ops->release(s, &h1);
    s->ops->release(s, &h2);
    assert_int_equal(count_state(sg, CM_ENTRY, 0), 1);

    /* a header block that grew past the slack: moved */
    memset(big, 'x', sizeof(big));
    memcpy(big, "X: ", 3);
    memcpy(big + sizeof(big) - 2, "\r\n", 2);
    m = meta_of(203, NULL, NULL);
    m.headers = big;
    m.headers_len = sizeof(big);
    assert_int_equal(s->ops->update_meta(s, "k", &m), 1);
    assert_true(s->ops->lookup(s, "k", pconf, &h1));
    assert_int_equal(h1.meta.status, 203);
    assert_int_equal(h1.meta.headers_len, sizeof(big));
    assert_memory_equal(h1.meta.headers, big, sizeof(big));
    assert_true(body_is(h1.body, 1, 1000));
    s->ops->release(s, &h1);
    check_invariants(s, 0);
    assert_true(sg->entries == 1 && sg->stored == 1);

    assert_int_equal(s->ops->update_meta(s, "gone", &m), 0);
}

static void pinned_never_evicted(void **state)
{
    cache_store_t *s = mk(256 * KiB, 0);
    cm_seg_t *sg = seg(s);
    cache_hit_t h0, hr;
    char key[32];
    int i;

    (void)state;
    assert_int_equal(store(s, "p", 1, 20000), 0);
    assert_int_equal(store(s, "r", 2, 8000), 0);
    assert_true(s->ops->lookup(s, "p", pconf, &h0));
    assert_true(s->ops->lookup(s, "r", pconf, &hr));
    assert_int_equal(store(s, "r", 3, 8000), 0); /* hr: dead, pinned */
    /* ten times the store's size goes through it */
    for (i = 0; i < 400; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(store(s, key, (unsigned)i, 500 + (i * 97) % 6000), 0);
        if (i % 50 == 0) {
            check_invariants(s, 0);
        }
    }
    assert_true(sg->evicted > 300);
    assert_true(present(s, "p")); /* the LRU's oldest, yet pinned */
    assert_true(body_is(h0.body, 1, 20000));
    assert_true(body_is(hr.body, 2, 8000));
    s->ops->release(s, &h0);
    s->ops->release(s, &hr);
    for (i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "m%d", i);
        assert_int_equal(store(s, key, (unsigned)i, 3000), 0);
    }
    assert_false(present(s, "p"));
    assert_int_equal(count_state(sg, CM_ENTRY, 0), sg->entries);
    check_invariants(s, 0);
}

/* Fills that grow: into the free block after them, or moved. */
static void unknown_length_growth(void **state)
{
    cache_store_t *s = mk(2 * 1024 * KiB, 0);
    cm_seg_t *sg = seg(s);
    cache_meta_t m = meta_of(200, "A: b\r\n", NULL);
    char *b1 = make_body(1, 200 * KiB), *b2 = make_body(2, 200 * KiB);
    cache_fill_t *f1, *f2;
    cm_off_t first1, first2;
    apr_size_t at;

    (void)state;
    f1 = s->ops->fill_begin(s, "a", &m, -1);
    f2 = s->ops->fill_begin(s, "b", &m, -1);
    assert_non_null(f1);
    assert_non_null(f2);
    first1 = f1->blk;
    first2 = f2->blk;
    assert_true(first2 == first1 + CM_BLK(sg, first1)->size);
    /* f2 grows into the free space after it, then f1 cannot (f2 is
     * there): it moves */
    for (at = 0; at < 200 * KiB; at += 1000) {
        apr_size_t n = 200 * KiB - at < 1000 ? 200 * KiB - at : 1000;

        assert_int_equal(s->ops->fill_write(f2, b2 + at, n), 0);
    }
    for (at = 0; at < 200 * KiB; at += 1000) {
        apr_size_t n = 200 * KiB - at < 1000 ? 200 * KiB - at : 1000;

        assert_int_equal(s->ops->fill_write(f1, b1 + at, n), 0);
    }
    assert_true(f2->blk == first2);
    assert_true(f1->blk != first1);
    assert_int_equal(count_state(sg, CM_FILL, 0), 2);
    check_invariants(s, 2);
    assert_int_equal(s->ops->fill_commit(f1), 0);
    assert_int_equal(s->ops->fill_commit(f2), 0);
    assert_true(holds(s, "a", 1, 200 * KiB));
    assert_true(holds(s, "b", 2, 200 * KiB));
    check_invariants(s, 0);
    /* committed blocks were cut to size */
    assert_true(sg->bytes < 2 * (200 * KiB + 2 * CM_ALIGN + CM_ENT_HDR));
}

static void shared_across_fork(void **state)
{
    cache_store_t *s = mk(256 * KiB, 0);
    pid_t pid;

    (void)state;
    assert_int_equal(store(s, "from-parent", 1, 3000), 0);
    pid = fork();
    if (pid == 0) {
        int ok = holds(s, "from-parent", 1, 3000) &&
                 store(s, "from-child", 2, 5000) == 0 &&
                 s->ops->remove(s, "from-parent", 0) == 1;
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(wait_child(pid), 0);
    assert_true(holds(s, "from-child", 2, 5000));
    assert_false(present(s, "from-parent"));
    check_invariants(s, 0);
}

/* A child that dies in the middle of a fill, or holding pins: its space
 * comes back when space is short. */
static void dead_process_reclaimed(void **state)
{
    cache_store_t *s = mk(256 * KiB, 0);
    cm_seg_t *sg = seg(s);
    cache_store_stats_t st;
    char key[32];
    pid_t pid;
    int i;

    (void)state;
    assert_int_equal(store(s, "pinned", 1, 6000), 0);
    pid = fork();
    if (pid == 0) {
        cache_meta_t m = meta_of(200, "A: b\r\n", NULL);
        cache_fill_t *f = s->ops->fill_begin(s, "half", &m, 20000);
        cache_hit_t hit;

        if (f == NULL || s->ops->fill_write(f, "abc", 3) != 0 ||
            !s->ops->lookup(s, "pinned", pconf, &hit)) {
            _exit(1);
        }
        _exit(0); /* neither commit nor release */
    }
    assert_int_equal(wait_child(pid), 0);
    assert_int_equal(count_state(sg, CM_FILL, (apr_uint32_t)pid), 1);
    assert_int_equal(CM_ENT(sg, sg->lru_head)->pins, 1);
    assert_false(present(s, "half"));
    /* replaced while the dead child holds it */
    assert_int_equal(store(s, "pinned", 2, 6000), 0);
    assert_int_equal(count_state(sg, CM_ENTRY, 0), 2);
    check_invariants(s, 1);

    /* space gets short */
    sg->last_reclaim = 0;
    for (i = 0; i < 60; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(store(s, key, (unsigned)i, 4000), 0);
    }
    s->ops->stats(s, &st);
    assert_true(st.evicted > 0);
    assert_int_equal(count_state(sg, CM_FILL, 0), 0);
    assert_int_equal(sg->pins_used, 0);
    check_invariants(s, 0); /* the dead entry is gone too */
    assert_int_equal(count_state(sg, CM_ENTRY, 0), sg->entries);
}

/* A child killed while it holds the lock does not stop the others, and
 * what it left half-done is rebuilt from the arena. */
static void lock_of_dead_child(void **state)
{
    cache_store_t *s = mk(256 * KiB, 0);
    cm_seg_t *sg = seg(s);
    char key[32];
    pid_t pid;
    int i;

    (void)state;
    for (i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(store(s, key, (unsigned)i, 1000 + 100 * i), 0);
    }
    assert_int_equal(s->ops->remove(s, "k3", 0), 1);
    assert_int_equal(s->ops->remove(s, "k7", 0), 1);

    /* 1: it just dies with the lock */
    pid = fork();
    if (pid == 0) {
        pthread_mutex_lock(&sg->lock.m);
        _exit(0);
    }
    assert_int_equal(wait_child(pid), 0);
    assert_true(holds(s, "k0", 0, 1000));
    check_invariants(s, 0);

    /* 2: it dies with everything derived in pieces, in the middle of a
     * commit that replaces k5, and holding a pin on k6 */
    pid = fork();
    if (pid == 0) {
        cache_meta_t m = meta_of(200, "A: b\r\n", NULL);
        cache_fill_t *f = s->ops->fill_begin(s, "k5", &m, 777);
        const char *b = make_body(55, 777);
        cache_hit_t hit;

        if (f == NULL || s->ops->fill_write(f, b, 777) != 0 ||
            !s->ops->lookup(s, "k6", pconf, &hit)) {
            _exit(1);
        }
        fill_write_meta(f);
        pthread_mutex_lock(&sg->lock.m);
        CM_ENT(sg, f->blk)->flags = 0;
        CM_ENT(sg, f->blk)->seq = ++sg->seq;
        blk_set_state(CM_BLK(sg, f->blk), CM_ENTRY);
        memset(CM_BUCKETS(sg), 0, (apr_size_t)sg->nbuckets * sizeof(cm_off_t));
        memset(sg->free_head, 0, sizeof(sg->free_head));
        sg->lru_head = sg->lru_tail = 0;
        sg->entries = 12345;
        CM_BLK(sg, sg->arena_off)->prev_size = 4242;
        CM_ENT(sg, CM_OFF(sg, hit.handle))->pins = 77;
        _exit(0);
    }
    assert_int_equal(wait_child(pid), 0);
    assert_true(holds(s, "k5", 55, 777)); /* the newer k5 won */
    check_invariants(s, 0);
    assert_true(sg->entries == 18);
    for (i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_true(i == 3 || i == 7 || i == 5 ||
                    holds(s, key, (unsigned)i, 1000 + 100 * (apr_size_t)i));
    }
    assert_int_equal(count_state(sg, CM_ENTRY, 0), 18);
    assert_int_equal(sg->pins_used, 1); /* the dead child's pin on k6 */
    assert_int_equal(store(s, "new", 9, 9000), 0);
    assert_true(holds(s, "new", 9, 9000));
    check_invariants(s, 0);

    /* 3: it damages the arena itself: the store turns off, and the next
     * generation makes a new segment */
    pid = fork();
    if (pid == 0) {
        pthread_mutex_lock(&sg->lock.m);
        CM_BLK(sg, sg->arena_off)->size = 3;
        _exit(0);
    }
    assert_int_equal(wait_child(pid), 0);
    {
        cache_hit_t hit;
        cache_meta_t m = meta_of(200, NULL, NULL);
        cache_store_stats_t st;

        assert_false(s->ops->lookup(s, "k0", pconf, &hit));
        assert_null(s->ops->fill_begin(s, "x", &m, 1));
        assert_int_equal(s->ops->remove(s, "k0", 0), 0);
        assert_int_equal(s->ops->update_meta(s, "k0", &m), 0);
        s->ops->stats(s, &st);
        assert_true(st.entries == 0);
    }
    assert_true(sg->poisoned);
    s = mk(256 * KiB, 0);
    assert_ptr_not_equal(seg(s), sg);
    assert_int_equal(store(s, "k0", 1, 100), 0);
    check_invariants(s, 0);
}

static void kept_across_generations(void **state)
{
    cache_store_t *s = mk(256 * KiB, 0);
    cm_seg_t *first = seg(s);

    (void)state;
    assert_int_equal(store(s, "k", 1, 3000), 0);
    /* graceful restart, same CacheSize; another CacheMaxFileSize */
    s = mk(256 * KiB, 500);
    assert_ptr_equal(seg(s), first);
    assert_true(holds(s, "k", 1, 3000));
    assert_int_equal(store(s, "j", 1, 3000), -1);
    /* another CacheSize: a new, empty store */
    s = mk(512 * KiB, 0);
    assert_ptr_not_equal(seg(s), first);
    assert_false(present(s, "k"));
    check_invariants(s, 0);
}

/* ------------------------------------------------------------------ */
/* 10,000 random operations against a model                           */
/* ------------------------------------------------------------------ */

#define M_KEYS 100
#define M_HELD 8
#define M_FILLS 3

typedef struct {
    unsigned version; /* 0: not stored (or gone) */
    apr_size_t len;
    int status;
} model_t;

typedef struct {
    cache_hit_t hit;
    unsigned version;
    apr_size_t len;
    int status;
} held_t;

typedef struct {
    cache_fill_t *f;
    int key;
    unsigned version;
    apr_size_t len, written;
} open_fill_t;

static apr_uint64_t rnd_state = 88172645463325252ull;

static apr_uint64_t rnd(apr_uint64_t n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state % n;
}

static const char *model_key(int k)
{
    static char buf[M_KEYS][40];

    /* some share prefixes, for PURGE by prefix */
    snprintf(buf[k], sizeof(buf[k]), "http://h/%c/%d", 'a' + k % 4, k);
    return buf[k];
}

static const char *headers_for(int status)
{
    static char buf[300];
    int n = status % 7 * 37;

    snprintf(buf, sizeof(buf), "S: %d\r\nPad: %.*s\r\n", status, n,
             "-------------------------------------------------------------"
             "-------------------------------------------------------------"
             "-------------------------------------------------------------"
             "-------------------------------------------------------------");
    return buf;
}

static void random_against_model(void **state)
{
    cache_store_t *s = mk(256 * KiB, 24 * KiB);
    cm_store_t *st = s->data;
    model_t model[M_KEYS];
    held_t held[M_HELD];
    open_fill_t fills[M_FILLS];
    int nheld = 0, nfills = 0, op, k, i;
    unsigned version = 1;
    apr_uint64_t commits = 0, refusals = 0, hits = 0;
    char b[8 * KiB];
    cache_store_stats_t stats;

    (void)state;
    if (getenv("CACHE_MEM_TEST_SEED") != NULL) {
        /* another sequence, to look further; 0 would stick at 0 */
        rnd_state = strtoull(getenv("CACHE_MEM_TEST_SEED"), NULL, 10) | 1;
    }
    memset(model, 0, sizeof(model));
    for (op = 0; op < 10000; op++) {
        apr_uint64_t what = rnd(100);

        k = (int)rnd(M_KEYS);
        if (what < 25) {
            /* store in one go: known or unknown length */
            apr_size_t len = rnd(10) == 0 ? rnd(30 * KiB) : rnd(8 * KiB);
            int status = 200 + (int)rnd(100), unknown = (int)rnd(2);
            cache_meta_t m = meta_of(status, headers_for(status), NULL);
            int rv;
            apr_uint64_t block = CM_ROUND(
                CM_ENT_HDR + len + strlen(model_key(k)) + 1 + m.headers_len);

            rv = store_ex(s, model_key(k), version, len, m.headers, unknown,
                          1 + rnd(3000));
            if (rv == 0) {
                /* store_ex writes make_body(version): remember it */
                model[k].version = version;
                model[k].len = len;
                model[k].status = 200;
                commits++;
            } else {
                /* only too big, or no room left by pins and fills */
                assert_true(len > 24 * KiB || block > st->max_block ||
                            nheld > 0 || nfills > 0);
                refusals++;
            }
            version++;
        } else if (what < 50) {
            /* lookup: what is there is the latest version */
            cache_hit_t hit;

            if (s->ops->lookup(s, model_key(k), pconf, &hit)) {
                assert_true(model[k].version != 0);
                assert_true(hit.meta.body_len == (apr_off_t)model[k].len);
                assert_true(body_is(hit.body, model[k].version, model[k].len));
                assert_int_equal(hit.meta.status, model[k].status);
                hits++;
                if (nheld < M_HELD && rnd(3) == 0) {
                    held[nheld].hit = hit;
                    held[nheld].version = model[k].version;
                    held[nheld].len = model[k].len;
                    held[nheld].status = model[k].status;
                    nheld++;
                } else {
                    s->ops->release(s, &hit);
                }
            }
        } else if (what < 60) {
            /* release one held: untouched meanwhile */
            if (nheld > 0) {
                i = (int)rnd((apr_uint64_t)nheld);
                assert_true(
                    body_is(held[i].hit.body, held[i].version, held[i].len));
                assert_int_equal(held[i].hit.meta.status, held[i].status);
                s->ops->release(s, &held[i].hit);
                held[i] = held[--nheld];
            }
        } else if (what < 64) {
            int was = present(s, model_key(k));

            assert_int_equal(s->ops->remove(s, model_key(k), 0), was);
            model[k].version = 0;
        } else if (what < 65) {
            char prefix[16];
            int expect = 0;

            snprintf(prefix, sizeof(prefix), "http://h/%c/", 'a' + (int)rnd(4));
            for (i = 0; i < M_KEYS; i++) {
                if (strncmp(model_key(i), prefix, strlen(prefix)) == 0 &&
                    present(s, model_key(i))) {
                    expect++;
                }
            }
            assert_int_equal(s->ops->remove(s, prefix, 1), expect);
            for (i = 0; i < M_KEYS; i++) {
                if (strncmp(model_key(i), prefix, strlen(prefix)) == 0) {
                    model[i].version = 0;
                }
            }
        } else if (what < 78) {
            int status = 300 + (int)rnd(100);
            cache_meta_t m = meta_of(status, headers_for(status), NULL);
            int was = present(s, model_key(k));
            int rv = s->ops->update_meta(s, model_key(k), &m);

            if (rv == 1) {
                assert_true(was);
                model[k].status = status;
            } else {
                /* gone, or no room for the copy: gone now */
                assert_true(!was || nheld > 0 || nfills > 0);
                model[k].version = 0;
            }
        } else if (what < 86) {
            /* begin a fill that other operations interleave with */
            if (nfills < M_FILLS) {
                open_fill_t *of = &fills[nfills];
                cache_meta_t m = meta_of(200, "F: 1\r\n", NULL);
                int unknown = (int)rnd(2);

                of->key = k;
                of->version = version++;
                of->len = rnd(8 * KiB);
                of->written = 0;
                of->f = s->ops->fill_begin(s, model_key(k), &m,
                                           unknown ? -1 : (apr_off_t)of->len);
                if (of->f != NULL) {
                    nfills++;
                }
            }
        } else {
            /* go on with an open fill: write, commit or abort */
            if (nfills > 0) {
                open_fill_t *of = &fills[rnd((apr_uint64_t)nfills)];
                apr_size_t n = of->len - of->written;

                if (n > 0 && rnd(3) != 0) {
                    n = 1 + rnd(n);
                    gen(b, of->version, of->written, n);
                    if (s->ops->fill_write(of->f, b, n) != 0) {
                        assert_true(nheld > 0 || nfills > 1);
                        s->ops->fill_abort(of->f);
                        *of = fills[--nfills];
                        continue;
                    }
                    of->written += n;
                } else if (n == 0 && rnd(8) != 0) {
                    assert_int_equal(s->ops->fill_commit(of->f), 0);
                    model[of->key].version = of->version;
                    model[of->key].len = of->len;
                    model[of->key].status = 200;
                    commits++;
                    *of = fills[--nfills];
                } else {
                    s->ops->fill_abort(of->f);
                    *of = fills[--nfills];
                }
            }
        }
        check_invariants(s, nfills);
        /* whatever the store has is the model's latest */
        for (i = 0; i < M_KEYS; i++) {
            if (model[i].version == 0) {
                assert_false(present(s, model_key(i)));
            }
        }
    }
    while (nheld > 0) {
        nheld--;
        assert_true(body_is(held[nheld].hit.body, held[nheld].version,
                            held[nheld].len));
        s->ops->release(s, &held[nheld].hit);
    }
    while (nfills > 0) {
        s->ops->fill_abort(fills[--nfills].f);
    }
    check_invariants(s, 0);
    s->ops->stats(s, &stats);
    assert_true(stats.stored == commits);
    print_message(
        "stored %llu evicted %llu removed %llu hits %llu refusals %llu entries "
        "%llu\n",
        (unsigned long long)stats.stored, (unsigned long long)stats.evicted,
        (unsigned long long)stats.removed, (unsigned long long)hits,
        (unsigned long long)refusals, (unsigned long long)stats.entries);
    assert_true(stats.evicted > 100); /* it was under pressure */
    assert_true(hits > 500 && refusals > 0);
    assert_int_equal(count_state(seg(s), CM_FILL, 0), 0);
    assert_int_equal(seg(s)->pins_used, 0);
}

/* ------------------------------------------------------------------ */
/* Processes at once                                                  */
/* ------------------------------------------------------------------ */

/* Random operations on 30 keys from one process; each body's version is
 * in its header block ("V: n"), so a reader knows what it must see.
 * Returns 0 when every hit was whole. */
static int worker(cache_store_t *s, unsigned id, int ops)
{
    char key[32], hdr[64];
    int i;

    rnd_state = 0x9e3779b97f4a7c15ull * (id + 1);
    for (i = 0; ops < 0 || i < ops; i++) {
        apr_uint64_t what = rnd(100);
        unsigned v = id * 1000000u + (unsigned)i;
        cache_hit_t hit;

        snprintf(key, sizeof(key), "http://h/%c/%d", 'a' + (int)rnd(3),
                 (int)rnd(10));
        if (what < 35) {
            snprintf(hdr, sizeof(hdr), "V: %u\r\n", v);
            store_ex(s, key, v, rnd(10000), hdr, (int)rnd(2), 1 + rnd(2000));
        } else if (what < 88) {
            if (s->ops->lookup(s, key, pconf, &hit)) {
                unsigned hv;

                if (hit.meta.headers_len < 4 ||
                    memcmp(hit.meta.headers, "V: ", 3) != 0) {
                    return 1;
                }
                if (hit.meta.headers[3] != '?' &&
                    (sscanf(hit.meta.headers + 3, "%u", &hv) != 1 ||
                     !body_is(hit.body, hv, (apr_size_t)hit.meta.body_len))) {
                    return 1;
                }
                s->ops->release(s, &hit);
            }
        } else if (what < 94) {
            s->ops->remove(s, key, 0);
        } else if (what < 96) {
            s->ops->remove(s, "http://h/b/", 1);
        } else {
            cache_meta_t m = meta_of(200, "V: ?\r\nX: y\r\n", NULL);

            s->ops->update_meta(s, key, &m);
        }
    }
    return 0;
}

/* Four processes at once, and ten more killed one after the other in the
 * middle of whatever they were doing (holding the lock, a fill, pins). */
static void concurrent_processes(void **state)
{
    cache_store_t *s = mk(128 * KiB, 0);
    cm_seg_t *sg = seg(s);
    pid_t pids[4], victim;
    cache_store_stats_t st;
    int i, status;

    (void)state;
    for (i = 0; i < 4; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            _exit(worker(s, (unsigned)i + 1, 20000));
        }
    }
    for (i = 0; i < 10; i++) {
        victim = fork();
        if (victim == 0) {
            _exit(worker(s, 10u + (unsigned)i, -1));
        }
        usleep(1000 + (useconds_t)rnd(2000));
        kill(victim, SIGKILL);
        assert_true(waitpid(victim, &status, 0) == victim);
        assert_true(WIFSIGNALED(status));
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(wait_child(pids[i]), 0);
    }
    assert_false(sg->poisoned);
    /* what the victim held comes back */
    assert_int_equal(seg_lock(sg), 0);
    reclaim_dead(sg);
    seg_unlock(sg);
    check_invariants(s, 0);
    assert_int_equal(sg->pins_used, 0);
    s->ops->stats(s, &st);
    assert_true(st.stored > 1000 && st.evicted > 0);
    assert_int_equal(store(s, "after", 1, 5000), 0);
    assert_true(holds(s, "after", 1, 5000));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)
    const struct CMUnitTest tests[] = {
        T(store_lookup_release), T(replace_while_pinned),
        T(lru_eviction_order),   T(too_big_refused),
        T(prefix_remove),        T(update_meta),
        T(pinned_never_evicted), T(unknown_length_growth),
        T(shared_across_fork),   T(dead_process_reclaimed),
        T(lock_of_dead_child),   T(kept_across_generations),
        T(random_against_model), T(concurrent_processes),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
