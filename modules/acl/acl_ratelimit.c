/*
 * acl_ratelimit.c: `RateLimit N/s burst=M [by=ip|header:Name]`, counted in
 * one table of shared memory that every child process uses.
 *
 * The counting: a token bucket per (directive, client key), kept as the
 * "theoretical arrival time" of the generic cell rate algorithm.  A bucket
 * that refills one token every T nanoseconds and holds `burst` tokens is
 * one number, tat: the time at which it would be full again.  A request at
 * `now` is allowed when max(tat, now) + T - now <= burst * T, and then tat
 * moves on by T.  So a slot is 16 bytes (the key's hash and tat), there is
 * no refill arithmetic, and a slot whose tat has passed holds no
 * information at all: it is free for anyone.
 *
 * The table: `RateLimitTableSize` slots (default 65536, 1 MiB) in buckets of
 * RL_WAYS slots.  A key's hash picks one bucket; the key lives in one of
 * its slots or nowhere.  A new key takes an empty or expired slot of its
 * bucket, or else the slot closest to being full again (smallest tat).
 * The table never grows, so a flood of distinct keys cannot take more
 * memory, and it cannot push out the clients that are actually being
 * held back: their tat is further ahead than a newcomer's.  The hash is
 * SipHash keyed with a secret made when the table is created, so a client
 * cannot choose keys that all land in one bucket.
 *
 * Only the 64-bit hash of a key is stored, not the key: two keys with the
 * same hash would share a count, which at 2^-64 per pair is not worth the
 * bytes.
 *
 * Locking: robust process-shared mutexes inside the segment, one per group
 * of buckets (RL_LOCKS of them), so that two children rarely wait for each
 * other and a child killed while holding one does not stop the others.
 * The segment is anonymous and created in the parent, so children inherit
 * it and its locks at fork: child_init has nothing to attach.
 *
 * Graceful restarts: the segment lives in retained data (see
 * rl_retained_data_get).  The same RateLimitTableSize finds the same
 * segment again, so old and new children count together; another size
 * makes a new segment and copies the live entries over (their hashes stay
 * valid: the secret is copied too).  A directive is identified by where
 * it stands (file, line, vhost, location), so an unchanged configuration
 * keeps its counts.
 */

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_lib.h>
#include <apr_shm.h>
#include <apr_strings.h>

#include "acl_ratelimit.h"

RL_LOG_USE_MODULE(acl);

/** Slots per bucket: how far a key may be from its home. */
#define RL_WAYS 8
/** Mutexes of the table; bucket b takes lock b % RL_LOCKS. */
#define RL_LOCKS 64
#define RL_TABLE_DEFAULT 65536u
#define RL_TABLE_MIN 64u
#define RL_TABLE_MAX (1u << 26) /* 1 GiB of slots: surely a typo past that */
#define RL_RATE_MAX 1000000     /* per second or per minute */
#define RL_BURST_MAX 1000000
#define RL_MAGIC 0x524c524154453031ull /* "RLRATE01" */
#define RL_RETAINED_KEY "acl-ratelimit"
#define NS_PER_S 1000000000ll

struct acl_ratelimit_t {
    apr_uint64_t id;      /* which directive: part of every key's hash */
    apr_int64_t interval; /* ns per token */
    apr_int64_t tau;      /* burst * interval: the bucket's depth in ns */
    const char *header;   /* by=header:Name, or NULL for by=ip */
    const char *where;    /* "file:line", for the log */
    const char *text;     /* the arguments as written, for the log */
};

typedef struct rl_slot_t {
    apr_uint64_t hash; /* 0: never used */
    apr_int64_t tat;   /* CLOCK_MONOTONIC ns when the bucket is full again */
} rl_slot_t;

/* one cache line each: no false sharing between them */
typedef struct rl_lock_t {
    pthread_mutex_t m;
} __attribute__((aligned(64))) rl_lock_t;

typedef struct rl_table_t {
    apr_uint64_t magic;
    apr_uint64_t seed[2]; /* SipHash key, secret */
    apr_uint32_t nslots;
    apr_uint32_t nbuckets;
    rl_lock_t locks[RL_LOCKS];
    /* then nslots rl_slot_t */
} rl_table_t;

