/*
 * h2_session.c: one HTTP/2 client connection (RFC 9113).
 *
 * run() never waits.  Each call:
 *   1. reads what the client sent (through c->io: TLS or plain) and feeds
 *      it to nghttp2, which calls us back per header, DATA chunk, frame;
 *   2. starts the streams whose headers are complete, after the whole
 *      batch was read: a HEADERS reset in the same batch costs nothing;
 *   3. runs the streams that may progress (h2_stream.c);
 *   4. writes what nghttp2 has for the client, gathered into one buffer;
 * until nothing moves, then says what to wait for: the client's socket,
 * or also the descriptors the streams' handlers watch (RL_WANT_OTHER).
 *
 * Abuse limits, besides nghttp2's own (SETTINGS/PING floods, CONTINUATION
 * count, its reset token bucket):
 *  - rapid reset (CVE-2023-44487): client resets of streams whose
 *    response is unfinished are counted per second; past
 *    H2StreamResetLimit the connection gets GOAWAY ENHANCE_YOUR_CALM and
 *    is closed;
 *  - HPACK bombs and CONTINUATION floods: decoded header bytes per request
 *    are bounded (H2MaxHeaderListSize; 431), CONTINUATION frames too
 *    (H2MaxContinuations: past it nghttp2 ends the connection);
 *  - request bodies: windows are given back only as the handler reads, so
 *    a connection buffers at most H2_CONN_WINDOW bytes of them.
 */
#include <string.h>

#include "h2_private.h"

RL_LOG_USE_MODULE(http2);

/** Bytes gathered from nghttp2 before writing to the client. */
#define H2_OUT_MAX (64 * 1024)
/** The connection's receive window: request body bytes buffered at most. */
#define H2_CONN_WINDOW (1024 * 1024)
/** How long a closing connection reads what the client still sends. */
#define H2_LINGER apr_time_from_sec(2)
/** Between the shutdown notice and the final GOAWAY (about one RTT). */
#define H2_NOTICE_WAIT apr_time_from_msec(100)

static h2_stream_t *h2_find(h2_session_t *s, int32_t id)
{
    return nghttp2_session_get_stream_user_data(s->ngh, id);
}

static void h2_link(h2_session_t *s, h2_stream_t *st)
{
    st->prev = s->tail;
    if (s->tail != NULL) {
        s->tail->next = st;
    } else {
        s->streams = st;
    }
    s->tail = st;
    s->nstreams++;
}

static void h2_unlink(h2_session_t *s, h2_stream_t *st)
{
    if (st->prev != NULL) {
        st->prev->next = st->next;
    } else {
        s->streams = st->next;
    }
    if (st->next != NULL) {
        st->next->prev = st->prev;
    } else {
        s->tail = st->prev;
    }
    if (--s->nstreams == 0) {
        s->idle_since = apr_time_now();
    }
}

/* A client reset of a stream still in progress.  Cheap for the client,
 * costly for us (a request started, a backend asked): past the budget,
 * the connection ends. */
static void h2_count_reset(h2_session_t *s)
{
    apr_time_t now = apr_time_now();

    if (now - s->reset_window >= apr_time_from_sec(1)) {
        s->reset_window = now;
        s->resets = 0;
    }
    if (++s->resets > s->conf.reset_limit && !s->calm_down) {
        rl_log_cerror(RL_LOG_WARNING, 0, s->c,
                      "HTTP/2 client reset more than %d unfinished streams "
                      "within a second (rapid reset, CVE-2023-44487; "
                      "H2StreamResetLimit): GOAWAY ENHANCE_YOUR_CALM",
                      s->conf.reset_limit);
        nghttp2_session_terminate_session(s->ngh, NGHTTP2_ENHANCE_YOUR_CALM);
        s->calm_down = 1;
    }
}

/* --- nghttp2 callbacks ------------------------------------------------ */

static int h2_on_begin_headers(nghttp2_session *ngh, const nghttp2_frame *f,
                               void *ud)
{
    h2_session_t *s = ud;
    h2_stream_t *st;

    if (f->hd.type != NGHTTP2_HEADERS ||
        f->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0;
    }
    st = h2_stream_create(s, f->hd.stream_id);
    if (st == NULL) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets it */
    }
    h2_link(s, st);
    nghttp2_session_set_stream_user_data(ngh, f->hd.stream_id, st);
    return 0;
}

