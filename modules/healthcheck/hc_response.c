/*
 * hc_response.c: the HTTP/1.x response helpers of mod_healthcheck (status
 * line, end of the head, header lookup, chunked decoding).  Pure
 * functions over a buffer: the watchdog calls them on what has arrived so
 * far, the expression evaluator for resp('Name'), and the fuzzer
 * (test/fuzz/fuzz_hcexpr.c) directly.  Lenient where clients usually are
 * (a bare LF ends a line); strict where a mistake would be misread
 * (digits of the status, chunk sizes).
 */
#include "hc_expr.h"

#include <apr_lib.h>
#include <string.h>

int hc_response_status(const char *buf, apr_size_t len, int *status,
                       apr_size_t *line_end)
{
    const char *nl;
    apr_size_t n;

    if (memcmp(buf, "HTTP/", len < 5 ? len : 5) != 0) {
        return -1;
    }
    nl = memchr(buf, '\n', len);
    if (nl == NULL) {
        return len > 8192 ? -1 : 0;
    }
    n = (apr_size_t)(nl - buf);
    if (n > 0 && buf[n - 1] == '\r') {
        n--;
    }
    /* HTTP/d.d SP ddd [SP reason] */
    if (n < 12 || !apr_isdigit(buf[5]) || buf[6] != '.' ||
        !apr_isdigit(buf[7]) || buf[8] != ' ' || !apr_isdigit(buf[9]) ||
        !apr_isdigit(buf[10]) || !apr_isdigit(buf[11]) ||
        (n > 12 && buf[12] != ' ') || buf[9] == '0') {
        return -1;
    }
    *status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    *line_end = (apr_size_t)(nl - buf) + 1;
    return 1;
}


apr_size_t hc_response_head_end(const char *buf, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (buf[i] != '\n') {
            continue;
        }
        if (i + 1 < len && buf[i + 1] == '\n') {
            return i + 2;
        }
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
            return i + 3;
        }
    }
    return 0;
}


const char *hc_response_header(const char *head, apr_size_t head_len,
                               const char *name, apr_size_t *vlen)
{
    apr_size_t nlen = strlen(name), i = 0;

    while (i < head_len) {
        const char *line = head + i, *nl = memchr(line, '\n', head_len - i);
        apr_size_t len = nl ? (apr_size_t)(nl - line) : head_len - i;

        i += len + (nl != NULL);
        if (len > nlen && line[nlen] == ':' &&
            strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1, *end = line + len;
            while (v < end && (*v == ' ' || *v == '\t')) {
                v++;
            }
            while (end > v &&
                   (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t')) {
                end--;
            }
            *vlen = (apr_size_t)(end - v);
            return v;
        }
    }
    *vlen = 0;
    return NULL;
}


int hc_chunked_decode(char *buf, apr_size_t len, apr_size_t *out_len,
                      int in_place)
{
    apr_size_t i = 0, o = 0;

    for (;;) {
        apr_size_t size = 0, k;
        int digits = 0;
        const char *nl;

        while (i < len && apr_isxdigit(buf[i])) {
            if (++digits > 15) {
                *out_len = o;
                return -1;
            }
            size =
                size * 16 + (apr_size_t)(apr_isdigit(buf[i])
                                             ? buf[i] - '0'
                                             : apr_tolower(buf[i]) - 'a' + 10);
            i++;
        }
        if (i >= len) {
            break;
        }
        if (digits == 0 || (buf[i] != ';' && buf[i] != '\r' && buf[i] != '\n' &&
                            buf[i] != ' ' && buf[i] != '\t')) {
            *out_len = o;
            return -1;
        }
        nl = memchr(buf + i, '\n', len - i); /* chunk extensions */
        if (nl == NULL) {
            break;
        }
        i = (apr_size_t)(nl - buf) + 1;
        if (size == 0) {
            *out_len = o; /* trailers, if any, do not matter */
            return 1;
        }
        k = len - i < size ? len - i : size;
        if (in_place && o != i) {
            memmove(buf + o, buf + i, k);
        }
        o += k;
        i += k;
        if (k < size) {
            break;
        }
        if (i < len && buf[i] == '\r') {
            i++;
        }
        if (i >= len) {
            break;
        }
        if (buf[i] != '\n') {
            *out_len = o;
            return -1;
        }
        i++;
    }
    *out_len = o;
    return 0;
}


/* Content-Length: 1 and *v, 0 absent, -1 invalid. */
static int content_length(const char *head, apr_size_t head_len, apr_size_t *v)
{
    apr_size_t n, i, x = 0;
    const char *s = hc_response_header(head, head_len, "Content-Length", &n);

    if (s == NULL) {
        return 0;
    }
    if (n == 0 || n > 15) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (!apr_isdigit(s[i])) {
            return -1;
        }
        x = x * 10 + (apr_size_t)(s[i] - '0');
    }
    *v = x;
    return 1;
}


