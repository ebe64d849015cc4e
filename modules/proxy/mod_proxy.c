/*
 * mod_proxy.c: the reverse proxy: ProxyPass and friends, routing in
 * translate_name, the proxy hooks other modules use (include/rl_proxy.h),
 * and the handler that talks HTTP/1.1 to backends (proxy_http.c).
 *
 * Routing follows httpd: rules are checked in configuration order and the
 * first that matches wins, with one improvement: a longer ProxyPass
 * prefix beats a shorter one declared earlier (in httpd that later rule
 * could never match).  "!" excludes a path; a vhost's rules come before
 * the main server's.
 */
#include "proxy_private.h"

#include <apr_hash.h>

#include <apr_lib.h>
#include <stddef.h>

RL_LOG_USE_MODULE(proxy);

/* clang-format off */
APR_HOOK_STRUCT(
    APR_HOOK_LINK(pre_request)
    APR_HOOK_LINK(pick_member)
    APR_HOOK_LINK(post_request)
    APR_HOOK_LINK(member_state_changed)
)
/* clang-format on */

APR_IMPLEMENT_EXTERNAL_HOOK_RUN_FIRST(rl_proxy, RL_PROXY, int, pre_request,
                                      (rl_request_t * r, const char *target,
                                       rl_proxy_worker_t **worker, char **url),
                                      (r, target, worker, url), RL_DECLINED)
APR_IMPLEMENT_EXTERNAL_HOOK_RUN_FIRST(
    rl_proxy, RL_PROXY, rl_proxy_worker_t *, pick_member,
    (rl_proxy_balancer_t * b, rl_request_t *r), (b, r), NULL)
APR_IMPLEMENT_EXTERNAL_HOOK_RUN_ALL(rl_proxy, RL_PROXY, int, post_request,
                                    (rl_request_t * r,
                                     rl_proxy_worker_t *worker,
                                     rl_proxy_outcome_e outcome),
                                    (r, worker, outcome), RL_OK, RL_DECLINED)
APR_IMPLEMENT_EXTERNAL_HOOK_VOID(
    rl_proxy, RL_PROXY, member_state_changed,
    (rl_proxy_worker_t * worker, apr_uint32_t old_status,
     apr_uint32_t new_status, const char *reason, const char *detail),
    (worker, old_status, new_status, reason, detail))

proxy_server_conf_t *proxy_server_conf(const rl_server_t *s)
{
    return rl_get_module_config(s->module_config, &proxy_module);
}

static void *proxy_create_server(apr_pool_t *p, rl_server_t *s)
{
    proxy_server_conf_t *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->aliases = apr_array_make(p, 4, sizeof(proxy_alias_t));
    c->reverse = apr_array_make(p, 2, sizeof(proxy_reverse_t));
    c->via = -1;
    c->error_override = -1;
    c->timeout = -1;
    return c;
}

#define PROXY_MERGE(f) c->f = add->f != -1 ? add->f : base->f

static void *proxy_merge_server(apr_pool_t *p, void *basev, void *addv)
{
    const proxy_server_conf_t *base = basev, *add = addv;
    proxy_server_conf_t *c = apr_pcalloc(p, sizeof(*c));

    /* the vhost's own rules first, then the main server's (httpd) */
    c->aliases = apr_array_append(p, add->aliases, base->aliases);
    c->reverse = apr_array_append(p, add->reverse, base->reverse);
    PROXY_MERGE(via);
    PROXY_MERGE(error_override);
    PROXY_MERGE(timeout);
    c->resolver = add->resolver ? add->resolver : base->resolver;
    return c;
}

static void *proxy_create_dir(apr_pool_t *p, const char *path)
{
    proxy_dir_conf_t *d = apr_palloc(p, sizeof(*d));

    (void)path;
    d->preserve_host = -1;
    d->add_headers = -1;
    return d;
}


static void *proxy_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const proxy_dir_conf_t *base = basev, *add = addv;
    proxy_dir_conf_t *c = apr_palloc(p, sizeof(*c));

    PROXY_MERGE(preserve_host);
    PROXY_MERGE(add_headers);
    return c;
}


