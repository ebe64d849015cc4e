/*
 * status_shm.c: the counters mod_status keeps itself, in one anonymous
 * shared memory segment made by the parent in post_config and inherited by
 * every child:
 *
 *   head      totals of vhosts a restart removed (so that totals never go
 *             down)
 *   vhosts    one record per vhost of the configuration (main server
 *             first, then the <VirtualHost>s in file order): requests by
 *             status class and method, bytes in and out, a histogram of
 *             request durations
 *   members   one record per mod_proxy worker, by its index (balancer
 *             members and ProxyPass backends): a histogram of the time to
 *             the first byte of the backend's answer
 *
 * Each child adds to them in log_transaction with relaxed atomic adds:
 * no lock, no system call.  A reader (the status page, the metrics) sums
 * what it sees; it may miss a request being counted that very moment,
 * never see a histogram whose buckets disagree with its count (buckets
 * are stored one by one and the count is their sum).
 *
 * Graceful restarts keep the counters: the segment stays in retained data
 * and is used again as it is when the new configuration has the same
 * vhosts and workers (then the old generation's children, still finishing
 * their requests, count into the same place); otherwise a new one is made
 * and each vhost and worker that still exists takes its counters along
 * (matched by label and by "balancer|worker" name).
 */
#include "status_data.h"

#include <apr_shm.h>

RL_LOG_USE_MODULE(status);

const apr_int64_t st_bound_us[ST_NBOUNDS] = {5000,    10000,   25000,   50000,
                                             100000,  250000,  500000,  1000000,
                                             2500000, 5000000, 10000000};
const char *const st_bound_text[ST_NBOUNDS] = {"0.005", "0.01", "0.025", "0.05",
                                               "0.1",   "0.25", "0.5",   "1",
                                               "2.5",   "5",    "10"};
const char *const st_class_names[ST_NCLASSES] = {"1xx", "2xx", "3xx",
                                                 "4xx", "5xx", "other"};
const char *const st_method_names[ST_NMETHODS] = {
    "GET",     "HEAD",  "POST",  "PUT",   "DELETE",
    "OPTIONS", "PATCH", "PURGE", "TRACE", "other"};

typedef struct st_head_t {
    apr_uint32_t nvhosts, nmembers;
    volatile apr_uint64_t retired_requests, retired_bytes_in, retired_bytes_out,
        retired_duration_us;
} st_head_t;

/* What the parent keeps across generations. */
typedef struct st_retained_t {
    apr_pool_t *pool; /* holds the segment; replaced with it */
    apr_shm_t *shm;
    apr_time_t started;
    apr_time_t loaded;
    int generation;
} st_retained_t;

/* This generation's view (set in the parent, inherited by children). */
static st_retained_t *st_ret;
static st_head_t *st_head;
static st_vhost_shm_t *st_vh;
static st_member_shm_t *st_mb;
static apr_array_header_t *st_vhost_list; /* st_vhost_t */
static apr_hash_t *st_server_index;       /* rl_server_t * -> int * */
static apr_hash_t *st_plain_index;        /* worker name -> int * */
static apr_hash_t *st_balancer_index;     /* balancer -> (name -> int *) */

static apr_status_t st_reset(void *unused)
{
    (void)unused;
    st_head = NULL;
    st_vh = NULL;
    st_mb = NULL;
    st_vhost_list = NULL;
    st_server_index = st_plain_index = st_balancer_index = NULL;
    return APR_SUCCESS;
}


/* "www.example.com:443" for a vhost, its ServerName for the main
 * server. */
static const char *vhost_name(apr_pool_t *p, const rl_server_t *s)
{
    const char *name = s->server_name && *s->server_name ? s->server_name
                       : s->is_virtual                   ? "(unnamed)"
                                                         : "(main)";
    const rl_server_addr_t *a;

    if (!s->is_virtual || s->addrs == NULL || s->addrs->nelts == 0) {
        return name;
    }
    a = &APR_ARRAY_IDX(s->addrs, 0, rl_server_addr_t);
    return a->port ? apr_psprintf(p, "%s:%u", name, a->port) : name;
}


static const char *vhost_addrs(apr_pool_t *p, const rl_server_t *s)
{
    const char *out = "";
    int i;

    for (i = 0; s->addrs != NULL && i < s->addrs->nelts; i++) {
        const rl_server_addr_t *a =
            &APR_ARRAY_IDX(s->addrs, i, rl_server_addr_t);
        const char *host = strchr(a->host, ':') && a->host[0] != '['
                               ? apr_psprintf(p, "[%s]", a->host)
                               : a->host;
        out = apr_psprintf(p, "%s%s%s:%s", out, i ? " " : "", host,
                           a->port ? apr_itoa(p, a->port) : "*");
    }
    return out;
}


