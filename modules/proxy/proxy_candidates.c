/*
 * proxy_candidates.c: which members of a balancer may take a new request
 * now, and with what weight.  The rules are httpd's
 * (ap_proxy_balancer_get_best_worker: lbset tiers in ascending order, and
 * within a set hot spares standing in for members that are out, then hot
 * standbys; forcerecovery when nothing is left) plus slow start; every
 * lbmethod, bundled or not, then chooses among the same candidates.
 */
#include "proxy_private.h"

#include <limits.h>

/* A member that takes ordinary traffic (not a spare, standby or draining) */
static int is_regular(const rl_proxy_worker_t *w)
{
    return !(w->s->status & (RL_WORKER_HOT_STANDBY | RL_WORKER_HOT_SPARE |
                             RL_WORKER_DRAINING));
}


/* loadfactor x 100 (the shared one: a balancer manager may change it),
 * ramped up linearly over slowstart= after the member came back into
 * service, never below 1. */
static int weight_now(const rl_proxy_worker_t *w, apr_time_t now)
{
    apr_time_t since = w->s->usable_since;
    long full = (long)w->s->loadfactor * 100, part;

    if (full < 1) {
        full = 1;
    }
    if (w->slowstart <= 0 || since == 0 || now - since >= w->slowstart) {
        return (int)full;
    }
    part = (long)((double)full * (double)(now - since) / (double)w->slowstart);
    return part < 1 ? 1 : (int)part;
}


static int add(rl_proxy_candidate_t *c, int n, rl_proxy_balancer_t *b, int i,
               apr_time_t now)
{
    rl_proxy_worker_t *w = APR_ARRAY_IDX(b->members, i, rl_proxy_worker_t *);

    c[n].w = w;
    c[n].index = i;
    c[n].weight = weight_now(w, now);
    return n + 1;
}


/* One this request already failed on (skip: ",3,7,"). */
RL_PROXY_DECLARE(int)
rl_proxy_worker_tried(const char *skip, const rl_proxy_worker_t *w)
{
    char key[16];

    if (skip == NULL) {
        return 0;
    }
    apr_snprintf(key, sizeof(key), ",%d,", w->index);
    return strstr(skip, key) != NULL;
}


/* Usable now, and not one this request already failed on. */
static int usable(const rl_proxy_worker_t *w, apr_time_t now, const char *skip)
{
    return rl_proxy_worker_usable(w, now) && !rl_proxy_worker_tried(skip, w);
}


/* The members of one lbset that may take the request: its usable regular
 * members, hot spares standing in one for one for those that are out, or
 * when there are none of those its usable hot standbys. */
static int candidates_of_set(rl_proxy_balancer_t *b, int set, apr_time_t now,
                             const char *skip, rl_proxy_candidate_t *c)
{
    int i, n = 0, down = 0, m = b->members->nelts;

    for (i = 0; i < m; i++) {
        rl_proxy_worker_t *w =
            APR_ARRAY_IDX(b->members, i, rl_proxy_worker_t *);
        if (w->lbset != set || !is_regular(w)) {
            continue;
        }
        if (usable(w, now, skip)) {
            n = add(c, n, b, i, now);
        } else {
            down++;
        }
    }
    for (i = 0; i < m && down > 0; i++) {
        rl_proxy_worker_t *w =
            APR_ARRAY_IDX(b->members, i, rl_proxy_worker_t *);
        if (w->lbset == set && (w->s->status & RL_WORKER_HOT_SPARE) &&
            usable(w, now, skip)) {
            n = add(c, n, b, i, now);
            down--;
        }
    }
    for (i = 0; i < m && n == 0; i++) {
        rl_proxy_worker_t *w =
            APR_ARRAY_IDX(b->members, i, rl_proxy_worker_t *);
        if (w->lbset == set && (w->s->status & RL_WORKER_HOT_STANDBY) &&
            usable(w, now, skip)) {
            n = add(c, n, b, i, now);
        }
    }
    return n;
}


RL_PROXY_DECLARE(int)
rl_proxy_balancer_candidates(rl_proxy_balancer_t *b, apr_time_t now,
                             const char *skip, rl_proxy_candidate_t *c)
{
    int i, n = 0, set = -1, m = b->members->nelts;

    /* lbsets in ascending order, as httpd: a higher set only when the
     * lower ones (spares and standbys included) cannot take it */
    for (;;) {
        int next = INT_MAX;
        for (i = 0; i < m; i++) {
            int ls = APR_ARRAY_IDX(b->members, i, rl_proxy_worker_t *)->lbset;
            if (ls > set && ls < next) {
                next = ls;
            }
        }
        if (next == INT_MAX) {
            break;
        }
        set = next;
        n = candidates_of_set(b, set, now, skip, c);
        if (n > 0) {
            return n;
        }
    }
    if (n > 0 || !b->forcerecovery) {
        return n;
    }
    /* forcerecovery: every member is in error; rather than refuse, try
     * those whose only fault is a passive error (their retry time is not
     * over), as httpd does */
    for (i = 0; i < m; i++) {
        rl_proxy_worker_t *w =
            APR_ARRAY_IDX(b->members, i, rl_proxy_worker_t *);
        apr_uint32_t st = w->s->status;
        if ((st & RL_WORKER_IN_ERROR) && is_regular(w) &&
            !rl_proxy_worker_tried(skip, w) &&
            !(st & (RL_WORKER_DISABLED | RL_WORKER_STOPPED |
                    RL_WORKER_HC_FAILED | RL_WORKER_UNRESOLVED))) {
            n = add(c, n, b, i, now);
        }
    }
    return n;
}
