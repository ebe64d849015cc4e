/*
 * ratelimit_test.c: unit tests of mod_acl's rate limiting table
 * (modules/acl/acl_ratelimit.c): the argument parser, the token bucket
 * arithmetic (with a clock the test sets), the bounded table under a flood
 * of distinct keys, sharing with a forked process, a lock whose owner
 * died, and the table found again (or copied) by the next configuration
 * generation.
 *
 * The source file is included, not linked, so that its static functions
 * (table_take, siphash24) can be called with chosen inputs.  mod_acl.c,
 * which defines acl_module, is not part of this program: a record of the
 * same name stands in for it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>

#include "core.h"

#include "../../modules/acl/acl_ratelimit.c"

RL_DECLARE_DATA rl_module_t acl_module = {
    .magic = RL_MODULE_MAGIC, .name = "acl", .index = -1};

static apr_pool_t *pglobal; /* the whole run */
static apr_pool_t *pconf;   /* one test */
static rl_server_t server;  /* the main server, logging at warn */

/* ------------------------------------------------------------------ */
/* Fixtures and helpers                                               */
/* ------------------------------------------------------------------ */

static int group_setup(void **state)
{
    (void)state;
    if (apr_initialize() != APR_SUCCESS ||
        apr_pool_create(&pglobal, NULL) != APR_SUCCESS) {
        return -1;
    }
    memset(&rl_proc, 0, sizeof(rl_proc));
    rl_proc.pglobal = pglobal;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    apr_pool_destroy(pglobal);
    apr_terminate();
    return 0;
}

static int test_setup(void **state)
{
    (void)state;
    apr_pool_create(&pconf, pglobal);
    memset(&server, 0, sizeof(server));
    server.log_level = RL_LOG_WARNING;
    /* a fresh process: nothing retained from an earlier test */
    rl_retained_data_create(RL_RETAINED_KEY, sizeof(rl_retained_t));
    tbl = NULL;
    nlimits = 0;
    table_size = RL_TABLE_DEFAULT;
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    apr_pool_destroy(pconf);
    return 0;
}

/* `RateLimit args` at conf:line in location path; returns the parser's
 * error or NULL, with the limit in *out. */
static const char *parse_at(unsigned line, const char *path, const char *args,
                            acl_ratelimit_t **out)
{
    rl_config_node_t *node = apr_pcalloc(pconf, sizeof(*node));
    rl_cmd_t *cmd = apr_pcalloc(pconf, sizeof(*cmd));
    char **argv;
    int argc = 0;
    acl_ratelimit_t *dummy;

    node->file = "/etc/relais/relais.conf";
    node->line = line;
    cmd->pool = pconf;
    cmd->temp_pool = pconf;
    cmd->server = &server;
    cmd->node = node;
    cmd->path = path;
    apr_tokenize_to_argv(args, &argv, pconf);
    while (argv[argc] != NULL) {
        argc++;
    }
    return acl_ratelimit_parse(cmd, argc, argv, out ? out : &dummy);
}

static acl_ratelimit_t *limit(unsigned line, const char *args)
{
    acl_ratelimit_t *rl = NULL;
    const char *err = parse_at(line, "/", args, &rl);

    if (err != NULL) {
        fail_msg("RateLimit %s: %s", args, err);
    }
    return rl;
}

static const char *set_size(const char *arg, int is_virtual)
{
    rl_cmd_t cmd;
    rl_server_t vhost = server;

    memset(&cmd, 0, sizeof(cmd));
    vhost.is_virtual = is_virtual;
    cmd.pool = pconf;
    cmd.server = &vhost;
    return acl_ratelimit_set_table_size(&cmd, arg);
}

/* One request from ip (and header name: value when name is set) through
 * acl_ratelimit_check; returns its status and Retry-After. */
static int request(const acl_ratelimit_t *rl, const char *ip, const char *name,
                   const char *value, const char **retry)
{
    apr_pool_t *p;
    rl_conn_t c;
    rl_request_t r;
    int st;

    apr_pool_create(&p, pconf);
    memset(&c, 0, sizeof(c));
    memset(&r, 0, sizeof(r));
    c.client_ip = ip;
    r.pool = p;
    r.connection = &c;
    r.server = &server;
    r.headers_in = apr_table_make(p, 4);
    r.err_headers_out = apr_table_make(p, 4);
    if (name != NULL) {
        apr_table_set(r.headers_in, name, value);
    }
    st = acl_ratelimit_check(&r, rl);
    if (retry != NULL) {
        const char *v = apr_table_get(r.err_headers_out, "Retry-After");
        *retry = v ? apr_pstrdup(pconf, v) : NULL;
    }
    apr_pool_destroy(p);
    return st;
}

