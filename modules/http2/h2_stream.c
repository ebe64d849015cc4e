/*
 * h2_stream.c: one HTTP/2 stream, served by the core's HTTP/1.1 engine.
 *
 * Each stream is a secondary connection (rl_conn_open_secondary()) whose
 * transport is the stream itself:
 *
 *   client --HEADERS/DATA--> h2_stream_on_header/on_data --> stage, body_in
 *        recv():  "GET /x HTTP/1.1\r\nHost: a\r\n...\r\n" + body (framed)
 *   engine --"HTTP/1.1 200 OK\r\n...\r\n" + body--> send(): parsed here
 *        --> nghttp2_submit_response() + body_out --> DATA frames
 *
 * So every request hook, handler and log sees an ordinary request.  Both
 * directions are bounded: the request body by the stream's flow-control
 * window (we give window back only as the engine reads), the response by
 * H2_BODY_MAX (send() takes no more and says EAGAIN, and the stream runs
 * again once the client has taken part of it).
 */
#include <string.h>

#include <apr_strings.h>

#include "h2_private.h"

RL_LOG_USE_MODULE(http2);

/** Response body held per stream before send() says EAGAIN. */
#define H2_BODY_MAX (128 * 1024)
/** Longest response head accepted from the engine, and its most fields. */
#define H2_HEAD_MAX (64 * 1024)
#define H2_HEAD_FIELDS 1000

/* --- byte buffers ----------------------------------------------------- */

apr_size_t h2_buf_len(const h2_buf_t *b)
{
    return b->end - b->start;
}

int h2_buf_add(h2_buf_t *b, const char *p, apr_size_t n)
{
    if (b->end + n > b->cap) {
        apr_size_t used = b->end - b->start, cap;
        if (b->start > 0) {
            memmove(b->data, b->data + b->start, used);
            b->start = 0;
            b->end = used;
        }
        if (used + n > b->cap) {
            char *nb;
            cap = b->cap ? b->cap : 1024;
            while (cap < used + n) {
                cap *= 2;
            }
            nb = realloc(b->data, cap);
            if (nb == NULL) {
                return -1;
            }
            b->data = nb;
            b->cap = cap;
        }
    }
    memcpy(b->data + b->end, p, n);
    b->end += n;
    return 0;
}

apr_size_t h2_buf_take(h2_buf_t *b, char *out, apr_size_t n)
{
    apr_size_t have = b->end - b->start;

    if (n > have) {
        n = have;
    }
    memcpy(out, b->data + b->start, n);
    b->start += n;
    if (b->start == b->end) {
        b->start = b->end = 0;
    }
    return n;
}

