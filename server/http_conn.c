/*
 * http_conn.c: the HTTP/1.1 connection engine.
 *
 * A state machine that never waits: rl_conn_run() reads, parses, runs the
 * request and writes as far as the socket allows, then says what it waits
 * for (readable, writable or close) and until when.  The event MPM parks
 * the connection in epoll; prefork and worker wait with poll() in
 * rl_conn_serve_blocking().  Phases:
 *
 *   READ_HEAD --head--> (hooks, handler) --done--> FLUSH --> READ_HEAD
 *                              |  ^                  \--close--> LINGER
 *                        suspended resumed
 *                              v  |
 *                            HANDLER
 *
 * Buffers are malloc'd and given back while a keep-alive connection is
 * idle, so an idle connection costs its pool and little else.
 */
#include "http_core.h"

#include <pthread.h>

#include <apr_lib.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

RL_LOG_USE_MODULE(core);

#define STEP_CONTINUE (-1)
#define STEP_SWITCHED (-2) /* handed to another protocol (HTTP/2) */
#define LINGER_TIME apr_time_from_sec(2)
#define IN_BUF_MAX (1024 * 1024)

static volatile apr_uint32_t conn_ids;

/* Moves the connection to another state on its thread's scoreboard
 * record (-1: none, it is closed).  Two relaxed atomics on a line that
 * only this thread writes: nothing a request would notice. */
static void sb_move(conn_state_t *cs, int to)
{
    if (cs->sb == NULL || cs->sb_state == to) {
        return;
    }
    if (cs->sb_state >= 0) {
        __atomic_fetch_sub(&cs->sb->conns[cs->sb_state], 1, __ATOMIC_RELAXED);
    }
    if (to >= 0) {
        __atomic_fetch_add(&cs->sb->conns[to], 1, __ATOMIC_RELAXED);
    }
    cs->sb_state = to;
}

/* The scoreboard state of a connection at rest between two runs. */
static int sb_state_of(const rl_conn_t *c, const conn_state_t *cs)
{
    switch (cs->phase) {
    case PH_READ_HEAD:
        return cs->head_bytes == 0 && c->keepalives > 0 ? RL_SB_KEEPALIVE
                                                        : RL_SB_READING;
    case PH_LINGER:
        return RL_SB_CLOSING;
    default:
        return RL_SB_WRITING;
    }
}

static void addr_text(const struct sockaddr_storage *ss, char *buf,
                      apr_size_t len, apr_port_t *port)
{
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)len);
        *port = ntohs(s6->sin6_port);
        if (strncmp(buf, "::ffff:", 7) == 0 && strchr(buf + 7, '.')) {
            memmove(buf, buf + 7, strlen(buf + 7) + 1);
        }
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, buf, (socklen_t)len);
        *port = ntohs(s4->sin_port);
    }
}

/*
 * A connection is one malloc'd block, outside any pool, so that an idle
 * keep-alive connection can give its pool back: an APR pool is at least
 * one 8 KiB node, ten times what the rest of an idle connection costs.
 */
typedef struct conn_block_t {
    rl_conn_t c;
    conn_state_t cs;
    char client_ip[INET6_ADDRSTRLEN];
    char local_ip[INET6_ADDRSTRLEN];
    /* a master's (HTTP/2): its secondaries' pools, so that they reuse
     * each other's memory instead of churning the thread's allocator
     * (whose max_free a loop of many streams outgrows: an mmap and a
     * munmap per five streams) */
    apr_allocator_t *sec_alloc;
} conn_block_t;

/** Freed memory a master keeps for its next secondaries (about ten
 *  streams' connection and request pools). */
#define SEC_ALLOC_KEEP (256 * 1024)

static apr_allocator_t *secondary_allocator(rl_conn_t *master)
{
    conn_block_t *mb = (conn_block_t *)master;
    apr_allocator_t *loop = CONN_STATE(master)->alloc;

    if (mb->sec_alloc == NULL &&
        apr_allocator_create(&mb->sec_alloc) == APR_SUCCESS) {
        /* locked as the loop's is, if it is (blocking handlers) */
        apr_allocator_mutex_set(mb->sec_alloc, apr_allocator_mutex_get(loop));
        apr_allocator_max_free_set(mb->sec_alloc, SEC_ALLOC_KEEP);
    }
    return mb->sec_alloc != NULL ? mb->sec_alloc : loop;
}

/* (Re)creates the connection's pool and what lives in it. */
static apr_status_t conn_pool_make(rl_conn_t *c)
{
    apr_pool_t *p;
    apr_status_t rv =
        apr_pool_create_unmanaged_ex(&p, NULL, CONN_STATE(c)->alloc);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    c->pool = p;
    c->sock = NULL;
    apr_os_sock_put(&c->sock, &c->fd, p);
    c->conn_config = rl_config_module_vector(p);
    return APR_SUCCESS;
}

/* Not at once after each request but once the connection has been idle
 * for this long: a busy keep-alive client would otherwise pay a pool
 * destroy and create per request (3 % more instructions per request). */
#define REST_AFTER apr_time_from_msec(200)

/* Between two requests: gives the pool back unless a module keeps state
 * for the connection's life in its conn_config slot (which holds the
 * pool, see rl_conn_t.pool); the next request makes a new one. */
RL_DECLARE(int) rl_conn_rest(rl_conn_t *c, apr_time_t now)
{
    conn_state_t *cs = CONN_STATE(c);
    int i, n = rl_module_count();

    if (c->pool == NULL) {
        return 1;
    }
    if (!rl_conn_is_idle(c) || cs->r != NULL || cs->tunnel != NULL ||
        cs->in != NULL || now - cs->last_io < REST_AFTER) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (c->conn_config[i] != NULL) {
            return 0;
        }
    }
    apr_pool_destroy(c->pool);
    c->pool = NULL;
    c->sock = NULL;
    c->conn_config = NULL;
    return 1;
}

RL_DECLARE(rl_conn_t *) rl_conn_open_secondary(rl_conn_t *master, rl_io_t *io)
{
    conn_block_t *b = calloc(1, sizeof(*b));
    conn_state_t *mcs = CONN_STATE(master);
    rl_conn_t *c;
    conn_state_t *cs;

    if (b == NULL) {
        rl_io_destroy(io);
        return NULL;
    }
    c = &b->c;
    cs = &b->cs;
    c->core = cs;
    c->fd = -1;
    c->io = io;
    c->master = master;
    c->listener = master->listener;
    c->base_server = master->base_server;
    c->client_ip = master->client_ip;
    c->client_port = master->client_port;
    c->local_ip = master->local_ip;
    c->local_port = master->local_port;
    cs->alloc = secondary_allocator(master);
    /* a stream is not a connection of the scoreboard: its master is */
    cs->sb_state = -1;
    /* handlers never wait inline on a stream: they suspend, and the
     * master's protocol waits for them */
    cs->blocking = 0;
    cs->unwatch = mcs->unwatch;
    cs->unwatch_ctx = mcs->unwatch_ctx;
    cs->preface_done = 1;
    if (conn_pool_make(c) != APR_SUCCESS) {
        rl_io_destroy(io);
        free(b);
        return NULL;
    }
    c->id = (long)apr_atomic_inc32(&conn_ids);
    cs->opened = cs->last_io = apr_time_now();
    return c;
}

