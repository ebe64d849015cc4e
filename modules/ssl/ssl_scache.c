/*
 * ssl_scache.c: the TLS session cache every child shares
 * (SSLSessionCache, SSLSessionCacheTimeout) and session tickets whose keys
 * every child shares and that rotate (SSLSessionTickets,
 * SSLSessionTicketKeyRotation, SSLSessionTicketKeyFile).
 *
 * Why shared: a client that reconnects lands on any child.  OpenSSL's own
 * cache lives in one process, so with it a resumption works only when the
 * client happens to reach the same child again; likewise a ticket is only
 * readable by a process that holds the key it was sealed with.  Both live
 * here in anonymous shared memory made by the parent in post_config,
 * inherited by the children at fork and kept in retained data across
 * graceful restarts, so that sessions and tickets survive them.
 *
 * The cache: a fixed number of buckets (from the size the operator gives),
 * each of SC_CHUNKS chunks of SC_CHUNK bytes.  A session ID picks one
 * bucket; its DER encoding takes a run of consecutive chunks there (one
 * for a plain session, a few when it carries a client certificate).  A new
 * session takes free chunks or those of expired sessions, else pushes out
 * the oldest sessions of its bucket until a run is free.  So the cache
 * never grows, a lookup reads one bucket, and with 512 KiB (the default)
 * it holds some 1,700 sessions.  Example, SC_CHUNKS 16: a bucket holding
 * A(1 chunk) B(3) free(2) C(1)...: a 2-chunk session goes into the free
 * pair; a 4-chunk one, if nothing is free or expired, evicts the oldest of
 * A, B, C... in turn until four neighbouring chunks are free.
 *
 * Locking: robust process-shared mutexes in the segment, one per group of
 * buckets, as mod_acl's rate-limit table (acl_ratelimit.c).  A child that
 * dies holding one leaves at most one bucket half written: the next owner
 * empties that bucket (a few sessions lost, nothing wrong served).
 *
 * Tickets: a key is a 16-byte name, a 32-byte HMAC-SHA256 key and a
 * 32-byte AES-256-CBC key made with RAND_bytes.  The current key seals new
 * tickets; the previous one still opens tickets (OpenSSL is then told to
 * issue a fresh one).  Keys follow a fixed schedule: key k is current from
 * start + k * rotation to start + (k + 1) * rotation and opens tickets
 * until start + (k + 2) * rotation.  Whichever child first sees that the
 * time has come makes the next key, under the lock; when nobody looked for
 * two periods both keys are too old and are dropped together.  Example,
 * rotation 3600 s: a ticket sealed at 10:59 (key of 10:00) opens until
 * 12:00 and is renewed at 11:30; one sealed at 10:01 too, so a ticket
 * lives between one and two periods.  SSLSessionTicketKeyFile replaces
 * all this with one fixed key (httpd's 48-byte file, AES-128, or nginx's
 * 80-byte file, AES-256), never rotated.
 */
#include "ssl_private.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_shm.h>
#include <apr_strings.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

RL_LOG_USE_MODULE(ssl);

/* ---- the cache's shape ---------------------------------------------- */

#define SC_CHUNKS 16            /* chunks per bucket */
#define SC_CHUNK 256            /* bytes per chunk */
#define SC_LOCKS 64             /* most mutexes; bucket b takes b % nlocks */
#define SC_DEFAULT_BYTES 524288 /* 512 KiB when SSLSessionCache is absent */
#define SC_MIN_BYTES 32768
#define SC_MAX_BYTES (256 * 1024 * 1024)
#define SC_DEFAULT_TIMEOUT 300     /* seconds */
#define SC_MAGIC 0x524c53434143ull /* "RLSCAC" */
#define TK_MAGIC 0x524c544b4559ull /* "RLTKEY" */
#define SC_RETAINED_KEY "ssl-scache"
#define TK_DEFAULT_ROTATION apr_time_from_sec(3600)
#define NS_PER_S 1000000000ll

enum { CH_FREE = 0, CH_HEAD = 1, CH_CONT = 2 };

/* What a chunk holds; for the first chunk of a session, the session. */
typedef struct sc_meta_t {
    apr_int64_t expires; /* wall-clock seconds (SSL_SESSION times are) */
    apr_int64_t stored;  /* when it came: the oldest goes first */
    apr_uint16_t der_len;
    unsigned char state;   /* CH_* */
    unsigned char nchunks; /* a head's run length */
    unsigned char id_len;
    unsigned char id[SSL_MAX_SSL_SESSION_ID_LENGTH];
} sc_meta_t;

typedef struct sc_bucket_t {
    sc_meta_t meta[SC_CHUNKS];
    unsigned char data[SC_CHUNKS * SC_CHUNK];
} sc_bucket_t;

/* one cache line each: no false sharing between them */
typedef struct sc_lock_t {
    pthread_mutex_t m;
} __attribute__((aligned(64))) sc_lock_t;

typedef struct sc_cache_t {
    apr_uint64_t magic;
    apr_uint64_t seed; /* mixes the bucket hash: IDs in lookups are the
                          client's choice */
    apr_uint32_t nbuckets;
    apr_uint32_t nlocks;
    sc_lock_t locks[SC_LOCKS];
    /* then nbuckets sc_bucket_t, 64-byte aligned */
} sc_cache_t;