static int h2_on_header(nghttp2_session *ngh, const nghttp2_frame *f,
                        const uint8_t *name, size_t namelen,
                        const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *ud)
{
    h2_stream_t *st = h2_find(ud, f->hd.stream_id);
    nghttp2_nv nv;

    (void)ngh;
    (void)flags;
    if (st == NULL || f->hd.type != NGHTTP2_HEADERS ||
        f->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0; /* trailers: not passed on */
    }
    nv.name = (uint8_t *)name;
    nv.namelen = namelen;
    nv.value = (uint8_t *)value;
    nv.valuelen = valuelen;
    nv.flags = 0;
    return h2_stream_on_header(st, &nv);
}

static int h2_on_frame_recv(nghttp2_session *ngh, const nghttp2_frame *f,
                            void *ud)
{
    h2_session_t *s = ud;
    h2_stream_t *st = f->hd.stream_id ? h2_find(s, f->hd.stream_id) : NULL;

    (void)ngh;
    if (st == NULL) {
        return 0;
    }
    switch (f->hd.type) {
    case NGHTTP2_HEADERS:
        if (f->headers.cat == NGHTTP2_HCAT_REQUEST &&
            (f->hd.flags & NGHTTP2_FLAG_END_HEADERS)) {
            st->headers_done = 1;
        }
        /* fall through */
    case NGHTTP2_DATA:
        if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) {
            h2_stream_on_end(st);
        }
        s->dirty = 1;
        break;
    case NGHTTP2_RST_STREAM:
        st->reset_by_client = 1;
        if (h2_stream_in_progress(st)) {
            h2_count_reset(s);
        }
        break;
    default:
        break;
    }
    return 0;
}

static int h2_on_data(nghttp2_session *ngh, uint8_t flags, int32_t id,
                      const uint8_t *data, size_t len, void *ud)
{
    h2_stream_t *st = h2_find(ud, id);

    (void)flags;
    if (st == NULL) {
        nghttp2_session_consume(ngh, id, len);
        return 0;
    }
    return h2_stream_on_data(st, data, len);
}

static int h2_on_stream_close(nghttp2_session *ngh, int32_t id,
                              uint32_t error_code, void *ud)
{
    h2_session_t *s = ud;
    h2_stream_t *st = h2_find(s, id);

    (void)ngh;
    (void)error_code;
    if (st != NULL) {
        /* freed after the call into nghttp2 returns (h2_reap) */
        st->closed = 1;
        nghttp2_session_set_stream_user_data(ngh, id, NULL);
        s->dirty = 1;
    }
    return 0;
}

/* --- reading, writing ------------------------------------------------- */

/* Frees the streams nghttp2 closed. */
static void h2_reap(h2_session_t *s)
{
    h2_stream_t *st = s->streams, *next;

    for (; st != NULL; st = next) {
        next = st->next;
        if (st->closed) {
            h2_unlink(s, st);
            h2_stream_destroy(st);
        }
    }
}

/* nghttp2 refused what the client sent.  A fatal error (a flood, too
 * many CONTINUATION frames) leaves the session unusable, even to send its
 * GOAWAY: we write that one ourselves. */
static void h2_fail(h2_session_t *s, int err)
{
    s->calm_down = 1;
    if (!nghttp2_is_fatal(err)) {
        nghttp2_session_terminate_session(s->ngh, NGHTTP2_PROTOCOL_ERROR);
        return;
    }
    s->ngh_dead = 1;
    if (s->rest_len == 0 && s->out_len + 17 <= H2_OUT_MAX) {
        uint32_t last =
            (uint32_t)nghttp2_session_get_last_proc_stream_id(s->ngh);
        uint32_t code = err == NGHTTP2_ERR_FLOODED ||
                                err == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS
                            ? NGHTTP2_ENHANCE_YOUR_CALM
                            : NGHTTP2_PROTOCOL_ERROR;
        unsigned char *g = (unsigned char *)s->out + s->out_len;
        int i;

        memset(g, 0, 17);
        g[2] = 8; /* length; type GOAWAY, no flags, stream 0 */
        g[3] = NGHTTP2_GOAWAY;
        for (i = 0; i < 4; i++) {
            g[9 + i] = (unsigned char)(last >> (24 - 8 * i));
            g[13 + i] = (unsigned char)(code >> (24 - 8 * i));
        }
        s->out_len += 17;
    }
}

