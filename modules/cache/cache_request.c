/*
 * cache_request.c: what mod_cache does with each request.
 *
 * A request for a path under CacheEnable goes through these steps:
 *
 *  1. lookup (quick_handler, after the acl; or the handler hook with
 *     CacheQuickHandler off).  The key is "http[s]://host:port/path?query";
 *     an entry there may be a Vary marker (cache_meta_t.vary set, no
 *     body) saying which request fields select a variant, stored under
 *     the key followed by " name=value" pairs.  Then, by RFC 9111:
 *       - fresh, or stale within what the request's max-stale allows:
 *         answered from the store (200, or 304 to a client conditional,
 *         206/416 to a Range), X-Cache: HIT or STALE;
 *       - stale within stale-while-revalidate: answered stale, and one
 *         background refresh queued (cache_refresh.c);
 *       - stale otherwise: the request goes to the backend with our own
 *         If-None-Match / If-Modified-Since (the client's are kept aside
 *         and answered by us); the stale entry stays pinned;
 *       - missing: the request goes to the backend (step 3).  With
 *         CacheLock, only the first request of a key does; the others
 *         wait (step 2).
 *  2. waiting (handler hook, before mod_proxy's): rl_request_sleep() in
 *     growing steps (5 to 50 ms), looking the entry up again each time,
 *     never blocking an event loop.  After CacheLockMaxAge a waiter goes
 *     to the backend itself (through the handler hooks, as if it had not
 *     waited).
 *  3. the backend's answer (response_head hook, before mod_headers): the
 *     rules decide whether it is stored; if so a fill starts and the
 *     response tap (rl_response_tap) copies each body piece into it as it
 *     goes to the client; the entry is committed when the response was
 *     complete, abandoned otherwise.  A client conditional kept aside in
 *     step 1 turns a new 200 into a 304 for that client (the body still
 *     goes into the store).
 *  4. a 304 to our revalidation (mod_proxy's post_request, before any
 *     byte is written): the entry's metadata is refreshed (update_meta)
 *     and the client is answered from the pinned entry (REVALIDATED).
 *  5. a failed backend (error_response: the core is about to send its
 *     502/503/504 page): a stale entry is answered instead when
 *     stale-if-error or CacheStaleOnError allow it.
 *
 * Unsafe methods (POST, PUT, DELETE, PATCH…) remove the entry of their
 * URL, and of their Location / Content-Location on the same origin, once
 * the backend answered them without an error.  PURGE removes it on
 * request (CachePurge On).
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "cache_private.h"
#include "cache_rules.h"

RL_LOG_USE_MODULE(cache);

#define DEFAULT_EXPIRE apr_time_from_sec(3600)
#define DEFAULT_MAX_EXPIRE apr_time_from_sec(86400)
#define DEFAULT_LM_FACTOR 0.1
#define DEFAULT_LOCK_AGE apr_time_from_sec(5)
#define SOCACHE_MAX_TIME apr_time_from_sec(86400)
#define SOCACHE_MIN_TIME apr_time_from_sec(600)
#define WAIT_FIRST apr_time_from_msec(5)
#define WAIT_MAX apr_time_from_msec(50)
/* a memory body goes out in pieces this large, waiting for the client
 * in between under the event MPM */
#define SEND_SLICE (256 * 1024)
/* the refresh marker of a key: its hash with these bits flipped */
#define REFRESH_SALT 0x9e3779b97f4a7c15ULL
/* the "not storable, don't wait" marker of a key */
#define PASS_SALT 0xc2b2ae3d27d4eb4fULL
#define REFRESH_TTL apr_time_from_sec(30)
/* how long past its freshness an entry with a validator is kept at least */
#define KEEP_MIN apr_time_from_sec(60)

#define IS_SET(v) ((v) != CACHE_UNSET)
#define OR_DEFAULT(v, d) (IS_SET(v) ? (v) : (d))

/** What a request is to the cache. */
typedef enum cache_phase_e {
    CR_NONE = 0,   /**< nothing to do */
    CR_FILL,       /**< went to the backend: store what comes back */
    CR_WAIT,       /**< waits for another request's fill */
    CR_SERVED,     /**< answered from the store */
    CR_INVALIDATE, /**< unsafe method: remove the entry after */
    CR_BYPASS      /**< not cacheable (HEAD miss, If-Match…) */
} cache_phase_e;

/** A request's state, in r->request_config. */
typedef struct cache_req_t {
    const cache_dir_conf_t *conf;
    const cache_enable_t *en;
    cache_store_t *store;
    const char *key;  /* URL key */
    const char *vkey; /* the key of the entry (variant or URL) */
    apr_time_t marker_until;
    cache_phase_e phase;
    int refresh;      /* a background refresh (token matched) */
    int revalidating; /* our validators went to the backend */
    int stashed;      /* the client's conditionals are kept aside */
    int nolock;       /* waited enough: go without the claim */
    int no_suspend;   /* answering from a hook: write everything now */
    int authorization;
    apr_uint64_t lock; /* claim held, 0 when none */
    cache_req_cc_t rcc;
    /* the entry found, pinned while held */
    cache_hit_t hit;
    int held;
    apr_table_t *hdrs;
    cache_resp_cc_t ecc;
    apr_time_t initial_age;
    /* the client's conditionals and range, kept aside during a fill */
    const char *c_inm, *c_ims, *c_range, *c_if_range;
    /* the fill */
    cache_fill_t *fill;
    cache_meta_t meta;
    const char *fill_vary;
    const char *fill_key;
    apr_off_t filled;
    apr_time_t sent;
    /* waiting */
    apr_time_t wait_began;
    apr_time_t wait_until;
    apr_interval_time_t wait_step;
    /* a memory body on its way out */
    const char *send_ptr;
    apr_off_t send_left;
    const char *detail;
} cache_req_t;