#define CACHE_BUCKETS(c)                                                       \
    ((sc_bucket_t *)((char *)(c) + APR_ALIGN(sizeof(sc_cache_t), 64)))

/* ---- ticket keys ---------------------------------------------------- */

typedef struct tk_key_t {
    unsigned char name[16];
    unsigned char hmac[32];
    unsigned char aes[32];
    apr_int64_t start; /* CLOCK_MONOTONIC ns when it became current */
    int hmac_len;      /* 32, or 16 for an httpd key file */
    int aes_bits;      /* 256, or 128 for an httpd key file */
} tk_key_t;

typedef struct tk_store_t {
    apr_uint64_t magic;
    sc_lock_t lock;
    apr_int64_t rotation; /* ns; written by the parent each generation */
    int have_cur;
    int have_prev;
    tk_key_t cur;
    tk_key_t prev;
} tk_store_t;

/* Kept in the parent across configuration generations. */
typedef struct sc_retained_t {
    apr_pool_t *cache_pool; /* holds cache_shm; replaced with it */
    apr_shm_t *cache_shm;
    apr_size_t cache_bytes;
    apr_shm_t *keys_shm; /* made once, in the retained pool */
} sc_retained_t;

/* ---- configuration (one per generation) ----------------------------- */

typedef struct sc_gen_t {
    int cache_on; /* -1 unset (default: on), 0 none, 1 shm, 2 nonenotnull */
    apr_size_t cache_bytes;
    apr_interval_time_t rotation; /* -1 unset */
    const char *key_file;         /* SSLSessionTicketKeyFile, or NULL */
    const char *key_file_where;   /* "file:line", for messages */
    apr_hash_t *timeouts;         /* rl_server_t * -> apr_interval_time_t */
} sc_gen_t;

static sc_gen_t *gen;      /* this generation's directives */
static sc_cache_t *cache;  /* NULL: no shared cache */
static tk_store_t *tkeys;  /* rotating keys, or NULL */
static tk_key_t fixed_key; /* SSLSessionTicketKeyFile */
static int use_fixed_key;
static int tickets_on = 1;
static int nonenotnull; /* no cache, but session IDs are sent */
static const EVP_CIPHER *aes128, *aes256;


static apr_status_t gen_reset(void *unused)
{
    (void)unused;
    gen = NULL;
    return APR_SUCCESS;
}


static sc_gen_t *gen_get(apr_pool_t *pconf)
{
    if (gen == NULL) {
        gen = apr_pcalloc(pconf, sizeof(*gen));
        gen->cache_on = -1;
        gen->rotation = -1;
        gen->timeouts = apr_hash_make(pconf);
        apr_pool_cleanup_register(pconf, NULL, gen_reset,
                                  apr_pool_cleanup_null);
    }
    return gen;
}


/* ------------------------------------------------------------------ */
/* Directives                                                         */
/* ------------------------------------------------------------------ */

/* "(bytes)" after a cache type, or "" for the default size. */
static const char *parse_cache_size(apr_pool_t *p, const char *spec,
                                    const char *paren, apr_size_t *bytes)
{
    const char *close = paren ? strrchr(paren, ')') : NULL;
    apr_off_t n;
    char *num;

    if (paren == NULL) {
        *bytes = SC_DEFAULT_BYTES;
        return NULL;
    }
    if (close == NULL || close[1] != '\0' || close == paren + 1) {
        return apr_psprintf(p,
                            "'%s': the size must be written in parentheses "
                            "at the end, e.g. shmcb:/run/relais/scache(512000)",
                            spec);
    }
    num = apr_pstrndup(p, paren + 1, (apr_size_t)(close - paren - 1));
    if (rl_parse_size(p, num, &n) != NULL || n < SC_MIN_BYTES ||
        n > SC_MAX_BYTES) {
        return apr_psprintf(p,
                            "'%s': size '%s' is not a number of bytes from "
                            "%d (32k) to %d (256M)",
                            spec, num, SC_MIN_BYTES, SC_MAX_BYTES);
    }
    *bytes = (apr_size_t)n;
    return NULL;
}


