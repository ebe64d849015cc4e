/*
 * acl_test.c: unit tests of mod_acl's Require tree
 * (modules/acl/acl_require.c: containers, the configuration checks, the
 * result rules of httpd 2.4's mod_authz_core, AuthMerging) and of the
 * address patterns Require ip uses (rl_ipmatch, server/ipmatch.c).
 *
 * Require lines here are made with a test provider whose answer is fixed
 * when the line is made, so each test states a tree and the result httpd
 * gives for it.  test/unit/acl.mk links acl_require.c in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "../../modules/acl/acl_private.h"

static apr_pool_t *pool;

/* A line whose answer is the acl_result_e its parsed value points to;
 * counts its calls, so a test sees where evaluation stopped. */
static int calls;

static acl_result_e fixed_check(void *ctx, const void *parsed)
{
    (void)ctx;
    calls++;
    return *(const acl_result_e *)parsed;
}

static const acl_provider_t fixed = {"fixed", NULL, fixed_check};

static acl_node_t *line(acl_result_e res, int negate)
{
    acl_result_e *v = apr_palloc(pool, sizeof(*v));

    *v = res;
    return acl_node_line(pool, &fixed, v, negate, "Require fixed", "t.conf", 1);
}

static acl_node_t *box(acl_kind_e kind, int n, ...)
{
    acl_node_t *c = acl_node_container(pool, kind, "t.conf", 1);
    va_list ap;
    int i;

    va_start(ap, n);
    for (i = 0; i < n; i++) {
        acl_node_t *kid = va_arg(ap, acl_node_t *);
        assert_null(acl_node_add(pool, c, kid));
    }
    va_end(ap);
    return c;
}

static acl_result_e eval(const acl_node_t *n)
{
    acl_eval_t ev = {NULL, NULL};

    return acl_node_eval(n, &ev);
}

#define G ACL_GRANTED
#define D ACL_DENIED
#define N ACL_NEUTRAL
#define U ACL_DENIED_NO_USER
#define E ACL_ERROR

static void any_and_all(void **state)
{
    (void)state;
    /* Require lines side by side: any of them */
    assert_int_equal(eval(box(ACL_KIND_CONTEXT, 2, line(D, 0), line(G, 0))), G);
    assert_int_equal(eval(box(ACL_KIND_CONTEXT, 2, line(D, 0), line(D, 0))), D);
    assert_int_equal(eval(box(ACL_KIND_ALL, 2, line(G, 0), line(G, 0))), G);
    assert_int_equal(eval(box(ACL_KIND_ALL, 2, line(G, 0), line(D, 0))), D);
    assert_int_equal(eval(box(ACL_KIND_ANY, 1, line(G, 0))), G);
}

static void short_circuit(void **state)
{
    (void)state;
    calls = 0;
    assert_int_equal(
        eval(box(ACL_KIND_ANY, 3, line(G, 0), line(D, 0), line(D, 0))), G);
    assert_int_equal(calls, 1);
    calls = 0;
    assert_int_equal(
        eval(box(ACL_KIND_ALL, 3, line(D, 0), line(G, 0), line(G, 0))), D);
    assert_int_equal(calls, 1);
}

static void negation(void **state)
{
    (void)state;
    /* not granted = denied; not denied = neutral (never granted) */
    assert_int_equal(eval(line(G, 1)), D);
    assert_int_equal(eval(line(D, 1)), N);
    assert_int_equal(eval(line(U, 1)), N);
    /* RequireAll { granted, not denied } = granted: neutral is ignored */
    assert_int_equal(eval(box(ACL_KIND_ALL, 2, line(G, 0), line(D, 1))), G);
    assert_int_equal(eval(box(ACL_KIND_ALL, 2, line(G, 0), line(G, 1))), D);
    /* RequireNone: denied when any child grants, else neutral */
    assert_int_equal(eval(box(ACL_KIND_NONE, 2, line(D, 0), line(G, 0))), D);
    assert_int_equal(eval(box(ACL_KIND_NONE, 2, line(D, 0), line(D, 0))), N);
    assert_int_equal(eval(box(ACL_KIND_ALL, 2, line(G, 0),
                              box(ACL_KIND_NONE, 2, line(D, 0), line(G, 0)))),
                     D);
    assert_int_equal(eval(box(ACL_KIND_ALL, 2, line(G, 0),
                              box(ACL_KIND_NONE, 2, line(D, 0), line(D, 0)))),
                     G);
}

