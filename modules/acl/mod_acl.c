/*
 * mod_acl.c: access control for Relais, as httpd 2.4's mod_authz_core,
 * mod_authz_host, mod_authz_user, mod_authz_groupfile, mod_auth_basic and
 * mod_authn_file in one module, plus rate limiting (acl_ratelimit.c).
 *
 *   <Location /admin>
 *       AuthType Basic
 *       AuthName "Administration"
 *       AuthUserFile conf/htpasswd
 *       <RequireAll>
 *           Require valid-user
 *           Require ip 10.0.0.0/8
 *       </RequireAll>
 *   </Location>
 *
 * Directives (server, <VirtualHost>, <Location>, <LocationMatch>,
 * <Proxy>): Require, <RequireAll>, <RequireAny>, <RequireNone>,
 * AuthMerging, AuthType, AuthName, AuthBasicProvider, AuthUserFile,
 * AuthGroupFile, AuthBasicForward, AuthzSendForbiddenOnFailure, RateLimit;
 * RateLimitTableSize (main server).  docs/acl.md is the reference.
 *
 * When: the access_checker hook, which the core runs before anything can
 * answer (cache hits included), checks the rate limit, then the Require
 * tree merged for the request's URI, authenticating the client when the
 * tree needs a user.  <Proxy> sections match the backend URL, which is
 * only known once mod_proxy has routed the request: their Require lines
 * are checked in fixups, after routing and before the backend is
 * contacted, on top of what the <Location> blocks require.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <apr_escape.h>
#include <apr_strings.h>

#include "relais.h"
#include "rl_proxy.h"
#include "acl_private.h"

RL_LOG_USE_MODULE(acl);

/* Some <Proxy> section holds a directive of ours: fixups has work. */
static int proxy_rules;

/* ------------------------------------------------------------------ */
/* Per-location configuration                                          */
/* ------------------------------------------------------------------ */

static void *acl_create_dir(apr_pool_t *p, const char *path)
{
    acl_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    (void)path;
    conf->merging = ACL_UNSET;
    conf->auth_type = ACL_UNSET;
    conf->forward = ACL_UNSET;
    conf->forbid_on_fail = ACL_UNSET;
    return conf;
}

/*
 * An inner context inherits the outer one's Require lines unless it has
 * its own; then AuthMerging of the inner context decides: Off (the
 * default) replaces, And and Or combine.  (httpd drops the outer lines
 * when an inner context says "AuthMerging Off" without any Require line
 * of its own, which opens it to everyone; Relais keeps them.)
 */
static void *acl_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const acl_dir_conf_t *base = basev, *add = addv;
    acl_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    if (add->authz == NULL) {
        conf->authz = base->authz;
    } else if (base->authz != NULL && (add->merging == ACL_MERGE_AND ||
                                       add->merging == ACL_MERGE_OR)) {
        conf->authz = acl_node_merge(
            p, add->merging == ACL_MERGE_AND ? ACL_OP_ALL : ACL_OP_ANY,
            base->authz, add->authz);
    } else {
        conf->authz = add->authz;
    }
    conf->merging = add->merging;
    conf->auth_type =
        add->auth_type != ACL_UNSET ? add->auth_type : base->auth_type;
    conf->realm = add->realm ? add->realm : base->realm;
    conf->user_file = add->user_file ? add->user_file : base->user_file;
    conf->group_file = add->group_file ? add->group_file : base->group_file;
    conf->forward = add->forward != ACL_UNSET ? add->forward : base->forward;
    conf->forbid_on_fail = add->forbid_on_fail != ACL_UNSET
                               ? add->forbid_on_fail
                               : base->forbid_on_fail;
    conf->ratelimit_set = add->ratelimit_set || base->ratelimit_set;
    conf->ratelimit = add->ratelimit_set ? add->ratelimit : base->ratelimit;
    return conf;
}

/* Every directive handler calls this: a <Proxy> rule needs fixups. */
static void seen(const rl_cmd_t *cmd)
{
    if (cmd->context == RL_CTX_PROXY) {
        proxy_rules = 1;
    }
}

/* ------------------------------------------------------------------ */
/* Require and its containers                                          */
/* ------------------------------------------------------------------ */

/* The container a Require line or section goes into: the one being
 * read, or the context's own implicit <RequireAny>. */
