/*
 * config_read.c: reads configuration files into a tree of rl_config_node_t.
 *
 * Work done while reading, as httpd does it: backslash continuation,
 * comments, ${VAR} expansion (Define'd names first, then the environment),
 * quoting, Include/IncludeOptional with globs, Define/UnDefine, <IfDefine>,
 * and (httpd's EXEC_ON_READ) ServerRoot, LoadModule and <IfModule>, so
 * that a false <IfModule> has no effect at all.  Every other directive is
 * left to the walk in config_walk.c.
 */
#include "core.h"

#include <apr_file_io.h>
#include <apr_fnmatch.h>
#include <apr_lib.h>

#define MAX_INCLUDE_DEPTH 16
#define MAX_EXPANDED_LINE (64 * 1024)

/* One open file being read line by line. */
typedef struct cfg_file_t {
    apr_file_t *fp;
    const char *name;
    unsigned line;  /* line number of the last physical line read */
    unsigned start; /* line the current logical line began on */
} cfg_file_t;

typedef struct read_ctx_t {
    apr_pool_t *p;
    apr_pool_t *ptemp;
    int depth;
    int errors;
    int fatal; /* an Include loop: stop reading everything */
} read_ctx_t;

static int read_file(read_ctx_t *ctx, const char *fname,
                     rl_config_node_t *parent, rl_config_node_t ***tail);

/* Reads one logical line (continuations joined).  Returns 0 at EOF. */
/* Reads one physical line, however long (NUL-terminated, newline kept).
 * Returns 0 at EOF. */
static int read_physical(cfg_file_t *f, apr_pool_t *p, char **out)
{
    char buf[8192];
    char *acc = NULL;

    for (;;) {
        apr_size_t n;

        if (apr_file_gets(buf, sizeof(buf), f->fp) != APR_SUCCESS) {
            *out = acc;
            return acc != NULL;
        }
        acc = acc ? apr_pstrcat(p, acc, buf, NULL) : apr_pstrdup(p, buf);
        n = strlen(buf);
        if (n > 0 && buf[n - 1] == '\n') {
            *out = acc;
            return 1;
        }
    }
}

static int cfg_getline(cfg_file_t *f, apr_pool_t *p, char **out)
{
    char *buf;
    char *acc = NULL;

    f->start = f->line + 1;
    for (;;) {
        apr_size_t n;

        if (!read_physical(f, p, &buf)) {
            if (acc != NULL) {
                *out = acc;
                return 1;
            }
            return 0;
        }
        f->line++;
        n = strlen(buf);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
            buf[--n] = '\0';
        }
        if (n > 0 && buf[n - 1] == '\\') {
            buf[n - 1] = ' ';
            acc = acc ? apr_pstrcat(p, acc, buf, NULL) : apr_pstrdup(p, buf);
            continue;
        }
        *out = acc ? apr_pstrcat(p, acc, buf, NULL) : apr_pstrdup(p, buf);
        return 1;
    }
}

static const char *lookup_var(const char *name)
{
    const char *v = apr_table_get(rl_proc.define_vars, name);

    return v ? v : getenv(name);
}

/* Expands ${NAME}; an undefined name is an error (better than httpd's
 * warning and literal text, which fails later in a stranger way). */
char *rl_config_expand_vars(apr_pool_t *p, const char *s, const char **err)
{
    const char *dollar = strstr(s, "${");
    char *out;

    *err = NULL;
    if (dollar == NULL) {
        return apr_pstrdup(p, s);
    }
    out = apr_pstrndup(p, s, dollar - s);
    while (dollar != NULL) {
        const char *end = strchr(dollar + 2, '}');
        const char *name, *val;

        if (end == NULL) {
            *err = "unterminated ${ in variable reference";
            return NULL;
        }
        name = apr_pstrndup(p, dollar + 2, end - dollar - 2);
        val = lookup_var(name);
        if (val == NULL) {
            *err = apr_psprintf(p,
                                "variable ${%s} is not defined (use Define "
                                "%s value, -D, or the environment)",
                                name, name);
            return NULL;
        }
        s = end + 1;
        dollar = strstr(s, "${");
        if (strlen(out) + strlen(val) > MAX_EXPANDED_LINE) {
            *err = "line longer than 64 KiB after ${VAR} expansion";
            return NULL;
        }
        out = apr_pstrcat(
            p, out, val,
            apr_pstrndup(p, s, dollar ? (apr_size_t)(dollar - s) : strlen(s)),
            NULL);
    }
    return out;
}

