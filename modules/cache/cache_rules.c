/*
 * cache_rules.c: RFC 9111 (HTTP caching) as pure functions for mod_cache.
 *
 * The glue (mod_cache.c) asks four questions, each answered here from
 * header values and times alone:
 *
 *  - may this response be stored, and until when is it fresh?
 *    (cache_storable: status, Cache-Control, Authorization, Vary: *,
 *    Set-Cookie, then the lifetime: s-maxage > max-age > Expires - Date >
 *    the Last-Modified heuristic > CacheDefaultExpire);
 *  - how old is a stored response now? (cache_initial_age, computed once
 *    when it is stored, then cache_current_age on each hit);
 *  - may a stored response answer this request, or must it be validated?
 *    (cache_usable, cache_stale_on_error_ok, cache_auth_ok);
 *  - what exactly is answered? (cache_not_modified for 304s,
 *    cache_range for 206/416, the Vary key of a variant).
 *
 * A worked example of the age arithmetic (RFC 9111 §4.2.3): the request
 * leaves at 10:00:00, the answer arrives at 10:00:02 with "Date:
 * 09:59:58" (the origin's clock is behind) and "Age: 30" (an upstream
 * cache held it).  apparent_age = max(0, 10:00:02 - 09:59:58) = 4 s;
 * corrected_age_value = 30 + (10:00:02 - 10:00:00) = 32 s; the initial
 * age is max(4, 32) = 32 s.  With max-age=60 it is fresh until
 * 10:00:02 + 60 - 32 = 10:00:30, and a hit at 10:00:12 says "Age: 42".
 */
#include <stdlib.h>
#include <string.h>

#include <apr_date.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "cache_rules.h"

/* ------------------------------------------------------------------ */
/* Small parsers                                                      */
/* ------------------------------------------------------------------ */

apr_int64_t cache_delta_seconds(const char *s)
{
    apr_int64_t v = 0;

    if (s == NULL) {
        return -1;
    }
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (*s == '"') {
        s++; /* max-age="60" is invalid but common: take it */
    }
    if (!apr_isdigit(*s)) {
        return -1;
    }
    for (; apr_isdigit(*s); s++) {
        /* RFC 9111 §1.2.2: an overflowing value means "very large" */
        if (v > (APR_INT64_MAX - 9) / 10) {
            v = APR_INT64_MAX / 2;
            continue;
        }
        v = v * 10 + (*s - '0');
    }
    /* cap at 2^31 seconds (RFC 9111 §1.2.2), far above any lifetime,
     * so that turning it into microseconds cannot overflow */
    return v > 2147483648LL ? 2147483648LL : v;
}

apr_time_t cache_http_date(const char *s)
{
    apr_time_t t;

    if (s == NULL || *s == '\0') {
        return 0;
    }
    t = apr_date_parse_http(s);
    return t == APR_DATE_BAD ? 0 : t;
}

/* Walks a comma-separated list of directives.  *name and *value point
 * into a copy in p; value is NULL when there is none, quotes removed. */
typedef struct cc_iter_t {
    char *rest;
} cc_iter_t;

static int cc_next(cc_iter_t *it, char **name, char **value)
{
    char *s = it->rest, *eq, *end;
    int inq = 0;

    while (s != NULL && (*s == ',' || *s == ' ' || *s == '\t')) {
        s++;
    }
    if (s == NULL || *s == '\0') {
        return 0;
    }
    /* the directive runs to the next comma outside quotes */
    for (end = s; *end != '\0'; end++) {
        if (*end == '"') {
            inq = !inq;
        } else if (*end == ',' && !inq) {
            break;
        }
    }
    it->rest = *end ? end + 1 : end;
    *end = '\0';
    /* trim */
    while (end > s && (end[-1] == ' ' || end[-1] == '\t')) {
        *--end = '\0';
    }
    eq = strchr(s, '=');
    *value = NULL;
    if (eq != NULL) {
        char *v = eq + 1;
        *eq = '\0';
        while (eq > s && (eq[-1] == ' ' || eq[-1] == '\t')) {
            *--eq = '\0';
        }
        while (*v == ' ' || *v == '\t') {
            v++;
        }
        if (*v == '"') {
            char *q;
            v++;
            q = strrchr(v, '"');
            if (q != NULL) {
                *q = '\0';
            }
        }
        *value = v;
    }
    *name = s;
    return 1;
}