static acl_node_t *parent_of(rl_cmd_t *cmd, acl_dir_conf_t *conf)
{
    if (conf->building != NULL) {
        return conf->building;
    }
    if (conf->authz == NULL) {
        conf->authz = acl_node_container(cmd->pool, ACL_KIND_CONTEXT,
                                         cmd->node->file, cmd->node->line);
    }
    return conf->authz;
}

/* The argument text after `skip` words, as written (for expr). */
static const char *raw_after(const char *raw, int skip)
{
    if (raw == NULL) {
        return NULL;
    }
    while (skip-- > 0) {
        while (*raw == ' ' || *raw == '\t') {
            raw++;
        }
        while (*raw != '\0' && *raw != ' ' && *raw != '\t') {
            raw++;
        }
    }
    while (*raw == ' ' || *raw == '\t') {
        raw++;
    }
    return raw;
}

/* httpd Require types that Relais does not have. */
static const char *const foreign_types[] = {
    "ldap-user",   "ldap-group",  "ldap-dn",   "ldap-attribute",
    "ldap-filter", "ldap-search", "dbd-group", "dbm-group",
    "file-group",  "forward-dns", "ssl",       "ssl-verify-client",
    "owner",       "file-owner",  NULL};

/* Require [not] type args… */
static const char *require_line(rl_cmd_t *cmd, void *mconfig, int argc,
                                char *const argv[])
{
    acl_dir_conf_t *conf = mconfig;
    const acl_provider_t *prov;
    const char *err, *name;
    void **parsed = apr_pcalloc(cmd->temp_pool, sizeof(*parsed));
    int negate;
    acl_node_t *n;

    seen(cmd);
    negate = argc > 0 && strcasecmp(argv[0], "not") == 0;
    if (argc <= negate) {
        if (negate) {
            return "'Require not' needs a Require type after it, e.g. "
                   "Require not ip 10.0.0.1";
        }
        return cmd->node->args_error ? cmd->node->args_error
                                     : "expected a Require type";
    }
    name = argv[negate];
    prov = acl_provider_find(name);
    if (prov == NULL) {
        int i;
        for (i = 0; foreign_types[i] != NULL; i++) {
            if (strcasecmp(foreign_types[i], name) == 0) {
                return apr_psprintf(cmd->temp_pool,
                                    "Require type '%s' is not provided by "
                                    "Relais (known: %s)",
                                    name, acl_provider_names());
            }
        }
        return apr_psprintf(cmd->temp_pool,
                            "unknown Require type '%s' (known: %s; 'not' "
                            "may come first)",
                            name, acl_provider_names());
    }
    /* only an expression may hold what does not split into words */
    if (cmd->node->args_error != NULL && strcmp(prov->name, "expr") != 0) {
        return cmd->node->args_error;
    }
    err = prov->parse(cmd, argc - negate - 1, argv + negate + 1,
                      raw_after(cmd->node->raw_args, negate + 1), parsed);
    if (err != NULL) {
        return err;
    }
    n = acl_node_line(
        cmd->pool, prov, *parsed, negate,
        apr_pstrcat(cmd->pool, "Require ",
                    cmd->node->raw_args ? cmd->node->raw_args : name, NULL),
        cmd->node->file, cmd->node->line);
    return acl_node_add(cmd->pool, parent_of(cmd, conf), n);
}

/* <RequireAll>, <RequireAny>, <RequireNone> */
static const char *require_section(rl_cmd_t *cmd, void *mconfig, int argc,
                                   char *const argv[])
{
    acl_dir_conf_t *conf = mconfig;
    acl_kind_e kind = (acl_kind_e)(uintptr_t)cmd->data;
    acl_node_t *outer = conf->building, *n;
    const rl_config_node_t *c;
    const char *err;
    int errors;

    (void)argc;
    (void)argv;
    seen(cmd);
    n = acl_node_container(cmd->pool, kind, cmd->node->file, cmd->node->line);
    /* The body is Require lines and sections only: another directive
     * there would apply to the whole context, not to the container, and
     * whoever wrote it surely meant otherwise. */
    for (c = cmd->node->first_child; c != NULL; c = c->next) {
        if (strcasecmp(c->name, "Require") != 0 &&
            strcasecmp(c->name, "<RequireAll") != 0 &&
            strcasecmp(c->name, "<RequireAny") != 0 &&
            strcasecmp(c->name, "<RequireNone") != 0) {
            return apr_psprintf(cmd->temp_pool,
                                "%s (line %u) does not belong in %s: only "
                                "Require lines and <RequireAll>, "
                                "<RequireAny>, <RequireNone> sections do",
                                c->name, c->line, acl_node_name(n));
        }
    }
    conf->building = n;
    errors = rl_config_walk(cmd, cmd->node->first_child, cmd->context,
                            cmd->path, cmd->dir_config);
    conf->building = outer;
    if (errors > 0) {
        return NULL; /* reported already, each at its own line */
    }
    err = acl_node_close(cmd->pool, n);
    if (err != NULL) {
        return err;
    }
    return acl_node_add(cmd->pool, parent_of(cmd, conf), n);
}

