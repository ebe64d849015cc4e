/*
 * hc_expr.c: the expression language of ProxyHCExpr, the part of httpd's
 * ap_expr that a health check needs, parsed by recursive descent into a
 * tree (in the configuration pool) and evaluated over one response.
 *
 *   expr     ::= or
 *   or       ::= and { "||" and }
 *   and      ::= unary { "&&" unary }
 *   unary    ::= "!" unary | primary
 *   primary  ::= "true" | "false" | "(" expr ")" | cond
 *   cond     ::= ("-n" | "-z") word
 *              | word cmpop word
 *              | word ("=~" | "!~") regex
 *              | word ("-in" | "in") "{" word { "," word } "}"
 *   cmpop    ::= "==" | "=" | "!=" | "<" | "<=" | ">" | ">="   (strings)
 *              | "-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge" (integers)
 *              | "eq" | "ne" | "lt" | "le" | "gt" | "ge"       (integers)
 *   word     ::= digits | "-" digits | "'" chars "'" | '"' chars '"'
 *              | "%{" variable "}" | function "(" string ")"
 *   variable ::= REQUEST_STATUS | REQUEST_METHOD | HC_BODY
 *   function ::= hc ('body' or 'status') | resp (a header name)
 *   regex    ::= "/" chars "/" [ "i" ] | "m" delim chars delim [ "i" ]
 *
 * As in httpd, == != < <= > >= compare strings (bytes) and -eq … -ge
 * compare integers; && binds tighter than ||, and ! tighter than both.
 * Inside a string, a backslash makes the next character literal.
 * A regular expression is PCRE2; \delim stands for the delimiter.
 *
 * No module state: everything lives in the hc_expr_t, so the fuzzer links
 * this file (and hc_response.c) alone.  Evaluation allocates nothing: a
 * regular expression has its own match data (the watchdog evaluates one
 * expression at a time) and a match limit, so that a pathological pattern
 * over a 64 KiB body cannot stall the checks of the other members.
 */
#include "hc_expr.h"

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <pcre2.h>
#include <stdarg.h>
#include <string.h>

/* Nesting of parentheses and ! (the parser and the evaluator recurse). */
#define MAX_DEPTH 64
/* PCRE2 limits per match (backtracking steps, and their depth). */
#define MATCH_LIMIT 1000000u
#define DEPTH_LIMIT 10000u

enum word_kind { W_LIT, W_STATUS, W_METHOD, W_BODY, W_HEADER };

typedef struct word_t {
    enum word_kind kind;
    const char *s; /* literal, or header name (NUL-terminated) */
    apr_size_t n;
} word_t;

enum node_kind {
    N_TRUE,
    N_FALSE,
    N_NOT,
    N_AND,
    N_OR,
    N_CMP,
    N_REGEX,
    N_IN,
    N_EMPTY,
    N_NONEMPTY
};

enum cmp_op {
    OP_SEQ,
    OP_SNE,
    OP_SLT,
    OP_SLE,
    OP_SGT,
    OP_SGE,
    OP_IEQ,
    OP_INE,
    OP_ILT,
    OP_ILE,
    OP_IGT,
    OP_IGE
};

typedef struct node_t node_t;
struct node_t {
    enum node_kind kind;
    int op;        /* N_CMP: enum cmp_op; N_REGEX: 1 for !~ */
    node_t **kids; /* N_NOT (1), N_AND, N_OR */
    int nkids;
    word_t *a, *b; /* operands */
    word_t **list; /* N_IN */
    int nlist;
    pcre2_code *re; /* N_REGEX */
    pcre2_match_data *md;
    const char *re_src;
};

struct hc_expr_t {
    node_t *root;
    unsigned uses;
    pcre2_match_context *mctx;
};

/* ------------------------------------------------------------------ */
/* Tokens                                                             */
/* ------------------------------------------------------------------ */

enum tok_kind {
    T_END,
    T_BAD,
    T_LPAREN,
    T_RPAREN,
    T_LBRACE,
    T_RBRACE,
    T_COMMA,
    T_AND,
    T_OR,
    T_NOT,
    T_CMP,
    T_MATCH,
    T_NMATCH,
    T_IN,
    T_EMPTY,
    T_NONEMPTY,
    T_INT,
    T_STR,
    T_VAR,
    T_IDENT
};

