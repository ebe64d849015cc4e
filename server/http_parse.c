/*
 * http_parse.c: the HTTP/1.1 request parser (RFC 9112, RFC 9110).
 *
 * Pure functions without I/O: finding the end of a request head, parsing
 * it, deciding how the request body is framed, decoding a chunked body,
 * normalising a path and naming a status.  They are the first code to see
 * bytes from the network, and a proxy that reads a message differently
 * from its backend is open to request smuggling, so everything here is
 * strict: what RFC 9112 does not allow is refused rather than repaired.
 */
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <apr.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "rl_module.h"
#include "rl_http.h"

/* Leading empty lines skipped before a request line (RFC 9112 §2.2 asks
 * for at least one; httpd allows ten).  Counted in bytes so that ten CRLF
 * pairs fit. */
#define RL_MAX_BLANK_BYTES 20

/* Bound on all trailer fields of a chunked body together. */
#define RL_MAX_TRAILER_BYTES 65536

/* More hex digits than this in a chunk size is refused: 15 digits are 60
 * bits, so the size can never overflow apr_off_t. */
#define RL_MAX_CHUNK_DIGITS 15

#define RL_OFF_MAX                                                             \
    ((apr_off_t)(((apr_uint64_t)1 << (sizeof(apr_off_t) * 8 - 1)) - 1))

/* ------------------------------------------------------------------ */
/* Character classes                                                  */
/* ------------------------------------------------------------------ */

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* tchar, RFC 9110 §5.6.2: what methods and field names are made of. */
static int is_tchar(unsigned char c)
{
    if (is_alpha(c) || is_digit(c)) {
        return 1;
    }
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return 1;
    default:
        return 0;
    }
}

/* A control character that may not appear in a field value or chunk
 * extension: every CTL except HTAB, DEL included (RFC 9110 §5.5). */
static int is_bad_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* unreserved / sub-delims of RFC 3986: the reg-name characters besides
 * pct-encoded. */
static int is_regname_char(unsigned char c)
{
    if (is_alpha(c) || is_digit(c)) {
        return 1;
    }
    switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
        return 1;
    default:
        return 0;
    }
}

/* Case-insensitive comparison of ASCII names, independent of the locale
 * (strcasecmp() is not). */
