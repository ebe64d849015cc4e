/*
 * headers_redirect.c: httpd's Redirect family (mod_alias) in mod_headers:
 * answer a request with a redirect (or a 4xx/5xx status) instead of
 * routing it.
 *
 *   Redirect [status] URL-path URL     URL-path matched as a prefix, at a
 *                                      segment boundary; the rest of the
 *                                      path goes after URL
 *   Redirect [status] URL              in <Location>/<LocationMatch>/<If>:
 *                                      every request the section takes
 *   RedirectMatch [status] regex URL   PCRE2 on the path, $0..$9 and & in
 *                                      URL
 *   RedirectPermanent URL-path URL     Redirect permanent ...
 *   RedirectTemp URL-path URL          Redirect temp ...
 *
 * status: permanent (301), temp (302, the default), seeother (303), gone
 * (410), or a number: 300-399 take a URL, 400-599 must not (the core's
 * error page for that status is the answer).  URL is an absolute URL
 * (scheme:...) or a path starting with '/'.  The request's query string
 * is appended unless URL holds a '?' of its own, as httpd does.
 *
 * When: translate_name, ordered before mod_proxy's, so that a redirected
 * request never reaches a backend.  In Relais access_checker runs before
 * translate_name (server/http_request.c): a client the acl refuses gets
 * its 403, not the redirect.  Rules written at server or vhost level are
 * tried before those of <Location> sections (httpd tries them at
 * translate_name, the others at fixups); within each group the inner
 * context's come first, then file order, and the first match answers.
 */
#include <string.h>

#include <apr_escape.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "headers_private.h"

RL_LOG_USE_MODULE(headers);

typedef enum redir_kind_e {
    RK_PREFIX,  /**< Redirect URL-path URL */
    RK_REGEX,   /**< RedirectMatch regex URL */
    RK_LOCATION /**< Redirect URL inside a section: always matches */
} redir_kind_e;

struct redir_rule_t {
    redir_kind_e kind;
    int status;
    const char *path;      /**< RK_PREFIX: the URL-path, normalised */
    apr_size_t plen;       /**< its length */
    pcre2_code *re;        /**< RK_REGEX */
    const char *url;       /**< target; NULL for a status other than 3xx */
    const char *directive; /**< its name, for log lines */
    const char *file;
    unsigned line;
};

/* ------------------------------------------------------------------ */
/* Directives                                                          */
/* ------------------------------------------------------------------ */

/* httpd's test for an absolute URL: a scheme, then ':'. */
static int is_url(const char *u)
{
    apr_size_t x;

    for (x = 0; u[x] != ':'; x++) {
        if (u[x] == '\0' ||
            (!apr_isalnum(u[x]) && u[x] != '+' && u[x] != '-' && u[x] != '.')) {
            return 0;
        }
    }
    return x > 0;
}

/*
 * A RedirectMatch target with $N in it can only be checked when the
 * characters before the first substitution already decide: "/..." or
 * "scheme:..." is fine, "www.example.com/$1" never is.  1 fine, 0 bad,
 * -1 decided per request.
 */
static int target_ok(const char *u, int subst)
{
    apr_size_t x;

    if (u[0] == '/') {
        return 1;
    }
    for (x = 0; u[x] != '\0' && u[x] != ':'; x++) {
        if (subst && (u[x] == '&' || u[x] == '\\' ||
                      (u[x] == '$' && apr_isdigit(u[x + 1])))) {
            return -1;
        }
        if (!apr_isalnum(u[x]) && u[x] != '+' && u[x] != '-' && u[x] != '.') {
            return 0;
        }
    }
    return u[x] == ':' && x > 0;
}

/* permanent, temp, seeother, gone, or digits: 1 and *status; 0 when s
 * is no status at all; -1 and *err for a number out of range. */