static cache_req_t *req_state(rl_request_t *r)
{
    return rl_get_module_config(r->request_config, &cache_module);
}

/* ------------------------------------------------------------------ */
/* Claims and pins                                                    */
/* ------------------------------------------------------------------ */

static void unlock(cache_req_t *st)
{
    if (st->lock != 0) {
        cache_lock_release(st->lock);
        st->lock = 0;
    }
}

static void hit_release(cache_req_t *st)
{
    if (st->held) {
        st->held = 0;
        st->store->ops->release(st->store, &st->hit);
    }
}

/* However the request ends (client gone mid-body, an error), nothing
 * stays pinned or claimed. */
static apr_status_t req_cleanup(void *v)
{
    cache_req_t *st = v;

    hit_release(st);
    if (st->fill != NULL) {
        st->store->ops->fill_abort(st->fill);
        st->fill = NULL;
    }
    unlock(st);
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Keys and settings                                                  */
/* ------------------------------------------------------------------ */

/* The host part of keys: the one asked for, else the server's name,
 * else the address reached (HTTP/1.0 without Host). */
static const char *key_host(const rl_request_t *r)
{
    return r->hostname              ? r->hostname
           : r->server->server_name ? r->server->server_name
                                    : r->connection->local_ip;
}

static const char *build_key(rl_request_t *r, const cache_dir_conf_t *conf,
                             const char *path, const char *args)
{
    const char *base = conf->key_base;

    if (conf->ignore_qs == 1) {
        args = NULL;
    }
    if (base == NULL) {
        base = apr_psprintf(r->pool, "%s://%s:%u",
                            rl_conn_is_https(r->connection) ? "https" : "http",
                            key_host(r), (unsigned)r->connection->local_port);
    }
    return apr_pstrcat(r->pool, base, path, args ? "?" : "", args ? args : "",
                       NULL);
}

/* Whether a CacheEnable / CacheDisable path covers uri: by whole
 * segments, as <Location> ("/a" covers "/a", "/a/" and "/a/b", not
 * "/ab"). */
static int path_covers(const char *path, apr_size_t len, const char *uri)
{
    return strncmp(uri, path, len) == 0 &&
           (uri[len] == '\0' || uri[len] == '/' || uri[len] == '?' ||
            (len > 0 && path[len - 1] == '/'));
}

/* The CacheEnable line that covers the path, unless a CacheDisable does. */
static const cache_enable_t *pick_enable(const cache_dir_conf_t *conf,
                                         const char *uri)
{
    const cache_enable_t *e = (const cache_enable_t *)conf->enable->elts;
    const cache_enable_t *found = NULL;
    int i;

    for (i = 0; i < conf->enable->nelts; i++) {
        if (e[i].path == NULL || path_covers(e[i].path, e[i].len, uri)) {
            found = &e[i];
            break;
        }
    }
    if (found == NULL) {
        return NULL;
    }
    for (i = 0; conf->disable != NULL && i < conf->disable->nelts; i++) {
        const char *d = APR_ARRAY_IDX(conf->disable, i, const char *);
        if (path_covers(d, strlen(d), uri)) {
            return NULL;
        }
    }
    return found;
}

static void policy_of(const cache_req_t *st, cache_policy_t *pol)
{
    const cache_dir_conf_t *c = st->conf;
    int i;

    pol->default_expire = OR_DEFAULT(c->default_expire, DEFAULT_EXPIRE);
    pol->max_expire = OR_DEFAULT(c->max_expire, DEFAULT_MAX_EXPIRE);
    pol->min_expire = OR_DEFAULT(c->min_expire, 0);
    pol->lm_factor = c->lm_factor >= 0 ? c->lm_factor : DEFAULT_LM_FACTOR;
    pol->ignore_no_last_mod = c->ignore_no_last_mod == 1;
    pol->store_private = c->store_private == 1;
    pol->store_no_store = c->store_no_store == 1;
    pol->store_expired = c->store_expired == 1;
    pol->ignore_set_cookie = 0;
    for (i = 0; c->ignore_headers != NULL && i < c->ignore_headers->nelts;
         i++) {
        if (strcasecmp(APR_ARRAY_IDX(c->ignore_headers, i, const char *),
                       "Set-Cookie") == 0) {
            pol->ignore_set_cookie = 1;
        }
    }
    if (st->en->socache) {
        /* httpd's CacheSocacheMaxTime / MinTime for socache entries */
        apr_interval_time_t mx =
            OR_DEFAULT(cache_g.socache_max_time, SOCACHE_MAX_TIME);
        if (mx < pol->max_expire) {
            pol->max_expire = mx;
        }
        if (!IS_SET(c->min_expire)) {
            pol->min_expire =
                OR_DEFAULT(cache_g.socache_min_time, SOCACHE_MIN_TIME);
        }
    }
}

/* X-Cache, X-Cache-Detail and the log's note (%{cache-status}n). */
static void mark(rl_request_t *r, cache_req_t *st, const char *label,
                 const char *detail)
{
    apr_table_setn(r->notes, "cache-status", label);
    if (st->conf->header == 1) {
        apr_table_setn(r->headers_out, "X-Cache", label);
    }
    if (st->conf->detail_header == 1 && detail != NULL) {
        apr_table_setn(r->headers_out, "X-Cache-Detail", detail);
    }
}

/* ------------------------------------------------------------------ */
/* Lookup                                                             */
/* ------------------------------------------------------------------ */

/* Finds the entry for the request (through a Vary marker), pins it and
 * reads its fields.  0 when there is none worth looking at. */
static int lookup_entry(rl_request_t *r, cache_req_t *st, apr_time_t now)
{
    const cache_store_ops_t *ops = st->store->ops;
    cache_hit_t h;

    st->vkey = st->key;
    st->marker_until = 0;
    if (!ops->lookup(st->store, st->key, r->pool, &h)) {
        return 0;
    }
    if (h.meta.vary != NULL) {
        const char *vary = apr_pstrdup(r->pool, h.meta.vary);
        apr_time_t until = h.meta.stale_until > h.meta.expires
                               ? h.meta.stale_until
                               : h.meta.expires;
        ops->release(st->store, &h);
        if (until < now) {
            return 0;
        }
        st->marker_until = until;
        st->vkey = cache_variant_key(r->pool, st->key, vary, r->headers_in);
        if (!ops->lookup(st->store, st->vkey, r->pool, &h)) {
            return 0;
        }
        if (h.meta.vary != NULL) {
            ops->release(st->store, &h);
            return 0;
        }
    }
    if (now > h.meta.expires && now > h.meta.stale_until) {
        ops->release(st->store, &h); /* past any use: as good as gone */
        return 0;
    }
    st->hit = h;
    st->held = 1;
    st->hdrs = apr_table_make(r->pool, 12);
    if (cache_headers_parse(r->pool, h.meta.headers, h.meta.headers_len,
                            st->hdrs) < 0) {
        rl_log_rerror(RL_LOG_WARNING, 0, r,
                      "cache entry %s has a damaged header block: dropped",
                      st->vkey);
        hit_release(st);
        ops->remove(st->store, st->vkey, 0);
        return 0;
    }
    st->initial_age = apr_time_from_sec(
        cache_delta_seconds(apr_table_get(st->hdrs, "Age")) > 0
            ? cache_delta_seconds(apr_table_get(st->hdrs, "Age"))
            : 0);
    cache_parse_resp_cc(r->pool,
                        cache_table_join(r->pool, st->hdrs, "Cache-Control"),
                        &st->ecc);
    return 1;
}

static apr_time_t entry_age(const cache_req_t *st, apr_time_t now)
{
    return cache_current_age(st->initial_age, st->hit.meta.response_time, now);
}

static apr_time_t entry_lifetime(const cache_req_t *st)
{
    return st->hit.meta.expires - st->hit.meta.response_time + st->initial_age;
}

/* ------------------------------------------------------------------ */
/* Answering from the store                                           */
/* ------------------------------------------------------------------ */

static int send_mem(rl_request_t *r);

static int send_mem_resume(rl_request_t *r)
{
    return send_mem(r);
}

/* The pinned memory body, in slices; under the event MPM it suspends
 * while the client is behind (the pin holds meanwhile). */
static int send_mem(rl_request_t *r)
{
    cache_req_t *st = req_state(r);

    while (st->send_left > 0) {
        apr_size_t n =
            st->send_left > SEND_SLICE ? SEND_SLICE : (apr_size_t)st->send_left;
        if (rl_rwrite(r, st->send_ptr, n) != APR_SUCCESS) {
            break; /* the client is gone: the core sees it */
        }
        st->send_ptr += n;
        st->send_left -= (apr_off_t)n;
        if (st->send_left > 0 && !st->no_suspend && rl_output_congested(r)) {
            rl_request_suspend(r, send_mem_resume);
            return RL_SUSPENDED;
        }
    }
    hit_release(st);
    return RL_OK;
}

typedef struct copy_ctx_t {
    rl_request_t *r;
} copy_ctx_t;

static int copy_field(void *v, const char *name, const char *value)
{
    rl_request_t *r = ((copy_ctx_t *)v)->r;

    if (strcasecmp(name, "Content-Type") == 0) {
        r->content_type = value;
    } else if (strcasecmp(name, "Date") != 0 && strcasecmp(name, "Age") != 0) {
        apr_table_addn(r->headers_out, name, value);
    }
    return 1;
}

/* The client's conditional fields: kept aside during a fill, else
 * as they came. */
static const char *client_field(rl_request_t *r, cache_req_t *st,
                                const char *name, const char *stashed)
{
    return st->stashed ? stashed : apr_table_get(r->headers_in, name);
}

/* Answers the request from the pinned entry: 200 (or its stored
 * status), 304 to a client conditional, 206/416 to a Range. */
static int serve(rl_request_t *r, cache_req_t *st, const char *label,
                 const char *detail, apr_time_t age)
{
    const cache_meta_t *m = &st->hit.meta;
    const char *etag = apr_table_get(st->hdrs, "ETag");
    const char *lm = apr_table_get(st->hdrs, "Last-Modified");
    const char *range;
    apr_off_t off = 0, n = m->body_len;
    copy_ctx_t cc;

    st->phase = CR_SERVED;
    r->status = m->status;
    r->content_type = NULL;
    cc.r = r;
    apr_table_do(copy_field, &cc, st->hdrs, NULL);
    apr_table_setn(r->headers_out, "Age",
                   apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                (apr_int64_t)apr_time_sec(age)));
    mark(r, st, label, detail);
    if (m->status == 200 &&
        cache_not_modified(client_field(r, st, "If-None-Match", st->c_inm),
                           client_field(r, st, "If-Modified-Since", st->c_ims),
                           etag, lm, apr_table_get(st->hdrs, "Date"))) {
        r->status = 304;
        CACHE_COUNT(not_modified, 1);
        hit_release(st);
        return RL_OK;
    }
    range = client_field(r, st, "Range", st->c_range);
    if (m->status == 200 && !r->header_only && range != NULL) {
        int rc =
            cache_range(range, client_field(r, st, "If-Range", st->c_if_range),
                        etag, lm, m->body_len, &off, &n);
        if (rc == 206) {
            r->status = 206;
            apr_table_setn(r->headers_out, "Content-Range",
                           apr_psprintf(r->pool,
                                        "bytes %" APR_OFF_T_FMT
                                        "-%" APR_OFF_T_FMT "/%" APR_OFF_T_FMT,
                                        off, off + n - 1, m->body_len));
        } else if (rc == 416) {
            r->status = 416;
            apr_table_setn(
                r->headers_out, "Content-Range",
                apr_psprintf(r->pool, "bytes */%" APR_OFF_T_FMT, m->body_len));
            off = n = 0;
        }
    }
    if (m->status == 200 &&
        apr_table_get(r->headers_out, "Accept-Ranges") == NULL) {
        apr_table_setn(r->headers_out, "Accept-Ranges", "bytes");
    }
    rl_set_content_length(r, n);
    if (r->header_only || n == 0) {
        hit_release(st);
        return RL_OK;
    }
    CACHE_COUNT(bytes_served, n);
    if (st->hit.fd >= 0) {
        /* disk: sendfile from the entry's file; the core closes it */
        int fd = st->hit.fd;
        st->hit.fd = -1;
        rl_sendfile(r, fd, st->hit.body_off + off, (apr_size_t)n);
        hit_release(st);
        return RL_OK;
    }
    st->send_ptr = st->hit.body + off;
    st->send_left = n;
    return send_mem(r);
}

