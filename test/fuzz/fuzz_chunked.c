/*
 * fuzz_chunked.c: libFuzzer target for the chunked-body decoder
 * (server/http_parse.c: rl_http_chunked_next), which reads request bodies
 * from clients and response bodies from backends.
 *
 * The input is a chunked body.  Its first byte seeds the cutting of the
 * rest into reads of 1 to 64 bytes (as recv() would hand them over), the
 * second chooses the line limit.  Each read is handed to the decoder until
 * it has taken all of it, as the core and mod_proxy do.  Checked on every
 * call: consumed <= len; data points inside the bytes just consumed; the
 * decoded bytes never outnumber the input; AGAIN takes the whole read;
 * after DONE (or 400) every further call answers the same and consumes
 * nothing.  And once per input: the body cut into reads decodes to the
 * same bytes and the same end as the body in one read, and as the body
 * one byte at a time; a body that ends (DONE) ends at the same byte in
 * all three.  A decoder that reads the same bytes two ways could be
 * smuggled past.
 *
 *   make fuzz && build/fuzz/fuzz_chunked -max_total_time=60 CORPUS
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

#include "rl_module.h"
#include "rl_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant failed: crash so that libFuzzer keeps the input. */
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            abort();                                                           \
        }                                                                      \
    } while (0)

enum { CUT_ONCE, CUT_RANDOM, CUT_BYTES };

typedef struct result_t {
    int rv;             /* last answer: AGAIN, DONE or 400 */
    apr_size_t used;    /* input bytes consumed */
    apr_size_t out_len; /* decoded bytes */
    char *out;
} result_t;

/* A small xorshift so that the cuts depend on the seed, not on the data
 * (the fuzzer mutates both independently). */
static unsigned next_rand(unsigned *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void decode(const char *in, apr_size_t len, apr_size_t max_line, int cut,
                   unsigned seed, result_t *res)
{
    rl_http_chunked_t st;
    apr_size_t off = 0;
    unsigned rnd = seed * 2654435761u + 1;

    memset(&st, 0, sizeof(st));
    res->rv = RL_HTTP_AGAIN;
    res->out_len = 0;
    while (off < len) {
        apr_size_t end;

        switch (cut) {
        case CUT_ONCE:
            end = len;
            break;
        case CUT_BYTES:
            end = off + 1;
            break;
        default:
            end = off + 1 + next_rand(&rnd) % 64;
            break;
        }
        if (end > len) {
            end = len;
        }
        /* one read, handed over until it is all taken or the body ends */
        while (off < end) {
            apr_size_t consumed = 12345, dl = 12345;
            const char *d = (const char *)&st;
            int rv = rl_http_chunked_next(&st, in + off, end - off, max_line,
                                          &consumed, &d, &dl);

            CHECK(consumed <= end - off);
            if (rv == RL_HTTP_OK) {
                CHECK(dl > 0 && dl <= consumed);
                CHECK(d >= in + off && d + dl <= in + off + consumed);
                /* the data is the tail of what was consumed: framing
                 * before it, never after */
                CHECK(d + dl == in + off + consumed);
                memcpy(res->out + res->out_len, d, dl);
                res->out_len += dl;
                off += consumed;
                CHECK(res->out_len <= off);
                continue;
            }
            CHECK(d == NULL && dl == 0);
            off += consumed;
            if (rv == RL_HTTP_AGAIN) {
                CHECK(off == end);
                continue;
            }
            CHECK(rv == RL_HTTP_DONE || rv == 400);
            res->rv = rv;
            res->used = off;
            /* final: whatever comes next is not looked at */
            {
                static const char more[] = "5\r\nhello\r\n0\r\n\r\n";
                const char *rest = off < len ? in + off : more;
                apr_size_t rest_len = off < len ? len - off : sizeof(more) - 1;
                int again = rl_http_chunked_next(&st, rest, rest_len, max_line,
                                                 &consumed, &d, &dl);

                CHECK(again == rv && consumed == 0 && d == NULL && dl == 0);
            }
            CHECK(res->out_len <= res->used);
            return;
        }
    }
    res->used = off;
    CHECK(res->out_len <= res->used);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const apr_size_t max_lines[] = {8192, 64, 8, 1};
    static int initialized;
    apr_size_t max_line, len;
    result_t once, random, bytes;
    const char *in;
    unsigned seed;

    if (!initialized) {
        if (apr_initialize() != APR_SUCCESS) {
            abort();
        }
        initialized = 1;
    }
    if (size < 2) {
        return 0;
    }
    seed = data[0];
    max_line = max_lines[data[1] % 4];
    in = (const char *)data + 2;
    len = size - 2;

    once.out = malloc(len + 1);
    random.out = malloc(len + 1);
    bytes.out = malloc(len + 1);
    if (once.out == NULL || random.out == NULL || bytes.out == NULL) {
        abort();
    }
    decode(in, len, max_line, CUT_ONCE, seed, &once);
    decode(in, len, max_line, CUT_RANDOM, seed, &random);
    decode(in, len, max_line, CUT_BYTES, seed, &bytes);

    CHECK(once.rv == random.rv && once.rv == bytes.rv);
    CHECK(once.out_len == random.out_len && once.out_len == bytes.out_len);
    CHECK(memcmp(once.out, random.out, once.out_len) == 0);
    CHECK(memcmp(once.out, bytes.out, once.out_len) == 0);
    if (once.rv == RL_HTTP_DONE) {
        CHECK(once.used == random.used && once.used == bytes.used);
    }

    free(once.out);
    free(random.out);
    free(bytes.out);
    return 0;
}