static int name_is(const char *name, const char *want)
{
    for (;; name++, want++) {
        unsigned char a = (unsigned char)*name;
        unsigned char b = (unsigned char)*want;
        if (a >= 'A' && a <= 'Z') {
            a = (unsigned char)(a - 'A' + 'a');
        }
        if (b >= 'A' && b <= 'Z') {
            b = (unsigned char)(b - 'A' + 'a');
        }
        if (a != b) {
            return 0;
        }
        if (a == '\0') {
            return 1;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Finding the end of the head                                        */
/* ------------------------------------------------------------------ */

/*
 * rl_http_head_end() keeps its whole state in the caller's apr_size_t, so
 * that a head arriving one byte at a time is still scanned once: the
 * position reached, the length of the line being scanned and the number
 * of lines seen are packed into it.  nlines is 0 before the request line
 * ends, then 1 + the number of field lines.
 *
 * Where apr_size_t has 64 bits all three fit (a head up to 4 GiB, lines
 * up to 1 MiB, 4093 fields; more is answered as over the limit, whatever
 * lim says).  Where it has 32 bits only the start of the current line and
 * nlines are kept (a head up to 1 MiB), and a call resumes at the start of
 * the unfinished line: each line is then rescanned at most once per call,
 * bounded by the line limits.
 * Define RL_HTTP_COMPACT_SCAN_STATE to test that variant on 64 bits.
 */
typedef struct head_scan_t {
    apr_size_t pos;      /* next byte to look at */
    apr_size_t line_len; /* bytes of the current line so far, no CR/LF */
    apr_size_t nlines;   /* see above */
} head_scan_t;

#if APR_SIZEOF_VOIDP >= 8 && !defined(RL_HTTP_COMPACT_SCAN_STATE)
#define HS_POS_BITS 32
#define HS_LEN_BITS 20
#define HS_LINES_BITS 12
#define HS_KEEPS_LINE_LEN 1
#else
#define HS_POS_BITS 20
#define HS_LEN_BITS 0
#define HS_LINES_BITS 12
#define HS_KEEPS_LINE_LEN 0
#endif

#define HS_POS_MAX (((apr_size_t)1 << HS_POS_BITS) - 1)
#define HS_LINES_MAX (((apr_size_t)1 << HS_LINES_BITS) - 1)
#if HS_KEEPS_LINE_LEN
#define HS_LEN_MAX (((apr_size_t)1 << HS_LEN_BITS) - 1)
#else
#define HS_LEN_MAX ((apr_size_t)-1)
#endif

static void head_scan_load(apr_size_t v, head_scan_t *s)
{
    s->pos = v & HS_POS_MAX;
#if HS_KEEPS_LINE_LEN
    s->line_len = (v >> HS_POS_BITS) & HS_LEN_MAX;
#else
    s->line_len = 0;
#endif
    s->nlines = (v >> (HS_POS_BITS + HS_LEN_BITS)) & HS_LINES_MAX;
}

static apr_size_t head_scan_save(const head_scan_t *s)
{
#if HS_KEEPS_LINE_LEN
    return s->pos | (s->line_len << HS_POS_BITS) |
           (s->nlines << (HS_POS_BITS + HS_LEN_BITS));
#else
    /* Resume at the start of the unfinished line. */
    return (s->pos - s->line_len) | (s->nlines << HS_POS_BITS);
#endif
}

/* Whether the line being scanned is over its limit; sets *status. */
static int head_line_too_long(const head_scan_t *s, const rl_http_limits_t *lim,
                              int *status)
{
    if (s->nlines == 0) {
        if (s->line_len > lim->max_line || s->line_len > HS_LEN_MAX) {
            *status = 414;
            return 1;
        }
    } else if (s->line_len > lim->max_field || s->line_len > HS_LEN_MAX) {
        *status = 431;
        return 1;
    }
    return 0;
}

/*
 * Whether a first line has the shape of an HTTP/0.9 request, "GET /path":
 * one space, and not a status line (a request line never starts with
 * "HTTP/": '/' is not a tchar).  Such a request has no header section, so
 * its client waits for an answer after this line: the head ends here,
 * and rl_http_parse_head() refuses it at once instead of a 408 once
 * RequestReadTimeout runs out.
 */
static int http09_shaped(const char *line, apr_size_t n)
{
    const char *sp = memchr(line, ' ', n);

    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        return 0;
    }
    return sp != NULL &&
           memchr(sp + 1, ' ', n - (apr_size_t)(sp + 1 - line)) == NULL;
}

RL_DECLARE(int)
rl_http_head_end(const char *buf, apr_size_t len, apr_size_t *scan_pos,
                 const rl_http_limits_t *lim, apr_size_t *head_len)
{
    head_scan_t s;
    apr_size_t max_lines, eol = 0;
    int status = 0;

    head_scan_load(*scan_pos, &s);
    /* A state beyond the buffer is the caller's mistake; there is nothing
     * new to look at. */
    if (s.pos > len) {
        return RL_HTTP_AGAIN;
    }
    max_lines = lim->max_fields > 0 ? (apr_size_t)lim->max_fields : 0;

    while (s.pos < len) {
        unsigned char c = (unsigned char)buf[s.pos];

        if (c == '\r') {
            /* CR must be followed by LF; whether it is cannot be known
             * until the next byte arrives. */
            if (s.pos + 1 == len) {
                break;
            }
            if (buf[s.pos + 1] != '\n') {
                return 400;
            }
            eol = s.pos;
            s.pos += 2;
        } else if (c == '\n') {
            eol = s.pos;
            s.pos++; /* bare LF: RFC 9112 §2.2 lets us accept it */
        } else if (c == '\0') {
            return 400;
        } else {
            s.pos++;
            s.line_len++;
            if (head_line_too_long(&s, lim, &status)) {
                return status;
            }
            continue;
        }

        /* A line ended. */
        if (s.line_len == 0) {
            if (s.nlines > 0) {
                *head_len = s.pos;
                *scan_pos = head_scan_save(&s);
                return RL_HTTP_OK;
            }
            /* An empty line before the request line: skip it, but not
             * forever. */
            if (s.pos > RL_MAX_BLANK_BYTES) {
                return 400;
            }
            continue;
        }
        if (s.nlines == 0 &&
            http09_shaped(buf + eol - s.line_len, s.line_len)) {
            s.line_len = 0;
            *head_len = s.pos;
            *scan_pos = head_scan_save(&s);
            return RL_HTTP_OK;
        }
        s.nlines++;
        if (s.nlines > 1 &&
            (s.nlines - 1 > max_lines || s.nlines >= HS_LINES_MAX)) {
            return 431;
        }
        s.line_len = 0;
    }
    if (s.pos > HS_POS_MAX) {
        return 431; /* only with absurd limits */
    }
    *scan_pos = head_scan_save(&s);
    return RL_HTTP_AGAIN;
}

/* ------------------------------------------------------------------ */
/* Parsing the head                                                   */
/* ------------------------------------------------------------------ */

enum { LINE_OK, LINE_MISSING_END, LINE_TOO_LONG, LINE_BAD };

/*
 * Finds the line starting at *pos with the rules of rl_http_head_end()
 * (CRLF or bare LF ends it; bare CR and NUL are errors) and a length limit.
 * On LINE_OK, *start and *n are the line without its end and *pos is past
 * the end.
 */
static int next_line(const char *buf, apr_size_t len, apr_size_t *pos,
                     apr_size_t limit, apr_size_t *start, apr_size_t *n)
{
    apr_size_t i = *pos;

    *start = i;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n') {
            *n = i - *start;
            *pos = i + 1;
            return LINE_OK;
        }
        if (c == '\r') {
            if (i + 1 == len) {
                return LINE_MISSING_END;
            }
            if (buf[i + 1] != '\n') {
                return LINE_BAD;
            }
            *n = i - *start;
            *pos = i + 2;
            return LINE_OK;
        }
        if (c == '\0') {
            return LINE_BAD;
        }
        if (i - *start >= limit) {
            return LINE_TOO_LONG;
        }
    }
    return LINE_MISSING_END;
}