/* ------------------------------------------------------------------ */
/* Deciding                                                           */
/* ------------------------------------------------------------------ */

enum { D_GO, D_WAIT, D_DONE };

/* CacheLock: claim the key's fill, or learn that another request has. */
static int claim(cache_req_t *st, apr_time_t now)
{
    apr_uint64_t h;

    if (st->conf->lock != 1 || st->nolock || st->lock != 0) {
        return 1;
    }
    h = cache_key_hash(st->key);
    if (cache_lock_held(h ^ PASS_SALT, now)) {
        return 1; /* its last answer was not storable: nothing to wait for */
    }
    if (!cache_lock_try(h, now,
                        OR_DEFAULT(st->conf->lock_max_age, DEFAULT_LOCK_AGE))) {
        return 0;
    }
    st->lock = h;
    return 1;
}

/* The request goes to the backend to fill (or revalidate) the entry:
 * the client's conditionals and Range are kept aside, so that the
 * backend answers in full and we answer the client's conditions
 * ourselves; ours go instead when we hold a stale entry. */
static void to_backend(rl_request_t *r, cache_req_t *st, apr_time_t now)
{
    if (!st->stashed) {
        st->c_inm = apr_table_get(r->headers_in, "If-None-Match");
        st->c_ims = apr_table_get(r->headers_in, "If-Modified-Since");
        st->c_range = apr_table_get(r->headers_in, "Range");
        st->c_if_range = apr_table_get(r->headers_in, "If-Range");
        apr_table_unset(r->headers_in, "If-None-Match");
        apr_table_unset(r->headers_in, "If-Modified-Since");
        apr_table_unset(r->headers_in, "Range");
        apr_table_unset(r->headers_in, "If-Range");
        st->stashed = 1;
    }
    st->revalidating = 0;
    if (st->held && cache_g.proxy_hooked) {
        const char *etag = apr_table_get(st->hdrs, "ETag");
        const char *lm = apr_table_get(st->hdrs, "Last-Modified");
        if (etag != NULL) {
            apr_table_setn(r->headers_in, "If-None-Match", etag);
        }
        if (lm != NULL) {
            apr_table_setn(r->headers_in, "If-Modified-Since", lm);
        }
        st->revalidating = etag != NULL || lm != NULL;
    }
    st->phase = CR_FILL;
    st->sent = now;
    if (!st->refresh) {
        CACHE_COUNT(misses, 1);
    }
}

