/*
 * status_manager.c: SetHandler balancer-manager.  An operator sees every
 * balancer and its members and changes them at run time: a member's
 * status flags (disabled, stopped, draining, hot standby, hot spare,
 * ignore errors), its loadfactor and route, and the balancer's lbmethod.
 *
 *   GET  <location>          the HTML page (one form per member and per
 *                            balancer, each carrying a fresh nonce)
 *   GET  <location>?json     the same state as JSON, with a nonce
 *   POST <location>[?json]   a change: form-encoded fields (httpd's
 *                            names: b, w, w_status_X, w_lf, w_wr, b_lbm)
 *                            and the nonce; answered with 303 to the page,
 *                            or with the new state as JSON
 *
 * A change is written to shared memory at once (the workers' shared
 * state, the balancer's lbmethod index), so every child uses it from its
 * next pick, and logged at notice with who made it and what changed.
 *
 * Against cross-site request forgery: a POST must carry a nonce that a
 * page or ?json handed out, each good once and for an hour (a ring of
 * them in shared memory, so any child checks what another issued), and
 * when the browser names the page that sent it (Origin, else Referer),
 * that page must be this server.  Another site can neither read a nonce
 * (same-origin policy: no CORS headers here) nor forge the Origin.
 *
 * What the manager changed outlives a graceful restart: each change is
 * also written to a record per member and per balancer in a shared
 * segment the parent keeps (retained data); at the next generation's
 * post_config the parent applies the records of the members that still
 * exist, unless the configuration itself changed that value since (then
 * the newer word, the configuration's, wins).  A member removed from the
 * configuration loses its record.
 */
#include "status_private.h"

#include "rl_proxy.h"

#include <apr_atomic.h>
#include <apr_escape.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <dlfcn.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

RL_LOG_USE_MODULE(status);

#define MGR_HANDLER "balancer-manager"
#define MGR_BODY_MAX 16384
#define MGR_NONCES 1024
#define MGR_NONCE_BYTES 16
#define MGR_NONCE_TTL apr_time_from_sec(3600)
#define MGR_KEY_MAX 512
#define MGR_LBM_MAX 32

/* The status bits an operator may set here (httpd's manager's set). */
#define MGR_BITS                                                               \
    (RL_WORKER_DISABLED | RL_WORKER_STOPPED | RL_WORKER_DRAINING |             \
     RL_WORKER_HOT_STANDBY | RL_WORKER_HOT_SPARE | RL_WORKER_IGNORE_ERRORS)

static const struct {
    char letter;       /* w_status_<letter>, as httpd */
    apr_uint32_t bit;  /* RL_WORKER_* */
    const char *name;  /* JSON key and log word */
    const char *label; /* on the page */
} mgr_flags[] = {
    {'D', RL_WORKER_DISABLED, "disabled", "Disabled"},
    {'N', RL_WORKER_DRAINING, "draining", "Drain"},
    {'H', RL_WORKER_HOT_STANDBY, "hot_standby", "Hot standby"},
    {'S', RL_WORKER_STOPPED, "stopped", "Stopped"},
    {'R', RL_WORKER_HOT_SPARE, "hot_spare", "Hot spare"},
    {'I', RL_WORKER_IGNORE_ERRORS, "ignore_errors", "Ignore errors"},
};
#define MGR_NFLAGS (sizeof(mgr_flags) / sizeof(mgr_flags[0]))

/* ------------------------------------------------------------------ */
/* Shared records                                                      */
/* ------------------------------------------------------------------ */

/* One nonce handed out.  tag is odd while the nonce may be used; every
 * (re)issue moves it to a value not seen before, so a check that raced
 * with a reissue fails its compare-and-swap instead of taking the new
 * nonce. */
typedef struct mgr_nonce_t {
    volatile apr_uint32_t tag;
    apr_time_t issued;
    unsigned char value[MGR_NONCE_BYTES];
} mgr_nonce_t;

typedef struct mgr_nonces_t {
    volatile apr_uint32_t next;
    mgr_nonce_t slot[MGR_NONCES];
} mgr_nonces_t;

/* What the manager set for one member ("balancer|member") or balancer
 * ("balancer|"), and what the configuration said then.  POD: it lives in
 * shared memory and outlives the generation that wrote it. */
typedef struct mgr_override_t {
    char key[MGR_KEY_MAX];
    volatile apr_uint32_t lock;
    apr_uint32_t status_mask; /* bits the manager set */
    apr_uint32_t status_val;  /* their values */
    apr_uint32_t status_cfg;  /* the configuration's values then */
    apr_uint32_t lf, lf_cfg;  /* loadfactor (0: not set) */
    int has_route;
    char route[RL_WORKER_ROUTE_MAX], route_cfg[RL_WORKER_ROUTE_MAX];
    int has_lbm;
    char lbm[MGR_LBM_MAX], lbm_cfg[MGR_LBM_MAX];
} mgr_override_t;

/* The records' layout: a graceful restart onto a mod_status.so whose
 * records differ (an upgrade) starts without the old ones rather than
 * misreading them. */
#define MGR_LAYOUT                                                             \
    ((apr_uint32_t)(sizeof(mgr_override_t) + (sizeof(mgr_nonces_t) << 16)))

/* Kept by the parent across generations (rl_retained_data_*). */
typedef struct mgr_retained_t {
    apr_uint32_t layout; /* MGR_LAYOUT of the generation that made them */
    apr_shm_t *nonce_shm;
    apr_pool_t *ovr_pool; /* holds ovr_shm; replaced with it */
    apr_shm_t *ovr_shm;
    int novr;
} mgr_retained_t;

/* mod_proxy's functions, looked up by name: mod_status loads without
 * mod_proxy and in any LoadModule order (as mod_cache does). */
typedef struct mgr_proxy_api_t {
    const apr_array_header_t *(*workers)(void);
    apr_uint32_t (*set_status)(rl_proxy_worker_t *, apr_uint32_t, apr_uint32_t,
                               const char *, const char *);
    const char *(*route)(const rl_proxy_worker_t *, char *, apr_size_t);
    apr_status_t (*set_route)(rl_proxy_worker_t *, const char *);
    int (*usable)(const rl_proxy_worker_t *, apr_time_t);
} mgr_proxy_api_t;

/* This generation's view (set in the parent, inherited by children). */
static struct {
    mgr_proxy_api_t api;
    apr_array_header_t *balancers; /* rl_proxy_balancer_t *, config order */
    mgr_override_t **of_worker;    /* by w->index */
    mgr_override_t **of_balancer;  /* parallel to balancers */
    apr_uint32_t *cfg_status;      /* configured MGR_BITS, by w->index */
    mgr_nonces_t *nonces;
} mgr;

static apr_status_t mgr_reset(void *unused)
{
    (void)unused;
    memset(&mgr, 0, sizeof(mgr));
    return APR_SUCCESS;
}


static void *mgr_sym(const char *name)
{
    return dlsym(RTLD_DEFAULT, name);
}


/* Function pointers from dlsym (a void * converted through memcpy: ISO C
 * has no cast between object and function pointers). */
