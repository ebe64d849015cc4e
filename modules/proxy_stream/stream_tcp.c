/*
 * stream_tcp.c: the TCP relay, a connection protocol (rl_protocol.h).
 *
 * A connection of a `Listen … tcp` listener goes through these states,
 * each run() doing what it can without waiting:
 *
 *   PP_IN    (RemoteIPProxyProtocol On) read the PROXY header of the
 *            load balancer in front, and nothing after it;
 *   PICK     choose a member (stream_member.c) and start a non-blocking
 *            connect; a member that refuses, or does not answer within
 *            the connect timeout, is counted failed and the next attempt
 *            goes to another member (up to the balancer's maxattempts);
 *   CONNECT  wait for the connect;
 *   RELAY    move bytes both ways until both directions are closed.
 *
 * Each direction (client -> member "up", member -> client "down") reads
 * its source only when what it read before is written out, so a side
 * that cannot take more stops the other from reading (backpressure: at
 * most one buffer or one pipe per direction in flight).  When the source
 * ends (FIN), the direction shuts the sink's sending side once its bytes
 * are out (half-close), and the other direction goes on: a client may
 * send its request, shut down, and still read the whole answer.
 *
 * Plain sockets move through a pipe with splice(2), so the bytes never
 * enter user space; a TLS client (mod_ssl's transport in c->io) is read
 * and written through rl_io_recv/rl_io_send with a buffer.
 *
 * Reads and writes go on until they would block, and only then does the
 * connection wait, for exactly what stopped it: so it works with the
 * event MPM's edge-triggered wake-ups as with prefork's and worker's
 * poll().
 */
#include "stream_private.h"

#include <apr_strings.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

RL_LOG_USE_MODULE(proxy_stream);

/* Bytes in flight per direction (buffer or pipe). */
#define STREAM_BUF (64 * 1024)

enum stream_state { ST_PP_IN, ST_PICK, ST_CONNECT, ST_RELAY, ST_DONE };

/* One direction of the relay. */
typedef struct stream_dir_t {
    int up;    /* client -> member */
    char *buf; /* buffered mode (a TLS client) */
    apr_size_t pos, len;
    int pipe[2];        /* splice mode */
    apr_size_t piped;   /* bytes in the pipe */
    int eof;            /* the source ended */
    int shut;           /* the sink's sending side is shut */
    apr_uint64_t bytes; /* written to the sink */
} stream_dir_t;

typedef struct stream_tcp_t {
    rl_conn_t *c;
    stream_conf_t *conf;
    rl_request_t *r; /* stand-in for the lbmethods */
    enum stream_state state;
    rl_proxy_worker_t *w;
    int bfd; /* the member's socket, -1 */
    int attempts;
    int splice; /* both sides plain: splice(2) */
    apr_time_t start, last, connect_deadline;
    stream_dir_t up, down;
    /* the PROXY header read from the client, then the one for the member */
    char pp[STREAM_PP_MAX];
    apr_size_t pp_have, pp_pos, pp_len;
    struct sockaddr_storage src, dst; /* for proxyprotocol= */
    int want_c, want_b;               /* what run() waits for on each side */
    int timed_out;                    /* the last attempt's connect timed out */
    const char *cause;
    int logged;
} stream_tcp_t;


static int stream_tcp_run(rl_conn_t *c, void *ctx, int timed_out,
                          apr_time_t *deadline);
static int stream_tcp_watched(const rl_conn_t *c, void *ctx, rl_watch_t *w,
                              int max);
static void stream_tcp_close(rl_conn_t *c, void *ctx);

static const rl_conn_protocol_t stream_tcp_protocol = {
    "tcp", stream_tcp_run, NULL, stream_tcp_watched, stream_tcp_close};


/* ---------------------------------------------------------------- */
/* Addresses                                                        */
/* ---------------------------------------------------------------- */

static int sockaddr_from(const char *ip, unsigned port,
                         struct sockaddr_storage *ss)
{
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((unsigned short)port);
        return 0;
    }
    if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((unsigned short)port);
        return 0;
    }
    return -1;
}