/* Step 1 (and each round of step 2): answer, wait, or go. */
static int decide(rl_request_t *r, cache_req_t *st, int *rc)
{
    apr_time_t now = apr_time_now();

    hit_release(st);
    if (lookup_entry(r, st, now) &&
        (!st->authorization || cache_auth_ok(&st->ecc))) {
        apr_time_t age = entry_age(st, now);
        cache_use_e use = st->refresh ? CACHE_USE_REVALIDATE
                                      : cache_usable(age, entry_lifetime(st),
                                                     &st->rcc, &st->ecc);

        if (use == CACHE_USE_REVALIDATE && st->wait_began != 0 &&
            st->hit.meta.response_time >= st->wait_began && !st->rcc.no_cache) {
            /* fetched while this request waited for it (a no-cache or
             * max-age=0 response): it answers the collapsed requests,
             * or each would go to the backend in turn */
            use = CACHE_USE_FRESH;
        }

        if (use == CACHE_USE_FRESH) {
            CACHE_COUNT(hits, 1);
            *rc = serve(r, st, "HIT", "cache hit", age);
            return D_DONE;
        }
        if (use == CACHE_USE_STALE) {
            CACHE_COUNT(stale, 1);
            *rc = serve(r, st, "STALE", "stale: the request's max-stale", age);
            return D_DONE;
        }
        if (use == CACHE_USE_SWR) {
            apr_uint64_t mk = cache_key_hash(st->vkey) ^ REFRESH_SALT;
            if (!cache_lock_try(mk, now, REFRESH_TTL)) {
                CACHE_COUNT(stale, 1);
                *rc =
                    serve(r, st, "STALE",
                          "stale-while-revalidate: a refresh is running", age);
                return D_DONE;
            }
            if (cache_refresh_queue(r, mk)) {
                CACHE_COUNT(stale, 1);
                CACHE_COUNT(refreshes, 1);
                *rc = serve(r, st, "STALE",
                            "stale-while-revalidate: refresh started", age);
                return D_DONE;
            }
            /* no refresher: this request revalidates in the foreground,
             * holding the marker, and the others are answered stale */
            st->lock = mk;
            to_backend(r, st, now);
            return D_GO;
        }
        if (st->rcc.only_if_cached) {
            hit_release(st);
            *rc = 504;
            return D_DONE;
        }
        if (!st->refresh && !claim(st, now)) {
            hit_release(st);
            return D_WAIT;
        }
        to_backend(r, st, now); /* validate it, the entry stays pinned */
        return D_GO;
    }
    hit_release(st);
    if (st->rcc.only_if_cached) {
        *rc = 504; /* RFC 9111 §5.2.1.7 */
        return D_DONE;
    }
    if (r->header_only) {
        st->phase = CR_BYPASS; /* a HEAD brings no body to store */
        return D_GO;
    }
    if (!st->refresh && !claim(st, now)) {
        return D_WAIT;
    }
    to_backend(r, st, now);
    return D_GO;
}