static int mgr_find_proxy(void)
{
    void *sym[5];
    const char *names[] = {"rl_proxy_workers", "rl_proxy_worker_set_status",
                           "rl_proxy_worker_route", "rl_proxy_worker_set_route",
                           "rl_proxy_worker_usable"};
    unsigned i;

    for (i = 0; i < 5; i++) {
        sym[i] = mgr_sym(names[i]);
        if (sym[i] == NULL) {
            memset(&mgr.api, 0, sizeof(mgr.api));
            return 0;
        }
    }
    memcpy(&mgr.api.workers, &sym[0], sizeof(sym[0]));
    memcpy(&mgr.api.set_status, &sym[1], sizeof(sym[1]));
    memcpy(&mgr.api.route, &sym[2], sizeof(sym[2]));
    memcpy(&mgr.api.set_route, &sym[3], sizeof(sym[3]));
    memcpy(&mgr.api.usable, &sym[4], sizeof(sym[4]));
    return 1;
}


static void ovr_lock(mgr_override_t *o)
{
    /* held for a few stores, never across I/O */
    while (apr_atomic_cas32(&o->lock, 1, 0) != 0) {
        sched_yield();
    }
}


static void ovr_unlock(mgr_override_t *o)
{
    apr_atomic_set32(&o->lock, 0);
}


static const char *member_key(apr_pool_t *p, const rl_proxy_balancer_t *b,
                              const rl_proxy_worker_t *w)
{
    return apr_pstrcat(p, b->name, "|", w ? w->name : "", NULL);
}


static const char *method_name(const rl_proxy_balancer_t *b)
{
    apr_uint32_t i = b->lbmethod_index ? *b->lbmethod_index : 0;

    if (b->lbmethods != NULL && i < (apr_uint32_t)b->nlbmethods) {
        return b->lbmethods[i]->name;
    }
    return b->lbmethod ? b->lbmethod->name : "";
}


static int method_index(const rl_proxy_balancer_t *b, const char *name)
{
    int i;

    for (i = 0; b->lbmethods != NULL && i < b->nlbmethods; i++) {
        if (strcasecmp(b->lbmethods[i]->name, name) == 0) {
            return i;
        }
    }
    return -1;
}


/* ------------------------------------------------------------------ */
/* Start-up: the segments, and what an earlier generation kept         */
/* ------------------------------------------------------------------ */

static void collect_balancers(apr_pool_t *p, const apr_array_header_t *all)
{
    int i, j;

    mgr.balancers = apr_array_make(p, 4, sizeof(rl_proxy_balancer_t *));
    for (i = 0; i < all->nelts; i++) {
        rl_proxy_balancer_t *b =
            APR_ARRAY_IDX(all, i, rl_proxy_worker_t *)->balancer;
        if (b == NULL) {
            continue;
        }
        for (j = 0; j < mgr.balancers->nelts; j++) {
            if (APR_ARRAY_IDX(mgr.balancers, j, rl_proxy_balancer_t *) == b) {
                break;
            }
        }
        if (j == mgr.balancers->nelts) {
            APR_ARRAY_PUSH(mgr.balancers, rl_proxy_balancer_t *) = b;
        }
    }
}


/* The nonce ring: made once, kept for the server's life (a page loaded
 * before a graceful restart can still be submitted after it). */
static apr_status_t attach_nonces(mgr_retained_t *ret, rl_server_t *s)
{
    apr_status_t rv;

    if (ret->nonce_shm == NULL) {
        rv = apr_shm_create(&ret->nonce_shm, sizeof(mgr_nonces_t), NULL,
                            rl_retained_pool());
        if (rv != APR_SUCCESS) {
            rl_log_error(RL_LOG_EMERG, rv, s,
                         "balancer-manager: cannot create shared memory "
                         "for its nonces (%lu bytes)",
                         (unsigned long)sizeof(mgr_nonces_t));
            return rv;
        }
        memset(apr_shm_baseaddr_get(ret->nonce_shm), 0, sizeof(mgr_nonces_t));
    }
    mgr.nonces = apr_shm_baseaddr_get(ret->nonce_shm);
    return APR_SUCCESS;
}


static const char *on_off(apr_uint32_t v)
{
    return v ? "on" : "off";
}


/* The member's bits as the old generation's manager left them, where the
 * configuration still says what it said then. */
static void restore_status(rl_proxy_worker_t *w, const mgr_override_t *old,
                           mgr_override_t *o, apr_pool_t *p, char **kept,
                           char **dropped)
{
    apr_uint32_t cfg = mgr.cfg_status[w->index], set = 0, clear = 0;
    unsigned i;

    for (i = 0; i < MGR_NFLAGS; i++) {
        apr_uint32_t bit = mgr_flags[i].bit;
        if (!(old->status_mask & bit)) {
            continue;
        }
        if ((cfg & bit) != (old->status_cfg & bit)) {
            *dropped = apr_psprintf(p, "%s%s%s", *dropped,
                                    **dropped ? ", " : "", mgr_flags[i].name);
            continue;
        }
        o->status_mask |= bit;
        o->status_val |= old->status_val & bit;
        o->status_cfg |= cfg & bit;
        if (old->status_val & bit) {
            set |= bit;
        } else {
            clear |= bit;
        }
        *kept = apr_psprintf(p, "%s%s%s %s", *kept, **kept ? ", " : "",
                             mgr_flags[i].name, on_off(old->status_val & bit));
    }
    if (set | clear) {
        mgr.api.set_status(w, set, clear, "manager",
                           "kept across a graceful restart");
    }
}


static void restore_member(rl_proxy_worker_t *w, const mgr_override_t *old,
                           mgr_override_t *o, apr_pool_t *p, rl_server_t *s)
{
    char *kept = "", *dropped = "";
    const char *route_cfg = w->route ? w->route : "";

    restore_status(w, old, o, p, &kept, &dropped);
    if (old->lf != 0 && old->lf_cfg == (apr_uint32_t)w->loadfactor) {
        o->lf = old->lf;
        o->lf_cfg = old->lf_cfg;
        apr_atomic_set32(&w->s->loadfactor, old->lf);
        kept = apr_psprintf(p, "%s%sloadfactor %u", kept, *kept ? ", " : "",
                            old->lf);
    } else if (old->lf != 0) {
        dropped =
            apr_psprintf(p, "%s%sloadfactor", dropped, *dropped ? ", " : "");
    }
    if (old->has_route && strcmp(old->route_cfg, route_cfg) == 0) {
        o->has_route = 1;
        memcpy(o->route, old->route, sizeof(o->route));
        memcpy(o->route_cfg, old->route_cfg, sizeof(o->route_cfg));
        mgr.api.set_route(w, old->route);
        kept = apr_psprintf(p, "%s%sroute '%s'", kept, *kept ? ", " : "",
                            old->route);
    } else if (old->has_route) {
        dropped = apr_psprintf(p, "%s%sroute", dropped, *dropped ? ", " : "");
    }
    if (*kept) {
        rl_log_error(RL_LOG_NOTICE, 0, s,
                     "balancer-manager: %s member %s keeps what was set at "
                     "run time: %s",
                     w->balancer->name, w->name, kept);
    }
    if (*dropped) {
        rl_log_error(RL_LOG_NOTICE, 0, s,
                     "balancer-manager: %s member %s: the configuration "
                     "changed %s since it was set at run time; the "
                     "configuration's value applies",
                     w->balancer->name, w->name, dropped);
    }
}