static void user_dependent(void **state)
{
    (void)state;
    /* Any: a user may still grant, so "no user yet" beats a denial */
    assert_int_equal(eval(box(ACL_KIND_ANY, 2, line(D, 0), line(U, 0))), U);
    assert_int_equal(eval(box(ACL_KIND_ANY, 2, line(U, 0), line(D, 0))), U);
    assert_int_equal(eval(box(ACL_KIND_ANY, 2, line(U, 0), line(G, 0))), G);
    /* All: a plain denial cannot be helped by a user */
    assert_int_equal(eval(box(ACL_KIND_ALL, 2, line(U, 0), line(D, 0))), D);
    assert_int_equal(eval(box(ACL_KIND_ALL, 2, line(G, 0), line(U, 0))), U);
    assert_int_equal(eval(box(ACL_KIND_ALL, 2, line(U, 0), line(G, 0))), U);
}

static void neutral_and_errors(void **state)
{
    (void)state;
    assert_int_equal(eval(box(ACL_KIND_ALL, 1, line(N, 0))), N);
    assert_int_equal(eval(box(ACL_KIND_ANY, 2, line(N, 0), line(D, 0))), D);
    assert_int_equal(eval(box(ACL_KIND_ALL, 2, line(N, 0), line(G, 0))), G);
    /* an error stops everything, even after a grant in All */
    assert_int_equal(eval(box(ACL_KIND_ALL, 2, line(G, 0), line(E, 0))), E);
    assert_int_equal(eval(box(ACL_KIND_ANY, 2, line(E, 0), line(G, 0))), E);
    /* an error is not turned into anything by a negation */
    assert_int_equal(eval(box(ACL_KIND_ALL, 2, line(G, 0), line(E, 1))), E);
}

static void deep_nesting(void **state)
{
    acl_node_t *n = line(G, 0);
    int i;

    (void)state;
    for (i = 0; i < 50; i++) {
        n = box(i % 2 ? ACL_KIND_ALL : ACL_KIND_ANY, 2, line(i % 2 ? G : D, 0),
                n);
    }
    assert_int_equal(eval(n), G);
    n = box(ACL_KIND_ALL, 2, n, box(ACL_KIND_ANY, 1, line(D, 0)));
    assert_int_equal(eval(n), D);
}

static void config_checks(void **state)
{
    acl_node_t *ctx = acl_node_container(pool, ACL_KIND_CONTEXT, "t", 1);
    acl_node_t *any = acl_node_container(pool, ACL_KIND_ANY, "t", 1);
    acl_node_t *all = acl_node_container(pool, ACL_KIND_ALL, "t", 1);
    acl_node_t *none = acl_node_container(pool, ACL_KIND_NONE, "t", 1);
    const char *err;

    (void)state;
    /* "Require not" alone in a context, or in <RequireAny>: refused */
    err = acl_node_add(pool, ctx, line(G, 1));
    assert_non_null(err);
    assert_non_null(strstr(err, "'Require not'"));
    assert_non_null(strstr(err, "<RequireAll>"));
    assert_non_null(acl_node_add(pool, any, line(G, 1)));
    /* <RequireNone> directly in a context: refused too */
    assert_null(acl_node_add(pool, none, line(G, 0)));
    err = acl_node_add(pool, ctx, none);
    assert_non_null(err);
    assert_non_null(strstr(err, "<RequireNone>"));
    /* empty containers */
    err = acl_node_close(pool, all);
    assert_non_null(err);
    assert_non_null(strstr(err, "holds no Require line"));
    /* <RequireAll> of negations only can never grant */
    assert_null(acl_node_add(pool, all, line(G, 1)));
    assert_null(acl_node_add(pool, all, none));
    err = acl_node_close(pool, all);
    assert_non_null(err);
    assert_non_null(strstr(err, "only negative"));
    assert_null(acl_node_add(pool, all, line(G, 0)));
    assert_null(acl_node_close(pool, all));
    /* Require not inside <RequireNone> is allowed (Any-like, but httpd
     * refuses it as well: it has no effect there) */
    assert_non_null(acl_node_add(pool, none, line(G, 1)));
}