/* Splits arguments: whitespace separated, "double" or 'single' quoted
 * (backslash escapes the quote and itself inside quotes). */
static const char *tokenize(apr_pool_t *p, const char *s,
                            apr_array_header_t *args)
{
    for (;;) {
        char *word, *w;

        while (apr_isspace(*s)) {
            s++;
        }
        if (*s == '\0') {
            return NULL;
        }
        word = w = apr_palloc(p, strlen(s) + 1);
        if (*s == '"' || *s == '\'') {
            char quote = *s++;
            while (*s && *s != quote) {
                if (*s == '\\' && (s[1] == quote || s[1] == '\\')) {
                    s++;
                }
                *w++ = *s++;
            }
            if (*s != quote) {
                return apr_psprintf(p, "missing closing quote (%c)", quote);
            }
            s++;
            if (*s && !apr_isspace(*s)) {
                return "a quoted argument must be followed by a space";
            }
        } else {
            while (*s && !apr_isspace(*s)) {
                *w++ = *s++;
            }
        }
        *w = '\0';
        APR_ARRAY_PUSH(args, char *) = word;
    }
}

/* A directive the reader runs itself (its arguments are needed now). */
static int read_time_directive(const char *name)
{
    static const char *const names[] = {"Include",    "IncludeOptional",
                                        "Define",     "UnDefine",
                                        "LoadModule", "ServerRoot"};
    unsigned i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(name, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Reports a node's argument error now; 1 when there was one. */
static int args_error_now(rl_config_node_t *n)
{
    if (n->args_error == NULL) {
        return 0;
    }
    rl_config_error(n, "%s", n->args_error);
    n->args_error = NULL;
    return 1;
}

static rl_config_node_t *new_node(read_ctx_t *ctx, cfg_file_t *f,
                                  const char *name, const char *rest)
{
    rl_config_node_t *n = apr_pcalloc(ctx->p, sizeof(*n));
    apr_array_header_t *args = apr_array_make(ctx->p, 4, sizeof(char *));
    const char *err;

    n->name = apr_pstrdup(ctx->p, name);
    n->file = f->name;
    n->line = f->start;
    n->raw_args = apr_pstrdup(ctx->p, rest);
    /* reported by the walk, unless the directive takes its arguments raw
     * (RL_DIR_RAW: ProxyHCExpr's {…} may hold 'quoted' words that touch
     * a brace); lines the reader runs itself report it at once */
    err = tokenize(ctx->p, rest, args);
    n->args_error = err;
    n->argc = args->nelts;
    APR_ARRAY_PUSH(args, char *) = NULL;
    n->argv = (char **)args->elts;
    return n;
}

static int strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int define_is_set(const char *name)
{
    return rl_exists_define(name);
}

static void add_define(const char *name, const char *value)
{
    int i;
    apr_pool_t *p = rl_proc.define_vars
                        ? apr_table_elts(rl_proc.define_vars)->pool
                        : rl_proc.pconf;

    for (i = 0; i < rl_proc.defines->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(rl_proc.defines, i, char *), name) == 0) {
            break;
        }
    }
    if (i == rl_proc.defines->nelts) {
        APR_ARRAY_PUSH(rl_proc.defines, char *) = apr_pstrdup(p, name);
    }
    if (value != NULL) {
        apr_table_set(rl_proc.define_vars, name, value);
    }
}

static void remove_define(const char *name)
{
    int i;

    for (i = 0; i < rl_proc.defines->nelts; i++) {
        char **d = &APR_ARRAY_IDX(rl_proc.defines, i, char *);
        if (strcmp(*d, name) == 0) {
            *d = (char *)"";
        }
    }
    apr_table_unset(rl_proc.define_vars, name);
}

