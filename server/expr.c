/*
 * expr.c: request expressions (include/rl_expr.h), the language of
 * <If>, <ElseIf>, Require expr and of modules that take a condition.
 *
 * A recursive-descent parser builds a small tree in the configuration
 * pool once; evaluation walks it per request.  Words evaluate to strings:
 * most are pointers into the request (a header value, r->uri) and cost no
 * allocation; only functions and quoted strings with variables inside
 * build a value, in r->pool.
 *
 * Grammar (lowest precedence first):
 *   expr    := and ( '||' and )*
 *   and     := unary ( '&&' unary )*
 *   unary   := '!' unary | '(' expr ')' | 'true' | 'false'
 *            | ('-n' | '-z') word | '-R' word | word cmp
 *   cmp     := op word | ('=~' | '!~') regex | 'in' '{' word (',' word)* '}'
 *   word    := string | number | %{VAR} | func '(' word ')'
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "relais.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include <apr_escape.h>
#include <apr_strings.h>
#include <pcre2.h>

/* A pathological pattern stops here instead of eating the event loop. */
#define EXPR_MATCH_LIMIT 100000
#define EXPR_DEPTH_LIMIT 1000
/* Nesting of parentheses and '!': deeper is refused at parse time, so
 * evaluation cannot run out of stack. */
#define EXPR_MAX_DEPTH 64

/* ---------------------------------------------------------------- words */

typedef enum {
    V_HTTP, /* %{HTTP:Name} and %{HTTP_NAME}: a request header */
    V_ENV,
    V_METHOD,
    V_URI,
    V_QUERY,
    V_THE_REQUEST,
    V_SCHEME,
    V_PROTOCOL,
    V_SERVER_NAME,
    V_SERVER_PORT,
    V_REMOTE_ADDR,
    V_REMOTE_PORT,
    V_REMOTE_USER,
    V_STATUS,
    V_TIME,
    V_TIME_YEAR,
    V_TIME_MON,
    V_TIME_DAY,
    V_TIME_HOUR,
    V_TIME_MIN,
    V_TIME_SEC,
    V_TIME_WDAY,
    V_HTTPS, /* "on" over TLS, else "off" */
    V_SSL    /* %{SSL_*}: mod_ssl's variable named in lit */
} var_e;

typedef enum {
    F_TOLOWER,
    F_TOUPPER,
    F_ESCAPE,
    F_UNESCAPE,
    F_REQ,
    F_RESP,
    F_ENV
} func_e;

typedef enum { W_LIT, W_VAR, W_CONCAT, W_FUNC } word_kind_e;

typedef struct word_t word_t;
struct word_t {
    word_kind_e kind;
    const char *lit; /* W_LIT: the text; W_VAR: the header or env name */
    int id;          /* var_e or func_e */
    word_t *arg;     /* W_FUNC */
    word_t *next;    /* W_CONCAT parts, and the items of 'in' lists */
    word_t *parts;   /* W_CONCAT */
};

static const struct {
    const char *name;
    var_e id;
} vars[] = {{"REQUEST_METHOD", V_METHOD},
            {"REQUEST_URI", V_URI},
            {"QUERY_STRING", V_QUERY},
            {"THE_REQUEST", V_THE_REQUEST},
            {"REQUEST_SCHEME", V_SCHEME},
            {"SERVER_PROTOCOL", V_PROTOCOL},
            {"SERVER_NAME", V_SERVER_NAME},
            {"SERVER_PORT", V_SERVER_PORT},
            {"REMOTE_ADDR", V_REMOTE_ADDR},
            {"REMOTE_PORT", V_REMOTE_PORT},
            {"REMOTE_USER", V_REMOTE_USER},
            {"REQUEST_STATUS", V_STATUS},
            {"TIME", V_TIME},
            {"TIME_YEAR", V_TIME_YEAR},
            {"TIME_MON", V_TIME_MON},
            {"TIME_DAY", V_TIME_DAY},
            {"TIME_HOUR", V_TIME_HOUR},
            {"TIME_MIN", V_TIME_MIN},
            {"TIME_SEC", V_TIME_SEC},
            {"TIME_WDAY", V_TIME_WDAY},
            {"HTTPS", V_HTTPS},
            {NULL, V_URI}};