/* The vhosts of the configuration, each with a label no other has. */
static void build_vhosts(apr_pool_t *p, rl_server_t *main_s)
{
    apr_hash_t *seen = apr_hash_make(p);
    rl_server_t *s;

    st_vhost_list = apr_array_make(p, 8, sizeof(st_vhost_t));
    st_server_index = apr_hash_make(p);
    for (s = main_s; s != NULL; s = s->next) {
        st_vhost_t *v = apr_array_push(st_vhost_list);
        const char *label = vhost_name(p, s);
        int *idx = apr_palloc(p, sizeof(*idx)), n;
        rl_server_t **key = apr_palloc(p, sizeof(*key));

        for (n = 2; apr_hash_get(seen, label, APR_HASH_KEY_STRING); n++) {
            label = apr_psprintf(p, "%s#%d", vhost_name(p, s), n);
        }
        apr_hash_set(seen, label, APR_HASH_KEY_STRING, "");
        v->s = s;
        v->label = label;
        v->addrs = vhost_addrs(p, s);
        *idx = st_vhost_list->nelts - 1;
        *key = s;
        apr_hash_set(st_server_index, key, sizeof(*key), idx);
    }
}


static const char *member_key(apr_pool_t *p, const rl_proxy_worker_t *w)
{
    return apr_pstrcat(p, w->balancer ? w->balancer->name : "", "|", w->name,
                       NULL);
}


/* Finding a worker from what mod_proxy leaves in the request:
 * BALANCER_NAME (mod_balancer) and BALANCER_WORKER_NAME. */
static void build_member_index(apr_pool_t *p, const apr_array_header_t *ws)
{
    int i;

    st_plain_index = apr_hash_make(p);
    st_balancer_index = apr_hash_make(p);
    for (i = 0; ws != NULL && i < ws->nelts; i++) {
        const rl_proxy_worker_t *w =
            APR_ARRAY_IDX(ws, i, const rl_proxy_worker_t *);
        int *idx = apr_palloc(p, sizeof(*idx));
        apr_hash_t *h = st_plain_index;

        *idx = i;
        if (w->balancer != NULL) {
            h = apr_hash_get(st_balancer_index, w->balancer->name,
                             APR_HASH_KEY_STRING);
            if (h == NULL) {
                h = apr_hash_make(p);
                apr_hash_set(st_balancer_index, w->balancer->name,
                             APR_HASH_KEY_STRING, h);
            }
        }
        apr_hash_set(h, w->name, APR_HASH_KEY_STRING, idx);
    }
}


static apr_size_t segment_size(int nv, int nm)
{
    return sizeof(st_head_t) + sizeof(st_vhost_shm_t) * (apr_size_t)nv +
           sizeof(st_member_shm_t) * (apr_size_t)nm;
}


static void segment_map(void *base, st_head_t **head, st_vhost_shm_t **vh,
                        st_member_shm_t **mb)
{
    *head = base;
    *vh = (st_vhost_shm_t *)(*head + 1);
    *mb = (st_member_shm_t *)(*vh + (*head)->nvhosts);
}


/* True when the old segment has exactly these vhosts and workers. */
static int same_layout(const st_head_t *oh, const st_vhost_shm_t *ov,
                       const st_member_shm_t *om, apr_pool_t *p,
                       const apr_array_header_t *ws)
{
    int i, nm = ws ? ws->nelts : 0;

    if ((int)oh->nvhosts != st_vhost_list->nelts || (int)oh->nmembers != nm) {
        return 0;
    }
    for (i = 0; i < st_vhost_list->nelts; i++) {
        if (strcmp(ov[i].key,
                   APR_ARRAY_IDX(st_vhost_list, i, st_vhost_t).label) != 0) {
            return 0;
        }
    }
    for (i = 0; i < nm; i++) {
        if (strcmp(om[i].key,
                   member_key(p, APR_ARRAY_IDX(
                                     ws, i, const rl_proxy_worker_t *))) != 0) {
            return 0;
        }
    }
    return 1;
}


/* A vhost a restart removed: its counts stay in the totals. */
static void retire(st_head_t *to, const st_vhost_shm_t *v)
{
    int c, m;

    for (c = 0; c < ST_NCLASSES; c++) {
        for (m = 0; m < ST_NMETHODS; m++) {
            to->retired_requests += v->requests[c][m];
        }
    }
    to->retired_bytes_in += v->bytes_in;
    to->retired_bytes_out += v->bytes_out;
    to->retired_duration_us += v->duration.sum_us;
}