/* Reads what the client sent into nghttp2.  Returns 1 when bytes came. */
static int h2_read(h2_session_t *s)
{
    rl_conn_t *c = s->c;
    char buf[16384];
    int got_some = 0;

    s->client_events &= ~RL_WANT_READ;
    while (!s->eof && !s->fatal && (!s->calm_down || s->lingering)) {
        apr_size_t got = 0;
        apr_status_t rv = rl_io_recv(c->io, c->fd, buf, sizeof(buf), &got);
        ssize_t n;

        if (rv == APR_EAGAIN) {
            s->client_events |= RL_IO_WANT(c->io, RL_WANT_READ);
            break;
        }
        if (rv == APR_EOF) {
            s->eof = 1;
            break;
        }
        if (rv != APR_SUCCESS) {
            c->aborted = 1;
            s->fatal = 1;
            break;
        }
        got_some = 1;
        s->last_read = apr_time_now();
        if (s->lingering) {
            continue; /* closing: what comes is dropped */
        }
        n = nghttp2_session_mem_recv(s->ngh, (const uint8_t *)buf, got);
        if (n < 0) {
            /* a protocol error or a flood nghttp2 detected: it queued
             * GOAWAY when it could; send it and end */
            rl_log_cerror(RL_LOG_INFO, 0, c, "HTTP/2 session ended: %s",
                          nghttp2_strerror((int)n));
            h2_fail(s, (int)n);
            break;
        }
        if (got < sizeof(buf)) {
            s->client_events |= RL_WANT_READ; /* drained: wait */
            break;
        }
    }
    return got_some;
}

/* Fills s->out from nghttp2 (each piece of nghttp2 stays valid only until
 * the next mem_send, so a piece that does not fit waits in rest). */
static void h2_gather(h2_session_t *s)
{
    if (s->ngh_dead) {
        return;
    }
    while (s->out_len < H2_OUT_MAX && !s->fatal) {
        apr_size_t room = H2_OUT_MAX - s->out_len, k;
        if (s->rest_len == 0) {
            const uint8_t *p;
            ssize_t n = nghttp2_session_mem_send(s->ngh, &p);

            if (n < 0) {
                s->fatal = 1;
                return;
            }
            if (n == 0) {
                return;
            }
            s->rest = p;
            s->rest_len = (apr_size_t)n;
        }
        k = s->rest_len < room ? s->rest_len : room;
        memcpy(s->out + s->out_len, s->rest, k);
        s->out_len += k;
        s->rest += k;
        s->rest_len -= k;
    }
}

/* Writes to the client.  Returns 1 when bytes went. */
static int h2_write(h2_session_t *s)
{
    rl_conn_t *c = s->c;
    int wrote = 0;

    s->client_events &= ~RL_WANT_WRITE;
    for (;;) {
        apr_size_t sent = 0;
        apr_status_t rv;

        if (s->out_off == s->out_len) {
            s->out_off = s->out_len = 0;
            h2_gather(s);
            if (s->out_len == 0) {
                return wrote;
            }
        }
        rv = rl_io_send(c->io, c->fd, s->out + s->out_off,
                        s->out_len - s->out_off, &sent);
        s->out_off += sent;
        if (sent > 0) {
            wrote = 1;
            s->last_write = apr_time_now();
        }
        if (rv == APR_EAGAIN) {
            s->client_events |= RL_IO_WANT(c->io, RL_WANT_WRITE);
            return wrote;
        }
        if (rv != APR_SUCCESS) {
            c->aborted = 1;
            s->fatal = 1;
            return wrote;
        }
    }
}

static int h2_out_pending(const h2_session_t *s)
{
    return s->out_off < s->out_len || s->rest_len > 0 ||
           (!s->fatal && !s->ngh_dead && nghttp2_session_want_write(s->ngh));
}

/* --- the protocol ------------------------------------------------------ */