void h2_buf_free(h2_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

static int h2_buf_puts(h2_buf_t *b, const char *s)
{
    return h2_buf_add(b, s, strlen(s));
}

/* --- request side: HTTP/2 fields (h2_request.c) and DATA ------------- */

/* A buffer a spare stream keeps (larger ones go back to malloc: a big
 * response must not pin its memory for the session's life). */
#define H2_BUF_KEEP (16 * 1024)
/** Spare stream records a session keeps (each: its pool's first node,
 *  and its buffers). */
#define H2_SPARE_MAX 16

/* Empties b for the next stream: keeps its memory if it is small. */
static void h2_buf_reset(h2_buf_t *b)
{
    if (b->cap > H2_BUF_KEEP) {
        h2_buf_free(b);
    }
    b->start = b->end = 0;
}

h2_stream_t *h2_stream_create(h2_session_t *s, int32_t id)
{
    h2_stream_t *st = s->spare;

    if (st != NULL) {
        /* a spare: pool already cleared, buffers empty; the rest zeroed
         * as calloc would */
        apr_pool_t *pool = st->pool;
        h2_buf_t stage = st->stage, body_in = st->body_in, head = st->head,
                 body_out = st->body_out;

        s->spare = st->next;
        s->nspare--;
        memset(st, 0, sizeof(*st));
        st->pool = pool;
        st->stage = stage;
        st->body_in = body_in;
        st->head = head;
        st->body_out = body_out;
    } else {
        st = calloc(1, sizeof(*st));
        if (st == NULL) {
            return NULL;
        }
        if (apr_pool_create_unmanaged_ex(&st->pool, NULL, s->alloc) !=
            APR_SUCCESS) {
            free(st);
            return NULL;
        }
    }
    st->s = s;
    st->id = id;
    st->want = RL_WANT_READ;
    h2_request_init(&st->req, st->pool);
    return st;
}

static void h2_stream_free(h2_stream_t *st)
{
    h2_buf_free(&st->stage);
    h2_buf_free(&st->body_in);
    h2_buf_free(&st->head);
    h2_buf_free(&st->body_out);
    apr_pool_destroy(st->pool);
    free(st);
}

void h2_stream_free_spares(h2_session_t *s)
{
    while (s->spare != NULL) {
        h2_stream_t *st = s->spare;
        s->spare = st->next;
        h2_stream_free(st);
    }
    s->nspare = 0;
}

int h2_stream_on_header(h2_stream_t *st, const nghttp2_nv *nv)
{
    const rl_server_t *bs = st->s->c->base_server;
    h2_request_limits_t lim;

    lim.max_header_list = (apr_size_t)st->s->conf.max_header_list;
    lim.max_field =
        bs->limit_req_fieldsize > 0 ? (apr_size_t)bs->limit_req_fieldsize : 0;
    lim.max_fields = bs->limit_req_fields > 0 ? bs->limit_req_fields : 0;
    h2_request_add(&st->req, &lim, (const char *)nv->name, nv->namelen,
                   (const char *)nv->value, nv->valuelen);
    return 0;
}

int h2_stream_on_data(h2_stream_t *st, const uint8_t *data, size_t len)
{
    if (st->req.refused || (st->started && st->sec == NULL)) {
        /* nobody will read it: give the window back at once */
        nghttp2_session_consume(st->s->ngh, st->id, len);
        return 0;
    }
    if (h2_buf_add(&st->body_in, (const char *)data, len) != 0) {
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    st->unconsumed += len;
    return 0;
}

void h2_stream_on_end(h2_stream_t *st)
{
    st->in_eof = 1;
}

int h2_stream_in_progress(const h2_stream_t *st)
{
    return !st->body_eof || h2_buf_len(&st->body_out) > 0;
}

/* Gives n bytes of request body the engine has read back to the client's
 * windows (automatic window updates are off: this is what bounds what a
 * client can make us buffer). */
static void h2_give_back(h2_stream_t *st, apr_size_t n)
{
    st->unconsumed -= n;
    if (st->closed) {
        nghttp2_session_consume_connection(st->s->ngh, n);
    } else {
        nghttp2_session_consume(st->s->ngh, st->id, n);
    }
}

/* --- response side: the HTTP/1.1 response to HEADERS and DATA --------- */

static ssize_t h2_read_body(nghttp2_session *ngh, int32_t id, uint8_t *buf,
                            size_t length, uint32_t *flags,
                            nghttp2_data_source *src, void *ud)
{
    h2_stream_t *st = src->ptr;
    apr_size_t n = h2_buf_take(&st->body_out, (char *)buf, length);

    (void)ngh;
    (void)id;
    (void)ud;
    if (h2_buf_len(&st->body_out) == 0 && st->body_eof) {
        if (st->broken) {
            /* cut short: what came goes out, then a reset says so (a
             * clean END_STREAM would pass a truncated body as whole) */
            return n > 0 ? (ssize_t)n : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t)n;
    }
    if (n == 0) {
        st->deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    st->stall_since = 0; /* the client took some: its Timeout starts anew */
    if (st->want == RL_WANT_WRITE) {
        st->s->dirty = 1; /* room again: the engine may write */
    }
    return (ssize_t)n;
}

static void h2_resume(h2_stream_t *st)
{
    if (st->deferred && !st->closed && !st->s->dying) {
        st->deferred = 0;
        nghttp2_session_resume_data(st->s->ngh, st->id);
    }
}

/* The response cannot be completed: reset the stream (after the body
 * bytes already taken, if the head went out). */
static void h2_break(h2_stream_t *st)
{
    if (st->body_eof && !st->broken) {
        return;
    }
    st->broken = 1;
    st->body_eof = 1;
    if (st->s->dying || st->closed) {
        return;
    }
    if (!st->head_done) {
        nghttp2_submit_rst_stream(st->s->ngh, NGHTTP2_FLAG_NONE, st->id,
                                  NGHTTP2_INTERNAL_ERROR);
    } else {
        h2_resume(st);
    }
}

/* The head's names and values live in the stream's pool, which outlives
 * the HEADERS frame (nghttp2 encodes it before the stream can close, and
 * drops it unread for a stream closed first): nghttp2 need not copy them.
 * (h2_answer's value "0" is a literal.) */
#define H2_NV_POOLED                                                           \
    (NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE)

/* Submits a head (final, or 1xx when final is 0) from parsed fields. */
static int h2_submit_head(h2_stream_t *st, const rl_http_response_t *h,
                          int final, int with_body)
{
    nghttp2_nv *nva = apr_palloc(st->pool, sizeof(*nva) * (h->nfields + 1));
    char *status = apr_itoa(st->pool, h->status);
    nghttp2_data_provider prd;
    int i, n = 0;

    nva[n].name = (uint8_t *)":status";
    nva[n].namelen = 7;
    nva[n].value = (uint8_t *)status;
    nva[n].valuelen = strlen(status);
    nva[n].flags = H2_NV_POOLED;
    n++;
    for (i = 0; i < h->nfields; i++) {
        /* names are in lower case already (h2_response.c, h2_answer) */
        const char *name = h->fields[i].name;
        if (h2_hop_by_hop(name)) {
            continue;
        }
        nva[n].name = (uint8_t *)name;
        nva[n].namelen = strlen(name);
        nva[n].value = (uint8_t *)h->fields[i].value;
        nva[n].valuelen = strlen(h->fields[i].value);
        nva[n].flags = H2_NV_POOLED;
        n++;
    }
    if (!final) {
        return nghttp2_submit_headers(st->s->ngh, NGHTTP2_FLAG_NONE, st->id,
                                      NULL, nva, (size_t)n, NULL);
    }
    prd.source.ptr = st;
    prd.read_callback = h2_read_body;
    return nghttp2_submit_response(st->s->ngh, st->id, nva, (size_t)n,
                                   with_body ? &prd : NULL);
}

/* A complete head from the engine: 1xx goes out as an interim head (100
 * and 103 only; RFC 9113 8.6 has no 101), a final one starts the
 * response.  RL_HTTP_OK, or 502 when it makes no sense. */
static int h2_head_complete(h2_stream_t *st, const char *head,
                            apr_size_t head_len)
{
    rl_http_response_t h;
    const char *why = NULL;
    apr_off_t length = 0;
    int rc;

    rc = h2_response_parse(st->pool, head, head_len, H2_HEAD_FIELDS, &h, &why);
    if (rc == RL_HTTP_OK && h.status < 200) {
        if (h.status == 100 || h.status == 103) {
            h2_submit_head(st, &h, 0, 0);
        }
        return RL_HTTP_OK;
    }
    if (rc == RL_HTTP_OK) {
        rc = rl_http_response_framing(&h, st->head_request, &st->kind, &length,
                                      &why);
    }
    if (rc != RL_HTTP_OK) {
        rl_log_cerror(RL_LOG_ERR, 0, st->s->c,
                      "stream %d: the response the core wrote is not valid "
                      "HTTP/1.1 (%s): stream reset",
                      (int)st->id, why ? why : "?");
        return rc;
    }
    st->remaining = length;
    if (st->kind == RL_BODY_LENGTH && length == 0) {
        st->kind = RL_BODY_NONE;
    }
    st->head_done = 1;
    if (st->kind == RL_BODY_NONE) {
        st->body_eof = 1;
    }
    if (h2_submit_head(st, &h, 1, st->kind != RL_BODY_NONE) != 0) {
        return 502;
    }
    return RL_HTTP_OK;
}

/* Takes head bytes from buf; *took says how many were head (the rest is
 * body).  RL_HTTP_OK (go on), or an error status. */
static int h2_take_head(h2_stream_t *st, const char *buf, apr_size_t len,
                        apr_size_t *took)
{
    apr_size_t had = h2_buf_len(&st->head), add = len, head_len = 0;
    const char *head;
    int rc;

    if (had + add > H2_HEAD_MAX) {
        add = H2_HEAD_MAX - had;
    }
    *took = 0;
    if (add == 0) {
        return 502;
    }
    if (had == 0) {
        /* the usual case: the whole head in one write, read where the
         * engine has it (copied only if it comes in pieces) */
        head = buf;
    } else {
        if (h2_buf_add(&st->head, buf, add) != 0) {
            return 502;
        }
        head = st->head.data + st->head.start;
    }
    if (!h2_head_find(head, had + add, &st->head_scan, &head_len)) {
        if (had == 0 && h2_buf_add(&st->head, buf, add) != 0) {
            return 502;
        }
        *took = add;
        return RL_HTTP_OK;
    }
    *took = head_len - had; /* the rest of what we appended is body */
    rc = h2_head_complete(st, head, head_len);
    st->head.start = st->head.end = 0;
    st->head_scan = 0;
    return rc;
}

/* Body bytes from the engine, as its framing says.  Returns how many of
 * buf were taken (fewer when body_out is full), or -1 (bad chunking). */
static apr_ssize_t h2_take_body(h2_stream_t *st, const char *buf,
                                apr_size_t len)
{
    apr_size_t room = H2_BODY_MAX - h2_buf_len(&st->body_out), took = 0;

    if (st->body_eof) {
        return (apr_ssize_t)len; /* nothing may follow: not ours to send */
    }
    if (room == 0) {
        return 0;
    }
    if (len > room) {
        len = room; /* decoded bytes never outnumber the raw ones */
    }
    switch (st->kind) {
    case RL_BODY_LENGTH:
        if ((apr_off_t)len > st->remaining) {
            len = (apr_size_t)st->remaining;
        }
        if (h2_buf_add(&st->body_out, buf, len) != 0) {
            return -1;
        }
        st->remaining -= (apr_off_t)len;
        st->body_eof = st->remaining == 0;
        return (apr_ssize_t)len;
    case RL_BODY_CHUNKED:
        while (took < len && !st->body_eof) {
            const char *data = NULL;
            apr_size_t used = 0, dlen = 0;
            int rc = rl_http_chunked_next(&st->chunked, buf + took, len - took,
                                          8192, &used, &data, &dlen);
            if (rc > 0) {
                return -1;
            }
            if (dlen > 0 && h2_buf_add(&st->body_out, data, dlen) != 0) {
                return -1;
            }
            took += used;
            if (rc == RL_HTTP_DONE) {
                st->body_eof = 1;
            } else if (rc == RL_HTTP_AGAIN) {
                took = len; /* the decoder keeps partial framing */
            }
        }
        return (apr_ssize_t)took;
    default: /* until the engine closes */
        if (h2_buf_add(&st->body_out, buf, len) != 0) {
            return -1;
        }
        return (apr_ssize_t)len;
    }
}

/* --- the stream's transport (rl_io.h), seen by the engine ------------- */

static apr_status_t h2_io_recv(rl_io_t *io, char *buf, apr_size_t len,
                               apr_size_t *got)
{
    h2_stream_t *st = io->ctx;
    apr_size_t n = 0;

    *got = 0;
    while (n < len) {
        apr_size_t k;

        if (h2_buf_len(&st->stage) > 0) {
            n += h2_buf_take(&st->stage, buf + n, len - n);
            continue;
        }
        k = h2_buf_len(&st->body_in);
        if (k > 0 && st->chunk_left > 0) {
            if ((apr_off_t)k > st->chunk_left) {
                k = (apr_size_t)st->chunk_left;
            }
            k = h2_buf_take(&st->body_in, buf + n, k < len - n ? k : len - n);
            n += k;
            st->chunk_left -= (apr_off_t)k;
            h2_give_back(st, k);
            if (st->chunk_left == 0 && st->chunked_in) {
                h2_buf_puts(&st->stage, "\r\n");
            }
            continue;
        }
        if (k > 0) {
            /* what has arrived is the next chunk (or just more bytes of
             * a body with a Content-Length) */
            if (st->chunked_in) {
                char line[32];
                apr_snprintf(line, sizeof(line), "%lx\r\n", (unsigned long)k);
                h2_buf_puts(&st->stage, line);
            }
            st->chunk_left = (apr_off_t)k;
            continue;
        }
        if (st->in_eof && st->chunked_in && !st->final_chunk_staged) {
            h2_buf_puts(&st->stage, "0\r\n\r\n");
            st->final_chunk_staged = 1;
            continue;
        }
        break;
    }
    if (n > 0) {
        *got = n;
        return APR_SUCCESS;
    }
    /* One request per stream: once the response is complete (or the
     * stream is gone), the engine reads the end of its "connection". */
    if (st->body_eof || st->closed) {
        return APR_EOF;
    }
    io->want = RL_WANT_READ;
    return APR_EAGAIN;
}

static apr_status_t h2_io_send(rl_io_t *io, const char *buf, apr_size_t len,
                               apr_size_t *sent)
{
    h2_stream_t *st = io->ctx;

    *sent = 0;
    if (st->closed) {
        return APR_ECONNRESET; /* the client reset the stream */
    }
    while (*sent < len) {
        apr_size_t took = 0;
        apr_ssize_t k;

        if (!st->head_done) {
            int rc = h2_take_head(st, buf + *sent, len - *sent, &took);
            *sent += took;
            if (rc != RL_HTTP_OK) {
                h2_break(st);
                return APR_EGENERAL;
            }
            continue;
        }
        k = h2_take_body(st, buf + *sent, len - *sent);
        if (k < 0) {
            h2_break(st);
            return APR_EGENERAL;
        }
        if (k == 0) {
            break;
        }
        *sent += (apr_size_t)k;
    }
    if (h2_buf_len(&st->body_out) > 0 || st->body_eof) {
        h2_resume(st);
    }
    if (*sent < len) {
        io->want = RL_WANT_WRITE;
        return APR_EAGAIN;
    }
    return APR_SUCCESS;
}

/* The engine ended its side: a body delimited by the close ends here;
 * any other unfinished response was cut short. */
static void h2_io_shutdown(rl_io_t *io)
{
    h2_stream_t *st = io->ctx;

    if (st == NULL || st->body_eof) {
        return;
    }
    if (st->head_done && st->kind == RL_BODY_UNTIL_CLOSE) {
        st->body_eof = 1;
        h2_resume(st);
        return;
    }
    h2_break(st);
}

static void h2_io_destroy(rl_io_t *io)
{
    h2_stream_t *st = io->ctx;

    if (st != NULL) {
        h2_io_shutdown(io);
        st->io = NULL;
        st->sec = NULL;
    }
    /* io is st->io_rec: nothing to free */
}

static const rl_io_methods_t h2_io_methods = {"h2", h2_io_recv, h2_io_send,
                                              h2_io_shutdown, h2_io_destroy};

/* --- starting, driving, ending ---------------------------------------- */

/* Answers the stream ourselves, without the engine (refused headers). */
static void h2_answer(h2_stream_t *st, int status)
{
    rl_http_response_t h;
    rl_http_field_t f = {"content-length", "0"};

    memset(&h, 0, sizeof(h));
    h.status = status;
    h.fields = &f;
    h.nfields = 1;
    st->head_done = 1;
    st->body_eof = 1;
    st->kind = RL_BODY_NONE;
    h2_submit_head(st, &h, 1, 0);
}

void h2_stream_start(h2_stream_t *st, apr_time_t now)
{
    const char *head;
    apr_size_t len;
    rl_io_t *io;
    int rc;

    st->started = 1;
    rc = h2_request_head(&st->req, st->in_eof, h2_buf_len(&st->body_in), &head,
                         &len, &st->chunked_in);
    if (rc == 431) {
        rl_log_cerror(RL_LOG_INFO, 0, st->s->c,
                      "stream %d: request header fields too large (%lu bytes "
                      "decoded; H2MaxHeaderListSize %d, LimitRequestFields, "
                      "LimitRequestFieldSize): 431",
                      (int)st->id, (unsigned long)st->req.header_bytes,
                      st->s->conf.max_header_list);
    } else if (rc != 0) {
        /* nghttp2 refuses these first; CONNECT (a tunnel over a stream)
         * is what is left in practice, and not provided */
        rl_log_cerror(RL_LOG_INFO, 0, st->s->c, "stream %d: %s: %d",
                      (int)st->id, st->req.why ? st->req.why : "refused", rc);
    }
    if (rc != 0) {
        h2_answer(st, rc);
        return;
    }
    st->head_request = strcmp(st->req.method, "HEAD") == 0;
    if (h2_buf_add(&st->stage, head, len) != 0) {
        h2_answer(st, 500);
        return;
    }
    io = &st->io_rec;
    memset(io, 0, sizeof(*io));
    io->m = &h2_io_methods;
    io->fd = -1;
    io->ctx = st;
    st->io = io;
    st->sec = rl_conn_open_secondary(st->s->c, io);
    if (st->sec == NULL) {
        st->io = NULL; /* destroyed by the core */
        return;
    }
    h2_stream_drive(st, now, 1);
}

/* Whether the engine, waiting to read, has something to read. */
static int h2_readable(const h2_stream_t *st)
{
    return h2_buf_len(&st->stage) > 0 || h2_buf_len(&st->body_in) > 0 ||
           st->body_eof || st->closed ||
           (st->in_eof && st->chunked_in && !st->final_chunk_staged);
}

static void h2_close_secondary(h2_stream_t *st)
{
    rl_conn_t *sec = st->sec;

    if (sec != NULL) {
        st->sec = NULL;
        rl_conn_close(sec); /* destroys io: h2_io_destroy() */
        st->io = NULL;
    }
}

int h2_stream_drive(h2_stream_t *st, apr_time_t now, int force)
{
    int run = force, timed_out, i;

    if (st->sec == NULL) {
        return 0;
    }
    switch (st->want) {
    case RL_WANT_READ:
        run |= h2_readable(st);
        break;
    case RL_WANT_WRITE:
        run |= h2_buf_len(&st->body_out) < H2_BODY_MAX / 2 || st->closed;
        break;
    default:
        /* a backend it watches, or a handler on a pool thread: running
         * it when nothing happened is harmless (it waits again) */
        run = 1;
        break;
    }
    timed_out = st->deadline != 0 && now >= st->deadline;
    if (!run && !timed_out) {
        return 0;
    }
    /* the engine may say "read" without trying when it believes the
     * transport empty: run it again while it has something to read */
    for (i = 0; i < 4; i++) {
        st->want = rl_conn_run(st->sec, timed_out, &st->deadline);
        timed_out = 0;
        if (st->want == RL_WANT_CLOSE) {
            h2_close_secondary(st);
            return 1;
        }
        if (st->want != RL_WANT_READ || !h2_readable(st)) {
            break;
        }
    }
    return 1;
}

void h2_stream_destroy(h2_stream_t *st)
{
    h2_session_t *s = st->s;

    if (st->sec != NULL) {
        if (h2_stream_in_progress(st)) {
            st->sec->aborted = 1; /* the client reset it, or went away */
        }
        h2_close_secondary(st);
    }
    if (st->unconsumed > 0 && !s->dying) {
        nghttp2_session_consume_connection(s->ngh, st->unconsumed);
    }
    if (s->dying || s->nspare >= H2_SPARE_MAX) {
        h2_stream_free(st);
        return;
    }
    /* kept for the next stream: a malloc, a pool and its first node, and
     * the buffers' mallocs saved per stream */
    h2_buf_reset(&st->stage);
    h2_buf_reset(&st->body_in);
    h2_buf_reset(&st->head);
    h2_buf_reset(&st->body_out);
    apr_pool_clear(st->pool);
    st->next = s->spare;
    s->spare = st;
    s->nspare++;
}
