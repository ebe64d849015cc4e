/*
 * cache_disk_test.c: unit tests of mod_cache's disk store
 * (modules/cache/cache_disk.c) in a temporary directory: entries stored
 * and read back at body_off, replaced, invisible until committed, gone
 * when aborted, damaged files missed and removed, kept across a restart
 * (a new store on the same root), CacheSize bounding the bytes with LRU
 * eviction, the size limits, PURGE by prefix, update_meta keeping the
 * body, the directory layout, a fill killed mid-write, several processes
 * sharing one store, and no descriptor left open.
 *
 * The source file is included, not linked, so that the tests can read
 * the store's index and block size.  mod_cache.c, which defines
 * cache_module, is not part of this program: a record of the same name
 * stands in for it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "core.h"

#include "../../modules/cache/cache_disk.c"

RL_DECLARE_DATA rl_module_t cache_module = {
    .magic = RL_MODULE_MAGIC, .name = "cache", .index = -1};

static apr_pool_t *pglobal; /* the whole run */
static apr_pool_t *pconf;   /* one test */
static char root[256];      /* one test's CacheRoot */

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
    strcpy(root, "/tmp/cache_disk_test.XXXXXX");
    if (mkdtemp(root) == NULL) {
        return -1;
    }
    /* a CacheRoot that does not exist yet: the store makes it */
    strcat(root, "/cache");
    touch_granularity = APR_USEC_PER_SEC;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int test_teardown(void **state)
{
    char *slash;

    (void)state;
    apr_pool_destroy(pconf);
    slash = strrchr(root, '/');
    *slash = '\0';
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static cache_store_t *store_new(apr_pool_t *p, apr_off_t size, int levels,
                                int length, apr_off_t max, apr_off_t min)
{
    cache_store_conf_t conf;

    memset(&conf, 0, sizeof(conf));
    conf.size = size;
    conf.max_file_size = max;
    conf.min_file_size = min;
    conf.root = root;
    conf.dir_levels = levels;
    conf.dir_length = length;
    return cache_disk_create(p, &conf);
}

static cache_store_t *store_default(void)
{
    cache_store_t *s = store_new(pconf, 64 << 20, 2, 2, 16 << 20, 1);

    assert_non_null(s);
    return s;
}

static apr_off_t block_of(cache_store_t *s)
{
    return ((disk_store_t *)s->data)->block;
}

static cache_meta_t meta_of(int status, const char *headers)
{
    cache_meta_t m;

    memset(&m, 0, sizeof(m));
    m.status = status;
    m.request_time = apr_time_from_sec(1700000000);
    m.response_time = m.request_time + 1000;
    m.expires = m.request_time + apr_time_from_sec(60);
    m.stale_until = m.expires + apr_time_from_sec(30);
    m.body_len = -1;
    m.headers = headers;
    m.headers_len = headers != NULL ? strlen(headers) : 0;
    return m;
}

/* Stores key with body (in writes of `chunk` bytes); the commit's
 * result. */
static int put_meta(cache_store_t *s, const char *key, const cache_meta_t *m,
                    const char *body, apr_size_t len, apr_size_t chunk)
{
    cache_fill_t *f = s->ops->fill_begin(s, key, m, (apr_off_t)len);
    apr_size_t off;

    assert_non_null(f);
    for (off = 0; off < len; off += chunk) {
        apr_size_t n = len - off < chunk ? len - off : chunk;
        assert_int_equal(s->ops->fill_write(f, body + off, n), 0);
    }
    return s->ops->fill_commit(f);
}

static void put(cache_store_t *s, const char *key, const char *body)
{
    cache_meta_t m = meta_of(200, "Content-Type: text/plain\r\n");

    assert_int_equal(put_meta(s, key, &m, body, strlen(body), 1000), 0);
}

/* The body of a hit, read at body_off (NUL-terminated, from pconf); a
 * small entry comes whole with the first read, its body in memory. */
static char *hit_body(const cache_hit_t *hit)
{
    char *b = apr_palloc(pconf, (apr_size_t)hit->meta.body_len + 1);

    if (hit->body != NULL) {
        assert_int_equal(hit->fd, -1);
        memcpy(b, hit->body, (size_t)hit->meta.body_len);
        b[hit->meta.body_len] = '\0';
        return b;
    }
    assert_true(hit->fd >= 0);
    assert_int_equal(
        pread(hit->fd, b, (size_t)hit->meta.body_len, hit->body_off),
        hit->meta.body_len);
    b[hit->meta.body_len] = '\0';
    return b;
}

/* key's body, or NULL on a miss. */
static char *get(cache_store_t *s, const char *key)
{
    cache_hit_t hit;
    char *b;

    if (!s->ops->lookup(s, key, pconf, &hit)) {
        assert_int_equal(hit.fd, -1);
        return NULL;
    }
    b = hit_body(&hit);
    s->ops->release(s, &hit);
    return b;
}

/* Where key's entry lives. */
static const char *path_of(cache_store_t *s, const char *key)
{
    char name[NAME_LEN + 1], *path = apr_palloc(pconf, PATH_MAX);
    uint64_t h0, h1;

    key_hash(s->data, key, strlen(key), &h0, &h1, name);
    entry_path(s->data, name, path);
    return path;
}

/* Puts key a's file at key b's place, as if their names collided. */
static void move_entry(cache_store_t *s, const char *a, const char *b)
{
    char name[NAME_LEN + 1];
    uint64_t h0, h1;

    key_hash(s->data, b, strlen(b), &h0, &h1, name);
    assert_int_equal(make_dirs(s->data, name), 0);
    assert_int_equal(rename(path_of(s, a), path_of(s, b)), 0);
}

static int exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* Files under root: entries, temporary files, others; and the bytes the
 * entries take, counted as the store counts them. */
static struct {
    int entries, temps, others;
    apr_off_t bytes, block;
} files;

static int count_one(const char *path, const struct stat *st, int flag,
                     struct FTW *ftw)
{
    const char *name = path + ftw->base;

    if (flag != FTW_F) {
        return 0;
    }
    if (strlen(name) == NAME_LEN) {
        files.entries++;
        files.bytes +=
            (st->st_size + files.block - 1) / files.block * files.block;
    } else if (strstr(name, TEMP_TAG) != NULL) {
        files.temps++;
    } else {
        files.others++;
    }
    return 0;
}

static void count_files(cache_store_t *s)
{
    memset(&files, 0, sizeof(files));
    files.block = block_of(s);
    nftw(root, count_one, 16, FTW_PHYS);
}

static cache_store_stats_t stats(cache_store_t *s)
{
    cache_store_stats_t st;

    s->ops->stats(s, &st);
    return st;
}

/* The store's totals are those of the files on disk. */
static void assert_accounting(cache_store_t *s)
{
    cache_store_stats_t st = stats(s);

    count_files(s);
    assert_int_equal(st.entries, files.entries);
    assert_int_equal(st.bytes, files.bytes);
}

static int open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    assert_non_null(dir);
    while ((de = readdir(dir)) != NULL) {
        n += de->d_name[0] != '.';
    }
    closedir(dir);
    return n - 1; /* the one opendir holds */
}

