/*
 * mod_addheader.c: an example Relais module that adds response headers,
 * per location.
 *
 *   LoadModule addheader_module modules/mod_addheader.so
 *
 *   AddHeader X-Served-By relais1
 *   <Location /static>
 *       AddHeader Cache-Control "public, max-age=3600"
 *   </Location>
 *
 * It is written to be read (README.md beside it says how to build and try
 * it).  In the order of the file, it shows:
 *
 *   1. a per-location configuration block and its create function;
 *   2. a directive handler that checks its arguments once, at start-up,
 *      and says what is wrong in words an operator understands;
 *   3. a merge function with a rule of its own (an inner block that names
 *      a header replaces the outer block's lines for that header);
 *   4. a response_head hook that only reads the configuration, so it
 *      needs no lock and never blocks;
 *   5. the module record.
 *
 * It uses only the public API (the headers installed in PREFIX/include),
 * and builds out of the source tree with
 *
 *   relaisxs -c mod_addheader.c && relaisxs -i -a mod_addheader.so
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "relais.h"

/* Binds the log calls of this file to the module, so that its lines read
 * [addheader:level] and follow "LogLevel warn addheader:debug".  The
 * record itself is defined at the bottom. */
RL_LOG_USE_MODULE(addheader);


/* ----------------------------------------------------- 1. configuration */

/* One "AddHeader name value" line. */
typedef struct addheader_entry_t {
    const char *name;
    const char *value;
} addheader_entry_t;

/*
 * The per-location block: the lines of one context (the server's root,
 * a <VirtualHost>'s root, or a <Location>), in file order.  An empty
 * array is this block's "unset": the merge below can tell "nothing
 * written here, inherit" from "written here", which is what every field
 * of a per-location block needs.
 */
typedef struct addheader_conf_t {
    apr_array_header_t *entries; /* of addheader_entry_t */
} addheader_conf_t;

/*
 * create_dir_config: one block per context, from the configuration pool
 * (it lives until the next restart).  `path` is the <Location>'s path, or
 * NULL for a server's root; this module has no use for it.
 */
static void *addheader_create_dir(apr_pool_t *p, const char *path)
{
    addheader_conf_t *conf = apr_palloc(p, sizeof(*conf));

    (void)path;
    conf->entries = apr_array_make(p, 2, sizeof(addheader_entry_t));
    return conf;
}


/* ---------------------------------------------------------- 2. directive */

