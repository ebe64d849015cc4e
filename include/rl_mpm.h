/**
 * @file rl_mpm.h
 * @brief What an MPM module gets from the core.
 *
 * An MPM is a module flagged RL_MODULE_MPM that hooks `mpm`.  The core
 * owns the parts every MPM shares: the listeners, the child-process
 * supervisor (signals, restarts, graceful generations, the scoreboard) and
 * the HTTP/1.1 connection engine.  An MPM decides how many processes and
 * threads run and how a thread waits for its connections:
 *
 *  - prefork: one connection at a time per process, waiting with poll();
 *  - worker: one connection at a time per thread;
 *  - event: one epoll loop per thread, many connections each.
 *
 * The connection engine is a state machine: rl_conn_run() does all it can
 * without waiting and says what it waits for next (readable, writable, or
 * close) and until when.  Every MPM drives it the same way.
 */
#ifndef RL_MPM_H
#define RL_MPM_H

#include <sys/types.h>

#include <apr_pools.h>
#include <apr_network_io.h>
#include <apr_time.h>

#include "rl_http.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @name Return values of the mpm hook */
/**@{*/
#define RL_MPM_EXIT 1     /**< stop: parent exits */
#define RL_MPM_RESTART 2  /**< HUP: children stopped, re-read config */
#define RL_MPM_GRACEFUL 3 /**< USR1: re-read config, old children finish */
/**@}*/

/** A listening socket (Listen). */
struct rl_listener_t {
    rl_listener_t *next;
    apr_socket_t *sock; /**< bound, listening, non-blocking */
    int fd;
    const char *name;     /**< "127.0.0.1:8080" or "[::1]:8080" */
    const char *protocol; /**< "http", "https", "tcp" or "udp" */
    apr_port_t port;
    rl_server_t *default_server; /**< first vhost matching, or main */
    /** A datagram socket (udp): bound, never accepted on by an MPM; the
     *  module that serves it reads it (rl_protocol.h).
     *  @since API 20261130.0 */
    int datagram;
};

/** The listeners of the running configuration, in Listen order. */
RL_DECLARE(rl_listener_t *) rl_listeners(void);

/**
 * The listeners of the configuration being loaded, for check_config hooks
 * (which run before any socket is opened, and under -t when none is):
 * rl_listener_t records in p, in Listen order, with name, protocol, port,
 * datagram and default_server set; sock is NULL and fd -1.
 * @return an array of rl_listener_t *
 * @since API 20261130.0
 */
RL_DECLARE(apr_array_header_t *) rl_listeners_configured(apr_pool_t *p);

/** @name What a connection waits for */
/**@{*/
#define RL_WANT_CLOSE 0 /**< done: call rl_conn_close() */
#define RL_WANT_READ 1  /**< wait until readable */
#define RL_WANT_WRITE 2 /**< wait until writable */
/** wait for the descriptor a suspended handler watches (a backend
 *  socket): see rl_conn_watched() */
#define RL_WANT_OTHER 3
/** the connection is busy on a blocking-handler thread: leave it alone
 *  until the MPM's completion call (see rl_conn_set_offload()) */
#define RL_WANT_NOTHING 4
/**@}*/

/**
 * For RL_WANT_OTHER: the descriptor the connection's suspended handler
 * waits on and for what (RL_WANT_READ or RL_WANT_WRITE).  The MPM waits
 * for it (and may also wake the connection for its client socket: a
 * handler tolerates spurious resumes).
 */
RL_DECLARE(void) rl_conn_watched(const rl_conn_t *c, int *fd, int *events);

/** How an MPM forgets a watched descriptor (see rl_request_unwatch()). */
typedef void (*rl_unwatch_fn)(void *ctx, int fd);

/**
 * An MPM that registers watched descriptors (event) gives the function
 * that removes one; the core calls it from rl_request_unwatch().
 */
RL_DECLARE(void) rl_conn_set_unwatch(rl_conn_t *c, rl_unwatch_fn fn, void *ctx);

/** How an MPM drops what it knows of a descriptor about to be closed. */
typedef void (*rl_forget_fn)(int fd);

/** Called on the watching thread when a parked descriptor stirs. */
typedef void (*rl_park_fn)(void *ctx);

/** How an MPM parks a descriptor (see rl_watch_park()); 1 when it will
 *  report, 0 when it cannot. */
typedef int (*rl_mpm_park_fn)(int fd, rl_park_fn fn, void *ctx);

/**
 * An MPM that keeps watched descriptors registered between watches (the
 * event MPM: one registration per backend connection for its lifetime,
 * not one system call per request) gives the functions that forget one
 * and that park one.
 * @since API 20261128.0
 */
RL_DECLARE(void) rl_mpm_set_forget(rl_forget_fn forget, rl_mpm_park_fn park);

