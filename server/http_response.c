/*
 * http_response.c: writing responses.
 *
 * A handler's first bytes are held back (up to PENDING_BODY_MAX): if the
 * handler finishes before that, the response goes out with a
 * Content-Length; otherwise the head is sent with chunked coding (HTTP/1.1)
 * or the connection closes at the end (HTTP/1.0).  Hop-by-hop framing
 * headers are the core's: whatever a module put in Content-Length,
 * Transfer-Encoding or Connection is replaced.
 */
#include "http_core.h"

#include <apr_lib.h>
#include <stdarg.h>
#include <unistd.h>

RL_LOG_USE_MODULE(core);

static __thread char date_buf[APR_RFC822_DATE_LEN];
static __thread apr_time_t date_sec;

const char *rl_date_now(void)
{
    apr_time_t now = apr_time_now();

    if (apr_time_sec(now) != date_sec) {
        date_sec = apr_time_sec(now);
        apr_rfc822_date(date_buf, now);
    }
    return date_buf;
}

RL_DECLARE(const char *) rl_version(void)
{
    return "0.1.0";
}

RL_DECLARE(const char *) rl_server_banner(void)
{
    switch (rl_proc.server_tokens) {
    case 1:
        return "Relais/0";
    case 2:
        return "Relais/0.1";
    case 3:
        return "Relais/0.1.0";
    case 4:
    case 5:
        return "Relais/0.1.0 (Linux)";
    default:
        return "Relais";
    }
}

RL_DECLARE(void) rl_set_content_length(rl_request_t *r, apr_off_t len)
{
    r->clength = len;
}

RL_DECLARE(void) rl_set_content_type(rl_request_t *r, const char *type)
{
    r->content_type = apr_pstrdup(r->pool, type);
}

/* Does the client allow the connection to stay open after this one? */
static int client_wants_keepalive(rl_request_t *r)
{
    const char *conn = apr_table_get(r->headers_in, "Connection");
    int has_close = 0, has_ka = 0;

    if (conn != NULL) {
        char *list = apr_pstrdup(r->pool, conn), *tok, *last;
        for (tok = apr_strtok(list, ", \t", &last); tok;
             tok = apr_strtok(NULL, ", \t", &last)) {
            if (strcasecmp(tok, "close") == 0) {
                has_close = 1;
            } else if (strcasecmp(tok, "keep-alive") == 0) {
                has_ka = 1;
            }
        }
    }
    if (has_close) {
        return 0;
    }
    return r->proto_num >= 1001 || has_ka;
}

typedef struct head_buf_t {
    char *buf;
    apr_size_t len, cap;
    apr_pool_t *p;
} head_buf_t;

static void hb_add(head_buf_t *hb, const char *s, apr_size_t n)
{
    if (hb->len + n > hb->cap) {
        apr_size_t cap = (hb->cap + n) * 2;
        char *nb = apr_palloc(hb->p, cap);
        if (hb->len > 0) {
            memcpy(nb, hb->buf, hb->len);
        }
        hb->buf = nb;
        hb->cap = cap;
    }
    memcpy(hb->buf + hb->len, s, n);
    hb->len += n;
}

static void hb_field(head_buf_t *hb, const char *name, const char *value)
{
    hb_add(hb, name, strlen(name));
    hb_add(hb, ": ", 2);
    hb_add(hb, value, strlen(value));
    hb_add(hb, "\r\n", 2);
}

/* Fields the core frames itself: a module's values are ignored.  (By
 * length first: this runs for every field of every response.) */
static int is_framing_field(const char *name)
{
    switch (strlen(name)) {
    case 4:
        return strcasecmp(name, "Date") == 0;
    case 10:
        return strcasecmp(name, "Connection") == 0 ||
               strcasecmp(name, "Keep-Alive") == 0;
    case 12:
        return strcasecmp(name, "Content-Type") == 0;
    case 14:
        return strcasecmp(name, "Content-Length") == 0;
    case 17:
        return strcasecmp(name, "Transfer-Encoding") == 0;
    default:
        return 0;
    }
}

static int add_table_field(void *hbv, const char *name, const char *value)
{
    if (!is_framing_field(name)) {
        hb_field(hbv, name, value);
    }
    return 1;
}

