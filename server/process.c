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