/* ------------------------------------------------------------------ */
/* Authentication settings                                             */
/* ------------------------------------------------------------------ */

static const char *set_merging(rl_cmd_t *cmd, void *mconfig, int argc,
                               char *const argv[])
{
    acl_dir_conf_t *conf = mconfig;

    (void)argc;
    seen(cmd);
    if (strcasecmp(argv[0], "Off") == 0) {
        conf->merging = ACL_MERGE_OFF;
    } else if (strcasecmp(argv[0], "And") == 0) {
        conf->merging = ACL_MERGE_AND;
    } else if (strcasecmp(argv[0], "Or") == 0) {
        conf->merging = ACL_MERGE_OR;
    } else {
        return apr_psprintf(cmd->temp_pool, "expected Off, And or Or, got '%s'",
                            argv[0]);
    }
    return NULL;
}

static const char *set_auth_type(rl_cmd_t *cmd, void *mconfig, int argc,
                                 char *const argv[])
{
    acl_dir_conf_t *conf = mconfig;

    (void)argc;
    seen(cmd);
    if (strcasecmp(argv[0], "Basic") == 0) {
        conf->auth_type = ACL_AUTH_BASIC;
    } else if (strcasecmp(argv[0], "None") == 0) {
        conf->auth_type = ACL_AUTH_NONE;
    } else if (strcasecmp(argv[0], "Digest") == 0 ||
               strcasecmp(argv[0], "Form") == 0) {
        return apr_psprintf(cmd->temp_pool,
                            "AuthType %s is not provided by Relais: use "
                            "AuthType Basic (over TLS: Basic sends the "
                            "password in clear)",
                            argv[0]);
    } else {
        return apr_psprintf(cmd->temp_pool, "expected Basic or None, got '%s'",
                            argv[0]);
    }
    return NULL;
}

static const char *set_realm(rl_cmd_t *cmd, void *mconfig, int argc,
                             char *const argv[])
{
    acl_dir_conf_t *conf = mconfig;

    (void)argc;
    seen(cmd);
    conf->realm = apr_pstrdup(cmd->pool, argv[0]);
    return NULL;
}

static const char *set_basic_provider(rl_cmd_t *cmd, void *mconfig, int argc,
                                      char *const argv[])
{
    int i;

    (void)mconfig;
    seen(cmd);
    for (i = 0; i < argc; i++) {
        if (strcasecmp(argv[i], "file") != 0) {
            return apr_psprintf(cmd->temp_pool,
                                "provider '%s' is not provided by Relais: "
                                "only 'file' (users from AuthUserFile)",
                                argv[i]);
        }
    }
    return NULL;
}

static const char *set_file(rl_cmd_t *cmd, void *mconfig, int argc,
                            char *const argv[])
{
    acl_dir_conf_t *conf = mconfig;
    int is_group = cmd->data != NULL;
    const char *err = NULL;
    acl_file_t *f;

    (void)argc;
    seen(cmd);
    f = acl_file_get(cmd, argv[0], is_group, &err);
    if (f == NULL) {
        return err;
    }
    if (is_group) {
        conf->group_file = f;
    } else {
        conf->user_file = f;
    }
    return NULL;
}

static const char *set_flag(rl_cmd_t *cmd, void *mconfig, int argc,
                            char *const argv[])
{
    seen(cmd);
    return rl_set_flag_slot(cmd, mconfig, argc, argv);
}

