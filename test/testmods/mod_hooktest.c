/*
 * mod_hooktest.c: a valid module, written only against include/ as a
 * third-party module would be, that exercises the hook registry and the
 * per-location configuration (test_modules_loading.py):
 *
 *  - Hook order.  Each request hook it registers appends its name to a
 *    per-request trace and sets a response header "X-Hook-<hook>: <n>"
 *    (n = 1 for the first hook seen).  The handler (SetHandler hooktest)
 *    answers with the trace so far in "X-Hook-Trace" and in the body;
 *    log_transaction, which runs after the response is sent, logs the
 *    complete trace at info ("hooktest: trace …").  Expected:
 *    post_read_request, access_checker, quick_handler, translate_name,
 *    fixups, insert_filter, handler, log_transaction.
 *  - Predecessors by module name.  Its fixups function is registered
 *    RL_HOOK_FIRST but with "hookpeer" as predecessor; mod_hookpeer.c
 *    registers its own fixups RL_HOOK_LAST.  Both append to the
 *    "X-Fixups-Order" trace, which must read "hookpeer,hooktest".
 *  - Generation hooks.  post_config and child_init each log one info line,
 *    so a test can count them (post_config: once per generation; child_init:
 *    once per child).
 *  - Per-location merge.  The directive "HookTestTag word" is allowed at
 *    server level, in <VirtualHost> and in <Location>/<LocationMatch>; the
 *    merge joins the outer and inner words with '+', so a request under
 *    nested locations reports e.g. "root+a+b" in "X-HookTest-Tag".
 */
#include <stddef.h>
#include <string.h>

#include <apr_strings.h>

#include "relais.h"

RL_LOG_USE_MODULE(hooktest);

#define TRACE_NOTE "hooktest-trace"
#define FIXUPS_NOTE "hooktest-fixups"

typedef struct hooktest_dir_conf {
    const char *tag; /* HookTestTag, or NULL when not set here */
} hooktest_dir_conf;

static void *hooktest_create_dir(apr_pool_t *p, const char *path)
{
    (void)path;
    return apr_pcalloc(p, sizeof(hooktest_dir_conf));
}

static void *hooktest_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const hooktest_dir_conf *base = basev, *add = addv;
    hooktest_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    if (base->tag != NULL && add->tag != NULL) {
        conf->tag = apr_pstrcat(p, base->tag, "+", add->tag, NULL);
    } else {
        conf->tag = add->tag != NULL ? add->tag : base->tag;
    }
    return conf;
}

static const rl_directive_t hooktest_directives[] = {
    RL_TAKE1("HookTestTag", rl_set_string_slot,
             (void *)offsetof(hooktest_dir_conf, tag),
             RL_CTX_SERVER | RL_CTX_LOCATION,
             "HookTestTag word -- joined with '+' across nested blocks"),
    RL_DIRECTIVE_END};

/* Appends `hook` to the request's trace and sets X-Hook-<hook>: <n>. */
static void saw(rl_request_t *r, const char *hook)
{
    const char *trace = apr_table_get(r->notes, TRACE_NOTE);
    int n = 1;
    const char *s;

    if (trace != NULL) {
        for (s = trace; *s; s++) {
            n += *s == ',';
        }
        n++;
        trace = apr_pstrcat(r->pool, trace, ",", hook, NULL);
    } else {
        trace = hook;
    }
    apr_table_set(r->notes, TRACE_NOTE, trace);
    apr_table_set(r->err_headers_out,
                  apr_pstrcat(r->pool, "X-Hook-", hook, NULL),
                  apr_itoa(r->pool, n));
}

static int hooktest_post_read_request(rl_request_t *r)
{
    saw(r, "post_read_request");
    return RL_DECLINED;
}

static int hooktest_access_checker(rl_request_t *r)
{
    saw(r, "access_checker");
    return RL_OK;
}

static int hooktest_quick_handler(rl_request_t *r)
{
    saw(r, "quick_handler");
    return RL_DECLINED;
}

static int hooktest_translate_name(rl_request_t *r)
{
    saw(r, "translate_name");
    return RL_DECLINED;
}

static int hooktest_fixups(rl_request_t *r)
{
    const char *order = apr_table_get(r->notes, FIXUPS_NOTE);

    saw(r, "fixups");
    apr_table_set(r->notes, FIXUPS_NOTE,
                  order ? apr_pstrcat(r->pool, order, ",hooktest", NULL)
                        : "hooktest");
    return RL_OK;
}

static void hooktest_insert_filter(rl_request_t *r)
{
    saw(r, "insert_filter");
}

static int hooktest_handler(rl_request_t *r)
{
    const hooktest_dir_conf *conf =
        rl_get_module_config(r->per_dir_config, &hooktest_module);
    const char *tag = conf && conf->tag ? conf->tag : "(none)";
    const char *fixups = apr_table_get(r->notes, FIXUPS_NOTE);
    const char *trace;

    if (r->handler == NULL || strcmp(r->handler, "hooktest") != 0) {
        return RL_DECLINED;
    }
    saw(r, "handler");
    trace = apr_table_get(r->notes, TRACE_NOTE);
    apr_table_set(r->headers_out, "X-Hook-Trace", trace);
    apr_table_set(r->headers_out, "X-Fixups-Order", fixups ? fixups : "");
    apr_table_set(r->headers_out, "X-HookTest-Tag", tag);
    rl_set_content_type(r, "text/plain");
    rl_rprintf(r, "trace %s\nfixups %s\ntag %s\n", trace, fixups ? fixups : "",
               tag);
    return RL_OK;
}

static int hooktest_log_transaction(rl_request_t *r)
{
    saw(r, "log_transaction");
    rl_log_rerror(RL_LOG_INFO, 0, r, "hooktest: trace %s uri %s",
                  apr_table_get(r->notes, TRACE_NOTE), r->uri);
    return RL_OK;
}

static int hooktest_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                apr_pool_t *ptemp, rl_server_t *s)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    rl_log_error(RL_LOG_INFO, 0, s, "hooktest: post_config");
    return RL_OK;
}

static void hooktest_child_init(apr_pool_t *pchild, rl_server_t *s)
{
    (void)pchild;
    rl_log_error(RL_LOG_INFO, 0, s, "hooktest: child_init");
}

static void hooktest_register_hooks(apr_pool_t *p)
{
    static const char *const after_peer[] = {"hookpeer", NULL};

    (void)p;
    rl_hook_post_config(hooktest_post_config, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_child_init(hooktest_child_init, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_post_read_request(hooktest_post_read_request, NULL, NULL,
                              RL_HOOK_MIDDLE);
    rl_hook_access_checker(hooktest_access_checker, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_quick_handler(hooktest_quick_handler, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_translate_name(hooktest_translate_name, NULL, NULL, RL_HOOK_MIDDLE);
    /* FIRST, yet after hookpeer (registered LAST): the predecessor wins. */
    rl_hook_fixups(hooktest_fixups, after_peer, NULL, RL_HOOK_FIRST);
    rl_hook_insert_filter(hooktest_insert_filter, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_handler(hooktest_handler, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_log_transaction(hooktest_log_transaction, NULL, NULL,
                            RL_HOOK_MIDDLE);
}

RL_DECLARE_MODULE(hooktest) = {RL_MODULE_STUFF("hooktest", "1.0.0", 0),
                               hooktest_directives,
                               NULL,
                               NULL,
                               hooktest_create_dir,
                               hooktest_merge_dir,
                               hooktest_register_hooks};
