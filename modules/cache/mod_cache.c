/*
 * mod_cache.c: an RFC 9111 shared cache in front of the backends.
 *
 * This file holds the configuration (httpd's mod_cache, mod_cache_disk
 * and mod_cache_socache directives, so that their configurations run
 * unchanged), the start-up (stores, shared table) and the hook
 * registration.  The request flow is cache_request.c, the HTTP caching
 * rules cache_rules.c, the stores cache_mem.c and cache_disk.c.
 *
 *   LoadModule cache_module modules/mod_cache.so
 *   CacheRoot /var/cache/relais
 *   CacheEnable mem /static
 *   <Location /api>
 *       CacheEnable disk
 *       CacheLock on
 *   </Location>
 *
 * Per request, a location without CacheEnable costs one pointer test
 * (cache_dir_conf_t.enable is NULL) in each of the cache's hooks.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "cache_private.h"
#include "cache_rules.h"

RL_LOG_USE_MODULE(cache);

cache_global_t cache_g;
cache_store_t *cache_stores[CACHE_TYPES];

#define DEFAULT_MEM_SIZE (64 * 1024 * 1024)
#define DEFAULT_DISK_SIZE ((apr_off_t)1024 * 1024 * 1024)
#define DEFAULT_MAX_FILE 1000000 /* httpd's */

static void global_reset(void)
{
    memset(&cache_g, 0, sizeof(cache_g));
    cache_g.size = CACHE_UNSET;
    cache_g.max_file = CACHE_UNSET;
    cache_g.min_file = CACHE_UNSET;
    cache_g.dir_levels = CACHE_UNSET;
    cache_g.dir_length = CACHE_UNSET;
    cache_g.socache_size = CACHE_UNSET;
    cache_g.socache_max_size = CACHE_UNSET;
    cache_g.socache_max_time = CACHE_UNSET;
    cache_g.socache_min_time = CACHE_UNSET;
}

/* ------------------------------------------------------------------ */
/* Per-location configuration                                         */
/* ------------------------------------------------------------------ */

static void *cache_create_dir(apr_pool_t *p, const char *path)
{
    cache_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));

    (void)path;
    c->disable_all = CACHE_UNSET;
    c->default_expire = c->max_expire = c->min_expire = CACHE_UNSET;
    c->lock_max_age = CACHE_UNSET;
    c->lm_factor = -1.0;
    c->ignore_no_last_mod = c->ignore_cc = c->ignore_qs = CACHE_UNSET;
    c->store_expired = c->store_private = c->store_no_store = CACHE_UNSET;
    c->header = c->detail_header = c->lock = CACHE_UNSET;
    c->stale_on_error = c->purge = c->quick = CACHE_UNSET;
    return c;
}

#define MERGE(f) c->f = add->f != CACHE_UNSET ? add->f : base->f

static void *cache_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const cache_dir_conf_t *base = basev, *add = addv;
    cache_dir_conf_t *c = apr_palloc(p, sizeof(*c));

    MERGE(disable_all);
    MERGE(default_expire);
    MERGE(max_expire);
    MERGE(min_expire);
    MERGE(lock_max_age);
    MERGE(ignore_no_last_mod);
    MERGE(ignore_cc);
    MERGE(ignore_qs);
    MERGE(store_expired);
    MERGE(store_private);
    MERGE(store_no_store);
    MERGE(header);
    MERGE(detail_header);
    MERGE(lock);
    MERGE(stale_on_error);
    MERGE(purge);
    MERGE(quick);
    c->lm_factor = add->lm_factor >= 0 ? add->lm_factor : base->lm_factor;
    c->ignore_headers =
        add->ignore_headers ? add->ignore_headers : base->ignore_headers;
    c->key_base = add->key_base ? add->key_base : base->key_base;
    /* the inner lines first: a <Location>'s CacheEnable wins over the
     * server's for its paths */
    if (add->disable_all == 1) {
        c->enable = NULL;
    } else if (add->enable == NULL || base->enable == NULL) {
        c->enable = add->enable ? add->enable : base->enable;
    } else {
        c->enable = apr_array_append(p, add->enable, base->enable);
    }
    if (add->disable == NULL || base->disable == NULL) {
        c->disable = add->disable ? add->disable : base->disable;
    } else {
        c->disable = apr_array_append(p, base->disable, add->disable);
    }
    return c;
}

