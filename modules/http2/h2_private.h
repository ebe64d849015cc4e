/*
 * h2_private.h: what the files of mod_http2 share.
 *
 *   mod_http2.c   directives, the "h2"/"h2c" providers, take_over()
 *   h2_session.c  one client connection: nghttp2 session, reading and
 *                 writing the client, timeouts, GOAWAY, abuse limits
 *   h2_stream.c   one stream: its secondary connection and the transport
 *                 that turns HTTP/2 frames into HTTP/1.1 bytes and back
 *   h2_request.c  the header list to the HTTP/1.1 request head (pure)
 *   h2_response.c the engine's HTTP/1.1 response head, read back
 */
#ifndef H2_PRIVATE_H
#define H2_PRIVATE_H

#include <nghttp2/nghttp2.h>

#include "relais.h"
#include "rl_protocol.h"

#include "h2_request.h"

/** Sentinel of the integer settings below: not set in this block. */
#define H2_UNSET (-1)

/** Per-server settings (main server and each <VirtualHost>). */
typedef struct h2_server_conf {
    int max_streams;       /**< H2MaxSessionStreams (100) */
    int window_size;       /**< H2WindowSize, per stream (65535) */
    int max_header_list;   /**< H2MaxHeaderListSize, bytes (65536) */
    int reset_limit;       /**< H2StreamResetLimit, per second (100) */
    int max_continuations; /**< H2MaxContinuations (8) */
} h2_server_conf;

extern rl_module_t http2_module;

/** The settings for connection c (its listener's default server). */
const h2_server_conf *h2_conf(const rl_server_t *s);

/** A growable byte buffer (malloc'd: a stream outlives no pool). */
typedef struct h2_buf_t {
    char *data;
    apr_size_t start, end, cap;
} h2_buf_t;

apr_size_t h2_buf_len(const h2_buf_t *b);
/** Appends; 0 on success, -1 when out of memory. */
int h2_buf_add(h2_buf_t *b, const char *p, apr_size_t n);
/** Copies up to n bytes out and drops them; returns how many. */
apr_size_t h2_buf_take(h2_buf_t *b, char *out, apr_size_t n);
void h2_buf_free(h2_buf_t *b);

typedef struct h2_session_t h2_session_t;
typedef struct h2_stream_t h2_stream_t;

/** One stream: a request and its response. */
struct h2_stream_t {
    h2_session_t *s;
    int32_t id;
    apr_pool_t *pool; /**< the stream's own (head fields, names) */
    rl_conn_t *sec;   /**< its secondary connection, NULL before it starts
                           and once it is closed */
    rl_io_t *io;      /**< the transport of sec (io_rec while sec lives;
                           the core "destroys" it: h2_io_destroy) */
    rl_io_t io_rec;   /**< held here: no allocation per stream */
    int want;         /**< what sec waits for (last rl_conn_run) */
    apr_time_t deadline;
    h2_stream_t *next; /**< in the session's list */
    h2_stream_t *prev;

    /* --- request: HTTP/2 headers and DATA, read by sec as HTTP/1.1 */
    h2_request_t req; /**< the header list (h2_request.c) */
    int headers_done; /**< END_HEADERS seen: may start */
    int started;
    int in_eof;             /**< END_STREAM from the client */
    int chunked_in;         /**< the body goes to sec chunked */
    int final_chunk_staged; /**< "0\r\n\r\n" staged */
    h2_buf_t stage;         /**< head and chunk framing not yet read */
    h2_buf_t body_in;       /**< DATA bytes not yet read by sec */
    apr_off_t chunk_left;   /**< body bytes left of the current chunk */
    apr_size_t unconsumed;  /**< DATA bytes not given back to the window */

    /* --- response: HTTP/1.1 bytes from sec, sent as HTTP/2 */
    h2_buf_t head; /**< response head being gathered */
    apr_size_t head_scan;
    int head_done;    /**< the final response was submitted */
    int head_request; /**< HEAD: no body whatever the head says */
    rl_body_kind_e kind;
    apr_off_t remaining; /**< Content-Length bytes still to come */
    rl_http_chunked_t chunked;
    h2_buf_t body_out;      /**< body bytes waiting for nghttp2 */
    int body_eof;           /**< the response is complete */
    int broken;             /**< cut short: reset the stream at the end */
    int deferred;           /**< the data provider said DEFERRED */
    apr_time_t stall_since; /**< body_out waits for the client's window
                                 since then (0: it does not wait) */
    int stall_reset;        /**< reset for taking nothing (Timeout) */