/* Fills a new segment: keys, and the counters of what still exists. */
static void carry_over(apr_pool_t *p, const apr_array_header_t *ws,
                       const st_head_t *oh, const st_vhost_shm_t *ov,
                       const st_member_shm_t *om)
{
    apr_hash_t *old = apr_hash_make(p);
    int i, nm = ws ? ws->nelts : 0;

    if (oh != NULL) {
        st_head->retired_requests = oh->retired_requests;
        st_head->retired_bytes_in = oh->retired_bytes_in;
        st_head->retired_bytes_out = oh->retired_bytes_out;
        st_head->retired_duration_us = oh->retired_duration_us;
        for (i = 0; i < (int)oh->nvhosts; i++) {
            apr_hash_set(old, ov[i].key, APR_HASH_KEY_STRING, &ov[i]);
        }
        for (i = 0; i < (int)oh->nmembers; i++) {
            apr_hash_set(old, apr_pstrcat(p, "m:", om[i].key, NULL),
                         APR_HASH_KEY_STRING, &om[i]);
        }
    }
    for (i = 0; i < st_vhost_list->nelts; i++) {
        const char *label = APR_ARRAY_IDX(st_vhost_list, i, st_vhost_t).label;
        const st_vhost_shm_t *was =
            apr_hash_get(old, label, APR_HASH_KEY_STRING);
        if (was != NULL) {
            memcpy(&st_vh[i], was, sizeof(st_vh[i]));
            apr_hash_set(old, label, APR_HASH_KEY_STRING, NULL);
        }
        apr_cpystrn(st_vh[i].key, label, sizeof(st_vh[i].key));
    }
    for (i = 0; i < nm; i++) {
        const char *key =
            member_key(p, APR_ARRAY_IDX(ws, i, const rl_proxy_worker_t *));
        const st_member_shm_t *was = apr_hash_get(
            old, apr_pstrcat(p, "m:", key, NULL), APR_HASH_KEY_STRING);
        if (was != NULL) {
            memcpy(&st_mb[i], was, sizeof(st_mb[i]));
        }
        apr_cpystrn(st_mb[i].key, key, sizeof(st_mb[i].key));
    }
    for (i = 0; oh != NULL && i < (int)oh->nvhosts; i++) {
        if (apr_hash_get(old, ov[i].key, APR_HASH_KEY_STRING) != NULL) {
            retire(st_head, &ov[i]);
        }
    }
}


apr_status_t st_shm_setup(apr_pool_t *pconf, rl_server_t *s,
                          const apr_array_header_t *workers, int counting)
{
    st_head_t *oh = NULL;
    st_vhost_shm_t *ov = NULL;
    st_member_shm_t *om = NULL;
    apr_pool_t *pool;
    apr_shm_t *shm;
    apr_status_t rv;
    int nm = workers ? workers->nelts : 0;

    apr_pool_cleanup_register(pconf, NULL, st_reset, apr_pool_cleanup_null);
    st_ret = rl_retained_data_get("status-counters");
    if (st_ret == NULL) {
        st_ret = rl_retained_data_create("status-counters", sizeof(*st_ret));
        st_ret->started = apr_time_now();
    }
    st_ret->loaded = apr_time_now();
    st_ret->generation++;
    build_vhosts(pconf, s);
    build_member_index(pconf, workers);
    if (!counting) {
        return APR_SUCCESS; /* the old segment waits for a later generation */
    }
    if (st_ret->shm != NULL) {
        segment_map(apr_shm_baseaddr_get(st_ret->shm), &oh, &ov, &om);
        if (same_layout(oh, ov, om, pconf, workers)) {
            st_head = oh;
            st_vh = ov;
            st_mb = om;
            return APR_SUCCESS;
        }
    }
    apr_pool_create(&pool, rl_retained_pool());
    rv = apr_shm_create(&shm, segment_size(st_vhost_list->nelts, nm), NULL,
                        pool);
    if (rv != APR_SUCCESS) {
        rl_log_error(RL_LOG_EMERG, rv, s,
                     "cannot create shared memory for the status counters "
                     "of %d vhosts and %d backends",
                     st_vhost_list->nelts, nm);
        apr_pool_destroy(pool);
        return rv;
    }
    memset(apr_shm_baseaddr_get(shm), 0,
           segment_size(st_vhost_list->nelts, nm));
    st_head = apr_shm_baseaddr_get(shm);
    st_head->nvhosts = (apr_uint32_t)st_vhost_list->nelts;
    st_head->nmembers = (apr_uint32_t)nm;
    segment_map(st_head, &st_head, &st_vh, &st_mb);
    carry_over(pconf, workers, oh, ov, om);
    if (st_ret->pool != NULL) {
        /* unmaps the parent's view only: old children keep theirs */
        apr_pool_destroy(st_ret->pool);
    }
    st_ret->pool = pool;
    st_ret->shm = shm;
    return APR_SUCCESS;
}