static void merging(void **state)
{
    acl_node_t *outer = box(ACL_KIND_CONTEXT, 1, line(G, 0));
    acl_node_t *inner = box(ACL_KIND_CONTEXT, 1, line(D, 0));
    acl_node_t *m;

    (void)state;
    m = acl_node_merge(pool, ACL_OP_ALL, outer, inner);
    assert_int_equal(eval(m), D);
    assert_string_equal(acl_node_name(m), "AuthMerging And");
    m = acl_node_merge(pool, ACL_OP_ANY, outer, inner);
    assert_int_equal(eval(m), G);
    assert_string_equal(acl_node_name(m), "AuthMerging Or");
    /* the merged trees are shared, not changed: both still answer alone */
    assert_int_equal(eval(outer), G);
    assert_int_equal(eval(inner), D);
    assert_int_equal(outer->nkids, 1);
}

/* The address patterns of Require ip (httpd's forms). */
static void ip_patterns(void **state)
{
    static const struct {
        const char *pattern, *ip;
        int match;
    } cases[] = {
        {"10.1.2.3", "10.1.2.3", 1},
        {"10.1.2.3", "10.1.2.4", 0},
        {"10.1", "10.1.200.7", 1},
        {"10.1", "10.10.0.1", 0},
        {"10", "10.255.0.1", 1},
        {"10.1.0.0/16", "10.1.9.9", 1},
        {"10.1.0.0/16", "10.2.0.1", 0},
        {"10.1.0.0/255.255.0.0", "10.1.9.9", 1},
        {"10.1.0.0/255.255.0.0", "10.2.9.9", 0},
        {"127.0.0.0/8", "127.0.0.1", 1},
        {"128.0.0.0/1", "127.0.0.1", 0},
        {"0.0.0.0/0", "203.0.113.9", 1},
        {"10.1.2.3/32", "10.1.2.3", 1},
        {"2001:db8::/32", "2001:db8:1::5", 1},
        {"2001:db8::/32", "2001:db9::5", 0},
        {"::1", "::1", 1},
        {"::1", "127.0.0.1", 0},
        {"10.0.0.0/8", "::ffff:10.3.4.5", 1},
        {"10.0.0.0/8", "not-an-address", 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *err = NULL;
        rl_ipmatch_t *m = rl_ipmatch_parse(pool, cases[i].pattern, &err);
        assert_non_null(m);
        if (rl_ipmatch(m, cases[i].ip) != cases[i].match) {
            fail_msg("%s against %s: expected %d", cases[i].ip,
                     cases[i].pattern, cases[i].match);
        }
    }
}

static void ip_bad_patterns(void **state)
{
    static const char *const bad[] = {"10.1.2.3/33",
                                      "10.0.0.0/255.0.255.0",
                                      "example.org",
                                      "10.1.2.3.4",
                                      "2001:db8::/129",
                                      "256.1",
                                      ""};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = NULL;
        if (rl_ipmatch_parse(pool, bad[i], &err) != NULL) {
            fail_msg("'%s' was accepted as an address pattern", bad[i]);
        }
        assert_non_null(err);
    }
}

static int setup(void **state)
{
    (void)state;
    return apr_pool_create(&pool, NULL) == APR_SUCCESS ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    apr_pool_destroy(pool);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(any_and_all, setup, teardown),
        cmocka_unit_test_setup_teardown(short_circuit, setup, teardown),
        cmocka_unit_test_setup_teardown(negation, setup, teardown),
        cmocka_unit_test_setup_teardown(user_dependent, setup, teardown),
        cmocka_unit_test_setup_teardown(neutral_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(deep_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(config_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(merging, setup, teardown),
        cmocka_unit_test_setup_teardown(ip_patterns, setup, teardown),
        cmocka_unit_test_setup_teardown(ip_bad_patterns, setup, teardown),
    };

    apr_initialize();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
