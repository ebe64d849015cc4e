/*
 * fuzz_http_response.c: libFuzzer target for the response parser
 * (server/http_parse.c: rl_http_parse_response, rl_http_response_framing)
 * as mod_proxy uses it on what a backend sends.
 *
 * The input is a backend's byte stream.  Two leading bytes choose how it
 * is cut into reads, which limits apply and whether the request was HEAD.
 * As proxy_http.c does, the head is found with rl_http_head_end() fed a
 * growing buffer in pieces, parsed, framed; interim responses (1xx but
 * 101) are skipped and the next head is looked for after them; the body
 * of the final response is then decoded when it is chunked.  Besides
 * memory errors (ASan, UBSan) it checks what the proxy relies on: one
 * call and many agree, a parsed head is within the limits and holds no
 * byte that could split a header when it is forwarded, a failure always
 * says why, and framing is one of the documented answers.
 *
 *   make fuzz && build/fuzz/fuzz_http_response -max_total_time=60 CORPUS
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "rl_module.h"
#include "rl_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *pool;

/* An invariant failed: crash so that libFuzzer keeps the input. */
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* The next read size, 1 to 32 bytes, from a walk over the input. */
static apr_size_t next_step(const char *buf, apr_size_t len, apr_size_t at,
                            unsigned seed)
{
    unsigned b = len ? (unsigned char)buf[at % len] : 0;
    return 1 + ((b ^ seed) * 13u + (unsigned)at) % 32;
}

/* rl_http_head_end() over a buffer that grows read by read, as the proxy
 * calls it; must agree with one call over everything. */
static int find_head(const char *buf, apr_size_t len,
                     const rl_http_limits_t *lim, unsigned seed,
                     apr_size_t *head_len)
{
    apr_size_t scan = 0, n = 0, hl_once = 0;
    int rv = RL_HTTP_AGAIN, once;

    *head_len = 0;
    while (n < len) {
        n += next_step(buf, len, n, seed);
        if (n > len) {
            n = len;
        }
        rv = rl_http_head_end(buf, n, &scan, lim, head_len);
        if (rv != RL_HTTP_AGAIN) {
            break;
        }
    }
    scan = 0;
    once = rl_http_head_end(buf, len, &scan, lim, &hl_once);
    CHECK(once == rv);
    CHECK(rv == RL_HTTP_OK || rv == RL_HTTP_AGAIN || rv == 400 || rv == 414 ||
          rv == 431);
    if (rv == RL_HTTP_OK) {
        CHECK(*head_len == hl_once);
        CHECK(*head_len > 0 && *head_len <= len);
    }
    return rv;
}

/* What is forwarded to the client must not be able to split a header. */
static void check_text(const char *s, int allow_empty)
{
    CHECK(s != NULL);
    CHECK(allow_empty || *s != '\0');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        CHECK(c != '\r' && c != '\n' && c != 0x7f && (c >= 0x20 || c == '\t'));
    }
}

static void check_response(const rl_http_response_t *h,
                           const rl_http_limits_t *lim)
{
    int i;

    CHECK(h->status >= 100 && h->status <= 599);
    CHECK(h->proto_num == 1000 || h->proto_num == 1001);
    CHECK(h->nfields >= 0 && h->nfields <= lim->max_fields);
    check_text(h->reason, 1);
    for (i = 0; i < h->nfields; i++) {
        const char *v = h->fields[i].value;
        check_text(h->fields[i].name, 0);
        check_text(v, 1);
        /* surrounding whitespace is removed */
        if (*v) {
            CHECK(v[0] != ' ' && v[0] != '\t');
            CHECK(v[strlen(v) - 1] != ' ' && v[strlen(v) - 1] != '\t');
        }
        CHECK(strchr(h->fields[i].name, ':') == NULL);
        CHECK(strchr(h->fields[i].name, ' ') == NULL);
    }
}

