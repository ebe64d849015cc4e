/*
 * cache_store.h: what mod_cache asks of a store (memory, disk).
 *
 * A store maps a key (the glue builds it: scheme://host:port/path?query,
 * plus the Vary'd request header values for a variant) to one entry:
 * metadata (status, times, the response header block) and a body.  The
 * RFC 9111 rules live in cache_rules.c and the glue (mod_cache.c): a store
 * knows nothing of HTTP beyond keeping bytes and evicting.
 *
 * Threads and processes: every function may be called from any thread of
 * any child at once; a store locks what it must.  An entry is written by
 * one filler and becomes visible to lookups only when committed, whole
 * (a half-written entry is never served, also after a crash).
 */
#ifndef CACHE_STORE_H
#define CACHE_STORE_H

#include "relais.h"

/** What a store keeps besides the body. */
typedef struct cache_meta_t {
    int status;               /**< 200, 301, 404 … */
    apr_time_t request_time;  /**< when the filling request went out */
    apr_time_t response_time; /**< when its response head came back */
    apr_time_t expires;       /**< end of freshness (absolute), computed by
                                   the glue when storing; 0 = stale at once */
    apr_time_t stale_until;   /**< last moment it may be served stale
                                   (stale-while-revalidate / -if-error,
                                   CacheStaleOnError), 0 = never */
    apr_off_t body_len;       /**< exact body length */
    const char *headers;      /**< response header block as it will be
                                   replayed: "Name: value\r\n" lines, hop-by-
                                   hop fields removed (not NUL-terminated) */
    apr_size_t headers_len;
    const char *vary; /**< for a Vary marker entry (see the glue): the
                           Vary field's value; else NULL */
} cache_meta_t;

/** An entry found by lookup(), pinned until release(): the body cannot be
 *  evicted or overwritten while it is being sent. */
typedef struct cache_hit_t {
    cache_meta_t meta;  /**< strings point into the store or the pool */
    const char *body;   /**< memory store: the body bytes, else NULL */
    int fd;             /**< disk store: an open descriptor (the caller may
                             hand it to rl_sendfile(), which closes it; else
                             release() closes it), -1 for memory */
    apr_off_t body_off; /**< disk store: where the body starts in fd */
    void *handle;       /**< the store's */
} cache_hit_t;

typedef struct cache_store_t cache_store_t;
typedef struct cache_fill_t cache_fill_t;

/** Counters every store keeps (shared by all children). */
typedef struct cache_store_stats_t {
    apr_uint64_t entries, bytes, capacity; /**< now */
    apr_uint64_t stored, evicted, removed; /**< since start */
} cache_store_stats_t;

/** A store's functions.  Memory: cache_mem.c, disk: cache_disk.c. */
typedef struct cache_store_ops_t {
    const char *name; /**< "mem", "disk" */
    /** Finds key: 1 and *hit (pinned), or 0.  p: for copies if needed. */
    int (*lookup)(cache_store_t *s, const char *key, apr_pool_t *p,
                  cache_hit_t *hit);
    /** Unpins (and closes hit->fd unless it was set to -1). */
    void (*release)(cache_store_t *s, cache_hit_t *hit);
    /** Starts storing key; NULL when it cannot (too big for the store
     *  or for CacheMaxFileSize: expected_len -1 = unknown). */
    cache_fill_t *(*fill_begin)(cache_store_t *s, const char *key,
                                const cache_meta_t *meta,
                                apr_off_t expected_len);
    /** Appends body bytes; -1 when the entry grew too big (the fill is
     *  then abandoned: call fill_abort). */
    int (*fill_write)(cache_fill_t *f, const char *data, apr_size_t len);
    /** Makes the entry visible, replacing an older one of the same key. */
    int (*fill_commit)(cache_fill_t *f);
    void (*fill_abort)(cache_fill_t *f);
    /** Replaces the metadata of an entry (a 304 revalidation refreshed
     *  it); 0 when key is gone. */
    int (*update_meta)(cache_store_t *s, const char *key,
                       const cache_meta_t *meta);
    /** Removes key (or, with prefix set, every key starting with it);
     *  returns how many went. */
    int (*remove)(cache_store_t *s, const char *key, int prefix);
    void (*stats)(cache_store_t *s, cache_store_stats_t *out);
} cache_store_ops_t;

/** A store instance: one per CacheEnable type per server configuration
 *  (all vhosts share it), created in post_config, kept across graceful
 *  restarts when its settings did not change. */
struct cache_store_t {
    const cache_store_ops_t *ops;
    void *data; /**< the store's */
};

/** Settings a store is created with (the main server's directives). */
typedef struct cache_store_conf_t {
    apr_off_t size;          /**< CacheSize (mem: bytes of shared memory;
                                  disk: bytes on disk), > 0 */
    apr_off_t max_file_size; /**< CacheMaxFileSize, bytes */
    apr_off_t min_file_size; /**< CacheMinFileSize, bytes */
    const char *root;        /**< disk: CacheRoot (absolute) */
    int dir_levels;          /**< disk: CacheDirLevels (1..8) */
    int dir_length;          /**< disk: CacheDirLength (1..8) */
} cache_store_conf_t;

/** Creates the memory store (shared memory, LRU): in post_config, in the
 *  parent.  NULL and a logged reason on failure. */
cache_store_t *cache_mem_create(apr_pool_t *pconf,
                                const cache_store_conf_t *conf);
/** Creates the disk store under conf->root (directories made as needed,
 *  entries of an earlier run are kept). */
cache_store_t *cache_disk_create(apr_pool_t *pconf,
                                 const cache_store_conf_t *conf);

#endif /* CACHE_STORE_H */