static int purge_request(rl_request_t *r, cache_req_t *st);

/* Step 1: from the quick handler (quick) or the handler hook.  Sets
 * *wait when the request must wait for another's fill. */
static int cache_begin(rl_request_t *r, const cache_dir_conf_t *conf, int *wait)
{
    const cache_enable_t *en = pick_enable(conf, r->uri);
    const char *v;
    cache_req_t *st;
    int rc = RL_DECLINED;

    *wait = 0;
    if (en == NULL || cache_stores[en->type] == NULL) {
        return RL_DECLINED;
    }
    st = apr_pcalloc(r->pool, sizeof(*st));
    st->conf = conf;
    st->en = en;
    st->store = cache_stores[en->type];
    rl_set_module_config(r->request_config, &cache_module, st);
    apr_pool_cleanup_register(r->pool, st, req_cleanup, apr_pool_cleanup_null);
    v = apr_table_get(r->headers_in, CACHE_REFRESH_FIELD);
    if (v != NULL) {
        /* ours only with the token; never passed on either way */
        st->refresh = *cache_shm_token() && strcmp(v, cache_shm_token()) == 0;
        apr_table_unset(r->headers_in, CACHE_REFRESH_FIELD);
    }
    st->key = build_key(r, conf, r->uri, r->args);
    if (strcmp(r->method, "PURGE") == 0) {
        return purge_request(r, st);
    }
    if (!cache_method_cacheable(r->method)) {
        st->phase = cache_method_unsafe(r->method) ? CR_INVALIDATE : CR_BYPASS;
        return RL_DECLINED;
    }
    if (apr_table_get(r->headers_in, "If-Match") != NULL ||
        apr_table_get(r->headers_in, "If-Unmodified-Since") != NULL) {
        st->phase = CR_BYPASS; /* the backend judges those */
        return RL_DECLINED;
    }
    if (conf->ignore_cc == 1) {
        cache_parse_req_cc(NULL, NULL, &st->rcc);
    } else {
        cache_parse_req_cc(
            cache_table_join(r->pool, r->headers_in, "Cache-Control"),
            apr_table_get(r->headers_in, "Pragma"), &st->rcc);
    }
    st->authorization = apr_table_get(r->headers_in, "Authorization") != NULL;
    switch (decide(r, st, &rc)) {
    case D_DONE:
        return rc;
    case D_WAIT:
        st->phase = CR_WAIT;
        *wait = 1;
        return RL_DECLINED;
    default:
        return RL_DECLINED;
    }
}

int cache_quick_handler(rl_request_t *r)
{
    const cache_dir_conf_t *conf =
        rl_get_module_config(r->per_dir_config, &cache_module);
    int wait;

    if (conf == NULL || conf->enable == NULL || conf->quick == 0) {
        return RL_DECLINED;
    }
    /* a wait happens in the handler hook, which may suspend */
    return cache_begin(r, conf, &wait);
}

/* After a wait: to the backend, as if we had never waited (the handler
 * hooks run again; ours declines now). */
static int go_backend(rl_request_t *r)
{
    int rc = rl_run_handler(r);

    return rc == RL_DECLINED ? 404 : rc;
}

/* Step 2: one round of waiting. */
static int wait_resume(rl_request_t *r)
{
    cache_req_t *st = req_state(r);
    int rc = RL_DECLINED, d;

    d = decide(r, st, &rc);
    if (d == D_WAIT && apr_time_now() >= st->wait_until) {
        rl_log_rerror(RL_LOG_INFO, 0, r,
                      "waited CacheLockMaxAge for another request to fill "
                      "%s: going to the backend",
                      st->key);
        CACHE_COUNT(lock_timeouts, 1);
        st->nolock = 1;
        d = decide(r, st, &rc);
    }
    if (d == D_DONE) {
        return rc;
    }
    if (d == D_WAIT) {
        st->wait_step *= 2;
        if (st->wait_step > WAIT_MAX) {
            st->wait_step = WAIT_MAX;
        }
        return rl_request_sleep(r, st->wait_step, wait_resume);
    }
    /* to the backend (a sleep's end is no timeout for mod_proxy) */
    return go_backend(r);
}

static int wait_start(rl_request_t *r, cache_req_t *st)
{
    CACHE_COUNT(lock_waits, 1);
    st->wait_began = apr_time_now();
    st->wait_until =
        st->wait_began + OR_DEFAULT(st->conf->lock_max_age, DEFAULT_LOCK_AGE);
    st->wait_step = WAIT_FIRST;
    return rl_request_sleep(r, st->wait_step, wait_resume);
}

int cache_handler(rl_request_t *r)
{
    cache_req_t *st = req_state(r);

    if (st == NULL) {
        const cache_dir_conf_t *conf =
            rl_get_module_config(r->per_dir_config, &cache_module);
        int rc, wait;

        if (conf == NULL || conf->enable == NULL || conf->quick != 0) {
            return RL_DECLINED;
        }
        /* CacheQuickHandler off: the lookup happens here */
        rc = cache_begin(r, conf, &wait);
        st = req_state(r);
        return wait ? wait_start(r, st) : rc;
    }
    return st->phase == CR_WAIT ? wait_start(r, st) : RL_DECLINED;
}

