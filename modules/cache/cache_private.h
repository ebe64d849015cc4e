/*
 * cache_private.h: what the files of mod_cache share (not for other
 * modules: they use mod_cache.h).
 *
 *   mod_cache.c     directives, hooks, the request flow
 *   cache_rules.c   RFC 9111 as pure functions (cache_rules.h)
 *   cache_shm.c     the shared table: fills in progress (CacheLock,
 *                   refresh markers), counters, the refresh token
 *   cache_refresh.c background refreshes (stale-while-revalidate)
 *   cache_mem.c,    the stores (cache_store.h)
 *   cache_disk.c
 */
#ifndef CACHE_PRIVATE_H
#define CACHE_PRIVATE_H

#include "relais.h"
#include "rl_proxy.h"
#include "cache_store.h"
#include "mod_cache.h"

/** The request field that marks a background refresh; its value is the
 *  server's secret token (cache_shm_token()), so a client cannot forge
 *  one.  Removed from every request before anything else sees it. */
#define CACHE_REFRESH_FIELD "X-Relais-Cache-Refresh"

#define CACHE_UNSET (-1)

/** Store types (CacheEnable mem|disk; socache is mem). */
#define CACHE_MEM 0
#define CACHE_DISK 1
#define CACHE_TYPES 2

/** One CacheEnable line. */
typedef struct cache_enable_t {
    int type;         /**< CACHE_MEM or CACHE_DISK */
    int socache;      /**< written "socache": CacheSocacheMax/MinTime apply */
    const char *path; /**< URL-path prefix; NULL: the whole location */
    apr_size_t len;
} cache_enable_t;

/** Per-location (and per-server root) settings. */
typedef struct cache_dir_conf_t {
    /** The CacheEnable lines that apply here, innermost first; NULL when
     *  the cache is off here: the one test a request without a cache
     *  pays. */
    apr_array_header_t *enable;
    apr_array_header_t *disable; /**< CacheDisable URL-path prefixes */
    int disable_all;             /**< CacheDisable on */
    apr_interval_time_t default_expire, max_expire, min_expire;
    apr_interval_time_t lock_max_age;
    double lm_factor;
    int ignore_no_last_mod, ignore_cc, ignore_qs;
    int store_expired, store_private, store_no_store;
    int header, detail_header, lock, stale_on_error, purge, quick;
    /** CacheIgnoreHeaders names (NULL: unset; empty: None). */
    apr_array_header_t *ignore_headers;
    const char *key_base; /**< CacheKeyBaseURL, without trailing '/' */
} cache_dir_conf_t;

/** The settings of the stores (main server only: the stores are shared
 *  by every virtual host). */
typedef struct cache_global_t {
    const char *root;
    apr_off_t size, max_file, min_file;
    int dir_levels, dir_length;
    apr_off_t socache_size;     /**< from CacheSocache shmcb(size) */
    apr_off_t socache_max_size; /**< CacheSocacheMaxSize */
    apr_interval_time_t socache_max_time, socache_min_time;
    int want[CACHE_TYPES]; /**< a CacheEnable of that type exists */
    const char *disk_file; /**< where the first CacheEnable disk is */
    unsigned disk_line;
    int proxy_hooked; /**< revalidation through mod_proxy */
} cache_global_t;

extern cache_global_t cache_g;
/** The stores of this generation (NULL: not in use). */
extern cache_store_t *cache_stores[CACHE_TYPES];

/* --- cache_request.c ------------------------------------------------- */

int cache_quick_handler(rl_request_t *r);
int cache_handler(rl_request_t *r);
void cache_response_head(rl_request_t *r);
int cache_error_response(rl_request_t *r, int status);
/** mod_proxy's post_request: a 304 to our revalidation. */
int cache_proxy_post_request(rl_request_t *r, rl_proxy_worker_t *worker,
                             rl_proxy_outcome_e outcome);
/** Removes a URL key and its variants from every store. */
int cache_purge_key(apr_pool_t *p, const char *key, int prefix);

/* --- cache_shm.c ------------------------------------------------------ */

/** Creates (or finds again after a graceful restart) the shared table.
 *  In post_config, in the parent.  RL_OK or 500 (logged). */
int cache_shm_post_config(apr_pool_t *pconf, rl_server_t *s);

/** 64-bit FNV-1a of a key; never 0. */
apr_uint64_t cache_key_hash(const char *key);

/**
 * Claims "a fill of this key is in progress" for every process until
 * now + ttl (or cache_lock_release()).
 * @return 1 when claimed, 0 when someone else holds it.  With no table
 *         (none configured) or a full neighbourhood: 1 (nobody waits)
 */
int cache_lock_try(apr_uint64_t hash, apr_time_t now, apr_interval_time_t ttl);

/** 1 when someone holds an unexpired claim on hash. */
int cache_lock_held(apr_uint64_t hash, apr_time_t now);

/** Gives the claim up (a claim held by nobody is ignored). */
void cache_lock_release(apr_uint64_t hash);

/** The shared counters, or NULL when there is no table. */
cache_metrics_t *cache_counters(void);

/** Adds n to a counter of cache_counters() atomically. */
#define CACHE_COUNT(field, n)                                                  \
    do {                                                                       \
        cache_metrics_t *m_ = cache_counters();                                \
        if (m_ != NULL) {                                                      \
            __atomic_fetch_add(&m_->field, (apr_uint64_t)(n),                  \
                               __ATOMIC_RELAXED);                              \
        }                                                                      \
    } while (0)

/** The secret that marks background refreshes ("" without a table). */
const char *cache_shm_token(void);

/* --- cache_refresh.c ------------------------------------------------- */

/**
 * Queues a background refresh of r's target: a GET to the address r came
 * in on, with r's Host and selecting fields, marked with the token.  The
 * refresher thread of this child sends it and reads the answer away; the
 * request then runs through the server like any other, so the entry is
 * revalidated or replaced by the usual fill.  `marker` is released when
 * the exchange is over (whatever happened).
 * @return 1 when queued, 0 when it cannot be (no thread, queue full)
 */
int cache_refresh_queue(rl_request_t *r, apr_uint64_t marker);

/** Prepares the refresher of a child (in child_init); the thread itself
 *  starts with the first refresh. */
void cache_refresh_child_init(apr_pool_t *pchild, rl_server_t *s);

#endif /* CACHE_PRIVATE_H */
