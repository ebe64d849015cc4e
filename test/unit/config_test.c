/*
 * config_test.c: unit tests of the configuration reader
 * (server/config_read.c), the directive walk (server/config_walk.c), the
 * generic parsers (server/config_setters.c) and a whole load
 * (server/config_load.c).
 *
 * Each test gets a fresh ServerRoot made with mkdtemp and a fresh
 * configuration pool, set up the way rl_config_load() and main() set up
 * the process state.  Configuration files are written into the root and
 * read back; what the reader prints on stderr is captured (fd 2 redirected
 * to a temporary file) so that the exact error text, with its FILE:LINE,
 * is checked.  Loads that must succeed LoadModule the event MPM from
 * $RELAIS_BUILD/modules (set by `make check-unit`).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_hooks.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "core.h"

static apr_pool_t *pglobal;   /* the whole run */
static apr_pool_t *pconf;     /* one test */
static apr_pool_t *ptemp;     /* one test, child of pconf */
static char root[256];        /* this test's ServerRoot */
static const char *main_conf; /* root/main.conf, read by read_conf() */
static const char *errs;      /* what the last captured call printed */

/* ------------------------------------------------------------------ */
/* Fixtures                                                           */
/* ------------------------------------------------------------------ */

static int group_setup(void **state)
{
    (void)state;
    if (apr_initialize() != APR_SUCCESS) {
        return -1;
    }
    if (apr_pool_create(&pglobal, NULL) != APR_SUCCESS) {
        return -1;
    }
    memset(&rl_proc, 0, sizeof(rl_proc));
    rl_proc.pglobal = pglobal;
    rl_proc.argv0 = "relaisd";
    rl_proc.cmdline_defines = apr_array_make(pglobal, 4, sizeof(char *));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    apr_pool_destroy(pglobal);
    apr_terminate();
    return 0;
}

/* The per-generation state rl_config_load() resets, for tests that call
 * the reader directly. */
static void reset_defines(void)
{
    int i;

    rl_proc.config_errors = 0;
    rl_proc.defines = apr_array_make(pconf, 4, sizeof(char *));
    rl_proc.define_vars = apr_table_make(pconf, 4);
    for (i = 0; i < rl_proc.cmdline_defines->nelts; i++) {
        APR_ARRAY_PUSH(rl_proc.defines, char *) =
            APR_ARRAY_IDX(rl_proc.cmdline_defines, i, char *);
    }
}

static int test_setup(void **state)
{
    (void)state;
    strcpy(root, "/tmp/relais-config-test.XXXXXX");
    if (mkdtemp(root) == NULL) {
        return -1;
    }
    if (apr_pool_create(&pconf, pglobal) != APR_SUCCESS ||
        apr_pool_create(&ptemp, pconf) != APR_SUCCESS ||
        apr_pool_create(&rl_proc.plog, pconf) != APR_SUCCESS) {
        return -1;
    }
    rl_proc.pconf = pconf;
    rl_proc.ptemp = ptemp;
    rl_proc.server_root = apr_pstrdup(pconf, root);
    rl_proc.config_file = "main.conf";
    rl_proc.cmdline_defines->nelts = 0;
    reset_defines();
    main_conf = apr_pstrcat(pconf, root, "/main.conf", NULL);
    errs = "";
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int test_teardown(void **state)
{
    (void)state;
    /* As main.c does between generations: the hooks live in pconf. */
    apr_hook_deregister_all();
    rl_modules_reset();
    rl_proc.main_server = NULL;
    rl_proc.defines = NULL;
    rl_proc.define_vars = NULL;
    rl_proc.server_root = NULL;
    apr_pool_destroy(pconf);
    pconf = ptemp = NULL;
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

/* Writes root/rel (its directories made as needed). */
static void write_file(const char *rel, const char *content)
{
    char *path = apr_pstrcat(pconf, root, "/", rel, NULL);
    char *slash;
    FILE *f;

    for (slash = strchr(path + strlen(root) + 1, '/'); slash != NULL;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
    }
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
    assert_int_equal(fclose(f), 0);
}

static const char *root_path(const char *rel)
{
    return apr_pstrcat(pconf, root, "/", rel, NULL);
}

static FILE *cap_file;
static int cap_saved = -1;

/* Sends fd 2 to a temporary file until capture_end(). */
static void capture_begin(void)
{
    fflush(stderr);
    cap_file = tmpfile();
    assert_non_null(cap_file);
    cap_saved = dup(STDERR_FILENO);
    assert_true(cap_saved >= 0);
    assert_true(dup2(fileno(cap_file), STDERR_FILENO) >= 0);
}

/* Restores fd 2 and returns what was printed (in pconf). */
static const char *capture_end(void)
{
    long size;
    char *buf;

    fflush(stderr);
    dup2(cap_saved, STDERR_FILENO);
    close(cap_saved);
    cap_saved = -1;
    fseek(cap_file, 0, SEEK_END);
    size = ftell(cap_file);
    rewind(cap_file);
    buf = apr_palloc(pconf, (apr_size_t)size + 1);
    buf[fread(buf, 1, (size_t)size, cap_file)] = '\0';
    fclose(cap_file);
    cap_file = NULL;
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;

    for (; *s; s++) {
        n += *s == '\n';
    }
    return n;
}

/* Reads root/rel with rl_config_read_file(); stderr goes to errs.
 * Returns the number of errors counted in rl_proc.config_errors (what
 * rl_config_load() goes by). */
static int read_file_at(const char *rel, rl_config_node_t **tree)
{
    int before = rl_proc.config_errors;

    capture_begin();
    rl_config_read_file(pconf, ptemp, root_path(rel), tree);
    errs = capture_end();
    return rl_proc.config_errors - before;
}

/* Writes content as root/main.conf and reads it. */
static int read_conf(const char *content, rl_config_node_t **tree)
{
    write_file("main.conf", content);
    return read_file_at("main.conf", tree);
}

/* Writes content as root/main.conf and loads it as a whole generation. */
static int load_conf(const char *content)
{
    int rv;

    write_file("main.conf", content);
    capture_begin();
    rv = rl_config_load(pconf, ptemp);
    errs = capture_end();
    return rv;
}

/* "LoadModule mpm_event_module /abs/build/modules/mod_mpm_event.so\n",
 * or NULL (the test is skipped) when RELAIS_BUILD is not set. */
static const char *mpm_line(void)
{
    const char *b = getenv("RELAIS_BUILD");
    const char *so;

    if (b == NULL || *b == '\0') {
        return NULL;
    }
    so = apr_pstrcat(pconf, b, "/modules/mod_mpm_event.so", NULL);
    if (access(so, R_OK) != 0) {
        return NULL;
    }
    return apr_pstrcat(pconf, "LoadModule mpm_event_module ", so, "\n", NULL);
}

#define NEED_MPM(line)                                                         \
    do {                                                                       \
        (line) = mpm_line();                                                   \
        if ((line) == NULL) {                                                  \
            skip();                                                            \
        }                                                                      \
    } while (0)

/* The expected text of one error line in root/rel. */
static const char *err_at(const char *rel, unsigned line, const char *what)
{
    return apr_psprintf(pconf, "relaisd: %s:%u: %s\n", root_path(rel), line,
                        what);
}

static int tree_length(const rl_config_node_t *n)
{
    int i = 0;

    for (; n != NULL; n = n->next) {
        i++;
    }
    return i;
}

static const rl_config_node_t *nth(const rl_config_node_t *n, int i)
{
    while (n != NULL && i-- > 0) {
        n = n->next;
    }
    assert_non_null(n);
    return n;
}

/* Checks a node's name, line and arguments (NULL-terminated list). */
static void check_node(const rl_config_node_t *n, const char *name,
                       unsigned line, ...)
{
    va_list ap;
    const char *arg;
    int i = 0;

    assert_non_null(n);
    assert_string_equal(n->name, name);
    assert_int_equal(n->line, line);
    va_start(ap, line);
    while ((arg = va_arg(ap, const char *)) != NULL) {
        assert_true(i < n->argc);
        assert_string_equal(n->argv[i], arg);
        i++;
    }
    va_end(ap);
    assert_int_equal(n->argc, i);
    assert_null(n->argv[n->argc]);
}

/* ------------------------------------------------------------------ */
/* Tokenizing                                                         */
/* ------------------------------------------------------------------ */

static void tokenize_plain_words(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("Foo a b  c\n"
                               "Bar\n",
                               &t),
                     0);
    assert_string_equal(errs, "");
    assert_int_equal(tree_length(t), 2);
    check_node(t, "Foo", 1, "a", "b", "c", NULL);
    assert_string_equal(t->file, main_conf);
    assert_string_equal(t->raw_args, "a b  c");
    assert_null(t->parent);
    assert_null(t->first_child);
    check_node(t->next, "Bar", 2, NULL);
}

static void tokenize_double_quotes(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("Foo \"a b\" \"\" c\n", &t), 0);
    check_node(t, "Foo", 1, "a b", "", "c", NULL);
}

