/*
 * h2_response.c: the HTTP/1.1 response head the core's engine writes on a
 * stream, read back for HEADERS.
 *
 * The head is our own engine's, written in one piece with CRLF line ends
 * (the usual case): finding its end is a search for the empty line, and
 * reading it one pass per line that checks every byte as
 * rl_http_parse_response() does (status line "HTTP/1.x DDD reason", lines
 * ended by CRLF, field names tokens directly followed by ':', no control
 * character but HTAB in a value or the reason: a value a handler took from
 * user input cannot become a field of its own).  What it refuses, that
 * parser refuses too: the stream is then reset, as before.  The names
 * come out in lower case, as HTTP/2 wants them (RFC 9113 8.2.1), so the
 * HEADERS frame needs no other copy.  The core's parser costs about three
 * times as much per head, with its generality (bare LF, limits per line,
 * messages naming the field) that a head we wrote ourselves does not need.
 */
#include <string.h>

#include <apr_strings.h>

#include "h2_private.h"

int h2_head_find(const char *buf, apr_size_t len, apr_size_t *scan,
                 apr_size_t *head_len)
{
    const char *at = buf + *scan, *end = buf + len, *lf;

    /* line by line (memchr is quick where memmem is not, and a head has
     * few lines): the empty line is a LF right after "\r\n\r" */
    while (at < end && (lf = memchr(at, '\n', (apr_size_t)(end - at)))) {
        if (lf - buf >= 3 && lf[-1] == '\r' && lf[-2] == '\n' &&
            lf[-3] == '\r') {
            *head_len = (apr_size_t)(lf + 1 - buf);
            return 1;
        }
        at = lf + 1;
    }
    /* the next search starts where the empty line could begin */
    *scan = len >= 3 ? len - 3 : 0;
    return 0;
}

/* tchar (RFC 9110 5.6.2) */
static const unsigned char h2_tchar_map[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1,
    ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,
    ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,
    ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1,
    ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,
    ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1,
    ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static int h2_bad_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static int h2_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static int h2_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* The line at *pos, CRLF-ended: its start and length; *pos past it. */
static int h2_line(const char *buf, apr_size_t len, apr_size_t *pos,
                   const char **line, apr_size_t *n)
{
    const char *lf = memchr(buf + *pos, '\n', len - *pos);

    if (lf == NULL || lf == buf + *pos || lf[-1] != '\r') {
        return 0; /* truncated, or a bare LF */
    }
    *line = buf + *pos;
    *n = (apr_size_t)(lf - 1 - *line);
    *pos = (apr_size_t)(lf + 1 - buf);
    return 1;
}

static int h2_status_line(apr_pool_t *p, const char *line, apr_size_t n,
                          rl_http_response_t *out)
{
    apr_size_t i;

    if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 ||
        (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
        !h2_digit((unsigned char)line[9]) ||
        !h2_digit((unsigned char)line[10]) ||
        !h2_digit((unsigned char)line[11]) || (n > 12 && line[12] != ' ')) {
        return 0;
    }
    out->proto_num = 1000 + (line[7] - '0');
    out->status =
        (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (out->status < 100 || out->status > 599) {
        return 0;
    }
    for (i = 13; i < n; i++) {
        if (h2_bad_ctl((unsigned char)line[i])) {
            return 0;
        }
    }
    out->reason = n > 13 ? apr_pstrmemdup(p, line + 13, n - 13) : "";
    return 1;
}

/* "name: value" into f, the name in lower case, both in one allocation;
 * 0 when malformed. */
static int h2_field_line(apr_pool_t *p, const char *line, apr_size_t n,
                         rl_http_field_t *f)
{
    char *out = apr_palloc(p, n + 1), *val;
    apr_size_t i, v, e;

    /* the name, checked and lowered in one pass; a leading OWS
     * (obs-fold) or any byte not a tchar ends it */
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        if (!h2_tchar_map[c]) {
            break;
        }
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    if (i == 0 || i == n || line[i] != ':') {
        return 0;
    }
    out[i] = '\0';
    v = i + 1;
    while (v < n && h2_ows((unsigned char)line[v])) {
        v++;
    }
    e = n;
    while (e > v && h2_ows((unsigned char)line[e - 1])) {
        e--;
    }
    /* the value after the name's NUL: n + 1 bytes hold both, the colon
     * not being copied */
    f->name = out;
    f->value = val = out + i + 1;
    for (; v < e; v++) {
        unsigned char c = (unsigned char)line[v];
        if (h2_bad_ctl(c)) {
            return 0;
        }
        *val++ = (char)c;
    }
    *val = '\0';
    return 1;
}

int h2_response_parse(apr_pool_t *p, const char *buf, apr_size_t len,
                      int max_fields, rl_http_response_t *out, const char **why)
{
    apr_size_t pos = 0, n = 0, cap = 0;
    const char *line, *q;

    memset(out, 0, sizeof(*out));
    if (!h2_line(buf, len, &pos, &line, &n) ||
        !h2_status_line(p, line, n, out)) {
        *why = "invalid status line";
        return 502;
    }
    for (q = buf + pos; (q = memchr(q, '\n', len - (apr_size_t)(q - buf)));
         q++) {
        cap++;
    }
    if (cap > (apr_size_t)max_fields) {
        cap = (apr_size_t)max_fields;
    }
    out->fields = apr_palloc(p, (cap ? cap : 1) * sizeof(*out->fields));
    for (;;) {
        if (!h2_line(buf, len, &pos, &line, &n)) {
            *why = "bare CR or LF, NUL or truncation in the head";
            return 502;
        }
        if (n == 0) {
            return RL_HTTP_OK;
        }
        if (out->nfields >= max_fields) {
            *why = "too many header fields";
            return 502;
        }
        if (!h2_field_line(p, line, n, &out->fields[out->nfields])) {
            *why = "invalid header field";
            return 502;
        }
        out->nfields++;
    }
}
