/**
 * @file rl_http.h
 * @brief Connections, requests, the response API and the HTTP/1.1 parser.
 *
 * Life of a request: the core reads and parses the head
 * (rl_http_head_end(), rl_http_parse_head(), rl_http_request_framing()),
 * builds an rl_request_t in its own pool, runs the request hooks, then the
 * handler.  The handler writes the response with rl_rwrite() and friends,
 * reads the body with rl_read_body(), and returns RL_OK, an HTTP status (the
 * core then sends an error page) or RL_SUSPENDED (see rl_request_suspend()).
 *
 * Threads: a request and its connection belong to one thread at a time;
 * nothing here is locked.
 */
#ifndef RL_HTTP_H
#define RL_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_network_io.h>
#include <apr_time.h>

#include "rl_config.h"
#include "rl_log.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @name Hook and handler return values (an HTTP status is also valid) */
/**@{*/
#define RL_OK 0           /**< done this step, go on */
#define RL_DECLINED (-1)  /**< not mine: try the next module */
#define RL_DONE (-2)      /**< the request is answered: skip later steps */
#define RL_SUSPENDED (-3) /**< the handler waits; see rl_request_suspend() */
/**@}*/

/* ------------------------------------------------------------------ */
/* Parser: pure functions, no I/O (also used by tests and fuzzers).   */
/* ------------------------------------------------------------------ */

/** @name Parser results besides an HTTP status */
/**@{*/
#define RL_HTTP_OK 0       /**< parsed */
#define RL_HTTP_AGAIN (-1) /**< incomplete: give me more bytes */
#define RL_HTTP_DONE (-2)  /**< chunked body fully read (trailers too) */
/**@}*/

/** Limits applied while parsing a request head. */
typedef struct rl_http_limits_t {
    apr_size_t max_line;  /**< LimitRequestLine (414 past it) */
    apr_size_t max_field; /**< LimitRequestFieldSize (431 past it) */
    int max_fields;       /**< LimitRequestFields (431 past it) */
} rl_http_limits_t;

/** One header field as received (name case preserved). */
typedef struct rl_http_field_t {
    const char *name;
    const char *value; /**< leading/trailing whitespace removed */
} rl_http_field_t;

/** A parsed request head. */
typedef struct rl_http_head_t {
    const char *method;      /**< token, case-sensitive ("GET") */
    const char *target;      /**< request-target as sent */
    const char *protocol;    /**< "HTTP/1.1" */
    int proto_num;           /**< 1000 * major + minor: 1000 or 1001 */
    rl_http_field_t *fields; /**< in order received */
    int nfields;
    apr_size_t line_len; /**< length of the request line (no CRLF) */
} rl_http_head_t;

/**
 * Looks for the end of a request head (the empty line) in buf[0..len).
 * Call again with more bytes and the same *scan_pos until it stops
 * returning RL_HTTP_AGAIN; scanning resumes where it left off.  Empty lines
 * before the request line are skipped (RFC 9112 §2.2) and counted in
 * *head_len.
 * @param scan_pos in/out scanning state; start at 0
 * @param head_len out: bytes of the head including the final empty line
 * @return RL_HTTP_OK, RL_HTTP_AGAIN, 414 (request line longer than
 *         lim->max_line), 431 (a field longer than lim->max_field, or the
 *         head longer than the limits allow), or 400 (bare CR, NUL)
 */
RL_DECLARE(int)
rl_http_head_end(const char *buf, apr_size_t len, apr_size_t *scan_pos,
                 const rl_http_limits_t *lim, apr_size_t *head_len);

/**
 * Parses a complete request head found by rl_http_head_end().
 * Strict RFC 9112: method token, origin/absolute/authority/asterisk form
 * target without whitespace or controls, HTTP/1.0 or HTTP/1.1 (other
 * HTTP/x.y → 505), field names are tokens with no whitespace before the
 * colon, no obs-fold, no CR/NUL/control characters in values.
 * @param p   pool for the result (strings are copied)
 * @param why out: a short reason for the error log when not OK
 * @return RL_HTTP_OK, or 400, 414, 431, 501 (not a method token) or 505
 */
RL_DECLARE(int)
rl_http_parse_head(apr_pool_t *p, const char *buf, apr_size_t len,
                   const rl_http_limits_t *lim, rl_http_head_t *out,
                   const char **why);