/* How many of n requests pass. */
static int passed(const acl_ratelimit_t *rl, int n, const char *ip,
                  const char *name, const char *value)
{
    int ok = 0;

    while (n-- > 0) {
        ok += request(rl, ip, name, value, NULL) == RL_OK;
    }
    return ok;
}

/* ------------------------------------------------------------------ */
/* Tests                                                              */
/* ------------------------------------------------------------------ */

/* The reference vectors of the SipHash paper (key 00..0f). */
static void siphash_vectors(void **state)
{
    unsigned char msg[15];
    apr_uint64_t k0 = 0x0706050403020100ull, k1 = 0x0f0e0d0c0b0a0908ull;
    int i;

    (void)state;
    for (i = 0; i < 15; i++) {
        msg[i] = (unsigned char)i;
    }
    assert_true(siphash24(k0, k1, msg, 15) == 0xa129ca6149be45e5ull);
    assert_true(siphash24(k0, k1, msg, 0) == 0x726fdb47dd0e0e31ull);
}

static void parse_forms(void **state)
{
    acl_ratelimit_t *rl;

    (void)state;
    rl = limit(1, "10/s");
    assert_true(rl->interval == NS_PER_S / 10);
    assert_true(rl->tau == NS_PER_S); /* default burst = N */
    assert_null(rl->header);
    rl = limit(2, "30/m burst=5 by=header:X-Client");
    assert_true(rl->interval == 2 * NS_PER_S);
    assert_true(rl->tau == 10 * NS_PER_S);
    assert_string_equal(rl->header, "X-Client");
    assert_string_equal(rl->where, "/etc/relais/relais.conf:2");
    assert_string_equal(rl->text, "30/m burst=5 by=header:X-Client");
    rl = limit(3, "1/s BY=IP Burst=1");
    assert_null(rl->header);
    assert_true(rl->tau == rl->interval);
}

static void parse_errors(void **state)
{
    static const struct {
        const char *args, *want;
    } bad[] = {
        {"10", "expected N/s or N/m"},
        {"/s", "expected N/s or N/m"},
        {"0/s", "from 1 to 1000000"},
        {"-1/s", "from 1 to 1000000"},
        {"1x/s", "from 1 to 1000000"},
        {"99999999999999999999/s", "from 1 to 1000000"},
        {"10/h", "unknown unit '/h'"},
        {"10/s burst=0", "burst=0"},
        {"10/s burst=", "burst=: expected a whole number"},
        {"10/s burst=2x", "burst=2x"},
        {"10/s burst=1 burst=2", "burst= is given twice"},
        {"10/s by=cookie", "unknown by=cookie: expected by=ip or "
                           "by=header:Name"},
        {"10/s by=header:", "is not a header field name"},
        {"10/s by=header:a:b", "is not a header field name"},
        {"10/s by=ip by=ip", "by= is given twice"},
        {"10/s rate=3", "unknown argument 'rate=3'"},
        {"10/s burst=1 by=ip extra", "expected N/s or N/m"},
    };
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = parse_at(7, "/", bad[i].args, NULL);

        if (err == NULL || strstr(err, bad[i].want) == NULL) {
            fail_msg("RateLimit %s: got '%s', want '%s'", bad[i].args,
                     err ? err : "(accepted)", bad[i].want);
        }
    }
}

static void table_size_errors(void **state)
{
    (void)state;
    assert_null(set_size("100", 0));
    assert_int_equal(table_size, 104); /* whole buckets of 8 */
    assert_non_null(strstr(set_size("63", 0), "from 64 to"));
    assert_non_null(strstr(set_size("lots", 0), "'lots' is not a number"));
    assert_non_null(strstr(set_size("99999999999", 0), "from 64 to"));
    assert_non_null(strstr(set_size("1000", 1), "outside <VirtualHost>"));
}