/* RFC 9110's token: the characters a header name may hold. */
static int is_token(const char *s)
{
    if (*s == '\0') {
        return 0;
    }
    for (; *s; s++) {
        if (!apr_isalnum(*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL) {
            return 0;
        }
    }
    return 1;
}

/* A value may hold any byte but CR, LF, NUL and the other controls (a
 * tab is fine): CR or LF would end the header line early and let the
 * configuration inject a header, or a body, of its own. */
static int is_field_value(const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* Fields the core writes itself (framing and the like): a module's copy
 * would be replaced, so refusing them at start-up spares the operator a
 * line that silently does nothing. */
static int core_owned(const char *name)
{
    static const char *const owned[] = {
        "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive",
        "Date",           "Content-Type",      NULL};
    int i;

    for (i = 0; owned[i] != NULL; i++) {
        if (strcasecmp(name, owned[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * AddHeader name value
 *
 * `mconfig` is this module's block for the context the line stands in:
 * the server's root outside any section, the <Location>'s block inside
 * one.  The core has already checked the context and the number of
 * arguments (two, from the table below), removed quotes and expanded
 * ${VAR}.  The returned message is printed after "FILE:LINE: AddHeader: ",
 * so it need not repeat the directive's name.
 */
static const char *set_add_header(rl_cmd_t *cmd, void *mconfig, int argc,
                                  char *const argv[])
{
    addheader_conf_t *conf = mconfig;
    addheader_entry_t *e;

    (void)argc;
    if (!is_token(argv[0])) {
        return apr_psprintf(cmd->temp_pool,
                            "'%s' is not a valid header name (letters, "
                            "digits and !#$%%&'*+-.^_`|~ only, no spaces)",
                            argv[0]);
    }
    if (core_owned(argv[0])) {
        return apr_psprintf(cmd->temp_pool,
                            "%s is written by the core for every response "
                            "and cannot be added by a module",
                            argv[0]);
    }
    if (!is_field_value(argv[1])) {
        return apr_psprintf(cmd->temp_pool,
                            "the value for %s holds a control character "
                            "(such as a line break): not allowed in a header",
                            argv[0]);
    }
    /* argv[] belongs to the parser: keep copies in the configuration
     * pool, which lives as long as the block. */
    e = apr_array_push(conf->entries);
    e->name = apr_pstrdup(cmd->pool, argv[0]);
    e->value = apr_pstrdup(cmd->pool, argv[1]);
    return NULL;
}

static const rl_directive_t addheader_directives[] = {
    RL_TAKE2("AddHeader", set_add_header, NULL, RL_CTX_SERVER | RL_CTX_LOCATION,
             "AddHeader name value -- add a response header here (an inner "
             "block's lines replace the outer ones for the same name)"),
    RL_DIRECTIVE_END};


/* -------------------------------------------------------------- 3. merge */

/* True when the entries hold a line for `name` (header names compare
 * without regard to case). */
static int names_header(const apr_array_header_t *entries, const char *name)
{
    int i;

    for (i = 0; i < entries->nelts; i++) {
        if (strcasecmp(APR_ARRAY_IDX(entries, i, addheader_entry_t).name,
                       name) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * merge_dir_config: `base` is the outer block (the server's root, or an
 * earlier matching <Location>), `add` the inner one.  The rule: the outer
 * lines come first, except those for a header the inner block names,
 * which the inner lines replace.  So a server-wide "AddHeader
 * Cache-Control no-store" can be overridden by one <Location>, while
 * unrelated headers are inherited.
 *
 * It must return a NEW block and leave both inputs alone: they are shared
 * with every other merge.  The core merges at start-up (each location over
 * its server's root) and, for a request that matches more than one
 * <Location>, again per request, from the request's pool; so it stays
 * small and does not log.
 */
static void *addheader_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const addheader_conf_t *base = basev;
    const addheader_conf_t *add = addv;
    addheader_conf_t *conf = apr_palloc(p, sizeof(*conf));
    int i;

    if (add->entries->nelts == 0) {
        conf->entries = base->entries; /* shared, read-only from now on */
        return conf;
    }
    conf->entries =
        apr_array_make(p, base->entries->nelts + add->entries->nelts,
                       sizeof(addheader_entry_t));
    for (i = 0; i < base->entries->nelts; i++) {
        const addheader_entry_t *e =
            &APR_ARRAY_IDX(base->entries, i, addheader_entry_t);
        if (!names_header(add->entries, e->name)) {
            APR_ARRAY_PUSH(conf->entries, addheader_entry_t) = *e;
        }
    }
    apr_array_cat(conf->entries, add->entries);
    return conf;
}


/* --------------------------------------------------------------- 4. hook */

/*
 * response_head runs once per response, right before its head is
 * written: for answers of a handler, proxied answers and the core's own
 * error pages alike.  The lines go in r->err_headers_out, the table sent
 * with every response, error pages included (r->headers_out is for
 * answers that succeed).
 *
 * Thread safety: this runs on many threads at once (and in every child).
 * It only reads the merged configuration, which nothing writes after
 * start-up, and writes the request's own tables, so it needs no lock.
 * apr_table_addn() keeps our pointers instead of copying: the strings
 * live in the configuration pool, which outlives every request.
 */
static void addheader_response_head(rl_request_t *r)
{
    const addheader_conf_t *conf =
        rl_get_module_config(r->per_dir_config, &addheader_module);
    int i;

    if (conf == NULL) {
        return;
    }
    for (i = 0; i < conf->entries->nelts; i++) {
        const addheader_entry_t *e =
            &APR_ARRAY_IDX(conf->entries, i, addheader_entry_t);
        apr_table_addn(r->err_headers_out, e->name, e->value);
    }
    if (conf->entries->nelts > 0) {
        rl_log_rerror(RL_LOG_TRACE1, 0, r, "added %d header(s) to %s",
                      conf->entries->nelts, r->uri);
    }
}

/* Called once each time the module is loaded (every configuration
 * generation).  RL_HOOK_LAST: after other modules' response_head hooks
 * (mod_headers' Header unset, say), so that ours are not removed. */
static void addheader_register_hooks(apr_pool_t *p)
{
    (void)p;
    rl_hook_response_head(addheader_response_head, NULL, NULL, RL_HOOK_LAST);
}


/* ------------------------------------------------------------- 5. record */

/* The exported symbol is addheader_module, as LoadModule names it; the
 * short name "addheader" is the module's identity in LogLevel and in
 * other modules' hook ordering lists. */
RL_DECLARE_MODULE(addheader) = {RL_MODULE_STUFF("addheader", "1.0.0", 0),
                                addheader_directives,
                                NULL, /* create_server_config */
                                NULL, /* merge_server_config */
                                addheader_create_dir,
                                addheader_merge_dir,
                                addheader_register_hooks};