static void restore_balancer(rl_proxy_balancer_t *b, const mgr_override_t *old,
                             mgr_override_t *o, rl_server_t *s)
{
    int i;

    if (!old->has_lbm) {
        return;
    }
    i = method_index(b, old->lbm);
    if (strcmp(old->lbm_cfg, b->lbmethod->name) != 0 || i < 0) {
        rl_log_error(RL_LOG_NOTICE, 0, s,
                     "balancer-manager: %s: lbmethod %s was set at run time, "
                     "but %s; lbmethod=%s applies",
                     b->name, old->lbm,
                     i < 0 ? "no such method is loaded now"
                           : "the configuration changed it since",
                     b->lbmethod->name);
        return;
    }
    o->has_lbm = 1;
    memcpy(o->lbm, old->lbm, sizeof(o->lbm));
    memcpy(o->lbm_cfg, old->lbm_cfg, sizeof(o->lbm_cfg));
    apr_atomic_set32(b->lbmethod_index, (apr_uint32_t)i);
    apr_atomic_inc32(b->generation);
    rl_log_error(RL_LOG_NOTICE, 0, s,
                 "balancer-manager: %s keeps lbmethod %s, set at run time "
                 "(configured: %s)",
                 b->name, old->lbm, b->lbmethod->name);
}


/* The old generation's record for key, or NULL. */
static const mgr_override_t *old_record(apr_hash_t *old, const char *key)
{
    return old ? apr_hash_get(old, key, APR_HASH_KEY_STRING) : NULL;
}


static apr_hash_t *index_old(apr_pool_t *ptemp, const mgr_retained_t *ret)
{
    apr_hash_t *h;
    const mgr_override_t *rec;
    int i;

    if (ret->ovr_shm == NULL) {
        return NULL;
    }
    h = apr_hash_make(ptemp);
    rec = apr_shm_baseaddr_get(ret->ovr_shm);
    for (i = 0; i < ret->novr; i++) {
        apr_hash_set(h, rec[i].key, APR_HASH_KEY_STRING, &rec[i]);
    }
    return h;
}


/* One record per balancer member and per balancer, in a new segment; the
 * old generation's records are applied where they still fit. */
static apr_status_t attach_overrides(mgr_retained_t *ret, apr_pool_t *pconf,
                                     apr_pool_t *ptemp, rl_server_t *s,
                                     const apr_array_header_t *all)
{
    apr_hash_t *old = index_old(ptemp, ret);
    mgr_override_t *rec;
    apr_pool_t *pool;
    apr_shm_t *shm;
    apr_status_t rv;
    int i, n = 0, k = 0;

    for (i = 0; i < all->nelts; i++) {
        n += APR_ARRAY_IDX(all, i, rl_proxy_worker_t *)->balancer != NULL;
    }
    n += mgr.balancers->nelts;
    apr_pool_create(&pool, rl_retained_pool());
    rv = apr_shm_create(&shm, sizeof(mgr_override_t) * (apr_size_t)n, NULL,
                        pool);
    if (rv != APR_SUCCESS) {
        rl_log_error(RL_LOG_EMERG, rv, s,
                     "balancer-manager: cannot create shared memory for %d "
                     "records",
                     n);
        apr_pool_destroy(pool);
        return rv;
    }
    rec = apr_shm_baseaddr_get(shm);
    memset(rec, 0, sizeof(*rec) * (apr_size_t)n);
    mgr.of_worker = apr_pcalloc(pconf, sizeof(*mgr.of_worker) *
                                           (apr_size_t)(all->nelts + 1));
    mgr.of_balancer =
        apr_pcalloc(pconf, sizeof(*mgr.of_balancer) * (apr_size_t)(n + 1));
    for (i = 0; i < all->nelts; i++) {
        rl_proxy_worker_t *w = APR_ARRAY_IDX(all, i, rl_proxy_worker_t *);
        const mgr_override_t *o;
        if (w->balancer == NULL) {
            continue;
        }
        apr_cpystrn(rec[k].key, member_key(ptemp, w->balancer, w),
                    sizeof(rec[k].key));
        mgr.of_worker[w->index] = &rec[k];
        if ((o = old_record(old, rec[k].key)) != NULL) {
            restore_member(w, o, &rec[k], ptemp, s);
        }
        k++;
    }
    for (i = 0; i < mgr.balancers->nelts; i++) {
        rl_proxy_balancer_t *b =
            APR_ARRAY_IDX(mgr.balancers, i, rl_proxy_balancer_t *);
        const mgr_override_t *o;
        apr_cpystrn(rec[k].key, member_key(ptemp, b, NULL), sizeof(rec[k].key));
        mgr.of_balancer[i] = &rec[k];
        if ((o = old_record(old, rec[k].key)) != NULL) {
            restore_balancer(b, o, &rec[k], s);
        }
        k++;
    }
    if (ret->ovr_pool != NULL) {
        /* unmaps the parent's view: old children keep theirs */
        apr_pool_destroy(ret->ovr_pool);
    }
    ret->ovr_pool = pool;
    ret->ovr_shm = shm;
    ret->novr = n;
    return APR_SUCCESS;
}


static int mgr_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, rl_server_t *s)
{
    mgr_retained_t *ret;
    const apr_array_header_t *all;
    int i;

    (void)plog;
    mgr_reset(NULL);
    apr_pool_cleanup_register(pconf, NULL, mgr_reset, apr_pool_cleanup_null);
    if (!mgr_find_proxy() || (all = mgr.api.workers()) == NULL) {
        return RL_OK; /* no mod_proxy: the page says so */
    }
    collect_balancers(pconf, all);
    if (mgr.balancers->nelts == 0) {
        return RL_OK;
    }
    /* the configured bits, before anything kept is applied over them */
    mgr.cfg_status =
        apr_pcalloc(pconf, sizeof(apr_uint32_t) * (apr_size_t)(all->nelts + 1));
    for (i = 0; i < all->nelts; i++) {
        rl_proxy_worker_t *w = APR_ARRAY_IDX(all, i, rl_proxy_worker_t *);
        mgr.cfg_status[w->index] = w->s->status & MGR_BITS;
    }
    ret = rl_retained_data_get("status-manager");
    if (ret == NULL) {
        ret = rl_retained_data_create("status-manager", sizeof(*ret));
        ret->layout = MGR_LAYOUT;
    }
    if (ret->layout != MGR_LAYOUT) {
        rl_log_error(RL_LOG_NOTICE, 0, s,
                     "balancer-manager: this mod_status keeps its records "
                     "differently; what was set at run time before this "
                     "restart is not carried over");
        memset(ret, 0, sizeof(*ret)); /* the old segments stay mapped */
        ret->layout = MGR_LAYOUT;
    }
    if (attach_nonces(ret, s) != APR_SUCCESS ||
        attach_overrides(ret, pconf, ptemp, s, all) != APR_SUCCESS) {
        return 500;
    }
    return RL_OK;
}


/* ------------------------------------------------------------------ */
/* Nonces                                                              */
/* ------------------------------------------------------------------ */

static const char hexdigits[] = "0123456789abcdef";

static char *nonce_hex(apr_pool_t *p, const unsigned char *v)
{
    char *out = apr_palloc(p, 2 * MGR_NONCE_BYTES + 1);
    int i;

    for (i = 0; i < MGR_NONCE_BYTES; i++) {
        out[2 * i] = hexdigits[v[i] >> 4];
        out[2 * i + 1] = hexdigits[v[i] & 15];
    }
    out[2 * MGR_NONCE_BYTES] = '\0';
    return out;
}