/*
 * Checks host [ ":" port ] (RFC 3986 §3.2.2, §3.2.3): an IP-literal with an
 * IPv6 address, or a non-empty reg-name (IPv4 addresses are reg-names too),
 * then an optional port of 1 to 5 digits up to 65535.  IPvFuture, zone IDs
 * and empty ports are refused: nothing legitimate sends them to a proxy.
 */
static int valid_authority(const char *s, apr_size_t n, int need_port)
{
    apr_size_t i = 0;

    if (n == 0) {
        return 0;
    }
    if (s[0] == '[') {
        char addr[INET6_ADDRSTRLEN];
        struct in6_addr in6;
        const char *end = memchr(s, ']', n);
        apr_size_t alen;

        if (end == NULL) {
            return 0;
        }
        alen = (apr_size_t)(end - s) - 1;
        if (alen == 0 || alen >= sizeof(addr)) {
            return 0;
        }
        memcpy(addr, s + 1, alen);
        addr[alen] = '\0';
        if (inet_pton(AF_INET6, addr, &in6) != 1) {
            return 0;
        }
        i = alen + 2;
    } else {
        while (i < n && s[i] != ':') {
            unsigned char c = (unsigned char)s[i];
            if (c == '%') {
                if (i + 2 >= n || hex_value((unsigned char)s[i + 1]) < 0 ||
                    hex_value((unsigned char)s[i + 2]) < 0) {
                    return 0;
                }
                i += 3;
            } else if (is_regname_char(c)) {
                i++;
            } else {
                return 0;
            }
        }
        if (i == 0) {
            return 0;
        }
    }
    if (i == n) {
        return !need_port;
    }
    if (s[i] != ':') {
        return 0;
    }
    i++;
    if (i == n || n - i > 5) {
        return 0;
    }
    {
        long port = 0;
        for (; i < n; i++) {
            if (!is_digit((unsigned char)s[i])) {
                return 0;
            }
            port = port * 10 + (s[i] - '0');
        }
        return port <= 65535;
    }
}

/* absolute-form: scheme "://" authority [ path-abempty ] [ "?" query ].
 * RFC 9110 §4.2.4 asks to treat userinfo in http(s) URIs as an error, and
 * an empty host is invalid (§4.2.1), so the authority must be a host. */
static int valid_absolute_form(const char *t, apr_size_t n)
{
    apr_size_t i = 0, a;

    if (n == 0 || !is_alpha((unsigned char)t[0])) {
        return 0;
    }
    while (i < n &&
           (is_alpha((unsigned char)t[i]) || is_digit((unsigned char)t[i]) ||
            t[i] == '+' || t[i] == '-' || t[i] == '.')) {
        i++;
    }
    if (n - i < 3 || memcmp(t + i, "://", 3) != 0) {
        return 0;
    }
    i += 3;
    a = i;
    while (i < n && t[i] != '/' && t[i] != '?') {
        i++;
    }
    return valid_authority(t + a, i - a, 0);
}