/* GCRA with a clock the test sets: burst 3 at 2/s. */
static void bucket_arithmetic(void **state)
{
    acl_ratelimit_t *rl = limit(1, "2/s burst=3");
    const apr_int64_t half = NS_PER_S / 2, t0 = 1000 * NS_PER_S;

    (void)state;
    assert_int_equal(acl_ratelimit_post_config(pconf, &server), RL_OK);
    assert_true(table_take(tbl, 42, rl, t0) == 0);
    assert_true(table_take(tbl, 42, rl, t0) == 0);
    assert_true(table_take(tbl, 42, rl, t0) == 0);
    /* empty: the next token comes in 0.5 s, and a refusal costs none */
    assert_true(table_take(tbl, 42, rl, t0) == half);
    assert_true(table_take(tbl, 42, rl, t0 + 1) == half - 1);
    /* one token after 0.5 s, not two */
    assert_true(table_take(tbl, 42, rl, t0 + half) == 0);
    assert_true(table_take(tbl, 42, rl, t0 + half) == half);
    /* idle for long: a full burst again, no more */
    assert_true(table_take(tbl, 42, rl, t0 + 60 * NS_PER_S) == 0);
    assert_true(table_take(tbl, 42, rl, t0 + 60 * NS_PER_S) == 0);
    assert_true(table_take(tbl, 42, rl, t0 + 60 * NS_PER_S) == 0);
    assert_true(table_take(tbl, 42, rl, t0 + 60 * NS_PER_S) > 0);
    /* another client is not touched */
    assert_true(table_take(tbl, 43, rl, t0 + 60 * NS_PER_S) == 0);
}

static void retry_after_rounds_up(void **state)
{
    acl_ratelimit_t *fast = limit(1, "5/s burst=2");
    acl_ratelimit_t *slow = limit(2, "1/m burst=1");
    const char *retry;

    (void)state;
    assert_int_equal(acl_ratelimit_post_config(pconf, &server), RL_OK);
    assert_int_equal(passed(fast, 2, "10.0.0.1", NULL, NULL), 2);
    /* 0.2 s to wait: at least 1 */
    assert_int_equal(request(fast, "10.0.0.1", NULL, NULL, &retry), 429);
    assert_string_equal(retry, "1");
    assert_int_equal(request(slow, "10.0.0.1", NULL, NULL, &retry), RL_OK);
    assert_null(retry);
    /* just under 60 s: 60 */
    assert_int_equal(request(slow, "10.0.0.1", NULL, NULL, &retry), 429);
    assert_string_equal(retry, "60");
}

static void keys_are_independent(void **state)
{
    acl_ratelimit_t *by_ip = limit(1, "1/m burst=2");
    acl_ratelimit_t *by_hdr = limit(2, "1/m burst=2 by=header:X-Client");
    acl_ratelimit_t *other_line = limit(3, "1/m burst=2");
    acl_ratelimit_t *other_loc = NULL;

    (void)state;
    /* the same line in another location is another limit */
    assert_null(parse_at(1, "/login", "1/m burst=2", &other_loc));
    assert_int_equal(acl_ratelimit_post_config(pconf, &server), RL_OK);
    assert_int_equal(passed(by_ip, 3, "10.0.0.1", NULL, NULL), 2);
    assert_int_equal(passed(by_ip, 3, "10.0.0.2", NULL, NULL), 2);
    assert_int_equal(passed(other_line, 3, "10.0.0.1", NULL, NULL), 2);
    assert_int_equal(passed(other_loc, 3, "10.0.0.1", NULL, NULL), 2);
    /* by header: the address does not matter, the value does */
    assert_int_equal(passed(by_hdr, 1, "10.0.0.1", "X-Client", "a"), 1);
    assert_int_equal(passed(by_hdr, 2, "10.0.0.2", "X-Client", "a"), 1);
    assert_int_equal(passed(by_hdr, 3, "10.0.0.1", "X-Client", "b"), 2);
    /* no header and an empty one are the same single key */
    assert_int_equal(passed(by_hdr, 1, "10.0.0.3", NULL, NULL), 1);
    assert_int_equal(passed(by_hdr, 1, "10.0.0.4", "X-Client", ""), 1);
    assert_int_equal(passed(by_hdr, 1, "10.0.0.5", NULL, NULL), 0);
    /* which is not the key of a header whose value is "" spelled out */
    assert_int_equal(passed(by_hdr, 1, "10.0.0.5", "X-Client", "\"\""), 1);
}

/* 100,000 distinct keys through a 64-slot table: the table stays what it
 * is, and a client held back before is still held back after, because a
 * newcomer takes the slot nearest to full again, never the client's. */
static void flood_is_bounded(void **state)
{
    acl_ratelimit_t *rl = limit(1, "1/m burst=5 by=header:X-Client");
    char value[32];
    int i, refused = 0;

    (void)state;
    assert_null(set_size("64", 0));
    assert_int_equal(acl_ratelimit_post_config(pconf, &server), RL_OK);
    assert_int_equal(tbl->nslots, 64);
    assert_int_equal(passed(rl, 6, "10.0.0.1", "X-Client", "good"), 5);
    for (i = 0; i < 100000; i++) {
        apr_snprintf(value, sizeof(value), "flood-%d", i);
        refused += request(rl, "10.0.0.9", "X-Client", value, NULL) != RL_OK;
    }
    /* each newcomer had its burst */
    assert_int_equal(refused, 0);
    assert_int_equal(tbl->nslots, 64);
    assert_int_equal(passed(rl, 1, "10.0.0.1", "X-Client", "good"), 0);
}

