/*
 * proxy_worker.c: workers (one per backend scheme://host:port), their
 * key=value parameters, and their shared state.
 * * Two ProxyPass lines naming the same backend share one worker, as in
 * httpd; the parameters of the first declaration win, and parameters on a
 * later line are ignored with a warning naming the first.  Shared state
 * (status, counters) lives in one anonymous shared memory segment created by
 * the parent in post_config, so every child sees the same picture.
 */
#include "proxy_private.h"

#include <apr_atomic.h>
#include <apr_lib.h>
#include <apr_shm.h>
#include <errno.h>
#include <stddef.h>

RL_LOG_USE_MODULE(proxy);

static apr_array_header_t *workers; /* rl_proxy_worker_t * */
static apr_shm_t *worker_shm;

apr_array_header_t *proxy_workers(void)
{
    return workers;
}

RL_PROXY_DECLARE(const apr_array_header_t *) rl_proxy_workers(void)
{
    return workers;
}

static apr_status_t workers_cleanup(void *unused)
{
    (void)unused;
    workers = NULL;
    worker_shm = NULL;
    return APR_SUCCESS;
}

void proxy_workers_reset(apr_pool_t *p)
{
    workers = apr_array_make(p, 8, sizeof(rl_proxy_worker_t *));
    apr_pool_cleanup_register(p, NULL, workers_cleanup, apr_pool_cleanup_null);
}

/* "timeout=30" for a duration in seconds (or 500ms). */
static const char *param_duration(apr_pool_t *p, const char *key,
                                  const char *val, apr_interval_time_t *out)
{
    const char *err = rl_parse_duration(p, val, APR_USEC_PER_SEC, out);

    return err ? apr_psprintf(p, "%s=%s: %s", key, val, err) : NULL;
}

static const char *param_flag(apr_pool_t *p, const char *key, const char *val,
                              int *out)
{
    const char *err = rl_parse_flag(p, val, out);

    return err ? apr_psprintf(p, "%s=%s: %s", key, val, err) : NULL;
}

static const char *param_int(apr_pool_t *p, const char *key, const char *val,
                             int min, int max, int *out)
{
    char *end;
    long v = strtol(val, &end, 10);

    if (*val == '\0' || *end != '\0' || v < min || v > max) {
        return apr_psprintf(p, "%s=%s: expected a number from %d to %d", key,
                            val, min, max);
    }
    *out = (int)v;
    return NULL;
}

/* status=+D-E… */
static const char *param_status(apr_pool_t *p, const char *val,
                                apr_uint32_t *status)
{
    static const struct {
        char flag;
        apr_uint32_t bit;
    } flags[] = {{'D', RL_WORKER_DISABLED},      {'S', RL_WORKER_STOPPED},
                 {'E', RL_WORKER_IN_ERROR},      {'H', RL_WORKER_HOT_STANDBY},
                 {'R', RL_WORKER_HOT_SPARE},     {'N', RL_WORKER_DRAINING},
                 {'I', RL_WORKER_IGNORE_ERRORS}, {'C', RL_WORKER_HC_FAILED}};
    int set = 1;
    const char *s;

    for (s = val; *s; s++) {
        unsigned i;
        if (*s == '+' || *s == '-') {
            set = *s == '+';
            continue;
        }
        for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
            if (apr_toupper(*s) == flags[i].flag) {
                break;
            }
        }
        if (i == sizeof(flags) / sizeof(flags[0])) {
            return apr_psprintf(p,
                                "status=%s: unknown flag '%c' (expected D, S, "
                                "E, H, R, N, I or C)",
                                val, *s);
        }
        *status = set ? (*status | flags[i].bit) : (*status & ~flags[i].bit);
    }
    return NULL;
}