/* A fresh nonce, good once (NULL when random bytes are not to be had). */
static const char *nonce_issue(apr_pool_t *p)
{
    unsigned char v[MGR_NONCE_BYTES];
    mgr_nonce_t *n;
    apr_uint32_t t;

    if (apr_generate_random_bytes(v, sizeof(v)) != APR_SUCCESS) {
        return NULL;
    }
    n = &mgr.nonces->slot[apr_atomic_inc32(&mgr.nonces->next) % MGR_NONCES];
    /* even: not usable while it is rewritten */
    do {
        t = n->tag;
    } while (apr_atomic_cas32(&n->tag, (t | 1) + 1, t) != t);
    memcpy(n->value, v, sizeof(v));
    n->issued = apr_time_now();
    __atomic_fetch_add(&n->tag, 1, __ATOMIC_RELEASE);
    return nonce_hex(p, v);
}


static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}


/* Spends the nonce: 1 when it was handed out, unused, and is not older
 * than MGR_NONCE_TTL. */
static int nonce_spend(const char *hex)
{
    unsigned char v[MGR_NONCE_BYTES];
    apr_time_t now = apr_time_now();
    int i;

    if (hex == NULL || strlen(hex) != 2 * MGR_NONCE_BYTES) {
        return 0;
    }
    for (i = 0; i < MGR_NONCE_BYTES; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return 0;
        }
        v[i] = (unsigned char)(hi << 4 | lo);
    }
    for (i = 0; i < MGR_NONCES; i++) {
        mgr_nonce_t *n = &mgr.nonces->slot[i];
        apr_uint32_t t = __atomic_load_n(&n->tag, __ATOMIC_ACQUIRE);
        if (!(t & 1) || memcmp(n->value, v, sizeof(v)) != 0) {
            continue;
        }
        if (now - n->issued > MGR_NONCE_TTL) {
            return 0;
        }
        /* the first to move the tag owns it; a reissue in between has
         * moved it already */
        return apr_atomic_cas32(&n->tag, t + 1, t) == t;
    }
    return 0;
}


/* ------------------------------------------------------------------ */
/* Escaping                                                            */
/* ------------------------------------------------------------------ */

static const char *html(apr_pool_t *p, const char *s)
{
    return s ? apr_pescape_entity(p, s, 1) : "";
}


static const char *json_str(apr_pool_t *p, const char *s)
{
    apr_size_t n = 2;
    const char *c;
    char *out, *o;

    if (s == NULL) {
        return "null";
    }
    for (c = s; *c; c++) {
        n += 6;
    }
    o = out = apr_palloc(p, n + 1);
    *o++ = '"';
    for (c = s; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u == '"' || u == '\\') {
            *o++ = '\\';
            *o++ = (char)u;
        } else if (u < 0x20 || u == 0x7f) {
            o += apr_snprintf(o, 7, "\\u%04x", u);
        } else {
            *o++ = (char)u;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}


/* ------------------------------------------------------------------ */
/* The state: HTML and JSON                                            */
/* ------------------------------------------------------------------ */

/* httpd's status words, for the page and the log */
static const char *status_words(apr_pool_t *p, const rl_proxy_worker_t *w)
{
    static const struct {
        apr_uint32_t bit;
        const char *word;
    } words[] = {{RL_WORKER_DISABLED, "Dis"},     {RL_WORKER_STOPPED, "Stop"},
                 {RL_WORKER_IN_ERROR, "Err"},     {RL_WORKER_HC_FAILED, "HcFl"},
                 {RL_WORKER_UNRESOLVED, "Unres"}, {RL_WORKER_DRAINING, "Drn"},
                 {RL_WORKER_HOT_STANDBY, "Stby"}, {RL_WORKER_HOT_SPARE, "Spar"},
                 {RL_WORKER_IGNORE_ERRORS, "Ign"}};
    apr_uint32_t st = w->s->status;
    const char *out = mgr.api.usable(w, apr_time_now()) ? "Ok" : "";
    unsigned i;

    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (st & words[i].bit) {
            out = apr_pstrcat(p, out, *out ? " " : "", words[i].word, NULL);
        }
    }
    return *out ? out : "Down";
}


static int balancer_index(const rl_proxy_balancer_t *b)
{
    int i;

    for (i = 0; i < mgr.balancers->nelts; i++) {
        if (APR_ARRAY_IDX(mgr.balancers, i, rl_proxy_balancer_t *) == b) {
            return i;
        }
    }
    return -1;
}


/* What the manager set for w (or b) and what is still in force, for the
 * page's "set at run time" marks. */
static mgr_override_t ovr_snapshot(mgr_override_t *o)
{
    mgr_override_t copy;

    memset(&copy, 0, sizeof(copy));
    if (o != NULL) {
        ovr_lock(o);
        copy = *o;
        ovr_unlock(o);
    }
    return copy;
}


static void json_member(rl_request_t *r, apr_array_header_t *out,
                        rl_proxy_worker_t *w)
{
    apr_pool_t *p = r->pool;
    char route[RL_WORKER_ROUTE_MAX];
    mgr_override_t o = ovr_snapshot(mgr.of_worker[w->index]);
    const char *flags = "", *set = "";
    unsigned i;

    for (i = 0; i < MGR_NFLAGS; i++) {
        flags = apr_psprintf(
            p, "%s%s\"%s\":%s", flags, i ? "," : "", mgr_flags[i].name,
            (w->s->status & mgr_flags[i].bit) ? "true" : "false");
        if (o.status_mask & mgr_flags[i].bit) {
            set = apr_psprintf(p, "%s%s\"%s\"", set, *set ? "," : "",
                               mgr_flags[i].name);
        }
    }
    if (o.lf) {
        set = apr_psprintf(p, "%s%s\"loadfactor\"", set, *set ? "," : "");
    }
    if (o.has_route) {
        set = apr_psprintf(p, "%s%s\"route\"", set, *set ? "," : "");
    }
    APR_ARRAY_PUSH(out, const char *) = apr_psprintf(
        p,
        "{\"name\":%s,\"route\":%s,\"loadfactor\":%u,\"lbset\":%d,"
        "\"status\":{%s,\"in_error\":%s,\"health_failed\":%s,"
        "\"unresolved\":%s},\"state\":%s,\"usable\":%s,\"busy\":%u,"
        "\"requests\":%" APR_UINT64_T_FMT ",\"errors\":%" APR_UINT64_T_FMT
        ",\"bytes_in\":%" APR_UINT64_T_FMT ",\"bytes_out\":%" APR_UINT64_T_FMT
        ",\"set_at_run_time\":[%s],\"configured\":{\"loadfactor\":%d,"
        "\"route\":%s}}",
        json_str(p, w->name),
        json_str(p, mgr.api.route(w, route, sizeof(route))), w->s->loadfactor,
        w->lbset, flags, (w->s->status & RL_WORKER_IN_ERROR) ? "true" : "false",
        (w->s->status & RL_WORKER_HC_FAILED) ? "true" : "false",
        (w->s->status & RL_WORKER_UNRESOLVED) ? "true" : "false",
        json_str(p, status_words(p, w)),
        mgr.api.usable(w, apr_time_now()) ? "true" : "false", w->s->busy,
        w->s->requests, w->s->errors, w->s->bytes_in, w->s->bytes_out, set,
        w->loadfactor, json_str(p, w->route));
}