/* A forked process (a child of the MPM) counts into the same table. */
static void shared_with_forked_process(void **state)
{
    acl_ratelimit_t *rl = limit(1, "1/m burst=4");
    pid_t pid;
    int status;

    (void)state;
    assert_int_equal(acl_ratelimit_post_config(pconf, &server), RL_OK);
    acl_ratelimit_child_init(pconf, &server);
    assert_int_equal(passed(rl, 1, "10.0.0.1", NULL, NULL), 1);
    pid = fork();
    if (pid == 0) {
        _exit(passed(rl, 2, "10.0.0.1", NULL, NULL));
    }
    assert_true(waitpid(pid, &status, 0) == pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
    /* 1 + 2 taken: one left */
    assert_int_equal(passed(rl, 3, "10.0.0.1", NULL, NULL), 1);
}

/* A child killed while it holds a lock does not block the others. */
static void lock_of_dead_child(void **state)
{
    acl_ratelimit_t *rl = limit(1, "1/m burst=1");
    pid_t pid;
    int status, i;

    (void)state;
    assert_int_equal(acl_ratelimit_post_config(pconf, &server), RL_OK);
    pid = fork();
    if (pid == 0) {
        for (i = 0; i < RL_LOCKS; i++) {
            pthread_mutex_lock(&tbl->locks[i].m);
        }
        _exit(0);
    }
    assert_true(waitpid(pid, &status, 0) == pid);
    assert_int_equal(passed(rl, 2, "10.0.0.1", NULL, NULL), 1);
    assert_int_equal(passed(rl, 2, "10.0.0.2", NULL, NULL), 1);
}

/* The next configuration generation: the same size finds the same
 * segment; another size gets a new one with the counts copied over. */
static void kept_across_generations(void **state)
{
    acl_ratelimit_t *rl = limit(10, "1/m burst=3");
    rl_table_t *first;

    (void)state;
    assert_int_equal(acl_ratelimit_post_config(pconf, &server), RL_OK);
    first = tbl;
    assert_int_equal(passed(rl, 2, "10.0.0.1", NULL, NULL), 2);

    /* graceful restart, same configuration */
    rl = limit(10, "1/m burst=3");
    assert_int_equal(acl_ratelimit_post_config(pconf, &server), RL_OK);
    assert_ptr_equal(tbl, first);
    assert_int_equal(passed(rl, 1, "10.0.0.1", NULL, NULL), 1);

    /* another table size: copied, the client is still held back */
    assert_null(set_size("128", 0));
    rl = limit(10, "1/m burst=3");
    assert_int_equal(acl_ratelimit_post_config(pconf, &server), RL_OK);
    assert_int_equal(tbl->nslots, 128);
    assert_int_equal(passed(rl, 1, "10.0.0.1", NULL, NULL), 0);
    assert_int_equal(passed(rl, 4, "10.0.0.2", NULL, NULL), 3);

    /* a generation without RateLimit keeps the table for a later one */
    assert_int_equal(acl_ratelimit_post_config(pconf, &server), RL_OK);
    assert_null(tbl);
    assert_null(set_size("128", 0));
    rl = limit(10, "1/m burst=3");
    assert_int_equal(acl_ratelimit_post_config(pconf, &server), RL_OK);
    assert_int_equal(passed(rl, 1, "10.0.0.2", NULL, NULL), 0);
}

/* No table (not configured, or post_config did not run): no limit. */
static void no_table_no_limit(void **state)
{
    acl_ratelimit_t *rl = limit(1, "1/m burst=1");

    (void)state;
    assert_int_equal(passed(rl, 3, "10.0.0.1", NULL, NULL), 3);
    assert_int_equal(request(NULL, "10.0.0.1", NULL, NULL, NULL), RL_OK);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)
    const struct CMUnitTest tests[] = {
        T(siphash_vectors),
        T(parse_forms),
        T(parse_errors),
        T(table_size_errors),
        T(bucket_arithmetic),
        T(retry_after_rounds_up),
        T(keys_are_independent),
        T(flood_is_bounded),
        T(shared_with_forked_process),
        T(lock_of_dead_child),
        T(kept_across_generations),
        T(no_table_no_limit),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