/* Applies one key=value worker parameter (httpd's names). */
static const char *set_param(apr_pool_t *p, rl_proxy_worker_t *w,
                             apr_uint32_t *status, const char *key,
                             const char *val)
{
    int off;

    if (strcasecmp(key, "timeout") == 0) {
        return param_duration(p, key, val, &w->timeout);
    }
    if (strcasecmp(key, "connectiontimeout") == 0) {
        return param_duration(p, key, val, &w->connect_timeout);
    }
    if (strcasecmp(key, "retry") == 0) {
        return param_duration(p, key, val, &w->retry);
    }
    if (strcasecmp(key, "ttl") == 0) {
        return param_duration(p, key, val, &w->ttl);
    }
    if (strcasecmp(key, "max") == 0) {
        return param_int(p, key, val, 0, 100000, &w->max);
    }
    if (strcasecmp(key, "enablereuse") == 0) {
        return param_flag(p, key, val, &w->enable_reuse);
    }
    if (strcasecmp(key, "disablereuse") == 0) {
        const char *err = param_flag(p, key, val, &off);
        if (err == NULL) {
            w->enable_reuse = !off;
        }
        return err;
    }
    if (strcasecmp(key, "keepalive") == 0) {
        return param_flag(p, key, val, &w->keepalive);
    }
    if (strcasecmp(key, "upgrade") == 0) {
        if (strcasecmp(val, "websocket") != 0) {
            return apr_psprintf(p,
                                "upgrade=%s: only upgrade=websocket is "
                                "supported",
                                val);
        }
        w->upgrade_websocket = 1;
        return NULL;
    }
    if (strcasecmp(key, "loadfactor") == 0) {
        return param_int(p, key, val, 1, 100, &w->loadfactor);
    }
    if (strcasecmp(key, "route") == 0) {
        if (strlen(val) >= RL_WORKER_ROUTE_MAX) {
            return apr_psprintf(p, "route=%s: at most %d characters", val,
                                RL_WORKER_ROUTE_MAX - 1);
        }
        w->route = apr_pstrdup(p, val);
        return NULL;
    }
    if (strcasecmp(key, "status") == 0) {
        return param_status(p, val, status);
    }
    if (strcasecmp(key, "lbset") == 0) {
        return param_int(p, key, val, 0, 99, &w->lbset);
    }
    if (strcasecmp(key, "slowstart") == 0) {
        return param_duration(p, key, val, &w->slowstart);
    }
    if (strcasecmp(key, "passivefails") == 0) {
        return param_int(p, key, val, 1, 1000, &w->passive_fails);
    }
    if (strcasecmp(key, "resolve") == 0) {
        if (strcasecmp(val, "first") == 0) {
            w->resolve_all = 0;
        } else if (strcasecmp(val, "all") == 0) {
            w->resolve_all = w->resolve_all > 1 ? w->resolve_all : 4;
        } else {
            return apr_psprintf(p, "resolve=%s: expected first or all", val);
        }
        return NULL;
    }
    if (strcasecmp(key, "slots") == 0) {
        int n;
        const char *err = param_int(p, key, val, 1, 64, &n);
        if (err == NULL) {
            w->resolve_all = n;
        }
        return err;
    }
    if (strcasecmp(key, "min") == 0 || strcasecmp(key, "smax") == 0 ||
        strcasecmp(key, "acquire") == 0 || strcasecmp(key, "ping") == 0 ||
        strcasecmp(key, "flushpackets") == 0 ||
        strcasecmp(key, "flushwait") == 0 ||
        strcasecmp(key, "iobuffersize") == 0 ||
        strcasecmp(key, "receivebuffersize") == 0 ||
        strcasecmp(key, "redirect") == 0 || strcasecmp(key, "secret") == 0 ||
        strcasecmp(key, "mapping") == 0) {
        return apr_psprintf(p,
                            "worker parameter '%s' (httpd) is not supported "
                            "by Relais yet; remove it",
                            key);
    }
    {
        /* a key another module handles (mod_healthcheck's hc*) */
        const rl_proxy_worker_param_t *ext =
            rl_lookup_provider("proxy_worker_param", key, "1");
        if (ext != NULL) {
            return ext->set(p, w, val);
        }
    }
    return apr_psprintf(p,
                        "unknown worker parameter '%s' (expected timeout, "
                        "connectiontimeout, retry, ttl, max, enablereuse, "
                        "disablereuse, keepalive, upgrade, loadfactor, "
                        "route, status, lbset, slowstart, passivefails, "
                        "resolve or slots)",
                        key);
}

/* A fresh shared state for w, from its configuration (the parent copies
 * it into the shared segment in post_config). */
