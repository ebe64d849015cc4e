/**
 * @file rl_module.h
 * @brief The module record every Relais module exports.
 *
 * A module is a shared object exporting one data symbol, `<name>_module`,
 * of type rl_module_t.  Write it with RL_DECLARE_MODULE() and
 * RL_MODULE_STUFF(), then the directive table, the config constructors and
 * the hook registration function:
 *
 * @code
 * RL_DECLARE_MODULE(echo) = {
 *     RL_MODULE_STUFF("echo", "1.0.0", 0),
 *     echo_directives,
 *     NULL, NULL,                   // server config: none
 *     echo_create_dir, echo_merge_dir,
 *     echo_register_hooks
 * };
 * @endcode
 *
 * Fields are append-only: a new field bumps RL_MMN_MINOR and the core reads
 * it only from modules whose api_minor says it is there.
 */
#ifndef RL_MODULE_H
#define RL_MODULE_H

#include <apr_pools.h>
#include <stdint.h>

#include "rl_mmn.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Marks a symbol of the core that modules may use. */
#define RL_DECLARE(type) __attribute__((visibility("default"))) type
/** Marks a data symbol of the core that modules may use. */
#define RL_DECLARE_DATA __attribute__((visibility("default")))

/** "RLAY": the cookie that says "this is a Relais module". */
#define RL_MODULE_MAGIC 0x524c4159u

/**
 * Layout-changing build options, compared at load time.  A module built
 * with a different signature is refused as "not binary compatible".
 * Characters: pointer size, APR major, threads.
 */
#define RL_MODULE_SIGNATURE_STR(x) #x
#define RL_MODULE_SIGNATURE_XSTR(x) RL_MODULE_SIGNATURE_STR(x)
#define RL_MODULE_SIGNATURE                                                    \
    "ptr" RL_MODULE_SIGNATURE_XSTR(__SIZEOF_POINTER__) ",apr1,threads"

/** Module flag: this module is an MPM (exactly one must be loaded). */
#define RL_MODULE_MPM 0x01u

typedef struct rl_module_t rl_module_t;
typedef struct rl_directive_t rl_directive_t;
typedef struct rl_server_t rl_server_t;

/** The module record.  Do not reorder; append only. */
struct rl_module_t {
    uint32_t magic;        /**< RL_MODULE_MAGIC */
    int api_major;         /**< RL_MMN_MAJOR at build time */
    int api_minor;         /**< RL_MMN_MINOR at build time */
    const char *signature; /**< RL_MODULE_SIGNATURE at build time */
    const char *name;      /**< stable short word: "proxy", "echo" */
    const char *version;   /**< the module's own version, shown by -M */
    unsigned flags;        /**< RL_MODULE_* */

    int index;         /**< core-owned: slot in config vectors */
    void *dso_handle;  /**< core-owned: apr_dso_handle_t or NULL */
    rl_module_t *next; /**< core-owned: next loaded module */

    /** Directive table, terminated by an entry whose name is NULL. */
    const rl_directive_t *directives;

    /** Create the per-server block (main server and each vhost). */
    void *(*create_server_config)(apr_pool_t *p, rl_server_t *s);
    /** Merge a vhost block over the main server's; return a new block. */
    void *(*merge_server_config)(apr_pool_t *p, void *base, void *add);
    /** Create a per-location block; path is NULL for a server's root. */
    void *(*create_dir_config)(apr_pool_t *p, const char *path);
    /** Merge a location block over its parent's; return a new block. */
    void *(*merge_dir_config)(apr_pool_t *p, void *base, void *add);

    /** Register hooks and providers.  Called once per load. */
    void (*register_hooks)(apr_pool_t *p);
};

/**
 * Fills the record's fields up to and including `next`.
 * @param name    the module's short name, as a string
 * @param version the module's version string
 * @param flags   RL_MODULE_* flags
 */
#define RL_MODULE_STUFF(name, version, flags)                                  \
    RL_MODULE_MAGIC, RL_MMN_MAJOR, RL_MMN_MINOR, RL_MODULE_SIGNATURE, name,    \
        version, flags, -1, NULL, NULL

/** Declares the exported module record `<name>_module`. */
#define RL_DECLARE_MODULE(name)                                                \
    extern RL_DECLARE_DATA rl_module_t name##_module;                          \
    RL_DECLARE_DATA rl_module_t name##_module

/**
 * Returns a module's block from a config vector (server, dir or request).
 * @since API 20261127.0
 */
#define rl_get_module_config(vector, m) (((void **)(vector))[(m)->index])
/** Stores a module's block in a config vector. */
#define rl_set_module_config(vector, m, val)                                   \
    (((void **)(vector))[(m)->index] = (val))

/**
 * Finds a loaded module by name ("proxy").  Process context: any.
 * @return the module, or NULL when it is not loaded.
 * @since API 20261127.0
 */
RL_DECLARE(rl_module_t *) rl_find_module(const char *name);

/** The first loaded module; follow ->next for the rest (core first). */
RL_DECLARE(rl_module_t *) rl_first_module(void);

#ifdef __cplusplus
}
#endif
#endif /* RL_MODULE_H */