/* Overwrites one byte of path at off with its complement. */
static void flip(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    unsigned char c;

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c = (unsigned char)~c;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static char *pattern(apr_size_t len, int seed)
{
    char *b = apr_palloc(pconf, len + 1);
    apr_size_t i;

    for (i = 0; i < len; i++) {
        b[i] = (char)('a' + (i * 7 + (apr_size_t)seed) % 26);
    }
    b[len] = '\0';
    return b;
}

/* ------------------------------------------------------------------ */
/* Tests                                                              */
/* ------------------------------------------------------------------ */

static void test_store_lookup(void **state)
{
    const char *hdrs = "Content-Type: text/plain\r\nETag: \"v1\"\r\n";
    cache_store_t *s = store_default();
    cache_meta_t m = meta_of(203, hdrs);
    char *body = pattern(100000, 1);
    cache_hit_t hit;
    cache_store_stats_t st;
    struct stat fst;
    int fd;

    (void)state;
    assert_string_equal(s->ops->name, "disk");
    assert_int_equal(put_meta(s, "http://h:80/a?q", &m, body, 100000, 999), 0);
    assert_true(s->ops->lookup(s, "http://h:80/a?q", pconf, &hit));
    assert_int_equal(hit.meta.status, 203);
    assert_int_equal(hit.meta.request_time, m.request_time);
    assert_int_equal(hit.meta.response_time, m.response_time);
    assert_int_equal(hit.meta.expires, m.expires);
    assert_int_equal(hit.meta.stale_until, m.stale_until);
    assert_int_equal(hit.meta.body_len, 100000);
    assert_int_equal(hit.meta.headers_len, strlen(hdrs));
    assert_memory_equal(hit.meta.headers, hdrs, strlen(hdrs));
    assert_null(hit.meta.vary);
    assert_null(hit.body);
    assert_int_equal(hit.body_off, sizeof(disk_header_t) +
                                       strlen("http://h:80/a?q") +
                                       strlen(hdrs));
    assert_int_equal(fstat(hit.fd, &fst), 0);
    assert_int_equal(fst.st_size, hit.body_off + 100000);
    assert_string_equal(hit_body(&hit), body);
    fd = hit.fd;
    s->ops->release(s, &hit);
    assert_int_equal(hit.fd, -1);
    assert_int_equal(fcntl(fd, F_GETFD), -1); /* release closed it */

    /* another key, a key's prefix and an extension of it are misses */
    assert_null(get(s, "http://h:80/b"));
    assert_null(get(s, "http://h:80/a?"));
    assert_null(get(s, "http://h:80/a?qq"));

    st = stats(s);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.stored, 1);
    assert_int_equal(st.capacity, 64 << 20);
    assert_int_equal(st.bytes % (apr_uint64_t)block_of(s), 0);
    assert_true(st.bytes >= (apr_uint64_t)fst.st_size);
    assert_accounting(s);
}