/* Parses the request line; fills method, target, protocol, proto_num. */
static int parse_request_line(apr_pool_t *p, const char *line, apr_size_t n,
                              rl_http_head_t *out, const char **why)
{
    apr_size_t i = 0, t0, tn, v0;
    const char *t;

    while (i < n && is_tchar((unsigned char)line[i])) {
        i++;
    }
    if (i == 0 || i == n || line[i] != ' ') {
        *why = "invalid method in request line";
        return 400;
    }
    out->method = apr_pstrmemdup(p, line, i);

    t0 = ++i;
    while (i < n && line[i] != ' ') {
        unsigned char c = (unsigned char)line[i];
        /* VCHAR only; '#' starts a fragment, which a request-target never
         * has (RFC 9112 §3.2). */
        if (c <= 0x20 || c >= 0x7f || c == '#') {
            *why = "invalid character in request target";
            return 400;
        }
        i++;
    }
    tn = i - t0;
    if (tn == 0) {
        *why = "empty request target";
        return 400;
    }
    if (i == n) {
        *why = "missing protocol version in request line";
        return 400;
    }

    v0 = i + 1;
    if (n - v0 != 8 || memcmp(line + v0, "HTTP/", 5) != 0 ||
        !is_digit((unsigned char)line[v0 + 5]) || line[v0 + 6] != '.' ||
        !is_digit((unsigned char)line[v0 + 7])) {
        *why = "malformed protocol version in request line";
        return 400;
    }
    out->proto_num = 1000 * (line[v0 + 5] - '0') + (line[v0 + 7] - '0');
    if (out->proto_num != 1000 && out->proto_num != 1001) {
        *why = "unsupported protocol version";
        return 505;
    }
    out->protocol = apr_pstrmemdup(p, line + v0, 8);

    /* The four target forms of RFC 9112 §3.2, each where it belongs. */
    t = line + t0;
    if (strcmp(out->method, "CONNECT") == 0) {
        if (!valid_authority(t, tn, 1)) {
            *why = "CONNECT needs an authority-form target";
            return 400;
        }
    } else if (t[0] == '/') {
        /* origin-form */
    } else if (tn == 1 && t[0] == '*') {
        if (strcmp(out->method, "OPTIONS") != 0) {
            *why = "asterisk-form target is for OPTIONS only";
            return 400;
        }
    } else if (!valid_absolute_form(t, tn)) {
        *why = "invalid request target";
        return 400;
    }
    out->target = apr_pstrmemdup(p, t, tn);
    return RL_HTTP_OK;
}

/* Parses one field line into *f. */
static int parse_field_line(apr_pool_t *p, const char *line, apr_size_t n,
                            int first, rl_http_field_t *f, const char **why)
{
    apr_size_t i = 0, v, e;

    if (is_ows((unsigned char)line[0])) {
        /* obs-fold, or whitespace between the request line and the first
         * field: both refused (RFC 9112 §5.2, §2.2). */
        *why = first ? "whitespace before the first header field"
                     : "obsolete line folding in header field";
        return 400;
    }
    while (i < n && is_tchar((unsigned char)line[i])) {
        i++;
    }
    if (i == n) {
        *why = "missing colon in header field";
        return 400;
    }
    if (line[i] != ':') {
        apr_size_t w = i;
        while (w < n && is_ows((unsigned char)line[w])) {
            w++;
        }
        if (i > 0 && w > i && w < n && line[w] == ':') {
            *why = apr_psprintf(p,
                                "whitespace before colon in header "
                                "field '%.*s'",
                                (int)(i > 64 ? 64 : i), line);
        } else {
            *why = "invalid character in header field name";
        }
        return 400;
    }
    if (i == 0) {
        *why = "empty header field name";
        return 400;
    }

    v = i + 1;
    while (v < n && is_ows((unsigned char)line[v])) {
        v++;
    }
    e = n;
    while (e > v && is_ows((unsigned char)line[e - 1])) {
        e--;
    }
    for (apr_size_t k = v; k < e; k++) {
        if (is_bad_ctl((unsigned char)line[k])) {
            *why = apr_psprintf(p,
                                "control character in value of header "
                                "field '%.*s'",
                                (int)(i > 64 ? 64 : i), line);
            return 400;
        }
    }
    f->name = apr_pstrmemdup(p, line, i);
    f->value = apr_pstrmemdup(p, line + v, e - v);
    return RL_HTTP_OK;
}

