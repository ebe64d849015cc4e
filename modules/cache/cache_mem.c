/*
 * cache_mem.c: mod_cache's memory store (cache_store.h): one segment of
 * anonymous shared memory of CacheSize bytes, made by the parent before it
 * forks, so that every child sees every entry.
 *
 * The segment: a header (counters, the lock, the LRU list's ends, the free
 * lists), a hash index (buckets of entry offsets, chained through the
 * entries), a pin table, then the arena.  Everything refers to everything
 * else by offset from the header, 0 meaning none.
 *
 * The arena is a chain of blocks, each starting with its size: a walk from
 * the first block by sizes visits them all.  A block is free, a fill (being
 * written by one filler, whose pid it records) or an entry.  An entry is
 * one block: header, body, then key, header block and Vary value.  So a
 * body is contiguous and a hit hands out a pointer into the segment: no
 * copy.  The body comes first so that a fill can grow it without moving
 * the metadata, which it keeps in its own memory until the commit.
 *
 * Allocation: free blocks are kept coalesced, in lists by power-of-two size
 * class; a request takes the first fit of its class or any block of a
 * larger one, and the rest of it goes back as a free block.  When nothing
 * fits, the least recently used unpinned entry goes, with as many of its
 * neighbours in the arena (free blocks and unpinned entries, whatever their
 * age) as it takes to make one block of the size wanted.  Evicting strictly
 * in LRU order until a big enough hole happened to open up would flush most
 * of the store for one large object among small ones; this evicts about as
 * many bytes as are needed.  Between entries of one size it is plain LRU.
 *
 * Limits: an entry (block) may take at most 1/CM_FRACTION (1/8) of the
 * arena, so that one object cannot flush the store, and its body at most
 * CacheMaxFileSize.  Both are checked at fill_begin when the length is
 * known, and as the body grows otherwise.  CacheMinFileSize is left to the
 * glue, which knows which entries (Vary markers) have no body on purpose.
 *
 * Pins: lookup() pins the entry, release() unpins it; a pinned entry is
 * never evicted or freed.  An entry replaced or removed while pinned is
 * taken out of the index and marked dead; its last release frees it.  Each
 * pin is also recorded in the pin table by (entry, pid), so that the pins
 * of a child that died while sending are given back: when space is short
 * (at most once a second) the pins and fills of dead pids are reclaimed.
 * The table has arena/8 KiB slots (512 at least); when 7/8 of them are in
 * use, a lookup is a miss rather than an unrecorded pin.
 *
 * update_meta rewrites an unpinned entry's metadata in place when it fits;
 * otherwise (pinned: its holders read the old fields) it copies the body
 * into a new entry that replaces the old one.  meta->body_len is ignored:
 * the body stays as it is.  When no room can be made for the copy, the
 * entry is removed and 0 returned, rather than kept with stale fields.
 *
 * Locking: one robust process-shared mutex in the segment.  A hit holds it
 * to find and pin the entry and move it to the LRU's head, a release to
 * unpin; fills copy body bytes without it (a fill's block is its own).  A
 * child killed while holding it leaves EOWNERDEAD to the next one, which
 * rebuilds the index, the LRU, the free lists and the pin counts from a
 * walk of the arena.  Every change of a block's size or state is one store,
 * ordered after the header it exposes, so that walk is valid whenever the
 * owner died; if it is not (memory damaged), the store turns itself off
 * until a new segment is made.
 *
 * Graceful restarts: the segment lives in retained data; the same CacheSize
 * finds it again with its entries, another size makes a new one (empty).
 */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_shm.h>
#include <apr_strings.h>

#include "cache_store.h"

RL_LOG_USE_MODULE(cache);

/* A restart may load another build of this file while the segment stays:
 * change the magic with the layout (CM_LAYOUT catches most changes). */
#define CM_MAGIC 0x524c434d454d3031ull /* "RLCMEM01" */
#define CM_LAYOUT                                                              \
    ((apr_uint64_t)sizeof(cm_seg_t) << 32 |                                    \
     (apr_uint64_t)sizeof(cm_ent_t) << 16 | sizeof(cm_pin_t))
#define CM_RETAINED_KEY "cache-mem"
/** Block granularity: a cache line; bodies start on one. */
#define CM_ALIGN 64
#define CM_SIZE_MIN (64 * 1024)
/** An entry takes at most 1/CM_FRACTION of the arena. */
#define CM_FRACTION 8
/** First body room of a fill whose length is not known. */
#define CM_FILL_FIRST (16 * 1024)
#define CM_CLASSES 48
/** LRU entries tried as the seed of an eviction before giving up. */
#define CM_EVICT_TRIES 64
/** First-fit probes in a request's own size class. */
#define CM_FIT_PROBES 8
#define CM_NO_VARY 0xffffffffu
#define CM_NS_PER_S 1000000000ll

enum { CM_FREE = 1, CM_FILL = 2, CM_ENTRY = 3 };
#define CM_DEAD 1u     /* entry flag: out of the index, freed on last release */
#define CM_UPDATING 2u /* its metadata is being rewritten in place */

typedef apr_uint64_t cm_off_t;

/* The start of every block of the arena. */
typedef struct cm_blk_t {
    apr_uint64_t size;      /* whole block; the one field a walk trusts */
    apr_uint64_t prev_size; /* the block before (0: first): derived */
    apr_uint32_t state;     /* CM_FREE, CM_FILL, CM_ENTRY */
    apr_uint32_t pid;       /* CM_FILL: the filler */
    cm_off_t fnext, fprev;  /* CM_FREE: its size class's list; CM_FILL:
                               the list of fills */
} cm_blk_t;

typedef struct cm_ent_t {
    cm_blk_t b;
    cm_off_t hnext;              /* hash chain */
    cm_off_t lru_prev, lru_next; /* newer, older */
    apr_uint64_t hash;
    apr_uint64_t seq; /* commit order: after a crash, the newer copy wins */
    apr_uint32_t pins;
    apr_uint32_t flags;
    apr_uint32_t key_len;
    apr_uint32_t vary_len; /* CM_NO_VARY: meta.vary NULL */
    apr_uint64_t headers_len;
    apr_uint64_t body_len;
    apr_int64_t request_time, response_time, expires, stale_until;
    apr_int32_t status;
} cm_ent_t;

#define CM_ENT_HDR APR_ALIGN(sizeof(cm_ent_t), CM_ALIGN)

/* (entry, pid) holds count pins; ent 0: empty slot.  Linear probing with
 * backward-shift deletion, so no tombstones. */
typedef struct cm_pin_t {
    cm_off_t ent;
    apr_uint32_t pid;
    apr_uint32_t count;
} cm_pin_t;

typedef struct cm_lock_t {
    pthread_mutex_t m;
} __attribute__((aligned(64))) cm_lock_t;