RL_DECLARE(rl_conn_t *)
rl_conn_open(int fd, rl_listener_t *l, apr_allocator_t *alloc)
{
    conn_block_t *b = calloc(1, sizeof(*b));
    rl_conn_t *c;
    conn_state_t *cs;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int one = 1, rc;

    if (b == NULL) {
        close(fd);
        return NULL;
    }
    c = &b->c;
    cs = &b->cs;
    c->core = cs;
    c->fd = fd;
    c->listener = l;
    cs->alloc = alloc;
    if (conn_pool_make(c) != APR_SUCCESS) {
        close(fd);
        free(b);
        return NULL;
    }
    c->client_ip = c->local_ip = "-";
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        addr_text(&ss, b->client_ip, sizeof(b->client_ip), &c->client_port);
        c->client_ip = b->client_ip;
    }
    sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        addr_text(&ss, b->local_ip, sizeof(b->local_ip), &c->local_port);
        c->local_ip = b->local_ip;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->id = (long)apr_atomic_inc32(&conn_ids);
    c->base_server = rl_vhost_for_listener(l);
    cs->opened = cs->last_io = apr_time_now();
    cs->sb = rl_sb_thread();
    cs->sb_state = -1;
    sb_move(cs, RL_SB_READING);
    rc = rl_run_pre_connection(c);
    if (rc != RL_OK && rc != RL_DECLINED) {
        rl_conn_close(c);
        return NULL;
    }
    return c;
}

/*
 * Buffers of an idle keep-alive connection are given back (so 10,000 idle
 * clients cost no buffers), but not to malloc: each thread keeps a few
 * spare IN_BUF_INITIAL-sized ones, so a keep-alive request does not pay a
 * malloc and free (and glibc's arena trimming) for its input and output.
 */
#define SPARE_BUFS 4

typedef struct spare_bufs_t {
    char *b[SPARE_BUFS];
    int n;
} spare_bufs_t;

static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;

static void spare_free(void *v)
{
    spare_bufs_t *sb = v;

    while (sb->n > 0) {
        free(sb->b[--sb->n]);
    }
    free(sb);
}

static void spare_key_make(void)
{
    pthread_key_create(&spare_key, spare_free);
}

static spare_bufs_t *spares(void)
{
    spare_bufs_t *sb;

    pthread_once(&spare_once, spare_key_make);
    sb = pthread_getspecific(spare_key);
    if (sb == NULL) {
        sb = calloc(1, sizeof(*sb));
        if (sb != NULL) {
            pthread_setspecific(spare_key, sb);
        }
    }
    return sb;
}

static char *buf_get(void)
{
    spare_bufs_t *sb = spares();

    if (sb != NULL && sb->n > 0) {
        return sb->b[--sb->n];
    }
    return malloc(IN_BUF_INITIAL);
}

static void buf_release(char *b, apr_size_t cap)
{
    spare_bufs_t *sb;

    if (b == NULL) {
        return;
    }
    sb = cap == IN_BUF_INITIAL ? spares() : NULL;
    if (sb != NULL && sb->n < SPARE_BUFS) {
        sb->b[sb->n++] = b;
    } else {
        free(b);
    }
}

static void free_in(conn_state_t *cs)
{
    buf_release(cs->in, cs->in_cap);
    cs->in = NULL;
    cs->in_cap = cs->in_start = cs->in_end = 0;
}

static void drop_file(conn_state_t *cs)
{
    if (cs->has_file) {
        close(cs->file_fd);
        cs->has_file = 0;
        cs->file_left = 0;
    }
}

static void free_out(conn_state_t *cs)
{
    buf_release(cs->out, cs->out_cap);
    cs->out = NULL;
    cs->out_cap = cs->out_start = cs->out_end = 0;
}

void rl_conn_drop_buffers(rl_conn_t *c)
{
    conn_state_t *cs = CONN_STATE(c);

    free_in(cs);
    free_out(cs);
}

