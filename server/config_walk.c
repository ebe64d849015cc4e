/*
 * config_walk.c: turns the configuration tree into server records.
 *
 * The reader (config_read.c) has already run what httpd runs while reading
 * (ServerRoot, LoadModule, Define, Include, <IfModule>, <IfDefine>), so
 * every module is loaded and its hooks registered before pre_config; this
 * walk runs every other directive.  Errors are printed as
 * "FILE:LINE: Directive: what" and counted; the walk goes on so that one
 * run shows them all.
 */
#include "core.h"

#include <apr_lib.h>
#include <stdarg.h>

/* httpd directives that Relais refuses on purpose, and why. */
static const struct {
    const char *name;
    const char *why;
} refused[] = {
    {"RewriteEngine", "mod_rewrite is not provided: use ProxyPassMatch to "
                      "route by regex and RedirectMatch to redirect"},
    {"RewriteRule", "mod_rewrite is not provided: use ProxyPassMatch to "
                    "route by regex and RedirectMatch to redirect"},
    {"RewriteCond", "mod_rewrite is not provided: use ProxyPassMatch and "
                    "<If> conditions instead"},
    {"DocumentRoot", "Relais does not serve files from disk; route the URL "
                     "space to a backend with ProxyPass"},
    {"<Directory", "Relais does not serve files from disk: use <Location>"},
    {"<DirectoryMatch", "Relais does not serve files from disk: use "
                        "<LocationMatch>"},
    {"<Files", "Relais does not serve files from disk: use <LocationMatch>"},
    {"<FilesMatch", "Relais does not serve files from disk: use "
                    "<LocationMatch>"},
    {"Options", "Relais does not serve files from disk; Options has no "
                "meaning here"},
    {"AllowOverride", "Relais reads no .htaccess files"},
    {"DirectoryIndex", "Relais does not serve files from disk"},
    {"NameVirtualHost", "not needed: name-based virtual hosts are automatic "
                        "(as in httpd 2.4, where it is deprecated)"},
    {NULL, NULL}};

void rl_config_error(const rl_config_node_t *n, const char *fmt, ...)
{
    va_list ap;
    char msg[2048];
    const char *name = n->name ? n->name : "";

    va_start(ap, fmt);
    apr_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (*name == '<') {
        fprintf(stderr, "relaisd: %s:%u: %s>: %s\n", n->file, n->line, name,
                msg);
    } else if (*name) {
        fprintf(stderr, "relaisd: %s:%u: %s: %s\n", n->file, n->line, name,
                msg);
    } else {
        fprintf(stderr, "relaisd: %s:%u: %s\n", n->file, n->line, msg);
    }
    rl_proc.config_errors++;
}

RL_DECLARE(void) rl_config_warn(const rl_cmd_t *cmd, const char *fmt, ...)
{
    va_list ap;
    char msg[2048];

    va_start(ap, fmt);
    apr_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "relaisd: warning: %s:%u: %s: %s\n", cmd->node->file,
            cmd->node->line, cmd->node->name, msg);
}

void **rl_config_server_vector(apr_pool_t *p)
{
    return apr_pcalloc(p, sizeof(void *) * RL_MAX_MODULES);
}

/* The module's block in a dir vector, created on first use (a module
 * loaded after the vector was made). */
void *rl_config_dir_block(apr_pool_t *p, void **vec, rl_module_t *m,
                          const char *path)
{
    if (vec[m->index] == NULL && m->create_dir_config) {
        vec[m->index] = m->create_dir_config(p, path);
    }
    return vec[m->index];
}

static void fill_server(apr_pool_t *p, rl_server_t *s)
{
    int i;

    for (i = 0; i < rl_module_count(); i++) {
        rl_module_t *m = rl_module_at(i);
        if (s->module_config[i] == NULL && m->create_server_config) {
            s->module_config[i] = m->create_server_config(p, s);
        }
        rl_config_dir_block(p, s->lookup_defaults, m, NULL);
    }
}

RL_DECLARE(void **) rl_config_new_dir_vector(apr_pool_t *p, const char *path)
{
    void **vec = rl_config_server_vector(p);
    int i;

    for (i = 0; i < rl_module_count(); i++) {
        rl_config_dir_block(p, vec, rl_module_at(i), path);
    }
    return vec;
}