typedef struct cm_seg_t {
    apr_uint64_t magic;
    apr_uint64_t layout;   /* CM_LAYOUT */
    apr_uint64_t seg_size; /* CacheSize it was made with */
    apr_uint64_t seed[2];  /* SipHash key of the index, secret */
    cm_lock_t lock;
    apr_uint32_t nbuckets, npins; /* powers of two */
    apr_uint32_t pins_used;
    apr_uint32_t poisoned; /* the walk failed after a crash: store off */
    cm_off_t buckets_off, pins_off, arena_off, arena_end;
    cm_off_t lru_head, lru_tail; /* newest, oldest */
    cm_off_t free_head[CM_CLASSES];
    cm_off_t fill_head;    /* fills in progress, for reclaim_dead */
    apr_uint64_t free_map; /* bit c: free_head[c] is not empty */
    apr_uint64_t seq;
    apr_int64_t last_reclaim; /* CLOCK_MONOTONIC ns */
    apr_uint64_t entries, bytes, stored, evicted, removed;
} cm_seg_t;

/* One per generation, in pconf: the limits may change while the segment
 * is kept. */
typedef struct cm_store_t {
    cache_store_t pub;
    cm_seg_t *sg;
    apr_uint64_t max_body;  /* CacheMaxFileSize */
    apr_uint64_t max_block; /* arena / CM_FRACTION */
} cm_store_t;

struct cache_fill_t {
    cm_store_t *st;
    cm_off_t blk; /* its CM_FILL block; 0 once given up */
    apr_uint64_t len;
    apr_off_t expected;    /* -1: not told */
    apr_uint64_t meta_len; /* key NUL headers [vary NUL] */
    apr_uint64_t hash;
    apr_uint32_t key_len, vary_len;
    cache_meta_t meta;
    char buf[]; /* the meta_len bytes, as they go after the body */
};

typedef struct cm_retained_t {
    apr_pool_t *pool; /* holds shm; replaced with it */
    apr_shm_t *shm;
    apr_uint64_t size;
} cm_retained_t;

#define CM_AT(sg, off) ((char *)(sg) + (off))
#define CM_BLK(sg, off) ((cm_blk_t *)CM_AT(sg, off))
#define CM_ENT(sg, off) ((cm_ent_t *)CM_AT(sg, off))
#define CM_OFF(sg, p) ((cm_off_t)((const char *)(p) - (const char *)(sg)))
#define CM_BUCKETS(sg) ((cm_off_t *)CM_AT(sg, (sg)->buckets_off))
#define CM_PINS(sg) ((cm_pin_t *)CM_AT(sg, (sg)->pins_off))
#define CM_BODY(e) ((char *)(e) + CM_ENT_HDR)
#define CM_KEY(e) (CM_BODY(e) + (e)->body_len)
#define CM_ROUND(n) APR_ALIGN((apr_uint64_t)(n), CM_ALIGN)


/* ------------------------------------------------------------------ */
/* Small helpers                                                      */
/* ------------------------------------------------------------------ */

/* The pid of this process without a system call per hit: a private page
 * the kernel zeroes in a forked child (MADV_WIPEONFORK) caches it.  Not
 * pthread_atfork, whose handler would outlive this .so at a restart. */
static pid_t *pid_page;

static apr_uint32_t my_pid(void)
{
    pid_t pid;

    if (pid_page == NULL) {
        return (apr_uint32_t)getpid();
    }
    pid = __atomic_load_n(pid_page, __ATOMIC_RELAXED);
    if (pid == 0) {
        pid = getpid();
        __atomic_store_n(pid_page, pid, __ATOMIC_RELAXED);
    }
    return (apr_uint32_t)pid;
}

static void pid_page_setup(void)
{
#ifdef MADV_WIPEONFORK
    long pg = sysconf(_SC_PAGESIZE);
    void *p;

    if (pid_page != NULL || pg <= 0) {
        return;
    }
    p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return;
    }
    if (madvise(p, (size_t)pg, MADV_WIPEONFORK) != 0) {
        munmap(p, (size_t)pg); /* an old kernel: getpid() each time */
        return;
    }
    pid_page = p;
#endif
}

static apr_int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_int64_t)ts.tv_sec * CM_NS_PER_S + ts.tv_nsec;
}

/* SipHash-1-3 (Aumasson and Bernstein): keys come from clients, so the
 * index's hash is keyed with a secret to keep chains short.  Words are
 * read in the host's byte order: the hash never leaves the machine. */
#define CM_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define CM_SIPROUND                                                            \
    do {                                                                       \
        v0 += v1;                                                              \
        v1 = CM_ROTL(v1, 13) ^ v0;                                             \
        v0 = CM_ROTL(v0, 32);                                                  \
        v2 += v3;                                                              \
        v3 = CM_ROTL(v3, 16) ^ v2;                                             \
        v0 += v3;                                                              \
        v3 = CM_ROTL(v3, 21) ^ v0;                                             \
        v2 += v1;                                                              \
        v1 = CM_ROTL(v1, 17) ^ v2;                                             \
        v2 = CM_ROTL(v2, 32);                                                  \
    } while (0)

static apr_uint64_t key_hash(const cm_seg_t *sg, const char *key,
                             apr_size_t len)
{
    const unsigned char *p = (const unsigned char *)key;
    apr_uint64_t v0 = sg->seed[0] ^ 0x736f6d6570736575ull;
    apr_uint64_t v1 = sg->seed[1] ^ 0x646f72616e646f6dull;
    apr_uint64_t v2 = sg->seed[0] ^ 0x6c7967656e657261ull;
    apr_uint64_t v3 = sg->seed[1] ^ 0x7465646279746573ull;
    apr_uint64_t m;
    apr_size_t left = len, i;

    for (; left >= 8; p += 8, left -= 8) {
        memcpy(&m, p, 8);
        v3 ^= m;
        CM_SIPROUND;
        v0 ^= m;
    }
    m = (apr_uint64_t)(len & 0xff) << 56;
    for (i = 0; i < left; i++) {
        m |= (apr_uint64_t)p[i] << (8 * i);
    }
    v3 ^= m;
    CM_SIPROUND;
    v0 ^= m;
    v2 ^= 0xff;
    CM_SIPROUND;
    CM_SIPROUND;
    CM_SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}


/* ------------------------------------------------------------------ */
/* Blocks and free lists (all with the lock held)                     */
/* ------------------------------------------------------------------ */

/* The stores a walk after a crash relies on: a block's size and state are
 * set after everything they expose has been written. */
static void blk_set_size(cm_blk_t *b, apr_uint64_t size)
{
    __atomic_store_n(&b->size, size, __ATOMIC_RELEASE);
}

static void blk_set_state(cm_blk_t *b, apr_uint32_t state)
{
    __atomic_store_n(&b->state, state, __ATOMIC_RELEASE);
}

static unsigned size_class(apr_uint64_t size)
{
    unsigned c = 63u - (unsigned)__builtin_clzll(size / CM_ALIGN);

    return c < CM_CLASSES ? c : CM_CLASSES - 1;
}

static cm_off_t blk_next(const cm_seg_t *sg, cm_off_t off)
{
    cm_off_t n = off + CM_BLK(sg, off)->size;

    return n < sg->arena_end ? n : 0;
}

static cm_off_t blk_prev(const cm_seg_t *sg, cm_off_t off)
{
    apr_uint64_t ps = CM_BLK(sg, off)->prev_size;

    return ps != 0 ? off - ps : 0;
}

