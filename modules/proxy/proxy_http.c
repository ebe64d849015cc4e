/*
 * proxy_http.c: one HTTP/1.1 exchange with a backend, without ever
 * blocking an event loop.
 *
 * The handler is a state machine; each step does non-blocking I/O and,
 * when a socket says EAGAIN, parks the request with rl_request_watch()
 * (backend socket), rl_request_suspend() (client body or congested client
 * output) and returns RL_SUSPENDED; proxy_resume() continues from the
 * saved state.  Under prefork/worker the same code runs and the core
 * waits with poll() instead.
 *
 *   CONNECT -> SEND (head, then body read from the client and relayed)
 *           -> READ_HEAD -> RELAY (response body to the client) -> done
 *
 * Memory is bounded: one 16 KiB buffer each way; a slow client makes the
 * proxy stop reading the backend (TCP pushes back), it never buffers a
 * whole response.
 *
 * https:// and wss:// backends: once connected, the connection gets a TLS
 * transport from mod_ssl (rl_ssl_provider()->proxy_open, so mod_proxy
 * never links against it) and every byte goes through rl_io_send() and
 * rl_io_recv(), which take the plain path when there is no transport.
 * The handshake runs inside the first send; a TLS read may need the
 * socket writable and a write readable, so every wait is for
 * RL_IO_WANT(io, ...).  A handshake that fails counts as a failed
 * connect (503, failover, the member's error count).  The transport
 * stays with the connection in the keep-alive pool: a reused https
 * connection needs no new handshake.
 */
#include "proxy_private.h"

#include <pthread.h>

#include <apr_atomic.h>
#include <apr_lib.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

RL_LOG_USE_MODULE(proxy);

#define PROXY_BUF 16384
/* A response body that keeps filling the buffer is read in pieces up to
 * this large: a megabyte then costs 16 recv() and send() calls, not 64
 * (the copies are the same; the per-call work of TCP is not). */
#define PROXY_BUF_RELAY_MAX (64 * 1024)

enum proxy_state {
    PS_CONNECT,   /* waiting for a non-blocking connect */
    PS_SEND_HEAD, /* sending the request head */
    PS_SEND_BODY, /* relaying the request body */
    PS_READ_HEAD, /* reading the response head */
    PS_RELAY,     /* relaying the response body */
};

typedef struct proxy_req_t {
    rl_proxy_worker_t *worker;
    const char *path;        /* path and query sent to the backend */
    const char *client_path; /* the same before a member's path went in
                                front (for a failover to another member) */
    proxy_conn_t *bc;
    enum proxy_state state;
    int reused; /* bc came from the pool */
    int attempts;
    int body_started; /* some request body was read from the client */
    int body_eof;     /* the client's body is all read */
    int chunked_out;  /* the body goes to the backend chunked */
    char *out;        /* bytes to send to the backend */
    apr_size_t out_len, out_pos;
    char *in; /* bytes read from the backend */
    apr_size_t in_len, in_pos, in_cap, scan;
    int in_filled; /* the last read filled the buffer: more is coming */
    rl_body_kind_e resp_kind;
    apr_off_t resp_left;
    rl_http_chunked_t chunk;
    int resp_close; /* the backend will close after this response */
    int got_response_byte;
    int counted; /* counted in the worker's busy */
    int upgrade; /* asked the backend to switch protocols */
    apr_time_t started, connected, first_byte;
    apr_time_t connect_deadline; /* connectiontimeout= from the start */
    apr_interval_time_t timeout;
    char *body; /* PROXY_BUF bytes, only for requests with a body */
    apr_size_t head_written; /* request-head bytes the backend took */
    const char *target;      /* the ProxyPass target (balancer://…) */
    int failovers;           /* members tried after the first */
    int awaiting;            /* the request is out: the answer is not there
                        yet, so wait before reading */
    const apr_sockaddr_t *alt_addr; /* another address of the worker's
                                       name, tried after the first one
                                       refused (NULL: the shared one) */
    int handshaking;                /* a new TLS connection: nothing has gone
                                       through it yet (a failure now is the
                                       handshake's) */
} proxy_req_t;

static int proxy_resume(rl_request_t *r);

/* Hop-by-hop fields (RFC 9110 §7.6.1), never forwarded either way. */
/*
 * The header fields the proxy treats specially, recognised by length
 * first: one string comparison per field instead of one per rule (the
 * comparisons were the biggest user-space cost of a proxied request).
 */
enum hdr_id {
    H_OTHER = 0,
    /* hop-by-hop (RFC 9110 7.6.1, and the usual non-standard ones) */
    H_CONNECTION,
    H_KEEP_ALIVE,
    H_TE,
    H_TRAILER,
    H_TRANSFER_ENCODING,
    H_UPGRADE,
    H_PROXY_AUTHORIZATION,
    H_PROXY_AUTHENTICATE,
    H_PROXY_CONNECTION,
    H_HOP_LAST = H_PROXY_CONNECTION,
    H_HOST,
    H_CONTENT_LENGTH,
    H_EXPECT,
    H_VIA,
    H_X_FORWARDED_FOR,
    H_X_FORWARDED_HOST,
    H_X_FORWARDED_SERVER,
    H_CONTENT_TYPE,
    H_SERVER,
    H_LOCATION,
    H_CONTENT_LOCATION,
    H_URI
};

static enum hdr_id header_id(const char *name)
{
#define K(str, id)                                                             \
    {                                                                          \
        str, sizeof(str) - 1, id                                               \
    }
    /* by length, shortest first */
    static const struct {
        const char *name;
        apr_size_t len;
        enum hdr_id id;
    } known[] = {K("TE", H_TE),
                 K("Via", H_VIA),
                 K("URI", H_URI),
                 K("Host", H_HOST),
                 K("Expect", H_EXPECT),
                 K("Server", H_SERVER),
                 K("Trailer", H_TRAILER),
                 K("Upgrade", H_UPGRADE),
                 K("Location", H_LOCATION),
                 K("Connection", H_CONNECTION),
                 K("Keep-Alive", H_KEEP_ALIVE),
                 K("Content-Type", H_CONTENT_TYPE),
                 K("Content-Length", H_CONTENT_LENGTH),
                 K("X-Forwarded-For", H_X_FORWARDED_FOR),
                 K("Proxy-Connection", H_PROXY_CONNECTION),
                 K("Content-Location", H_CONTENT_LOCATION),
                 K("X-Forwarded-Host", H_X_FORWARDED_HOST),
                 K("Transfer-Encoding", H_TRANSFER_ENCODING),
                 K("X-Forwarded-Server", H_X_FORWARDED_SERVER),
                 K("Proxy-Authenticate", H_PROXY_AUTHENTICATE),
                 K("Proxy-Authorization", H_PROXY_AUTHORIZATION)};
#undef K
    apr_size_t n = strlen(name), i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]) && known[i].len <= n;
         i++) {
        if (known[i].len == n &&
            apr_tolower(name[0]) == apr_tolower(known[i].name[0]) &&
            strcasecmp(name, known[i].name) == 0) {
            return known[i].id;
        }
    }
    return H_OTHER;
}