/** How a request body is delimited. */
typedef enum rl_body_kind_e {
    RL_BODY_NONE = 0,   /**< no body */
    RL_BODY_LENGTH,     /**< Content-Length bytes */
    RL_BODY_CHUNKED,    /**< chunked transfer coding */
    RL_BODY_UNTIL_CLOSE /**< a response read until the connection closes */
} rl_body_kind_e;

/**
 * Decides request framing and checks Host (RFC 9112 §6, §3.2).
 * Rejected with 400: Content-Length together with Transfer-Encoding, a
 * Transfer-Encoding other than exactly "chunked", Transfer-Encoding on
 * HTTP/1.0, Content-Length that is not digits or several differing values,
 * a missing Host on HTTP/1.1, several Host fields, a Host that is not a
 * valid host[:port].
 * @return RL_HTTP_OK or 400 (and *why)
 */
RL_DECLARE(int)
rl_http_request_framing(const rl_http_head_t *h, rl_body_kind_e *kind,
                        apr_off_t *length, const char **why);

/** A parsed response head (from a backend). */
typedef struct rl_http_response_t {
    int status;              /**< 100..599 */
    const char *reason;      /**< reason phrase as sent (may be empty) */
    int proto_num;           /**< 1000 or 1001 */
    rl_http_field_t *fields; /**< in order received */
    int nfields;
} rl_http_response_t;

/**
 * Parses a complete response head found by rl_http_head_end(): status
 * line "HTTP/1.x DDD reason", then fields as strictly as request fields
 * (no obs-fold, no CR/NUL/controls: a backend cannot inject headers).
 * @return RL_HTTP_OK, or 502 (and *why) for anything invalid
 * @since API 20261127.0
 */
RL_DECLARE(int)
rl_http_parse_response(apr_pool_t *p, const char *buf, apr_size_t len,
                       const rl_http_limits_t *lim, rl_http_response_t *out,
                       const char **why);

/**
 * Decides how a response body is delimited (RFC 9112 §6.3): none for a
 * response to HEAD, 1xx, 204 and 304; chunked; Content-Length; or until
 * the connection closes.  Transfer-Encoding with Content-Length, several
 * differing lengths, or a coding other than chunked are refused.
 * @param head_request the request was HEAD
 * @return RL_HTTP_OK or 502 (and *why)
 * @since API 20261127.0
 */
RL_DECLARE(int)
rl_http_response_framing(const rl_http_response_t *h, int head_request,
                         rl_body_kind_e *kind, apr_off_t *length,
                         const char **why);

/** State of a chunked-body decoder; zero it to start. */
typedef struct rl_http_chunked_t {
    int state;                /**< internal */
    apr_off_t remaining;      /**< data bytes left in the current chunk */
    apr_size_t line_bytes;    /**< bytes of the current size/trailer line */
    apr_size_t trailer_bytes; /**< total trailer bytes (bounded) */
} rl_http_chunked_t;

/**
 * Decodes the next piece of a chunked body without copying.
 * Consumes framing from in[0..len) and, when data is available, points
 * *data into `in` at up to *data_len bytes of body (also consumed).
 * Chunk extensions are skipped; trailers are read and discarded (bounded
 * by max_line each, 64 KiB in all).
 * @return RL_HTTP_OK (with *data_len > 0), RL_HTTP_AGAIN (consumed what it
 *         could, needs more), RL_HTTP_DONE (last chunk and trailers read),
 *         or 400 (bad chunk size, missing CRLF, bare CR, size overflow)
 */
RL_DECLARE(int)
rl_http_chunked_next(rl_http_chunked_t *st, const char *in, apr_size_t len,
                     apr_size_t max_line, apr_size_t *consumed,
                     const char **data, apr_size_t *data_len);

/** @name AllowEncodedSlashes: what an encoded '/' (%2F) in a path does */
/**@{*/
#define RL_ENCODED_SLASHES_OFF 0      /**< refused with 404 (the default) */
#define RL_ENCODED_SLASHES_ON 1       /**< decoded to '/', then normalised */
#define RL_ENCODED_SLASHES_NODECODE 2 /**< kept as "%2F", not a separator */
/**@}*/

