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
 *   RELAY    move bytes both ways until both directions are closed.
 *
 * The relay starts while the connect is still in progress, as HAProxy
 * does: the client's first bytes are read at once and sent as soon as
 * the member's socket takes them, and the first send or read on it that
 * works says that the connect did.  Only when nothing else tells does a
 * second connect() ask (EALREADY: still in progress, EISCONN or 0: done,
 * anything else: refused): no poll() and getsockopt(SO_ERROR) per
 * connection.  Until the connect is known done, nothing is shut down on
 * the member's side (a FIN on a SYN_SENT socket would abort it), and an
 * error on that side is a failed attempt, retried on the next member
 * with the client's bytes kept.
 *
 * Each direction (client -> member "up", member -> client "down") reads
 * its source only when what it read before is written out, so a side
 * that cannot take more stops the other from reading (backpressure: at
 * most one buffer or one pipe per direction in flight).  When the source
 * ends (FIN), the direction shuts the sink's sending side once its bytes
 * are out (half-close), and the other direction goes on: a client may
 * send its request, shut down, and still read the whole answer.
 *
 * A direction starts with recv()/send() through the thread's scratch
 * buffer; only the bytes a sink does not take are copied into the
 * direction's own buffer, so an idle connection holds no buffer.  Once
 * a direction between two plain sockets has moved STREAM_SPLICE_AFTER
 * bytes, or one read filled the scratch buffer, it switches to splice(2)
 * through a pipe (HAProxy's splice-auto idea): a bulk transfer's bytes
 * then never enter user space, while a short connection never makes a
 * pipe (two splices per piece instead of a recv and a send, and a pipe2
 * and two closes per direction).  Pipes a connection leaves empty are
 * kept per thread for the next one.  A TLS
 * client (mod_ssl's transport in c->io) is always read and written
 * through rl_io_recv/rl_io_send.
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
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

RL_LOG_USE_MODULE(proxy_stream);

/* Bytes one recv() moves, and the most a direction keeps for its sink. */
#define STREAM_CHUNK (16 * 1024)
/* Bytes one splice() asks for (a pipe's default capacity). */
#define STREAM_PIPE_BYTES (64 * 1024)
/* What a direction moves with recv()/send() before it splices (sooner
 * when one read fills the scratch buffer: a bulk transfer). */
#define STREAM_SPLICE_AFTER (64 * 1024)
/* Empty pipes a thread keeps for the next connection. */
#define STREAM_PIPE_POOL 8

enum stream_state { ST_PP_IN, ST_PICK, ST_RELAY, ST_DONE };

/* One direction of the relay. */
typedef struct stream_dir_t {
    int up;          /* client -> member */
    const char *buf; /* bytes for the sink: the scratch buffer or keep */
    char *keep;      /* what the sink did not take (STREAM_CHUNK), or NULL */
    apr_size_t pos, len;
    int splice;         /* moves through the pipe */
    int bulk;           /* a read filled the whole scratch buffer */
    int pipe[2];        /* splice mode */
    apr_size_t piped;   /* bytes in the pipe */
    int eof;            /* the source ended */
    int shut;           /* the sink's sending side is shut */
    apr_uint64_t bytes; /* written to the sink */
    int want_c, want_b; /* what it waits for on each side */
} stream_dir_t;

typedef struct stream_tcp_t {
    rl_conn_t *c;
    stream_conf_t *conf;
    rl_request_t *r; /* stand-in for the lbmethods */
    enum stream_state state;
    rl_proxy_worker_t *w;
    int bfd;        /* the member's socket, -1 */
    int connecting; /* bfd's connect is not known done yet */
    int attempts;
    int splice; /* both sides plain: a direction may splice(2) */
    apr_time_t start, last, connect_deadline;
    struct sockaddr_storage sa; /* the member's address */
    socklen_t salen;
    stream_dir_t up, down;
    /* the PROXY header read from the client, then the one for the member */
    char pp[STREAM_PP_MAX];
    apr_size_t pp_have, pp_pos, pp_len;
    struct sockaddr_storage src, dst; /* for proxyprotocol= */
    int have_addrs;                   /* src and dst are filled */
    int want_c, want_b;               /* what run() waits for on each side */
    int timed_out;                    /* the last attempt's connect timed out */
    const char *connect_err; /* the member's side failed while connecting */
    const char *cause;
    int logged;
} stream_tcp_t;

/*
 * What a relaying thread shares between its connections: the buffer
 * every read goes through, and the empty pipes of connections that
 * ended.  It is thread-local storage of this module (the dynamic TLS
 * model of a shared object: glibc allocates it in a thread at its first
 * use and frees it when the thread ends, also after a restart unloaded
 * the module), not a malloc'd block that a thread's end would leak.
 * Threads of the MPMs live as long as their child: the child's exit
 * closes the pipes.
 */
typedef struct stream_thread_t {
    char scratch[STREAM_CHUNK];
    int npipes;
    int pipes[STREAM_PIPE_POOL][2];
} stream_thread_t;

static __thread stream_thread_t stream_thread;


static int stream_tcp_run(rl_conn_t *c, void *ctx, int timed_out,
                          apr_time_t *deadline);
static int stream_tcp_watched(const rl_conn_t *c, void *ctx, rl_watch_t *w,
                              int max);
static void stream_tcp_close(rl_conn_t *c, void *ctx);

static const rl_conn_protocol_t stream_tcp_protocol = {
    "tcp", stream_tcp_run, NULL, stream_tcp_watched, stream_tcp_close};


static stream_thread_t *stream_thread_get(void)
{
    return &stream_thread;
}


/* A pipe for a direction that starts splicing: a kept one, or new.
 * 0, or -1 (out of descriptors). */
static int stream_pipe_get(int p[2])
{
    stream_thread_t *th = stream_thread_get();

    if (th != NULL && th->npipes > 0) {
        th->npipes--;
        p[0] = th->pipes[th->npipes][0];
        p[1] = th->pipes[th->npipes][1];
        return 0;
    }
    return pipe2(p, O_NONBLOCK | O_CLOEXEC);
}


/* A direction is done with its pipe: keep it when it is empty (nothing
 * of this connection can leak into the next), else close it. */
static void stream_pipe_put(stream_dir_t *d)
{
    stream_thread_t *th = stream_thread_get();

    if (d->pipe[0] < 0) {
        return;
    }
    if (d->piped == 0 && th != NULL && th->npipes < STREAM_PIPE_POOL) {
        th->pipes[th->npipes][0] = d->pipe[0];
        th->pipes[th->npipes][1] = d->pipe[1];
        th->npipes++;
    } else {
        close(d->pipe[0]);
        close(d->pipe[1]);
    }
    d->pipe[0] = d->pipe[1] = -1;
}


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
 * the one it connected to, when no PROXY header we read gave them.
 * Asked only for a member with proxyprotocol=. */
static void stream_tcp_addresses(stream_tcp_t *t)
{
    socklen_t len = sizeof(t->src);

    if (t->have_addrs) {
        return;
    }
    t->have_addrs = 1;

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
        t->have_addrs = 1;
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
    t->connecting = 0;
    t->state = ST_PICK;
}


/* The member accepted (a send or read on its socket worked, or connect()
 * said so): its attempt succeeded, the idle timeout applies from now. */
static void stream_connected(stream_tcp_t *t)
{
    t->connecting = 0;
    rl_proxy_worker_succeeded(t->w);
    t->last = apr_time_now();
}


/* Picks a member and starts connecting; the relay starts at once (see
 * the top).  Returns 0 to go on, -1 when no member is left. */
static int stream_pick_connect(stream_tcp_t *t)
{
    int fd, v, one = 1;

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
    t->salen = sizeof(t->sa);
    if (rl_proxy_worker_address(t->w, &t->sa, &t->salen) == 0) {
        stream_connect_failed(t, "no address (DNS)");
        return 0;
    }
    fd = socket(t->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        t->cause = "error";
        rl_log_cerror(RL_LOG_ERR, APR_FROM_OS_ERROR(errno), t->c,
                      "stream: cannot make a socket for %s", t->w->name);
        stream_release(t->r, t->w, RL_PROXY_CONNECT_FAILED);
        t->w = NULL;
        return -1;
    }
    t->bfd = fd;
    /* the relay writes what it reads at once: no Nagle delay on the
     * member's side (the core sets it on the client's) */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* the PROXY header it asked for goes before any client byte */
    t->pp_pos = t->pp_len = 0;
    if ((v = stream_member_pp(t->w)) != 0) {
        stream_tcp_addresses(t);
        t->pp_len =
            stream_pp_encode(v, 0, (struct sockaddr *)&t->src,
                             (struct sockaddr *)&t->dst, t->pp, sizeof(t->pp));
    }
    t->connect_deadline =
        apr_time_now() + stream_connect_timeout(t->w, t->conf);
    t->connect_err = NULL;
    t->state = ST_RELAY;
    if (connect(fd, (struct sockaddr *)&t->sa, t->salen) == 0) {
        stream_connected(t);
    } else if (errno == EINPROGRESS) {
        t->connecting = 1;
    } else {
        t->timed_out = 0;
        stream_connect_failed(t, strerror(errno));
    }
    return 0;
}


/* Nothing on the member's socket said whether its connect is done:
 * connect() again tells (Linux: EALREADY while in progress, 0 or EISCONN
 * once done, the error once refused).  1: done, 0: in progress (waits
 * for the socket to become writable, or the connect timeout), -1: the
 * attempt failed (t->connect_err). */
static int stream_connect_probe(stream_tcp_t *t, int timed_out)
{
    if (connect(t->bfd, (struct sockaddr *)&t->sa, t->salen) == 0 ||
        errno == EISCONN) {
        stream_connected(t);
        return 1;
    }
    if (errno == EALREADY || errno == EINPROGRESS || errno == EINTR) {
        if (timed_out || apr_time_now() >= t->connect_deadline) {
            t->timed_out = 1;
            t->connect_err = apr_psprintf(
                t->c->pool, "connect timed out after %ld ms",
                (long)apr_time_as_msec(stream_connect_timeout(t->w, t->conf)));
            return -1;
        }
        return 0;
    }
    t->timed_out = 0;
    t->connect_err = apr_pstrdup(t->c->pool, strerror(errno));
    return -1;
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
        d->want_c |= want;
    } else {
        d->want_b |= want;
    }
}


/* An error on a side: which one, for the log.  On the member's side
 * before its connect is known done, it is the connect that failed (the
 * attempt is retried): t->connect_err says why. */
static int dir_fail(stream_tcp_t *t, stream_dir_t *d, int on_src,
                    apr_status_t rv)
{
    int client = on_src ? d->up : !d->up;

    if (!client && t->connecting) {
        char err[120];
        t->connect_err =
            apr_pstrdup(t->c->pool, apr_strerror(rv, err, sizeof(err)));
        return -1;
    }
    /* an error wins over a half-close seen before it (a member that
     * resets after the client's FIN failed, it did not close) */
    t->cause = client ? "client-error" : "member-error";
    rl_log_cerror(RL_LOG_INFO, rv, t->c, "stream: %s %s failed",
                  client ? "client" : "member", on_src ? "read" : "write");
    return -1;
}


/* n bytes reached the sink. */
static void dir_count(stream_tcp_t *t, stream_dir_t *d, apr_size_t n)
{
    d->bytes += n;
    __atomic_fetch_add(d->up ? &t->w->s->bytes_out : &t->w->s->bytes_in,
                       (apr_uint64_t)n, __ATOMIC_RELAXED);
}


/* The member's socket took or gave bytes: its connect is done. */
static void dir_member_works(stream_tcp_t *t)
{
    if (t->connecting) {
        stream_connected(t);
    }
}


/* The sink did not take all of the scratch buffer: the rest moves into
 * the direction's own buffer (the scratch serves the next read, of any
 * connection).  rl_io.h lets the bytes not taken come again from another
 * address. */
static void dir_keep(stream_tcp_t *t, stream_dir_t *d)
{
    apr_size_t rest = d->len - d->pos;

    if (d->buf == d->keep || rest == 0) {
        return;
    }
    if (d->keep == NULL) {
        d->keep = apr_palloc(t->c->pool, STREAM_CHUNK);
    }
    memcpy(d->keep, d->buf + d->pos, rest);
    d->buf = d->keep;
    d->pos = 0;
    d->len = rest;
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
            dir_keep(t, d);
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                dir_wait(t, d, 0, RL_WANT_WRITE);
                return 0;
            }
            return dir_fail(t, d, 0, APR_FROM_OS_ERROR(errno));
        }
        dir_member_works(t);
        t->pp_pos += (apr_size_t)n;
        *progress = 1;
    }
    while (d->pos < d->len) {
        apr_size_t n = 0;
        apr_status_t rv = rl_io_send(DIR_DST_IO(t, d), dst, d->buf + d->pos,
                                     d->len - d->pos, &n);
        if (n > 0) {
            if (d->up) {
                dir_member_works(t);
            }
            d->pos += n;
            dir_count(t, d, n);
            *progress = 1;
        }
        if (rv == APR_SUCCESS) {
            continue;
        }
        dir_keep(t, d);
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


/* Reads the next piece of the source through the pipe.  As dir_fill. */
static int dir_fill_pipe(stream_tcp_t *t, stream_dir_t *d, int *progress)
{
    ssize_t n = splice(DIR_SRC(t, d), NULL, d->pipe[1], NULL, STREAM_PIPE_BYTES,
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


/* Reads the next piece of the source (what it held is out).  1: got
 * some, 0: waits or ended, -1: error. */
static int dir_fill(stream_tcp_t *t, stream_dir_t *d, int *progress)
{
    stream_thread_t *th;
    char *into;
    apr_size_t got = 0;
    apr_status_t rv;

    if (!d->splice && t->splice &&
        (d->bulk || d->bytes >= STREAM_SPLICE_AFTER)) {
        /* a bulk direction: from now on through a pipe; out of
         * descriptors, it goes on copying */
        d->splice = d->pipe[0] >= 0 || stream_pipe_get(d->pipe) == 0;
        if (!d->splice) {
            t->splice = 0;
        }
    }
    if (d->splice) {
        return dir_fill_pipe(t, d, progress);
    }
    if ((th = stream_thread_get()) != NULL) {
        into = th->scratch;
    } else {
        if (d->keep == NULL) {
            d->keep = apr_palloc(t->c->pool, STREAM_CHUNK);
        }
        into = d->keep;
    }
    rv = rl_io_recv(DIR_SRC_IO(t, d), DIR_SRC(t, d), into, STREAM_CHUNK, &got);
    if (rv == APR_SUCCESS && got > 0) {
        if (!d->up) {
            dir_member_works(t);
        }
        d->buf = into;
        d->pos = 0;
        d->len = got;
        d->bulk = got == STREAM_CHUNK; /* more was surely waiting */
        *progress = 1;
        return 1;
    }
    if (rv == APR_EOF) {
        if (!d->up) {
            dir_member_works(t);
        }
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


/* Moves what it can in one direction, until its source or sink would
 * block (what it then waits for is in d->want_*) or it is done.  0 or -1
 * (error). */
static int dir_step(stream_tcp_t *t, stream_dir_t *d, int *progress)
{
    stream_dir_t *other = d->up ? &t->down : &t->up;

    d->want_c = d->want_b = 0;
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
        if (d->up && t->connecting) {
            /* a FIN now would abort the connect: after it (the probe) */
            return 0;
        }
        /* everything the source sent is out: pass its FIN on */
        if (t->cause == NULL) {
            t->cause = d->up ? "client-close" : "member-close";
        }
        /* when the other direction is shut too, the sockets are closed
         * right after this, and close() sends the FIN (nothing is left
         * unread on either: both sources ended) */
        if (d->up) {
            if (!other->shut) {
                shutdown(t->bfd, SHUT_WR);
            }
        } else if (!other->shut || t->c->io != NULL) {
            rl_io_shutdown(t->c->io, t->c->fd);
        }
        d->shut = 1;
        *progress = 1;
    }
    return 0;
}


/* Whether the up direction stopped only because the connect was not
 * known done: bytes or a FIN for the member. */
static int up_waits_connect(const stream_tcp_t *t)
{
    return t->pp_pos < t->pp_len || t->up.pos < t->up.len ||
           (t->up.eof && !t->up.shut);
}


/*
 * RELAY: each direction moves until it would block.  The two are
 * independent (one reads the client and writes the member, the other the
 * reverse), and a direction that stopped on EAGAIN hears of the change
 * from the MPM, so neither is tried again in this call: that would cost a
 * read that says EAGAIN once more.  The exception is the connect: once
 * known done, the up direction's bytes can go.
 * 1 when both are closed, 0 to wait, -1 on an error, 2 when the connect
 * failed (t->connect_err: the attempt is over, pick again).
 */
static int stream_relay(stream_tcp_t *t, int timed_out)
{
    int progress = 0, was_connecting = t->connecting;

    if (dir_step(t, &t->up, &progress) < 0 ||
        dir_step(t, &t->down, &progress) < 0) {
        return t->connect_err != NULL ? 2 : -1;
    }
    if (t->connecting) {
        /* nothing said whether the member accepted: ask */
        int rc = stream_connect_probe(t, timed_out);
        if (rc < 0) {
            return 2;
        }
        if (rc == 0) {
            t->up.want_b |= RL_WANT_WRITE; /* writable: connected */
        }
    }
    if (was_connecting && !t->connecting && up_waits_connect(t) &&
        dir_step(t, &t->up, &progress) < 0) {
        return -1;
    }
    t->want_c = t->up.want_c | t->down.want_c;
    t->want_b = t->up.want_b | t->down.want_b;
    if (progress) {
        t->last = apr_time_now();
    }
    return t->up.shut && t->down.shut ? 1 : 0;
}


/* ---------------------------------------------------------------- */
/* The protocol                                                     */
/* ---------------------------------------------------------------- */

static apr_time_t stream_tcp_deadline(const stream_tcp_t *t)
{
    if (t->connecting) {
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
    if (timed_out && !t->connecting &&
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
        case ST_RELAY:
            rc = stream_relay(t, timed_out);
            if (rc == 2) {
                /* the next attempt has its own deadline */
                timed_out = 0;
                stream_connect_failed(t, t->connect_err);
                break;
            }
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


static void stream_tcp_close(rl_conn_t *c, void *ctx)
{
    stream_tcp_t *t = ctx;
    stream_log_rec_t rec;

    stream_backend_close(t);
    stream_pipe_put(&t->up);
    stream_pipe_put(&t->down);
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
    if (t->conf->log_fd < 0) {
        return; /* no ProxyStreamLog */
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
    t->state = conf->pp_in == 1 && !stream_pp_excepted(conf, c->client_ip)
                   ? ST_PP_IN
                   : ST_PICK;
    /* a pool-holding slot: the core keeps c->pool while we live */
    rl_set_module_config(c->conn_config, &proxy_stream_module, t);
    rl_conn_set_protocol(c, &stream_tcp_protocol, t);
    return RL_OK;
}