void cache_parse_req_cc(const char *cc, const char *pragma, cache_req_cc_t *out)
{
    char buf[512];
    cc_iter_t it;
    char *name, *value;

    memset(out, 0, sizeof(*out));
    out->max_age = out->max_stale = out->min_fresh = -1;
    if (cc == NULL) {
        /* RFC 9111 §5.4: Pragma: no-cache counts only without
         * Cache-Control */
        if (pragma != NULL && cache_list_has(pragma, "no-cache")) {
            out->no_cache = 1;
        }
        return;
    }
    /* requests are parsed on the hot path: a stack copy, no pool */
    apr_cpystrn(buf, cc, sizeof(buf));
    it.rest = buf;
    while (cc_next(&it, &name, &value)) {
        if (strcasecmp(name, "no-cache") == 0) {
            out->no_cache = 1;
        } else if (strcasecmp(name, "no-store") == 0) {
            out->no_store = 1;
        } else if (strcasecmp(name, "max-age") == 0) {
            out->max_age = cache_delta_seconds(value);
        } else if (strcasecmp(name, "max-stale") == 0) {
            out->max_stale =
                value == NULL ? CACHE_ANY_STALE : cache_delta_seconds(value);
        } else if (strcasecmp(name, "min-fresh") == 0) {
            out->min_fresh = cache_delta_seconds(value);
        } else if (strcasecmp(name, "only-if-cached") == 0) {
            out->only_if_cached = 1;
        } else if (strcasecmp(name, "no-transform") == 0) {
            out->no_transform = 1;
        }
    }
}

void cache_parse_resp_cc(apr_pool_t *p, const char *cc, cache_resp_cc_t *out)
{
    cc_iter_t it;
    char *name, *value;

    memset(out, 0, sizeof(*out));
    out->max_age = out->s_maxage = out->swr = out->sie = -1;
    if (cc == NULL) {
        return;
    }
    it.rest = apr_pstrdup(p, cc);
    while (cc_next(&it, &name, &value)) {
        if (strcasecmp(name, "no-store") == 0) {
            out->no_store = 1;
        } else if (strcasecmp(name, "no-cache") == 0) {
            if (value != NULL && *value != '\0') {
                out->no_cache_fields = value;
            } else {
                out->no_cache = 1;
            }
        } else if (strcasecmp(name, "private") == 0) {
            if (value != NULL && *value != '\0') {
                out->private_fields = value;
            } else {
                out->is_private = 1;
            }
        } else if (strcasecmp(name, "public") == 0) {
            out->is_public = 1;
        } else if (strcasecmp(name, "max-age") == 0) {
            out->max_age = cache_delta_seconds(value);
        } else if (strcasecmp(name, "s-maxage") == 0) {
            out->s_maxage = cache_delta_seconds(value);
        } else if (strcasecmp(name, "must-revalidate") == 0) {
            out->must_revalidate = 1;
        } else if (strcasecmp(name, "proxy-revalidate") == 0) {
            out->proxy_revalidate = 1;
        } else if (strcasecmp(name, "no-transform") == 0) {
            out->no_transform = 1;
        } else if (strcasecmp(name, "must-understand") == 0) {
            out->must_understand = 1;
        } else if (strcasecmp(name, "stale-while-revalidate") == 0) {
            out->swr = cache_delta_seconds(value);
        } else if (strcasecmp(name, "stale-if-error") == 0) {
            out->sie = cache_delta_seconds(value);
        }
    }
}

typedef struct join_ctx_t {
    apr_pool_t *p;
    const char *acc;
} join_ctx_t;