/* Runs every stream that may progress; starts the new ones. */
static int h2_drive(h2_session_t *s, apr_time_t now)
{
    h2_stream_t *st;
    int ran = 0;

    for (st = s->streams; st != NULL; st = st->next) {
        if (st->closed) {
            continue;
        }
        if (!st->started && st->headers_done) {
            if (s->calm_down) {
                continue; /* the connection is ending */
            }
            h2_stream_start(st, now);
            ran = 1;
            continue;
        }
        ran |= h2_stream_drive(st, now, 0);
    }
    return ran;
}

/* Whether a stream's response waits for the client to open its window. */
static int h2_stalled(const h2_stream_t *st)
{
    return !st->closed && !st->stall_reset && st->head_done &&
           h2_buf_len(&st->body_out) > 0;
}

/* A stream whose response bytes the client has not taken for Timeout
 * (its window stays closed) is reset, as an HTTP/1.1 client that reads
 * nothing is dropped: else a client could hold the stream's buffer, its
 * backend and, under prefork and worker, a process or thread for as long
 * as it likes, by never opening its window. */
static void h2_stall_timers(h2_session_t *s, apr_time_t now)
{
    apr_interval_time_t timeout = s->c->base_server->timeout;
    h2_stream_t *st;

    for (st = s->streams; st != NULL; st = st->next) {
        if (!h2_stalled(st)) {
            st->stall_since = 0;
        } else if (st->stall_since == 0) {
            st->stall_since = now;
        } else if (now >= st->stall_since + timeout && !s->dying) {
            rl_log_cerror(RL_LOG_INFO, 0, s->c,
                          "stream %d: HTTP/2 client opened no window for "
                          "%ld s (Timeout): stream reset",
                          (int)st->id, (long)apr_time_sec(timeout));
            st->stall_reset = 1;
            st->broken = 1;
            st->body_eof = 1;
            nghttp2_submit_rst_stream(s->ngh, NGHTTP2_FLAG_NONE, st->id,
                                      NGHTTP2_CANCEL);
            s->dirty = 1;
        }
    }
}

/* Session timers: idle (KeepAliveTimeout without streams), a client that
 * takes nothing (Timeout), graceful stop's final GOAWAY. */
static void h2_timers(h2_session_t *s, apr_time_t now)
{
    const rl_server_t *bs = s->c->base_server;

    h2_stall_timers(s, now);

    if (s->shutting_down && !s->final_goaway &&
        now >= s->notice_at + H2_NOTICE_WAIT) {
        nghttp2_submit_goaway(s->ngh, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(s->ngh),
                              NGHTTP2_NO_ERROR, NULL, 0);
        s->final_goaway = 1;
    }
    if (s->nstreams == 0 && !s->calm_down &&
        now >= s->idle_since + bs->keep_alive_timeout &&
        now >= s->last_read + bs->keep_alive_timeout) {
        /* idle: say goodbye properly (GOAWAY, no error) */
        nghttp2_session_terminate_session(s->ngh, NGHTTP2_NO_ERROR);
        s->calm_down = 1;
    }
    if ((s->out_off < s->out_len || s->rest_len > 0) &&
        now >= s->last_write + bs->timeout) {
        rl_log_cerror(RL_LOG_INFO, 0, s->c,
                      "HTTP/2 client took nothing for %ld s (Timeout): closed",
                      (long)apr_time_sec(bs->timeout));
        s->fatal = 1;
    }
}

/* Whether the connection is over once its output is out. */
static int h2_finished(const h2_session_t *s)
{
    if (s->calm_down || s->eof) {
        return 1;
    }
    if (s->final_goaway && s->nstreams == 0) {
        return 1;
    }
    return !nghttp2_session_want_read(s->ngh) &&
           !nghttp2_session_want_write(s->ngh) && s->nstreams == 0;
}

