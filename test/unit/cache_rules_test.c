/*
 * cache_rules_test.c: unit tests of mod_cache's RFC 9111 rules
 * (modules/cache/cache_rules.c): Cache-Control parsing, what may be
 * stored and for how long (explicit, Expires, heuristic, defaults,
 * CacheMaxExpire), the age arithmetic of §4.2.3, when a stored response
 * may answer, Vary keys, conditionals, ranges, invalidation targets and
 * the stored header block.  test/unit/cache_rules.mk links the file in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <apr_date.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "../../modules/cache/cache_rules.h"

static apr_pool_t *pool;

#define SEC(n) apr_time_from_sec(n)
/* a fixed "now": Fri, 27 Nov 2026 12:00:00 GMT */
#define NOW SEC(1795780800)

static const char *date_at(apr_time_t t)
{
    char *buf = apr_palloc(pool, APR_RFC822_DATE_LEN);

    apr_rfc822_date(buf, t);
    return buf;
}

static cache_policy_t policy(void)
{
    cache_policy_t p;

    memset(&p, 0, sizeof(p));
    p.default_expire = SEC(3600);
    p.max_expire = SEC(86400);
    p.min_expire = 0;
    p.lm_factor = 0.1;
    return p;
}

static cache_resp_info_t info(int status)
{
    cache_resp_info_t in;

    memset(&in, 0, sizeof(in));
    in.status = status;
    in.request_time = NOW - SEC(1);
    in.response_time = NOW;
    in.date = date_at(NOW);
    return in;
}

/* The reason a response is not stored ("" when it is), with cc. */
static const char *why(cache_resp_info_t *in, const char *cc,
                       cache_policy_t *pol, cache_fresh_t *fr)
{
    cache_resp_cc_t c;
    const char *r;

    cache_parse_resp_cc(pool, cc, &c);
    r = cache_storable(in, &c, pol, fr);
    return r ? r : "";
}

static void request_directives(void **state)
{
    cache_req_cc_t c;

    (void)state;
    cache_parse_req_cc("no-cache, max-age=5, min-fresh=\"7\", max-stale", NULL,
                       &c);
    assert_true(c.no_cache);
    assert_int_equal(c.max_age, 5);
    assert_int_equal(c.min_fresh, 7);
    assert_true(c.max_stale == CACHE_ANY_STALE);
    cache_parse_req_cc("NO-STORE,only-if-cached , max-stale=30", NULL, &c);
    assert_true(c.no_store && c.only_if_cached);
    assert_int_equal(c.max_stale, 30);
    assert_int_equal(c.max_age, -1);
    /* Pragma counts only without Cache-Control */
    cache_parse_req_cc(NULL, "no-cache", &c);
    assert_true(c.no_cache);
    cache_parse_req_cc("max-age=10", "no-cache", &c);
    assert_false(c.no_cache);
    /* an invalid number is absent, not zero */
    cache_parse_req_cc("max-age=abc", NULL, &c);
    assert_int_equal(c.max_age, -1);
}

static void response_directives(void **state)
{
    cache_resp_cc_t c;

    (void)state;
    cache_parse_resp_cc(pool,
                        "public, max-age=60, s-maxage=120, must-revalidate, "
                        "stale-while-revalidate=30, stale-if-error=600, "
                        "no-cache=\"Set-Cookie, X-A\", private=\"X-B\"",
                        &c);
    assert_true(c.is_public && c.must_revalidate);
    assert_int_equal(c.max_age, 60);
    assert_int_equal(c.s_maxage, 120);
    assert_int_equal(c.swr, 30);
    assert_int_equal(c.sie, 600);
    assert_false(c.no_cache); /* qualified: the fields, not the response */
    assert_false(c.is_private);
    assert_string_equal(c.no_cache_fields, "Set-Cookie, X-A");
    assert_string_equal(c.private_fields, "X-B");
    cache_parse_resp_cc(pool, "no-store,no-cache,private", &c);
    assert_true(c.no_store && c.no_cache && c.is_private);
    /* RFC 9111 §1.2.2: huge values are capped, not wrapped */
    cache_parse_resp_cc(pool, "max-age=99999999999999999999999", &c);
    assert_int_equal(c.max_age, 2147483648LL);
}

