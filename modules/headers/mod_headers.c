/*
 * mod_headers.c: httpd's Header and RequestHeader (mod_headers), and
 * SetEnvIf (mod_setenvif, in headers_setenvif.c) and Redirect (mod_alias's
 * redirects, in headers_redirect.c), with httpd's syntax.
 *
 *   Header [always|onsuccess] action header [value] [replacement]
 *          [early|env=[!]var|expr=expression]
 *   RequestHeader action header [value] [replacement]
 *          [early|env=[!]var|expr=expression]
 *
 * Actions: set, append, add, merge, unset, setifempty, edit, edit*, note,
 * and echo (Header only).  Values take the specifiers of
 * headers_value.c; edit takes a regular expression and a replacement
 * with $1..$9.  docs/headers.md is the operator's guide.
 *
 * When each list runs (lists come merged, outer context first):
 *
 *   post_read_request  SetEnvIf rules, then `early` actions (server and
 *                      vhost level only); if an early action ran, the
 *                      <Location>/<If> lookup is done again, so that it
 *                      sees the edited request, as in httpd where early
 *                      actions come before the location walk
 *   translate_name     Redirect and friends (first, before mod_proxy)
 *   fixups (last)      RequestHeader: the handler (mod_proxy builds the
 *                      backend request from r->headers_in at handler
 *                      time) sees the result
 *   response_head      Header always, on r->err_headers_out (sent with
 *                      every response, error pages included), then
 *                      Header [onsuccess] on r->headers_out, except when
 *                      the core answers with its own error page (httpd
 *                      applies only the `always` table to those)
 *
 * A request for which none of these lists is configured costs one
 * pointer test per hook.
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "headers_private.h"

RL_LOG_USE_MODULE(headers);

/* ------------------------------------------------------------------ */
/* Actions                                                             */
/* ------------------------------------------------------------------ */

typedef enum hdr_kind_e {
    HA_SET,
    HA_APPEND,
    HA_ADD,
    HA_MERGE,
    HA_UNSET,
    HA_SETIFEMPTY,
    HA_EDIT,
    HA_EDIT_ALL,
    HA_NOTE,
    HA_ECHO
} hdr_kind_e;

/** Which table an action edits. */
typedef enum hdr_table_e {
    HT_IN,  /**< r->headers_in (RequestHeader) */
    HT_OUT, /**< r->headers_out (Header, onsuccess) */
    HT_ERR  /**< r->err_headers_out (Header always) */
} hdr_table_e;

static const struct {
    const char *name;
    hdr_kind_e kind;
    int nargs; /* arguments after the header name */
} hdr_kinds[] = {
    {"set", HA_SET, 1},     {"append", HA_APPEND, 1},
    {"add", HA_ADD, 1},     {"merge", HA_MERGE, 1},
    {"unset", HA_UNSET, 0}, {"setifempty", HA_SETIFEMPTY, 1},
    {"edit", HA_EDIT, 2},   {"edit*", HA_EDIT_ALL, 2},
    {"note", HA_NOTE, 1},   {"echo", HA_ECHO, 0},
};

typedef struct hdr_action_t {
    hdr_kind_e kind;
    hdr_table_e table;
    const char *header;       /**< field name; echo: the pattern */
    const hv_format_t *value; /**< value, or edit's replacement */
    const char *note;         /**< note: the note's name */
    pcre2_code *re;           /**< edit, edit*, echo */
    const char *env;          /**< env=[!]var: the variable, or NULL */
    int env_negate;           /**< env=!var */
    const rl_expr_t *expr;    /**< expr=…, or NULL */
    int content_type;         /**< a response action on Content-Type,
                                   which the core keeps in r->content_type */
    const char *directive;    /**< "Header" or "RequestHeader" */
    const char *file;         /**< where it was written, for log lines */
    unsigned line;
} hdr_action_t;

/* ------------------------------------------------------------------ */
/* Per-location configuration                                          */
/* ------------------------------------------------------------------ */

static void *hdr_create_dir(apr_pool_t *p, const char *path)
{
    (void)path;
    return apr_pcalloc(p, sizeof(hdr_dir_conf));
}

/* Outer list, then inner; NULL stays NULL so requests can skip it. */
static apr_array_header_t *hdr_cat(apr_pool_t *p, apr_array_header_t *base,
                                   apr_array_header_t *add)
{
    if (base == NULL) {
        return add;
    }
    if (add == NULL) {
        return base;
    }
    return apr_array_append(p, base, add);
}