    /* --- life */
    int closed; /**< nghttp2 closed the stream */
    int reset_by_client;
};

/** One client connection. */
struct h2_session_t {
    rl_conn_t *c;
    nghttp2_session *ngh;
    h2_server_conf conf;    /**< the base server's settings */
    apr_allocator_t *alloc; /**< for the streams' pools */
    h2_stream_t *streams;   /**< every stream we hold */
    int nstreams;
    h2_stream_t *spare; /**< ended streams kept for reuse, their pool
                             cleared and their buffers kept (h2_stream.c) */
    int nspare;

    char *out; /**< bytes for the client, gathered from nghttp2 */
    apr_size_t out_len, out_off;
    const uint8_t *rest; /**< part of nghttp2's last piece not copied */
    apr_size_t rest_len;

    int client_events; /**< what c->fd waits for (RL_WANT_* bits) */
    int eof;           /**< the client closed its side */
    int fatal;         /**< the connection cannot go on */
    int calm_down;     /**< GOAWAY ENHANCE_YOUR_CALM sent */
    int shutting_down; /**< graceful: notice sent */
    int final_goaway;  /**< the last GOAWAY was submitted */
    int dirty;         /**< a stream became runnable */
    int ngh_dead;      /**< nghttp2 failed fatally: no more calls */
    int busy;          /**< run() stopped with work left */
    int dying;         /**< close(): no more nghttp2 calls */
    int lingering;     /**< our side is shut: draining the client */
    apr_time_t linger_until;
    apr_time_t notice_at;    /**< when the shutdown notice was submitted */
    h2_stream_t *tail;       /**< last of streams (they start in order) */
    apr_time_t last_read;    /**< last bytes from the client */
    apr_time_t last_write;   /**< last bytes the client took */
    apr_time_t idle_since;   /**< when the last stream ended */
    apr_time_t reset_window; /**< start of the current reset second */
    int resets;              /**< client resets in it */
};

/* h2_stream.c */
h2_stream_t *h2_stream_create(h2_session_t *s, int32_t id);
/** Starts the stream's secondary connection (headers are complete); now:
 *  the caller's clock (one reading per round, not per stream). */
void h2_stream_start(h2_stream_t *st, apr_time_t now);
/** Runs sec if what it waits for may have happened; 1 when it ran. */
int h2_stream_drive(h2_stream_t *st, apr_time_t now, int force);
/** Ends a stream whose nghttp2 stream is closed, closing sec; keeps its
 *  record for the session's next stream, or frees it. */
void h2_stream_destroy(h2_stream_t *st);
/** Frees the session's spare stream records (at its close). */
void h2_stream_free_spares(h2_session_t *s);
/** nghttp2 callbacks of the request side. */
int h2_stream_on_header(h2_stream_t *st, const nghttp2_nv *nv);
int h2_stream_on_data(h2_stream_t *st, const uint8_t *data, size_t len);
void h2_stream_on_end(h2_stream_t *st);
/** Whether the response is still in progress (for the reset count). */
int h2_stream_in_progress(const h2_stream_t *st);

/* h2_response.c */
/** Looks for the end of a response head ("\r\n\r\n") from *scan (0 at
 *  first; updated for the next call when not found).  1 with *head_len
 *  when found, 0 when more bytes are needed. */
int h2_head_find(const char *buf, apr_size_t len, apr_size_t *scan,
                 apr_size_t *head_len);
/** Parses a complete response head as rl_http_parse_response() would,
 *  names in lower case, strings in p.  RL_HTTP_OK, or 502 and *why. */
int h2_response_parse(apr_pool_t *p, const char *buf, apr_size_t len,
                      int max_fields, rl_http_response_t *out,
                      const char **why);

/* h2_session.c */
int h2_session_take_over(rl_conn_t *c, const char *data, apr_size_t len);
extern const rl_conn_protocol_t h2_protocol;

#endif /* H2_PRIVATE_H */