static int is_hop_by_hop_id(enum hdr_id id)
{
    return id >= H_CONNECTION && id <= H_HOP_LAST;
}

/* Is `name` listed in a Connection field's value? */
static int listed_in_connection(const char *conn, const char *name)
{
    apr_size_t n = strlen(name);
    const char *s = conn;

    while (s != NULL && *s) {
        while (*s == ' ' || *s == '\t' || *s == ',') {
            s++;
        }
        if (strncasecmp(s, name, n) == 0 &&
            (s[n] == '\0' || s[n] == ',' || s[n] == ' ' || s[n] == '\t')) {
            return 1;
        }
        s = strchr(s, ',');
    }
    return 0;
}

static apr_interval_time_t worker_timeout(rl_request_t *r,
                                          const rl_proxy_worker_t *w)
{
    const proxy_server_conf_t *conf = proxy_server_conf(r->server);

    if (w->timeout >= 0) {
        return w->timeout;
    }
    if (conf->timeout >= 0) {
        return conf->timeout;
    }
    return r->server->timeout;
}

int proxy_worker_is_tls(const rl_proxy_worker_t *w)
{
    /* https and wss, told from http and ws by the letter after the
     * shorter name, without a compare (on every request); tcp and udp
     * (mod_proxy_stream's members) are not TLS */
    const char *sc = w->scheme;

    switch (sc[0]) {
    case 'h':
    case 'H':
        return sc[4] == 's' || sc[4] == 'S';
    case 'w':
    case 'W':
        return sc[2] == 's' || sc[2] == 'S';
    default:
        return 0;
    }
}

/* Which pooled connections a request may take (proxy_conn_t.tls_key). */
static const void *tls_key(const rl_request_t *r, const rl_proxy_worker_t *w)
{
    return proxy_worker_is_tls(w) ? r->server : NULL;
}

/* What a wait after EAGAIN on the backend is for: the transport may need
 * the other direction (TLS). */
static int backend_want(const proxy_req_t *pr, int natural)
{
    return RL_IO_WANT(pr->bc->io, natural);
}

typedef struct head_ctx_t {
    rl_request_t *r;
    apr_array_header_t *parts;
    const char *conn;
} head_ctx_t;

static int add_request_field(void *v, const char *name, const char *value)
{
    head_ctx_t *h = v;
    enum hdr_id id = header_id(name);

    if (is_hop_by_hop_id(id) || id == H_HOST || id == H_CONTENT_LENGTH ||
        id == H_EXPECT ||
        (h->conn != NULL && listed_in_connection(h->conn, name))) {
        return 1;
    }
    if (id == H_VIA && proxy_server_conf(h->r->server)->via > 0) {
        return 1; /* merged with ours below (On, Full), or Block */
    }
    if ((id == H_X_FORWARDED_FOR || id == H_X_FORWARDED_HOST ||
         id == H_X_FORWARDED_SERVER) &&
        proxy_add_headers(h->r)) {
        return 1; /* rewritten below */
    }
    APR_ARRAY_PUSH(h->parts, const char *) = name;
    APR_ARRAY_PUSH(h->parts, const char *) = ": ";
    APR_ARRAY_PUSH(h->parts, const char *) = value;
    APR_ARRAY_PUSH(h->parts, const char *) = "\r\n";
    return 1;
}