static void free_push(cm_seg_t *sg, cm_off_t off)
{
    cm_blk_t *b = CM_BLK(sg, off);
    unsigned c = size_class(b->size);

    b->fprev = 0;
    b->fnext = sg->free_head[c];
    if (b->fnext != 0) {
        CM_BLK(sg, b->fnext)->fprev = off;
    }
    sg->free_head[c] = off;
    sg->free_map |= 1ull << c;
}

/* Before its size changes: the size tells its list. */
static void free_unlink(cm_seg_t *sg, cm_off_t off)
{
    cm_blk_t *b = CM_BLK(sg, off);
    unsigned c = size_class(b->size);

    if (b->fprev != 0) {
        CM_BLK(sg, b->fprev)->fnext = b->fnext;
    } else {
        sg->free_head[c] = b->fnext;
    }
    if (b->fnext != 0) {
        CM_BLK(sg, b->fnext)->fprev = b->fprev;
    }
    if (sg->free_head[c] == 0) {
        sg->free_map &= ~(1ull << c);
    }
}

static void fix_prev_size(cm_seg_t *sg, cm_off_t off)
{
    cm_off_t next = blk_next(sg, off);

    if (next != 0) {
        CM_BLK(sg, next)->prev_size = CM_BLK(sg, off)->size;
    }
}

static void fill_link(cm_seg_t *sg, cm_off_t off)
{
    cm_blk_t *b = CM_BLK(sg, off);

    b->fprev = 0;
    b->fnext = sg->fill_head;
    if (b->fnext != 0) {
        CM_BLK(sg, b->fnext)->fprev = off;
    }
    sg->fill_head = off;
}

static void fill_unlink(cm_seg_t *sg, cm_off_t off)
{
    cm_blk_t *b = CM_BLK(sg, off);

    if (b->fprev != 0) {
        CM_BLK(sg, b->fprev)->fnext = b->fnext;
    } else {
        sg->fill_head = b->fnext;
    }
    if (b->fnext != 0) {
        CM_BLK(sg, b->fnext)->fprev = b->fprev;
    }
}

/* Merges free block off (in no list yet) with its free neighbours and
 * lists the result; returns where it starts. */
static cm_off_t free_merge(cm_seg_t *sg, cm_off_t off)
{
    cm_blk_t *b = CM_BLK(sg, off);
    cm_off_t next = blk_next(sg, off), prev = blk_prev(sg, off);

    if (next != 0 && CM_BLK(sg, next)->state == CM_FREE) {
        free_unlink(sg, next);
        blk_set_size(b, b->size + CM_BLK(sg, next)->size);
    }
    if (prev != 0 && CM_BLK(sg, prev)->state == CM_FREE) {
        free_unlink(sg, prev);
        blk_set_size(CM_BLK(sg, prev), CM_BLK(sg, prev)->size + b->size);
        off = prev;
    }
    fix_prev_size(sg, off);
    free_push(sg, off);
    return off;
}

/* Frees block off (a fill, or an unpinned entry out of the index);
 * returns the free block that holds it now. */
static cm_off_t blk_free(cm_seg_t *sg, cm_off_t off)
{
    cm_blk_t *b = CM_BLK(sg, off);

    if (b->state == CM_FILL) {
        fill_unlink(sg, off);
    }
    blk_set_state(b, CM_FREE);
    b->pid = 0;
    return free_merge(sg, off);
}

/* Cuts block off (not free) down to n bytes, the rest going free. */
static void blk_trim(cm_seg_t *sg, cm_off_t off, apr_uint64_t n)
{
    cm_blk_t *b = CM_BLK(sg, off), *t;

    if (b->size < n + CM_ALIGN) {
        return;
    }
    t = CM_BLK(sg, off + n);
    t->size = b->size - n;
    t->prev_size = n;
    t->state = CM_FREE;
    t->pid = 0;
    blk_set_size(b, n);
    free_merge(sg, off + n);
}

/* Makes free block off (in its list) a fill of n bytes for this pid. */
static void blk_claim(cm_seg_t *sg, cm_off_t off, apr_uint64_t n)
{
    cm_blk_t *b = CM_BLK(sg, off);

    free_unlink(sg, off);
    b->pid = my_pid();
    blk_set_state(b, CM_FILL);
    fill_link(sg, off);
    blk_trim(sg, off, n);
}

/* A free block of at least n bytes, or 0. */
static cm_off_t free_find(const cm_seg_t *sg, apr_uint64_t n)
{
    unsigned c = size_class(n);
    cm_off_t off = sg->free_head[c];
    apr_uint64_t above;
    int i;

    for (i = 0; off != 0 && i < CM_FIT_PROBES; i++) {
        if (CM_BLK(sg, off)->size >= n) {
            return off;
        }
        off = CM_BLK(sg, off)->fnext;
    }
    /* any block of a higher class is big enough */
    above = c + 1 < 64 ? sg->free_map & (~0ull << (c + 1)) : 0;
    return above != 0 ? sg->free_head[__builtin_ctzll(above)] : 0;
}


/* ------------------------------------------------------------------ */
/* The index and the LRU list                                         */
/* ------------------------------------------------------------------ */

static cm_off_t *bucket_of(cm_seg_t *sg, apr_uint64_t hash)
{
    return &CM_BUCKETS(sg)[hash & (sg->nbuckets - 1)];
}

static cm_off_t ent_find(cm_seg_t *sg, apr_uint64_t hash, const char *key,
                         apr_size_t len)
{
    cm_off_t off;

    for (off = *bucket_of(sg, hash); off != 0; off = CM_ENT(sg, off)->hnext) {
        const cm_ent_t *e = CM_ENT(sg, off);

        if (e->hash == hash && e->key_len == len &&
            memcmp(CM_KEY(e), key, len) == 0) {
            return off;
        }
    }
    return 0;
}

static void lru_unlink(cm_seg_t *sg, cm_off_t off)
{
    cm_ent_t *e = CM_ENT(sg, off);

    if (e->lru_prev != 0) {
        CM_ENT(sg, e->lru_prev)->lru_next = e->lru_next;
    } else {
        sg->lru_head = e->lru_next;
    }
    if (e->lru_next != 0) {
        CM_ENT(sg, e->lru_next)->lru_prev = e->lru_prev;
    } else {
        sg->lru_tail = e->lru_prev;
    }
    e->lru_prev = e->lru_next = 0;
}

static void lru_push(cm_seg_t *sg, cm_off_t off)
{
    cm_ent_t *e = CM_ENT(sg, off);

    e->lru_prev = 0;
    e->lru_next = sg->lru_head;
    if (sg->lru_head != 0) {
        CM_ENT(sg, sg->lru_head)->lru_prev = off;
    } else {
        sg->lru_tail = off;
    }
    sg->lru_head = off;
}

/* Puts a written entry into the index and at the LRU's head. */
static void ent_link(cm_seg_t *sg, cm_off_t off)
{
    cm_ent_t *e = CM_ENT(sg, off);
    cm_off_t *bk = bucket_of(sg, e->hash);

    fill_unlink(sg, off);
    e->flags = 0;
    e->pins = 0;
    e->seq = ++sg->seq;
    blk_set_state(&e->b, CM_ENTRY);
    e->hnext = *bk;
    *bk = off;
    lru_push(sg, off);
    sg->entries++;
    sg->bytes += e->b.size;
}

