/**
 * @file rl_protocol.h
 * @brief Connection protocols: a module takes a client connection over
 *        from the HTTP/1.1 engine (TCP relay, HTTP/2).
 *
 * Every accepted connection starts in the core's HTTP/1.1 engine.  A
 * module may hand it to its own state machine instead:
 *
 *  - at once, from its pre_connection hook (mod_proxy_stream on a
 *    `Listen … tcp` listener), with rl_conn_set_protocol();
 *  - when the client's first bytes are the HTTP/2 connection preface
 *    ("PRI * HTTP/2.0…"), which the core recognises: it then calls the
 *    provider registered in group RL_CONN_PROTOCOL_GROUP under the name
 *    "h2" (over TLS) or "h2c" (cleartext), if the connection's server
 *    allows that protocol (the `Protocols` directive), and gives it the
 *    bytes already read.
 *
 * A protocol is driven exactly as the HTTP/1.1 engine is (rl_mpm.h):
 * the MPM calls run() when the connection's socket, or a descriptor the
 * protocol watches, is ready or its deadline passed; run() does what it
 * can without waiting and says what to wait for next.  It works the same
 * under prefork, worker and event.
 *
 * Multiplexed protocols (HTTP/2) run each stream as a secondary
 * connection (rl_conn_open_secondary()): a connection without a socket
 * whose bytes move through a transport (rl_io.h) the protocol provides.
 * The HTTP/1.1 engine serves it, so every request hook and handler works
 * on it unchanged; the protocol drives it with rl_conn_run().
 *
 * @since API 20261130.0
 */
#ifndef RL_PROTOCOL_H
#define RL_PROTOCOL_H

#include "rl_http.h"
#include "rl_io.h"
#include "rl_mpm.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A descriptor a connection waits on, and for what (RL_WANT_READ,
 *  RL_WANT_WRITE, or both or'ed). */
typedef struct rl_watch_t {
    int fd;
    int events;
} rl_watch_t;

/** The most descriptors one connection may wait on at once. */
#define RL_WATCH_MAX 256

/** A connection's own state machine. */
typedef struct rl_conn_protocol_t {
    /** Its name, for logs and the status page: "tcp", "h2". */
    const char *name;
    /**
     * Runs as far as possible without waiting.
     * @param timed_out non-zero when the deadline it gave passed
     * @param deadline  out: when to call again with timed_out set
     * @return RL_WANT_READ or RL_WANT_WRITE (c->fd only: a TLS transport's
     *         io->want is applied by the core), RL_WANT_OTHER (every
     *         descriptor watched() lists; events on c->fd also call run),
     *         or RL_WANT_CLOSE (then close() and the socket's close follow)
     */
    int (*run)(rl_conn_t *c, void *ctx, int timed_out, apr_time_t *deadline);
    /**
     * The server is stopping gracefully: finish (HTTP/2: GOAWAY, end
     * after the open streams), then answer as run().  NULL: run() is
     * called and the connection keeps going until it ends by itself.
     */
    int (*shutdown)(rl_conn_t *c, void *ctx, apr_time_t *deadline);
    /**
     * For RL_WANT_OTHER: fills w (room for max) with the descriptors to
     * wait on and returns how many.  c->fd may be listed (its events are
     * then what run() waits for on the client side).  Called right after
     * run() returned RL_WANT_OTHER.
     */
    int (*watched)(const rl_conn_t *c, void *ctx, rl_watch_t *w, int max);
    /** Frees everything the protocol holds, before the core closes the
     *  socket (and destroys c->io).  Called exactly once. */
    void (*close)(rl_conn_t *c, void *ctx);
} rl_conn_protocol_t;

/**
 * Hands c to protocol p (its state in ctx, which the protocol frees in
 * close()).  Call from a pre_connection hook, or from a protocol
 * provider's take_over().  The core's HTTP/1.1 engine no longer touches
 * the connection; c->io (TLS) stays, for the protocol to read and write
 * through (rl_io_recv/rl_io_send).
 * @since API 20261130.0
 */
RL_DECLARE(void)
rl_conn_set_protocol(rl_conn_t *c, const rl_conn_protocol_t *p, void *ctx);

/** The protocol c was handed to, or NULL (HTTP/1.1).
 *  @since API 20261130.0 */
RL_DECLARE(const rl_conn_protocol_t *) rl_conn_protocol(const rl_conn_t *c);

/** Provider group of protocols the core switches to on a preface. */
#define RL_CONN_PROTOCOL_GROUP "conn_protocol"
#define RL_CONN_PROTOCOL_VERSION "1"

/** A protocol the core may switch a connection to (provider named "h2"
 *  and "h2c"). */
typedef struct rl_conn_protocol_provider_t {
    /**
     * Takes c over: `data` (len bytes) is what the client sent so far,
     * starting with the preface.  Calls rl_conn_set_protocol() and
     * returns RL_OK; any other value closes the connection.
     */
    int (*take_over)(rl_conn_t *c, const char *data, apr_size_t len);
} rl_conn_protocol_provider_t;

/**
 * Provider group of modules that serve `Listen … tcp` and `Listen … udp`
 * listeners: a module registers a provider (any static object) named
 * "tcp" or "udp" in it, and the core refuses such a listener when no
 * module did (it would be taken for HTTP).  TCP listeners are accepted by
 * the MPM as any other; the module takes their connections in
 * pre_connection (rl_conn_set_protocol).  A UDP listener's rl_listener_t
 * has protocol "udp" and a bound, non-blocking datagram socket in fd that
 * no MPM touches: the module serves it (its own thread per child).
 */
#define RL_LISTENER_PROTOCOL_GROUP "listener_protocol"
#define RL_LISTENER_PROTOCOL_VERSION "1"

/**
 * Whether server s allows protocol `name` ("h2", "h2c", "http/1.1"):
 * the `Protocols` directive of s (default "http/1.1").
 * @since API 20261130.0
 */
RL_DECLARE(int) rl_protocol_allowed(const rl_server_t *s, const char *name);

/**
 * The protocols s allows, in its `Protocols` order (const char *), for
 * ALPN.  @since API 20261130.0
 */
RL_DECLARE(const apr_array_header_t *)
rl_server_protocols(const rl_server_t *s);

/**
 * Opens a secondary connection of `master` (one HTTP/2 stream): no socket
 * (fd -1), its bytes move through `io` (the caller's transport; io->fd is
 * -1, the core destroys io when the secondary closes).  It has the
 * master's addresses, listener and base server, and the master's TLS
 * variables (c->master).  pre_connection hooks do not run for it.  It
 * never blocks, under any MPM: drive it with rl_conn_run() from the
 * master's protocol, and collect with rl_conn_watch_list() the
 * descriptors its handler waits on (a backend).  Close it with
 * rl_conn_close() on the master's thread.
 * @return the connection, or NULL (out of memory; io is destroyed)
 * @since API 20261130.0
 */
RL_DECLARE(rl_conn_t *) rl_conn_open_secondary(rl_conn_t *master, rl_io_t *io);

/**
 * The descriptors c waits on after rl_conn_run() returned RL_WANT_OTHER:
 * a suspended handler's backend, a tunnel's other side, or what c's
 * protocol lists.  Fills w (room for max).
 * @return how many (0 when it waits on nothing but its own socket)
 * @since API 20261130.0
 */
RL_DECLARE(int) rl_conn_watch_list(const rl_conn_t *c, rl_watch_t *w, int max);

#ifdef __cplusplus
}
#endif
#endif /* RL_PROTOCOL_H */