static int join_one(void *v, const char *key, const char *val)
{
    join_ctx_t *j = v;

    (void)key;
    j->acc = j->acc == NULL ? val : apr_pstrcat(j->p, j->acc, ", ", val, NULL);
    return 1;
}

const char *cache_table_join(apr_pool_t *p, const apr_table_t *t,
                             const char *name)
{
    join_ctx_t j = {p, NULL};

    apr_table_do(join_one, &j, t, name, NULL);
    return j.acc;
}

int cache_list_has(const char *list, const char *name)
{
    apr_size_t n = strlen(name);
    const char *s = list;

    while (s != NULL && *s != '\0') {
        const char *e;
        apr_size_t len;

        while (*s == ',' || *s == ' ' || *s == '\t') {
            s++;
        }
        e = s;
        while (*e != '\0' && *e != ',') {
            e++;
        }
        len = (apr_size_t)(e - s);
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
            len--;
        }
        if (len == n && strncasecmp(s, name, n) == 0) {
            return 1;
        }
        s = e;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Methods and statuses                                               */
/* ------------------------------------------------------------------ */

int cache_method_cacheable(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

int cache_method_unsafe(const char *method)
{
    static const char *const safe[] = {"GET",   "HEAD",     "OPTIONS",
                                       "TRACE", "PROPFIND", NULL};
    int i;

    for (i = 0; safe[i] != NULL; i++) {
        if (strcmp(method, safe[i]) == 0) {
            return 0;
        }
    }
    return 1;
}

int cache_status_heuristic(int status)
{
    switch (status) {
    case 200:
    case 203:
    case 204:
    case 300:
    case 301:
    case 308:
    case 404:
    case 405:
    case 410:
    case 414:
    case 501:
        return 1;
    default:
        return 0;
    }
}

int cache_status_storable(int status)
{
    /* the heuristic ones, and redirects that need an explicit lifetime;
     * never 206 (partial) or 304 (no body), nor 5xx errors */
    return cache_status_heuristic(status) || status == 302 || status == 303 ||
           status == 307;
}

/* ------------------------------------------------------------------ */
/* Freshness                                                          */
/* ------------------------------------------------------------------ */

apr_time_t cache_initial_age(apr_time_t date, apr_int64_t age_seconds,
                             apr_time_t request_time, apr_time_t response_time)
{
    apr_time_t apparent = 0, corrected, delay;

    if (date > 0 && response_time > date) {
        apparent = response_time - date;
    }
    delay = response_time > request_time ? response_time - request_time : 0;
    corrected = (age_seconds > 0 ? apr_time_from_sec(age_seconds) : 0) + delay;
    return apparent > corrected ? apparent : corrected;
}

apr_time_t cache_current_age(apr_time_t initial_age, apr_time_t response_time,
                             apr_time_t now)
{
    return initial_age + (now > response_time ? now - response_time : 0);
}

static apr_time_t clamp(apr_time_t v, apr_time_t lo, apr_time_t hi)
{
    if (hi >= 0 && v > hi) {
        v = hi;
    }
    if (lo > 0 && v < lo) {
        v = lo;
    }
    return v < 0 ? 0 : v;
}

apr_time_t cache_lifetime(const cache_resp_info_t *in,
                          const cache_resp_cc_t *cc, const cache_policy_t *pol,
                          int *heuristic)
{
    apr_time_t date = cache_http_date(in->date), lm;

    *heuristic = 0;
    if (date == 0) {
        date = in->response_time;
    }
    /* explicit, in RFC 9111 §4.2.1 order; CacheMaxExpire bounds them all
     * (as httpd: the operator's ceiling on trusting a backend) */
    if (cc->s_maxage >= 0) {
        return clamp(apr_time_from_sec(cc->s_maxage), 0, pol->max_expire);
    }
    if (cc->max_age >= 0) {
        return clamp(apr_time_from_sec(cc->max_age), 0, pol->max_expire);
    }
    if (in->expires != NULL) {
        /* an invalid Expires ("0", "-1") means already expired */
        apr_time_t exp = cache_http_date(in->expires);
        return exp > date ? clamp(exp - date, 0, pol->max_expire) : 0;
    }
    *heuristic = 1;
    lm = cache_http_date(in->last_modified);
    if (lm > 0) {
        /* RFC 9111 §4.2.2: a fraction of the time since it last changed */
        apr_time_t since = date > lm ? date - lm : 0;
        return clamp((apr_time_t)((double)since * pol->lm_factor),
                     pol->min_expire, pol->max_expire);
    }
    if (in->etag != NULL || pol->ignore_no_last_mod) {
        return clamp(pol->default_expire, pol->min_expire, pol->max_expire);
    }
    return -1;
}

const char *cache_storable(const cache_resp_info_t *in,
                           const cache_resp_cc_t *cc, const cache_policy_t *pol,
                           cache_fresh_t *out)
{
    int heuristic;
    apr_time_t lifetime;
    const char *vary;

    memset(out, 0, sizeof(*out));
    if (in->req_no_store) {
        return "the request said Cache-Control: no-store";
    }
    if (!cache_status_storable(in->status)) {
        return "its status is not cached";
    }
    /* RFC 9111 §5.2.2.3: must-understand lets a cache that knows the
     * status (every status stored here) ignore no-store */
    if (cc->no_store && !pol->store_no_store && !cc->must_understand) {
        return "Cache-Control: no-store";
    }
    if (cc->is_private && !pol->store_private) {
        return "Cache-Control: private";
    }
    if (in->authorization && !cache_auth_ok(cc)) {
        return "the request carried Authorization and the response did not "
               "say public, s-maxage or must-revalidate";
    }
    for (vary = in->vary; vary != NULL && *vary != '\0'; vary++) {
        if (*vary == '*') {
            return "Vary: *";
        }
    }
    if (in->set_cookie && !pol->ignore_set_cookie) {
        return "Set-Cookie (CacheIgnoreHeaders Set-Cookie stores the rest)";
    }
    lifetime = cache_lifetime(in, cc, pol, &heuristic);
    if (lifetime < 0) {
        return "no Last-Modified, ETag, Expires or max-age "
               "(CacheIgnoreNoLastMod On stores it)";
    }
    if (heuristic && !cache_status_heuristic(in->status)) {
        return "its status needs an explicit lifetime";
    }
    out->heuristic = heuristic;
    out->lifetime = lifetime;
    out->initial_age = cache_initial_age(cache_http_date(in->date),
                                         cache_delta_seconds(in->age),
                                         in->request_time, in->response_time);
    out->expires = in->response_time + lifetime - out->initial_age;
    if (out->expires <= in->response_time || cc->no_cache) {
        /* stale on arrival (max-age=0, no-cache): worth keeping only to
         * validate it cheaply next time */
        if (in->etag == NULL && in->last_modified == NULL &&
            !pol->store_expired) {
            return cc->no_cache ? "Cache-Control: no-cache without a "
                                  "validator (ETag, Last-Modified)"
                                : "already expired, without a validator";
        }
        if (out->expires > in->response_time) {
            out->expires = in->response_time; /* no-cache: stale at once */
        }
    }
    return NULL;
}

int cache_auth_ok(const cache_resp_cc_t *resp)
{
    return resp->is_public || resp->s_maxage >= 0 || resp->must_revalidate;
}

cache_use_e cache_usable(apr_time_t age, apr_time_t lifetime,
                         const cache_req_cc_t *req, const cache_resp_cc_t *resp)
{
    apr_time_t staleness;

    if (req->no_cache || resp->no_cache) {
        return CACHE_USE_REVALIDATE;
    }
    if (req->max_age >= 0 && age > apr_time_from_sec(req->max_age)) {
        return CACHE_USE_REVALIDATE;
    }
    if (age < lifetime) {
        if (req->min_fresh >= 0 &&
            lifetime - age < apr_time_from_sec(req->min_fresh)) {
            return CACHE_USE_REVALIDATE;
        }
        return CACHE_USE_FRESH;
    }
    /* stale (RFC 9111 §4.2.4): only what the response allows */
    if (resp->must_revalidate || resp->proxy_revalidate ||
        resp->s_maxage >= 0) {
        return CACHE_USE_REVALIDATE;
    }
    staleness = age - lifetime;
    if (resp->swr >= 0 && staleness <= apr_time_from_sec(resp->swr)) {
        return CACHE_USE_SWR;
    }
    if (req->max_stale == CACHE_ANY_STALE ||
        (req->max_stale >= 0 &&
         staleness <= apr_time_from_sec(req->max_stale))) {
        return CACHE_USE_STALE;
    }
    return CACHE_USE_REVALIDATE;
}

int cache_stale_on_error_ok(apr_time_t staleness, const cache_resp_cc_t *resp,
                            int stale_on_error)
{
    /* an explicit stale-if-error (RFC 5861 §4) is the origin's own
     * permission, even over must-revalidate */
    if (resp->sie >= 0 && staleness <= apr_time_from_sec(resp->sie)) {
        return 1;
    }
    if (resp->must_revalidate || resp->proxy_revalidate || resp->no_cache ||
        resp->s_maxage >= 0) {
        return 0;
    }
    return stale_on_error;
}

/* ------------------------------------------------------------------ */
/* Vary                                                               */
/* ------------------------------------------------------------------ */

const char *cache_vary_normalize(apr_pool_t *p, const char *vary)
{
    char *copy, *tok, *last;
    const char *out = NULL;

    if (vary == NULL) {
        return NULL;
    }
    copy = apr_pstrdup(p, vary);
    for (tok = apr_strtok(copy, ", \t", &last); tok != NULL;
         tok = apr_strtok(NULL, ", \t", &last)) {
        char *c;
        if (strcmp(tok, "*") == 0) {
            return "*";
        }
        for (c = tok; *c; c++) {
            *c = (char)apr_tolower(*c);
        }
        if (out != NULL && cache_list_has(out, tok)) {
            continue;
        }
        out = out == NULL ? tok : apr_pstrcat(p, out, ",", tok, NULL);
    }
    return out;
}

/* A request field's value as it selects a variant: its lines joined,
 * blank runs made one space, ends trimmed. */
static void add_norm_value(apr_pool_t *p, const char *v, const char **acc)
{
    char *o = apr_palloc(p, strlen(v) + 1), *d = o;
    int blank = 0;

    while (*v == ' ' || *v == '\t') {
        v++;
    }
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            blank = 1;
            continue;
        }
        if (blank && d > o) {
            *d++ = ' ';
        }
        blank = 0;
        *d++ = *v;
    }
    *d = '\0';
    *acc = apr_pstrcat(p, *acc, o, NULL);
}

