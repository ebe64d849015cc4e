/*
 * mod_lbmethod_spillover.c: an example load-balancing method for Relais.
 *
 *   LoadModule lbmethod_spillover_module modules/mod_lbmethod_spillover.so
 *
 *   <Proxy balancer://app>
 *       BalancerMember http://10.0.1.11:8080
 *       BalancerMember http://10.0.1.12:8080
 *       ProxySet lbmethod=spillover
 *       SpilloverLimit 20
 *   </Proxy>
 *
 * lbmethod=spillover fills the members in configuration order: the first
 * takes every new request until it has SpilloverLimit requests in flight
 * (times its loadfactor), then the second takes the overflow, and so on
 * (HAProxy calls this "balance first").  Under a light load one member
 * does all the work and the others stay idle, which suits backends that
 * are billed or powered on by use, and keeps caches warm on one machine.
 * When every member is full, the least loaded one (for its size) gets the
 * request.
 *
 * It is written to be read (README.md beside it says how to build and try
 * it), and shows, in the order of the file:
 *
 *   1. a per-server configuration block and its merge;
 *   2. a directive allowed both at server level and inside
 *      <Proxy balancer://...>, which finds the balancer it stands in;
 *   3. an lbmethod provider (rl_proxy.h): init prepares b->lb_context
 *      from the configuration, pick chooses among the candidates
 *      mod_balancer hands it;
 *   4. registration in register_hooks and the module record.
 *
 * It uses only the public API.  It calls no function of mod_proxy (it
 * only reads rl_proxy.h's structures), so its LoadModule line may come
 * before mod_proxy's: a module that calls rl_proxy_* functions must be
 * loaded after mod_proxy (docs/modules.md, "Extending the proxy").
 */
#include <string.h>

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "relais.h"
#include "rl_proxy.h"

RL_LOG_USE_MODULE(lbmethod_spillover);

/* Requests in flight per member (at loadfactor 1) when no SpilloverLimit
 * applies. */
#define SPILL_DEFAULT_LIMIT 10
/* The largest limit accepted: a larger number is more likely a typo than
 * a plan. */
#define SPILL_MAX_LIMIT 100000
/* "not set in this block" for the limit (the merge needs it). */
#define SPILL_UNSET (-1)


/* ----------------------------------------------------- 1. configuration */

/*
 * Per server (main server and each <VirtualHost>): the server-wide limit,
 * and the limits given inside <Proxy balancer://name> sections, by
 * balancer name.  Balancers are configured per server, so the limits are
 * kept where the balancer's members are declared (b->server).
 */
typedef struct spill_server_conf_t {
    int limit;               /* SpilloverLimit outside <Proxy>, or unset */
    apr_hash_t *by_balancer; /* "balancer://name" -> int * */
} spill_server_conf_t;

static void *spill_create_server(apr_pool_t *p, rl_server_t *s)
{
    spill_server_conf_t *conf = apr_palloc(p, sizeof(*conf));

    (void)s;
    conf->limit = SPILL_UNSET;
    conf->by_balancer = apr_hash_make(p);
    return conf;
}

/*
 * merge_server_config: `base` is the main server's block, `add` a
 * vhost's.  The vhost's own settings win; it inherits the rest.  Return a
 * new block (both inputs may be shared).  apr_hash_overlay() makes a new
 * table in which the first table's entries win.
 */
static void *spill_merge_server(apr_pool_t *p, void *basev, void *addv)
{
    const spill_server_conf_t *base = basev;
    const spill_server_conf_t *add = addv;
    spill_server_conf_t *conf = apr_palloc(p, sizeof(*conf));

    conf->limit = add->limit != SPILL_UNSET ? add->limit : base->limit;
    conf->by_balancer =
        apr_hash_overlay(p, add->by_balancer, base->by_balancer);
    return conf;
}


/* ---------------------------------------------------------- 2. directive */

/* Balancer names the way mod_balancer keys them: lower case, without a
 * trailing slash, so that <Proxy balancer://App/> and balancer://app are
 * one balancer. */
