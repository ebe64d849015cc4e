/*
 * proxy_resolver.c: ProxyResolver, run-time DNS resolution of backend host
 * names with c-ares (docs/dns.md).
 *
 *   ProxyResolver 127.0.0.1:5353 [[::1]:53 …] [timeout=2s] [hold=0]
 *                 [minttl=1s] [maxttl=300s] [family=any|ipv4|ipv6]
 *
 * Without ProxyResolver, proxy_worker.c resolves every backend once, at
 * start-up, through the system resolver.  With it, and when at least one
 * worker is named by a host name (not an IP address):
 *
 * - post_config (in the parent, every generation) asks the configured
 *   nameservers for every distinct name at once, waiting at most timeout=.
 *   A name that does not answer leaves its workers without an address (+U,
 *   no traffic) with a warning, or with the address the previous
 *   generation had.  Workers named by an IP address are resolved as before.
 * - Then one resolver process per generation (like mod_healthcheck's
 *   watchdog: PR_SET_PDEATHSIG, named "relaisd-resolver", running as
 *   User/Group, stopped by SIGTERM from a pconf cleanup, so a graceful
 *   restart replaces it) runs a c-ares event loop that asks again for each
 *   name when its TTL (clamped to minttl..maxttl) runs out, and writes
 *   changed addresses into the workers' shared memory under their sequence
 *   lock.  Children only read that memory: no request ever waits for DNS.
 *
 * resolve=all members ("url", "url#2" … "url#N") share one name: a slot
 * keeps its address while that address is still in the answer, and the
 * other addresses go, in sorted order, to the slots that have none; a slot
 * left without an address is +U.  When a name stops answering (timeout,
 * SERVFAIL, NXDOMAIN), its workers keep their last good address; with
 * hold= they are taken out of service (+U) once the failures last longer
 * than that, and come back when the name answers again.
 */
#include "proxy_private.h"

#include <apr_hash.h>
#include <apr_hooks.h>
#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

RL_LOG_USE_MODULE(proxy);

/* ------------------------------------------------------------ directive */

/* "a.b.c.d[:port]" or "[v6][:port]" -> "a.b.c.d:port" / "[v6]:port". */
static const char *parse_nameserver(apr_pool_t *p, const char *arg,
                                    const char **out)
{
    const char *host_end, *port_s = NULL;
    char *host;
    unsigned char buf[sizeof(struct in6_addr)];
    int v6 = 0;
    long port = 53;

    if (arg[0] == '[') {
        host_end = strchr(arg, ']');
        if (host_end == NULL) {
            return apr_psprintf(p, "nameserver '%s': missing ']'", arg);
        }
        host = apr_pstrndup(p, arg + 1, (apr_size_t)(host_end - arg - 1));
        if (host_end[1] == ':') {
            port_s = host_end + 2;
        } else if (host_end[1] != '\0') {
            return apr_psprintf(p,
                                "nameserver '%s': expected [IPv6] or "
                                "[IPv6]:port",
                                arg);
        }
        if (inet_pton(AF_INET6, host, buf) != 1) {
            return apr_psprintf(
                p, "nameserver '%s': '%s' is not an IPv6 address", arg, host);
        }
        v6 = 1;
    } else {
        const char *colon = strchr(arg, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL) {
            return apr_psprintf(p,
                                "nameserver '%s': write an IPv6 nameserver in "
                                "brackets, e.g. [::1] or [::1]:53",
                                arg);
        }
        host = colon ? apr_pstrndup(p, arg, (apr_size_t)(colon - arg))
                     : apr_pstrdup(p, arg);
        port_s = colon ? colon + 1 : NULL;
        if (inet_pton(AF_INET, host, buf) != 1) {
            return apr_psprintf(p,
                                "nameserver '%s': expected an IP address "
                                "(a.b.c.d[:port] or [IPv6][:port]), not a "
                                "host name",
                                arg);
        }
    }
    if (port_s != NULL) {
        char *end;
        port = strtol(port_s, &end, 10);
        if (*port_s == '\0' || *end != '\0' || port < 1 || port > 65535) {
            return apr_psprintf(p,
                                "nameserver '%s': bad port '%s' (expected 1 "
                                "to 65535)",
                                arg, port_s);
        }
    }
    *out = apr_psprintf(p, v6 ? "[%s]:%ld" : "%s:%ld", host, port);
    return NULL;
}