/**
 * A descriptor a module keeps idle (a pooled backend connection) after
 * watching it: `fn(ctx)` runs once, on this thread, when data, EOF or an
 * error arrives on it, so the module can drop the connection before
 * reusing it.  Taking it up again (fn NULL, or rl_request_watch()) or
 * closing it (rl_watched_close()) cancels that.
 * @return 1 when the MPM will report, 0 when it cannot (prefork, worker,
 *         or a descriptor never watched): then check before reuse
 * @since API 20261128.0
 */
RL_DECLARE(int) rl_watch_park(int fd, rl_park_fn fn, void *ctx);

/**
 * A module closes a descriptor it ever passed to rl_request_watch()
 * (a backend connection) through this, on the thread that watched it, so
 * that the MPM does not take a later descriptor with the same number for
 * the registered one.
 * @since API 20261128.0
 */
RL_DECLARE(void) rl_watched_close(int fd);

/**
 * Wraps an accepted descriptor in a connection (own pool from `alloc`)
 * and runs pre_connection.
 * @return the connection, or NULL (the descriptor is then closed)
 */
RL_DECLARE(rl_conn_t *)
rl_conn_open(int fd, rl_listener_t *l, apr_allocator_t *alloc);

/**
 * Runs the connection as far as it can go without waiting.
 * @param timed_out non-zero when the previous deadline passed
 * @param deadline  out: when to call again with timed_out set
 * @return RL_WANT_READ, RL_WANT_WRITE or RL_WANT_CLOSE
 */
RL_DECLARE(int) rl_conn_run(rl_conn_t *c, int timed_out, apr_time_t *deadline);

/**
 * Asks the connection to finish: the request in progress completes with
 * "Connection: close"; an idle connection ends now (after serving a
 * request that has already arrived).
 * @return what to wait for next, as rl_conn_run()
 */
RL_DECLARE(int) rl_conn_shutdown(rl_conn_t *c, apr_time_t *deadline);

/** True when no request is in progress (idle keep-alive or fresh). */
RL_DECLARE(int) rl_conn_is_idle(const rl_conn_t *c);

/**
 * Called by the MPM, from its timer, on a connection that waits for its
 * next request: once it has been idle for a little while (200 ms), gives
 * back its pool, so that an idle keep-alive connection costs its record
 * alone (see rl_conn_t.pool).  Calling it more often is harmless.
 * @return 1 when the connection now holds no pool (nothing more to give
 *         back until it runs again), 0 when it keeps it (busy, idle for a
 *         moment only, or a module holds per-connection state)
 */
RL_DECLARE(int) rl_conn_rest(rl_conn_t *c, apr_time_t now);

/** Closes the socket and frees the connection's memory. */
RL_DECLARE(void) rl_conn_close(rl_conn_t *c);

/**
 * Serves one connection to its end on the calling thread, waiting with
 * poll() (prefork and worker MPMs).  Returns early, closing it politely,
 * once rl_mpm_stopping() turns true.
 */
RL_DECLARE(void) rl_conn_serve_blocking(rl_conn_t *c);

/**
 * How an MPM with event loops runs blocking handlers (see
 * rl_handler_declare_blocking()): `submit` queues the connection for a
 * thread of its pool, which calls rl_conn_run_offloaded(c) and then hands
 * the connection back to its loop, which calls rl_conn_run() again.
 */
typedef void (*rl_offload_fn)(void *ctx, rl_conn_t *c);

RL_DECLARE(void)
rl_conn_set_offload(rl_conn_t *c, rl_offload_fn submit, void *ctx);

/** On a blocking-handler thread: runs the offloaded handler to its end. */
RL_DECLARE(void) rl_conn_run_offloaded(rl_conn_t *c);

/** Settings read by the supervisor from the MPM directives. */
typedef struct rl_mpm_settings_t {
    int start_servers;             /**< StartServers */
    int server_limit;              /**< ServerLimit */
    int threads_per_child;         /**< ThreadsPerChild */
    int max_request_workers;       /**< MaxRequestWorkers */
    int min_spare;                 /**< MinSpareServers/Threads */
    int max_spare;                 /**< MaxSpareServers/Threads */
    int max_connections_per_child; /**< MaxConnectionsPerChild, 0 = ∞ */
} rl_mpm_settings_t;

/** The MPM directives as configured (defaults filled by the MPM). */
RL_DECLARE(rl_mpm_settings_t *) rl_mpm_settings(void);

/** What an MPM plugs into the supervisor. */
typedef struct rl_mpm_spec_t {
    const char *name; /**< "event" */
    int threaded;     /**< threads per child > 1 possible */
    int dynamic;      /**< grow/shrink children on idle count */
    /** The body of a child process (after child_init); return to exit. */
    void (*child_main)(apr_pool_t *pchild, int slot);
} rl_mpm_spec_t;