RL_DECLARE(void) rl_conn_close(rl_conn_t *c)
{
    conn_state_t *cs = CONN_STATE(c);

    sb_move(cs, -1);
    if (cs->proto != NULL && cs->proto->close != NULL) {
        cs->proto->close(c, cs->proto_ctx);
    }
    cs->proto = NULL;
    if (cs->r != NULL) {
        apr_pool_destroy(cs->r->pool);
        cs->r = NULL;
    }
    free_in(cs);
    free_out(cs);
    drop_file(cs);
    rl_tunnel_close(cs);
    if (c->io != NULL && !c->aborted) {
        c->io->m->shutdown(c->io); /* TLS: close_notify, if it fits */
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    if (c->pool != NULL) {
        apr_pool_destroy(c->pool);
    }
    rl_io_destroy(c->io);
    if (((conn_block_t *)c)->sec_alloc != NULL) {
        /* its secondaries closed with its protocol (close() above) */
        apr_allocator_destroy(((conn_block_t *)c)->sec_alloc);
    }
    free(c); /* the conn_block_t */
}

/* rl_conn_fill() through the connection's transport (TLS). */
static apr_status_t fill_io(rl_conn_t *c, conn_state_t *cs)
{
    apr_size_t want = cs->in_cap - cs->in_end, got = 0;
    apr_status_t rv = c->io->m->recv(c->io, cs->in + cs->in_end, want, &got);

    if (rv == APR_SUCCESS) {
        /* the transport keeps recv()'s promise: a short read means
         * nothing more can be read now (rl_io.h) */
        cs->drained = got < want;
        cs->in_end += got;
        cs->last_io = apr_time_now();
    } else if (rv == APR_EOF) {
        cs->eof = 1;
    }
    return rv;
}

/* Reads what the socket has into the input buffer.
 * APR_SUCCESS (bytes added), APR_EAGAIN, APR_EOF, or an error. */
apr_status_t rl_conn_fill(rl_conn_t *c)
{
    conn_state_t *cs = CONN_STATE(c);
    ssize_t n;

    if (cs->in == NULL) {
        cs->in = buf_get();
        if (cs->in == NULL) {
            return APR_ENOMEM;
        }
        cs->in_cap = IN_BUF_INITIAL;
    }
    if (cs->in_end == cs->in_cap) {
        if (cs->in_start > 0) {
            memmove(cs->in, cs->in + cs->in_start, cs->in_end - cs->in_start);
            cs->in_end -= cs->in_start;
            cs->in_start = 0;
        } else if (cs->in_cap < IN_BUF_MAX) {
            char *nb = realloc(cs->in, cs->in_cap * 2);
            if (nb == NULL) {
                return APR_ENOMEM;
            }
            cs->in = nb;
            cs->in_cap *= 2;
        } else {
            return APR_ENOSPC;
        }
    }
    if (c->io != NULL) {
        return fill_io(c, cs);
    }
    do {
        n = recv(c->fd, cs->in + cs->in_end, cs->in_cap - cs->in_end, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        /* fewer bytes than asked for: the socket is drained for now */
        cs->drained = (apr_size_t)n < cs->in_cap - cs->in_end;
        cs->in_end += (apr_size_t)n;
        cs->last_io = apr_time_now();
        return APR_SUCCESS;
    }
    if (n == 0) {
        cs->eof = 1;
        return APR_EOF;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return APR_EAGAIN;
    }
    return APR_FROM_OS_ERROR(errno);
}

void rl_conn_out_append(rl_conn_t *c, const void *data, apr_size_t len)
{
    conn_state_t *cs = CONN_STATE(c);

    if (cs->out_start == cs->out_end) {
        cs->out_start = cs->out_end = 0;
    }
    if (cs->out_end + len > cs->out_cap) {
        apr_size_t used = cs->out_end - cs->out_start;
        if (cs->out_start > 0) {
            memmove(cs->out, cs->out + cs->out_start, used);
            cs->out_start = 0;
            cs->out_end = used;
        }
        if (used + len > cs->out_cap) {
            apr_size_t cap = cs->out_cap ? cs->out_cap : IN_BUF_INITIAL;
            char *nb;
            while (cap < used + len) {
                cap *= 2;
            }
            nb = cs->out == NULL && cap == IN_BUF_INITIAL
                     ? buf_get()
                     : realloc(cs->out, cap);
            if (nb == NULL) {
                c->aborted = 1;
                return;
            }
            cs->out = nb;
            cs->out_cap = cap;
        }
    }
    memcpy(cs->out + cs->out_end, data, len);
    cs->out_end += len;
}

/* Sends len bytes, as far as the socket takes them; *sent says how many
 * went.  APR_SUCCESS (all), APR_EAGAIN, or an error (the client is gone:
 * the connection is marked aborted). */
static apr_status_t send_some(rl_conn_t *c, const char *buf, apr_size_t len,
                              apr_size_t *sent)
{
    *sent = 0;
    if (c->io != NULL) {
        apr_status_t rv = c->io->m->send(c->io, buf, len, sent);
        if (*sent > 0) {
            CONN_STATE(c)->last_io = apr_time_now();
        }
        if (rv != APR_SUCCESS && rv != APR_EAGAIN) {
            c->aborted = 1;
        }
        return rv;
    }
    while (*sent < len) {
        ssize_t n = send(c->fd, buf + *sent, len - *sent, MSG_NOSIGNAL);
        if (n > 0) {
            *sent += (apr_size_t)n;
            CONN_STATE(c)->last_io = apr_time_now();
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return APR_EAGAIN;
        }
        c->aborted = 1;
        return n < 0 ? APR_FROM_OS_ERROR(errno) : APR_EOF;
    }
    return APR_SUCCESS;
}

/* The file region of rl_sendfile() through a transport (TLS), which
 * cannot use sendfile(2): read a piece, send it.  A piece the transport
 * took only in part is read again from the first byte not taken, so the
 * transport is offered the same bytes again (rl_io.h). */
static apr_status_t send_file_io(rl_conn_t *c, conn_state_t *cs)
{
    char buf[16384];

    while (cs->file_left > 0) {
        size_t want = cs->file_left > (apr_off_t)sizeof(buf)
                          ? sizeof(buf)
                          : (size_t)cs->file_left;
        ssize_t n = pread(cs->file_fd, buf, want, cs->file_off);
        apr_size_t sent = 0;
        apr_status_t rv;

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            /* the file shrank under us: the framing promised more */
            c->aborted = 1;
            drop_file(cs);
            return n < 0 ? APR_FROM_OS_ERROR(errno) : APR_EOF;
        }
        rv = c->io->m->send(c->io, buf, (apr_size_t)n, &sent);
        cs->file_off += (off_t)sent;
        cs->file_left -= (apr_off_t)sent;
        if (sent > 0) {
            cs->last_io = apr_time_now();
        }
        if (rv == APR_EAGAIN) {
            return rv;
        }
        if (rv != APR_SUCCESS) {
            c->aborted = 1;
            drop_file(cs);
            return rv;
        }
    }
    drop_file(cs);
    return APR_SUCCESS;
}

/* The file region of rl_sendfile(), after the buffered bytes: sendfile(2)
 * in pieces, as far as the socket takes them. */
static apr_status_t send_file(rl_conn_t *c)
{
    conn_state_t *cs = CONN_STATE(c);

    if (c->io != NULL) {
        return send_file_io(c, cs);
    }
    while (cs->file_left > 0) {
        size_t want =
            cs->file_left > (1 << 20) ? (size_t)1 << 20 : (size_t)cs->file_left;
        ssize_t n = sendfile(c->fd, cs->file_fd, &cs->file_off, want);
        if (n > 0) {
            cs->file_left -= n;
            cs->last_io = apr_time_now();
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return APR_EAGAIN;
        }
        /* the client is gone, or the file shrank under us: the framing
         * promised more bytes, so the connection cannot go on */
        c->aborted = 1;
        drop_file(cs);
        return n < 0 ? APR_FROM_OS_ERROR(errno) : APR_EOF;
    }
    drop_file(cs);
    return APR_SUCCESS;
}

/* Sends queued output.  APR_SUCCESS when all is out, APR_EAGAIN, or an
 * error (the client is gone). */
apr_status_t rl_conn_flush(rl_conn_t *c)
{
    conn_state_t *cs = CONN_STATE(c);
    apr_size_t sent;
    apr_status_t rv;

    if (cs->out_start == cs->out_end) {
        cs->out_start = cs->out_end = 0;
        return cs->has_file ? send_file(c) : APR_SUCCESS;
    }
    rv = send_some(c, cs->out + cs->out_start, cs->out_end - cs->out_start,
                   &sent);
    cs->out_start += sent;
    if (rv == APR_SUCCESS) {
        cs->out_start = cs->out_end = 0; /* an idle connection gives the
                                            buffer back */
    }
    return rv == APR_SUCCESS && cs->has_file ? send_file(c) : rv;
}

/* Sends len bytes straight from the caller's memory when nothing is
 * queued before them, so a large body is not copied into the output
 * buffer first; *sent says how many went (the rest is for the queue).
 * APR_SUCCESS, APR_EAGAIN, or an error (the client is gone). */
apr_status_t rl_conn_send_direct(rl_conn_t *c, const char *buf, apr_size_t len,
                                 apr_size_t *sent)
{
    conn_state_t *cs = CONN_STATE(c);

    if (cs->out_start != cs->out_end) {
        *sent = 0;
        return APR_EAGAIN; /* queued bytes go first */
    }
    return send_some(c, buf, len, sent);
}

RL_DECLARE(int) rl_conn_watch_list(const rl_conn_t *c, rl_watch_t *w, int max)
{
    const conn_state_t *cs = CONN_STATE(c);
    int n = 0;

    if (max <= 0) {
        return 0;
    }
    if (cs->proto != NULL) {
        return cs->proto->watched != NULL
                   ? cs->proto->watched(c, cs->proto_ctx, w, max)
                   : 0;
    }
    if (cs->phase == PH_TUNNEL) {
        if (cs->tunnel->want_other) {
            w[n].fd = cs->tunnel->fd;
            w[n++].events = cs->tunnel->want_other;
        }
        if (cs->tunnel->want_client && n < max) {
            w[n].fd = c->fd; /* a tunnel waits on both sockets at once */
            w[n++].events = cs->tunnel->want_client;
        }
    } else if (cs->r != NULL && cs->wait == WAIT_FD) {
        w[n].fd = REQ_STATE(cs->r)->watch_fd;
        w[n++].events = REQ_STATE(cs->r)->watch_events;
    }
    return n;
}

RL_DECLARE(void) rl_conn_watched(const rl_conn_t *c, int *fd, int *events)
{
    rl_watch_t w[RL_WATCH_MAX];
    int i, n = rl_conn_watch_list(c, w, RL_WATCH_MAX);

    *fd = -1;
    *events = 0;
    for (i = 0; i < n; i++) {
        if (w[i].fd != c->fd && w[i].events != 0) {
            *fd = w[i].fd;
            *events = w[i].events;
            return;
        }
    }
}

apr_status_t rl_conn_wait_io(rl_conn_t *c, int events, apr_time_t deadline)
{
    struct pollfd pfd[RL_WATCH_MAX];
    nfds_t n = 0;

    if (events == RL_WANT_OTHER) {
        rl_watch_t w[RL_WATCH_MAX];
        int i, k = rl_conn_watch_list(c, w, RL_WATCH_MAX);
        for (i = 0; i < k; i++) {
            if (w[i].fd < 0 || w[i].events == 0) {
                continue;
            }
            pfd[n].fd = w[i].fd;
            pfd[n].events = (w[i].events & RL_WANT_READ ? POLLIN : 0) |
                            (w[i].events & RL_WANT_WRITE ? POLLOUT : 0);
            n++;
        }
    } else {
        pfd[0].fd = c->fd;
        pfd[0].events = (events & RL_WANT_READ ? POLLIN : 0) |
                        (events & RL_WANT_WRITE ? POLLOUT : 0);
        n = 1;
    }
    for (;;) {
        apr_time_t now = apr_time_now();
        int ms, rc;

        if (now >= deadline) {
            return APR_TIMEUP;
        }
        if (rl_mpm_stopping_now()) {
            return APR_EINTR;
        }
        ms = (int)((deadline - now) / 1000) + 1;
        if (ms > 500) {
            ms = 500;
        }
        rc = poll(pfd, n, ms);
        if (rc > 0) {
            return APR_SUCCESS;
        }
        if (rc < 0 && errno != EINTR) {
            return APR_FROM_OS_ERROR(errno);
        }
    }
}

static void rrt_values(const rl_server_t *s, apr_interval_time_t *t,
                       apr_interval_time_t *max, apr_size_t *rate, int body)
{
    const core_server_conf_t *cc = rl_core_server_conf(s);

    if (!cc->rrt_set) {
        /* httpd's mod_reqtimeout defaults: on unless configured off */
        *t = apr_time_from_sec(20);
        *max = body ? 0 : apr_time_from_sec(40);
        *rate = 500;
        return;
    }
    *t = body ? cc->body_timeout : cc->header_timeout;
    *max = body ? cc->body_max : cc->header_max;
    *rate = body ? cc->body_minrate : cc->header_minrate;
}

/* RequestReadTimeout: time allowed from the first byte, growing by one
 * second per MinRate bytes received, up to the maximum. */
static apr_time_t rate_deadline(apr_time_t start, apr_interval_time_t t,
                                apr_interval_time_t max, apr_size_t rate,
                                apr_off_t bytes)
{
    apr_interval_time_t allowed = t;

    if (rate > 0) {
        allowed += apr_time_from_sec(bytes / (apr_off_t)rate);
    }
    if (max > 0 && allowed > max) {
        allowed = max;
    }
    return start + allowed;
}

apr_time_t rl_conn_body_deadline(rl_request_t *r)
{
    apr_interval_time_t t, max;
    apr_size_t rate;
    conn_state_t *cs = CONN_STATE(r->connection);

    rrt_values(r->server, &t, &max, &rate, 1);
    if (t <= 0) {
        return cs->last_io + r->server->timeout;
    }
    return rate_deadline(REQ_STATE(r)->body_started, t, max, rate,
                         r->read_length);
}

static apr_time_t conn_deadline(rl_conn_t *c)
{
    conn_state_t *cs = CONN_STATE(c);
    const rl_server_t *s = cs->r ? cs->r->server : c->base_server;
    apr_interval_time_t t, max;
    apr_size_t rate;

    switch (cs->phase) {
    case PH_READ_HEAD:
        if (cs->head_bytes == 0 && c->keepalives > 0) {
            return cs->last_io + s->keep_alive_timeout;
        }
        rrt_values(s, &t, &max, &rate, 0);
        if (t <= 0) {
            return cs->last_io + s->timeout;
        }
        return rate_deadline(cs->head_bytes ? cs->head_started : cs->opened, t,
                             max, rate, (apr_off_t)cs->head_bytes);
    case PH_HANDLER:
        if (cs->wait == WAIT_BODY) {
            return rl_conn_body_deadline(cs->r);
        }
        if (cs->wait == WAIT_TIMER || cs->wait == WAIT_FD) {
            return REQ_STATE(cs->r)->wake_at;
        }
        return cs->last_io + s->timeout;
    case PH_FLUSH:
        return cs->last_io + s->timeout;
    case PH_TUNNEL:
        return cs->last_io + cs->tunnel->idle;
    case PH_OFFLOAD:
        return APR_INT64_MAX; /* its pool thread keeps the time */
    default:
        return cs->linger_until;
    }
}

/* --- starting a request -------------------------------------------- */

static rl_request_t *new_request(rl_conn_t *c)
{
    apr_pool_t *p;
    rl_request_t *r;

    /* c->pool exists: a connection rests without one only while no byte
     * of a request is buffered (rl_conn_rest) */
    apr_pool_create(&p, c->pool);
    r = apr_pcalloc(p, sizeof(*r));
    r->pool = p;
    r->connection = c;
    r->server = c->base_server;
    r->core = apr_pcalloc(p, sizeof(req_state_t));
    r->request_time = CONN_STATE(c)->head_started ? CONN_STATE(c)->head_started
                                                  : apr_time_now();
    r->status = 200;
    r->clength = -1;
    r->method = "-";
    r->protocol = "HTTP/1.1";
    r->proto_num = 1001;
    r->the_request = "-";
    r->uri = "-";
    r->unparsed_uri = "-";
    r->headers_in = apr_table_make(p, 16);
    r->headers_out = apr_table_make(p, 8);
    r->err_headers_out = apr_table_make(p, 4);
    r->subprocess_env = apr_table_make(p, 4);
    r->notes = apr_table_make(p, 4);
    r->request_config = rl_config_module_vector(p);
    r->per_dir_config = r->server->lookup_defaults;
    CONN_STATE(c)->r = r;
    return r;
}

static void fill_limits(const rl_server_t *s, rl_http_limits_t *lim)
{
    lim->max_line = (apr_size_t)s->limit_req_line;
    lim->max_field = (apr_size_t)s->limit_req_fieldsize;
    lim->max_fields = s->limit_req_fields;
}

/* Host (or the authority of an absolute-form target) without port, in
 * lower case. */
static const char *host_of(apr_pool_t *p, const char *authority)
{
    const char *end;
    char *h, *s;

    if (authority == NULL || *authority == '\0') {
        return NULL;
    }
    if (authority[0] == '[') {
        end = strchr(authority, ']');
        end = end ? end + 1 : authority + strlen(authority);
    } else {
        end = strchr(authority, ':');
        if (end == NULL) {
            end = authority + strlen(authority);
        }
    }
    h = apr_pstrndup(p, authority, end - authority);
    for (s = h; *s; s++) {
        *s = (char)apr_tolower(*s);
    }
    if (s > h && s[-1] == '.') {
        s[-1] = '\0'; /* "example.com." names the same host */
    }
    return h;
}

/* apr_table_do callback: 1 (go on) while each Expect field is exactly
 * "100-continue", the one expectation HTTP/1.1 defines. */
static int expect_is_continue(void *unused, const char *key, const char *val)
{
    (void)unused;
    (void)key;
    return strcasecmp(val, "100-continue") == 0;
}

static int setup_request(rl_request_t *r, const rl_http_head_t *h,
                         const char **why)
{
    const char *target = h->target, *q, *expect;
    rl_body_kind_e kind;
    apr_off_t length;
    int i, rc;

    r->method = h->method;
    r->protocol = h->protocol;
    r->proto_num = h->proto_num;
    r->unparsed_uri = target;
    r->header_only = strcmp(r->method, "HEAD") == 0;
    for (i = 0; i < h->nfields; i++) {
        apr_table_addn(r->headers_in, h->fields[i].name, h->fields[i].value);
    }
    rc = rl_http_request_framing(h, &kind, &length, why);
    if (rc != RL_HTTP_OK) {
        return rc;
    }
    r->body_kind = kind;
    r->remaining = kind == RL_BODY_LENGTH ? length : 0;
    if (kind == RL_BODY_LENGTH && length == 0) {
        r->body_kind = RL_BODY_NONE;
    }
    r->hostname = host_of(r->pool, apr_table_get(r->headers_in, "Host"));
    if (strncasecmp(target, "http://", 7) == 0 ||
        strncasecmp(target, "https://", 8) == 0) {
        const char *auth = strstr(target, "://") + 3;
        const char *slash = strchr(auth, '/');
        r->hostname = host_of(
            r->pool, slash ? apr_pstrndup(r->pool, auth, slash - auth) : auth);
        target = slash ? slash : "/";
    }
    if (strcmp(target, "*") == 0 || strcmp(r->method, "CONNECT") == 0) {
        r->uri = target;
    } else {
        char *path;
        q = strchr(target, '?');
        path = q ? apr_pstrndup(r->pool, target, q - target)
                 : apr_pstrdup(r->pool, target);
        r->args = q ? q + 1 : NULL;
        if (path[0] != '/') {
            *why = "request target is not a path";
            return 400;
        }
        r->uri = path; /* normalised once the vhost is known, below */
    }
    expect = apr_table_get(r->headers_in, "Expect");
    if (expect != NULL) {
        /* every Expect field, not the first only: "100-continue" then
         * "Expect: foo" is an expectation we cannot meet either */
        if (!apr_table_do(expect_is_continue, NULL, r->headers_in, "Expect",
                          NULL)) {
            *why = "unsupported Expect";
            return 417;
        }
        r->expecting_100 = r->proto_num >= 1001 && kind != RL_BODY_NONE;
    }
    r->server = rl_vhost_for_request(r->connection, r->hostname);
    if (r->uri[0] == '/') {
        /* every rule after this (locations, acl, ProxyPass) sees the one
         * spelling of the path; AllowEncodedSlashes is the vhost's */
        int slashes = rl_core_server_conf(r->server)->encoded_slashes;
        const char *clean;
        rc = rl_http_clean_path(r->pool, r->uri,
                                slashes < 0 ? RL_ENCODED_SLASHES_OFF : slashes,
                                &clean, why);
        if (rc != RL_HTTP_OK) {
            return rc;
        }
        r->uri = clean;
    }
    rl_request_lookup_location(r);
    {
        core_dir_conf_t *d = rl_core_dir_conf(r->per_dir_config);
        apr_off_t limit = d && d->limit_req_body > 0 ? d->limit_req_body : 0;
        REQ_STATE(r)->body_limit = limit;
        if (limit > 0 && kind == RL_BODY_LENGTH && length > limit) {
            *why = "request body larger than LimitRequestBody";
            return 413;
        }
    }
    return RL_HTTP_OK;
}

static int after_handler(rl_conn_t *c, rl_request_t *r, int rc);

/* A request that could not even be parsed: answer, log, close. */
static int reject_request(rl_conn_t *c, rl_request_t *r, int status,
                          const char *why)
{
    CONN_STATE(c)->close_after = 1;
    rl_log_cerror(RL_LOG_INFO, 0, c, "bad request (%d): %s", status,
                  why ? why : "malformed");
    return after_handler(c, r, status);
}

static int start_request(rl_conn_t *c, apr_size_t head_len)
{
    conn_state_t *cs = CONN_STATE(c);
    rl_request_t *r = new_request(c);
    rl_http_limits_t lim;
    rl_http_head_t h;
    const char *head = cs->in + cs->in_start, *why = NULL, *eol;
    apr_size_t n_line;
    int rc;

    sb_move(cs, RL_SB_WRITING);
    fill_limits(c->base_server, &lim);
    cs->in_start += head_len;
    cs->scan_pos = 0;
    r->bytes_in = (apr_off_t)head_len;
    while (head_len > 0 && (*head == '\r' || *head == '\n')) {
        head++;
        head_len--;
    }
    eol = memchr(head, '\n', head_len);
    if (eol != NULL) {
        apr_size_t n = (apr_size_t)(eol - head);
        if (n > 0 && head[n - 1] == '\r') {
            n--;
        }
        r->the_request = apr_pstrndup(r->pool, head, n);
    }
    rc = rl_http_parse_head(r->pool, head, head_len, &lim, &h, &why);
    if (rc == RL_HTTP_OK) {
        rc = setup_request(r, &h, &why);
    }
    if (c->master != NULL && r->the_request != NULL &&
        (n_line = strlen(r->the_request)) > 9 &&
        strcmp(r->the_request + n_line - 9, " HTTP/1.1") == 0) {
        /* an HTTP/2 stream, which its protocol hands over as HTTP/1.1:
         * logs and expressions show what the client spoke */
        r->the_request = apr_pstrcat(
            r->pool, apr_pstrndup(r->pool, r->the_request, n_line - 9),
            " HTTP/2.0", NULL);
        r->protocol = "HTTP/2.0";
    }
    cs->head_bytes = 0;
    if (rc != RL_HTTP_OK) {
        return reject_request(c, r, rc, why);
    }
    if (strcmp(r->method, "CONNECT") == 0) {
        /* What a client sends after a CONNECT head is meant for a tunnel
         * (it may not wait for the answer): never read it as requests. */
        cs->close_after = 1;
    }
    return after_handler(c, r, rl_request_run(r));
}

/* Reads the rest of a small request body the handler left, so that the
 * connection can be kept; a large one closes the connection instead. */
static void discard_body(rl_request_t *r)
{
    conn_state_t *cs = CONN_STATE(r->connection);
    req_state_t *rs = REQ_STATE(r);
    char buf[8192];
    apr_size_t got;
    int blocking = cs->blocking;

    if (r->body_kind == RL_BODY_NONE || rs->body_eof) {
        return;
    }
    if (r->connection->aborted ||
        (r->body_kind == RL_BODY_LENGTH && r->remaining > 64 * 1024)) {
        cs->close_after = 1;
        return;
    }
    cs->blocking = 0; /* never wait for a body nobody wants */
    while (rl_read_body(r, buf, sizeof(buf), &got) == APR_SUCCESS) {
    }
    cs->blocking = blocking;
    cs->wait = WAIT_NONE;
    if (!rs->body_eof) {
        cs->close_after = 1;
    }
}

/*
 * A handler returned RL_SUSPENDED: park the connection until what it
 * waits for happens.  The waits are armed already (rl_read_body got
 * EAGAIN, or the output is congested), so this returns a want instead of
 * resuming at once, which would spin.
 */
static int suspend_handler(rl_conn_t *c)
{
    conn_state_t *cs = CONN_STATE(c);
    apr_status_t rv;

    cs->phase = PH_HANDLER;
    if (cs->wait == WAIT_NONE) {
        cs->wait = WAIT_DRAIN;
    }
    rv = rl_conn_flush(c);
    if (rv != APR_SUCCESS && rv != APR_EAGAIN) {
        return STEP_CONTINUE; /* step_handler() sees the client gone */
    }
    if (rv == APR_EAGAIN && (cs->wait != WAIT_DRAIN ||
                             cs->out_end - cs->out_start >= OUT_LOW_WATER)) {
        return RL_WANT_WRITE;
    }
    switch (cs->wait) {
    case WAIT_BODY:
    case WAIT_TIMER:
        return RL_WANT_READ;
    case WAIT_FD:
        return RL_WANT_OTHER;
    default:
        return STEP_CONTINUE; /* drained already: resume now */
    }
}

static int after_handler(rl_conn_t *c, rl_request_t *r, int rc)
{
    conn_state_t *cs = CONN_STATE(c);
    req_state_t *rs = REQ_STATE(r);
    if (rc == RL_OFFLOAD) {
        /* a blocking handler: a pool thread runs it (the MPM's) */
        cs->phase = PH_OFFLOAD;
        cs->offload_done = 0;
        cs->offload(cs->offload_ctx, c);
        return RL_WANT_NOTHING;
    }
    if (rc == RL_SUSPENDED) {
        if (rs->resume == NULL) {
            rl_log_rerror(RL_LOG_ERR, 0, r,
                          "handler '%s' suspended without a resume function",
                          r->handler ? r->handler : "(none)");
            rc = 500;
        } else {
            return suspend_handler(c);
        }
    }
    if (rc > 0 && rc != 200) {
        if (!rs->head_sent && !c->aborted) {
            rl_request_send_error(r, rc);
        } else {
            /* too late for an error page: the client sees a cut */
            cs->close_after = 1;
            c->aborted = 1;
        }
    }
    if (!c->aborted) {
        rl_response_finish(r);
    }
    rl_response_tap_close(r, 0); /* no-op after a complete finish */
    discard_body(r);
    c->keepalives++;
    if (cs->sb != NULL) {
        __atomic_fetch_add(&cs->sb->requests, 1, __ATOMIC_RELAXED);
    }
    rl_request_finish_hooks(r);
    cs->r = NULL;
    apr_pool_destroy(r->pool);
    cs->phase = cs->tunnel != NULL ? PH_TUNNEL : PH_FLUSH;
    return STEP_CONTINUE;
}

/* --- phases ---------------------------------------------------------- */

static int step_read_head(rl_conn_t *c, int timed_out)
{
    conn_state_t *cs = CONN_STATE(c);
    rl_http_limits_t lim;

    if (timed_out) {
        if (cs->head_bytes == 0) {
            return RL_WANT_CLOSE; /* idle keep-alive: end quietly */
        }
        rl_log_cerror(RL_LOG_INFO, 0, c,
                      "request head not received in time (%lu bytes so "
                      "far): RequestReadTimeout",
                      (unsigned long)cs->head_bytes);
        return reject_request(c, new_request(c), 408, "timeout");
    }
    fill_limits(c->base_server, &lim);
    if (cs->wait_first) {
        cs->wait_first = 0;
        free_in(cs); /* idle: an idle connection keeps no buffers */
        free_out(cs);
        return RL_WANT_READ;
    }
    for (;;) {
        apr_status_t rv;

        if (cs->in_end > cs->in_start && !cs->preface_done) {
            /* a connection's first bytes may be the HTTP/2 preface */
            int pr = rl_conn_try_preface(c);
            if (pr == 1) {
                return cs->proto != NULL ? STEP_SWITCHED : RL_WANT_CLOSE;
            }
            cs->preface_done = pr == 0;
        }
        if (cs->in_end > cs->in_start && cs->preface_done) {
            apr_size_t head_len = 0;
            int rc = rl_http_head_end(cs->in + cs->in_start,
                                      cs->in_end - cs->in_start, &cs->scan_pos,
                                      &lim, &head_len);
            if (rc == RL_HTTP_OK) {
                return start_request(c, head_len);
            }
            if (rc > 0) {
                cs->in_start = cs->in_end;
                return reject_request(c, new_request(c), rc,
                                      rc == 414   ? "request line too long"
                                      : rc == 431 ? "header fields too large"
                                                  : "malformed request head");
            }
        }
        rv = rl_conn_fill(c);
        if (rv == APR_SUCCESS) {
            apr_size_t now_have = cs->in_end - cs->in_start;
            if (c->pool == NULL && conn_pool_make(c) != APR_SUCCESS) {
                return RL_WANT_CLOSE; /* out of memory */
            }
            if (cs->head_bytes == 0) {
                cs->head_started = apr_time_now();
            }
            cs->head_bytes = now_have;
            continue;
        }
        if (rv == APR_EAGAIN) {
            /* told to stop: an idle keep-alive connection is not closed
             * now, when the client may be sending its next request (the
             * close would reset it): that request is served, with
             * "Connection: close", or the connection ends at its
             * KeepAliveTimeout as any idle one */
            if (cs->in_start == cs->in_end) {
                /* idle: an idle connection keeps no buffers */
                free_in(cs);
                if (cs->out_start == cs->out_end) {
                    free_out(cs);
                }
            }
            return RL_WANT_READ;
        }
        if (rv == APR_ENOSPC) {
            return reject_request(c, new_request(c), 431, "head too large");
        }
        if (rv == APR_ECONNABORTED && c->io != NULL) {
            /* the transport answered and ended its side (a plain request
             * on a TLS port got its 400, a failed handshake its alert):
             * read what the client still sends before the close, so that
             * unread input does not turn it into a reset that destroys
             * the answer */
            cs->linger_until = apr_time_now() + LINGER_TIME;
            cs->phase = PH_LINGER;
            return STEP_CONTINUE;
        }
        return RL_WANT_CLOSE; /* EOF or error */
    }
}

static int step_handler(rl_conn_t *c, int timed_out)
{
    conn_state_t *cs = CONN_STATE(c);
    rl_request_t *r = cs->r;
    req_state_t *rs = REQ_STATE(r);
    rl_resume_fn fn;
    apr_status_t rv;

    rs->timed_out = 0;
    if (cs->wait == WAIT_TIMER || cs->wait == WAIT_FD) {
        int expired = timed_out || apr_time_now() >= rs->wake_at;
        if (cs->wait == WAIT_TIMER && !expired) {
            return RL_WANT_READ; /* woken by the socket: keep sleeping */
        }
        /* a watch resumes on readiness or expiry; the handler tells
         * which with rl_request_timed_out().  A sleep's end is no
         * timeout: what the resumed code does next (start a proxy
         * exchange) must not read it as one */
        rs->timed_out = expired && cs->wait == WAIT_FD;
        timed_out = 0;
        cs->wait = WAIT_NONE;
    }
    if (timed_out) {
        rl_log_rerror(RL_LOG_INFO, 0, r, "%s",
                      cs->wait == WAIT_BODY
                          ? "timed out reading the request body"
                          : "timed out sending the response");
        cs->close_after = 1;
        if (cs->wait != WAIT_BODY) {
            c->aborted = 1;
        }
        cs->wait = WAIT_NONE;
        return after_handler(c, r, 408);
    }
    rv = rl_conn_flush(c);
    if (rv != APR_SUCCESS && rv != APR_EAGAIN) {
        cs->wait = WAIT_NONE;
        return after_handler(c, r, RL_DONE);
    }
    if (cs->wait == WAIT_DRAIN && rv == APR_EAGAIN &&
        cs->out_end - cs->out_start >= OUT_LOW_WATER) {
        return RL_WANT_WRITE;
    }
    cs->wait = WAIT_NONE;
    fn = rs->resume;
    rs->resume = NULL;
    return after_handler(c, r, fn(r));
}

static int step_flush(rl_conn_t *c, int timed_out)
{
    conn_state_t *cs = CONN_STATE(c);
    apr_status_t rv;

    if (timed_out) {
        rl_log_cerror(RL_LOG_INFO, 0, c,
                      "timed out sending a response (Timeout)");
        return RL_WANT_CLOSE;
    }
    rv = rl_conn_flush(c);
    if (rv == APR_EAGAIN) {
        return RL_WANT_WRITE;
    }
    if (rv != APR_SUCCESS || c->aborted) {
        return RL_WANT_CLOSE;
    }
    if (cs->close_after) {
        /* Shut our side and read what the client still sends, so that
         * unread input does not turn the close into a reset that would
         * destroy the response in flight. */
        rl_io_shutdown(c->io, c->fd);
        cs->linger_until = apr_time_now() + LINGER_TIME;
        cs->phase = PH_LINGER;
        return STEP_CONTINUE;
    }
    cs->phase = PH_READ_HEAD;
    cs->head_bytes = cs->in_end - cs->in_start;
    cs->head_started = apr_time_now();
    cs->scan_pos = 0;
    /* The last read drained the socket and nothing is buffered: the next
     * request cannot be there unless it arrived since, and then the MPM
     * hears of it (an edge under event, poll under prefork and worker).
     * Waiting at once saves a recv() that would say EAGAIN on nearly
     * every keep-alive request. */
    cs->wait_first = cs->drained && cs->head_bytes == 0 && !cs->shutdown;
    return STEP_CONTINUE;
}

static int step_linger(rl_conn_t *c, int timed_out)
{
    conn_state_t *cs = CONN_STATE(c);
    char buf[4096];

    if (timed_out) {
        return RL_WANT_CLOSE;
    }
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n > 0) {
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            apr_time_now() < cs->linger_until) {
            return RL_WANT_READ;
        }
        return RL_WANT_CLOSE;
    }
}