static void tokenize_escaped_quotes(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("Foo \"say \\\"hi\\\"\" \"back\\\\slash\" "
                               "\"keep\\n\"\n",
                               &t),
                     0);
    /* \" and \\ are escapes inside quotes; any other backslash stays. */
    check_node(t, "Foo", 1, "say \"hi\"", "back\\slash", "keep\\n", NULL);
}

static void tokenize_single_quotes(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("Foo 'a \"b\" c' 'it\\'s' x'y\n", &t), 0);
    /* A quote in the middle of a word is an ordinary character. */
    check_node(t, "Foo", 1, "a \"b\" c", "it's", "x'y", NULL);
}

static void tokenize_tabs_and_trailing_space(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("\tFoo\ta\t\tb \t \n"
                               "  Bar   \r\n"
                               "Baz \"x\"\t\n",
                               &t),
                     0);
    assert_int_equal(tree_length(t), 3);
    check_node(t, "Foo", 1, "a", "b", NULL);
    check_node(nth(t, 1), "Bar", 2, NULL);
    check_node(nth(t, 2), "Baz", 3, "x", NULL);
}

/* A line that does not split into words is kept with the reason, for the
 * walk to report (unless its directive takes the raw text, RL_DIR_RAW). */
static void tokenize_unclosed_quote(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("\nFoo \"abc\n", &t), 0);
    assert_string_equal(t->args_error, "missing closing quote (\")");
    assert_int_equal(t->line, 2);

    assert_int_equal(read_conf("Foo 'abc\\'\n", &t), 0);
    assert_string_equal(t->args_error, "missing closing quote (')");
}

static void tokenize_quote_then_text(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("Foo \"a\"b\n", &t), 0);
    assert_string_equal(t->args_error,
                        "a quoted argument must be followed by a space");
    assert_string_equal(t->raw_args, "\"a\"b");
}

/* ------------------------------------------------------------------ */
/* Lines: continuation, comments                                      */
/* ------------------------------------------------------------------ */

static void continuation_lines(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("# header\n"
                               "Foo a \\\n"
                               "    b \\\n"
                               "    c\n"
                               "Bar x\\\r\n"
                               "y\r\n"
                               "Baz\n",
                               &t),
                     0);
    assert_int_equal(tree_length(t), 3);
    /* A node's line is the first of its physical lines. */
    check_node(t, "Foo", 2, "a", "b", "c", NULL);
    /* The backslash becomes a space: "x\" + "y" is two words. */
    check_node(nth(t, 1), "Bar", 5, "x", "y", NULL);
    check_node(nth(t, 2), "Baz", 7, NULL);
}

static void continuation_at_end_of_file(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("Foo a \\\n"
                               "b \\\n",
                               &t),
                     0);
    check_node(t, "Foo", 1, "a", "b", NULL);
    assert_null(t->next);
}

static void continuation_error_reports_first_line(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("Bar\n"
                               "Foo \\\n"
                               "\"abc\n",
                               &t),
                     0);
    assert_string_equal(t->next->args_error, "missing closing quote (\")");
    assert_int_equal(t->next->line, 2);
}

static void comments_and_blank_lines(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("# a comment\n"
                               "\n"
                               "   \t\n"
                               "    # indented comment \"unclosed\n"
                               "Foo a\n"
                               "#Bar\n"
                               "Baz\n",
                               &t),
                     0);
    assert_string_equal(errs, "");
    assert_int_equal(tree_length(t), 2);
    check_node(t, "Foo", 5, "a", NULL);
    check_node(t->next, "Baz", 7, NULL);
}

static void empty_file(void **state)
{
    rl_config_node_t *t = (rl_config_node_t *)1;

    (void)state;
    assert_int_equal(read_conf("", &t), 0);
    assert_null(t);
}

static void missing_main_file(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_file_at("nope.conf", &t), 1);
    assert_null(t);
    assert_int_equal(rl_proc.config_errors, 1);
    assert_string_equal(
        errs, apr_psprintf(pconf,
                           "relaisd: cannot open configuration file '%s': "
                           "No such file or directory\n",
                           root_path("nope.conf")));
}

/* ------------------------------------------------------------------ */
/* Sections                                                           */
/* ------------------------------------------------------------------ */

static void sections_nest(void **state)
{
    rl_config_node_t *t;
    const rl_config_node_t *vh, *loc;

    (void)state;
    assert_int_equal(read_conf("<VirtualHost *:80 *:8080>\n"
                               "    ServerName a.example\n"
                               "    <Location /x>\n"
                               "        SetHandler h\n"
                               "    </location>\n"
                               "    <Location>\n"
                               "    </Location>\n"
                               "</VirtualHost>   \n"
                               "Listen 80\n",
                               &t),
                     0);
    assert_string_equal(errs, "");
    assert_int_equal(tree_length(t), 2);
    vh = t;
    check_node(vh, "<VirtualHost", 1, "*:80", "*:8080", NULL);
    assert_int_equal(tree_length(vh->first_child), 3);
    check_node(vh->first_child, "ServerName", 2, "a.example", NULL);
    assert_ptr_equal(vh->first_child->parent, vh);
    loc = nth(vh->first_child, 1);
    check_node(loc, "<Location", 3, "/x", NULL);
    assert_ptr_equal(loc->parent, vh);
    check_node(loc->first_child, "SetHandler", 4, "h", NULL);
    assert_ptr_equal(loc->first_child->parent, loc);
    /* "<Location>" with no argument: the name loses its '>' */
    check_node(nth(vh->first_child, 2), "<Location", 6, NULL);
    assert_null(nth(vh->first_child, 2)->first_child);
    check_node(t->next, "Listen", 9, "80", NULL);
    assert_null(t->next->parent);
}

