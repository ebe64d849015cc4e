/*
 * h2_request.c: an HTTP/2 request's header list to the HTTP/1.1 head the
 * core's engine reads.
 *
 *   :method GET, :path /x, :authority a, cookie c=1, cookie d=2, x-y z
 *     -> "GET /x HTTP/1.1\r\nHost: a\r\nx-y: z\r\ncookie: c=1; d=2\r\n\r\n"
 *
 * This is where a byte could change the meaning of the request: a CR or
 * LF in a value would start a field (or a second request) of the
 * client's choosing in the head the engine parses.  nghttp2's HTTP
 * messaging checks already refuse such fields before they reach us, but
 * the translation does not rely on them: it refuses on its own (400)
 * whatever would not come back out of the HTTP/1.1 parser as it went in,
 * so that it is safe alone (test/fuzz/fuzz_h2_request.c checks exactly
 * that).  What only the core judges (the target's form, the Host value,
 * the Content-Length digits) is left to the core, which answers 400 as
 * it would over HTTP/1.1.
 */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "h2_request.h"

void h2_request_init(h2_request_t *rq, apr_pool_t *p)
{
    memset(rq, 0, sizeof(*rq));
    rq->pool = p;
    rq->fields = apr_array_make(p, 16, sizeof(rl_http_field_t));
}

int h2_hop_by_hop(const char *name)
{
    /* called for every field of every request and response: the length
     * rules out nearly all of them without a comparison */
    switch (strlen(name)) {
    case 7:
        return strcasecmp(name, "upgrade") == 0;
    case 10:
        return strcasecmp(name, "connection") == 0 ||
               strcasecmp(name, "keep-alive") == 0;
    case 16:
        return strcasecmp(name, "proxy-connection") == 0;
    case 17:
        return strcasecmp(name, "transfer-encoding") == 0;
    default:
        return 0;
    }
}

/* tchar (RFC 9110 5.6.2), lower case only for field names (RFC 9113
 * 8.2.1: upper case in a name makes the request malformed). */
static int h2_tchar(unsigned char c, int lower_only)
{
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        return 1;
    }
    if (c >= 'A' && c <= 'Z') {
        return !lower_only;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int h2_token(const char *s, apr_size_t n, int lower_only)
{
    apr_size_t i;

    if (n == 0) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!h2_tchar((unsigned char)s[i], lower_only)) {
            return 0;
        }
    }
    return 1;
}

/* A field value: no control character but HTAB (CR, LF and NUL among
 * them), and no whitespace at either end (RFC 9113 8.2.1), which the
 * HTTP/1.1 parser would strip. */
static int h2_value_ok(const char *v, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return 0;
        }
    }
    return n == 0 ||
           (v[0] != ' ' && v[0] != '\t' && v[n - 1] != ' ' && v[n - 1] != '\t');
}

