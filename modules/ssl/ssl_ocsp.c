/*
 * ssl_ocsp.c: OCSP stapling (SSLUseStapling and the SSLStapling*
 * directives).  A client that sends status_request gets, in the
 * handshake, the certificate authority's signed statement that the
 * server's certificate is good, so that it need not ask the authority
 * itself (slow, and a privacy leak).
 *
 * Where the responses come from: for each certificate with stapling on,
 * ssl_stapling_add() finds its issuer (the chain, the SSL_CTX's store or
 * SSLCACertificateFile/Path) and its responder (the certificate's
 * Authority Information Access, or SSLStaplingForceURL), and asks the
 * responder at once, in the parent during start-up, where waiting (up to
 * SSLStaplingResponderTimeout) is harmless.  Afterwards one thread in each
 * child refreshes the responses before they go stale: the first child to
 * see that a response is due claims it in shared memory and asks, the
 * others wait for its answer.  Requests are HTTP/1.0 POSTs over plain
 * sockets with a deadline (our own few lines: OpenSSL's HTTP client
 * would not stop waiting when the child is told to exit).  Nothing here
 * ever runs on a request thread: the status callback only copies what the
 * shared slot holds.
 *
 * What is stapled: a response is checked before it is kept (signed by the
 * issuer or a responder the issuer delegated to, about this certificate,
 * within its validity with SSLStaplingResponseTimeSkew).  A good one is
 * stapled until its nextUpdate; refreshed after
 * SSLStaplingStandardCacheTimeout, or half-way to nextUpdate if that
 * comes first.  A revoked or unknown status, or a responder's error
 * answer ("tryLater", "unauthorized"), is stapled only with
 * SSLStaplingReturnResponderErrors on (httpd's default), and a failed
 * query then staples a made-up "tryLater" (SSLStaplingFakeTryLater, on by
 * default as in httpd).  A failed refresh keeps the last good response
 * while it is valid and tries again after SSLStaplingErrorCacheTimeout.
 *
 * The responses live in shared memory (one slot per certificate, keyed
 * by its OCSP CertID) kept across graceful restarts: a restart does not
 * ask the responder again while the responses it has are fresh.
 * SSLStaplingCache is accepted for httpd configurations and its size
 * ignored: the slots are sized from the configuration.
 */
#include "ssl_private.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_shm.h>
#include <apr_strings.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

RL_LOG_USE_MODULE(ssl);

#define ST_DER_MAX 16384           /* largest response kept */
#define ST_HTTP_MAX (64 * 1024)    /* largest HTTP answer read */
#define ST_MAGIC 0x524c4f435350ull /* "RLOCSP" */
#define ST_RETAINED_KEY "ssl-stapling"
#define ST_SPARE_SLOTS 8

#define DEF_RESPONDER_TIMEOUT 10
#define DEF_CACHE_TIMEOUT 3600
#define DEF_ERROR_TIMEOUT 600
#define DEF_TIME_SKEW 300

enum { ST_NONE = 0, ST_VALID, ST_ERRORRESP };

/* One certificate's response, in shared memory. */
typedef struct st_slot_t {
    pthread_mutex_t lock;
    unsigned char key[SHA_DIGEST_LENGTH]; /* SHA-1 of the CertID */
    int in_use;
    int kind;                  /* ST_*: what der holds */
    int cert_status;           /* V_OCSP_CERTSTATUS_* when kind is ST_VALID */
    int failed;                /* the last query failed */
    apr_int64_t use_until;     /* wall seconds: stapled until then */
    apr_int64_t refresh_at;    /* wall seconds: ask again then */
    apr_int64_t claimed_until; /* a process is asking until then */
    apr_uint32_t der_len;
    unsigned char der[ST_DER_MAX];
} __attribute__((aligned(64))) st_slot_t;

typedef struct st_table_t {
    apr_uint64_t magic;
    apr_uint32_t nslots;
    /* then nslots st_slot_t, 64-byte aligned */
} st_table_t;

#define TABLE_SLOTS(t)                                                         \
    ((st_slot_t *)((char *)(t) + APR_ALIGN(sizeof(st_table_t), 64)))

typedef struct st_retained_t {
    apr_pool_t *pool;
    apr_shm_t *shm;
    apr_uint32_t nslots;
} st_retained_t;

/* Directives httpd has and ssl_stapling_conf_t does not carry. */
typedef struct st_extra_t {
    apr_interval_time_t time_skew; /* -1 unset */
    apr_interval_time_t max_age;   /* -1 unset; -2 "no limit" (-1) */
    int fake_try_later;            /* -1 unset */
} st_extra_t;

/* A responder URL, taken apart. */
typedef struct st_url_t {
    const char *text;
    const char *host;     /* for getaddrinfo(), without brackets */
    const char *port;     /* "80" */
    const char *path;     /* "/" */
    const char *hostport; /* Host header */
} st_url_t;

/* One certificate with stapling on, in the configuration of this
 * generation (inherited by the children). */
typedef struct st_entry_t {
    X509 *leaf;
    OCSP_CERTID *cid;
    STACK_OF(X509) * certs; /* the issuer and chain, to check signatures */
    X509_STORE *store;      /* the issuer as trust anchor */
    st_slot_t *slot;
    st_url_t url;
    const rl_server_t *s;
    const char *label; /* "CN=www.example.com (serial 1A2B)" */
    apr_interval_time_t responder_timeout, cache_timeout, error_timeout;
    long skew, max_age; /* seconds, max_age -1 for none */
    int return_errors, fake_try_later;
} st_entry_t;

typedef struct st_gen_t {
    apr_hash_t *extra;           /* rl_server_t * -> st_extra_t */
    apr_array_header_t *entries; /* st_entry_t * */
    apr_pool_t *pconf;
} st_gen_t;

static st_gen_t *gen;
static st_table_t *table;
static unsigned char try_later_der[16];
static int try_later_len;

/* the refresher thread of this child */
static pthread_t refresher;
static int refresher_running;
static int stop_pipe[2] = {-1, -1};