/**
 * Normalises a request path, so that one resource has one spelling for
 * every rule that matches on it: percent-escapes of unreserved characters
 * (letters, digits, "-._~") are decoded and the other escapes written
 * with upper-case hex; then dot segments ("." and "..", also when they
 * were written "%2e") are resolved and empty segments ("//") collapsed.
 * A trailing '/' is kept.
 * @param encoded_slashes RL_ENCODED_SLASHES_*
 * @param out the normalised path: `path` itself when it already was,
 *            else a copy in p
 * @param why on error: a reason for the error log
 * @return RL_HTTP_OK; 400 for a malformed escape, an encoded NUL or a
 *         path that climbs above the root; 404 for %2F under
 *         RL_ENCODED_SLASHES_OFF
 * @since API 20261128.1
 */
RL_DECLARE(int)
rl_http_clean_path(apr_pool_t *p, const char *path, int encoded_slashes,
                   const char **out, const char **why);

/**
 * rl_http_clean_path() with encoded slashes kept (NoDecode).
 * @return the normalised path, or NULL when it is refused
 */
RL_DECLARE(char *) rl_http_normalize_path(apr_pool_t *p, const char *path);

/** The standard reason phrase of a status ("Not Found"), or NULL. */
RL_DECLARE(const char *) rl_http_reason(int status);

/* ------------------------------------------------------------------ */
/* Connections and requests                                           */
/* ------------------------------------------------------------------ */

typedef struct rl_listener_t rl_listener_t;

/** A client connection. */
struct rl_conn_t {
    /** Per-connection memory.  When a keep-alive connection has waited
     *  for its next request for a moment (200 ms, under the event MPM),
     *  the core gives the pool back (an idle connection then costs well
     *  under 1 KiB) and makes a new one when the next request starts: pool,
     *  sock and conn_config are NULL meanwhile.  It does not when a module
     * keeps per-connection state in its conn_config slot: a non-NULL slot keeps
     * the pool, and what it points to, until the connection closes.  So keep
     * anything that must live as long as the connection in conn_config
     * (allocated from this pool); within a request hook, c->pool is always
     * there. */
    apr_pool_t *pool;
    apr_socket_t *sock;       /**< the client socket (non-blocking); see pool */
    int fd;                   /**< its descriptor */
    rl_listener_t *listener;  /**< where it was accepted */
    rl_server_t *base_server; /**< default server for the listener */
    const char *client_ip;    /**< peer address as text */
    apr_port_t client_port;
    const char *local_ip; /**< local address as text */
    apr_port_t local_port;
    long id;            /**< unique in this child */
    int keepalives;     /**< requests served so far */
    int aborted;        /**< the client went away */
    void **conn_config; /**< per-module connection blocks; see pool */
    void *core;         /**< core-owned engine state */
    /** The transport (rl_io.h), NULL for plain TCP.  A module installs it
     *  in pre_connection (mod_ssl: TLS); the core reads and writes
     *  through it and destroys it when the connection closes.
     *  @since API 20261128.2 */
    struct rl_io_t *io;
    /** For a secondary connection (one HTTP/2 stream, see rl_protocol.h):
     *  the client connection it belongs to; NULL for a client connection.
     *  TLS variables are the master's.  @since API 20261130.0 */
    rl_conn_t *master;
};

/** A request. */
struct rl_request_t {
    apr_pool_t *pool; /**< freed when the request is done */
    rl_conn_t *connection;
    rl_server_t *server;     /**< the virtual host chosen */
    rl_location_t *location; /**< last matching location, or NULL */
    void **per_dir_config;   /**< merged per-module blocks for the URI */
    void **request_config;   /**< per-module request state */

    apr_time_t request_time;  /**< when the first byte arrived */
    const char *the_request;  /**< the request line as received */
    const char *method;       /**< "GET" */
    const char *protocol;     /**< "HTTP/1.1" */
    int proto_num;            /**< 1001 */
    const char *unparsed_uri; /**< request-target as received */
    const char *uri;          /**< path, percent-encoded, normalised */
    const char *args;         /**< query string without '?', or NULL */
    const char *hostname;     /**< Host without port, lower case */
    int header_only;          /**< HEAD: no body is sent */

    apr_table_t *headers_in;      /**< request header fields */
    apr_table_t *headers_out;     /**< response fields (success only) */
    apr_table_t *err_headers_out; /**< response fields, errors too */
    apr_table_t *subprocess_env;  /**< variables (SetEnvIf, %{…}e) */
    apr_table_t *notes;           /**< between modules */

    const char *handler;      /**< SetHandler, or set by translate_name */
    const char *content_type; /**< response Content-Type */
    int status;               /**< response status */
    apr_off_t clength;        /**< response length, -1 when unknown */