static const struct {
    const char *name;
    func_e id;
} funcs[] = {
    {"tolower", F_TOLOWER},   {"toupper", F_TOUPPER}, {"escape", F_ESCAPE},
    {"unescape", F_UNESCAPE}, {"req", F_REQ},         {"http", F_REQ},
    {"resp", F_RESP},         {"env", F_ENV},         {NULL, F_ENV}};

/* ---------------------------------------------------------------- nodes */

typedef enum {
    N_TRUE,
    N_FALSE,
    N_NOT,
    N_AND,
    N_OR,
    N_STR_CMP, /* == != < <= > >= */
    N_INT_CMP, /* -eq -ne -lt -le -gt -ge */
    N_REGEX,   /* =~ !~ */
    N_IPMATCH,
    N_STRMATCH,
    N_STRCMATCH,
    N_IN,
    N_NONEMPTY, /* -n */
    N_EMPTY,    /* -z */
    N_REMOTE    /* -R */
} node_kind_e;

/* comparison results a node accepts, as bits of (cmp < 0, == 0, > 0) */
#define CMP_LT 1
#define CMP_EQ 2
#define CMP_GT 4

typedef struct node_t node_t;
struct node_t {
    node_kind_e kind;
    node_t *a, *b;    /* N_NOT, N_AND, N_OR */
    word_t *l, *r;    /* operands; N_IN: r is the list */
    int accept;       /* CMP_* bits for comparisons; N_REGEX: 1 for =~ */
    pcre2_code *re;   /* N_REGEX */
    rl_ipmatch_t *ip; /* N_IPMATCH / N_REMOTE with a literal pattern */
};

struct rl_expr_t {
    node_t *root;
    const char *source;
    pcre2_match_context *mctx;
};

/* --------------------------------------------------------------- parser */

typedef struct {
    apr_pool_t *p;
    const char *text, *s; /* whole text, cursor */
    const char *err;
    int depth;
    int has_regex;
} parser_t;

static void skip_ws(parser_t *ps)
{
    while (*ps->s == ' ' || *ps->s == '\t' || *ps->s == '\r' ||
           *ps->s == '\n') {
        ps->s++;
    }
}

/* Records the first error with its position (counted from 1). */
static void *fail(parser_t *ps, const char *expected)
{
    if (ps->err == NULL) {
        const char *found = *ps->s ? apr_psprintf(ps->p, "'%.12s'", ps->s)
                                   : "end of expression";
        ps->err = apr_psprintf(ps->p, "at character %d: expected %s, found %s",
                               (int)(ps->s - ps->text) + 1, expected, found);
    }
    return NULL;
}

/* True (and consumed) when the text continues with `tok` as a whole
 * token: an operator word like "-eq" or "in" must not be the start of a
 * longer word. */
static int accept_tok(parser_t *ps, const char *tok)
{
    apr_size_t n = strlen(tok);

    skip_ws(ps);
    if (strncmp(ps->s, tok, n) != 0) {
        return 0;
    }
    if ((isalpha((unsigned char)tok[n - 1]) || tok[n - 1] == '_') &&
        (isalnum((unsigned char)ps->s[n]) || ps->s[n] == '_')) {
        return 0;
    }
    ps->s += n;
    return 1;
}

static word_t *new_word(parser_t *ps, word_kind_e kind)
{
    word_t *w = apr_pcalloc(ps->p, sizeof(*w));
    w->kind = kind;
    return w;
}