static apr_status_t gen_reset(void *unused)
{
    int i;

    (void)unused;
    for (i = 0; gen != NULL && gen->entries != NULL && i < gen->entries->nelts;
         i++) {
        st_entry_t *e = APR_ARRAY_IDX(gen->entries, i, st_entry_t *);
        X509_free(e->leaf);
        OCSP_CERTID_free(e->cid);
        sk_X509_pop_free(e->certs, X509_free);
        X509_STORE_free(e->store);
    }
    gen = NULL;
    table = NULL;
    return APR_SUCCESS;
}


static st_gen_t *gen_get(apr_pool_t *pconf)
{
    if (gen == NULL) {
        gen = apr_pcalloc(pconf, sizeof(*gen));
        gen->extra = apr_hash_make(pconf);
        gen->entries = apr_array_make(pconf, 4, sizeof(st_entry_t *));
        gen->pconf = pconf;
        apr_pool_cleanup_register(pconf, NULL, gen_reset,
                                  apr_pool_cleanup_null);
    }
    return gen;
}


static st_extra_t *extra_get(rl_cmd_t *cmd)
{
    st_gen_t *g = gen_get(cmd->pool);
    st_extra_t *x = apr_hash_get(g->extra, &cmd->server, sizeof(cmd->server));

    if (x == NULL) {
        x = apr_pcalloc(cmd->pool, sizeof(*x));
        x->time_skew = -1;
        x->max_age = -1;
        x->fake_try_later = -1;
        /* apr_hash keeps the key's address: it must live as long */
        rl_server_t **key =
            apr_pmemdup(cmd->pool, &cmd->server, sizeof(cmd->server));
        apr_hash_set(g->extra, key, sizeof(*key), x);
    }
    return x;
}


/* ------------------------------------------------------------------ */
/* Directives                                                         */
/* ------------------------------------------------------------------ */

static const char *parse_secs(apr_pool_t *p, const char *arg, int min_secs,
                              apr_interval_time_t *out)
{
    if (rl_parse_duration(p, arg, apr_time_from_sec(1), out) != NULL ||
        *out < apr_time_from_sec(min_secs) ||
        *out > apr_time_from_sec(86400 * 30)) {
        return apr_psprintf(p,
                            "'%s' is not a number of seconds from %d to "
                            "2592000 (30 days)",
                            arg, min_secs);
    }
    return NULL;
}


/* data: which field ("use", "timeout", ...) */
const char *ssl_stapling_cmd(rl_cmd_t *cmd, void *mconfig, int argc,
                             char *const argv[])
{
    ssl_stapling_conf_t *st = &ssl_sconf(cmd->server)->stapling;
    const char *what = cmd->data, *arg = argv[0];
    st_extra_t *x;

    (void)mconfig;
    (void)argc;
    if (strcmp(what, "use") == 0) {
        return rl_parse_flag(cmd->pool, arg, &st->use);
    }
    if (strcmp(what, "errors") == 0) {
        return rl_parse_flag(cmd->pool, arg, &st->return_errors);
    }
    if (strcmp(what, "responder") == 0) {
        return parse_secs(cmd->pool, arg, 1, &st->responder_timeout);
    }
    if (strcmp(what, "cache") == 0) {
        return parse_secs(cmd->pool, arg, 1, &st->cache_timeout);
    }
    if (strcmp(what, "error_cache") == 0) {
        return parse_secs(cmd->pool, arg, 1, &st->error_cache_timeout);
    }
    if (strcmp(what, "url") == 0) {
        if (strncasecmp(arg, "http://", 7) != 0 || arg[7] == '\0') {
            return apr_psprintf(cmd->pool,
                                "'%s': expected an http:// URL (OCSP "
                                "responders are asked over plain HTTP)",
                                arg);
        }
        st->force_url = apr_pstrdup(cmd->pool, arg);
        return NULL;
    }
    x = extra_get(cmd);
    if (strcmp(what, "fake") == 0) {
        return rl_parse_flag(cmd->pool, arg, &x->fake_try_later);
    }
    if (strcmp(what, "skew") == 0) {
        return parse_secs(cmd->pool, arg, 0, &x->time_skew);
    }
    /* max age: -1 (httpd's "no limit") or seconds */
    if (strcmp(arg, "-1") == 0) {
        x->max_age = -2;
        return NULL;
    }
    return parse_secs(cmd->pool, arg, 1, &x->max_age);
}


const char *ssl_stapling_cmd_cache(rl_cmd_t *cmd, void *mconfig, int argc,
                                   char *const argv[])
{
    const char *arg = argv[0];

    (void)mconfig;
    (void)argc;
    (void)cmd;
    /* the responses live in Relais's own shared memory, sized from the
     * configuration: httpd's spelling is accepted and its size unused */
    if (strncasecmp(arg, "shmcb", 5) == 0 || strncasecmp(arg, "shm", 3) == 0) {
        return NULL;
    }
    return apr_psprintf(cmd->pool,
                        "'%s': Relais keeps OCSP responses in its own shared "
                        "memory; write shmcb:/any/path(bytes) as httpd does, "
                        "or leave the line out",
                        arg);
}


/* ------------------------------------------------------------------ */
/* Settings of a server                                               */
/* ------------------------------------------------------------------ */

/* What a server's stapling does: its own value, else the main server's,
 * else the default. */
#define EFF(field, dflt)                                                       \
    (st->field != -1 ? st->field : mst->field != -1 ? mst->field : (dflt))

static int stapling_on(const rl_server_t *s)
{
    const ssl_stapling_conf_t *st = &ssl_sconf(s)->stapling;
    const ssl_stapling_conf_t *mst = &ssl_sconf(rl_main_server())->stapling;

    return EFF(use, 0) == 1;
}


