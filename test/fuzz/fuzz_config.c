/*
 * fuzz_config.c: libFuzzer target for the configuration reader
 * (server/config_read.c) and the directive walk (server/config_walk.c,
 * server/core_directives.c).
 *
 * The input is a configuration file.  Each run writes it to the same
 * temporary file, reads it with rl_config_read_file() into a fresh pool,
 * and, when it reads without errors, walks it as rl_config_load()'s second
 * pass does with only the core module registered (no LoadModule, no
 * ServerRoot: those run in the first pass, which is not run here), then
 * merges the servers as rl_config_finish() does.  The pool is destroyed
 * after each run, so nothing is carried from one input to the next.
 *
 * Confinement: the reader opens files only through apr_file_open(),
 * apr_stat() and apr_dir_open(), which this file interposes: a path is
 * refused (as missing) unless it is under ServerRoot and has no "..", so
 * that "Include /dev" or "Include ${HOME}" cannot make a run read devices
 * or the whole disk.  The input file itself lives outside ServerRoot and
 * may be opened once per run, so it cannot include itself (a file that
 * includes itself twice takes exponential time: see the report that came
 * with this target).  ServerRoot holds a few fixed files to include
 * (conf.d/a.conf, conf.d/b.conf, extra.conf).  The environment is emptied
 * at start but for two FUZZ_ENV_ variables (and PATH and the sanitizer
 * settings), so runs do not depend on it.
 * Inputs with many ${ references are skipped: "Define A ${A}${A}" doubles
 * a value per line, and a few dozen such lines exhaust memory.
 *
 * The reader's error messages go to stderr; the `stderr` stream is pointed
 * at /dev/null, while libFuzzer's own output (its copy of the original
 * stream) and the sanitizer reports (straight to fd 2) still show.
 *
 *   make fuzz && build/fuzz/fuzz_config -max_total_time=60 CORPUS_COPY
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "core.h"

static apr_pool_t *pglobal;
static const char *input_path; /* outside ServerRoot */
static const char *root;       /* ServerRoot */

static void put_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");

    if (f == NULL || fputs(content, f) < 0 || fclose(f) != 0) {
        abort();
    }
}

static const char *tmp_dir;

/* Removes the temporary files at exit (libFuzzer exits with exit()). */
static void remove_tmp(void)
{
    static const char *const files[] = {"root/conf.d/a.conf",
                                        "root/conf.d/b.conf",
                                        "root/extra.conf",
                                        "input.conf",
                                        "root/conf.d",
                                        "root",
                                        ""};
    char path[512];
    size_t i;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", tmp_dir, files[i]);
        remove(path);
    }
}

static void init(void)
{
    char dir[] = "/dev/shm/relais-fuzz-config.XXXXXX";
    char dir_tmp[] = "/tmp/relais-fuzz-config.XXXXXX";
    const char *d;
    FILE *devnull;

    if (apr_initialize() != APR_SUCCESS ||
        apr_pool_create(&pglobal, NULL) != APR_SUCCESS) {
        abort();
    }
    /* In memory when there is a /dev/shm: a file is written and read per
     * run. */
    d = mkdtemp(dir);
    if (d == NULL) {
        d = mkdtemp(dir_tmp);
    }
    if (d == NULL) {
        abort();
    }
    tmp_dir = apr_pstrdup(pglobal, d);
    atexit(remove_tmp);
    input_path = apr_pstrcat(pglobal, d, "/input.conf", NULL);
    root = apr_pstrcat(pglobal, d, "/root", NULL);
    if (mkdir(root, 0700) != 0 ||
        mkdir(apr_pstrcat(pglobal, root, "/conf.d", NULL), 0700) != 0) {
        abort();
    }
    put_file(apr_pstrcat(pglobal, root, "/conf.d/a.conf", NULL),
             "ServerName a.example\n"
             "Define FROM_A a\n");
    put_file(apr_pstrcat(pglobal, root, "/conf.d/b.conf", NULL),
             "<Location /b>\n"
             "    SetHandler b\n"
             "</Location>\n");
    put_file(apr_pstrcat(pglobal, root, "/extra.conf", NULL),
             "<IfDefine FUZZ>\n"
             "    Define EXTRA \"x y\"\n"
             "</IfDefine>\n");

    /* Nothing from the environment: ${VAR} sees only these (and what
     * the sanitizers may need to print a report). */
    {
        static const char *const keep[] = {
            "PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "ASAN_SYMBOLIZER_PATH",
            "LLVM_SYMBOLIZER_PATH"};
        const char *saved[sizeof(keep) / sizeof(keep[0])];
        size_t i;

        for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
            saved[i] = getenv(keep[i]);
            saved[i] = saved[i] ? apr_pstrdup(pglobal, saved[i]) : NULL;
        }
        clearenv();
        for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
            if (saved[i] != NULL) {
                setenv(keep[i], saved[i], 1);
            }
        }
    }
    setenv("FUZZ_ENV_HOST", "env.example", 1);
    setenv("FUZZ_ENV_EMPTY", "", 1);

    devnull = fopen("/dev/null", "w");
    if (devnull == NULL) {
        abort();
    }
    stderr = devnull;

    memset(&rl_proc, 0, sizeof(rl_proc));
    rl_proc.pglobal = pglobal;
    rl_proc.argv0 = "relaisd";
    rl_proc.server_root = root;
    rl_proc.config_file = input_path;
    rl_proc.cmdline_defines = apr_array_make(pglobal, 2, sizeof(char *));
    APR_ARRAY_PUSH(rl_proc.cmdline_defines, char *) = "FUZZ";
}

