/*
 * http_parse_test.c: unit tests of the request parser (server/http_parse.c).
 *
 * Each rejection the parser makes has its own test, since each closes a
 * request smuggling or confusion hole and must not quietly come back.
 * Incremental entry points are also fed one byte at a time and checked
 * against the result of one call with everything.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "rl_module.h"
#include "rl_http.h"

static apr_pool_t *pool;

static const rl_http_limits_t lim = {8190, 8190, 100};

static int group_setup(void **state)
{
    (void)state;
    if (apr_initialize() != APR_SUCCESS) {
        return -1;
    }
    return apr_pool_create(&pool, NULL) == APR_SUCCESS ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    apr_pool_destroy(pool);
    apr_terminate();
    return 0;
}

static int test_setup(void **state)
{
    (void)state;
    apr_pool_clear(pool);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

/* rl_http_head_end() on the whole of s in one call. */
static int head_end_all(const char *s, apr_size_t len,
                        const rl_http_limits_t *l, apr_size_t *head_len)
{
    apr_size_t scan = 0;
    *head_len = 0;
    return rl_http_head_end(s, len, &scan, l, head_len);
}

/* rl_http_head_end() on s revealed one byte more per call. */
static int head_end_bytewise(const char *s, apr_size_t len,
                             const rl_http_limits_t *l, apr_size_t *head_len)
{
    apr_size_t scan = 0;
    int rv = RL_HTTP_AGAIN;

    *head_len = 0;
    for (apr_size_t n = 1; n <= len; n++) {
        rv = rl_http_head_end(s, n, &scan, l, head_len);
        if (rv != RL_HTTP_AGAIN) {
            break;
        }
    }
    return rv;
}

/* Finds the head with rl_http_head_end(), which must say OK, and parses
 * it. */
static int parse(const char *s, rl_http_head_t *h, const char **why)
{
    apr_size_t head_len;
    int rv = head_end_all(s, strlen(s), &lim, &head_len);

    if (rv != RL_HTTP_OK) {
        return rv;
    }
    return rl_http_parse_head(pool, s, head_len, &lim, h, why);
}

/* Parses s (which must parse) and runs the framing decision. */
static int framing(const char *s, rl_body_kind_e *kind, apr_off_t *length)
{
    rl_http_head_t h;
    const char *why = NULL;

    assert_int_equal(parse(s, &h, &why), RL_HTTP_OK);
    return rl_http_request_framing(&h, kind, length, &why);
}

static int framing_status(const char *s)
{
    rl_body_kind_e kind;
    apr_off_t length;
    return framing(s, &kind, &length);
}

static int parse_status(const char *s)
{
    rl_http_head_t h;
    const char *why = NULL;
    int rv = parse(s, &h, &why);
    if (rv != RL_HTTP_OK) {
        assert_non_null(why);
    }
    return rv;
}

/* Decodes a chunked body given in pieces of `piece` bytes (0: all at
 * once).  Returns the final status; the data is appended to out. */
static int dechunk(const char *in, apr_size_t len, apr_size_t piece, char *out,
                   apr_size_t *out_len, apr_size_t *used)
{
    rl_http_chunked_t st;
    apr_size_t off = 0;

    memset(&st, 0, sizeof(st));
    *out_len = 0;
    if (piece == 0) {
        piece = len;
    }
    while (off < len) {
        apr_size_t end = off + piece < len ? off + piece : len;
        while (off < end) {
            apr_size_t consumed;
            const char *data;
            apr_size_t data_len;
            int rv = rl_http_chunked_next(&st, in + off, end - off, 8190,
                                          &consumed, &data, &data_len);
            assert_true(consumed <= end - off);
            off += consumed;
            if (rv == RL_HTTP_OK) {
                assert_true(data_len > 0);
                assert_true(data >= in && data + data_len <= in + len);
                memcpy(out + *out_len, data, data_len);
                *out_len += data_len;
                continue;
            }
            if (rv != RL_HTTP_AGAIN) {
                *used = off;
                return rv;
            }
            assert_int_equal(off, end);
        }
    }
    *used = off;
    return RL_HTTP_AGAIN;
}

/* ------------------------------------------------------------------ */
/* rl_http_head_end                                                   */
/* ------------------------------------------------------------------ */

static void head_end_simple(void **state)
{
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    apr_size_t hl;
    (void)state;
    assert_int_equal(head_end_all(s, strlen(s), &lim, &hl), RL_HTTP_OK);
    assert_int_equal(hl, strlen(s));
}

static void head_end_incomplete(void **state)
{
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\n";
    apr_size_t hl;
    (void)state;
    assert_int_equal(head_end_all(s, strlen(s), &lim, &hl), RL_HTTP_AGAIN);
}

static void head_end_cr_last_byte(void **state)
{
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    apr_size_t scan = 0, hl = 0;
    (void)state;
    /* Every prefix ending in CR is incomplete, not a bare CR. */
    for (apr_size_t n = 1; n < strlen(s); n++) {
        if (s[n - 1] == '\r') {
            apr_size_t sc = 0;
            assert_int_equal(rl_http_head_end(s, n, &sc, &lim, &hl),
                             RL_HTTP_AGAIN);
        }
    }
    assert_int_equal(rl_http_head_end(s, 15, &scan, &lim, &hl), RL_HTTP_AGAIN);
    assert_int_equal(rl_http_head_end(s, strlen(s), &scan, &lim, &hl),
                     RL_HTTP_OK);
    assert_int_equal(hl, strlen(s));
}

static void head_end_bare_lf(void **state)
{
    const char *s = "GET / HTTP/1.1\nHost: a\n\nrest";
    apr_size_t hl;
    (void)state;
    assert_int_equal(head_end_all(s, strlen(s), &lim, &hl), RL_HTTP_OK);
    assert_int_equal(hl, strlen(s) - 4);
    assert_int_equal(parse_status(s), RL_HTTP_OK);
}