/* Takes an entry out of the index: freed, or dead until its last release.
 * Returns the free block that holds it, or 0 while it is pinned. */
static cm_off_t ent_drop(cm_seg_t *sg, cm_off_t off)
{
    cm_ent_t *e = CM_ENT(sg, off);
    cm_off_t *pp = bucket_of(sg, e->hash);

    while (*pp != 0 && *pp != off) {
        pp = &CM_ENT(sg, *pp)->hnext;
    }
    if (*pp == off) {
        *pp = e->hnext;
    }
    e->hnext = 0;
    lru_unlink(sg, off);
    sg->entries--;
    sg->bytes -= e->b.size;
    if (e->pins != 0) {
        e->flags |= CM_DEAD;
        return 0;
    }
    return blk_free(sg, off);
}


/* ------------------------------------------------------------------ */
/* Pins                                                               */
/* ------------------------------------------------------------------ */

static apr_uint32_t pin_home(const cm_seg_t *sg, cm_off_t ent, apr_uint32_t pid)
{
    apr_uint64_t x = (ent / CM_ALIGN) * 0x9e3779b97f4a7c15ull ^
                     (apr_uint64_t)pid * 0xc2b2ae3d27d4eb4full;

    return (apr_uint32_t)(x >> 32) & (sg->npins - 1);
}

/* The record of (ent, pid), made (count 0) when create is set and the
 * table is less than 7/8 full; NULL otherwise. */
static cm_pin_t *pin_find(cm_seg_t *sg, cm_off_t ent, apr_uint32_t pid,
                          int create)
{
    cm_pin_t *t = CM_PINS(sg);
    apr_uint32_t i = pin_home(sg, ent, pid), n;

    for (n = 0; n < sg->npins; n++, i = (i + 1) & (sg->npins - 1)) {
        if (t[i].ent == 0) {
            if (!create || sg->pins_used >= sg->npins / 8 * 7) {
                return NULL;
            }
            t[i].count = 0;
            t[i].pid = pid;
            t[i].ent = ent;
            sg->pins_used++;
            return &t[i];
        }
        if (t[i].ent == ent && t[i].pid == pid) {
            return &t[i];
        }
    }
    return NULL;
}

/* Empties slot i, moving back the records after it that would otherwise
 * no longer be found from their home slot. */
static void pin_delete(cm_seg_t *sg, apr_uint32_t i)
{
    cm_pin_t *t = CM_PINS(sg);
    apr_uint32_t mask = sg->npins - 1, j = i, h;

    for (;;) {
        j = (j + 1) & mask;
        if (t[j].ent == 0) {
            break;
        }
        h = pin_home(sg, t[j].ent, t[j].pid);
        /* stays when its home lies cyclically in (i, j] */
        if (i <= j ? (i < h && h <= j) : (i < h || h <= j)) {
            continue;
        }
        t[i] = t[j];
        i = j;
    }
    t[i].ent = 0;
    t[i].pid = 0;
    t[i].count = 0;
    sg->pins_used--;
}

/* Gives back one pin of this process on entry off. */
static void ent_unpin(cm_seg_t *sg, cm_off_t off)
{
    cm_ent_t *e = CM_ENT(sg, off);
    cm_pin_t *p = pin_find(sg, off, my_pid(), 0);

    if (p == NULL || p->count == 0) {
        return; /* not this process's: the pinner's death gives it back */
    }
    if (--p->count == 0) {
        pin_delete(sg, (apr_uint32_t)(p - CM_PINS(sg)));
    }
    if (e->pins > 0) {
        e->pins--;
    }
    if (e->pins == 0 && (e->flags & CM_DEAD)) {
        blk_free(sg, off);
    }
}


/* ------------------------------------------------------------------ */
/* Space: eviction and what dead processes held                       */
/* ------------------------------------------------------------------ */

static int blk_evictable(const cm_seg_t *sg, cm_off_t off)
{
    const cm_blk_t *b = CM_BLK(sg, off);

    return b->state == CM_FREE ||
           (b->state == CM_ENTRY && CM_ENT(sg, off)->pins == 0);
}

/* Evicts the entries of the run at pos (free blocks and unpinned entries)
 * in address order until the free block there has n bytes; returns it. */
static cm_off_t evict_run(cm_seg_t *sg, cm_off_t pos, apr_uint64_t n)
{
    while (pos != 0 && pos < sg->arena_end) {
        cm_blk_t *b = CM_BLK(sg, pos);

        if (b->state == CM_FREE) {
            if (b->size >= n) {
                return pos;
            }
            pos += b->size;
        } else if (blk_evictable(sg, pos)) {
            sg->evicted++;
            pos = ent_drop(sg, pos);
        } else {
            break; /* cannot happen: the run was checked */
        }
    }
    return 0;
}

/* Makes a free block of n bytes by eviction; returns it or 0.  The seed is
 * the least recently used unpinned entry whose neighbourhood (free blocks
 * and unpinned entries around it) adds up to n. */
static cm_off_t evict_for(cm_seg_t *sg, apr_uint64_t n)
{
    cm_off_t cand, start, end, prev;
    int tries = 0;

    for (cand = sg->lru_tail; cand != 0 && tries < CM_EVICT_TRIES;
         cand = CM_ENT(sg, cand)->lru_prev, tries++) {
        if (CM_ENT(sg, cand)->pins != 0) {
            continue;
        }
        start = cand;
        end = cand + CM_BLK(sg, cand)->size;
        while (end - start < n && end < sg->arena_end &&
               blk_evictable(sg, end)) {
            end += CM_BLK(sg, end)->size;
        }
        while (end - start < n && (prev = blk_prev(sg, start)) != 0 &&
               blk_evictable(sg, prev)) {
            start = prev;
        }
        if (end - start >= n) {
            return evict_run(sg, start, n);
        }
    }
    return 0;
}

/* kill(pid, 0) with a memo: ESRCH is dead (EPERM is alive, as another
 * user).  A zombie counts as alive until its parent reaps it. */
typedef struct pid_memo_t {
    apr_uint32_t pid[32];
    int alive[32];
    int n;
} pid_memo_t;

static int pid_alive(pid_memo_t *m, apr_uint32_t pid)
{
    int i, alive;

    for (i = 0; i < m->n; i++) {
        if (m->pid[i] == pid) {
            return m->alive[i];
        }
    }
    alive = pid == my_pid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH;
    if (m->n < 32) {
        m->pid[m->n] = pid;
        m->alive[m->n++] = alive;
    }
    return alive;
}

/* Gives back the pins and fills of processes that died.  Returns how many
 * records went. */
static int reclaim_dead(cm_seg_t *sg)
{
    cm_pin_t *t = CM_PINS(sg);
    pid_memo_t memo;
    apr_uint32_t i = 0;
    cm_off_t pos, next;
    int n = 0;

    memo.n = 0;
    sg->last_reclaim = now_ns();
    while (i < sg->npins) {
        cm_ent_t *e;

        if (t[i].ent == 0 || pid_alive(&memo, t[i].pid)) {
            i++;
            continue;
        }
        e = CM_ENT(sg, t[i].ent);
        e->pins -= t[i].count < e->pins ? t[i].count : e->pins;
        if (e->pins == 0 && (e->flags & CM_DEAD)) {
            blk_free(sg, t[i].ent);
        }
        /* slot i now holds another record (or none): look at it again */
        pin_delete(sg, i);
        n++;
    }
    for (pos = sg->fill_head; pos != 0; pos = next) {
        next = CM_BLK(sg, pos)->fnext;
        if (!pid_alive(&memo, CM_BLK(sg, pos)->pid)) {
            blk_free(sg, pos);
            n++;
        }
    }
    return n;
}

