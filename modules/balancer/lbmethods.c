/*
 * lbmethods.c: the bundled load-balancing methods, each a provider of
 * group "lbmethod", version "2" (rl_proxy_lbmethod_t in rl_proxy.h), the
 * same API a third-party module uses.
 *
 * Every method chooses among the candidates mod_balancer hands it
 * (rl_proxy_balancer_candidates: status, lbset tiers, spares, standbys and
 * slow start are already applied) and weighs them by their weight.
 */
#include "balancer_private.h"

#include <apr_atomic.h>
#include <apr_lib.h>
#include <apr_thread_mutex.h>
#include <math.h>

/*
 * byrequests: smooth weighted round robin (nginx's algorithm).  Each pick
 * adds every member's weight to its current score, takes the highest and
 * subtracts the total from it.  Worked example, weights a=3 b=1:
 *   scores (3,1) -> a, (-1,1);  (2,2) -> a, (-2,2);
 *   (1,3) -> b, (1,-1);  (4,0) -> a, (0,0)      => a a b a, repeating.
 * The scores are per child (a mutex for the child's threads), so the 3:1
 * holds in every child and therefore overall.
 */
typedef struct byrequests_ctx_t {
    apr_thread_mutex_t *lock;
    long *score; /* by member index */
} byrequests_ctx_t;

static apr_status_t byrequests_init(rl_proxy_balancer_t *b, apr_pool_t *p)
{
    byrequests_ctx_t *ctx = apr_pcalloc(p, sizeof(*ctx));

    ctx->score = apr_pcalloc(p, sizeof(long) * (apr_size_t)b->members->nelts);
    apr_thread_mutex_create(&ctx->lock, APR_THREAD_MUTEX_DEFAULT, p);
    b->lb_context = ctx;
    return APR_SUCCESS;
}


static rl_proxy_worker_t *byrequests_pick(rl_proxy_balancer_t *b,
                                          rl_request_t *r,
                                          const rl_proxy_candidate_t *c, int n)
{
    byrequests_ctx_t *ctx = b->lb_context;
    long total = 0;
    int i, best = 0;

    (void)r;
    apr_thread_mutex_lock(ctx->lock);
    for (i = 0; i < n; i++) {
        ctx->score[c[i].index] += c[i].weight;
        total += c[i].weight;
        if (ctx->score[c[i].index] > ctx->score[c[best].index]) {
            best = i;
        }
    }
    ctx->score[c[best].index] -= total;
    apr_thread_mutex_unlock(ctx->lock);
    return c[best].w;
}


/* A member left or rejoined: start the rotation afresh, so a member
 * that was out for long does not take a burst of catch-up picks. */
static void byrequests_member_changed(rl_proxy_balancer_t *b,
                                      rl_proxy_worker_t *w)
{
    byrequests_ctx_t *ctx = b->lb_context;

    (void)w;
    apr_thread_mutex_lock(ctx->lock);
    memset(ctx->score, 0, sizeof(long) * (apr_size_t)b->members->nelts);
    apr_thread_mutex_unlock(ctx->lock);
}


/* bybusyness (and leastconn): fewest requests in flight across all
 * children (shared counter), relative to weight; ties go round robin. */
static volatile apr_uint32_t busy_rr;

static rl_proxy_worker_t *bybusyness_pick(rl_proxy_balancer_t *b,
                                          rl_request_t *r,
                                          const rl_proxy_candidate_t *c, int n)
{
    int i, best = -1,
           start = (int)(apr_atomic_inc32(&busy_rr) % (apr_uint32_t)n);
    double best_load = 0;

    (void)b;
    (void)r;
    for (i = 0; i < n; i++) {
        const rl_proxy_candidate_t *x = &c[(start + i) % n];
        double load = (double)x->w->s->busy / x->weight;
        if (best < 0 || load < best_load) {
            best = (start + i) % n;
            best_load = load;
        }
    }
    return c[best].w;
}


/* bytraffic: least bytes moved (both ways), relative to weight. */
static rl_proxy_worker_t *bytraffic_pick(rl_proxy_balancer_t *b,
                                         rl_request_t *r,
                                         const rl_proxy_candidate_t *c, int n)
{
    int i, best = 0;
    double best_t = 0;

    (void)b;
    (void)r;
    for (i = 0; i < n; i++) {
        double t =
            (double)(c[i].w->s->bytes_in + c[i].w->s->bytes_out) / c[i].weight;
        if (i == 0 || t < best_t) {
            best = i;
            best_t = t;
        }
    }
    return c[best].w;
}


/* random: power of two choices on requests in flight, each choice drawn
 * in proportion to weight. */
static __thread apr_uint64_t rnd_state;