/* The addresses a PROXY header to a member carries: the client's and
 * the one it connected to (from the PROXY header we read, if any). */
static void stream_tcp_addresses(stream_tcp_t *t)
{
    socklen_t len = sizeof(t->src);

    if (getpeername(t->c->fd, (struct sockaddr *)&t->src, &len) != 0) {
        memset(&t->src, 0, sizeof(t->src));
    }
    len = sizeof(t->dst);
    if (getsockname(t->c->fd, (struct sockaddr *)&t->dst, &len) != 0) {
        memset(&t->dst, 0, sizeof(t->dst));
    }
}


/* ---------------------------------------------------------------- */
/* The PROXY header from a trusted load balancer                    */
/* ---------------------------------------------------------------- */

static int stream_pp_excepted(const stream_conf_t *conf, const char *ip)
{
    int i;

    for (i = 0; conf->pp_except != NULL && i < conf->pp_except->nelts; i++) {
        if (rl_ipmatch(APR_ARRAY_IDX(conf->pp_except, i, rl_ipmatch_t *), ip)) {
            return 1;
        }
    }
    return 0;
}


/*
 * Reads the PROXY header and not one byte more: the bytes after it are
 * the client's (and, on a TLS listener, its ClientHello, which must stay
 * in the socket for the TLS transport).  So it peeks, and takes from the
 * socket only what belongs to the header: all it peeked while the header
 * is incomplete, exactly the rest once it is complete.
 * Returns 1 when done, 0 to wait, -1 to close.
 */
static int stream_pp_read(stream_tcp_t *t)
{
    rl_conn_t *c = t->c;
    stream_pp_t pp;
    const char *why = "";
    int len;

    for (;;) {
        ssize_t n = recv(c->fd, t->pp + t->pp_have, sizeof(t->pp) - t->pp_have,
                         MSG_PEEK);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            t->want_c = RL_WANT_READ;
            return 0;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rl_log_cerror(RL_LOG_INFO, 0, c,
                          "stream: the client closed before its PROXY "
                          "header (RemoteIPProxyProtocol On)");
            t->cause = "client-close";
            return -1;
        }
        len = stream_pp_parse(t->pp, t->pp_have + (apr_size_t)n, &pp, &why);
        if (len < 0) {
            rl_log_cerror(RL_LOG_INFO, 0, c,
                          "stream: no valid PROXY header from %s (%s): "
                          "closed (RemoteIPProxyProtocol On; list a client "
                          "that need not send one in "
                          "RemoteIPProxyProtocolExceptions)",
                          c->client_ip, why);
            t->cause = "proxy-protocol";
            return -1;
        }
        if (len == 0) {
            /* all of it is header: take it out of the socket */
            if (recv(c->fd, t->pp + t->pp_have, (size_t)n, 0) != n) {
                t->cause = "client-error";
                return -1;
            }
            t->pp_have += (apr_size_t)n;
            continue;
        }
        if ((apr_size_t)len > t->pp_have &&
            recv(c->fd, t->pp + t->pp_have, (size_t)len - t->pp_have, 0) !=
                (ssize_t)((apr_size_t)len - t->pp_have)) {
            t->cause = "client-error";
            return -1;
        }
        break;
    }
    t->pp_have = 0;
    if (!pp.local) {
        /* the client as the load balancer saw it: logs, lbmethod=source
         * and the PROXY header to members use it */
        c->client_ip = apr_pstrdup(c->pool, pp.src_ip);
        c->client_port = (apr_port_t)pp.src_port;
        sockaddr_from(pp.src_ip, pp.src_port, &t->src);
        sockaddr_from(pp.dst_ip, pp.dst_port, &t->dst);
    }
    return 1;
}


/* ---------------------------------------------------------------- */
/* Connecting                                                       */
/* ---------------------------------------------------------------- */

static void stream_backend_close(stream_tcp_t *t)
{
    if (t->bfd >= 0) {
        rl_watched_close(t->bfd);
        t->bfd = -1;
    }
}