int proxy_preserve_host(const rl_request_t *r)
{
    const proxy_dir_conf_t *d =
        rl_get_module_config(r->per_dir_config, &proxy_module);

    return d != NULL && d->preserve_host == 1; /* default Off */
}


int proxy_add_headers(const rl_request_t *r)
{
    const proxy_dir_conf_t *d =
        rl_get_module_config(r->per_dir_config, &proxy_module);

    return d == NULL || d->add_headers != 0; /* default On */
}


/* The path part of a URL ("http://b:8080/app/?x" -> "/app/?x"). */
static const char *url_path(const char *url)
{
    const char *s = strstr(url, "://");
    const char *slash = s ? strchr(s + 3, '/') : NULL;

    return slash ? slash : "";
}

/*
 * ProxyPass [path] url|! [key=value …]       (path from <Location> if absent)
 * ProxyPassMatch [regex] url|! [key=value …]
 */
static const char *add_pass(rl_cmd_t *cmd, void *dconf, int argc,
                            char *const argv[])
{
    proxy_server_conf_t *conf = proxy_server_conf(cmd->server);
    int is_match = cmd->data != NULL;
    proxy_alias_t a;
    const char *err = NULL;
    int i = 0;

    (void)dconf;
    memset(&a, 0, sizeof(a));
    if (cmd->context == RL_CTX_LOCATION) {
        if (cmd->path == NULL) {
            return "not allowed in this section";
        }
        a.fake = cmd->path;
    } else {
        if (argc < 2) {
            return apr_psprintf(cmd->temp_pool,
                                "expected a %s and a URL (or !)",
                                is_match ? "regular expression" : "path");
        }
        a.fake = argv[i++];
    }
    a.real = apr_pstrdup(cmd->pool, argv[i++]);
    a.file = cmd->node->file;
    a.line = cmd->node->line;
    if (is_match) {
        a.regex = rl_regex_compile(cmd->pool, a.fake, &err);
        if (a.regex == NULL) {
            return err;
        }
    } else if (a.fake[0] != '/') {
        return apr_psprintf(cmd->temp_pool,
                            "'%s': the local path must start with '/'", a.fake);
    }
    a.fake = apr_pstrdup(cmd->pool, a.fake);
    if (strcmp(a.real, "!") == 0) {
        if (i < argc) {
            return "an exclusion (!) takes no parameters";
        }
    } else if (strncasecmp(a.real, "balancer://", 11) == 0) {
        /* a balancer module claims it in proxy_pre_request */
        const rl_proxy_balancer_provider_t *bp =
            rl_lookup_provider("proxy_balancer", "default", "1");
        const char *slash = strchr(a.real + 11, '/');
        a.real_path = slash ? slash : "";
        if (bp == NULL) {
            return "balancer:// targets need mod_balancer: add LoadModule "
                   "balancer_module modules/mod_balancer.so";
        }
        err = bp->set_params(
            cmd,
            apr_pstrndup(cmd->pool, a.real,
                         slash ? (apr_size_t)(slash - a.real) : strlen(a.real)),
            argc - i, argv + i);
        if (err != NULL) {
            return err;
        }
    } else {
        a.worker =
            rl_proxy_define_worker(cmd, a.real, argc - i, argv + i, &err);
        if (a.worker == NULL) {
            return err;
        }
        a.real_path = url_path(a.real);
    }
    APR_ARRAY_PUSH(conf->aliases, proxy_alias_t) = a;
    return NULL;
}