/* ------------------------------------------------------------------ */
/* Directives                                                          */
/* ------------------------------------------------------------------ */

/* CacheEnable mem|disk|socache [url-path] */
static const char *set_enable(rl_cmd_t *cmd, void *mconfig, int argc,
                              char *const argv[])
{
    cache_dir_conf_t *c = mconfig;
    cache_enable_t *e;
    int type, socache = 0;

    if (strcasecmp(argv[0], "mem") == 0) {
        type = CACHE_MEM;
    } else if (strcasecmp(argv[0], "socache") == 0) {
        type = CACHE_MEM; /* httpd's shared-object cache: our memory store */
        socache = 1;
    } else if (strcasecmp(argv[0], "disk") == 0) {
        type = CACHE_DISK;
    } else {
        return apr_psprintf(cmd->temp_pool,
                            "unknown cache type '%s' (expected mem, disk or "
                            "socache)",
                            argv[0]);
    }
    if (argc > 1 && argv[1][0] != '/') {
        return apr_psprintf(cmd->temp_pool,
                            "'%s': expected a URL-path that starts with '/' "
                            "(Relais caches what it serves itself, not "
                            "forward-proxied URLs)",
                            argv[1]);
    }
    if (c->enable == NULL) {
        c->enable = apr_array_make(cmd->pool, 2, sizeof(cache_enable_t));
    }
    e = apr_array_push(c->enable);
    e->type = type;
    e->socache = socache;
    /* outside a location, no path means the whole site (httpd requires
     * one there; "/" is what it would be) */
    e->path = argc > 1 ? apr_pstrdup(cmd->pool, argv[1]) : NULL;
    e->len = e->path ? strlen(e->path) : 0;
    cache_g.want[type] = 1;
    if (type == CACHE_DISK && cache_g.disk_file == NULL) {
        cache_g.disk_file = apr_pstrdup(cmd->pool, cmd->node->file);
        cache_g.disk_line = cmd->node->line;
    }
    return NULL;
}