/* ------------------------------------------------------------------ */
/* Storing                                                            */
/* ------------------------------------------------------------------ */

/* The Vary marker: where lookups learn which fields select a variant. */
static void write_marker(cache_req_t *st)
{
    const cache_store_ops_t *ops = st->store->ops;
    cache_meta_t m = st->meta;
    cache_fill_t *f;

    m.body_len = 0;
    m.headers = NULL;
    m.headers_len = 0;
    m.vary = st->fill_vary;
    if (m.stale_until < st->marker_until) {
        m.stale_until = st->marker_until; /* another variant lives longer */
    }
    f = ops->fill_begin(st->store, st->key, &m, 0);
    if (f != NULL && ops->fill_commit(f) != 0) {
        /* not visible: the variant is then unreachable until a fill
         * writes the marker again */
        st->detail = "the Vary marker could not be stored";
    }
}

/* The response tap: each body piece into the fill; the final call
 * commits a complete body, abandons anything else. */
static void cache_tap(rl_request_t *r, void *ctx, const char *data,
                      apr_size_t len, int final)
{
    cache_req_t *st = ctx;
    const cache_store_ops_t *ops = st->store->ops;
    apr_off_t min = OR_DEFAULT(cache_g.min_file, 0);

    if (st->fill == NULL) {
        return;
    }
    if (final == 0) {
        if (ops->fill_write(st->fill, data, len) < 0) {
            ops->fill_abort(st->fill);
            st->fill = NULL;
            CACHE_COUNT(not_stored, 1);
            unlock(st);
        } else {
            st->filled += (apr_off_t)len;
        }
        return;
    }
    if (final == 1 &&
        (st->meta.body_len < 0 || st->filled == st->meta.body_len) &&
        st->filled >= min) {
        /* committed or not, the fill is over (no abort after a commit) */
        int rv = ops->fill_commit(st->fill);
        st->fill = NULL;
        if (rv == 0) {
            if (st->fill_vary != NULL) {
                write_marker(st);
            }
            CACHE_COUNT(stored, 1);
            CACHE_COUNT(bytes_stored, st->filled);
            if (rl_log_enabled(&cache_module, RL_LOG_DEBUG, r->server)) {
                rl_log_rerror(RL_LOG_DEBUG, 0, r,
                              "stored %s (%" APR_OFF_T_FMT " bytes)",
                              st->fill_key, st->filled);
            }
        } else {
            CACHE_COUNT(not_stored, 1);
        }
    } else {
        ops->fill_abort(st->fill);
        st->fill = NULL;
        CACHE_COUNT(not_stored, 1);
    }
    unlock(st);
}

/* How long past its freshness an entry is kept: for stale-while-
 * revalidate, stale-if-error, CacheStaleOnError and revalidation. */
static apr_time_t keep_after(const cache_req_t *st, const cache_resp_cc_t *cc,
                             const cache_resp_info_t *in,
                             const cache_policy_t *pol)
{
    apr_time_t keep = 0;

    if (cc->swr > 0) {
        keep = apr_time_from_sec(cc->swr);
    }
    if (cc->sie > 0 && apr_time_from_sec(cc->sie) > keep) {
        keep = apr_time_from_sec(cc->sie);
    }
    if ((st->conf->stale_on_error != 0 || in->etag != NULL ||
         in->last_modified != NULL) &&
        pol->max_expire > keep) {
        keep = pol->max_expire;
    }
    if ((in->etag != NULL || in->last_modified != NULL) && keep < KEEP_MIN) {
        keep = KEEP_MIN; /* a validator is worth a minute even when
                            CacheMaxExpire is tiny */
    }
    return keep;
}

/* The fields of a response the rules look at. */
static void resp_info(rl_request_t *r, cache_req_t *st, const apr_table_t *h,
                      int status, cache_resp_info_t *in)
{
    memset(in, 0, sizeof(*in));
    in->status = status;
    in->authorization = st->authorization;
    in->req_no_store = st->conf->ignore_cc != 1 && st->rcc.no_store;
    in->set_cookie = apr_table_get(h, "Set-Cookie") != NULL ||
                     apr_table_get(r->err_headers_out, "Set-Cookie") != NULL;
    in->vary = cache_table_join(r->pool, h, "Vary");
    in->expires = apr_table_get(h, "Expires");
    in->date = apr_table_get(h, "Date");
    in->last_modified = apr_table_get(h, "Last-Modified");
    in->etag = apr_table_get(h, "ETag");
    in->age = apr_table_get(h, "Age");
    in->request_time = st->sent ? st->sent : r->request_time;
    in->response_time = apr_time_now();
}

