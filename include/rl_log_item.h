/**
 * @file rl_log_item.h
 * @brief Adding a format letter to mod_log's access log formats.
 *
 * A module registers, in its register_hooks(), a provider of group
 * RL_LOG_ITEM_GROUP, version RL_LOG_ITEM_VERSION, named after the letter
 * ("x" for %{VAR}x), as httpd's ap_register_log_handler does:
 *
 * @code
 * static const rl_log_item_provider_t ssl_item = {ssl_var_for_log};
 * rl_register_provider(p, RL_LOG_ITEM_GROUP, "x", RL_LOG_ITEM_VERSION,
 *                      &ssl_item);
 * @endcode
 *
 * mod_log looks letters up when it parses a format (after its own letters:
 * a module cannot override a built-in one).
 */
#ifndef RL_LOG_ITEM_H
#define RL_LOG_ITEM_H

#include "rl_http.h"

#define RL_LOG_ITEM_GROUP "log-item"
#define RL_LOG_ITEM_VERSION "0"

/** A format letter another module provides. */
typedef struct rl_log_item_provider_t {
    /**
     * The value of %{arg}letter for r, raw (mod_log escapes it), in
     * r->pool, or NULL to log "-".  Runs in log_transaction.
     * @since API 20261127.0
     */
    const char *(*fn)(rl_request_t *r, const char *arg);
} rl_log_item_provider_t;

#endif /* RL_LOG_ITEM_H */
