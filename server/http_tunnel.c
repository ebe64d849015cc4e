/*
 * http_tunnel.c: after "101 Switching Protocols" (WebSocket), the client
 * connection carries raw bytes both ways between the client and another
 * socket (a backend) until both sides are done.
 *
 * Bounded memory: one 16 KiB buffer each way; a side that cannot take
 * more stops the reading of the other (TCP pushes back).  A FIN from one
 * side is passed on as a FIN (half-close); the tunnel ends when both
 * directions are closed, on an error, or after `idle` without traffic.
 */
#include "http_core.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

RL_LOG_USE_MODULE(core);

RL_DECLARE(int)
rl_request_tunnel(rl_request_t *r, int fd, const char *pending, apr_size_t n,
                  apr_interval_time_t idle)
{
    return rl_request_tunnel_io(r, fd, NULL, pending, n, idle);
}

RL_DECLARE(int)
rl_request_tunnel_io(rl_request_t *r, int fd, rl_io_t *io, const char *pending,
                     apr_size_t n, apr_interval_time_t idle)
{
    conn_state_t *cs = CONN_STATE(r->connection);
    tunnel_t *t = calloc(1, sizeof(*t));

    if (t == NULL || n > sizeof(t->o2c)) {
        free(t);
        rl_io_destroy(io);
        rl_watched_close(fd);
        return 500;
    }
    t->fd = fd;
    t->io = io;
    t->idle = idle > 0 ? idle : r->server->timeout;
    memcpy(t->o2c, pending, n);
    t->o2c_len = n;
    /* bytes the client sent after its request head belong to the tunnel */
    if (cs->in_end > cs->in_start) {
        apr_size_t k = cs->in_end - cs->in_start;
        if (k > sizeof(t->c2o)) {
            k = sizeof(t->c2o);
        }
        memcpy(t->c2o, cs->in + cs->in_start, k);
        t->c2o_len = k;
        cs->in_start += k;
    }
    r->status = 101;
    r->clength = -1;
    cs->tunnel = t;
    cs->close_after = 1;
    rl_response_send_head(r);
    return RL_DONE;
}

void rl_tunnel_close(conn_state_t *cs)
{
    if (cs->tunnel != NULL) {
        rl_io_destroy(cs->tunnel->io);
        rl_watched_close(cs->tunnel->fd); /* a backend the proxy watched */
        free(cs->tunnel);
        cs->tunnel = NULL;
    }
}

/* One side of the tunnel: a socket and its transport (NULL: plain). */
typedef struct side_t {
    int fd;
    rl_io_t *io;
} side_t;

/* Moves bytes from `from` into buf; 1 on progress, 0 on EAGAIN, -1 on
 * EOF, -2 on error. */
static int pull(side_t from, char *buf, apr_size_t cap, apr_size_t *len)
{
    apr_size_t got = 0;
    apr_status_t rv =
        rl_io_recv(from.io, from.fd, buf + *len, cap - *len, &got);

    if (rv == APR_SUCCESS) {
        *len += got;
        return 1;
    }
    if (rv == APR_EOF) {
        return -1;
    }
    return rv == APR_EAGAIN ? 0 : -2;
}

/* Sends buf[*pos..len) to `to`; 1 on progress, 0 on EAGAIN, -2 on error. */
static int push(side_t to, const char *buf, apr_size_t *pos, apr_size_t *len)
{
    apr_size_t sent = 0;
    apr_status_t rv = rl_io_send(to.io, to.fd, buf + *pos, *len - *pos, &sent);

    *pos += sent;
    if (*pos == *len) {
        *pos = *len = 0;
    }
    if (rv == APR_SUCCESS || (rv == APR_EAGAIN && sent > 0)) {
        return 1;
    }
    return rv == APR_EAGAIN ? 0 : -2;
}

/* Runs one direction as far as it goes; sets what it waits for (a TLS
 * side may wait for the other direction of its socket: RL_IO_WANT). */
static int pump(side_t from, side_t to, char *buf, apr_size_t cap,
                apr_size_t *len, apr_size_t *pos, int *from_eof, int *to_shut,
                int *want_from, int *want_to)
{
    int moved = 0, rc;

    for (;;) {
        if (*len > *pos) {
            rc = push(to, buf, pos, len);
            if (rc < 0) {
                return -2;
            }
            if (rc == 0) {
                *want_to |= RL_IO_WANT(to.io, RL_WANT_WRITE);
                return moved;
            }
            moved = 1;
            continue;
        }
        if (*from_eof) {
            if (!*to_shut) {
                rl_io_shutdown(to.io, to.fd); /* pass the FIN on */
                *to_shut = 1;
            }
            return moved;
        }
        rc = pull(from, buf, cap, len);
        if (rc == -2) {
            return -2;
        }
        if (rc == -1) {
            *from_eof = 1;
            continue;
        }
        if (rc == 0) {
            *want_from |= RL_IO_WANT(from.io, RL_WANT_READ);
            return moved;
        }
        moved = 1;
    }
}

int rl_tunnel_step(rl_conn_t *c, int timed_out)
{
    conn_state_t *cs = CONN_STATE(c);
    tunnel_t *t = cs->tunnel;
    side_t client, other;
    int a, b;

    if (timed_out) {
        rl_log_cerror(RL_LOG_INFO, 0, c, "tunnel idle for %ld s: closed",
                      (long)apr_time_sec(t->idle));
        return RL_WANT_CLOSE;
    }
    /* the 101 head (and anything queued) goes out first */
    if (cs->out_end > cs->out_start) {
        apr_status_t rv = rl_conn_flush(c);
        if (rv == APR_EAGAIN) {
            t->want_client = RL_WANT_WRITE;
            t->want_other = 0;
            return RL_WANT_OTHER;
        }
        if (rv != APR_SUCCESS) {
            return RL_WANT_CLOSE;
        }
    }
    t->want_other = t->want_client = 0;
    client.fd = c->fd;
    client.io = c->io;
    other.fd = t->fd;
    other.io = t->io;
    a = pump(client, other, t->c2o, sizeof(t->c2o), &t->c2o_len, &t->c2o_pos,
             &t->client_eof, &t->other_shut, &t->want_client, &t->want_other);
    b = pump(other, client, t->o2c, sizeof(t->o2c), &t->o2c_len, &t->o2c_pos,
             &t->other_eof, &t->client_shut, &t->want_other, &t->want_client);
    if (a < 0 || b < 0) {
        return RL_WANT_CLOSE;
    }
    if (a > 0 || b > 0) {
        cs->last_io = apr_time_now();
    }
    if (t->client_eof && t->other_eof && t->c2o_len == 0 && t->o2c_len == 0) {
        return RL_WANT_CLOSE;
    }
    return RL_WANT_OTHER;
}
