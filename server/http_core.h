/*
 * http_core.h: the connection engine's private state, shared by
 * http_conn.c (reading, state machine), http_response.c (writing) and
 * http_body.c (request bodies).  Never installed.
 */
#ifndef RL_HTTP_CORE_H
#define RL_HTTP_CORE_H

#include "core.h"

/* Where a connection is. */
enum conn_phase {
    PH_READ_HEAD = 0, /* waiting for (the rest of) a request head */
    PH_HANDLER,       /* a suspended handler waits (see conn_wait) */
    PH_FLUSH,         /* the response is complete; sending what is left */
    PH_LINGER,
    /* write side shut; draining input before close */
    PH_TUNNEL, /* relaying raw bytes with another socket (101) */
    PH_OFFLOAD /* a blocking handler runs on a pool thread */
};

/* What a suspended handler waits for. */
enum conn_wait { WAIT_NONE = 0, WAIT_BODY, WAIT_DRAIN, WAIT_TIMER, WAIT_FD };

/* Output is buffered up to this much before a handler is told to pause
 * (event) or the write waits (blocking MPMs). */
#define OUT_HIGH_WATER (256 * 1024)
#define OUT_LOW_WATER (64 * 1024)
/* A body piece this large, with nothing queued before it, is sent from the
 * caller's memory (no copy); smaller ones are queued so that they leave
 * together (and with the head) in one segment. */
#define DIRECT_SEND_MIN (8 * 1024)
/* Response bytes held back before the head goes out, so that a small
 * response gets a Content-Length instead of chunked coding. */
#define PENDING_BODY_MAX (16 * 1024)
#define IN_BUF_INITIAL 8192

/* A two-way byte relay between the client and another socket, after a
 * 101 Switching Protocols (http_tunnel.c). */
typedef struct tunnel_t {
    int fd;                   /* the other side (a backend), owned */
    rl_io_t *io;              /* its transport (TLS), owned, or NULL */
    apr_interval_time_t idle; /* end after this long without traffic */
    char c2o[16384];          /* client -> other */
    apr_size_t c2o_len, c2o_pos;
    char o2c[16384]; /* other -> client */
    apr_size_t o2c_len, o2c_pos;
    int client_eof, other_eof; /* that side sent FIN */
    int other_shut;            /* we sent FIN to the other side */
    int client_shut;           /* we sent FIN to the client */
    int want_other;            /* RL_WANT_READ|WRITE bits for fd */
    int want_client;           /* RL_WANT_READ|WRITE bits for the client */
} tunnel_t;

typedef struct conn_state_t {
    char *in; /* input buffer (malloc), NULL when idle */
    apr_size_t in_cap, in_start, in_end;
    apr_size_t scan_pos; /* rl_http_head_end's state */
    char *out;           /* output buffer (malloc) */
    apr_size_t out_cap, out_start, out_end;
    /* rl_sendfile(): a file region sent after the buffered bytes */
    int has_file;
    int file_fd;
    off_t file_off;
    apr_off_t file_left;
    enum conn_phase phase;
    enum conn_wait wait;
    rl_request_t *r; /* the request in progress, or NULL */
    int blocking;    /* prefork/worker: waits happen inline */
    int close_after; /* close once the response is out */
    int shutdown;    /* the MPM asked the connection to end */
    int eof;         /* the client closed its side */
    int drained;     /* the last read got less than it asked: no more data */
    int wait_first;  /* step_read_head waits before reading (see step_flush) */
    apr_time_t opened;       /* connection start */
    apr_time_t head_started; /* first byte of the current head */
    apr_size_t head_bytes;   /* bytes of the current head so far */
    apr_time_t last_io;      /* last progress (for Timeout) */
    apr_time_t linger_until;
    apr_allocator_t *alloc;
    tunnel_t *tunnel;      /* set by rl_request_tunnel() */
    rl_unwatch_fn unwatch; /* the MPM's, for rl_request_unwatch() */
    void *unwatch_ctx;
    rl_offload_fn offload; /* the MPM's, for blocking handlers */
    void *offload_ctx;
    int offload_rc; /* what the offloaded handler returned */
    int offload_done;
    int preface_done; /* the first bytes are not the HTTP/2 preface */
    const rl_conn_protocol_t *proto; /* rl_conn_set_protocol(), or NULL */
    void *proto_ctx;
    rl_sb_thread_t *sb; /* the scoreboard record of the owning thread */
    int sb_state;       /* RL_SB_* it is counted under, -1 none */
} conn_state_t;

typedef struct req_state_t {
    int head_sent; /* status line and headers are queued */
    int chunked;   /* response body uses chunked coding */
    int finished;  /* handler done, response terminated */
    int no_body;   /* HEAD, 204, 304: no body bytes */
    char *pending; /* body held back before the head */
    apr_size_t pending_len;
    rl_http_chunked_t chunk_in; /* request body decoder */
    int body_eof;               /* request body completely read */
    int sent_100;               /* "100 Continue" already sent */
    apr_off_t body_limit;       /* LimitRequestBody, 0 = none */
    apr_time_t body_started;
    rl_resume_fn resume; /* suspended handler's continuation */
    apr_time_t wake_at;  /* WAIT_TIMER, WAIT_FD: when to resume */
    int watch_fd;        /* WAIT_FD: the descriptor and */
    int watch_events;    /* what for (RL_WANT_READ or RL_WANT_WRITE) */
    int timed_out;       /* the resume comes from the deadline */
    int status_logged;
    rl_response_tap_fn tap; /* rl_response_tap(): sees the body */
    void *tap_ctx;
    int tap_done; /* its final call was made */
} req_state_t;

#define CONN_STATE(c) ((conn_state_t *)(c)->core)
#define REQ_STATE(r) ((req_state_t *)(r)->core)

/* http_conn.c */
apr_status_t rl_conn_fill(rl_conn_t *c);
apr_status_t rl_conn_flush(rl_conn_t *c);
apr_status_t rl_conn_send_direct(rl_conn_t *c, const char *buf, apr_size_t len,
                                 apr_size_t *sent);
apr_status_t rl_conn_wait_io(rl_conn_t *c, int events, apr_time_t deadline);
void rl_conn_out_append(rl_conn_t *c, const void *data, apr_size_t len);
apr_time_t rl_conn_body_deadline(rl_request_t *r);

/* Gives back the input and output buffers (after a protocol switch). */
void rl_conn_drop_buffers(rl_conn_t *c);

/* conn_protocol.c */
/* The first bytes of c are (or may still become) the HTTP/2 preface: 1
 * when switched to a protocol (the caller returns what it runs), 0 when
 * not a preface, -1 when more bytes are needed to tell. */
int rl_conn_try_preface(rl_conn_t *c);

/* http_tunnel.c */
int rl_tunnel_step(rl_conn_t *c, int timed_out);
void rl_tunnel_close(conn_state_t *cs);

/* http_response.c */
void rl_response_send_head(rl_request_t *r);
apr_status_t rl_response_finish(rl_request_t *r);
void rl_response_tap_close(rl_request_t *r, int complete);
void rl_response_send_100(rl_request_t *r);

#endif
