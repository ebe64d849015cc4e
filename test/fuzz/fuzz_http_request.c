/*
 * fuzz_http_request.c: libFuzzer target for the request parser
 * (server/http_parse.c).
 *
 * The input is a request as it arrives on a connection.  Two leading bytes
 * choose how it is cut into reads and which limits apply, so the fuzzer
 * also explores resumption.  Besides memory errors (run it with ASan and
 * UBSan) it checks that the parser agrees with itself: one call versus
 * many for rl_http_head_end() and rl_http_chunked_next(), and heads found
 * within the limits are never over them for rl_http_parse_head().  A
 * proxy whose two readings of the same bytes differ can be smuggled past.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *       $(apr-1-config --includes --cppflags) $(apu-1-config --includes) \
 *       server/http_parse.c test/fuzz/fuzz_http_request.c \
 *       $(apr-1-config --link-ld) -o fuzz_http_request
 *   ./fuzz_http_request -max_total_time=60 CORPUS_COPY
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* The next read size, 1 to 16 bytes, from a walk over the input. */
static apr_size_t next_step(const char *buf, apr_size_t len, apr_size_t at,
                            unsigned seed)
{
    unsigned b = len ? (unsigned char)buf[at % len] : 0;
    return 1 + ((b ^ seed) * 7u + (unsigned)at) % 16;
}

/* rl_http_head_end() fed in pieces; must agree with one call. */
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
    if (rv == RL_HTTP_OK) {
        CHECK(*head_len == hl_once);
        CHECK(*head_len > 0 && *head_len <= len);
    }
    return rv;
}

/* Decodes body in one read (piece 0) or in reads of 1 to 16 bytes chosen
 * by next_step(); returns the status, the dechunked bytes in out and what
 * was consumed. */
static int dechunk(const char *body, apr_size_t len, apr_size_t max_line,
                   apr_size_t piece, unsigned seed, char *out,
                   apr_size_t *out_len, apr_size_t *used)
{
    rl_http_chunked_t st;
    apr_size_t off = 0;

    memset(&st, 0, sizeof(st));
    *out_len = 0;
    while (off < len) {
        apr_size_t end;

        if (piece == 0) {
            end = len;
        } else {
            end = off + next_step(body, len, off, seed);
            if (end > len) {
                end = len;
            }
        }
        while (off < end) {
            apr_size_t consumed = 0, dl = 0;
            const char *d = NULL;
            int rv = rl_http_chunked_next(&st, body + off, end - off, max_line,
                                          &consumed, &d, &dl);
            CHECK(consumed <= end - off);
            if (rv == RL_HTTP_OK) {
                CHECK(dl > 0 && d >= body + off &&
                      d + dl <= body + off + consumed);
                memcpy(out + *out_len, d, dl);
                *out_len += dl;
                off += consumed;
                continue;
            }
            off += consumed;
            if (rv != RL_HTTP_AGAIN) {
                *used = off;
                return rv;
            }
            CHECK(off == end);
        }
    }
    *used = off;
    return RL_HTTP_AGAIN;
}

static void check_chunked(const char *body, apr_size_t len, apr_size_t max_line,
                          unsigned seed)
{
    char *a = malloc(len + 1), *b = malloc(len + 1);
    apr_size_t alen, blen, aused, bused;
    int ra, rb;

    ra = dechunk(body, len, max_line, 0, seed, a, &alen, &aused);
    rb = dechunk(body, len, max_line, 1, seed, b, &blen, &bused);
    CHECK(ra == rb);
    CHECK(alen == blen && memcmp(a, b, alen) == 0);
    if (ra == RL_HTTP_DONE) {
        CHECK(aused == bused);
    }
    free(a);
    free(b);
}

/* A normalised path is absolute, with no empty, "." or ".." segment. */
static void check_normalized(const char *path)
{
    const char *n = rl_http_normalize_path(pool, path);
    const char *s;

    if (n == NULL) {
        return;
    }
    CHECK(n[0] == '/');
    for (s = n + 1; *s != '\0';) {
        const char *e = strchr(s, '/');
        apr_size_t len = e ? (apr_size_t)(e - s) : strlen(s);
        CHECK(len > 0 || e == NULL);
        CHECK(!(len == 1 && s[0] == '.'));
        CHECK(!(len == 2 && s[0] == '.' && s[1] == '.'));
        CHECK(!(len == 3 && strncasecmp(s, "%2e", 3) == 0));
        if (e == NULL) {
            break;
        }
        s = e + 1;
    }
    /* Idempotent. */
    CHECK(strcmp(rl_http_normalize_path(pool, n), n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const rl_http_limits_t limits[] = {
        {8190, 8190, 100},
        {64, 48, 4},
        {16, 16, 1},
        {8190, 8190, 0},
    };
    const rl_http_limits_t *lim;
    const char *buf, *why = NULL;
    apr_size_t len, head_len;
    rl_http_head_t h;
    unsigned seed;
    int rv;

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
    lim = &limits[data[1] % (sizeof(limits) / sizeof(limits[0]))];
    buf = (const char *)data + 2;
    len = size - 2;

    rv = find_head(buf, len, lim, seed, &head_len);
    if (rv == RL_HTTP_OK) {
        rv = rl_http_parse_head(pool, buf, head_len, lim, &h, &why);
        /* The limits were enforced while finding the head. */
        CHECK(rv != 414 && rv != 431);
        if (rv == RL_HTTP_OK) {
            rl_body_kind_e kind;
            apr_off_t length;

            CHECK(h.nfields <= lim->max_fields);
            CHECK(h.line_len <= lim->max_line);
            CHECK(h.proto_num == 1000 || h.proto_num == 1001);
            rv = rl_http_request_framing(&h, &kind, &length, &why);
            CHECK(rv == RL_HTTP_OK || rv == 400);
            if (rv == RL_HTTP_OK && kind == RL_BODY_LENGTH) {
                CHECK(length >= 0);
            }
            if (h.target[0] == '/') {
                const char *q = strchr(h.target, '?');
                check_normalized(q ? apr_pstrmemdup(pool, h.target,
                                                    (apr_size_t)(q - h.target))
                                   : h.target);
            }
        } else {
            CHECK(why != NULL);
        }
        check_chunked(buf + head_len, len - head_len, lim->max_line, seed);
    } else {
        /* Arbitrary input straight into the parsers. */
        rv = rl_http_parse_head(pool, buf, len, lim, &h, &why);
        CHECK(rv == RL_HTTP_OK || why != NULL);
        check_chunked(buf, len, lim->max_line, seed);
        check_normalized(apr_pstrmemdup(pool, buf, len));
    }

    apr_pool_clear(pool);
    return 0;
}
