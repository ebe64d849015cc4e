/*
 * mod_lbfirst.c: the third-party lbmethod of docs/modules.md, built as a
 * test module: "first" sends every request to the first candidate in
 * configuration order (an active/passive pair), and a proxy_post_request
 * hook logs failed exchanges at debug level.  It uses only the public
 * API (rl_proxy.h), as a module built with relaisxs would.
 */
#include "relais.h"
#include "rl_proxy.h"

RL_LOG_USE_MODULE(lbfirst);

static apr_status_t first_init(rl_proxy_balancer_t *b, apr_pool_t *p)
{
    (void)p;
    b->lb_context = NULL; /* no state of its own */
    return APR_SUCCESS;
}

/* Must not block: it runs on the event loop that owns the request.  The
 * candidates come in configuration order, already filtered by status,
 * lbset, spares and standbys. */
static rl_proxy_worker_t *first_pick(rl_proxy_balancer_t *b, rl_request_t *r,
                                     const rl_proxy_candidate_t *c, int n)
{
    (void)b;
    (void)r;
    (void)n;
    return c[0].w;
}

/* taken, released and member_changed stay NULL: nothing to count */
static const rl_proxy_lbmethod_t first_method = {
    .name = "first",
    .init = first_init,
    .pick = first_pick,
};

static int lbfirst_post_request(rl_request_t *r, rl_proxy_worker_t *worker,
                                rl_proxy_outcome_e outcome)
{
    if (outcome != RL_PROXY_OK && outcome != RL_PROXY_CLIENT_ABORT) {
        rl_log_rerror(RL_LOG_DEBUG, 0, r, "%s failed (outcome %d)",
                      worker->name, (int)outcome);
    }
    return RL_OK;
}

static void lbfirst_register_hooks(apr_pool_t *p)
{
    rl_register_provider(p, "lbmethod", "first", "2", &first_method);
    rl_proxy_hook_post_request(lbfirst_post_request, NULL, NULL,
                               RL_HOOK_MIDDLE);
}

RL_DECLARE_MODULE(lbfirst) = {RL_MODULE_STUFF("lbfirst", "1.0.0", 0),
                              NULL,
                              NULL,
                              NULL,
                              NULL,
                              NULL,
                              lbfirst_register_hooks};