static void test_vary_marker(void **state)
{
    cache_store_t *s = store_new(pconf, 1 << 20, 2, 2, 1 << 20, 10);
    cache_meta_t m = meta_of(200, NULL);
    cache_hit_t hit;

    (void)state;
    /* no body, below CacheMinFileSize: a Vary marker is stored anyway */
    m.vary = "Accept-Encoding, Accept-Language";
    assert_int_equal(put_meta(s, "http://h:80/v", &m, "", 0, 1), 0);
    assert_true(s->ops->lookup(s, "http://h:80/v", pconf, &hit));
    assert_string_equal(hit.meta.vary, "Accept-Encoding, Accept-Language");
    assert_int_equal(hit.meta.body_len, 0);
    assert_int_equal(hit.meta.headers_len, 0);
    s->ops->release(s, &hit);

    /* an empty Vary value is kept apart from none */
    m.vary = "";
    assert_int_equal(put_meta(s, "http://h:80/v", &m, "", 0, 1), 0);
    assert_true(s->ops->lookup(s, "http://h:80/v", pconf, &hit));
    assert_non_null(hit.meta.vary);
    assert_string_equal(hit.meta.vary, "");
    s->ops->release(s, &hit);
}

static void test_replace(void **state)
{
    cache_store_t *s = store_default();
    cache_hit_t old;
    cache_store_stats_t st;

    (void)state;
    put(s, "k", "first version of the body");
    assert_true(s->ops->lookup(s, "k", pconf, &old));
    put(s, "k", "second");
    assert_string_equal(get(s, "k"), "second");
    /* the hit taken before is pinned: it still reads the old body */
    assert_string_equal(hit_body(&old), "first version of the body");
    s->ops->release(s, &old);

    st = stats(s);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.stored, 2);
    assert_int_equal(st.bytes, (apr_uint64_t)block_of(s));
    assert_accounting(s);
}

static void test_fill_atomic(void **state)
{
    cache_store_t *s = store_default();
    cache_meta_t m = meta_of(200, "X: y\r\n");
    cache_fill_t *f;

    (void)state;
    /* a fill is invisible until it is committed */
    f = s->ops->fill_begin(s, "new", &m, -1);
    assert_non_null(f);
    assert_int_equal(s->ops->fill_write(f, "hello ", 6), 0);
    assert_null(get(s, "new"));
    assert_int_equal(s->ops->fill_write(f, "world", 5), 0);
    assert_null(get(s, "new"));
    count_files(s);
    assert_int_equal(files.entries, 0);
    assert_int_equal(files.temps, 1);
    assert_int_equal(s->ops->fill_commit(f), 0);
    assert_string_equal(get(s, "new"), "hello world");
    count_files(s);
    assert_int_equal(files.entries, 1);
    assert_int_equal(files.temps, 0);

    /* an aborted fill leaves nothing, and the entry it would have
     * replaced is untouched */
    f = s->ops->fill_begin(s, "new", &m, -1);
    assert_non_null(f);
    assert_int_equal(s->ops->fill_write(f, "half", 4), 0);
    s->ops->fill_abort(f);
    assert_string_equal(get(s, "new"), "hello world");
    f = s->ops->fill_begin(s, "other", &m, 100);
    assert_non_null(f);
    assert_int_equal(s->ops->fill_write(f, pattern(60, 0), 60), 0);
    s->ops->fill_abort(f);
    assert_null(get(s, "other"));
    count_files(s);
    assert_int_equal(files.entries, 1);
    assert_int_equal(files.temps, 0);
    assert_int_equal(stats(s).stored, 1);
    assert_accounting(s);
}