const char *ssl_scache_cmd_cache(rl_cmd_t *cmd, void *mconfig, int argc,
                                 char *const argv[])
{
    sc_gen_t *g = gen_get(cmd->pool);
    const char *arg = argv[0];
    static const char *const refused[] = {
        "dbm:", "sdbm:",  "gdbm:",    "ndbm:", "memcache:",
        "dc:",  "redis:", "socache:", NULL};
    int i;

    (void)mconfig;
    (void)argc;
    if (strcasecmp(arg, "none") == 0) {
        g->cache_on = 0;
        return NULL;
    }
    if (strcasecmp(arg, "nonenotnull") == 0) {
        g->cache_on = 2;
        return NULL;
    }
    if (strncasecmp(arg, "shmcb:", 6) == 0 ||
        strncasecmp(arg, "shm:", 4) == 0 || strcasecmp(arg, "shmcb") == 0 ||
        strcasecmp(arg, "shm") == 0) {
        g->cache_on = 1;
        /* the path only names httpd's segment; ours is anonymous */
        return parse_cache_size(cmd->pool, arg, strchr(arg, '('),
                                &g->cache_bytes);
    }
    for (i = 0; refused[i] != NULL; i++) {
        if (strncasecmp(arg, refused[i], strlen(refused[i])) == 0) {
            return apr_psprintf(
                cmd->pool,
                "'%s': Relais does not provide the %.*s session cache; its "
                "cache is shared memory that every child uses: write "
                "shmcb:/any/path(bytes) or shm:(bytes) (e.g. "
                "shmcb:/run/relais/scache(512000)), or none",
                arg, (int)strlen(refused[i]) - 1, refused[i]);
        }
    }
    return apr_psprintf(cmd->pool,
                        "unknown cache '%s': expected none, "
                        "shmcb:/path(bytes) or shm:(bytes)",
                        arg);
}


const char *ssl_scache_cmd_timeout(rl_cmd_t *cmd, void *mconfig, int argc,
                                   char *const argv[])
{
    sc_gen_t *g = gen_get(cmd->pool);
    apr_interval_time_t *t = apr_palloc(cmd->pool, sizeof(*t));
    rl_server_t **key;

    (void)mconfig;
    (void)argc;
    if (rl_parse_duration(cmd->pool, argv[0], apr_time_from_sec(1), t) !=
            NULL ||
        *t < apr_time_from_sec(1) || *t > apr_time_from_sec(86400 * 7)) {
        return apr_psprintf(cmd->pool,
                            "'%s' is not a number of seconds from 1 to "
                            "604800 (7 days); the default is %d",
                            argv[0], SC_DEFAULT_TIMEOUT);
    }
    /* apr_hash keeps the key's address: it must live as long */
    key = apr_pmemdup(cmd->pool, &cmd->server, sizeof(cmd->server));
    apr_hash_set(g->timeouts, key, sizeof(*key), t);
    return NULL;
}


const char *ssl_scache_cmd_rotation(rl_cmd_t *cmd, void *mconfig, int argc,
                                    char *const argv[])
{
    sc_gen_t *g = gen_get(cmd->pool);
    apr_interval_time_t t;

    (void)mconfig;
    (void)argc;
    if (rl_parse_duration(cmd->pool, argv[0], apr_time_from_sec(1), &t) !=
            NULL ||
        t < apr_time_from_sec(1) || t > apr_time_from_sec(86400 * 30)) {
        return apr_psprintf(cmd->pool,
                            "'%s' is not a number of seconds from 1 to "
                            "2592000 (30 days); the default is 3600",
                            argv[0]);
    }
    g->rotation = t;
    return NULL;
}


const char *ssl_scache_cmd_key_file(rl_cmd_t *cmd, void *mconfig, int argc,
                                    char *const argv[])
{
    sc_gen_t *g = gen_get(cmd->pool);
    const char *path = rl_server_root_relative(cmd->pool, argv[0]);

    (void)mconfig;
    (void)argc;
    /* OpenSSL opens a ticket with the keys of the server that accepted
     * the connection, before SNI picks a virtual host: one key set serves
     * them all. */
    if (g->key_file != NULL && strcmp(g->key_file, path) != 0) {
        return apr_psprintf(cmd->pool,
                            "'%s' differs from '%s' given at %s: Relais "
                            "keeps one ticket key for all virtual hosts",
                            path, g->key_file, g->key_file_where);
    }
    g->key_file = path;
    g->key_file_where =
        apr_psprintf(cmd->pool, "%s:%u", cmd->node->file, cmd->node->line);
    rl_config_warn(cmd, "the ticket key is fixed: SSLSessionTicketKeyRotation "
                        "does not apply, keys do not rotate");
    return NULL;
}


const char *ssl_scache_cmd_tickets(rl_cmd_t *cmd, void *mconfig, int argc,
                                   char *const argv[])
{
    ssl_server_conf_t *sc = ssl_sconf(cmd->server);

    (void)mconfig;
    (void)argc;
    if (cmd->server->is_virtual) {
        rl_config_warn(cmd, "ticket keys are shared by every virtual host: "
                            "only the setting outside <VirtualHost> counts");
    }
    return rl_parse_flag(cmd->pool, argv[0], &sc->session_tickets);
}


/* ------------------------------------------------------------------ */
/* Shared memory                                                      */
/* ------------------------------------------------------------------ */

static apr_int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}


static void lock_init(sc_lock_t *l)
{
    pthread_mutexattr_t ma;

    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&l->m, &ma);
    pthread_mutexattr_destroy(&ma);
}


/* 0: locked, and *damaged set when the last owner died holding it; else
 * the lock is lost for good. */
static int lock_take(sc_lock_t *l, int *damaged)
{
    int rv = pthread_mutex_lock(&l->m);

    *damaged = 0;
    if (rv == EOWNERDEAD) {
        pthread_mutex_consistent(&l->m);
        *damaged = 1;
        rv = 0;
    }
    return rv;
}