/* Include / IncludeOptional: a file, a directory, or a glob in the last
 * path component ("mods-enabled/ *.load" without the space).  Files are read in
 * name order. */
static int do_include(read_ctx_t *ctx, rl_config_node_t *n, int optional,
                      rl_config_node_t *parent, rl_config_node_t ***tail)
{
    const char *path, *dir, *pattern, *slash;
    apr_array_header_t *names;
    apr_finfo_t fi;
    apr_dir_t *d;
    int i, errors = 0;

    if (n->argc != 1) {
        rl_config_error(n, "expected one path, got %d arguments", n->argc);
        return 1;
    }
    if (ctx->depth >= MAX_INCLUDE_DEPTH) {
        rl_config_error(n,
                        "Include nested more than %d deep: is a file "
                        "including itself?",
                        MAX_INCLUDE_DEPTH);
        ctx->fatal = 1;
        return 1;
    }
    path = rl_server_root_relative(ctx->p, n->argv[0]);
    if (!apr_fnmatch_test(path)) {
        if (apr_stat(&fi, path, APR_FINFO_TYPE, ctx->ptemp) != APR_SUCCESS) {
            if (optional) {
                return 0;
            }
            rl_config_error(n, "file '%s' does not exist", path);
            return 1;
        }
        if (fi.filetype != APR_DIR) {
            return read_file(ctx, path, parent, tail);
        }
        dir = path;
        pattern = "*";
    } else {
        slash = strrchr(path, '/');
        dir = apr_pstrndup(ctx->p, path, slash - path);
        pattern = slash + 1;
        if (apr_fnmatch_test(dir)) {
            rl_config_error(n, "wildcards are allowed only in the last "
                               "component of the path");
            return 1;
        }
    }
    if (apr_dir_open(&d, dir, ctx->ptemp) != APR_SUCCESS) {
        if (optional) {
            return 0;
        }
        rl_config_error(n, "cannot open directory '%s'", dir);
        return 1;
    }
    names = apr_array_make(ctx->ptemp, 8, sizeof(char *));
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) ==
           APR_SUCCESS) {
        if (fi.name[0] == '.' ||
            apr_fnmatch(pattern, fi.name, APR_FNM_PERIOD) != APR_SUCCESS) {
            continue;
        }
        APR_ARRAY_PUSH(names, char *) =
            apr_pstrcat(ctx->ptemp, dir, "/", fi.name, NULL);
    }
    apr_dir_close(d);
    qsort(names->elts, names->nelts, sizeof(char *), strcmp_ptr);
    if (names->nelts == 0 && !optional && apr_fnmatch_test(path)) {
        rl_config_error(n,
                        "no file matches '%s' (IncludeOptional accepts "
                        "that)",
                        path);
        return 1;
    }
    for (i = 0; i < names->nelts; i++) {
        const char *f = APR_ARRAY_IDX(names, i, char *);
        if (apr_stat(&fi, f, APR_FINFO_TYPE, ctx->ptemp) == APR_SUCCESS &&
            fi.filetype == APR_DIR) {
            continue;
        } /* an error in one file does not hide the others' */
        errors += read_file(ctx, f, parent, tail);
    }
    return errors;
}

/* LoadModule and ServerRoot run while reading (httpd's EXEC_ON_READ):
 * <IfModule> below them and relative Include paths depend on them. */
static int exec_on_read(read_ctx_t *ctx, rl_config_node_t *n,
                        const rl_config_node_t *parent)
{
    int is_load = strcasecmp(n->name, "LoadModule") == 0;
    const char *err;

    if (parent != NULL) {
        rl_config_error(n, "not allowed in <%s> (allowed in: server config)",
                        parent->name + 1);
        return 1;
    }
    if (n->argc != (is_load ? 2 : 1)) {
        rl_config_error(n, "expected %s, got %d (usage: %s)",
                        is_load ? "2 arguments" : "1 argument", n->argc,
                        is_load ? "LoadModule name_module modules/mod_name.so"
                                : "ServerRoot /absolute/directory");
        return 1;
    }
    err = is_load ? rl_module_load(ctx->p, n->argv[0], n->argv[1])
                  : rl_core_set_server_root(ctx->p, ctx->ptemp, n->argv[0]);
    if (err != NULL) {
        rl_config_error(n, "%s", err);
        return 1;
    }
    return 0;
}


