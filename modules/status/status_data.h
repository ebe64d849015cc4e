/*
 * status_data.h: what mod_status's own files share (the balancer manager,
 * status_manager.c, needs none of it; status_private.h is its contract).
 *
 *   status_shm.c      the counters mod_status keeps in shared memory:
 *                     requests by vhost, status class and method, bytes,
 *                     request durations and per-member backend response
 *                     times (histograms); made in post_config, kept across
 *                     graceful restarts, counted in log_transaction
 *   status_collect.c  a snapshot of everything else a page shows: the
 *                     scoreboard, balancers and members (mod_proxy's
 *                     shared state), mod_cache's counters, the processes'
 *                     CPU time and memory
 *   status_page.c     SetHandler server-status: HTML, ?auto, ?refresh=N
 *   status_metrics.c  SetHandler metrics: Prometheus text format 0.0.4
 *
 * Every handler computes from shared memory (and /proc, which the kernel
 * answers at once): nothing waits.
 */
#ifndef STATUS_DATA_H
#define STATUS_DATA_H

#include "status_private.h"

#include "rl_proxy.h"
#include "../cache/mod_cache.h"

#include <apr_hash.h>
#include <apr_strings.h>

/* ------------------------------------------------------------------ */
/* Counters in shared memory (status_shm.c)                            */
/* ------------------------------------------------------------------ */

/* Histogram buckets: Prometheus's default bounds (5 ms … 10 s) and one
 * past the last for +Inf.  Each bucket counts its own observations (not
 * cumulative): a reader sums them, so the cumulative counts it shows are
 * consistent whatever the writers do meanwhile. */
#define ST_NBOUNDS 11
#define ST_NBUCKETS (ST_NBOUNDS + 1)
extern const apr_int64_t st_bound_us[ST_NBOUNDS];
extern const char *const st_bound_text[ST_NBOUNDS]; /* "0.005" … "10" */

/* Status classes 1xx … 5xx, then anything else. */
#define ST_NCLASSES 6
extern const char *const st_class_names[ST_NCLASSES];

/* Methods counted one by one; the rest under "other" (a client choosing
 * method names must not be able to grow the table). */
#define ST_NMETHODS 10
extern const char *const st_method_names[ST_NMETHODS];

typedef struct st_hist_t {
    volatile apr_uint64_t bucket[ST_NBUCKETS];
    volatile apr_uint64_t sum_us;
} st_hist_t;

/* A histogram as read: cumulative counts (cum[ST_NBOUNDS] is the total). */
typedef struct st_hist_view_t {
    apr_uint64_t cum[ST_NBUCKETS];
    apr_uint64_t sum_us;
} st_hist_view_t;

#define ST_KEY_MAX 320

/* One vhost's counters. */
typedef struct st_vhost_shm_t {
    char key[ST_KEY_MAX]; /* its label: what identifies it across restarts */
    volatile apr_uint64_t requests[ST_NCLASSES][ST_NMETHODS];
    volatile apr_uint64_t bytes_in, bytes_out;
    st_hist_t duration;
} st_vhost_shm_t;

/* One worker's (member's or backend's) counters, by worker index. */
typedef struct st_member_shm_t {
    char key[ST_KEY_MAX]; /* "balancer://app|http://10.0.0.1:8080" */
    st_hist_t response;   /* first byte of the backend's answer */
} st_member_shm_t;

/* A vhost of the configuration, with its label. */
typedef struct st_vhost_t {
    rl_server_t *s;
    const char *label; /* "www.example.com:443", unique */
    const char *addrs; /* "127.0.0.1:8080 [::1]:8080", or "" */
} st_vhost_t;

/* Totals of the counters (all vhosts, including ones removed by a
 * restart since). */
typedef struct st_totals_t {
    apr_uint64_t requests, bytes_in, bytes_out, duration_us;
} st_totals_t;

