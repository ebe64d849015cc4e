/*
 * modules.c: the registry of loaded modules and the LoadModule loader.
 *
 * The core module is always first.  A module's index is its slot in every
 * configuration vector.  Loading checks, in order, each with its own
 * message naming the file: the file opens, the symbol exists, the cookie is
 * Relais's, the API major matches, the API minor is not newer than ours,
 * the build signature matches, and the module is not loaded already.
 */
#include "core.h"

#include <apr_dso.h>

static rl_module_t *loaded[RL_MAX_MODULES];
static int nloaded;

/* Which bundled module provides a directive, for "unknown directive"
 * errors: the operator learns which LoadModule line is missing. */
static const struct {
    const char *directive;
    const char *module;
} known_directives[] = {
    {"ProxyPass", "proxy"},
    {"ProxyPassMatch", "proxy"},
    {"ProxyPassReverse", "proxy"},
    {"ProxyPreserveHost", "proxy"},
    {"ProxyTimeout", "proxy"},
    {"ProxyRequests", "proxy"},
    {"ProxyVia", "proxy"},
    {"ProxyAddHeaders", "proxy"},
    {"ProxyErrorOverride", "proxy"},
    {"<Proxy", "proxy"},
    {"BalancerMember", "balancer"},
    {"ProxySet", "balancer"},
    {"ProxyHCExpr", "healthcheck"},
    {"ProxyHCTemplate", "healthcheck"},
    {"ProxyResolver", "proxy"},
    {"CacheEnable", "cache"},
    {"CacheDisable", "cache"},
    {"CacheRoot", "cache"},
    {"Require", "acl"},
    {"AuthType", "acl"},
    {"AuthName", "acl"},
    {"AuthUserFile", "acl"},
    {"<RequireAll", "acl"},
    {"<RequireAny", "acl"},
    {"<RequireNone", "acl"},
    {"AuthGroupFile", "acl"},
    {"AuthMerging", "acl"},
    {"AuthBasicProvider", "acl"},
    {"RateLimit", "acl"},
    {"LogFormat", "log"},
    {"CustomLog", "log"},
    {"TransferLog", "log"},
    {"SSLEngine", "ssl"},
    {"SSLCertificateFile", "ssl"},
    {"SSLCertificateKeyFile", "ssl"},
    {"SSLProxyEngine", "ssl"},
    {"Header", "headers"},
    {"RequestHeader", "headers"},
    {"Redirect", "headers"},
    {"RedirectMatch", "headers"},
    {"EchoStatus", "echo"},
    {"EchoName", "echo"},
    {"StartServers", "an MPM (mpm_event, mpm_worker or mpm_prefork)"},
    {NULL, NULL}};

/* httpd module names (LoadModule's first argument or <IfModule> forms)
 * and the Relais module that provides the feature, or NULL for none. */
static const struct {
    const char *httpd;
    const char *relais;
} httpd_modules[] = {{"proxy_module", "proxy"},
                     {"mod_proxy.c", "proxy"},
                     {"proxy_http_module", "proxy"},
                     {"mod_proxy_http.c", "proxy"},
                     {"proxy_wstunnel_module", "proxy"},
                     {"mod_proxy_wstunnel.c", "proxy"},
                     {"proxy_balancer_module", "balancer"},
                     {"mod_proxy_balancer.c", "balancer"},
                     {"lbmethod_byrequests_module", "balancer"},
                     {"lbmethod_bybusyness_module", "balancer"},
                     {"lbmethod_bytraffic_module", "balancer"},
                     {"lbmethod_heartbeat_module", NULL},
                     {"slotmem_shm_module", "balancer"},
                     {"proxy_hcheck_module", "healthcheck"},
                     {"mod_proxy_hcheck.c", "healthcheck"},
                     {"watchdog_module", "healthcheck"},
                     {"cache_module", "cache"},
                     {"mod_cache.c", "cache"},
                     {"cache_disk_module", "cache"},
                     {"cache_socache_module", "cache"},
                     {"socache_shmcb_module", "cache"},
                     {"authz_core_module", "acl"},
                     {"mod_authz_core.c", "acl"},
                     {"authz_host_module", "acl"},
                     {"authz_user_module", "acl"},
                     {"authz_groupfile_module", "acl"},
                     {"authn_core_module", "acl"},
                     {"authn_file_module", "acl"},
                     {"auth_basic_module", "acl"},
                     {"log_config_module", "log"},
                     {"mod_log_config.c", "log"},
                     {"logio_module", "log"},
                     {"ssl_module", "ssl"},
                     {"mod_ssl.c", "ssl"},
                     {"headers_module", "headers"},
                     {"mod_headers.c", "headers"},
                     {"setenvif_module", "headers"},
                     {"alias_module", "headers"},
                     {"status_module", "status"},
                     {"mod_status.c", "status"},
                     {"mpm_event_module", "mpm_event"},
                     {"mpm_worker_module", "mpm_worker"},
                     {"mpm_prefork_module", "mpm_prefork"},
                     {"reqtimeout_module", "core"},
                     {"unixd_module", "core"},
                     {"remoteip_module", NULL},
                     {"rewrite_module", NULL},
                     {"mod_rewrite.c", NULL},
                     {NULL, NULL}};