/* A connection handed to a protocol (rl_protocol.h): its run() or, when
 * the server stops, its shutdown(). */
static int protocol_run(rl_conn_t *c, conn_state_t *cs, int timed_out, int stop,
                        apr_time_t *deadline)
{
    int rc;

    *deadline = APR_INT64_MAX;
    /* busy while it runs: a stream it serves now (a status page) must see
     * its thread counted */
    sb_move(cs, RL_SB_WRITING);
    rc = stop && cs->proto->shutdown != NULL
             ? cs->proto->shutdown(c, cs->proto_ctx, deadline)
             : cs->proto->run(c, cs->proto_ctx, timed_out, deadline);
    sb_move(cs, rc == RL_WANT_CLOSE ? RL_SB_CLOSING : RL_SB_WRITING);
    if ((rc == RL_WANT_READ || rc == RL_WANT_WRITE) && c->io != NULL &&
        c->io->want != 0) {
        rc = c->io->want;
    }
    return rc;
}

RL_DECLARE(int) rl_conn_run(rl_conn_t *c, int timed_out, apr_time_t *deadline)
{
    conn_state_t *cs = CONN_STATE(c);
    int rc;

    if (c->io != NULL) {
        c->io->want = 0;
    }
    if (cs->proto != NULL) {
        return protocol_run(c, cs, timed_out, 0, deadline);
    }
    for (;;) {
        switch (cs->phase) {
        case PH_READ_HEAD:
            rc = step_read_head(c, timed_out);
            if (rc == STEP_SWITCHED) {
                return protocol_run(c, cs, 0, 0, deadline);
            }
            break;
        case PH_HANDLER:
            rc = step_handler(c, timed_out);
            break;
        case PH_FLUSH:
            rc = step_flush(c, timed_out);
            break;
        case PH_TUNNEL:
            rc = rl_tunnel_step(c, timed_out);
            break;
        case PH_OFFLOAD:
            if (!cs->offload_done) {
                return RL_WANT_NOTHING; /* still on its pool thread */
            }
            cs->offload_done = 0;
            rc = after_handler(c, cs->r, cs->offload_rc);
            break;
        default:
            rc = step_linger(c, timed_out);
            break;
        }
        timed_out = 0;
        if (rc != STEP_CONTINUE) {
            break;
        }
    }
    if (rc != RL_WANT_CLOSE) {
        *deadline = conn_deadline(c);
    }
    sb_move(cs, rc == RL_WANT_CLOSE ? RL_SB_CLOSING : sb_state_of(c, cs));
    if ((rc == RL_WANT_READ || rc == RL_WANT_WRITE) && c->io != NULL &&
        c->io->want != 0) {
        /* a TLS read may wait for the socket to take a handshake
         * message, a TLS write for one to arrive */
        rc = c->io->want;
    }
    return rc;
}