static void entry_settings(st_entry_t *e, const rl_server_t *s)
{
    const ssl_stapling_conf_t *st = &ssl_sconf(s)->stapling;
    const ssl_stapling_conf_t *mst = &ssl_sconf(rl_main_server())->stapling;
    rl_server_t *m = rl_main_server();
    st_extra_t *x = NULL, *mx = NULL, none = {-1, -1, -1};
    apr_interval_time_t skew, age;

    e->responder_timeout =
        EFF(responder_timeout, apr_time_from_sec(DEF_RESPONDER_TIMEOUT));
    e->cache_timeout = EFF(cache_timeout, apr_time_from_sec(DEF_CACHE_TIMEOUT));
    e->error_timeout =
        EFF(error_cache_timeout, apr_time_from_sec(DEF_ERROR_TIMEOUT));
    e->return_errors = EFF(return_errors, 1);
    if (gen != NULL) {
        x = apr_hash_get(gen->extra, &s, sizeof(s));
        mx = apr_hash_get(gen->extra, &m, sizeof(m));
    }
    x = x ? x : &none;
    mx = mx ? mx : &none;
    skew = x->time_skew != -1    ? x->time_skew
           : mx->time_skew != -1 ? mx->time_skew
                                 : apr_time_from_sec(DEF_TIME_SKEW);
    age = x->max_age != -1 ? x->max_age : mx->max_age != -1 ? mx->max_age : -2;
    e->skew = (long)apr_time_sec(skew);
    e->max_age = age == -2 ? -1 : (long)apr_time_sec(age);
    e->fake_try_later = x->fake_try_later != -1    ? x->fake_try_later
                        : mx->fake_try_later != -1 ? mx->fake_try_later
                                                   : 1;
}


/* ------------------------------------------------------------------ */
/* Shared slots                                                       */
/* ------------------------------------------------------------------ */

static apr_size_t table_bytes(apr_uint32_t n)
{
    return APR_ALIGN(sizeof(st_table_t), 64) +
           (apr_size_t)n * sizeof(st_slot_t);
}


static void slot_init_lock(st_slot_t *sl)
{
    pthread_mutexattr_t ma;

    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&sl->lock, &ma);
    pthread_mutexattr_destroy(&ma);
}


/* 0 when locked.  A process that died holding it may have left the
 * response half written: it is dropped and asked for again. */
static int slot_lock(st_slot_t *sl)
{
    int rv = pthread_mutex_lock(&sl->lock);

    if (rv == EOWNERDEAD) {
        sl->kind = ST_NONE;
        sl->der_len = 0;
        sl->refresh_at = 0;
        sl->claimed_until = 0;
        pthread_mutex_consistent(&sl->lock);
        rv = 0;
    }
    return rv;
}


static void slot_unlock(st_slot_t *sl)
{
    pthread_mutex_unlock(&sl->lock);
}


/* How many certificates may want a slot: every certificate of every
 * server with stapling on. */
static apr_uint32_t slots_wanted(void)
{
    rl_server_t *s;
    apr_uint32_t n = 0;

    for (s = rl_main_server(); s != NULL; s = s->next) {
        ssl_server_conf_t *sc = ssl_sconf(s);
        if (stapling_on(s)) {
            n += sc->cert_files && sc->cert_files->nelts > 0
                     ? (apr_uint32_t)sc->cert_files->nelts
                     : 1;
        }
    }
    return n + ST_SPARE_SLOTS;
}


/* The table of this generation: the retained one when big enough, else a
 * new one with the old slots copied in (old children keep the old one). */
static const char *table_get(apr_pool_t *pconf)
{
    st_retained_t *ret = rl_retained_data_get(ST_RETAINED_KEY);
    apr_uint32_t want = slots_wanted(), i, n = 0;
    st_table_t *old = NULL, *t;
    apr_pool_t *pool;
    apr_shm_t *shm;
    apr_status_t rv;

    if (table != NULL) {
        return NULL;
    }
    if (ret == NULL) {
        ret = rl_retained_data_create(ST_RETAINED_KEY, sizeof(*ret));
    }
    if (ret->shm != NULL) {
        old = (st_table_t *)APR_ALIGN(
            (apr_uintptr_t)apr_shm_baseaddr_get(ret->shm), 64);
        if (old->magic == ST_MAGIC && old->nslots >= want) {
            table = old;
            return NULL;
        }
    }
    apr_pool_create(&pool, rl_retained_pool());
    rv = apr_shm_create(&shm, table_bytes(want) + 64, NULL, pool);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(pool);
        return apr_psprintf(pconf,
                            "SSLUseStapling: cannot create %" APR_SIZE_T_FMT
                            " KiB of shared memory for the OCSP responses "
                            "(%pm)",
                            table_bytes(want) / 1024, &rv);
    }
    /* anonymous memory comes zeroed: only the locks need making */
    t = (st_table_t *)APR_ALIGN((apr_uintptr_t)apr_shm_baseaddr_get(shm), 64);
    t->nslots = want;
    for (i = 0; i < want; i++) {
        slot_init_lock(&TABLE_SLOTS(t)[i]);
    }
    for (i = 0; old != NULL && old->magic == ST_MAGIC && i < old->nslots; i++) {
        st_slot_t *from = &TABLE_SLOTS(old)[i], *to = &TABLE_SLOTS(t)[n];
        if (from->in_use && slot_lock(from) == 0) {
            memcpy((char *)to + sizeof(to->lock),
                   (char *)from + sizeof(from->lock),
                   sizeof(*to) - sizeof(to->lock));
            to->claimed_until = 0;
            slot_unlock(from);
            n++;
        }
    }
    t->magic = ST_MAGIC;
    if (ret->pool != NULL) {
        apr_pool_destroy(ret->pool);
    }
    ret->pool = pool;
    ret->shm = shm;
    ret->nslots = want;
    table = t;
    return NULL;
}


/* The slot of a CertID key: its own, or a free one. */
static st_slot_t *slot_for(const unsigned char *key)
{
    st_slot_t *free_slot = NULL;
    apr_uint32_t i;

    for (i = 0; i < table->nslots; i++) {
        st_slot_t *sl = &TABLE_SLOTS(table)[i];
        if (sl->in_use && memcmp(sl->key, key, sizeof(sl->key)) == 0) {
            return sl;
        }
        if (!sl->in_use && free_slot == NULL) {
            free_slot = sl;
        }
    }
    if (free_slot != NULL && slot_lock(free_slot) == 0) {
        memcpy(free_slot->key, key, sizeof(free_slot->key));
        free_slot->kind = ST_NONE;
        free_slot->der_len = 0;
        free_slot->refresh_at = 0;
        free_slot->claimed_until = 0;
        free_slot->failed = 0;
        free_slot->in_use = 1;
        slot_unlock(free_slot);
    }
    return free_slot;
}