static void storable_rules(void **state)
{
    cache_policy_t pol = policy();
    cache_fresh_t fr;
    cache_resp_info_t in;

    (void)state;
    in = info(200);
    assert_string_equal(why(&in, "max-age=60", &pol, &fr), "");
    assert_true(fr.expires == NOW + SEC(60) - SEC(1)); /* 1 s in flight */
    assert_non_null(strstr(why(&in, "no-store", &pol, &fr), "no-store"));
    assert_string_equal(
        why(&in, "no-store, must-understand, max-age=9", &pol, &fr), "");
    assert_non_null(strstr(why(&in, "private", &pol, &fr), "private"));
    pol.store_private = 1;
    assert_string_equal(why(&in, "private, max-age=9", &pol, &fr), "");
    pol = policy();
    in.req_no_store = 1;
    assert_non_null(strstr(why(&in, "max-age=60", &pol, &fr), "request"));
    in = info(206);
    assert_non_null(strstr(why(&in, "max-age=60", &pol, &fr), "status"));
    in = info(500);
    assert_non_null(strstr(why(&in, "max-age=60", &pol, &fr), "status"));
    /* Authorization: only with public, s-maxage or must-revalidate */
    in = info(200);
    in.authorization = 1;
    assert_non_null(strstr(why(&in, "max-age=60", &pol, &fr), "Authorization"));
    assert_string_equal(why(&in, "public, max-age=60", &pol, &fr), "");
    assert_string_equal(why(&in, "s-maxage=60", &pol, &fr), "");
    assert_string_equal(why(&in, "max-age=60, must-revalidate", &pol, &fr), "");
    in = info(200);
    in.vary = "Accept, *";
    assert_non_null(strstr(why(&in, "max-age=60", &pol, &fr), "Vary"));
    in = info(200);
    in.set_cookie = 1;
    assert_non_null(strstr(why(&in, "max-age=60", &pol, &fr), "Set-Cookie"));
    pol.ignore_set_cookie = 1;
    assert_string_equal(why(&in, "max-age=60", &pol, &fr), "");
}

static void lifetimes(void **state)
{
    cache_policy_t pol = policy();
    cache_fresh_t fr;
    cache_resp_info_t in = info(200);

    (void)state;
    /* Expires - Date */
    in.expires = date_at(NOW + SEC(300));
    assert_string_equal(why(&in, NULL, &pol, &fr), "");
    assert_true(fr.lifetime == SEC(300) && !fr.heuristic);
    /* an invalid Expires is in the past: stored only with a validator */
    in.expires = "0";
    assert_string_not_equal(why(&in, NULL, &pol, &fr), "");
    in.etag = "\"x\"";
    assert_string_equal(why(&in, NULL, &pol, &fr), "");
    assert_true(fr.expires <= in.response_time);
    /* s-maxage over max-age over Expires */
    in.expires = date_at(NOW + SEC(300));
    assert_string_equal(why(&in, "max-age=10, s-maxage=20", &pol, &fr), "");
    assert_true(fr.lifetime == SEC(20));
    /* CacheMaxExpire caps explicit lifetimes too */
    assert_string_equal(why(&in, "max-age=999999", &pol, &fr), "");
    assert_true(fr.lifetime == SEC(86400));
    /* heuristic: 10% of the time since Last-Modified */
    in = info(200);
    in.last_modified = date_at(NOW - SEC(1000));
    assert_string_equal(why(&in, NULL, &pol, &fr), "");
    assert_true(fr.lifetime == SEC(100) && fr.heuristic);
    pol.lm_factor = 0.5;
    why(&in, NULL, &pol, &fr);
    assert_true(fr.lifetime == SEC(500));
    pol.min_expire = SEC(600);
    why(&in, NULL, &pol, &fr);
    assert_true(fr.lifetime == SEC(600));
    pol = policy();
    /* heuristics only for heuristically cacheable statuses */
    in.status = 302;
    assert_non_null(strstr(why(&in, NULL, &pol, &fr), "explicit"));
    assert_string_equal(why(&in, "max-age=5", &pol, &fr), "");
    /* nothing at all: httpd's rule, unless CacheIgnoreNoLastMod */
    in = info(200);
    assert_non_null(strstr(why(&in, NULL, &pol, &fr), "Last-Modified"));
    pol.ignore_no_last_mod = 1;
    assert_string_equal(why(&in, NULL, &pol, &fr), "");
    assert_true(fr.lifetime == SEC(3600));
    /* an ETag alone gets CacheDefaultExpire, as in httpd */
    pol = policy();
    in.etag = "\"e\"";
    assert_string_equal(why(&in, NULL, &pol, &fr), "");
    assert_true(fr.lifetime == SEC(3600));
    /* no-cache: stored to be validated each time, if it has a validator */
    assert_string_equal(why(&in, "no-cache, max-age=60", &pol, &fr), "");
    assert_true(fr.expires == in.response_time);
    in.etag = NULL;
    assert_non_null(
        strstr(why(&in, "no-cache, max-age=60", &pol, &fr), "validator"));
}