static int parse_status(apr_pool_t *p, const char *s, int *status,
                        const char **err)
{
    static const struct {
        const char *word;
        int status;
    } words[] = {
        {"permanent", 301}, {"temp", 302}, {"seeother", 303}, {"gone", 410}};
    apr_size_t i;
    char *end;
    apr_int64_t v;

    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasecmp(s, words[i].word) == 0) {
            *status = words[i].status;
            return 1;
        }
    }
    if (!apr_isdigit(*s)) {
        return 0;
    }
    v = apr_strtoi64(s, &end, 10);
    if (*end != '\0' || v < 300 || v > 599 || v == 304) {
        *err = apr_psprintf(p,
                            "status '%s' cannot be used: 300-399 (except 304) "
                            "redirect to a URL, 400-599 answer with that "
                            "error and take no URL",
                            s);
        return -1;
    }
    *status = (int)v;
    return 1;
}

static const char *check_url(rl_cmd_t *cmd, const char *url, int subst)
{
    const char *s;

    for (s = url; *s; s++) {
        if ((unsigned char)*s <= 0x20 || *s == 0x7f) {
            return apr_psprintf(cmd->pool,
                                "the URL '%s' holds a space or a control "
                                "character: write it percent-encoded (%%20)",
                                url);
        }
    }
    if (target_ok(url, subst) == 0) {
        return apr_psprintf(cmd->pool,
                            "'%s' is neither an absolute URL "
                            "(https://host/...) nor a path starting with "
                            "'/'",
                            url);
    }
    return NULL;
}

static const char *parse_path(rl_cmd_t *cmd, redir_rule_t *rule,
                              const char *path)
{
    char *norm;

    if (path[0] != '/') {
        return apr_psprintf(cmd->pool,
                            is_url(path)
                                ? "'%s' comes where the URL-path is "
                                  "expected (the URL-path first, then the "
                                  "URL)"
                                : "the URL-path '%s' must start with '/' "
                                  "(it is matched against the request's "
                                  "path)",
                            path);
    }
    /* the spelling requests are compared in (server/http_path.c) */
    norm = rl_http_normalize_path(cmd->pool, path);
    if (norm == NULL) {
        return apr_psprintf(cmd->pool,
                            "the URL-path '%s' is not a valid path (a '%%' "
                            "must be followed by two hex digits)",
                            path);
    }
    rule->path = norm;
    rule->plen = strlen(norm);
    return NULL;
}

/* What is left after the status: the URL-path (or regex) and the URL, in
 * the forms each status and context allows. */
static const char *parse_rest(rl_cmd_t *cmd, redir_rule_t *rule, int n,
                              char *const *rest, unsigned how)
{
    int regex = (how & REDIR_MATCH) != 0;
    const char *status =
        how & (REDIR_PERMANENT | REDIR_TEMP) ? "" : " [status]";
    int in_section = cmd->context == RL_CTX_LOCATION;
    int redirect = rule->status < 400;
    const char *what = regex ? "regex" : "URL-path";
    const char *err;

    if (!redirect && (n == 2 || (n == 1 && !regex && is_url(rest[0])))) {
        return apr_psprintf(cmd->pool,
                            "status %d takes no URL: only 300-399 redirect, "
                            "%d answers with its error page",
                            rule->status, rule->status);
    }
    if (n == 0 && redirect) {
        return "missing the URL to redirect to (statuses 300-399 need one)";
    }
    if (n == (redirect ? 1 : 0) && (regex || !in_section)) {
        return apr_psprintf(cmd->pool, "missing the %s%s: write %s%s %s%s%s",
                            what, redirect ? " or the URL" : "",
                            rule->directive, status, what,
                            redirect ? " URL" : "",
                            regex ? ""
                                  : " (the form without URL-path is for "
                                    "<Location> and <LocationMatch>)");
    }
    if (n == (redirect ? 1 : 0)) {
        /* the one-argument form: every request of the section */
        rule->kind = RK_LOCATION;
        rule->url = redirect ? rest[0] : NULL;
    } else if (regex) {
        rule->kind = RK_REGEX;
        rule->re = rl_regex_compile(cmd->pool, rest[0], &err);
        if (rule->re == NULL) {
            return err;
        }
        rule->url = redirect ? rest[1] : NULL;
    } else {
        rule->kind = RK_PREFIX;
        err = parse_path(cmd, rule, rest[0]);
        if (err != NULL) {
            return err;
        }
        rule->url = redirect ? rest[1] : NULL;
    }
    if (rule->url == NULL) {
        return NULL;
    }
    if (rule->kind == RK_LOCATION && strstr(rule->url, "%{") != NULL) {
        return "an expression (%{...}) in the URL is not supported by "
               "Relais: use RedirectMatch with $1..$9 instead";
    }
    err = check_url(cmd, rule->url, regex && hv_has_subst(rule->url));
    if (err != NULL) {
        return err;
    }
    rule->url = apr_pstrdup(cmd->pool, rule->url);
    return NULL;
}

