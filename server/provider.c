/*
 * provider.c: named providers (group, name, version) -> struct pointer.
 *
 * The table is rebuilt each configuration generation, like the hooks,
 * because providers point into modules that a restart unloads.
 */
#include "core.h"

static apr_hash_t *provider_table; /* "group\0version" -> hash name -> ptr */

static apr_status_t provider_cleanup(void *unused)
{
    (void)unused;
    provider_table = NULL;
    return APR_SUCCESS;
}

static const char *provider_key(apr_pool_t *p, const char *group,
                                const char *version)
{
    return apr_pstrcat(p, group, "/", version, NULL);
}

RL_DECLARE(apr_status_t)
rl_register_provider(apr_pool_t *p, const char *group, const char *name,
                     const char *version, const void *provider)
{
    apr_hash_t *names;
    const char *key;

    if (provider_table == NULL) {
        provider_table = apr_hash_make(p);
        apr_pool_cleanup_register(p, NULL, provider_cleanup,
                                  apr_pool_cleanup_null);
    }
    key = provider_key(p, group, version);
    names = apr_hash_get(provider_table, key, APR_HASH_KEY_STRING);
    if (names == NULL) {
        names = apr_hash_make(p);
        apr_hash_set(provider_table, key, APR_HASH_KEY_STRING, names);
    }
    apr_hash_set(names, apr_pstrdup(p, name), APR_HASH_KEY_STRING, provider);
    return APR_SUCCESS;
}

RL_DECLARE(void *)
rl_lookup_provider(const char *group, const char *name, const char *version)
{
    apr_hash_t *names;
    char key[256];

    if (provider_table == NULL) {
        return NULL;
    }
    apr_snprintf(key, sizeof(key), "%s/%s", group, version);
    names = apr_hash_get(provider_table, key, APR_HASH_KEY_STRING);
    return names ? apr_hash_get(names, name, APR_HASH_KEY_STRING) : NULL;
}

RL_DECLARE(apr_array_header_t *)
rl_list_provider_names(apr_pool_t *p, const char *group, const char *version)
{
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(const char *));
    apr_hash_index_t *hi;
    apr_hash_t *names;

    if (provider_table == NULL) {
        return out;
    }
    names = apr_hash_get(provider_table, provider_key(p, group, version),
                         APR_HASH_KEY_STRING);
    for (hi = names ? apr_hash_first(p, names) : NULL; hi;
         hi = apr_hash_next(hi)) {
        const void *k;
        apr_hash_this(hi, &k, NULL, NULL);
        APR_ARRAY_PUSH(out, const char *) = k;
    }
    return out;
}
