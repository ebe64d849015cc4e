/*
 * fuzz_hcexpr.c: libFuzzer target for mod_healthcheck's expression
 * language (modules/healthcheck/hc_expr.c: ProxyHCExpr's parser and
 * evaluator) and its response parser (hc_response.c).
 *
 * The input is an expression on the first line (as written after
 * ProxyHCExpr's name: "{%{REQUEST_STATUS} =~ /^[23]/}", or bare), then a
 * backend's response (status line, header fields, body) as the watchdog
 * would receive it.  Each run parses the expression into a fresh pool;
 * when it parses, the response is fed to hc_response_parse() as the
 * watchdog does, in three pieces (a third, two thirds, all of it with
 * the end of the connection), and every complete parse is evaluated,
 * as are an empty input (a TCP check) and a HEAD answer.  A result other
 * than 1, 0 or -1, or a failed evaluation without a message, aborts.
 * The pool is destroyed after each run.
 *
 * hc_expr.c and hc_response.c keep no state of their own, so they link
 * here without the rest of the module (modules/healthcheck/module.mk
 * names them in FUZZ_hcexpr_SRCS).
 *
 *   make fuzz && build/fuzz/fuzz_hcexpr -max_total_time=60 CORPUS_COPY
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "../../modules/healthcheck/hc_expr.h"

static apr_pool_t *pglobal;

static void check_result(int r, const char *errbuf)
{
    if (r < -1 || r > 1 || (r == -1 && errbuf[0] == '\0')) {
        abort();
    }
}

static void evaluate(const hc_expr_t *e, const char *buf,
                     const hc_response_t *resp, const char *method)
{
    hc_expr_input_t in;
    char errbuf[256];

    memset(&in, 0, sizeof(in));
    in.status = resp->status;
    in.method = method;
    in.head = buf + resp->head_start;
    in.head_len = resp->head_len;
    in.body = buf + resp->body_start;
    in.body_len = resp->body_len;
    check_result(hc_expr_eval(e, &in, errbuf, sizeof(errbuf)), errbuf);
}

/* Feeds the response in pieces, as recv() would, and evaluates. */
static void feed(const hc_expr_t *e, const uint8_t *data, size_t size, int need,
                 int head_only)
{
    size_t cap = HC_HEAD_MAX + HC_BODY_RAW_MAX;
    char *buf = malloc(cap);
    apr_size_t len = 0;
    size_t used = 0, step;
    const char *why;
    hc_response_t r;
    int rc = 0;

    if (buf == NULL) {
        abort();
    }
    for (step = 1; step <= 3 && rc == 0; step++) {
        size_t upto = step == 3 ? size : size * step / 3, k;
        k = upto - used;
        if (k > cap - len) {
            k = cap - len;
        }
        memcpy(buf + len, data + used, k);
        len += k;
        used += k;
        why = NULL;
        rc = hc_response_parse(buf, &len, cap, step == 3, need, head_only, &r,
                               &why);
        if (rc < 0 && why == NULL) {
            abort();
        }
        if (len > cap || (rc == 1 && (r.head_start + r.head_len > len ||
                                      r.body_start + r.body_len > len ||
                                      r.body_len > HC_BODY_MAX))) {
            abort();
        }
    }
    if (rc == 1) {
        evaluate(e, buf, &r, head_only ? "HEAD" : "GET");
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t elen = nl ? (size_t)(nl - data) : size;
    apr_pool_t *p;
    const char *err = NULL;
    char *text;
    hc_expr_t *e;
    hc_response_t none;

    if (pglobal == NULL) {
        if (apr_initialize() != APR_SUCCESS ||
            apr_pool_create(&pglobal, NULL) != APR_SUCCESS) {
            abort();
        }
    }
    if (apr_pool_create(&p, pglobal) != APR_SUCCESS) {
        abort();
    }
    text = apr_pstrmemdup(p, (const char *)data, elen);
    e = hc_expr_parse(p, text, &err);
    if (e == NULL) {
        if (err == NULL || strncmp(err, "at character ", 13) != 0) {
            abort();
        }
    } else {
        const uint8_t *rest = nl ? nl + 1 : data + size;
        size_t rlen = (size_t)(data + size - rest);
        unsigned uses = hc_expr_uses(e);
        int need = (uses & HC_EXPR_USES_BODY)      ? HC_NEED_BODY
                   : (uses & HC_EXPR_USES_HEADERS) ? HC_NEED_HEAD
                                                   : HC_NEED_STATUS;

        memset(&none, 0, sizeof(none));
        evaluate(e, "", &none, NULL); /* hcmethod=TCP: no response */
        feed(e, rest, rlen, need, 0);
        feed(e, rest, rlen, HC_NEED_BODY, 1);
    }
    apr_pool_destroy(p);
    return 0;
}