/* A block of n bytes (a multiple of CM_ALIGN) as a fill of this process,
 * evicting as needed; 0 when pinned entries and fills leave no room. */
static cm_off_t blk_alloc(cm_seg_t *sg, apr_uint64_t n)
{
    cm_off_t off = free_find(sg, n);

    if (off == 0 && now_ns() - sg->last_reclaim >= CM_NS_PER_S &&
        reclaim_dead(sg) > 0) {
        off = free_find(sg, n);
    }
    if (off == 0) {
        off = evict_for(sg, n);
    }
    if (off == 0) {
        return 0;
    }
    blk_claim(sg, off, n);
    return off;
}


/* ------------------------------------------------------------------ */
/* The lock, and recovery from a holder's death                       */
/* ------------------------------------------------------------------ */

/* Whether an entry's lengths fit in its block. */
static int ent_sane(const cm_ent_t *e)
{
    apr_uint64_t room = e->b.size - CM_ENT_HDR;

    if (e->b.size < CM_ENT_HDR || e->body_len > room || e->headers_len > room ||
        e->key_len >= room ||
        (e->vary_len != CM_NO_VARY && e->vary_len >= room)) {
        return 0;
    }
    return e->body_len + e->key_len + 1 + e->headers_len +
               (e->vary_len == CM_NO_VARY ? 0 : e->vary_len + 1) <=
           room;
}

/* Rebuilds everything derived from the blocks (prev sizes, free lists,
 * index, LRU, pin counts, counters) by walking the arena; -1 when the
 * walk finds a block that cannot be. */
static int seg_rebuild(cm_seg_t *sg)
{
    cm_pin_t *t = CM_PINS(sg);
    apr_uint64_t prev_size = 0;
    cm_off_t pos, next;
    apr_uint32_t i;

    sg->fill_head = 0;
    for (pos = sg->arena_off; pos < sg->arena_end; pos = next) {
        cm_blk_t *b = CM_BLK(sg, pos);

        if (b->size < CM_ALIGN || b->size % CM_ALIGN != 0 ||
            b->size > sg->arena_end - pos || b->state < CM_FREE ||
            b->state > CM_ENTRY) {
            return -1;
        }
        b->prev_size = prev_size;
        prev_size = b->size;
        next = pos + b->size;
        if (b->state == CM_ENTRY) {
            if (!ent_sane(CM_ENT(sg, pos))) {
                return -1;
            }
            CM_ENT(sg, pos)->pins = 0;
        } else if (b->state == CM_FILL) {
            fill_link(sg, pos);
        }
    }
    /* pins: the table is the truth (a half-done deletion leaves at worst
     * a copy of a record, which holds its entry until its pid dies) */
    sg->pins_used = 0;
    for (i = 0; i < sg->npins; i++) {
        if (t[i].ent == 0) {
            continue;
        }
        sg->pins_used++;
        if (t[i].ent < sg->arena_off || t[i].ent >= sg->arena_end ||
            t[i].ent % CM_ALIGN != 0 ||
            CM_BLK(sg, t[i].ent)->state != CM_ENTRY) {
            t[i].count = 0; /* not an entry: dropped below */
            continue;
        }
        CM_ENT(sg, t[i].ent)->pins += t[i].count;
    }
    for (i = 0; i < sg->npins;) {
        if (t[i].ent != 0 && t[i].count == 0) {
            pin_delete(sg, i);
        } else {
            i++;
        }
    }
    /* the index, from the entries */
    memset(CM_BUCKETS(sg), 0, (apr_size_t)sg->nbuckets * sizeof(cm_off_t));
    sg->lru_head = sg->lru_tail = 0;
    sg->entries = sg->bytes = 0;
    for (pos = sg->arena_off; pos < sg->arena_end;
         pos += CM_BLK(sg, pos)->size) {
        cm_ent_t *e = CM_ENT(sg, pos);
        cm_off_t old, *bk;

        if (e->b.state != CM_ENTRY) {
            continue;
        }
        if (e->flags & CM_UPDATING) {
            /* its metadata was half rewritten (and nobody pinned it) */
            e->flags |= CM_DEAD;
        }
        if (e->flags & CM_DEAD) {
            if (e->pins == 0) {
                e->b.state = CM_FREE; /* merged below */
            }
            continue;
        }
        old = ent_find(sg, e->hash, CM_KEY(e), e->key_len);
        if (old != 0 && CM_ENT(sg, old)->seq > e->seq) {
            /* the commit that replaced this one died half-way */
            e->flags |= CM_DEAD;
            if (e->pins == 0) {
                e->b.state = CM_FREE;
            }
            continue;
        }
        if (old != 0) {
            cm_ent_t *o = CM_ENT(sg, old);

            cm_off_t *pp = bucket_of(sg, o->hash);
            while (*pp != old) {
                pp = &CM_ENT(sg, *pp)->hnext;
            }
            *pp = o->hnext;
            lru_unlink(sg, old);
            sg->entries--;
            sg->bytes -= o->b.size;
            o->flags |= CM_DEAD;
            if (o->pins == 0) {
                o->b.state = CM_FREE;
            }
        }
        bk = bucket_of(sg, e->hash);
        e->hnext = *bk;
        *bk = pos;
        lru_push(sg, pos);
        sg->entries++;
        sg->bytes += e->b.size;
    }
    /* the free lists, merging neighbours */
    memset(sg->free_head, 0, sizeof(sg->free_head));
    sg->free_map = 0;
    for (pos = sg->arena_off; pos < sg->arena_end; pos = next) {
        cm_blk_t *b = CM_BLK(sg, pos);

        next = pos + b->size;
        if (b->state != CM_FREE) {
            fix_prev_size(sg, pos);
            continue;
        }
        while (next < sg->arena_end && CM_BLK(sg, next)->state == CM_FREE) {
            next += CM_BLK(sg, next)->size;
        }
        blk_set_size(b, next - pos);
        b->pid = 0;
        fix_prev_size(sg, pos);
        free_push(sg, pos);
    }
    return 0;
}

/* 0 with the lock held, -1 when the store cannot be used. */
static int seg_lock(cm_seg_t *sg)
{
    int rv = pthread_mutex_lock(&sg->lock.m);

    if (rv == EOWNERDEAD) {
        if (!sg->poisoned && seg_rebuild(sg) != 0) {
            sg->poisoned = 1;
            rl_log_error(RL_LOG_ERR, 0, NULL,
                         "CacheEnable mem: a process died while changing the "
                         "memory cache and left it damaged; it is off until "
                         "a restart with another CacheSize, or a full "
                         "restart, makes a new one");
        } else if (!sg->poisoned) {
            rl_log_error(
                RL_LOG_WARNING, 0, NULL,
                "CacheEnable mem: a process died while changing the "
                "memory cache; its index was rebuilt (%" APR_UINT64_T_FMT
                " entries kept)",
                sg->entries);
        }
        pthread_mutex_consistent(&sg->lock.m);
        rv = 0;
    }
    if (rv != 0) {
        return -1;
    }
    if (sg->poisoned) {
        pthread_mutex_unlock(&sg->lock.m);
        return -1;
    }
    return 0;
}