static rl_proxy_worker_shared_t *
new_shared(apr_pool_t *p, const rl_proxy_worker_t *w, apr_uint32_t status)
{
    rl_proxy_worker_shared_t *s = apr_pcalloc(p, sizeof(*s));

    s->status = status;
    s->loadfactor = (apr_uint32_t)w->loadfactor;
    apr_cpystrn(s->name, w->name, sizeof(s->name));
    if (w->route != NULL) {
        apr_cpystrn(s->route, w->route, sizeof(s->route));
    }
    return s;
}


static void add_worker(rl_proxy_worker_t *w)
{
    w->index = workers->nelts;
    APR_ARRAY_PUSH(workers, rl_proxy_worker_t *) = w;
}


/* 443 for the schemes spoken over TLS, 80 for the others. */
static apr_port_t default_port(const char *scheme)
{
    return strcasecmp(scheme, "https") == 0 || strcasecmp(scheme, "wss") == 0
               ? 443
               : 80;
}

/* tcp:// and udp:// (mod_proxy_stream's members): no default port, and
 * not for ProxyPass. */
static int proxy_scheme_is_stream(const char *scheme)
{
    return strcasecmp(scheme, "tcp") == 0 || strcasecmp(scheme, "udp") == 0;
}

/* scheme://host[:port][/path] -> scheme, host, port */
static const char *split_url(apr_pool_t *p, const char *url,
                             const char **scheme, const char **host,
                             apr_port_t *port)
{
    const char *s = strstr(url, "://"), *h, *end, *colon;

    if (s == NULL) {
        return apr_psprintf(p,
                            "'%s': expected a URL such as "
                            "http://backend:8080/",
                            url);
    }
    *scheme = apr_pstrndup(p, url, s - url);
    if (strcasecmp(*scheme, "http") != 0 && strcasecmp(*scheme, "ws") != 0 &&
        strcasecmp(*scheme, "https") != 0 && strcasecmp(*scheme, "wss") != 0 &&
        !proxy_scheme_is_stream(*scheme)) {
        return apr_psprintf(p,
                            "'%s': scheme '%s' is not supported (expected "
                            "http://, https://, ws://, wss://, or tcp:// and "
                            "udp:// for ProxyStream)",
                            url, *scheme);
    }
    h = s + 3;
    end = h + strcspn(h, "/?");
    if (*h == '[') {
        const char *close = memchr(h, ']', end - h);
        if (close == NULL) {
            return apr_psprintf(p, "'%s': missing ']'", url);
        }
        *host = apr_pstrndup(p, h + 1, close - h - 1);
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(h, ':', end - h);
        *host = apr_pstrndup(p, h, (colon ? colon : end) - h);
    }
    if (**host == '\0') {
        return apr_psprintf(p, "'%s': no host", url);
    }
    *port = default_port(*scheme);
    if (colon == NULL && proxy_scheme_is_stream(*scheme)) {
        return apr_psprintf(p, "'%s': a %s:// backend needs its port", url,
                            *scheme);
    }
    if (colon != NULL) {
        char *e;
        long v = strtol(colon + 1, &e, 10);
        if (e != end || v < 1 || v > 65535) {
            return apr_psprintf(p, "'%s': bad port", url);
        }
        *port = (apr_port_t)v;
    }
    return NULL;
}

/* A worker for url: shared with other ProxyPass lines (b == NULL), or a
 * member of balancer b (never shared). */