rl_server_t *rl_config_new_server(apr_pool_t *p, int is_virtual)
{
    rl_server_t *s = apr_pcalloc(p, sizeof(*s));

    s->is_virtual = is_virtual;
    s->aliases = apr_array_make(p, 2, sizeof(const char *));
    s->addrs = apr_array_make(p, 1, sizeof(rl_server_addr_t));
    s->locations = apr_array_make(p, 4, sizeof(rl_location_t *));
    s->module_config = rl_config_server_vector(p);
    s->lookup_defaults = rl_config_server_vector(p);
    s->module_log_levels = apr_palloc(p, RL_MAX_MODULES);
    memset(s->module_log_levels, -1, RL_MAX_MODULES);
    s->timeout = -1;
    s->keep_alive_timeout = -1;
    s->keep_alive = -1;
    s->keep_alive_max = -1;
    s->limit_req_line = -1;
    s->limit_req_fieldsize = -1;
    s->limit_req_fields = -1;
    s->log_level = -1;
    fill_server(p, s);
    return s;
}

RL_DECLARE(rl_location_t *)
rl_config_add_location(rl_cmd_t *cmd, const char *path, void *regex,
                       unsigned kind, void **dir_config)
{
    rl_location_t *loc = apr_pcalloc(cmd->pool, sizeof(*loc));

    loc->path = path;
    loc->regex = regex;
    loc->kind = kind;
    loc->own_config = dir_config;
    loc->dir_config = dir_config;
    loc->file = cmd->node->file;
    loc->line = cmd->node->line;
    APR_ARRAY_PUSH(cmd->server->locations, rl_location_t *) = loc;
    return loc;
}

