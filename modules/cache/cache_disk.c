/*
 * cache_disk.c: mod_cache's disk store (CacheEnable disk), the contract of
 * cache_store.h kept in files under CacheRoot.
 *
 * Layout.  An entry lives in one file named by the first 128 bits of the
 * SHA-256 of its key in hex (32 characters), under CacheDirLevels
 * directories of CacheDirLength characters each, taken from the start of
 * that name: with 2 and 2, the entry 3fa2c0... is CacheRoot/3f/a2/3fa2c0...
 * (httpd's mod_cache_disk's idea of bounded directories; not its format).
 * Directories are made when first needed and never removed, so a fill
 * never races a cleaner removing its directory.
 *
 * Format, in the machine's byte order (the cache is local to it):
 *     disk_header_t | key | response header block | vary | body
 * The header holds magic, version, its own size, the lengths, the times,
 * the status and a checksum of itself, the key, the header block and vary.
 * A lookup opens the file and reads its first 4 KiB (all but the body, as
 * a rule); the entry is damaged, and removed, unless magic and version
 * are ours, the lengths add up to the file's size exactly and the
 * checksum matches; an undamaged file holding another key (the two keys'
 * hashes collide) is a miss, and is left alone.  The body is not
 * checksummed: checking it would mean reading it on every hit, and
 * sending it with sendfile is the point.
 *
 * Atomic writes.  A fill writes to a temporary file beside the final one,
 * "<name>.tmp.<pid>.<counter>.<random>", which lookups never open, and
 * fill_commit rename()s it onto the final name: a reader opens either the
 * old whole file or the new whole file, and an open descriptor keeps its
 * file whole when the name is replaced or removed meanwhile (that is how
 * a hit is pinned: eviction may unlink the name, the bytes stay until the
 * descriptor is closed).  A process killed mid-fill leaves only its
 * temporary file; cache_disk_create removes those whose process is gone,
 * or that nothing wrote to for an hour (a fill writes as bytes arrive, and
 * a backend that is silent for an hour has been given up long before).
 * No fsync: rename already makes a crashed process harmless, and fsync
 * only helps against a power loss, at the price of a disk flush per entry
 * on the event loop.  After a power loss an entry may be gone or, on a
 * file system that does not write data before a rename (ext4 does by
 * default), have a body of zeroes of the right length.  A cache can afford
 * the first; the second is the price of not flushing, as in nginx.
 *
 * Size and eviction.  CacheSize bounds the bytes on disk, each file counted
 * rounded up to the file system's block size (a 300-byte entry takes
 * 4 KiB).  Shared memory, made here in the parent before the children
 * fork, holds the totals and an index of every entry: its name, its size
 * and when it was last used.  Every change to a final name (a rename onto
 * it, an unlink) is made under one robust process-shared mutex together
 * with its index update, so the total is exact.  A commit that would go
 * past CacheSize evicts first, approximately least recently used as Redis
 * does: the oldest entry of a window of at least 256 index slots and 16
 * entries from a random place (the whole index of a small cache), again
 * until there is room.  A hit stamps the entry's last use in the index
 * without the lock (at most once a second per entry) and, at most every
 * ten minutes, the file's mtime, which the next start reads back as the
 * last use.  The index holds CacheSize / block size entries at most (every
 * entry takes a block), and never more than 1 Mi entries (64 MiB of shared
 * memory, touched only as it fills): past that, least recently used
 * entries go even when bytes remain.  Temporary files of fills in progress
 * are not counted.  At start, cache_disk_create walks the tree (readdir
 * and one stat per entry: about a second per million entries when the
 * inodes are cached, longer from a cold disk) to rebuild the index.
 *
 * PURGE by prefix (remove with prefix set) walks the whole tree and reads
 * each entry's key: one open and one read per entry, on the calling
 * thread.  It is rare; an index of the keys would cost shared memory on
 * every entry for it.  An exact remove opens one file.
 *
 * Event loop.  A hit is open, fstat and one 4 KiB read; a miss is one
 * failed open; a fill writes as bytes arrive (in 32 KiB blocks) into the
 * page cache, as nginx's proxy_cache does; a commit is one rename.
 * update_meta writes a new file whose body the kernel copies
 * (copy_file_range), then renames it.
 *
 * One CacheRoot belongs to one running server: two servers on one root
 * serve whole entries but count the bytes each on its own.  The children
 * make the directories and files, so CacheRoot must be writable by User.
 *
 * Calls: fill_write returns 0, or -1 and the fill is to be aborted;
 * fill_commit returns 0, or -1 when it refused (below CacheMinFileSize, a
 * body shorter than announced, a failed write), and ends the fill either
 * way: fill_abort is not called after it.
 */
#include "cache_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_shm.h>
#include <apr_strings.h>

#include <openssl/evp.h>

RL_LOG_USE_MODULE(cache);

/* ------------------------------------------------------------------ */
/* The file format                                                    */
/* ------------------------------------------------------------------ */

#define DISK_MAGIC 0x31434c52u /* "RLC1" read as bytes on little-endian */
#define DISK_VERSION 1u
#define DISK_F_VARY 1u /* the entry has a vary value (maybe empty) */

/* Bounds a header may state: larger is damage (or a fill refused). */
#define DISK_MAX_KEY (1u << 20)
#define DISK_MAX_HEADERS (16u << 20)

/* What a lookup reads at once: the whole metadata as a rule. */
#define DISK_HEAD_READ 4096
/* A fill's write buffer. */
#define DISK_FILL_BUF (32 * 1024)

typedef struct disk_header_t {
    uint32_t magic;
    uint32_t version;
    uint32_t header_size; /* sizeof(disk_header_t) */
    uint32_t key_len;
    uint32_t headers_len;
    uint32_t vary_len;
    uint32_t flags;
    int32_t status;
    int64_t request_time;
    int64_t response_time;
    int64_t expires;
    int64_t stale_until;
    int64_t body_len;
    uint64_t checksum; /* of all of the above (this field 0), key,
                          header block and vary */
} disk_header_t;

_Static_assert(sizeof(disk_header_t) == 80, "disk_header_t has no padding");

#define NAME_LEN 32 /* hex characters of a file name */
#define TEMP_TAG ".tmp."

/* ------------------------------------------------------------------ */
/* Shared state                                                       */
/* ------------------------------------------------------------------ */

/* One index slot: an entry's name (128 bits), its size on disk (0: the
 * slot is free) and its last use (apr_time_t).  Read without the lock by
 * hits, so every field is accessed with atomic loads and stores. */