/* Both framings of one head: for the request as it was and as HEAD. */
static void check_framing(const rl_http_response_t *h, int head_request,
                          rl_body_kind_e *kind_out, int *ok_out)
{
    rl_body_kind_e kind;
    apr_off_t length;
    const char *why = NULL;
    int rv = rl_http_response_framing(h, head_request, &kind, &length, &why);

    *ok_out = rv == RL_HTTP_OK;
    *kind_out = kind;
    if (rv != RL_HTTP_OK) {
        CHECK(rv == 502 && why != NULL);
        return;
    }
    switch (kind) {
    case RL_BODY_NONE:
        CHECK(length == 0);
        break;
    case RL_BODY_LENGTH:
        CHECK(length >= 0);
        break;
    case RL_BODY_CHUNKED:
    case RL_BODY_UNTIL_CLOSE:
        CHECK(length == -1);
        break;
    default:
        CHECK(0);
    }
    /* No body after HEAD, 1xx, 204 and 304, whatever the fields say. */
    if (head_request || h->status < 200 || h->status == 204 ||
        h->status == 304) {
        CHECK(kind == RL_BODY_NONE);
    }
}

/* The body of the final response, chunked, relayed as relay_buffered()
 * does it: what comes out is never more than what went in. */
static void relay_chunked(const char *buf, apr_size_t len, unsigned seed)
{
    rl_http_chunked_t st;
    apr_size_t off = 0, out = 0;

    memset(&st, 0, sizeof(st));
    while (off < len) {
        apr_size_t end = off + next_step(buf, len, off, seed), consumed = 0;
        apr_size_t dl = 0;
        const char *d = NULL;
        int rv;

        if (end > len) {
            end = len;
        }
        rv = rl_http_chunked_next(&st, buf + off, end - off, 8192, &consumed,
                                  &d, &dl);
        CHECK(consumed <= end - off);
        if (rv == RL_HTTP_OK) {
            CHECK(dl > 0 && d >= buf + off && d + dl <= buf + off + consumed);
            out += dl;
        } else if (rv == RL_HTTP_AGAIN) {
            CHECK(consumed == end - off);
        }
        off += consumed;
        CHECK(out <= off);
        if (rv == RL_HTTP_DONE || rv == 400) {
            break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the proxy's own limits first; then small ones that make the limit
     * paths reachable */
    static const rl_http_limits_t limits[] = {
        {8192, 8192, 100},
        {64, 48, 4},
        {16, 16, 1},
        {8192, 8192, 0},
    };
    const rl_http_limits_t *lim;
    const char *buf, *why = NULL;
    apr_size_t len, pos = 0;
    unsigned seed;
    int head_request, heads;

    if (pool == NULL) {
        if (apr_initialize() != APR_SUCCESS ||
            apr_pool_create(&pool, NULL) != APR_SUCCESS) {
            abort();
        }
    }
    if (size < 2) {
        return 0;
    }
    seed = data[0];
    lim = &limits[data[1] % 4];
    head_request = (data[1] >> 2) & 1;
    buf = (const char *)data + 2;
    len = size - 2;

    /* Heads one after the other while they are interim (100, 102, 103),
     * as proxy_step() loops in PS_READ_HEAD; a bounded number. */
    for (heads = 0; heads < 8; heads++) {
        rl_http_response_t h;
        rl_body_kind_e kind, kind_head;
        apr_size_t head_len;
        int rv, ok, ok_head;

        rv = find_head(buf + pos, len - pos, lim, seed, &head_len);
        if (rv != RL_HTTP_OK) {
            break;
        }
        why = NULL;
        rv = rl_http_parse_response(pool, buf + pos, head_len, lim, &h, &why);
        if (rv != RL_HTTP_OK) {
            CHECK(rv == 502 && why != NULL);
            break;
        }
        CHECK(why == NULL);
        check_response(&h, lim);
        check_framing(&h, head_request, &kind, &ok);
        check_framing(&h, !head_request, &kind_head, &ok_head);
        /* HEAD changes whether there is a body, never whether the head
         * is acceptable */
        CHECK(ok == ok_head);
        pos += head_len;
        if (h.status < 200 && h.status != 101) {
            continue;
        }
        if (ok && kind == RL_BODY_CHUNKED) {
            relay_chunked(buf + pos, len - pos, seed);
        }
        break;
    }

    /* Arbitrary bytes straight into the parser, as if a caller had not
     * looked for the end of the head first. */
    why = NULL;
    {
        rl_http_response_t h;
        int rv = rl_http_parse_response(pool, buf, len, lim, &h, &why);
        if (rv == RL_HTTP_OK) {
            check_response(&h, lim);
        } else {
            CHECK(rv == 502 && why != NULL);
        }
    }

    apr_pool_clear(pool);
    return 0;
}
