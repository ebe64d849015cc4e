/*
 * http_body.c: reading request bodies for handlers (rl_read_body).
 *
 * Bytes come from the connection's input buffer, dechunked in place where
 * needed.  When the buffer is empty the socket is read without waiting;
 * under the event MPM an empty socket means APR_EAGAIN (the handler
 * suspends), under prefork/worker the thread waits here, bounded by
 * RequestReadTimeout's body stage.
 */
#include "http_core.h"

#include <unistd.h>

RL_LOG_USE_MODULE(core);

/* Takes body bytes already in the input buffer. */
static apr_status_t take_buffered(rl_request_t *r, char *buf, apr_size_t len,
                                  apr_size_t *got)
{
    conn_state_t *cs = CONN_STATE(r->connection);
    req_state_t *rs = REQ_STATE(r);
    apr_size_t avail = cs->in_end - cs->in_start;

    *got = 0;
    if (r->body_kind == RL_BODY_LENGTH) {
        apr_size_t n = avail < len ? avail : len;
        if ((apr_off_t)n > r->remaining) {
            n = (apr_size_t)r->remaining;
        }
        memcpy(buf, cs->in + cs->in_start, n);
        cs->in_start += n;
        r->remaining -= (apr_off_t)n;
        *got = n;
        if (r->remaining == 0) {
            rs->body_eof = 1;
        }
        return APR_SUCCESS;
    }
    while (avail > 0 && *got == 0) {
        const char *data;
        apr_size_t consumed, dlen;
        int rc = rl_http_chunked_next(
            &rs->chunk_in, cs->in + cs->in_start, avail < len ? avail : len,
            (apr_size_t)r->server->limit_req_line, &consumed, &data, &dlen);
        if (rc == RL_HTTP_OK) {
            memmove(buf, data, dlen);
            *got = dlen;
        }
        cs->in_start += consumed;
        avail -= consumed;
        if (rc == RL_HTTP_DONE) {
            rs->body_eof = 1;
            return APR_SUCCESS;
        }
        if (rc > 0) {
            r->status = 400;
            rl_log_rerror(RL_LOG_INFO, 0, r, "bad chunked request body");
            return APR_EGENERAL;
        }
        if (rc == RL_HTTP_AGAIN && consumed == 0) {
            break;
        }
    }
    return APR_SUCCESS;
}

RL_DECLARE(apr_status_t)
rl_read_body(rl_request_t *r, char *buf, apr_size_t len, apr_size_t *got)
{
    conn_state_t *cs = CONN_STATE(r->connection);
    req_state_t *rs = REQ_STATE(r);
    apr_status_t rv;

    *got = 0;
    if (r->body_kind == RL_BODY_NONE || rs->body_eof) {
        return APR_EOF;
    }
    if (r->expecting_100 && !rs->sent_100 && !rs->head_sent) {
        rs->sent_100 = 1;
        rl_response_send_100(r);
    }
    if (rs->body_started == 0) {
        rs->body_started = apr_time_now();
    }
    for (;;) {
        if (cs->in_end > cs->in_start) {
            rv = take_buffered(r, buf, len, got);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            /* take_buffered() moved in_start */
            // cppcheck-suppress knownConditionTrueFalse
            if (cs->in_start == cs->in_end) {
                cs->in_start = cs->in_end = 0;
            }
            if (*got > 0) {
                r->read_length += (apr_off_t)*got;
                r->bytes_in += (apr_off_t)*got;
                if (rs->body_limit > 0 && r->read_length > rs->body_limit) {
                    r->status = 413;
                    cs->close_after = 1;
                    return APR_ENOSPC;
                }
                return APR_SUCCESS;
            }
            if (rs->body_eof) {
                return APR_EOF;
            }
        }
        rv = rl_conn_fill(r->connection);
        if (rv == APR_SUCCESS) {
            continue;
        }
        if (rv == APR_EOF) {
            r->status = 400;
            cs->close_after = 1;
            r->connection->aborted = 1;
            rl_log_rerror(RL_LOG_INFO, 0, r,
                          "client closed the connection before sending the "
                          "whole request body");
            return APR_ECONNABORTED;
        }
        if (rv != APR_EAGAIN) {
            r->connection->aborted = 1;
            return rv;
        }
        if (!cs->blocking) {
            cs->wait = WAIT_BODY;
            return APR_EAGAIN;
        }
        rv = rl_conn_wait_io(r->connection, RL_WANT_READ,
                             rl_conn_body_deadline(r));
        if (rv == APR_TIMEUP) {
            r->status = 408;
            cs->close_after = 1;
            rl_log_rerror(RL_LOG_INFO, 0, r,
                          "timed out reading the request body");
            return APR_TIMEUP;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
}

RL_DECLARE(void) rl_request_suspend(rl_request_t *r, rl_resume_fn fn)
{
    REQ_STATE(r)->resume = fn;
}

RL_DECLARE(int)
rl_request_watch(rl_request_t *r, int fd, int events, apr_time_t deadline,
                 rl_resume_fn fn)
{
    req_state_t *rs = REQ_STATE(r);

    rs->resume = fn;
    rs->wake_at = deadline;
    rs->watch_fd = fd;
    rs->watch_events = events;
    CONN_STATE(r->connection)->wait = WAIT_FD;
    return RL_SUSPENDED;
}

RL_DECLARE(void) rl_request_unwatch(rl_request_t *r, int fd)
{
    conn_state_t *cs = CONN_STATE(r->connection);

    if (cs->unwatch != NULL) {
        cs->unwatch(cs->unwatch_ctx, fd);
    }
}


static rl_forget_fn mpm_forget;
static rl_mpm_park_fn mpm_park;

RL_DECLARE(void) rl_mpm_set_forget(rl_forget_fn forget, rl_mpm_park_fn park)
{
    mpm_forget = forget;
    mpm_park = park;
}

RL_DECLARE(int) rl_watch_park(int fd, rl_park_fn fn, void *ctx)
{
    return mpm_park != NULL ? mpm_park(fd, fn, ctx) : 0;
}

RL_DECLARE(void) rl_watched_close(int fd)
{
    if (fd < 0) {
        return;
    }
    if (mpm_forget != NULL) {
        mpm_forget(fd);
    }
    close(fd);
}

RL_DECLARE(void) rl_conn_set_unwatch(rl_conn_t *c, rl_unwatch_fn fn, void *ctx)
{
    CONN_STATE(c)->unwatch = fn;
    CONN_STATE(c)->unwatch_ctx = ctx;
}


RL_DECLARE(int) rl_request_timed_out(const rl_request_t *r)
{
    return REQ_STATE(r)->timed_out;
}

RL_DECLARE(int)
rl_request_sleep(rl_request_t *r, apr_interval_time_t delay, rl_resume_fn fn)
{
    conn_state_t *cs = CONN_STATE(r->connection);

    if (cs->blocking) {
        apr_sleep(delay);
        return fn(r);
    }
    REQ_STATE(r)->resume = fn;
    REQ_STATE(r)->wake_at = apr_time_now() + delay;
    cs->wait = WAIT_TIMER;
    return RL_SUSPENDED;
}