static void *hdr_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const hdr_dir_conf *base = basev;
    const hdr_dir_conf *add = addv;
    hdr_dir_conf *conf = apr_palloc(p, sizeof(*conf));

    conf->early = hdr_cat(p, base->early, add->early);
    conf->in = hdr_cat(p, base->in, add->in);
    conf->out = hdr_cat(p, base->out, add->out);
    conf->err = hdr_cat(p, base->err, add->err);
    conf->setenv = hdr_cat(p, base->setenv, add->setenv);
    /* redirects: the first match answers, the innermost context's first
     * (a <VirtualHost>'s before the main server's), as in httpd */
    conf->redir_srv = hdr_cat(p, add->redir_srv, base->redir_srv);
    conf->redir_loc = hdr_cat(p, add->redir_loc, base->redir_loc);
    return conf;
}

/* ------------------------------------------------------------------ */
/* Directives                                                          */
/* ------------------------------------------------------------------ */

static int is_condition(const char *s)
{
    return strcasecmp(s, "early") == 0 || strncasecmp(s, "env=", 4) == 0 ||
           strncasecmp(s, "expr=", 5) == 0;
}

/* The optional last argument: early, env=[!]var or expr=…. */
static const char *parse_condition(rl_cmd_t *cmd, hdr_action_t *a,
                                   const char *c, int *early)
{
    const char *err = NULL;

    if (strcasecmp(c, "early") == 0) {
        if (cmd->context & RL_CTX_DIR) {
            return "'early' is only allowed at server level and in "
                   "<VirtualHost>: early actions run before any <Location> "
                   "or <If> applies (as in httpd)";
        }
        *early = 1;
        return NULL;
    }
    if (strncasecmp(c, "env=", 4) == 0) {
        c += 4;
        if (*c == '!') {
            a->env_negate = 1;
            c++;
        }
        if (*c == '\0') {
            return "env= needs a variable name: env=NAME or env=!NAME";
        }
        a->env = apr_pstrdup(cmd->pool, c);
        return NULL;
    }
    if (strncasecmp(c, "expr=", 5) == 0) {
        if (c[5] == '\0') {
            return "expr= needs an expression, e.g. "
                   "\"expr=%{REQUEST_URI} =~ m#^/api/#\"";
        }
        a->expr = rl_expr_parse(cmd->pool, c + 5, &err);
        if (a->expr == NULL) {
            return apr_psprintf(cmd->pool, "expr=%s: %s", c + 5,
                                err ? err : "not an expression");
        }
        return NULL;
    }
    return apr_psprintf(cmd->pool,
                        "'%s' is not a condition (expected early, "
                        "env=[!]NAME or expr=EXPRESSION; a value with spaces "
                        "needs quotes)",
                        c);
}

/* Fields the core writes itself, whatever the tables say. */
static void warn_core_field(rl_cmd_t *cmd, const hdr_action_t *a)
{
    static const char *const core_fields[] = {
        "Date",       "Content-Length", "Transfer-Encoding",
        "Connection", "Keep-Alive",     NULL};
    int i;

    if (a->table == HT_IN || a->kind == HA_NOTE || a->kind == HA_ECHO) {
        return;
    }
    for (i = 0; core_fields[i] != NULL; i++) {
        if (strcasecmp(a->header, core_fields[i]) == 0) {
            rl_config_warn(cmd,
                           "%s is written by the core from the response "
                           "itself: this action has no effect",
                           core_fields[i]);
            return;
        }
    }
    if (a->kind == HA_UNSET && strcasecmp(a->header, "Server") == 0) {
        rl_config_warn(cmd, "the core sends its own Server field when no "
                            "table holds one: use ServerTokens to shorten "
                            "it, or Header set Server to replace it");
    }
}

static const char *parse_header_name(rl_cmd_t *cmd, hdr_action_t *a,
                                     const char *name)
{
    const char *s, *err;

    if (a->kind == HA_ECHO) {
        /* echo takes a pattern over request header names */
        a->re = rl_regex_compile(cmd->pool, name, &err);
        if (a->re == NULL) {
            return apr_pstrcat(cmd->pool, "echo: ", err, NULL);
        }
        a->header = apr_pstrdup(cmd->pool, name);
        return NULL;
    }
    if (*name == '\0') {
        return "the header name is empty";
    }
    for (s = name; *s; s++) {
        if (!hv_is_tchar((unsigned char)*s)) {
            return apr_psprintf(cmd->pool, "'%s' is not a valid header name",
                                name);
        }
    }
    a->header = apr_pstrdup(cmd->pool, name);
    a->content_type =
        a->table != HT_IN && strcasecmp(name, "Content-Type") == 0;
    return NULL;
}