/* Levenshtein distance, for "did you mean". */
static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b), i, j;
    int row[64];

    if (la >= 63 || lb >= 63) {
        return 99;
    }
    for (j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (i = 1; i <= la; i++) {
        int prev = row[0];
        row[0] = i;
        for (j = 1; j <= lb; j++) {
            int cur = row[j];
            int cost = apr_tolower(a[i - 1]) != apr_tolower(b[j - 1]);
            int best = prev + cost;
            if (row[j] + 1 < best) {
                best = row[j] + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

static const rl_directive_t *find_directive(const char *name,
                                            rl_module_t **owner)
{
    int i;

    for (i = 0; i < rl_module_count(); i++) {
        rl_module_t *m = rl_module_at(i);
        const rl_directive_t *d;
        for (d = m->directives; d && d->name; d++) {
            if (strcasecmp(d->name, name) == 0) {
                *owner = m;
                return d;
            }
        }
    }
    return NULL;
}

static const char *closest_directive(const char *name)
{
    const char *best = NULL;
    int best_d = 3, i;

    for (i = 0; i < rl_module_count(); i++) {
        const rl_directive_t *d;
        for (d = rl_module_at(i)->directives; d && d->name; d++) {
            int dist = edit_distance(name, d->name);
            if (dist < best_d) {
                best_d = dist;
                best = d->name;
            }
        }
    }
    return best;
}

static void unknown_directive(const rl_config_node_t *n)
{
    const char *mod = rl_module_known_provider(n->name);
    const char *near;
    int i;

    for (i = 0; refused[i].name; i++) {
        if (refused[i].why && strcasecmp(refused[i].name, n->name) == 0) {
            rl_config_error(n, "not supported: %s", refused[i].why);
            return;
        }
    }
    if (mod != NULL && strncmp(mod, "an MPM", 6) == 0) {
        rl_config_error(n, "provided by %s, and none is loaded", mod);
        return;
    }
    if (mod != NULL) {
        rl_config_error(n,
                        "provided by module '%s', which is not loaded (add "
                        "LoadModule %s_module modules/mod_%s.so before this "
                        "line)",
                        mod, mod, mod);
        return;
    }
    near = closest_directive(n->name);
    if (near != NULL) {
        rl_config_error(n, "unknown directive; did you mean '%s'?", near);
    } else {
        rl_config_error(n, "unknown directive (misspelled, or defined by a "
                           "module that is not loaded)");
    }
}

/* buf: at least 128 bytes */
static const char *context_names(unsigned ctx, char *buf)
{
    buf[0] = '\0';
    if (ctx & RL_CTX_MAIN) {
        strcat(buf, "server config, ");
    }
    if (ctx & RL_CTX_VHOST) {
        strcat(buf, "<VirtualHost>, ");
    }
    if (ctx & RL_CTX_LOCATION) {
        strcat(buf, "<Location>, ");
    }
    if (ctx & RL_CTX_PROXY) {
        strcat(buf, "<Proxy>, ");
    }
    if (buf[0]) {
        buf[strlen(buf) - 2] = '\0';
    }
    return buf;
}

static const char *args_expected(const rl_directive_t *d)
{
    static char buf[64];

    if (d->max_args == d->min_args) {
        apr_snprintf(buf, sizeof(buf), "%d argument%s", d->min_args,
                     d->min_args == 1 ? "" : "s");
    } else if (d->max_args < 0) {
        apr_snprintf(buf, sizeof(buf), "at least %d argument%s", d->min_args,
                     d->min_args == 1 ? "" : "s");
    } else {
        apr_snprintf(buf, sizeof(buf), "%d to %d arguments", d->min_args,
                     d->max_args);
    }
    return buf;
}

static void run_directive(rl_cmd_t *parent, const rl_config_node_t *n)
{
    rl_module_t *m = NULL;
    const rl_directive_t *d = find_directive(n->name, &m);
    rl_cmd_t cmd = *parent;
    const char *err = NULL;
    void *mconfig;

    if (d == NULL) {
        unknown_directive(n);
        return;
    }
    if (d->flags & RL_DIR_EXEC_ON_READ) {
        return; /* the reader ran it already */
    }
    if (n->args_error != NULL && !(d->flags & RL_DIR_RAW)) {
        rl_config_error(n, "%s", n->args_error);
        return;
    }
    if ((d->flags & RL_DIR_UNIQUE) && parent->node != NULL) {
        const rl_config_node_t *o;
        for (o = parent->node; o != NULL && o != n; o = o->next) {
            if (strcasecmp(o->name, n->name) == 0) {
                rl_config_error(n, "is duplicate (already set on line %u%s%s)",
                                o->line, strcmp(o->file, n->file) ? " of " : "",
                                strcmp(o->file, n->file) ? o->file : "");
                return;
            }
        }
    }
    cmd.module = m;
    cmd.directive = d;
    cmd.data = d->data;
    cmd.node = n;
    if (!(d->contexts & parent->context)) {
        char here[128], where[128];
        rl_config_error(n, "not allowed in %s (allowed in: %s)",
                        context_names(parent->context, here),
                        context_names(d->contexts, where));
        return;
    }
    if (n->argc < d->min_args || (d->max_args >= 0 && n->argc > d->max_args)) {
        rl_config_error(n, "expected %s, got %d (usage: %s)", args_expected(d),
                        n->argc, d->usage);
        return;
    }
    if (!(d->flags & RL_DIR_SECTION) && n->first_child != NULL) {
        rl_config_error(n, "is not a section");
        return;
    }
    mconfig =
        rl_config_dir_block(cmd.pool, parent->dir_config, m, parent->path);
    if (d->flags & RL_DIR_ITERATE) {
        int i;
        for (i = 0; i < n->argc && err == NULL; i++) {
            err = d->func(&cmd, mconfig, 1, &n->argv[i]);
        }
    } else {
        err = d->func(&cmd, mconfig, n->argc, n->argv);
    }
    if (err != NULL) {
        rl_config_error(n, "%s", err);
    }
}

RL_DECLARE(int)
rl_config_walk(const rl_cmd_t *cmd, const rl_config_node_t *first,
               unsigned context, const char *path, void **dir_config)
{
    rl_cmd_t sub = *cmd;
    int before = rl_proc.config_errors;
    const rl_config_node_t *n;

    sub.context = context;
    sub.path = path;
    sub.dir_config = dir_config;
    sub.node = first; /* run_directive scans from here for duplicates */
    for (n = first; n != NULL; n = n->next) {
        run_directive(&sub, n);
    }
    return rl_proc.config_errors - before;
}

int rl_config_process(apr_pool_t *pconf, apr_pool_t *ptemp,
                      rl_config_node_t *tree)
{
    rl_cmd_t cmd = {0};
    rl_server_t *s = rl_proc.main_server;

    /* modules loaded while reading need their blocks */
    fill_server(pconf, s);
    cmd.pool = pconf;
    cmd.temp_pool = ptemp;
    cmd.server = s;
    return rl_config_walk(&cmd, tree, RL_CTX_MAIN, NULL, s->lookup_defaults);
}

/* A vector with one slot per loaded module: for vectors made once every
 * module is loaded (merges, connections, requests). */
void **rl_config_module_vector(apr_pool_t *p)
{
    return apr_pcalloc(p, sizeof(void *) * (apr_size_t)rl_module_count());
}

void **rl_config_merge_dir_vectors(apr_pool_t *p, void **base, void **add)
{
    void **out = rl_config_module_vector(p);
    int i;

    for (i = 0; i < rl_module_count(); i++) {
        rl_module_t *m = rl_module_at(i);
        if (add[i] == NULL) {
            out[i] = base[i];
        } else if (base[i] != NULL && m->merge_dir_config) {
            out[i] = m->merge_dir_config(p, base[i], add[i]);
        } else {
            out[i] = add[i];
        }
    }
    return out;
}

#define INHERIT(field)                                                         \
    do {                                                                       \
        if (v->field == -1) {                                                  \
            v->field = main->field;                                            \
        }                                                                      \
    } while (0)

static void merge_vhost(apr_pool_t *p, rl_server_t *main, rl_server_t *v)
{
    int i;

    for (i = 0; i < rl_module_count(); i++) {
        rl_module_t *m = rl_module_at(i);
        if (m->merge_server_config && main->module_config[i] &&
            v->module_config[i]) {
            v->module_config[i] = m->merge_server_config(
                p, main->module_config[i], v->module_config[i]);
        }
        if (v->module_log_levels[i] == -1) {
            v->module_log_levels[i] = main->module_log_levels[i];
        }
    }
    v->lookup_defaults = rl_config_merge_dir_vectors(p, main->lookup_defaults,
                                                     v->lookup_defaults);
    INHERIT(timeout);
    INHERIT(keep_alive_timeout);
    INHERIT(keep_alive);
    INHERIT(keep_alive_max);
    INHERIT(limit_req_line);
    INHERIT(limit_req_fieldsize);
    INHERIT(limit_req_fields);
    INHERIT(log_level);
    if (v->protocols == NULL) {
        v->protocols = main->protocols;
    }
    if (v->error_fname == NULL) {
        v->error_fname = main->error_fname;
        v->error_log = main->error_log;
    }
    if (v->server_name == NULL) {
        v->server_name = main->server_name;
    }
}

/* Each server's locations: the main server's first (httpd's order), then
 * its own, each merged over the server's root block once, here. */
static void merge_locations(apr_pool_t *p, rl_server_t *main, rl_server_t *s)
{
    apr_array_header_t *all =
        apr_array_make(p, s->locations->nelts + 4, sizeof(rl_location_t *));
    int i, pass;

    for (pass = 0; pass < 2; pass++) {
        apr_array_header_t *src = pass == 0 ? main->locations : s->locations;
        if (pass == 0 && s == main) {
            continue;
        }
        for (i = 0; i < src->nelts; i++) {
            rl_location_t *orig = APR_ARRAY_IDX(src, i, rl_location_t *);
            rl_location_t *loc = apr_pmemdup(p, orig, sizeof(*loc));
            loc->dir_config = rl_config_merge_dir_vectors(p, s->lookup_defaults,
                                                          loc->own_config);
            APR_ARRAY_PUSH(all, rl_location_t *) = loc;
        }
    }
    s->locations = all;
}

void rl_config_finish(apr_pool_t *pconf)
{
    rl_server_t *main = rl_proc.main_server, *v;

    /* httpd's defaults for whatever the main server left unset. */
    if (main->timeout == -1) {
        main->timeout = apr_time_from_sec(60);
    }
    if (main->keep_alive_timeout == -1) {
        main->keep_alive_timeout = apr_time_from_sec(5);
    }
    if (main->keep_alive == -1) {
        main->keep_alive = 1;
    }
    if (main->protocols == NULL) {
        main->protocols = apr_array_make(pconf, 1, sizeof(const char *));
        APR_ARRAY_PUSH(main->protocols, const char *) = "http/1.1";
    }
    if (main->keep_alive_max == -1) {
        main->keep_alive_max = 100;
    }
    if (main->limit_req_line == -1) {
        main->limit_req_line = 8190;
    }
    if (main->limit_req_fieldsize == -1) {
        main->limit_req_fieldsize = 8190;
    }
    if (main->limit_req_fields == -1) {
        main->limit_req_fields = 100;
    }
    if (main->log_level == -1) {
        main->log_level = RL_LOG_WARNING;
    }
    if (main->server_name == NULL) {
        main->server_name = "localhost";
    }
    for (v = main->next; v != NULL; v = v->next) {
        merge_vhost(pconf, main, v);
    }
    /* vhosts first: they copy the main server's unmerged locations */
    for (v = main->next; v != NULL; v = v->next) {
        merge_locations(pconf, main, v);
    }
    merge_locations(pconf, main, main);
}