#define TABLE_SLOTS(t)                                                         \
    ((rl_slot_t *)((char *)(t) + APR_ALIGN(sizeof(rl_table_t), 64)))

/* Kept in the parent across configuration generations. */
typedef struct rl_retained_t {
    apr_pool_t *pool; /* holds shm; replaced with it */
    apr_shm_t *shm;
    apr_uint32_t nslots;
} rl_retained_t;

/* Per generation: the module's .so is loaded again at each restart, and
 * post_config resets these anyway in case it was not. */
static apr_uint32_t table_size = RL_TABLE_DEFAULT;
static int nlimits;     /* RateLimit directives in this configuration */
static rl_table_t *tbl; /* this generation's table; inherited at fork */


/* ------------------------------------------------------------------ */
/* SipHash-2-4 (Aumasson and Bernstein, 2012)                         */
/* ------------------------------------------------------------------ */

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND(v0, v1, v2, v3)                                               \
    do {                                                                       \
        v0 += v1;                                                              \
        v1 = ROTL(v1, 13);                                                     \
        v1 ^= v0;                                                              \
        v0 = ROTL(v0, 32);                                                     \
        v2 += v3;                                                              \
        v3 = ROTL(v3, 16);                                                     \
        v3 ^= v2;                                                              \
        v0 += v3;                                                              \
        v3 = ROTL(v3, 21);                                                     \
        v3 ^= v0;                                                              \
        v2 += v1;                                                              \
        v1 = ROTL(v1, 17);                                                     \
        v1 ^= v2;                                                              \
        v2 = ROTL(v2, 32);                                                     \
    } while (0)

static apr_uint64_t load_le64(const unsigned char *p, apr_size_t n)
{
    apr_uint64_t v = 0;

    while (n-- > 0) {
        v |= (apr_uint64_t)p[n] << (8 * n);
    }
    return v;
}

