/*
 * status_collect.c: what the status page and the metrics show besides
 * mod_status's own counters: the scoreboard (children, threads,
 * connections by state), mod_proxy's workers and balancers (their shared
 * state: status, in flight, requests, errors, bytes, health checks),
 * mod_cache's counters, and the CPU time and memory of the processes.
 *
 * mod_proxy and mod_cache are optional: their functions are looked up by
 * name in post_config (dlsym, as mod_cache.h and rl_proxy.h say a module
 * that must load without them does), never linked, so mod_status loads
 * with or without them and in any LoadModule order.
 */
#include "status_data.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

typedef const apr_array_header_t *(*st_workers_fn)(void);
typedef int (*st_usable_fn)(const rl_proxy_worker_t *w, apr_time_t now);
typedef const char *(*st_route_fn)(const rl_proxy_worker_t *w, char *buf,
                                   apr_size_t len);
typedef int (*st_cache_fn)(cache_metrics_t *m);

static st_workers_fn workers_fn;
static st_usable_fn usable_fn;
static st_route_fn route_fn;
static st_cache_fn cache_fn;

/* A function of another module by name, or NULL when it is not loaded. */
static void *lookup(const char *name)
{
    return dlsym(RTLD_DEFAULT, name);
}

void st_collect_setup(void)
{
    void *f;

    f = lookup("rl_proxy_workers");
    memcpy(&workers_fn, &f, sizeof(f));
    f = lookup("rl_proxy_worker_usable");
    memcpy(&usable_fn, &f, sizeof(f));
    f = lookup("rl_proxy_worker_route");
    memcpy(&route_fn, &f, sizeof(f));
    f = lookup("cache_metrics_get");
    memcpy(&cache_fn, &f, sizeof(f));
}


const apr_array_header_t *st_workers(void)
{
    return workers_fn ? workers_fn() : NULL;
}


int st_worker_usable(const rl_proxy_worker_t *w, apr_time_t now)
{
    return usable_fn ? usable_fn(w, now) : 0;
}


const char *st_worker_route(apr_pool_t *p, const rl_proxy_worker_t *w)
{
    if (route_fn != NULL) {
        char *buf = apr_palloc(p, RL_WORKER_ROUTE_MAX);
        const char *route = route_fn(w, buf, RL_WORKER_ROUTE_MAX);
        return route ? route : "";
    }
    return w->route ? w->route : "";
}


const char *st_balancer_lbmethod(const rl_proxy_balancer_t *b)
{
    if (b->lbmethod_index != NULL && b->lbmethods != NULL) {
        apr_uint32_t i = *b->lbmethod_index;
        if (i < (apr_uint32_t)b->nlbmethods && b->lbmethods[i] != NULL) {
            return b->lbmethods[i]->name;
        }
    }
    return b->lbmethod ? b->lbmethod->name : "byrequests";
}


apr_array_header_t *st_balancers(apr_pool_t *p)
{
    const apr_array_header_t *ws = st_workers();
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(void *));
    apr_hash_t *seen = apr_hash_make(p);
    int i;

    for (i = 0; ws != NULL && i < ws->nelts; i++) {
        rl_proxy_balancer_t *b =
            APR_ARRAY_IDX(ws, i, rl_proxy_worker_t *)->balancer;
        if (b != NULL && apr_hash_get(seen, &b, sizeof(b)) == NULL) {
            rl_proxy_balancer_t **key = apr_palloc(p, sizeof(*key));
            *key = b;
            apr_hash_set(seen, key, sizeof(*key), "");
            APR_ARRAY_PUSH(out, rl_proxy_balancer_t *) = b;
        }
    }
    return out;
}


/* ------------------------------------------------------------------ */
/* Processes: /proc/<pid>/stat                                         */
/* ------------------------------------------------------------------ */

typedef struct st_pstat_t {
    double user, sys, cuser, csys; /* seconds */
    apr_uint64_t rss;              /* bytes */
} st_pstat_t;

/* Fields 14-17 (utime, stime, cutime, cstime) and 24 (rss, pages) of
 * /proc/<pid>/stat (proc(5)); the command name in field 2 may hold
 * spaces and parentheses, so counting starts after the last ')'. */
static int read_pstat(pid_t pid, st_pstat_t *out)
{
    char path[64], buf[1024], *p, *save = NULL;
    double tick = (double)sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    ssize_t n;
    int fd, field;

    apr_snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    p = strrchr(buf, ')');
    if (p == NULL || tick <= 0) {
        return 0;
    }
    memset(out, 0, sizeof(*out));
    for (field = 3, p = apr_strtok(p + 1, " ", &save); p != NULL;
         p = apr_strtok(NULL, " ", &save), field++) {
        switch (field) {
        case 14:
            out->user = (double)apr_atoi64(p) / tick;
            break;
        case 15:
            out->sys = (double)apr_atoi64(p) / tick;
            break;
        case 16:
            out->cuser = (double)apr_atoi64(p) / tick;
            break;
        case 17:
            out->csys = (double)apr_atoi64(p) / tick;
            break;
        case 24:
            out->rss = (apr_uint64_t)apr_atoi64(p) * (apr_uint64_t)page;
            return 1;
        default:
            break;
        }
    }
    return 0;
}