static void seg_unlock(cm_seg_t *sg)
{
    pthread_mutex_unlock(&sg->lock.m);
}


/* ------------------------------------------------------------------ */
/* The store's functions                                              */
/* ------------------------------------------------------------------ */

static void hit_fill(cm_ent_t *e, cache_hit_t *hit)
{
    const char *headers = CM_KEY(e) + e->key_len + 1;

    memset(hit, 0, sizeof(*hit));
    hit->meta.status = e->status;
    hit->meta.request_time = e->request_time;
    hit->meta.response_time = e->response_time;
    hit->meta.expires = e->expires;
    hit->meta.stale_until = e->stale_until;
    hit->meta.body_len = (apr_off_t)e->body_len;
    hit->meta.headers = headers;
    hit->meta.headers_len = (apr_size_t)e->headers_len;
    hit->meta.vary =
        e->vary_len == CM_NO_VARY ? NULL : headers + e->headers_len;
    hit->body = CM_BODY(e);
    hit->fd = -1;
    hit->handle = e;
}

static int cm_lookup(cache_store_t *s, const char *key, apr_pool_t *p,
                     cache_hit_t *hit)
{
    cm_store_t *st = s->data;
    cm_seg_t *sg = st->sg;
    apr_size_t len = strlen(key);
    apr_uint64_t hash = key_hash(sg, key, len);
    cm_pin_t *pin;
    cm_off_t off;

    (void)p; /* nothing is copied */
    if (seg_lock(sg) != 0) {
        return 0;
    }
    off = ent_find(sg, hash, key, len);
    if (off == 0) {
        seg_unlock(sg);
        return 0;
    }
    pin = pin_find(sg, off, my_pid(), 1);
    if (pin == NULL && now_ns() - sg->last_reclaim >= CM_NS_PER_S &&
        reclaim_dead(sg) > 0) {
        pin = pin_find(sg, off, my_pid(), 1);
    }
    if (pin == NULL) {
        /* as many responses in flight as the table holds: this one goes
         * to the backend */
        seg_unlock(sg);
        return 0;
    }
    pin->count++;
    CM_ENT(sg, off)->pins++;
    if (sg->lru_head != off) {
        lru_unlink(sg, off);
        lru_push(sg, off);
    }
    seg_unlock(sg);
    hit_fill(CM_ENT(sg, off), hit);
    return 1;
}

static void cm_release(cache_store_t *s, cache_hit_t *hit)
{
    cm_store_t *st = s->data;
    cm_seg_t *sg = st->sg;

    if (hit->handle != NULL && seg_lock(sg) == 0) {
        ent_unpin(sg, CM_OFF(sg, hit->handle));
        seg_unlock(sg);
    }
    hit->handle = NULL;
    hit->body = NULL;
    if (hit->fd >= 0) {
        close(hit->fd);
        hit->fd = -1;
    }
}

/* Writes the fill's metadata after its body. */
static void fill_write_meta(cache_fill_t *f)
{
    cm_seg_t *sg = f->st->sg;
    cm_ent_t *e = CM_ENT(sg, f->blk);

    e->hash = f->hash;
    e->key_len = f->key_len;
    e->vary_len = f->vary_len;
    e->headers_len = f->meta.headers_len;
    e->body_len = f->len;
    e->status = f->meta.status;
    e->request_time = f->meta.request_time;
    e->response_time = f->meta.response_time;
    e->expires = f->meta.expires;
    e->stale_until = f->meta.stale_until;
    memcpy(CM_BODY(e) + f->len, f->buf, f->meta_len);
}

static cache_fill_t *fill_new(cm_store_t *st, const char *key,
                              const cache_meta_t *meta)
{
    apr_size_t klen = strlen(key);
    apr_size_t vlen = meta->vary ? strlen(meta->vary) : 0;
    apr_uint64_t mlen = (apr_uint64_t)klen + 1 + meta->headers_len +
                        (meta->vary ? vlen + 1 : 0);
    cache_fill_t *f;
    char *w;

    if (CM_ENT_HDR + mlen > st->max_block) {
        return NULL;
    }
    f = calloc(1, sizeof(*f) + (apr_size_t)mlen);
    if (f == NULL) {
        return NULL;
    }
    f->st = st;
    f->meta_len = mlen;
    f->key_len = (apr_uint32_t)klen;
    f->vary_len = meta->vary ? (apr_uint32_t)vlen : CM_NO_VARY;
    f->hash = key_hash(st->sg, key, klen);
    f->meta = *meta;
    w = f->buf;
    memcpy(w, key, klen + 1);
    w += klen + 1;
    if (meta->headers_len > 0) {
        memcpy(w, meta->headers, meta->headers_len);
        w += meta->headers_len;
    }
    if (meta->vary != NULL) {
        memcpy(w, meta->vary, vlen + 1);
    }
    return f;
}

static cache_fill_t *cm_fill_begin(cache_store_t *s, const char *key,
                                   const cache_meta_t *meta,
                                   apr_off_t expected_len)
{
    cm_store_t *st = s->data;
    cm_seg_t *sg = st->sg;
    apr_uint64_t room;
    cache_fill_t *f;

    if (expected_len >= 0 && (apr_uint64_t)expected_len > st->max_body) {
        return NULL;
    }
    f = fill_new(st, key, meta);
    if (f == NULL) {
        return NULL;
    }
    if (expected_len >= 0) {
        room = CM_ROUND(CM_ENT_HDR + (apr_uint64_t)expected_len + f->meta_len);
        if (room > st->max_block) {
            free(f);
            return NULL;
        }
    } else {
        room = CM_ROUND(CM_ENT_HDR + CM_FILL_FIRST + f->meta_len);
        if (room > st->max_block) {
            room = st->max_block;
        }
    }
    f->expected = expected_len < 0 ? -1 : expected_len;
    if (seg_lock(sg) != 0) {
        free(f);
        return NULL;
    }
    f->blk = blk_alloc(sg, room);
    seg_unlock(sg);
    if (f->blk == 0) {
        free(f);
        return NULL;
    }
    return f;
}

/* Gives the fill's block back (the fill stays, given up). */
static void fill_drop(cache_fill_t *f)
{
    cm_seg_t *sg = f->st->sg;

    if (f->blk != 0 && seg_lock(sg) == 0) {
        blk_free(sg, f->blk);
        seg_unlock(sg);
    }
    f->blk = 0;
}

/* Makes the fill's block hold at least need bytes: grown into a free
 * neighbour, or moved to a new block (room for twice as much, within the
 * limit) and the body copied there.  -1 when there is no room. */
