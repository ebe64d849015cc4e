/*
 * proxy_candidates.c: which members of a balancer may take a new request
 * now, and with what weight.  The rules are httpd's (lbset tiers, hot
 * spares, hot standbys, forcerecovery) plus slow start; every lbmethod,
 * bundled or not, then chooses among the same candidates.
 */
#include "proxy_private.h"

#include <limits.h>

/* A member that takes ordinary traffic (not a spare, standby or draining) */
static int is_regular(const rl_proxy_worker_t *w)
{
    return !(w->s->status & (RL_WORKER_HOT_STANDBY | RL_WORKER_HOT_SPARE |
                             RL_WORKER_DRAINING));
}


/* loadfactor x 100, ramped up linearly over slowstart= after the member
 * came back into service, never below 1. */
static int weight_now(const rl_proxy_worker_t *w, apr_time_t now)
{
    apr_time_t since = w->s->usable_since;
    long full = (long)w->loadfactor * 100, part;

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
static int skipped(const rl_proxy_worker_t *w, const char *skip)
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
    return rl_proxy_worker_usable(w, now) && !skipped(w, skip);
}


RL_PROXY_DECLARE(int)
rl_proxy_balancer_candidates(rl_proxy_balancer_t *b, apr_time_t now,
                             const char *skip, rl_proxy_candidate_t *c)
{
    int i, n = 0, set = INT_MAX, spare_set = INT_MAX;
    int m = b->members->nelts;

    /* the lowest lbset with a usable regular member */
    for (i = 0; i < m; i++) {
        rl_proxy_worker_t *w =
            APR_ARRAY_IDX(b->members, i, rl_proxy_worker_t *);
        if (!usable(w, now, skip)) {
            continue;
        }
        if (is_regular(w) && w->lbset < set) {
            set = w->lbset;
        }
        if ((w->s->status & RL_WORKER_HOT_SPARE) && w->lbset < spare_set) {
            spare_set = w->lbset;
        }
    }
    if (set == INT_MAX) {
        set = spare_set; /* all regular members are out: spares only */
    }
    if (set != INT_MAX) {
        int down = 0; /* regular members of the set that are out */
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
        /* hot spares stand in one for one for members that are out */
        for (i = 0; i < m && down > 0; i++) {
            rl_proxy_worker_t *w =
                APR_ARRAY_IDX(b->members, i, rl_proxy_worker_t *);
            if (w->lbset == set && (w->s->status & RL_WORKER_HOT_SPARE) &&
                usable(w, now, skip)) {
                n = add(c, n, b, i, now);
                down--;
            }
        }
        if (n > 0) {
            return n;
        }
    }
    /* hot standbys, only when nothing else can */
    for (i = 0; i < m; i++) {
        rl_proxy_worker_t *w =
            APR_ARRAY_IDX(b->members, i, rl_proxy_worker_t *);
        if ((w->s->status & RL_WORKER_HOT_STANDBY) && usable(w, now, skip)) {
            n = add(c, n, b, i, now);
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
        if ((st & RL_WORKER_IN_ERROR) && is_regular(w) && !skipped(w, skip) &&
            !(st & (RL_WORKER_DISABLED | RL_WORKER_STOPPED |
                    RL_WORKER_HC_FAILED | RL_WORKER_UNRESOLVED))) {
            n = add(c, n, b, i, now);
        }
    }
    return n;
}
