/*
 * io.c: moving bytes over a connected non-blocking socket, through the
 * connection's transport (rl_io.h) when it has one, with recv()/send()
 * when it does not.  The plain path is what every connection without TLS
 * takes, so it stays a branch and a system call.
 */
#include "relais.h"

#include <errno.h>
#include <sys/socket.h>

RL_DECLARE(apr_status_t)
rl_io_recv(rl_io_t *io, int fd, char *buf, apr_size_t len, apr_size_t *got)
{
    ssize_t n;

    if (io != NULL) {
        io->want = 0;
        return io->m->recv(io, buf, len, got);
    }
    *got = 0;
    do {
        n = recv(fd, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        *got = (apr_size_t)n;
        return APR_SUCCESS;
    }
    if (n == 0) {
        return APR_EOF;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return APR_EAGAIN;
    }
    return APR_FROM_OS_ERROR(errno);
}

RL_DECLARE(apr_status_t)
rl_io_send(rl_io_t *io, int fd, const char *buf, apr_size_t len,
           apr_size_t *sent)
{
    if (io != NULL) {
        io->want = 0;
        return io->m->send(io, buf, len, sent);
    }
    *sent = 0;
    while (*sent < len) {
        ssize_t n = send(fd, buf + *sent, len - *sent, MSG_NOSIGNAL);
        if (n > 0) {
            *sent += (apr_size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return APR_EAGAIN;
        }
        return n < 0 ? APR_FROM_OS_ERROR(errno) : APR_EOF;
    }
    return APR_SUCCESS;
}

RL_DECLARE(void) rl_io_shutdown(rl_io_t *io, int fd)
{
    if (io != NULL && io->m->shutdown != NULL) {
        io->m->shutdown(io);
    }
    shutdown(fd, SHUT_WR);
}

RL_DECLARE(void) rl_io_destroy(rl_io_t *io)
{
    if (io != NULL) {
        io->m->destroy(io);
    }
}
