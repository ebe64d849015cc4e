/*
 * cache_shm.c: the state mod_cache shares between all children.
 *
 * One anonymous shared segment, created by the parent in post_config and
 * inherited by every child at fork, holds:
 *
 *  - the fill table: "a fill of key K is in progress until T".  CacheLock
 *    claims K before going to the backend for a miss, so that the other
 *    requests for K (in any child) wait for the entry instead of all
 *    asking the backend; a stale-while-revalidate hit claims a marker
 *    derived from K so that one refresh runs at a time; a response found
 *    not storable leaves a "pass" marker derived from K, so that waiters
 *    and later requests go to the backend at once instead of queueing
 *    for a claim one after the other (Varnish's hit-for-pass).  Claims
 *    expire on their own (CacheLockMaxAge), so a child killed in the
 *    middle of a fill blocks nobody for long;
 *  - the counters of mod_cache.h, added to atomically;
 *  - the token that marks background refreshes (cache_refresh.c).
 *
 * The table is open-addressed: a key's hash picks a slot and up to
 * PROBE slots after it.  A claim takes the first slot whose hash matches
 * (renewing it when expired) or else the first free or expired one.  If
 * all PROBE are busy with other keys the claim is granted without a slot:
 * at worst two requests fill the same key, never a request that waits
 * for nothing.  One robust process-shared mutex guards the table: each
 * operation is a few compares, and a child that dies holding it leaves
 * it to the next one (EOWNERDEAD).
 *
 * The segment is kept across graceful restarts (rl_retained_data), so
 * counters run on and fills in progress in old children stay visible.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_shm.h>
#include <apr_strings.h>

#include "cache_private.h"

RL_LOG_USE_MODULE(cache);

#define CACHE_SHM_MAGIC 0x43414348u /* "CACH" */
#define CACHE_SHM_KEY "cache-shm"
#define LOCK_SLOTS 4096 /* a power of two */
#define PROBE 16

typedef struct lock_slot_t {
    apr_uint64_t hash; /* 0: free */
    apr_time_t until;
} lock_slot_t;

typedef struct cache_shm_t {
    apr_uint32_t magic;
    char token[40];
    pthread_mutex_t mutex;
    cache_metrics_t counters;
    lock_slot_t slots[LOCK_SLOTS];
} cache_shm_t;

typedef struct cache_retained_t {
    apr_pool_t *pool;
    apr_shm_t *shm;
} cache_retained_t;

static cache_shm_t *tbl;

apr_uint64_t cache_key_hash(const char *key)
{
    apr_uint64_t h = 14695981039346656037ULL;

    for (; *key; key++) {
        h ^= (unsigned char)*key;
        h *= 1099511628211ULL;
    }
    return h == 0 ? 1 : h;
}

static void table_lock(void)
{
    if (pthread_mutex_lock(&tbl->mutex) == EOWNERDEAD) {
        /* its owner died between two compares: the slots are whole */
        pthread_mutex_consistent(&tbl->mutex);
    }
}

int cache_lock_try(apr_uint64_t hash, apr_time_t now, apr_interval_time_t ttl)
{
    lock_slot_t *free_slot = NULL;
    apr_uint32_t i, start;
    int got = 1;

    if (tbl == NULL) {
        return 1;
    }
    start = (apr_uint32_t)(hash & (LOCK_SLOTS - 1));
    table_lock();
    for (i = 0; i < PROBE; i++) {
        lock_slot_t *sl = &tbl->slots[(start + i) & (LOCK_SLOTS - 1)];
        if (sl->hash == hash) {
            if (sl->until > now) {
                got = 0;
            } else {
                sl->until = now + ttl;
            }
            free_slot = NULL;
            goto done;
        }
        if (free_slot == NULL && (sl->hash == 0 || sl->until <= now)) {
            free_slot = sl;
        }
    }
done:
    if (got && free_slot != NULL) {
        free_slot->hash = hash;
        free_slot->until = now + ttl;
    }
    pthread_mutex_unlock(&tbl->mutex);
    return got;
}

int cache_lock_held(apr_uint64_t hash, apr_time_t now)
{
    apr_uint32_t i, start;
    int held = 0;

    if (tbl == NULL) {
        return 0;
    }
    start = (apr_uint32_t)(hash & (LOCK_SLOTS - 1));
    table_lock();
    for (i = 0; i < PROBE; i++) {
        const lock_slot_t *sl = &tbl->slots[(start + i) & (LOCK_SLOTS - 1)];
        if (sl->hash == hash) {
            held = sl->until > now;
            break;
        }
    }
    pthread_mutex_unlock(&tbl->mutex);
    return held;
}

void cache_lock_release(apr_uint64_t hash)
{
    apr_uint32_t i, start;

    if (tbl == NULL) {
        return;
    }
    start = (apr_uint32_t)(hash & (LOCK_SLOTS - 1));
    table_lock();
    for (i = 0; i < PROBE; i++) {
        lock_slot_t *sl = &tbl->slots[(start + i) & (LOCK_SLOTS - 1)];
        if (sl->hash == hash) {
            sl->hash = 0;
            sl->until = 0;
            break;
        }
    }
    pthread_mutex_unlock(&tbl->mutex);
}

cache_metrics_t *cache_counters(void)
{
    return tbl != NULL ? &tbl->counters : NULL;
}

const char *cache_shm_token(void)
{
    return tbl != NULL ? tbl->token : "";
}

static void table_init(cache_shm_t *t)
{
    pthread_mutexattr_t ma;
    unsigned char rnd[16];
    int i;

    memset(t, 0, sizeof(*t));
    if (apr_generate_random_bytes(rnd, sizeof(rnd)) != APR_SUCCESS) {
        /* only a hint for refreshes: time and pid will do */
        apr_uint64_t v = (apr_uint64_t)apr_time_now() ^ (apr_uint64_t)getpid();
        memcpy(rnd, &v, sizeof(v));
        memcpy(rnd + 8, &v, sizeof(v));
    }
    for (i = 0; i < 16; i++) {
        apr_snprintf(t->token + 2 * i, 3, "%02x", rnd[i]);
    }
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&t->mutex, &ma);
    pthread_mutexattr_destroy(&ma);
    t->magic = CACHE_SHM_MAGIC;
}

int cache_shm_post_config(apr_pool_t *pconf, rl_server_t *s)
{
    cache_retained_t *ret = rl_retained_data_get(CACHE_SHM_KEY);
    apr_status_t rv;

    (void)pconf;
    if (ret == NULL) {
        ret = rl_retained_data_create(CACHE_SHM_KEY, sizeof(*ret));
    }
    if (ret->shm != NULL) {
        tbl = apr_shm_baseaddr_get(ret->shm);
        if (tbl->magic == CACHE_SHM_MAGIC) {
            return RL_OK;
        }
    }
    /* lives beyond this generation: the next one finds it again */
    apr_pool_create(&ret->pool, rl_retained_pool());
    rv = apr_shm_create(&ret->shm, sizeof(cache_shm_t), NULL, ret->pool);
    if (rv != APR_SUCCESS) {
        rl_log_error(RL_LOG_EMERG, rv, s,
                     "mod_cache: cannot create %" APR_SIZE_T_FMT
                     " KiB of shared memory for its lock table and counters",
                     sizeof(cache_shm_t) / 1024);
        apr_pool_destroy(ret->pool);
        ret->pool = NULL;
        ret->shm = NULL;
        tbl = NULL;
        return 500;
    }
    tbl = apr_shm_baseaddr_get(ret->shm);
    table_init(tbl);
    return RL_OK;
}