/* ProxyPassReverse [path] url */
static const char *add_reverse(rl_cmd_t *cmd, void *dconf, int argc,
                               char *const argv[])
{
    proxy_server_conf_t *conf = proxy_server_conf(cmd->server);
    proxy_reverse_t *rv = apr_array_push(conf->reverse);

    (void)dconf;
    if (cmd->context == RL_CTX_LOCATION) {
        if (argc != 1) {
            return "inside <Location> give only the URL";
        }
        rv->fake = cmd->path;
        rv->real = apr_pstrdup(cmd->pool, argv[0]);
        return NULL;
    }
    if (argc != 2) {
        return "expected a local path and a backend URL";
    }
    rv->fake = apr_pstrdup(cmd->pool, argv[0]);
    rv->real = apr_pstrdup(cmd->pool, argv[1]);
    return NULL;
}

static const char *set_conf_flag(rl_cmd_t *cmd, void *dconf, int argc,
                                 char *const argv[])
{
    (void)dconf;
    return rl_set_flag_slot(cmd, proxy_server_conf(cmd->server), argc, argv);
}

static const char *set_timeout(rl_cmd_t *cmd, void *dconf, int argc,
                               char *const argv[])
{
    (void)dconf;
    (void)argc;
    return rl_parse_duration(cmd->temp_pool, argv[0], APR_USEC_PER_SEC,
                             &proxy_server_conf(cmd->server)->timeout);
}

static const char *set_via(rl_cmd_t *cmd, void *dconf, int argc,
                           char *const argv[])
{
    static const char *const names[] = {"Off", "On", "Full", "Block"};
    int i;

    (void)dconf;
    (void)argc;
    for (i = 0; i < 4; i++) {
        if (strcasecmp(argv[0], names[i]) == 0) {
            proxy_server_conf(cmd->server)->via = i;
            return NULL;
        }
    }
    return "expected Off, On, Full or Block";
}

static const char *set_requests(rl_cmd_t *cmd, void *dconf, int argc,
                                char *const argv[])
{
    int on = 0;
    const char *err = rl_parse_flag(cmd->temp_pool, argv[0], &on);

    (void)dconf;
    (void)argc;
    if (err != NULL) {
        return err;
    }
    if (on) {
        return "Relais is a reverse proxy only: forward proxying "
               "(ProxyRequests On) is not provided; use ProxyPass to map "
               "paths to backends";
    }
    return NULL;
}

/* <Proxy url>: settings for a backend or balancer (BalancerMember and
 * ProxySet come from mod_balancer). */
static const char *proxy_section(rl_cmd_t *cmd, void *dconf, int argc,
                                 char *const argv[])
{
    void **vec = rl_config_new_dir_vector(cmd->pool, argv[0]);

    (void)dconf;
    (void)argc;
    if (strchr(argv[0], '*') != NULL || argv[0][0] == '~') {
        return "wildcard and regex <Proxy> sections are not supported";
    }
    rl_config_walk(cmd, cmd->node->first_child, RL_CTX_PROXY,
                   apr_pstrdup(cmd->pool, argv[0]), vec);
    rl_config_add_location(cmd, apr_pstrdup(cmd->pool, argv[0]), NULL,
                           RL_CTX_PROXY, vec);
    return NULL;
}

/* "/app" matches "/app", "/app/x", not "/apple"; "/app/" matches "/app/x" */
static int prefix_matches(const char *fake, const char *uri, apr_size_t *len)
{
    apr_size_t n = strlen(fake);

    if (strncmp(uri, fake, n) != 0) {
        return 0;
    }
    if (uri[n] != '\0' && uri[n] != '/' && fake[n - 1] != '/') {
        return 0;
    }
    *len = n;
    return 1;
}

/* $0..$9 in `real` replaced by the regex's groups. */
static const char *substitute(apr_pool_t *p, const char *real, const char *uri,
                              pcre2_match_data *md, int rc)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    apr_array_header_t *parts = apr_array_make(p, 8, sizeof(char *));
    const char *s = real;

    while (*s) {
        const char *d = strchr(s, '$');
        if (d == NULL || !apr_isdigit(d[1])) {
            APR_ARRAY_PUSH(parts, const char *) =
                d ? apr_pstrndup(p, s, d - s + 1) : s;
            if (d == NULL) {
                break;
            }
            s = d + 1;
            continue;
        }
        APR_ARRAY_PUSH(parts, const char *) = apr_pstrndup(p, s, d - s);
        if (d[1] - '0' < rc) {
            int g = d[1] - '0';
            APR_ARRAY_PUSH(parts, const char *) =
                apr_pstrndup(p, uri + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
        }
        s = d + 2;
    }
    return apr_array_pstrcat(p, parts, 0);
}