static char *balancer_key(apr_pool_t *p, const char *name)
{
    char *key = apr_pstrdup(p, name), *s;
    apr_size_t n = strlen(key);

    while (n > 0 && key[n - 1] == '/') {
        key[--n] = '\0';
    }
    for (s = key; *s; s++) {
        *s = (char)apr_tolower(*s);
    }
    return key;
}

/*
 * SpilloverLimit n
 *
 * At server level it sets the limit of every spillover balancer of that
 * server; inside <Proxy balancer://name> it sets that balancer's.  The
 * per-location block (mconfig) is not used: the limit belongs to a
 * balancer, not to a URL space, so it is kept in the per-server block,
 * found through cmd->server.  Inside a <Proxy> section, cmd->context is
 * RL_CTX_PROXY and cmd->path the section's argument.
 */
static const char *set_limit(rl_cmd_t *cmd, void *mconfig, int argc,
                             char *const argv[])
{
    spill_server_conf_t *conf = rl_get_module_config(
        cmd->server->module_config, &lbmethod_spillover_module);
    char *end;
    apr_int64_t v;
    int *own;

    (void)mconfig;
    (void)argc;
    v = apr_strtoi64(argv[0], &end, 10);
    if (end == argv[0] || *end != '\0' || v < 1 || v > SPILL_MAX_LIMIT) {
        return apr_psprintf(cmd->temp_pool,
                            "expected a number of requests in flight from "
                            "1 to %d, got '%s'",
                            SPILL_MAX_LIMIT, argv[0]);
    }
    if (cmd->context != RL_CTX_PROXY) {
        conf->limit = (int)v;
        return NULL;
    }
    if (strncasecmp(cmd->path, "balancer://", 11) != 0) {
        return apr_psprintf(cmd->temp_pool,
                            "<Proxy %s> is not a balancer: put SpilloverLimit "
                            "in <Proxy balancer://name>, or at server level",
                            cmd->path);
    }
    /* kept in the configuration pool, like the block that points to it */
    own = apr_palloc(cmd->pool, sizeof(*own));
    *own = (int)v;
    apr_hash_set(conf->by_balancer, balancer_key(cmd->pool, cmd->path),
                 APR_HASH_KEY_STRING, own);
    return NULL;
}

static const rl_directive_t spill_directives[] = {
    RL_TAKE1("SpilloverLimit", set_limit, NULL, RL_CTX_SERVER | RL_CTX_PROXY,
             "SpilloverLimit n -- lbmethod=spillover: requests in flight a "
             "member takes before the next one gets new requests (default "
             "10, times the member's loadfactor)"),
    RL_DIRECTIVE_END};


/* ----------------------------------------------------------- 3. lbmethod */

/* What init prepares for pick, per balancer (b->lb_context). */
typedef struct spill_ctx_t {
    int limit;
} spill_ctx_t;

/* The limit that applies to b: its own, else its server's, else the
 * default.  b->server is the server its members were declared in, and
 * its block is already merged over the main server's. */
static int limit_for(const rl_proxy_balancer_t *b, apr_pool_t *p)
{
    const spill_server_conf_t *conf;
    const int *own;

    if (b->server == NULL) {
        return SPILL_DEFAULT_LIMIT;
    }
    conf = rl_get_module_config(b->server->module_config,
                                &lbmethod_spillover_module);
    own = apr_hash_get(conf->by_balancer, balancer_key(p, b->name),
                       APR_HASH_KEY_STRING);
    if (own != NULL) {
        return *own;
    }
    return conf->limit != SPILL_UNSET ? conf->limit : SPILL_DEFAULT_LIMIT;
}

/*
 * init runs in the parent at start-up (post_config), with the
 * configuration pool, before any child exists: what it allocates is
 * inherited by every child and lives until the next restart.  The
 * directives have all run by then, so the configuration is complete.
 * mod_balancer calls it for every balancer, not only those configured
 * with lbmethod=spillover, so that a balancer manager can switch one to
 * this method at run time (b is then a copy of the balancer with an
 * lb_context of its own): it must be cheap, and must not assume the
 * balancer uses this method.
 */