/* %{NAME} or %{HTTP:Name} / %{ENV:name}, the cursor after "%{". */
static word_t *parse_var(parser_t *ps)
{
    const char *end = strchr(ps->s, '}');
    const char *colon;
    char *name;
    word_t *w;
    int i;

    if (end == NULL || end == ps->s) {
        return fail(ps, "a variable name and '}' after '%{'");
    }
    name = apr_pstrndup(ps->p, ps->s, (apr_size_t)(end - ps->s));
    ps->s = end + 1;
    w = new_word(ps, W_VAR);
    colon = strchr(name, ':');
    if (colon != NULL) {
        apr_size_t plen = (apr_size_t)(colon - name);
        if (colon[1] == '\0') {
            return fail(ps, "a name after the ':' of the variable");
        }
        if ((plen == 4 && strncasecmp(name, "HTTP", 4) == 0) ||
            (plen == 3 && strncasecmp(name, "req", 3) == 0)) {
            w->id = V_HTTP;
        } else if (plen == 3 && strncasecmp(name, "ENV", 3) == 0) {
            w->id = V_ENV;
        } else {
            ps->s = end - strlen(name);
            return fail(ps, "HTTP:Name or ENV:name");
        }
        w->lit = colon + 1;
        return w;
    }
    for (i = 0; vars[i].name != NULL; i++) {
        if (strcasecmp(vars[i].name, name) == 0) {
            w->id = (int)vars[i].id;
            return w;
        }
    }
    if (strncasecmp(name, "SSL_", 4) == 0 && name[4] != '\0') {
        /* mod_ssl's variables (rl_ssl.h): empty on a plain connection or
         * without mod_ssl, as in httpd */
        w->id = V_SSL;
        w->lit = apr_pstrdup(ps->p, name);
        return w;
    }
    if (strncasecmp(name, "HTTP_", 5) == 0 && name[5] != '\0') {
        /* %{HTTP_USER_AGENT} is the User-Agent header, as in httpd */
        char *h = apr_pstrdup(ps->p, name + 5), *q;
        for (q = h; *q; q++) {
            *q = *q == '_' ? '-' : *q;
        }
        w->id = V_HTTP;
        w->lit = h;
        return w;
    }
    ps->s = end - strlen(name);
    return fail(ps, "a known variable (REQUEST_URI, REMOTE_ADDR, "
                    "HTTP:Name, ENV:name… see docs/expr.md)");
}

/* 'text' or "text" with \ escapes and %{VAR} inside. */
static word_t *parse_string(parser_t *ps)
{
    char quote = *ps->s++;
    word_t *concat = new_word(ps, W_CONCAT), **tail = &concat->parts;
    int nparts = 0;
    char *buf = apr_palloc(ps->p, strlen(ps->s) + 1);
    apr_size_t n = 0;

    for (;;) {
        char ch = *ps->s;
        if (ch == '\0') {
            return fail(ps,
                        quote == '"' ? "a closing '\"'" : "a closing \"'\"");
        }
        if (ch == quote || (ch == '%' && ps->s[1] == '{')) {
            if (n > 0 || (ch == quote && nparts == 0)) {
                word_t *lit = new_word(ps, W_LIT);
                lit->lit = apr_pstrndup(ps->p, buf, n);
                *tail = lit;
                tail = &lit->next;
                nparts++;
                n = 0;
            }
            if (ch == quote) {
                ps->s++;
                break;
            }
            ps->s += 2;
            *tail = parse_var(ps);
            if (*tail == NULL) {
                return NULL;
            }
            tail = &(*tail)->next;
            nparts++;
            continue;
        }
        if (ch == '\\' && ps->s[1] != '\0') {
            ps->s++;
            ch = *ps->s;
        }
        buf[n++] = ch;
        ps->s++;
    }
    return nparts == 1 ? concat->parts : concat;
}

