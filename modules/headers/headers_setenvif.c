/*
 * headers_setenvif.c: httpd's mod_setenvif in mod_headers: request
 * variables (r->subprocess_env) set from what the request looks like.
 *
 *   SetEnvIf attribute regex [!]var[=value] [[!]var[=value]] ...
 *   SetEnvIfNoCase attribute regex ...      (the regex ignores case)
 *   BrowserMatch regex ...                  (= SetEnvIf User-Agent regex ...)
 *   BrowserMatchNoCase regex ...
 *
 * attribute is one of Remote_Addr, Remote_Host (the address: Relais does
 * no reverse lookups), Server_Addr, Request_Method, Request_Protocol,
 * Request_URI (the path, without the query), matched without case as
 * httpd does; otherwise a request header name; and when it holds a
 * character a header name cannot (`^X-.*`), a regular expression over
 * header names (without case).  A header that is absent tests the
 * request variable of that name instead (set by an earlier rule), then
 * the empty string, so that "^$" matches a missing header.
 *
 * `var` sets var to 1, `var=value` to value ($1..$9 and & take the groups
 * of the match), `!var` removes var.  Rules run in post_read_request, the
 * outer context's before the inner's and in file order, before any
 * Header/RequestHeader action: so `Header set X 1 env=var` and `CustomLog
 * ... env=!var` see them.
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "headers_private.h"

RL_LOG_USE_MODULE(headers);

/** What a rule tests. */
typedef enum senv_attr_e {
    SA_HEADER,         /**< a request header (or an earlier variable) */
    SA_HEADER_REGEX,   /**< the headers whose names match name_re */
    SA_REMOTE_ADDR,    /**< Remote_Addr, Remote_Host */
    SA_SERVER_ADDR,    /**< Server_Addr */
    SA_REQUEST_METHOD, /**< Request_Method */
    SA_REQUEST_PROTO,  /**< Request_Protocol */
    SA_REQUEST_URI     /**< Request_URI */
} senv_attr_e;

/** One variable a rule sets or removes. */
typedef struct senv_var_t {
    const char *name;
    const char *value; /**< NULL: remove the variable */
    int subst;         /**< value holds $N or & */
} senv_var_t;

typedef struct senv_rule_t {
    senv_attr_e attr;
    const char *name;    /**< header name for SA_HEADER */
    pcre2_code *name_re; /**< SA_HEADER_REGEX */
    pcre2_code *re;      /**< what the value must match */
    senv_var_t *vars;
    int nvars;
} senv_rule_t;

static const struct {
    const char *name;
    senv_attr_e attr;
} senv_specials[] = {
    {"Remote_Addr", SA_REMOTE_ADDR},
    {"Remote_Host", SA_REMOTE_ADDR},
    {"Server_Addr", SA_SERVER_ADDR},
    {"Request_Method", SA_REQUEST_METHOD},
    {"Request_Protocol", SA_REQUEST_PROTO},
    {"Request_URI", SA_REQUEST_URI},
};

/* The attribute: a special name, a header name, or a name pattern. */
static const char *parse_attr(rl_cmd_t *cmd, senv_rule_t *rule,
                              const char *attr)
{
    const char *s, *err;
    apr_size_t i;

    if (*attr == '\0') {
        return "the attribute is empty";
    }
    for (i = 0; i < sizeof(senv_specials) / sizeof(senv_specials[0]); i++) {
        if (strcasecmp(attr, senv_specials[i].name) == 0) {
            rule->attr = senv_specials[i].attr;
            return NULL;
        }
    }
    for (s = attr; *s; s++) {
        if (!apr_isalnum(*s) && *s != '-' && *s != '_') {
            break;
        }
    }
    if (*s == '\0') {
        rule->attr = SA_HEADER;
        rule->name = apr_pstrdup(cmd->pool, attr);
        return NULL;
    }
    /* as httpd: anything else is a pattern over header names */
    rule->attr = SA_HEADER_REGEX;
    rule->name_re = hv_regex(cmd->pool, attr, 1, &err);
    return rule->name_re ? NULL
                         : apr_pstrcat(cmd->pool, "attribute: ", err, NULL);
}

static const char *parse_var(rl_cmd_t *cmd, senv_var_t *v, const char *spec)
{
    const char *eq;

    if (spec[0] == '!') {
        if (spec[1] == '\0' || strchr(spec, '=') != NULL) {
            return apr_psprintf(
                cmd->pool, "'%s': expected !NAME to remove a variable", spec);
        }
        v->name = apr_pstrdup(cmd->pool, spec + 1);
        v->value = NULL;
        return NULL;
    }
    eq = strchr(spec, '=');
    if (eq == spec || spec[0] == '\0') {
        return apr_psprintf(cmd->pool,
                            "'%s': a variable needs a name (NAME, NAME=value "
                            "or !NAME)",
                            spec);
    }
    if (eq == NULL) {
        v->name = apr_pstrdup(cmd->pool, spec);
        v->value = "1";
    } else {
        v->name = apr_pstrndup(cmd->pool, spec, (apr_size_t)(eq - spec));
        v->value = apr_pstrdup(cmd->pool, eq + 1);
    }
    v->subst = hv_has_subst(v->value);
    return NULL;
}