static apr_size_t cache_bytes_for(apr_uint32_t nbuckets)
{
    return APR_ALIGN(sizeof(sc_cache_t), 64) +
           (apr_size_t)nbuckets * sizeof(sc_bucket_t);
}


/* The structure in a segment: APR aligns segments to 8 or 16 bytes only,
 * the locks want a cache line each. */
static void *shm_aligned(apr_shm_t *shm)
{
    return (void *)APR_ALIGN((apr_uintptr_t)apr_shm_baseaddr_get(shm), 64);
}


static void cache_init(sc_cache_t *c, apr_uint32_t nbuckets)
{
    apr_uint32_t i;

    memset(c, 0, cache_bytes_for(nbuckets));
    c->magic = SC_MAGIC;
    c->nbuckets = nbuckets;
    c->nlocks = nbuckets < SC_LOCKS ? nbuckets : SC_LOCKS;
    if (RAND_bytes((unsigned char *)&c->seed, sizeof(c->seed)) != 1) {
        c->seed = (apr_uint64_t)mono_ns(); /* only spreads buckets */
    }
    for (i = 0; i < c->nlocks; i++) {
        lock_init(&c->locks[i]);
    }
}


/* Creates (or finds again after a graceful restart) the cache segment. */
static const char *cache_setup(sc_retained_t *ret, apr_size_t bytes,
                               rl_server_t *s, apr_pool_t *pconf)
{
    apr_uint32_t nbuckets;
    apr_pool_t *pool;
    apr_shm_t *shm;
    apr_status_t rv;

    if (ret->cache_shm != NULL && ret->cache_bytes == bytes) {
        cache = shm_aligned(ret->cache_shm);
        if (cache->magic == SC_MAGIC) {
            rl_log_error(RL_LOG_INFO, 0, s,
                         "SSLSessionCache: %" APR_SIZE_T_FMT
                         " bytes of shared memory, kept from before the "
                         "restart with its sessions",
                         bytes);
            return NULL;
        }
    }
    nbuckets = (apr_uint32_t)((bytes - APR_ALIGN(sizeof(sc_cache_t), 64)) /
                              sizeof(sc_bucket_t));
    if (nbuckets < 1) {
        nbuckets = 1;
    }
    apr_pool_create(&pool, rl_retained_pool());
    rv = apr_shm_create(&shm, cache_bytes_for(nbuckets) + 64, NULL, pool);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(pool);
        cache = NULL;
        return apr_psprintf(pconf,
                            "SSLSessionCache: cannot create %" APR_SIZE_T_FMT
                            " bytes of shared memory (%pm): give a smaller "
                            "size or SSLSessionCache none",
                            bytes, &rv);
    }
    cache = shm_aligned(shm);
    cache_init(cache, nbuckets);
    rl_log_error(RL_LOG_INFO, 0, s,
                 "SSLSessionCache: %" APR_SIZE_T_FMT " bytes of shared "
                 "memory, %u buckets of %d x %d bytes%s",
                 bytes, nbuckets, SC_CHUNKS, SC_CHUNK,
                 ret->cache_pool != NULL ? " (a new size: the sessions of "
                                           "the old cache are not kept)"
                                         : "");
    if (ret->cache_pool != NULL) {
        /* the parent's mapping only: old children keep theirs */
        apr_pool_destroy(ret->cache_pool);
    }
    ret->cache_pool = pool;
    ret->cache_shm = shm;
    ret->cache_bytes = bytes;
    return NULL;
}


static int key_make(tk_key_t *k, apr_int64_t start)
{
    memset(k, 0, sizeof(*k));
    if (RAND_bytes(k->name, sizeof(k->name)) != 1 ||
        RAND_bytes(k->hmac, sizeof(k->hmac)) != 1 ||
        RAND_bytes(k->aes, sizeof(k->aes)) != 1) {
        return 0;
    }
    k->start = start;
    k->hmac_len = 32;
    k->aes_bits = 256;
    return 1;
}


/* The ticket key segment: made once for the life of the parent, so that
 * tickets outlive every restart. */
static const char *keys_setup(sc_retained_t *ret, apr_interval_time_t rot,
                              apr_pool_t *ptemp)
{
    int damaged;

    if (ret->keys_shm == NULL) {
        apr_status_t rv = apr_shm_create(
            &ret->keys_shm, sizeof(tk_store_t) + 64, NULL, rl_retained_pool());
        if (rv != APR_SUCCESS) {
            ret->keys_shm = NULL;
            return apr_psprintf(ptemp,
                                "SSLSessionTickets: cannot create shared "
                                "memory for the ticket keys (%pm)",
                                &rv);
        }
        tkeys = shm_aligned(ret->keys_shm);
        memset(tkeys, 0, sizeof(*tkeys));
        lock_init(&tkeys->lock);
        tkeys->magic = TK_MAGIC;
    }
    tkeys = shm_aligned(ret->keys_shm);
    if (lock_take(&tkeys->lock, &damaged) != 0) {
        return "SSLSessionTickets: the ticket key lock is lost";
    }
    /* old children read it too: under the lock */
    tkeys->rotation = (apr_int64_t)rot * 1000; /* us to ns */
    if (!tkeys->have_cur || damaged) {
        tkeys->have_prev = 0;
        tkeys->have_cur = key_make(&tkeys->cur, mono_ns());
    }
    pthread_mutex_unlock(&tkeys->lock.m);
    return tkeys->have_cur ? NULL
                           : "SSLSessionTickets: the random generator "
                             "gave no ticket key";
}