/* translate_name: route the request to a backend. */
static int proxy_translate(rl_request_t *r)
{
    proxy_server_conf_t *conf = proxy_server_conf(r->server);
    const proxy_alias_t *best = NULL;
    apr_size_t best_len = 0, len = 0;
    const char *path = NULL;
    proxy_route_t *route;
    int i;

    if (conf == NULL || conf->aliases->nelts == 0 || r->uri[0] != '/') {
        return RL_DECLINED;
    }
    for (i = 0; i < conf->aliases->nelts; i++) {
        const proxy_alias_t *a =
            &APR_ARRAY_IDX(conf->aliases, i, proxy_alias_t);
        if (a->regex != NULL) {
            pcre2_match_data *md;
            int rc;
            if (best != NULL) {
                continue; /* an earlier rule matched: order wins */
            }
            md = pcre2_match_data_create_from_pattern(a->regex, NULL);
            rc = pcre2_match(a->regex, (PCRE2_SPTR)r->uri,
                             PCRE2_ZERO_TERMINATED, 0, 0, md, NULL);
            if (rc >= 0) {
                best = a;
                path = strcmp(a->real, "!") == 0
                           ? NULL
                           : url_path(
                                 substitute(r->pool, a->real, r->uri, md, rc));
            }
            pcre2_match_data_free(md);
        } else if (prefix_matches(a->fake, r->uri, &len) &&
                   (best == NULL || (best->regex == NULL && len > best_len))) {
            best = a;
            best_len = len;
            path = NULL;
        }
    }
    if (best == NULL || strcmp(best->real, "!") == 0) {
        return RL_DECLINED;
    }
    if (best->regex == NULL) {
        const char *rest = r->uri + best_len;
        const char *base = best->real_path;
        apr_size_t bl = strlen(base);
        if (bl > 0 && base[bl - 1] == '/' && rest[0] == '/') {
            rest++;
        }
        path = apr_pstrcat(r->pool, base, rest, NULL);
    }
    if (path == NULL || path[0] != '/') {
        path = apr_pstrcat(r->pool, "/", path ? path : "", NULL);
    }
    if (r->args != NULL) {
        path = apr_pstrcat(r->pool, path, "?", r->args, NULL);
    }
    if (apr_table_get(r->notes, RL_PROXY_NOTE_WANT_URL) != NULL) {
        /* the backend URL, which <Proxy> sections match (mod_acl) */
        const char *rp = url_path(best->real);
        apr_size_t olen =
            *rp ? (apr_size_t)(rp - best->real) : strlen(best->real);
        apr_table_setn(r->notes, RL_PROXY_NOTE_URL,
                       apr_pstrcat(r->pool,
                                   apr_pstrndup(r->pool, best->real, olen),
                                   path, NULL));
    }
    route = apr_pcalloc(r->pool, sizeof(*route));
    route->target = best->real;
    route->path = path;
    route->worker = best->worker;
    rl_set_module_config(r->request_config, &proxy_module, route);
    r->handler = "proxy-server";
    return RL_OK;
}

static int proxy_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    proxy_workers_reset(pconf);
    return RL_OK;
}

/* "the main server" or "<VirtualHost> name (file:line)". */
static const char *server_label(apr_pool_t *p, const rl_server_t *s)
{
    if (!s->is_virtual) {
        return "the main server";
    }
    return apr_psprintf(p, "<VirtualHost> %s (%s:%u)",
                        s->server_name ? s->server_name : "",
                        s->defn_file ? s->defn_file : "?", s->defn_line);
}

