/**
 * @file mod_cache.h
 * @brief What mod_cache offers other modules (the status module): its
 *        counters and purging.
 *
 * A module calling these needs mod_cache loaded before it (LoadModule
 * order), as with rl_proxy.h: the symbols are resolved from mod_cache.so
 * when the caller is loaded; nothing links to mod_cache at build time.  A
 * caller that must also run without mod_cache looks the functions up with
 * dlsym(RTLD_DEFAULT, "cache_metrics_get") instead.
 */
#ifndef MOD_CACHE_H
#define MOD_CACHE_H

#include <apr.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks a symbol of mod_cache that other modules may use. */
#define CACHE_DECLARE(type) __attribute__((visibility("default"))) type

/** mod_cache's counters: since the server started (kept across graceful
 *  restarts), summed over every child. */
typedef struct cache_metrics_t {
    apr_uint64_t hits;           /**< answered from the cache, fresh */
    apr_uint64_t misses;         /**< went to the backend (cacheable) */
    apr_uint64_t stale;          /**< answered stale (stale-while-revalidate,
                                      max-stale, stale-on-error) */
    apr_uint64_t revalidated;    /**< a stale entry the backend confirmed
                                      with 304 */
    apr_uint64_t not_modified;   /**< 304s answered from the cache */
    apr_uint64_t bytes_served;   /**< body bytes answered from the cache */
    apr_uint64_t stored;         /**< responses stored */
    apr_uint64_t bytes_stored;   /**< their body bytes */
    apr_uint64_t not_stored;     /**< responses the rules kept out */
    apr_uint64_t invalidated;    /**< entries removed by unsafe methods */
    apr_uint64_t purged;         /**< entries removed by PURGE or
                                      cache_purge() */
    apr_uint64_t lock_waits;     /**< requests that waited for another's
                                      fill (CacheLock) */
    apr_uint64_t lock_timeouts;  /**< … and went to the backend after
                                      CacheLockMaxAge */
    apr_uint64_t refreshes;      /**< background refreshes started */
    apr_uint64_t stale_on_error; /**< stale answers instead of an error */
    /* the stores, now (0 when the store is not in use) */
    apr_uint64_t mem_entries, mem_bytes, mem_capacity, mem_evicted;
    apr_uint64_t disk_entries, disk_bytes, disk_capacity, disk_evicted;
} cache_metrics_t;

/**
 * Fills *m.  Any process, any thread.
 * @return 1, or 0 when no cache is configured (then *m is zeroed)
 */
CACHE_DECLARE(int) cache_metrics_get(cache_metrics_t *m);

/**
 * Removes what the cache holds for a URL key, in every store:
 * "http://host:port/path?query" (mod_cache's key: the host as the client
 * wrote it, lower case, and the port it reached), with all its Vary
 * variants; with prefix set, every key that starts with it.  Any process,
 * any thread.
 * @return how many entries went
 */
CACHE_DECLARE(int) cache_purge(const char *key, int prefix);

#ifdef __cplusplus
}
#endif
#endif /* MOD_CACHE_H */