static int is_chunked(const char *head, apr_size_t head_len)
{
    apr_size_t n;
    const char *s = hc_response_header(head, head_len, "Transfer-Encoding", &n);

    /* the last coding decides */
    return s != NULL && n >= 7 && strncasecmp(s + n - 7, "chunked", 7) == 0;
}


int hc_response_parse(char *buf, apr_size_t *lenp, apr_size_t cap, int eof,
                      int need, int head_only, hc_response_t *r,
                      const char **why)
{
    apr_size_t len = *lenp, le = 0, he, raw, want;

    memset(r, 0, sizeof(*r));
    for (;;) {
        int st = hc_response_status(buf, len, &r->status, &le);
        if (st < 0) {
            *why = "not an HTTP/1.x response";
            return -1;
        }
        if (st == 0) {
            if (eof) {
                *why = len == 0 ? "connection closed without an answer"
                                : "connection closed in the status line";
                return -1;
            }
            if (len >= cap) {
                *why = "status line too long";
                return -1;
            }
            return 0;
        }
        if (need == HC_NEED_STATUS && r->status >= 200) {
            r->head_start = r->body_start = le;
            return 1;
        }
        he = hc_response_head_end(buf, len);
        if (he == 0) {
            if (eof) {
                *why = "connection closed in the response head";
                return -1;
            }
            if (len >= cap || len >= HC_HEAD_MAX) {
                *why = "response head larger than 16 KiB";
                return -1;
            }
            return 0;
        }
        if (r->status >= 200 || r->status == 101) {
            break;
        }
        /* 1xx interim response: drop it, the real one follows */
        memmove(buf, buf + he, len - he);
        len -= he;
        *lenp = len;
    }
    r->head_start = le;
    r->head_len = he - le;
    r->body_start = he;
    if (need < HC_NEED_BODY || head_only || r->status < 200 ||
        r->status == 204 || r->status == 304) {
        return 1;
    }
    raw = len - he;
    if (is_chunked(buf + le, he - le)) {
        apr_size_t out;
        int rc = hc_chunked_decode(buf + he, raw, &out, 0);
        if (rc < 0) {
            *why = "bad chunked framing in the body";
            return -1;
        }
        if (rc == 0 && out < HC_BODY_MAX && len < cap) {
            if (eof) {
                *why = "connection closed before the end of the body";
                return -1;
            }
            return 0;
        }
        hc_chunked_decode(buf + he, raw, &out, 1);
        r->body_len = out < HC_BODY_MAX ? out : HC_BODY_MAX;
        return 1;
    }
    switch (content_length(buf + le, he - le, &want)) {
    case -1:
        *why = "bad Content-Length";
        return -1;
    case 1:
        want = want < HC_BODY_MAX ? want : HC_BODY_MAX;
        if (raw >= want || len >= cap) {
            r->body_len = raw < want ? raw : want;
            return 1;
        }
        if (eof) {
            *why = "connection closed before the end of the body";
            return -1;
        }
        return 0;
    default: /* delimited by the end of the connection */
        if (raw >= HC_BODY_MAX || len >= cap || eof) {
            r->body_len = raw < HC_BODY_MAX ? raw : HC_BODY_MAX;
            return 1;
        }
        return 0;
    }
}