/* CacheDisable url-path|on */
static const char *set_disable(rl_cmd_t *cmd, void *mconfig, int argc,
                               char *const argv[])
{
    cache_dir_conf_t *c = mconfig;

    (void)argc;
    if (strcasecmp(argv[0], "on") == 0) {
        c->disable_all = 1;
        return NULL;
    }
    if (argv[0][0] != '/') {
        return apr_psprintf(cmd->temp_pool,
                            "'%s': expected a URL-path that starts with '/', "
                            "or On",
                            argv[0]);
    }
    if (c->disable == NULL) {
        c->disable = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(c->disable, const char *) = apr_pstrdup(cmd->pool, argv[0]);
    return NULL;
}

/* Durations in seconds (httpd's form), "1h"-style suffixes welcome. */
static const char *set_seconds(rl_cmd_t *cmd, void *mconfig, int argc,
                               char *const argv[])
{
    (void)argc;
    return rl_parse_duration(
        cmd->temp_pool, argv[0], APR_USEC_PER_SEC,
        (apr_interval_time_t *)((char *)mconfig + (apr_size_t)cmd->data));
}

/* CacheLastModifiedFactor float */
static const char *set_lm_factor(rl_cmd_t *cmd, void *mconfig, int argc,
                                 char *const argv[])
{
    cache_dir_conf_t *c = mconfig;
    char *end;
    double v;

    (void)argc;
    v = strtod(argv[0], &end);
    if (end == argv[0] || *end != '\0' || v < 0 || v > 1000) {
        return apr_psprintf(cmd->temp_pool,
                            "'%s': expected a number such as 0.1 (the share "
                            "of the time since Last-Modified a response "
                            "without an expiry stays fresh)",
                            argv[0]);
    }
    c->lm_factor = v;
    return NULL;
}

/* CacheIgnoreHeaders name… | None */
static const char *set_ignore_headers(rl_cmd_t *cmd, void *mconfig, int argc,
                                      char *const argv[])
{
    cache_dir_conf_t *c = mconfig;

    (void)argc;
    if (c->ignore_headers == NULL) {
        c->ignore_headers = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    if (strcasecmp(argv[0], "None") == 0) {
        apr_array_clear(c->ignore_headers);
        return NULL;
    }
    APR_ARRAY_PUSH(c->ignore_headers, const char *) =
        apr_pstrdup(cmd->pool, argv[0]);
    return NULL;
}

/* CacheKeyBaseURL http://host[:port] */
static const char *set_key_base(rl_cmd_t *cmd, void *mconfig, int argc,
                                char *const argv[])
{
    cache_dir_conf_t *c = mconfig;
    char *v;
    apr_size_t n;

    (void)argc;
    if (strncasecmp(argv[0], "http://", 7) != 0 &&
        strncasecmp(argv[0], "https://", 8) != 0) {
        return apr_psprintf(cmd->temp_pool,
                            "'%s': expected an absolute URL such as "
                            "http://www.example.com",
                            argv[0]);
    }
    v = apr_pstrdup(cmd->pool, argv[0]);
    n = strlen(v);
    while (n > 0 && v[n - 1] == '/') {
        v[--n] = '\0';
    }
    c->key_base = v;
    return NULL;
}

/* Settings of the stores: the main server's.  In a <VirtualHost> they
 * are refused politely: the stores are shared by every host. */
static int in_vhost(rl_cmd_t *cmd)
{
    if (cmd->server->is_virtual) {
        rl_config_warn(cmd, "ignored in a <VirtualHost>: the cache stores "
                            "are shared by every host, so only the main "
                            "server's value counts");
        return 1;
    }
    return 0;
}

#define GLOBAL_ONLY()                                                          \
    do {                                                                       \
        if (in_vhost(cmd)) {                                                   \
            return NULL;                                                       \
        }                                                                      \
    } while (0)

static const char *set_root(rl_cmd_t *cmd, void *mconfig, int argc,
                            char *const argv[])
{
    (void)mconfig;
    (void)argc;
    GLOBAL_ONLY();
    cache_g.root = rl_server_root_relative(cmd->pool, argv[0]);
    return NULL;
}

/* CacheSize, CacheMaxFileSize, CacheMinFileSize, CacheSocacheMaxSize */
static const char *set_global_size(rl_cmd_t *cmd, void *mconfig, int argc,
                                   char *const argv[])
{
    apr_off_t v;
    const char *err;

    (void)mconfig;
    (void)argc;
    GLOBAL_ONLY();
    err = rl_parse_size(cmd->temp_pool, argv[0], &v);
    if (err != NULL) {
        return err;
    }
    if (v <= 0 && cmd->data == (void *)offsetof(cache_global_t, size)) {
        return "expected a size above 0, such as 64M";
    }
    *(apr_off_t *)((char *)&cache_g + (apr_size_t)cmd->data) = v;
    return NULL;
}

/* CacheDirLevels, CacheDirLength: 1..8 as the disk store takes them */
static const char *set_dir_shape(rl_cmd_t *cmd, void *mconfig, int argc,
                                 char *const argv[])
{
    char *end;
    long v;

    (void)mconfig;
    (void)argc;
    GLOBAL_ONLY();
    v = strtol(argv[0], &end, 10);
    if (end == argv[0] || *end != '\0' || v < 1 || v > 8) {
        return apr_psprintf(cmd->temp_pool, "'%s': expected 1 to 8", argv[0]);
    }
    *(int *)((char *)&cache_g + (apr_size_t)cmd->data) = (int)v;
    return NULL;
}

/* CacheSocacheMaxTime, CacheSocacheMinTime */
static const char *set_global_time(rl_cmd_t *cmd, void *mconfig, int argc,
                                   char *const argv[])
{
    (void)mconfig;
    (void)argc;
    GLOBAL_ONLY();
    return rl_parse_duration(
        cmd->temp_pool, argv[0], APR_USEC_PER_SEC,
        (apr_interval_time_t *)((char *)&cache_g + (apr_size_t)cmd->data));
}

/* CacheSocache shmcb[:path(size)] */
static const char *set_socache(rl_cmd_t *cmd, void *mconfig, int argc,
                               char *const argv[])
{
    const char *paren;

    (void)mconfig;
    (void)argc;
    GLOBAL_ONLY();
    if (strncasecmp(argv[0], "shmcb", 5) != 0 ||
        (argv[0][5] != '\0' && argv[0][5] != ':')) {
        return apr_psprintf(cmd->temp_pool,
                            "'%s': only shmcb is provided (Relais keeps "
                            "'CacheEnable socache' entries in its shared-"
                            "memory store)",
                            argv[0]);
    }
    /* shmcb:/path/file(512000): the size becomes the store's size */
    paren = strchr(argv[0], '(');
    if (paren != NULL) {
        char *end;
        apr_int64_t v = apr_strtoi64(paren + 1, &end, 10);
        if (end == paren + 1 || *end != ')' || v <= 0) {
            return apr_psprintf(cmd->temp_pool,
                                "'%s': expected shmcb:path(bytes)", argv[0]);
        }
        cache_g.socache_size = (apr_off_t)v;
    }
    return NULL;
}

/* Accepted for httpd configurations, with no effect here (said once). */
static const char *set_no_effect(rl_cmd_t *cmd, void *mconfig, int argc,
                                 char *const argv[])
{
    (void)mconfig;
    (void)argc;
    (void)argv;
    rl_config_warn(cmd, "%s", (const char *)cmd->data);
    return NULL;
}

#define DIR_OFF(f) ((void *)offsetof(cache_dir_conf_t, f))
#define G_OFF(f) ((void *)offsetof(cache_global_t, f))
#define ANYWHERE (RL_CTX_SERVER | RL_CTX_LOCATION)
#define FLAG(n, f, ctx, u) RL_TAKE1(n, rl_set_flag_slot, DIR_OFF(f), ctx, u)

static const rl_directive_t cache_directives[] = {
    RL_TAKE12("CacheEnable", set_enable, NULL, ANYWHERE,
              "CacheEnable mem|disk|socache [/url-path] -- cache responses "
              "under the path (the whole location without one)"),
    RL_TAKE1("CacheDisable", set_disable, NULL, ANYWHERE,
             "CacheDisable /url-path|on -- never cache under the path (or "
             "this location)"),
    RL_TAKE1("CacheRoot", set_root, NULL, RL_CTX_SERVER,
             "CacheRoot directory -- where the disk store keeps its files"),
    RL_TAKE1("CacheSize", set_global_size, G_OFF(size), RL_CTX_SERVER,
             "CacheSize bytes -- bound of each store (mem 64M, disk 1G by "
             "default); least recently used entries go first"),
    RL_TAKE1("CacheMaxFileSize", set_global_size, G_OFF(max_file),
             RL_CTX_SERVER,
             "CacheMaxFileSize bytes -- larger bodies are not stored "
             "(default 1000000)"),
    RL_TAKE1("CacheMinFileSize", set_global_size, G_OFF(min_file),
             RL_CTX_SERVER,
             "CacheMinFileSize bytes -- smaller bodies are not stored "
             "(default 0)"),
    RL_TAKE1("CacheDirLevels", set_dir_shape, G_OFF(dir_levels), RL_CTX_SERVER,
             "CacheDirLevels 1-8 -- subdirectory levels of the disk store "
             "(default 2)"),
    RL_TAKE1("CacheDirLength", set_dir_shape, G_OFF(dir_length), RL_CTX_SERVER,
             "CacheDirLength 1-8 -- characters per subdirectory name "
             "(default 2)"),
    RL_TAKE1("CacheSocache", set_socache, NULL, RL_CTX_SERVER,
             "CacheSocache shmcb[:path(bytes)] -- 'CacheEnable socache' "
             "uses the memory store (bytes: its size)"),
    RL_TAKE1("CacheSocacheMaxSize", set_global_size, G_OFF(socache_max_size),
             RL_CTX_SERVER,
             "CacheSocacheMaxSize bytes -- largest body the memory store "
             "keeps"),
    RL_TAKE1("CacheSocacheMaxTime", set_global_time, G_OFF(socache_max_time),
             RL_CTX_SERVER,
             "CacheSocacheMaxTime seconds -- longest lifetime of a "
             "'CacheEnable socache' entry (default 86400)"),
    RL_TAKE1("CacheSocacheMinTime", set_global_time, G_OFF(socache_min_time),
             RL_CTX_SERVER,
             "CacheSocacheMinTime seconds -- shortest lifetime of a "
             "'CacheEnable socache' entry without an expiry (default 600)"),
    RL_TAKE1("CacheDefaultExpire", set_seconds, DIR_OFF(default_expire),
             ANYWHERE,
             "CacheDefaultExpire seconds -- lifetime of a response with "
             "neither expiry nor Last-Modified (default 3600)"),
    RL_TAKE1("CacheMaxExpire", set_seconds, DIR_OFF(max_expire), ANYWHERE,
             "CacheMaxExpire seconds -- longest lifetime, whatever the "
             "backend says (default 86400)"),
    RL_TAKE1("CacheMinExpire", set_seconds, DIR_OFF(min_expire), ANYWHERE,
             "CacheMinExpire seconds -- shortest lifetime of a response "
             "without an expiry (default 0)"),
    RL_TAKE1("CacheLastModifiedFactor", set_lm_factor, NULL, ANYWHERE,
             "CacheLastModifiedFactor float -- heuristic lifetime: this "
             "share of the time since Last-Modified (default 0.1)"),
    FLAG("CacheIgnoreNoLastMod", ignore_no_last_mod, ANYWHERE,
         "CacheIgnoreNoLastMod On|Off -- store responses without "
         "Last-Modified, ETag or expiry, for CacheDefaultExpire"),
    FLAG("CacheIgnoreCacheControl", ignore_cc, ANYWHERE,
         "CacheIgnoreCacheControl On|Off -- answer from the cache even when "
         "the client asks for no-cache or max-age=0"),
    FLAG("CacheIgnoreQueryString", ignore_qs, ANYWHERE,
         "CacheIgnoreQueryString On|Off -- leave the query string out of "
         "the key"),
    FLAG("CacheStoreExpired", store_expired, ANYWHERE,
         "CacheStoreExpired On|Off -- store responses already stale "
         "without a validator"),
    FLAG("CacheStorePrivate", store_private, ANYWHERE,
         "CacheStorePrivate On|Off -- store Cache-Control: private "
         "responses (for a cache in front of one user only)"),
    FLAG("CacheStoreNoStore", store_no_store, ANYWHERE,
         "CacheStoreNoStore On|Off -- store Cache-Control: no-store "
         "responses"),
    RL_ITERATE("CacheIgnoreHeaders", set_ignore_headers, NULL, ANYWHERE,
               "CacheIgnoreHeaders field…|None -- fields not stored (list "
               "Set-Cookie to store responses that set cookies, without "
               "them)"),
    RL_TAKE1("CacheKeyBaseURL", set_key_base, NULL, ANYWHERE,
             "CacheKeyBaseURL http://host -- the scheme and host of the "
             "keys, instead of the request's Host"),
    FLAG("CacheHeader", header, ANYWHERE,
         "CacheHeader On|Off -- add X-Cache: HIT, MISS, STALE or "
         "REVALIDATED"),
    FLAG("CacheDetailHeader", detail_header, ANYWHERE,
         "CacheDetailHeader On|Off -- add X-Cache-Detail saying why"),
    FLAG("CacheLock", lock, ANYWHERE,
         "CacheLock On|Off -- one request fills a missing or stale entry, "
         "the others wait for it"),
    RL_TAKE1("CacheLockMaxAge", set_seconds, DIR_OFF(lock_max_age), ANYWHERE,
             "CacheLockMaxAge seconds -- longest wait for another request's "
             "fill before going to the backend (default 5)"),
    FLAG("CacheStaleOnError", stale_on_error, ANYWHERE,
         "CacheStaleOnError On|Off -- answer with a stale entry when the "
         "backend fails (default On)"),
    FLAG("CachePurge", purge, ANYWHERE,
         "CachePurge On|Off -- answer the PURGE method by removing the "
         "entry (default Off: 405); gate it with Require"),
    FLAG("CacheQuickHandler", quick, RL_CTX_SERVER,
         "CacheQuickHandler On|Off -- look up before routing (default On; "
         "after the acl either way)"),
    RL_TAKE1("CacheLockPath", set_no_effect,
             "CacheLockPath has no effect: the locks live in shared memory",
             RL_CTX_SERVER, "CacheLockPath directory -- accepted for httpd"),
    RL_ITERATE("CacheIgnoreURLSessionIdentifiers", set_no_effect,
               "CacheIgnoreURLSessionIdentifiers has no effect: the query "
               "string is part of the key (CacheIgnoreQueryString drops it)",
               ANYWHERE,
               "CacheIgnoreURLSessionIdentifiers id… -- accepted for httpd"),
    RL_TAKE1("CacheReadSize", set_no_effect,
             "CacheReadSize has no effect: bodies are stored as they pass",
             ANYWHERE, "CacheReadSize bytes -- accepted for httpd"),
    RL_TAKE1("CacheReadTime", set_no_effect,
             "CacheReadTime has no effect: bodies are stored as they pass",
             ANYWHERE, "CacheReadTime ms -- accepted for httpd"),
    RL_TAKE1("CacheSocacheReadSize", set_no_effect,
             "CacheSocacheReadSize has no effect: bodies are stored as they "
             "pass",
             ANYWHERE, "CacheSocacheReadSize bytes -- accepted for httpd"),
    RL_TAKE1("CacheSocacheReadTime", set_no_effect,
             "CacheSocacheReadTime has no effect: bodies are stored as they "
             "pass",
             ANYWHERE, "CacheSocacheReadTime ms -- accepted for httpd"),
    RL_DIRECTIVE_END};

/* ------------------------------------------------------------------ */
/* Start-up                                                           */
/* ------------------------------------------------------------------ */

/* mod_proxy's post_request hook, when mod_proxy is loaded: a 304 to a
 * revalidation comes back through it.  Looked up by name, so that
 * mod_cache needs mod_proxy neither to load nor in a given LoadModule
 * order (cache.load sorts before proxy.load). */
typedef void (*proxy_hook_fn)(rl_proxy_HOOK_post_request_t *pf,
                              const char *const *pre, const char *const *succ,
                              int order);

static void hook_proxy(void)
{
    proxy_hook_fn fn;
    void *sym;

    if (cache_g.proxy_hooked) {
        return;
    }
    sym = dlsym(RTLD_DEFAULT, "rl_proxy_hook_post_request");
    if (sym != NULL) {
        memcpy(&fn, &sym, sizeof(fn));
        fn(cache_proxy_post_request, NULL, NULL, RL_HOOK_MIDDLE);
        cache_g.proxy_hooked = 1;
    }
}

static int cache_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp)
{
    int hooked = cache_g.proxy_hooked;

    (void)pconf;
    (void)plog;
    (void)ptemp;
    global_reset();
    cache_g.proxy_hooked = hooked;
    /* every LoadModule has run by now: mod_proxy loaded after us is
     * there too */
    hook_proxy();
    return RL_OK;
}

static int cache_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, rl_server_t *s)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    if (cache_g.want[CACHE_DISK] && cache_g.root == NULL) {
        rl_log_error(RL_LOG_EMERG, 0, s,
                     "%s:%u: CacheEnable disk: no CacheRoot is set (add "
                     "e.g. \"CacheRoot /var/cache/relais\" to the main "
                     "server)",
                     cache_g.disk_file, cache_g.disk_line);
        return 500;
    }
    if (cache_g.want[CACHE_MEM] || cache_g.want[CACHE_DISK]) {
        if (cache_g.min_file != CACHE_UNSET &&
            cache_g.max_file != CACHE_UNSET &&
            cache_g.min_file > cache_g.max_file) {
            rl_log_error(RL_LOG_EMERG, 0, s,
                         "CacheMinFileSize (%" APR_OFF_T_FMT ") is above "
                         "CacheMaxFileSize (%" APR_OFF_T_FMT "): nothing "
                         "could be stored",
                         cache_g.min_file, cache_g.max_file);
            return 500;
        }
    }
    return RL_OK;
}