const char *cache_variant_key(apr_pool_t *p, const char *url_key,
                              const char *vary, const apr_table_t *headers_in)
{
    const char *key = url_key;
    char *copy, *tok, *last;

    if (vary == NULL) {
        return url_key;
    }
    copy = apr_pstrdup(p, vary);
    for (tok = apr_strtok(copy, ",", &last); tok != NULL;
         tok = apr_strtok(NULL, ",", &last)) {
        const char *v = cache_table_join(p, headers_in, tok);
        if (v == NULL) {
            key = apr_pstrcat(p, key, " ", tok, "!", NULL);
        } else {
            key = apr_pstrcat(p, key, " ", tok, "=", NULL);
            add_norm_value(p, v, &key);
        }
    }
    return key;
}

/* ------------------------------------------------------------------ */
/* Conditionals and ranges                                            */
/* ------------------------------------------------------------------ */

/* The opaque part of an entity tag, without W/ (weak comparison). */
static const char *etag_opaque(const char *t, apr_size_t *len)
{
    const char *e;

    while (*t == ' ' || *t == '\t') {
        t++;
    }
    if (t[0] == 'W' && t[1] == '/') {
        t += 2;
    }
    e = t;
    if (*e == '"') {
        e = strchr(t + 1, '"');
        e = e ? e + 1 : t + strlen(t);
    } else {
        while (*e && *e != ',' && *e != ' ' && *e != '\t') {
            e++;
        }
    }
    *len = (apr_size_t)(e - t);
    return t;
}