static rl_proxy_worker_t *define_worker(rl_cmd_t *cmd, rl_proxy_balancer_t *b,
                                        const char *url, int nparams,
                                        char *const params[], const char **err)
{
    apr_pool_t *p = cmd->pool;
    const char *scheme = NULL, *host = NULL, *name;
    apr_port_t port = 0;
    rl_proxy_worker_t *w = NULL;
    apr_uint32_t status = 0;
    int i, existing = 0;

    *err = split_url(cmd->temp_pool, url, &scheme, &host, &port);
    if (*err != NULL) {
        return NULL;
    }
    if (proxy_scheme_is_stream(scheme) && b == NULL &&
        strncasecmp(cmd->directive->name, "ProxyPass", 9) == 0) {
        *err = apr_psprintf(p,
                            "'%s': a %s:// backend is not HTTP: relay it with "
                            "ProxyStream in the <VirtualHost> of a "
                            "'Listen addr:port %s' listener (mod_proxy_stream)",
                            url, scheme, scheme);
        return NULL;
    }
    name = strchr(host, ':')
               ? apr_psprintf(p, "%s://[%s]:%u", scheme, host, port)
               : apr_psprintf(p, "%s://%s:%u", scheme, host, port);
    for (i = 0; i < workers->nelts; i++) {
        rl_proxy_worker_t *o = APR_ARRAY_IDX(workers, i, rl_proxy_worker_t *);
        if (strcasecmp(o->name, name) != 0 || o->balancer != b) {
            continue;
        }
        if (b != NULL) {
            *err = apr_psprintf(p, "%s is already a member of %s (%s:%u)", name,
                                b->name, o->file, o->line);
            return NULL;
        }
        w = o;
        existing = 1;
        break;
    }
    if (w == NULL) {
        w = apr_pcalloc(p, sizeof(*w));
        w->name = name;
        w->scheme = apr_pstrdup(p, scheme);
        w->hostname = apr_pstrdup(p, host);
        w->port = port;
        /* the Host header: IPv6 literals in brackets, the scheme's default
         * port (80, 443) left out */
        w->hostport = port == default_port(scheme)
                          ? (strchr(host, ':') ? apr_psprintf(p, "[%s]", host)
                                               : w->hostname)
                      : strchr(host, ':')
                          ? apr_psprintf(p, "[%s]:%u", host, port)
                          : apr_psprintf(p, "%s:%u", host, port);
        w->timeout = -1;
        w->connect_timeout = -1;
        w->retry = apr_time_from_sec(60);
        w->ttl = 0;
        w->passive_fails = 1;
        w->enable_reuse = 1;
        w->loadfactor = 1;
        w->index = -1;
        w->balancer = b;
        w->file = cmd->node->file;
        w->line = cmd->node->line;
    }
    if (existing && nparams > 0) {
        rl_config_warn(cmd,
                       "backend %s is already defined (%s:%u): its "
                       "parameters there apply, these are ignored",
                       w->name, w->file, w->line);
        return w;
    }
    for (i = 0; i < nparams; i++) {
        char *kv = apr_pstrdup(cmd->temp_pool, params[i]);
        char *eq = strchr(kv, '=');
        if (eq == NULL) {
            *err = apr_psprintf(p, "'%s': expected key=value", params[i]);
            return NULL;
        }
        *eq++ = '\0';
        *err = set_param(p, w, &status, kv, eq);
        if (*err != NULL) {
            return NULL;
        }
    }
    if (existing) {
        return w;
    }
    if (b != NULL) {
        /* BalancerMember http://app1:8080/shop: the path goes in front of
         * the request's, as in httpd */
        const char *path = strstr(url, "://") + 3;
        path += strcspn(path, "/?");
        if (*path == '/' && path[1] != '\0') {
            apr_size_t n = strcspn(path, "?");
            while (n > 1 && path[n - 1] == '/') {
                n--;
            }
            w->member_path = apr_pstrndup(p, path, n);
        }
    }
    if (w->resolve_all > 1 && b == NULL) {
        *err = apr_psprintf(p, "resolve=all belongs on a BalancerMember (each "
                               "address becomes a member of the balancer)");
        return NULL;
    }
    w->s = new_shared(p, w, status);
    add_worker(w);
    if (b != NULL) {
        APR_ARRAY_PUSH(b->members, rl_proxy_worker_t *) = w;
        /* resolve=all: slot members #2…#N take the name's other addresses */
        for (i = 1; i < w->resolve_all; i++) {
            rl_proxy_worker_t *slot = apr_pmemdup(p, w, sizeof(*w));
            slot->name = apr_psprintf(p, "%s#%d", w->name, i + 1);
            slot->resolve_slot = i;
            slot->s = new_shared(p, slot, status);
            add_worker(slot);
            APR_ARRAY_PUSH(b->members, rl_proxy_worker_t *) = slot;
        }
    }
    return w;
}

RL_PROXY_DECLARE(rl_proxy_worker_t *)
rl_proxy_define_worker(rl_cmd_t *cmd, const char *url, int nparams,
                       char *const params[], const char **err)
{
    return define_worker(cmd, NULL, url, nparams, params, err);
}


RL_PROXY_DECLARE(rl_proxy_worker_t *)
rl_proxy_define_member(rl_cmd_t *cmd, rl_proxy_balancer_t *b, const char *url,
                       int nparams, char *const params[], const char **err)
{
    return define_worker(cmd, b, url, nparams, params, err);
}