static void collect_procs(st_snapshot_t *snap)
{
    st_proc_t *pr = &snap->proc;
    st_pstat_t ps;
    int i;

    memset(pr, 0, sizeof(*pr));
    /* the handler runs in a child: its parent is relaisd's parent */
    if (!read_pstat(getppid(), &ps)) {
        return;
    }
    pr->ok = 1;
    pr->nprocs = 1;
    pr->parent_user = ps.user;
    pr->parent_sys = ps.sys;
    pr->reaped_user = ps.cuser;
    pr->reaped_sys = ps.csys;
    pr->parent_rss = ps.rss;
    for (i = 0; i < snap->nchildren; i++) {
        if (read_pstat(snap->children[i].pid, &ps)) {
            pr->children_user += ps.user;
            pr->children_sys += ps.sys;
            pr->children_rss += ps.rss;
            pr->nprocs++;
        }
    }
}


/* ------------------------------------------------------------------ */
/* The scoreboard                                                       */
/* ------------------------------------------------------------------ */

/* Does this thread serve a request now (or, under prefork and worker,
 * hold a connection, which keeps the thread from any other)? */
static int thread_busy(const st_snapshot_t *snap,
                       const rl_scoreboard_thread_t *t)
{
    if (snap->blocking) {
        return t->conns[RL_SB_READING] + t->conns[RL_SB_WRITING] +
                   t->conns[RL_SB_KEEPALIVE] + t->conns[RL_SB_CLOSING] >
               0;
    }
    return t->conns[RL_SB_WRITING] > 0;
}


char st_thread_letter(const st_snapshot_t *snap,
                      const rl_scoreboard_view_t *child, int thread)
{
    const rl_scoreboard_thread_t *t;

    if (thread >= child->nthreads) {
        return '_'; /* never had a connection */
    }
    t = &child->threads[thread];
    if (child->graceful && thread_busy(snap, t)) {
        return 'G';
    }
    if (t->conns[RL_SB_WRITING] > 0) {
        return 'W';
    }
    if (t->conns[RL_SB_READING] > 0) {
        return 'R';
    }
    if (t->conns[RL_SB_CLOSING] > 0) {
        return 'C';
    }
    if (t->conns[RL_SB_KEEPALIVE] > 0) {
        return 'K';
    }
    return '_';
}


static void collect_scoreboard(rl_request_t *r, st_snapshot_t *snap)
{
    rl_mpm_settings_t *m = rl_mpm_settings();
    /* room for the children now, and for a few forked meanwhile */
    int max = rl_scoreboard_read(NULL, 0) + 8, i, t, k;

    snap->mpm = rl_mpm_name() ? rl_mpm_name() : "unknown";
    snap->blocking = strcmp(snap->mpm, "event") != 0;
    snap->threads_per_child =
        m->threads_per_child > 0 ? m->threads_per_child : 1;
    snap->server_limit = m->server_limit;
    snap->max_workers = m->max_request_workers;
    snap->children = apr_palloc(r->pool, sizeof(rl_scoreboard_view_t) * max);
    snap->nchildren = rl_scoreboard_read(snap->children, max);
    if (snap->nchildren > max) {
        snap->nchildren = max;
    }
    for (i = 0; i < snap->nchildren; i++) {
        const rl_scoreboard_view_t *c = &snap->children[i];
        int busy = 0;
        for (t = 0; t < c->nthreads; t++) {
            busy += thread_busy(snap, &c->threads[t]);
        }
        for (k = 0; k < RL_SB_NSTATES; k++) {
            snap->conns[k] += c->conns[k];
        }
        if (c->graceful) {
            snap->stopping++;
            snap->graceful_busy += busy;
            continue;
        }
        snap->busy += busy;
        snap->idle += snap->threads_per_child - busy > 0
                          ? snap->threads_per_child - busy
                          : 0;
    }
}


void st_collect(rl_request_t *r, st_snapshot_t *snap)
{
    memset(snap, 0, sizeof(*snap));
    snap->now = apr_time_now();
    collect_scoreboard(r, snap);
    st_totals(&snap->totals);
    if (cache_fn != NULL) {
        snap->cache_on = cache_fn(&snap->cache);
    }
    collect_procs(snap);
}