/* What to wait for, and until when. */
static int h2_wait(h2_session_t *s, apr_time_t now, apr_time_t *deadline)
{
    const rl_server_t *bs = s->c->base_server;
    apr_time_t d = APR_INT64_MAX;
    h2_stream_t *st;
    int other = 0;

    if (s->fatal) {
        return RL_WANT_CLOSE;
    }
    if (s->lingering) {
        if (s->eof || now >= s->linger_until) {
            return RL_WANT_CLOSE;
        }
        *deadline = s->linger_until;
        s->client_events = RL_WANT_READ;
        return RL_WANT_READ;
    }
    if (h2_finished(s) && !h2_out_pending(s)) {
        /* shut our side, then read what the client still sends, so that
         * unread input does not turn the close into a reset that would
         * destroy the GOAWAY in flight */
        rl_io_shutdown(s->c->io, s->c->fd);
        s->lingering = 1;
        s->linger_until = now + H2_LINGER;
        *deadline = s->linger_until;
        s->client_events = RL_WANT_READ;
        return RL_WANT_READ;
    }
    if (!s->eof && !s->calm_down && !(s->client_events & RL_WANT_READ)) {
        s->client_events |= RL_WANT_READ;
    }
    if (h2_out_pending(s) && !(s->client_events & RL_WANT_WRITE) &&
        s->out_off < s->out_len) {
        s->client_events |= RL_WANT_WRITE;
    }
    for (st = s->streams; st != NULL; st = st->next) {
        /* the clock of a response that waits for the client's window
         * starts when it begins to wait (h2_stall_timers) */
        if (!h2_stalled(st)) {
            st->stall_since = 0;
        } else {
            if (st->stall_since == 0) {
                st->stall_since = now;
            }
            if (st->stall_since + bs->timeout < d) {
                d = st->stall_since + bs->timeout;
            }
        }
        if (st->sec == NULL) {
            continue;
        }
        if (st->want == RL_WANT_OTHER || st->want == RL_WANT_NOTHING) {
            other = 1;
        }
        if (st->deadline != 0 && st->deadline < d) {
            d = st->deadline;
        }
    }
    if (s->nstreams == 0) {
        apr_time_t idle =
            s->idle_since > s->last_read ? s->idle_since : s->last_read;
        if (idle + bs->keep_alive_timeout < d) {
            d = idle + bs->keep_alive_timeout;
        }
    }
    if (s->out_off < s->out_len && s->last_write + bs->timeout < d) {
        d = s->last_write + bs->timeout;
    }
    if (s->shutting_down && !s->final_goaway &&
        s->notice_at + H2_NOTICE_WAIT < d) {
        d = s->notice_at + H2_NOTICE_WAIT;
    }
    if (s->busy) {
        d = now;
    }
    *deadline = d;
    if (other || s->client_events == (RL_WANT_READ | RL_WANT_WRITE)) {
        return RL_WANT_OTHER;
    }
    return s->client_events & RL_WANT_WRITE ? RL_WANT_WRITE : RL_WANT_READ;
}

static int h2_run(rl_conn_t *c, void *ctx, int timed_out, apr_time_t *deadline)
{
    h2_session_t *s = ctx;
    apr_time_t now = apr_time_now();
    int round;

    (void)c;
    (void)timed_out; /* every timer is compared with the clock below */
    if (s->lingering) {
        h2_read(s);
        return h2_wait(s, now, deadline);
    }
    if (!s->ngh_dead) {
        h2_timers(s, now);
    }
    for (round = 0; round < 8 && !s->fatal; round++) {
        int moved = h2_read(s);

        s->dirty = 0;
        if (!s->ngh_dead) {
            h2_drive(s, now);
        }
        h2_reap(s);
        moved |= h2_write(s);
        h2_reap(s);
        if (!moved && !s->dirty) {
            break;
        }
        now = apr_time_now();
    }
    /* still moving after 8 rounds: let the thread's other connections
     * have their turn, and come back at once (a deadline already past) */
    s->busy = round == 8;
    return h2_wait(s, apr_time_now(), deadline);
}

/* Graceful stop or restart: a GOAWAY notice now (new streams still
 * accepted while it travels), the final GOAWAY a moment later; the open
 * streams finish, then the connection closes. */
static int h2_shutdown(rl_conn_t *c, void *ctx, apr_time_t *deadline)
{
    h2_session_t *s = ctx;

    if (!s->shutting_down) {
        s->shutting_down = 1;
        s->notice_at = apr_time_now();
        nghttp2_submit_shutdown_notice(s->ngh);
    }
    return h2_run(c, ctx, 0, deadline);
}

static int h2_watched(const rl_conn_t *c, void *ctx, rl_watch_t *w, int max)
{
    h2_session_t *s = ctx;
    h2_stream_t *st;
    int n = 0;

    if (max > 0 && s->client_events != 0) {
        w[n].fd = c->fd;
        w[n].events = s->client_events;
        n++;
    }
    for (st = s->streams; st != NULL && n < max; st = st->next) {
        if (st->sec != NULL && st->want == RL_WANT_OTHER) {
            n += rl_conn_watch_list(st->sec, w + n, max - n);
        }
    }
    return n;
}