/* Writes a new address into w's shared state (sequence lock: readers
 * retry while the count is odd or changed under them). */
void proxy_worker_store_address(rl_proxy_worker_t *w, const void *sa,
                                apr_uint32_t len)
{
    apr_uint32_t seq = w->s->addr_seq;

    if (len > RL_WORKER_ADDR_MAX) {
        len = 0;
    }
    w->s->addr_seq = seq + 1;
    __sync_synchronize();
    if (len > 0) {
        memcpy(w->s->addr, sa, len);
    }
    w->s->addr_len = len;
    __sync_synchronize();
    w->s->addr_seq = seq + 2;
}


/* True when the shared address equals sa/len. */
int proxy_worker_address_is(const rl_proxy_worker_t *w, const void *sa,
                            apr_uint32_t len)
{
    struct sockaddr_storage cur;
    socklen_t curlen = 0;

    return rl_proxy_worker_address(w, &cur, &curlen) != 0 && curlen == len &&
           memcmp(&cur, sa, len) == 0;
}


RL_PROXY_DECLARE(apr_uint32_t)
rl_proxy_worker_address(const rl_proxy_worker_t *w, struct sockaddr_storage *sa,
                        socklen_t *len)
{
    apr_uint32_t seq, n;

    for (;;) {
        seq = w->s->addr_seq;
        if (seq & 1) {
            continue; /* the resolver is writing it: a few instructions */
        }
        __sync_synchronize();
        n = w->s->addr_len;
        if (n > RL_WORKER_ADDR_MAX) {
            n = 0;
        }
        memcpy(sa, w->s->addr, n);
        __sync_synchronize();
        if (w->s->addr_seq == seq) {
            break;
        }
    }
    *len = (socklen_t)n;
    return n > 0 ? seq : 0;
}


/*
 * Start-up resolution through the system resolver (getaddrinfo), for every
 * worker, in post_config: again on each graceful restart.  With
 * `unresolved_ok` a name that does not resolve leaves the worker without an
 * address (+U) instead of failing.  (With ProxyResolver, proxy_resolver.c
 * resolves host names itself and calls proxy_worker_resolve() only for
 * workers named by an IP address.)
 */
apr_status_t proxy_worker_resolve(apr_pool_t *p, rl_server_t *s,
                                  rl_proxy_worker_t *w, int unresolved_ok)
{
    apr_sockaddr_t *sa = NULL;
    apr_status_t rv =
        apr_sockaddr_info_get(&sa, w->hostname, APR_UNSPEC, w->port, 0, p);
    int k;

    for (k = 0; rv == APR_SUCCESS && sa != NULL && k < w->resolve_slot; k++) {
        sa = sa->next;
    }
    if (rv != APR_SUCCESS || sa == NULL) {
        if (!unresolved_ok && w->resolve_slot == 0) {
            char buf[120];
            rl_log_error(RL_LOG_EMERG, rv, s,
                         "%s:%u: cannot resolve backend host '%s' (%s): "
                         "fix the name, or add ProxyResolver to "
                         "resolve it at run time",
                         w->file, w->line, w->hostname,
                         rv != APR_SUCCESS ? apr_strerror(rv, buf, sizeof(buf))
                                           : "no address");
            return rv != APR_SUCCESS ? rv : APR_EGENERAL;
        }
        if (w->resolve_slot == 0) {
            rl_log_error(RL_LOG_WARNING, rv, s,
                         "%s:%u: backend host '%s' does not resolve yet; "
                         "it takes no traffic until the resolver finds it",
                         w->file, w->line, w->hostname);
        }
        w->addr = NULL;
        w->s->status |= RL_WORKER_UNRESOLVED;
        proxy_worker_store_address(w, NULL, 0);
        return APR_SUCCESS;
    }
    w->addr = sa;
    w->s->status &= ~RL_WORKER_UNRESOLVED;
    if (!proxy_worker_address_is(w, &sa->sa, (apr_uint32_t)sa->salen)) {
        proxy_worker_store_address(w, &sa->sa, (apr_uint32_t)sa->salen);
    }
    return APR_SUCCESS;
}


