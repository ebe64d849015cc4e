/**
 * @file rl_io.h
 * @brief Transports: how bytes move over a connected, non-blocking socket.
 *
 * A connection reads and writes its socket directly (plain TCP) unless a
 * module gives it a transport: mod_ssl installs a TLS one on client
 * connections in its pre_connection hook (c->io) and on backend
 * connections for mod_proxy.  The core, mod_proxy and the tunnel move
 * bytes only through rl_io_recv() and rl_io_send(), which take the plain
 * path when the transport is NULL, so a plain connection pays one pointer
 * test.
 *
 * The contract a transport keeps is that of recv()/send() on a
 * non-blocking socket, as the core relies on it:
 *
 * - recv: a read that returns fewer bytes than asked means that nothing
 *   more can be read now (the socket said EAGAIN).  A transport that
 *   decodes records (TLS) therefore loops until its caller's buffer is
 *   full or the socket is empty: decoded bytes must never sit inside the
 *   transport while its caller waits for the socket to become readable.
 * - send: as many bytes as the socket takes; the bytes not taken are
 *   offered again by the next call, starting with the same bytes (perhaps
 *   from another address, perhaps with more after them).
 * - APR_EAGAIN sets io->want to what the socket must become before the
 *   call can progress: RL_WANT_READ or RL_WANT_WRITE.  A TLS read can need
 *   the socket writable (a handshake message to send) and a TLS write can
 *   need it readable; the caller waits for io->want, not for the
 *   direction it had in mind.
 *
 * @since API 20261128.2
 */
#ifndef RL_IO_H
#define RL_IO_H

#include <apr_errno.h>

#include "rl_module.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rl_io_t rl_io_t;

/** What a transport does. */
typedef struct rl_io_methods_t {
    /** Its name, for logs: "tls". */
    const char *name;
    /**
     * Reads up to len bytes into buf; *got says how many.
     * @return APR_SUCCESS (*got > 0), APR_EAGAIN (io->want set), APR_EOF
     * (the peer closed), APR_ECONNABORTED (the transport answered the
     * peer itself and shut its sending side: a plain request on a TLS
     * port, a failed handshake's alert; the core then reads and drops
     * what the peer still sends for a moment before closing, so that the
     * answer is not destroyed by a reset), or another error (the
     * connection is unusable).
     */
    apr_status_t (*recv)(rl_io_t *io, char *buf, apr_size_t len,
                         apr_size_t *got);
    /**
     * Sends up to len bytes from buf; *sent says how many were taken.
     * @return APR_SUCCESS (all taken), APR_EAGAIN (io->want set), or an
     * error (the connection is unusable).
     */
    apr_status_t (*send)(rl_io_t *io, const char *buf, apr_size_t len,
                         apr_size_t *sent);
    /** Ends the sending direction in order (TLS: close_notify) without
     *  waiting; the core then shuts the socket's sending side. */
    void (*shutdown)(rl_io_t *io);
    /** Frees the transport.  Never closes io->fd: its owner does. */
    void (*destroy)(rl_io_t *io);
} rl_io_methods_t;

/** A transport bound to one socket. */
struct rl_io_t {
    const rl_io_methods_t *m;
    int fd;    /**< the socket it reads and writes */
    int want;  /**< after APR_EAGAIN: RL_WANT_READ or RL_WANT_WRITE */
    void *ctx; /**< the transport's own state (malloc'd, not pool memory:
                    an idle connection's pool may be given back) */
};

/**
 * Reads from fd through io, or with recv() when io is NULL.
 * Return values as rl_io_methods_t.recv.  @since API 20261128.2
 */
RL_DECLARE(apr_status_t)
rl_io_recv(rl_io_t *io, int fd, char *buf, apr_size_t len, apr_size_t *got);

/**
 * Writes to fd through io, or with send() when io is NULL.
 * Return values as rl_io_methods_t.send.  @since API 20261128.2
 */
RL_DECLARE(apr_status_t)
rl_io_send(rl_io_t *io, int fd, const char *buf, apr_size_t len,
           apr_size_t *sent);

/** What to wait for after rl_io_recv() or rl_io_send() said APR_EAGAIN:
 *  io->want, or `natural` (RL_WANT_READ after a read, RL_WANT_WRITE after
 *  a write) on a plain socket.  @since API 20261128.2 */
#define RL_IO_WANT(io, natural)                                                \
    ((io) != NULL && (io)->want != 0 ? (io)->want : (natural))

/** Ends the sending direction: the transport's shutdown, then
 *  shutdown(fd, SHUT_WR).  @since API 20261128.2 */
RL_DECLARE(void) rl_io_shutdown(rl_io_t *io, int fd);

/** Frees io (NULL is fine); the descriptor stays open.
 *  @since API 20261128.2 */
RL_DECLARE(void) rl_io_destroy(rl_io_t *io);

#ifdef __cplusplus
}
#endif
#endif /* RL_IO_H */