static void ages(void **state)
{
    (void)state;
    /* the worked example at the top of cache_rules.c */
    assert_true(cache_initial_age(NOW - SEC(4), 30, NOW - SEC(2), NOW) ==
                SEC(32));
    /* the origin's clock behind, no Age: the apparent age wins */
    assert_true(cache_initial_age(NOW - SEC(50), -1, NOW - SEC(1), NOW) ==
                SEC(50));
    /* a Date in the future counts nothing */
    assert_true(cache_initial_age(NOW + SEC(50), -1, NOW, NOW) == 0);
    assert_true(cache_initial_age(0, -1, NOW - SEC(3), NOW) == SEC(3));
    assert_true(cache_current_age(SEC(32), NOW, NOW + SEC(10)) == SEC(42));
    assert_int_equal(cache_delta_seconds(" 120"), 120);
    assert_int_equal(cache_delta_seconds("-1"), -1);
    assert_int_equal(cache_delta_seconds(NULL), -1);
    assert_true(cache_http_date("Sun, 06 Nov 1994 08:49:37 GMT") > 0);
    assert_true(cache_http_date("Sunday, 06-Nov-94 08:49:37 GMT") > 0);
    assert_true(cache_http_date("Sun Nov  6 08:49:37 1994") > 0);
    assert_true(cache_http_date("yesterday") == 0);
}

static void usable(void **state)
{
    cache_req_cc_t rq;
    cache_resp_cc_t rs;

    (void)state;
    cache_parse_req_cc(NULL, NULL, &rq);
    cache_parse_resp_cc(pool, "max-age=60", &rs);
    assert_int_equal(cache_usable(SEC(10), SEC(60), &rq, &rs), CACHE_USE_FRESH);
    assert_int_equal(cache_usable(SEC(60), SEC(60), &rq, &rs),
                     CACHE_USE_REVALIDATE);
    /* the request's limits */
    cache_parse_req_cc("max-age=5", NULL, &rq);
    assert_int_equal(cache_usable(SEC(10), SEC(60), &rq, &rs),
                     CACHE_USE_REVALIDATE);
    cache_parse_req_cc("min-fresh=55", NULL, &rq);
    assert_int_equal(cache_usable(SEC(10), SEC(60), &rq, &rs),
                     CACHE_USE_REVALIDATE);
    cache_parse_req_cc("max-stale=20", NULL, &rq);
    assert_int_equal(cache_usable(SEC(70), SEC(60), &rq, &rs), CACHE_USE_STALE);
    assert_int_equal(cache_usable(SEC(90), SEC(60), &rq, &rs),
                     CACHE_USE_REVALIDATE);
    cache_parse_req_cc("no-cache", NULL, &rq);
    assert_int_equal(cache_usable(SEC(1), SEC(60), &rq, &rs),
                     CACHE_USE_REVALIDATE);
    /* stale-while-revalidate, and what forbids serving stale */
    cache_parse_req_cc("max-stale", NULL, &rq);
    cache_parse_resp_cc(pool, "max-age=60, stale-while-revalidate=30", &rs);
    assert_int_equal(cache_usable(SEC(80), SEC(60), &rq, &rs), CACHE_USE_SWR);
    assert_int_equal(cache_usable(SEC(100), SEC(60), &rq, &rs),
                     CACHE_USE_STALE);
    cache_parse_resp_cc(pool, "max-age=60, must-revalidate", &rs);
    assert_int_equal(cache_usable(SEC(61), SEC(60), &rq, &rs),
                     CACHE_USE_REVALIDATE);
    cache_parse_resp_cc(pool, "s-maxage=60", &rs);
    assert_int_equal(cache_usable(SEC(61), SEC(60), &rq, &rs),
                     CACHE_USE_REVALIDATE);
    cache_parse_resp_cc(pool, "no-cache", &rs);
    assert_int_equal(cache_usable(0, SEC(60), &rq, &rs), CACHE_USE_REVALIDATE);
    /* errors */
    cache_parse_resp_cc(pool, "max-age=60", &rs);
    assert_true(cache_stale_on_error_ok(SEC(100), &rs, 1));
    assert_false(cache_stale_on_error_ok(SEC(100), &rs, 0));
    cache_parse_resp_cc(pool, "max-age=60, must-revalidate", &rs);
    assert_false(cache_stale_on_error_ok(SEC(100), &rs, 1));
    cache_parse_resp_cc(pool,
                        "max-age=60, must-revalidate, "
                        "stale-if-error=200",
                        &rs);
    assert_true(cache_stale_on_error_ok(SEC(100), &rs, 0));
    assert_false(cache_stale_on_error_ok(SEC(300), &rs, 0));
}