static void store_conf(cache_store_conf_t *sc, int type)
{
    memset(sc, 0, sizeof(*sc));
    sc->max_file_size =
        cache_g.max_file != CACHE_UNSET ? cache_g.max_file : DEFAULT_MAX_FILE;
    /* CacheMinFileSize is the glue's to apply: a Vary marker has no body
     * on purpose, and a store would refuse it */
    sc->min_file_size = 0;
    if (type == CACHE_MEM) {
        sc->size = cache_g.socache_size != CACHE_UNSET ? cache_g.socache_size
                   : cache_g.size != CACHE_UNSET       ? cache_g.size
                                                       : DEFAULT_MEM_SIZE;
        if (cache_g.socache_max_size != CACHE_UNSET) {
            sc->max_file_size = cache_g.socache_max_size;
        }
    } else {
        sc->size =
            cache_g.size != CACHE_UNSET ? cache_g.size : DEFAULT_DISK_SIZE;
        sc->root = cache_g.root;
        sc->dir_levels =
            cache_g.dir_levels != CACHE_UNSET ? cache_g.dir_levels : 2;
        sc->dir_length =
            cache_g.dir_length != CACHE_UNSET ? cache_g.dir_length : 2;
    }
    if (sc->max_file_size > sc->size) {
        sc->max_file_size = sc->size;
    }
}