int cache_etag_match(const char *list, const char *etag)
{
    apr_size_t elen, len;
    const char *eo, *s = list;

    if (list == NULL || etag == NULL) {
        return 0;
    }
    eo = etag_opaque(etag, &elen);
    while (*s) {
        const char *o;
        while (*s == ',' || *s == ' ' || *s == '\t') {
            s++;
        }
        if (*s == '\0') {
            break;
        }
        if (*s == '*') {
            return 1;
        }
        o = etag_opaque(s, &len);
        if (len == elen && len > 0 && memcmp(o, eo, len) == 0) {
            return 1;
        }
        s = o + (len > 0 ? len : 1);
    }
    return 0;
}

int cache_not_modified(const char *if_none_match, const char *if_mod_since,
                       const char *etag, const char *last_modified,
                       const char *date)
{
    apr_time_t ims, lm;

    if (if_none_match != NULL) {
        /* RFC 9110 §13.2.2: If-Modified-Since is then ignored */
        return cache_etag_match(if_none_match, etag);
    }
    if (if_mod_since == NULL) {
        return 0;
    }
    ims = cache_http_date(if_mod_since);
    lm = cache_http_date(last_modified);
    if (lm == 0) {
        lm = cache_http_date(date);
    }
    return ims > 0 && lm > 0 && lm <= ims;
}