/* httpd's mod_access_compat, which Relais does not provide. */
static const char *access_compat(rl_cmd_t *cmd, void *mconfig, int argc,
                                 char *const argv[])
{
    (void)mconfig;
    (void)argc;
    (void)argv;
    return apr_psprintf(cmd->temp_pool,
                        "%s (httpd 2.2's mod_access_compat) is not provided "
                        "by Relais: use Require, e.g. 'Require ip "
                        "10.0.0.0/8' for 'Allow from 10.0.0.0/8', 'Require "
                        "all denied' for 'Deny from all', <RequireAll> or "
                        "<RequireAny> for Satisfy",
                        cmd->directive->name);
}

/* ------------------------------------------------------------------ */
/* Rate limiting (acl_ratelimit.c)                                     */
/* ------------------------------------------------------------------ */

static const char *set_ratelimit(rl_cmd_t *cmd, void *mconfig, int argc,
                                 char *const argv[])
{
    acl_dir_conf_t *conf = mconfig;
    acl_ratelimit_t *limit = NULL;
    const char *err;

    seen(cmd);
    err = acl_ratelimit_parse(cmd, argc, argv, &limit);
    if (err != NULL) {
        return err;
    }
    conf->ratelimit = limit;
    conf->ratelimit_set = 1;
    return NULL;
}

static const char *set_table_size(rl_cmd_t *cmd, void *mconfig, int argc,
                                  char *const argv[])
{
    (void)mconfig;
    (void)argc;
    return acl_ratelimit_set_table_size(cmd, argv[0]);
}

static const rl_directive_t acl_directives[] = {
    {"Require", require_line, NULL, RL_CTX_ANY, 1, -1, RL_DIR_RAW,
     "Require [not] all|ip|host|local|env|method|expr|valid-user|user|group "
     "args... -- who may access (several lines: any of them)"},
    RL_SECTION("<RequireAll", require_section, (void *)(uintptr_t)ACL_KIND_ALL,
               RL_CTX_ANY, 0, 0,
               "<RequireAll> -- every Require line inside must grant, none "
               "deny"),
    RL_SECTION("<RequireAny", require_section, (void *)(uintptr_t)ACL_KIND_ANY,
               RL_CTX_ANY, 0, 0,
               "<RequireAny> -- one Require line inside must grant"),
    RL_SECTION("<RequireNone", require_section,
               (void *)(uintptr_t)ACL_KIND_NONE, RL_CTX_ANY, 0, 0,
               "<RequireNone> -- denies when any Require line inside grants"),
    RL_TAKE1("AuthMerging", set_merging, NULL, RL_CTX_ANY,
             "AuthMerging Off|And|Or -- how this context's Require lines "
             "combine with the outer ones (default Off: they replace them)"),
    RL_TAKE1("AuthType", set_auth_type, NULL, RL_CTX_ANY,
             "AuthType Basic|None -- how users authenticate"),
    RL_TAKE1("AuthName", set_realm, NULL, RL_CTX_ANY,
             "AuthName realm -- the realm shown in the password prompt"),
    RL_TAKE_ARGV("AuthBasicProvider", set_basic_provider, NULL, RL_CTX_ANY,
                 "AuthBasicProvider file -- where users come from (only "
                 "file)"),
    RL_TAKE1("AuthUserFile", set_file, NULL, RL_CTX_ANY,
             "AuthUserFile path -- htpasswd file (re-read when it changes)"),
    RL_TAKE1("AuthGroupFile", set_file, (void *)1, RL_CTX_ANY,
             "AuthGroupFile path -- 'group: user user' lines, for Require "
             "group"),
    RL_TAKE1("AuthBasicForward", set_flag,
             (void *)offsetof(acl_dir_conf_t, forward), RL_CTX_ANY,
             "AuthBasicForward On|Off -- pass the Authorization header of "
             "users Relais authenticated on to the backend (default Off)"),
    RL_TAKE1("AuthzSendForbiddenOnFailure", set_flag,
             (void *)offsetof(acl_dir_conf_t, forbid_on_fail), RL_CTX_ANY,
             "AuthzSendForbiddenOnFailure On|Off -- 403 instead of 401 when "
             "an authenticated user is not allowed (default Off)"),
    RL_TAKE_ARGV("RateLimit", set_ratelimit, NULL, RL_CTX_ANY,
                 "RateLimit N/s|N/m [burst=M] [by=ip|header:Name] -- "
                 "requests per client, 429 beyond"),
    RL_TAKE1("RateLimitTableSize", set_table_size, NULL, RL_CTX_MAIN,
             "RateLimitTableSize n -- clients the rate limit table tracks"),
    RL_TAKE_ARGV("Order", access_compat, NULL, RL_CTX_ANY,
                 "Order -- not provided: use Require"),
    RL_TAKE_ARGV("Allow", access_compat, NULL, RL_CTX_ANY,
                 "Allow -- not provided: use Require"),
    RL_TAKE_ARGV("Deny", access_compat, NULL, RL_CTX_ANY,
                 "Deny -- not provided: use Require"),
    RL_TAKE_ARGV("Satisfy", access_compat, NULL, RL_CTX_ANY,
                 "Satisfy -- not provided: use <RequireAll>/<RequireAny>"),
    RL_DIRECTIVE_END};