static void section_mismatched_close(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("<VirtualHost *:80>\n"
                               "<Location /x>\n"
                               "Foo\n"
                               "</VirtualHost>\n",
                               &t),
                     2);
    /* The stray close ends the inner section; the outer one then runs
     * to the end of the file. */
    assert_string_equal(
        errs, apr_pstrcat(pconf,
                          err_at("main.conf", 4,
                                 "expected </Location> (to close the section "
                                 "opened on line 2) but saw </VirtualHost>"),
                          err_at("main.conf", 1,
                                 "section is never closed (expected "
                                 "</VirtualHost> before the end of the file)"),
                          NULL));
    assert_int_equal(rl_proc.config_errors, 2);
}

static void section_close_without_open(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("Foo\n"
                               "</Location>\n"
                               "Bar\n",
                               &t),
                     1);
    assert_string_equal(
        errs, err_at("main.conf", 2,
                     "</Location> without a matching opening section"));
}

static void section_unclosed(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("Foo\n"
                               "<VirtualHost *:80>\n"
                               "  <Location /a>\n"
                               "  </Location>\n"
                               "  ServerName x\n",
                               &t),
                     1);
    /* The error names the line of the opening, not the end of file. */
    assert_string_equal(
        errs, err_at("main.conf", 2,
                     "section is never closed (expected </VirtualHost> "
                     "before the end of the file)"));
}

static void section_unclosed_inner(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("<VirtualHost *:80>\n"
                               "  <Location /a>\n",
                               &t),
                     2);
    assert_string_equal(
        errs, apr_pstrcat(pconf,
                          err_at("main.conf", 2,
                                 "section is never closed (expected "
                                 "</Location> before the end of the file)"),
                          err_at("main.conf", 1,
                                 "section is never closed (expected "
                                 "</VirtualHost> before the end of the "
                                 "file)"),
                          NULL));
}

static void section_without_gt(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("<Location /a\n"
                               "</Location>\n",
                               &t),
                     1);
    assert_string_equal(
        errs,
        err_at("main.conf", 1, "<Location>: section line must end with '>'"));
}

/* ------------------------------------------------------------------ */
/* Variables                                                          */
/* ------------------------------------------------------------------ */

static void var_from_define(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("Define HOST example.com\n"
                               "Define PORT 8080\n"
                               "Define PAIR \"a b\"\n"
                               "ServerName ${HOST}:${PORT}\n"
                               "Foo \"${HOST} x\" ${PAIR}\n"
                               "${HOST}\n",
                               &t),
                     0);
    assert_string_equal(errs, "");
    /* Define and UnDefine take effect while reading: no nodes. */
    assert_int_equal(tree_length(t), 3);
    check_node(t, "ServerName", 4, "example.com:8080", NULL);
    /* Expansion comes before splitting into words. */
    check_node(t->next, "Foo", 5, "example.com x", "a", "b", NULL);
    assert_string_equal(t->next->raw_args, "\"example.com x\" a b");
    check_node(nth(t, 2), "example.com", 6, NULL);
    assert_string_equal(apr_table_get(rl_proc.define_vars, "HOST"),
                        "example.com");
    assert_true(rl_exists_define("PORT"));
}

static void var_from_environment(void **state)
{
    rl_config_node_t *t;

    (void)state;
    setenv("RL_CONFIG_TEST_ENV", "from-env", 1);
    setenv("RL_CONFIG_TEST_BOTH", "env", 1);
    assert_int_equal(read_conf("Foo ${RL_CONFIG_TEST_ENV}\n"
                               "Define RL_CONFIG_TEST_BOTH define\n"
                               "Bar ${RL_CONFIG_TEST_BOTH}\n",
                               &t),
                     0);
    check_node(t, "Foo", 1, "from-env", NULL);
    /* A Define'd name wins over the environment. */
    check_node(t->next, "Bar", 3, "define", NULL);
    unsetenv("RL_CONFIG_TEST_ENV");
    unsetenv("RL_CONFIG_TEST_BOTH");
}

static void var_undefined(void **state)
{
    rl_config_node_t *t;

    (void)state;
    unsetenv("RL_CONFIG_TEST_NOPE");
    assert_int_equal(read_conf("Foo a\n"
                               "Bar ${RL_CONFIG_TEST_NOPE} \\\n"
                               "  b\n"
                               "Baz\n",
                               &t),
                     1);
    assert_string_equal(errs,
                        err_at("main.conf", 2,
                               "Bar: variable ${RL_CONFIG_TEST_NOPE} is not "
                               "defined (use Define RL_CONFIG_TEST_NOPE "
                               "value, -D, or the environment)"));
    assert_int_equal(rl_proc.config_errors, 1);
    /* The line is dropped; reading goes on. */
    assert_int_equal(tree_length(t), 2);
    check_node(t->next, "Baz", 4, NULL);
}

static void var_unterminated(void **state)
{
    rl_config_node_t *t;
    const char *err;

    (void)state;
    assert_int_equal(read_conf("Foo ${ABC\n", &t), 1);
    assert_string_equal(
        errs,
        err_at("main.conf", 1, "Foo: unterminated ${ in variable reference"));
    assert_null(rl_config_expand_vars(pconf, "x${", &err));
    assert_string_equal(err, "unterminated ${ in variable reference");
    assert_string_equal(rl_config_expand_vars(pconf, "a $b {c} $", &err),
                        "a $b {c} $");
    assert_null(err);
}

static void define_without_value(void **state)
{
    rl_config_node_t *t;

    (void)state;
    unsetenv("RL_CONFIG_TEST_FLAG");
    assert_int_equal(read_conf("Define RL_CONFIG_TEST_FLAG\n"
                               "<IfDefine RL_CONFIG_TEST_FLAG>\n"
                               "Foo\n"
                               "</IfDefine>\n"
                               "Bar ${RL_CONFIG_TEST_FLAG}\n",
                               &t),
                     1);
    /* Defined for <IfDefine>, but it has no value to expand. */
    assert_true(rl_exists_define("RL_CONFIG_TEST_FLAG"));
    check_node(t, "Foo", 3, NULL);
    assert_null(t->next);
    assert_non_null(strstr(errs, "variable ${RL_CONFIG_TEST_FLAG} is not "
                                 "defined"));
}

static void define_errors(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("Define\n"
                               "Define A b c\n"
                               "Define A:B c\n"
                               "UnDefine\n",
                               &t),
                     4);
    assert_string_equal(
        errs,
        apr_pstrcat(pconf,
                    err_at("main.conf", 1,
                           "Define: expected a name and an optional "
                           "value"),
                    err_at("main.conf", 2,
                           "Define: expected a name and an optional "
                           "value"),
                    err_at("main.conf", 3,
                           "Define: a variable name may not contain "
                           "':'"),
                    err_at("main.conf", 4, "UnDefine: expected a name"), NULL));
    assert_null(t);
}