/* Reads digits into *v; returns the end, or NULL when there are none. */
static const char *range_num(const char *s, apr_off_t *v)
{
    apr_off_t n = 0;

    if (!apr_isdigit(*s)) {
        return NULL;
    }
    for (; apr_isdigit(*s); s++) {
        if (n > (APR_INT64_MAX - 9) / 10) {
            return NULL;
        }
        n = n * 10 + (*s - '0');
    }
    *v = n;
    return s;
}

/* If-Range (RFC 9110 §13.1.5): a strong entity tag equal to ours, or a
 * date equal to our Last-Modified. */
static int if_range_holds(const char *if_range, const char *etag,
                          const char *last_modified)
{
    while (*if_range == ' ') {
        if_range++;
    }
    if (*if_range == '"' || (if_range[0] == 'W' && if_range[1] == '/')) {
        return etag != NULL && if_range[0] == '"' && etag[0] == '"' &&
               strcmp(if_range, etag) == 0;
    }
    return last_modified != NULL && cache_http_date(if_range) > 0 &&
           cache_http_date(if_range) == cache_http_date(last_modified);
}

int cache_range(const char *range, const char *if_range, const char *etag,
                const char *last_modified, apr_off_t len, apr_off_t *off,
                apr_off_t *n)
{
    const char *s;
    apr_off_t a = -1, b = -1;

    if (range == NULL) {
        return 0;
    }
    if (if_range != NULL && !if_range_holds(if_range, etag, last_modified)) {
        return 0;
    }
    s = range;
    while (*s == ' ') {
        s++;
    }
    if (strncasecmp(s, "bytes", 5) != 0) {
        return 0;
    }
    s += 5;
    while (*s == ' ') {
        s++;
    }
    if (*s++ != '=') {
        return 0;
    }
    while (*s == ' ') {
        s++;
    }
    if (strchr(s, ',') != NULL) {
        return 0; /* several ranges: the whole body is a valid answer */
    }
    if (*s == '-') {
        /* suffix: the last b bytes */
        s = range_num(s + 1, &b);
        if (s == NULL) {
            return 0;
        }
        while (*s == ' ') {
            s++;
        }
        if (*s != '\0') {
            return 0;
        }
        if (b == 0 || len == 0) {
            return 416;
        }
        *n = b < len ? b : len;
        *off = len - *n;
        return 206;
    }
    s = range_num(s, &a);
    if (s == NULL || *s++ != '-') {
        return 0;
    }
    if (*s != '\0' && *s != ' ') {
        s = range_num(s, &b);
        if (s == NULL || b < a) {
            return 0;
        }
    }
    while (*s == ' ') {
        s++;
    }
    if (*s != '\0') {
        return 0;
    }
    if (a >= len) {
        return 416;
    }
    if (b < 0 || b >= len) {
        b = len - 1;
    }
    *off = a;
    *n = b - a + 1;
    return 206;
}