static void h2_close(rl_conn_t *c, void *ctx)
{
    h2_session_t *s = ctx;
    h2_stream_t *st, *next;

    (void)c;
    s->dying = 1;
    for (st = s->streams; st != NULL; st = next) {
        next = st->next;
        st->closed = 1;
        h2_stream_destroy(st);
    }
    h2_stream_free_spares(s);
    nghttp2_session_del(s->ngh);
    free(s->out);
    apr_allocator_destroy(s->alloc);
    free(s);
}

const rl_conn_protocol_t h2_protocol = {"h2", h2_run, h2_shutdown, h2_watched,
                                        h2_close};

/* --- take over -------------------------------------------------------- */

static nghttp2_session_callbacks *h2_callbacks(void)
{
    nghttp2_session_callbacks *cb;

    if (nghttp2_session_callbacks_new(&cb) != 0) {
        return NULL;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(
        cb, h2_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, h2_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2_on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb,
                                                           h2_on_stream_close);
    return cb;
}

static int h2_session_new(h2_session_t *s)
{
    nghttp2_session_callbacks *cb = h2_callbacks();
    nghttp2_option *opt;
    nghttp2_settings_entry iv[3];
    int rv;

    if (cb == NULL || nghttp2_option_new(&opt) != 0) {
        if (cb != NULL) {
            nghttp2_session_callbacks_del(cb);
        }
        return -1;
    }
    /* windows open as handlers read, not as bytes arrive */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_no_closed_streams(opt, 1);
    nghttp2_option_set_max_continuations(opt,
                                         (size_t)s->conf.max_continuations);
    rv = nghttp2_session_server_new2(&s->ngh, cb, s, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) {
        return -1;
    }
    iv[0].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
    iv[0].value = (uint32_t)s->conf.max_streams;
    iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
    iv[1].value = (uint32_t)s->conf.window_size;
    iv[2].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;
    iv[2].value = (uint32_t)s->conf.max_header_list;
    if (nghttp2_submit_settings(s->ngh, NGHTTP2_FLAG_NONE, iv, 3) != 0 ||
        nghttp2_session_set_local_window_size(s->ngh, NGHTTP2_FLAG_NONE, 0,
                                              H2_CONN_WINDOW) != 0) {
        return -1;
    }
    return 0;
}

int h2_session_take_over(rl_conn_t *c, const char *data, apr_size_t len)
{
    h2_session_t *s = calloc(1, sizeof(*s));
    ssize_t n;

    if (s == NULL) {
        return RL_DECLINED;
    }
    s->c = c;
    s->conf = *h2_conf(c->base_server);
    s->out = malloc(H2_OUT_MAX);
    if (s->out == NULL || apr_allocator_create(&s->alloc) != APR_SUCCESS) {
        free(s->out);
        free(s);
        return RL_DECLINED;
    }
    apr_allocator_max_free_set(s->alloc, 256 * 1024);
    s->idle_since = s->last_read = s->last_write = apr_time_now();
    s->reset_window = s->idle_since;
    if (h2_session_new(s) != 0) {
        goto fail;
    }
    rl_log_cerror(RL_LOG_DEBUG, 0, c, "HTTP/2 session started (%s)",
                  c->io != NULL ? "h2" : "h2c");
    /* what came with the preface may already be an attack: then run()
     * sends the GOAWAY and closes */
    n = nghttp2_session_mem_recv(s->ngh, (const uint8_t *)data, len);
    if (n < 0) {
        rl_log_cerror(RL_LOG_INFO, 0, c, "HTTP/2 session ended: %s",
                      nghttp2_strerror((int)n));
        h2_fail(s, (int)n);
    }
    rl_conn_set_protocol(c, &h2_protocol, s);
    return RL_OK;
fail:
    s->dying = 1;
    if (s->ngh != NULL) {
        nghttp2_session_del(s->ngh);
    }
    free(s->out);
    apr_allocator_destroy(s->alloc);
    free(s);
    return RL_DECLINED;
}
