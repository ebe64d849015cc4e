/*
 * process.c: the process-wide state of the running (or loading)
 * configuration, and the accessors modules use to read it.  Kept apart
 * from main.c so that unit tests link the core without a main().
 */
#include "core.h"

rl_process_t rl_proc;

RL_DECLARE(int) rl_exists_define(const char *name)
{
    int i;

    for (i = 0; rl_proc.defines && i < rl_proc.defines->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(rl_proc.defines, i, char *), name) == 0) {
            return 1;
        }
    }
    return 0;
}

RL_DECLARE(rl_server_t *) rl_main_server(void)
{
    return rl_proc.main_server;
}

RL_DECLARE(const char *) rl_server_root(void)
{
    return rl_proc.server_root;
}

RL_DECLARE(void *) rl_retained_data_get(const char *key)
{
    void *data = NULL;

    apr_pool_userdata_get(
        &data,
        apr_pstrcat(rl_proc.ptemp ? rl_proc.ptemp : rl_proc.pglobal,
                    "rl-retained:", key, NULL),
        rl_proc.pglobal);
    return data;
}

RL_DECLARE(void *) rl_retained_data_create(const char *key, apr_size_t size)
{
    void *data = apr_pcalloc(rl_proc.pglobal, size);

    apr_pool_userdata_set(
        data, apr_pstrcat(rl_proc.pglobal, "rl-retained:", key, NULL),
        apr_pool_cleanup_null, rl_proc.pglobal);
    return data;
}

RL_DECLARE(apr_pool_t *) rl_retained_pool(void)
{
    return rl_proc.pglobal;
}
