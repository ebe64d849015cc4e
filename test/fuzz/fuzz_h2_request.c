/*
 * fuzz_h2_request.c: libFuzzer target for mod_http2's translation of an
 * HTTP/2 request's header list into the HTTP/1.1 head the core's engine
 * reads (modules/http2/h2_request.c).
 *
 * A proxy that rewrites a request from one protocol into another can be
 * smuggled past when the two readings differ: a CR/LF in an HTTP/2 value
 * would become a field, or a second request, of the client's choosing.
 * So the head the translation accepts is read back with the core's own
 * HTTP/1.1 parser (server/http_parse.c) and must be:
 *  - one head, ending exactly where the translation ended it;
 *  - parsed as sent: same method, target and protocol, Host from
 *    :authority (or host), then each kept field with its value
 *    unchanged, the cookie crumbs joined, and the framing the translation
 *    chose (chunked when the body is still coming, else the length);
 *    or, refused, only because of the target, which the translation
 *    leaves to the core (the request line alone is refused too);
 *  - within H2MaxHeaderListSize.
 * A refused list is 400, 431 or 501, and has a reason.  Anything else
 * aborts.
 *
 * Input: one byte of flags (bit 0: the client ended the stream; bit 1: a
 * body has arrived, of 1 + the next byte bytes; bits 2-3 choose the
 * limits), then fields, each [name length][value length][name][value].
 *
 * h2_request.c keeps no state and needs no nghttp2, so it links here
 * alone (modules/http2/module.mk names it in FUZZ_h2_request_SRCS).
 *
 *   make fuzz && build/fuzz/fuzz_h2_request -max_total_time=60 CORPUS_COPY
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

#include "../../modules/http2/h2_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant failed: crash so that libFuzzer keeps the input. */
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            abort();                                                           \
        }                                                                      \
    } while (0)

static apr_pool_t *pglobal;

/* The request line alone: does the core refuse it too? */
static int line_refused(apr_pool_t *p, const h2_request_t *rq)
{
    rl_http_limits_t lim = {1 << 20, 1 << 20, 100000};
    rl_http_head_t h;
    const char *why = NULL;
    char *t =
        apr_pstrcat(p, rq->method, " ", rq->path, " HTTP/1.1\r\n\r\n", NULL);

    return rl_http_parse_head(p, t, strlen(t), &lim, &h, &why) != RL_HTTP_OK;
}