/* The attempt on t->w failed: note it, and go pick another member. */
static void stream_connect_failed(stream_tcp_t *t, const char *why)
{
    rl_log_cerror(RL_LOG_INFO, 0, t->c, "stream: cannot connect to %s%s%s: %s",
                  t->w->name, t->w->balancer ? " of " : "",
                  t->w->balancer ? t->w->balancer->name : "", why);
    stream_backend_close(t);
    stream_attempt_failed(t->r, t->w, why);
    t->w = NULL;
    t->state = ST_PICK;
}


/* The member accepted: prepare the PROXY header it asked for. */
static void stream_connected(stream_tcp_t *t)
{
    int v = stream_member_pp(t->w);
    int one = 1;

    setsockopt(t->bfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    rl_proxy_worker_succeeded(t->w);
    t->pp_pos = t->pp_len = 0;
    if (v != 0) {
        t->pp_len =
            stream_pp_encode(v, 0, (struct sockaddr *)&t->src,
                             (struct sockaddr *)&t->dst, t->pp, sizeof(t->pp));
    }
    t->state = ST_RELAY;
    t->last = apr_time_now();
}


/* Picks a member and starts connecting.  Returns 0 to go on, -1 when no
 * member is left. */
static int stream_pick_connect(stream_tcp_t *t)
{
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);
    int fd;

    if (t->attempts >= stream_max_attempts(t->conf) ||
        (t->w = stream_pick(t->r, t->conf)) == NULL) {
        t->cause = t->attempts == 0 ? "no-member"
                   : t->timed_out   ? "connect-timeout"
                                    : "connect-failed";
        rl_log_cerror(RL_LOG_INFO, 0, t->c, "stream: %s: %s", t->conf->target,
                      t->attempts > 0
                          ? apr_psprintf(t->c->pool,
                                         "no member accepted the "
                                         "connection (%d attempt(s))",
                                         t->attempts)
                          : "no member can take the connection (all in "
                            "error, disabled, stopped or failing health "
                            "checks)");
        return -1;
    }
    t->attempts++;
    if (rl_proxy_worker_address(t->w, &sa, &salen) == 0) {
        stream_connect_failed(t, "no address (DNS)");
        return 0;
    }
    fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        t->cause = "error";
        rl_log_cerror(RL_LOG_ERR, APR_FROM_OS_ERROR(errno), t->c,
                      "stream: cannot make a socket for %s", t->w->name);
        stream_release(t->r, t->w, RL_PROXY_CONNECT_FAILED);
        t->w = NULL;
        return -1;
    }
    t->bfd = fd;
    t->connect_deadline =
        apr_time_now() + stream_connect_timeout(t->w, t->conf);
    if (connect(fd, (struct sockaddr *)&sa, salen) == 0) {
        stream_connected(t);
    } else if (errno == EINPROGRESS) {
        t->state = ST_CONNECT;
    } else {
        stream_connect_failed(t, strerror(errno));
    }
    return 0;
}


/* CONNECT: is it done? */
static void stream_connect_check(stream_tcp_t *t, int timed_out)
{
    struct pollfd pfd = {t->bfd, POLLOUT, 0};
    int err = 0;
    socklen_t el = sizeof(err);

    if (poll(&pfd, 1, 0) <= 0) {
        if (timed_out || apr_time_now() >= t->connect_deadline) {
            t->timed_out = 1;
            stream_connect_failed(
                t, apr_psprintf(t->c->pool, "connect timed out after %ld ms",
                                (long)apr_time_as_msec(
                                    stream_connect_timeout(t->w, t->conf))));
        } else {
            t->want_b = RL_WANT_WRITE;
        }
        return;
    }
    if (getsockopt(t->bfd, SOL_SOCKET, SO_ERROR, &err, &el) != 0) {
        err = errno;
    }
    if (err != 0) {
        t->timed_out = 0;
        stream_connect_failed(t, strerror(err));
    } else {
        stream_connected(t);
    }
}