RL_DECLARE(void)
rl_conn_set_offload(rl_conn_t *c, rl_offload_fn submit, void *ctx)
{
    CONN_STATE(c)->offload = submit;
    CONN_STATE(c)->offload_ctx = ctx;
}


/*
 * On a blocking-handler thread: the handler hooks run as under
 * prefork/worker (reads and writes wait), and a handler that suspends on
 * a descriptor or a timer is waited for here, until it is done.
 */
RL_DECLARE(void) rl_conn_run_offloaded(rl_conn_t *c)
{
    conn_state_t *cs = CONN_STATE(c);
    rl_request_t *r = cs->r;
    req_state_t *rs = REQ_STATE(r);
    int rc;

    cs->blocking = 1;
    rc = rl_request_run_handler(r);
    while (rc == RL_SUSPENDED) {
        rl_resume_fn fn = rs->resume;
        apr_status_t rv = APR_SUCCESS;

        if (cs->wait == WAIT_FD) {
            rv = rl_conn_wait_io(c, RL_WANT_OTHER, rs->wake_at);
        } else if (cs->wait == WAIT_TIMER) {
            apr_time_t now = apr_time_now();
            if (rs->wake_at > now) {
                apr_sleep(rs->wake_at - now);
            }
            rv = APR_TIMEUP;
        }
        rs->timed_out =
            cs->wait == WAIT_FD && (rv == APR_TIMEUP || rv == APR_EINTR);
        cs->wait = WAIT_NONE;
        rs->resume = NULL;
        if (fn == NULL) {
            rc = 500;
            break;
        }
        rc = fn(r);
    }
    cs->blocking = 0;
    cs->offload_rc = rc;
    cs->offload_done = 1;
}