RL_DECLARE(int)
rl_http_parse_head(apr_pool_t *p, const char *buf, apr_size_t len,
                   const rl_http_limits_t *lim, rl_http_head_t *out,
                   const char **why)
{
    const char *dummy;
    apr_size_t pos = 0, start = 0, n = 0, cap = 0;
    int rv, max_fields;

    if (why == NULL) {
        why = &dummy;
    }
    *why = NULL;
    memset(out, 0, sizeof(*out));
    max_fields = lim->max_fields > 0 ? lim->max_fields : 0;

    /* Empty lines before the request line, then the request line. */
    for (;;) {
        rv = next_line(buf, len, &pos, lim->max_line, &start, &n);
        if (rv == LINE_TOO_LONG) {
            *why = "request line too long";
            return 414;
        }
        if (rv == LINE_BAD) {
            *why = "bare CR or NUL in request line";
            return 400;
        }
        if (rv == LINE_MISSING_END) {
            *why = "incomplete request head";
            return 400;
        }
        if (n > 0) {
            break;
        }
        if (pos > RL_MAX_BLANK_BYTES) {
            *why = "too many empty lines before the request line";
            return 400;
        }
    }
    out->line_len = n;
    rv = parse_request_line(p, buf + start, n, out, why);
    if (rv != RL_HTTP_OK) {
        return rv;
    }

    /* Every field line ends with a LF, which bounds the array. */
    for (const char *q = buf + pos;
         (q = memchr(q, '\n', len - (apr_size_t)(q - buf))) != NULL; q++) {
        if (++cap > (apr_size_t)max_fields) {
            break;
        }
    }
    out->fields = apr_pcalloc(p, (cap ? cap : 1) * sizeof(*out->fields));

    for (;;) {
        rv = next_line(buf, len, &pos, lim->max_field, &start, &n);
        if (rv == LINE_TOO_LONG) {
            *why = "header field too long";
            return 431;
        }
        if (rv == LINE_BAD) {
            *why = "bare CR or NUL in header field";
            return 400;
        }
        if (rv == LINE_MISSING_END) {
            *why = "incomplete request head";
            return 400;
        }
        if (n == 0) {
            return RL_HTTP_OK;
        }
        if (out->nfields >= max_fields) {
            *why = "too many header fields";
            return 431;
        }
        rv = parse_field_line(p, buf + start, n, out->nfields == 0,
                              &out->fields[out->nfields], why);
        if (rv != RL_HTTP_OK) {
            return rv;
        }
        out->nfields++;
    }
}

/* ------------------------------------------------------------------ */
/* Response heads (from backends)                                     */
/* ------------------------------------------------------------------ */