static const char *key_duration(apr_pool_t *p, const char *key, const char *val,
                                apr_interval_time_t min,
                                apr_interval_time_t *out)
{
    const char *err = rl_parse_duration(p, val, APR_USEC_PER_SEC, out);

    if (err != NULL) {
        return apr_psprintf(p, "%s=%s: %s", key, val, err);
    }
    if (*out < min) {
        return apr_psprintf(p, "%s=%s: at least %ldms", key, val,
                            (long)apr_time_as_msec(min));
    }
    return NULL;
}


/* ProxyResolver ns [ns …] [key=value …] */
const char *proxy_resolver_directive(rl_cmd_t *cmd, void *dconf, int argc,
                                     char *const argv[])
{
    proxy_server_conf_t *sc = proxy_server_conf(cmd->server);
    proxy_resolver_conf_t *rc = apr_pcalloc(cmd->pool, sizeof(*rc));
    apr_pool_t *tp = cmd->temp_pool;
    apr_array_header_t *ns = apr_array_make(tp, 4, sizeof(const char *));
    apr_array_header_t *written = apr_array_make(tp, 4, sizeof(const char *));
    const char *err;
    int i;

    (void)dconf;
    rc->timeout = apr_time_from_sec(2);
    rc->hold = 0;
    rc->minttl = apr_time_from_sec(1);
    rc->maxttl = apr_time_from_sec(300);
    rc->family = AF_UNSPEC;
    for (i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (eq == NULL) {
            const char *one = NULL;
            err = parse_nameserver(tp, argv[i], &one);
            if (err != NULL) {
                return err;
            }
            APR_ARRAY_PUSH(ns, const char *) = one;
            APR_ARRAY_PUSH(written, const char *) = argv[i];
            continue;
        }
        {
            const char *key =
                apr_pstrndup(tp, argv[i], (apr_size_t)(eq - argv[i]));
            const char *val = eq + 1;
            if (strcasecmp(key, "timeout") == 0) {
                err = key_duration(tp, key, val, apr_time_from_msec(100),
                                   &rc->timeout);
                if (err == NULL && rc->timeout > apr_time_from_sec(60)) {
                    err = apr_psprintf(tp, "timeout=%s: at most 60s", val);
                }
            } else if (strcasecmp(key, "hold") == 0) {
                err = key_duration(tp, key, val, 0, &rc->hold);
            } else if (strcasecmp(key, "minttl") == 0) {
                err = key_duration(tp, key, val, apr_time_from_msec(100),
                                   &rc->minttl);
            } else if (strcasecmp(key, "maxttl") == 0) {
                err = key_duration(tp, key, val, apr_time_from_msec(100),
                                   &rc->maxttl);
            } else if (strcasecmp(key, "family") == 0) {
                if (strcasecmp(val, "any") == 0) {
                    rc->family = AF_UNSPEC;
                } else if (strcasecmp(val, "ipv4") == 0) {
                    rc->family = AF_INET;
                } else if (strcasecmp(val, "ipv6") == 0) {
                    rc->family = AF_INET6;
                } else {
                    err = apr_psprintf(
                        tp, "family=%s: expected any, ipv4 or ipv6", val);
                }
            } else {
                err =
                    apr_psprintf(tp,
                                 "unknown key '%s' (expected timeout=, hold=, "
                                 "minttl=, maxttl= or family=)",
                                 key);
            }
            if (err != NULL) {
                return err;
            }
        }
    }
    if (ns->nelts == 0) {
        return "expected at least one nameserver (ip[:port] or [IPv6][:port])";
    }
    if (rc->minttl > rc->maxttl) {
        return apr_psprintf(tp, "minttl (%ldms) is more than maxttl (%ldms)",
                            (long)apr_time_as_msec(rc->minttl),
                            (long)apr_time_as_msec(rc->maxttl));
    }
    rc->servers = apr_array_pstrcat(cmd->pool, ns, ',');
    rc->servers_as_written = apr_array_pstrcat(cmd->pool, written, ' ');
    rc->nservers = ns->nelts;
    sc->resolver = rc;
    return NULL;
}