typedef struct token_t {
    enum tok_kind kind;
    apr_size_t start, end; /* [start, end) in the text */
    int op;                /* T_CMP */
    const char *val;       /* T_STR (unescaped), T_INT, T_VAR, T_IDENT */
    apr_size_t vlen;
    const char *bad; /* T_BAD: what is wrong */
} token_t;

typedef struct parser_t {
    apr_pool_t *p;
    const char *s;
    apr_size_t len, pos;
    apr_size_t origin; /* index of character number 1 */
    int depth;
    const char *err;
    hc_expr_t *e;
} parser_t;

static void *fail(parser_t *ps, apr_size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void *fail(parser_t *ps, apr_size_t at, const char *fmt, ...)
{
    if (ps->err == NULL) {
        va_list ap;
        va_start(ap, fmt);
        ps->err = apr_psprintf(ps->p, "at character %lu: %s",
                               (unsigned long)(at + 1 - ps->origin),
                               apr_pvsprintf(ps->p, fmt, ap));
        va_end(ap);
    }
    return NULL;
}


static int is_ident(char c)
{
    return apr_isalnum(c) || c == '_';
}


static int cmp_word_op(const char *w, apr_size_t n)
{
    static const char *const names[] = {"eq", "ne", "lt", "le", "gt", "ge"};
    int i;

    for (i = 0; i < 6 && n == 2; i++) {
        if (memcmp(w, names[i], 2) == 0) {
            return OP_IEQ + i;
        }
    }
    return -1;
}


/* Reads the token at ps->pos (after white space), without consuming it. */
static void lex(parser_t *ps, token_t *t)
{
    const char *s = ps->s;
    apr_size_t i = ps->pos, len = ps->len;

    while (i < len && apr_isspace(s[i])) {
        i++;
    }
    memset(t, 0, sizeof(*t));
    t->start = i;
    t->end = i + 1;
    if (i >= len) {
        t->kind = T_END;
        t->end = i;
        return;
    }
    switch (s[i]) {
    case '(':
        t->kind = T_LPAREN;
        return;
    case ')':
        t->kind = T_RPAREN;
        return;
    case '{':
        t->kind = T_LBRACE;
        return;
    case '}':
        t->kind = T_RBRACE;
        return;
    case ',':
        t->kind = T_COMMA;
        return;
    case '&':
    case '|':
        if (i + 1 < len && s[i + 1] == s[i]) {
            t->kind = s[i] == '&' ? T_AND : T_OR;
            t->end = i + 2;
            return;
        }
        t->kind = T_BAD;
        t->bad = s[i] == '&' ? "found '&' (and is &&)" : "found '|' (or is ||)";
        return;
    case '!':
        if (i + 1 < len && (s[i + 1] == '=' || s[i + 1] == '~')) {
            t->kind = s[i + 1] == '=' ? T_CMP : T_NMATCH;
            t->op = OP_SNE;
            t->end = i + 2;
            return;
        }
        t->kind = T_NOT;
        return;
    case '=':
        t->kind = T_CMP;
        t->op = OP_SEQ;
        if (i + 1 < len && (s[i + 1] == '=' || s[i + 1] == '~')) {
            t->kind = s[i + 1] == '=' ? T_CMP : T_MATCH;
            t->end = i + 2;
        }
        return;
    case '<':
    case '>':
        t->kind = T_CMP;
        t->op = s[i] == '<' ? OP_SLT : OP_SGT;
        if (i + 1 < len && s[i + 1] == '=') {
            t->op = s[i] == '<' ? OP_SLE : OP_SGE;
            t->end = i + 2;
        }
        return;
    case '%':
        if (i + 1 < len && s[i + 1] == '{') {
            const char *close = memchr(s + i + 2, '}', len - i - 2);
            if (close == NULL) {
                t->kind = T_BAD;
                t->bad = "found %{ without its closing }";
                return;
            }
            t->kind = T_VAR;
            t->val = s + i + 2;
            t->vlen = (apr_size_t)(close - t->val);
            t->end = (apr_size_t)(close - s) + 1;
            return;
        }
        break;
    case '\'':
    case '"': {
        char q = s[i], *out = apr_palloc(ps->p, len - i);
        apr_size_t j = i + 1, o = 0;
        while (j < len && s[j] != q) {
            if (s[j] == '\\' && j + 1 < len) {
                j++;
            }
            out[o++] = s[j++];
        }
        if (j >= len) {
            t->kind = T_BAD;
            t->bad = q == '\'' ? "found a string without its closing '"
                               : "found a string without its closing \"";
            return;
        }
        out[o] = '\0';
        t->kind = T_STR;
        t->val = out;
        t->vlen = o;
        t->end = j + 1;
        return;
    }
    case '-':
        if (i + 1 < len && apr_isdigit(s[i + 1])) {
            break; /* a negative number */
        }
        {
            apr_size_t j = i + 1;
            while (j < len && apr_isalpha(s[j])) {
                j++;
            }
            t->end = j;
            if (j - i == 2 && (s[i + 1] == 'n' || s[i + 1] == 'z')) {
                t->kind = s[i + 1] == 'n' ? T_NONEMPTY : T_EMPTY;
                return;
            }
            if (j - i == 3 && s[i + 1] == 'i' && s[i + 2] == 'n') {
                t->kind = T_IN;
                return;
            }
            t->op = cmp_word_op(s + i + 1, j - i - 1);
            if (t->op >= 0 && (j >= len || !is_ident(s[j]))) {
                t->kind = T_CMP;
                return;
            }
            t->kind = T_BAD;
            t->bad = apr_psprintf(ps->p,
                                  "found an unknown operator '%.*s' (known: "
                                  "-eq, -ne, -lt, -le, -gt, -ge, -in, -n, -z)",
                                  (int)(j - i > 20 ? 20 : j - i), s + i);
            return;
        }
    default:
        break;
    }
    if (apr_isdigit(s[i]) || s[i] == '-') {
        apr_size_t j = i + 1;
        while (j < len && apr_isdigit(s[j])) {
            j++;
        }
        if (j < len && is_ident(s[j])) {
            t->kind = T_BAD;
            t->bad = "found a number followed by letters (quote a string: "
                     "'abc')";
            return;
        }
        t->kind = T_INT;
        t->val = apr_pstrndup(ps->p, s + i, j - i);
        t->vlen = j - i;
        t->end = j;
        return;
    }
    if (apr_isalpha(s[i]) || s[i] == '_') {
        apr_size_t j = i + 1;
        while (j < len && is_ident(s[j])) {
            j++;
        }
        t->end = j;
        t->val = s + i;
        t->vlen = j - i;
        t->op = cmp_word_op(s + i, j - i);
        if (t->op >= 0) {
            t->kind = T_CMP;
        } else if (j - i == 2 && memcmp(s + i, "in", 2) == 0) {
            t->kind = T_IN;
        } else {
            t->kind = T_IDENT;
        }
        return;
    }
    t->kind = T_BAD;
    t->bad = apr_isprint(s[i])
                 ? apr_psprintf(ps->p, "found an unexpected '%c'", s[i])
                 : apr_psprintf(ps->p, "found an unexpected byte 0x%02x",
                                (unsigned)(unsigned char)s[i]);
}


/* "found ..." for error messages. */
static const char *found(parser_t *ps, const token_t *t)
{
    apr_size_t n = t->end - t->start;
    const char *s = ps->s + t->start;
    int k;

    if (t->kind == T_END) {
        return "found the end of the expression";
    }
    if (t->kind == T_BAD) {
        return t->bad;
    }
    /* up to 24 printable characters of the token */
    for (k = 0; k < 24 && (apr_size_t)k < n && apr_isprint(s[k]); k++) {
    }
    if (t->kind == T_STR) { /* already quoted */
        return apr_psprintf(ps->p, "found %.*s%s", k, s,
                            (apr_size_t)k < n ? "..." : "");
    }
    return apr_psprintf(ps->p, "found '%.*s%s'", k, s,
                        (apr_size_t)k < n ? "..." : "");
}


/* ------------------------------------------------------------------ */
/* Parser                                                             */
/* ------------------------------------------------------------------ */

static node_t *parse_or(parser_t *ps);

static node_t *new_node(parser_t *ps, enum node_kind kind)
{
    node_t *n = apr_pcalloc(ps->p, sizeof(*n));

    n->kind = kind;
    return n;
}


static word_t *parse_word(parser_t *ps)
{
    token_t t, u;
    word_t *w = apr_pcalloc(ps->p, sizeof(*w));

    lex(ps, &t);
    switch (t.kind) {
    case T_INT:
    case T_STR:
        ps->pos = t.end;
        w->kind = W_LIT;
        w->s = t.val;
        w->n = t.vlen;
        return w;
    case T_VAR:
        ps->pos = t.end;
        if (t.vlen == 14 && memcmp(t.val, "REQUEST_STATUS", 14) == 0) {
            w->kind = W_STATUS;
            ps->e->uses |= HC_EXPR_USES_STATUS;
        } else if (t.vlen == 14 && memcmp(t.val, "REQUEST_METHOD", 14) == 0) {
            w->kind = W_METHOD;
        } else if (t.vlen == 7 && memcmp(t.val, "HC_BODY", 7) == 0) {
            w->kind = W_BODY;
            ps->e->uses |= HC_EXPR_USES_BODY;
        } else {
            return fail(ps, t.start,
                        "unknown variable %%{%.*s} (known: REQUEST_STATUS, "
                        "REQUEST_METHOD, HC_BODY)",
                        (int)(t.vlen > 40 ? 40 : t.vlen), t.val);
        }
        return w;
    case T_IDENT: {
        int is_hc = t.vlen == 2 && strncasecmp(t.val, "hc", 2) == 0;
        int is_resp = t.vlen == 4 && strncasecmp(t.val, "resp", 4) == 0;
        token_t arg;

        ps->pos = t.end;
        lex(ps, &u);
        if (u.kind != T_LPAREN) {
            if ((t.vlen == 4 && memcmp(t.val, "true", 4) == 0) ||
                (t.vlen == 5 && memcmp(t.val, "false", 5) == 0)) {
                return fail(ps, t.start,
                            "expected a value (a number, a 'string', "
                            "%%{VARIABLE} or a function), found '%.*s' "
                            "(true and false are conditions, not values)",
                            (int)t.vlen, t.val);
            }
            return fail(ps, t.start,
                        "expected a value (a number, a 'string', "
                        "%%{VARIABLE} or a function), found '%.*s' (quote "
                        "a string: '%.*s')",
                        (int)(t.vlen > 24 ? 24 : t.vlen), t.val,
                        (int)(t.vlen > 24 ? 24 : t.vlen), t.val);
        }
        if (!is_hc && !is_resp) {
            return fail(ps, t.start,
                        "unknown function %.*s() (known: hc, resp)",
                        (int)(t.vlen > 24 ? 24 : t.vlen), t.val);
        }
        ps->pos = u.end;
        lex(ps, &arg);
        if (arg.kind != T_STR) {
            return fail(ps, arg.start, "%s() takes a quoted string, %s",
                        is_hc ? "hc" : "resp", found(ps, &arg));
        }
        ps->pos = arg.end;
        if (is_hc) {
            if (strcasecmp(arg.val, "body") == 0) {
                w->kind = W_BODY;
                ps->e->uses |= HC_EXPR_USES_BODY;
            } else if (strcasecmp(arg.val, "status") == 0) {
                w->kind = W_STATUS;
                ps->e->uses |= HC_EXPR_USES_STATUS;
            } else {
                return fail(ps, arg.start, "hc() takes 'body' or 'status', %s",
                            found(ps, &arg));
            }
        } else {
            if (arg.vlen == 0 || strlen(arg.val) != arg.vlen ||
                strpbrk(arg.val, ": \t\r\n") != NULL) {
                return fail(ps, arg.start,
                            "resp() takes the name of a header field");
            }
            w->kind = W_HEADER;
            w->s = arg.val;
            w->n = arg.vlen;
            ps->e->uses |= HC_EXPR_USES_HEADERS;
        }
        lex(ps, &u);
        if (u.kind != T_RPAREN) {
            return fail(ps, u.start,
                        "expected ')' after the argument of %s(), %s",
                        is_hc ? "hc" : "resp", found(ps, &u));
        }
        ps->pos = u.end;
        return w;
    }
    default:
        return fail(ps, t.start,
                    "expected a value (a number, a 'string', %%{VARIABLE} or "
                    "a function), %s",
                    found(ps, &t));
    }
}


static apr_status_t regex_cleanup(void *data)
{
    node_t *n = data;

    pcre2_match_data_free(n->md);
    pcre2_code_free(n->re);
    return APR_SUCCESS;
}


/* /regex/[i] or m#regex#[i] at ps->pos, for node n. */
static node_t *parse_regex(parser_t *ps, node_t *n)
{
    const char *s = ps->s;
    apr_size_t i = ps->pos, start, j, relen;
    char delim;
    uint32_t opts = 0;
    int errcode;
    PCRE2_SIZE erroff;

    while (i < ps->len && apr_isspace(s[i])) {
        i++;
    }
    start = i;
    if (i < ps->len && s[i] == '/') {
        delim = '/';
        i++;
    } else if (i + 1 < ps->len && s[i] == 'm' && apr_ispunct(s[i + 1])) {
        delim = s[i + 1];
        i += 2;
    } else {
        token_t t;
        ps->pos = i;
        lex(ps, &t);
        return fail(ps, start,
                    "expected a regular expression (/regex/ or m#regex#), %s",
                    found(ps, &t));
    }
    for (j = i; j < ps->len && s[j] != delim; j++) {
        if (s[j] == '\\' && j + 1 < ps->len) {
            j++;
        }
    }
    if (j >= ps->len) {
        return fail(ps, start, "a regular expression without its closing %c",
                    delim);
    }
    relen = j - i;
    n->re_src = apr_pstrndup(ps->p, s + i, relen);
    for (j++; j < ps->len && is_ident(s[j]); j++) {
        if (s[j] != 'i') {
            return fail(ps, j,
                        "unknown regular expression flag '%c' (only i, "
                        "ignore case)",
                        apr_isprint(s[j]) ? s[j] : '?');
        }
        opts |= PCRE2_CASELESS;
    }
    n->re = pcre2_compile((PCRE2_SPTR)n->re_src, relen, opts, &errcode, &erroff,
                          NULL);
    if (n->re == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(errcode, msg, sizeof(msg));
        return fail(ps, start, "bad regular expression: %s (at offset %lu)",
                    (const char *)msg, (unsigned long)erroff);
    }
    n->md = pcre2_match_data_create_from_pattern(n->re, NULL);
    apr_pool_cleanup_register(ps->p, n, regex_cleanup, apr_pool_cleanup_null);
    if (n->md == NULL) {
        return fail(ps, start, "out of memory");
    }
    ps->pos = j;
    return n;
}


static node_t *parse_cond(parser_t *ps)
{
    token_t t;
    node_t *n;
    word_t *a;

    lex(ps, &t);
    if (t.kind == T_EMPTY || t.kind == T_NONEMPTY) {
        ps->pos = t.end;
        n = new_node(ps, t.kind == T_EMPTY ? N_EMPTY : N_NONEMPTY);
        n->a = parse_word(ps);
        return n->a ? n : NULL;
    }
    a = parse_word(ps);
    if (a == NULL) {
        return NULL;
    }
    lex(ps, &t);
    switch (t.kind) {
    case T_CMP:
        ps->pos = t.end;
        n = new_node(ps, N_CMP);
        n->op = t.op;
        n->a = a;
        n->b = parse_word(ps);
        return n->b ? n : NULL;
    case T_MATCH:
    case T_NMATCH:
        ps->pos = t.end;
        n = new_node(ps, N_REGEX);
        n->op = t.kind == T_NMATCH;
        n->a = a;
        return parse_regex(ps, n);
    case T_IN: {
        apr_array_header_t *list = apr_array_make(ps->p, 4, sizeof(word_t *));
        ps->pos = t.end;
        lex(ps, &t);
        if (t.kind != T_LBRACE) {
            return fail(ps, t.start, "expected '{' to open the list of -in, %s",
                        found(ps, &t));
        }
        ps->pos = t.end;
        for (;;) {
            word_t *w = parse_word(ps);
            if (w == NULL) {
                return NULL;
            }
            APR_ARRAY_PUSH(list, word_t *) = w;
            lex(ps, &t);
            ps->pos = t.end;
            if (t.kind == T_RBRACE) {
                break;
            }
            if (t.kind != T_COMMA) {
                return fail(ps, t.start, "expected ',' or '}' in the list, %s",
                            found(ps, &t));
            }
        }
        n = new_node(ps, N_IN);
        n->a = a;
        n->list = (word_t **)list->elts;
        n->nlist = list->nelts;
        return n;
    }
    default:
        return fail(ps, t.start,
                    "expected an operator (==, !=, <, <=, >, >=, -eq, -ne, "
                    "-lt, -le, -gt, -ge, =~, !~ or -in), %s",
                    found(ps, &t));
    }
}


static node_t *parse_primary(parser_t *ps)
{
    token_t t, u;
    node_t *n;

    lex(ps, &t);
    switch (t.kind) {
    case T_LPAREN:
        if (++ps->depth > MAX_DEPTH) {
            return fail(ps, t.start, "nested too deeply (more than %d levels)",
                        MAX_DEPTH);
        }
        ps->pos = t.end;
        n = parse_or(ps);
        if (n == NULL) {
            return NULL;
        }
        lex(ps, &u);
        if (u.kind != T_RPAREN) {
            return fail(ps, u.start,
                        "expected &&, || or the ')' that closes the '(' at "
                        "character %lu, %s",
                        (unsigned long)(t.start + 1 - ps->origin),
                        found(ps, &u));
        }
        ps->pos = u.end;
        ps->depth--;
        return n;
    case T_IDENT:
        if ((t.vlen == 4 && memcmp(t.val, "true", 4) == 0) ||
            (t.vlen == 5 && memcmp(t.val, "false", 5) == 0)) {
            ps->pos = t.end;
            lex(ps, &u);
            if (u.kind != T_LPAREN) {
                return new_node(ps, t.vlen == 4 ? N_TRUE : N_FALSE);
            }
            ps->pos = t.start;
        }
        return parse_cond(ps);
    case T_EMPTY:
    case T_NONEMPTY:
    case T_INT:
    case T_STR:
    case T_VAR:
        return parse_cond(ps);
    default:
        return fail(ps, t.start,
                    "expected a condition (a comparison, true, false, ! or "
                    "'('), %s",
                    found(ps, &t));
    }
}


static node_t *parse_unary(parser_t *ps)
{
    token_t t;
    node_t *n;

    lex(ps, &t);
    if (t.kind != T_NOT) {
        return parse_primary(ps);
    }
    if (++ps->depth > MAX_DEPTH) {
        return fail(ps, t.start, "nested too deeply (more than %d levels)",
                    MAX_DEPTH);
    }
    ps->pos = t.end;
    n = new_node(ps, N_NOT);
    n->kids = apr_palloc(ps->p, sizeof(node_t *));
    n->nkids = 1;
    n->kids[0] = parse_unary(ps);
    ps->depth--;
    return n->kids[0] ? n : NULL;
}


/* and ::= unary { "&&" unary }; or ::= and { "||" and } (n-ary nodes, so
 * that a long chain does not make a deep tree). */
static node_t *parse_chain(parser_t *ps, int is_or)
{
    enum tok_kind sep = is_or ? T_OR : T_AND;
    node_t *first = is_or ? parse_chain(ps, 0) : parse_unary(ps), *n;
    apr_array_header_t *kids;
    token_t t;

    if (first == NULL) {
        return NULL;
    }
    lex(ps, &t);
    if (t.kind != sep) {
        return first;
    }
    kids = apr_array_make(ps->p, 4, sizeof(node_t *));
    APR_ARRAY_PUSH(kids, node_t *) = first;
    while (t.kind == sep) {
        node_t *k;
        ps->pos = t.end;
        k = is_or ? parse_chain(ps, 0) : parse_unary(ps);
        if (k == NULL) {
            return NULL;
        }
        APR_ARRAY_PUSH(kids, node_t *) = k;
        lex(ps, &t);
    }
    n = new_node(ps, is_or ? N_OR : N_AND);
    n->kids = (node_t **)kids->elts;
    n->nkids = kids->nelts;
    return n;
}


static node_t *parse_or(parser_t *ps)
{
    return parse_chain(ps, 1);
}


static apr_status_t mctx_cleanup(void *data)
{
    pcre2_match_context_free(data);
    return APR_SUCCESS;
}


hc_expr_t *hc_expr_parse(apr_pool_t *p, const char *text, const char **err)
{
    parser_t ps;
    token_t t;
    int braced;

    memset(&ps, 0, sizeof(ps));
    ps.p = p;
    ps.s = text;
    ps.len = strlen(text);
    ps.e = apr_pcalloc(p, sizeof(*ps.e));
    while (ps.pos < ps.len && apr_isspace(text[ps.pos])) {
        ps.pos++;
    }
    braced = ps.pos < ps.len && text[ps.pos] == '{';
    if (braced) {
        ps.pos++;
    }
    ps.origin = ps.pos;
    lex(&ps, &t);
    if (t.kind == T_END || (braced && t.kind == T_RBRACE)) {
        fail(&ps, t.start, "the expression is empty");
    } else {
        ps.e->root = parse_or(&ps);
    }
    if (ps.e->root != NULL) {
        lex(&ps, &t);
        if (braced && t.kind == T_END) {
            fail(&ps, t.start, "expected &&, || or the closing '}', %s",
                 found(&ps, &t));
        } else if (braced && t.kind == T_RBRACE) {
            ps.pos = t.end;
            lex(&ps, &t);
            if (t.kind != T_END) {
                fail(&ps, t.start, "text after the closing '}', %s",
                     found(&ps, &t));
            }
        } else if (t.kind != T_END) {
            fail(&ps, t.start, "expected &&, ||%s, %s",
                 braced ? " or the closing '}'" : "", found(&ps, &t));
        }
    }
    if (ps.err == NULL) {
        ps.e->mctx = pcre2_match_context_create(NULL);
        if (ps.e->mctx == NULL) {
            fail(&ps, ps.origin, "out of memory");
        } else {
            apr_pool_cleanup_register(p, ps.e->mctx, mctx_cleanup,
                                      apr_pool_cleanup_null);
            pcre2_set_match_limit(ps.e->mctx, MATCH_LIMIT);
            pcre2_set_depth_limit(ps.e->mctx, DEPTH_LIMIT);
        }
    }
    if (ps.err != NULL) {
        *err = ps.err;
        return NULL;
    }
    *err = NULL;
    return ps.e;
}


unsigned hc_expr_uses(const hc_expr_t *e)
{
    return e->uses;
}


/* ------------------------------------------------------------------ */
/* Evaluation                                                         */
/* ------------------------------------------------------------------ */

typedef struct eval_t {
    const hc_expr_t *e;
    const hc_expr_input_t *in;
    char *errbuf;
    apr_size_t errlen;
} eval_t;

static void value(const word_t *w, const hc_expr_input_t *in, char tmp[16],
                  const char **s, apr_size_t *n)
{
    *s = "";
    *n = 0;
    switch (w->kind) {
    case W_LIT:
        *s = w->s;
        *n = w->n;
        break;
    case W_STATUS:
        if (in->status > 0) {
            *n = (apr_size_t)apr_snprintf(tmp, 16, "%d", in->status);
            *s = tmp;
        }
        break;
    case W_METHOD:
        if (in->method != NULL) {
            *s = in->method;
            *n = strlen(in->method);
        }
        break;
    case W_BODY:
        if (in->body != NULL) {
            *s = in->body;
            *n = in->body_len;
        }
        break;
    case W_HEADER:
        if (in->head != NULL) {
            const char *v = hc_response_header(in->head, in->head_len, w->s, n);
            *s = v ? v : "";
        }
        break;
    }
}


static int to_int(const char *s, apr_size_t n, apr_int64_t *v)
{
    apr_size_t i = 0;
    apr_int64_t x = 0;
    int neg = 0, digits = 0;

    while (i < n && apr_isspace(s[i])) {
        i++;
    }
    if (i < n && (s[i] == '-' || s[i] == '+')) {
        neg = s[i++] == '-';
    }
    while (i < n && apr_isdigit(s[i])) {
        if (++digits > 18) {
            return 0;
        }
        x = x * 10 + (s[i++] - '0');
    }
    while (i < n && apr_isspace(s[i])) {
        i++;
    }
    if (digits == 0 || i != n) {
        return 0;
    }
    *v = neg ? -x : x;
    return 1;
}


static int bytes_cmp(const char *a, apr_size_t an, const char *b, apr_size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);

    if (c != 0) {
        return c;
    }
    return an < bn ? -1 : an > bn;
}


