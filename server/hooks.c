/*
 * hooks.c: the core hooks, implemented with APR-util's apr_hooks.
 *
 * The hook arrays live in apr_hook_global_pool, which main.c points at the
 * configuration pool of each generation: a restart unloads every module
 * and registers its hooks afresh, so no function pointer outlives its
 * shared object.
 */
#include "relais.h"

/* clang-format off */
APR_HOOK_STRUCT(
    APR_HOOK_LINK(pre_config)
    APR_HOOK_LINK(check_config)
    APR_HOOK_LINK(post_config)
    APR_HOOK_LINK(child_init)
    APR_HOOK_LINK(mpm)
    APR_HOOK_LINK(pre_connection)
    APR_HOOK_LINK(post_read_request)
    APR_HOOK_LINK(access_checker)
    APR_HOOK_LINK(quick_handler)
    APR_HOOK_LINK(translate_name)
    APR_HOOK_LINK(fixups)
    APR_HOOK_LINK(insert_filter)
    APR_HOOK_LINK(handler)
    APR_HOOK_LINK(response_head)
    APR_HOOK_LINK(error_response)
    APR_HOOK_LINK(log_transaction)
    APR_HOOK_LINK(child_exit)
)
/* clang-format on */

APR_IMPLEMENT_EXTERNAL_HOOK_RUN_ALL(rl, RL, int, pre_config,
                                    (apr_pool_t * pconf, apr_pool_t *plog,
                                     apr_pool_t *ptemp),
                                    (pconf, plog, ptemp), RL_OK, RL_DECLINED)
APR_IMPLEMENT_EXTERNAL_HOOK_RUN_ALL(rl, RL, int, check_config,
                                    (apr_pool_t * pconf, apr_pool_t *plog,
                                     apr_pool_t *ptemp, rl_server_t *s),
                                    (pconf, plog, ptemp, s), RL_OK, RL_DECLINED)
APR_IMPLEMENT_EXTERNAL_HOOK_RUN_ALL(rl, RL, int, post_config,
                                    (apr_pool_t * pconf, apr_pool_t *plog,
                                     apr_pool_t *ptemp, rl_server_t *s),
                                    (pconf, plog, ptemp, s), RL_OK, RL_DECLINED)
APR_IMPLEMENT_EXTERNAL_HOOK_VOID(rl, RL, child_init,
                                 (apr_pool_t * pchild, rl_server_t *s),
                                 (pchild, s))
APR_IMPLEMENT_EXTERNAL_HOOK_RUN_FIRST(rl, RL, int, mpm,
                                      (apr_pool_t * pconf, apr_pool_t *plog,
                                       rl_server_t *s),
                                      (pconf, plog, s), RL_DECLINED)
APR_IMPLEMENT_EXTERNAL_HOOK_RUN_ALL(rl, RL, int, pre_connection,
                                    (rl_conn_t * c), (c), RL_OK, RL_DECLINED)
APR_IMPLEMENT_EXTERNAL_HOOK_RUN_ALL(rl, RL, int, post_read_request,
                                    (rl_request_t * r), (r), RL_OK, RL_DECLINED)
APR_IMPLEMENT_EXTERNAL_HOOK_RUN_ALL(rl, RL, int, access_checker,
                                    (rl_request_t * r), (r), RL_OK, RL_DECLINED)
APR_IMPLEMENT_EXTERNAL_HOOK_RUN_FIRST(rl, RL, int, quick_handler,
                                      (rl_request_t * r), (r), RL_DECLINED)
APR_IMPLEMENT_EXTERNAL_HOOK_RUN_FIRST(rl, RL, int, translate_name,
                                      (rl_request_t * r), (r), RL_DECLINED)
APR_IMPLEMENT_EXTERNAL_HOOK_RUN_ALL(rl, RL, int, fixups, (rl_request_t * r),
                                    (r), RL_OK, RL_DECLINED)
APR_IMPLEMENT_EXTERNAL_HOOK_VOID(rl, RL, insert_filter, (rl_request_t * r), (r))
APR_IMPLEMENT_EXTERNAL_HOOK_RUN_FIRST(rl, RL, int, handler, (rl_request_t * r),
                                      (r), RL_DECLINED)
APR_IMPLEMENT_EXTERNAL_HOOK_RUN_FIRST(rl, RL, int, error_response,
                                      (rl_request_t * r, int status),
                                      (r, status), RL_DECLINED)
APR_IMPLEMENT_EXTERNAL_HOOK_VOID(rl, RL, response_head, (rl_request_t * r), (r))
APR_IMPLEMENT_EXTERNAL_HOOK_RUN_ALL(rl, RL, int, log_transaction,
                                    (rl_request_t * r), (r), RL_OK, RL_DECLINED)
APR_IMPLEMENT_EXTERNAL_HOOK_VOID(rl, RL, child_exit,
                                 (apr_pool_t * pchild, rl_server_t *s),
                                 (pchild, s))
