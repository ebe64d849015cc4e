/*
 * mod_status: what the server is doing, for operators and for monitoring.
 *
 *   SetHandler server-status    an HTML page (status_page.c); ?auto gives
 *                               httpd's machine-readable lines, ?refresh=N
 *                               reloads the page every N seconds
 *   SetHandler metrics          Prometheus text format 0.0.4
 *                               (status_metrics.c)
 *   SetHandler balancer-manager members and lbmethods changed at run time
 *                               (status_manager.c)
 *
 * Directives (main server): ExtendedStatus On|Off (On by default, as in
 * httpd 2.4 when the module is loaded: the per-request counters; Off
 * keeps only what the scoreboard and the backends' shared state show).
 * httpd's SeeRequestTail is refused: the page lists no requests.
 *
 * Where the figures come from: the core's scoreboard (processes, threads,
 * connections by state: rl_scoreboard_read), mod_proxy's shared worker
 * state (status, in flight, requests, errors, bytes, health checks),
 * mod_cache's counters, /proc for CPU and memory, and mod_status's own
 * counters in shared memory, added to in log_transaction (status_shm.c).
 * Handlers only read memory: they never wait.  docs/status.md is the
 * operator's guide.
 */
#include "status_data.h"

RL_LOG_USE_MODULE(status);

typedef struct status_server_conf_t {
    int extended; /* ExtendedStatus, -1 unset */
} status_server_conf_t;

static void *status_create_server(apr_pool_t *p, rl_server_t *s)
{
    status_server_conf_t *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->extended = -1;
    return c;
}


static const char *set_extended(rl_cmd_t *cmd, void *conf, int argc,
                                char *const argv[])
{
    status_server_conf_t *c =
        rl_get_module_config(cmd->server->module_config, &status_module);

    (void)conf;
    (void)argc;
    return rl_parse_flag(cmd->temp_pool, argv[0], &c->extended);
}


static const char *set_see_request_tail(rl_cmd_t *cmd, void *conf, int argc,
                                        char *const argv[])
{
    (void)conf;
    (void)argc;
    (void)argv;
    return apr_psprintf(cmd->temp_pool,
                        "not supported by Relais: its status page lists no "
                        "requests, so there is no request line to cut; "
                        "remove the line");
}


static const rl_directive_t status_directives[] = {
    RL_TAKE1("ExtendedStatus", set_extended, NULL, RL_CTX_MAIN,
             "ExtendedStatus On|Off (per-request counters: On by default)"),
    RL_TAKE1("SeeRequestTail", set_see_request_tail, NULL, RL_CTX_MAIN,
             "SeeRequestTail On|Off (httpd's; not supported)"),
    RL_DIRECTIVE_END};


static int status_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, rl_server_t *s)
{
    status_server_conf_t *c =
        rl_get_module_config(s->module_config, &status_module);

    (void)plog;
    (void)ptemp;
    st_collect_setup();
    if (st_shm_setup(pconf, s, st_workers(), c->extended != 0) != APR_SUCCESS) {
        return 500;
    }
    return RL_OK;
}


static int status_log_transaction(rl_request_t *r)
{
    st_shm_count(r);
    return RL_DECLINED;
}


static int status_handler(rl_request_t *r)
{
    if (r->handler == NULL) {
        return RL_DECLINED;
    }
    if (strcmp(r->handler, "server-status") == 0) {
        return st_page_handler(r);
    }
    if (strcmp(r->handler, "metrics") == 0) {
        return st_metrics_handler(r);
    }
    if (strcmp(r->handler, "balancer-manager") == 0) {
        return status_manager_handler(r);
    }
    return RL_DECLINED;
}


static void status_register_hooks(apr_pool_t *p)
{
    /* after mod_proxy's post_config: the workers' shared state is
     * attached then (their counters are read, never written, here) */
    static const char *const after[] = {"proxy", "balancer", "cache", NULL};

    rl_hook_post_config(status_post_config, after, NULL, RL_HOOK_MIDDLE);
    rl_hook_log_transaction(status_log_transaction, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_handler(status_handler, NULL, NULL, RL_HOOK_MIDDLE);
    status_manager_register(p);
}


RL_DECLARE_MODULE(status) = {RL_MODULE_STUFF("status", "1.0.0", 0),
                             status_directives,
                             status_create_server,
                             NULL,
                             NULL,
                             NULL,
                             status_register_hooks};