/* A request-line word (:path, :authority): no whitespace, no control. */
static int h2_word_ok(const char *v, apr_size_t n)
{
    apr_size_t i;

    if (n == 0) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= 0x20 || c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static void h2_refuse(h2_request_t *rq, int status, const char *why)
{
    rq->refused = status;
    rq->why = why;
}

/* The pseudo-header `name`: each once, and only the four of a request. */
static void h2_pseudo(h2_request_t *rq, const char *name, const char *value,
                      apr_size_t valuelen)
{
    const char **slot = NULL;

    if (strcmp(name, ":method") == 0) {
        slot = &rq->method;
        if (!h2_token(value, valuelen, 0)) {
            h2_refuse(rq, 400, "invalid :method");
            return;
        }
    } else if (strcmp(name, ":scheme") == 0) {
        slot = &rq->scheme;
    } else if (strcmp(name, ":authority") == 0) {
        slot = &rq->authority;
    } else if (strcmp(name, ":path") == 0) {
        slot = &rq->path;
    } else {
        h2_refuse(rq, 400, "unknown pseudo-header field");
        return;
    }
    if (*slot != NULL) {
        h2_refuse(rq, 400, "pseudo-header field given twice");
        return;
    }
    if (!h2_word_ok(value, valuelen)) {
        h2_refuse(rq, 400,
                  "whitespace or control character in a "
                  "pseudo-header field");
        return;
    }
    *slot = value;
}

void h2_request_add(h2_request_t *rq, const h2_request_limits_t *lim,
                    const char *name, apr_size_t namelen, const char *value,
                    apr_size_t valuelen)
{
    const char *n, *v;
    rl_http_field_t *f;

    /* RFC 9113 6.5.2: 32 bytes of overhead per field.  Counted for every
     * field, kept or not, so that a small block of indexed references to
     * a large table entry (an HPACK bomb) is stopped by what it decodes
     * to, not by what it weighs on the wire. */
    rq->header_bytes += namelen + valuelen + 32;
    if (rq->refused) {
        return;
    }
    if (rq->header_bytes > lim->max_header_list ||
        (lim->max_field > 0 && namelen + valuelen + 2 > lim->max_field)) {
        h2_refuse(rq, 431, "request header fields too large");
        return;
    }
    if (namelen == 0 || !h2_value_ok(value, valuelen)) {
        h2_refuse(rq, 400,
                  "empty field name, or control character or "
                  "edge whitespace in a field value");
        return;
    }
    n = apr_pstrmemdup(rq->pool, name, namelen);
    v = apr_pstrmemdup(rq->pool, value, valuelen);
    if (n[0] == ':') {
        h2_pseudo(rq, n, v, valuelen);
        return;
    }
    if (!h2_token(name, namelen, 1)) {
        h2_refuse(rq, 400, "invalid character in a field name");
        return;
    }
    if (strcmp(n, "cookie") == 0) {
        /* RFC 9113 8.2.3: crumbs are joined with "; " for HTTP/1.1; an
         * empty one would leave "; " at an end, which HTTP/1.1 strips */
        if (valuelen == 0) {
            return;
        }
        rq->cookie =
            rq->cookie ? apr_pstrcat(rq->pool, rq->cookie, "; ", v, NULL) : v;
        return;
    }
    if (strcmp(n, "host") == 0) {
        /* :authority wins (RFC 9113 8.3.1); a Host alone stands for it */
        if (rq->authority == NULL) {
            if (!h2_word_ok(v, valuelen)) {
                h2_refuse(rq, 400, "whitespace in host");
                return;
            }
            rq->authority = v;
        }
        return;
    }
    if (h2_hop_by_hop(n) || strcmp(n, "te") == 0) {
        return;
    }
    if (lim->max_fields > 0 && rq->fields->nelts >= lim->max_fields) {
        h2_refuse(rq, 431, "too many request header fields");
        return;
    }
    f = apr_array_push(rq->fields);
    f->name = n;
    f->value = v;
}

/* Appends s to the head being written at *at (room was counted). */
static char *h2_put(char *at, const char *s)
{
    apr_size_t n = strlen(s);

    memcpy(at, s, n);
    return at + n;
}

int h2_request_head(h2_request_t *rq, int in_eof, apr_size_t body_have,
                    const char **head, apr_size_t *len, int *chunked)
{
    const char *cl = NULL, *framing = NULL;
    apr_size_t need;
    char *out, *at;
    int i;

    *head = NULL;
    *len = 0;
    *chunked = 0;
    if (rq->refused) {
        return rq->refused;
    }
    if (rq->method != NULL && strcmp(rq->method, "CONNECT") == 0) {
        /* a tunnel over a stream (RFC 9113 8.5): not provided */
        rq->why = "CONNECT is not provided over HTTP/2";
        return 501;
    }
    if (rq->method == NULL || rq->path == NULL) {
        rq->why = "missing :method or :path";
        return 400;
    }
    for (i = 0; i < rq->fields->nelts; i++) {
        const rl_http_field_t *f =
            &APR_ARRAY_IDX(rq->fields, i, rl_http_field_t);
        if (strcmp(f->name, "content-length") == 0) {
            cl = f->value;
        }
    }
    if (cl == NULL && in_eof && body_have > 0) {
        /* the whole body is here already: say how long it is */
        framing = apr_psprintf(rq->pool, "content-length: %lu\r\n",
                               (unsigned long)body_have);
    } else if (cl == NULL && !in_eof) {
        framing = "transfer-encoding: chunked\r\n";
        *chunked = 1;
    }

    need = strlen(rq->method) + strlen(rq->path) + sizeof("  HTTP/1.1\r\n");
    if (rq->authority != NULL) {
        need += sizeof("Host: \r\n") + strlen(rq->authority);
    }
    for (i = 0; i < rq->fields->nelts; i++) {
        const rl_http_field_t *f =
            &APR_ARRAY_IDX(rq->fields, i, rl_http_field_t);
        need += strlen(f->name) + strlen(f->value) + 4;
    }
    if (rq->cookie != NULL) {
        need += sizeof("cookie: \r\n") + strlen(rq->cookie);
    }
    need += (framing ? strlen(framing) : 0) + 3;

    out = apr_palloc(rq->pool, need);
    at = h2_put(out, rq->method);
    at = h2_put(at, " ");
    at = h2_put(at, rq->path);
    at = h2_put(at, " HTTP/1.1\r\n");
    if (rq->authority != NULL) {
        at = h2_put(at, "Host: ");
        at = h2_put(at, rq->authority);
        at = h2_put(at, "\r\n");
    }
    for (i = 0; i < rq->fields->nelts; i++) {
        const rl_http_field_t *f =
            &APR_ARRAY_IDX(rq->fields, i, rl_http_field_t);
        at = h2_put(at, f->name);
        at = h2_put(at, ": ");
        at = h2_put(at, f->value);
        at = h2_put(at, "\r\n");
    }
    if (rq->cookie != NULL) {
        at = h2_put(at, "cookie: ");
        at = h2_put(at, rq->cookie);
        at = h2_put(at, "\r\n");
    }
    if (framing != NULL) {
        at = h2_put(at, framing);
    }
    at = h2_put(at, "\r\n");
    *at = '\0';
    *head = out;
    *len = (apr_size_t)(at - out);
    return 0;
}