/* <IfDefine [!]NAME>: true when NAME is (not) defined. */
static int ifdefine_true(const rl_config_node_t *n)
{
    const char *name = n->argv[0];
    int neg = (*name == '!');

    return neg ? !define_is_set(name + 1) : define_is_set(name);
}

/*
 * Reads lines until `closing` ("</Location>") or the end of the file.
 * skip != 0 inside a false <IfDefine>: sections are still balanced, but
 * nothing takes effect.
 */
static int read_block(read_ctx_t *ctx, cfg_file_t *f, rl_config_node_t *parent,
                      rl_config_node_t ***tail, const char *closing,
                      unsigned open_line, int skip)
{
    char *line;
    int errors = 0;

    while (!ctx->fatal && cfg_getline(f, ctx->ptemp, &line)) {
        char *s = line, *name, *rest, *end;
        const char *err = NULL;
        rl_config_node_t *n;

        while (apr_isspace(*s)) {
            s++;
        }
        if (*s == '\0' || *s == '#') {
            continue;
        }
        if (!skip) {
            char *expanded = rl_config_expand_vars(ctx->ptemp, s, &err);
            if (expanded == NULL) {
                rl_config_node_t tmp = {0};
                tmp.file = f->name;
                tmp.line = f->start;
                /* name the directive: the first word, as written */
                tmp.name = apr_pstrndup(ctx->ptemp, s, strcspn(s, " \t"));
                rl_config_error(&tmp, "%s", err);
                errors++;
                continue;
            }
            s = expanded;
        }
        end = s + strlen(s);
        while (end > s && apr_isspace(end[-1])) {
            *--end = '\0';
        }
        if (s[0] == '<' && s[1] == '/') {
            rl_config_node_t tmp = {0};
            tmp.file = f->name;
            tmp.line = f->start;
            tmp.name = "";
            if (closing != NULL && strcasecmp(s, closing) == 0) {
                return errors;
            }
            if (closing != NULL) {
                rl_config_error(&tmp,
                                "expected %s (to close the section opened on "
                                "line %u) but saw %s",
                                closing, open_line, s);
            } else {
                rl_config_error(&tmp,
                                "%s without a matching opening "
                                "section",
                                s);
            }
            return errors + 1;
        }
        name = s;
        while (*s && !apr_isspace(*s)) {
            s++;
        }
        rest = s;
        if (*s) {
            *s = '\0';
            rest = s + 1;
        }
        if (name[0] == '<') {
            apr_size_t rl = strlen(rest);
            apr_size_t nl = strlen(name);
            char *close;

            if (nl > 1 && name[nl - 1] == '>' && rl == 0) {
                name[nl - 1] = '\0';
            } else if (rl > 0 && rest[rl - 1] == '>') {
                rest[rl - 1] = '\0';
            } else {
                rl_config_node_t tmp = {0};
                tmp.file = f->name;
                tmp.line = f->start;
                tmp.name = name;
                rl_config_error(&tmp, "section line must end with '>'");
                return errors + 1;
            }
            n = new_node(ctx, f, name, rest);
            errors += args_error_now(n);
            close = apr_pstrcat(ctx->ptemp, "</", name + 1, ">", NULL);
            if (strcasecmp(name, "<IfModule") == 0) {
                /* Evaluated while reading, as httpd does: LoadModule lines
                 * above have run, and a false body has no effect at all
                 * (not even its Define or Include lines). */
                int cond = 0;
                if (n->argc != 1) {
                    rl_config_error(n, "expected one module name, "
                                       "[!]module");
                    errors++;
                } else if (!skip) {
                    const char *m = n->argv[0];
                    cond = *m == '!' ? !rl_module_ifmodule_match(m + 1)
                                     : rl_module_ifmodule_match(m);
                }
                errors += read_block(ctx, f, parent, tail, close, n->line,
                                     skip || !cond);
                continue;
            }
            if (strcasecmp(name, "<IfDefine") == 0) {
                int cond;
                if (n->argc != 1) {
                    rl_config_error(n, "expected one name, [!]NAME");
                    errors++;
                    cond = 0;
                } else {
                    cond = !skip && ifdefine_true(n);
                }
                /* The body joins the enclosing block when true. */
                errors +=
                    read_block(ctx, f, parent, tail, close, n->line, !cond);
                continue;
            }
            if (!skip) {
                n->parent = parent;
                **tail = n;
                *tail = &n->next;
            }
            {
                rl_config_node_t **ctail = &n->first_child;
                errors += read_block(ctx, f, n, &ctail, close, n->line, skip);
            }
            continue;
        }
        if (skip) {
            continue;
        }
        n = new_node(ctx, f, name, rest);
        if (read_time_directive(name)) {
            errors += args_error_now(n);
        }
        if (strcasecmp(name, "Include") == 0 ||
            strcasecmp(name, "IncludeOptional") == 0) {
            ctx->depth++;
            errors += do_include(ctx, n, strcasecmp(name, "Include") != 0,
                                 parent, tail);
            ctx->depth--;
            continue;
        }
        if (strcasecmp(name, "Define") == 0) {
            if (n->argc < 1 || n->argc > 2) {
                rl_config_error(n, "expected a name and an optional value");
                errors++;
            } else if (strchr(n->argv[0], ':') != NULL) {
                rl_config_error(n, "a variable name may not contain ':'");
                errors++;
            } else {
                add_define(n->argv[0], n->argc == 2 ? n->argv[1] : NULL);
            }
            continue;
        }
        if (strcasecmp(name, "LoadModule") == 0 ||
            strcasecmp(name, "ServerRoot") == 0) {
            errors += exec_on_read(ctx, n, parent);
            continue;
        }
        if (strcasecmp(name, "UnDefine") == 0) {
            if (n->argc != 1) {
                rl_config_error(n, "expected a name");
                errors++;
            } else {
                remove_define(n->argv[0]);
            }
            continue;
        }
        n->parent = parent;
        **tail = n;
        *tail = &n->next;
    }
    if (closing != NULL) {
        rl_config_node_t tmp = {0};
        tmp.file = f->name;
        tmp.line = open_line;
        tmp.name = "";
        rl_config_error(&tmp,
                        "section is never closed (expected %s before "
                        "the end of the file)",
                        closing);
        errors++;
    }
    return errors;
}