/*
 * Redirect [status] URL-path URL, RedirectMatch [status] regex URL,
 * RedirectPermanent / RedirectTemp URL-path URL (cmd->data: REDIR_*).
 */
const char *redir_cmd(rl_cmd_t *cmd, void *mconfig, int argc,
                      char *const argv[])
{
    hdr_dir_conf *conf = mconfig;
    unsigned how = (unsigned)(apr_uintptr_t)cmd->data;
    redir_rule_t *rule = apr_pcalloc(cmd->pool, sizeof(*rule));
    apr_array_header_t **list;
    const char *err = NULL;
    int i = 0, rc;

    rule->directive = cmd->directive->name;
    rule->file = cmd->node->file;
    rule->line = cmd->node->line;
    rule->status = 302;
    if (how & REDIR_PERMANENT) {
        rule->status = 301;
    } else if (!(how & REDIR_TEMP)) {
        rc = parse_status(cmd->pool, argv[0], &rule->status, &err);
        if (rc < 0) {
            return err;
        }
        if (rc > 0) {
            i = 1;
        } else if (argc == 3) {
            return apr_psprintf(cmd->pool,
                                "'%s' is not a status (expected permanent, "
                                "temp, seeother, gone, or a number: "
                                "300-399 with a URL, 400-599 without)",
                                argv[0]);
        }
    }
    err = parse_rest(cmd, rule, argc - i, argv + i, how);
    if (err != NULL) {
        return err;
    }
    list =
        cmd->context == RL_CTX_LOCATION ? &conf->redir_loc : &conf->redir_srv;
    if (*list == NULL) {
        *list = apr_array_make(cmd->pool, 4, sizeof(redir_rule_t *));
    }
    APR_ARRAY_PUSH(*list, redir_rule_t *) = rule;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

/* "/a" takes "/a", "/a/" and "/a/b", never "/ab" (a path ending in '/'
 * takes what starts with it).  r->uri has no empty segments to skip. */
static int prefix_matches(const redir_rule_t *rule, const char *uri)
{
    if (strncmp(uri, rule->path, rule->plen) != 0) {
        return 0;
    }
    return uri[rule->plen] == '\0' || uri[rule->plen] == '/' ||
           rule->path[rule->plen - 1] == '/';
}

/* The target of a rule for this request, or NULL when it does not match
 * (for a status other than 3xx, "" when it does). */
static const char *rule_target(rl_request_t *r, const redir_rule_t *rule)
{
    pcre2_match_data *md;
    int rc;

    switch (rule->kind) {
    case RK_PREFIX:
        if (!prefix_matches(rule, r->uri)) {
            return NULL;
        }
        return rule->url
                   ? apr_pstrcat(r->pool, rule->url, r->uri + rule->plen, NULL)
                   : "";
    case RK_REGEX:
        md = hv_match_data(r);
        rc = pcre2_match(rule->re, (PCRE2_SPTR)r->uri, strlen(r->uri), 0, 0, md,
                         NULL);
        if (rc < 0) {
            if (rc != PCRE2_ERROR_NOMATCH) {
                rl_log_rerror(RL_LOG_ERR, 0, r,
                              "%s at %s:%u: matching %s failed (PCRE2 "
                              "error %d): the rule is skipped",
                              rule->directive, rule->file, rule->line, r->uri,
                              rc);
            }
            return NULL;
        }
        return rule->url ? hv_regsub(r->pool, rule->url, r->uri, md, rc) : "";
    case RK_LOCATION:
    default:
        return rule->url ? rule->url : "";
    }
}

static const redir_rule_t *
find_rule(rl_request_t *r, const apr_array_header_t *list, const char **target)
{
    int i;

    for (i = 0; list != NULL && i < list->nelts; i++) {
        const redir_rule_t *rule = APR_ARRAY_IDX(list, i, redir_rule_t *);

        *target = rule_target(r, rule);
        if (*target != NULL) {
            return rule;
        }
    }
    return NULL;
}

/* The answer: Location, and a short page that names nothing but the
 * (escaped) target.  The response counts as a locally made one, as in
 * httpd: `Header` without `always` leaves it alone and mod_cache does
 * not store it. */
static int send_redirect(rl_request_t *r, int status, const char *target)
{
    const char *reason = rl_http_reason(status);
    const char *esc = apr_pescape_entity(r->pool, target, 0);
    const char *body;

    if (reason == NULL) {
        reason = "Redirect";
    }
    body = apr_psprintf(r->pool,
                        "<!DOCTYPE html>\n<html><head><title>%d %s</title>"
                        "</head><body>\n<h1>%s</h1>\n<p>This resource is at "
                        "<a href=\"%s\">%s</a>.</p>\n</body></html>\n",
                        status, reason, reason, esc, esc);
    r->status = status;
    apr_table_setn(r->headers_out, "Location", target);
    apr_table_setn(r->notes, RL_NOTE_ERROR_PAGE, "1");
    rl_set_content_type(r, "text/html; charset=utf-8");
    rl_set_content_length(r, (apr_off_t)strlen(body));
    rl_rputs(r, body);
    return RL_DONE;
}

/* "//host/x" (or "/\host") would send the client to another host: a
 * path target keeps one leading slash. */
static const char *one_leading_slash(apr_pool_t *p, const char *target)
{
    const char *s = target;

    while (*s == '/' || *s == '\\') {
        s++;
    }
    if (s - target > 1 || target[0] == '\\') {
        return apr_pstrcat(p, "/", s, NULL);
    }
    return target;
}

int redir_translate(rl_request_t *r)
{
    const hdr_dir_conf *conf =
        rl_get_module_config(r->per_dir_config, &headers_module);
    const redir_rule_t *rule;
    const char *target = NULL;

    if (conf == NULL || (conf->redir_srv == NULL && conf->redir_loc == NULL) ||
        r->uri[0] != '/') {
        return RL_DECLINED;
    }
    rule = find_rule(r, conf->redir_srv, &target);
    if (rule == NULL) {
        rule = find_rule(r, conf->redir_loc, &target);
    }
    if (rule == NULL) {
        return RL_DECLINED;
    }
    if (rule->url == NULL) {
        rl_log_rerror(RL_LOG_DEBUG, 0, r, "%s at %s:%u: %s answered with %d",
                      rule->directive, rule->file, rule->line, r->uri,
                      rule->status);
        return rule->status;
    }
    if (target[0] == '/' || target[0] == '\\') {
        target = one_leading_slash(r->pool, target);
    } else if (!is_url(target)) {
        rl_log_rerror(RL_LOG_ERR, 0, r,
                      "%s at %s:%u: cannot redirect %s to '%s': not an "
                      "absolute URL nor a path starting with '/'",
                      rule->directive, rule->file, rule->line, r->uri, target);
        return 500;
    }
    if (r->args != NULL && strchr(target, '?') == NULL) {
        target = apr_pstrcat(r->pool, target, "?", r->args, NULL);
    }
    rl_log_rerror(RL_LOG_DEBUG, 0, r, "%s at %s:%u: %s redirected (%d) to %s",
                  rule->directive, rule->file, rule->line, r->uri, rule->status,
                  target);
    return send_redirect(r, rule->status, target);
}