static void undefine(void **state)
{
    rl_config_node_t *t;

    (void)state;
    APR_ARRAY_PUSH(rl_proc.cmdline_defines, char *) = "CMDLINE";
    reset_defines();
    assert_int_equal(read_conf("Define X 1\n"
                               "UnDefine X\n"
                               "UnDefine CMDLINE\n"
                               "UnDefine NEVER_DEFINED\n"
                               "<IfDefine X>\n"
                               "A\n"
                               "</IfDefine>\n"
                               "<IfDefine CMDLINE>\n"
                               "B\n"
                               "</IfDefine>\n"
                               "<IfDefine !X>\n"
                               "C ${X}\n"
                               "</IfDefine>\n",
                               &t),
                     1);
    assert_false(rl_exists_define("X"));
    assert_false(rl_exists_define("CMDLINE"));
    assert_null(apr_table_get(rl_proc.define_vars, "X"));
    /* The -D array itself is left alone, for the next generation. */
    assert_string_equal(APR_ARRAY_IDX(rl_proc.cmdline_defines, 0, char *),
                        "CMDLINE");
    assert_string_equal(
        errs, err_at("main.conf", 12,
                     "C: variable ${X} is not defined (use Define X value, -D, "
                     "or the environment)"));
    assert_null(t);
}

/* ------------------------------------------------------------------ */
/* <IfDefine>                                                         */
/* ------------------------------------------------------------------ */

static void ifdefine_true_false_negated(void **state)
{
    rl_config_node_t *t;

    (void)state;
    APR_ARRAY_PUSH(rl_proc.cmdline_defines, char *) = "FROMCMD";
    reset_defines();
    assert_int_equal(read_conf("Define LOCAL\n"
                               "<IfDefine FROMCMD>\n"
                               "  A\n"
                               "</IfDefine>\n"
                               "<IfDefine LOCAL>\n"
                               "  B\n"
                               "</IfDefine>\n"
                               "<IfDefine NOPE>\n"
                               "  C\n"
                               "</IfDefine>\n"
                               "<IfDefine !NOPE>\n"
                               "  D\n"
                               "</IfDefine>\n"
                               "<IfDefine !LOCAL>\n"
                               "  E\n"
                               "</ifdefine>\n"
                               "F\n",
                               &t),
                     0);
    assert_string_equal(errs, "");
    /* No node for <IfDefine> itself: a true body joins the enclosing
     * block. */
    assert_int_equal(tree_length(t), 4);
    check_node(t, "A", 3, NULL);
    check_node(nth(t, 1), "B", 6, NULL);
    check_node(nth(t, 2), "D", 12, NULL);
    check_node(nth(t, 3), "F", 17, NULL);
}

static void ifdefine_nested(void **state)
{
    rl_config_node_t *t;
    const rl_config_node_t *loc;

    (void)state;
    assert_int_equal(read_conf("Define ONE\n"
                               "Define TWO\n"
                               "<Location /a>\n"
                               "<IfDefine ONE>\n"
                               "  <IfDefine TWO>\n"
                               "    A\n"
                               "    <IfDefine !ONE>\n"
                               "      B\n"
                               "    </IfDefine>\n"
                               "  </IfDefine>\n"
                               "  <IfDefine THREE>\n"
                               "    <IfDefine TWO>\n"
                               "      C\n"
                               "    </IfDefine>\n"
                               "  </IfDefine>\n"
                               "  D\n"
                               "</IfDefine>\n"
                               "</Location>\n",
                               &t),
                     0);
    assert_string_equal(errs, "");
    assert_int_equal(tree_length(t), 1);
    loc = t;
    check_node(loc, "<Location", 3, "/a", NULL);
    assert_int_equal(tree_length(loc->first_child), 2);
    check_node(loc->first_child, "A", 6, NULL);
    assert_ptr_equal(loc->first_child->parent, loc);
    check_node(loc->first_child->next, "D", 16, NULL);
    assert_ptr_equal(loc->first_child->next->parent, loc);
}

static void ifdefine_false_takes_no_effect(void **state)
{
    rl_config_node_t *t;

    (void)state;
    unsetenv("RL_CONFIG_TEST_UNSET");
    assert_int_equal(read_conf("Define KEEP 1\n"
                               "<IfDefine NOPE>\n"
                               "  Define X 1\n"
                               "  Define Y\n"
                               "  UnDefine KEEP\n"
                               "  Include does/not/exist.conf\n"
                               "  Foo ${RL_CONFIG_TEST_UNSET} \"unclosed\n"
                               "  <VirtualHost *:80>\n"
                               "    <Location /x>\n"
                               "    </Location>\n"
                               "  </VirtualHost>\n"
                               "</IfDefine>\n"
                               "<IfDefine X>\n"
                               "  A\n"
                               "</IfDefine>\n"
                               "<IfDefine KEEP>\n"
                               "  B ${KEEP}\n"
                               "</IfDefine>\n",
                               &t),
                     0);
    /* Nothing inside a false <IfDefine> is expanded, run or checked;
     * only sections must still balance. */
    assert_string_equal(errs, "");
    assert_false(rl_exists_define("X"));
    assert_false(rl_exists_define("Y"));
    assert_true(rl_exists_define("KEEP"));
    assert_int_equal(tree_length(t), 1);
    check_node(t, "B", 17, "1", NULL);
}

static void ifdefine_errors(void **state)
{
    rl_config_node_t *t;

    (void)state;
    assert_int_equal(read_conf("<IfDefine A B>\n"
                               "  Foo\n"
                               "</IfDefine>\n"
                               "<IfDefine NOPE>\n"
                               "  Bar\n",
                               &t),
                     2);
    assert_string_equal(
        errs,
        apr_pstrcat(
            pconf,
            err_at("main.conf", 1, "<IfDefine>: expected one name, [!]NAME"),
            err_at("main.conf", 4,
                   "section is never closed (expected </IfDefine> "
                   "before the end of the file)"),
            NULL));
    assert_null(t);
}

/* ------------------------------------------------------------------ */
/* Include                                                            */
/* ------------------------------------------------------------------ */

static void include_single_file(void **state)
{
    rl_config_node_t *t;

    (void)state;
    write_file("conf/extra.conf", "# extra\n"
                                  "Inner a\n"
                                  "Define FROM_INCLUDE yes\n");
    assert_int_equal(read_conf("Before\n"
                               "Include conf/extra.conf\n"
                               "After ${FROM_INCLUDE}\n",
                               &t),
                     0);
    assert_string_equal(errs, "");
    assert_int_equal(tree_length(t), 3);
    check_node(t, "Before", 1, NULL);
    /* The node keeps the file and line it was read from. */
    check_node(t->next, "Inner", 2, "a", NULL);
    assert_string_equal(t->next->file, root_path("conf/extra.conf"));
    check_node(nth(t, 2), "After", 3, "yes", NULL);
    assert_string_equal(nth(t, 2)->file, main_conf);
}

static void include_absolute_and_quoted(void **state)
{
    rl_config_node_t *t;

    (void)state;
    write_file("dir with space/x.conf", "X\n");
    assert_int_equal(read_conf(apr_psprintf(pconf, "Include \"%s\"\n",
                                            root_path("dir with space/x.conf")),
                               &t),
                     0);
    check_node(t, "X", 1, NULL);
    assert_null(t->next);
}