static void test_size_limits(void **state)
{
    cache_store_t *s = store_new(pconf, 1 << 20, 2, 2, 1000, 10);
    cache_meta_t m = meta_of(200, "X: y\r\n");
    cache_fill_t *f;

    (void)state;
    /* known too big (CacheMaxFileSize), known too small
     * (CacheMinFileSize): refused at once */
    assert_null(s->ops->fill_begin(s, "big", &m, 1001));
    assert_null(s->ops->fill_begin(s, "small", &m, 9));
    /* exactly at the limits: stored */
    assert_int_equal(put_meta(s, "max", &m, pattern(1000, 0), 1000, 300), 0);
    assert_int_equal(put_meta(s, "min", &m, pattern(10, 0), 10, 3), 0);

    /* unknown length growing past the maximum: the write fails */
    f = s->ops->fill_begin(s, "grows", &m, -1);
    assert_non_null(f);
    assert_int_equal(s->ops->fill_write(f, pattern(600, 0), 600), 0);
    assert_int_equal(s->ops->fill_write(f, pattern(600, 0), 600), -1);
    s->ops->fill_abort(f);
    assert_null(get(s, "grows"));

    /* unknown length ending below the minimum: the commit refuses */
    f = s->ops->fill_begin(s, "short", &m, -1);
    assert_non_null(f);
    assert_int_equal(s->ops->fill_write(f, "abc", 3), 0);
    assert_int_equal(s->ops->fill_commit(f), -1);
    assert_null(get(s, "short"));

    /* a body shorter or longer than announced is not stored */
    f = s->ops->fill_begin(s, "cut", &m, 100);
    assert_non_null(f);
    assert_int_equal(s->ops->fill_write(f, pattern(50, 0), 50), 0);
    assert_int_equal(s->ops->fill_commit(f), -1);
    assert_null(get(s, "cut"));
    f = s->ops->fill_begin(s, "long", &m, 20);
    assert_non_null(f);
    assert_int_equal(s->ops->fill_write(f, pattern(21, 0), 21), -1);
    s->ops->fill_abort(f);

    count_files(s);
    assert_int_equal(files.entries, 2);
    assert_int_equal(files.temps, 0);
    assert_accounting(s);

    /* more than CacheSize itself: refused, announced or not */
    s = store_new(pconf, 8 * block_of(s), 2, 2, 0, 0);
    assert_null(s->ops->fill_begin(s, "huge", &m, 9 * block_of(s)));
    f = s->ops->fill_begin(s, "huge", &m, -1);
    assert_non_null(f);
    assert_int_equal(
        s->ops->fill_write(f, pattern((apr_size_t)(9 * block_of(s)), 0),
                           (apr_size_t)(9 * block_of(s))),
        -1);
    s->ops->fill_abort(f);
}

static void test_damaged_entries(void **state)
{
    cache_store_t *s = store_default();
    const char *keys[] = {"trunc", "magic", "times", "key", "headers", "grown"};
    apr_size_t i;
    int fd;

    (void)state;
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        put(s, keys[i], "a body of some bytes");
    }
    assert_int_equal(
        truncate(path_of(s, "trunc"), (off_t)sizeof(disk_header_t) + 20), 0);
    flip(path_of(s, "magic"), 0);
    flip(path_of(s, "times"), offsetof(disk_header_t, expires) + 2);
    flip(path_of(s, "key"), sizeof(disk_header_t) + 1);
    flip(path_of(s, "headers"), sizeof(disk_header_t) + 7 + 3);
    fd = open(path_of(s, "grown"), O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        assert_null(get(s, keys[i]));
        assert_false(exists(path_of(s, keys[i])));
    }
    /* a file too short to hold a header, at an entry's place */
    fd = open(path_of(s, "trunc"), O_WRONLY | O_CREAT, 0600);
    assert_int_equal(write(fd, "garbage", 7), 7);
    close(fd);
    assert_null(get(s, "trunc"));
    assert_false(exists(path_of(s, "trunc")));

    assert_int_equal(stats(s).entries, 0);
    assert_int_equal(stats(s).bytes, 0);
    assert_accounting(s);
}

/* A whole entry of another key at this key's place (the two names
 * collide) is a miss, and is not removed: it is not damaged. */
static void test_name_collision(void **state)
{
    cache_store_t *s = store_default();
    const char *a, *b;

    (void)state;
    put(s, "key-a", "body a");
    put(s, "key-b", "body b");
    a = path_of(s, "key-a");
    b = path_of(s, "key-b");
    move_entry(s, "key-a", "key-b");
    assert_false(exists(a));
    assert_null(get(s, "key-b"));
    assert_true(exists(b));
    assert_null(get(s, "key-a"));
    assert_int_equal(s->ops->remove(s, "key-b", 0), 0);
    assert_true(exists(b));

    /* a longer key at the place of a prefix of it: not that key either */
    put(s, "key-c", "body c");
    move_entry(s, "key-c", "key-");
    assert_null(get(s, "key-"));
    assert_int_equal(s->ops->remove(s, "key-", 0), 0);
    assert_true(exists(path_of(s, "key-")));
}