/* ------------------------------------------------------------------ */
/* Asking the responder                                               */
/* ------------------------------------------------------------------ */

static const char *url_parse(apr_pool_t *p, const char *text, st_url_t *u)
{
    const char *rest, *slash, *hp;
    char *host;

    if (strncasecmp(text, "http://", 7) != 0) {
        return "it is not an http:// URL (an https:// responder is not "
               "supported)";
    }
    rest = text + 7;
    slash = strchr(rest, '/');
    hp = slash ? apr_pstrndup(p, rest, (apr_size_t)(slash - rest))
               : apr_pstrdup(p, rest);
    u->text = text;
    u->path = slash ? slash : "/";
    u->hostport = hp;
    u->port = "80";
    host = apr_pstrdup(p, hp);
    if (host[0] == '[') {
        char *close = strchr(host, ']');
        if (close == NULL) {
            return "its IPv6 address lacks the closing ]";
        }
        *close = '\0';
        if (close[1] == ':') {
            u->port = close + 2;
        }
        host++;
    } else {
        char *colon = strrchr(host, ':');
        if (colon != NULL) {
            *colon = '\0';
            u->port = colon + 1;
        }
    }
    if (*host == '\0' || *u->port == '\0') {
        return "it names no host";
    }
    u->host = host;
    return NULL;
}


static apr_int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* Waits until fd is ready for `events`, the deadline passes (0) or the
 * child is told to stop (-1). */
static int wait_fd(int fd, short events, apr_int64_t deadline)
{
    for (;;) {
        struct pollfd pf[2];
        apr_int64_t left = deadline - now_ms();
        int n, rv;

        if (left <= 0) {
            return 0;
        }
        pf[0].fd = fd;
        pf[0].events = events;
        pf[0].revents = 0;
        pf[1].fd = stop_pipe[0];
        pf[1].events = POLLIN;
        pf[1].revents = 0;
        n = stop_pipe[0] >= 0 ? 2 : 1;
        rv = poll(pf, (nfds_t)n, left > 1000000 ? 1000000 : (int)left);
        if (rv < 0 && errno != EINTR) {
            return -1;
        }
        if (n == 2 && pf[1].revents) {
            return -1;
        }
        if (rv > 0 && pf[0].revents) {
            return 1;
        }
    }
}


/* A connected socket to the responder, or -1 and err. */
static int http_connect(const st_url_t *u, apr_int64_t deadline, char *err,
                        size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, rv;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if ((rv = getaddrinfo(u->host, u->port, &hints, &res)) != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", u->host,
                 gai_strerror(rv));
        return -1;
    }
    snprintf(err, errlen, "no address for %s", u->host);
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);

        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
            (errno == EINPROGRESS &&
             (rv = wait_fd(fd, POLLOUT, deadline)) > 0 &&
             getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
             soerr == 0)) {
            break;
        }
        if (errno == EINPROGRESS && rv == 0) {
            snprintf(err, errlen,
                     "no connection to %s:%s within the "
                     "timeout",
                     u->host, u->port);
        } else {
            snprintf(err, errlen, "cannot connect to %s:%s: %s", u->host,
                     u->port, strerror(soerr ? soerr : errno));
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}


static int send_all(int fd, const char *buf, size_t len, apr_int64_t deadline)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return 0;
        } else if (wait_fd(fd, POLLOUT, deadline) <= 0) {
            return 0;
        }
    }
    return 1;
}


/* Whether buf (len bytes, NUL-terminated) holds a whole answer by its
 * Content-Length: some responders keep the connection open after it. */
static int answer_complete(const char *buf, size_t len)
{
    const char *end = strstr(buf, "\r\n\r\n"), *h;

    if (end == NULL) {
        return 0;
    }
    for (h = strchr(buf, '\n'); h != NULL && h < end; h = strchr(h, '\n')) {
        h++;
        if (strncasecmp(h, "Content-Length:", 15) == 0) {
            long n = strtol(h + 15, NULL, 10);
            return n >= 0 && len - (size_t)(end + 4 - buf) >= (size_t)n;
        }
    }
    return 0;
}


/* The body of an HTTP answer, ended by its Content-Length or by the
 * server closing. */
static OCSP_RESPONSE *http_read(int fd, const st_url_t *u, apr_int64_t deadline,
                                char *err, size_t errlen)
{
    char *buf = malloc(ST_HTTP_MAX + 1), *body;
    const unsigned char *p;
    size_t len = 0;
    OCSP_RESPONSE *resp = NULL;
    int status = 0;

    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (;;) {
        ssize_t n = recv(fd, buf + len, ST_HTTP_MAX - len, 0);
        if (n > 0) {
            len += (size_t)n;
            buf[len] = '\0';
            if (answer_complete(buf, len)) {
                break;
            }
            if (len == ST_HTTP_MAX) {
                snprintf(err, errlen, "answer larger than %d bytes",
                         ST_HTTP_MAX);
                goto done;
            }
        } else if (n == 0) {
            break;
        } else if (errno != EAGAIN && errno != EINTR) {
            snprintf(err, errlen, "reading from %s: %s", u->hostport,
                     strerror(errno));
            goto done;
        } else if (wait_fd(fd, POLLIN, deadline) <= 0) {
            snprintf(err, errlen,
                     "no complete answer from %s within the "
                     "timeout",
                     u->hostport);
            goto done;
        }
    }
    buf[len] = '\0';
    if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1 ||
        (body = strstr(buf, "\r\n\r\n")) == NULL) {
        snprintf(err, errlen, "%s did not answer in HTTP", u->hostport);
        goto done;
    }
    if (status != 200) {
        snprintf(err, errlen, "%s answered HTTP status %d", u->hostport,
                 status);
        goto done;
    }
    body += 4;
    p = (const unsigned char *)body;
    resp = d2i_OCSP_RESPONSE(NULL, &p, (long)(len - (size_t)(body - buf)));
    if (resp == NULL) {
        snprintf(err, errlen,
                 "%s answered something that is not an OCSP "
                 "response",
                 u->hostport);
    }