/* Once per line: a ProxyPass inherited by several vhosts is named once. */
static int tls_report_once(apr_hash_t *said, apr_pool_t *p, const char *file,
                           unsigned line)
{
    const char *key = apr_psprintf(p, "%s:%u", file ? file : "", line);

    if (apr_hash_get(said, key, APR_HASH_KEY_STRING) != NULL) {
        return 0;
    }
    apr_hash_set(said, key, APR_HASH_KEY_STRING, key);
    return 1;
}

/* The TLS members of the balancer a ProxyPass target names, or NULL. */
static const rl_proxy_worker_t *tls_member_of(const char *target)
{
    apr_array_header_t *all = proxy_workers();
    int i;

    for (i = 0; all != NULL && i < all->nelts; i++) {
        const rl_proxy_worker_t *w = APR_ARRAY_IDX(all, i, rl_proxy_worker_t *);
        apr_size_t n;
        if (w->balancer == NULL || !proxy_worker_is_tls(w)) {
            continue;
        }
        n = strlen(w->balancer->name);
        if (strncasecmp(target, w->balancer->name, n) == 0 &&
            (target[n] == '\0' || target[n] == '/')) {
            return w;
        }
    }
    return NULL;
}

/* A server whose requests reach an https:// backend (its ProxyPass lines,
 * the main server's it inherits, the balancers they name, the members it
 * declares) must have SSLProxyEngine on: the TLS settings are the
 * server's.  httpd finds out at the first request (a 500); here it is a
 * configuration error. */
static int tls_check_server(apr_pool_t *p, apr_hash_t *said, rl_server_t *s)
{
    const proxy_server_conf_t *conf = proxy_server_conf(s);
    apr_array_header_t *all = proxy_workers();
    int i, bad = 0;

    for (i = 0; i < conf->aliases->nelts; i++) {
        const proxy_alias_t *a =
            &APR_ARRAY_IDX(conf->aliases, i, proxy_alias_t);
        const rl_proxy_worker_t *m = a->worker == NULL && a->real_path != NULL
                                         ? tls_member_of(a->real)
                                         : NULL;
        if ((a->worker == NULL || !proxy_worker_is_tls(a->worker)) &&
            m == NULL) {
            continue;
        }
        if (tls_report_once(said, p, a->file, a->line)) {
            rl_log_error(
                RL_LOG_EMERG, 0, s,
                "%s:%u: ProxyPass %s %s: TLS to backends is off in "
                "%s: add SSLProxyEngine on there%s%s",
                a->file, a->line, a->fake, a->real, server_label(p, s),
                m ? " (member " : "",
                m ? apr_psprintf(p, "%s, %s:%u)", m->name, m->file, m->line)
                  : "");
        }
        bad = 1;
    }
    for (i = 0; all != NULL && i < all->nelts; i++) {
        const rl_proxy_worker_t *w = APR_ARRAY_IDX(all, i, rl_proxy_worker_t *);
        if (w->balancer == NULL || w->balancer->server != s ||
            !proxy_worker_is_tls(w) || w->resolve_slot > 0) {
            continue;
        }
        if (tls_report_once(said, p, w->file, w->line)) {
            rl_log_error(RL_LOG_EMERG, 0, s,
                         "%s:%u: BalancerMember %s: TLS to backends is off "
                         "in %s: add SSLProxyEngine on there",
                         w->file, w->line, w->name, server_label(p, s));
        }
        bad = 1;
    }
    return bad;
}