static word_t *parse_word(parser_t *ps)
{
    skip_ws(ps);
    if (*ps->s == '\'' || *ps->s == '"') {
        return parse_string(ps);
    }
    if (ps->s[0] == '%' && ps->s[1] == '{') {
        ps->s += 2;
        return parse_var(ps);
    }
    if (isdigit((unsigned char)*ps->s) ||
        (*ps->s == '-' && isdigit((unsigned char)ps->s[1]))) {
        const char *start = ps->s++;
        word_t *w = new_word(ps, W_LIT);
        while (isdigit((unsigned char)*ps->s)) {
            ps->s++;
        }
        w->lit = apr_pstrndup(ps->p, start, (apr_size_t)(ps->s - start));
        return w;
    }
    if (isalpha((unsigned char)*ps->s)) {
        const char *start = ps->s;
        word_t *w;
        int i;
        while (isalnum((unsigned char)*ps->s) || *ps->s == '_') {
            ps->s++;
        }
        for (i = 0; funcs[i].name != NULL; i++) {
            if (strlen(funcs[i].name) == (apr_size_t)(ps->s - start) &&
                strncmp(funcs[i].name, start, (apr_size_t)(ps->s - start)) ==
                    0) {
                break;
            }
        }
        if (funcs[i].name == NULL) {
            ps->s = start;
            return fail(ps, "a word ('string', number, %{VARIABLE} or "
                            "function(word))");
        }
        if (!accept_tok(ps, "(")) {
            return fail(ps, "'(' after the function name");
        }
        w = new_word(ps, W_FUNC);
        w->id = (int)funcs[i].id;
        w->arg = parse_word(ps);
        if (w->arg == NULL) {
            return NULL;
        }
        if (!accept_tok(ps, ")")) {
            return fail(ps, "')' closing the function's argument");
        }
        return w;
    }
    return fail(ps, "a word ('string', number, %{VARIABLE} or function(word))");
}

/* /re/flags or m#re#flags (any delimiter after m), the cursor on it. */
static int parse_regex(parser_t *ps, node_t *n)
{
    char delim;
    const char *start, *end, *err;
    char *pattern;
    int icase = 0;

    skip_ws(ps);
    if (*ps->s == '/') {
        delim = '/';
        ps->s++;
    } else if (*ps->s == 'm' && ps->s[1] != '\0' &&
               !isalnum((unsigned char)ps->s[1]) && ps->s[1] != ' ') {
        delim = ps->s[1];
        ps->s += 2;
    } else {
        fail(ps, "a regular expression (/regex/ or m#regex#)");
        return 0;
    }
    start = ps->s;
    for (end = start; *end && *end != delim; end++) {
        if (*end == '\\' && end[1] != '\0') {
            end++;
        }
    }
    if (*end != delim) {
        fail(ps, apr_psprintf(ps->p, "a closing '%c' of the regular expression",
                              delim));
        return 0;
    }
    ps->s = end + 1;
    while (*ps->s == 'i') {
        icase = 1;
        ps->s++;
    }
    pattern = apr_pstrndup(ps->p, start, (apr_size_t)(end - start));
    n->re = rl_regex_compile(
        ps->p, icase ? apr_pstrcat(ps->p, "(?i)", pattern, NULL) : pattern,
        &err);
    if (n->re == NULL) {
        ps->s = start;
        fail(ps, apr_psprintf(ps->p, "a valid regular expression (%s)", err));
        return 0;
    }
    ps->has_regex = 1;
    return 1;
}

static node_t *new_node(parser_t *ps, node_kind_e kind)
{
    node_t *n = apr_pcalloc(ps->p, sizeof(*n));
    n->kind = kind;
    return n;
}

/* An address pattern given as a literal is parsed once, here. */
static int literal_ipmatch(parser_t *ps, node_t *n, word_t *w)
{
    const char *err;

    if (w->kind != W_LIT) {
        return 1; /* built per request: parsed at evaluation */
    }
    n->ip = rl_ipmatch_parse(ps->p, w->lit, &err);
    if (n->ip == NULL) {
        fail(ps, apr_psprintf(ps->p, "an address pattern (%s)", err));
        return 0;
    }
    return 1;
}

static node_t *parse_or(parser_t *ps);