/* True when the input could expand without bound. */
static int unsafe_input(const uint8_t *data, size_t size)
{
    size_t i, refs = 0;

    for (i = 0; i + 1 < size; i++) {
        if (data[i] == '$' && data[i + 1] == '{' && ++refs > 16) {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The file system as the reader sees it                              */
/* ------------------------------------------------------------------ */

static int input_opened; /* the input was opened in this run */

/* May the reader look at path? */
static int allowed(const char *path)
{
    size_t n = strlen(root);

    if (path == NULL || strstr(path, "..") != NULL) {
        return 0;
    }
    if (strcmp(path, input_path) == 0) {
        return !input_opened;
    }
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

typedef apr_status_t (*file_open_fn)(apr_file_t **, const char *, apr_int32_t,
                                     apr_fileperms_t, apr_pool_t *);
typedef apr_status_t (*stat_fn)(apr_finfo_t *, const char *, apr_int32_t,
                                apr_pool_t *);
typedef apr_status_t (*dir_open_fn)(apr_dir_t **, const char *, apr_pool_t *);

static void *real(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);

    if (f == NULL) {
        abort();
    }
    return f;
}

apr_status_t apr_file_open(apr_file_t **newf, const char *fname,
                           apr_int32_t flag, apr_fileperms_t perm,
                           apr_pool_t *pool)
{
    static file_open_fn next;

    if (next == NULL) {
        next = (file_open_fn)real("apr_file_open");
    }
    if (root != NULL) {
        if (!allowed(fname)) {
            return APR_ENOENT;
        }
        if (strcmp(fname, input_path) == 0) {
            input_opened = 1;
        }
    }
    return next(newf, fname, flag, perm, pool);
}

apr_status_t apr_stat(apr_finfo_t *finfo, const char *fname, apr_int32_t wanted,
                      apr_pool_t *pool)
{
    static stat_fn next;

    if (next == NULL) {
        next = (stat_fn)real("apr_stat");
    }
    if (root != NULL && !allowed(fname)) {
        return APR_ENOENT;
    }
    return next(finfo, fname, wanted, pool);
}

apr_status_t apr_dir_open(apr_dir_t **new_dir, const char *dirname,
                          apr_pool_t *pool)
{
    static dir_open_fn next;

    if (next == NULL) {
        next = (dir_open_fn)real("apr_dir_open");
    }
    if (root != NULL && !allowed(dirname)) {
        return APR_ENOENT;
    }
    return next(new_dir, dirname, pool);
}

/* ------------------------------------------------------------------ */
/* The target                                                         */
/* ------------------------------------------------------------------ */

/* The per-generation state, as config_load.c resets it. */
static void reset_generation(apr_pool_t *pconf, apr_pool_t *ptemp)
{
    int i;

    rl_proc.pconf = pconf;
    rl_proc.ptemp = ptemp;
    rl_proc.config_errors = 0;
    rl_proc.user = rl_proc.group = NULL;
    rl_proc.pid_file = NULL;
    rl_proc.server_tokens = 0;
    rl_proc.mpm_module = NULL;
    rl_proc.graceful_timeout = 0;
    rl_proc.listen_specs = apr_array_make(pconf, 4, sizeof(listen_spec_t));
    rl_proc.defines = apr_array_make(pconf, 4, sizeof(char *));
    rl_proc.define_vars = apr_table_make(pconf, 4);
    for (i = 0; i < rl_proc.cmdline_defines->nelts; i++) {
        APR_ARRAY_PUSH(rl_proc.defines, char *) =
            APR_ARRAY_IDX(rl_proc.cmdline_defines, i, char *);
    }
    memset(&rl_proc.mpm, 0xff, sizeof(rl_proc.mpm)); /* all -1 */
    rl_modules_reset();
    rl_module_add_static(pconf, &core_module);
    rl_proc.main_server = rl_config_new_server(pconf, 0);
    rl_proc.main_server->defn_file = input_path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pconf, *ptemp;
    rl_config_node_t *tree = NULL;
    FILE *f;

    if (pglobal == NULL) {
        init();
    }
    if (unsafe_input(data, size)) {
        return -1;
    }
    f = fopen(input_path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        abort();
    }

    if (apr_pool_create(&pconf, pglobal) != APR_SUCCESS ||
        apr_pool_create(&ptemp, pconf) != APR_SUCCESS) {
        abort();
    }
    reset_generation(pconf, ptemp);
    input_opened = 0;
    rl_config_read_file(pconf, ptemp, input_path, &tree);
    if (rl_proc.config_errors == 0) {
        rl_config_process(pconf, ptemp, tree);
        if (rl_proc.config_errors == 0) {
            rl_config_finish(pconf);
        }
    }

    rl_modules_reset();
    rl_proc.main_server = NULL;
    rl_proc.defines = NULL;
    rl_proc.define_vars = NULL;
    rl_proc.listen_specs = NULL;
    rl_proc.pconf = rl_proc.ptemp = NULL;
    apr_pool_destroy(pconf);
    return 0;
}
