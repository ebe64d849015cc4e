/*
 * fuzz_expr.c: libFuzzer target for the request expression language
 * (server/expr.c: the conditions of <If>, <ElseIf> and Require expr) and
 * the address patterns of server/ipmatch.c.
 *
 * The input's first line is an expression as written inside <If "…">;
 * the following lines, "Name: value", become request header fields, and
 * the first of them also the client address for -R / -ipmatch.  Each run
 * parses into a fresh pool; when the expression parses, it is evaluated
 * against a request built from those fields.  A result other than 1, 0
 * or -1, or -1 without a reason, aborts.  Every line is also given to
 * rl_ipmatch_parse(), and a parsed pattern is matched against the client
 * address.  The pool is destroyed after each run.
 *
 *   make fuzz && build/fuzz/fuzz_expr -max_total_time=60 CORPUS_COPY
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "relais.h"

static apr_pool_t *pglobal;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    char *text, *line, *last = NULL;
    const char *err = NULL, *expr_text;
    rl_expr_t *e;
    rl_request_t r;
    rl_conn_t c;
    rl_server_t s;

    if (pglobal == NULL) {
        if (apr_initialize() != APR_SUCCESS ||
            apr_pool_create(&pglobal, NULL) != APR_SUCCESS) {
            abort();
        }
    }
    if (apr_pool_create(&p, pglobal) != APR_SUCCESS) {
        abort();
    }
    memset(&r, 0, sizeof(r));
    memset(&c, 0, sizeof(c));
    memset(&s, 0, sizeof(s));
    r.pool = p;
    r.connection = &c;
    r.server = &s;
    r.method = "GET";
    r.protocol = "HTTP/1.1";
    r.uri = "/a/b";
    r.args = "x=1";
    r.status = 200;
    r.headers_in = apr_table_make(p, 4);
    r.headers_out = apr_table_make(p, 1);
    r.err_headers_out = apr_table_make(p, 1);
    r.subprocess_env = apr_table_make(p, 1);
    r.notes = apr_table_make(p, 1);
    c.client_ip = "127.0.0.1";
    c.local_ip = "127.0.0.1";
    s.server_name = "localhost";

    text = apr_pstrmemdup(p, (const char *)data, size);
    expr_text = apr_strtok(text, "\n", &last);
    if (expr_text == NULL) {
        apr_pool_destroy(p);
        return 0;
    }
    while ((line = apr_strtok(NULL, "\n", &last)) != NULL) {
        char *colon = strchr(line, ':');
        rl_ipmatch_t *m = rl_ipmatch_parse(p, line, &err);
        if (m != NULL) {
            (void)rl_ipmatch(m, c.client_ip);
        }
        if (colon != NULL) {
            *colon = '\0';
            apr_table_add(r.headers_in, line, colon + 1);
            if (c.client_ip == c.local_ip) {
                c.client_ip = colon + 1;
            }
        }
    }
    e = rl_expr_parse(p, expr_text, &err);
    if (e == NULL && err == NULL) {
        abort();
    }
    if (e != NULL) {
        int rc;
        err = NULL;
        rc = rl_expr_eval(&r, e, &err);
        if (rc < -1 || rc > 1 || (rc == -1 && err == NULL)) {
            abort();
        }
    }
    apr_pool_destroy(p);
    return 0;
}