static node_t *parse_comparison(parser_t *ps)
{
    static const struct {
        const char *tok;
        node_kind_e kind;
        int accept;
    } ops[] = {
        {"==", N_STR_CMP, CMP_EQ},          {"!=", N_STR_CMP, CMP_LT | CMP_GT},
        {"<=", N_STR_CMP, CMP_LT | CMP_EQ}, {">=", N_STR_CMP, CMP_GT | CMP_EQ},
        {"<", N_STR_CMP, CMP_LT},           {">", N_STR_CMP, CMP_GT},
        {"-eq", N_INT_CMP, CMP_EQ},         {"-ne", N_INT_CMP, CMP_LT | CMP_GT},
        {"-lt", N_INT_CMP, CMP_LT},         {"-le", N_INT_CMP, CMP_LT | CMP_EQ},
        {"-gt", N_INT_CMP, CMP_GT},         {"-ge", N_INT_CMP, CMP_GT | CMP_EQ},
        {"-ipmatch", N_IPMATCH, 0},         {"-strmatch", N_STRMATCH, 0},
        {"-strcmatch", N_STRCMATCH, 0},     {NULL, N_TRUE, 0}};
    word_t *l = parse_word(ps);
    node_t *n;
    int i;

    if (l == NULL) {
        return NULL;
    }
    if (accept_tok(ps, "=~") || accept_tok(ps, "!~")) {
        n = new_node(ps, N_REGEX);
        n->accept = ps->s[-2] == '=';
        n->l = l;
        return parse_regex(ps, n) ? n : NULL;
    }
    if (accept_tok(ps, "in")) {
        word_t **tail;
        n = new_node(ps, N_IN);
        n->l = l;
        if (!accept_tok(ps, "{")) {
            return fail(ps, "'{' starting the list after 'in'");
        }
        tail = &n->r;
        do {
            *tail = parse_word(ps);
            if (*tail == NULL) {
                return NULL;
            }
            tail = &(*tail)->next;
        } while (accept_tok(ps, ","));
        if (!accept_tok(ps, "}")) {
            return fail(ps, "',' or '}' in the list after 'in'");
        }
        return n;
    }
    for (i = 0; ops[i].tok != NULL; i++) {
        if (accept_tok(ps, ops[i].tok)) {
            break;
        }
    }
    if (ops[i].tok == NULL) {
        return fail(ps, "a comparison (==, !=, =~, -ipmatch, in {…} …) after "
                        "the word");
    }
    n = new_node(ps, ops[i].kind);
    n->accept = ops[i].accept;
    n->l = l;
    n->r = parse_word(ps);
    if (n->r == NULL) {
        return NULL;
    }
    if (n->kind == N_IPMATCH && !literal_ipmatch(ps, n, n->r)) {
        return NULL;
    }
    return n;
}

static node_t *parse_unary(parser_t *ps)
{
    node_t *n;

    if (++ps->depth > EXPR_MAX_DEPTH) {
        return fail(ps, "less nesting (at most 64 levels of '(' and '!')");
    }
    skip_ws(ps);
    if (accept_tok(ps, "!")) {
        n = new_node(ps, N_NOT);
        n->a = parse_unary(ps);
        n = n->a ? n : NULL;
    } else if (accept_tok(ps, "(")) {
        n = parse_or(ps);
        if (n != NULL && !accept_tok(ps, ")")) {
            n = fail(ps, "')' or an operator (&&, ||)");
        }
    } else if (accept_tok(ps, "true")) {
        n = new_node(ps, N_TRUE);
    } else if (accept_tok(ps, "false")) {
        n = new_node(ps, N_FALSE);
    } else if (accept_tok(ps, "-n") || accept_tok(ps, "-z")) {
        n = new_node(ps, ps->s[-1] == 'n' ? N_NONEMPTY : N_EMPTY);
        n->l = parse_word(ps);
        n = n->l ? n : NULL;
    } else if (accept_tok(ps, "-R")) {
        n = new_node(ps, N_REMOTE);
        n->r = parse_word(ps);
        if (n->r == NULL || !literal_ipmatch(ps, n, n->r)) {
            n = NULL;
        }
    } else {
        n = parse_comparison(ps);
    }
    ps->depth--;
    return n;
}