static int cache_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, rl_server_t *s)
{
    cache_store_conf_t sc;

    (void)plog;
    (void)ptemp;
    cache_stores[CACHE_MEM] = cache_stores[CACHE_DISK] = NULL;
    if (!cache_g.want[CACHE_MEM] && !cache_g.want[CACHE_DISK]) {
        return RL_OK;
    }
    if (cache_shm_post_config(pconf, s) != RL_OK) {
        return 500;
    }
    if (cache_g.want[CACHE_MEM]) {
        store_conf(&sc, CACHE_MEM);
        cache_stores[CACHE_MEM] = cache_mem_create(pconf, &sc);
        if (cache_stores[CACHE_MEM] == NULL) {
            return 500; /* the store said why */
        }
    }
    if (cache_g.want[CACHE_DISK]) {
        store_conf(&sc, CACHE_DISK);
        cache_stores[CACHE_DISK] = cache_disk_create(pconf, &sc);
        if (cache_stores[CACHE_DISK] == NULL) {
            return 500;
        }
    }
    if (!cache_g.proxy_hooked) {
        rl_log_error(RL_LOG_INFO, 0, s,
                     "mod_proxy is not loaded: stale entries are fetched "
                     "again in full instead of revalidated");
    }
    return RL_OK;
}

static void cache_child_init(apr_pool_t *pchild, rl_server_t *s)
{
    if (cache_stores[CACHE_MEM] != NULL || cache_stores[CACHE_DISK] != NULL) {
        cache_refresh_child_init(pchild, s);
    }
}