/* ------------------------------------------------------------------ */
/* Request time                                                        */
/* ------------------------------------------------------------------ */

/* LogLevel acl:debug: each node's result, as httpd's AH01626. */
static void trace(void *ctx, const acl_node_t *n, acl_result_e res)
{
    const acl_req_t *q = ctx;

    rl_log_rerror(RL_LOG_DEBUG, 0, q->r, "authorization result of %s: %s",
                  acl_node_name(n), acl_result_name(res));
}

static acl_result_e evaluate(rl_request_t *r, const acl_dir_conf_t *conf)
{
    acl_req_t q;
    acl_eval_t ev;

    q.r = r;
    q.conf = conf;
    ev.ctx = &q;
    ev.trace =
        rl_log_enabled(&acl_module, RL_LOG_DEBUG, r->server) ? trace : NULL;
    return acl_node_eval(conf->authz, &ev);
}

/*
 * The whole check of one configuration: rate limit (unless `done`
 * already counted this one), then the Require tree, authenticating when
 * it needs a user.  @return RL_OK, or the status to answer with
 */
static int check(rl_request_t *r, const acl_dir_conf_t *conf,
                 const acl_ratelimit_t *done)
{
    acl_result_e res;
    int rc;

    if (conf->ratelimit != NULL && conf->ratelimit != done) {
        rc = acl_ratelimit_check(r, conf->ratelimit);
        if (rc != RL_OK && rc != RL_DECLINED) {
            return rc;
        }
    }
    if (conf->authz == NULL) {
        if (conf->auth_type == ACL_AUTH_BASIC) {
            /* httpd's AH01627: Basic without Require protects nothing,
             * which cannot be what the operator meant */
            rl_log_rerror(RL_LOG_ERR, 0, r,
                          "AuthType Basic applies to %s, but no Require line "
                          "does: add one (e.g. Require valid-user), or "
                          "AuthType None",
                          r->uri);
            return 500;
        }
        return RL_OK;
    }
    res = evaluate(r, conf);
    if (res == ACL_DENIED_NO_USER && r->user == NULL) {
        if (conf->auth_type != ACL_AUTH_BASIC) {
            rl_log_rerror(RL_LOG_ERR, 0, r,
                          "%s (%s:%u) needs an authenticated user for %s, but "
                          "no AuthType Basic applies there",
                          acl_node_name(conf->authz), conf->authz->file,
                          conf->authz->line, r->uri);
            return 500;
        }
        if (conf->realm == NULL || conf->user_file == NULL) {
            rl_log_rerror(RL_LOG_ERR, 0, r,
                          "AuthType Basic applies to %s without %s: add it "
                          "next to AuthType",
                          r->uri,
                          conf->realm == NULL ? "AuthName" : "AuthUserFile");
            return 500;
        }
        rc = acl_basic_authenticate(r, conf);
        if (rc != RL_OK) {
            return rc;
        }
        /* The backend cannot check these credentials again (it does not
         * have our htpasswd), and a header it does not need cannot leak
         * from its logs: keep it only when asked. */
        if (conf->forward != 1) {
            apr_table_unset(r->headers_in, "Authorization");
        }
        res = evaluate(r, conf);
    }
    switch (res) {
    case ACL_GRANTED:
        return RL_OK;
    case ACL_ERROR:
        return 500;
    case ACL_DENIED:
    case ACL_NEUTRAL:
    case ACL_DENIED_NO_USER:
        break;
    }
    if (r->user == NULL) {
        rl_log_rerror(RL_LOG_INFO, 0, r,
                      "client denied by server configuration: %s (%s:%u)",
                      r->uri, conf->authz->file, conf->authz->line);
        return 403;
    }
    rl_log_rerror(RL_LOG_INFO, 0, r,
                  "user \"%s\": authorization failure for %s (%s:%u)",
                  apr_pescape_echo(r->pool, r->user, 1), r->uri,
                  conf->authz->file, conf->authz->line);
    if (conf->forbid_on_fail == 1 || conf->auth_type != ACL_AUTH_BASIC) {
        return 403;
    }
    /* as httpd: the user may try another name */
    acl_basic_challenge(r, conf);
    return 401;
}