static node_t *parse_and(parser_t *ps)
{
    node_t *n = parse_unary(ps);

    while (n != NULL && accept_tok(ps, "&&")) {
        node_t *both = new_node(ps, N_AND);
        both->a = n;
        both->b = parse_unary(ps);
        n = both->b ? both : NULL;
    }
    return n;
}

static node_t *parse_or(parser_t *ps)
{
    node_t *n = parse_and(ps);

    while (n != NULL && accept_tok(ps, "||")) {
        node_t *either = new_node(ps, N_OR);
        either->a = n;
        either->b = parse_and(ps);
        n = either->b ? either : NULL;
    }
    return n;
}

static apr_status_t mctx_cleanup(void *data)
{
    pcre2_match_context_free(data);
    return APR_SUCCESS;
}

RL_DECLARE(rl_expr_t *)
rl_expr_parse(apr_pool_t *p, const char *text, const char **err)
{
    parser_t ps;
    rl_expr_t *e;
    const char *s = text;
    apr_size_t n;

    memset(&ps, 0, sizeof(ps));
    ps.p = p;
    /* httpd allows the whole expression in braces (ProxyHCExpr style) */
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
        n--;
    }
    if (n >= 2 && s[0] == '{' && s[n - 1] == '}') {
        s++;
        n -= 2;
    }
    ps.text = ps.s = apr_pstrndup(p, s, n);
    skip_ws(&ps);
    if (*ps.s == '\0') {
        *err = "the expression is empty";
        return NULL;
    }
    e = apr_pcalloc(p, sizeof(*e));
    e->source = ps.text;
    e->root = parse_or(&ps);
    if (e->root != NULL) {
        skip_ws(&ps);
        if (*ps.s != '\0') {
            fail(&ps, "an operator (&&, ||) or the end of the expression");
            e->root = NULL;
        }
    }
    if (e->root == NULL) {
        *err = ps.err ? ps.err : "invalid expression";
        return NULL;
    }
    if (ps.has_regex) {
        e->mctx = pcre2_match_context_create(NULL);
        if (e->mctx != NULL) {
            apr_pool_cleanup_register(p, e->mctx, mctx_cleanup,
                                      apr_pool_cleanup_null);
            pcre2_set_match_limit(e->mctx, EXPR_MATCH_LIMIT);
            pcre2_set_depth_limit(e->mctx, EXPR_DEPTH_LIMIT);
        }
    }
    return e;
}

RL_DECLARE(const char *) rl_expr_source(const rl_expr_t *e)
{
    return e->source;
}

/* ----------------------------------------------------------- evaluation */

typedef struct {
    rl_request_t *r;
    const rl_expr_t *e;
    const char *err;
    apr_time_exp_t tm;
    int have_tm;
} eval_t;

static const char *num_str(eval_t *ev, long v)
{
    return apr_ltoa(ev->r->pool, v);
}

static const char *time_part(eval_t *ev, int id)
{
    if (!ev->have_tm) {
        apr_time_exp_lt(&ev->tm, apr_time_now());
        ev->have_tm = 1;
    }
    switch (id) {
    case V_TIME:
        return apr_psprintf(ev->r->pool, "%04d%02d%02d%02d%02d%02d",
                            ev->tm.tm_year + 1900, ev->tm.tm_mon + 1,
                            ev->tm.tm_mday, ev->tm.tm_hour, ev->tm.tm_min,
                            ev->tm.tm_sec);
    case V_TIME_YEAR:
        return num_str(ev, ev->tm.tm_year + 1900);
    case V_TIME_MON:
        return apr_psprintf(ev->r->pool, "%02d", ev->tm.tm_mon + 1);
    case V_TIME_DAY:
        return apr_psprintf(ev->r->pool, "%02d", ev->tm.tm_mday);
    case V_TIME_HOUR:
        return apr_psprintf(ev->r->pool, "%02d", ev->tm.tm_hour);
    case V_TIME_MIN:
        return apr_psprintf(ev->r->pool, "%02d", ev->tm.tm_min);
    case V_TIME_SEC:
        return apr_psprintf(ev->r->pool, "%02d", ev->tm.tm_sec);
    default:
        return num_str(ev, ev->tm.tm_wday);
    }
}