/* The value (and edit's replacement) after the header name. */
static const char *parse_values(rl_cmd_t *cmd, hdr_action_t *a,
                                const char *name, int n, char *const *v)
{
    const char *err;
    hv_format_t *f = NULL;

    if (n == 0) {
        return NULL;
    }
    if (strncasecmp(v[0], "expr=", 5) == 0 && a->kind != HA_EDIT &&
        a->kind != HA_EDIT_ALL) {
        return "a value written expr=… (httpd computes it with an "
               "expression) is not supported by Relais: use text with "
               "%{NAME}e, %t or %D in it; expr= is accepted as the "
               "condition, after the value";
    }
    if (a->kind == HA_NOTE) {
        if (*v[0] == '\0') {
            return "note needs the name of the note to copy the header to";
        }
        a->note = apr_pstrdup(cmd->pool, v[0]);
        return NULL;
    }
    if (a->kind == HA_EDIT || a->kind == HA_EDIT_ALL) {
        a->re = rl_regex_compile(cmd->pool, v[0], &err);
        if (a->re == NULL) {
            return apr_pstrcat(cmd->pool, name, ": ", err, NULL);
        }
        v++;
    }
    err = hv_parse(cmd->pool, v[0], &f);
    if (err != NULL) {
        return apr_psprintf(cmd->pool, "'%s': %s", v[0], err);
    }
    a->value = f;
    return NULL;
}

static apr_array_header_t **hdr_list(hdr_dir_conf *conf, hdr_table_e t,
                                     int early)
{
    if (early) {
        return &conf->early;
    }
    return t == HT_IN ? &conf->in : t == HT_OUT ? &conf->out : &conf->err;
}

/*
 * Header [always|onsuccess] action header [value] [replacement] [cond]
 * RequestHeader action header [value] [replacement] [cond]
 * (cmd->data is non-NULL for RequestHeader)
 */