static void check_head(apr_pool_t *p, h2_request_t *rq, const char *head,
                       apr_size_t len, int in_eof, apr_size_t body_have,
                       int chunked)
{
    rl_http_limits_t lim = {1 << 20, 1 << 20, 100000};
    apr_size_t scan = 0, head_len = 0;
    rl_http_head_t h;
    rl_body_kind_e kind;
    apr_off_t length = 0;
    const char *why = NULL, *cl = NULL;
    int rc, i, at = 0, te = 0;

    CHECK(head != NULL && strlen(head) == len);
    /* exactly one head: nothing of the client's after its end */
    rc = rl_http_head_end(head, len, &scan, &lim, &head_len);
    CHECK(rc == RL_HTTP_OK && head_len == len);
    rc = rl_http_parse_head(p, head, len, &lim, &h, &why);
    if (rc != RL_HTTP_OK) {
        CHECK(rc == 400 && line_refused(p, rq));
        return;
    }
    CHECK(strcmp(h.method, rq->method) == 0);
    CHECK(strcmp(h.target, rq->path) == 0);
    CHECK(h.proto_num == 1001);
    if (rq->authority != NULL) {
        CHECK(at < h.nfields && strcmp(h.fields[at].name, "Host") == 0);
        CHECK(strcmp(h.fields[at].value, rq->authority) == 0);
        at++;
    }
    for (i = 0; i < rq->fields->nelts; i++, at++) {
        const rl_http_field_t *f =
            &APR_ARRAY_IDX(rq->fields, i, rl_http_field_t);
        CHECK(at < h.nfields);
        CHECK(strcmp(h.fields[at].name, f->name) == 0);
        CHECK(strcmp(h.fields[at].value, f->value) == 0);
        if (strcmp(f->name, "content-length") == 0) {
            cl = f->value;
        }
    }
    if (rq->cookie != NULL) {
        CHECK(at < h.nfields && strcmp(h.fields[at].name, "cookie") == 0);
        CHECK(strcmp(h.fields[at].value, rq->cookie) == 0);
        at++;
    }
    /* what the translation added, and nothing else */
    if (at < h.nfields) {
        CHECK(cl == NULL);
        if (chunked) {
            CHECK(strcmp(h.fields[at].name, "transfer-encoding") == 0 &&
                  strcmp(h.fields[at].value, "chunked") == 0);
        } else {
            CHECK(strcmp(h.fields[at].name, "content-length") == 0 &&
                  (apr_size_t)apr_atoi64(h.fields[at].value) == body_have);
        }
        at++;
    }
    CHECK(at == h.nfields);
    for (i = 0; i < h.nfields; i++) {
        if (strcasecmp(h.fields[i].name, "transfer-encoding") == 0) {
            te++;
        }
        /* no connection-specific field of the client's gets through */
        CHECK(strcasecmp(h.fields[i].name, "connection") != 0 &&
              strcasecmp(h.fields[i].name, "upgrade") != 0 &&
              strcasecmp(h.fields[i].name, "te") != 0);
    }
    CHECK(te == chunked);
    CHECK(chunked == (cl == NULL && !in_eof));
    /* the framing the core decides is the one the body is sent with
     * (when the core accepts the head: a bad Host or Content-Length of
     * the client's is its 400 to give) */
    if (rl_http_request_framing(&h, &kind, &length, &why) == RL_HTTP_OK) {
        if (chunked) {
            CHECK(kind == RL_BODY_CHUNKED);
        } else if (cl == NULL && body_have > 0) {
            CHECK(kind == RL_BODY_LENGTH && (apr_size_t)length == body_have);
        } else if (cl == NULL) {
            CHECK(kind == RL_BODY_NONE);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const h2_request_limits_t limits[4] = {
        {65536, 8190, 100}, {256, 0, 0}, {1 << 20, 64, 4}, {100, 40, 2}};
    const h2_request_limits_t *lim;
    apr_pool_t *p;
    h2_request_t rq;
    const char *head = NULL;
    apr_size_t pos, len = 0, body_have = 0;
    int in_eof, chunked = 0, rc;

    if (pglobal == NULL) {
        if (apr_initialize() != APR_SUCCESS ||
            apr_pool_create(&pglobal, NULL) != APR_SUCCESS) {
            abort();
        }
    }
    if (size < 2) {
        return 0;
    }
    in_eof = data[0] & 1;
    if (data[0] & 2) {
        body_have = 1 + (apr_size_t)data[1];
    }
    lim = &limits[(data[0] >> 2) & 3];
    if (apr_pool_create(&p, pglobal) != APR_SUCCESS) {
        abort();
    }
    h2_request_init(&rq, p);
    for (pos = 2; pos + 2 <= size;) {
        apr_size_t nl = data[pos], vl = data[pos + 1];
        pos += 2;
        if (nl + vl > size - pos) {
            break;
        }
        h2_request_add(&rq, lim, (const char *)data + pos, nl,
                       (const char *)data + pos + nl, vl);
        pos += nl + vl;
    }
    rc = h2_request_head(&rq, in_eof, body_have, &head, &len, &chunked);
    if (rc == 0) {
        CHECK(rq.header_bytes <= lim->max_header_list);
        CHECK(lim->max_fields == 0 || rq.fields->nelts <= lim->max_fields);
        check_head(p, &rq, head, len, in_eof, body_have, chunked);
    } else {
        CHECK(rc == 400 || rc == 431 || rc == 501);
        CHECK(rq.why != NULL && head == NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