static const char *env_value(rl_request_t *r, const char *name)
{
    const char *v = apr_table_get(r->subprocess_env, name);
    return v ? v : "";
}

static const char *var_value(eval_t *ev, const word_t *w)
{
    rl_request_t *r = ev->r;
    const char *v;

    switch ((var_e)w->id) {
    case V_HTTP:
        v = apr_table_get(r->headers_in, w->lit);
        return v ? v : "";
    case V_ENV:
        return env_value(r, w->lit);
    case V_METHOD:
        return r->method;
    case V_URI:
        return r->uri ? r->uri : "";
    case V_QUERY:
        return r->args ? r->args : "";
    case V_THE_REQUEST:
        return r->the_request ? r->the_request : "";
    case V_SCHEME:
        return rl_conn_is_https(r->connection) ? "https" : "http";
    case V_HTTPS:
        return rl_conn_is_https(r->connection) ? "on" : "off";
    case V_SSL:
        v = rl_ssl_var(r, w->lit);
        return v ? v : "";
    case V_PROTOCOL:
        return r->protocol ? r->protocol : "";
    case V_SERVER_NAME:
        return r->hostname
                   ? r->hostname
                   : (r->server->server_name ? r->server->server_name : "");
    case V_SERVER_PORT:
        return num_str(ev, r->connection->local_port);
    case V_REMOTE_ADDR:
        return r->connection->client_ip;
    case V_REMOTE_PORT:
        return num_str(ev, r->connection->client_port);
    case V_REMOTE_USER:
        return r->user ? r->user : "";
    case V_STATUS:
        return num_str(ev, r->status);
    default:
        return time_part(ev, w->id);
    }
}

static const char *word_value(eval_t *ev, const word_t *w);

static const char *func_value(eval_t *ev, const word_t *w)
{
    const char *arg = word_value(ev, w->arg);
    apr_pool_t *p = ev->r->pool;
    char *out, *q;

    switch ((func_e)w->id) {
    case F_TOLOWER:
    case F_TOUPPER:
        out = apr_pstrdup(p, arg);
        for (q = out; *q; q++) {
            *q = (char)(w->id == F_TOLOWER ? tolower((unsigned char)*q)
                                           : toupper((unsigned char)*q));
        }
        return out;
    case F_ESCAPE:
        return apr_pescape_path_segment(p, arg);
    case F_UNESCAPE: {
        const char *u = apr_punescape_url(p, arg, NULL, NULL, 0);
        return u ? u : arg; /* malformed %xx: left as it was */
    }
    case F_REQ:
        arg = apr_table_get(ev->r->headers_in, arg);
        return arg ? arg : "";
    case F_RESP: {
        const char *v = apr_table_get(ev->r->headers_out, arg);
        if (v == NULL && strcasecmp(arg, "Content-Type") == 0) {
            v = ev->r->content_type; /* the core keeps it out of the table */
        }
        if (v == NULL) {
            v = apr_table_get(ev->r->err_headers_out, arg);
        }
        return v ? v : "";
    }
    default:
        return env_value(ev->r, arg);
    }
}

static const char *word_value(eval_t *ev, const word_t *w)
{
    switch (w->kind) {
    case W_LIT:
        return w->lit;
    case W_VAR:
        return var_value(ev, w);
    case W_FUNC:
        return func_value(ev, w);
    default: {
        const word_t *part;
        char *out = "";
        for (part = w->parts; part != NULL; part = part->next) {
            out = apr_pstrcat(ev->r->pool, out, word_value(ev, part), NULL);
        }
        return out;
    }
    }
}