static const char *json_balancer(rl_request_t *r, rl_proxy_balancer_t *b)
{
    apr_pool_t *p = r->pool;
    apr_array_header_t *parts = apr_array_make(p, 8, sizeof(const char *));
    const char *methods = "";
    int i;

    for (i = 0; i < b->nlbmethods; i++) {
        methods = apr_psprintf(p, "%s%s%s", methods, i ? "," : "",
                               json_str(p, b->lbmethods[i]->name));
    }
    for (i = 0; i < b->members->nelts; i++) {
        json_member(r, parts,
                    APR_ARRAY_IDX(b->members, i, rl_proxy_worker_t *));
    }
    return apr_psprintf(
        p,
        "{\"name\":%s,\"lbmethod\":%s,\"configured\":{\"lbmethod\":%s},"
        "\"lbmethods\":[%s],\"stickysession\":%s,\"members\":[%s]}",
        json_str(p, b->name), json_str(p, method_name(b)),
        json_str(p, b->lbmethod->name), methods, json_str(p, b->sticky_cookie),
        apr_array_pstrcat(p, parts, ','));
}


static int send_body(rl_request_t *r, const char *type, const char *body)
{
    apr_size_t n = strlen(body);

    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    rl_set_content_type(r, type);
    rl_set_content_length(r, (apr_off_t)n);
    rl_rwrite(r, body, n);
    return RL_OK;
}


static int send_json(rl_request_t *r)
{
    apr_pool_t *p = r->pool;
    apr_array_header_t *parts = apr_array_make(p, 4, sizeof(const char *));
    const char *nonce = nonce_issue(p);
    int i;

    if (nonce == NULL) {
        return 500;
    }
    for (i = 0; i < mgr.balancers->nelts; i++) {
        APR_ARRAY_PUSH(parts, const char *) = json_balancer(
            r, APR_ARRAY_IDX(mgr.balancers, i, rl_proxy_balancer_t *));
    }
    return send_body(r, "application/json",
                     apr_psprintf(p, "{\"nonce\":\"%s\",\"balancers\":[%s]}\n",
                                  nonce, apr_array_pstrcat(p, parts, ',')));
}


static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<title>Balancer manager</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\n"
    "h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.6em}\n"
    "table{border-collapse:collapse}\n"
    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;"
    "vertical-align:top}\n"
    "th{background:#eef}\n"
    "td.num{text-align:right}\n"
    ".ok{color:#070;font-weight:bold} .out{color:#b00;font-weight:bold}\n"
    ".rt{color:#a50;font-size:.85em}\n"
    "form.member label{white-space:nowrap;margin-right:.6em}\n"
    "input[type=number]{width:4em} input.route{width:6em}\n"
    "</style></head><body>\n<h1>Balancer manager</h1>\n";


static const char *run_time_mark(int set)
{
    return set ? " <span class=\"rt\" title=\"set in this manager; kept "
                 "across graceful restarts\">(run time)</span>"
               : "";
}


static const char *member_form(rl_request_t *r, rl_proxy_balancer_t *b,
                               rl_proxy_worker_t *w, const char *nonce,
                               const char *route)
{
    apr_pool_t *p = r->pool;
    const char *out;
    unsigned i;

    out = apr_psprintf(p,
                       "<form class=\"member\" method=\"post\" action=\"%s\" "
                       "data-member=\"%s\">\n"
                       "<input type=\"hidden\" name=\"nonce\" value=\"%s\">"
                       "<input type=\"hidden\" name=\"b\" value=\"%s\">"
                       "<input type=\"hidden\" name=\"w\" value=\"%s\">\n",
                       html(p, r->uri), html(p, w->name), nonce,
                       html(p, b->name), html(p, w->name));
    for (i = 0; i < MGR_NFLAGS; i++) {
        /* the hidden 0 goes first: an unticked box sends nothing, a
         * ticked one sends 0 then 1, and the last value wins */
        out = apr_psprintf(
            p,
            "%s<label><input type=\"hidden\" name=\"w_status_%c\" "
            "value=\"0\"><input type=\"checkbox\" name=\"w_status_%c\" "
            "value=\"1\"%s> %s</label>\n",
            out, mgr_flags[i].letter, mgr_flags[i].letter,
            (w->s->status & mgr_flags[i].bit) ? " checked" : "",
            mgr_flags[i].label);
    }
    return apr_psprintf(
        p,
        "%s<label>Load factor <input type=\"number\" name=\"w_lf\" min=\"1\" "
        "max=\"100\" value=\"%u\"></label>\n"
        "<label>Route <input class=\"route\" name=\"w_wr\" maxlength=\"%d\" "
        "value=\"%s\"></label>\n"
        "<button type=\"submit\">Update</button></form>",
        out, w->s->loadfactor, RL_WORKER_ROUTE_MAX - 1, html(p, route));
}


static const char *member_row(rl_request_t *r, rl_proxy_balancer_t *b,
                              rl_proxy_worker_t *w, const char *nonce)
{
    apr_pool_t *p = r->pool;
    char buf[RL_WORKER_ROUTE_MAX];
    const char *route = mgr.api.route(w, buf, sizeof(buf));
    mgr_override_t o = ovr_snapshot(mgr.of_worker[w->index]);
    int usable = mgr.api.usable(w, apr_time_now());

    route = route ? apr_pstrdup(p, route) : NULL;
    return apr_psprintf(
        p,
        "<tr data-member=\"%s\"><td>%s</td><td>%s%s</td>"
        "<td class=\"num\">%u%s</td><td class=\"num\">%d</td>"
        "<td class=\"state %s\">%s%s</td><td class=\"num\">%u</td>"
        "<td class=\"num\">%" APR_UINT64_T_FMT "</td>"
        "<td class=\"num\">%" APR_UINT64_T_FMT "</td>"
        "<td class=\"num\">%" APR_UINT64_T_FMT "</td>"
        "<td class=\"num\">%" APR_UINT64_T_FMT "</td><td>%s</td></tr>\n",
        html(p, w->name), html(p, w->name), html(p, route),
        run_time_mark(o.has_route), w->s->loadfactor, run_time_mark(o.lf != 0),
        w->lbset, usable ? "ok" : "out", status_words(p, w),
        run_time_mark(o.status_mask != 0), w->s->busy, w->s->requests,
        w->s->errors, w->s->bytes_out, w->s->bytes_in,
        member_form(r, b, w, nonce, route));
}


static const char *balancer_section(rl_request_t *r, rl_proxy_balancer_t *b,
                                    const char *nonce)
{
    apr_pool_t *p = r->pool;
    mgr_override_t o = ovr_snapshot(mgr.of_balancer[balancer_index(b)]);
    const char *options = "", *rows = "";
    int i;

    for (i = 0; i < b->nlbmethods; i++) {
        const char *name = b->lbmethods[i]->name;
        options =
            apr_psprintf(p, "%s<option%s>%s</option>", options,
                         strcmp(name, method_name(b)) == 0 ? " selected" : "",
                         html(p, name));
    }
    for (i = 0; i < b->members->nelts; i++) {
        rows = apr_pstrcat(
            p, rows,
            member_row(r, b, APR_ARRAY_IDX(b->members, i, rl_proxy_worker_t *),
                       nonce),
            NULL);
    }
    return apr_psprintf(
        p,
        "<h2>%s</h2>\n"
        "<form class=\"balancer\" method=\"post\" action=\"%s\" "
        "data-balancer=\"%s\">"
        "<input type=\"hidden\" name=\"nonce\" value=\"%s\">"
        "<input type=\"hidden\" name=\"b\" value=\"%s\">"
        "<label>Load-balancing method <select name=\"b_lbm\">%s</select>"
        "</label>%s <button type=\"submit\">Set method</button>"
        " (configured: %s; sticky session: %s)</form>\n"
        "<table><tr><th>Member</th><th>Route</th><th>Factor</th><th>Set</th>"
        "<th>Status</th><th>Busy</th><th>Requests</th><th>Errors</th>"
        "<th>Bytes to</th><th>Bytes from</th><th>Change</th>"
        "</tr>\n%s</table>\n",
        html(p, b->name), html(p, r->uri), html(p, b->name), nonce,
        html(p, b->name), options, run_time_mark(o.has_lbm),
        html(p, b->lbmethod->name),
        b->sticky_cookie ? html(p, b->sticky_cookie) : "none", rows);
}


