/*
 * headers_value.c: the values of Header and RequestHeader, and the
 * $1..$9 substitution shared by edit/edit* and SetEnvIf.
 *
 * A value is literal text with httpd's mod_headers specifiers in it:
 *
 *   %%          a percent sign
 *   %t          t=<when the request's first byte arrived, microseconds
 *               since the epoch>, e.g. t=1767225600123456
 *   %D          D=<microseconds from then until now>, e.g. D=1532
 *   %{NAME}e    the request variable NAME (SetEnvIf, the proxy's
 *               BALANCER_*), else the process environment, else "(null)"
 *   %{NAME}s    an SSL variable (mod_ssl), "(null)" when unset,
 *               which is what httpd gives when the variable is unset
 *
 * and the backslash escapes \\ (a backslash) and \t (a tab).  The value
 * is parsed once, at start-up, into a list of pieces; a value without a
 * specifier costs nothing per request (hv_expand() returns the text).
 *
 * What a variable holds is put in with its control characters (CR, LF)
 * turned into spaces: a value can never split into two header fields.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "headers_private.h"

/** Kinds of pieces of a value. */
typedef enum hv_kind_e {
    HV_TEXT,     /**< literal text */
    HV_TIME,     /**< %t */
    HV_DURATION, /**< %D */
    HV_ENV,      /**< %{NAME}e */
    HV_SSL       /**< %{NAME}s */
} hv_kind_e;

typedef struct hv_item_t {
    hv_kind_e kind;
    const char *text; /**< the literal, or the variable's name */
    apr_size_t len;   /**< strlen(text) */
} hv_item_t;

struct hv_format_t {
    const char *source;   /**< as written */
    const char *constant; /**< the value when it has no specifier */
    hv_item_t *items;
    int nitems;
};

/* ------------------------------------------------------------------ */
/* A growing string in a pool                                          */
/* ------------------------------------------------------------------ */

typedef struct hv_buf_t {
    apr_pool_t *p;
    char *data;
    apr_size_t len, cap;
} hv_buf_t;