static int to_long(eval_t *ev, const char *s, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0) {
        ev->err = apr_psprintf(ev->r->pool, "'%s' is not an integer", s);
        return 0;
    }
    return 1;
}

static int cmp_bit(int c)
{
    return c < 0 ? CMP_LT : c == 0 ? CMP_EQ : CMP_GT;
}

static int regex_match(eval_t *ev, const node_t *n, const char *s)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(n->re, NULL);
    int rc;

    if (md == NULL) {
        ev->err = "out of memory matching a regular expression";
        return -1;
    }
    rc = pcre2_match(n->re, (PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0, 0, md,
                     ev->e->mctx);
    pcre2_match_data_free(md);
    if (rc >= 0) {
        return 1;
    }
    if (rc == PCRE2_ERROR_NOMATCH) {
        return 0;
    }
    ev->err = rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT
                  ? "the regular expression went past its match limit"
                  : "the regular expression could not be matched";
    return -1;
}

static int ip_match(eval_t *ev, const node_t *n, const char *addr)
{
    const rl_ipmatch_t *m = n->ip;

    if (m == NULL) {
        const char *err;
        const char *pattern = word_value(ev, n->r);
        m = rl_ipmatch_parse(ev->r->pool, pattern, &err);
        if (m == NULL) {
            ev->err = apr_psprintf(ev->r->pool,
                                   "'%s' is not an address "
                                   "pattern: %s",
                                   pattern, err);
            return -1;
        }
    }
    return rl_ipmatch(m, addr);
}

static int eval_node(eval_t *ev, const node_t *n)
{
    int a, b;
    long la, lb;
    const char *s;
    const word_t *item;

    switch (n->kind) {
    case N_TRUE:
        return 1;
    case N_FALSE:
        return 0;
    case N_NOT:
        a = eval_node(ev, n->a);
        return a < 0 ? a : !a;
    case N_AND:
        a = eval_node(ev, n->a);
        return a <= 0 ? a : eval_node(ev, n->b);
    case N_OR:
        a = eval_node(ev, n->a);
        return a != 0 ? a : eval_node(ev, n->b);
    case N_STR_CMP:
        return (cmp_bit(strcmp(word_value(ev, n->l), word_value(ev, n->r))) &
                n->accept) != 0;
    case N_INT_CMP:
        if (!to_long(ev, word_value(ev, n->l), &la) ||
            !to_long(ev, word_value(ev, n->r), &lb)) {
            return -1;
        }
        return (cmp_bit(la < lb ? -1 : la > lb) & n->accept) != 0;
    case N_REGEX:
        a = regex_match(ev, n, word_value(ev, n->l));
        return a < 0 ? a : a == n->accept;
    case N_IPMATCH:
        return ip_match(ev, n, word_value(ev, n->l));
    case N_REMOTE:
        return ip_match(ev, n, ev->r->connection->client_ip);
    case N_STRMATCH:
    case N_STRCMATCH:
        return fnmatch(word_value(ev, n->r), word_value(ev, n->l),
                       n->kind == N_STRCMATCH ? FNM_CASEFOLD : 0) == 0;
    case N_IN:
        s = word_value(ev, n->l);
        for (item = n->r; item != NULL; item = item->next) {
            if (strcmp(s, word_value(ev, item)) == 0) {
                return 1;
            }
        }
        return 0;
    case N_NONEMPTY:
    case N_EMPTY:
        b = word_value(ev, n->l)[0] != '\0';
        return n->kind == N_NONEMPTY ? b : !b;
    }
    return 0;
}

RL_DECLARE(int)
rl_expr_eval(rl_request_t *r, const rl_expr_t *e, const char **err)
{
    eval_t ev;
    int rc;

    memset(&ev, 0, sizeof(ev));
    ev.r = r;
    ev.e = e;
    rc = eval_node(&ev, e->root);
    if (rc < 0) {
        *err = ev.err ? ev.err : "cannot be evaluated";
    }
    return rc;
}