static void hist_add(st_hist_t *h, apr_int64_t us)
{
    int b = 0;

    if (us < 0) {
        us = 0;
    }
    while (b < ST_NBOUNDS && us > st_bound_us[b]) {
        b++;
    }
    __atomic_fetch_add(&h->bucket[b], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&h->sum_us, (apr_uint64_t)us, __ATOMIC_RELAXED);
}


static int method_index(const char *m)
{
    int i;

    for (i = 0; i < ST_NMETHODS - 1; i++) {
        if (strcmp(m, st_method_names[i]) == 0) {
            return i;
        }
    }
    return ST_NMETHODS - 1;
}


/* The worker that answered r, from the names mod_proxy and mod_balancer
 * leave in its environment; -1 when it was not proxied. */
static int member_of(const rl_request_t *r)
{
    const char *name = apr_table_get(r->subprocess_env, "BALANCER_WORKER_NAME");
    const char *bal;
    const int *idx;
    apr_hash_t *h = st_plain_index;

    if (name == NULL || h == NULL) {
        return -1;
    }
    bal = apr_table_get(r->subprocess_env, "BALANCER_NAME");
    if (bal != NULL) {
        h = apr_hash_get(st_balancer_index, bal, APR_HASH_KEY_STRING);
        if (h == NULL) {
            return -1;
        }
    }
    idx = apr_hash_get(h, name, APR_HASH_KEY_STRING);
    return idx ? *idx : -1;
}


void st_shm_count(rl_request_t *r)
{
    const int *vi;
    st_vhost_shm_t *v;
    int cls, m;
    const char *rt;

    if (st_head == NULL || (vi = apr_hash_get(st_server_index, &r->server,
                                              sizeof(r->server))) == NULL) {
        return;
    }
    v = &st_vh[*vi];
    cls = r->status >= 100 && r->status < 600 ? r->status / 100 - 1
                                              : ST_NCLASSES - 1;
    m = method_index(r->method);
    __atomic_fetch_add(&v->requests[cls][m], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&v->bytes_in, (apr_uint64_t)r->bytes_in,
                       __ATOMIC_RELAXED);
    __atomic_fetch_add(&v->bytes_out, (apr_uint64_t)r->bytes_out,
                       __ATOMIC_RELAXED);
    hist_add(&v->duration, apr_time_now() - r->request_time);
    rt = apr_table_get(r->notes, "proxy-response-us");
    if (rt != NULL) {
        int w = member_of(r);
        if (w >= 0 && w < (int)st_head->nmembers) {
            hist_add(&st_mb[w].response, apr_atoi64(rt));
        }
    }
}


const apr_array_header_t *st_vhosts(void)
{
    return st_vhost_list;
}


const st_vhost_shm_t *st_vhost_counters(int i)
{
    return st_head != NULL && i >= 0 && i < (int)st_head->nvhosts ? &st_vh[i]
                                                                  : NULL;
}


const st_member_shm_t *st_member_counters(int index)
{
    return st_head != NULL && index >= 0 && index < (int)st_head->nmembers
               ? &st_mb[index]
               : NULL;
}


static apr_uint64_t load64(const volatile apr_uint64_t *x)
{
    return __atomic_load_n(x, __ATOMIC_RELAXED);
}


void st_totals(st_totals_t *t)
{
    int i, c, m;

    memset(t, 0, sizeof(*t));
    if (st_head == NULL) {
        return;
    }
    t->requests = load64(&st_head->retired_requests);
    t->bytes_in = load64(&st_head->retired_bytes_in);
    t->bytes_out = load64(&st_head->retired_bytes_out);
    t->duration_us = load64(&st_head->retired_duration_us);
    for (i = 0; i < (int)st_head->nvhosts; i++) {
        for (c = 0; c < ST_NCLASSES; c++) {
            for (m = 0; m < ST_NMETHODS; m++) {
                t->requests += load64(&st_vh[i].requests[c][m]);
            }
        }
        t->bytes_in += load64(&st_vh[i].bytes_in);
        t->bytes_out += load64(&st_vh[i].bytes_out);
        t->duration_us += load64(&st_vh[i].duration.sum_us);
    }
}


void st_hist_read(const st_hist_t *h, st_hist_view_t *v)
{
    apr_uint64_t run = 0;
    int b;

    for (b = 0; b < ST_NBUCKETS; b++) {
        run += load64(&h->bucket[b]);
        v->cum[b] = run;
    }
    v->sum_us = load64(&h->sum_us);
}


apr_time_t st_started(void)
{
    return st_ret ? st_ret->started : 0;
}


apr_time_t st_loaded(void)
{
    return st_ret ? st_ret->loaded : 0;
}


int st_generation(void)
{
    return st_ret ? st_ret->generation : 0;
}


int st_counting(void)
{
    return st_head != NULL;
}