static int fill_grow(cache_fill_t *f, apr_uint64_t need)
{
    cm_store_t *st = f->st;
    cm_seg_t *sg = st->sg;
    apr_uint64_t want, size;
    cm_off_t next, nb;

    need = CM_ROUND(need);
    if (seg_lock(sg) != 0) {
        return -1;
    }
    size = CM_BLK(sg, f->blk)->size;
    want = size * 2 > need ? size * 2 : need;
    if (want > st->max_block) {
        want = need;
    }
    next = blk_next(sg, f->blk);
    if (next != 0 && CM_BLK(sg, next)->state == CM_FREE &&
        size + CM_BLK(sg, next)->size >= need) {
        free_unlink(sg, next);
        blk_set_size(CM_BLK(sg, f->blk), size + CM_BLK(sg, next)->size);
        fix_prev_size(sg, f->blk);
        blk_trim(sg, f->blk,
                 want < CM_BLK(sg, f->blk)->size ? want
                                                 : CM_BLK(sg, f->blk)->size);
        seg_unlock(sg);
        return 0;
    }
    nb = blk_alloc(sg, want);
    if (nb == 0 && want > need) {
        nb = blk_alloc(sg, need);
    }
    seg_unlock(sg);
    if (nb == 0) {
        return -1;
    }
    /* both blocks are this fill's: no lock needed to copy */
    memcpy(CM_BODY(CM_AT(sg, nb)), CM_BODY(CM_AT(sg, f->blk)),
           (apr_size_t)f->len);
    fill_drop(f);
    f->blk = nb;
    return 0;
}

static int cm_fill_write(cache_fill_t *f, const char *data, apr_size_t len)
{
    cm_store_t *st = f->st;
    cm_seg_t *sg = st->sg;
    apr_uint64_t need;

    if (f->blk == 0) {
        return -1;
    }
    need = CM_ENT_HDR + f->len + len + f->meta_len;
    if (f->len + len > st->max_body || need > st->max_block ||
        (need > CM_BLK(sg, f->blk)->size && fill_grow(f, need) != 0)) {
        fill_drop(f);
        return -1;
    }
    memcpy(CM_BODY(CM_AT(sg, f->blk)) + f->len, data, len);
    f->len += len;
    return 0;
}

/* Publishes fill block off (body and metadata written) under key, over
 * the entry there.  With expect set, only when that entry is still the
 * one there; else the block is freed and -1 returned.  Lock held. */
static int publish(cm_seg_t *sg, cm_off_t off, cm_off_t expect)
{
    cm_ent_t *e = CM_ENT(sg, off);
    cm_off_t old;

    blk_trim(sg, off,
             CM_ROUND(CM_ENT_HDR + e->body_len + e->key_len + 1 +
                      e->headers_len +
                      (e->vary_len == CM_NO_VARY ? 0 : e->vary_len + 1)));
    old = ent_find(sg, e->hash, CM_KEY(e), e->key_len);
    if (expect != 0 && old != expect) {
        blk_free(sg, off);
        return -1;
    }
    if (old != 0) {
        ent_drop(sg, old);
    }
    ent_link(sg, off);
    return 0;
}

/* 0 when stored; -1 when not (a body shorter than announced, no room for
 * the metadata after all, or the store is off).  The fill is gone either
 * way: no fill_abort after it. */
static int cm_fill_commit(cache_fill_t *f)
{
    cm_seg_t *sg = f->st->sg;
    apr_uint64_t need = CM_ENT_HDR + f->len + f->meta_len;
    int rv = -1;

    if (f->blk != 0 &&
        ((f->expected >= 0 && f->len != (apr_uint64_t)f->expected) ||
         (need > CM_BLK(sg, f->blk)->size &&
          (need > f->st->max_block || fill_grow(f, need) != 0)))) {
        fill_drop(f);
    }
    if (f->blk != 0) {
        fill_write_meta(f);
        if (seg_lock(sg) == 0) {
            rv = publish(sg, f->blk, 0);
            sg->stored++;
            seg_unlock(sg);
        }
    }
    free(f);
    return rv;
}

static void cm_fill_abort(cache_fill_t *f)
{
    fill_drop(f);
    free(f);
}

static int cm_update_meta(cache_store_t *s, const char *key,
                          const cache_meta_t *meta)
{
    cm_store_t *st = s->data;
    cm_seg_t *sg = st->sg;
    cache_fill_t *f = fill_new(st, key, meta);
    cm_off_t off, cur;
    cm_pin_t *pin;
    cm_ent_t *e;
    int rv;

    if (f == NULL || seg_lock(sg) != 0) {
        free(f);
        return 0;
    }
    off = ent_find(sg, f->hash, key, f->key_len);
    if (off == 0) {
        seg_unlock(sg);
        free(f);
        return 0;
    }
    e = CM_ENT(sg, off);
    f->len = e->body_len;
    if (e->pins == 0 && CM_ENT_HDR + f->len + f->meta_len <= e->b.size) {
        /* nobody holds pointers into it: rewrite in place */
        f->blk = off;
        e->flags |= CM_UPDATING;
        fill_write_meta(f);
        e->flags &= ~CM_UPDATING;
        lru_unlink(sg, off);
        lru_push(sg, off);
        seg_unlock(sg);
        free(f);
        return 1;
    }
    /* pinned (its old metadata is in use), or it grew: a new copy, with
     * the old one pinned meanwhile */
    pin = pin_find(sg, off, my_pid(), 1);
    if (pin != NULL) {
        pin->count++;
        e->pins++;
        f->blk = blk_alloc(sg, CM_ROUND(CM_ENT_HDR + f->len + f->meta_len));
    }
    seg_unlock(sg);
    if (f->blk != 0) {
        memcpy(CM_BODY(CM_AT(sg, f->blk)), CM_BODY(e), (apr_size_t)f->len);
        fill_write_meta(f);
    }
    if (seg_lock(sg) != 0) {
        free(f);
        return 0; /* the store is off: what it holds does not matter */
    }
    cur = ent_find(sg, f->hash, key, f->key_len);
    if (pin != NULL) {
        ent_unpin(sg, off);
    }
    if (f->blk != 0) {
        rv = publish(sg, f->blk, off) == 0 || cur != 0;
    } else {
        /* no room for the copy: an entry that cannot be refreshed is
         * dropped rather than served with its stale metadata */
        if (cur == off) {
            ent_drop(sg, off);
            sg->removed++;
        }
        rv = 0;
    }
    seg_unlock(sg);
    free(f);
    return rv;
}

static int cm_remove(cache_store_t *s, const char *key, int prefix)
{
    cm_store_t *st = s->data;
    cm_seg_t *sg = st->sg;
    apr_size_t len = strlen(key);
    cm_off_t off, older;
    int n = 0;

    if (seg_lock(sg) != 0) {
        return 0;
    }
    if (!prefix) {
        off = ent_find(sg, key_hash(sg, key, len), key, len);
        if (off != 0) {
            ent_drop(sg, off);
            n = 1;
        }
    } else {
        /* every live entry is on the LRU list */
        for (off = sg->lru_head; off != 0; off = older) {
            cm_ent_t *e = CM_ENT(sg, off);

            older = e->lru_next;
            if (e->key_len >= len && memcmp(CM_KEY(e), key, len) == 0) {
                ent_drop(sg, off);
                n++;
            }
        }
    }
    sg->removed += (apr_uint64_t)n;
    seg_unlock(sg);
    return n;
}