static void buf_add(hv_buf_t *b, const char *s, apr_size_t n)
{
    if (b->len + n + 1 > b->cap) {
        apr_size_t cap = b->cap ? b->cap * 2 : 64;
        char *data;

        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        data = apr_palloc(b->p, cap);
        if (b->len > 0) {
            memcpy(data, b->data, b->len);
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* Appends a variable's value, control characters as spaces. */
static void buf_add_clean(hv_buf_t *b, const char *s)
{
    apr_size_t start = b->len;
    apr_size_t n = strlen(s), i;

    buf_add(b, s, n);
    for (i = start; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            b->data[i] = ' ';
        }
    }
}

static const char *buf_str(hv_buf_t *b)
{
    return b->data ? b->data : "";
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

/* Moves the literal gathered so far into the item list. */
static void flush_text(apr_array_header_t *items, hv_buf_t *lit)
{
    hv_item_t *it;

    if (lit->len == 0) {
        return;
    }
    it = apr_array_push(items);
    it->kind = HV_TEXT;
    it->text = lit->data;
    it->len = lit->len;
    lit->data = NULL;
    lit->len = lit->cap = 0;
}

/* One specifier after its '%'; *sp points past it on success. */
static const char *parse_spec(apr_pool_t *p, const char **sp,
                              apr_array_header_t *items)
{
    const char *s = *sp, *arg = NULL;
    hv_item_t *it;

    if (*s == '{') {
        const char *end = strchr(s, '}');
        if (end == NULL) {
            return "'%{' without its closing '}'";
        }
        arg = apr_pstrndup(p, s + 1, (apr_size_t)(end - s - 1));
        s = end + 1;
    }
    switch (*s) {
    case 't':
    case 'D':
        if (arg != NULL) {
            return apr_psprintf(p,
                                "%%{%s}%c: %%%c takes no {argument} here "
                                "(%%t is always t=<microseconds since the "
                                "epoch>, %%D always D=<microseconds>)",
                                arg, *s, *s);
        }
        it = apr_array_push(items);
        it->kind = *s == 't' ? HV_TIME : HV_DURATION;
        it->text = NULL;
        it->len = 0;
        break;
    case 'e':
    case 's':
        if (arg == NULL || *arg == '\0') {
            return apr_psprintf(p, "%%%c needs a variable name: %%{NAME}%c", *s,
                                *s);
        }
        it = apr_array_push(items);
        it->kind = *s == 'e' ? HV_ENV : HV_SSL;
        it->text = arg;
        it->len = strlen(arg);
        break;
    case 'l':
    case 'i':
    case 'b':
        return apr_psprintf(p,
                            "%%%c (httpd's load average, idle and busy "
                            "percentages) is not supported by Relais",
                            *s);
    case '\0':
        if (arg != NULL) {
            return apr_psprintf(p,
                                "%%{%s} needs a letter after it: %%{%s}e "
                                "for a request or process variable, "
                                "%%{%s}s for an SSL variable",
                                arg, arg, arg);
        }
        return "a '%' ends the value (write %% for a percent sign)";
    default:
        return apr_psprintf(p,
                            "unknown format '%%%c' (expected %%%%, %%t, %%D, "
                            "%%{NAME}e or %%{NAME}s; write %%%% for a percent "
                            "sign)",
                            *s);
    }
    *sp = s + 1;
    return NULL;
}

const char *hv_parse(apr_pool_t *p, const char *text, hv_format_t **out)
{
    apr_array_header_t *items = apr_array_make(p, 4, sizeof(hv_item_t));
    hv_buf_t lit = {p, NULL, 0, 0};
    hv_format_t *f;
    const char *s = text;

    while (*s) {
        if (*s == '\\') {
            if (s[1] == '\\' || s[1] == 't') {
                buf_add(&lit, s[1] == 't' ? "\t" : "\\", 1);
                s += 2;
                continue;
            }
            if (s[1] == 'r' || s[1] == 'n') {
                return "\\r and \\n are refused in a header value: they "
                       "would split it into two header fields";
            }
            buf_add(&lit, s, 1); /* any other backslash stays as written */
            s++;
        } else if (*s != '%') {
            apr_size_t n = strcspn(s, "%\\");
            buf_add(&lit, s, n);
            s += n;
        } else if (s[1] == '%') {
            buf_add(&lit, "%", 1);
            s += 2;
        } else {
            const char *err;
            flush_text(items, &lit);
            s++;
            err = parse_spec(p, &s, items);
            if (err != NULL) {
                return err;
            }
        }
    }
    flush_text(items, &lit);
    f = apr_pcalloc(p, sizeof(*f));
    f->source = apr_pstrdup(p, text);
    f->items = (hv_item_t *)items->elts;
    f->nitems = items->nelts;
    if (f->nitems == 0) {
        f->constant = "";
    } else if (f->nitems == 1 && f->items[0].kind == HV_TEXT) {
        f->constant = f->items[0].text;
    }
    *out = f;
    return NULL;
}

const char *hv_source(const hv_format_t *f)
{
    return f->source;
}

/* ------------------------------------------------------------------ */
/* Expansion                                                           */
/* ------------------------------------------------------------------ */

const char *hv_expand(rl_request_t *r, const hv_format_t *f)
{
    hv_buf_t b = {r->pool, NULL, 0, 0};
    char num[48];
    int i;

    if (f->constant != NULL) {
        return f->constant;
    }
    for (i = 0; i < f->nitems; i++) {
        const hv_item_t *it = &f->items[i];
        const char *v;

        switch (it->kind) {
        case HV_TEXT:
            buf_add(&b, it->text, it->len);
            break;
        case HV_TIME:
            apr_snprintf(num, sizeof(num), "t=%" APR_TIME_T_FMT,
                         r->request_time);
            buf_add(&b, num, strlen(num));
            break;
        case HV_DURATION:
            apr_snprintf(num, sizeof(num), "D=%" APR_TIME_T_FMT,
                         apr_time_now() - r->request_time);
            buf_add(&b, num, strlen(num));
            break;
        case HV_ENV:
            v = apr_table_get(r->subprocess_env, it->text);
            if (v == NULL) {
                /* nothing sets the environment after start-up, so
                 * getenv() is safe from any thread here */
                v = getenv(it->text);
            }
            buf_add_clean(&b, v ? v : "(null)");
            break;
        case HV_SSL:
            /* mod_ssl's variable; "(null)" when unset or plain, as httpd */
            v = rl_ssl_var(r, it->text);
            buf_add_clean(&b, v ? v : "(null)");
            break;
        }
    }
    return buf_str(&b);
}

/* ------------------------------------------------------------------ */
/* Regular expressions                                                 */
/* ------------------------------------------------------------------ */

/* PCRE2 takes its memory from the request's pool: nothing to free. */
static void *pool_malloc(PCRE2_SIZE n, void *p)
{
    return apr_palloc(p, n);
}

static void pool_free(void *block, void *p)
{
    (void)block;
    (void)p;
}

pcre2_match_data *hv_match_data(rl_request_t *r)
{
    pcre2_match_data *md =
        rl_get_module_config(r->request_config, &headers_module);

    if (md == NULL) {
        pcre2_general_context *gc =
            pcre2_general_context_create(pool_malloc, pool_free, r->pool);
        md = pcre2_match_data_create(10, gc);
        rl_set_module_config(r->request_config, &headers_module, md);
    }
    return md;
}

static apr_status_t regex_cleanup(void *re)
{
    pcre2_code_free(re);
    return APR_SUCCESS;
}

pcre2_code *hv_regex(apr_pool_t *p, const char *pattern, int caseless,
                     const char **err)
{
    int errcode;
    PCRE2_SIZE erroff;
    PCRE2_UCHAR msg[160];
    pcre2_code *re;

    if (!caseless) {
        return rl_regex_compile(p, pattern, err);
    }
    re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                       PCRE2_CASELESS, &errcode, &erroff, NULL);
    if (re == NULL) {
        pcre2_get_error_message(errcode, msg, sizeof(msg));
        *err = apr_psprintf(p, "bad regular expression '%s' at offset %lu: %s",
                            pattern, (unsigned long)erroff, (char *)msg);
        return NULL;
    }
    apr_pool_cleanup_register(p, re, regex_cleanup, apr_pool_cleanup_null);
    *err = NULL;
    return re;
}

int hv_has_subst(const char *tmpl)
{
    return strpbrk(tmpl, "$&\\") != NULL;
}

const char *hv_regsub(apr_pool_t *p, const char *tmpl, const char *subject,
                      pcre2_match_data *md, int rc)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    hv_buf_t b = {p, NULL, 0, 0};
    const char *s = tmpl;

    if (!hv_has_subst(tmpl)) {
        return tmpl;
    }
    if (rc == 0) {
        rc = 10; /* more groups than the ovector holds: all ten are set */
    }
    while (*s) {
        int no = -1;
        apr_size_t n = strcspn(s, "$&\\");

        if (n > 0) {
            buf_add(&b, s, n);
            s += n;
            continue;
        }
        if (*s == '&') {
            no = 0;
            s++;
        } else if (*s == '$' && apr_isdigit(s[1])) {
            no = s[1] - '0';
            s += 2;
        } else if (*s == '\\' && s[1] != '\0') {
            buf_add(&b, s + 1, 1);
            s += 2;
            continue;
        } else {
            buf_add(&b, s, 1);
            s++;
            continue;
        }
        if (no < rc && ov[2 * no] != PCRE2_UNSET) {
            buf_add(&b, subject + ov[2 * no], ov[2 * no + 1] - ov[2 * no]);
        }
    }
    return buf_str(&b);
}

const char *hv_edit(rl_request_t *r, const pcre2_code *re, int all,
                    const char *val, const char *repl, int *rc)
{
    pcre2_match_data *md = hv_match_data(r);
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    hv_buf_t b = {r->pool, NULL, 0, 0};
    apr_size_t len = strlen(val), off = 0;
    int matched = 0;

    for (;;) {
        int m = pcre2_match(re, (PCRE2_SPTR)val, len, off, 0, md, NULL);
        apr_size_t s, e;
        const char *sub;

        if (m == PCRE2_ERROR_NOMATCH) {
            break;
        }
        if (m < 0) {
            *rc = m;
            return NULL;
        }
        matched = 1;
        s = ov[0];
        e = ov[1];
        buf_add(&b, val + off, s - off);
        sub = hv_regsub(r->pool, repl, val, md, m);
        buf_add(&b, sub, strlen(sub));
        off = e;
        if (e == s) {
            /* an empty match: keep the next character and go past it,
             * or the same empty match would be found forever */
            if (s >= len) {
                break;
            }
            buf_add(&b, val + s, 1);
            off = s + 1;
        }
        if (!all || off > len) {
            break;
        }
    }
    if (!matched) {
        return val; /* unchanged, nothing allocated */
    }
    buf_add(&b, val + off, len - off);
    return buf_str(&b);
}

int hv_is_tchar(unsigned char c)
{
    return apr_isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}
