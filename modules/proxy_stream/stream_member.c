/*
 * stream_member.c: choosing a member for a TCP connection or a UDP
 * session, with the same balancer as HTTP requests.
 *
 * The lbmethods and mod_balancer's pick_member take an rl_request_t: a
 * stream has no request, so each connection builds a stand-in with empty
 * tables, r->connection = c (lbmethod=source hashes c->client_ip) and
 * r->server = the vhost, and a path of "/" (lbmethod=hash, whose key is
 * then constant: use source for client affinity).  The counters are the
 * ones mod_proxy keeps for HTTP (busy while the connection lasts,
 * requests = connections, bytes each way), so balancer-manager,
 * server-status and metrics show stream traffic with the rest.
 */
#include "stream_private.h"

#include <apr_atomic.h>
#include <apr_strings.h>

RL_LOG_USE_MODULE(proxy_stream);


/* Room for every loaded module's block in a request's vectors: a
 * post_request hook (mod_cache's) looks its own up.  Counted each time
 * (a dozen modules): a graceful restart may load more. */
static int stream_nmodules(void)
{
    rl_module_t *m;
    int n = 0;

    for (m = rl_first_module(); m != NULL; m = m->next) {
        n = m->index + 1 > n ? m->index + 1 : n;
    }
    return n;
}


rl_request_t *stream_request(rl_conn_t *c, rl_server_t *s)
{
    rl_request_t *r = apr_pcalloc(c->pool, sizeof(*r));

    r->pool = c->pool;
    r->connection = c;
    r->server = s;
    r->per_dir_config = s->lookup_defaults;
    r->request_config =
        apr_pcalloc(c->pool, sizeof(void *) * (apr_size_t)stream_nmodules());
    r->request_time = apr_time_now();
    r->method = "CONNECT";
    r->protocol = "STREAM";
    r->the_request = "";
    r->unparsed_uri = "/";
    r->uri = "/";
    r->headers_in = apr_table_make(c->pool, 1);
    r->headers_out = apr_table_make(c->pool, 1);
    r->err_headers_out = apr_table_make(c->pool, 1);
    r->subprocess_env = apr_table_make(c->pool, 2);
    r->notes = apr_table_make(c->pool, 2);
    r->clength = -1;
    return r;
}


rl_proxy_worker_t *stream_pick(rl_request_t *r, const stream_conf_t *conf)
{
    rl_proxy_worker_t *w;

    if (conf->balancer != NULL) {
        w = rl_proxy_run_pick_member(conf->balancer, r);
    } else {
        w = conf->worker;
        if (w != NULL && !rl_proxy_worker_usable(w, apr_time_now())) {
            w = NULL;
        }
        if (w != NULL && rl_proxy_worker_tried(
                             apr_table_get(r->notes, RL_PROXY_NOTE_TRIED), w)) {
            w = NULL;
        }
    }
    if (w != NULL) {
        apr_atomic_inc32(&w->s->busy);
        __atomic_fetch_add(&w->s->requests, 1, __ATOMIC_RELAXED);
    }
    return w;
}


void stream_release(rl_request_t *r, rl_proxy_worker_t *w,
                    rl_proxy_outcome_e outcome)
{
    apr_atomic_dec32(&w->s->busy);
    rl_proxy_run_post_request(r, w, outcome);
}


void stream_attempt_failed(rl_request_t *r, rl_proxy_worker_t *w,
                           const char *why)
{
    const char *tried = apr_table_get(r->notes, RL_PROXY_NOTE_TRIED);

    apr_table_setn(
        r->notes, RL_PROXY_NOTE_TRIED,
        apr_psprintf(r->pool, "%s%d,", tried ? tried : ",", w->index));
    rl_proxy_worker_failed(w, why);
    stream_release(r, w, RL_PROXY_CONNECT_FAILED);
}


apr_interval_time_t stream_connect_timeout(const rl_proxy_worker_t *w,
                                           const stream_conf_t *conf)
{
    if (w->connect_timeout > 0) {
        return w->connect_timeout;
    }
    return conf->connect_timeout > 0 ? conf->connect_timeout
                                     : STREAM_CONNECT_TIMEOUT;
}


int stream_max_attempts(const stream_conf_t *conf)
{
    const rl_proxy_balancer_t *b = conf->balancer;

    if (b == NULL || b->nofailover) {
        return 1;
    }
    return 1 + (b->maxattempts >= 0 ? b->maxattempts : b->members->nelts - 1);
}