done:
    free(buf);
    return resp;
}


/* Asks e's responder; NULL and err on failure.  Blocks up to the
 * responder timeout: only in the parent at start or in the refresher. */
static OCSP_RESPONSE *query(const st_entry_t *e, char *err, size_t errlen)
{
    apr_int64_t deadline = now_ms() + apr_time_as_msec(e->responder_timeout);
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    OCSP_CERTID *id = OCSP_CERTID_dup(e->cid);
    unsigned char *der = NULL;
    char head[1024];
    OCSP_RESPONSE *resp = NULL;
    int len = -1, fd = -1;

    if (req == NULL || id == NULL || OCSP_request_add0_id(req, id) == NULL) {
        OCSP_CERTID_free(id);
        snprintf(err, errlen, "cannot build the OCSP request");
        goto done;
    }
    if ((len = i2d_OCSP_REQUEST(req, &der)) <= 0) {
        snprintf(err, errlen, "cannot encode the OCSP request");
        goto done;
    }
    if ((fd = http_connect(&e->url, deadline, err, errlen)) < 0) {
        goto done;
    }
    snprintf(head, sizeof(head),
             "POST %s HTTP/1.0\r\nHost: %s\r\n"
             "Content-Type: application/ocsp-request\r\n"
             "Content-Length: %d\r\nUser-Agent: Relais\r\n\r\n",
             e->url.path, e->url.hostport, len);
    if (!send_all(fd, head, strlen(head), deadline) ||
        !send_all(fd, (const char *)der, (size_t)len, deadline)) {
        snprintf(err, errlen, "cannot send the request to %s", e->url.hostport);
        goto done;
    }
    resp = http_read(fd, &e->url, deadline, err, errlen);
done:
    if (fd >= 0) {
        close(fd);
    }
    OPENSSL_free(der);
    OCSP_REQUEST_free(req);
    return resp;
}


/* ------------------------------------------------------------------ */
/* Checking and keeping an answer                                     */
/* ------------------------------------------------------------------ */

static apr_int64_t asn1_secs(const ASN1_GENERALIZEDTIME *t)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        return 0;
    }
    return (apr_int64_t)timegm(&tm);
}


static const char *openssl_reason(char *buf, size_t len)
{
    unsigned long code = ERR_peek_last_error();

    if (code == 0) {
        return "";
    }
    snprintf(buf, len, " (%s)", ERR_reason_error_string(code));
    ERR_clear_error();
    return buf;
}


/* What a query brought, checked. */
typedef struct st_outcome_t {
    int kind;    /* ST_VALID, ST_ERRORRESP, or ST_NONE: nothing usable */
    int rstatus; /* OCSP response status */
    int cstatus; /* certificate status (ST_VALID) */
    int len;     /* DER length */
    apr_int64_t this_upd, next_upd, revoked_at; /* wall seconds, 0 none */
    const char *why;                            /* ST_NONE: what is wrong */
    char buf[512];
} st_outcome_t;


/* Checks resp (NULL: the query failed, qerr says why) for e: signed by
 * the issuer or its delegate, about e's certificate, current. */
static void check(const st_entry_t *e, OCSP_RESPONSE *resp, const char *qerr,
                  st_outcome_t *o)
{
    OCSP_BASICRESP *bs = NULL;
    ASN1_GENERALIZEDTIME *tu = NULL, *nu = NULL, *rev = NULL;
    char reason[256];
    int creason = 0;

    memset(o, 0, sizeof(*o));
    o->kind = ST_NONE;
    o->cstatus = -1;
    o->why = qerr && *qerr ? qerr : "unknown error";
    if (resp == NULL) {
        return;
    }
    o->rstatus = OCSP_response_status(resp);
    o->len = i2d_OCSP_RESPONSE(resp, NULL);
    if (o->len <= 0 || o->len > ST_DER_MAX) {
        o->why = "the response is too large to keep";
    } else if (o->rstatus != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        o->kind = ST_ERRORRESP;
    } else if ((bs = OCSP_response_get1_basic(resp)) == NULL) {
        o->why = "the response holds no basic response";
    } else if (OCSP_basic_verify(bs, e->certs, e->store, 0) <= 0) {
        snprintf(o->buf, sizeof(o->buf),
                 "its signature does not verify against the issuer%s",
                 openssl_reason(reason, sizeof(reason)));
        o->why = o->buf;
    } else if (OCSP_resp_find_status(bs, e->cid, &o->cstatus, &creason, &rev,
                                     &tu, &nu) != 1) {
        o->why = "the response does not speak of this certificate";
    } else if (OCSP_check_validity(tu, nu, e->skew, e->max_age) != 1) {
        o->why = "the response is out of date (or from the future: check "
                 "the clocks)";
    } else {
        o->kind = ST_VALID;
        o->this_upd = asn1_secs(tu);
        o->next_upd = asn1_secs(nu);
        o->revoked_at = asn1_secs(rev);
    }
    ERR_clear_error();
    OCSP_BASICRESP_free(bs);
}


/* How long to staple what came, and when to ask again.  Example:
 * fetched at 10:00 with nextUpdate 16:00, standard timeout 1 h: stapled
 * until 16:00 (+ skew), asked again at 11:00; with nextUpdate 10:40,
 * asked again at 10:20. */
static void schedule(const st_entry_t *e, const st_outcome_t *o,
                     apr_int64_t now, apr_int64_t *until, apr_int64_t *refresh)
{
    if (o->kind != ST_VALID) {
        *until = now + apr_time_sec(e->error_timeout);
        *refresh = *until;
    } else {
        *until = o->next_upd > 0 ? o->next_upd + e->skew
                                 : now + apr_time_sec(e->cache_timeout);
        *refresh = now + apr_time_sec(e->cache_timeout);
        if (o->next_upd > 0 && now + (o->next_upd - now) / 2 < *refresh) {
            *refresh = now + (o->next_upd - now) / 2;
        }
        if (e->max_age >= 0 && o->this_upd + e->max_age < *until) {
            *until = o->this_upd + e->max_age;
            *refresh = *until < *refresh ? *until : *refresh;
        }
    }
    if (*refresh < now + 5) {
        *refresh = now + 5; /* a responder that always answers stale */
    }
}


