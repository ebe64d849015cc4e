/*
 * mod_hookpeer.c: the partner of mod_hooktest.c for hook ordering by
 * module name.  It registers a fixups function RL_HOOK_LAST that appends
 * "hookpeer" to the request's fixups trace; mod_hooktest registers its
 * fixups RL_HOOK_FIRST with "hookpeer" as predecessor, so the trace must
 * read "hookpeer,hooktest" whatever the LoadModule order
 * (test_modules_loading.py).
 */
#include <apr_strings.h>

#include "relais.h"

#define FIXUPS_NOTE "hooktest-fixups"

static int hookpeer_fixups(rl_request_t *r)
{
    const char *order = apr_table_get(r->notes, FIXUPS_NOTE);

    apr_table_set(r->notes, FIXUPS_NOTE,
                  order ? apr_pstrcat(r->pool, order, ",hookpeer", NULL)
                        : "hookpeer");
    return RL_OK;
}

static void hookpeer_register_hooks(apr_pool_t *p)
{
    (void)p;
    rl_hook_fixups(hookpeer_fixups, NULL, NULL, RL_HOOK_LAST);
}

RL_DECLARE_MODULE(hookpeer) = {RL_MODULE_STUFF("hookpeer", "1.0.0", 0),
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               hookpeer_register_hooks};