static apr_status_t spill_init(rl_proxy_balancer_t *b, apr_pool_t *p)
{
    spill_ctx_t *ctx = apr_palloc(p, sizeof(*ctx));

    ctx->limit = limit_for(b, p);
    b->lb_context = ctx;
    rl_log_error(RL_LOG_DEBUG, 0, b->server,
                 "%s: spillover after %d request(s) in flight per member",
                 b->name, ctx->limit);
    return APR_SUCCESS;
}

/* A member's share: the limit times its weight (loadfactor x 100, lower
 * while the member ramps up after a recovery), never below one request. */
static apr_uint32_t capacity(int limit, int weight)
{
    apr_int64_t cap = (apr_int64_t)limit * weight / 100;

    return cap < 1 ? 1 : (apr_uint32_t)cap;
}

/*
 * pick: choose one of n >= 1 candidates for r.  mod_balancer has already
 * left out what is not usable (disabled, in error, failing its health
 * check, other lbsets, standbys) and resolved sticky sessions; the
 * candidates come in configuration order.
 *
 * It runs on the event loop that owns the request: it must not block.
 * It runs on many threads of every child at once: it reads only the
 * read-only context and the members' shared counters, so it needs no
 * lock.  w->s->busy is the number of requests in flight to a member
 * across all children, kept by mod_proxy in shared memory (read it
 * atomically).  Two picks at the same instant may both see room on a
 * member and both choose it, so the limit can be passed by a request or
 * two: it is a target, not a cap (a member's max= is the hard limit).
 */
static rl_proxy_worker_t *spill_pick(rl_proxy_balancer_t *b, rl_request_t *r,
                                     const rl_proxy_candidate_t *c, int n)
{
    const spill_ctx_t *ctx = b->lb_context;
    int limit = ctx != NULL ? ctx->limit : SPILL_DEFAULT_LIMIT;
    double best_load = 0;
    int i, best = 0;

    for (i = 0; i < n; i++) {
        apr_uint32_t busy = apr_atomic_read32(&c[i].w->s->busy);
        apr_uint32_t cap = capacity(limit, c[i].weight);
        double load;

        if (busy < cap) {
            if (i > 0) {
                rl_log_rerror(RL_LOG_DEBUG, 0, r,
                              "%s: %s is full, spilling over to %s", b->name,
                              c[0].w->name, c[i].w->name);
            }
            return c[i].w; /* the first member with room */
        }
        load = (double)busy / cap;
        if (i == 0 || load < best_load) {
            best = i;
            best_load = load;
        }
    }
    rl_log_rerror(RL_LOG_DEBUG, 0, r,
                  "%s: every member is full, %s is the least loaded", b->name,
                  c[best].w->name);
    return c[best].w;
}

/*
 * The provider.  taken, released and member_changed stay NULL: the method
 * keeps no count of its own (mod_proxy's shared busy counter is the
 * count), so there is nothing to keep consistent across children and
 * nothing to rebuild when a member goes up or down.
 */
static const rl_proxy_lbmethod_t spill_method = {
    .name = "spillover",
    .init = spill_init,
    .pick = spill_pick,
};


/* ----------------------------------------------------------- 4. record */

/*
 * Providers are registered in register_hooks, with static data (the
 * provider must live as long as the module).  mod_balancer looks the
 * method up by name when it reads lbmethod=spillover, after every module
 * is loaded, so the order of the LoadModule lines does not matter.
 * Group "lbmethod", version "2": the rl_proxy_lbmethod_t of rl_proxy.h.
 */
static void spill_register_hooks(apr_pool_t *p)
{
    rl_register_provider(p, "lbmethod", "spillover", "2", &spill_method);
}

RL_DECLARE_MODULE(lbmethod_spillover) = {
    RL_MODULE_STUFF("lbmethod_spillover", "1.0.0", 0),
    spill_directives,
    spill_create_server,
    spill_merge_server,
    NULL, /* create_dir_config */
    NULL, /* merge_dir_config */
    spill_register_hooks};