/* ------------------------------------------------------------------ */
/* Invalidation targets                                               */
/* ------------------------------------------------------------------ */

const char *cache_same_origin_path(apr_pool_t *p, const char *location,
                                   const char *host, int port,
                                   const char *base_path)
{
    const char *s = location, *hs, *he, *path, *hash, *colon, *slash;

    if (location == NULL || *location == '\0') {
        return NULL;
    }
    colon = strchr(s, ':');
    slash = strchr(s, '/');
    if (strncasecmp(s, "http://", 7) == 0) {
        s += 5;
    } else if (colon != NULL && (slash == NULL || colon < slash)) {
        return NULL; /* https:, mailto:…: another origin */
    }
    if (s[0] == '/' && s[1] == '/') {
        int lport = 80;
        hs = s + 2;
        he = hs;
        while (*he && *he != '/' && *he != ':' && *he != '?') {
            he++;
        }
        path = he;
        if (*path == ':') {
            lport = (int)apr_atoi64(path + 1);
            while (*path && *path != '/' && *path != '?') {
                path++;
            }
        }
        if ((apr_size_t)(he - hs) != strlen(host) ||
            strncasecmp(hs, host, (apr_size_t)(he - hs)) != 0 ||
            lport != port) {
            return NULL;
        }
        if (*path != '/') {
            path = apr_pstrcat(p, "/", path, NULL);
        }
    } else if (*s == '/') {
        path = s;
    } else {
        /* relative to the directory of the request's path */
        const char *dir = base_path ? strrchr(base_path, '/') : NULL;
        path =
            dir ? apr_pstrcat(p,
                              apr_pstrndup(p, base_path,
                                           (apr_size_t)(dir - base_path + 1)),
                              s, NULL)
                : apr_pstrcat(p, "/", s, NULL);
    }
    hash = strchr(path, '#');
    return hash ? apr_pstrndup(p, path, (apr_size_t)(hash - path))
                : apr_pstrdup(p, path);
}

/* ------------------------------------------------------------------ */
/* The stored header block                                            */
/* ------------------------------------------------------------------ */