static void head_end_bare_cr_request_line(void **state)
{
    const char *s = "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n";
    apr_size_t hl;
    (void)state;
    assert_int_equal(head_end_all(s, strlen(s), &lim, &hl), 400);
    assert_int_equal(rl_http_parse_head(pool, s, strlen(s), &lim,
                                        &(rl_http_head_t){0}, NULL),
                     400);
}

static void head_end_bare_cr_header_value(void **state)
{
    const char *s = "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n";
    apr_size_t hl;
    (void)state;
    assert_int_equal(head_end_all(s, strlen(s), &lim, &hl), 400);
    assert_int_equal(rl_http_parse_head(pool, s, strlen(s), &lim,
                                        &(rl_http_head_t){0}, NULL),
                     400);
}

static void head_end_nul(void **state)
{
    static const char s[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    apr_size_t hl;
    rl_http_head_t h;
    const char *why = NULL;
    (void)state;
    assert_int_equal(head_end_all(s, sizeof(s) - 1, &lim, &hl), 400);
    assert_int_equal(rl_http_parse_head(pool, s, sizeof(s) - 1, &lim, &h, &why),
                     400);
    assert_non_null(why);
}

static void head_end_leading_empty_lines(void **state)
{
    const char *s = "\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    apr_size_t hl;
    rl_http_head_t h;
    const char *why;
    (void)state;
    assert_int_equal(head_end_all(s, strlen(s), &lim, &hl), RL_HTTP_OK);
    assert_int_equal(hl, strlen(s));
    assert_int_equal(rl_http_parse_head(pool, s, hl, &lim, &h, &why),
                     RL_HTTP_OK);
    assert_string_equal(h.method, "GET");
    assert_int_equal(h.line_len, 14);
}

static void head_end_too_many_empty_lines(void **state)
{
    const char *s = "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
                    "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    apr_size_t hl;
    (void)state;
    assert_int_equal(head_end_all(s, strlen(s), &lim, &hl), 400);
    assert_int_equal(rl_http_parse_head(pool, s, strlen(s), &lim,
                                        &(rl_http_head_t){0}, NULL),
                     400);
}

static void head_end_pipelined(void **state)
{
    const char *first = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
    const char *s = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
                    "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
    apr_size_t hl;
    rl_http_head_t h;
    const char *why;
    (void)state;
    assert_int_equal(head_end_all(s, strlen(s), &lim, &hl), RL_HTTP_OK);
    assert_int_equal(hl, strlen(first));
    assert_int_equal(rl_http_parse_head(pool, s, hl, &lim, &h, &why),
                     RL_HTTP_OK);
    assert_string_equal(h.target, "/a");
    assert_int_equal(h.nfields, 1);
}

static void head_end_byte_by_byte(void **state)
{
    static const char *inputs[] = {
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "\r\n\r\nPOST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
        "GET / HTTP/1.1\nHost: a\n\n",
        "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
        "GET / HTTP/1.1\r\r\n",
        "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
        "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nX: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n",
    };
    static const rl_http_limits_t small = {32, 32, 3};
    (void)state;

    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        const rl_http_limits_t *lims[] = {&lim, &small};
        for (size_t j = 0; j < 2; j++) {
            apr_size_t len = strlen(inputs[i]);
            apr_size_t hl1, hl2;
            int r1 = head_end_all(inputs[i], len, lims[j], &hl1);
            int r2 = head_end_bytewise(inputs[i], len, lims[j], &hl2);
            assert_int_equal(r1, r2);
            if (r1 == RL_HTTP_OK) {
                assert_int_equal(hl1, hl2);
            }
            /* Two pieces, split everywhere. */
            for (apr_size_t k = 1; k < len; k++) {
                apr_size_t scan = 0, hl3 = 0;
                int r3 = rl_http_head_end(inputs[i], k, &scan, lims[j], &hl3);
                if (r3 == RL_HTTP_AGAIN) {
                    r3 = rl_http_head_end(inputs[i], len, &scan, lims[j], &hl3);
                }
                assert_int_equal(r3, r1);
                if (r1 == RL_HTTP_OK) {
                    assert_int_equal(hl3, hl1);
                }
            }
        }
    }
}

static void head_end_414_long_request_line(void **state)
{
    static const rl_http_limits_t small = {16, 100, 10};
    const char *s = "GET /0123456789abcdef HTTP/1.1\r\n\r\n";
    const char *no_end = "GET /0123456789abcdef";
    const char *fits = "GET /1 HTTP/1.1\r\n\r\n"; /* 15 bytes: fits */
    apr_size_t hl;
    rl_http_head_t h;
    const char *why = NULL;
    (void)state;
    assert_int_equal(head_end_all(s, strlen(s), &small, &hl), 414);
    /* Refused before the line ends: no need to wait for it. */
    assert_int_equal(head_end_all(no_end, strlen(no_end), &small, &hl), 414);
    assert_int_equal(head_end_bytewise(no_end, strlen(no_end), &small, &hl),
                     414);
    assert_int_equal(rl_http_parse_head(pool, s, strlen(s), &small, &h, &why),
                     414);
    assert_non_null(why);
    assert_int_equal(head_end_all(fits, strlen(fits), &small, &hl), RL_HTTP_OK);
}