static void log_outcome(const st_entry_t *e, const st_outcome_t *o,
                        apr_int64_t now, apr_int64_t until, apr_int64_t refresh,
                        int at_start)
{
    if (o->kind == ST_VALID) {
        char since[64] = "";

        if (o->cstatus == V_OCSP_CERTSTATUS_REVOKED && o->revoked_at > 0) {
            snprintf(since, sizeof(since),
                     " (revoked %" APR_INT64_T_FMT " s ago)",
                     now - o->revoked_at);
        }
        rl_log_error(o->cstatus == V_OCSP_CERTSTATUS_GOOD ? RL_LOG_INFO
                                                          : RL_LOG_WARNING,
                     0, e->s,
                     "OCSP stapling: %s: %s says %s%s; stapled for "
                     "%" APR_INT64_T_FMT " s, asked again in "
                     "%" APR_INT64_T_FMT " s",
                     e->label, e->url.text, OCSP_cert_status_str(o->cstatus),
                     since, until - now, refresh - now);
    } else if (o->kind == ST_ERRORRESP) {
        rl_log_error(RL_LOG_WARNING, 0, e->s,
                     "OCSP stapling: %s: %s answered '%s'; asked again in "
                     "%" APR_INT64_T_FMT " s",
                     e->label, e->url.text,
                     OCSP_response_status_str(o->rstatus), refresh - now);
    } else {
        rl_log_error(RL_LOG_WARNING, 0, e->s,
                     "OCSP stapling: %s: no usable response from %s: %s; %s "
                     "asked again in %" APR_INT64_T_FMT " s",
                     e->label, e->url.text, o->why,
                     at_start ? "handshakes go on without a staple until "
                                "it answers,"
                              : "the last good response (if still valid) "
                                "is stapled meanwhile,",
                     refresh - now);
    }
}


/* Writes what a query brought into e's slot (resp NULL: the query
 * failed, qerr says why) and logs what it was. */
static void keep(const st_entry_t *e, OCSP_RESPONSE *resp, const char *qerr,
                 int at_start)
{
    st_slot_t *sl = e->slot;
    apr_int64_t now = (apr_int64_t)time(NULL), until, refresh;
    st_outcome_t o;
    unsigned char *p;

    check(e, resp, qerr, &o);
    schedule(e, &o, now, &until, &refresh);
    if (slot_lock(sl) == 0) {
        sl->claimed_until = 0;
        sl->refresh_at = refresh;
        sl->failed = o.kind != ST_VALID;
        /* an error never replaces a response that may still be stapled */
        if (o.kind == ST_VALID ||
            (o.kind == ST_ERRORRESP &&
             !(sl->kind == ST_VALID && sl->use_until > now))) {
            p = sl->der;
            i2d_OCSP_RESPONSE(resp, &p);
            sl->der_len = (apr_uint32_t)o.len;
            sl->kind = o.kind;
            sl->cert_status = o.cstatus;
            sl->use_until = until;
        }
        slot_unlock(sl);
    }
    log_outcome(e, &o, now, until, refresh, at_start);
}


/* Asks the responder when e's slot is due and nobody else is asking. */
static void refresh_if_due(const st_entry_t *e, int at_start, apr_int64_t *next)
{
    st_slot_t *sl = e->slot;
    apr_int64_t now = (apr_int64_t)time(NULL);
    OCSP_RESPONSE *resp;
    char err[512] = "";
    int due;

    if (slot_lock(sl) != 0) {
        return;
    }
    due = sl->refresh_at <= now && sl->claimed_until <= now;
    if (at_start) {
        /* in the parent: only when there is nothing to staple (a
         * graceful restart keeps what the children fetched) */
        due = (sl->kind != ST_VALID || sl->use_until <= now) &&
              !(sl->failed && sl->refresh_at > now);
    }
    if (due) {
        sl->claimed_until = now + apr_time_sec(e->responder_timeout) + 5;
    } else if (next != NULL) {
        apr_int64_t t = sl->refresh_at > sl->claimed_until ? sl->refresh_at
                                                           : sl->claimed_until;
        if (t < *next) {
            *next = t;
        }
    }
    slot_unlock(sl);
    if (!due) {
        return;
    }
    resp = query(e, err, sizeof(err));
    keep(e, resp, err, at_start);
    OCSP_RESPONSE_free(resp);
    if (next != NULL && (apr_int64_t)time(NULL) + 1 < *next) {
        *next = (apr_int64_t)time(NULL) + 1; /* look at the slot again */
    }
}


/* ------------------------------------------------------------------ */
/* Start-up                                                           */
/* ------------------------------------------------------------------ */

static const char *cert_label(apr_pool_t *p, X509 *x)
{
    char cn[256] = "";
    ASN1_INTEGER *sn = X509_get_serialNumber(x);
    BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    const char *label;

    if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
                                  sizeof(cn)) < 0) {
        apr_cpystrn(cn, "(no CN)", sizeof(cn));
    }
    label =
        apr_psprintf(p, "certificate CN=%s (serial %s)", cn, hex ? hex : "?");
    OPENSSL_free(hex);
    BN_free(bn);
    return label;
}


static X509 *issuer_in(STACK_OF(X509) * sk, X509 *leaf)
{
    int i;

    for (i = 0; sk != NULL && i < sk_X509_num(sk); i++) {
        X509 *c = sk_X509_value(sk, i);
        if (X509_check_issued(c, leaf) == X509_V_OK) {
            X509_up_ref(c);
            return c;
        }
    }
    return NULL;
}


static X509 *issuer_in_store(X509_STORE *store, X509 *leaf)
{
    X509_STORE_CTX *sctx = X509_STORE_CTX_new();
    X509 *issuer = NULL;

    if (sctx != NULL && store != NULL &&
        X509_STORE_CTX_init(sctx, store, leaf, NULL) == 1 &&
        X509_STORE_CTX_get1_issuer(&issuer, sctx, leaf) != 1) {
        issuer = NULL;
    }
    X509_STORE_CTX_free(sctx);
    ERR_clear_error();
    return issuer;
}