const char *senv_cmd(rl_cmd_t *cmd, void *mconfig, int argc, char *const argv[])
{
    hdr_dir_conf *conf = mconfig;
    unsigned how = (unsigned)(apr_uintptr_t)cmd->data;
    senv_rule_t *rule = apr_pcalloc(cmd->pool, sizeof(*rule));
    const char *err;
    int first, i;

    if (how & SENV_BROWSER) {
        rule->attr = SA_HEADER;
        rule->name = "User-Agent";
        first = 0;
    } else {
        err = parse_attr(cmd, rule, argv[0]);
        if (err != NULL) {
            return err;
        }
        first = 1;
    }
    if (argc < first + 2) {
        return "expected a regular expression, then at least one variable "
               "([!]NAME[=value])";
    }
    rule->re = hv_regex(cmd->pool, argv[first], (how & SENV_NOCASE) != 0, &err);
    if (rule->re == NULL) {
        return err;
    }
    rule->nvars = argc - first - 1;
    rule->vars = apr_pcalloc(cmd->pool, sizeof(senv_var_t) * rule->nvars);
    for (i = 0; i < rule->nvars; i++) {
        err = parse_var(cmd, &rule->vars[i], argv[first + 1 + i]);
        if (err != NULL) {
            return err;
        }
    }
    if (conf->setenv == NULL) {
        conf->setenv = apr_array_make(cmd->pool, 4, sizeof(senv_rule_t *));
    }
    APR_ARRAY_PUSH(conf->setenv, senv_rule_t *) = rule;
    return NULL;
}

/* Matches, and sets the rule's variables when it matched. */
static int senv_try(rl_request_t *r, const senv_rule_t *rule, const char *val)
{
    pcre2_match_data *md = hv_match_data(r);
    int rc, i;

    rc = pcre2_match(rule->re, (PCRE2_SPTR)val, strlen(val), 0, 0, md, NULL);
    if (rc < 0) {
        if (rc != PCRE2_ERROR_NOMATCH) {
            rl_log_rerror(RL_LOG_ERR, 0, r,
                          "SetEnvIf: matching '%.80s' failed (PCRE2 error "
                          "%d): the rule is skipped",
                          val, rc);
        }
        return 0;
    }
    for (i = 0; i < rule->nvars; i++) {
        const senv_var_t *v = &rule->vars[i];
        if (v->value == NULL) {
            apr_table_unset(r->subprocess_env, v->name);
        } else {
            apr_table_setn(r->subprocess_env, v->name,
                           v->subst ? hv_regsub(r->pool, v->value, val, md, rc)
                                    : v->value);
        }
    }
    return 1;
}

/* The headers whose names match: the first whose value matches wins. */
static void senv_header_regex(rl_request_t *r, const senv_rule_t *rule)
{
    const apr_array_header_t *h = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)h->elts;
    pcre2_match_data *md = hv_match_data(r);
    int i;

    for (i = 0; i < h->nelts; i++) {
        if (e[i].key == NULL ||
            pcre2_match(rule->name_re, (PCRE2_SPTR)e[i].key, strlen(e[i].key),
                        0, 0, md, NULL) < 0) {
            continue;
        }
        if (senv_try(r, rule, e[i].val)) {
            return;
        }
    }
}

void senv_run(rl_request_t *r, const apr_array_header_t *rules)
{
    int i;

    for (i = 0; i < rules->nelts; i++) {
        const senv_rule_t *rule = APR_ARRAY_IDX(rules, i, senv_rule_t *);
        const char *val = NULL;

        switch (rule->attr) {
        case SA_HEADER_REGEX:
            senv_header_regex(r, rule);
            continue;
        case SA_HEADER:
            val = apr_table_get(r->headers_in, rule->name);
            if (val == NULL) {
                val = apr_table_get(r->subprocess_env, rule->name);
            }
            break;
        case SA_REMOTE_ADDR:
            val = r->connection->client_ip;
            break;
        case SA_SERVER_ADDR:
            val = r->connection->local_ip;
            break;
        case SA_REQUEST_METHOD:
            val = r->method;
            break;
        case SA_REQUEST_PROTO:
            val = r->protocol;
            break;
        case SA_REQUEST_URI:
            val = r->uri;
            break;
        }
        senv_try(r, rule, val ? val : "");
    }
}