/* SSLSessionTicketKeyFile: httpd's 48 bytes (name, HMAC secret, AES-128
 * key, 16 each) or nginx's 80 (name 16, HMAC 32, AES-256 32). */
static const char *key_file_load(const char *path, apr_pool_t *p)
{
    unsigned char buf[81];
    apr_size_t n = sizeof(buf);
    apr_file_t *f;
    apr_status_t rv;

    rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p,
                            "SSLSessionTicketKeyFile %s: cannot open "
                            "(%pm)",
                            path, &rv);
    }
    rv = apr_file_read_full(f, buf, sizeof(buf), &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        return apr_psprintf(p,
                            "SSLSessionTicketKeyFile %s: cannot read "
                            "(%pm)",
                            path, &rv);
    }
    if (n != 48 && n != 80) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return apr_psprintf(p,
                            "SSLSessionTicketKeyFile %s: %s%" APR_SIZE_T_FMT
                            " bytes, expected 48 (httpd's format, e.g. "
                            "made with: openssl rand 48 > file) or 80 "
                            "(nginx's)",
                            path, n > 80 ? "more than " : "",
                            n > 80 ? (apr_size_t)80 : n);
    }
    memset(&fixed_key, 0, sizeof(fixed_key));
    memcpy(fixed_key.name, buf, 16);
    fixed_key.hmac_len = n == 48 ? 16 : 32;
    fixed_key.aes_bits = n == 48 ? 128 : 256;
    memcpy(fixed_key.hmac, buf + 16, (size_t)fixed_key.hmac_len);
    memcpy(fixed_key.aes, buf + 16 + fixed_key.hmac_len,
           (size_t)fixed_key.aes_bits / 8);
    OPENSSL_cleanse(buf, sizeof(buf));
    use_fixed_key = 1;
    return NULL;
}


const char *ssl_scache_post_config(apr_pool_t *pconf, rl_server_t *main_s)
{
    sc_gen_t *g = gen_get(pconf);
    sc_retained_t *ret = rl_retained_data_get(SC_RETAINED_KEY);
    ssl_server_conf_t *msc = ssl_sconf(main_s);
    const char *err;

    cache = NULL;
    tkeys = NULL;
    use_fixed_key = 0;
    if (aes128 == NULL) {
        aes128 = EVP_aes_128_cbc();
        aes256 = EVP_aes_256_cbc();
    }
    if (ret == NULL) {
        ret = rl_retained_data_create(SC_RETAINED_KEY, sizeof(*ret));
    }
    nonenotnull = g->cache_on == 2;
    if (g->cache_on == 1 || g->cache_on == -1) {
        err = cache_setup(ret,
                          g->cache_on == 1 ? g->cache_bytes : SC_DEFAULT_BYTES,
                          main_s, pconf);
        if (err != NULL) {
            return err;
        }
    } else {
        rl_log_error(RL_LOG_INFO, 0, main_s,
                     "SSLSessionCache %s: sessions are not cached "
                     "between connections%s",
                     nonenotnull ? "nonenotnull" : "none",
                     msc->session_tickets == 0 ? " and tickets are off: no "
                                                 "session is resumed"
                                               : " (tickets still resume)");
    }
    tickets_on = msc->session_tickets != 0;
    if (!tickets_on) {
        return NULL;
    }
    if (g->key_file != NULL) {
        if ((err = key_file_load(g->key_file, pconf)) != NULL) {
            return err;
        }
        rl_log_error(RL_LOG_WARNING, 0, main_s,
                     "SSLSessionTicketKeyFile %s (%s): session tickets use "
                     "this fixed key and key rotation is off; replace the "
                     "file and restart to change it",
                     g->key_file, g->key_file_where);
        return NULL;
    }
    return keys_setup(ret, g->rotation > 0 ? g->rotation : TK_DEFAULT_ROTATION,
                      pconf);
}


void ssl_scache_child_init(apr_pool_t *pchild, rl_server_t *main_s)
{
    (void)pchild;
    /* Both segments are anonymous and were made before fork, their locks
     * inside: nothing to attach.  A damaged header would be a bug. */
    if (cache != NULL && cache->magic != SC_MAGIC) {
        rl_log_error(RL_LOG_CRIT, 0, main_s,
                     "SSLSessionCache: the shared cache is damaged; this "
                     "child caches no session");
        cache = NULL;
    }
    if (tkeys != NULL && tkeys->magic != TK_MAGIC) {
        rl_log_error(RL_LOG_CRIT, 0, main_s,
                     "SSLSessionTickets: the shared keys are damaged; this "
                     "child issues no ticket");
        tkeys = NULL;
    }
}


/* ------------------------------------------------------------------ */
/* The cache                                                          */
/* ------------------------------------------------------------------ */