static int send_page(rl_request_t *r)
{
    apr_pool_t *p = r->pool;
    const char *nonce = nonce_issue(p), *body = page_head;
    int i;

    if (nonce == NULL) {
        return 500;
    }
    for (i = 0; i < mgr.balancers->nelts; i++) {
        body = apr_pstrcat(
            p, body,
            balancer_section(
                r, APR_ARRAY_IDX(mgr.balancers, i, rl_proxy_balancer_t *),
                nonce),
            NULL);
    }
    body = apr_pstrcat(p, body,
                       "<p>Changes apply at once in every child, are logged, "
                       "and are kept across graceful restarts.</p>\n"
                       "</body></html>\n",
                       NULL);
    /* the page holds nonces: no framing by another site, no caching */
    apr_table_setn(r->headers_out, "X-Frame-Options", "DENY");
    apr_table_setn(r->headers_out, "Content-Security-Policy",
                   "frame-ancestors 'none'");
    return send_body(r, "text/html; charset=utf-8", body);
}


/* ------------------------------------------------------------------ */
/* Changes                                                             */
/* ------------------------------------------------------------------ */

/* A change asked for: status bits to set and clear, a loadfactor (0: no
 * change), a route (NULL: no change), an lbmethod index (-1: none). */
typedef struct mgr_change_t {
    rl_proxy_balancer_t *b;
    rl_proxy_worker_t *w; /* NULL: a balancer-only change */
    apr_uint32_t set, clear;
    apr_uint32_t lf;
    const char *route;
    int lbm;
} mgr_change_t;

/* An answer to a refused change: its status and why, for the client and
 * the log. */
typedef struct mgr_refusal_t {
    int status;
    const char *why;
} mgr_refusal_t;

static int refuse(rl_request_t *r, int status, const char *why)
{
    rl_log_rerror(RL_LOG_NOTICE, 0, r,
                  "balancer-manager: change refused (%d): %s", status, why);
    r->status = status;
    return send_body(r, "text/plain; charset=utf-8",
                     apr_pstrcat(r->pool, why, "\n", NULL));
}


/* "balancer://app", "app", "balancer://app/" */
static rl_proxy_balancer_t *find_balancer(const char *name)
{
    apr_size_t n;
    int i;

    if (name == NULL) {
        return NULL;
    }
    if (strncasecmp(name, "balancer://", 11) == 0) {
        name += 11;
    }
    n = strcspn(name, "/");
    for (i = 0; i < mgr.balancers->nelts; i++) {
        rl_proxy_balancer_t *b =
            APR_ARRAY_IDX(mgr.balancers, i, rl_proxy_balancer_t *);
        if (strlen(b->name + 11) == n &&
            strncasecmp(b->name + 11, name, n) == 0) {
            return b;
        }
    }
    return NULL;
}


/* "http://127.0.0.1:8001" (as on the page; a trailing slash ignored) */
static rl_proxy_worker_t *find_member(rl_proxy_balancer_t *b, const char *name)
{
    apr_size_t n;
    int i;

    if (name == NULL) {
        return NULL;
    }
    n = strlen(name);
    while (n > 0 && name[n - 1] == '/') {
        n--;
    }
    for (i = 0; i < b->members->nelts; i++) {
        rl_proxy_worker_t *w =
            APR_ARRAY_IDX(b->members, i, rl_proxy_worker_t *);
        if (strlen(w->name) == n && strncasecmp(w->name, name, n) == 0) {
            return w;
        }
    }
    return NULL;
}


static int parse_bool(const char *v, int *out)
{
    if (strcmp(v, "1") == 0 || strcasecmp(v, "on") == 0 ||
        strcasecmp(v, "true") == 0) {
        *out = 1;
        return 1;
    }
    if (strcmp(v, "0") == 0 || strcasecmp(v, "off") == 0 ||
        strcasecmp(v, "false") == 0) {
        *out = 0;
        return 1;
    }
    return 0;
}


/* The member fields of a change; NULL or what is wrong. */
static const char *parse_member_fields(apr_pool_t *p, apr_table_t *f,
                                       mgr_change_t *c)
{
    const char *v;
    unsigned i;

    for (i = 0; i < MGR_NFLAGS; i++) {
        char key[] = "w_status_X";
        int on;
        key[9] = mgr_flags[i].letter;
        if ((v = apr_table_get(f, key)) == NULL) {
            continue;
        }
        if (!parse_bool(v, &on)) {
            return apr_psprintf(p, "%s=%s: expected 1 or 0", key, v);
        }
        if (on) {
            c->set |= mgr_flags[i].bit;
        } else {
            c->clear |= mgr_flags[i].bit;
        }
    }
    if ((v = apr_table_get(f, "w_lf")) != NULL) {
        char *end;
        long lf = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || lf < 1 || lf > 100) {
            return apr_psprintf(p,
                                "w_lf=%s: expected a loadfactor from 1 to "
                                "100",
                                v);
        }
        c->lf = (apr_uint32_t)lf;
    }
    if ((v = apr_table_get(f, "w_wr")) != NULL) {
        const char *s;
        if (strlen(v) >= RL_WORKER_ROUTE_MAX) {
            return apr_psprintf(p, "w_wr: a route has at most %d characters",
                                RL_WORKER_ROUTE_MAX - 1);
        }
        for (s = v; *s; s++) {
            if (!apr_isgraph(*s) || *s == ';' || *s == ',') {
                return "w_wr: a route is printable characters without "
                       "spaces, ';' or ','";
            }
        }
        c->route = v;
    }
    return NULL;
}


/* The whole change, checked before anything is applied. */
static mgr_refusal_t parse_change(apr_pool_t *p, apr_table_t *f,
                                  mgr_change_t *c)
{
    mgr_refusal_t no = {0, NULL};
    const char *v, *err;

    memset(c, 0, sizeof(*c));
    c->lbm = -1;
    if ((c->b = find_balancer(apr_table_get(f, "b"))) == NULL) {
        no.status = 404;
        no.why = apr_psprintf(p, "b=%s: no such balancer",
                              apr_table_get(f, "b") ? apr_table_get(f, "b")
                                                    : "(missing)");
        return no;
    }
    if ((v = apr_table_get(f, "w")) != NULL && *v) {
        if ((c->w = find_member(c->b, v)) == NULL) {
            no.status = 404;
            no.why =
                apr_psprintf(p, "w=%s: %s has no such member", v, c->b->name);
            return no;
        }
        if ((err = parse_member_fields(p, f, c)) != NULL) {
            no.status = 400;
            no.why = err;
            return no;
        }
    }
    if ((v = apr_table_get(f, "b_lbm")) != NULL &&
        (c->lbm = method_index(c->b, v)) < 0) {
        no.status = 400;
        no.why = apr_psprintf(p, "b_lbm=%s: no such lbmethod is loaded", v);
        return no;
    }
    return no;
}