/* Step 3: the backend's answer, at its head. */
static void fill_start(rl_request_t *r, cache_req_t *st)
{
    const cache_store_ops_t *ops = st->store->ops;
    const char *reason = NULL, *vary = NULL, *vkey, *drop;
    cache_resp_info_t in;
    cache_resp_cc_t cc;
    cache_policy_t pol;
    cache_fresh_t fresh;
    cache_meta_t *m = &st->meta;
    apr_off_t max = OR_DEFAULT(cache_g.max_file, 1000000);

    st->phase = CR_NONE;
    hit_release(st); /* a stale entry the backend replaced */
    policy_of(st, &pol);
    resp_info(r, st, r->headers_out, r->status, &in);
    cache_parse_resp_cc(
        r->pool, cache_table_join(r->pool, r->headers_out, "Cache-Control"),
        &cc);
    if (apr_table_get(r->notes, RL_NOTE_ERROR_PAGE) != NULL) {
        reason = "an error page";
    } else if (r->header_only) {
        reason = "the answer to a HEAD request has no body";
    } else if ((reason = cache_storable(&in, &cc, &pol, &fresh)) == NULL &&
               r->clength > max) {
        reason = "larger than CacheMaxFileSize";
    }
    if (reason == NULL) {
        vary = cache_vary_normalize(r->pool, in.vary);
        vkey = vary ? cache_variant_key(r->pool, st->key, vary, r->headers_in)
                    : st->key;
        drop = cc.no_cache_fields;
        if (cc.private_fields != NULL) {
            drop =
                drop ? apr_pstrcat(r->pool, drop, ",", cc.private_fields, NULL)
                     : cc.private_fields;
        }
        memset(m, 0, sizeof(*m));
        m->status = r->status;
        m->request_time = in.request_time;
        m->response_time = in.response_time;
        m->expires = fresh.expires;
        m->stale_until = fresh.expires + keep_after(st, &cc, &in, &pol);
        m->body_len = r->clength;
        m->headers = cache_headers_build(
            r->pool, r->headers_out, r->content_type, drop,
            st->conf->ignore_headers, fresh.initial_age, &m->headers_len);
        st->fill = ops->fill_begin(st->store, vkey, m, r->clength);
        if (st->fill == NULL) {
            reason = "the store did not take it (CacheMaxFileSize, CacheSize)";
        } else {
            st->fill_key = vkey;
            st->fill_vary = vary;
            st->filled = 0;
            rl_response_tap(r, cache_tap, st);
        }
    }
    if (reason != NULL) {
        CACHE_COUNT(not_stored, 1);
        if (st->lock != 0 && st->lock == cache_key_hash(st->key)) {
            /* the waiters, and the next requests for a while, go to the
             * backend at once rather than claim and wait in turn */
            cache_lock_try(
                st->lock ^ PASS_SALT, apr_time_now(),
                OR_DEFAULT(st->conf->lock_max_age, DEFAULT_LOCK_AGE));
        }
        unlock(st);
        if (rl_log_enabled(&cache_module, RL_LOG_DEBUG, r->server)) {
            rl_log_rerror(RL_LOG_DEBUG, 0, r, "not stored %s: %s", r->uri,
                          reason);
        }
    }
    /* the client's own conditional, kept aside: a new 200 that matches
     * it is a 304 for this client (the body still goes to the store) */
    if (st->stashed && r->status == 200 &&
        cache_not_modified(st->c_inm, st->c_ims, in.etag, in.last_modified,
                           in.date)) {
        r->status = 304;
    }
    mark(r, st, "MISS",
         reason ? apr_pstrcat(r->pool, "miss, not stored: ", reason, NULL)
                : "miss, stored");
}

/* ------------------------------------------------------------------ */
/* Revalidation (step 4) and stale answers on errors (step 5)         */
/* ------------------------------------------------------------------ */

int cache_proxy_post_request(rl_request_t *r, rl_proxy_worker_t *worker,
                             rl_proxy_outcome_e outcome)
{
    cache_req_t *st = req_state(r);
    cache_resp_info_t in;
    cache_resp_cc_t cc;
    cache_policy_t pol;
    cache_fresh_t fresh;
    apr_table_t *merged;
    const char *block, *reason;
    apr_size_t len;
    cache_meta_t m;
    apr_time_t now, ia;

    (void)worker;
    if (st == NULL || !st->revalidating || st->phase != CR_FILL ||
        outcome != RL_PROXY_OK || r->status != 304 || !st->held) {
        return RL_OK;
    }
    /* the stored fields, updated by the 304's (RFC 9111 §4.3.4); its own
     * Date and Age give the new initial age */
    policy_of(st, &pol);
    now = apr_time_now();
    ia = cache_initial_age(
        cache_http_date(apr_table_get(r->headers_out, "Date")),
        cache_delta_seconds(apr_table_get(r->headers_out, "Age")), st->sent,
        now);
    block = cache_headers_update(r->pool, st->hdrs, r->headers_out,
                                 st->conf->ignore_headers, ia, &len);
    merged = apr_table_make(r->pool, 12);
    cache_headers_parse(r->pool, block, len, merged);
    resp_info(r, st, merged, st->hit.meta.status, &in);
    in.response_time = now;
    cache_parse_resp_cc(
        r->pool, cache_table_join(r->pool, merged, "Cache-Control"), &cc);
    reason = cache_storable(&in, &cc, &pol, &fresh);
    m = st->hit.meta;
    m.request_time = st->sent;
    m.response_time = now;
    m.headers = block;
    m.headers_len = len;
    if (reason == NULL) {
        m.expires = now + fresh.lifetime - ia;
        if (m.expires > now && (cc.no_cache || fresh.expires <= now)) {
            m.expires = now; /* no-cache, max-age=0: validate each time */
        }
        m.stale_until = m.expires + keep_after(st, &cc, &in, &pol);
        st->store->ops->update_meta(st->store, st->vkey, &m);
    } else {
        /* the 304 now forbids storing: this answer is still good */
        st->store->ops->remove(st->store, st->vkey, 0);
    }
    CACHE_COUNT(revalidated, 1);
    unlock(st);
    if (st->refresh) {
        st->phase = CR_NONE; /* a background refresh needs no body */
        return RL_OK;
    }
    /* answer from the pinned entry with the new fields: nothing of the
     * 304 has been written yet */
    st->hit.meta = m;
    st->hdrs = merged;
    st->initial_age = ia;
    apr_table_clear(r->headers_out);
    r->content_type = NULL;
    r->clength = -1;
    st->no_suspend = 1; /* inside mod_proxy's handler: no suspending */
    serve(r, st, "REVALIDATED", "stale, revalidated with 304",
          entry_age(st, apr_time_now()));
    return RL_OK;
}