/* ------------------------------------------------------------------ */
/* For other modules (mod_cache.h)                                    */
/* ------------------------------------------------------------------ */

CACHE_DECLARE(int) cache_metrics_get(cache_metrics_t *m)
{
    const cache_metrics_t *c = cache_counters();
    cache_store_stats_t st;

    memset(m, 0, sizeof(*m));
    if (c == NULL) {
        return 0;
    }
    *m = *c; /* each field read once; a torn sum across fields is fine */
    if (cache_stores[CACHE_MEM] != NULL) {
        cache_stores[CACHE_MEM]->ops->stats(cache_stores[CACHE_MEM], &st);
        m->mem_entries = st.entries;
        m->mem_bytes = st.bytes;
        m->mem_capacity = st.capacity;
        m->mem_evicted = st.evicted;
    }
    if (cache_stores[CACHE_DISK] != NULL) {
        cache_stores[CACHE_DISK]->ops->stats(cache_stores[CACHE_DISK], &st);
        m->disk_entries = st.entries;
        m->disk_bytes = st.bytes;
        m->disk_capacity = st.capacity;
        m->disk_evicted = st.evicted;
    }
    return 1;
}

CACHE_DECLARE(int) cache_purge(const char *key, int prefix)
{
    apr_pool_t *p;
    int n;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return 0;
    }
    n = cache_purge_key(p, key, prefix);
    apr_pool_destroy(p);
    CACHE_COUNT(purged, n);
    return n;
}