static void head_end_431_long_field(void **state)
{
    static const rl_http_limits_t small = {100, 16, 10};
    const char *s = "GET / HTTP/1.1\r\nX-Long: 0123456789\r\n\r\n";
    const char *fits = "GET / HTTP/1.1\r\nX-Long: 0123456\r\n\r\n"; /* 16 */
    apr_size_t hl;
    rl_http_head_t h;
    const char *why = NULL;
    (void)state;
    assert_int_equal(head_end_all(s, strlen(s), &small, &hl), 431);
    assert_int_equal(head_end_bytewise(s, strlen(s), &small, &hl), 431);
    assert_int_equal(rl_http_parse_head(pool, s, strlen(s), &small, &h, &why),
                     431);
    assert_int_equal(head_end_all(fits, strlen(fits), &small, &hl), RL_HTTP_OK);
    assert_int_equal(rl_http_parse_head(pool, fits, hl, &small, &h, &why),
                     RL_HTTP_OK);
}

static void head_end_431_too_many_fields(void **state)
{
    static const rl_http_limits_t small = {100, 100, 3};
    const char *s = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    const char *fits = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    apr_size_t hl;
    rl_http_head_t h;
    const char *why = NULL;
    (void)state;
    assert_int_equal(head_end_all(s, strlen(s), &small, &hl), 431);
    assert_int_equal(rl_http_parse_head(pool, s, strlen(s), &small, &h, &why),
                     431);
    assert_int_equal(head_end_all(fits, strlen(fits), &small, &hl), RL_HTTP_OK);
    assert_int_equal(rl_http_parse_head(pool, fits, hl, &small, &h, &why),
                     RL_HTTP_OK);
    assert_int_equal(h.nfields, 3);
}

/* ------------------------------------------------------------------ */
/* rl_http_parse_head                                                 */
/* ------------------------------------------------------------------ */

static void parse_valid_head(void **state)
{
    const char *s = "POST /submit?x=1 HTTP/1.1\r\n"
                    "Host: example.com\r\n"
                    "X-Empty:\r\n"
                    "X-Spaces: \t  a  b \t \r\n"
                    "X-Obs-Text: caf\xc3\xa9\r\n"
                    "\r\n";
    rl_http_head_t h;
    const char *why = "unset";
    (void)state;
    assert_int_equal(parse(s, &h, &why), RL_HTTP_OK);
    assert_null(why);
    assert_string_equal(h.method, "POST");
    assert_string_equal(h.target, "/submit?x=1");
    assert_string_equal(h.protocol, "HTTP/1.1");
    assert_int_equal(h.proto_num, 1001);
    assert_int_equal(h.line_len, strlen("POST /submit?x=1 HTTP/1.1"));
    assert_int_equal(h.nfields, 4);
    assert_string_equal(h.fields[0].name, "Host");
    assert_string_equal(h.fields[0].value, "example.com");
    assert_string_equal(h.fields[1].name, "X-Empty");
    assert_string_equal(h.fields[1].value, "");
    assert_string_equal(h.fields[2].value, "a  b");
    assert_string_equal(h.fields[3].value, "caf\xc3\xa9");
}

static void parse_http10(void **state)
{
    rl_http_head_t h;
    const char *why;
    (void)state;
    assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &h, &why), RL_HTTP_OK);
    assert_int_equal(h.proto_num, 1000);
    assert_int_equal(h.nfields, 0);
}

static void parse_obs_fold(void **state)
{
    (void)state;
    assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost: a\r\n"
                                  "X-A: 1\r\n  continued\r\n\r\n"),
                     400);
    assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost: a\r\n"
                                  "X-A: 1\r\n\tcontinued\r\n\r\n"),
                     400);
}

static void parse_whitespace_before_first_field(void **state)
{
    (void)state;
    assert_int_equal(parse_status("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), 400);
}

static void parse_whitespace_before_colon(void **state)
{
    rl_http_head_t h;
    const char *why = NULL;
    (void)state;
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n", &h, &why),
                     400);
    assert_non_null(why);
    assert_non_null(strstr(why, "whitespace before colon"));
    assert_non_null(strstr(why, "'Host'"));
    assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost: a\r\n"
                                  "Transfer-Encoding : chunked\r\n\r\n"),
                     400);
}

static void parse_bad_field_name(void **state)
{
    (void)state;
    assert_int_equal(parse_status("GET / HTTP/1.1\r\n: a\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET / HTTP/1.1\r\nNoColon\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET / HTTP/1.1\r\nX(y): a\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET / HTTP/1.1\r\nX y: a\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET / HTTP/1.1\r\nX\xc3\xa9: a\r\n\r\n"),
                     400);
}

static void parse_control_in_value(void **state)
{
    (void)state;
    assert_int_equal(parse_status("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET / HTTP/1.1\r\nX: a\x7fz\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET / HTTP/1.1\r\nX: a\x1bz\r\n\r\n"), 400);
    /* HTAB inside a value is fine. */
    assert_int_equal(parse_status("GET / HTTP/1.1\r\nX: a\tz\r\n\r\n"),
                     RL_HTTP_OK);
}