/* Decides framing and keep-alive, and queues the head. */
void rl_response_send_head(rl_request_t *r)
{
    req_state_t *rs = REQ_STATE(r);
    conn_state_t *cs = CONN_STATE(r->connection);
    head_buf_t hb = {NULL, 0, 0, NULL};
    const char *reason = rl_http_reason(r->status);
    char line[64];
    int ka;

    if (rs->head_sent) {
        return;
    }
    rs->head_sent = 1;
    rl_run_response_head(r);
    hb.p = r->pool;
    hb.cap = 512;
    hb.buf = apr_palloc(r->pool, hb.cap);
    rs->no_body = r->header_only || r->status == 204 || r->status == 304 ||
                  r->status < 200;
    if (r->clength < 0 && rs->finished) {
        r->clength = (apr_off_t)rs->pending_len;
    }
    ka = !cs->close_after && !cs->shutdown && r->server->keep_alive &&
         (r->server->keep_alive_max == 0 ||
          r->connection->keepalives + 1 < r->server->keep_alive_max) &&
         client_wants_keepalive(r);
    if (r->clength < 0 &&
        !(r->status == 204 || r->status == 304 || r->status < 200)) {
        if (r->proto_num >= 1001 && !r->header_only) {
            rs->chunked = 1;
        } else if (!r->header_only) {
            ka = 0; /* HTTP/1.0 without a length: the close ends it */
        }
    }
    r->keepalive = ka;
    if (!ka) {
        cs->close_after = 1;
    }
    apr_snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", r->status,
                 reason ? reason : "Unknown");
    hb_add(&hb, line, strlen(line));
    hb_field(&hb, "Date", rl_date_now());
    if (apr_table_get(r->headers_out, "Server") == NULL &&
        apr_table_get(r->err_headers_out, "Server") == NULL) {
        hb_field(&hb, "Server", rl_server_banner());
    }
    if (r->content_type != NULL && r->status != 204 && r->status != 304) {
        hb_field(&hb, "Content-Type", r->content_type);
    }
    if (r->clength >= 0 && r->status != 204 && r->status != 304 &&
        r->status >= 200) {
        apr_snprintf(line, sizeof(line), "%" APR_OFF_T_FMT, r->clength);
        hb_field(&hb, "Content-Length", line);
    } else if (rs->chunked) {
        hb_field(&hb, "Transfer-Encoding", "chunked");
    }
    if (r->status == 101) {
        /* the connection becomes a tunnel (rl_request_tunnel) */
        hb_field(&hb, "Connection", "Upgrade");
    } else if (!ka) {
        hb_field(&hb, "Connection", "close");
    } else if (r->proto_num < 1001) {
        hb_field(&hb, "Connection", "keep-alive");
    } /* headers_out go with every response the handler made (a proxied
       * 302 keeps its Location, a 304 its ETag); core error pages clear
       * them first (rl_request_send_error), keeping err_headers_out */
    apr_table_do(add_table_field, &hb, r->headers_out, NULL);
    apr_table_do(add_table_field, &hb, r->err_headers_out, NULL);
    hb_add(&hb, "\r\n", 2);
    r->bytes_out += (apr_off_t)hb.len;
    rl_conn_out_append(r->connection, hb.buf, hb.len);
    if (rs->pending_len > 0) {
        char *p = rs->pending;
        apr_size_t n = rs->pending_len;
        rs->pending_len = 0;
        rs->pending = NULL;
        rl_rwrite(r, p, n);
    }
}

/* Blocking MPMs: keep the output bounded by waiting for the client. */
static apr_status_t drain_if_needed(rl_request_t *r)
{
    rl_conn_t *c = r->connection;
    conn_state_t *cs = CONN_STATE(c);
    apr_status_t rv = APR_SUCCESS;

    if (cs->out_end - cs->out_start < OUT_LOW_WATER) {
        return APR_SUCCESS;
    }
    rv = rl_conn_flush(c);
    while (rv == APR_EAGAIN && cs->blocking &&
           cs->out_end - cs->out_start >= OUT_LOW_WATER) {
        rv = rl_conn_wait_io(c, RL_WANT_WRITE,
                             apr_time_now() + r->server->timeout);
        if (rv == APR_SUCCESS) {
            rv = rl_conn_flush(c);
        }
    }
    if (rv == APR_EAGAIN) {
        rv = APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        c->aborted = 1;
    }
    return rv;
}

RL_DECLARE(apr_status_t)
rl_rwrite(rl_request_t *r, const void *buf, apr_size_t len)
{
    req_state_t *rs = REQ_STATE(r);

    if (r->connection->aborted) {
        return APR_ECONNABORTED;
    }
    if (len == 0) {
        return APR_SUCCESS;
    }
    if (!rs->head_sent) {
        if (rs->pending_len + len <= PENDING_BODY_MAX && r->clength < 0) {
            if (rs->pending == NULL) {
                rs->pending = apr_palloc(r->pool, PENDING_BODY_MAX);
            }
            memcpy(rs->pending + rs->pending_len, buf, len);
            rs->pending_len += len;
            return APR_SUCCESS;
        }
        rl_response_send_head(r);
    }
    if (rs->tap != NULL && !rs->tap_done) {
        /* after the head: bytes held back before it pass here once too */
        rs->tap(r, rs->tap_ctx, buf, len, 0);
    }
    if (rs->no_body) {
        r->bytes_sent += (apr_off_t)len;
        return APR_SUCCESS;
    }
    if (rs->chunked) {
        char frame[24];
        int n =
            apr_snprintf(frame, sizeof(frame), "%lx\r\n", (unsigned long)len);
        rl_conn_out_append(r->connection, frame, (apr_size_t)n);
        r->bytes_out += n + 2;
    } else if (len >= DIRECT_SEND_MIN) {
        /* a large piece with nothing queued before it: to the socket
         * without copying it into the output buffer */
        apr_size_t sent = 0;
        apr_status_t rv = rl_conn_send_direct(r->connection, buf, len, &sent);
        r->bytes_sent += (apr_off_t)sent;
        r->bytes_out += (apr_off_t)sent;
        if (rv != APR_SUCCESS && rv != APR_EAGAIN) {
            return rv;
        }
        buf = (const char *)buf + sent;
        len -= sent;
        if (len == 0) {
            return APR_SUCCESS;
        }
    }
    rl_conn_out_append(r->connection, buf, len);
    if (rs->chunked) {
        rl_conn_out_append(r->connection, "\r\n", 2);
    }
    r->bytes_sent += (apr_off_t)len;
    r->bytes_out += (apr_off_t)len;
    return drain_if_needed(r);
}