RL_DECLARE(int) rl_conn_shutdown(rl_conn_t *c, apr_time_t *deadline)
{
    conn_state_t *cs = CONN_STATE(c);

    cs->shutdown = 1;
    if (cs->proto != NULL) {
        if (c->io != NULL) {
            c->io->want = 0;
        }
        return protocol_run(c, cs, 0, 1, deadline);
    }
    return rl_conn_run(c, 0, deadline);
}

RL_DECLARE(int) rl_conn_is_idle(const rl_conn_t *c)
{
    const conn_state_t *cs = CONN_STATE(c);

    return cs->proto == NULL && cs->phase == PH_READ_HEAD &&
           cs->head_bytes == 0 && cs->in_start == cs->in_end &&
           cs->out_start == cs->out_end;
}

RL_DECLARE(void) rl_conn_serve_blocking(rl_conn_t *c)
{
    conn_state_t *cs = CONN_STATE(c);
    apr_time_t deadline = 0;
    int want, timed_out = 0;

    cs->blocking = 1;
    want = rl_conn_run(c, 0, &deadline);
    while (want != RL_WANT_CLOSE) {
        apr_status_t rv;

        if (rl_mpm_stopping() && !cs->shutdown) {
            want = rl_conn_shutdown(c, &deadline);
            continue;
        }
        rv = rl_conn_wait_io(c, want, deadline);
        if (rv == APR_EINTR) {
            if (rl_mpm_stopping_now()) {
                break;
            }
            continue;
        }
        timed_out = (rv == APR_TIMEUP);
        if (rv != APR_SUCCESS && !timed_out) {
            break;
        }
        want = rl_conn_run(c, timed_out, &deadline);
    }
    rl_conn_close(c);
}