apr_status_t proxy_workers_resolve(apr_pool_t *p, rl_server_t *s,
                                   int unresolved_ok)
{
    int i;

    for (i = 0; workers != NULL && i < workers->nelts; i++) {
        apr_status_t rv = proxy_worker_resolve(
            p, s, APR_ARRAY_IDX(workers, i, rl_proxy_worker_t *),
            unresolved_ok);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}


/*
 * Shared state across graceful restarts.  The segment and the keys of its
 * slots ("balancer|worker") are kept in retained data.  When the new
 * generation has exactly the same workers in the same order the segment is
 * used again as it is, so the old generation's children, still finishing
 * their requests, keep counting into the same place; otherwise a new one is
 * made and each worker that still exists gets its old counters and its
 * run-time status (errors, health, DNS) copied over.  Either way the
 * status bits the configuration sets (D, S, H, R, N, I), the loadfactor and
 * the route come from the new configuration; a balancer manager (mod_status)
 * then re-applies what it changed at run time, in its own post_config.
 */
typedef struct proxy_retained_t {
    apr_pool_t *pool; /* holds shm and keys; replaced with them */
    apr_shm_t *shm;
    int n;
    char **keys;
} proxy_retained_t;

static const char *worker_key(apr_pool_t *p, const rl_proxy_worker_t *w)
{
    return apr_pstrcat(p, w->balancer ? w->balancer->name : "", "|", w->name,
                       NULL);
}


static void carry_over(rl_proxy_worker_shared_t *to,
                       const rl_proxy_worker_shared_t *from, int same_segment,
                       int health_checked)
{
    apr_uint32_t config_bits = to->status & ~RL_WORKER_RUNTIME_BITS;

    if (!same_segment) {
        to->error_time = from->error_time;
        to->requests = from->requests;
        to->errors = from->errors;
        to->bytes_out = from->bytes_out;
        to->bytes_in = from->bytes_in;
        to->fail_run = from->fail_run;
        to->usable_since = from->usable_since;
        /* what the health checks found, for status pages */
        to->hc_last = from->hc_last;
        to->hc_last_ok = from->hc_last_ok;
        to->hc_last_us = from->hc_last_us;
        to->hc_passed = from->hc_passed;
        to->hc_failed = from->hc_failed;
        /* busy is not carried: the old children decrement the old copy */
        /* the last address too: when the name does not answer at this
         * restart, ProxyResolver keeps using it */
        if (!(from->addr_seq & 1) && from->addr_len > 0 &&
            from->addr_len <= RL_WORKER_ADDR_MAX) {
            memcpy(to->addr, from->addr, from->addr_len);
            to->addr_len = from->addr_len;
            to->addr_seq = 2;
        }
    }
    /* +C stays only while something still checks the member, or it
     * would never come back */
    to->status = config_bits |
                 (from->status & (RL_WORKER_IN_ERROR |
                                  (health_checked ? RL_WORKER_HC_FAILED : 0)));
    /* the address (and +U) are looked up again right after this */
}


/* status=+E in the configuration: in error from start-up, retried after
 * retry=, as httpd does. */
static void configured_error_starts_now(rl_proxy_worker_t *w)
{
    if ((w->s->status & RL_WORKER_IN_ERROR) && w->s->error_time == 0) {
        w->s->error_time = apr_time_now();
    }
}


apr_status_t proxy_workers_attach_shm(apr_pool_t *p, rl_server_t *s)
{
    proxy_retained_t *ret = rl_retained_data_get("proxy-workers");
    rl_proxy_worker_shared_t *base, *old = NULL;
    apr_pool_t *pool;
    char **keys;
    apr_status_t rv;
    int i, n = workers ? workers->nelts : 0, same;

    (void)p;
    if (ret == NULL) {
        ret = rl_retained_data_create("proxy-workers", sizeof(*ret));
    }
    if (n == 0) {
        return APR_SUCCESS; /* keep the old segment for a later generation */
    }
    apr_pool_create(&pool, rl_retained_pool());
    keys = apr_pcalloc(pool, sizeof(char *) * (apr_size_t)n);
    same = ret->shm != NULL && ret->n == n;
    for (i = 0; i < n; i++) {
        rl_proxy_worker_t *w = APR_ARRAY_IDX(workers, i, rl_proxy_worker_t *);
        keys[i] = (char *)worker_key(pool, w);
        same = same && strcmp(keys[i], ret->keys[i]) == 0;
    }
    if (ret->shm != NULL) {
        old = apr_shm_baseaddr_get(ret->shm);
    }
    if (same) {
        base = old;
        apr_pool_destroy(pool);
        for (i = 0; i < n; i++) {
            rl_proxy_worker_t *w =
                APR_ARRAY_IDX(workers, i, rl_proxy_worker_t *);
            rl_proxy_worker_shared_t fresh = *w->s;
            carry_over(&fresh, &base[i], 1, w->health_checked);
            base[i].status =
                fresh.status | (base[i].status & RL_WORKER_UNRESOLVED);
            /* weight and route come from the new configuration (a
             * balancer manager re-applies what it keeps after this) */
            apr_atomic_set32(&base[i].loadfactor, fresh.loadfactor);
            w->s = &base[i];
            rl_proxy_worker_set_route(w, w->route);
            configured_error_starts_now(w);
        }
        rl_log_error(RL_LOG_DEBUG, 0, s,
                     "same %d backends as before: their shared state is kept",
                     n);
        return APR_SUCCESS;
    }
    rv = apr_shm_create(&worker_shm,
                        sizeof(rl_proxy_worker_shared_t) * (apr_size_t)n, NULL,
                        pool);
    if (rv != APR_SUCCESS) {
        rl_log_error(RL_LOG_EMERG, rv, s,
                     "cannot create shared memory for %d backends", n);
        apr_pool_destroy(pool);
        return rv;
    }
    base = apr_shm_baseaddr_get(worker_shm);
    for (i = 0; i < n; i++) {
        rl_proxy_worker_t *w = APR_ARRAY_IDX(workers, i, rl_proxy_worker_t *);
        int k;
        base[i] = *w->s;
        base[i].addr_seq = 0;
        base[i].addr_len = 0;
        for (k = 0; old != NULL && k < ret->n; k++) {
            if (strcmp(ret->keys[k], keys[i]) == 0) {
                carry_over(&base[i], &old[k], 0, w->health_checked);
                break;
            }
        }
        w->s = &base[i];
        configured_error_starts_now(w);
    }
    if (ret->pool != NULL) {
        /* unmaps the parent's view only: old children keep theirs */
        apr_pool_destroy(ret->pool);
    }
    ret->pool = pool;
    ret->shm = worker_shm;
    ret->n = n;
    ret->keys = keys;
    return APR_SUCCESS;
}

RL_PROXY_DECLARE(int)
rl_proxy_worker_usable(const rl_proxy_worker_t *w, apr_time_t now)
{
    apr_uint32_t st = w->s->status;

    if (st & (RL_WORKER_DISABLED | RL_WORKER_STOPPED | RL_WORKER_HC_FAILED |
              RL_WORKER_UNRESOLVED)) {
        return 0;
    }
    if ((st & RL_WORKER_IN_ERROR) && now < w->s->error_time + w->retry) {
        return 0;
    }
    return 1;
}


static const char *worker_label(const rl_proxy_worker_t *w)
{
    return w->balancer ? " member " : "backend ";
}


/* Flips status bits with a compare-and-swap, so that two children (or a
 * child and the watchdog) changing different bits never undo each other.
 * Returns the old bits. */
static apr_uint32_t status_update(rl_proxy_worker_t *w, apr_uint32_t set,
                                  apr_uint32_t clear)
{
    apr_uint32_t old, want;

    do {
        old = w->s->status;
        want = (old | set) & ~clear;
    } while (old != want && apr_atomic_cas32(&w->s->status, want, old) != old);
    return old;
}


RL_PROXY_DECLARE(apr_uint32_t)
rl_proxy_worker_set_status(rl_proxy_worker_t *w, apr_uint32_t set,
                           apr_uint32_t clear, const char *reason,
                           const char *detail)
{
    const apr_uint32_t out = RL_WORKER_IN_ERROR | RL_WORKER_HC_FAILED |
                             RL_WORKER_UNRESOLVED | RL_WORKER_DISABLED |
                             RL_WORKER_STOPPED;
    apr_uint32_t old = status_update(w, set, clear), now = (old | set) & ~clear;

    if (old == now) {
        return old;
    }
    /* back in service: its slow start begins */
    if ((old & ~now & out) && rl_proxy_worker_usable(w, apr_time_now())) {
        w->s->usable_since = apr_time_now();
    }
    rl_proxy_run_member_state_changed(w, old, now, reason, detail);
    return old;
}


RL_PROXY_DECLARE(void)
rl_proxy_worker_failed(rl_proxy_worker_t *w, const char *why)
{
    apr_uint32_t run, old;

    if (w->s->status & RL_WORKER_IGNORE_ERRORS) {
        return;
    }
    run = apr_atomic_inc32(&w->s->fail_run) + 1;
    __atomic_fetch_add(&w->s->errors, 1, __ATOMIC_RELAXED);
    if (run < (apr_uint32_t)w->passive_fails) {
        rl_log_error(RL_LOG_INFO, 0, NULL,
                     "%s%s%s failed (%s): %u of %d failure(s) in a row before "
                     "it is put in error",
                     w->balancer ? w->balancer->name : "", worker_label(w),
                     w->name, why, run, w->passive_fails);
        return;
    }
    w->s->error_time = apr_time_now();
    old = rl_proxy_worker_set_status(w, RL_WORKER_IN_ERROR, 0, "passive", why);
    if (!(old & RL_WORKER_IN_ERROR)) {
        rl_log_error(RL_LOG_ERR, 0, NULL,
                     "%s%s%s put in error state for %ld s after %u failure(s) "
                     "in a row: %s",
                     w->balancer ? w->balancer->name : "", worker_label(w),
                     w->name, (long)apr_time_sec(w->retry), run, why);
    }
}


RL_PROXY_DECLARE(void)
rl_proxy_worker_succeeded(rl_proxy_worker_t *w)
{
    apr_uint32_t old;

    /* read before writing: most exchanges succeed, and an unconditional
     * store would bounce the cache line between children */
    if (apr_atomic_read32(&w->s->fail_run) != 0) {
        apr_atomic_set32(&w->s->fail_run, 0);
    }
    if (!(w->s->status & RL_WORKER_IN_ERROR)) {
        return;
    }
    old = rl_proxy_worker_set_status(w, 0, RL_WORKER_IN_ERROR, "passive",
                                     "answered again");
    if (old & RL_WORKER_IN_ERROR) {
        apr_time_t down = apr_time_now() - w->s->error_time;
        rl_log_error(RL_LOG_NOTICE, 0, NULL,
                     "%s%s%s answered again after %ld s in error: back in "
                     "service%s",
                     w->balancer ? w->balancer->name : "", worker_label(w),
                     w->name, (long)apr_time_sec(down),
                     w->slowstart > 0 ? " (slow start)" : "");
    }
}


/*
 * The route lives in shared memory under a sequence lock, as the address
 * does: a writer makes the count odd with a compare-and-swap (so two
 * writers exclude each other), copies, and makes it even again; a reader
 * copies and retries when the count was odd or moved.  Sticky requests
 * read it; only a balancer manager writes it, rarely.
 */
RL_PROXY_DECLARE(const char *)
rl_proxy_worker_route(const rl_proxy_worker_t *w, char *buf, apr_size_t len)
{
    apr_uint32_t seq;

    if (len == 0) {
        return NULL;
    }
    do {
        seq = __atomic_load_n(&w->s->route_seq, __ATOMIC_ACQUIRE);
        if (seq & 1) {
            continue;
        }
        apr_cpystrn(buf, w->s->route,
                    len < sizeof(w->s->route) ? len : sizeof(w->s->route));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((seq & 1) ||
             __atomic_load_n(&w->s->route_seq, __ATOMIC_RELAXED) != seq);
    return *buf ? buf : NULL;
}


RL_PROXY_DECLARE(apr_status_t)
rl_proxy_worker_set_route(rl_proxy_worker_t *w, const char *route)
{
    apr_uint32_t seq;

    if (route == NULL) {
        route = "";
    }
    if (strlen(route) >= sizeof(w->s->route)) {
        return APR_EINVAL;
    }
    do {
        seq = __atomic_load_n(&w->s->route_seq, __ATOMIC_RELAXED);
    } while ((seq & 1) ||
             !__atomic_compare_exchange_n(&w->s->route_seq, &seq, seq + 1, 0,
                                          __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memset(w->s->route, 0, sizeof(w->s->route));
    memcpy(w->s->route, route, strlen(route));
    __atomic_store_n(&w->s->route_seq, seq + 2, __ATOMIC_RELEASE);
    return APR_SUCCESS;
}