/* ---------------------------------------------------------------- */
/* Relaying                                                         */
/* ---------------------------------------------------------------- */

/* Source and sink of a direction, and whether the client's transport
 * applies on either. */
#define DIR_SRC(t, d) ((d)->up ? (t)->c->fd : (t)->bfd)
#define DIR_DST(t, d) ((d)->up ? (t)->bfd : (t)->c->fd)
#define DIR_SRC_IO(t, d) ((d)->up ? (t)->c->io : NULL)
#define DIR_DST_IO(t, d) ((d)->up ? NULL : (t)->c->io)

/* What an I/O on the client (or member) side waits for. */
static void dir_wait(stream_tcp_t *t, stream_dir_t *d, int on_src, int ev)
{
    int client = on_src ? d->up : !d->up;
    rl_io_t *io = client ? t->c->io : NULL;
    int want = RL_IO_WANT(io, ev);

    if (client) {
        t->want_c |= want;
    } else {
        t->want_b |= want;
    }
}


/* An error on a side: which one, for the log. */
static int dir_fail(stream_tcp_t *t, stream_dir_t *d, int on_src,
                    apr_status_t rv)
{
    int client = on_src ? d->up : !d->up;

    /* an error wins over a half-close seen before it (a member that
     * resets after the client's FIN failed, it did not close) */
    t->cause = client ? "client-error" : "member-error";
    rl_log_cerror(RL_LOG_INFO, rv, t->c, "stream: %s %s failed",
                  client ? "client" : "member", on_src ? "read" : "write");
    return -1;
}


static void dir_count(stream_tcp_t *t, stream_dir_t *d, apr_size_t n)
{
    d->bytes += n;
    __atomic_fetch_add(d->up ? &t->w->s->bytes_out : &t->w->s->bytes_in,
                       (apr_uint64_t)n, __ATOMIC_RELAXED);
}


/* Writes what the direction holds.  1: all out, 0: waits, -1: error. */
static int dir_flush(stream_tcp_t *t, stream_dir_t *d, int *progress)
{
    int dst = DIR_DST(t, d);

    /* the PROXY header goes to the member before any client byte */
    while (d->up && t->pp_pos < t->pp_len) {
        ssize_t n =
            send(dst, t->pp + t->pp_pos, t->pp_len - t->pp_pos, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                dir_wait(t, d, 0, RL_WANT_WRITE);
                return 0;
            }
            return dir_fail(t, d, 0, APR_FROM_OS_ERROR(errno));
        }
        t->pp_pos += (apr_size_t)n;
        *progress = 1;
    }
    while (d->pos < d->len) {
        apr_size_t n = 0;
        apr_status_t rv = rl_io_send(DIR_DST_IO(t, d), dst, d->buf + d->pos,
                                     d->len - d->pos, &n);
        if (n > 0) {
            d->pos += n;
            dir_count(t, d, n);
            *progress = 1;
        }
        if (rv == APR_SUCCESS) {
            continue;
        }
        if (APR_STATUS_IS_EAGAIN(rv)) {
            dir_wait(t, d, 0, RL_WANT_WRITE);
            return 0;
        }
        return dir_fail(t, d, 0, rv);
    }
    while (d->piped > 0) {
        ssize_t n = splice(d->pipe[0], NULL, dst, NULL, d->piped,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n < 0) {
            if (errno == EAGAIN) {
                dir_wait(t, d, 0, RL_WANT_WRITE);
                return 0;
            }
            return dir_fail(t, d, 0, APR_FROM_OS_ERROR(errno));
        }
        d->piped -= (apr_size_t)n;
        dir_count(t, d, (apr_size_t)n);
        *progress = 1;
    }
    return 1;
}


/* Reads the next piece of the source.  1: got some, 0: waits or ended,
 * -1: error. */