RL_DECLARE(apr_status_t) rl_rputs(rl_request_t *r, const char *s)
{
    return rl_rwrite(r, s, strlen(s));
}

RL_DECLARE(apr_status_t) rl_rprintf(rl_request_t *r, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = apr_pvsprintf(r->pool, fmt, ap);
    va_end(ap);
    return rl_rwrite(r, s, strlen(s));
}

RL_DECLARE(int) rl_output_congested(rl_request_t *r)
{
    conn_state_t *cs = CONN_STATE(r->connection);

    return !cs->blocking && cs->out_end - cs->out_start >= OUT_HIGH_WATER;
}

void rl_response_send_100(rl_request_t *r)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

    rl_conn_out_append(r->connection, cont, sizeof(cont) - 1);
    rl_conn_flush(r->connection);
}

/* The handler is done: send the head if not yet, end chunked coding. */
apr_status_t rl_response_finish(rl_request_t *r)
{
    req_state_t *rs = REQ_STATE(r);

    rs->finished = 1;
    if (!rs->head_sent) {
        rl_response_send_head(r);
    }
    if (rs->chunked) {
        rl_conn_out_append(r->connection, "0\r\n\r\n", 5);
        r->bytes_out += 5;
    }
    if (r->clength >= 0 && !rs->no_body && r->bytes_sent != r->clength) {
        /* The handler lied about its length: the framing is broken, so
         * the connection must not be reused. */
        rl_log_rerror(RL_LOG_ERR, 0, r,
                      "handler '%s' sent %" APR_OFF_T_FMT " bytes of a "
                      "%" APR_OFF_T_FMT "-byte response; closing the "
                      "connection",
                      r->handler ? r->handler : "(none)", r->bytes_sent,
                      r->clength);
        CONN_STATE(r->connection)->close_after = 1;
        r->connection->aborted = 1;
    }
    rl_response_tap_close(r, !r->connection->aborted);
    return APR_SUCCESS;
}

/* The tap's final call: complete (1) or not (-1); once. */
void rl_response_tap_close(rl_request_t *r, int complete)
{
    req_state_t *rs = REQ_STATE(r);

    if (rs->tap != NULL && !rs->tap_done) {
        rs->tap_done = 1;
        rs->tap(r, rs->tap_ctx, NULL, 0, complete ? 1 : -1);
    }
}

/* A request that ends without the core's after_handler (its connection
 * closed while the handler was suspended): the tap hears it failed. */
static apr_status_t tap_cleanup(void *rv)
{
    rl_response_tap_close(rv, 0);
    return APR_SUCCESS;
}

RL_DECLARE(void)
rl_response_tap(rl_request_t *r, rl_response_tap_fn fn, void *ctx)
{
    req_state_t *rs = REQ_STATE(r);

    if (rs->tap == NULL) {
        apr_pool_cleanup_register(r->pool, r, tap_cleanup,
                                  apr_pool_cleanup_null);
    }
    rs->tap = fn;
    rs->tap_ctx = ctx;
    rs->tap_done = 0;
}

RL_DECLARE(apr_status_t)
rl_sendfile(rl_request_t *r, int fd, apr_off_t offset, apr_size_t len)
{
    req_state_t *rs = REQ_STATE(r);
    conn_state_t *cs = CONN_STATE(r->connection);

    if (r->connection->aborted || cs->has_file || rs->pending_len > 0 ||
        r->bytes_sent > 0) {
        close(fd);
        return r->connection->aborted ? APR_ECONNABORTED : APR_EINVAL;
    }
    if (r->clength < 0) {
        r->clength = (apr_off_t)len;
    }
    if (!rs->head_sent) {
        rl_response_send_head(r);
    }
    if (rs->no_body || len == 0) {
        r->bytes_sent += rs->no_body ? (apr_off_t)len : 0;
        close(fd);
        return APR_SUCCESS;
    }
    /* queued behind the head; rl_conn_flush() sends it, under every MPM
     * (prefork and worker wait in their flush phase) */
    cs->has_file = 1;
    cs->file_fd = fd;
    cs->file_off = (off_t)offset;
    cs->file_left = (apr_off_t)len;
    r->bytes_sent += (apr_off_t)len;
    r->bytes_out += (apr_off_t)len;
    return APR_SUCCESS;
}