static apr_uint32_t rnd_next(void)
{
    if (rnd_state == 0) {
        rnd_state = (apr_uint64_t)apr_time_now() ^ (apr_uint64_t)&rnd_state;
    }
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (apr_uint32_t)(rnd_state >> 16);
}


static const rl_proxy_candidate_t *weighted_draw(const rl_proxy_candidate_t *c,
                                                 int n, long total)
{
    long at = (long)(rnd_next() % (apr_uint32_t)total);
    int i;

    for (i = 0; i < n - 1; i++) {
        at -= c[i].weight;
        if (at < 0) {
            break;
        }
    }
    return &c[i];
}


static rl_proxy_worker_t *random_pick(rl_proxy_balancer_t *b, rl_request_t *r,
                                      const rl_proxy_candidate_t *c, int n)
{
    const rl_proxy_candidate_t *x, *y;
    long total = 0;
    int i;

    (void)b;
    (void)r;
    for (i = 0; i < n; i++) {
        total += c[i].weight;
    }
    x = weighted_draw(c, n, total);
    y = weighted_draw(c, n, total);
    return (double)y->w->s->busy / y->weight < (double)x->w->s->busy / x->weight
               ? y->w
               : x->w;
}


/*
 * source and hash: rendezvous (highest random weight) hashing.  Each
 * member scores hash(member, key) scaled by its loadfactor; the highest
 * wins.  Removing one of N members moves only the keys it won (~1/N), and
 * every Relais node computes the same answer without sharing state.
 */
static apr_uint64_t fnv1a(const char *s, apr_size_t n, apr_uint64_t h)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}


/* splitmix64's finalizer: every input bit affects every output bit, so
 * members whose names differ only in a port digit still score
 * independently for each key. */
static apr_uint64_t mix64(apr_uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}


static rl_proxy_worker_t *hrw_pick(const rl_proxy_candidate_t *c, int n,
                                   const char *key)
{
    apr_uint64_t kh = fnv1a(key, strlen(key), 14695981039346656037ULL);
    double best_score = -1;
    int i, best = 0;

    for (i = 0; i < n; i++) {
        const char *name = c[i].w->name;
        apr_uint64_t h = mix64(
            kh ^ mix64(fnv1a(name, strlen(name), 14695981039346656037ULL)));
        double u = ((double)(h >> 11) + 0.5) / 9007199254740992.0; /* (0,1) */
        double score = -(double)c[i].weight / log(u);
        if (score > best_score) {
            best = i;
            best_score = score;
        }
    }
    return c[best].w;
}


static rl_proxy_worker_t *source_pick(rl_proxy_balancer_t *b, rl_request_t *r,
                                      const rl_proxy_candidate_t *c, int n)
{
    (void)b;
    return hrw_pick(c, n, r->connection->client_ip);
}


/* hash: the key is hashkey= (uri, header:Name, cookie:Name; default uri) */
static rl_proxy_worker_t *hash_pick(rl_proxy_balancer_t *b, rl_request_t *r,
                                    const rl_proxy_candidate_t *c, int n)
{
    const char *spec = b->hashkey, *key = NULL;

    if (spec != NULL && strncasecmp(spec, "header:", 7) == 0) {
        key = apr_table_get(r->headers_in, spec + 7);
    } else if (spec != NULL && strncasecmp(spec, "cookie:", 7) == 0) {
        key = balancer_cookie(r, spec + 7);
    }
    if (key == NULL) {
        key = r->uri;
    }
    return hrw_pick(c, n, key);
}


static const rl_proxy_lbmethod_t lb_byrequests = {
    "byrequests", byrequests_init,          byrequests_pick, NULL,
    NULL,         byrequests_member_changed};
static const rl_proxy_lbmethod_t lb_bybusyness = {
    "bybusyness", NULL, bybusyness_pick, NULL, NULL, NULL};
static const rl_proxy_lbmethod_t lb_leastconn = {
    "leastconn", NULL, bybusyness_pick, NULL, NULL, NULL};
static const rl_proxy_lbmethod_t lb_bytraffic = {
    "bytraffic", NULL, bytraffic_pick, NULL, NULL, NULL};
static const rl_proxy_lbmethod_t lb_random = {"random", NULL, random_pick,
                                              NULL,     NULL, NULL};
static const rl_proxy_lbmethod_t lb_source = {"source", NULL, source_pick,
                                              NULL,     NULL, NULL};
static const rl_proxy_lbmethod_t lb_hash = {"hash", NULL, hash_pick,
                                            NULL,   NULL, NULL};

void balancer_register_lbmethods(apr_pool_t *p)
{
    const rl_proxy_lbmethod_t *all[] = {
        &lb_byrequests, &lb_bybusyness, &lb_leastconn, &lb_bytraffic,
        &lb_random,     &lb_source,     &lb_hash};
    unsigned i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        rl_register_provider(p, "lbmethod", all[i]->name, "2", all[i]);
    }
}