    rl_body_kind_e body_kind; /**< request body framing */
    apr_off_t remaining;      /**< request body bytes still unread
                                   (Content-Length form) */
    apr_off_t read_length;    /**< request body bytes read so far */
    int expecting_100;        /**< Expect: 100-continue was sent */

    apr_off_t bytes_sent; /**< response body bytes sent */
    apr_off_t bytes_in;   /**< request bytes read incl. head */
    apr_off_t bytes_out;  /**< response bytes sent incl. head */
    const char *user;     /**< authenticated user, or NULL */
    int keepalive;        /**< the connection stays open after */
    void *core;           /**< core-owned engine state */
};

/* ------------------------------------------------------------------ */
/* Response and body API for handlers                                 */
/* ------------------------------------------------------------------ */

/** Sets the response Content-Length (before the first write). */
RL_DECLARE(void) rl_set_content_length(rl_request_t *r, apr_off_t len);

/** Sets the response Content-Type (copied into r->pool). */
RL_DECLARE(void) rl_set_content_type(rl_request_t *r, const char *type);

/**
 * Appends response body bytes; the head is sent before the first bytes.
 * Without rl_set_content_length() the body is chunked (HTTP/1.1) or
 * close-delimited (HTTP/1.0).  Bytes are queued, never lost; see
 * rl_output_congested().
 * @return APR_SUCCESS, or an error when the client is gone
 */