static int dir_fill(stream_tcp_t *t, stream_dir_t *d, int *progress)
{
    int src = DIR_SRC(t, d);

    if (t->splice && d->pipe[0] < 0 && pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC)) {
        t->splice = 0; /* out of descriptors: copy instead */
    }
    if (t->splice) {
        ssize_t n = splice(src, NULL, d->pipe[1], NULL, STREAM_BUF,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            d->piped = (apr_size_t)n;
            *progress = 1;
            return 1;
        }
        if (n == 0) {
            d->eof = 1;
            *progress = 1;
            return 0;
        }
        if (errno == EAGAIN) {
            dir_wait(t, d, 1, RL_WANT_READ);
            return 0;
        }
        return dir_fail(t, d, 1, APR_FROM_OS_ERROR(errno));
    }
    if (d->buf == NULL) {
        d->buf = apr_palloc(t->c->pool, STREAM_BUF);
    }
    {
        apr_size_t got = 0;
        apr_status_t rv =
            rl_io_recv(DIR_SRC_IO(t, d), src, d->buf, STREAM_BUF, &got);
        if (rv == APR_SUCCESS && got > 0) {
            d->pos = 0;
            d->len = got;
            *progress = 1;
            return 1;
        }
        if (rv == APR_EOF) {
            d->eof = 1;
            *progress = 1;
            return 0;
        }
        if (APR_STATUS_IS_EAGAIN(rv)) {
            dir_wait(t, d, 1, RL_WANT_READ);
            return 0;
        }
        return dir_fail(t, d, 1, rv);
    }
}


/* Moves what it can in one direction.  0 or -1 (error). */
static int dir_step(stream_tcp_t *t, stream_dir_t *d, int *progress)
{
    for (;;) {
        int rc = dir_flush(t, d, progress);
        if (rc <= 0) {
            return rc;
        }
        if (d->eof) {
            break;
        }
        rc = dir_fill(t, d, progress);
        if (rc < 0) {
            return rc;
        }
        if (rc == 0 && !d->eof) {
            return 0;
        }
    }
    if (!d->shut) {
        /* everything the source sent is out: pass its FIN on */
        if (t->cause == NULL) {
            t->cause = d->up ? "client-close" : "member-close";
        }
        if (d->up) {
            shutdown(t->bfd, SHUT_WR);
        } else {
            rl_io_shutdown(t->c->io, t->c->fd);
        }
        d->shut = 1;
        *progress = 1;
    }
    return 0;
}


/* RELAY: both directions until neither moves.  1 when both are closed,
 * 0 to wait, -1 on an error. */
static int stream_relay(stream_tcp_t *t)
{
    int progress;

    do {
        progress = 0;
        t->want_c = t->want_b = 0;
        if (dir_step(t, &t->up, &progress) < 0 ||
            dir_step(t, &t->down, &progress) < 0) {
            return -1;
        }
        if (progress) {
            t->last = apr_time_now();
        }
    } while (progress && !(t->up.shut && t->down.shut));
    return t->up.shut && t->down.shut ? 1 : 0;
}


/* ---------------------------------------------------------------- */
/* The protocol                                                     */
/* ---------------------------------------------------------------- */

static apr_time_t stream_tcp_deadline(const stream_tcp_t *t)
{
    if (t->state == ST_CONNECT) {
        return t->connect_deadline;
    }
    return t->last + stream_idle_timeout(t->c->base_server);
}