typedef struct disk_slot_t {
    uint64_t h0, h1;
    uint64_t size;
    uint64_t atime;
} disk_slot_t;

typedef struct disk_shared_t {
    pthread_mutex_t lock;
    uint64_t bytes, entries;           /* now */
    uint64_t stored, evicted, removed; /* since the store was made */
    uint64_t nslots;                   /* a power of two */
    uint64_t max_entries;              /* at most nslots / 2 */
    disk_slot_t slots[];
} disk_shared_t;

#define MAX_ENTRIES_CAP (1u << 20)
#define EVICT_WINDOW 256
#define EVICT_SAMPLES 16
/* A hit writes the entry's last use to the file's mtime when the one it
 * has is older than this: what the next start reads back. */
#define MTIME_REFRESH apr_time_from_sec(600)
/* A temporary file nothing wrote to for this long is a crashed fill's. */
#define TEMP_MAX_IDLE 3600

/* The index stamps an entry's last use at most this often (the unit
 * tests set it to 0 to order uses within a second). */
static apr_time_t touch_granularity = APR_USEC_PER_SEC;

typedef struct disk_store_t {
    cache_store_t pub;
    char *root; /* without a trailing slash */
    apr_size_t root_len;
    int levels, length;
    apr_off_t size, max_file, min_file;
    apr_off_t block;
    EVP_MD *md; /* SHA-256, fetched once: an implicit fetch per digest
                   costs twice the time and takes OpenSSL's locks */
    disk_shared_t *sh;
} disk_store_t;

struct cache_fill_t {
    disk_store_t *d;
    int fd;
    int failed;
    uint64_t h0, h1;
    char name[NAME_LEN + 1];
    char temp[PATH_MAX];
    disk_header_t hdr;   /* checksum and body_len filled at commit */
    uint64_t meta_sum;   /* running checksum of key, headers and vary */
    apr_off_t body_off;  /* where the body starts */
    apr_off_t expected;  /* -1: unknown */
    apr_off_t written;   /* body bytes so far */
    apr_size_t buffered; /* bytes in buf */
    char buf[DISK_FILL_BUF];
};

static const cache_store_ops_t disk_ops;

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */
/* ------------------------------------------------------------------ */

#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
/* counters change under the lock but are read without it (stats) */
#define ADD(x, v) __atomic_add_fetch(&(x), (v), __ATOMIC_RELAXED)

/* FNV-1a, 64 bits: a checksum against damage, not an adversary (the
 * key is compared in full anyway). */
#define FNV_INIT 0xcbf29ce484222325ull

static uint64_t fnv(uint64_t h, const void *data, apr_size_t len)
{
    const unsigned char *p = data;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

static uint64_t header_sum(const disk_header_t *h, uint64_t meta_sum)
{
    disk_header_t copy = *h;

    copy.checksum = 0;
    /* the metadata's sum seeds the header's: order fixed, both covered */
    return fnv(meta_sum, &copy, sizeof(copy));
}

/* Per-thread xorshift64*, seeded from the pid, the clock and the stack:
 * sampling and temporary names only need to differ, not to be secret. */
static __thread uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t x = rng_state;

    if (x == 0) {
        int local;
        x = (uint64_t)apr_time_now() ^ ((uint64_t)getpid() << 32) ^
            (uint64_t)(uintptr_t)&local;
        x |= 1;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* The key's name: 128 bits of SHA-256, as two words and in hex. */
static int key_hash(const disk_store_t *d, const char *key, apr_size_t len,
                    uint64_t *h0, uint64_t *h1, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int i;

    if (EVP_Digest(key, len, md, &mdlen, d->md, NULL) != 1 || mdlen < 16) {
        return -1;
    }
    memcpy(h0, md, 8);
    memcpy(h1, md + 8, 8);
    for (i = 0; i < 16; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[NAME_LEN] = '\0';
    return 0;
}

static int hex_to_hash(const char *hex, uint64_t *h0, uint64_t *h1)
{
    unsigned char md[16];
    int i;

    for (i = 0; i < NAME_LEN; i++) {
        int c = hex[i], v;
        if (c >= '0' && c <= '9') {
            v = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;
        } else {
            return -1;
        }
        if (i % 2 == 0) {
            md[i / 2] = (unsigned char)(v << 4);
        } else {
            md[i / 2] |= (unsigned char)v;
        }
    }
    memcpy(h0, md, 8);
    memcpy(h1, md + 8, 8);
    return 0;
}

/* root/ab/cd (the entry's directory) into buf; returns its length. */
static apr_size_t dir_path(const disk_store_t *d, const char *name, char *buf)
{
    char *p = buf;
    int i;

    memcpy(p, d->root, d->root_len);
    p += d->root_len;
    for (i = 0; i < d->levels; i++) {
        *p++ = '/';
        memcpy(p, name + i * d->length, (apr_size_t)d->length);
        p += d->length;
    }
    *p = '\0';
    return (apr_size_t)(p - buf);
}

/* root/ab/cd/<name> into buf (PATH_MAX, checked at create). */
static void entry_path(const disk_store_t *d, const char *name, char *buf)
{
    apr_size_t n = dir_path(d, name, buf);

    buf[n] = '/';
    memcpy(buf + n + 1, name, NAME_LEN + 1);
}

/* The entry's directories, made as needed (0700: only the server reads
 * them). */
static int make_dirs(const disk_store_t *d, const char *name)
{
    char buf[PATH_MAX];
    apr_size_t n;
    int i;

    n = d->root_len;
    memcpy(buf, d->root, n);
    for (i = 0; i < d->levels; i++) {
        buf[n++] = '/';
        memcpy(buf + n, name + i * d->length, (apr_size_t)d->length);
        n += (apr_size_t)d->length;
        buf[n] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
            return -1;
        }
    }
    return 0;
}

static apr_off_t on_disk(const disk_store_t *d, apr_off_t len)
{
    return (len + d->block - 1) / d->block * d->block;
}

/* Write all of len at the descriptor's offset. */
static int write_all(int fd, const char *data, apr_size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        data += n;
        len -= (apr_size_t)n;
    }
    return 0;
}

static ssize_t pread_all(int fd, char *buf, apr_size_t len, apr_off_t off)
{
    apr_size_t got = 0;

    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, off + (apr_off_t)got);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (n == 0) {
            break;
        }
        got += (apr_size_t)n;
    }
    return (ssize_t)got;
}