/**
 * Runs the parent: forks children, replaces dead ones, scales them
 * (dynamic), and turns signals into stop/restart/graceful.
 * @return an RL_MPM_* value for the core
 */
RL_DECLARE(int)
rl_mpm_supervise(const rl_mpm_spec_t *spec, apr_pool_t *pconf, rl_server_t *s);

/**
 * Switches the calling process to User/Group when started as root (what
 * every child does before child_init).  For a module that forks its own
 * helper process (mod_healthcheck's watchdog).  Logs why on failure.
 * @since API 20261127.0
 */
RL_DECLARE(apr_status_t) rl_mpm_drop_privileges(void);

/**
 * The user and group children run as (User, Group), for a module that
 * creates, in the parent (as root), files or directories its children must
 * write: a disk cache's directories are chowned to them.
 * @return 1 and the ids when the children switch to another user; 0 when
 *         they keep the parent's (not root, or no User/Group)
 * @since API 20261128.1
 */
RL_DECLARE(int) rl_child_ids(uid_t *uid, gid_t *gid);

/** In a child: true once it was told to stop (graceful or not). */
RL_DECLARE(int) rl_mpm_stopping(void);
/** In a child: true once told to stop without grace (TERM). */
RL_DECLARE(int) rl_mpm_stopping_now(void);

/** In a child: notes the number of busy and idle workers or connections
 *  (the supervisor scales dynamic MPMs on it; status shows it). */
RL_DECLARE(void) rl_mpm_report(int slot, int busy, int idle);

/** In a child: counts a served request on the scoreboard. */
RL_DECLARE(void) rl_mpm_count_request(int slot);

/** The name of the loaded MPM ("event"), or NULL before it is chosen. */
RL_DECLARE(const char *) rl_mpm_name(void);

/** @name Connection states the scoreboard counts (rl_scoreboard_read)
 *  The connection engine moves a connection between them itself, for
 *  every MPM: no MPM code is involved. */
/**@{*/
/** Reading a request head: a new connection, or part of a head came. */
#define RL_SB_READING 0
/** A request in progress: hooks and handler, a backend exchange, the
 *  response going out, a tunnel (WebSocket). */
#define RL_SB_WRITING 1
/** Waiting for the next request on a kept-alive connection. */
#define RL_SB_KEEPALIVE 2
/** Closing: the response is out, the client's last bytes are drained. */
#define RL_SB_CLOSING 3
#define RL_SB_NSTATES 4
/**@}*/

/** Threads of one child the scoreboard follows one by one; a child with
 *  more shares the last record among the rest (the sums stay right). */
#define RL_SB_THREADS_MAX 64

/** One thread of a child, as the scoreboard shows it.
 *  @since API 20261129.1 */
typedef struct rl_scoreboard_thread_t {
    apr_uint32_t conns[RL_SB_NSTATES]; /**< its open connections by state
                                            (prefork, worker: 0 or 1 in all;
                                            event: any number) */
    apr_uint32_t requests;             /**< requests it finished */
} rl_scoreboard_thread_t;

/** One child process, as the scoreboard shows it.
 *  @since API 20261129.1 */
typedef struct rl_scoreboard_view_t {
    int slot;              /**< its scoreboard slot */
    pid_t pid;             /**< its process id */
    int generation;        /**< configuration generation it serves */
    int graceful;          /**< told to finish (an older generation after a
                                graceful restart, or scaled down) */
    apr_time_t started;    /**< when it was forked */
    int busy, idle;        /**< what the MPM last reported
                                (rl_mpm_report) */
    apr_uint32_t requests; /**< requests finished since it started */
    int nthreads;          /**< threads that have served a connection (the
                                others are idle), at most
                                RL_SB_THREADS_MAX */
    apr_uint32_t conns[RL_SB_NSTATES]; /**< its open connections by
                                            state (all its threads) */
    rl_scoreboard_thread_t threads[RL_SB_THREADS_MAX]; /**< [0, nthreads) */
} rl_scoreboard_view_t;

/**
 * Copies the scoreboard: one view per running child (old generations
 * still finishing included), in slot order.  Reads shared memory only,
 * without a lock, so a view may be a few instructions out of date; it
 * never blocks.  Any process (children, the parent), any thread.
 * @param out room for `max` views (the caller's memory; a view is about
 *            1.4 KiB); with max 0 (out may be NULL) it only counts
 * @return the number of running children, which may be more than `max`
 *         (only `max` were copied); 0 before the MPM started any
 * @since API 20261129.1
 */
RL_DECLARE(int) rl_scoreboard_read(rl_scoreboard_view_t *out, int max);

#ifdef __cplusplus
}
#endif
#endif /* RL_MPM_H */
