/**
 * @file rl_provider.h
 * @brief Named providers: lbmethods, cache stores, health-check methods.
 *
 * A module registers a provider (a struct of functions) under a group,
 * a name and a version in its register_hooks(); another module looks it up
 * by name at configuration time.  Modules never link to each other.
 */
#ifndef RL_PROVIDER_H
#define RL_PROVIDER_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "rl_module.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Registers a provider.  Call from register_hooks().  The provider must
 * live as long as the module (static data).
 * @since API 20261127.0
 */
RL_DECLARE(apr_status_t)
rl_register_provider(apr_pool_t *p, const char *group, const char *name,
                     const char *version, const void *provider);

/** Finds a provider, or NULL.  @since API 20261127.0 */
RL_DECLARE(void *)
rl_lookup_provider(const char *group, const char *name, const char *version);

/**
 * Names of the providers of a group and version (const char * array in p),
 * for error messages that list the choices.
 */
RL_DECLARE(apr_array_header_t *)
rl_list_provider_names(apr_pool_t *p, const char *group, const char *version);

#ifdef __cplusplus
}
#endif
#endif /* RL_PROVIDER_H */