static apr_uint32_t bucket_of(const unsigned char *id, unsigned len)
{
    /* FNV-1a, seeded: the stored IDs are OpenSSL's random ones, only the
     * IDs of lookups are the client's; the seed keeps it from aiming */
    apr_uint64_t h = 0xcbf29ce484222325ull ^ cache->seed;
    unsigned i;

    for (i = 0; i < len; i++) {
        h = (h ^ id[i]) * 0x100000001b3ull;
    }
    h ^= h >> 29;
    return (apr_uint32_t)(h % cache->nbuckets);
}


static sc_bucket_t *bucket_lock(apr_uint32_t b)
{
    sc_bucket_t *bk = CACHE_BUCKETS(cache) + b;
    int damaged;

    if (lock_take(&cache->locks[b % cache->nlocks], &damaged) != 0) {
        return NULL;
    }
    if (damaged) {
        /* a child died inside: this bucket may be half written */
        memset(bk->meta, 0, sizeof(bk->meta));
    }
    return bk;
}


static void bucket_unlock(apr_uint32_t b)
{
    pthread_mutex_unlock(&cache->locks[b % cache->nlocks].m);
}


static void entry_free(sc_bucket_t *bk, int head)
{
    int i, n = bk->meta[head].nchunks;

    for (i = head; i < head + n && i < SC_CHUNKS; i++) {
        bk->meta[i].state = CH_FREE;
        bk->meta[i].nchunks = 0;
    }
}


static int entry_find(sc_bucket_t *bk, const unsigned char *id, unsigned len)
{
    int i;

    for (i = 0; i < SC_CHUNKS; i++) {
        const sc_meta_t *m = &bk->meta[i];
        if (m->state == CH_HEAD && (unsigned)m->id_len == len &&
            memcmp(m->id, id, len) == 0) {
            return i;
        }
    }
    return -1;
}


/* A run of `need` free chunks, freeing expired sessions, then the oldest,
 * until there is one.  Returns its first chunk. */
static int run_alloc(sc_bucket_t *bk, int need, apr_int64_t now)
{
    int i, run;

    for (i = 0; i < SC_CHUNKS; i++) {
        if (bk->meta[i].state == CH_HEAD && bk->meta[i].expires <= now) {
            entry_free(bk, i);
        }
    }
    for (;;) {
        int oldest = -1;

        for (i = 0, run = 0; i < SC_CHUNKS; i++) {
            run = bk->meta[i].state == CH_FREE ? run + 1 : 0;
            if (run == need) {
                return i - need + 1;
            }
        }
        for (i = 0; i < SC_CHUNKS; i++) {
            if (bk->meta[i].state == CH_HEAD &&
                (oldest < 0 || bk->meta[i].stored < bk->meta[oldest].stored)) {
                oldest = i;
            }
        }
        if (oldest < 0) {
            return -1; /* cannot happen: need <= SC_CHUNKS */
        }
        entry_free(bk, oldest);
    }
}


static int sc_new_session(SSL *ssl, SSL_SESSION *sess)
{
    unsigned char der[SC_CHUNKS * SC_CHUNK], *p = der;
    unsigned int id_len;
    const unsigned char *id = SSL_SESSION_get_id(sess, &id_len);
    int len = i2d_SSL_SESSION(sess, NULL), first, i, need;
    apr_int64_t now = (apr_int64_t)time(NULL);
    apr_uint32_t b;
    sc_bucket_t *bk;

    if (tickets_on && SSL_version(ssl) == TLS1_3_VERSION) {
        return 0; /* the whole session travels in the ticket: a cache
                     entry would never be asked for */
    }
    if (cache == NULL || id_len == 0 ||
        id_len > SSL_MAX_SSL_SESSION_ID_LENGTH || len <= 0) {
        return 0;
    }
    if (len > (int)sizeof(der)) {
        /* a long client certificate chain: resumption is lost for this
         * client, nothing else */
        rl_log_error(RL_LOG_DEBUG, 0, NULL,
                     "SSLSessionCache: a session of %d bytes is not cached "
                     "(at most %d)",
                     len, (int)sizeof(der));
        return 0;
    }
    i2d_SSL_SESSION(sess, &p);
    need = (len + SC_CHUNK - 1) / SC_CHUNK;
    b = bucket_of(id, id_len);
    if ((bk = bucket_lock(b)) == NULL) {
        return 0;
    }
    if ((i = entry_find(bk, id, id_len)) >= 0) {
        entry_free(bk, i);
    }
    first = run_alloc(bk, need, now);
    if (first >= 0) {
        sc_meta_t *m = &bk->meta[first];
        for (i = first + 1; i < first + need; i++) {
            bk->meta[i].state = CH_CONT;
            bk->meta[i].nchunks = 0;
        }
        memcpy(bk->data + (apr_size_t)first * SC_CHUNK, der, (size_t)len);
        m->expires = (apr_int64_t)SSL_SESSION_get_time(sess) +
                     (apr_int64_t)SSL_SESSION_get_timeout(sess);
        m->stored = now;
        m->der_len = (apr_uint16_t)len;
        m->nchunks = (unsigned char)need;
        m->id_len = (unsigned char)id_len;
        memcpy(m->id, id, id_len);
        m->state = CH_HEAD; /* last: a dead writer leaves no half entry */
    }
    bucket_unlock(b);
    return 0; /* the cache keeps a copy, not OpenSSL's reference */
}