/* An error on a fill or a removal, for the error log: at most one a
 * minute per process, since a full disk would otherwise write one per
 * response. */
static void log_io_error(const disk_store_t *d, int err, const char *what,
                         const char *path)
{
    static apr_time_t last;
    apr_time_t now = apr_time_now(), prev = LD(last);

    if (now - prev < apr_time_from_sec(60) ||
        !__atomic_compare_exchange_n(&last, &prev, now, 0, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED)) {
        return;
    }
    rl_log_error(RL_LOG_ERR, APR_FROM_OS_ERROR(err), NULL,
                 "cache: CacheRoot %s: cannot %s %s (the cache works on "
                 "without this entry; more such errors this minute are "
                 "not logged)",
                 d->root, what, path);
}

/* ------------------------------------------------------------------ */
/* The shared index                                                   */
/* ------------------------------------------------------------------ */

static void lock(disk_shared_t *sh)
{
    /* a child that died holding the lock may have left one index update
     * half made: at worst an entry counted twice or not at all, which the
     * next start's walk corrects */
    if (pthread_mutex_lock(&sh->lock) == EOWNERDEAD) {
        pthread_mutex_consistent(&sh->lock);
    }
}

static void unlock(disk_shared_t *sh)
{
    pthread_mutex_unlock(&sh->lock);
}

/* The slot holding (h0, h1), or -1.  Under the lock. */
static int64_t idx_find(disk_shared_t *sh, uint64_t h0, uint64_t h1)
{
    uint64_t mask = sh->nslots - 1, i = h0 & mask;

    for (;;) {
        disk_slot_t *s = &sh->slots[i];
        if (LD(s->size) == 0) {
            return -1;
        }
        if (LD(s->h0) == h0 && LD(s->h1) == h1) {
            return (int64_t)i;
        }
        i = (i + 1) & mask;
    }
}

/* Sets the entry's size and last use; returns its former size (0 when it
 * is new).  Under the lock, with room for a new entry. */
static uint64_t idx_put(disk_shared_t *sh, uint64_t h0, uint64_t h1,
                        uint64_t size, apr_time_t atime)
{
    uint64_t mask = sh->nslots - 1, i = h0 & mask;

    for (;;) {
        disk_slot_t *s = &sh->slots[i];
        uint64_t old = LD(s->size);
        if (old == 0) {
            ST(s->h0, h0);
            ST(s->h1, h1);
            ST(s->atime, (uint64_t)atime);
            ST(s->size, size);
            ADD(sh->entries, 1);
            ADD(sh->bytes, size);
            return 0;
        }
        if (LD(s->h0) == h0 && LD(s->h1) == h1) {
            ST(s->atime, (uint64_t)atime);
            ST(s->size, size);
            ADD(sh->bytes, size - old);
            return old;
        }
        i = (i + 1) & mask;
    }
}

/* Frees slot i, moving later slots of its cluster back (linear probing
 * without tombstones); returns the size it held.  Under the lock. */
static uint64_t idx_del_at(disk_shared_t *sh, uint64_t i)
{
    uint64_t mask = sh->nslots - 1, j = i, size = LD(sh->slots[i].size);

    for (;;) {
        uint64_t home;
        j = (j + 1) & mask;
        if (LD(sh->slots[j].size) == 0) {
            break;
        }
        home = LD(sh->slots[j].h0) & mask;
        /* slot j may move to i when its home is not in (i, j] */
        if ((i <= j) ? (home <= i || home > j) : (home <= i && home > j)) {
            ST(sh->slots[i].h0, LD(sh->slots[j].h0));
            ST(sh->slots[i].h1, LD(sh->slots[j].h1));
            ST(sh->slots[i].atime, LD(sh->slots[j].atime));
            ST(sh->slots[i].size, LD(sh->slots[j].size));
            i = j;
        }
    }
    ST(sh->slots[i].size, 0);
    ADD(sh->entries, (uint64_t)-1);
    ADD(sh->bytes, -size);
    return size;
}

static uint64_t idx_del(disk_shared_t *sh, uint64_t h0, uint64_t h1)
{
    int64_t i = idx_find(sh, h0, h1);

    return i < 0 ? 0 : idx_del_at(sh, (uint64_t)i);
}

/* A hit's stamp, without the lock: a slot moved meanwhile only makes the
 * stamp miss (or land on a neighbour), which costs LRU precision, never
 * the byte count.  Returns the last use it found, or now when none. */
static apr_time_t idx_touch(disk_shared_t *sh, uint64_t h0, uint64_t h1,
                            apr_time_t now)
{
    uint64_t mask = sh->nslots - 1, i = h0 & mask, n;

    for (n = 0; n < 64; n++) {
        disk_slot_t *s = &sh->slots[i];
        if (LD(s->size) == 0) {
            break;
        }
        if (LD(s->h0) == h0 && LD(s->h1) == h1) {
            apr_time_t was = (apr_time_t)LD(s->atime);
            if (now - was >= touch_granularity) {
                ST(s->atime, (uint64_t)now);
            }
            return was;
        }
        i = (i + 1) & mask;
    }
    return now;
}

/* The least recently used entry of a window of the table from a random
 * slot: at least EVICT_WINDOW slots and EVICT_SAMPLES entries (the whole
 * table when it is small, so that small caches evict in exact LRU order);
 * -1 when the index is empty.  Under the lock. */
static int64_t idx_victim(disk_shared_t *sh)
{
    uint64_t mask = sh->nslots - 1, i = rng() & mask, seen = 0, n;
    uint64_t best_at = 0;
    int64_t best = -1;

    if (LD(sh->entries) == 0) {
        return -1;
    }
    for (n = 0; n < sh->nslots; n++, i = (i + 1) & mask) {
        if (n >= EVICT_WINDOW && seen >= EVICT_SAMPLES) {
            break;
        }
        if (LD(sh->slots[i].size) == 0) {
            continue;
        }
        seen++;
        if (best < 0 || LD(sh->slots[i].atime) < best_at) {
            best = (int64_t)i;
            best_at = LD(sh->slots[i].atime);
        }
    }
    return best;
}