static const char *append(apr_pool_t *p, const char *list, const char *item)
{
    return *list ? apr_pstrcat(p, list, ", ", item, NULL) : item;
}


/* Records (or forgets, when it is back to the configuration's) what was
 * set, for the next generation. */
static void note_status(mgr_override_t *o, apr_uint32_t bits, apr_uint32_t now,
                        apr_uint32_t cfg)
{
    unsigned i;

    for (i = 0; i < MGR_NFLAGS; i++) {
        apr_uint32_t bit = mgr_flags[i].bit;
        if (!(bits & bit)) {
            continue;
        }
        if ((now & bit) == (cfg & bit)) {
            o->status_mask &= ~bit;
        } else {
            o->status_mask |= bit;
        }
        o->status_val = (o->status_val & ~bit) | (now & bit);
        o->status_cfg = (o->status_cfg & ~bit) | (cfg & bit);
    }
}


static const char *apply_status(apr_pool_t *p, const mgr_change_t *c,
                                mgr_override_t *o, const char *what)
{
    rl_proxy_worker_t *w = c->w;
    apr_uint32_t old = w->s->status & MGR_BITS, want, changed;
    unsigned i;

    want = (old | c->set) & ~c->clear;
    changed = old ^ want;
    if (changed == 0) {
        return what;
    }
    mgr.api.set_status(w, c->set & changed, c->clear & changed, "manager",
                       "balancer-manager");
    note_status(o, changed, want, mgr.cfg_status[w->index]);
    for (i = 0; i < MGR_NFLAGS; i++) {
        if (changed & mgr_flags[i].bit) {
            what = append(p, what,
                          apr_psprintf(p, "%s %s -> %s", mgr_flags[i].name,
                                       on_off(old & mgr_flags[i].bit),
                                       on_off(want & mgr_flags[i].bit)));
        }
    }
    return what;
}


static const char *apply_lf_route(apr_pool_t *p, const mgr_change_t *c,
                                  mgr_override_t *o, const char *what)
{
    rl_proxy_worker_t *w = c->w;
    char buf[RL_WORKER_ROUTE_MAX];
    const char *old_route;

    if (c->lf != 0 && c->lf != w->s->loadfactor) {
        apr_uint32_t old = w->s->loadfactor;
        apr_atomic_set32(&w->s->loadfactor, c->lf);
        o->lf = c->lf == (apr_uint32_t)w->loadfactor ? 0 : c->lf;
        o->lf_cfg = (apr_uint32_t)w->loadfactor;
        what =
            append(p, what, apr_psprintf(p, "loadfactor %u -> %u", old, c->lf));
    }
    old_route = mgr.api.route(w, buf, sizeof(buf));
    if (c->route != NULL && strcmp(c->route, old_route ? old_route : "") != 0) {
        const char *cfg = w->route ? w->route : "";
        what = append(p, what,
                      apr_psprintf(p, "route '%s' -> '%s'",
                                   old_route ? old_route : "", c->route));
        mgr.api.set_route(w, c->route);
        o->has_route = strcmp(c->route, cfg) != 0;
        apr_cpystrn(o->route, c->route, sizeof(o->route));
        apr_cpystrn(o->route_cfg, cfg, sizeof(o->route_cfg));
    }
    return what;
}


static const char *apply_lbmethod(apr_pool_t *p, const mgr_change_t *c,
                                  mgr_override_t *o, const char *what)
{
    rl_proxy_balancer_t *b = c->b;
    const char *old = method_name(b), *now;

    if (c->lbm < 0 || strcmp(old, b->lbmethods[c->lbm]->name) == 0) {
        return what;
    }
    now = b->lbmethods[c->lbm]->name;
    apr_atomic_set32(b->lbmethod_index, (apr_uint32_t)c->lbm);
    /* each child notices at its next pick and resets the method */
    apr_atomic_inc32(b->generation);
    o->has_lbm = strcmp(now, b->lbmethod->name) != 0;
    apr_cpystrn(o->lbm, now, sizeof(o->lbm));
    apr_cpystrn(o->lbm_cfg, b->lbmethod->name, sizeof(o->lbm_cfg));
    return append(p, what, apr_psprintf(p, "lbmethod %s -> %s", old, now));
}


/* Applies c to shared memory and logs it; "" when nothing changed. */
static const char *apply_change(rl_request_t *r, const mgr_change_t *c)
{
    apr_pool_t *p = r->pool;
    const char *what = "", *bwhat = "";

    if (c->w != NULL) {
        mgr_override_t *o = mgr.of_worker[c->w->index];
        ovr_lock(o);
        what = apply_status(p, c, o, what);
        what = apply_lf_route(p, c, o, what);
        ovr_unlock(o);
        if (c->lf != 0 && *what) {
            /* weights changed: byrequests starts its rotation afresh */
            apr_atomic_inc32(c->b->generation);
        }
    }
    if (c->lbm >= 0) {
        mgr_override_t *o = mgr.of_balancer[balancer_index(c->b)];
        ovr_lock(o);
        bwhat = apply_lbmethod(p, c, o, bwhat);
        ovr_unlock(o);
    }
    /* who (the client, the user when authenticated) and what, old -> new */
    if (*what) {
        rl_log_rerror(RL_LOG_NOTICE, 0, r,
                      "balancer-manager: %s member %s: %s (by %s, user %s)",
                      c->b->name, c->w->name, what, r->connection->client_ip,
                      r->user ? r->user : "-");
    }
    if (*bwhat) {
        rl_log_rerror(RL_LOG_NOTICE, 0, r,
                      "balancer-manager: %s: %s (by %s, user %s)", c->b->name,
                      bwhat, r->connection->client_ip, r->user ? r->user : "-");
    }
    return *what ? (*bwhat ? apr_pstrcat(p, what, ", ", bwhat, NULL) : what)
                 : bwhat;
}


/* ------------------------------------------------------------------ */
/* The request                                                         */
/* ------------------------------------------------------------------ */

