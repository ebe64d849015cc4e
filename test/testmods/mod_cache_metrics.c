/*
 * mod_cache_metrics.c: a test module that uses mod_cache's API for other
 * modules (modules/cache/mod_cache.h) the way the status module will:
 * `SetHandler cache-metrics` answers with mod_cache's counters, one
 * "name value" line each; `?purge=<key prefix>` first purges every entry
 * under that prefix with cache_purge().  The functions are looked up by
 * name, so that this module loads with or without mod_cache.
 * Used by test/integration/cache/test_cache_access.py.
 */
#include <dlfcn.h>
#include <string.h>

#include <apr_strings.h>

#include "relais.h"
#include "../../modules/cache/mod_cache.h"

typedef int (*metrics_fn)(cache_metrics_t *m);
typedef int (*purge_fn)(const char *key, int prefix);

#define FIELD(f)                                                               \
    {                                                                          \
#f, APR_OFFSETOF(cache_metrics_t, f)                                   \
    }

static const struct {
    const char *name;
    apr_size_t off;
} fields[] = {FIELD(hits),          FIELD(misses),       FIELD(stale),
              FIELD(revalidated),   FIELD(not_modified), FIELD(bytes_served),
              FIELD(stored),        FIELD(bytes_stored), FIELD(not_stored),
              FIELD(invalidated),   FIELD(purged),       FIELD(lock_waits),
              FIELD(lock_timeouts), FIELD(refreshes),    FIELD(stale_on_error),
              FIELD(mem_entries),   FIELD(mem_bytes),    FIELD(mem_capacity),
              FIELD(disk_entries),  FIELD(disk_bytes),   FIELD(disk_capacity)};

static int metrics_handler(rl_request_t *r)
{
    void *ms = dlsym(RTLD_DEFAULT, "cache_metrics_get");
    void *ps = dlsym(RTLD_DEFAULT, "cache_purge");
    metrics_fn get;
    purge_fn purge;
    cache_metrics_t m;
    apr_size_t i;

    if (r->handler == NULL || strcmp(r->handler, "cache-metrics") != 0) {
        return RL_DECLINED;
    }
    if (ms == NULL || ps == NULL) {
        return 501;
    }
    memcpy(&get, &ms, sizeof(get));
    memcpy(&purge, &ps, sizeof(purge));
    rl_set_content_type(r, "text/plain");
    if (r->args != NULL && strncmp(r->args, "purge=", 6) == 0) {
        rl_rprintf(r, "purged %d\n", purge(r->args + 6, 1));
    }
    rl_rprintf(r, "configured %d\n", get(&m));
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        rl_rprintf(r, "%s %" APR_UINT64_T_FMT "\n", fields[i].name,
                   *(const apr_uint64_t *)((const char *)&m + fields[i].off));
    }
    return RL_OK;
}

static void metrics_register_hooks(apr_pool_t *p)
{
    (void)p;
    rl_hook_handler(metrics_handler, NULL, NULL, RL_HOOK_MIDDLE);
}

RL_DECLARE_MODULE(cache_metrics) = {RL_MODULE_STUFF("cache_metrics", "1.0", 0),
                                    NULL,
                                    NULL,
                                    NULL,
                                    NULL,
                                    NULL,
                                    metrics_register_hooks};
