/*
 * mod_setenv_test.c: lets a test set request variables and notes from the
 * client, for mod_log's tests (test/integration/log/):
 *
 *   X-Test-Env: name=value    apr_table_set(r->subprocess_env, name, value)
 *   X-Test-Note: name=value   apr_table_set(r->notes, name, value)
 *
 * Either header may be repeated.  It runs in fixups, as SetEnvIf's
 * successors would, so the values are there when log_transaction runs:
 * env= / env=! conditions of CustomLog, %{name}e, %{name}n, and the proxy
 * fields of the json format (BALANCER_WORKER_NAME, proxy-attempts...)
 * before mod_proxy exists.  Never load it in production: any client could
 * set any variable.
 *
 * It also adds the format letter %{arg}Z through a "log-item" provider
 * (how a module such as mod_ssl adds %{VAR}x to mod_log): the value is
 * "Z(arg)" with the request's X-Test-Item header appended when present,
 * so that mod_log's escaping of provided values shows.
 */
#include <string.h>

#include <apr_strings.h>

#include "relais.h"
#include "rl_log_item.h"

RL_LOG_USE_MODULE(setenv_test);

typedef struct set_ctx_t {
    apr_pool_t *pool;
    apr_table_t *to;
} set_ctx_t;

static int set_one(void *data, const char *key, const char *value)
{
    set_ctx_t *ctx = data;
    const char *eq = strchr(value, '=');

    (void)key;
    if (eq != NULL && eq != value) {
        apr_table_set(ctx->to, apr_pstrndup(ctx->pool, value, eq - value),
                      eq + 1);
    }
    return 1;
}

static int setenv_test_fixups(rl_request_t *r)
{
    set_ctx_t env = {r->pool, r->subprocess_env};
    set_ctx_t notes = {r->pool, r->notes};

    apr_table_do(set_one, &env, r->headers_in, "X-Test-Env", NULL);
    apr_table_do(set_one, &notes, r->headers_in, "X-Test-Note", NULL);
    return RL_DECLINED;
}

static const char *z_item(rl_request_t *r, const char *arg)
{
    const char *extra = apr_table_get(r->headers_in, "X-Test-Item");

    return apr_pstrcat(r->pool, "Z(", arg ? arg : "", ")", extra, NULL);
}

static const rl_log_item_provider_t z_provider = {z_item};

static void setenv_test_register_hooks(apr_pool_t *p)
{
    rl_register_provider(p, RL_LOG_ITEM_GROUP, "Z", RL_LOG_ITEM_VERSION,
                         &z_provider);
    rl_hook_fixups(setenv_test_fixups, NULL, NULL, RL_HOOK_MIDDLE);
}

RL_DECLARE_MODULE(setenv_test) = {RL_MODULE_STUFF("setenv_test", "1.0.0", 0),
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  setenv_test_register_hooks};