/* https:// and wss:// backends need mod_ssl, and SSLProxyEngine on. */
static int proxy_check_tls(apr_pool_t *ptemp, rl_server_t *main_s)
{
    const rl_ssl_provider_t *ssl = rl_ssl_provider();
    apr_array_header_t *all = proxy_workers();
    apr_hash_t *said = apr_hash_make(ptemp);
    rl_server_t *s;
    int i, bad = 0;

    for (i = 0; ssl == NULL && all != NULL && i < all->nelts; i++) {
        const rl_proxy_worker_t *w = APR_ARRAY_IDX(all, i, rl_proxy_worker_t *);
        if (proxy_worker_is_tls(w) && w->resolve_slot == 0) {
            rl_log_error(RL_LOG_EMERG, 0, main_s,
                         "%s:%u: %s: https:// backends need mod_ssl "
                         "(LoadModule ssl_module modules/mod_ssl.so, then "
                         "SSLProxyEngine on)",
                         w->file, w->line, w->name);
            bad = 1;
        }
    }
    if (ssl == NULL) {
        return bad;
    }
    for (s = main_s; s != NULL; s = s->next) {
        if (!ssl->proxy_enabled(s) && tls_check_server(ptemp, said, s)) {
            bad = 1;
        }
    }
    return bad;
}

/* A ProxyPass to a balancer whose members are tcp:// or udp:// (the
 * stream relay's) would speak HTTP to them. */
static int proxy_check_stream_members(rl_server_t *main_s)
{
    apr_array_header_t *all = proxy_workers();
    rl_server_t *s;
    int bad = 0;

    for (s = main_s; all != NULL && s != NULL; s = s->next) {
        apr_array_header_t *al = proxy_server_conf(s)->aliases;
        int i, k;
        for (i = 0; al != NULL && i < al->nelts; i++) {
            const proxy_alias_t *a = &APR_ARRAY_IDX(al, i, proxy_alias_t);
            if (strncasecmp(a->real, "balancer://", 11) != 0) {
                continue;
            }
            for (k = 0; k < all->nelts; k++) {
                const rl_proxy_worker_t *w =
                    APR_ARRAY_IDX(all, k, rl_proxy_worker_t *);
                size_t n = w->balancer ? strlen(w->balancer->name) : 0;
                if (n == 0 || strncasecmp(a->real, w->balancer->name, n) != 0 ||
                    (a->real[n] != '\0' && a->real[n] != '/') ||
                    (strcasecmp(w->scheme, "tcp") != 0 &&
                     strcasecmp(w->scheme, "udp") != 0)) {
                    continue;
                }
                rl_log_error(RL_LOG_EMERG, 0, main_s,
                             "%s:%u: ProxyPass %s %s: that balancer has the "
                             "%s:// member %s (%s:%u), which does not speak "
                             "HTTP: relay it with ProxyStream on a tcp or "
                             "udp listener instead",
                             a->file, a->line, a->fake, a->real, w->scheme,
                             w->name, w->file, w->line);
                bad = 1;
                break;
            }
        }
    }
    return bad;
}

/* check_config, so that relaisd -t sees it too: https:// backends have
 * TLS (proxy_check_tls); without ProxyResolver, every backend host name
 * must resolve now (each name asked once). */
static int proxy_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, rl_server_t *s)
{
    apr_array_header_t *all = proxy_workers();
    apr_hash_t *seen = apr_hash_make(ptemp);
    int i, bad = 0;

    (void)pconf;
    (void)plog;
    bad = proxy_check_tls(ptemp, s);
    bad |= proxy_check_stream_members(s);
    if (all == NULL || proxy_resolver_wanted(s)) {
        return bad ? 500 : RL_OK;
    }
    for (i = 0; i < all->nelts; i++) {
        rl_proxy_worker_t *w = APR_ARRAY_IDX(all, i, rl_proxy_worker_t *);
        apr_sockaddr_t *sa;
        apr_status_t rv;
        if (w->resolve_slot > 0 ||
            apr_hash_get(seen, w->hostname, APR_HASH_KEY_STRING) != NULL) {
            continue;
        }
        apr_hash_set(seen, w->hostname, APR_HASH_KEY_STRING, w);
        rv = apr_sockaddr_info_get(&sa, w->hostname, APR_UNSPEC, w->port, 0,
                                   ptemp);
        if (rv != APR_SUCCESS) {
            char buf[120];
            rl_log_error(RL_LOG_EMERG, 0, s,
                         "%s:%u: cannot resolve backend host '%s' (%s): fix "
                         "the name, or add ProxyResolver to resolve it at "
                         "run time",
                         w->file, w->line, w->hostname,
                         apr_strerror(rv, buf, sizeof(buf)));
            bad = 1;
        }
    }
    return bad ? 500 : RL_OK;
}