static void include_glob_in_name_order(void **state)
{
    rl_config_node_t *t;

    (void)state;
    write_file("conf.d/b.conf", "B\n");
    write_file("conf.d/a.conf", "A1\nA2\n");
    write_file("conf.d/10-first.conf", "TEN\n");
    write_file("conf.d/c.txt", "NOT_CONF\n");
    write_file("conf.d/.hidden.conf", "HIDDEN\n");
    write_file("conf.d/sub.conf/inner.conf", "IN_SUBDIR\n");
    assert_int_equal(read_conf("Start\n"
                               "Include conf.d/*.conf\n"
                               "End\n",
                               &t),
                     0);
    assert_string_equal(errs, "");
    assert_int_equal(tree_length(t), 6);
    check_node(t, "Start", 1, NULL);
    check_node(nth(t, 1), "TEN", 1, NULL);
    check_node(nth(t, 2), "A1", 1, NULL);
    check_node(nth(t, 3), "A2", 2, NULL);
    assert_string_equal(nth(t, 3)->file, root_path("conf.d/a.conf"));
    check_node(nth(t, 4), "B", 1, NULL);
    check_node(nth(t, 5), "End", 3, NULL);
}

static void include_directory(void **state)
{
    rl_config_node_t *t;

    (void)state;
    write_file("sites/z", "Z\n");
    write_file("sites/m.conf", "M\n");
    assert_int_equal(read_conf("Include sites\n", &t), 0);
    assert_int_equal(tree_length(t), 2);
    check_node(t, "M", 1, NULL);
    check_node(t->next, "Z", 1, NULL);
}

static void include_inside_section(void **state)
{
    rl_config_node_t *t;

    (void)state;
    write_file("loc.conf", "SetHandler h\n"
                           "<Location /in>\n"
                           "</Location>\n");
    assert_int_equal(read_conf("<VirtualHost *:80>\n"
                               "  Include loc.conf\n"
                               "  ServerName v\n"
                               "</VirtualHost>\n",
                               &t),
                     0);
    assert_int_equal(tree_length(t), 1);
    assert_int_equal(tree_length(t->first_child), 3);
    check_node(t->first_child, "SetHandler", 1, "h", NULL);
    assert_ptr_equal(t->first_child->parent, t);
    check_node(nth(t->first_child, 1), "<Location", 2, "/in", NULL);
    assert_ptr_equal(nth(t->first_child, 1)->parent, t);
    check_node(nth(t->first_child, 2), "ServerName", 3, "v", NULL);
}

static void include_optional_of_nothing(void **state)
{
    rl_config_node_t *t;

    (void)state;
    mkdir(root_path("empty"), 0755);
    assert_int_equal(read_conf("IncludeOptional empty/*.conf\n"
                               "IncludeOptional missing.conf\n"
                               "IncludeOptional nodir/*.conf\n"
                               "IncludeOptional empty\n"
                               "Foo\n",
                               &t),
                     0);
    assert_string_equal(errs, "");
    assert_int_equal(tree_length(t), 1);
    check_node(t, "Foo", 5, NULL);
}

static void include_missing_file(void **state)
{
    rl_config_node_t *t;

    (void)state;
    mkdir(root_path("empty"), 0755);
    assert_int_equal(read_conf("Include missing.conf\n"
                               "Include empty/*.conf\n"
                               "Include nodir/*.conf\n"
                               "Include a b\n"
                               "Include */x.conf\n"
                               "Foo\n",
                               &t),
                     5);
    assert_string_equal(
        errs,
        apr_pstrcat(
            pconf,
            err_at("main.conf", 1,
                   apr_psprintf(pconf, "Include: file '%s' does not exist",
                                root_path("missing.conf"))),
            err_at("main.conf", 2,
                   apr_psprintf(pconf,
                                "Include: no file matches '%s' "
                                "(IncludeOptional accepts that)",
                                root_path("empty/*.conf"))),
            err_at("main.conf", 3,
                   apr_psprintf(pconf, "Include: cannot open directory '%s'",
                                root_path("nodir"))),
            err_at("main.conf", 4,
                   "Include: expected one path, got 2 arguments"),
            err_at("main.conf", 5,
                   "Include: wildcards are allowed only in the last "
                   "component of the path"),
            NULL));
    assert_int_equal(rl_proc.config_errors, 5);
    check_node(t, "Foo", 6, NULL);
}

static void include_error_in_included_file(void **state)
{
    rl_config_node_t *t;

    (void)state;
    write_file("bad.conf", "Good\n"
                           "\n"
                           "Bad \"x\n");
    assert_int_equal(read_conf("Include bad.conf\n", &t), 0);
    assert_string_equal(t->next->args_error, "missing closing quote (\")");
    assert_int_equal(t->next->line, 3);
    assert_true(strstr(t->next->file, "bad.conf") != NULL);
    /* the Include line itself is read at once: its error is immediate */
    assert_true(read_conf("Include \"bad.conf\n", &t) >= 1);
    assert_non_null(strstr(errs, "Include: missing closing quote (\")"));
}

static void include_recursive(void **state)
{
    rl_config_node_t *t;

    (void)state;
    write_file("self.conf", "Self\n"
                            "Include self.conf\n");
    assert_int_equal(read_conf("Include self.conf\n", &t), 1);
    /* One clear error, at the Include that went one level too deep. */
    assert_string_equal(errs,
                        err_at("self.conf", 2,
                               "Include: Include nested more than 16 deep: "
                               "is a file including itself?"));
    assert_int_equal(rl_proc.config_errors, 1);
    /* What was read before the limit stays: main.conf and 15 levels of
     * self.conf were open when the 16th Include was refused. */
    assert_int_equal(tree_length(t), 15);
}

static void include_mutual_recursion(void **state)
{
    rl_config_node_t *t;

    (void)state;
    write_file("a.conf", "Include b.conf\n");
    write_file("b.conf", "Include a.conf\n");
    assert_int_equal(read_conf("Include a.conf\n", &t), 1);
    assert_int_equal(count_lines(errs), 1);
    assert_non_null(strstr(errs, "Include nested more than 16 deep"));
    assert_null(t);
}

static void include_glob_recursive(void **state)
{
    rl_config_node_t *t;

    (void)state;
    write_file("loop/a.conf", "Include loop/*.conf\n");
    write_file("loop/b.conf", "B\n");
    assert_int_equal(read_conf("Include loop/*.conf\n", &t), 1);
    assert_int_equal(count_lines(errs), 1);
    assert_non_null(strstr(errs, "Include nested more than 16 deep"));
}

/* ------------------------------------------------------------------ */
/* rl_parse_size, rl_parse_duration, rl_parse_flag                    */
/* ------------------------------------------------------------------ */

static void parse_size_good(void **state)
{
    apr_off_t v = -1;

    (void)state;
    assert_null(rl_parse_size(pconf, "512", &v));
    assert_int_equal(v, 512);
    assert_null(rl_parse_size(pconf, "0", &v));
    assert_int_equal(v, 0);
    assert_null(rl_parse_size(pconf, "64k", &v));
    assert_int_equal(v, 64 * 1024);
    assert_null(rl_parse_size(pconf, "64K", &v));
    assert_int_equal(v, 64 * 1024);
    assert_null(rl_parse_size(pconf, "4M", &v));
    assert_int_equal(v, 4 * 1024 * 1024);
    assert_null(rl_parse_size(pconf, "1G", &v));
    assert_int_equal(v, APR_INT64_C(1) << 30);
    assert_null(rl_parse_size(pconf, "8g", &v));
    assert_int_equal(v, APR_INT64_C(8) << 30);
    assert_null(rl_parse_size(pconf, "10KB", &v));
    assert_int_equal(v, 10 * 1024);
    assert_null(rl_parse_size(pconf, "9223372036854775807", &v));
    assert_int_equal(v, APR_INT64_MAX);
}