/* ---------------------------------------------------------------- state */

/* One address of an answer (the port comes from each worker's URL). */
typedef struct rs_addr_t {
    int family;
    unsigned char ip[16];
    apr_uint32_t scope;
} rs_addr_t;

/* Workers that take their address from one name: a plain worker (n = 1),
 * or the slot members of a resolve=all member (n = slots). */
typedef struct rs_group_t {
    rl_proxy_worker_t **w;
    int n;
} rs_group_t;

/* One distinct host name. */
typedef struct rs_name_t {
    const char *host;
    apr_array_header_t *groups; /* rs_group_t */
    apr_time_t next;            /* when to ask again */
    int in_flight;
    int failing;           /* in a failure streak (warned once) */
    apr_time_t fail_since; /* when the streak began */
    int held;              /* taken out of service by hold= */
} rs_name_t;

typedef struct rs_state_t {
    const proxy_resolver_conf_t *conf;
    apr_array_header_t *names; /* rs_name_t * */
    rl_server_t *s;
    int startup; /* the parent's start-up pass (no hooks, info logs) */
    pid_t pid;   /* the resolver process */
} rs_state_t;

static rs_state_t *state;

static volatile sig_atomic_t rs_stop;

static int host_is_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1 || strchr(host, ':') != NULL;
}