static SSL_SESSION *sc_get_session(SSL *ssl, const unsigned char *id, int len,
                                   int *copy)
{
    unsigned char der[SC_CHUNKS * SC_CHUNK];
    const unsigned char *p = der;
    int i, der_len = 0;
    apr_uint32_t b;
    sc_bucket_t *bk;

    (void)ssl;
    *copy = 0;
    if (cache == NULL || len <= 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH) {
        return NULL;
    }
    b = bucket_of(id, (unsigned)len);
    if ((bk = bucket_lock(b)) == NULL) {
        return NULL;
    }
    if ((i = entry_find(bk, id, (unsigned)len)) >= 0) {
        if (bk->meta[i].expires > (apr_int64_t)time(NULL)) {
            der_len = bk->meta[i].der_len;
            memcpy(der, bk->data + (apr_size_t)i * SC_CHUNK, (size_t)der_len);
        } else {
            entry_free(bk, i);
        }
    }
    bucket_unlock(b);
    return der_len > 0 ? d2i_SSL_SESSION(NULL, &p, der_len) : NULL;
}


static void sc_remove_session(SSL_CTX *ctx, SSL_SESSION *sess)
{
    unsigned int id_len;
    const unsigned char *id = SSL_SESSION_get_id(sess, &id_len);
    apr_uint32_t b;
    sc_bucket_t *bk;
    int i;

    (void)ctx;
    if (cache == NULL || id_len == 0 ||
        id_len > SSL_MAX_SSL_SESSION_ID_LENGTH) {
        return;
    }
    b = bucket_of(id, id_len);
    if ((bk = bucket_lock(b)) == NULL) {
        return;
    }
    if ((i = entry_find(bk, id, id_len)) >= 0) {
        entry_free(bk, i);
    }
    bucket_unlock(b);
}


/* ------------------------------------------------------------------ */
/* Tickets                                                            */
/* ------------------------------------------------------------------ */

/* Brings the keys up to date with the schedule (see the top of the
 * file) and copies them out.  Called with the lock held. */
static void keys_rotate(tk_store_t *t, apr_int64_t now)
{
    apr_int64_t periods;

    if (!t->have_cur || t->rotation <= 0 || now < t->cur.start + t->rotation) {
        return;
    }
    periods = (now - t->cur.start) / t->rotation;
    if (periods == 1) {
        t->prev = t->cur;
        t->have_prev = 1;
    } else {
        /* nobody looked for two periods or more: both keys are past */
        t->have_prev = 0;
        OPENSSL_cleanse(&t->prev, sizeof(t->prev));
    }
    t->have_cur = key_make(&t->cur, t->cur.start + periods * t->rotation);
}


/* The current key and the previous one still valid, copied out of the
 * shared store (rotating them if it is time).  0 when no key. */
static int keys_get(tk_key_t *cur, tk_key_t *prev, int *have_prev)
{
    apr_int64_t now;
    int damaged, ok;

    if (use_fixed_key) {
        *cur = fixed_key;
        *have_prev = 0;
        return 1;
    }
    if (tkeys == NULL || lock_take(&tkeys->lock, &damaged) != 0) {
        return 0;
    }
    now = mono_ns();
    if (damaged) {
        tkeys->have_cur = key_make(&tkeys->cur, now);
        tkeys->have_prev = 0;
    }
    keys_rotate(tkeys, now);
    ok = tkeys->have_cur;
    *cur = tkeys->cur;
    *have_prev = tkeys->have_prev;
    if (*have_prev) {
        *prev = tkeys->prev;
    }
    pthread_mutex_unlock(&tkeys->lock.m);
    return ok;
}


static int key_use(const tk_key_t *k, const unsigned char *iv,
                   EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    OSSL_PARAM params[3];
    const EVP_CIPHER *c = k->aes_bits == 128 ? aes128 : aes256;

    params[0] = OSSL_PARAM_construct_octet_string(
        OSSL_MAC_PARAM_KEY, (void *)k->hmac, (size_t)k->hmac_len);
    params[1] =
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    if (EVP_MAC_CTX_set_params(hctx, params) != 1) {
        return 0;
    }
    return enc ? EVP_EncryptInit_ex(cctx, c, NULL, k->aes, iv) == 1
               : EVP_DecryptInit_ex(cctx, c, NULL, k->aes, iv) == 1;
}


/* OpenSSL's ticket callback: seal with the current key; open with the
 * current (1; 2 under TLS 1.3) or the previous one (2: "issue a fresh
 * ticket"); 0 for a
 * ticket whose key is gone (a full handshake and a new ticket). */