static int stream_tcp_run(rl_conn_t *c, void *ctx, int timed_out,
                          apr_time_t *deadline)
{
    stream_tcp_t *t = ctx;
    int rc;

    (void)c;
    t->want_c = t->want_b = 0;
    if (timed_out && t->state != ST_CONNECT &&
        apr_time_now() >= stream_tcp_deadline(t)) {
        t->cause = "idle-timeout";
        rl_log_cerror(RL_LOG_INFO, 0, c,
                      "stream: nothing moved for %ld s: closed "
                      "(ProxyStreamTimeout)",
                      (long)apr_time_sec(stream_idle_timeout(c->base_server)));
        return RL_WANT_CLOSE;
    }
    for (;;) {
        switch (t->state) {
        case ST_PP_IN:
            rc = stream_pp_read(t);
            if (rc < 0) {
                return RL_WANT_CLOSE;
            }
            if (rc == 0) {
                *deadline = stream_tcp_deadline(t);
                return RL_WANT_READ;
            }
            t->state = ST_PICK;
            break;
        case ST_PICK:
            if (stream_pick_connect(t) < 0) {
                return RL_WANT_CLOSE;
            }
            break;
        case ST_CONNECT:
            stream_connect_check(t, timed_out);
            timed_out = 0;
            if (t->state == ST_CONNECT) {
                *deadline = stream_tcp_deadline(t);
                return RL_WANT_OTHER;
            }
            break;
        case ST_RELAY:
            rc = stream_relay(t);
            if (rc != 0) {
                t->state = ST_DONE;
                return RL_WANT_CLOSE;
            }
            *deadline = stream_tcp_deadline(t);
            return RL_WANT_OTHER;
        case ST_DONE:
            return RL_WANT_CLOSE;
        }
    }
}


static int stream_tcp_watched(const rl_conn_t *c, void *ctx, rl_watch_t *w,
                              int max)
{
    const stream_tcp_t *t = ctx;
    int n = 0;

    if (max >= 1) {
        w[n].fd = c->fd;
        w[n++].events = t->want_c;
    }
    if (max >= 2 && t->bfd >= 0) {
        w[n].fd = t->bfd;
        w[n++].events = t->want_b;
    }
    return n;
}


static void stream_dir_free(stream_dir_t *d)
{
    if (d->pipe[0] >= 0) {
        close(d->pipe[0]);
        close(d->pipe[1]);
        d->pipe[0] = d->pipe[1] = -1;
    }
}


static void stream_tcp_close(rl_conn_t *c, void *ctx)
{
    stream_tcp_t *t = ctx;
    stream_log_rec_t rec;

    stream_backend_close(t);
    stream_dir_free(&t->up);
    stream_dir_free(&t->down);
    if (t->cause == NULL) {
        t->cause = rl_mpm_stopping() ? "shutdown" : "error";
    }
    if (t->w != NULL) {
        stream_release(
            t->r, t->w,
            strcmp(t->cause, "member-error") == 0   ? RL_PROXY_BAD_RESPONSE
            : strcmp(t->cause, "client-error") == 0 ? RL_PROXY_CLIENT_ABORT
                                                    : RL_PROXY_OK);
    }
    memset(&rec, 0, sizeof(rec));
    rec.client =
        apr_psprintf(c->pool, strchr(c->client_ip, ':') ? "[%s]:%u" : "%s:%u",
                     c->client_ip, (unsigned)c->client_port);
    rec.listener = c->listener ? c->listener->name : "-";
    rec.proto = "tcp";
    rec.balancer = t->conf->balancer ? t->conf->balancer->name : "-";
    rec.member = t->w ? t->w->name : "-";
    rec.up = t->up.bytes;
    rec.down = t->down.bytes;
    rec.start = t->start;
    rec.end = apr_time_now();
    rec.attempts = t->attempts;
    rec.cause = t->cause;
    stream_log_write(t->conf, &rec);
}


int stream_tcp_take(rl_conn_t *c, stream_conf_t *conf)
{
    stream_tcp_t *t = apr_pcalloc(c->pool, sizeof(*t));

    t->c = c;
    t->conf = conf;
    t->bfd = -1;
    t->start = t->last = apr_time_now();
    t->up.up = 1;
    t->up.pipe[0] = t->up.pipe[1] = -1;
    t->down.pipe[0] = t->down.pipe[1] = -1;
    t->splice = c->io == NULL;
    t->r = stream_request(c, c->base_server);
    stream_tcp_addresses(t);
    t->state = conf->pp_in == 1 && !stream_pp_excepted(conf, c->client_ip)
                   ? ST_PP_IN
                   : ST_PICK;
    /* a pool-holding slot: the core keeps c->pool while we live */
    rl_set_module_config(c->conn_config, &proxy_stream_module, t);
    rl_conn_set_protocol(c, &stream_tcp_protocol, t);
    return RL_OK;
}