int proxy_resolver_wanted(rl_server_t *s)
{
    apr_array_header_t *workers = proxy_workers();
    int i;

    if (proxy_server_conf(s)->resolver == NULL) {
        return 0;
    }
    for (i = 0; workers != NULL && i < workers->nelts; i++) {
        if (!host_is_literal(
                APR_ARRAY_IDX(workers, i, rl_proxy_worker_t *)->hostname)) {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ addresses */

static int addr_from_sockaddr(const struct sockaddr *sa, rs_addr_t *a)
{
    memset(a, 0, sizeof(*a));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        a->family = AF_INET;
        memcpy(a->ip, &in->sin_addr, 4);
        return 1;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        a->family = AF_INET6;
        memcpy(a->ip, &in6->sin6_addr, 16);
        a->scope = in6->sin6_scope_id;
        return 1;
    }
    return 0;
}


static int addr_same(const rs_addr_t *a, const rs_addr_t *b)
{
    return a->family == b->family && a->scope == b->scope &&
           memcmp(a->ip, b->ip, a->family == AF_INET ? 4 : 16) == 0;
}


/* IPv4 before IPv6, then by the bytes: the order the free slots take. */
static int addr_order(const void *x, const void *y)
{
    const rs_addr_t *a = x, *b = y;

    if (a->family != b->family) {
        return a->family == AF_INET ? -1 : 1;
    }
    return memcmp(a->ip, b->ip, a->family == AF_INET ? 4 : 16);
}


static const char *addr_text(apr_pool_t *p, const rs_addr_t *a)
{
    char buf[INET6_ADDRSTRLEN];

    if (a == NULL) {
        return "none";
    }
    if (inet_ntop(a->family, a->ip, buf, sizeof(buf)) == NULL) {
        return "?";
    }
    return apr_pstrdup(p, buf);
}


/* The worker's current address (without its port), 0 when it has none. */
static int worker_addr(const rl_proxy_worker_t *w, rs_addr_t *a)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;

    return rl_proxy_worker_address(w, &ss, &len) != 0 &&
           addr_from_sockaddr((struct sockaddr *)&ss, a);
}


static void worker_store(rl_proxy_worker_t *w, const rs_addr_t *a)
{
    struct sockaddr_storage ss;
    apr_uint32_t len;

    memset(&ss, 0, sizeof(ss));
    if (a->family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(w->port);
        memcpy(&in->sin_addr, a->ip, 4);
        len = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(w->port);
        memcpy(&in6->sin6_addr, a->ip, 16);
        in6->sin6_scope_id = a->scope;
        len = sizeof(*in6);
    }
    proxy_worker_store_address(w, &ss, len);
}


static const char *label(apr_pool_t *p, const rl_proxy_worker_t *w)
{
    return w->balancer
               ? apr_psprintf(p, "%s member %s", w->balancer->name, w->name)
               : apr_psprintf(p, "backend %s", w->name);
}


/* Sets or clears +U: directly at start-up (no child runs yet), else
 * through rl_proxy_worker_set_status (hook, balancer generation). */
static void set_unresolved(rl_proxy_worker_t *w, int on, const char *detail)
{
    if (state->startup) {
        if (on) {
            w->s->status |= RL_WORKER_UNRESOLVED;
        } else {
            w->s->status &= ~RL_WORKER_UNRESOLVED;
        }
        return;
    }
    rl_proxy_worker_set_status(w, on ? RL_WORKER_UNRESOLVED : 0,
                               on ? 0 : RL_WORKER_UNRESOLVED, "dns", detail);
}

/* -------------------------------------------------------------- answers */

/* Gives one worker its new address (or none). */
static void apply_worker(apr_pool_t *p, rs_name_t *n, rl_proxy_worker_t *w,
                         const rs_addr_t *now, unsigned ttl)
{
    rs_addr_t cur;
    int had = worker_addr(w, &cur);

    if (now != NULL) {
        if (!had || !addr_same(&cur, now)) {
            worker_store(w, now);
            rl_log_error(state->startup && !had ? RL_LOG_INFO : RL_LOG_NOTICE,
                         0, state->s,
                         "%s: %s now resolves to %s (was %s), TTL %u s",
                         label(p, w), n->host, addr_text(p, now),
                         had ? addr_text(p, &cur) : "none", ttl);
        }
        if (w->s->status & RL_WORKER_UNRESOLVED) {
            if (had && addr_same(&cur, now)) {
                rl_log_error(RL_LOG_NOTICE, 0, state->s,
                             "%s: %s answers again: back in service",
                             label(p, w), n->host);
            }
            set_unresolved(w, 0, "resolved");
        }
        return;
    }
    /* a resolve=all slot that the answer leaves without an address */
    if (had) {
        proxy_worker_store_address(w, NULL, 0);
        rl_log_error(RL_LOG_NOTICE, 0, state->s,
                     "%s: %s has no address left for this slot (was %s): "
                     "out of service",
                     label(p, w), n->host, addr_text(p, &cur));
    }
    if (!(w->s->status & RL_WORKER_UNRESOLVED)) {
        set_unresolved(w, 1, "no address for this slot");
    }
}


/* Distributes an answer over the name's workers. */
static void apply_answer(apr_pool_t *p, rs_name_t *n, const rs_addr_t *ans,
                         int nans, unsigned ttl)
{
    rs_addr_t *sorted = apr_pmemdup(p, ans, sizeof(*ans) * (apr_size_t)nans);
    int g;

    qsort(sorted, (size_t)nans, sizeof(*sorted), addr_order);
    for (g = 0; g < n->groups->nelts; g++) {
        rs_group_t *grp = &APR_ARRAY_IDX(n->groups, g, rs_group_t);
        int *taken = apr_pcalloc(p, sizeof(int) * (apr_size_t)nans);
        const rs_addr_t **give =
            apr_pcalloc(p, sizeof(*give) * (apr_size_t)grp->n);
        int k, j, next = 0;

        /* a worker keeps its address while it is still in the answer */
        for (k = 0; k < grp->n; k++) {
            rs_addr_t cur;
            if (!worker_addr(grp->w[k], &cur)) {
                continue;
            }
            for (j = 0; j < nans; j++) {
                if (!taken[j] && addr_same(&sorted[j], &cur)) {
                    taken[j] = 1;
                    give[k] = &sorted[j];
                    break;
                }
            }
        }
        for (k = 0; k < grp->n; k++) {
            if (give[k] != NULL) {
                continue;
            }
            if (grp->n == 1) {
                give[k] = &ans[0]; /* c-ares's order (RFC 6724) */
                break;
            }
            while (next < nans && taken[next]) {
                next++;
            }
            if (next < nans) {
                taken[next] = 1;
                give[k] = &sorted[next];
            }
        }
        for (k = 0; k < grp->n; k++) {
            apply_worker(p, n, grp->w[k], give[k], ttl);
        }
    }
}


static apr_interval_time_t clamp_ttl(unsigned ttl)
{
    apr_interval_time_t t = apr_time_from_sec(ttl);

    if (t < state->conf->minttl) {
        t = state->conf->minttl;
    }
    if (t > state->conf->maxttl) {
        t = state->conf->maxttl;
    }
    return t;
}


/* How soon a failing name is asked again: minttl, 1 to 5 s. */
static apr_interval_time_t retry_after(void)
{
    apr_interval_time_t t = state->conf->minttl;

    if (t < apr_time_from_sec(1)) {
        t = apr_time_from_sec(1);
    }
    return t > apr_time_from_sec(5) ? apr_time_from_sec(5) : t;
}


static int name_has_address(rs_name_t *n)
{
    int g, k;

    for (g = 0; g < n->groups->nelts; g++) {
        rs_group_t *grp = &APR_ARRAY_IDX(n->groups, g, rs_group_t);
        for (k = 0; k < grp->n; k++) {
            rs_addr_t a;
            if (worker_addr(grp->w[k], &a)) {
                return 1;
            }
        }
    }
    return 0;
}


static void name_failed(apr_pool_t *p, rs_name_t *n, const char *why)
{
    apr_time_t now = apr_time_now();

    n->next = now + retry_after();
    if (n->failing) {
        return;
    }
    n->failing = 1;
    n->fail_since = now;
    if (!name_has_address(n)) {
        int g, k;
        rl_log_error(RL_LOG_WARNING, 0, state->s,
                     "ProxyResolver: backend host '%s' does not resolve (%s); "
                     "it takes no traffic until it does",
                     n->host, why);
        for (g = 0; g < n->groups->nelts; g++) {
            rs_group_t *grp = &APR_ARRAY_IDX(n->groups, g, rs_group_t);
            for (k = 0; k < grp->n; k++) {
                if (!(grp->w[k]->s->status & RL_WORKER_UNRESOLVED)) {
                    set_unresolved(grp->w[k], 1, why);
                }
            }
        }
        return;
    }
    rl_log_error(RL_LOG_WARNING, 0, state->s,
                 "ProxyResolver: backend host '%s' does not resolve (%s); its "
                 "backends keep their last address%s",
                 n->host, why,
                 state->conf->hold > 0
                     ? apr_psprintf(p, " for at most %ld s (hold=)",
                                    (long)apr_time_sec(state->conf->hold))
                     : "");
}


/* hold=: a name failing for longer than that is taken out of service. */
static void check_hold(apr_pool_t *p, rs_name_t *n, apr_time_t now)
{
    int g, k;

    if (state->conf->hold <= 0 || !n->failing || n->held ||
        now < n->fail_since + state->conf->hold) {
        return;
    }
    n->held = 1;
    for (g = 0; g < n->groups->nelts; g++) {
        rs_group_t *grp = &APR_ARRAY_IDX(n->groups, g, rs_group_t);
        for (k = 0; k < grp->n; k++) {
            rl_proxy_worker_t *w = grp->w[k];
            if (w->s->status & RL_WORKER_UNRESOLVED) {
                continue;
            }
            rl_log_error(RL_LOG_NOTICE, 0, state->s,
                         "%s: %s has not resolved for %ld s (hold=%ld s): "
                         "taken out of service",
                         label(p, w), n->host,
                         (long)apr_time_sec(now - n->fail_since),
                         (long)apr_time_sec(state->conf->hold));
            set_unresolved(w, 1, "hold expired");
        }
    }
}


static void on_answer(void *arg, int status, int timeouts,
                      struct ares_addrinfo *ai)
{
    rs_name_t *n = arg;
    apr_pool_t *p;
    rs_addr_t *ans;
    int nans = 0, cap = 0;
    unsigned ttl = ~0u;
    struct ares_addrinfo_node *node;

    (void)timeouts;
    n->in_flight = 0;
    if (state == NULL || status == ARES_EDESTRUCTION) {
        if (ai != NULL) {
            ares_freeaddrinfo(ai);
        }
        return;
    }
    apr_pool_create(&p, NULL);
    for (node = ai && status == ARES_SUCCESS ? ai->nodes : NULL; node;
         node = node->ai_next) {
        cap++;
    }
    ans = apr_pcalloc(p, sizeof(*ans) * (apr_size_t)(cap + 1));
    for (node = ai && status == ARES_SUCCESS ? ai->nodes : NULL; node;
         node = node->ai_next) {
        int j, dup = 0;
        if (node->ai_addr == NULL ||
            !addr_from_sockaddr(node->ai_addr, &ans[nans])) {
            continue;
        }
        for (j = 0; j < nans; j++) {
            dup |= addr_same(&ans[j], &ans[nans]);
        }
        if (dup) {
            continue;
        }
        if (node->ai_ttl >= 0 && (unsigned)node->ai_ttl < ttl) {
            ttl = (unsigned)node->ai_ttl;
        }
        nans++;
    }
    if (ai != NULL) {
        ares_freeaddrinfo(ai);
    }
    if (nans == 0) {
        name_failed(p, n,
                    status == ARES_SUCCESS      ? "no address in the answer"
                    : status == ARES_ECANCELLED ? "timed out"
                                                : ares_strerror(status));
        apr_pool_destroy(p);
        return;
    }
    if (ttl == ~0u) {
        ttl = 0;
    }
    if (n->failing) {
        rl_log_error(RL_LOG_NOTICE, 0, state->s,
                     "ProxyResolver: backend host '%s' resolves again after "
                     "%ld s",
                     n->host,
                     (long)apr_time_sec(apr_time_now() - n->fail_since));
    }
    n->failing = 0;
    n->held = 0;
    apply_answer(p, n, ans, nans, ttl);
    n->next = apr_time_now() + clamp_ttl(ttl);
    apr_pool_destroy(p);
}

/* --------------------------------------------------------------- c-ares */

static int channel_open(ares_channel *ch)
{
    const proxy_resolver_conf_t *rc = state->conf;
    struct ares_options o;
    long per_try;
    int rv;

    /* two tries over every server, the second with twice the wait (as
     * c-ares does): timeout= bounds the whole lookup */
    per_try = (long)apr_time_as_msec(rc->timeout) / (3L * rc->nservers);
    memset(&o, 0, sizeof(o));
    o.timeout = per_try < 50 ? 50 : (int)per_try;
    o.tries = 2;
    o.lookups = (char *)"fb"; /* /etc/hosts, then the nameservers */
    rv = ares_init_options(
        ch, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS);
    if (rv != ARES_SUCCESS) {
        rl_log_error(RL_LOG_ERR, 0, state->s,
                     "ProxyResolver: cannot start c-ares: %s",
                     ares_strerror(rv));
        return 0;
    }
    rv = ares_set_servers_ports_csv(*ch, rc->servers);
    if (rv != ARES_SUCCESS) {
        rl_log_error(RL_LOG_ERR, 0, state->s,
                     "ProxyResolver: c-ares refuses the nameservers '%s': %s",
                     rc->servers, ares_strerror(rv));
        ares_destroy(*ch);
        return 0;
    }
    return 1;
}


static void ask(ares_channel ch, rs_name_t *n)
{
    struct ares_addrinfo_hints hints;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = state->conf->family;
    n->in_flight = 1;
    ares_getaddrinfo(ch, n->host, NULL, &hints, on_answer, n);
}


/* Waits for c-ares's sockets at most `ms`, then lets it process. */
static void pump(ares_channel ch, int ms)
{
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    struct pollfd pfd[ARES_GETSOCK_MAXNUM];
    struct timeval tv, max, *tvp;
    /* c-ares's ARES_GETSOCK_WRITABLE shifts a signed 1 into bit 31 for
     * the last socket (undefined behaviour): test the bits unsigned */
    unsigned bits = (unsigned)ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
    int i, n = 0, ready;

    for (i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
        short ev = 0;
        if (bits & (1u << i)) {
            ev |= POLLIN;
        }
        if (bits & (1u << (i + ARES_GETSOCK_MAXNUM))) {
            ev |= POLLOUT;
        }
        if (ev != 0) {
            pfd[n].fd = socks[i];
            pfd[n].events = ev;
            pfd[n].revents = 0;
            n++;
        }
    }
    max.tv_sec = ms / 1000;
    max.tv_usec = (ms % 1000) * 1000;
    tvp = ares_timeout(ch, &max, &tv);
    ms = (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000);
    ready = poll(pfd, (nfds_t)n, ms);
    for (i = 0; ready > 0 && i < n; i++) {
        if (pfd[i].revents == 0) {
            continue;
        }
        ares_process_fd(
            ch,
            (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) ? pfd[i].fd
                                                            : ARES_SOCKET_BAD,
            (pfd[i].revents & (POLLOUT | POLLERR)) ? pfd[i].fd
                                                   : ARES_SOCKET_BAD);
    }
    /* timeouts */
    ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

/* ------------------------------------------------------------- start-up */

static apr_status_t rs_cleanup(void *unused)
{
    (void)unused;
    if (state != NULL && state->pid > 0) {
        kill(state->pid, SIGTERM);
        waitpid(state->pid, NULL, 0); /* may be reaped already */
        state->pid = 0;
    }
    state = NULL;
    return APR_SUCCESS;
}


/* The names to ask for, each with the workers it gives an address. */
static apr_array_header_t *build_names(apr_pool_t *pconf, apr_pool_t *ptemp)
{
    apr_array_header_t *workers = proxy_workers();
    apr_array_header_t *names = apr_array_make(pconf, 8, sizeof(rs_name_t *));
    apr_hash_t *by_host = apr_hash_make(ptemp);
    int i = 0;

    while (i < workers->nelts) {
        rl_proxy_worker_t *w = APR_ARRAY_IDX(workers, i, rl_proxy_worker_t *);
        rs_name_t *n;
        rs_group_t *grp;
        int k, size = 1;

        if (host_is_literal(w->hostname)) {
            i++;
            continue;
        }
        n = apr_hash_get(by_host, w->hostname, APR_HASH_KEY_STRING);
        if (n == NULL) {
            n = apr_pcalloc(pconf, sizeof(*n));
            n->host = w->hostname;
            n->groups = apr_array_make(pconf, 2, sizeof(rs_group_t));
            apr_hash_set(by_host, n->host, APR_HASH_KEY_STRING, n);
            APR_ARRAY_PUSH(names, rs_name_t *) = n;
        }
        /* resolve=all: the slot members follow their first member */
        if (w->resolve_all > 1 && w->resolve_slot == 0) {
            while (size < w->resolve_all && i + size < workers->nelts) {
                rl_proxy_worker_t *o =
                    APR_ARRAY_IDX(workers, i + size, rl_proxy_worker_t *);
                if (o->resolve_slot != size || o->balancer != w->balancer) {
                    break;
                }
                size++;
            }
        }
        grp = apr_array_push(n->groups);
        grp->n = size;
        grp->w = apr_palloc(pconf, sizeof(*grp->w) * (apr_size_t)size);
        for (k = 0; k < size; k++) {
            grp->w[k] = APR_ARRAY_IDX(workers, i + k, rl_proxy_worker_t *);
        }
        i += size;
    }
    return names;
}


/* post_config, in the parent: every name once, through the configured
 * nameservers, waiting at most timeout= in all. */
apr_status_t proxy_resolver_start_up(apr_pool_t *pconf, apr_pool_t *ptemp,
                                     rl_server_t *s)
{
    apr_array_header_t *workers = proxy_workers();
    ares_channel ch;
    apr_time_t deadline;
    int i, pending;

    state = apr_pcalloc(pconf, sizeof(*state));
    state->conf = proxy_server_conf(s)->resolver;
    state->s = s;
    state->startup = 1;
    apr_pool_cleanup_register(pconf, NULL, rs_cleanup, apr_pool_cleanup_null);
    /* workers named by an IP address: as without ProxyResolver */
    for (i = 0; i < workers->nelts; i++) {
        rl_proxy_worker_t *w = APR_ARRAY_IDX(workers, i, rl_proxy_worker_t *);
        if (host_is_literal(w->hostname) &&
            proxy_worker_resolve(pconf, s, w, 0) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
    }
    state->names = build_names(pconf, ptemp);
    ares_library_init(ARES_LIB_INIT_ALL);
    if (!channel_open(&ch)) {
        return APR_EGENERAL;
    }
    for (i = 0; i < state->names->nelts; i++) {
        ask(ch, APR_ARRAY_IDX(state->names, i, rs_name_t *));
    }
    deadline = apr_time_now() + state->conf->timeout + apr_time_from_msec(200);
    for (;;) {
        apr_time_t now = apr_time_now();
        for (pending = 0, i = 0; i < state->names->nelts; i++) {
            pending += APR_ARRAY_IDX(state->names, i, rs_name_t *)->in_flight;
        }
        if (pending == 0) {
            break;
        }
        if (now >= deadline) {
            apr_pool_t *p;
            ares_cancel(ch); /* each pending lookup ends as "timed out" */
            apr_pool_create(&p, ptemp);
            for (i = 0; i < state->names->nelts; i++) {
                rs_name_t *n = APR_ARRAY_IDX(state->names, i, rs_name_t *);
                if (n->in_flight) { /* not even cancelled: give up on it */
                    n->in_flight = 0;
                    name_failed(p, n, "timed out");
                }
            }
            apr_pool_destroy(p);
            break;
        }
        pump(ch, (int)apr_time_as_msec(deadline - now) + 1);
    }
    ares_destroy(ch);
    ares_library_cleanup();
    for (pending = 0, i = 0; i < state->names->nelts; i++) {
        pending += APR_ARRAY_IDX(state->names, i, rs_name_t *)->failing;
    }
    rl_log_error(RL_LOG_INFO, 0, s,
                 "ProxyResolver: asked %s for %d backend host name(s): %d "
                 "answered",
                 state->conf->servers_as_written, state->names->nelts,
                 state->names->nelts - pending);
    state->startup = 0;
    return APR_SUCCESS;
}

/* ------------------------------------------------------ resolver process */

static void rs_on_signal(int sig)
{
    (void)sig;
    rs_stop = 1;
}


static void rs_main(void)
{
    struct sigaction sa;
    ares_channel ch;
    apr_pool_t *p;
    int i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = rs_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGWINCH, &sa, NULL);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    prctl(PR_SET_NAME, "relaisd-resolver");
    if (getppid() == 1) {
        _exit(0); /* the parent is gone already */
    }
    /* DNS over UDP/TCP to the nameservers needs no privilege */
    if (rl_mpm_drop_privileges() != APR_SUCCESS) {
        _exit(2);
    }
    ares_library_init(ARES_LIB_INIT_ALL);
    if (!channel_open(&ch)) {
        _exit(2);
    }
    apr_pool_create(&p, NULL);
    while (!rs_stop) {
        apr_time_t now = apr_time_now(), wake = now + apr_time_from_sec(1);
        for (i = 0; i < state->names->nelts; i++) {
            rs_name_t *n = APR_ARRAY_IDX(state->names, i, rs_name_t *);
            check_hold(p, n, now);
            if (!n->in_flight && n->next <= now) {
                ask(ch, n);
            }
            if (!n->in_flight && n->next < wake) {
                wake = n->next;
            }
            if (state->conf->hold > 0 && n->failing && !n->held &&
                n->fail_since + state->conf->hold < wake) {
                wake = n->fail_since + state->conf->hold;
            }
        }
        now = apr_time_now();
        pump(ch, wake > now ? (int)apr_time_as_msec(wake - now) + 1 : 0);
        apr_pool_clear(p);
    }
    ares_destroy(ch);
    _exit(0);
}


/* post_config, after mod_proxy's own and mod_balancer's (so that the
 * balancers' shared generation counters exist in the process): start this
 * generation's resolver process. */
static int rs_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, rl_server_t *s)
{
    pid_t pid;

    (void)pconf;
    (void)plog;
    (void)ptemp;
    if (state == NULL || state->names == NULL || state->names->nelts == 0) {
        return RL_OK;
    }
    pid = fork();
    if (pid < 0) {
        rl_log_error(RL_LOG_EMERG, APR_FROM_OS_ERROR(errno), s,
                     "cannot start the DNS resolver process");
        return 500;
    }
    if (pid == 0) {
        rs_main();
    }
    state->pid = pid;
    rl_log_error(RL_LOG_INFO, 0, s,
                 "DNS resolver (pid %ld) follows %d backend host name(s) "
                 "through %s",
                 (long)pid, state->names->nelts,
                 state->conf->servers_as_written);
    return RL_OK;
}


void proxy_resolver_register_hooks(apr_pool_t *p)
{
    /* after mod_balancer's post_config, so that the process inherits the
     * balancers' shared generation counters */
    static const char *const after[] = {"balancer", NULL};

    (void)p;
    rl_hook_post_config(rs_post_config, after, NULL, RL_HOOK_LAST);
}