static void parse_size_bad(void **state)
{
    static const char *const bad[] = {"",  "abc",  "-1",  "12x",  "4MM",
                                      "k", "1.5M", "4Mx", "12 k", "b"};
    apr_off_t v = 77;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = rl_parse_size(pconf, bad[i], &v);
        assert_non_null(err);
        assert_string_equal(
            err, apr_psprintf(pconf,
                              "expected a size such as 512, 64k, 4M or 1G, "
                              "got '%s'",
                              bad[i]));
    }
    assert_int_equal(v, 77);
}

static void parse_size_overflow(void **state)
{
    apr_off_t v = 77;

    (void)state;
    assert_string_equal(rl_parse_size(pconf, "9007199254740992k", &v),
                        "size '9007199254740992k' is too large");
    assert_string_equal(rl_parse_size(pconf, "8796093022208M", &v),
                        "size '8796093022208M' is too large");
    assert_string_equal(rl_parse_size(pconf, "8589934592G", &v),
                        "size '8589934592G' is too large");
    /* Just under the limit still fits. */
    assert_null(rl_parse_size(pconf, "8589934591G", &v));
    assert_int_equal(v, APR_INT64_C(8589934591) << 30);
    /* Past what strtoi64 holds: refused as not a size. */
    assert_non_null(rl_parse_size(pconf, "99999999999999999999", &v));
    assert_int_equal(v, APR_INT64_C(8589934591) << 30);
}

static void parse_duration_good(void **state)
{
    apr_interval_time_t v = -1;

    (void)state;
    /* A bare number is in the caller's unit. */
    assert_null(rl_parse_duration(pconf, "30", APR_USEC_PER_SEC, &v));
    assert_int_equal(v, apr_time_from_sec(30));
    assert_null(rl_parse_duration(pconf, "30", 1000, &v));
    assert_int_equal(v, 30000);
    assert_null(rl_parse_duration(pconf, "250ms", APR_USEC_PER_SEC, &v));
    assert_int_equal(v, apr_time_from_msec(250));
    assert_null(rl_parse_duration(pconf, "5s", APR_USEC_PER_SEC, &v));
    assert_int_equal(v, apr_time_from_sec(5));
    assert_null(rl_parse_duration(pconf, "2m", APR_USEC_PER_SEC, &v));
    assert_int_equal(v, apr_time_from_sec(120));
    assert_null(rl_parse_duration(pconf, "2min", APR_USEC_PER_SEC, &v));
    assert_int_equal(v, apr_time_from_sec(120));
    assert_null(rl_parse_duration(pconf, "1h", APR_USEC_PER_SEC, &v));
    assert_int_equal(v, apr_time_from_sec(3600));
    assert_null(rl_parse_duration(pconf, "1H", APR_USEC_PER_SEC, &v));
    assert_int_equal(v, apr_time_from_sec(3600));
    assert_null(rl_parse_duration(pconf, "100us", APR_USEC_PER_SEC, &v));
    assert_int_equal(v, 100);
    assert_null(rl_parse_duration(pconf, "0", APR_USEC_PER_SEC, &v));
    assert_int_equal(v, 0);
}

static void parse_duration_bad(void **state)
{
    static const char *const bad[] = {"",     "s",    "-1",  "5x", "5 s",
                                      "1.5s", "5sec", "ms5", "2hh"};
    apr_interval_time_t v = 77;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err =
            rl_parse_duration(pconf, bad[i], APR_USEC_PER_SEC, &v);
        assert_non_null(err);
        assert_string_equal(err, apr_psprintf(pconf,
                                              "expected a duration such as 30, "
                                              "250ms, 5s, 2m or 1h, got '%s'",
                                              bad[i]));
    }
    assert_int_equal(v, 77);
    assert_string_equal(
        rl_parse_duration(pconf, "9999999999999h", APR_USEC_PER_SEC, &v),
        "duration '9999999999999h' is too large");
    assert_string_equal(
        rl_parse_duration(pconf, "9223372036855", APR_USEC_PER_SEC, &v),
        "duration '9223372036855' is too large");
    assert_int_equal(v, 77);
}

static void parse_flag(void **state)
{
    int v = -1;

    (void)state;
    assert_null(rl_parse_flag(pconf, "On", &v));
    assert_int_equal(v, 1);
    assert_null(rl_parse_flag(pconf, "off", &v));
    assert_int_equal(v, 0);
    assert_null(rl_parse_flag(pconf, "ON", &v));
    assert_int_equal(v, 1);
    assert_null(rl_parse_flag(pconf, "OFF", &v));
    assert_int_equal(v, 0);
    assert_string_equal(rl_parse_flag(pconf, "yes", &v),
                        "expected On or Off, got 'yes'");
    assert_string_equal(rl_parse_flag(pconf, "", &v),
                        "expected On or Off, got ''");
    assert_string_equal(rl_parse_flag(pconf, "onn", &v),
                        "expected On or Off, got 'onn'");
    assert_int_equal(v, 0);
}

/* ------------------------------------------------------------------ */
/* Whole loads (rl_config_load) with the event MPM                    */
/* ------------------------------------------------------------------ */

static void load_good_config(void **state)
{
    const char *mpm;
    rl_server_t *s, *v;

    (void)state;
    NEED_MPM(mpm);
    write_file("sites/a.conf", "<VirtualHost *:8080>\n"
                               "    ServerName A.Example:8080\n"
                               "    ServerAlias www.a.example \\\n"
                               "                alt.a.example\n"
                               "    <Location /api>\n"
                               "        LimitRequestBody 64k\n"
                               "    </Location>\n"
                               "</VirtualHost>\n");
    assert_int_equal(load_conf(apr_pstrcat(pconf, mpm,
                                           "Define PORT 8080\n"
                                           "Listen ${PORT}\n"
                                           "ServerName main.example\n"
                                           "Timeout 30\n"
                                           "KeepAliveTimeout 250ms\n"
                                           "KeepAlive Off\n"
                                           "<IfModule mpm_event_module>\n"
                                           "    ThreadsPerChild 8\n"
                                           "</IfModule>\n"
                                           "<IfModule !mpm_event_module>\n"
                                           "    Bogus directive\n"
                                           "</IfModule>\n"
                                           "IncludeOptional sites/*.conf\n",
                                           NULL)),
                     0);
    assert_string_equal(errs, "");
    assert_int_equal(rl_proc.config_errors, 0);
    assert_non_null(rl_proc.mpm_module);
    assert_string_equal(rl_proc.mpm_module->name, "mpm_event");
    assert_int_equal(rl_proc.mpm.threads_per_child, 8);
    assert_int_equal(rl_proc.listen_specs->nelts, 1);
    assert_int_equal(APR_ARRAY_IDX(rl_proc.listen_specs, 0, listen_spec_t).port,
                     8080);
    s = rl_proc.main_server;
    assert_string_equal(s->server_name, "main.example");
    assert_int_equal(s->timeout, apr_time_from_sec(30));
    assert_int_equal(s->keep_alive_timeout, apr_time_from_msec(250));
    assert_int_equal(s->keep_alive, 0);
    v = s->next;
    assert_non_null(v);
    assert_null(v->next);
    assert_true(v->is_virtual);
    assert_string_equal(v->server_name, "a.example");
    assert_int_equal(v->port, 8080);
    assert_string_equal(v->defn_file, root_path("sites/a.conf"));
    assert_int_equal(v->defn_line, 1);
    assert_int_equal(v->aliases->nelts, 2);
    assert_string_equal(APR_ARRAY_IDX(v->aliases, 1, const char *),
                        "alt.a.example");
    /* merged from the main server */
    assert_int_equal(v->timeout, apr_time_from_sec(30));
    assert_int_equal(v->keep_alive, 0);
    assert_int_equal(v->locations->nelts, 1);
    {
        rl_location_t *loc = APR_ARRAY_IDX(v->locations, 0, rl_location_t *);
        assert_string_equal(loc->path, "/api");
        assert_int_equal(loc->line, 5);
        assert_int_equal(rl_core_dir_conf(loc->dir_config)->limit_req_body,
                         64 * 1024);
    }
}