static int proxy_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, rl_server_t *s)
{
    (void)plog;
    if (proxy_workers_attach_shm(pconf, s) != APR_SUCCESS) {
        return 500;
    }
    if (proxy_resolver_wanted(s)) {
        /* ProxyResolver: host names through its nameservers (c-ares), then
         * its process follows them (proxy_resolver.c) */
        return proxy_resolver_start_up(pconf, ptemp, s) == APR_SUCCESS ? RL_OK
                                                                       : 500;
    }
    if (proxy_workers_resolve(pconf, s, 0) != APR_SUCCESS) {
        return 500;
    }
    return RL_OK;
}

static void proxy_register_hooks(apr_pool_t *p)
{
    (void)p;
    rl_hook_pre_config(proxy_pre_config, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_check_config(proxy_check_config, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_post_config(proxy_post_config, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_translate_name(proxy_translate, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_handler(proxy_http_handler, NULL, NULL, RL_HOOK_MIDDLE);
    proxy_resolver_register_hooks(p);
}

#define PASS_CTX (RL_CTX_SERVER | RL_CTX_LOCATION)

static const rl_directive_t proxy_directives[] = {
    RL_TAKE_ARGV("ProxyPass", add_pass, NULL, PASS_CTX,
                 "ProxyPass [/path] http://backend[:port]/path|! "
                 "[key=value …]"),
    RL_TAKE_ARGV("ProxyPassMatch", add_pass, (void *)1, PASS_CTX,
                 "ProxyPassMatch [regex] http://backend/$1|! [key=value …]"),
    {"ProxyPassReverse", add_reverse, NULL, PASS_CTX, 1, 2, 0,
     "ProxyPassReverse [/path] http://backend/path"},
    RL_TAKE1("ProxyPreserveHost", rl_set_flag_slot,
             (void *)offsetof(proxy_dir_conf_t, preserve_host),
             RL_CTX_SERVER | RL_CTX_LOCATION, "ProxyPreserveHost On|Off"),
    RL_TAKE1("ProxyAddHeaders", rl_set_flag_slot,
             (void *)offsetof(proxy_dir_conf_t, add_headers),
             RL_CTX_SERVER | RL_CTX_LOCATION, "ProxyAddHeaders On|Off"),
    RL_TAKE1("ProxyErrorOverride", set_conf_flag,
             (void *)offsetof(proxy_server_conf_t, error_override),
             RL_CTX_SERVER, "ProxyErrorOverride On|Off"),
    RL_TAKE1("ProxyTimeout", set_timeout, NULL, RL_CTX_SERVER,
             "ProxyTimeout seconds"),
    RL_TAKE1("ProxyVia", set_via, NULL, RL_CTX_SERVER,
             "ProxyVia Off|On|Full|Block"),
    RL_TAKE1("ProxyRequests", set_requests, NULL, RL_CTX_SERVER,
             "ProxyRequests Off"),
    {"ProxyResolver", proxy_resolver_directive, NULL, RL_CTX_MAIN, 1, -1,
     RL_DIR_UNIQUE,
     "ProxyResolver ip[:port]|[ipv6][:port] … [timeout=2s] [hold=0] "
     "[minttl=1s] [maxttl=300s] [family=any|ipv4|ipv6]"},
    RL_SECTION("<Proxy", proxy_section, NULL, RL_CTX_SERVER, 1, 1,
               "<Proxy http://backend/ | balancer://name>"),
    RL_DIRECTIVE_END};

RL_DECLARE_MODULE(proxy) = {RL_MODULE_STUFF("proxy", "0.1.0", 0),
                            proxy_directives,
                            proxy_create_server,
                            proxy_merge_server,
                            proxy_create_dir,
                            proxy_merge_dir,
                            proxy_register_hooks};
