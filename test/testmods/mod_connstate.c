/*
 * mod_connstate.c: shows, to test/integration/core/test_idle_conn_pools.py,
 * what a module sees of a connection's pool (rl_conn_t.pool) now that the
 * core gives the pool of an idle keep-alive connection back between two
 * requests, and keeps it only when a module's conn_config slot is set.
 *
 * Its handler, for `SetHandler connstate`, answers 200 text/plain with one
 * line of space-separated name=value pairs:
 *
 *   pool=1       c->pool is there (it must always be, in a handler)
 *   sock=1       c->sock and c->conn_config are there too
 *   parent=1     r->pool is a child of c->pool
 *   count=N      this connection's counter (0 when it has none)
 *   keep=K       1 when this module's conn_config slot is set
 *   samepool=S   1 when the slot's counter came from the current c->pool,
 *                0 when not (the core remade the pool under a kept slot),
 *                - when there is no slot
 *   freed=D      connection pools destroyed so far in this process, among
 *                those the handler has seen (a cleanup is registered once
 *                per pool): it grows by one each time the core rests a
 *                connection's pool, and when a connection that had a
 *                request closes
 *   preconn=P    pre_connection calls so far in this process
 *   preconn_bad=X  of them, how many found c->pool, c->sock or
 *                c->conn_config NULL
 *   served=K     c->keepalives (requests served before this one)
 *   id=I         c->id
 *   pid=PID      the child serving it
 *
 * The request header `X-Keep: 1` makes the handler keep per-connection
 * state: when the slot is empty it allocates a counter from c->pool and
 * stores it in its conn_config slot (rl_set_module_config), which keeps the
 * pool for the connection's life.  When the slot holds a counter, every
 * request increments it, with or without the header.
 *
 * `ConnStateAtConnect On` (main server) makes pre_connection store a
 * counter (at 0) in the slot already, before the first request.
 *
 * Never load it in production: any client can make its connection keep
 * memory, and the body shows process details.
 */
#include <string.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_strings.h>

#include "relais.h"

RL_LOG_USE_MODULE(connstate);

/* The state a connection keeps in its conn_config slot. */
typedef struct connstate_t {
    apr_pool_t *pool; /* the c->pool it was allocated from */
    long count;
} connstate_t;

static volatile apr_uint32_t pools_freed;
static volatile apr_uint32_t preconn_calls;
static volatile apr_uint32_t preconn_bad;
static int at_connect; /* ConnStateAtConnect */

static const char userdata_key[] = "connstate:seen";

static apr_status_t pool_freed(void *data)
{
    (void)data;
    apr_atomic_inc32(&pools_freed);
    return APR_SUCCESS;
}

/* Registers pool_freed() once per connection pool. */
static void watch_pool(apr_pool_t *p)
{
    void *seen = NULL;

    apr_pool_userdata_get(&seen, userdata_key, p);
    if (seen == NULL) {
        apr_pool_userdata_setn((void *)1, userdata_key, NULL, p);
        apr_pool_cleanup_register(p, NULL, pool_freed, apr_pool_cleanup_null);
    }
}

static connstate_t *new_state(apr_pool_t *p)
{
    connstate_t *st = apr_pcalloc(p, sizeof(*st));

    st->pool = p;
    return st;
}

static int connstate_pre_connection(rl_conn_t *c)
{
    apr_atomic_inc32(&preconn_calls);
    if (c->pool == NULL || c->sock == NULL || c->conn_config == NULL) {
        apr_atomic_inc32(&preconn_bad);
        return RL_DECLINED;
    }
    if (at_connect) {
        rl_set_module_config(c->conn_config, &connstate_module,
                             new_state(c->pool));
    }
    return RL_DECLINED;
}

static int connstate_handler(rl_request_t *r)
{
    rl_conn_t *c = r->connection;
    connstate_t *st = NULL;
    const char *want, *samepool = "-", *body;
    int have_pool = c->pool != NULL;
    int have_sock = c->sock != NULL && c->conn_config != NULL;

    if (r->handler == NULL || strcmp(r->handler, "connstate") != 0) {
        return RL_DECLINED;
    }
    if (have_pool) {
        watch_pool(c->pool);
    }
    if (c->conn_config != NULL) {
        st = rl_get_module_config(c->conn_config, &connstate_module);
        want = apr_table_get(r->headers_in, "X-Keep");
        if (st == NULL && have_pool && want != NULL && strcmp(want, "1") == 0) {
            st = new_state(c->pool);
            rl_set_module_config(c->conn_config, &connstate_module, st);
        }
        if (st != NULL) {
            st->count++;
            samepool = st->pool == c->pool ? "1" : "0";
        }
    }
    body = apr_psprintf(
        r->pool,
        "pool=%d sock=%d parent=%d count=%ld keep=%d samepool=%s freed=%u "
        "preconn=%u preconn_bad=%u served=%d id=%ld pid=%ld\n",
        have_pool, have_sock,
        have_pool && apr_pool_parent_get(r->pool) == c->pool,
        st ? st->count : 0L, st != NULL, samepool,
        apr_atomic_read32(&pools_freed), apr_atomic_read32(&preconn_calls),
        apr_atomic_read32(&preconn_bad), c->keepalives, c->id, (long)getpid());
    rl_set_content_type(r, "text/plain");
    rl_set_content_length(r, (apr_off_t)strlen(body));
    if (!r->header_only) {
        rl_rputs(r, body);
    }
    return RL_OK;
}

static const char *set_at_connect(rl_cmd_t *cmd, void *mconfig, int argc,
                                  char *const argv[])
{
    (void)cmd;
    (void)mconfig;
    (void)argc;
    if (strcasecmp(argv[0], "On") == 0) {
        at_connect = 1;
    } else if (strcasecmp(argv[0], "Off") == 0) {
        at_connect = 0;
    } else {
        return "expected On or Off";
    }
    return NULL;
}

static int connstate_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                                apr_pool_t *ptemp)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    at_connect = 0; /* each generation reads it again */
    return RL_OK;
}

static const rl_directive_t connstate_directives[] = {
    RL_TAKE1("ConnStateAtConnect", set_at_connect, NULL, RL_CTX_MAIN,
             "ConnStateAtConnect On|Off"),
    RL_DIRECTIVE_END};

static void connstate_register_hooks(apr_pool_t *p)
{
    (void)p;
    rl_hook_pre_config(connstate_pre_config, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_pre_connection(connstate_pre_connection, NULL, NULL,
                           RL_HOOK_MIDDLE);
    rl_hook_handler(connstate_handler, NULL, NULL, RL_HOOK_MIDDLE);
}

RL_DECLARE_MODULE(connstate) = {RL_MODULE_STUFF("connstate", "1.0.0", 0),
                                connstate_directives,
                                NULL,
                                NULL,
                                NULL,
                                NULL,
                                connstate_register_hooks};