/* The issuer of leaf: in the chain given, the SSL_CTX's chain or store,
 * or the server's CA file or directory. */
static X509 *find_issuer(SSL_CTX *ctx, X509 *leaf, STACK_OF(X509) * chain,
                         const rl_server_t *s)
{
    const ssl_server_conf_t *sc = ssl_sconf(s);
    STACK_OF(X509) *ctx_chain = NULL;
    X509_STORE *store;
    X509 *issuer;

    if ((issuer = issuer_in(chain, leaf)) != NULL) {
        return issuer;
    }
    if (SSL_CTX_get0_chain_certs(ctx, &ctx_chain) == 1 &&
        (issuer = issuer_in(ctx_chain, leaf)) != NULL) {
        return issuer;
    }
    if (SSL_CTX_get_extra_chain_certs(ctx, &ctx_chain) == 1 &&
        (issuer = issuer_in(ctx_chain, leaf)) != NULL) {
        return issuer;
    }
    if ((issuer = issuer_in_store(SSL_CTX_get_cert_store(ctx), leaf))) {
        return issuer;
    }
    if (sc->ca_file == NULL && sc->ca_path == NULL) {
        return NULL;
    }
    if ((store = X509_STORE_new()) == NULL) {
        return NULL;
    }
    if ((sc->ca_file == NULL || X509_STORE_load_file(store, sc->ca_file)) &&
        (sc->ca_path == NULL || X509_STORE_load_path(store, sc->ca_path))) {
        issuer = issuer_in_store(store, leaf);
    }
    X509_STORE_free(store);
    ERR_clear_error();
    return issuer;
}


/* What checks a response's signature: the issuer as the anchor (an
 * intermediate is enough: partial chain), the chain for a delegated
 * responder's certificate. */
static int entry_verifier(st_entry_t *e, X509 *issuer, STACK_OF(X509) * chain)
{
    int i;

    e->store = X509_STORE_new();
    e->certs = sk_X509_new_null();
    if (e->store == NULL || e->certs == NULL ||
        X509_STORE_add_cert(e->store, issuer) != 1 ||
        X509_STORE_set_flags(e->store, X509_V_FLAG_PARTIAL_CHAIN) != 1) {
        return 0;
    }
    X509_up_ref(issuer);
    if (!sk_X509_push(e->certs, issuer)) {
        X509_free(issuer);
        return 0;
    }
    for (i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i);
        X509_up_ref(c);
        if (!sk_X509_push(e->certs, c)) {
            X509_free(c);
            return 0;
        }
    }
    return 1;
}


/* The responder of leaf: SSLStaplingForceURL, else the first OCSP URL of
 * its Authority Information Access. */
static const char *responder_of(apr_pool_t *p, X509 *leaf, const rl_server_t *s)
{
    const ssl_stapling_conf_t *st = &ssl_sconf(s)->stapling;
    const ssl_stapling_conf_t *mst = &ssl_sconf(rl_main_server())->stapling;
    STACK_OF(OPENSSL_STRING) * aia;
    const char *url = NULL;

    if (st->force_url != NULL || mst->force_url != NULL) {
        return st->force_url ? st->force_url : mst->force_url;
    }
    aia = X509_get1_ocsp(leaf);
    if (aia != NULL && sk_OPENSSL_STRING_num(aia) > 0) {
        url = apr_pstrdup(p, sk_OPENSSL_STRING_value(aia, 0));
    }
    X509_email_free(aia);
    return url;
}


const char *ssl_stapling_add(SSL_CTX *ctx, X509 *leaf, STACK_OF(X509) * chain,
                             const rl_server_t *s, apr_pool_t *pconf)
{
    st_gen_t *g = gen_get(pconf);
    unsigned char *der = NULL, key[SHA_DIGEST_LENGTH];
    const char *url, *err;
    X509 *issuer;
    st_entry_t *e;
    int len;

    if ((err = table_get(pconf)) != NULL) {
        return err;
    }
    e = apr_pcalloc(pconf, sizeof(*e));
    e->s = s;
    e->label = cert_label(pconf, leaf);
    entry_settings(e, s);
    url = responder_of(pconf, leaf, s);
    if (url == NULL) {
        rl_log_error(RL_LOG_WARNING, 0, s,
                     "OCSP stapling: %s names no OCSP responder (no "
                     "Authority Information Access): nothing is stapled for "
                     "it; set SSLStaplingForceURL to name one",
                     e->label);
        return NULL;
    }
    if ((err = url_parse(pconf, url, &e->url)) != NULL) {
        rl_log_error(RL_LOG_WARNING, 0, s,
                     "OCSP stapling: %s: responder URL '%s': %s; nothing is "
                     "stapled for it",
                     e->label, url, err);
        return NULL;
    }
    if ((issuer = find_issuer(ctx, leaf, chain, s)) == NULL) {
        rl_log_error(RL_LOG_WARNING, 0, s,
                     "OCSP stapling: cannot find the issuer of %s (not in "
                     "the certificate file, SSLCertificateChainFile nor "
                     "SSLCACertificateFile): nothing is stapled for it",
                     e->label);
        return NULL;
    }
    e->cid = OCSP_cert_to_id(NULL, leaf, issuer);
    if (e->cid == NULL || !entry_verifier(e, issuer, chain) ||
        (len = i2d_OCSP_CERTID(e->cid, &der)) <= 0) {
        X509_free(issuer);
        OCSP_CERTID_free(e->cid);
        sk_X509_pop_free(e->certs, X509_free);
        X509_STORE_free(e->store);
        return apr_psprintf(pconf,
                            "OCSP stapling: %s: cannot build its "
                            "OCSP request (out of memory?)",
                            e->label);
    }
    X509_free(issuer);
    SHA1(der, (size_t)len, key);
    OPENSSL_free(der);
    X509_up_ref(leaf);
    e->leaf = leaf;
    APR_ARRAY_PUSH(g->entries, st_entry_t *) = e;
    if ((e->slot = slot_for(key)) == NULL) {
        rl_log_error(RL_LOG_ERR, 0, s,
                     "OCSP stapling: no free slot for %s: nothing is "
                     "stapled for it",
                     e->label);
        return NULL;
    }
    refresh_if_due(e, 1, NULL);
    return NULL;
}


