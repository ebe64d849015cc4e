/*
 * status_metrics.c: SetHandler metrics, in Prometheus's text exposition
 * format 0.0.4 (Content-Type: text/plain; version=0.0.4).
 *
 * Every family is written whole (its HELP and TYPE lines, then all its
 * series), once; label values are escaped (\\, \", \n); histograms give
 * cumulative buckets whose +Inf equals _count (both come from one read of
 * the same buckets, see status_shm.c).  Names follow Prometheus's
 * conventions: a _total suffix on counters, base units (seconds, bytes).
 * docs/status.md lists the families.
 *
 * Label values are names from the configuration (vhost labels, balancer
 * and member URLs), never anything a client sent: the method label is
 * one of a fixed list, the rest counted as "other".
 */
#include "status_data.h"

/* A label value with \, " and newline escaped. */
static const char *lv(apr_pool_t *p, const char *s)
{
    apr_size_t n = 0, extra = 0;
    const char *c;
    char *out, *o;

    for (c = s; *c; c++, n++) {
        extra += *c == '\\' || *c == '"' || *c == '\n';
    }
    if (extra == 0) {
        return s;
    }
    out = o = apr_palloc(p, n + extra + 1);
    for (c = s; *c; c++) {
        if (*c == '\\' || *c == '"') {
            *o++ = '\\';
            *o++ = *c;
        } else if (*c == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else {
            *o++ = *c;
        }
    }
    *o = '\0';
    return out;
}


static void family(rl_request_t *r, const char *name, const char *type,
                   const char *help)
{
    rl_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}


static double seconds(apr_uint64_t us)
{
    return (double)us / APR_USEC_PER_SEC;
}


/* name_bucket{labels,le=…}, name_sum{labels}, name_count{labels};
 * `labels` is "" or `a="b",c="d"`. */
static void histogram(rl_request_t *r, const char *name, const char *labels,
                      const st_hist_t *h)
{
    st_hist_view_t v;
    const char *sep = *labels ? "," : "";
    int b;

    st_hist_read(h, &v);
    for (b = 0; b < ST_NBOUNDS; b++) {
        rl_rprintf(r, "%s_bucket{%s%sle=\"%s\"} %" APR_UINT64_T_FMT "\n", name,
                   labels, sep, st_bound_text[b], v.cum[b]);
    }
    rl_rprintf(r, "%s_bucket{%s%sle=\"+Inf\"} %" APR_UINT64_T_FMT "\n", name,
               labels, sep, v.cum[ST_NBOUNDS]);
    rl_rprintf(r, "%s_sum{%s} %.6f\n", name, labels, seconds(v.sum_us));
    rl_rprintf(r, "%s_count{%s} %" APR_UINT64_T_FMT "\n", name, labels,
               v.cum[ST_NBOUNDS]);
}


static void server_metrics(rl_request_t *r, const st_snapshot_t *snap)
{
    family(r, "relais_build_info", "gauge",
           "Relais version and MPM (always 1).");
    rl_rprintf(r, "relais_build_info{version=\"%s\",mpm=\"%s\"} 1\n",
               lv(r->pool, rl_version()), lv(r->pool, snap->mpm));
    family(r, "relais_start_time_seconds", "gauge",
           "When relaisd started (Unix time); counters count from then.");
    rl_rprintf(r, "relais_start_time_seconds %.3f\n",
               (double)st_started() / APR_USEC_PER_SEC);
    family(r, "relais_config_loaded_time_seconds", "gauge",
           "When the configuration in use was loaded (Unix time).");
    rl_rprintf(r, "relais_config_loaded_time_seconds %.3f\n",
               (double)st_loaded() / APR_USEC_PER_SEC);
    family(r, "relais_config_generation", "gauge",
           "Configurations loaded since the start (1: never restarted).");
    rl_rprintf(r, "relais_config_generation %d\n", st_generation());
}


static void request_metrics(rl_request_t *r)
{
    const apr_array_header_t *vs = st_vhosts();
    int i, c, m;

    if (vs == NULL || !st_counting()) {
        return;
    }
    family(r, "relais_requests_total", "counter",
           "Requests answered, by virtual host, status class and method.");
    for (i = 0; i < vs->nelts; i++) {
        const st_vhost_shm_t *k = st_vhost_counters(i);
        const char *vh = lv(r->pool, APR_ARRAY_IDX(vs, i, st_vhost_t).label);
        for (c = 0; k != NULL && c < ST_NCLASSES; c++) {
            for (m = 0; m < ST_NMETHODS; m++) {
                apr_uint64_t n = k->requests[c][m];
                if (n == 0) {
                    continue;
                }
                rl_rprintf(r,
                           "relais_requests_total{vhost=\"%s\",code=\"%s\","
                           "method=\"%s\"} %" APR_UINT64_T_FMT "\n",
                           vh, st_class_names[c], st_method_names[m], n);
            }
        }
    }
    family(r, "relais_request_duration_seconds", "histogram",
           "Time from a request's first byte to the end of its response, "
           "by virtual host.");
    for (i = 0; i < vs->nelts; i++) {
        const st_vhost_shm_t *k = st_vhost_counters(i);
        if (k != NULL) {
            histogram(r, "relais_request_duration_seconds",
                      apr_psprintf(
                          r->pool, "vhost=\"%s\"",
                          lv(r->pool, APR_ARRAY_IDX(vs, i, st_vhost_t).label)),
                      &k->duration);
        }
    }
    family(r, "relais_received_bytes_total", "counter",
           "Request bytes received from clients (heads and bodies), by "
           "virtual host.");
    for (i = 0; i < vs->nelts; i++) {
        const st_vhost_shm_t *k = st_vhost_counters(i);
        if (k != NULL) {
            rl_rprintf(r,
                       "relais_received_bytes_total{vhost=\"%s\"} "
                       "%" APR_UINT64_T_FMT "\n",
                       lv(r->pool, APR_ARRAY_IDX(vs, i, st_vhost_t).label),
                       (apr_uint64_t)k->bytes_in);
        }
    }
    family(r, "relais_sent_bytes_total", "counter",
           "Response bytes sent to clients (heads and bodies), by virtual "
           "host.");
    for (i = 0; i < vs->nelts; i++) {
        const st_vhost_shm_t *k = st_vhost_counters(i);
        if (k != NULL) {
            rl_rprintf(r,
                       "relais_sent_bytes_total{vhost=\"%s\"} "
                       "%" APR_UINT64_T_FMT "\n",
                       lv(r->pool, APR_ARRAY_IDX(vs, i, st_vhost_t).label),
                       (apr_uint64_t)k->bytes_out);
        }
    }
}


static void process_metrics(rl_request_t *r, const st_snapshot_t *snap)
{
    static const char *const states[RL_SB_NSTATES] = {"reading", "writing",
                                                      "keepalive", "closing"};
    const st_proc_t *pr = &snap->proc;
    int k;

    family(r, "relais_connections", "gauge",
           "Client connections open, by state.");
    for (k = 0; k < RL_SB_NSTATES; k++) {
        rl_rprintf(r, "relais_connections{state=\"%s\"} %u\n", states[k],
                   snap->conns[k]);
    }
    family(r, "relais_workers", "gauge",
           "Worker threads: busy (serving a request), idle, and busy in "
           "processes finishing after a restart.");
    rl_rprintf(r,
               "relais_workers{state=\"busy\"} %d\n"
               "relais_workers{state=\"idle\"} %d\n"
               "relais_workers{state=\"finishing\"} %d\n",
               snap->busy, snap->idle, snap->graceful_busy);
    family(r, "relais_processes", "gauge",
           "Child processes: serving, or finishing after a restart.");
    rl_rprintf(r,
               "relais_processes{state=\"serving\"} %d\n"
               "relais_processes{state=\"finishing\"} %d\n",
               snap->nchildren - snap->stopping, snap->stopping);
    if (!pr->ok) {
        return;
    }
    family(r, "relais_process_cpu_seconds_total", "counter",
           "CPU time of the parent and of every child, past and present.");
    rl_rprintf(r,
               "relais_process_cpu_seconds_total{mode=\"user\"} %.2f\n"
               "relais_process_cpu_seconds_total{mode=\"system\"} %.2f\n",
               pr->parent_user + pr->children_user + pr->reaped_user,
               pr->parent_sys + pr->children_sys + pr->reaped_sys);
    family(r, "relais_process_resident_memory_bytes", "gauge",
           "Resident memory of the parent and of the children (summed; "
           "pages they share are counted in each).");
    rl_rprintf(r,
               "relais_process_resident_memory_bytes{process=\"parent\"} "
               "%" APR_UINT64_T_FMT "\n"
               "relais_process_resident_memory_bytes{process=\"children\"} "
               "%" APR_UINT64_T_FMT "\n",
               pr->parent_rss, pr->children_rss);
}


/* balancer="balancer://app",member="http://10.0.0.1:8080" */
static const char *member_labels(apr_pool_t *p, const rl_proxy_worker_t *w)
{
    return apr_psprintf(p, "balancer=\"%s\",member=\"%s\"",
                        w->balancer ? lv(p, w->balancer->name) : "",
                        lv(p, w->name));
}


/* One gauge or counter per worker: value(w) as text, or NULL to skip. */
typedef const char *(*st_member_value_fn)(apr_pool_t *p,
                                          const rl_proxy_worker_t *w,
                                          apr_time_t now);

static const char *v_up(apr_pool_t *p, const rl_proxy_worker_t *w,
                        apr_time_t now)
{
    (void)p;
    return st_worker_usable(w, now) ? "1" : "0";
}

static const char *v_busy(apr_pool_t *p, const rl_proxy_worker_t *w,
                          apr_time_t now)
{
    (void)now;
    return apr_psprintf(p, "%u", w->s->busy);
}

static const char *v_selected(apr_pool_t *p, const rl_proxy_worker_t *w,
                              apr_time_t now)
{
    (void)now;
    return apr_psprintf(p, "%" APR_UINT64_T_FMT, (apr_uint64_t)w->s->requests);
}

static const char *v_errors(apr_pool_t *p, const rl_proxy_worker_t *w,
                            apr_time_t now)
{
    (void)now;
    return apr_psprintf(p, "%" APR_UINT64_T_FMT, (apr_uint64_t)w->s->errors);
}

static const char *v_sent(apr_pool_t *p, const rl_proxy_worker_t *w,
                          apr_time_t now)
{
    (void)now;
    return apr_psprintf(p, "%" APR_UINT64_T_FMT, (apr_uint64_t)w->s->bytes_out);
}

static const char *v_received(apr_pool_t *p, const rl_proxy_worker_t *w,
                              apr_time_t now)
{
    (void)now;
    return apr_psprintf(p, "%" APR_UINT64_T_FMT, (apr_uint64_t)w->s->bytes_in);
}

static const char *v_hc_result(apr_pool_t *p, const rl_proxy_worker_t *w,
                               apr_time_t now)
{
    (void)p;
    (void)now;
    return !w->health_checked || w->s->hc_last == 0 ? NULL
           : w->s->hc_last_ok                       ? "1"
                                                    : "0";
}

static const char *v_hc_latency(apr_pool_t *p, const rl_proxy_worker_t *w,
                                apr_time_t now)
{
    (void)now;
    return !w->health_checked || w->s->hc_last == 0
               ? NULL
               : apr_psprintf(p, "%.6f", seconds(w->s->hc_last_us));
}

static const char *v_hc_time(apr_pool_t *p, const rl_proxy_worker_t *w,
                             apr_time_t now)
{
    (void)now;
    return !w->health_checked || w->s->hc_last == 0
               ? NULL
               : apr_psprintf(p, "%.3f",
                              (double)w->s->hc_last / APR_USEC_PER_SEC);
}

static const struct {
    const char *name, *type, *help;
    st_member_value_fn value;
} member_families[] = {
    {"relais_member_up", "gauge",
     "1 when the backend or balancer member takes traffic now (not "
     "disabled, stopped, in error or failing its health check), else 0.",
     v_up},
    {"relais_member_in_flight", "gauge",
     "Requests the backend is handling now (all children).", v_busy},
    {"relais_member_selected_total", "counter", "Requests sent to the backend.",
     v_selected},
    {"relais_member_errors_total", "counter",
     "Failed exchanges with the backend (connect, timeout, bad answer, "
     "failonstatus).",
     v_errors},
    {"relais_member_sent_bytes_total", "counter",
     "Request bytes sent to the backend.", v_sent},
    {"relais_member_received_bytes_total", "counter",
     "Response bytes read from the backend.", v_received},
    {"relais_healthcheck_last_result", "gauge",
     "1 when the last active health check passed, 0 when it failed.",
     v_hc_result},
    {"relais_healthcheck_last_duration_seconds", "gauge",
     "How long the last active health check took.", v_hc_latency},
    {"relais_healthcheck_last_timestamp_seconds", "gauge",
     "When the last active health check ended (Unix time).", v_hc_time},
};

static void member_metrics(rl_request_t *r, const st_snapshot_t *snap)
{
    const apr_array_header_t *ws = st_workers();
    apr_size_t f;
    int i, checked = 0;

    if (ws == NULL || ws->nelts == 0) {
        return;
    }
    for (f = 0; f < sizeof(member_families) / sizeof(member_families[0]); f++) {
        int header = 0;
        for (i = 0; i < ws->nelts; i++) {
            const rl_proxy_worker_t *w =
                APR_ARRAY_IDX(ws, i, const rl_proxy_worker_t *);
            const char *v = member_families[f].value(r->pool, w, snap->now);
            if (v == NULL) {
                continue;
            }
            if (!header++) {
                family(r, member_families[f].name, member_families[f].type,
                       member_families[f].help);
            }
            rl_rprintf(r, "%s{%s} %s\n", member_families[f].name,
                       member_labels(r->pool, w), v);
        }
    }
    for (i = 0; i < ws->nelts; i++) {
        const rl_proxy_worker_t *w =
            APR_ARRAY_IDX(ws, i, const rl_proxy_worker_t *);
        if (!w->health_checked) {
            continue;
        }
        if (!checked++) {
            family(r, "relais_healthcheck_checks_total", "counter",
                   "Active health checks, by result.");
        }
        rl_rprintf(r,
                   "relais_healthcheck_checks_total{%s,result=\"passed\"} "
                   "%" APR_UINT64_T_FMT "\n"
                   "relais_healthcheck_checks_total{%s,result=\"failed\"} "
                   "%" APR_UINT64_T_FMT "\n",
                   member_labels(r->pool, w), (apr_uint64_t)w->s->hc_passed,
                   member_labels(r->pool, w), (apr_uint64_t)w->s->hc_failed);
    }
    if (!st_counting()) {
        return;
    }
    family(r, "relais_member_response_seconds", "histogram",
           "Time from the start of the exchange with the backend to the "
           "first byte of its answer.");
    for (i = 0; i < ws->nelts; i++) {
        const rl_proxy_worker_t *w =
            APR_ARRAY_IDX(ws, i, const rl_proxy_worker_t *);
        const st_member_shm_t *k = st_member_counters(w->index);
        if (k != NULL) {
            histogram(r, "relais_member_response_seconds",
                      member_labels(r->pool, w), &k->response);
        }
    }
}


static void cache_metrics(rl_request_t *r, const st_snapshot_t *snap)
{
    const cache_metrics_t *c = &snap->cache;

    if (!snap->cache_on) {
        return;
    }
    family(r, "relais_cache_requests_total", "counter",
           "Cacheable requests: answered fresh from the cache (hit), from "
           "the backend (miss), or stale from the cache.");
    rl_rprintf(r,
               "relais_cache_requests_total{result=\"hit\"} "
               "%" APR_UINT64_T_FMT "\n"
               "relais_cache_requests_total{result=\"miss\"} "
               "%" APR_UINT64_T_FMT "\n"
               "relais_cache_requests_total{result=\"stale\"} "
               "%" APR_UINT64_T_FMT "\n",
               c->hits, c->misses, c->stale);
    family(r, "relais_cache_revalidated_total", "counter",
           "Stale entries the backend confirmed (304).");
    rl_rprintf(r, "relais_cache_revalidated_total %" APR_UINT64_T_FMT "\n",
               c->revalidated);
    family(r, "relais_cache_stored_total", "counter", "Responses stored.");
    rl_rprintf(r, "relais_cache_stored_total %" APR_UINT64_T_FMT "\n",
               c->stored);
    family(r, "relais_cache_served_bytes_total", "counter",
           "Body bytes answered from the cache.");
    rl_rprintf(r, "relais_cache_served_bytes_total %" APR_UINT64_T_FMT "\n",
               c->bytes_served);
    family(r, "relais_cache_entries", "gauge", "Entries in each store.");
    rl_rprintf(r,
               "relais_cache_entries{store=\"mem\"} %" APR_UINT64_T_FMT "\n"
               "relais_cache_entries{store=\"disk\"} %" APR_UINT64_T_FMT "\n",
               c->mem_entries, c->disk_entries);
    family(r, "relais_cache_size_bytes", "gauge", "Bytes held by each store.");
    rl_rprintf(r,
               "relais_cache_size_bytes{store=\"mem\"} %" APR_UINT64_T_FMT "\n"
               "relais_cache_size_bytes{store=\"disk\"} %" APR_UINT64_T_FMT
               "\n",
               c->mem_bytes, c->disk_bytes);
}


int st_metrics_handler(rl_request_t *r)
{
    st_snapshot_t snap;

    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        apr_table_setn(r->err_headers_out, "Allow", "GET, HEAD");
        return 405;
    }
    st_collect(r, &snap);
    rl_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    server_metrics(r, &snap);
    request_metrics(r);
    process_metrics(r, &snap);
    member_metrics(r, &snap);
    cache_metrics(r, &snap);
    return RL_OK;
}