static void cm_stats(cache_store_t *s, cache_store_stats_t *out)
{
    cm_store_t *st = s->data;
    cm_seg_t *sg = st->sg;

    memset(out, 0, sizeof(*out));
    out->capacity = sg->arena_end - sg->arena_off;
    if (seg_lock(sg) != 0) {
        return;
    }
    out->entries = sg->entries;
    out->bytes = sg->bytes;
    out->stored = sg->stored;
    out->evicted = sg->evicted;
    out->removed = sg->removed;
    seg_unlock(sg);
}

static const cache_store_ops_t cm_ops = {
    .name = "mem",
    .lookup = cm_lookup,
    .release = cm_release,
    .fill_begin = cm_fill_begin,
    .fill_write = cm_fill_write,
    .fill_commit = cm_fill_commit,
    .fill_abort = cm_fill_abort,
    .update_meta = cm_update_meta,
    .remove = cm_remove,
    .stats = cm_stats,
};


/* ------------------------------------------------------------------ */
/* Creation                                                           */
/* ------------------------------------------------------------------ */

static apr_uint32_t pow2_between(apr_uint64_t v, apr_uint32_t lo,
                                 apr_uint32_t hi)
{
    apr_uint32_t p = lo;

    while (p < v && p < hi) {
        p <<= 1;
    }
    return p;
}

/* Lays out a new segment of usable bytes at sg (64-aligned). */
static int seg_init(cm_seg_t *sg, apr_uint64_t usable, apr_uint64_t size)
{
    apr_uint32_t nbuckets = pow2_between(usable / 4096, 256, 1u << 26);
    apr_uint32_t npins = pow2_between(usable / 8192, 512, 1u << 20);
    cm_off_t buckets_off = CM_ROUND(sizeof(cm_seg_t));
    cm_off_t pins_off =
        CM_ROUND(buckets_off + (apr_uint64_t)nbuckets * sizeof(cm_off_t));
    cm_off_t arena_off =
        CM_ROUND(pins_off + (apr_uint64_t)npins * sizeof(cm_pin_t));
    pthread_mutexattr_t ma;
    cm_blk_t *b;

    if (arena_off + CM_SIZE_MIN / 2 > usable) {
        return -1;
    }
    memset(sg, 0, (apr_size_t)arena_off);
    sg->nbuckets = nbuckets;
    sg->npins = npins;
    sg->buckets_off = buckets_off;
    sg->pins_off = pins_off;
    sg->arena_off = arena_off;
    sg->arena_end = arena_off + (usable - arena_off) / CM_ALIGN * CM_ALIGN;
    sg->seg_size = size;
    if (apr_generate_random_bytes((unsigned char *)sg->seed,
                                  sizeof(sg->seed)) != APR_SUCCESS) {
        /* unlikely; a guessable key only makes long chains possible */
        sg->seed[0] = (apr_uint64_t)now_ns() ^ (apr_uint64_t)getpid();
        sg->seed[1] = (apr_uint64_t)(apr_uintptr_t)sg;
    }
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&sg->lock.m, &ma);
    pthread_mutexattr_destroy(&ma);
    b = CM_BLK(sg, arena_off);
    b->size = sg->arena_end - arena_off;
    b->prev_size = 0;
    b->state = CM_FREE;
    free_push(sg, arena_off);
    sg->layout = CM_LAYOUT;
    sg->magic = CM_MAGIC;
    return 0;
}

/* The segment in its shm: APR's are only 8- or 16-byte aligned. */
static cm_seg_t *shm_seg(apr_shm_t *shm)
{
    return (cm_seg_t *)APR_ALIGN((apr_uintptr_t)apr_shm_baseaddr_get(shm),
                                 CM_ALIGN);
}

cache_store_t *cache_mem_create(apr_pool_t *pconf,
                                const cache_store_conf_t *conf)
{
    cm_retained_t *ret = rl_retained_data_get(CM_RETAINED_KEY);
    apr_uint64_t size = conf->size > 0 ? (apr_uint64_t)conf->size : 0;
    cm_seg_t *sg = NULL;
    cm_store_t *st;
    apr_pool_t *pool;
    apr_shm_t *shm;
    apr_status_t rv;

    if (size < CM_SIZE_MIN) {
        rl_log_error(RL_LOG_ERR, 0, NULL,
                     "CacheSize %" APR_OFF_T_FMT
                     " is too small for the memory cache (CacheEnable mem): "
                     "it needs at least %d bytes, e.g. CacheSize 64M",
                     conf->size, CM_SIZE_MIN);
        return NULL;
    }
    if (ret == NULL) {
        ret = rl_retained_data_create(CM_RETAINED_KEY, sizeof(*ret));
    }
    if (ret->shm != NULL && ret->size == size) {
        sg = shm_seg(ret->shm);
        if (sg->magic != CM_MAGIC || sg->layout != CM_LAYOUT || sg->poisoned) {
            sg = NULL; /* another layout, or damaged after a crash */
        } else {
            rl_log_error(RL_LOG_INFO, 0, NULL,
                         "memory cache: %" APR_UINT64_T_FMT
                         " bytes of shared memory with %" APR_UINT64_T_FMT
                         " entries, kept from before the restart",
                         size, sg->entries);
        }
    }
    if (sg == NULL) {
        /* lives beyond this generation: the next one may find it again */
        apr_pool_create(&pool, rl_retained_pool());
        rv = apr_shm_create(&shm, (apr_size_t)size, NULL, pool);
        if (rv != APR_SUCCESS) {
            rl_log_error(RL_LOG_ERR, rv, NULL,
                         "cannot create %" APR_UINT64_T_FMT
                         " bytes of shared memory for the memory cache: "
                         "lower CacheSize",
                         size);
            apr_pool_destroy(pool);
            return NULL;
        }
        sg = shm_seg(shm);
        if (seg_init(sg,
                     size - ((char *)sg - (char *)apr_shm_baseaddr_get(shm)),
                     size) != 0) {
            rl_log_error(RL_LOG_ERR, 0, NULL,
                         "CacheSize %" APR_UINT64_T_FMT
                         " leaves no room for entries after the memory "
                         "cache's index: raise it",
                         size);
            apr_pool_destroy(pool);
            return NULL;
        }
        if (ret->pool != NULL) {
            /* the parent's view only: old children keep theirs */
            apr_pool_destroy(ret->pool);
        }
        ret->pool = pool;
        ret->shm = shm;
        ret->size = size;
        rl_log_error(RL_LOG_INFO, 0, NULL,
                     "memory cache: %" APR_UINT64_T_FMT
                     " bytes of shared memory, %" APR_UINT64_T_FMT
                     " for entries of at most %" APR_UINT64_T_FMT " bytes",
                     size, sg->arena_end - sg->arena_off,
                     (sg->arena_end - sg->arena_off) / CM_FRACTION);
    }
    pid_page_setup();
    st = apr_pcalloc(pconf, sizeof(*st));
    st->pub.ops = &cm_ops;
    st->pub.data = st;
    st->sg = sg;
    st->max_block =
        (sg->arena_end - sg->arena_off) / CM_FRACTION / CM_ALIGN * CM_ALIGN;
    st->max_body = conf->max_file_size > 0 ? (apr_uint64_t)conf->max_file_size
                                           : st->max_block;
    return &st->pub;
}