void rl_modules_reset(void)
{
    nloaded = 0;
}

int rl_module_count(void)
{
    return nloaded;
}

rl_module_t *rl_module_at(int index)
{
    return index < nloaded ? loaded[index] : NULL;
}

RL_DECLARE(rl_module_t *) rl_find_module(const char *name)
{
    int i;

    for (i = 0; i < nloaded; i++) {
        if (strcmp(loaded[i]->name, name) == 0) {
            return loaded[i];
        }
    }
    return NULL;
}

RL_DECLARE(rl_module_t *) rl_first_module(void)
{
    return nloaded ? loaded[0] : NULL;
}

/* Registers a module record (static or freshly loaded) and its hooks. */
const char *rl_module_add_static(apr_pool_t *p, rl_module_t *m)
{
    if (nloaded == RL_MAX_MODULES) {
        return apr_psprintf(p, "too many modules (at most %d)", RL_MAX_MODULES);
    }
    m->index = nloaded;
    m->next = NULL;
    if (nloaded > 0) {
        loaded[nloaded - 1]->next = m;
    }
    loaded[nloaded++] = m;
    if (m->register_hooks) {
        /* apr_hooks records this name as the hooking module: predecessor
         * lists then name modules, not files. */
        apr_hook_debug_current = m->name;
        m->register_hooks(p);
        apr_hook_debug_current = NULL;
    }
    return NULL;
}

/* "proxy_module" -> "proxy"; "mod_proxy.c" -> "proxy" */
static const char *module_short_name(apr_pool_t *p, const char *name)
{
    apr_size_t n = strlen(name);

    if (n > 7 && strcmp(name + n - 7, "_module") == 0) {
        return apr_pstrndup(p, name, n - 7);
    }
    if (n > 6 && strncmp(name, "mod_", 4) == 0 &&
        strcmp(name + n - 2, ".c") == 0) {
        return apr_pstrndup(p, name + 4, n - 6);
    }
    return name;
}

const char *rl_module_httpd_equivalent(const char *httpd_name)
{
    int i;

    for (i = 0; httpd_modules[i].httpd; i++) {
        if (strcmp(httpd_modules[i].httpd, httpd_name) == 0) {
            return httpd_modules[i].relais ? httpd_modules[i].relais : "";
        }
    }
    return NULL;
}

/* <IfModule x>: x may be Relais's short name, "mod_x.c", "x_module", or
 * one of httpd's names for a feature Relais provides. */
int rl_module_ifmodule_match(const char *name)
{
    const char *equiv = rl_module_httpd_equivalent(name);
    char buf[128];
    apr_size_t n = strlen(name);

    if (equiv != NULL) {
        return *equiv && rl_find_module(equiv) != NULL;
    }
    if (n > 7 && n < sizeof(buf) && strcmp(name + n - 7, "_module") == 0) {
        memcpy(buf, name, n - 7);
        buf[n - 7] = '\0';
        return rl_find_module(buf) != NULL;
    }
    if (n > 6 && n < sizeof(buf) && strncmp(name, "mod_", 4) == 0 &&
        strcmp(name + n - 2, ".c") == 0) {
        memcpy(buf, name + 4, n - 6);
        buf[n - 6] = '\0';
        return rl_find_module(buf) != NULL;
    }
    return rl_find_module(name) != NULL;
}