static void load_unknown_directive(void **state)
{
    const char *mpm;

    (void)state;
    NEED_MPM(mpm);
    assert_int_equal(load_conf(apr_pstrcat(pconf, mpm,
                                           "ServerNmae x\n"
                                           "KeepAliveTimout 5\n"
                                           "Frobnicate on\n",
                                           NULL)),
                     3);
    assert_string_equal(
        errs,
        apr_pstrcat(pconf,
                    err_at("main.conf", 2,
                           "ServerNmae: unknown directive; did you mean "
                           "'ServerName'?"),
                    err_at("main.conf", 3,
                           "KeepAliveTimout: unknown directive; did you mean "
                           "'KeepAliveTimeout'?"),
                    err_at("main.conf", 4,
                           "Frobnicate: unknown directive (misspelled, or "
                           "defined by a module that is not loaded)"),
                    NULL));
}

static void load_directive_of_unloaded_module(void **state)
{
    const char *mpm;

    (void)state;
    NEED_MPM(mpm);
    assert_int_equal(load_conf(apr_pstrcat(pconf, mpm,
                                           "ProxyPass / http://b/\n"
                                           "RewriteEngine On\n"
                                           "<Directory />\n"
                                           "</Directory>\n",
                                           NULL)),
                     3);
    assert_string_equal(
        errs,
        apr_pstrcat(
            pconf,
            err_at("main.conf", 2,
                   "ProxyPass: provided by module 'proxy', which is not "
                   "loaded (add LoadModule proxy_module modules/mod_proxy.so "
                   "before this line)"),
            err_at("main.conf", 3,
                   "RewriteEngine: not supported: mod_rewrite is not "
                   "provided: use ProxyPassMatch to route by regex and "
                   "RedirectMatch to redirect"),
            err_at("main.conf", 4,
                   "<Directory>: not supported: Relais does not serve files "
                   "from disk: use <Location>"),
            NULL));
}

/* A whole "not allowed" error line: where the directive stood and where
 * it may stand. */
static const char *not_allowed(unsigned line, const char *directive,
                               const char *where, const char *allowed)
{
    return apr_psprintf(pconf,
                        "relaisd: %s:%u: %s: not allowed in %s "
                        "(allowed in: %s)\n",
                        main_conf, line, directive, where, allowed);
}

static void load_wrong_context(void **state)
{
    const char *mpm, *s;
    const char *want[4];
    int i;

    (void)state;
    NEED_MPM(mpm);
    assert_int_equal(load_conf(apr_pstrcat(pconf, mpm,
                                           "ServerAlias x.example\n"
                                           "<VirtualHost *:80>\n"
                                           "  Listen 81\n"
                                           "  <Location /a>\n"
                                           "    ServerName in.loc\n"
                                           "    <Location /b>\n"
                                           "    </Location>\n"
                                           "  </Location>\n"
                                           "</VirtualHost>\n",
                                           NULL)),
                     4);
    want[0] = not_allowed(2, "ServerAlias", "server config", "<VirtualHost>");
    want[1] = not_allowed(4, "Listen", "<VirtualHost>", "server config");
    want[2] = not_allowed(6, "ServerName", "<Location>",
                          "server config, <VirtualHost>");
    want[3] = not_allowed(7, "<Location>", "<Location>",
                          "server config, <VirtualHost>");
    assert_int_equal(count_lines(errs), 4);
    for (i = 0, s = errs; i < 4; i++) {
        assert_memory_equal(s, want[i], strlen(want[i]));
        s = strchr(s, '\n') + 1;
    }
}

static void load_wrong_argument_count(void **state)
{
    const char *mpm;

    (void)state;
    NEED_MPM(mpm);
    assert_int_equal(load_conf(apr_pstrcat(pconf, mpm,
                                           "KeepAlive On Off\n"
                                           "Listen\n"
                                           "ErrorDocument 404\n"
                                           "<Location /a /b /c>\n"
                                           "</Location>\n"
                                           "LogLevel\n",
                                           NULL)),
                     5);
    assert_string_equal(
        errs,
        apr_pstrcat(
            pconf,
            err_at("main.conf", 2,
                   "KeepAlive: expected 1 argument, got 2 (usage: KeepAlive "
                   "On|Off)"),
            err_at("main.conf", 3,
                   "Listen: expected 1 to 2 arguments, got 0 (usage: Listen "
                   "[address:]port [http|https|tcp|udp])"),
            err_at("main.conf", 4,
                   "ErrorDocument: expected 2 arguments, got 1 (usage: "
                   "ErrorDocument status \"text\"|http://url)"),
            err_at("main.conf", 5,
                   "<Location>: expected 1 to 2 arguments, got 3 (usage: "
                   "<Location /path> or <Location ~ regex>)"),
            err_at("main.conf", 7,
                   "LogLevel: expected at least 1 argument, got 0 (usage: "
                   "LogLevel level [module:level]…)"),
            NULL));
}

static void load_handler_errors(void **state)
{
    const char *mpm;

    (void)state;
    NEED_MPM(mpm);
    assert_int_equal(load_conf(apr_pstrcat(pconf, mpm,
                                           "KeepAlive yes\n"
                                           "Timeout 5x\n"
                                           "LimitRequestBody 1T\n"
                                           "Listen 70000\n",
                                           NULL)),
                     4);
    assert_string_equal(
        errs,
        apr_pstrcat(
            pconf,
            err_at("main.conf", 2, "KeepAlive: expected On or Off, got 'yes'"),
            err_at("main.conf", 3,
                   "Timeout: expected a duration such as 30, 250ms, 5s, 2m "
                   "or 1h, got '5x'"),
            err_at("main.conf", 4,
                   "LimitRequestBody: expected a size such as 512, 64k, 4M "
                   "or 1G, got '1T'"),
            err_at("main.conf", 5,
                   "Listen: '70000': expected a port between 1 and 65535"),
            NULL));
}