static void vary_keys(void **state)
{
    apr_table_t *h = apr_table_make(pool, 4);

    (void)state;
    assert_null(cache_vary_normalize(pool, NULL));
    assert_string_equal(cache_vary_normalize(pool, "Accept-Encoding, "
                                                   "ACCEPT-encoding,Origin"),
                        "accept-encoding,origin");
    assert_string_equal(cache_vary_normalize(pool, "Origin, *"), "*");
    apr_table_add(h, "Accept-Encoding", "gzip,   br");
    assert_string_equal(
        cache_variant_key(pool, "http://h:80/x", "accept-encoding,origin", h),
        "http://h:80/x accept-encoding=gzip, br origin!");
    /* an empty value is not an absent one */
    apr_table_set(h, "Origin", "");
    assert_string_equal(cache_variant_key(pool, "http://h:80/x", "origin", h),
                        "http://h:80/x origin=");
    /* several lines of one field are one value */
    apr_table_add(h, "Accept-Language", "fr");
    apr_table_add(h, "Accept-Language", "en");
    assert_string_equal(cache_variant_key(pool, "k", "accept-language", h),
                        "k accept-language=fr, en");
    assert_string_equal(cache_variant_key(pool, "k", NULL, h), "k");
}

static void conditionals(void **state)
{
    const char *lm = date_at(NOW - SEC(100));

    (void)state;
    assert_true(cache_not_modified("\"a\"", NULL, "\"a\"", NULL, NULL));
    assert_true(cache_not_modified("W/\"a\"", NULL, "\"a\"", NULL, NULL));
    assert_true(
        cache_not_modified("\"x\", W/\"a\"", NULL, "W/\"a\"", NULL, NULL));
    assert_true(cache_not_modified("*", NULL, "\"q\"", NULL, NULL));
    assert_false(cache_not_modified("\"b\"", NULL, "\"a\"", NULL, NULL));
    assert_false(cache_not_modified("\"a\"", NULL, NULL, NULL, NULL));
    /* If-None-Match wins: If-Modified-Since is then not looked at */
    assert_false(cache_not_modified("\"b\"", lm, "\"a\"", lm, NULL));
    assert_true(cache_not_modified(NULL, lm, NULL, lm, NULL));
    assert_true(cache_not_modified(NULL, date_at(NOW), NULL, lm, NULL));
    assert_false(
        cache_not_modified(NULL, date_at(NOW - SEC(200)), NULL, lm, NULL));
    /* no Last-Modified: the Date of the stored response */
    assert_true(cache_not_modified(NULL, date_at(NOW), NULL, NULL,
                                   date_at(NOW - SEC(5))));
    assert_false(cache_not_modified(NULL, "garbage", NULL, lm, NULL));
}

static void ranges(void **state)
{
    apr_off_t off = -1, n = -1;

    (void)state;
    assert_int_equal(cache_range(NULL, NULL, NULL, NULL, 100, &off, &n), 0);
    assert_int_equal(cache_range("bytes=0-9", NULL, NULL, NULL, 100, &off, &n),
                     206);
    assert_true(off == 0 && n == 10);
    assert_int_equal(cache_range("bytes=90-", NULL, NULL, NULL, 100, &off, &n),
                     206);
    assert_true(off == 90 && n == 10);
    assert_int_equal(
        cache_range("bytes=95-200", NULL, NULL, NULL, 100, &off, &n), 206);
    assert_true(off == 95 && n == 5);
    assert_int_equal(cache_range("bytes=-30", NULL, NULL, NULL, 100, &off, &n),
                     206);
    assert_true(off == 70 && n == 30);
    assert_int_equal(cache_range("bytes=-300", NULL, NULL, NULL, 100, &off, &n),
                     206);
    assert_true(off == 0 && n == 100);
    assert_int_equal(cache_range("bytes=100-", NULL, NULL, NULL, 100, &off, &n),
                     416);
    assert_int_equal(cache_range("bytes=-0", NULL, NULL, NULL, 100, &off, &n),
                     416);
    /* ignored: several ranges, bad syntax, another unit, If-Range */
    assert_int_equal(
        cache_range("bytes=0-1,5-6", NULL, NULL, NULL, 100, &off, &n), 0);
    assert_int_equal(cache_range("bytes=9-2", NULL, NULL, NULL, 100, &off, &n),
                     0);
    assert_int_equal(cache_range("items=0-1", NULL, NULL, NULL, 100, &off, &n),
                     0);
    assert_int_equal(cache_range("bytes=x-1", NULL, NULL, NULL, 100, &off, &n),
                     0);
    assert_int_equal(
        cache_range("bytes=0-1", "\"b\"", "\"a\"", NULL, 100, &off, &n), 0);
    assert_int_equal(
        cache_range("bytes=0-1", "\"a\"", "\"a\"", NULL, 100, &off, &n), 206);
    /* a weak tag never satisfies If-Range */
    assert_int_equal(
        cache_range("bytes=0-1", "W/\"a\"", "W/\"a\"", NULL, 100, &off, &n), 0);
    assert_int_equal(cache_range("bytes=0-1", date_at(NOW), NULL, date_at(NOW),
                                 100, &off, &n),
                     206);
}