static void form_decode(char *s)
{
    char *o = s;

    for (; *s; s++) {
        if (*s == '+') {
            *o++ = ' ';
        } else if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            *o++ = (char)(hexval(s[1]) << 4 | hexval(s[2]));
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}


/* "a=1&b=2" into a table; a key sent twice keeps its last value (the
 * page's hidden 0 before each checkbox). */
static apr_table_t *form_parse(apr_pool_t *p, const char *body)
{
    apr_table_t *t = apr_table_make(p, 16);
    char *copy = apr_pstrdup(p, body), *pair, *last;

    for (pair = apr_strtok(copy, "&", &last); pair;
         pair = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(pair, '=');
        if (eq != NULL) {
            *eq++ = '\0';
        } else {
            eq = pair + strlen(pair); /* writable: it is decoded in place */
        }
        form_decode(pair);
        form_decode(eq);
        apr_table_set(t, pair, eq);
    }
    return t;
}


static int want_json(const rl_request_t *r)
{
    apr_table_t *q;

    if (r->args == NULL) {
        return 0;
    }
    q = form_parse(r->pool, r->args);
    return apr_table_get(q, "json") != NULL ||
           (apr_table_get(q, "format") != NULL &&
            strcasecmp(apr_table_get(q, "format"), "json") == 0);
}


/* "host:port" as a browser and a Host header write it: lower case, the
 * scheme's default port left out. */
static const char *authority_of(apr_pool_t *p, const char *scheme,
                                const char *authority)
{
    char *a = apr_pstrdup(p, authority), *s;
    apr_size_t n;

    for (s = a; *s; s++) {
        *s = (char)apr_tolower(*s);
    }
    n = strlen(a);
    if (strcmp(scheme, "http") == 0 && n > 3 && strcmp(a + n - 3, ":80") == 0) {
        a[n - 3] = '\0';
    } else if (strcmp(scheme, "https") == 0 && n > 4 &&
               strcmp(a + n - 4, ":443") == 0) {
        a[n - 4] = '\0';
    }
    return a;
}


/* The server an Origin or Referer value names ("https://h:8443/x" ->
 * "h:8443"), or NULL when it names none over http(s) ("null"). */
static const char *authority_in(apr_pool_t *p, const char *url)
{
    const char *sep = strstr(url, "://"), *end, *scheme;

    if (sep == NULL) {
        return NULL;
    }
    scheme = apr_pstrndup(p, url, (apr_size_t)(sep - url));
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        return NULL;
    }
    end = sep + 3 + strcspn(sep + 3, "/?#");
    return authority_of(p, strcasecmp(scheme, "http") == 0 ? "http" : "https",
                        apr_pstrndup(p, sep + 3, (apr_size_t)(end - sep - 3)));
}


/*
 * NULL when the page that sent the POST is ours (or the client does not
 * say: a script), else why not.  The server is compared, not the scheme:
 * behind a proxy that ends TLS the browser's page is https:// while this
 * connection is not, and a page of the same host under another scheme is
 * the same site anyway.
 */
static const char *check_origin(rl_request_t *r)
{
    const char *host = apr_table_get(r->headers_in, "Host");
    const char *origin = apr_table_get(r->headers_in, "Origin");
    const char *from = origin, *ours, *theirs;

    if (from == NULL) {
        from = apr_table_get(r->headers_in, "Referer");
    }
    if (from == NULL) {
        return NULL;
    }
    if (host == NULL) {
        return "the request names no Host to compare its Origin with";
    }
    ours = authority_of(
        r->pool, rl_conn_is_https(r->connection) ? "https" : "http", host);
    theirs = authority_in(r->pool, from);
    if (theirs == NULL || strcmp(ours, theirs) != 0) {
        return apr_psprintf(r->pool,
                            "the form was sent from %s (%s), not from this "
                            "server (%s): cross-site request refused",
                            origin ? "Origin" : "Referer",
                            theirs ? theirs : from, ours);
    }
    return NULL;
}


/* A POST's body, read without blocking (the event MPM resumes the
 * handler when more arrives). */
typedef struct mgr_body_t {
    char *buf;
    apr_size_t len;
} mgr_body_t;

static int mgr_post(rl_request_t *r, mgr_body_t *st);

static int mgr_resume(rl_request_t *r)
{
    void *st = NULL;

    apr_pool_userdata_get(&st, "status-manager-body", r->pool);
    return mgr_post(r, st);
}


/* 1 once the whole body is in st; 0 with *rc what the handler returns
 * now (suspended, or an error answered). */
static int read_form(rl_request_t *r, mgr_body_t *st, int *rc)
{
    for (;;) {
        apr_size_t got = 0;
        apr_status_t rv =
            rl_read_body(r, st->buf + st->len, MGR_BODY_MAX - st->len, &got);
        if (rv == APR_SUCCESS) {
            st->len += got;
            if (st->len >= MGR_BODY_MAX) {
                *rc = refuse(r, 413, "the form is larger than 16 KB");
                return 0;
            }
        } else if (APR_STATUS_IS_EAGAIN(rv)) {
            rl_request_suspend(r, mgr_resume);
            *rc = RL_SUSPENDED;
            return 0;
        } else if (APR_STATUS_IS_EOF(rv)) {
            st->buf[st->len] = '\0';
            return 1;
        } else {
            /* client gone or a bad body: the core set 400 or 413 */
            *rc = r->status >= 400 ? r->status : 400;
            return 0;
        }
    }
}


static int answer_change(rl_request_t *r, const char *what)
{
    if (want_json(r)) {
        return send_json(r); /* with a fresh nonce for the next change */
    }
    (void)what;
    /* after a POST, the browser loads the page again (with a fresh
     * nonce), so a reload does not send the form twice */
    apr_table_setn(r->headers_out, "Location", r->uri);
    r->status = 303;
    return send_body(r, "text/plain; charset=utf-8",
                     "changed: see the page again\n");
}


static int mgr_post(rl_request_t *r, mgr_body_t *st)
{
    apr_table_t *form;
    mgr_change_t c;
    mgr_refusal_t no;
    const char *why;
    int rc;

    if (!read_form(r, st, &rc)) {
        return rc;
    }
    if ((why = check_origin(r)) != NULL) {
        return refuse(r, 403, why);
    }
    form = form_parse(r->pool, st->buf);
    if (apr_table_get(form, "nonce") == NULL) {
        return refuse(r, 403,
                      "no nonce: load the page (or GET ?json) and send the "
                      "nonce it gives with the change");
    }
    if (!nonce_spend(apr_table_get(form, "nonce"))) {
        return refuse(r, 403,
                      "stale or unknown nonce (each is good once, for an "
                      "hour): load the page again");
    }
    no = parse_change(r->pool, form, &c);
    if (no.status != 0) {
        return refuse(r, no.status, no.why);
    }
    return answer_change(r, apply_change(r, &c));
}


static int start_post(rl_request_t *r)
{
    const char *type = apr_table_get(r->headers_in, "Content-Type");
    mgr_body_t *st;

    if (type != NULL &&
        strncasecmp(type, "application/x-www-form-urlencoded", 33) != 0) {
        return refuse(r, 415,
                      "send the change form-encoded "
                      "(application/x-www-form-urlencoded), as the page and "
                      "curl -d do");
    }
    st = apr_pcalloc(r->pool, sizeof(*st));
    st->buf = apr_palloc(r->pool, MGR_BODY_MAX + 1);
    apr_pool_userdata_setn(st, "status-manager-body", NULL, r->pool);
    return mgr_post(r, st);
}


int status_manager_handler(rl_request_t *r)
{
    if (r->handler == NULL || strcmp(r->handler, MGR_HANDLER) != 0) {
        return RL_DECLINED;
    }
    if (mgr.balancers == NULL || mgr.balancers->nelts == 0 ||
        mgr.nonces == NULL) {
        r->status = 404;
        return send_body(r, "text/plain; charset=utf-8",
                         "balancer-manager: no balancer is configured "
                         "(mod_proxy and mod_balancer with a <Proxy "
                         "balancer://…>)\n");
    }
    if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0) {
        return want_json(r) ? send_json(r) : send_page(r);
    }
    if (strcmp(r->method, "POST") == 0) {
        return start_post(r);
    }
    apr_table_setn(r->err_headers_out, "Allow", "GET, HEAD, POST");
    return 405;
}


void status_manager_register(apr_pool_t *p)
{
    /* after mod_proxy (the workers' shared state) and mod_balancer (the
     * balancers' shared words) have set up this generation */
    static const char *const after[] = {"proxy", "balancer", NULL};

    (void)p;
    rl_hook_post_config(mgr_post_config, after, NULL, RL_HOOK_LAST);
}