static const char *hdr_cmd(rl_cmd_t *cmd, void *mconfig, int argc,
                           char *const argv[])
{
    hdr_dir_conf *conf = mconfig;
    int request = cmd->data != NULL;
    hdr_action_t *a = apr_pcalloc(cmd->pool, sizeof(*a));
    apr_array_header_t **list;
    const char *err, *action;
    int i = 0, k, nargs = -1, early = 0;

    a->directive = request ? "RequestHeader" : "Header";
    a->table = request ? HT_IN : HT_OUT;
    a->file = cmd->node->file;
    a->line = cmd->node->line;
    if (strcasecmp(argv[0], "always") == 0 ||
        strcasecmp(argv[0], "onsuccess") == 0) {
        if (request) {
            return apr_psprintf(cmd->pool,
                                "'%s' is for Header only (a request has one "
                                "header table)",
                                argv[0]);
        }
        a->table = strcasecmp(argv[0], "always") == 0 ? HT_ERR : HT_OUT;
        i++;
    }
    if (i >= argc) {
        return "missing the action (set, append, add, merge, unset, "
               "setifempty, edit, edit*, note or echo)";
    }
    action = argv[i++];
    for (k = 0; k < (int)(sizeof(hdr_kinds) / sizeof(hdr_kinds[0])); k++) {
        if (strcasecmp(action, hdr_kinds[k].name) == 0) {
            a->kind = hdr_kinds[k].kind;
            nargs = hdr_kinds[k].nargs;
            break;
        }
    }
    if (nargs < 0) {
        return apr_psprintf(cmd->pool,
                            "unknown action '%s' (expected set, append, add, "
                            "merge, unset, setifempty, edit, edit*, note%s)",
                            action, request ? "" : " or echo");
    }
    if (a->kind == HA_ECHO && request) {
        return "echo is for Header only: it copies request headers into "
               "the response";
    }
    if (i >= argc) {
        return apr_psprintf(cmd->pool, "%s: missing the header name", action);
    }
    err = parse_header_name(cmd, a, argv[i++]);
    if (err != NULL) {
        return err;
    }
    if (argc - i < nargs) {
        return nargs == 2 ? apr_psprintf(cmd->pool,
                                         "%s needs a regular expression and "
                                         "a replacement after the header "
                                         "name",
                                         action)
                          : apr_psprintf(cmd->pool,
                                         "%s needs a value after the header "
                                         "name",
                                         action);
    }
    err = parse_values(cmd, a, action, nargs, argv + i);
    if (err != NULL) {
        return err;
    }
    i += nargs;
    if (argc - i > 1) {
        if (is_condition(argv[i]) && is_condition(argv[i + 1])) {
            return "one condition per line: early, env= and expr= cannot "
                   "be combined (early actions run before anything sets "
                   "variables)";
        }
        return apr_psprintf(cmd->pool,
                            "unexpected '%s' after the %s (a value with "
                            "spaces needs quotes)",
                            argv[i + 1], nargs ? "value" : "header name");
    }
    if (argc - i == 1) {
        err = parse_condition(cmd, a, argv[i], &early);
        if (err != NULL) {
            return err;
        }
    }
    warn_core_field(cmd, a);
    if (cmd->context == RL_CTX_PROXY) {
        rl_config_warn(cmd, "has no effect inside <Proxy> yet: mod_proxy "
                            "does not apply <Proxy> sections to requests; "
                            "use <Location>");
    }
    list = hdr_list(conf, a->table, early);
    if (*list == NULL) {
        *list = apr_array_make(cmd->pool, 4, sizeof(hdr_action_t *));
    }
    APR_ARRAY_PUSH(*list, hdr_action_t *) = a;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Running the actions                                                 */
/* ------------------------------------------------------------------ */

/* Does the action apply to this request (env=, expr=)? */
static int hdr_applies(rl_request_t *r, const hdr_action_t *a)
{
    if (a->env != NULL &&
        (apr_table_get(r->subprocess_env, a->env) != NULL) == a->env_negate) {
        return 0;
    }
    if (a->expr != NULL) {
        const char *err = NULL;
        int rc = rl_expr_eval(r, a->expr, &err);
        if (rc < 0) {
            rl_log_rerror(RL_LOG_ERR, 0, r,
                          "%s at %s:%u: expr=%s could not be evaluated (%s): "
                          "the action is skipped",
                          a->directive, a->file, a->line,
                          rl_expr_source(a->expr), err ? err : "error");
            return 0;
        }
        return rc;
    }
    return 1;
}

/* True when v is one member of a comma-separated list (a quoted string
 * is one member, commas in it included), compared exactly. */
static int in_list(const char *list, const char *v)
{
    const char *s = list;
    apr_size_t vlen;

    if (list == NULL) {
        return 0;
    }
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    vlen = strlen(v);
    while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) {
        vlen--;
    }
    while (*s) {
        const char *start, *end;
        int quoted = 0;

        while (*s == ' ' || *s == '\t') {
            s++;
        }
        start = s;
        while (*s && (quoted || *s != ',')) {
            if (*s == '"') {
                quoted = !quoted;
            } else if (*s == '\\' && quoted && s[1] != '\0') {
                s++;
            }
            s++;
        }
        end = s;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if ((apr_size_t)(end - start) == vlen && memcmp(start, v, vlen) == 0) {
            return 1;
        }
        if (*s == ',') {
            s++;
        }
    }
    return 0;
}

/* edit/edit*: every field of that name, in place (order kept). */
static void do_edit(rl_request_t *r, apr_table_t *t, const hdr_action_t *a)
{
    const apr_array_header_t *h = apr_table_elts(t);
    apr_table_entry_t *e = (apr_table_entry_t *)h->elts;
    const char *repl = NULL, *v;
    int i, rc;

    for (i = 0; i < h->nelts; i++) {
        if (e[i].key == NULL || strcasecmp(e[i].key, a->header) != 0) {
            continue;
        }
        if (repl == NULL) {
            repl = hv_expand(r, a->value);
        }
        v = hv_edit(r, a->re, a->kind == HA_EDIT_ALL, e[i].val, repl, &rc);
        if (v == NULL) {
            rl_log_rerror(RL_LOG_ERR, 0, r,
                          "%s at %s:%u: edit of %s failed (PCRE2 error "
                          "%d): the value is left as it was",
                          a->directive, a->file, a->line, a->header, rc);
            continue;
        }
        e[i].val = (char *)v;
    }
}

/* echo: request headers whose names match, copied into t. */
static void do_echo(rl_request_t *r, apr_table_t *t, const hdr_action_t *a)
{
    const apr_array_header_t *h = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)h->elts;
    pcre2_match_data *md = hv_match_data(r);
    int i;

    for (i = 0; i < h->nelts; i++) {
        if (e[i].key != NULL &&
            pcre2_match(a->re, (PCRE2_SPTR)e[i].key, strlen(e[i].key), 0, 0, md,
                        NULL) >= 0) {
            apr_table_addn(t, e[i].key, e[i].val);
        }
    }
}