static void invalidation_targets(void **state)
{
    (void)state;
    assert_string_equal(cache_same_origin_path(pool, "/a/b?x=1", "h", 80, "/p"),
                        "/a/b?x=1");
    assert_string_equal(
        cache_same_origin_path(pool, "http://H:8080/z#frag", "h", 8080, "/p"),
        "/z");
    assert_string_equal(cache_same_origin_path(pool, "http://h", "h", 80, "/p"),
                        "/");
    assert_null(cache_same_origin_path(pool, "http://other/z", "h", 80, "/"));
    assert_null(cache_same_origin_path(pool, "http://h:81/z", "h", 80, "/"));
    assert_null(cache_same_origin_path(pool, "https://h/z", "h", 80, "/"));
    assert_null(cache_same_origin_path(pool, "mailto:a@b", "h", 80, "/"));
    assert_string_equal(cache_same_origin_path(pool, "c", "h", 80, "/a/b"),
                        "/a/c");
    assert_true(cache_method_unsafe("POST") && cache_method_unsafe("PATCH") &&
                cache_method_unsafe("PURGE"));
    assert_false(cache_method_unsafe("GET") || cache_method_unsafe("OPTIONS"));
    assert_true(cache_method_cacheable("HEAD"));
    assert_false(cache_method_cacheable("POST"));
}

static void header_block(void **state)
{
    apr_table_t *out = apr_table_make(pool, 8), *back, *fresh;
    const char *b;
    apr_size_t len;
    apr_array_header_t *ignore = apr_array_make(pool, 1, sizeof(char *));

    (void)state;
    apr_table_add(out, "ETag", "\"1\"");
    apr_table_add(out, "Connection", "close");
    apr_table_add(out, "Set-Cookie", "a=b");
    apr_table_add(out, "Age", "7");
    apr_table_add(out, "X-Private", "secret");
    apr_table_add(out, "X-Ignored", "no");
    apr_table_add(out, "Cache-Control", "max-age=1");
    APR_ARRAY_PUSH(ignore, const char *) = "x-ignored";
    b = cache_headers_build(pool, out, "text/plain", "x-private", ignore,
                            SEC(12), &len);
    assert_int_equal(len, strlen(b));
    assert_string_equal(b, "ETag: \"1\"\r\nCache-Control: max-age=1\r\n"
                           "Content-Type: text/plain\r\nAge: 12\r\n");
    back = apr_table_make(pool, 8);
    assert_int_equal(cache_headers_parse(pool, b, len, back), 4);
    assert_string_equal(apr_table_get(back, "Age"), "12");
    assert_int_equal(cache_headers_parse(pool, "broken", 6, back), -1);
    /* a 304 replaces the fields it brings, keeps the others */
    fresh = apr_table_make(pool, 4);
    apr_table_add(fresh, "Cache-Control", "max-age=60");
    apr_table_add(fresh, "Content-Length", "0");
    b = cache_headers_update(pool, back, fresh, NULL, SEC(1), &len);
    assert_string_equal(b, "ETag: \"1\"\r\nCache-Control: max-age=60\r\n"
                           "Content-Type: text/plain\r\nAge: 1\r\n");
    assert_true(cache_list_has("a, B ,c", "b"));
    assert_false(cache_list_has("ab, c", "a"));
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
        cmocka_unit_test_setup_teardown(request_directives, setup, teardown),
        cmocka_unit_test_setup_teardown(response_directives, setup, teardown),
        cmocka_unit_test_setup_teardown(storable_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(lifetimes, setup, teardown),
        cmocka_unit_test_setup_teardown(ages, setup, teardown),
        cmocka_unit_test_setup_teardown(usable, setup, teardown),
        cmocka_unit_test_setup_teardown(vary_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(conditionals, setup, teardown),
        cmocka_unit_test_setup_teardown(ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(invalidation_targets, setup, teardown),
        cmocka_unit_test_setup_teardown(header_block, setup, teardown),
    };

    apr_initialize();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