static void slot_name(const disk_slot_t *s, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[16];
    uint64_t h0 = LD(s->h0), h1 = LD(s->h1);
    int i;

    memcpy(md, &h0, 8);
    memcpy(md + 8, &h1, 8);
    for (i = 0; i < 16; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[NAME_LEN] = '\0';
}

/* Evicts until `bytes` more bytes of entry (h0, h1) fit: its present
 * size is freed by the write itself, and it is one more entry when it is
 * new.  With bytes 0 (and a name no entry has), until the index is within
 * its bounds.  Under the lock. */
static void evict_for(disk_store_t *d, uint64_t h0, uint64_t h1, uint64_t bytes)
{
    disk_shared_t *sh = d->sh;

    for (;;) {
        int64_t at = idx_find(sh, h0, h1), v;
        uint64_t old = at < 0 ? 0 : LD(sh->slots[at].size);
        char name[NAME_LEN + 1], path[PATH_MAX];

        if (sh->bytes - old + bytes <= (uint64_t)d->size &&
            sh->entries + (bytes > 0 && at < 0) <= sh->max_entries) {
            return;
        }
        if ((v = idx_victim(sh)) < 0) {
            return;
        }
        slot_name(&sh->slots[v], name);
        entry_path(d, name, path);
        if (unlink(path) != 0 && errno != ENOENT) {
            log_io_error(d, errno, "remove (to evict)", path);
        }
        idx_del_at(sh, (uint64_t)v);
        ADD(sh->evicted, 1);
    }
}

/* ------------------------------------------------------------------ */
/* Reading an entry                                                   */
/* ------------------------------------------------------------------ */

typedef enum {
    READ_OK,
    READ_GONE,    /* no such file */
    READ_DAMAGED, /* not a whole entry of ours: remove it */
    READ_OTHER,   /* a whole entry of another key */
    READ_ERROR    /* the system failed (EMFILE, EIO...): leave it */
} read_result_e;

typedef struct disk_entry_t {
    int fd;
    struct stat st;
    disk_header_t hdr;
    apr_off_t body_off;
    char *meta; /* key, headers, vary (from p), NULL without p */
    char *body; /* with p, a body that came with the first read (small
                   entries), else NULL: sent from memory, head and body
                   in one send instead of a send and a sendfile */
} disk_entry_t;

/*
 * Opens path and checks it holds a whole entry for key (prefix: a key
 * starting with key).  With p, the metadata is copied there.  e->fd is
 * open whenever the result is READ_OK, READ_DAMAGED or READ_OTHER.
 */
static read_result_e entry_read(const char *path, const char *key,
                                apr_size_t key_len, int prefix, apr_pool_t *p,
                                disk_entry_t *e)
{
    char head[DISK_HEAD_READ];
    char *meta, *heap = NULL;
    apr_size_t meta_len;
    ssize_t n;
    const disk_header_t *h = &e->hdr;
    read_result_e rr;

    e->meta = NULL;
    e->body = NULL;
    e->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (e->fd < 0) {
        return errno == ENOENT ? READ_GONE : READ_ERROR;
    }
    /* no more than the file holds: a read past its end would cost a
     * second pread() that returns 0 */
    if (fstat(e->fd, &e->st) != 0 ||
        (n = pread_all(e->fd, head,
                       e->st.st_size < (off_t)sizeof(head)
                           ? (apr_size_t)e->st.st_size
                           : sizeof(head),
                       0)) < 0) {
        return READ_ERROR;
    }
    if ((apr_size_t)n < sizeof(disk_header_t)) {
        return READ_DAMAGED;
    }
    memcpy(&e->hdr, head, sizeof(disk_header_t));
    if (h->magic != DISK_MAGIC || h->version != DISK_VERSION ||
        h->header_size != sizeof(disk_header_t) || h->key_len > DISK_MAX_KEY ||
        h->headers_len > DISK_MAX_HEADERS || h->vary_len > DISK_MAX_HEADERS ||
        h->body_len < 0) {
        return READ_DAMAGED;
    }
    meta_len = (apr_size_t)h->key_len + h->headers_len + h->vary_len;
    e->body_off = (apr_off_t)(sizeof(disk_header_t) + meta_len);
    if (e->body_off + h->body_len != e->st.st_size) {
        return READ_DAMAGED;
    }
    if (sizeof(disk_header_t) + meta_len <= (apr_size_t)n) {
        meta = head + sizeof(disk_header_t);
    } else {
        /* metadata past the first read: large header blocks, rare */
        meta = heap = malloc(meta_len);
        if (heap == NULL) {
            return READ_ERROR;
        }
        if (pread_all(e->fd, heap, meta_len, sizeof(disk_header_t)) !=
            (ssize_t)meta_len) {
            free(heap);
            return READ_DAMAGED;
        }
    }
    if (header_sum(h, fnv(FNV_INIT, meta, meta_len)) != h->checksum) {
        rr = READ_DAMAGED;
    } else if (h->key_len < key_len || (!prefix && h->key_len != key_len) ||
               memcmp(meta, key, key_len) != 0) {
        rr = READ_OTHER;
    } else {
        rr = READ_OK;
        if (p != NULL) {
            e->meta = apr_pmemdup(p, meta, meta_len);
            if (heap == NULL && e->st.st_size <= n) {
                e->body = h->body_len > 0 ? apr_pmemdup(p, head + e->body_off,
                                                        (apr_size_t)h->body_len)
                                          : apr_pstrdup(p, "");
            }
        }
    }
    free(heap);
    return rr;
}

/*
 * Unlinks path if it still names the file e->fd has open (a commit may
 * have put a new entry there since), with its index update; returns 1
 * when it did.  Takes the lock.
 */
static int entry_unlink(disk_store_t *d, const char *path, const char *name,
                        const disk_entry_t *e)
{
    struct stat now;
    uint64_t h0, h1;
    int done = 0;

    if (hex_to_hash(name, &h0, &h1) != 0) {
        return 0;
    }
    lock(d->sh);
    if (stat(path, &now) == 0 && now.st_ino == e->st.st_ino &&
        now.st_dev == e->st.st_dev) {
        if (unlink(path) == 0) {
            idx_del(d->sh, h0, h1);
            done = 1;
        } else {
            log_io_error(d, errno, "remove", path);
        }
    }
    unlock(d->sh);
    return done;
}

static void damaged(disk_store_t *d, const char *path, const char *name,
                    const disk_entry_t *e)
{
    if (entry_unlink(d, path, name, e)) {
        rl_log_error(RL_LOG_WARNING, 0, NULL,
                     "cache: CacheRoot %s: %s was not a whole cache entry "
                     "(truncated or damaged on disk): removed",
                     d->root, path);
    }
}

/* ------------------------------------------------------------------ */
/* lookup, release                                                    */
/* ------------------------------------------------------------------ */

static int disk_lookup(cache_store_t *s, const char *key, apr_pool_t *p,
                       cache_hit_t *hit)
{
    disk_store_t *d = s->data;
    char name[NAME_LEN + 1], path[PATH_MAX];
    apr_size_t key_len = strlen(key);
    disk_entry_t e;
    uint64_t h0, h1;
    apr_time_t now;
    read_result_e rr;

    hit->fd = -1;
    if (key_hash(d, key, key_len, &h0, &h1, name) != 0) {
        return 0;
    }
    entry_path(d, name, path);
    rr = entry_read(path, key, key_len, 0, p, &e);
    if (rr != READ_OK) {
        if (rr == READ_DAMAGED) {
            damaged(d, path, name, &e);
        }
        if (e.fd >= 0) {
            close(e.fd);
        }
        return 0;
    }
    memset(hit, 0, sizeof(*hit));
    hit->meta.status = e.hdr.status;
    hit->meta.request_time = e.hdr.request_time;
    hit->meta.response_time = e.hdr.response_time;
    hit->meta.expires = e.hdr.expires;
    hit->meta.stale_until = e.hdr.stale_until;
    hit->meta.body_len = e.hdr.body_len;
    hit->meta.headers = e.meta + e.hdr.key_len;
    hit->meta.headers_len = e.hdr.headers_len;
    if (e.hdr.flags & DISK_F_VARY) {
        hit->meta.vary = apr_pstrmemdup(
            p, e.meta + e.hdr.key_len + e.hdr.headers_len, e.hdr.vary_len);
    }
    hit->body = NULL;
    hit->fd = e.fd;
    hit->body_off = e.body_off;
    hit->handle = d;

    now = apr_time_now();
    idx_touch(d->sh, h0, h1, now);
    if (now - apr_time_from_sec(e.st.st_mtim.tv_sec) > MTIME_REFRESH) {
        /* for the next start's LRU order; a failure costs only that */
        struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
        (void)futimens(e.fd, ts);
    }
    if (e.body != NULL) {
        /* the whole entry came with the first read: served from memory */
        hit->body = e.body;
        close(e.fd);
        hit->fd = -1;
    }
    return 1;
}

static void disk_release(cache_store_t *s, cache_hit_t *hit)
{
    (void)s;
    if (hit->fd >= 0) {
        close(hit->fd);
        hit->fd = -1;
    }
}

/* ------------------------------------------------------------------ */
/* Fills                                                              */
/* ------------------------------------------------------------------ */

static int fill_flush(cache_fill_t *f)
{
    if (f->buffered > 0) {
        if (write_all(f->fd, f->buf, f->buffered) != 0) {
            log_io_error(f->d, errno, "write", f->temp);
            f->failed = 1;
            return -1;
        }
        f->buffered = 0;
    }
    return 0;
}

/* Appends to the file through the buffer. */
static int fill_put(cache_fill_t *f, const char *data, apr_size_t len)
{
    if (len == 0) {
        return 0; /* data may be NULL */
    }
    if (f->buffered + len > sizeof(f->buf)) {
        if (fill_flush(f) != 0) {
            return -1;
        }
        if (len >= sizeof(f->buf)) {
            if (write_all(f->fd, data, len) != 0) {
                log_io_error(f->d, errno, "write", f->temp);
                f->failed = 1;
                return -1;
            }
            return 0;
        }
    }
    memcpy(f->buf + f->buffered, data, len);
    f->buffered += len;
    return 0;
}

static void header_from_meta(disk_header_t *h, apr_size_t key_len,
                             const cache_meta_t *meta)
{
    memset(h, 0, sizeof(*h));
    h->magic = DISK_MAGIC;
    h->version = DISK_VERSION;
    h->header_size = sizeof(*h);
    h->key_len = (uint32_t)key_len;
    h->headers_len = (uint32_t)meta->headers_len;
    h->vary_len = meta->vary != NULL ? (uint32_t)strlen(meta->vary) : 0;
    h->flags = meta->vary != NULL ? DISK_F_VARY : 0;
    h->status = meta->status;
    h->request_time = meta->request_time;
    h->response_time = meta->response_time;
    h->expires = meta->expires;
    h->stale_until = meta->stale_until;
}

/* A new temporary file beside the entry's name, its directories made as
 * needed. */
static int temp_open(cache_fill_t *f)
{
    static apr_uint32_t counter;
    disk_store_t *d = f->d;
    apr_size_t n = dir_path(d, f->name, f->temp);
    int tries;

    for (tries = 0; tries < 2; tries++) {
        snprintf(f->temp + n, sizeof(f->temp) - n, "/%s" TEMP_TAG "%ld.%u.%08x",
                 f->name, (long)getpid(),
                 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED),
                 (unsigned)rng());
        f->fd = open(f->temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (f->fd >= 0) {
            return 0;
        }
        if (errno != ENOENT || make_dirs(d, f->name) != 0) {
            break;
        }
    }
    log_io_error(d, errno, "create", f->temp);
    return -1;
}

/* A fill's start: the header (its checksum and body length still 0, so
 * the file is no entry until commit writes them), then the metadata. */
static cache_fill_t *fill_start(disk_store_t *d, const char *key,
                                const cache_meta_t *meta)
{
    apr_size_t key_len = strlen(key);
    apr_size_t vary_len = meta->vary != NULL ? strlen(meta->vary) : 0;
    cache_fill_t *f;

    if (key_len > DISK_MAX_KEY || meta->headers_len > DISK_MAX_HEADERS ||
        vary_len > DISK_MAX_HEADERS) {
        return NULL;
    }
    if ((f = malloc(sizeof(*f))) == NULL) {
        return NULL;
    }
    f->d = d;
    f->failed = 0;
    f->written = 0;
    f->buffered = 0;
    f->expected = -1;
    if (key_hash(d, key, key_len, &f->h0, &f->h1, f->name) != 0 ||
        temp_open(f) != 0) {
        free(f);
        return NULL;
    }
    header_from_meta(&f->hdr, key_len, meta);
    f->meta_sum = fnv(FNV_INIT, key, key_len);
    f->meta_sum = fnv(f->meta_sum, meta->headers, meta->headers_len);
    f->meta_sum = fnv(f->meta_sum, meta->vary, vary_len);
    f->body_off = (apr_off_t)(sizeof(disk_header_t) + key_len +
                              meta->headers_len + vary_len);
    {
        disk_header_t blank;
        memset(&blank, 0, sizeof(blank));
        if (fill_put(f, (const char *)&blank, sizeof(blank)) != 0 ||
            fill_put(f, key, key_len) != 0 ||
            fill_put(f, meta->headers, meta->headers_len) != 0 ||
            fill_put(f, meta->vary, vary_len) != 0) {
            close(f->fd);
            unlink(f->temp);
            free(f);
            return NULL;
        }
    }
    return f;
}

static cache_fill_t *disk_fill_begin(cache_store_t *s, const char *key,
                                     const cache_meta_t *meta,
                                     apr_off_t expected_len)
{
    disk_store_t *d = s->data;
    cache_fill_t *f;

    if (expected_len >= 0) {
        if ((d->max_file > 0 && expected_len > d->max_file) ||
            on_disk(d, expected_len) > d->size) {
            return NULL;
        }
        if (meta->vary == NULL && expected_len < d->min_file) {
            return NULL;
        }
    }
    if ((f = fill_start(d, key, meta)) != NULL) {
        f->expected = expected_len;
    }
    return f;
}

static int disk_fill_write(cache_fill_t *f, const char *data, apr_size_t len)
{
    disk_store_t *d = f->d;
    apr_off_t total = f->written + (apr_off_t)len;

    if (f->failed || (d->max_file > 0 && total > d->max_file) ||
        (f->expected >= 0 && total > f->expected) ||
        on_disk(d, f->body_off + total) > d->size) {
        f->failed = 1;
        return -1;
    }
    if (fill_put(f, data, len) != 0) {
        return -1;
    }
    f->written = total;
    return 0;
}

static void fill_free(cache_fill_t *f)
{
    if (f->fd >= 0) {
        close(f->fd);
    }
    if (f->temp[0] != '\0') {
        unlink(f->temp);
    }
    free(f);
}

static void disk_fill_abort(cache_fill_t *f)
{
    fill_free(f);
}

/*
 * The entry's name now points at the finished file f->temp, evicting
 * first when needed.  With `only_ino`, only when the name still points at
 * that inode (update_meta: a newer entry committed meanwhile wins).
 */
static int publish(disk_store_t *d, const char *temp, const char *name,
                   uint64_t h0, uint64_t h1, apr_off_t len,
                   const struct stat *only)
{
    disk_shared_t *sh = d->sh;
    char path[PATH_MAX];
    uint64_t size = (uint64_t)on_disk(d, len);
    int rv = -1;

    entry_path(d, name, path);
    lock(sh);
    if (only != NULL) {
        struct stat now;
        if (stat(path, &now) != 0 || now.st_ino != only->st_ino ||
            now.st_dev != only->st_dev) {
            goto out;
        }
    }
    evict_for(d, h0, h1, size);
    if (rename(temp, path) != 0) {
        log_io_error(d, errno, "rename into place", temp);
        goto out;
    }
    idx_put(sh, h0, h1, size, apr_time_now());
    ADD(sh->stored, 1);
    rv = 0;
out:
    unlock(sh);
    return rv;
}

/* Writes the final header and closes the file: the temporary file is then
 * a whole entry.  0 or -1. */
static int fill_finish(cache_fill_t *f)
{
    int fd = f->fd;

    f->hdr.body_len = f->written;
    f->hdr.checksum = header_sum(&f->hdr, f->meta_sum);
    f->fd = -1;
    if (pwrite(fd, &f->hdr, sizeof(f->hdr), 0) != sizeof(f->hdr)) {
        log_io_error(f->d, errno, "write", f->temp);
        close(fd);
        return -1;
    }
    if (close(fd) != 0) {
        log_io_error(f->d, errno, "write", f->temp);
        return -1;
    }
    return 0;
}

static int disk_fill_commit(cache_fill_t *f)
{
    disk_store_t *d = f->d;
    int rv = -1;

    if (f->failed || fill_flush(f) != 0 ||
        (f->expected >= 0 && f->written != f->expected) ||
        (f->hdr.flags & DISK_F_VARY ? 0 : f->written < d->min_file) ||
        fill_finish(f) != 0) {
        fill_free(f);
        return -1;
    }
    rv = publish(d, f->temp, f->name, f->h0, f->h1, f->body_off + f->written,
                 NULL);
    if (rv == 0) {
        f->temp[0] = '\0'; /* renamed: nothing to remove */
    }
    fill_free(f);
    return rv;
}

/* ------------------------------------------------------------------ */
/* update_meta, remove, stats                                         */
/* ------------------------------------------------------------------ */

/* Copies len bytes of in from off to the end of out: in the kernel when
 * it can. */
static int copy_body(int in, apr_off_t off, int out, apr_off_t len)
{
    loff_t from = off;
    char buf[16384];

    while (len > 0) {
        ssize_t n = copy_file_range(in, &from, out, NULL, (size_t)len, 0);
        if (n > 0) {
            len -= n;
            continue;
        }
        if (n == 0) {
            return -1; /* the file shrank: it cannot, it is ours */
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL &&
            errno != EOPNOTSUPP) {
            return -1;
        }
        /* no in-kernel copy here: read and write */
        while (len > 0) {
            apr_size_t chunk =
                len < (apr_off_t)sizeof(buf) ? (apr_size_t)len : sizeof(buf);
            ssize_t r = pread_all(in, buf, chunk, from);
            if (r != (ssize_t)chunk || write_all(out, buf, chunk) != 0) {
                return -1;
            }
            from += r;
            len -= r;
        }
    }
    return 0;
}

/* A new file for the entry e read (the name `name` at path), with meta
 * and e's body, renamed into place unless a newer entry took the name
 * since e was opened (that one wins).  1 when it was. */
static int rewrite(disk_store_t *d, const char *key, const cache_meta_t *meta,
                   const char *path, const disk_entry_t *e)
{
    cache_fill_t *f = fill_start(d, key, meta);
    int rv = 0;

    if (f == NULL) {
        return 0;
    }
    if (fill_flush(f) != 0 ||
        copy_body(e->fd, e->body_off, f->fd, e->hdr.body_len) != 0) {
        log_io_error(d, errno, "copy the body of", path);
    } else {
        f->written = e->hdr.body_len;
        if (fill_finish(f) == 0 &&
            publish(d, f->temp, f->name, f->h0, f->h1, f->body_off + f->written,
                    &e->st) == 0) {
            f->temp[0] = '\0'; /* renamed: nothing to remove */
            rv = 1;
        }
    }
    fill_free(f);
    return rv;
}

static int disk_update_meta(cache_store_t *s, const char *key,
                            const cache_meta_t *meta)
{
    disk_store_t *d = s->data;
    char name[NAME_LEN + 1], path[PATH_MAX];
    apr_size_t key_len = strlen(key);
    uint64_t h0, h1;
    disk_entry_t e;
    read_result_e rr;
    int rv = 0;

    if (key_hash(d, key, key_len, &h0, &h1, name) != 0) {
        return 0;
    }
    entry_path(d, name, path);
    rr = entry_read(path, key, key_len, 0, NULL, &e);
    if (rr == READ_OK) {
        rv = rewrite(d, key, meta, path, &e);
    } else if (rr == READ_DAMAGED) {
        damaged(d, path, name, &e);
    }
    if (e.fd >= 0) {
        close(e.fd);
    }
    return rv;
}

/* ------------------------------------------------------------------ */
/* Walking the tree                                                   */
/* ------------------------------------------------------------------ */

/* Called with each file of the last level: path (modifiable), its name
 * and whether it is a temporary file. */
typedef void (*walk_fn)(disk_store_t *d, char *path, const char *name, int temp,
                        void *baton);

static int is_hex(const char *s, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static void walk(disk_store_t *d, char *path, apr_size_t len, int depth,
                 walk_fn fn, void *baton)
{
    DIR *dir = opendir(path);
    struct dirent *de;

    if (dir == NULL) {
        return;
    }
    while ((de = readdir(dir)) != NULL) {
        apr_size_t n = strlen(de->d_name);
        if (len + 1 + n + 1 > PATH_MAX) {
            continue;
        }
        if (depth < d->levels) {
            if (n != (apr_size_t)d->length || !is_hex(de->d_name, n)) {
                continue;
            }
            path[len] = '/';
            memcpy(path + len + 1, de->d_name, n + 1);
            walk(d, path, len + 1 + n, depth + 1, fn, baton);
        } else if (n >= NAME_LEN && is_hex(de->d_name, NAME_LEN)) {
            int temp = n > NAME_LEN && strncmp(de->d_name + NAME_LEN, TEMP_TAG,
                                               sizeof(TEMP_TAG) - 1) == 0;
            if (n != NAME_LEN && !temp) {
                continue; /* not ours: left alone */
            }
            path[len] = '/';
            memcpy(path + len + 1, de->d_name, n + 1);
            fn(d, path, path + len + 1, temp, baton);
        }
        path[len] = '\0';
    }
    closedir(dir);
}

static void walk_all(disk_store_t *d, walk_fn fn, void *baton)
{
    char path[PATH_MAX];

    memcpy(path, d->root, d->root_len + 1);
    if (d->root_len == 0) {
        strcpy(path, "/"); /* CacheRoot / : walk() appends "/name" */
        walk(d, path, 0, 0, fn, baton);
        return;
    }
    walk(d, path, d->root_len, 0, fn, baton);
}

typedef struct purge_t {
    const char *prefix;
    apr_size_t len;
    int count;
} purge_t;

static void purge_one(disk_store_t *d, char *path, const char *name, int temp,
                      void *baton)
{
    purge_t *pg = baton;
    disk_entry_t e;
    read_result_e rr;

    if (temp) {
        return;
    }
    rr = entry_read(path, pg->prefix, pg->len, 1, NULL, &e);
    if (rr == READ_OK) {
        pg->count += entry_unlink(d, path, name, &e);
    } else if (rr == READ_DAMAGED) {
        damaged(d, path, name, &e);
    }
    if (e.fd >= 0) {
        close(e.fd);
    }
}

static int disk_remove(cache_store_t *s, const char *key, int prefix)
{
    disk_store_t *d = s->data;
    purge_t pg;
    int n;

    pg.prefix = key;
    pg.len = strlen(key);
    pg.count = 0;
    if (prefix) {
        walk_all(d, purge_one, &pg);
    } else {
        char name[NAME_LEN + 1], path[PATH_MAX];
        uint64_t h0, h1;
        if (key_hash(d, key, pg.len, &h0, &h1, name) != 0) {
            return 0;
        }
        entry_path(d, name, path);
        /* an exact key: a longer key of the same name is not this one */
        {
            disk_entry_t e;
            read_result_e rr = entry_read(path, key, pg.len, 0, NULL, &e);
            if (rr == READ_OK) {
                pg.count = entry_unlink(d, path, name, &e);
            } else if (rr == READ_DAMAGED) {
                damaged(d, path, name, &e);
            }
            if (e.fd >= 0) {
                close(e.fd);
            }
        }
    }
    n = pg.count;
    if (n > 0) {
        ADD(d->sh->removed, (uint64_t)n);
    }
    return n;
}

static void disk_stats(cache_store_t *s, cache_store_stats_t *out)
{
    disk_store_t *d = s->data;
    disk_shared_t *sh = d->sh;

    out->entries = LD(sh->entries);
    out->bytes = LD(sh->bytes);
    out->capacity = (apr_uint64_t)d->size;
    out->stored = LD(sh->stored);
    out->evicted = LD(sh->evicted);
    out->removed = LD(sh->removed);
}

static const cache_store_ops_t disk_ops = {
    "disk",          disk_lookup,      disk_release,    disk_fill_begin,
    disk_fill_write, disk_fill_commit, disk_fill_abort, disk_update_meta,
    disk_remove,     disk_stats};

/* ------------------------------------------------------------------ */
/* Creation: the start's walk                                         */
/* ------------------------------------------------------------------ */

typedef struct scan_t {
    apr_time_t now;
    int temps, damaged;
} scan_t;

/* A temporary file is a crashed fill's when its process is gone or it
 * was not written to for TEMP_MAX_IDLE (pids are reused). */
static int temp_is_dead(const char *name, const struct stat *st, apr_time_t now)
{
    const char *p = name + NAME_LEN + sizeof(TEMP_TAG) - 1;
    char *end;
    long pid = strtol(p, &end, 10);

    if (end == p || *end != '.' || pid <= 0) {
        return 1;
    }
    if (now - apr_time_from_sec(st->st_mtime) >
        apr_time_from_sec(TEMP_MAX_IDLE)) {
        return 1;
    }
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static void scan_one(disk_store_t *d, char *path, const char *name, int temp,
                     void *baton)
{
    scan_t *sc = baton;
    struct stat st;
    uint64_t h0, h1;

    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        return;
    }
    if (temp) {
        if (temp_is_dead(name, &st, sc->now) && unlink(path) == 0) {
            sc->temps++;
        }
        return;
    }
    if (st.st_size < (off_t)sizeof(disk_header_t) ||
        on_disk(d, st.st_size) > d->size || hex_to_hash(name, &h0, &h1) != 0) {
        /* too short to be an entry, or larger than CacheSize now is */
        if (unlink(path) == 0) {
            sc->damaged++;
        }
        return;
    }
    lock(d->sh);
    idx_put(d->sh, h0, h1, (uint64_t)on_disk(d, st.st_size),
            apr_time_from_sec(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec / 1000);
    /* CacheSize smaller than the last run's, or more entries than the
     * index holds: the least recently used go, this one included (the
     * index has room for one entry more than it keeps) */
    evict_for(d, 0, 0, 0);
    unlock(d->sh);
}

static apr_status_t free_md(void *md)
{
    EVP_MD_free(md);
    return APR_SUCCESS;
}

/* mkdir -p for CacheRoot.  The parent runs this as root while the
 * children, which fill the cache, run as User/Group: directories above
 * the root are made traversable (0755), and the root itself (0700) is
 * given to the children's user. */
static int make_root(char *path)
{
    char *p;
    uid_t uid;
    gid_t gid;

    for (p = path + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                *p = '/';
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return -1;
    }
    if (rl_child_ids(&uid, &gid) && chown(path, uid, gid) != 0) {
        return -1;
    }
    return 0;
}

cache_store_t *cache_disk_create(apr_pool_t *pconf,
                                 const cache_store_conf_t *conf)
{
    disk_store_t *d;
    pthread_mutexattr_t ma;
    apr_shm_t *shm;
    apr_status_t rv;
    struct stat st;
    uint64_t max_entries, nslots;
    scan_t sc;
    apr_size_t longest;

    if (conf->root == NULL || conf->root[0] != '/') {
        rl_log_error(RL_LOG_EMERG, 0, NULL,
                     "cache: CacheEnable disk needs CacheRoot, an absolute "
                     "directory");
        return NULL;
    }
    if (conf->size <= 0 || conf->dir_levels < 1 || conf->dir_length < 1 ||
        conf->dir_levels * conf->dir_length > NAME_LEN) {
        rl_log_error(RL_LOG_EMERG, 0, NULL,
                     "cache: CacheRoot %s: CacheDirLevels %d times "
                     "CacheDirLength %d must be between 1 and %d, and "
                     "CacheSize positive",
                     conf->root, conf->dir_levels, conf->dir_length, NAME_LEN);
        return NULL;
    }
    d = apr_pcalloc(pconf, sizeof(*d));
    d->root = apr_pstrdup(pconf, conf->root);
    d->root_len = strlen(d->root);
    while (d->root_len > 0 && d->root[d->root_len - 1] == '/') {
        d->root[--d->root_len] = '\0';
    }
    d->levels = conf->dir_levels;
    d->length = conf->dir_length;
    d->size = conf->size;
    d->max_file = conf->max_file_size;
    d->min_file = conf->min_file_size;
    longest = d->root_len + (apr_size_t)(d->levels * (d->length + 1)) + 1 +
              NAME_LEN + 64;
    if (longest >= PATH_MAX) {
        rl_log_error(RL_LOG_EMERG, 0, NULL,
                     "cache: CacheRoot %s: too long a path", d->root);
        return NULL;
    }
    if (d->root_len > 0 && make_root(d->root) != 0) {
        rl_log_error(RL_LOG_EMERG, APR_FROM_OS_ERROR(errno), NULL,
                     "cache: CacheRoot %s: cannot create the directory",
                     d->root);
        return NULL;
    }
    if (stat(d->root_len > 0 ? d->root : "/", &st) != 0 ||
        !S_ISDIR(st.st_mode)) {
        rl_log_error(RL_LOG_EMERG, 0, NULL,
                     "cache: CacheRoot %s: not a directory", d->root);
        return NULL;
    }
    d->block = st.st_blksize >= 512 && st.st_blksize <= 65536
                   ? (apr_off_t)st.st_blksize
                   : 4096;
    if ((d->md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
        rl_log_error(RL_LOG_EMERG, 0, NULL,
                     "cache: CacheRoot %s: OpenSSL has no SHA-256 (the "
                     "store names its files with it)",
                     d->root);
        return NULL;
    }
    apr_pool_cleanup_register(pconf, d->md, free_md, apr_pool_cleanup_null);

    max_entries = (uint64_t)(d->size / d->block);
    if (max_entries > MAX_ENTRIES_CAP) {
        max_entries = MAX_ENTRIES_CAP;
    }
    if (max_entries < 16) {
        max_entries = 16;
    }
    for (nslots = 32; nslots < 2 * max_entries; nslots *= 2) {
    }
    rv = apr_shm_create(&shm,
                        sizeof(disk_shared_t) + nslots * sizeof(disk_slot_t),
                        NULL, pconf);
    if (rv != APR_SUCCESS) {
        rl_log_error(RL_LOG_EMERG, rv, NULL,
                     "cache: CacheRoot %s: cannot make the shared index of "
                     "%lu entries",
                     d->root, (unsigned long)max_entries);
        return NULL;
    }
    d->sh = apr_shm_baseaddr_get(shm);
    memset(d->sh, 0, sizeof(*d->sh)); /* the slots are zero (fresh mmap) */
    d->sh->nslots = nslots;
    d->sh->max_entries = max_entries;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&d->sh->lock, &ma);
    pthread_mutexattr_destroy(&ma);

    /* entries of an earlier run: counted, the oldest evicted when the
     * size shrank; crashed fills' temporary files removed */
    sc.now = apr_time_now();
    sc.temps = sc.damaged = 0;
    walk_all(d, scan_one, &sc);
    d->sh->evicted = 0; /* evictions of this walk are not "since start" */

    rl_log_error(RL_LOG_INFO, 0, NULL,
                 "cache: CacheRoot %s: %lu entries (%lu of %lu bytes) kept "
                 "from earlier runs; %d unfinished and %d damaged files "
                 "removed",
                 d->root, (unsigned long)d->sh->entries,
                 (unsigned long)d->sh->bytes, (unsigned long)d->size, sc.temps,
                 sc.damaged);

    d->pub.ops = &disk_ops;
    d->pub.data = d;
    return &d->pub;
}