static apr_uint64_t siphash24(apr_uint64_t k0, apr_uint64_t k1,
                              const void *data, apr_size_t len)
{
    const unsigned char *p = data;
    apr_uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
    apr_uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
    apr_uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
    apr_uint64_t v3 = k1 ^ 0x7465646279746573ull;
    apr_uint64_t m;
    apr_size_t left = len;

    for (; left >= 8; p += 8, left -= 8) {
        m = load_le64(p, 8);
        v3 ^= m;
        SIPROUND(v0, v1, v2, v3);
        SIPROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    m = load_le64(p, left) | ((apr_uint64_t)(len & 0xff) << 56);
    v3 ^= m;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    v0 ^= m;
    v2 ^= 0xff;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}


/* ------------------------------------------------------------------ */
/* Configuration                                                      */
/* ------------------------------------------------------------------ */

/* "N/s" or "N/m" into ns per token and the default burst. */
static const char *parse_rate(apr_pool_t *p, const char *arg,
                              apr_int64_t *interval, int *count)
{
    const char *slash = strchr(arg, '/');
    apr_int64_t n = 0, unit;
    const char *c;

    if (slash == NULL || slash == arg) {
        return apr_psprintf(p,
                            "rate '%s' is not requests per time: expected "
                            "N/s or N/m, e.g. 10/s",
                            arg);
    }
    for (c = arg; c < slash; c++) {
        if (!apr_isdigit(*c) || n > RL_RATE_MAX) {
            return apr_psprintf(p,
                                "rate '%s': the count must be a whole number "
                                "from 1 to %d",
                                arg, RL_RATE_MAX);
        }
        n = n * 10 + (*c - '0');
    }
    if (n < 1 || n > RL_RATE_MAX) {
        return apr_psprintf(p,
                            "rate '%s': the count must be a whole number from "
                            "1 to %d",
                            arg, RL_RATE_MAX);
    }
    if (strcmp(slash + 1, "s") == 0) {
        unit = NS_PER_S;
    } else if (strcmp(slash + 1, "m") == 0) {
        unit = 60 * NS_PER_S;
    } else {
        return apr_psprintf(p,
                            "rate '%s': unknown unit '/%s', expected /s (per "
                            "second) or /m (per minute)",
                            arg, slash + 1);
    }
    *interval = unit / n;
    *count = (int)n;
    return NULL;
}

static const char *parse_burst(apr_pool_t *p, const char *val, int *burst)
{
    apr_int64_t n = 0;
    const char *c;

    for (c = val; *c != '\0'; c++) {
        if (!apr_isdigit(*c) || n > RL_BURST_MAX) {
            break;
        }
        n = n * 10 + (*c - '0');
    }
    if (*val == '\0' || *c != '\0' || n < 1 || n > RL_BURST_MAX) {
        return apr_psprintf(p,
                            "burst=%s: expected a whole number of requests "
                            "from 1 to %d (burst=0 would refuse everything)",
                            val, RL_BURST_MAX);
    }
    *burst = (int)n;
    return NULL;
}

static const char *parse_by(apr_pool_t *p, const char *val, const char **hdr)
{
    if (strcasecmp(val, "ip") == 0) {
        *hdr = NULL;
        return NULL;
    }
    if (strncasecmp(val, "header:", 7) == 0) {
        const char *c;

        for (c = val + 7; *c != '\0'; c++) {
            if (!apr_isalnum(*c) && strchr("!#$%&'*+-.^_`|~", *c) == NULL) {
                break;
            }
        }
        if (c > val + 7 && *c == '\0') {
            *hdr = apr_pstrdup(p, val + 7);
            return NULL;
        }
        return apr_psprintf(p,
                            "by=%s: '%s' is not a header field name "
                            "(letters, digits and -, e.g. by=header:X-Api-Key)",
                            val, val + 7);
    }
    return apr_psprintf(p, "unknown by=%s: expected by=ip or by=header:Name",
                        val);
}

const char *acl_ratelimit_parse(rl_cmd_t *cmd, int argc, char *const argv[],
                                acl_ratelimit_t **out)
{
    acl_ratelimit_t *rl;
    const char *err, *vhost, *id_text;
    int i, count = 0, burst = 0, have_by = 0;

    if (argc < 1 || argc > 3) {
        return "expected N/s or N/m, then optional burst=M and "
               "by=ip|header:Name";
    }
    rl = apr_pcalloc(cmd->pool, sizeof(*rl));
    if ((err = parse_rate(cmd->pool, argv[0], &rl->interval, &count))) {
        return err;
    }
    for (i = 1; i < argc; i++) {
        if (strncasecmp(argv[i], "burst=", 6) == 0) {
            if (burst != 0) {
                return "burst= is given twice";
            }
            if ((err = parse_burst(cmd->pool, argv[i] + 6, &burst))) {
                return err;
            }
        } else if (strncasecmp(argv[i], "by=", 3) == 0) {
            if (have_by) {
                return "by= is given twice";
            }
            have_by = 1;
            if ((err = parse_by(cmd->pool, argv[i] + 3, &rl->header))) {
                return err;
            }
        } else {
            return apr_psprintf(cmd->pool,
                                "unknown argument '%s': expected burst=M or "
                                "by=ip|header:Name",
                                argv[i]);
        }
    }
    rl->tau = rl->interval * (burst ? burst : count);
    rl->where =
        apr_psprintf(cmd->pool, "%s:%u", cmd->node->file, cmd->node->line);
    rl->text = apr_pstrcat(cmd->pool, argv[0], argc > 1 ? " " : "",
                           argc > 1 ? argv[1] : "", argc > 2 ? " " : "",
                           argc > 2 ? argv[2] : "", NULL);
    /* Where it stands, and in which vhost and location: a file Included
     * into two <VirtualHost>s gives each its own counts. */
    vhost = cmd->server->defn_file
                ? apr_psprintf(cmd->temp_pool, "%s:%u", cmd->server->defn_file,
                               cmd->server->defn_line)
                : "";
    id_text = apr_pstrcat(cmd->temp_pool, rl->where, "|", vhost, "|",
                          cmd->path ? cmd->path : "", NULL);
    rl->id = siphash24(0, 0, id_text, strlen(id_text));
    nlimits++;
    *out = rl;
    return NULL;
}

const char *acl_ratelimit_set_table_size(rl_cmd_t *cmd, const char *arg)
{
    apr_int64_t n = 0;
    const char *c;

    if (cmd->server->is_virtual) {
        return "the table is shared by all virtual hosts: set it once, "
               "outside <VirtualHost>";
    }
    for (c = arg; *c != '\0' && apr_isdigit(*c) && n <= RL_TABLE_MAX; c++) {
        n = n * 10 + (*c - '0');
    }
    if (*arg == '\0' || *c != '\0' || n < RL_TABLE_MIN || n > RL_TABLE_MAX) {
        return apr_psprintf(cmd->pool,
                            "'%s' is not a number of clients from %u to %u "
                            "(each takes %u bytes of shared memory)",
                            arg, RL_TABLE_MIN, RL_TABLE_MAX,
                            (unsigned)sizeof(rl_slot_t));
    }
    /* whole buckets */
    table_size = (apr_uint32_t)((n + RL_WAYS - 1) / RL_WAYS * RL_WAYS);
    return NULL;
}


/* ------------------------------------------------------------------ */
/* The table                                                          */
/* ------------------------------------------------------------------ */

static apr_size_t table_bytes(apr_uint32_t nslots)
{
    return APR_ALIGN(sizeof(rl_table_t), 64) +
           (apr_size_t)nslots * sizeof(rl_slot_t);
}

static apr_int64_t now_ns(void)
{
    struct timespec ts;

    /* not the wall clock: setting the date must not refill or drain
     * every bucket */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static apr_uint32_t bucket_of(const rl_table_t *t, apr_uint64_t hash)
{
    /* the high half, scaled to [0, nbuckets) without a division */
    return (apr_uint32_t)(((hash >> 32) * t->nbuckets) >> 32);
}

/* 0 when locked; a dead owner's half-done update is of one 16-byte slot,
 * and any value there is a valid bucket, so it is simply taken over. */
static int table_lock(rl_table_t *t, apr_uint32_t bucket)
{
    pthread_mutex_t *m = &t->locks[bucket % RL_LOCKS].m;
    int rv = pthread_mutex_lock(m);

    if (rv == EOWNERDEAD) {
        pthread_mutex_consistent(m);
        rv = 0;
    }
    return rv;
}

static void table_unlock(rl_table_t *t, apr_uint32_t bucket)
{
    pthread_mutex_unlock(&t->locks[bucket % RL_LOCKS].m);
}

/* The slot for hash in its bucket: its own, or the one it takes over (an
 * empty or expired one, else the one nearest to full again), which is
 * then reset to a full bucket.  Called with the bucket's lock held. */
static rl_slot_t *slot_find(rl_table_t *t, apr_uint32_t bucket,
                            apr_uint64_t hash, apr_int64_t now)
{
    rl_slot_t *s = TABLE_SLOTS(t) + (apr_size_t)bucket * RL_WAYS;
    rl_slot_t *victim = NULL;
    int i;

    for (i = 0; i < RL_WAYS; i++) {
        if (s[i].hash == hash) {
            return &s[i];
        }
        /* an empty slot has tat 0: the smallest tat is an empty or an
         * expired slot if there is one */
        if (victim == NULL || s[i].tat < victim->tat) {
            victim = &s[i];
        }
    }
    victim->hash = hash;
    victim->tat = now;
    return victim;
}

/* Counts one request of the client whose hash is `hash`: 0 when allowed,
 * else the ns until a token is there. */
static apr_int64_t table_take(rl_table_t *t, apr_uint64_t hash,
                              const acl_ratelimit_t *rl, apr_int64_t now)
{
    apr_uint32_t b = bucket_of(t, hash);
    apr_int64_t tat, wait = 0;
    rl_slot_t *s;

    if (table_lock(t, b) != 0) {
        return 0; /* the lock is lost for good: better serve than refuse */
    }
    s = slot_find(t, b, hash, now);
    tat = s->tat > now ? s->tat : now;
    if (tat + rl->interval - now <= rl->tau) {
        s->tat = tat + rl->interval;
    } else {
        wait = tat + rl->interval - rl->tau - now;
    }
    table_unlock(t, b);
    return wait;
}

/* The table in its segment: APR's segments are only 8- or 16-byte aligned,
 * the locks want a cache line each. */
static rl_table_t *shm_table(apr_shm_t *shm)
{
    return (rl_table_t *)APR_ALIGN((apr_uintptr_t)apr_shm_baseaddr_get(shm),
                                   64);
}

static void table_init(rl_table_t *t, apr_uint32_t nslots,
                       const rl_table_t *from)
{
    pthread_mutexattr_t ma;
    int i;

    memset(t, 0, table_bytes(nslots));
    t->magic = RL_MAGIC;
    t->nslots = nslots;
    t->nbuckets = nslots / RL_WAYS;
    if (from != NULL) {
        memcpy(t->seed, from->seed, sizeof(t->seed));
    } else if (apr_generate_random_bytes((unsigned char *)t->seed,
                                         sizeof(t->seed)) != APR_SUCCESS) {
        /* unlikely; a guessable key only makes bucket flooding easier */
        t->seed[0] = (apr_uint64_t)now_ns() ^ (apr_uint64_t)getpid();
        t->seed[1] = (apr_uint64_t)(apr_uintptr_t)t;
    }
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    for (i = 0; i < RL_LOCKS; i++) {
        pthread_mutex_init(&t->locks[i].m, &ma);
    }
    pthread_mutexattr_destroy(&ma);
}

/* Copies the entries of `from` that still hold something into `to`
 * (another size).  Old children may still be counting into `from`: each
 * bucket is read under its lock.  Returns how many were copied. */
static apr_uint32_t table_copy(rl_table_t *to, rl_table_t *from,
                               apr_int64_t now)
{
    apr_uint32_t b, n = 0;
    int i;

    for (b = 0; b < from->nbuckets; b++) {
        rl_slot_t *s = TABLE_SLOTS(from) + (apr_size_t)b * RL_WAYS;

        if (table_lock(from, b) != 0) {
            continue;
        }
        for (i = 0; i < RL_WAYS; i++) {
            if (s[i].hash != 0 && s[i].tat > now) {
                apr_uint32_t tb = bucket_of(to, s[i].hash);
                rl_slot_t *d = slot_find(to, tb, s[i].hash, now);

                if (d->tat < s[i].tat) {
                    d->tat = s[i].tat;
                }
                n++;
            }
        }
        table_unlock(from, b);
    }
    return n;
}

int acl_ratelimit_post_config(apr_pool_t *pconf, rl_server_t *s)
{
    rl_retained_t *ret = rl_retained_data_get(RL_RETAINED_KEY);
    apr_uint32_t nslots = table_size, copied = 0;
    rl_table_t *old = NULL;
    apr_pool_t *pool;
    apr_shm_t *shm;
    apr_status_t rv;

    /* for the next generation, should this .so stay loaded */
    table_size = RL_TABLE_DEFAULT;
    tbl = NULL;
    if (nlimits == 0) {
        /* nothing to count; a retained table waits for a later one */
        return RL_OK;
    }
    nlimits = 0;
    if (ret == NULL) {
        ret = rl_retained_data_create(RL_RETAINED_KEY, sizeof(*ret));
    }
    if (ret->shm != NULL) {
        old = shm_table(ret->shm);
        if (old->magic == RL_MAGIC && ret->nslots == nslots) {
            tbl = old;
            rl_log_error(RL_LOG_INFO, 0, s,
                         "RateLimit: %u clients x %u bytes = %" APR_SIZE_T_FMT
                         " KiB of shared memory, kept from before the restart",
                         nslots, (unsigned)sizeof(rl_slot_t),
                         table_bytes(nslots) / 1024);
            return RL_OK;
        }
    }
    /* lives beyond this generation: the next one may find it again */
    apr_pool_create(&pool, rl_retained_pool());
    rv = apr_shm_create(&shm, table_bytes(nslots) + 64, NULL, pool);
    if (rv != APR_SUCCESS) {
        rl_log_error(RL_LOG_EMERG, rv, s,
                     "RateLimit: cannot create %" APR_SIZE_T_FMT
                     " KiB of shared memory for %u clients: lower "
                     "RateLimitTableSize",
                     table_bytes(nslots) / 1024, nslots);
        apr_pool_destroy(pool);
        return 500;
    }
    tbl = shm_table(shm);
    table_init(tbl, nslots, old != NULL && old->magic == RL_MAGIC ? old : NULL);
    if (old != NULL && old->magic == RL_MAGIC) {
        copied = table_copy(tbl, old, now_ns());
    }
    if (ret->pool != NULL) {
        /* the parent's view only: the old children keep theirs */
        apr_pool_destroy(ret->pool);
    }
    ret->pool = pool;
    ret->shm = shm;
    ret->nslots = nslots;
    rl_log_error(RL_LOG_INFO, 0, s,
                 "RateLimit: %u clients x %u bytes = %" APR_SIZE_T_FMT
                 " KiB of shared memory%s",
                 nslots, (unsigned)sizeof(rl_slot_t),
                 table_bytes(nslots) / 1024,
                 old != NULL ? apr_psprintf(pconf,
                                            " (new size: %u clients carried "
                                            "over from the old table)",
                                            copied)
                             : "");
    return RL_OK;
}

void acl_ratelimit_child_init(apr_pool_t *pchild, rl_server_t *s)
{
    (void)pchild;
    /* The segment is anonymous and its locks live in it: the child has
     * them since fork.  A table that is not there means post_config did
     * not run with this configuration, which would be a core bug. */
    if (tbl != NULL && tbl->magic != RL_MAGIC) {
        rl_log_error(RL_LOG_CRIT, 0, s,
                     "RateLimit: the shared table is damaged; requests are "
                     "not limited in this child");
        tbl = NULL;
    }
}

int acl_ratelimit_check(rl_request_t *r, const acl_ratelimit_t *limit)
{
    const char *key;
    apr_uint64_t hash;
    apr_int64_t wait, secs;
    int tag = 1;

    if (limit == NULL || tbl == NULL) {
        return RL_OK;
    }
    if (limit->header != NULL) {
        key = apr_table_get(r->headers_in, limit->header);
        if (key == NULL || *key == '\0') {
            /* one key for everyone without the header, so that leaving
             * it out does not escape the limit */
            key = "";
            tag = 0;
        }
    } else {
        /* TODO: the address a trusted proxy vouches for, once the core
         * has one */
        key = r->connection->client_ip ? r->connection->client_ip : "";
    }
    /* the directive's identity and the kind of key go into the SipHash
     * key, so that its input is the client key alone, as it came */
    hash = siphash24(tbl->seed[0] ^ limit->id, tbl->seed[1] ^ (apr_uint64_t)tag,
                     key, strlen(key));
    if (hash == 0) {
        hash = 1; /* 0 marks an empty slot */
    }
    wait = table_take(tbl, hash, limit, now_ns());
    if (wait == 0) {
        return RL_OK;
    }
    secs = (wait + NS_PER_S - 1) / NS_PER_S;
    if (secs < 1) {
        secs = 1;
    }
    apr_table_setn(r->err_headers_out, "Retry-After",
                   apr_psprintf(r->pool, "%" APR_INT64_T_FMT, secs));
    if (limit->header == NULL) {
        rl_log_rerror(RL_LOG_INFO, 0, r,
                      "RateLimit %s (%s) exceeded by %s: 429, Retry-After "
                      "%" APR_INT64_T_FMT,
                      limit->where, limit->text, key, secs);
    } else if (tag == 0) {
        rl_log_rerror(RL_LOG_INFO, 0, r,
                      "RateLimit %s (%s) exceeded by the requests without "
                      "%s: 429, Retry-After %" APR_INT64_T_FMT,
                      limit->where, limit->text, limit->header, secs);
    } else {
        /* the header's value may be a credential (an API key): the log
         * gets a fingerprint of it instead, the same for the same value
         * while the table lives (not the bits that choose its bucket) */
        rl_log_rerror(RL_LOG_INFO, 0, r,
                      "RateLimit %s (%s) exceeded by %s #%08x: 429, "
                      "Retry-After %" APR_INT64_T_FMT,
                      limit->where, limit->text, limit->header,
                      (unsigned)(hash & 0xffffffffu), secs);
    }
    return 429;
}
