/*
 * config_load.c: loading one configuration generation from the files:
 * reset the per-generation state, read the tree, run the LoadModule pass,
 * pre_config, the directive pass, the merges and check_config.
 */
#include "core.h"

#include <unistd.h>

static void reset_generation_state(apr_pool_t *pconf)
{
    int i;

    rl_proc.pconf = pconf;
    rl_proc.config_errors = 0;
    rl_proc.user = rl_proc.group = NULL;
    rl_proc.pid_file = NULL;
    rl_proc.server_tokens = 0;
    rl_proc.mpm_module = NULL;
    rl_proc.graceful_timeout = 0;
    rl_proc.listen_backlog = RL_LISTEN_BACKLOG_DEFAULT;
    rl_proc.listen_specs = apr_array_make(pconf, 4, sizeof(listen_spec_t));
    rl_proc.defines = apr_array_make(pconf, 4, sizeof(char *));
    rl_proc.define_vars = apr_table_make(pconf, 4);
    for (i = 0; i < rl_proc.cmdline_defines->nelts; i++) {
        APR_ARRAY_PUSH(rl_proc.defines, char *) =
            APR_ARRAY_IDX(rl_proc.cmdline_defines, i, char *);
    }
    rl_proc.mpm.start_servers = -1;
    rl_proc.mpm.server_limit = -1;
    rl_proc.mpm.threads_per_child = -1;
    rl_proc.mpm.max_request_workers = -1;
    rl_proc.mpm.min_spare = -1;
    rl_proc.mpm.max_spare = -1;
    rl_proc.mpm.max_connections_per_child = -1;
    rl_if_blocks = 0;
}

/* `Listen … https` is served by whichever module provides TLS (rl_ssl.h);
 * without one the listener would speak plain HTTP where clients expect
 * TLS, so it is an error that names the line and the fix. */
static void https_needs_tls_module(void)
{
    int i;

    if (rl_ssl_provider() != NULL) {
        return;
    }
    for (i = 0; i < rl_proc.listen_specs->nelts; i++) {
        const listen_spec_t *ls =
            &APR_ARRAY_IDX(rl_proc.listen_specs, i, listen_spec_t);
        if (strcasecmp(ls->protocol, "https") == 0) {
            fprintf(stderr,
                    "relaisd: %s:%u: Listen: an https listener needs mod_ssl: "
                    "add LoadModule ssl_module modules/mod_ssl.so\n",
                    ls->file, ls->line);
            rl_proc.config_errors++;
        }
    }
}

/* A tcp or udp listener is served by a module (mod_proxy_stream), which
 * registers a provider of group RL_LISTENER_PROTOCOL_GROUP under the
 * protocol's name: without one the listener would be taken for HTTP. */
static void stream_needs_module(void)
{
    int i;

    for (i = 0; i < rl_proc.listen_specs->nelts; i++) {
        const listen_spec_t *ls =
            &APR_ARRAY_IDX(rl_proc.listen_specs, i, listen_spec_t);
        if ((strcmp(ls->protocol, "tcp") == 0 ||
             strcmp(ls->protocol, "udp") == 0) &&
            rl_lookup_provider(RL_LISTENER_PROTOCOL_GROUP, ls->protocol,
                               RL_LISTENER_PROTOCOL_VERSION) == NULL) {
            fprintf(stderr,
                    "relaisd: %s:%u: Listen: no loaded module serves %s "
                    "listeners (none registered the provider "
                    "listener_protocol/%s, see rl_protocol.h): add "
                    "LoadModule proxy_stream_module "
                    "modules/mod_proxy_stream.so\n",
                    ls->file, ls->line, ls->protocol, ls->protocol);
            rl_proc.config_errors++;
        }
    }
}

/* Reads and checks the whole configuration.  Returns 0 or the number of
 * errors (already printed). */
int rl_config_load(apr_pool_t *pconf, apr_pool_t *ptemp)
{
    rl_config_node_t *tree = NULL;
    const char *conf;

    apr_hook_deregister_all();
    apr_hook_global_pool = pconf;
    reset_generation_state(pconf);
    rl_modules_reset();
    rl_module_add_static(pconf, &core_module);
    rl_proc.main_server = rl_config_new_server(pconf, 0);
    rl_proc.main_server->defn_file = rl_proc.config_file;
    conf = rl_server_root_relative(ptemp, rl_proc.config_file);
    if (rl_config_read_file(pconf, ptemp, conf, &tree) > 0 && tree == NULL &&
        rl_proc.config_errors > 0 && access(conf, R_OK) != 0) {
        return rl_proc.config_errors; /* no file: nothing to check further */
    }
    /* Errors met while reading (a LoadModule, a section) do not stop the
     * walk: one run reports every error it can. */
    apr_hook_sort_all();
    if (rl_run_pre_config(pconf, rl_proc.plog, ptemp) != RL_OK) {
        fprintf(stderr, "relaisd: pre-configuration failed\n");
        return rl_proc.config_errors + 1;
    }
    rl_config_process(pconf, ptemp, tree);
    if (rl_proc.mpm_module == NULL) {
        fprintf(stderr,
                "relaisd: %s: no MPM loaded: add exactly one of\n"
                "  LoadModule mpm_event_module modules/mod_mpm_event.so\n"
                "  LoadModule mpm_worker_module modules/mod_mpm_worker.so\n"
                "  LoadModule mpm_prefork_module modules/mod_mpm_prefork.so\n",
                conf);
        rl_proc.config_errors++;
    }
    https_needs_tls_module();
    stream_needs_module();
    if (rl_proc.config_errors) {
        return rl_proc.config_errors;
    }
    rl_config_finish(pconf);
    if (rl_run_check_config(pconf, rl_proc.plog, ptemp, rl_proc.main_server) !=
        RL_OK) {
        rl_proc.config_errors++;
    }
    return rl_proc.config_errors;
}