static void hdr_do(rl_request_t *r, apr_table_t *t, const hdr_action_t *a)
{
    const char *v;

    switch (a->kind) {
    case HA_SET:
        apr_table_setn(t, a->header, hv_expand(r, a->value));
        break;
    case HA_APPEND:
        apr_table_mergen(t, a->header, hv_expand(r, a->value));
        break;
    case HA_ADD:
        apr_table_addn(t, a->header, hv_expand(r, a->value));
        break;
    case HA_MERGE:
        v = hv_expand(r, a->value);
        if (!in_list(apr_table_get(t, a->header), v)) {
            apr_table_mergen(t, a->header, v);
        }
        break;
    case HA_UNSET:
        apr_table_unset(t, a->header);
        break;
    case HA_SETIFEMPTY:
        if (apr_table_get(t, a->header) == NULL) {
            apr_table_setn(t, a->header, hv_expand(r, a->value));
        }
        break;
    case HA_EDIT:
    case HA_EDIT_ALL:
        do_edit(r, t, a);
        break;
    case HA_NOTE:
        v = apr_table_get(t, a->header);
        if (v != NULL) {
            apr_table_setn(r->notes, a->note, v);
        }
        break;
    case HA_ECHO:
        do_echo(r, t, a);
        break;
    }
}

/*
 * Content-Type of a response lives in r->content_type, not in the tables
 * (rl_hooks.h): the action sees it as a field, and what it leaves goes
 * back there.
 */
static void hdr_do_content_type(rl_request_t *r, apr_table_t *t,
                                const hdr_action_t *a)
{
    if (r->content_type != NULL && apr_table_get(t, "Content-Type") == NULL) {
        apr_table_setn(t, "Content-Type", r->content_type);
    }
    hdr_do(r, t, a);
    r->content_type = apr_table_get(t, "Content-Type");
    apr_table_unset(t, "Content-Type");
}

static apr_table_t *hdr_table(rl_request_t *r, hdr_table_e t)
{
    return t == HT_IN    ? r->headers_in
           : t == HT_OUT ? r->headers_out
                         : r->err_headers_out;
}