/* Makes (or keeps) the segment for this configuration, in post_config;
 * `counting` is ExtendedStatus (without it, no segment and no counting). */
apr_status_t st_shm_setup(apr_pool_t *pconf, rl_server_t *s,
                          const apr_array_header_t *workers, int counting);
/* log_transaction: counts r. */
void st_shm_count(rl_request_t *r);
/* The vhosts of the configuration (st_vhost_t), by index. */
const apr_array_header_t *st_vhosts(void);
/* Their counters, or NULL when there is no segment (ExtendedStatus Off). */
const st_vhost_shm_t *st_vhost_counters(int i);
/* A worker's counters (by w->index), or NULL. */
const st_member_shm_t *st_member_counters(int index);
void st_totals(st_totals_t *t);
void st_hist_read(const st_hist_t *h, st_hist_view_t *v);
/* When relaisd started, and when this configuration was loaded. */
apr_time_t st_started(void);
apr_time_t st_loaded(void);
/* Configuration generations served since the start (1 = the first). */
int st_generation(void);
/* True when the counters are kept (ExtendedStatus On, the default). */
int st_counting(void);

/* ------------------------------------------------------------------ */
/* A snapshot of the rest (status_collect.c)                           */
/* ------------------------------------------------------------------ */

/* CPU time (seconds) and resident memory (bytes) of the processes. */
typedef struct st_proc_t {
    int ok; /* /proc was readable */
    double parent_user, parent_sys;
    double reaped_user, reaped_sys;     /* children that exited (the parent's
                                           cutime, cstime) */
    double children_user, children_sys; /* children running now */
    apr_uint64_t parent_rss, children_rss;
    int nprocs; /* parent + children read */
} st_proc_t;

typedef struct st_snapshot_t {
    apr_time_t now;
    const char *mpm;
    int blocking; /* prefork, worker: a connection holds its thread,
                     even idle between requests */
    int threads_per_child;
    int server_limit;
    int max_workers;
    rl_scoreboard_view_t *children;
    int nchildren;
    int busy, idle, graceful_busy; /* threads (workers) */
    int stopping;                  /* children told to finish */
    apr_uint32_t conns[RL_SB_NSTATES];
    st_totals_t totals;
    int cache_on; /* a cache is configured */
    cache_metrics_t cache;
    st_proc_t proc;
} st_snapshot_t;

void st_collect(rl_request_t *r, st_snapshot_t *snap);
/* The thread's scoreboard letter: '_' idle, 'R', 'W', 'K', 'C', 'G'. */
char st_thread_letter(const st_snapshot_t *snap,
                      const rl_scoreboard_view_t *child, int thread);

/* mod_proxy's workers of this generation, or NULL (mod_proxy not loaded);
 * looked up in post_config, without linking to mod_proxy. */
const apr_array_header_t *st_workers(void);
/* rl_proxy_worker_usable() through the same lookup. */
int st_worker_usable(const rl_proxy_worker_t *w, apr_time_t now);
/* The member's route now (a manager may change it), or "". */
const char *st_worker_route(apr_pool_t *p, const rl_proxy_worker_t *w);
/* The balancer's lbmethod now (a manager may change it). */
const char *st_balancer_lbmethod(const rl_proxy_balancer_t *b);
/* The balancers that have members, in configuration order
 * (rl_proxy_balancer_t *). */
apr_array_header_t *st_balancers(apr_pool_t *p);
/* Resolves the optional functions of mod_proxy and mod_cache (post_config
 * of each generation: the modules are loaded again then). */
void st_collect_setup(void);

/* ------------------------------------------------------------------ */
/* Output (status_page.c, status_metrics.c)                            */
/* ------------------------------------------------------------------ */

int st_page_handler(rl_request_t *r);
int st_metrics_handler(rl_request_t *r);

/* HTML-escapes s (&, <, >, ", '). */
const char *st_html(apr_pool_t *p, const char *s);

#endif /* STATUS_DATA_H */