static int eval_error(eval_t *ev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int eval_error(eval_t *ev, const char *fmt, ...)
{
    if (ev->errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        apr_vsnprintf(ev->errbuf, ev->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}


/* Up to 40 printable characters of a value, for messages. */
static int printable(const char *s, apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n && i < 40; i++) {
        if (!apr_isprint(s[i])) {
            return (int)i;
        }
    }
    return (int)i;
}


static int eval_node(const node_t *n, eval_t *ev)
{
    char ta[16], tb[16];
    const char *a, *b;
    apr_size_t an, bn;
    int i, r;

    switch (n->kind) {
    case N_TRUE:
        return 1;
    case N_FALSE:
        return 0;
    case N_NOT:
        r = eval_node(n->kids[0], ev);
        return r < 0 ? r : !r;
    case N_AND:
        for (i = 0; i < n->nkids; i++) {
            r = eval_node(n->kids[i], ev);
            if (r <= 0) {
                return r;
            }
        }
        return 1;
    case N_OR:
        for (i = 0; i < n->nkids; i++) {
            r = eval_node(n->kids[i], ev);
            if (r != 0) {
                return r;
            }
        }
        return 0;
    case N_EMPTY:
    case N_NONEMPTY:
        value(n->a, ev->in, ta, &a, &an);
        return (an == 0) == (n->kind == N_EMPTY);
    case N_CMP:
        value(n->a, ev->in, ta, &a, &an);
        value(n->b, ev->in, tb, &b, &bn);
        if (n->op >= OP_IEQ) {
            apr_int64_t x, y;
            if (!to_int(a, an, &x) || !to_int(b, bn, &y)) {
                const char *bad = to_int(a, an, &x) ? b : a;
                apr_size_t badn = bad == a ? an : bn;
                int k = printable(bad, badn);
                return eval_error(ev, "'%.*s%s' is not an integer", k, bad,
                                  (apr_size_t)k < badn ? "..." : "");
            }
            switch (n->op) {
            case OP_IEQ:
                return x == y;
            case OP_INE:
                return x != y;
            case OP_ILT:
                return x < y;
            case OP_ILE:
                return x <= y;
            case OP_IGT:
                return x > y;
            default:
                return x >= y;
            }
        }
        r = bytes_cmp(a, an, b, bn);
        switch (n->op) {
        case OP_SEQ:
            return r == 0;
        case OP_SNE:
            return r != 0;
        case OP_SLT:
            return r < 0;
        case OP_SLE:
            return r <= 0;
        case OP_SGT:
            return r > 0;
        default:
            return r >= 0;
        }
    case N_REGEX:
        value(n->a, ev->in, ta, &a, &an);
        r = pcre2_match(n->re, (PCRE2_SPTR)(an ? a : ""), an, 0, 0, n->md,
                        ev->e->mctx);
        if (r < 0 && r != PCRE2_ERROR_NOMATCH) {
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(r, msg, sizeof(msg));
            return eval_error(ev, "/%.60s/: %s", n->re_src, (const char *)msg);
        }
        return (r >= 0) != (n->op == 1);
    case N_IN:
        value(n->a, ev->in, ta, &a, &an);
        for (i = 0; i < n->nlist; i++) {
            value(n->list[i], ev->in, tb, &b, &bn);
            if (bytes_cmp(a, an, b, bn) == 0) {
                return 1;
            }
        }
        return 0;
    }
    return eval_error(ev, "bad expression tree");
}


int hc_expr_eval(const hc_expr_t *e, const hc_expr_input_t *in, char *errbuf,
                 apr_size_t errlen)
{
    eval_t ev;

    ev.e = e;
    ev.in = in;
    ev.errbuf = errbuf;
    ev.errlen = errlen;
    if (errlen > 0) {
        errbuf[0] = '\0';
    }
    return eval_node(e->root, &ev);
}