/* "HTTP/1.1 200 OK": version, three digits, SP, any visible reason. */
static int parse_status_line(apr_pool_t *p, const char *line, apr_size_t n,
                             rl_http_response_t *out, const char **why)
{
    apr_size_t i;

    if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 ||
        (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
        !is_digit((unsigned char)line[9]) ||
        !is_digit((unsigned char)line[10]) ||
        !is_digit((unsigned char)line[11]) || (n > 12 && line[12] != ' ')) {
        *why = "invalid status line from the backend";
        return 502;
    }
    out->proto_num = 1000 + (line[7] - '0');
    out->status =
        (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (out->status < 100 || out->status > 599) {
        *why = "status code out of range from the backend";
        return 502;
    }
    for (i = 13; i < n; i++) {
        if (is_bad_ctl((unsigned char)line[i])) {
            *why = "control character in the backend's reason phrase";
            return 502;
        }
    }
    out->reason = n > 13 ? apr_pstrmemdup(p, line + 13, n - 13) : "";
    return RL_HTTP_OK;
}

/* Whether the line next_line() just returned, ending before pos, ended
 * in CRLF.  A client may end lines with a bare LF (RFC 9112 §2.2); a
 * backend may not: it is where a value that an application took from
 * user input ("a\nSet-Cookie: …") would turn into a field of its own. */
static int ended_in_crlf(const char *buf, apr_size_t pos)
{
    return pos >= 2 && buf[pos - 2] == '\r';
}

RL_DECLARE(int)
rl_http_parse_response(apr_pool_t *p, const char *buf, apr_size_t len,
                       const rl_http_limits_t *lim, rl_http_response_t *out,
                       const char **why)
{
    const char *dummy;
    apr_size_t pos = 0, start = 0, n = 0, cap = 0;
    int rv;

    if (why == NULL) {
        why = &dummy;
    }
    *why = NULL;
    memset(out, 0, sizeof(*out));
    rv = next_line(buf, len, &pos, lim->max_line, &start, &n);
    if (rv != LINE_OK || !ended_in_crlf(buf, pos)) {
        *why = "invalid status line from the backend";
        return 502;
    }
    rv = parse_status_line(p, buf + start, n, out, why);
    if (rv != RL_HTTP_OK) {
        return rv;
    }
    for (const char *q = buf + pos;
         (q = memchr(q, '\n', len - (apr_size_t)(q - buf))) != NULL; q++) {
        if (++cap > (apr_size_t)lim->max_fields) {
            break;
        }
    }
    out->fields = apr_pcalloc(p, (cap ? cap : 1) * sizeof(*out->fields));
    for (;;) {
        rv = next_line(buf, len, &pos, lim->max_field, &start, &n);
        if (rv != LINE_OK) {
            *why = rv == LINE_TOO_LONG
                       ? "header field from the backend too long"
                       : "bare CR, NUL or truncation in the backend's head";
            return 502;
        }
        if (!ended_in_crlf(buf, pos)) {
            *why = "bare LF in the backend's head";
            return 502;
        }
        if (n == 0) {
            return RL_HTTP_OK;
        }
        if (out->nfields >= lim->max_fields) {
            *why = "too many header fields from the backend";
            return 502;
        }
        if (parse_field_line(p, buf + start, n, 0, &out->fields[out->nfields],
                             why) != RL_HTTP_OK) {
            return 502;
        }
        out->nfields++;
    }
}

/* ------------------------------------------------------------------ */
/* Framing                                                            */
/* ------------------------------------------------------------------ */

/* Parses a Content-Length value, a list of 1*DIGIT elements (RFC 9110
 * §8.6 lets a recipient accept "42, 42").  All elements must agree with
 * each other and with *len when *have is set. */
static int parse_content_length(const char *v, apr_off_t *len, int *have)
{
    const char *s = v;

    for (;;) {
        apr_off_t n = 0;
        const char *d;

        while (is_ows((unsigned char)*s)) {
            s++;
        }
        d = s;
        while (is_digit((unsigned char)*s)) {
            int digit = *s - '0';
            if (n > (RL_OFF_MAX - digit) / 10) {
                return 0;
            }
            n = n * 10 + digit;
            s++;
        }
        if (s == d) {
            return 0;
        }
        if (*have && n != *len) {
            return 0;
        }
        *len = n;
        *have = 1;
        while (is_ows((unsigned char)*s)) {
            s++;
        }
        if (*s == '\0') {
            return 1;
        }
        if (*s != ',') {
            return 0;
        }
        s++;
    }
}

/*
 * Content-Length: 0 gives RL_BODY_LENGTH with *length 0 (the client did
 * frame a body, an empty one, and a proxy forwards that as sent).  Without
 * either field: RL_BODY_NONE and *length 0.  Chunked: *length -1.
 */
RL_DECLARE(int)
rl_http_request_framing(const rl_http_head_t *h, rl_body_kind_e *kind,
                        apr_off_t *length, const char **why)
{
    const char *dummy;
    const char *host = NULL;
    apr_off_t cl = 0;
    int have_cl = 0, have_te = 0, nhost = 0;

    if (why == NULL) {
        why = &dummy;
    }
    *why = NULL;
    *kind = RL_BODY_NONE;
    *length = 0;

    for (int i = 0; i < h->nfields; i++) {
        const rl_http_field_t *f = &h->fields[i];

        if (name_is(f->name, "Transfer-Encoding")) {
            /* Several fields form one list; the only list accepted is a
             * single "chunked", so a second field is always an error. */
            if (have_te) {
                *why = "several Transfer-Encoding fields";
                return 400;
            }
            if (!name_is(f->value, "chunked")) {
                *why = "Transfer-Encoding other than chunked";
                return 400;
            }
            have_te = 1;
        } else if (name_is(f->name, "Content-Length")) {
            if (!parse_content_length(f->value, &cl, &have_cl)) {
                *why = "invalid Content-Length";
                return 400;
            }
        } else if (name_is(f->name, "Host")) {
            nhost++;
            host = f->value;
        }
    }

    if (have_te && have_cl) {
        *why = "both Transfer-Encoding and Content-Length";
        return 400;
    }
    if (have_te && h->proto_num < 1001) {
        *why = "Transfer-Encoding in an HTTP/1.0 request";
        return 400;
    }
    if (nhost > 1) {
        *why = "several Host fields";
        return 400;
    }
    if (nhost == 0 && h->proto_num >= 1001) {
        *why = "missing Host in an HTTP/1.1 request";
        return 400;
    }
    if (host != NULL) {
        /* An empty Host is allowed when the target has no authority
         * (RFC 9112 §3.2): origin-form and asterisk-form. */
        int target_has_authority = h->target != NULL && h->target[0] != '/' &&
                                   strcmp(h->target, "*") != 0;
        if (host[0] != '\0' || target_has_authority) {
            if (!valid_authority(host, strlen(host), 0)) {
                *why = "invalid Host";
                return 400;
            }
        }
    }

    if (have_te) {
        *kind = RL_BODY_CHUNKED;
        *length = -1;
    } else if (have_cl) {
        *kind = RL_BODY_LENGTH;
        *length = cl;
    }
    return RL_HTTP_OK;
}

/* Response framing, RFC 9112 §6.3. */
RL_DECLARE(int)
rl_http_response_framing(const rl_http_response_t *h, int head_request,
                         rl_body_kind_e *kind, apr_off_t *length,
                         const char **why)
{
    const char *te = NULL;
    apr_off_t cl = 0;
    int have_cl = 0, i;

    *kind = RL_BODY_NONE;
    *length = 0;
    for (i = 0; i < h->nfields; i++) {
        const rl_http_field_t *f = &h->fields[i];
        if (name_is(f->name, "transfer-encoding")) {
            if (te != NULL) {
                *why = "several Transfer-Encoding fields from the backend";
                return 502;
            }
            te = f->value;
        } else if (name_is(f->name, "content-length")) {
            if (!parse_content_length(f->value, &cl, &have_cl)) {
                *why = "invalid or conflicting Content-Length from the "
                       "backend";
                return 502;
            }
        }
    }
    if (te != NULL && have_cl) {
        *why = "backend sent both Transfer-Encoding and Content-Length";
        return 502;
    }
    if (te != NULL && strcasecmp(te, "chunked") != 0) {
        *why = "backend used a transfer coding other than chunked";
        return 502;
    }
    if (head_request || h->status < 200 || h->status == 204 ||
        h->status == 304) {
        return RL_HTTP_OK;
    }
    if (te != NULL) {
        *kind = RL_BODY_CHUNKED;
        *length = -1;
    } else if (have_cl) {
        *kind = RL_BODY_LENGTH;
        *length = cl;
    } else {
        *kind = RL_BODY_UNTIL_CLOSE;
        *length = -1;
    }
    return RL_HTTP_OK;
}

/* ------------------------------------------------------------------ */
/* Chunked body                                                       */
/* ------------------------------------------------------------------ */

/* Decoder states; the zeroed struct starts in CH_SIZE. */
enum {
    CH_SIZE = 0,   /* chunk size digits; remaining accumulates the size */
    CH_SIZE_WS,    /* after the digits: BWS, ';' or the line end */
    CH_EXT,        /* in chunk extensions, up to the line end */
    CH_SIZE_LF,    /* CR seen at the end of a size line */
    CH_DATA,       /* remaining bytes of chunk data */
    CH_DATA_END,   /* the CRLF after chunk data */
    CH_DATA_LF,    /* CR seen after chunk data */
    CH_TRAILER,    /* in a trailer line, or at its start if line_bytes 0 */
    CH_TRAILER_LF, /* CR seen at the end of a trailer line */
    CH_END_LF,     /* CR seen on the final empty line */
    CH_DONE,
    CH_ERROR
};

RL_DECLARE(int)
rl_http_chunked_next(rl_http_chunked_t *st, const char *in, apr_size_t len,
                     apr_size_t max_line, apr_size_t *consumed,
                     const char **data, apr_size_t *data_len)
{
    apr_size_t pos = 0;

    *consumed = 0;
    *data = NULL;
    *data_len = 0;
    if (st->state == CH_DONE) {
        return RL_HTTP_DONE;
    }
    if (st->state == CH_ERROR) {
        return 400;
    }

    while (pos < len) {
        unsigned char c = (unsigned char)in[pos];

        switch (st->state) {
        case CH_SIZE: {
            int hv = hex_value(c);
            if (hv >= 0) {
                if (st->line_bytes >= RL_MAX_CHUNK_DIGITS) {
                    goto bad;
                }
                st->remaining = st->remaining * 16 + hv;
                st->line_bytes++;
                pos++;
                break;
            }
            if (st->line_bytes == 0) {
                goto bad;
            }
            st->state = CH_SIZE_WS;
            break; /* look at c again in the new state */
        }

        case CH_SIZE_WS:
        case CH_EXT:
            if (c == '\r') {
                st->state = CH_SIZE_LF;
                pos++;
                break;
            }
            if (c == '\n') {
                pos++;
                goto size_line_done;
            }
            if (st->state == CH_SIZE_WS && c == ';') {
                st->state = CH_EXT;
            } else if (st->state == CH_SIZE_WS ? !is_ows(c) : is_bad_ctl(c)) {
                goto bad;
            }
            if (++st->line_bytes > max_line) {
                goto bad;
            }
            pos++;
            break;

        case CH_SIZE_LF:
            if (c != '\n') {
                goto bad;
            }
            pos++;
        size_line_done:
            st->line_bytes = 0;
            st->state = st->remaining > 0 ? CH_DATA : CH_TRAILER;
            break;

        case CH_DATA: {
            apr_size_t n = len - pos;
            if ((apr_off_t)n > st->remaining || (apr_off_t)n < 0) {
                n = (apr_size_t)st->remaining;
            }
            *data = in + pos;
            *data_len = n;
            st->remaining -= (apr_off_t)n;
            if (st->remaining == 0) {
                st->state = CH_DATA_END;
            }
            *consumed = pos + n;
            return RL_HTTP_OK;
        }

        case CH_DATA_END:
            if (c == '\r') {
                st->state = CH_DATA_LF;
            } else if (c == '\n') {
                st->state = CH_SIZE;
            } else {
                goto bad;
            }
            pos++;
            break;

        case CH_DATA_LF:
            if (c != '\n') {
                goto bad;
            }
            st->state = CH_SIZE;
            pos++;
            break;

        case CH_TRAILER:
            if (c == '\r') {
                st->state = st->line_bytes == 0 ? CH_END_LF : CH_TRAILER_LF;
                pos++;
                break;
            }
            if (c == '\n') {
                pos++;
                if (st->line_bytes == 0) {
                    goto done;
                }
                st->line_bytes = 0;
                break;
            }
            /* Trailers are discarded, but held to the rules of header
             * fields: no controls, no obs-fold. */
            if (is_bad_ctl(c) || (st->line_bytes == 0 && is_ows(c))) {
                goto bad;
            }
            if (++st->line_bytes > max_line ||
                ++st->trailer_bytes > RL_MAX_TRAILER_BYTES) {
                goto bad;
            }
            pos++;
            break;

        case CH_TRAILER_LF:
            if (c != '\n') {
                goto bad;
            }
            st->state = CH_TRAILER;
            st->line_bytes = 0;
            pos++;
            break;

        case CH_END_LF:
            if (c != '\n') {
                goto bad;
            }
            pos++;
            goto done;

        default:
            goto bad;
        }
    }
    *consumed = pos;
    return RL_HTTP_AGAIN;

done:
    st->state = CH_DONE;
    *consumed = pos;
    return RL_HTTP_DONE;

bad:
    st->state = CH_ERROR;
    *consumed = pos;
    return 400;
}

/* ------------------------------------------------------------------ */
/* Reason phrases                                                     */
/* ------------------------------------------------------------------ */

RL_DECLARE(const char *) rl_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 203:
        return "Non-Authoritative Information";
    case 204:
        return "No Content";
    case 205:
        return "Reset Content";
    case 206:
        return "Partial Content";
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 305:
        return "Use Proxy";
    case 306:
        return "(Unused)";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 407:
        return "Proxy Authentication Required";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 418:
        return "(Unused)";
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Content";
    case 425:
        return "Too Early";
    case 426:
        return "Upgrade Required";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 451:
        return "Unavailable For Legal Reasons";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    case 507:
        return "Insufficient Storage";
    case 508:
        return "Loop Detected";
    case 510:
        return "Not Extended";
    case 511:
        return "Network Authentication Required";
    default:
        return NULL;
    }
}