/* Builds the request head for the backend. */
static void build_head(rl_request_t *r, proxy_req_t *pr)
{
    const proxy_server_conf_t *conf = proxy_server_conf(r->server);
    apr_array_header_t *parts = apr_array_make(r->pool, 64, sizeof(char *));
    head_ctx_t h;
    const char *host = apr_table_get(r->headers_in, "Host");
    char *head;
    apr_size_t len;

#define ADD(s) (APR_ARRAY_PUSH(parts, const char *) = (s))
    ADD(r->method);
    ADD(" ");
    ADD(pr->path);
    ADD(" HTTP/1.1\r\nHost: ");
    ADD(proxy_preserve_host(r) && host ? host : pr->worker->hostport);
    ADD("\r\n");
    h.r = r;
    h.parts = parts;
    h.conn = apr_table_get(r->headers_in, "Connection");
    apr_table_do(add_request_field, &h, r->headers_in, NULL);
    if (proxy_add_headers(r)) {
        const char *xff = apr_table_get(r->headers_in, "X-Forwarded-For");
        const char *xfh = apr_table_get(r->headers_in, "X-Forwarded-Host");
        const char *xfs = apr_table_get(r->headers_in, "X-Forwarded-Server");
        ADD("X-Forwarded-For: ");
        if (xff != NULL) {
            ADD(xff);
            ADD(", ");
        }
        ADD(r->connection->client_ip);
        ADD("\r\n");
        if (host != NULL) {
            ADD("X-Forwarded-Host: ");
            ADD(xfh ? apr_pstrcat(r->pool, xfh, ", ", host, NULL) : host);
            ADD("\r\n");
        }
        ADD("X-Forwarded-Server: ");
        ADD(xfs ? apr_pstrcat(r->pool, xfs, ", ", r->server->server_name, NULL)
                : r->server->server_name);
        ADD("\r\n");
    }
    if (conf->via == 1 || conf->via == 2) {
        const char *via = apr_table_get(r->headers_in, "Via");
        const char *mine =
            apr_psprintf(r->pool, "%d.%d %s", r->proto_num / 1000,
                         r->proto_num % 1000, r->server->server_name);
        ADD("Via: ");
        ADD(via ? apr_pstrcat(r->pool, via, ", ", mine, NULL) : mine);
        ADD("\r\n");
    }
    if (r->body_kind == RL_BODY_CHUNKED) {
        pr->chunked_out = 1;
        ADD("Transfer-Encoding: chunked\r\n");
    } else if (r->body_kind == RL_BODY_LENGTH) {
        ADD(apr_psprintf(r->pool, "Content-Length: %" APR_OFF_T_FMT "\r\n",
                         r->remaining));
    }
    pr->upgrade = 0;
    if (pr->worker->upgrade_websocket && h.conn != NULL &&
        listed_in_connection(h.conn, "upgrade")) {
        const char *up = apr_table_get(r->headers_in, "Upgrade");
        if (up != NULL && strcasecmp(up, "websocket") == 0) {
            pr->upgrade = 1;
            ADD("Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
        }
    }
    if (!pr->upgrade) {
        ADD(pr->worker->enable_reuse ? "Connection: keep-alive\r\n\r\n"
                                     : "Connection: close\r\n\r\n");
    }
#undef ADD
    head = apr_array_pstrcat(r->pool, parts, 0);
    len = strlen(head);
    pr->out = head;
    pr->out_len = len;
    pr->out_pos = 0;
}

/* Starts a fresh connection (non-blocking connect). */
static int open_backend(rl_request_t *r, proxy_req_t *pr)
{
    rl_proxy_worker_t *w = pr->worker;
    int fd, one = 1;
    proxy_conn_t *bc;
    struct sockaddr_storage sa;
    socklen_t salen;
    apr_uint32_t seq;

    if (!proxy_pool_reserve(w)) {
        rl_log_rerror(RL_LOG_ERR, 0, r,
                      "backend %s: all %d connections (max=) are busy", w->name,
                      w->max);
        return 503;
    }
    seq = rl_proxy_worker_address(w, &sa, &salen);
    if (seq == 0) {
        rl_log_rerror(RL_LOG_ERR, 0, r, "backend %s has no address (DNS)",
                      w->name);
        proxy_pool_unreserve(w);
        return 503;
    }
    if (pr->alt_addr != NULL && (size_t)pr->alt_addr->salen <= sizeof(sa)) {
        memcpy(&sa, &pr->alt_addr->sa, (size_t)pr->alt_addr->salen);
        salen = (socklen_t)pr->alt_addr->salen;
    }
    fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rl_log_rerror(RL_LOG_ERR, APR_FROM_OS_ERROR(errno), r,
                      "cannot create a socket for backend %s", w->name);
        proxy_pool_unreserve(w);
        return 503;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (w->keepalive) {
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    }
    bc = calloc(1, sizeof(*bc));
    if (bc == NULL) {
        close(fd);
        proxy_pool_unreserve(w);
        return 503;
    }
    bc->fd = fd;
    bc->worker = w;
    bc->tls_key = tls_key(r, w);
    bc->created = apr_time_now();
    bc->addr_seq = seq;
    pr->bc = bc;
    pr->reused = 0;
    pr->state = PS_CONNECT;
    if (connect(fd, (struct sockaddr *)&sa, salen) == 0) {
        return RL_OK;
    }
    if (errno != EINPROGRESS) {
        return RL_DECLINED; /* proxy_step reads SO_ERROR */
    }
    return RL_SUSPENDED;
}

static void drop_backend(proxy_req_t *pr)
{
    if (pr->bc != NULL) {
        proxy_conn_close(pr->bc);
        pr->bc = NULL;
    }
}

/* Whether a failed attempt may be made again on a new connection: the
 * connection came from the pool (the backend may have closed it just
 * now), nothing of the response arrived, and the body is not half sent. */
static int is_idempotent(const rl_request_t *r)
{
    static const char *const idempotent[] = {
        "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE", NULL};
    int i;

    for (i = 0; idempotent[i]; i++) {
        if (strcmp(r->method, idempotent[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int can_retry(const rl_request_t *r, const proxy_req_t *pr)
{
    int safe = is_idempotent(r);

    /* A POST the backend may have received is never sent twice (RFC 9110
     * §9.2.2); one whose first byte could not even be written may be. */
    return pr->reused && !pr->got_response_byte && !pr->body_started &&
           pr->attempts < 3 && (safe || pr->head_written == 0);
}

static int failover(rl_request_t *r, proxy_req_t *pr);
static int proxy_step(rl_request_t *r, proxy_req_t *pr);

/*
 * The backend took the request (or part of it) and went away without a
 * byte of answer: it counts as a failure of the member, and a balancer
 * sends the request to another member when that is safe (an idempotent
 * method, or nothing of the request written; no body byte consumed from
 * the client), as nginx's proxy_next_upstream does for errors.  So a
 * member killed mid-request costs the client nothing.  Otherwise 502.
 */
static int unanswered(rl_request_t *r, proxy_req_t *pr, const char *why)
{
    int rc;

    rl_proxy_worker_failed(pr->worker, why);
    rl_proxy_run_post_request(r, pr->worker, RL_PROXY_BAD_RESPONSE);
    if (pr->worker->balancer == NULL || pr->got_response_byte ||
        !(is_idempotent(r) || pr->head_written == 0)) {
        return 502;
    }
    rc = failover(r, pr);
    return rc == 503 ? 502 : rc;
}

/* Gets a connection: pooled, or new.  Then the head goes out. */
static int start_attempt(rl_request_t *r, proxy_req_t *pr)
{
    int rc;
    pr->attempts++;
    /* noted now, so that a failed exchange is logged with its attempts */
    apr_table_setn(r->notes, "proxy-attempts", apr_itoa(r->pool, pr->attempts));
    pr->in_len = pr->in_pos = pr->scan = 0;
    pr->out_pos = 0;
    pr->head_written = 0;
    pr->handshaking = 0;
    pr->alt_addr = NULL;
    pr->bc = pr->worker->enable_reuse
                 ? proxy_pool_get(pr->worker, tls_key(r, pr->worker))
                 : NULL;
    if (pr->bc != NULL) {
        pr->reused = 1;
        pr->state = PS_SEND_HEAD;
        pr->connected = apr_time_now();
        return RL_OK;
    }
    rc = open_backend(r, pr);
    if (rc == 503) {
        return rc;
    }
    if (rc == RL_SUSPENDED) {
        apr_interval_time_t ct = pr->worker->connect_timeout >= 0
                                     ? pr->worker->connect_timeout
                                     : pr->timeout;
        pr->connect_deadline = apr_time_now() + ct;
        return rl_request_watch(r, pr->bc->fd, RL_WANT_WRITE,
                                apr_time_now() + ct, proxy_resume);
    }
    return RL_OK; /* connected at once, or failed: proxy_step checks */
}

/* err: an errno, 0 for a timeout; why, when not NULL, says what failed
 * instead (TLS). */
/*
 * A name with several addresses (localhost: ::1 and 127.0.0.1; a host
 * with A and AAAA records) is used at its first; when that one refuses
 * or cannot be reached, the next is tried before the backend counts as
 * down, as httpd and nginx do.  Only for the addresses found at start-up
 * (a run-time resolver's choice is its own), and not for resolve=
 * members, which stand for one address each.  1 when there is another.
 */
static int next_address(proxy_req_t *pr)
{
    const rl_proxy_worker_t *w = pr->worker;
    const apr_sockaddr_t *cur = pr->alt_addr;

    if (w->addr == NULL || w->resolve_all || w->resolve_slot > 0) {
        return 0;
    }
    if (cur == NULL) {
        if (!proxy_worker_address_is(w, &w->addr->sa,
                                     (apr_uint32_t)w->addr->salen)) {
            return 0;
        }
        cur = w->addr;
    }
    if (cur->next == NULL) {
        return 0;
    }
    pr->alt_addr = cur->next;
    return 1;
}

static int connect_next_address(rl_request_t *r, proxy_req_t *pr, int err)
{
    char buf[120], addr[64];
    int rc;

    apr_sockaddr_ip_getbuf(addr, sizeof(addr), (apr_sockaddr_t *)pr->alt_addr);
    rl_log_rerror(RL_LOG_INFO, 0, r,
                  "backend %s: %s; trying its next address, %s",
                  pr->worker->name,
                  apr_strerror(APR_FROM_OS_ERROR(err), buf, sizeof(buf)), addr);
    drop_backend(pr);
    rc = open_backend(r, pr);
    if (rc == 503) {
        return rc;
    }
    if (rc == RL_SUSPENDED) {
        return rl_request_watch(r, pr->bc->fd, RL_WANT_WRITE,
                                pr->connect_deadline, proxy_resume);
    }
    return proxy_step(r, pr);
}

static int connect_failed(rl_request_t *r, proxy_req_t *pr, int err,
                          const char *why)
{
    char buf[120];

    if (err != 0 && why == NULL && next_address(pr)) {
        return connect_next_address(r, pr, err);
    }

    rl_log_rerror(RL_LOG_ERR, 0, r, "cannot connect to backend %s: %s",
                  pr->worker->name,
                  why   ? why
                  : err ? apr_strerror(APR_FROM_OS_ERROR(err), buf, sizeof(buf))
                        : "connection timed out");
    rl_proxy_worker_failed(pr->worker, why   ? why
                                       : err ? "connection refused"
                                             : "connect timeout");
    if (pr->worker->retry > 0) {
        apr_table_setn(
            r->err_headers_out, "Retry-After",
            apr_ltoa(r->pool, (long)apr_time_sec(pr->worker->retry) + 1));
    }
    drop_backend(pr);
    rl_proxy_run_post_request(r, pr->worker, RL_PROXY_CONNECT_FAILED);
    return failover(r, pr);
}


/*
 * A new connection to an https:// or wss:// backend gets its TLS transport
 * (the handshake itself runs in the first send).  mod_ssl is there: the
 * configuration check refused such a URL without it.  NULL, or why not.
 */
static const char *start_tls(rl_request_t *r, proxy_req_t *pr)
{
    const rl_ssl_provider_t *ssl = rl_ssl_provider();
    const char *err = "mod_ssl is not loaded";

    if (ssl != NULL) {
        pr->bc->io =
            ssl->proxy_open(r->server, pr->bc->fd, pr->worker->hostname, &err);
    }
    if (pr->bc->io == NULL) {
        return err;
    }
    pr->handshaking = 1;
    return NULL;
}

/*
 * A balancer member could not be reached: the request goes to another
 * member (the failed one is in error now, so it is not picked), as long
 * as nothing of it was consumed, up to the balancer's maxattempts.  The
 * client never sees the first failure.
 */
static int failover(rl_request_t *r, proxy_req_t *pr)
{
    rl_proxy_balancer_t *b = pr->worker->balancer;
    rl_proxy_worker_t *next = NULL;
    char *url = (char *)pr->client_path;
    int rc;

    if (b == NULL || b->nofailover || pr->body_started ||
        pr->failovers >= b->maxattempts) {
        return 503;
    }
    /* the balancer leaves the members this request already tried out */
    {
        const char *tried = apr_table_get(r->notes, RL_PROXY_NOTE_TRIED);
        apr_table_setn(r->notes, RL_PROXY_NOTE_TRIED,
                       apr_psprintf(r->pool, "%s%d,", tried ? tried : ",",
                                    pr->worker->index));
    }
    rc = rl_proxy_run_pre_request(r, pr->target, &next, &url);
    if (rc != RL_OK || next == NULL || next == pr->worker) {
        return rc > 0 ? rc : 503;
    }
    rl_log_rerror(RL_LOG_INFO, 0, r, "%s: failing over from %s to %s", b->name,
                  pr->worker->name, next->name);
    pr->failovers++;
    apr_atomic_dec32(&pr->worker->s->busy);
    apr_atomic_inc32(&next->s->busy);
    pr->worker = next;
    pr->path = url;
    pr->timeout = worker_timeout(r, next);
    apr_table_unset(r->err_headers_out, "Retry-After");
    apr_table_setn(r->subprocess_env, "BALANCER_WORKER_NAME", next->name);
    build_head(r, pr);
    rc = start_attempt(r, pr);
    return rc == RL_OK ? proxy_step(r, pr) : rc;
}

/* Sends pr->out[out_pos..out_len) to the backend.  *failed: the error
 * (APR status) when the connection broke. */
static int send_out(rl_request_t *r, proxy_req_t *pr, apr_status_t *failed)
{
    *failed = APR_SUCCESS;
    while (pr->out_pos < pr->out_len) {
        apr_size_t n = 0;
        apr_status_t rv =
            rl_io_send(pr->bc->io, pr->bc->fd, pr->out + pr->out_pos,
                       pr->out_len - pr->out_pos, &n);
        if (n > 0) {
            pr->handshaking = 0;
            if (pr->state == PS_SEND_HEAD) {
                pr->head_written += n;
            }
            pr->out_pos += n;
            __atomic_fetch_add(&pr->worker->s->bytes_out, (apr_uint64_t)n,
                               __ATOMIC_RELAXED);
        }
        if (rv == APR_SUCCESS) {
            continue;
        }
        if (APR_STATUS_IS_EAGAIN(rv)) {
            return rl_request_watch(r, pr->bc->fd,
                                    backend_want(pr, RL_WANT_WRITE),
                                    apr_time_now() + pr->timeout, proxy_resume);
        }
        *failed = rv;
        return RL_DONE;
    }
    return RL_OK;
}

/* Reads the next piece of the client's body into pr->out (framed). */
static int next_body_piece(rl_request_t *r, proxy_req_t *pr)
{
    apr_size_t got = 0;
    apr_status_t rv;
    if (pr->body == NULL) {
        pr->body = apr_palloc(r->pool, PROXY_BUF);
    }
    rv = rl_read_body(r, pr->body + 16, PROXY_BUF - 32, &got);
    if (rv == APR_SUCCESS) {
        pr->body_started = 1;
        if (pr->chunked_out) {
            char hdr[16];
            int hl =
                apr_snprintf(hdr, sizeof(hdr), "%lx\r\n", (unsigned long)got);
            /* frame in place: the size line goes just before the data */
            memcpy(pr->body + 16 - hl, hdr, (apr_size_t)hl);
            memcpy(pr->body + 16 + got, "\r\n", 2);
            pr->out = pr->body + 16 - hl;
            pr->out_len = (apr_size_t)hl + got + 2;
        } else {
            pr->out = pr->body + 16;
            pr->out_len = got;
        }
        pr->out_pos = 0;
        return RL_OK;
    }
    if (APR_STATUS_IS_EOF(rv)) {
        pr->body_eof = 1;
        if (pr->chunked_out) {
            pr->out = (char *)"0\r\n\r\n";
            pr->out_len = 5;
            pr->out_pos = 0;
        }
        return RL_OK;
    }
    if (APR_STATUS_IS_EAGAIN(rv)) {
        rl_request_suspend(r, proxy_resume);
        return RL_SUSPENDED;
    }
    drop_backend(pr);
    rl_proxy_run_post_request(r, pr->worker, RL_PROXY_CLIENT_ABORT);
    return r->status >= 400 ? r->status : 400;
}

/*
 * The response buffer (PROXY_BUF bytes) is kept for the thread's next
 * request rather than freed: a malloc and free of 16 KiB per request
 * made glibc trim and grow its arena (munmap, page faults) every few
 * dozen requests.  One spare per thread, freed when the thread ends.
 */
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;

static void spare_key_make(void)
{
    pthread_key_create(&spare_key, free);
}

static char *in_buffer_get(void)
{
    char *b;

    pthread_once(&spare_once, spare_key_make);
    b = pthread_getspecific(spare_key);
    if (b != NULL) {
        pthread_setspecific(spare_key, NULL);
        return b;
    }
    return malloc(PROXY_BUF);
}

static void in_buffer_put(proxy_req_t *pr)
{
    if (pr->in != NULL && pr->in_cap == PROXY_BUF &&
        pthread_getspecific(spare_key) == NULL) {
        pthread_setspecific(spare_key, pr->in);
    } else {
        free(pr->in);
    }
    pr->in = NULL;
}

/* Reads from the backend into pr->in.  APR_SUCCESS, APR_EAGAIN, APR_EOF
 * or an error. */
static apr_status_t backend_read(proxy_req_t *pr)
{
    apr_size_t n = 0;
    apr_status_t rv;

    if (pr->in == NULL) {
        pr->in_cap = PROXY_BUF;
        pr->in = in_buffer_get();
        if (pr->in == NULL) {
            return APR_ENOMEM;
        }
    }
    if (pr->in_pos > 0 && pr->in_pos == pr->in_len) {
        pr->in_pos = pr->in_len = 0;
    }
    if (pr->state == PS_RELAY && pr->in_filled && pr->in_len == 0 &&
        pr->in_cap < PROXY_BUF_RELAY_MAX &&
        (pr->resp_kind != RL_BODY_LENGTH ||
         pr->resp_left >= 4 * PROXY_BUF_RELAY_MAX)) {
        /* a large body: an empty buffer is swapped for one twice as big
         * (no copy), up to PROXY_BUF_RELAY_MAX.  Not for a body of less
         * than 256 KiB: the larger buffers' malloc and free (and glibc
         * trimming its heap after them) would cost more than the calls
         * saved. */
        char *nb = malloc(pr->in_cap * 2);
        if (nb != NULL) {
            in_buffer_put(pr);
            pr->in = nb;
            pr->in_cap *= 2;
        }
    }
    if (pr->in_len == pr->in_cap) {
        if (pr->in_pos > 0) {
            memmove(pr->in, pr->in + pr->in_pos, pr->in_len - pr->in_pos);
            pr->in_len -= pr->in_pos;
            pr->scan = 0;
            pr->in_pos = 0;
        } else if (pr->state == PS_READ_HEAD && pr->in_cap < 256 * 1024) {
            char *nb = realloc(pr->in, pr->in_cap * 2);
            if (nb == NULL) {
                return APR_ENOMEM;
            }
            pr->in = nb;
            pr->in_cap *= 2;
        } else {
            return APR_ENOSPC;
        }
    }
    rv = rl_io_recv(pr->bc->io, pr->bc->fd, pr->in + pr->in_len,
                    pr->in_cap - pr->in_len, &n);
    if (rv == APR_SUCCESS && n > 0) {
        pr->in_filled = pr->in_len + n == pr->in_cap;
        pr->in_len += n;
        __atomic_fetch_add(&pr->worker->s->bytes_in, (apr_uint64_t)n,
                           __ATOMIC_RELAXED);
        if (!pr->got_response_byte) {
            pr->got_response_byte = 1;
            pr->first_byte = apr_time_now();
        }
        return APR_SUCCESS;
    }
    return rv == APR_SUCCESS ? APR_EAGAIN : rv;
}

/* How much of value a ProxyPassReverse URL covers (0: none).  For
 * balancer://name/path, any member's URL with that path, as httpd. */
static apr_size_t reverse_prefix(rl_request_t *r, const char *real,
                                 const char *value)
{
    apr_array_header_t *all;
    const char *path;
    apr_size_t namelen;
    int i;

    if (strncasecmp(real, "balancer://", 11) != 0) {
        apr_size_t n = strlen(real);
        return strncmp(value, real, n) == 0 ? n : 0;
    }
    path = real + 11 + strcspn(real + 11, "/");
    namelen = (apr_size_t)(path - real);
    all = proxy_workers();
    for (i = 0; all != NULL && i < all->nelts; i++) {
        rl_proxy_worker_t *w = APR_ARRAY_IDX(all, i, rl_proxy_worker_t *);
        const char *forms[2];
        int k;
        if (w->balancer == NULL ||
            strncasecmp(w->balancer->name, real, namelen) != 0 ||
            w->balancer->name[namelen] != '\0') {
            continue;
        }
        /* "http://h:80/p" and, for the default port, "http://h/p" */
        forms[0] = apr_pstrcat(
            r->pool, w->name, w->member_path ? w->member_path : "", path, NULL);
        forms[1] =
            apr_pstrcat(r->pool, w->scheme, "://", w->hostport,
                        w->member_path ? w->member_path : "", path, NULL);
        for (k = 0; k < 2; k++) {
            apr_size_t n = strlen(forms[k]);
            if (strncasecmp(value, forms[k], n) == 0) {
                return n;
            }
        }
    }
    return 0;
}

/* Rewrites a backend URL in a response header (ProxyPassReverse). */
static const char *reverse_map(rl_request_t *r, const char *value)
{
    const proxy_server_conf_t *conf = proxy_server_conf(r->server);
    int i;

    for (i = 0; i < conf->reverse->nelts; i++) {
        const proxy_reverse_t *rv =
            &APR_ARRAY_IDX(conf->reverse, i, proxy_reverse_t);
        apr_size_t n = reverse_prefix(r, rv->real, value);
        if (n > 0) {
            const char *host = apr_table_get(r->headers_in, "Host");
            const char *rest = value + n;
            const char *fake = rv->fake;
            /* "/app/" + "x" but not "/app//x" */
            if (*rest == '/' && fake[strlen(fake) - 1] == '/') {
                rest++;
            }
            if (value[0] == '/' || host == NULL) {
                return apr_pstrcat(r->pool, fake, rest, NULL);
            }
            return apr_pstrcat(r->pool,
                               rl_conn_is_https(r->connection) ? "https://"
                                                               : "http://",
                               host, fake, rest, NULL);
        }
    }
    return value;
}

/* Copies the backend's response head into r. */
static int take_response_head(rl_request_t *r, proxy_req_t *pr,
                              const rl_http_response_t *h)
{
    const proxy_server_conf_t *conf = proxy_server_conf(r->server);
    const char *conn = NULL;
    const char *why = NULL;
    apr_off_t len;
    int i, rc;

    rc =
        rl_http_response_framing(h, r->header_only, &pr->resp_kind, &len, &why);
    if (rc != RL_HTTP_OK) {
        rl_log_rerror(RL_LOG_ERR, 0, r, "backend %s: %s", pr->worker->name,
                      why);
        return 502;
    }
    pr->resp_left = len;
    memset(&pr->chunk, 0, sizeof(pr->chunk));
    for (i = 0; i < h->nfields; i++) {
        if (strcasecmp(h->fields[i].name, "Connection") == 0) {
            conn =
                conn ? apr_pstrcat(r->pool, conn, ",", h->fields[i].value, NULL)
                     : h->fields[i].value;
        }
    }
    pr->resp_close = pr->resp_kind == RL_BODY_UNTIL_CLOSE ||
                     (conn && listed_in_connection(conn, "close")) ||
                     (h->proto_num < 1001 &&
                      !(conn && listed_in_connection(conn, "keep-alive")));
    r->status = h->status;
    for (i = 0; i < h->nfields; i++) {
        const char *name = h->fields[i].name;
        const char *value = h->fields[i].value;
        enum hdr_id id = header_id(name);
        if (is_hop_by_hop_id(id) || id == H_CONTENT_LENGTH ||
            (conn && listed_in_connection(conn, name))) {
            continue;
        }
        if (id == H_CONTENT_TYPE) {
            rl_set_content_type(r, value);
            continue;
        }
        if (conf->via == 3 && id == H_VIA) {
            continue;
        }
        if (id == H_SERVER) {
            continue; /* never reveal the backend's software */
        }
        if (id == H_LOCATION || id == H_CONTENT_LOCATION || id == H_URI) {
            value = reverse_map(r, value);
        }
        apr_table_addn(r->headers_out, name, value);
    }
    if (conf->via == 1 || conf->via == 2) {
        apr_table_mergen(r->headers_out, "Via",
                         apr_psprintf(r->pool, "%d.%d %s", h->proto_num / 1000,
                                      h->proto_num % 1000,
                                      r->server->server_name));
    }
    if (pr->resp_kind == RL_BODY_LENGTH) {
        rl_set_content_length(r, len);
    } else if (pr->resp_kind == RL_BODY_NONE && r->header_only) {
        /* HEAD: pass the backend's length on */
        for (i = 0; i < h->nfields; i++) {
            if (strcasecmp(h->fields[i].name, "Content-Length") == 0) {
                rl_set_content_length(r, apr_atoi64(h->fields[i].value));
            }
        }
    } else if (pr->resp_kind == RL_BODY_NONE) {
        rl_set_content_length(r, 0);
    }
    return RL_OK;
}

/* The log's view of the exchange (docs/log.md lists these notes). */
static void finish_exchange_notes(rl_request_t *r, proxy_req_t *pr)
{
    apr_table_setn(r->notes, "proxy-attempts", apr_itoa(r->pool, pr->attempts));
    if (pr->connected) {
        apr_table_setn(r->notes, "proxy-connect-us",
                       apr_off_t_toa(r->pool, pr->connected - pr->started));
    }
    if (pr->first_byte) {
        apr_table_setn(r->notes, "proxy-response-us",
                       apr_off_t_toa(r->pool, pr->first_byte - pr->started));
    }
}


/* The exchange is over: the connection goes back to the pool when the
 * backend allows it, and the log gets its fields. */
static void finish_exchange(rl_request_t *r, proxy_req_t *pr, int ok)
{

    if (pr->bc != NULL) {
        if (ok && !pr->resp_close && pr->worker->enable_reuse &&
            pr->in_pos == pr->in_len) {
            rl_request_unwatch(r, pr->bc->fd);
            pr->bc->requests++;
            proxy_pool_put(pr->bc);
        } else {
            proxy_conn_close(pr->bc);
        }
        pr->bc = NULL;
    }
    in_buffer_put(pr);
    finish_exchange_notes(r, pr);
    if (ok) {
        /* a post_request hook may judge the answer a failure
         * (failonstatus): only otherwise is it a success */
        rl_proxy_run_post_request(r, pr->worker, RL_PROXY_OK);
        if (apr_table_get(r->notes, RL_PROXY_NOTE_FAILED) == NULL) {
            rl_proxy_worker_succeeded(pr->worker);
        }
    }
}

static apr_status_t proxy_req_cleanup(void *v)
{
    proxy_req_t *pr = v;

    if (pr->counted) {
        apr_atomic_dec32(&pr->worker->s->busy);
    }
    /* the request ends early (client gone): never pool a half-used
     * connection */
    if (pr->bc != NULL) {
        proxy_conn_close(pr->bc);
        pr->bc = NULL;
    }
    in_buffer_put(pr);
    return APR_SUCCESS;
}

/* Relays body bytes already in pr->in to the client. */
static int relay_buffered(rl_request_t *r, proxy_req_t *pr, int *done)
{
    *done = 0;
    while (pr->in_pos < pr->in_len) {
        const char *data;
        apr_size_t avail = pr->in_len - pr->in_pos, n = 0, consumed;

        if (pr->resp_kind == RL_BODY_LENGTH) {
            n = (apr_off_t)avail < pr->resp_left ? avail
                                                 : (apr_size_t)pr->resp_left;
            data = pr->in + pr->in_pos;
            pr->in_pos += n;
            pr->resp_left -= (apr_off_t)n;
        } else if (pr->resp_kind == RL_BODY_CHUNKED) {
            int rc = rl_http_chunked_next(&pr->chunk, pr->in + pr->in_pos,
                                          avail, 8192, &consumed, &data, &n);
            pr->in_pos += consumed;
            if (rc == RL_HTTP_DONE) {
                *done = 1;
                return RL_OK;
            }
            if (rc > 0) {
                rl_log_rerror(RL_LOG_ERR, 0, r,
                              "backend %s sent a malformed chunked body",
                              pr->worker->name);
                return 502;
            }
            if (rc == RL_HTTP_AGAIN && n == 0) {
                break;
            }
        } else {
            data = pr->in + pr->in_pos;
            n = avail;
            pr->in_pos += n;
        }
        if (n > 0 && rl_rwrite(r, data, n) != APR_SUCCESS) {
            return RL_DONE; /* client gone */
        }
        if (pr->resp_kind == RL_BODY_LENGTH && pr->resp_left == 0) {
            *done = 1;
            return RL_OK;
        }
    }
    if (pr->resp_kind == RL_BODY_LENGTH && pr->resp_left == 0) {
        *done = 1;
    }
    return RL_OK;
}

/* 101 from the backend: hand both sockets to the core's tunnel. */
static int start_tunnel(rl_request_t *r, proxy_req_t *pr,
                        const rl_http_response_t *h)
{
    const char *up = NULL;
    rl_io_t *io;
    int i, fd;

    for (i = 0; i < h->nfields; i++) {
        if (strcasecmp(h->fields[i].name, "Upgrade") == 0) {
            up = h->fields[i].value;
        }
    }
    if (!pr->upgrade || up == NULL || strcasecmp(up, "websocket") != 0) {
        rl_log_rerror(RL_LOG_ERR, 0, r,
                      "backend %s switched protocols without being asked",
                      pr->worker->name);
        drop_backend(pr);
        rl_proxy_run_post_request(r, pr->worker, RL_PROXY_BAD_RESPONSE);
        return 502;
    }
    for (i = 0; i < h->nfields; i++) {
        const char *name = h->fields[i].name;
        enum hdr_id id = header_id(name);
        if (!is_hop_by_hop_id(id) && id != H_SERVER && id != H_CONTENT_LENGTH) {
            apr_table_addn(r->headers_out, name, h->fields[i].value);
        }
    }
    apr_table_setn(r->headers_out, "Upgrade", "websocket");
    finish_exchange_notes(r, pr);
    rl_proxy_run_post_request(r, pr->worker, RL_PROXY_OK);
    rl_request_unwatch(r, pr->bc->fd);
    fd = proxy_conn_detach(pr->bc, &io);
    pr->bc = NULL;
    if (io != NULL) {
        /* wss://: the core relays through the TLS transport */
        return rl_request_tunnel_io(r, fd, io, pr->in + pr->in_pos,
                                    pr->in_len - pr->in_pos, pr->timeout);
    }
    return rl_request_tunnel(r, fd, pr->in + pr->in_pos,
                             pr->in_len - pr->in_pos, pr->timeout);
}


/* The state machine; returns like a handler. */
static int proxy_step(rl_request_t *r, proxy_req_t *pr)
{
    int rc, err;
    socklen_t el;
    apr_status_t rv, failed;

    for (;;) {
        switch (pr->state) {
        case PS_CONNECT:
            if (rl_request_timed_out(r)) {
                return connect_failed(r, pr, 0, NULL);
            }
            err = 0;
            el = sizeof(err);
            if (getsockopt(pr->bc->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0) {
                err = errno;
            }
            if (err == 0) {
                /* SO_ERROR is also 0 while the connect is in progress (a
                 * wake-up from the client's socket): ask the socket */
                struct sockaddr_storage peer;
                socklen_t pl = sizeof(peer);
                if (getpeername(pr->bc->fd, (struct sockaddr *)&peer, &pl) !=
                        0 &&
                    errno == ENOTCONN) {
                    err = EINPROGRESS;
                }
            }
            if (err == EINPROGRESS || err == EALREADY) {
                return rl_request_watch(r, pr->bc->fd, RL_WANT_WRITE,
                                        pr->connect_deadline, proxy_resume);
            }
            if (err != 0) {
                return connect_failed(r, pr, err, NULL);
            }
            pr->connected = apr_time_now();
            pr->state = PS_SEND_HEAD;
            if (proxy_worker_is_tls(pr->worker)) {
                const char *why = start_tls(r, pr);
                if (why != NULL) {
                    return connect_failed(r, pr, 0, why);
                }
            }
            break;

        case PS_SEND_HEAD:
        case PS_SEND_BODY:
            if (rl_request_timed_out(r) && pr->handshaking) {
                return connect_failed(r, pr, 0, "TLS handshake timed out");
            }
            if (rl_request_timed_out(r)) {
                rl_log_rerror(RL_LOG_ERR, 0, r,
                              "backend %s took no request data for %ld s",
                              pr->worker->name,
                              (long)apr_time_sec(pr->timeout));
                drop_backend(pr);
                rl_proxy_run_post_request(r, pr->worker, RL_PROXY_TIMEOUT);
                return 504;
            }
            rc = send_out(r, pr, &failed);
            if (rc == RL_SUSPENDED) {
                return rc;
            }
            if (failed != APR_SUCCESS && pr->handshaking) {
                /* mod_ssl has logged why (certificate, protocol...) */
                return connect_failed(r, pr, 0, "TLS handshake failed");
            }
            if (failed != APR_SUCCESS) {
                if (can_retry(r, pr)) {
                    drop_backend(pr);
                    build_head(r, pr);
                    rc = start_attempt(r, pr);
                    if (rc != RL_OK) {
                        return rc;
                    }
                    break;
                }
                rl_log_rerror(RL_LOG_ERR, failed, r,
                              "sending the request to backend %s failed",
                              pr->worker->name);
                drop_backend(pr);
                return unanswered(r, pr, "send failed");
            }
            if (r->body_kind == RL_BODY_NONE || pr->body_eof) {
                pr->state = PS_READ_HEAD;
                /* the backend has just been sent the request: its answer
                 * cannot be there yet, so do not spend a read on it */
                pr->awaiting = 1;
                break;
            }
            pr->state = PS_SEND_BODY;
            rc = next_body_piece(r, pr);
            if (rc != RL_OK) {
                return rc;
            }
            break;

        case PS_READ_HEAD: {
            rl_http_limits_t lim = {8192, 8192, 100};
            rl_http_response_t h;
            apr_size_t head_len = 0;
            const char *why = NULL;

            if (rl_request_timed_out(r)) {
                rl_log_rerror(
                    RL_LOG_ERR, 0, r, "backend %s did not answer within %ld s",
                    pr->worker->name, (long)apr_time_sec(pr->timeout));
                drop_backend(pr);
                rl_proxy_run_post_request(r, pr->worker, RL_PROXY_TIMEOUT);
                return 504;
            }
            if (pr->awaiting) {
                pr->awaiting = 0;
                return rl_request_watch(
                    r, pr->bc->fd, backend_want(pr, RL_WANT_READ),
                    apr_time_now() + pr->timeout, proxy_resume);
            }
            rc = pr->in_len > pr->in_pos
                     ? rl_http_head_end(pr->in + pr->in_pos,
                                        pr->in_len - pr->in_pos, &pr->scan,
                                        &lim, &head_len)
                     : RL_HTTP_AGAIN;
            if (rc == RL_HTTP_AGAIN) {
                rv = backend_read(pr);
                if (rv == APR_SUCCESS) {
                    continue;
                }
                if (APR_STATUS_IS_EAGAIN(rv)) {
                    return rl_request_watch(
                        r, pr->bc->fd, backend_want(pr, RL_WANT_READ),
                        apr_time_now() + pr->timeout, proxy_resume);
                }
                if (can_retry(r, pr)) {
                    drop_backend(pr);
                    build_head(r, pr);
                    rc = start_attempt(r, pr);
                    if (rc != RL_OK) {
                        return rc;
                    }
                    break;
                }
                rl_log_rerror(RL_LOG_ERR, rv == APR_EOF ? 0 : rv, r,
                              "backend %s closed the connection before "
                              "answering",
                              pr->worker->name);
                drop_backend(pr);
                return unanswered(r, pr, "closed the connection unanswered");
            }
            if (rc == RL_HTTP_OK) {
                rc = rl_http_parse_response(r->pool, pr->in + pr->in_pos,
                                            head_len, &lim, &h, &why);
            } else {
                why = "malformed response head";
            }
            if (rc != RL_HTTP_OK) {
                rl_log_rerror(RL_LOG_ERR, 0, r, "backend %s: %s",
                              pr->worker->name, why);
                drop_backend(pr);
                rl_proxy_run_post_request(r, pr->worker, RL_PROXY_BAD_RESPONSE);
                return 502;
            }
            pr->in_pos += head_len;
            pr->scan = 0;
            if (h.status < 200) {
                if (h.status == 101) {
                    return start_tunnel(r, pr, &h);
                }
                continue; /* 100, 102, 103: the final response follows */
            }
            rc = take_response_head(r, pr, &h);
            if (rc != RL_OK) {
                drop_backend(pr);
                rl_proxy_run_post_request(r, pr->worker, RL_PROXY_BAD_RESPONSE);
                return rc;
            }
            if (proxy_server_conf(r->server)->error_override == 1 &&
                r->status >= 400) {
                int status = r->status;
                apr_table_clear(r->headers_out);
                finish_exchange(r, pr, 0);
                return status;
            }
            pr->state = PS_RELAY;
            if (pr->resp_kind == RL_BODY_NONE) {
                finish_exchange(r, pr, 1);
                return RL_OK;
            }
            break;
        }

        case PS_RELAY: {
            int done;

            if (rl_request_timed_out(r)) {
                rl_log_rerror(RL_LOG_ERR, 0, r,
                              "backend %s stalled mid-response for %ld s",
                              pr->worker->name,
                              (long)apr_time_sec(pr->timeout));
                drop_backend(pr);
                rl_proxy_run_post_request(r, pr->worker, RL_PROXY_TIMEOUT);
                return 504; /* head sent: the core cuts the connection */
            }
            rc = relay_buffered(r, pr, &done);
            if (rc != RL_OK) {
                drop_backend(pr);
                return rc;
            }
            if (done) {
                finish_exchange(r, pr, 1);
                return RL_OK;
            }
            if (rl_output_congested(r)) {
                rl_request_suspend(r, proxy_resume);
                return RL_SUSPENDED;
            }
            rv = backend_read(pr);
            if (rv == APR_SUCCESS) {
                continue;
            }
            if (APR_STATUS_IS_EAGAIN(rv)) {
                return rl_request_watch(
                    r, pr->bc->fd, backend_want(pr, RL_WANT_READ),
                    apr_time_now() + pr->timeout, proxy_resume);
            }
            if (rv == APR_EOF && pr->resp_kind == RL_BODY_UNTIL_CLOSE) {
                finish_exchange(r, pr, 1);
                return RL_OK;
            }
            /* Cut mid-body: the client must see a cut too, never a short
             * body passed as complete. */
            rl_log_rerror(RL_LOG_ERR, rv == APR_EOF ? 0 : rv, r,
                          "backend %s closed the connection mid-response",
                          pr->worker->name);
            drop_backend(pr);
            rl_proxy_run_post_request(r, pr->worker, RL_PROXY_BAD_RESPONSE);
            return 502;
        }
        }
    }
}

static int proxy_resume(rl_request_t *r)
{
    proxy_req_t *pr = rl_get_module_config(r->request_config, &proxy_module);

    return proxy_step(r, pr);
}

/* A pre_request hook asked to be asked again (RL_PROXY_NOTE_WAIT_UNTIL
 * still ahead). */
static int pick_again_later(rl_request_t *r)
{
    const char *until = apr_table_get(r->notes, RL_PROXY_NOTE_WAIT_UNTIL);

    return until != NULL && apr_atoi64(until) > apr_time_now();
}

int proxy_http_handler(rl_request_t *r)
{
    proxy_route_t *route;
    proxy_req_t *pr;
    rl_proxy_worker_t *worker;
    char *url;
    int rc;

    if (r->handler == NULL || strcmp(r->handler, "proxy-server") != 0) {
        return RL_DECLINED;
    }
    route = rl_get_module_config(r->request_config, &proxy_module);
    if (route == NULL) {
        return RL_DECLINED;
    }
    worker = route->worker;
    url = (char *)route->path;
    if (worker == NULL) {
        /* balancer://name/...: a balancer module picks the member */
        rc = rl_proxy_run_pre_request(r, route->target, &worker, &url);
        if (rc == RL_DECLINED || (rc == RL_OK && worker == NULL)) {
            rl_log_rerror(RL_LOG_ERR, 0, r,
                          "no module takes %s (is mod_balancer loaded?)",
                          route->target);
            return 500;
        }
        if (rc == 503 && pick_again_later(r)) {
            /* no member yet, and the balancer says wait (timeout=) */
            return rl_request_sleep(r, apr_time_from_msec(100),
                                    proxy_http_handler);
        }
        if (rc != RL_OK) {
            return rc;
        }
    }
    pr = apr_pcalloc(r->pool, sizeof(*pr));
    pr->worker = worker;
    pr->path = url;
    pr->client_path = route->path;
    pr->target = route->target;
    pr->started = apr_time_now();
    pr->timeout = worker_timeout(r, worker);
    apr_table_setn(r->subprocess_env, "BALANCER_WORKER_NAME", worker->name);
    rl_set_module_config(r->request_config, &proxy_module, pr);
    apr_pool_cleanup_register(r->pool, pr, proxy_req_cleanup,
                              apr_pool_cleanup_null);
    /* a balancer's choice stands (forcerecovery may pick a member in
     * error on purpose); a plain ProxyPass backend must be usable */
    if (worker->balancer == NULL &&
        !rl_proxy_worker_usable(worker, pr->started)) {
        if (worker->s->status & RL_WORKER_IN_ERROR) {
            rl_log_rerror(RL_LOG_INFO, 0, r,
                          "backend %s is in error state; retrying it in %ld s",
                          worker->name,
                          (long)apr_time_sec(worker->s->error_time +
                                             worker->retry - pr->started));
        } else if (worker->s->status & RL_WORKER_UNRESOLVED) {
            rl_log_rerror(RL_LOG_INFO, 0, r,
                          "backend %s has no address: its name does not "
                          "resolve (ProxyResolver keeps asking)",
                          worker->name);
        } else {
            rl_log_rerror(RL_LOG_INFO, 0, r,
                          "backend %s is disabled or stopped (status=)",
                          worker->name);
        }
        apr_table_setn(
            r->err_headers_out, "Retry-After",
            apr_ltoa(r->pool, (long)apr_time_sec(worker->retry) + 1));
        return 503;
    }
    apr_atomic_inc32(&worker->s->busy);
    pr->counted = 1;
    __atomic_fetch_add(&worker->s->requests, 1, __ATOMIC_RELAXED);
    build_head(r, pr);
    rc = start_attempt(r, pr);
    if (rc != RL_OK) {
        return rc;
    }
    return proxy_step(r, pr);
}