/* ------------------------------------------------------------------ */
/* Registration                                                       */
/* ------------------------------------------------------------------ */

static void cache_register_hooks(apr_pool_t *p)
{
    /* mod_headers edits responses in response_head: we store what the
     * backend sent, before its edits, so that a hit gets them once */
    static const char *const before_headers[] = {"headers", NULL};

    (void)p;
    cache_g.proxy_hooked = 0; /* a new generation: hooks were dropped */
    hook_proxy();
    rl_hook_pre_config(cache_pre_config, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_check_config(cache_check_config, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_post_config(cache_post_config, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_child_init(cache_child_init, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_quick_handler(cache_quick_handler, NULL, NULL, RL_HOOK_FIRST);
    rl_hook_handler(cache_handler, NULL, NULL, RL_HOOK_REALLY_FIRST);
    rl_hook_response_head(cache_response_head, NULL, before_headers,
                          RL_HOOK_FIRST);
    rl_hook_error_response(cache_error_response, NULL, NULL, RL_HOOK_MIDDLE);
}

RL_DECLARE_MODULE(cache) = {RL_MODULE_STUFF("cache", "1.0.0", 0),
                            cache_directives,
                            NULL,
                            NULL,
                            cache_create_dir,
                            cache_merge_dir,
                            cache_register_hooks};
