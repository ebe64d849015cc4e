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
        w->route = apr_pstrdup(p, val);
        return NULL;
    }
    if (strcasecmp(key, "status") == 0) {
        return param_status(p, val, status);
    }
    if (strcasecmp(key, "min") == 0 || strcasecmp(key, "smax") == 0 ||
        strcasecmp(key, "acquire") == 0 || strcasecmp(key, "ping") == 0 ||
        strcasecmp(key, "flushpackets") == 0 ||
        strcasecmp(key, "flushwait") == 0 ||
        strcasecmp(key, "iobuffersize") == 0 ||
        strcasecmp(key, "receivebuffersize") == 0 ||
        strcasecmp(key, "redirect") == 0 || strcasecmp(key, "lbset") == 0 ||
        strcasecmp(key, "secret") == 0 || strcasecmp(key, "mapping") == 0) {
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
                        "route or status)",
                        key);
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
    if (strcasecmp(*scheme, "http") != 0 && strcasecmp(*scheme, "ws") != 0) {
        return apr_psprintf(p,
                            "'%s': scheme '%s' is not supported (expected "
                            "http:// or ws://; https:// arrives with mod_ssl)",
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
    *port = 80;
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
    apr_port_t port;
    rl_proxy_worker_t *w = NULL;
    apr_uint32_t status = 0;
    apr_status_t rv;
    int i, existing = 0;

    *err = split_url(cmd->temp_pool, url, &scheme, &host, &port);
    if (*err != NULL) {
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
        w->hostport = port == 80 ? w->hostname
                      : strchr(host, ':')
                          ? apr_psprintf(p, "[%s]:%u", host, port)
                          : apr_psprintf(p, "%s:%u", host, port);
        w->timeout = -1;
        w->connect_timeout = -1;
        w->retry = apr_time_from_sec(60);
        w->ttl = 0;
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
    /* Names resolve once at start-up through the system resolver; run-time
     * re-resolution arrives with ProxyResolver. */
    rv =
        apr_sockaddr_info_get(&w->addr, w->hostname, APR_UNSPEC, w->port, 0, p);
    if (rv != APR_SUCCESS) {
        char buf[120];
        *err = apr_psprintf(p, "cannot resolve backend host '%s': %s",
                            w->hostname, apr_strerror(rv, buf, sizeof(buf)));
        return NULL;
    }
    w->index = workers->nelts;
    /* status bits live in shm later; keep the configured ones until then */
    w->s = apr_pcalloc(p, sizeof(*w->s));
    w->s->status = status;
    apr_cpystrn(w->s->name, w->name, sizeof(w->s->name));
    APR_ARRAY_PUSH(workers, rl_proxy_worker_t *) = w;
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


/* post_config: move every worker's state into one shared segment. */
apr_status_t proxy_workers_attach_shm(apr_pool_t *p, rl_server_t *s)
{
    rl_proxy_worker_shared_t *base;
    apr_status_t rv;
    int i;

    if (workers == NULL || workers->nelts == 0) {
        return APR_SUCCESS;
    }
    rv = apr_shm_create(
        &worker_shm,
        sizeof(rl_proxy_worker_shared_t) * (apr_size_t)workers->nelts, NULL, p);
    if (rv != APR_SUCCESS) {
        rl_log_error(RL_LOG_EMERG, rv, s,
                     "cannot create shared memory for %d backends",
                     workers->nelts);
        return rv;
    }
    base = apr_shm_baseaddr_get(worker_shm);
    for (i = 0; i < workers->nelts; i++) {
        rl_proxy_worker_t *w = APR_ARRAY_IDX(workers, i, rl_proxy_worker_t *);
        base[i] = *w->s;
        w->s = &base[i];
    }
    return APR_SUCCESS;
}

RL_PROXY_DECLARE(int)
rl_proxy_worker_usable(const rl_proxy_worker_t *w, apr_time_t now)
{
    apr_uint32_t st = w->s->status;

    if (st & (RL_WORKER_DISABLED | RL_WORKER_STOPPED | RL_WORKER_HC_FAILED)) {
        return 0;
    }
    if ((st & RL_WORKER_IN_ERROR) && now < w->s->error_time + w->retry) {
        return 0;
    }
    return 1;
}

/* A backend failed: keep traffic away from it for retry seconds. */
void proxy_worker_mark_error(rl_proxy_worker_t *w, const char *why)
{
    apr_uint32_t old = w->s->status;

    if (old & RL_WORKER_IGNORE_ERRORS) {
        return;
    }
    w->s->error_time = apr_time_now();
    w->s->status = old | RL_WORKER_IN_ERROR;
    if (!(old & RL_WORKER_IN_ERROR)) {
        rl_log_error(RL_LOG_ERR, 0, NULL,
                     "backend %s put in error state for %ld s: %s", w->name,
                     (long)apr_time_sec(w->retry), why);
        rl_proxy_run_member_state_changed(w, old, w->s->status, "passive", why);
    }
}