/* Runs a list; returns how many actions applied. */
static int hdr_run(rl_request_t *r, const apr_array_header_t *list)
{
    int i, n = 0;

    for (i = 0; i < list->nelts; i++) {
        const hdr_action_t *a = APR_ARRAY_IDX(list, i, hdr_action_t *);
        apr_table_t *t;

        if (!hdr_applies(r, a)) {
            continue;
        }
        t = hdr_table(r, a->table);
        if (a->content_type) {
            hdr_do_content_type(r, t, a);
        } else {
            hdr_do(r, t, a);
        }
        n++;
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* Hooks                                                               */
/* ------------------------------------------------------------------ */

static int hdr_post_read_request(rl_request_t *r)
{
    const hdr_dir_conf *conf =
        rl_get_module_config(r->per_dir_config, &headers_module);

    if (conf == NULL || (conf->setenv == NULL && conf->early == NULL)) {
        return RL_DECLINED;
    }
    if (conf->setenv != NULL) {
        senv_run(r, conf->setenv);
    }
    if (conf->early != NULL && hdr_run(r, conf->early) > 0) {
        /* the request changed before routing: <If> blocks (and the
         * sections chosen with them) are chosen again from what it is
         * now, as httpd walks locations after its early actions */
        rl_request_lookup_location(r);
    }
    return RL_DECLINED;
}

static int hdr_fixups(rl_request_t *r)
{
    const hdr_dir_conf *conf =
        rl_get_module_config(r->per_dir_config, &headers_module);

    if (conf == NULL || conf->in == NULL) {
        return RL_DECLINED;
    }
    hdr_run(r, conf->in);
    return RL_DECLINED;
}

static void hdr_response_head(rl_request_t *r)
{
    const hdr_dir_conf *conf =
        r->per_dir_config
            ? rl_get_module_config(r->per_dir_config, &headers_module)
            : NULL;

    if (conf == NULL || (conf->out == NULL && conf->err == NULL)) {
        return;
    }
    if (conf->err != NULL) {
        hdr_run(r, conf->err);
    }
    if (conf->out != NULL &&
        apr_table_get(r->notes, RL_NOTE_ERROR_PAGE) == NULL) {
        hdr_run(r, conf->out);
    }
}

static void hdr_register_hooks(apr_pool_t *p)
{
    /* a redirected request must never reach a backend */
    static const char *const before_proxy[] = {"proxy", NULL};

    (void)p;
    /* first, so that other modules' post_read_request see the variables
     * and the request as the early actions left it */
    rl_hook_post_read_request(hdr_post_read_request, NULL, NULL, RL_HOOK_FIRST);
    /* last: after every other module's edits, right before the handler */
    rl_hook_translate_name(redir_translate, NULL, before_proxy, RL_HOOK_FIRST);
    rl_hook_fixups(hdr_fixups, NULL, NULL, RL_HOOK_LAST);
    rl_hook_response_head(hdr_response_head, NULL, NULL, RL_HOOK_MIDDLE);
}

/* ------------------------------------------------------------------ */
/* The module                                                          */
/* ------------------------------------------------------------------ */

static const rl_directive_t hdr_directives[] = {
    {"Header", hdr_cmd, NULL, RL_CTX_ANY, 2, 6, 0,
     "Header [always|onsuccess] set|append|add|merge|unset|setifempty|"
     "edit|edit*|note|echo header [value] [replacement] "
     "[early|env=[!]var|expr=expression] -- edit response headers"},
    {"RequestHeader", hdr_cmd, "request", RL_CTX_ANY, 2, 5, 0,
     "RequestHeader set|append|add|merge|unset|setifempty|edit|edit*|note "
     "header [value] [replacement] [early|env=[!]var|expr=expression] -- "
     "edit request headers before the handler (and the backend) sees them"},
    {"SetEnvIf", senv_cmd, NULL, RL_CTX_ANY, 3, -1, 0,
     "SetEnvIf attribute regex [!]var[=value] ... -- set request "
     "variables when a header or request attribute matches"},
    {"SetEnvIfNoCase", senv_cmd, (void *)(apr_uintptr_t)SENV_NOCASE, RL_CTX_ANY,
     3, -1, 0,
     "SetEnvIfNoCase attribute regex [!]var[=value] ... -- SetEnvIf, the "
     "regex ignoring case"},
    {"BrowserMatch", senv_cmd, (void *)(apr_uintptr_t)SENV_BROWSER, RL_CTX_ANY,
     2, -1, 0,
     "BrowserMatch regex [!]var[=value] ... -- SetEnvIf User-Agent regex "
     "..."},
    {"BrowserMatchNoCase", senv_cmd,
     (void *)(apr_uintptr_t)(SENV_BROWSER | SENV_NOCASE), RL_CTX_ANY, 2, -1, 0,
     "BrowserMatchNoCase regex [!]var[=value] ... -- BrowserMatch, the "
     "regex ignoring case"},
    {"Redirect", redir_cmd, NULL, RL_CTX_SERVER | RL_CTX_LOCATION, 1, 3, 0,
     "Redirect [status] [URL-path] URL -- answer requests under URL-path "
     "(or the section's) with a redirect to URL, the rest of the path "
     "appended; status: permanent|temp|seeother|gone|3xx|4xx|5xx"},
    {"RedirectMatch", redir_cmd, (void *)(apr_uintptr_t)REDIR_MATCH,
     RL_CTX_SERVER | RL_CTX_LOCATION, 2, 3, 0,
     "RedirectMatch [status] regex URL -- redirect requests whose path "
     "matches regex to URL, with $1..$9 in it"},
    {"RedirectPermanent", redir_cmd, (void *)(apr_uintptr_t)REDIR_PERMANENT,
     RL_CTX_SERVER | RL_CTX_LOCATION, 1, 2, 0,
     "RedirectPermanent [URL-path] URL -- Redirect permanent (301)"},
    {"RedirectTemp", redir_cmd, (void *)(apr_uintptr_t)REDIR_TEMP,
     RL_CTX_SERVER | RL_CTX_LOCATION, 1, 2, 0,
     "RedirectTemp [URL-path] URL -- Redirect temp (302)"},
    RL_DIRECTIVE_END};

RL_DECLARE_MODULE(headers) = {RL_MODULE_STUFF("headers", "1.0.0", 0),
                              hdr_directives,
                              NULL, /* create_server_config */
                              NULL, /* merge_server_config */
                              hdr_create_dir,
                              hdr_merge_dir,
                              hdr_register_hooks};