static int acl_access_checker(rl_request_t *r)
{
    const acl_dir_conf_t *conf =
        rl_get_module_config(r->per_dir_config, &acl_module);

    if (proxy_rules) {
        /* acl_fixups matches <Proxy> sections on the backend URL */
        apr_table_setn(r->notes, RL_PROXY_NOTE_WANT_URL, "1");
    }
    if (conf == NULL) {
        return RL_DECLINED;
    }
    return check(r, conf, NULL);
}

/* "http://b:8080/x" and the backend URL "http://b:8080/x/y" (scheme and
 * host without case, the path with it; a section path ends at a '/' or
 * the URL does). */
static int proxy_matches(const char *section, const char *url)
{
    const char *sep = strstr(section, "://");
    const char *path = sep ? strchr(sep + 3, '/') : NULL;
    apr_size_t host_len = path ? (apr_size_t)(path - section) : strlen(section);
    apr_size_t n = strlen(section);

    if (strncasecmp(section, url, host_len) != 0) {
        return 0;
    }
    if (path != NULL && strncmp(path, url + host_len, n - host_len) != 0) {
        return 0;
    }
    return url[n] == '\0' || url[n] == '/' || url[n] == '?' ||
           section[n - 1] == '/';
}

/*
 * fixups: the <Proxy> sections matching the backend URL mod_proxy chose
 * (RL_PROXY_NOTE_URL), merged in file order over the request's own
 * configuration, checked as access_checker checks the latter.
 */
static int acl_fixups(rl_request_t *r)
{
    const acl_dir_conf_t *conf, *merged = NULL;
    apr_array_header_t *locs = r->server->locations;
    const char *url;
    int i;

    if (!proxy_rules ||
        (url = apr_table_get(r->notes, RL_PROXY_NOTE_URL)) == NULL) {
        return RL_DECLINED;
    }
    conf = rl_get_module_config(r->per_dir_config, &acl_module);
    for (i = 0; i < locs->nelts; i++) {
        const rl_location_t *loc = APR_ARRAY_IDX(locs, i, rl_location_t *);
        const acl_dir_conf_t *own;
        if (loc->kind != RL_CTX_PROXY || loc->own_config == NULL) {
            continue;
        }
        own = rl_get_module_config(loc->own_config, &acl_module);
        if (own == NULL || !proxy_matches(loc->path, url)) {
            continue;
        }
        if (merged == NULL) {
            merged = conf ? conf : acl_create_dir(r->pool, NULL);
        }
        merged = acl_merge_dir(r->pool, (void *)merged, (void *)own);
    }
    if (merged == NULL || (conf != NULL && merged->authz == conf->authz &&
                           merged->ratelimit == conf->ratelimit)) {
        return RL_DECLINED;
    }
    return check(r, merged, conf ? conf->ratelimit : NULL);
}

static int acl_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    proxy_rules = 0;
    return RL_OK;
}

static int acl_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, rl_server_t *s)
{
    (void)plog;
    (void)ptemp;
    return acl_ratelimit_post_config(pconf, s);
}

static void acl_child_init(apr_pool_t *pchild, rl_server_t *s)
{
    acl_ratelimit_child_init(pchild, s);
}

static void acl_register_hooks(apr_pool_t *p)
{
    (void)p;
    rl_hook_pre_config(acl_pre_config, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_post_config(acl_post_config, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_child_init(acl_child_init, NULL, NULL, RL_HOOK_MIDDLE);
    /* first: no other module should act on a request we refuse */
    rl_hook_access_checker(acl_access_checker, NULL, NULL, RL_HOOK_FIRST);
    rl_hook_fixups(acl_fixups, NULL, NULL, RL_HOOK_FIRST);
}

RL_DECLARE_MODULE(acl) = {RL_MODULE_STUFF("acl", "1.0.0", 0),
                          acl_directives,
                          NULL,
                          NULL,
                          acl_create_dir,
                          acl_merge_dir,
                          acl_register_hooks};