int cache_error_response(rl_request_t *r, int status)
{
    cache_req_t *st = req_state(r);
    apr_time_t now, age, staleness;

    if (st == NULL || st->phase != CR_FILL ||
        (status != 500 && status != 502 && status != 503 && status != 504)) {
        return RL_DECLINED;
    }
    now = apr_time_now();
    if (!st->held && (!lookup_entry(r, st, now) ||
                      (st->authorization && !cache_auth_ok(&st->ecc)))) {
        hit_release(st);
        return RL_DECLINED;
    }
    age = entry_age(st, now);
    staleness = age - entry_lifetime(st);
    if ((staleness > 0 &&
         !cache_stale_on_error_ok(staleness, &st->ecc,
                                  st->conf->stale_on_error != 0)) ||
        (now > st->hit.meta.stale_until && now > st->hit.meta.expires)) {
        return RL_DECLINED;
    }
    rl_log_rerror(RL_LOG_INFO, 0, r,
                  "backend failed with %d: answering with the stale cache "
                  "entry (stale for %" APR_TIME_T_FMT " s)",
                  status, apr_time_sec(staleness > 0 ? staleness : 0));
    CACHE_COUNT(stale, 1);
    CACHE_COUNT(stale_on_error, 1);
    unlock(st);
    st->no_suspend = 1;
    apr_table_clear(r->headers_out);
    serve(r, st, "STALE", "stale: the backend failed", age);
    return RL_OK;
}

/* ------------------------------------------------------------------ */
/* Invalidation and PURGE                                             */
/* ------------------------------------------------------------------ */

/* Removes a key and, when it holds a Vary marker, its variants. */
static int remove_key(cache_store_t *s, apr_pool_t *p, const char *key)
{
    cache_hit_t h;
    int variants = 0, n;

    if (s->ops->lookup(s, key, p, &h)) {
        variants = h.meta.vary != NULL;
        s->ops->release(s, &h);
    }
    n = s->ops->remove(s, key, 0);
    if (variants) {
        n += s->ops->remove(s, apr_pstrcat(p, key, " ", NULL), 1);
    }
    return n;
}

int cache_purge_key(apr_pool_t *p, const char *key, int prefix)
{
    int i, n = 0;

    for (i = 0; i < CACHE_TYPES; i++) {
        cache_store_t *s = cache_stores[i];
        if (s == NULL) {
            continue;
        }
        n += prefix ? s->ops->remove(s, key, 1) : remove_key(s, p, key);
    }
    return n;
}

/* The key of a Location / Content-Location on our origin, or NULL. */
static const char *location_key(rl_request_t *r, cache_req_t *st,
                                const char *loc)
{
    const char *path = cache_same_origin_path(
        r->pool, loc, key_host(r), r->connection->local_port, r->uri);
    const char *q, *norm;

    if (path == NULL) {
        return NULL;
    }
    q = strchr(path, '?');
    norm = rl_http_normalize_path(
        r->pool,
        q ? apr_pstrndup(r->pool, path, (apr_size_t)(q - path)) : path);
    return norm ? build_key(r, st->conf, norm, q ? q + 1 : NULL) : NULL;
}

/* An unsafe method answered without an error (RFC 9111 §4.4). */
static void invalidate(rl_request_t *r, cache_req_t *st)
{
    static const char *const fields[] = {"Location", "Content-Location", NULL};
    int i, n;

    st->phase = CR_NONE;
    if (r->status < 200 || r->status >= 400 ||
        apr_table_get(r->notes, RL_NOTE_ERROR_PAGE) != NULL) {
        return;
    }
    n = cache_purge_key(r->pool, st->key, 0);
    for (i = 0; fields[i] != NULL; i++) {
        const char *v = apr_table_get(r->headers_out, fields[i]);
        const char *k = v ? location_key(r, st, v) : NULL;
        if (k != NULL && strcmp(k, st->key) != 0) {
            n += cache_purge_key(r->pool, k, 0);
        }
    }
    if (n > 0) {
        CACHE_COUNT(invalidated, n);
        if (rl_log_enabled(&cache_module, RL_LOG_DEBUG, r->server)) {
            rl_log_rerror(RL_LOG_DEBUG, 0, r,
                          "%s %s invalidated %d cache entries", r->method,
                          r->uri, n);
        }
    }
}

static int purge_request(rl_request_t *r, cache_req_t *st)
{
    int n;

    st->phase = CR_SERVED;
    if (st->conf->purge != 1) {
        rl_log_rerror(RL_LOG_INFO, 0, r,
                      "PURGE %s refused: CachePurge is not On here", r->uri);
        return 405;
    }
    n = cache_purge_key(r->pool, st->key, 0);
    CACHE_COUNT(purged, n);
    apr_table_setn(r->notes, "cache-status", "PURGE");
    rl_log_rerror(RL_LOG_INFO, 0, r, "PURGE %s: %d entries removed", st->key,
                  n);
    r->status = n > 0 ? 200 : 404;
    rl_set_content_type(r, "text/plain");
    if (n > 0) {
        rl_rprintf(r, "purged %d entr%s for %s\n", n, n == 1 ? "y" : "ies",
                   st->key);
    } else {
        rl_rprintf(r, "nothing cached for %s\n", st->key);
    }
    return RL_OK;
}

/* ------------------------------------------------------------------ */
/* response_head                                                      */
/* ------------------------------------------------------------------ */

void cache_response_head(rl_request_t *r)
{
    cache_req_t *st = req_state(r);

    if (st == NULL) {
        return;
    }
    switch (st->phase) {
    case CR_FILL:
        fill_start(r, st);
        break;
    case CR_INVALIDATE:
        invalidate(r, st);
        break;
    case CR_BYPASS:
        st->phase = CR_NONE;
        mark(r, st, "BYPASS", "not cacheable: passed to the backend");
        break;
    default:
        break;
    }
}