static void test_restart(void **state)
{
    apr_pool_t *p1, *p2;
    cache_store_t *s;
    char dead[PATH_MAX], alive[PATH_MAX], idle[PATH_MAX], other[PATH_MAX];
    const char *dir;
    pid_t pid;
    struct timeval tv[2];
    int fd;

    (void)state;
    apr_pool_create(&p1, pconf);
    s = store_new(p1, 64 << 20, 2, 2, 0, 0);
    assert_non_null(s);
    put(s, "http://h/1", "one");
    put(s, "http://h/2", "two");
    put(s, "http://h/3", pattern(70000, 3));
    dir = apr_pstrdup(pconf, path_of(s, "http://h/1"));
    *strrchr(dir, '/') = '\0';
    apr_pool_destroy(p1);

    /* files left by fills: of a process that is gone, of one that lives
     * (this one), of one that lives but wrote nothing for two hours; and a
     * file that is not the store's */
    pid = fork();
    if (pid == 0) {
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    snprintf(dead, sizeof(dead), "%s/%032d.tmp.%ld.1.0", dir, 0, (long)pid);
    snprintf(alive, sizeof(alive), "%s/%032d.tmp.%ld.2.0", dir, 0,
             (long)getpid());
    snprintf(idle, sizeof(idle), "%s/%032d.tmp.%ld.3.0", dir, 0,
             (long)getpid());
    snprintf(other, sizeof(other), "%s/README", dir);
    fd = open(dead, O_WRONLY | O_CREAT, 0600);
    close(fd);
    fd = open(alive, O_WRONLY | O_CREAT, 0600);
    close(fd);
    fd = open(idle, O_WRONLY | O_CREAT, 0600);
    close(fd);
    fd = open(other, O_WRONLY | O_CREAT, 0600);
    close(fd);
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 7200;
    tv[1] = tv[0];
    assert_int_equal(utimes(idle, tv), 0);

    apr_pool_create(&p2, pconf);
    s = store_new(p2, 64 << 20, 2, 2, 0, 0);
    assert_non_null(s);
    assert_string_equal(get(s, "http://h/1"), "one");
    assert_string_equal(get(s, "http://h/2"), "two");
    assert_string_equal(get(s, "http://h/3"), pattern(70000, 3));
    assert_int_equal(stats(s).entries, 3);
    assert_int_equal(stats(s).stored, 0);
    assert_false(exists(dead));
    assert_true(exists(alive));
    assert_false(exists(idle));
    assert_true(exists(other));
    unlink(alive);
    assert_accounting(s);

    /* the entries found are in the index: they can be evicted */
    put(s, "http://h/4", "four");
    assert_int_equal(s->ops->remove(s, "http://h/", 1), 4);
    assert_int_equal(stats(s).entries, 0);
    assert_int_equal(stats(s).bytes, 0);
    apr_pool_destroy(p2);
}

/* A smaller CacheSize at the next start: the least recently used of the
 * entries found go, by their files' mtimes (a hit refreshes an old one). */
static void test_restart_smaller(void **state)
{
    apr_pool_t *p1;
    cache_store_t *s;
    apr_off_t b;
    struct timeval tv[2];
    int i;

    (void)state;
    apr_pool_create(&p1, pconf);
    s = store_new(p1, 64 << 20, 1, 1, 0, 0);
    b = block_of(s);
    for (i = 0; i < 8; i++) {
        put(s, apr_psprintf(pconf, "k%d", i), "x");
        /* k0 the oldest ... k7 the newest, by mtime */
        gettimeofday(&tv[0], NULL);
        tv[0].tv_sec -= 1000 - i;
        tv[1] = tv[0];
        assert_int_equal(utimes(path_of(s, apr_psprintf(pconf, "k%d", i)), tv),
                         0);
    }
    /* k0 is used: its file's mtime says so to the next start */
    assert_non_null(get(s, "k0"));
    apr_pool_destroy(p1);
    s = store_new(pconf, 5 * b, 1, 1, 0, 0);
    assert_non_null(s);
    assert_int_equal(stats(s).entries, 5);
    for (i = 0; i < 8; i++) {
        if (i >= 1 && i <= 3) {
            assert_null(get(s, apr_psprintf(pconf, "k%d", i)));
        } else {
            assert_non_null(get(s, apr_psprintf(pconf, "k%d", i)));
        }
    }
    assert_accounting(s);
}

static void test_eviction_lru(void **state)
{
    cache_store_t *s = store_default();
    apr_off_t b = block_of(s);
    const char *body;
    int i;

    (void)state;
    /* each entry takes 4 blocks; CacheSize holds 4 of them */
    s = store_new(pconf, 16 * b, 2, 2, 0, 0);
    assert_non_null(s);
    touch_granularity = 0;
    body = pattern((apr_size_t)(3 * b), 5);
    for (i = 0; i < 4; i++) {
        put(s, apr_psprintf(pconf, "k%d", i), body);
    }
    assert_int_equal(stats(s).entries, 4);
    assert_int_equal(stats(s).evicted, 0);
    /* k0 is used again: k1 is the least recently used now */
    assert_non_null(get(s, "k0"));
    put(s, "k4", body);
    assert_null(get(s, "k1"));
    assert_false(exists(path_of(s, "k1")));
    assert_non_null(get(s, "k0"));
    assert_non_null(get(s, "k2"));
    put(s, "k5", body);
    assert_null(get(s, "k3"));
    assert_non_null(get(s, "k0"));
    assert_int_equal(stats(s).evicted, 2);
    assert_int_equal(stats(s).entries, 4);
    assert_int_equal(stats(s).bytes, 16 * b);

    /* a bigger entry makes room for itself: two go */
    put(s, "big", pattern((apr_size_t)(7 * b), 1));
    assert_int_equal(stats(s).evicted, 4);
    assert_true(stats(s).bytes <= (apr_uint64_t)(16 * b));
    assert_non_null(get(s, "big"));
    assert_accounting(s);
}

/* Many entries of many sizes: the bytes never pass CacheSize and always
 * equal those of the files. */
static void test_eviction_bound(void **state)
{
    cache_store_t *s = store_default();
    apr_off_t b = block_of(s);
    int i;

    (void)state;
    s = store_new(pconf, 40 * b, 1, 2, 0, 0);
    assert_non_null(s);
    for (i = 0; i < 200; i++) {
        apr_size_t len =
            (apr_size_t)((i * 2654435761u) % (apr_uint32_t)(6 * b));
        cache_meta_t m = meta_of(200, "A: b\r\n");
        assert_int_equal(put_meta(s, apr_psprintf(pconf, "key%d", i % 70), &m,
                                  pattern(len, i), len, 4096),
                         0);
        assert_true(stats(s).bytes <= (apr_uint64_t)(40 * b));
        if (i % 20 == 0) {
            assert_accounting(s);
        }
    }
    assert_true(stats(s).evicted > 0);
    assert_accounting(s);
}

static void test_remove(void **state)
{
    cache_store_t *s = store_default();

    (void)state;
    put(s, "http://h:80/a/1", "1");
    put(s, "http://h:80/a/2", "2");
    put(s, "http://h:80/a/3?x=1", "3");
    put(s, "http://h:80/b/1", "4");
    put(s, "http://h:80/ab", "5");

    assert_int_equal(s->ops->remove(s, "http://h:80/a/", 1), 3);
    assert_null(get(s, "http://h:80/a/1"));
    assert_null(get(s, "http://h:80/a/3?x=1"));
    assert_string_equal(get(s, "http://h:80/ab"), "5");
    assert_string_equal(get(s, "http://h:80/b/1"), "4");
    assert_int_equal(s->ops->remove(s, "http://h:80/a/", 1), 0);

    /* exact: only that key */
    assert_int_equal(s->ops->remove(s, "http://h:80/b", 0), 0);
    assert_int_equal(s->ops->remove(s, "http://h:80/b/1", 0), 1);
    assert_int_equal(s->ops->remove(s, "http://h:80/b/1", 0), 0);
    assert_null(get(s, "http://h:80/b/1"));
    assert_string_equal(get(s, "http://h:80/ab"), "5");

    assert_int_equal(stats(s).removed, 4);
    assert_int_equal(stats(s).entries, 1);
    assert_accounting(s);
}

static void test_update_meta(void **state)
{
    cache_store_t *s = store_default();
    cache_meta_t m = meta_of(200, "ETag: \"1\"\r\n");
    const char *body = pattern(200000, 9);
    const char *hdrs = "ETag: \"1\"\r\nCache-Control: max-age=600\r\n";
    cache_hit_t old, hit;
    struct stat before, after;

    (void)state;
    assert_int_equal(put_meta(s, "u", &m, body, 200000, 65536), 0);
    assert_true(s->ops->lookup(s, "u", pconf, &old));
    assert_int_equal(stat(path_of(s, "u"), &before), 0);

    m = meta_of(200, hdrs);
    m.expires += apr_time_from_sec(600);
    m.body_len = 12345; /* ignored: the body is the stored one */
    assert_int_equal(s->ops->update_meta(s, "u", &m), 1);
    assert_true(s->ops->lookup(s, "u", pconf, &hit));
    assert_int_equal(hit.meta.expires, m.expires);
    assert_int_equal(hit.meta.headers_len, strlen(hdrs));
    assert_memory_equal(hit.meta.headers, hdrs, strlen(hdrs));
    assert_int_equal(hit.meta.body_len, 200000);
    assert_string_equal(hit_body(&hit), body);
    s->ops->release(s, &hit);
    /* a new file took the name; the hit taken before reads on */
    assert_int_equal(stat(path_of(s, "u"), &after), 0);
    assert_true(after.st_ino != before.st_ino);
    assert_string_equal(hit_body(&old), body);
    s->ops->release(s, &old);

    assert_int_equal(s->ops->update_meta(s, "gone", &m), 0);
    assert_null(get(s, "gone"));
    count_files(s);
    assert_int_equal(files.temps, 0);
    assert_int_equal(stats(s).entries, 1);
    assert_accounting(s);
}

/* A file found damaged, or read for update_meta, whose name a commit
 * took meanwhile: the new entry stays. */
static void test_replaced_meanwhile(void **state)
{
    cache_store_t *s = store_default();
    cache_meta_t m = meta_of(304, "ETag: \"2\"\r\n");
    const char *path = path_of(s, "k");
    char name[NAME_LEN + 1];
    uint64_t h0, h1;
    disk_entry_t e;

    (void)state;
    key_hash(s->data, "k", 1, &h0, &h1, name);
    put(s, "k", "old");
    flip(path, 0);
    assert_int_equal(entry_read(path, "k", 1, 0, NULL, &e), READ_DAMAGED);
    put(s, "k", "new");
    damaged(s->data, path, name, &e);
    close(e.fd);
    assert_string_equal(get(s, "k"), "new");

    assert_int_equal(entry_read(path, "k", 1, 0, NULL, &e), READ_OK);
    put(s, "k", "newer");
    assert_int_equal(rewrite(s->data, "k", &m, path, &e), 0);
    close(e.fd);
    assert_string_equal(get(s, "k"), "newer");
    count_files(s);
    assert_int_equal(files.temps, 0);
    assert_accounting(s);
}

static void test_dir_layout(void **state)
{
    static const struct {
        int levels, length;
    } layouts[] = {{1, 1}, {2, 2}, {3, 2}, {1, 4}, {8, 4}};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen;
    char hex[65], want[PATH_MAX];
    apr_size_t i;
    int l, k;

    (void)state;
    EVP_Digest("http://h/x", 10, md, &mdlen, EVP_sha256(), NULL);
    for (k = 0; k < 32; k++) {
        sprintf(hex + 2 * k, "%02x", md[k]);
    }
    hex[32] = '\0';
    for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
        apr_pool_t *p;
        cache_store_t *s;
        int n;

        apr_pool_create(&p, pconf);
        s = store_new(p, 1 << 20, layouts[i].levels, layouts[i].length, 0, 0);
        assert_non_null(s);
        put(s, "http://h/x", "x");
        n = snprintf(want, sizeof(want), "%s", root);
        for (l = 0; l < layouts[i].levels; l++) {
            n += snprintf(want + n, sizeof(want) - (apr_size_t)n, "/%.*s",
                          layouts[i].length, hex + l * layouts[i].length);
        }
        snprintf(want + n, sizeof(want) - (apr_size_t)n, "/%s", hex);
        assert_true(exists(want));
        count_files(s);
        assert_int_equal(files.entries, 1);
        assert_int_equal(s->ops->remove(s, "http://h/x", 0), 1);
        apr_pool_destroy(p);
    }
    /* a layout deeper than the name is long is refused */
    assert_null(store_new(pconf, 1 << 20, 8, 5, 0, 0));
}