const char *ssl_stapling_post_config(apr_pool_t *pconf, rl_server_t *main_s)
{
    OCSP_RESPONSE *tl =
        OCSP_response_create(OCSP_RESPONSE_STATUS_TRYLATER, NULL);
    unsigned char *p = try_later_der;
    int len = tl ? i2d_OCSP_RESPONSE(tl, NULL) : -1;

    (void)main_s;
    gen_get(pconf);
    if (len > 0 && len <= (int)sizeof(try_later_der)) {
        try_later_len = i2d_OCSP_RESPONSE(tl, &p);
    }
    OCSP_RESPONSE_free(tl);
    return slots_wanted() > ST_SPARE_SLOTS ? table_get(pconf) : NULL;
}


/* ------------------------------------------------------------------ */
/* In the children                                                    */
/* ------------------------------------------------------------------ */

static void *refresher_main(void *arg)
{
    (void)arg;
    while (!rl_mpm_stopping()) {
        apr_int64_t now = (apr_int64_t)time(NULL), next = now + 60;
        struct pollfd pf;
        int i;

        for (i = 0; gen != NULL && i < gen->entries->nelts; i++) {
            st_entry_t *e = APR_ARRAY_IDX(gen->entries, i, st_entry_t *);
            if (e->slot != NULL) {
                refresh_if_due(e, 0, &next);
            }
        }
        now = (apr_int64_t)time(NULL);
        pf.fd = stop_pipe[0];
        pf.events = POLLIN;
        pf.revents = 0;
        if (poll(&pf, 1, next > now ? (int)((next - now) * 1000) : 1000) > 0) {
            break; /* told to stop */
        }
    }
    return NULL;
}


static apr_status_t refresher_stop(void *unused)
{
    (void)unused;
    if (refresher_running) {
        if (write(stop_pipe[1], "x", 1) < 0) {
            /* the pipe is ours: cannot be full nor closed */
        }
        pthread_join(refresher, NULL);
        refresher_running = 0;
    }
    if (stop_pipe[0] >= 0) {
        close(stop_pipe[0]);
        close(stop_pipe[1]);
        stop_pipe[0] = stop_pipe[1] = -1;
    }
    return APR_SUCCESS;
}


void ssl_stapling_child_init(apr_pool_t *pchild, rl_server_t *main_s)
{
    sigset_t all, old;
    int i, any = 0;

    for (i = 0; gen != NULL && i < gen->entries->nelts; i++) {
        any |= APR_ARRAY_IDX(gen->entries, i, st_entry_t *)->slot != NULL;
    }
    if (!any) {
        return;
    }
    if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        rl_log_error(RL_LOG_ERR, APR_FROM_OS_ERROR(errno), main_s,
                     "OCSP stapling: cannot start the refresher: responses "
                     "are not refreshed by this child");
        return;
    }
    /* the thread takes no signal: they are the MPM's */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    refresher_running =
        pthread_create(&refresher, NULL, refresher_main, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!refresher_running) {
        rl_log_error(RL_LOG_ERR, 0, main_s,
                     "OCSP stapling: cannot start the refresher thread: "
                     "responses are not refreshed by this child");
    }
    apr_pool_cleanup_register(pchild, NULL, refresher_stop,
                              apr_pool_cleanup_null);
}


/* ------------------------------------------------------------------ */
/* In the handshake                                                   */
/* ------------------------------------------------------------------ */

static const st_entry_t *entry_of(X509 *leaf)
{
    int i;

    if (gen == NULL || leaf == NULL) {
        return NULL;
    }
    for (i = 0; i < gen->entries->nelts; i++) {
        const st_entry_t *e = APR_ARRAY_IDX(gen->entries, i, st_entry_t *);
        if (e->leaf == leaf) {
            return e;
        }
    }
    for (i = 0; i < gen->entries->nelts; i++) {
        const st_entry_t *e = APR_ARRAY_IDX(gen->entries, i, st_entry_t *);
        if (X509_cmp(e->leaf, leaf) == 0) {
            return e;
        }
    }
    return NULL;
}


/* OpenSSL asks, for a client that sent status_request, what to staple
 * with the certificate it chose.  Copies the slot; never waits for a
 * responder. */
static int st_status_cb(SSL *ssl, void *arg)
{
    const st_entry_t *e = entry_of(SSL_get_certificate(ssl));
    st_slot_t *sl;
    apr_int64_t now = (apr_int64_t)time(NULL);
    const unsigned char *src = NULL;
    unsigned char *copy = NULL;
    int len = 0;

    (void)arg;
    if (e == NULL || (sl = e->slot) == NULL || slot_lock(sl) != 0) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    if (sl->kind == ST_VALID && sl->use_until > now &&
        (sl->cert_status == V_OCSP_CERTSTATUS_GOOD || e->return_errors)) {
        src = sl->der;
        len = (int)sl->der_len;
    } else if (sl->kind == ST_ERRORRESP && sl->use_until > now &&
               e->return_errors) {
        src = sl->der;
        len = (int)sl->der_len;
    } else if (sl->failed && e->return_errors && e->fake_try_later &&
               try_later_len > 0) {
        src = try_later_der;
        len = try_later_len;
    }
    if (len > 0 && (copy = OPENSSL_malloc((size_t)len)) != NULL) {
        memcpy(copy, src, (size_t)len);
    }
    slot_unlock(sl);
    if (copy == NULL) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, len) != 1) {
        OPENSSL_free(copy);
        return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}


void ssl_stapling_attach(SSL_CTX *ctx, const rl_server_t *s)
{
    if (stapling_on(s)) {
        SSL_CTX_set_tlsext_status_cb(ctx, st_status_cb);
        SSL_CTX_set_tlsext_status_arg(ctx, NULL);
    }
}