const char *rl_module_known_provider(const char *directive)
{
    int i;

    for (i = 0; known_directives[i].directive; i++) {
        if (strcasecmp(known_directives[i].directive, directive) == 0) {
            return known_directives[i].module;
        }
    }
    return NULL;
}

static const char *check_record(apr_pool_t *p, const rl_module_t *m,
                                const char *path, const char *sym)
{
    if (m->magic != RL_MODULE_MAGIC) {
        return apr_psprintf(p,
                            "'%s' is not a Relais module: its symbol '%s' "
                            "lacks the module cookie",
                            path, sym);
    }
    if (m->api_major != RL_MMN_MAJOR) {
        return apr_psprintf(p,
                            "'%s' was built for module API %d, this server "
                            "has API %d: rebuild it with relaisxs",
                            path, m->api_major, RL_MMN_MAJOR);
    }
    if (m->api_minor > RL_MMN_MINOR) {
        return apr_psprintf(p,
                            "'%s' needs module API %d.%d, this server has "
                            "only %d.%d: upgrade Relais",
                            path, m->api_major, m->api_minor, RL_MMN_MAJOR,
                            RL_MMN_MINOR);
    }
    if (m->signature == NULL || strcmp(m->signature, RL_MODULE_SIGNATURE)) {
        return apr_psprintf(p,
                            "'%s' is not binary compatible: built with "
                            "'%s', this server is '%s'",
                            path, m->signature ? m->signature : "(none)",
                            RL_MODULE_SIGNATURE);
    }
    return NULL;
}

/* LoadModule name path */
const char *rl_module_load(apr_pool_t *p, const char *name, const char *path)
{
    apr_dso_handle_t *dso;
    apr_dso_handle_sym_t sym;
    rl_module_t *m;
    const char *fullpath = rl_server_root_relative(p, path);
    const char *shortname = module_short_name(p, name);
    const char *equiv = rl_module_httpd_equivalent(name);
    const char *err;
    char buf[256];
    apr_status_t rv;

    if (equiv != NULL && strcmp(equiv, shortname) != 0) {
        /* An httpd LoadModule line: say what replaces it. */
        if (*equiv == '\0') {
            return apr_psprintf(p,
                                "'%s' is an httpd module that Relais does "
                                "not provide; remove this line",
                                name);
        }
        if (strcmp(equiv, "core") == 0) {
            return apr_psprintf(p,
                                "'%s' is an httpd module whose feature is "
                                "built into Relais; remove this line",
                                name);
        }
        return apr_psprintf(p,
                            "'%s' is an httpd module; in Relais its feature "
                            "is in module '%s': use LoadModule %s_module "
                            "modules/mod_%s.so",
                            name, equiv, equiv, equiv);
    }
    if (rl_find_module(shortname) != NULL) {
        return apr_psprintf(p, "module '%s' is already loaded", shortname);
    }
    rv = apr_dso_load(&dso, fullpath, p);
    if (rv != APR_SUCCESS) {
        const char *why = apr_dso_error(dso, buf, sizeof(buf));
        return apr_psprintf(p, "cannot load '%s': %s%s", fullpath, why,
                            strstr(why, "undefined symbol: rl_proxy_")
                                ? " (it needs mod_proxy: load proxy_module "
                                  "before it)"
                                : "");
    }
    rv = apr_dso_sym(&sym, dso, name);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p,
                            "'%s' has no symbol '%s': is the module name "
                            "right? (%s)",
                            fullpath, name,
                            apr_dso_error(dso, buf, sizeof(buf)));
    }
    m = (rl_module_t *)sym;
    err = check_record(p, m, fullpath, name);
    if (err != NULL) {
        return err;
    }
    if (strcmp(m->name, shortname) != 0) {
        return apr_psprintf(p,
                            "'%s' holds module '%s', expected '%s' "
                            "(LoadModule %s_module …)",
                            fullpath, m->name, shortname, m->name);
    }
    if ((m->flags & RL_MODULE_MPM) && rl_proc.mpm_module != NULL) {
        return apr_psprintf(p,
                            "'%s': MPM '%s' is already loaded; load exactly "
                            "one of mpm_event, mpm_worker, mpm_prefork",
                            fullpath, rl_proc.mpm_module->name);
    }
    m->dso_handle = dso;
    err = rl_module_add_static(p, m);
    if (err == NULL && (m->flags & RL_MODULE_MPM)) {
        rl_proc.mpm_module = m;
    }
    return err;
}