static void load_counts_every_error(void **state)
{
    const char *mpm;
    int n;

    (void)state;
    NEED_MPM(mpm);
    write_file("inc.conf", "Timeout never\n");
    n = load_conf(apr_pstrcat(pconf, mpm,
                              "ServerNmae a\n"
                              "KeepAlive\n"
                              "Include inc.conf\n"
                              "ServerAlias b\n"
                              "ServerName ok.example\n"
                              "Listen 80\n"
                              "Listen 80\n",
                              NULL));
    assert_int_equal(n, 5);
    assert_int_equal(rl_proc.config_errors, 5);
    assert_int_equal(count_lines(errs), 5);
    assert_non_null(strstr(errs, err_at("inc.conf", 1,
                                        "Timeout: expected a duration such "
                                        "as 30, 250ms, 5s, 2m or 1h, got "
                                        "'never'")));
    assert_non_null(
        strstr(errs, err_at("main.conf", 8,
                            apr_psprintf(pconf,
                                         "Listen: already listening on 80 "
                                         "(%s:7)",
                                         main_conf))));
}

static void load_read_errors_then_walk(void **state)
{
    const char *mpm;

    (void)state;
    NEED_MPM(mpm);
    assert_int_equal(load_conf(apr_pstrcat(pconf, mpm,
                                           "ServerNmae a\n"
                                           "<Location /a>\n",
                                           NULL)),
                     2);
    /* The syntax error, then the walk still reports the typo: one run
     * shows every error it can. */
    assert_string_equal(
        errs, apr_pstrcat(pconf,
                          err_at("main.conf", 3,
                                 "section is never closed (expected "
                                 "</Location> before the end of the "
                                 "file)"),
                          err_at("main.conf", 2,
                                 "ServerNmae: unknown directive; did you "
                                 "mean 'ServerName'?"),
                          NULL));
}

static void load_module_missing_file(void **state)
{
    const char *prefix;
    int n;

    (void)state;
    n = load_conf("LoadModule nope_module modules/mod_nope.so\n");
    /* The LoadModule error, then the missing MPM. */
    assert_int_equal(n, 2);
    prefix = err_at("main.conf", 1,
                    apr_psprintf(pconf, "LoadModule: cannot load '%s': ",
                                 root_path("modules/mod_nope.so")));
    prefix = apr_pstrndup(pconf, prefix, strlen(prefix) - 1); /* no \n */
    assert_memory_equal(errs, prefix, strlen(prefix));
    assert_non_null(strstr(errs, "No such file"));
    assert_non_null(
        strstr(errs, apr_psprintf(pconf,
                                  "relaisd: %s: no MPM loaded: add exactly "
                                  "one of\n",
                                  main_conf)));
}

static void load_module_httpd_name(void **state)
{
    const char *mpm;

    (void)state;
    NEED_MPM(mpm);
    assert_int_equal(
        load_conf(apr_pstrcat(pconf, mpm,
                              "LoadModule rewrite_module modules/x.so\n"
                              "LoadModule proxy_http_module modules/x.so\n"
                              "LoadModule mpm_event_module modules/x.so\n",
                              NULL)),
        3);
    assert_string_equal(
        errs,
        apr_pstrcat(
            pconf,
            err_at("main.conf", 2,
                   "LoadModule: 'rewrite_module' is an httpd module that "
                   "Relais does not provide; remove this line"),
            err_at("main.conf", 3,
                   "LoadModule: 'proxy_http_module' is an httpd module; in "
                   "Relais its feature is in module 'proxy': use LoadModule "
                   "proxy_module modules/mod_proxy.so"),
            err_at("main.conf", 4,
                   "LoadModule: module 'mpm_event' is already loaded"),
            NULL));
}

static void load_without_mpm(void **state)
{
    (void)state;
    assert_int_equal(load_conf("ServerName a\n"), 1);
    assert_string_equal(
        errs,
        apr_psprintf(pconf,
                     "relaisd: %s: no MPM loaded: add exactly one of\n"
                     "  LoadModule mpm_event_module modules/mod_mpm_event.so\n"
                     "  LoadModule mpm_worker_module "
                     "modules/mod_mpm_worker.so\n"
                     "  LoadModule mpm_prefork_module "
                     "modules/mod_mpm_prefork.so\n",
                     main_conf));
}

static void load_cmdline_define(void **state)
{
    const char *mpm;

    (void)state;
    NEED_MPM(mpm);
    APR_ARRAY_PUSH(rl_proc.cmdline_defines, char *) = "PROD";
    assert_int_equal(load_conf(apr_pstrcat(pconf, mpm,
                                           "<IfDefine PROD>\n"
                                           "ServerName prod.example\n"
                                           "</IfDefine>\n"
                                           "<IfDefine !PROD>\n"
                                           "ServerName dev.example\n"
                                           "</IfDefine>\n",
                                           NULL)),
                     0);
    assert_string_equal(rl_proc.main_server->server_name, "prod.example");
    assert_true(rl_exists_define("PROD"));
}

static void load_twice(void **state)
{
    const char *mpm;

    (void)state;
    NEED_MPM(mpm);
    /* A second generation in the same pools starts from scratch. */
    assert_int_equal(load_conf(apr_pstrcat(pconf, mpm,
                                           "Define A 1\n"
                                           "Listen 80\n",
                                           NULL)),
                     0);
    apr_hook_deregister_all();
    assert_int_equal(load_conf(apr_pstrcat(pconf, mpm,
                                           "Listen 80\n"
                                           "<IfDefine A>\n"
                                           "Bogus\n"
                                           "</IfDefine>\n",
                                           NULL)),
                     0);
    assert_string_equal(errs, "");
    assert_false(rl_exists_define("A"));
    assert_int_equal(rl_proc.listen_specs->nelts, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)
        T(tokenize_plain_words),
        T(tokenize_double_quotes),
        T(tokenize_escaped_quotes),
        T(tokenize_single_quotes),
        T(tokenize_tabs_and_trailing_space),
        T(tokenize_unclosed_quote),
        T(tokenize_quote_then_text),
        T(continuation_lines),
        T(continuation_at_end_of_file),
        T(continuation_error_reports_first_line),
        T(comments_and_blank_lines),
        T(empty_file),
        T(missing_main_file),
        T(sections_nest),
        T(section_mismatched_close),
        T(section_close_without_open),
        T(section_unclosed),
        T(section_unclosed_inner),
        T(section_without_gt),
        T(var_from_define),
        T(var_from_environment),
        T(var_undefined),
        T(var_unterminated),
        T(define_without_value),
        T(define_errors),
        T(undefine),
        T(ifdefine_true_false_negated),
        T(ifdefine_nested),
        T(ifdefine_false_takes_no_effect),
        T(ifdefine_errors),
        T(include_single_file),
        T(include_absolute_and_quoted),
        T(include_glob_in_name_order),
        T(include_directory),
        T(include_inside_section),
        T(include_optional_of_nothing),
        T(include_missing_file),
        T(include_error_in_included_file),
        T(include_recursive),
        T(include_mutual_recursion),
        T(include_glob_recursive),
        T(parse_size_good),
        T(parse_size_bad),
        T(parse_size_overflow),
        T(parse_duration_good),
        T(parse_duration_bad),
        T(parse_flag),
        T(load_good_config),
        T(load_unknown_directive),
        T(load_directive_of_unloaded_module),
        T(load_wrong_context),
        T(load_wrong_argument_count),
        T(load_handler_errors),
        T(load_counts_every_error),
        T(load_read_errors_then_walk),
        T(load_module_missing_file),
        T(load_module_httpd_name),
        T(load_without_mpm),
        T(load_cmdline_define),
        T(load_twice),
#undef T
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