static int sc_ticket_cb(SSL *ssl, unsigned char key_name[16],
                        unsigned char iv[EVP_MAX_IV_LENGTH],
                        EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    tk_key_t cur, prev;
    int have_prev = 0, rv = 0;

    if (!keys_get(&cur, &prev, &have_prev)) {
        return enc ? -1 : 0;
    }
    if (enc) {
        if (RAND_bytes(iv, 16) == 1) {
            memcpy(key_name, cur.name, 16);
            rv = key_use(&cur, iv, cctx, hctx, 1) ? 1 : -1;
        } else {
            rv = -1;
        }
    } else if (memcmp(key_name, cur.name, 16) == 0) {
        /* TLS 1.3 clients use a ticket once (RFC 8446 C.4): ask for a
         * fresh one after the resumption too, or every other connection
         * would be a full handshake */
        rv = key_use(&cur, iv, cctx, hctx, 0)
                 ? (SSL_version(ssl) == TLS1_3_VERSION ? 2 : 1)
                 : -1;
    } else if (have_prev && memcmp(key_name, prev.name, 16) == 0) {
        rv = key_use(&prev, iv, cctx, hctx, 0) ? 2 : -1;
    }
    OPENSSL_cleanse(&cur, sizeof(cur));
    OPENSSL_cleanse(&prev, sizeof(prev));
    return rv;
}


/* ------------------------------------------------------------------ */
/* Per SSL_CTX                                                        */
/* ------------------------------------------------------------------ */

static long server_timeout(const rl_server_t *s)
{
    apr_interval_time_t *t = NULL;

    if (gen != NULL) {
        t = apr_hash_get(gen->timeouts, &s, sizeof(s));
        if (t == NULL) {
            rl_server_t *m = rl_main_server();
            t = apr_hash_get(gen->timeouts, &m, sizeof(m));
        }
    }
    return t != NULL ? (long)apr_time_sec(*t) : SC_DEFAULT_TIMEOUT;
}


/* The session ID context, which OpenSSL compares before it resumes a
 * session (after SNI chose the virtual host): the same for every virtual
 * host that presents the same certificates and checks clients alike, so
 * that a session resumes on any of their names.  A session never resumes
 * on a virtual host with other certificates (OpenSSL 3.0 would let a
 * TLS 1.2 session made for one name resume under another SNI, the client
 * then trusting a certificate it never saw for that name), nor where a
 * client certificate is required when it was not asked for. */
static void set_id_context(SSL_CTX *ctx, const rl_server_t *s)
{
    const ssl_server_conf_t *sc = ssl_sconf(s);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    X509 *current = SSL_CTX_get0_certificate(ctx);
    char text[2048];
    int rv;

    apr_snprintf(text, sizeof(text), "relais|%d|%d|%s|%s",
                 sc->verify_client > 0 ? sc->verify_client : 0,
                 sc->verify_client > 0 ? sc->verify_depth : 0,
                 sc->verify_client > 0 && sc->ca_file ? sc->ca_file : "",
                 sc->verify_client > 0 && sc->ca_path ? sc->ca_path : "");
    if (h == NULL || !EVP_DigestInit_ex(h, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(h, text, strlen(text))) {
        EVP_MD_CTX_free(h);
        return;
    }
    /* every certificate of the context (RSA and ECDSA side by side) */
    for (rv = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); rv == 1;
         rv = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
        X509 *x = SSL_CTX_get0_certificate(ctx);
        unsigned char fp[EVP_MAX_MD_SIZE];
        unsigned int fplen = 0;

        if (x != NULL && X509_digest(x, EVP_sha256(), fp, &fplen)) {
            EVP_DigestUpdate(h, fp, fplen);
        }
    }
    /* leave the context's current certificate where it was */
    for (rv = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST);
         rv == 1 && SSL_CTX_get0_certificate(ctx) != current;
         rv = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
    }
    ERR_clear_error();
    if (EVP_DigestFinal_ex(h, md, &mdlen)) {
        SSL_CTX_set_session_id_context(
            ctx, md,
            mdlen > SSL_MAX_SID_CTX_LENGTH ? SSL_MAX_SID_CTX_LENGTH : mdlen);
    }
    EVP_MD_CTX_free(h);
}


void ssl_scache_attach(SSL_CTX *ctx, const rl_server_t *s)
{
    set_id_context(ctx, s);
    SSL_CTX_set_timeout(ctx, server_timeout(s));
    if (cache != NULL) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER |
                                                SSL_SESS_CACHE_NO_INTERNAL);
        SSL_CTX_sess_set_new_cb(ctx, sc_new_session);
        SSL_CTX_sess_set_get_cb(ctx, sc_get_session);
        SSL_CTX_sess_set_remove_cb(ctx, sc_remove_session);
    } else if (nonenotnull) {
        /* httpd's nonenotnull: clients that insist get a session ID,
         * which nothing will find again */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER |
                                                SSL_SESS_CACHE_NO_INTERNAL);
    } else {
        /* OpenSSL then sends an empty session ID: nothing to resume */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    if (tickets_on && (use_fixed_key || tkeys != NULL)) {
        SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, sc_ticket_cb);
    } else {
        /* TLS 1.3 then resumes from the cache ("stateful tickets") */
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        if (cache == NULL) {
            /* nothing could resume: send no useless ticket */
            SSL_CTX_set_num_tickets(ctx, 0);
        }
    }
}