static int read_file(read_ctx_t *ctx, const char *fname,
                     rl_config_node_t *parent, rl_config_node_t ***tail)
{
    cfg_file_t f = {0};
    apr_status_t rv;
    int errors;

    rv = apr_file_open(&f.fp, fname, APR_FOPEN_READ | APR_FOPEN_BUFFERED,
                       APR_OS_DEFAULT, ctx->ptemp);
    if (rv != APR_SUCCESS) {
        char buf[120];
        fprintf(stderr, "relaisd: cannot open configuration file '%s': %s\n",
                fname, apr_strerror(rv, buf, sizeof(buf)));
        rl_proc.config_errors++;
        return 1;
    }
    f.name = apr_pstrdup(ctx->p, fname);
    errors = read_block(ctx, &f, parent, tail, NULL, 0, 0) + ctx->errors;
    ctx->errors = 0;
    apr_file_close(f.fp);
    return errors;
}

int rl_config_read_file(apr_pool_t *p, apr_pool_t *ptemp, const char *fname,
                        rl_config_node_t **tree)
{
    read_ctx_t ctx = {0};
    rl_config_node_t **tail = tree;

    ctx.p = p;
    ctx.ptemp = ptemp;
    *tree = NULL;
    return read_file(&ctx, fname, NULL, &tail);
}