RL_DECLARE(apr_status_t)
rl_rwrite(rl_request_t *r, const void *buf, apr_size_t len);
/** rl_rwrite() of a NUL-terminated string. */
RL_DECLARE(apr_status_t) rl_rputs(rl_request_t *r, const char *s);
/** rl_rwrite() of a formatted string. */
RL_DECLARE(apr_status_t)
rl_rprintf(rl_request_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/**
 * True when more than a socket buffer's worth of output waits to be sent.
 * A handler producing a large body should then call rl_request_suspend()
 * and return RL_SUSPENDED; it is resumed once the client has taken most of
 * it.  Under the prefork and worker MPMs this never happens: writes wait.
 */
RL_DECLARE(int) rl_output_congested(rl_request_t *r);

/**
 * Reads request body bytes (dechunked).  Sends "100 Continue" first when
 * the client asked for it.
 * @return APR_SUCCESS with *got > 0; APR_EOF at the end of the body;
 *         APR_EAGAIN when nothing is there yet (event MPM: suspend and be
 *         resumed when bytes arrive); APR_TIMEUP; or another error when the
 *         client is gone or sent a bad body (r->status then says which:
 *         400 or 413).
 */
RL_DECLARE(apr_status_t)
rl_read_body(rl_request_t *r, char *buf, apr_size_t len, apr_size_t *got);

/** Resume function of a suspended handler; returns as a handler does. */
typedef int (*rl_resume_fn)(rl_request_t *r);

/**
 * Arranges for `fn` to be called when the handler can make progress again
 * (body bytes arrived after APR_EAGAIN, or output is no longer congested).
 * The handler then returns RL_SUSPENDED.  State belongs in
 * r->request_config.  Under prefork/worker the core calls fn as soon as
 * the wait is over, on the same thread.
 */
RL_DECLARE(void) rl_request_suspend(rl_request_t *r, rl_resume_fn fn);

/**
 * Waits `delay`, then continues with `fn` (a backend that answers late, a
 * tarpit, a retry back-off).  Under the event MPM nothing blocks: the
 * request is suspended and `fn` runs from the loop when the time is up.
 * Under prefork/worker the thread sleeps and `fn` runs at once after.
 * Use as `return rl_request_sleep(r, delay, fn);`.
 * @return RL_SUSPENDED, or whatever fn returned
 * @since API 20261127.0
 */
RL_DECLARE(int)
rl_request_sleep(rl_request_t *r, apr_interval_time_t delay, rl_resume_fn fn);

/**
 * Waits until `fd` (a socket the handler owns, e.g. to a backend) is
 * ready for `events` (RL_WANT_READ or RL_WANT_WRITE from rl_mpm.h) or
 * until `deadline`, then continues with `fn`.  The handler returns what
 * this returns (RL_SUSPENDED).  In `fn`, rl_request_timed_out() says
 * whether the deadline passed.  `fn` may also run early (a spurious
 * wake-up): it must retry its non-blocking I/O and watch again on EAGAIN.
 * Works under every MPM: the event MPM parks the request in its loop,
 * prefork and worker wait with poll().
 * @since API 20261127.0
 */
RL_DECLARE(int)
rl_request_watch(rl_request_t *r, int fd, int events, apr_time_t deadline,
                 rl_resume_fn fn);

/**
 * Stops watching `fd`: call it before a descriptor given to
 * rl_request_watch() is kept beyond the request (a backend connection
 * going back to a pool) or handed on.  Closing a descriptor needs no call.
 * @since API 20261127.0
 */
RL_DECLARE(void) rl_request_unwatch(rl_request_t *r, int fd);

/** In a resume function: true when the deadline of rl_request_watch()
 *  passed before the descriptor was ready.  The end of rl_request_sleep()
 *  is not a timeout: after it this is false. */
RL_DECLARE(int) rl_request_timed_out(const rl_request_t *r);

/**
 * Turns the connection into a two-way byte tunnel with `fd` (after an
 * upgrade, e.g. WebSocket): sends the response head with status 101,
 * r->headers_out (Upgrade: …) and "Connection: Upgrade", then relays bytes
 * both ways, passing half-closes on, until both directions are closed or
 * nothing moved for `idle` (0: Timeout).  `pending` holds bytes already
 * read from `fd` that belong to the client.  The core owns `fd` from here
 * and closes it.  The handler returns what this returns (RL_DONE).
 * @since API 20261127.0
 */
RL_DECLARE(int)
rl_request_tunnel(rl_request_t *r, int fd, const char *pending, apr_size_t n,
                  apr_interval_time_t idle);

/**
 * The virtual host the core chooses for a request on c naming `host`
 * (a Host header value, or a TLS SNI name): name-based among the vhosts
 * of c's address, else the address's default.  Never NULL.
 * @since API 20261128.2
 */
RL_DECLARE(rl_server_t *) rl_server_for_host(rl_conn_t *c, const char *host);

/**
 * rl_request_tunnel() for a backend reached through a transport (TLS):
 * the core owns fd and io from here, and destroys io when the tunnel
 * ends.  @since API 20261128.2
 */
RL_DECLARE(int)
rl_request_tunnel_io(rl_request_t *r, int fd, struct rl_io_t *io,
                     const char *pending, apr_size_t n,
                     apr_interval_time_t idle);

/**
 * Sees a response's body on its way out (mod_cache stores what it sees).
 * `fn` is called with each piece of body the handler writes (data, len;
 * final 0), then once with final 1 when the response was sent complete
 * and its framing is intact, or final -1 when it was not (the client went
 * away, the handler failed after the head, a length mismatch): a cache
 * then discards what it kept.  Set it at the latest from the
 * response_head hook; one tap per request (a second call replaces the
 * first).  Pieces are the handler's, before chunked coding; nothing is
 * copied for the tap.
 * @since API 20261128.1
 */
typedef void (*rl_response_tap_fn)(rl_request_t *r, void *ctx, const char *data,
                                   apr_size_t len, int final);
RL_DECLARE(void)
rl_response_tap(rl_request_t *r, rl_response_tap_fn fn, void *ctx);

/**
 * Sends `len` bytes of the open file `fd` from `offset` as the response
 * body, with sendfile(2) (no copy through user space).  The core owns
 * `fd` from here and closes it once sent (or when the client is gone).
 * Call it once, after rl_set_content_length() with the body's whole
 * length and before anything else is written; nothing may be written
 * after it.  A HEAD request sends only the head.  Works under every MPM
 * (prefork and worker wait until it is out; under event the loop sends it
 * as the client takes it, and the handler returns RL_OK at once).
 * @return APR_SUCCESS, or an error (the fd is closed either way)
 * @since API 20261128.1
 */
RL_DECLARE(apr_status_t)
rl_sendfile(rl_request_t *r, int fd, apr_off_t offset, apr_size_t len);

/**
 * Runs the per-location lookup again for r->uri (after a module changed
 * it) and stores the merged blocks in r->per_dir_config.
 */
RL_DECLARE(void) rl_request_lookup_location(rl_request_t *r);

/** The canonical "Server" header value for the current ServerTokens. */
RL_DECLARE(const char *) rl_server_banner(void);

/** Relais's version string, "0.1.0". */
RL_DECLARE(const char *) rl_version(void);

#ifdef __cplusplus
}
#endif
#endif /* RL_HTTP_H */