static void parse_bad_method(void **state)
{
    (void)state;
    assert_int_equal(parse_status("GE(T / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("GE\x01T / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status(" GET / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET  / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET\t/ HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("G\xc3\x89T / HTTP/1.1\r\n\r\n"), 400);
    /* Unknown but well-formed methods are the handler's business. */
    assert_int_equal(parse_status("PROPFIND / HTTP/1.0\r\n\r\n"), RL_HTTP_OK);
}

static void parse_bad_target(void **state)
{
    (void)state;
    assert_int_equal(parse_status("GET /a b HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET /a\x01 HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET /a\tb HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET /a\x7f HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET /a#frag HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET  HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET / HTTP/1.1 \r\n\r\n"), 400);
    assert_int_equal(parse_status("GET /\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET a/b HTTP/1.1\r\n\r\n"), 400);
}

static void parse_target_forms(void **state)
{
    rl_http_head_t h;
    const char *why;
    (void)state;
    assert_int_equal(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &h, &why),
                     RL_HTTP_OK);
    assert_string_equal(h.target, "*");
    assert_int_equal(
        parse_status("GET http://example.com:8080/x?y HTTP/1.1\r\n\r\n"),
        RL_HTTP_OK);
    assert_int_equal(parse_status("GET https://[::1]/ HTTP/1.1\r\n\r\n"),
                     RL_HTTP_OK);
    assert_int_equal(parse_status("GET http://h HTTP/1.1\r\n\r\n"), RL_HTTP_OK);
    assert_int_equal(parse_status("CONNECT example.com:443 HTTP/1.1\r\n\r\n"),
                     RL_HTTP_OK);
    assert_int_equal(parse_status("CONNECT [::1]:443 HTTP/1.1\r\n\r\n"),
                     RL_HTTP_OK);
}

static void parse_asterisk_with_get(void **state)
{
    (void)state;
    assert_int_equal(parse_status("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    assert_int_equal(parse_status("OPTIONS ** HTTP/1.1\r\n\r\n"), 400);
}

static void parse_bad_authority_and_absolute_forms(void **state)
{
    (void)state;
    /* authority-form is CONNECT's, and CONNECT has only that. */
    assert_int_equal(parse_status("GET example.com:443 HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("CONNECT / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("CONNECT example.com HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(
        parse_status("CONNECT http://example.com:443 HTTP/1.1\r\n\r\n"), 400);
    /* absolute-form needs a host and no userinfo. */
    assert_int_equal(parse_status("GET http:///x HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET http://u:p@h/ HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET http:/x HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET 1http://h/ HTTP/1.1\r\n\r\n"), 400);
}

static void parse_version_505(void **state)
{
    (void)state;
    assert_int_equal(parse_status("GET / HTTP/2.0\r\n\r\n"), 505);
    assert_int_equal(parse_status("GET / HTTP/0.9\r\n\r\n"), 505);
    assert_int_equal(parse_status("GET / HTTP/1.2\r\n\r\n"), 505);
    assert_int_equal(parse_status("GET / HTTP/3.0\r\n\r\n"), 505);
}

static void parse_version_garbage(void **state)
{
    (void)state;
    assert_int_equal(parse_status("GET / http/1.1\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET / HTTP/1.10\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET / HTTP/11\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET / HTTP/1.x\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET / FOO\r\n\r\n"), 400);
    assert_int_equal(parse_status("GET / HTTP/2\r\n\r\n"), 400);
}

static void parse_incomplete_head(void **state)
{
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\n";
    rl_http_head_t h;
    const char *why = NULL;
    (void)state;
    assert_int_equal(rl_http_parse_head(pool, s, strlen(s), &lim, &h, &why),
                     400);
    assert_non_null(why);
    assert_int_equal(rl_http_parse_head(pool, "", 0, &lim, &h, &why), 400);
}

/* ------------------------------------------------------------------ */
/* rl_http_request_framing                                            */
/* ------------------------------------------------------------------ */

static void framing_none(void **state)
{
    rl_body_kind_e kind;
    apr_off_t len;
    (void)state;
    assert_int_equal(framing("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &kind, &len),
                     RL_HTTP_OK);
    assert_int_equal(kind, RL_BODY_NONE);
    assert_int_equal(len, 0);
}

static void framing_content_length(void **state)
{
    rl_body_kind_e kind;
    apr_off_t len;
    (void)state;
    assert_int_equal(framing("POST / HTTP/1.1\r\nHost: a\r\n"
                             "Content-Length: 42\r\n\r\n",
                             &kind, &len),
                     RL_HTTP_OK);
    assert_int_equal(kind, RL_BODY_LENGTH);
    assert_int_equal(len, 42);
    /* Content-Length: 0 is a body of length 0, not "no body". */
    assert_int_equal(framing("POST / HTTP/1.1\r\nHost: a\r\n"
                             "content-length: 0\r\n\r\n",
                             &kind, &len),
                     RL_HTTP_OK);
    assert_int_equal(kind, RL_BODY_LENGTH);
    assert_int_equal(len, 0);
}

static void framing_cl_and_te(void **state)
{
    (void)state;
    assert_int_equal(framing_status("POST / HTTP/1.1\r\nHost: a\r\n"
                                    "Content-Length: 5\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n"),
                     400);
    assert_int_equal(framing_status("POST / HTTP/1.1\r\nHost: a\r\n"
                                    "Transfer-Encoding: chunked\r\n"
                                    "Content-Length: 5\r\n\r\n"),
                     400);
}

static void framing_duplicate_differing_cl(void **state)
{
    (void)state;
    assert_int_equal(framing_status("POST / HTTP/1.1\r\nHost: a\r\n"
                                    "Content-Length: 5\r\n"
                                    "Content-Length: 6\r\n\r\n"),
                     400);
    assert_int_equal(framing_status("POST / HTTP/1.1\r\nHost: a\r\n"
                                    "Content-Length: 5, 6\r\n\r\n"),
                     400);
}

static void framing_duplicate_identical_cl(void **state)
{
    rl_body_kind_e kind;
    apr_off_t len;
    (void)state;
    assert_int_equal(framing("POST / HTTP/1.1\r\nHost: a\r\n"
                             "Content-Length: 5\r\n"
                             "Content-Length: 5\r\n\r\n",
                             &kind, &len),
                     RL_HTTP_OK);
    assert_int_equal(kind, RL_BODY_LENGTH);
    assert_int_equal(len, 5);
    assert_int_equal(framing("POST / HTTP/1.1\r\nHost: a\r\n"
                             "Content-Length: 7 ,7,\t7\r\n\r\n",
                             &kind, &len),
                     RL_HTTP_OK);
    assert_int_equal(len, 7);
}

static void framing_non_digit_cl(void **state)
{
    (void)state;
    static const char *bad[] = {"-1", "+5", "5a", "0x10", "5 5",
                                "",   ",",  "5,", "1e3",  "5;q"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *s = apr_psprintf(pool,
                                     "POST / HTTP/1.1\r\nHost: a\r\n"
                                     "Content-Length: %s\r\n\r\n",
                                     bad[i]);
        assert_int_equal(framing_status(s), 400);
    }
}

static void framing_cl_overflow(void **state)
{
    rl_body_kind_e kind;
    apr_off_t len;
    (void)state;
    assert_int_equal(framing_status("POST / HTTP/1.1\r\nHost: a\r\n"
                                    "Content-Length: 9223372036854775808\r\n"
                                    "\r\n"),
                     400);
    assert_int_equal(framing_status("POST / HTTP/1.1\r\nHost: a\r\n"
                                    "Content-Length: 99999999999999999999999"
                                    "\r\n\r\n"),
                     400);
    assert_int_equal(framing("POST / HTTP/1.1\r\nHost: a\r\n"
                             "Content-Length: 9223372036854775807\r\n\r\n",
                             &kind, &len),
                     RL_HTTP_OK);
    assert_true(len == (apr_off_t)9223372036854775807LL);
}

static void framing_unknown_te(void **state)
{
    static const char *bad[] = {"gzip", "identity",    "xchunked", "chunkedx",
                                "",     "chunked;q=1", "deflate",  "chunked,"};
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *s = apr_psprintf(pool,
                                     "POST / HTTP/1.1\r\nHost: a\r\n"
                                     "Transfer-Encoding: %s\r\n\r\n",
                                     bad[i]);
        assert_int_equal(framing_status(s), 400);
    }
}

static void framing_gzip_chunked(void **state)
{
    (void)state;
    assert_int_equal(framing_status("POST / HTTP/1.1\r\nHost: a\r\n"
                                    "Transfer-Encoding: gzip, chunked\r\n\r\n"),
                     400);
    assert_int_equal(framing_status("POST / HTTP/1.1\r\nHost: a\r\n"
                                    "Transfer-Encoding: gzip\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n"),
                     400);
}

static void framing_chunked_twice(void **state)
{
    (void)state;
    assert_int_equal(framing_status("POST / HTTP/1.1\r\nHost: a\r\n"
                                    "Transfer-Encoding: chunked, chunked\r\n"
                                    "\r\n"),
                     400);
    assert_int_equal(framing_status("POST / HTTP/1.1\r\nHost: a\r\n"
                                    "Transfer-Encoding: chunked\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n"),
                     400);
}

static void framing_chunked(void **state)
{
    rl_body_kind_e kind;
    apr_off_t len;
    (void)state;
    assert_int_equal(framing("POST / HTTP/1.1\r\nHost: a\r\n"
                             "transfer-encoding:  CHunked \r\n\r\n",
                             &kind, &len),
                     RL_HTTP_OK);
    assert_int_equal(kind, RL_BODY_CHUNKED);
    assert_int_equal(len, -1);
}

static void framing_te_on_http10(void **state)
{
    (void)state;
    assert_int_equal(framing_status("POST / HTTP/1.0\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n"),
                     400);
}

static void framing_missing_host_11(void **state)
{
    (void)state;
    assert_int_equal(framing_status("GET / HTTP/1.1\r\n\r\n"), 400);
    assert_int_equal(framing_status("GET / HTTP/1.1\r\nHostx: a\r\n\r\n"), 400);
}

static void framing_duplicate_host(void **state)
{
    (void)state;
    assert_int_equal(
        framing_status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
    assert_int_equal(
        framing_status("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"), 400);
    assert_int_equal(
        framing_status("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
}

static void framing_missing_host_10(void **state)
{
    rl_body_kind_e kind;
    apr_off_t len;
    (void)state;
    assert_int_equal(framing("GET / HTTP/1.0\r\n\r\n", &kind, &len),
                     RL_HTTP_OK);
    assert_int_equal(kind, RL_BODY_NONE);
}

static void framing_bad_host(void **state)
{
    static const char *bad[] = {
        "a b",    "a/b",     "a@b",          "a:b",  "a:",   ":80",
        "a:80:1", "a:65536", "a:123456",     "[::1", "[zz]", "[]",
        "[::1]x", "[::1]:",  "a%2",          "a%zz", "a?b",  "a#b",
        "[v1.x]", "a\\b",    "[::1%25eth0]", "a:-1", "a\"b",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *s =
            apr_psprintf(pool, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
        assert_int_equal(framing_status(s), 400);
    }
}

static void framing_good_host(void **state)
{
    static const char *good[] = {
        "example.com",
        "example.com:8080",
        "127.0.0.1",
        "127.0.0.1:80",
        "[::1]",
        "[2001:db8::1]:443",
        "xn--bcher-kva.example",
        "a_b-c~d",
        "a%41b:1",
        "h:65535",
        "H.EXAMPLE",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const char *s =
            apr_psprintf(pool, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", good[i]);
        assert_int_equal(framing_status(s), RL_HTTP_OK);
    }
}

static void framing_empty_host(void **state)
{
    (void)state;
    /* No authority in the target: an empty Host is what RFC 9112 asks. */
    assert_int_equal(framing_status("GET / HTTP/1.1\r\nHost:\r\n\r\n"),
                     RL_HTTP_OK);
    assert_int_equal(framing_status("OPTIONS * HTTP/1.1\r\nHost: \r\n\r\n"),
                     RL_HTTP_OK);
    assert_int_equal(framing_status("GET http://a/ HTTP/1.1\r\nHost:\r\n\r\n"),
                     400);
    assert_int_equal(framing_status("CONNECT a:443 HTTP/1.1\r\nHost:\r\n\r\n"),
                     400);
}

/* ------------------------------------------------------------------ */
/* rl_http_chunked_next                                               */
/* ------------------------------------------------------------------ */

/* Decodes `body` whole, then one byte at a time, then in pieces of 2, 3
 * and 7 bytes, expecting the same status and data each time. */
static void check_dechunk(const char *body, apr_size_t len, int want_rv,
                          const char *want, apr_size_t want_used)
{
    static const apr_size_t pieces[] = {0, 1, 2, 3, 7};
    char *out = apr_palloc(pool, len + 1);

    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        apr_size_t out_len, used;
        int rv = dechunk(body, len, pieces[i], out, &out_len, &used);
        assert_int_equal(rv, want_rv);
        if (want != NULL) {
            assert_int_equal(out_len, strlen(want));
            assert_memory_equal(out, want, out_len);
        }
        if (want_rv == RL_HTTP_DONE) {
            assert_int_equal(used, want_used);
        }
    }
}

static void chunked_normal(void **state)
{
    const char *b = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    (void)state;
    check_dechunk(b, strlen(b), RL_HTTP_DONE, "hello world", strlen(b));
}

static void chunked_hex_sizes(void **state)
{
    const char *b = "A\r\n0123456789\r\n00010\r\n0123456789abcdef\r\n"
                    "0\r\n\r\n";
    (void)state;
    check_dechunk(b, strlen(b), RL_HTTP_DONE, "01234567890123456789abcdef",
                  strlen(b));
}

static void chunked_extensions(void **state)
{
    const char *b = "5;name=value\r\nhello\r\n"
                    "6 ; a ; b=\"q s\"\r\n world\r\n0;last\r\n\r\n";
    (void)state;
    check_dechunk(b, strlen(b), RL_HTTP_DONE, "hello world", strlen(b));
}

static void chunked_trailers(void **state)
{
    const char *b = "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-B: 1\r\n\r\n";
    char with_next[128];
    (void)state;
    check_dechunk(b, strlen(b), RL_HTTP_DONE, "hello", strlen(b));
    /* The next request's bytes are not consumed. */
    snprintf(with_next, sizeof(with_next), "%sGET / HTTP/1.1\r\n", b);
    check_dechunk(with_next, strlen(with_next), RL_HTTP_DONE, "hello",
                  strlen(b));
}

static void chunked_bare_lf(void **state)
{
    const char *b = "5\nhello\n0\nX: 1\n\n";
    (void)state;
    check_dechunk(b, strlen(b), RL_HTTP_DONE, "hello", strlen(b));
}

static void chunked_byte_by_byte_large(void **state)
{
    /* Many chunks of varied sizes, compared with the plain data. */
    char *body = apr_palloc(pool, 200000);
    char *plain = apr_palloc(pool, 100000);
    apr_size_t bl = 0, pl = 0;
    (void)state;
    assert_non_null(body);
    assert_non_null(plain);
    for (int i = 1; i < 300; i += 7) {
        bl += (apr_size_t)snprintf(body + bl, 200000 - bl, "%x;i=%d\r\n", i, i);
        for (int k = 0; k < i; k++) {
            char c = (char)('a' + (i + k) % 26);
            body[bl++] = c;
            plain[pl++] = c;
        }
        memcpy(body + bl, "\r\n", 2);
        bl += 2;
    }
    bl += (apr_size_t)sprintf(body + bl, "0\r\nT: v\r\n\r\n");
    plain[pl] = '\0';
    check_dechunk(body, bl, RL_HTTP_DONE, plain, bl);
}

static void chunked_incomplete(void **state)
{
    const char *b = "5\r\nhel";
    (void)state;
    check_dechunk(b, strlen(b), RL_HTTP_AGAIN, "hel", 0);
}

static void chunked_bad_hex(void **state)
{
    static const char *bad[] = {
        "g\r\n",   "\r\n",   "-1\r\n", " 5\r\nhello\r\n0\r\n\r\n",
        "0x5\r\n", "5x\r\n", "+5\r\n", ";x\r\n"};
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        check_dechunk(bad[i], strlen(bad[i]), 400, NULL, 0);
    }
}

static void chunked_missing_crlf(void **state)
{
    const char *a = "5\r\nhelloX\r\n0\r\n\r\n";
    const char *b = "5\r\nhello5\r\nworld\r\n0\r\n\r\n";
    (void)state;
    check_dechunk(a, strlen(a), 400, "hello", 0);
    check_dechunk(b, strlen(b), 400, "hello", 0);
}

static void chunked_bare_cr(void **state)
{
    static const char *bad[] = {
        "5\rhello\r\n0\r\n\r\n",
        "5\r\nhello\rX0\r\n\r\n",
        "5;ext\rX\r\nhello\r\n",
        "0\r\nX: 1\rY\r\n\r\n",
        "0\r\n\rX",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        check_dechunk(bad[i], strlen(bad[i]), 400, NULL, 0);
    }
}

static void chunked_huge_size(void **state)
{
    const char *sixteen = "1000000000000000\r\n";
    const char *ffff = "ffffffffffffffff\r\n";
    const char *max = "fffffffffffffff\r\nab";
    (void)state;
    check_dechunk(sixteen, strlen(sixteen), 400, NULL, 0);
    check_dechunk(ffff, strlen(ffff), 400, NULL, 0);
    /* 15 digits are accepted (and the data flows). */
    check_dechunk(max, strlen(max), RL_HTTP_AGAIN, "ab", 0);
}

static void chunked_bad_extension_and_trailer(void **state)
{
    static const char *bad[] = {
        "5;a\x01\r\nhello\r\n0\r\n\r\n", /* control in extension */
        "0\r\nX: a\x01\r\n\r\n",         /* control in trailer */
        "0\r\n folded\r\n\r\n",          /* obs-fold in trailers */
    };
    static const char nul[] = "0\r\nX: \0\r\n\r\n";
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        check_dechunk(bad[i], strlen(bad[i]), 400, NULL, 0);
    }
    check_dechunk(nul, sizeof(nul) - 1, 400, NULL, 0);
}

static void chunked_line_limits(void **state)
{
    rl_http_chunked_t st;
    apr_size_t consumed, dl;
    const char *data;
    char *big, *w;
    (void)state;

    /* A size line over max_line. */
    memset(&st, 0, sizeof(st));
    assert_int_equal(rl_http_chunked_next(&st, "5;aaaaaaaaaaaaaaaaaaaa\r\n", 24,
                                          16, &consumed, &data, &dl),
                     400);
    /* A trailer line over max_line. */
    memset(&st, 0, sizeof(st));
    assert_int_equal(
        rl_http_chunked_next(&st, "0\r\nX: aaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
                             34, 16, &consumed, &data, &dl),
        400);
    /* Trailers over 64 KiB in all, each line short enough. */
    big = apr_palloc(pool, 80000);
    w = big + sprintf(big, "0\r\n");
    for (int i = 0; i < 900; i++) {
        w += sprintf(w, "X-Trailer-%04d: %060d\r\n", i, 0);
    }
    sprintf(w, "\r\n");
    memset(&st, 0, sizeof(st));
    assert_int_equal(rl_http_chunked_next(&st, big, strlen(big), 8190,
                                          &consumed, &data, &dl),
                     400);
}

static void chunked_done_and_error_are_sticky(void **state)
{
    rl_http_chunked_t st;
    apr_size_t consumed, dl;
    const char *data;
    (void)state;
    memset(&st, 0, sizeof(st));
    assert_int_equal(
        rl_http_chunked_next(&st, "0\r\n\r\n", 5, 100, &consumed, &data, &dl),
        RL_HTTP_DONE);
    assert_int_equal(consumed, 5);
    assert_int_equal(
        rl_http_chunked_next(&st, "5\r\n", 3, 100, &consumed, &data, &dl),
        RL_HTTP_DONE);
    assert_int_equal(consumed, 0);

    memset(&st, 0, sizeof(st));
    assert_int_equal(
        rl_http_chunked_next(&st, "z", 1, 100, &consumed, &data, &dl), 400);
    assert_int_equal(
        rl_http_chunked_next(&st, "5\r\n", 3, 100, &consumed, &data, &dl), 400);
}

/* ------------------------------------------------------------------ */
/* rl_http_normalize_path                                             */
/* ------------------------------------------------------------------ */

static void assert_norm(const char *in, const char *want)
{
    const char *got = rl_http_normalize_path(pool, in);
    if (want == NULL) {
        if (got != NULL) {
            fail_msg("normalize(\"%s\") = \"%s\", want NULL", in, got);
        }
    } else {
        if (got == NULL || strcmp(got, want) != 0) {
            fail_msg("normalize(\"%s\") = \"%s\", want \"%s\"", in,
                     got ? got : "(null)", want);
        }
    }
}

static void normalize_dot_dot(void **state)
{
    (void)state;
    assert_norm("/x/../admin", "/admin");
    assert_norm("/a/b/../c", "/a/c");
    assert_norm("/a/b/..", "/a/");
    assert_norm("/a/b/../", "/a/");
    assert_norm("/a/..", "/");
    assert_norm("/a/b/c/../../d", "/a/d");
    assert_norm("/a/.../b", "/a/.../b");
    assert_norm("/a/..b/c", "/a/..b/c");
}

static void normalize_slashes(void **state)
{
    (void)state;
    assert_norm("//admin", "/admin");
    assert_norm("/a//b///c", "/a/b/c");
    assert_norm("/a/b//", "/a/b/");
    assert_norm("/", "/");
    assert_norm("///", "/");
}

static void normalize_dot(void **state)
{
    (void)state;
    assert_norm("/admin/.", "/admin/");
    assert_norm("/./admin", "/admin");
    assert_norm("/a/./b/./", "/a/b/");
    assert_norm("/.", "/");
    assert_norm("/a/%2e/b", "/a/b");
}

static void normalize_encoded_dots(void **state)
{
    (void)state;
    assert_norm("/%2e%2e/x", NULL);
    assert_norm("/x/%2e%2e/admin", "/admin");
    assert_norm("/x/%2E%2E/admin", "/admin");
    assert_norm("/x/.%2e/admin", "/admin");
    assert_norm("/x/%2e./admin", "/admin");
    /* Unreserved escapes are decoded, the others kept in upper case;
     * an encoded slash stays (NoDecode) in rl_http_normalize_path. */
    assert_norm("/a%2fb/%41", "/a%2Fb/A");
    assert_norm("/x/%2e%2e%2fadmin", "/x/..%2Fadmin");
    assert_norm("/x/%2", NULL);
    assert_norm("/%7e%5F%2D", "/~_-");
}

/* rl_http_clean_path: status, result and the AllowEncodedSlashes modes. */
static void assert_clean(const char *in, int slashes, int want_rc,
                         const char *want)
{
    const char *out = NULL;
    const char *why = NULL;
    int rc = rl_http_clean_path(pool, in, slashes, &out, &why);

    if (rc != want_rc) {
        fail_msg("clean(\"%s\", %d) = %d, want %d", in, slashes, rc, want_rc);
    }
    if (rc != RL_HTTP_OK && why == NULL) {
        fail_msg("clean(\"%s\") failed without a reason", in);
    }
    if (want != NULL && (out == NULL || strcmp(out, want) != 0)) {
        fail_msg("clean(\"%s\", %d) = \"%s\", want \"%s\"", in, slashes,
                 out ? out : "(null)", want);
    }
}

static void clean_path_escapes(void **state)
{
    (void)state;
    assert_clean("/%61dmin", RL_ENCODED_SLASHES_OFF, RL_HTTP_OK, "/admin");
    assert_clean("/a%3fb", RL_ENCODED_SLASHES_OFF, RL_HTTP_OK, "/a%3Fb");
    assert_clean("/a%zz", RL_ENCODED_SLASHES_OFF, 400, NULL);
    assert_clean("/a%0", RL_ENCODED_SLASHES_OFF, 400, NULL);
    assert_clean("/a%00b", RL_ENCODED_SLASHES_ON, 400, NULL);
    assert_clean("/a%2Fb", RL_ENCODED_SLASHES_OFF, 404, NULL);
    assert_clean("/a%2fb", RL_ENCODED_SLASHES_ON, RL_HTTP_OK, "/a/b");
    assert_clean("/x%2F..%2Fadmin", RL_ENCODED_SLASHES_ON, RL_HTTP_OK,
                 "/admin");
    assert_clean("/a%2fb", RL_ENCODED_SLASHES_NODECODE, RL_HTTP_OK, "/a%2Fb");
    assert_clean("/%2e%2e", RL_ENCODED_SLASHES_OFF, 400, NULL);
    assert_clean("x", RL_ENCODED_SLASHES_OFF, 400, NULL);
    /* the fast path (nothing to do) and its near misses */
    assert_clean("/plain/path.html", RL_ENCODED_SLASHES_OFF, RL_HTTP_OK,
                 "/plain/path.html");
    assert_clean("/a/.b/c", RL_ENCODED_SLASHES_OFF, RL_HTTP_OK, "/a/.b/c");
    assert_clean("/a/..b/..", RL_ENCODED_SLASHES_OFF, RL_HTTP_OK, "/a/");
    assert_clean("/a/b/", RL_ENCODED_SLASHES_OFF, RL_HTTP_OK, "/a/b/");
}

static void normalize_above_root(void **state)
{
    (void)state;
    assert_norm("/..", NULL);
    assert_norm("/../x", NULL);
    assert_norm("/a/b/../../..", NULL);
    assert_norm("/a/../../b", NULL);
    assert_norm("//../x", NULL);
}

static void normalize_not_a_path(void **state)
{
    (void)state;
    assert_norm("", NULL);
    assert_norm("a/b", NULL);
    assert_norm("*", NULL);
}

/* ------------------------------------------------------------------ */
/* rl_http_reason                                                     */
/* ------------------------------------------------------------------ */

static void reason_phrases(void **state)
{
    static const int known[] = {
        100, 101, 200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304,
        305, 306, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409,
        410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 425, 426, 428,
        429, 431, 451, 500, 501, 502, 503, 504, 505, 507, 508, 510, 511,
    };
    static const int unknown[] = {0,   -1,  99,  102, 103, 207, 309, 419,
                                  420, 430, 506, 509, 512, 600, 1000};
    (void)state;
    assert_string_equal(rl_http_reason(200), "OK");
    assert_string_equal(rl_http_reason(404), "Not Found");
    assert_string_equal(rl_http_reason(413), "Content Too Large");
    assert_string_equal(rl_http_reason(414), "URI Too Long");
    assert_string_equal(rl_http_reason(422), "Unprocessable Content");
    assert_string_equal(rl_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(rl_http_reason(505), "HTTP Version Not Supported");
    assert_string_equal(rl_http_reason(511), "Network Authentication Required");
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        assert_non_null(rl_http_reason(known[i]));
    }
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_null(rl_http_reason(unknown[i]));
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, test_setup)
    const struct CMUnitTest tests[] = {
        T(head_end_simple),
        T(head_end_incomplete),
        T(head_end_cr_last_byte),
        T(head_end_bare_lf),
        T(head_end_bare_cr_request_line),
        T(head_end_bare_cr_header_value),
        T(head_end_nul),
        T(head_end_leading_empty_lines),
        T(head_end_too_many_empty_lines),
        T(head_end_pipelined),
        T(head_end_byte_by_byte),
        T(head_end_414_long_request_line),
        T(head_end_431_long_field),
        T(head_end_431_too_many_fields),
        T(parse_valid_head),
        T(parse_http10),
        T(parse_obs_fold),
        T(parse_whitespace_before_first_field),
        T(parse_whitespace_before_colon),
        T(parse_bad_field_name),
        T(parse_control_in_value),
        T(parse_bad_method),
        T(parse_bad_target),
        T(parse_target_forms),
        T(parse_asterisk_with_get),
        T(parse_bad_authority_and_absolute_forms),
        T(parse_version_505),
        T(parse_version_garbage),
        T(parse_incomplete_head),
        T(framing_none),
        T(framing_content_length),
        T(framing_cl_and_te),
        T(framing_duplicate_differing_cl),
        T(framing_duplicate_identical_cl),
        T(framing_non_digit_cl),
        T(framing_cl_overflow),
        T(framing_unknown_te),
        T(framing_gzip_chunked),
        T(framing_chunked_twice),
        T(framing_chunked),
        T(framing_te_on_http10),
        T(framing_missing_host_11),
        T(framing_duplicate_host),
        T(framing_missing_host_10),
        T(framing_bad_host),
        T(framing_good_host),
        T(framing_empty_host),
        T(chunked_normal),
        T(chunked_hex_sizes),
        T(chunked_extensions),
        T(chunked_trailers),
        T(chunked_bare_lf),
        T(chunked_byte_by_byte_large),
        T(chunked_incomplete),
        T(chunked_bad_hex),
        T(chunked_missing_crlf),
        T(chunked_bare_cr),
        T(chunked_huge_size),
        T(chunked_bad_extension_and_trailer),
        T(chunked_line_limits),
        T(chunked_done_and_error_are_sticky),
        T(normalize_dot_dot),
        T(normalize_slashes),
        T(normalize_dot),
        T(normalize_encoded_dots),
        T(clean_path_escapes),
        T(normalize_above_root),
        T(normalize_not_a_path),
        T(reason_phrases),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