/* A filler killed in the middle of a large entry: the entry it was
 * replacing stays whole, and the next start removes its file. */
static void test_killed_fill(void **state)
{
    cache_store_t *s = store_default();
    const char *old = pattern(5000, 2);
    apr_pool_t *p2;
    pid_t pid;
    int status;

    (void)state;
    put(s, "big", old);
    pid = fork();
    if (pid == 0) {
        cache_meta_t m = meta_of(200, "A: b\r\n");
        cache_fill_t *f = s->ops->fill_begin(s, "big", &m, 8 << 20);
        char *chunk = pattern(1 << 20, 0);
        int i;
        for (i = 0; f != NULL && i < 4; i++) {
            s->ops->fill_write(f, chunk, 1 << 20);
        }
        raise(SIGKILL); /* as kill -9 from outside */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_string_equal(get(s, "big"), old);
    count_files(s);
    assert_int_equal(files.temps, 1);
    assert_int_equal(files.entries, 1);

    apr_pool_create(&p2, pconf);
    s = store_new(p2, 64 << 20, 2, 2, 16 << 20, 1);
    assert_non_null(s);
    assert_string_equal(get(s, "big"), old);
    count_files(s);
    assert_int_equal(files.temps, 0);
    assert_accounting(s);
}

static apr_size_t share_len(int j, apr_off_t b)
{
    return (apr_size_t)(j * 997) % (apr_size_t)(3 * b);
}

/* Child c's entry r (written in rounds r, r + 25, r + 50) is absent or
 * one of those whole.  No cmocka assertion: it runs in a child. */
static int share_whole(cache_store_t *s, int c, int r, apr_off_t b)
{
    cache_hit_t hit;
    char *got;
    int ok = 0;

    if (!s->ops->lookup(s, apr_psprintf(pconf, "c%d-%d", c, r), pconf, &hit)) {
        return 1;
    }
    got = apr_palloc(pconf, (apr_size_t)hit.meta.body_len + 1);
    if (hit.body != NULL) {
        memcpy(got, hit.body, (size_t)hit.meta.body_len); /* small entry */
    }
    if (hit.body != NULL || pread(hit.fd, got, (size_t)hit.meta.body_len,
                                  hit.body_off) == hit.meta.body_len) {
        for (int jj = r; jj < 60; jj += 25) {
            apr_size_t len = share_len(jj, b);
            ok |= (apr_size_t)hit.meta.body_len == len &&
                  memcmp(got, pattern(len, jj), len) == 0;
        }
    }
    s->ops->release(s, &hit);
    return ok;
}

/* Children share the store made before they forked: their entries are
 * seen by each other, the totals are shared and exact. */
static void test_processes_share(void **state)
{
    cache_store_t *s = store_default();
    apr_off_t b = block_of(s);
    pid_t pids[3];
    int i, status;

    (void)state;
    s = store_new(pconf, 60 * b, 2, 1, 0, 0);
    assert_non_null(s);
    for (i = 0; i < 3; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            int j, bad = 0;
            for (j = 0; j < 60; j++) {
                const char *key = apr_psprintf(pconf, "c%d-%d", i, j % 25);
                cache_meta_t m = meta_of(200, "A: b\r\n");
                apr_size_t len = share_len(j, b);
                cache_fill_t *f = s->ops->fill_begin(s, key, &m, -1);
                bad |= f == NULL ||
                       s->ops->fill_write(f, pattern(len, j), len) != 0 ||
                       s->ops->fill_commit(f) != 0;
                bad |= !share_whole(s, (i + 1) % 3, j % 25, b);
            }
            _exit(bad);
        }
    }
    for (i = 0; i < 3; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(stats(s).stored, 180);
    assert_true(stats(s).bytes <= (apr_uint64_t)(60 * b));
    assert_true(stats(s).entries > 0);
    assert_accounting(s);
}

/* A child that dies holding the lock blocks no one. */
static void test_lock_owner_died(void **state)
{
    cache_store_t *s = store_default();
    disk_store_t *d = s->data;
    pid_t pid;

    (void)state;
    pid = fork();
    if (pid == 0) {
        lock(d->sh);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    put(s, "after", "works");
    assert_string_equal(get(s, "after"), "works");
}

static void test_no_fd_leak(void **state)
{
    int before = open_fds();
    apr_pool_t *p;
    cache_store_t *s;
    cache_meta_t m = meta_of(200, "A: b\r\n");
    cache_hit_t hit;
    cache_fill_t *f;

    (void)state;
    apr_pool_create(&p, pconf);
    s = store_new(p, 64 << 20, 2, 2, 100000, 2);
    assert_non_null(s);
    put(s, "a", "aaaa");
    put(s, "a", "bbbb");
    put(s, "b", pattern(90000, 1));
    assert_non_null(get(s, "a"));
    assert_null(get(s, "nothing"));
    /* the caller takes the descriptor (as rl_sendfile would) */
    assert_true(s->ops->lookup(s, "b", p, &hit));
    close(hit.fd);
    hit.fd = -1;
    s->ops->release(s, &hit);
    /* refusals and failures */
    f = s->ops->fill_begin(s, "c", &m, -1);
    s->ops->fill_write(f, "x", 1);
    assert_int_equal(s->ops->fill_commit(f), -1);
    f = s->ops->fill_begin(s, "c", &m, -1);
    assert_int_equal(s->ops->fill_write(f, pattern(100001, 0), 100001), -1);
    s->ops->fill_abort(f);
    f = s->ops->fill_begin(s, "c", &m, -1);
    s->ops->fill_abort(f);
    /* damage, collision, update, removal */
    flip(path_of(s, "a"), 3);
    assert_null(get(s, "a"));
    put(s, "a", "cccc");
    assert_int_equal(s->ops->update_meta(s, "a", &m), 1);
    assert_int_equal(s->ops->update_meta(s, "zz", &m), 0);
    move_entry(s, "a", "zz");
    assert_null(get(s, "zz"));
    assert_int_equal(s->ops->remove(s, "", 1), 2); /* "a" (at zz) and "b" */
    assert_int_equal(s->ops->remove(s, "b", 0), 0);
    assert_int_equal(open_fds(), before);
    apr_pool_destroy(p);
    assert_int_equal(open_fds(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_lookup, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_vary_marker, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_replace, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_fill_atomic, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_size_limits, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_entries, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_name_collision, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_restart, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_restart_smaller, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_eviction_lru, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_eviction_bound, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_remove, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_update_meta, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_replaced_meanwhile, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_dir_layout, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_killed_fill, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_processes_share, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_lock_owner_died, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_no_fd_leak, test_setup,
                                        test_teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