int cache_field_unstorable(const char *name)
{
    static const char *const never[] = {"Connection",
                                        "Keep-Alive",
                                        "Proxy-Connection",
                                        "TE",
                                        "Trailer",
                                        "Transfer-Encoding",
                                        "Upgrade",
                                        "Proxy-Authenticate",
                                        "Proxy-Authorization",
                                        "Content-Length",
                                        "Set-Cookie",
                                        "Set-Cookie2",
                                        "Age",
                                        "Content-Type",
                                        "X-Cache",
                                        "X-Cache-Detail",
                                        NULL};
    int i;

    for (i = 0; never[i] != NULL; i++) {
        if (strcasecmp(name, never[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int name_in(const apr_array_header_t *a, const char *name)
{
    int i;

    for (i = 0; a != NULL && i < a->nelts; i++) {
        if (strcasecmp(APR_ARRAY_IDX(a, i, const char *), name) == 0) {
            return 1;
        }
    }
    return 0;
}

typedef struct block_ctx_t {
    apr_pool_t *p;
    apr_array_header_t *parts; /* const char * pieces, joined at the end */
    const char *drop;
    const apr_array_header_t *ignore;
    const apr_table_t *skip; /* build_update: fields the 304 replaces */
} block_ctx_t;

static int block_add(void *v, const char *name, const char *value)
{
    block_ctx_t *b = v;

    if (cache_field_unstorable(name) || name_in(b->ignore, name) ||
        (b->drop != NULL && cache_list_has(b->drop, name)) ||
        (b->skip != NULL && apr_table_get(b->skip, name) != NULL) ||
        strchr(value, '\r') != NULL || strchr(value, '\n') != NULL) {
        return 1;
    }
    APR_ARRAY_PUSH(b->parts, const char *) =
        apr_pstrcat(b->p, name, ": ", value, "\r\n", NULL);
    return 1;
}

static const char *block_finish(block_ctx_t *b, const char *content_type,
                                apr_time_t initial_age, apr_size_t *len)
{
    const char *s;

    if (content_type != NULL) {
        APR_ARRAY_PUSH(b->parts, const char *) =
            apr_pstrcat(b->p, "Content-Type: ", content_type, "\r\n", NULL);
    }
    APR_ARRAY_PUSH(b->parts, const char *) =
        apr_psprintf(b->p, "Age: %" APR_INT64_T_FMT "\r\n",
                     (apr_int64_t)apr_time_sec(initial_age));
    s = apr_array_pstrcat(b->p, b->parts, '\0');
    *len = strlen(s);
    return s;
}

const char *cache_headers_build(apr_pool_t *p, const apr_table_t *out,
                                const char *content_type, const char *drop,
                                const apr_array_header_t *ignore,
                                apr_time_t initial_age, apr_size_t *len)
{
    block_ctx_t b;

    b.p = p;
    b.parts = apr_array_make(p, 16, sizeof(const char *));
    b.drop = drop;
    b.ignore = ignore;
    b.skip = NULL;
    apr_table_do(block_add, &b, out, NULL);
    return block_finish(&b, content_type, initial_age, len);
}

int cache_headers_parse(apr_pool_t *p, const char *block, apr_size_t len,
                        apr_table_t *out)
{
    const char *s = block, *end = block + len;
    int n = 0;

    while (s < end) {
        const char *eol = memchr(s, '\r', (apr_size_t)(end - s));
        const char *colon;
        char *name, *value;

        if (eol == NULL || eol + 1 >= end || eol[1] != '\n') {
            return -1;
        }
        colon = memchr(s, ':', (apr_size_t)(eol - s));
        if (colon == NULL || colon == s) {
            return -1;
        }
        name = apr_pstrmemdup(p, s, (apr_size_t)(colon - s));
        colon++;
        while (colon < eol && (*colon == ' ' || *colon == '\t')) {
            colon++;
        }
        value = apr_pstrmemdup(p, colon, (apr_size_t)(eol - colon));
        apr_table_addn(out, name, value);
        n++;
        s = eol + 2;
    }
    return n;
}

const char *cache_headers_update(apr_pool_t *p, const apr_table_t *stored,
                                 const apr_table_t *fresh,
                                 const apr_array_header_t *ignore,
                                 apr_time_t initial_age, apr_size_t *len)
{
    block_ctx_t b;
    apr_table_t *skip = apr_table_make(p, 8);
    const apr_array_header_t *h = apr_table_elts(fresh);
    const apr_table_entry_t *e = (const apr_table_entry_t *)h->elts;
    int i;

    /* the names the 304 brings (those it may bring) replace ours */
    for (i = 0; i < h->nelts; i++) {
        if (!cache_field_unstorable(e[i].key) && !name_in(ignore, e[i].key)) {
            apr_table_setn(skip, e[i].key, "");
        }
    }
    b.p = p;
    b.parts = apr_array_make(p, 16, sizeof(const char *));
    b.drop = NULL;
    b.ignore = ignore;
    b.skip = skip;
    apr_table_do(block_add, &b, stored, NULL);
    b.skip = NULL;
    apr_table_do(block_add, &b, fresh, NULL);
    return block_finish(&b, apr_table_get(stored, "Content-Type"), initial_age,
                        len);
}
