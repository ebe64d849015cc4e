/*
 * core_directives.c: the core module record and its directives: server
 * root, modules, listeners, virtual hosts, locations, limits, timeouts,
 * logging and the MPM settings every MPM shares.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "core.h"

#include <apr_lib.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <pcre2.h>
#include <stdlib.h>

core_server_conf_t *rl_core_server_conf(const rl_server_t *s)
{
    return s->module_config[core_module.index];
}

core_dir_conf_t *rl_core_dir_conf(void **dir_config)
{
    return dir_config[core_module.index];
}

static void *core_create_server(apr_pool_t *p, rl_server_t *s)
{
    core_server_conf_t *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->trace_enable = -1;
    c->strict = -1;
    c->encoded_slashes = -1;
    c->rrt_set = 0;
    return c;
}

static void *core_merge_server(apr_pool_t *p, void *basev, void *addv)
{
    const core_server_conf_t *base = basev, *add = addv;
    core_server_conf_t *c = apr_pmemdup(p, add, sizeof(*c));

    if (c->trace_enable == -1) {
        c->trace_enable = base->trace_enable;
    }
    if (c->strict == -1) {
        c->strict = base->strict;
    }
    if (c->encoded_slashes == -1) {
        c->encoded_slashes = base->encoded_slashes;
    }
    if (!c->rrt_set) {
        c->rrt_set = base->rrt_set;
        c->header_timeout = base->header_timeout;
        c->header_max = base->header_max;
        c->header_minrate = base->header_minrate;
        c->body_timeout = base->body_timeout;
        c->body_max = base->body_max;
        c->body_minrate = base->body_minrate;
    }
    return c;
}

static void *core_create_dir(apr_pool_t *p, const char *path)
{
    core_dir_conf_t *d = apr_pcalloc(p, sizeof(*d));

    (void)path;
    d->limit_req_body = -1;
    return d;
}

static void *core_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const core_dir_conf_t *base = basev, *add = addv;
    core_dir_conf_t *d = apr_pcalloc(p, sizeof(*d));

    d->handler = add->handler ? add->handler : base->handler;
    d->limit_req_body =
        add->limit_req_body != -1 ? add->limit_req_body : base->limit_req_body;
    if (base->error_docs && add->error_docs) {
        d->error_docs = apr_hash_overlay(p, add->error_docs, base->error_docs);
    } else {
        d->error_docs = add->error_docs ? add->error_docs : base->error_docs;
    }
    return d;
}

const char *rl_core_set_server_root(apr_pool_t *p, apr_pool_t *ptemp,
                                    const char *dir)
{
    apr_finfo_t fi;

    if (dir[0] != '/') {
        return "expected an absolute path";
    }
    if (apr_stat(&fi, dir, APR_FINFO_TYPE, ptemp) != APR_SUCCESS ||
        fi.filetype != APR_DIR) {
        return apr_psprintf(ptemp, "'%s' is not a directory", dir);
    }
    rl_proc.server_root = apr_pstrdup(p, dir);
    return NULL;
}


/* Only reached if the reader did not run it (it always does). */
static const char *set_server_root(rl_cmd_t *cmd, void *conf, int argc,
                                   char *const argv[])
{
    (void)conf;
    (void)argc;
    return rl_core_set_server_root(cmd->pool, cmd->temp_pool, argv[0]);
}

static const char *load_module(rl_cmd_t *cmd, void *conf, int argc,
                               char *const argv[])
{
    (void)conf;
    (void)argc;
    return rl_module_load(cmd->pool, argv[0], argv[1]);
}

/* "8080", "127.0.0.1:8080", "[::1]:8080", "*:8080" */
static const char *parse_hostport(apr_pool_t *p, const char *arg,
                                  const char **host, apr_port_t *port,
                                  int port_required)
{
    const char *colon;
    char *end;
    long v;

    *host = NULL;
    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');
        if (close == NULL) {
            return apr_psprintf(p, "'%s': missing ']' after an IPv6 address",
                                arg);
        }
        *host = apr_pstrndup(p, arg + 1, close - arg - 1);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (close[1] != '\0' && colon == NULL) {
            return apr_psprintf(p, "'%s': expected [address]:port", arg);
        }
    } else {
        colon = strrchr(arg, ':');
        if (colon != NULL) {
            *host = apr_pstrndup(p, arg, colon - arg);
        } else if (!apr_isdigit(arg[0]) || strchr(arg, '.') != NULL) {
            *host = apr_pstrdup(p, arg);
        }
    }
    if (*host != NULL &&
        (strcmp(*host, "*") == 0 || strcmp(*host, "_default_") == 0)) {
        *host = NULL;
    }
    if (colon == NULL && *host != NULL) {
        if (port_required) {
            return apr_psprintf(p, "'%s': a port is required", arg);
        }
        *port = 0;
        return NULL;
    }
    if (colon != NULL && strcmp(colon + 1, "*") == 0) {
        *port = 0;
        return NULL;
    }
    errno = 0;
    v = strtol(colon ? colon + 1 : arg, &end, 10);
    if (errno || *end != '\0' || v < 1 || v > 65535) {
        return apr_psprintf(p, "'%s': expected a port between 1 and 65535",
                            arg);
    }
    *port = (apr_port_t)v;
    return NULL;
}

static const char *set_listen(rl_cmd_t *cmd, void *conf, int argc,
                              char *const argv[])
{
    listen_spec_t *ls;
    const char *err;
    int i;

    (void)conf;
    ls = apr_pcalloc(cmd->pool, sizeof(*ls));
    err = parse_hostport(cmd->pool, argv[0], &ls->host, &ls->port, 1);
    if (err != NULL) {
        return err;
    }
    ls->protocol = apr_pstrdup(cmd->pool, argc > 1 ? argv[1] : "http");
    if (strcasecmp(ls->protocol, "http") != 0 &&
        strcasecmp(ls->protocol, "https") != 0 &&
        strcasecmp(ls->protocol, "tcp") != 0 &&
        strcasecmp(ls->protocol, "udp") != 0) {
        return apr_psprintf(cmd->temp_pool,
                            "unknown protocol '%s' (expected http, https, tcp "
                            "or udp)",
                            ls->protocol);
    }
    {
        char *q = (char *)ls->protocol;
        for (; *q; q++) {
            *q = (char)apr_tolower(*q);
        }
    }
    /* a UDP socket may share its port with a TCP one (DNS serves both) */
    ls->dgram = strcmp(ls->protocol, "udp") == 0;
    ls->file = cmd->node->file;
    ls->line = cmd->node->line;
    for (i = 0; i < rl_proc.listen_specs->nelts; i++) {
        listen_spec_t *o =
            &APR_ARRAY_IDX(rl_proc.listen_specs, i, listen_spec_t);
        if (o->port == ls->port && o->dgram == ls->dgram &&
            ((o->host == NULL && ls->host == NULL) ||
             (o->host && ls->host && strcmp(o->host, ls->host) == 0))) {
            return apr_psprintf(cmd->temp_pool,
                                "already listening on %s (%s:%u)", argv[0],
                                o->file, o->line);
        }
    }
    APR_ARRAY_PUSH(rl_proc.listen_specs, listen_spec_t) = *ls;
    return NULL;
}

/* Protocols h2 h2c http/1.1: what clients may speak, in order of
 * preference (httpd's directive; ALPN follows the order). */
static const char *set_protocols(rl_cmd_t *cmd, void *conf, int argc,
                                 char *const argv[])
{
    apr_array_header_t *a = apr_array_make(cmd->pool, argc, sizeof(char *));
    int i;

    (void)conf;
    for (i = 0; i < argc; i++) {
        char *q = apr_pstrdup(cmd->pool, argv[i]);
        char *t;
        for (t = q; *t; t++) {
            *t = (char)apr_tolower(*t);
        }
        if (strcmp(q, "http/1.1") != 0 && strcmp(q, "h2") != 0 &&
            strcmp(q, "h2c") != 0) {
            return apr_psprintf(cmd->temp_pool,
                                "unknown protocol '%s' (expected h2, h2c or "
                                "http/1.1)",
                                argv[i]);
        }
        APR_ARRAY_PUSH(a, const char *) = q;
    }
    cmd->server->protocols = a;
    return NULL;
}

static const char *set_proc_string(rl_cmd_t *cmd, void *conf, int argc,
                                   char *const argv[])
{
    const char **slot = (const char **)cmd->data;

    (void)conf;
    (void)argc;
    *slot = apr_pstrdup(cmd->pool, argv[0]);
    return NULL;
}

/* User and Group: the account must exist (checked now, not when the
 * first child fails to start). */
static const char *set_user(rl_cmd_t *cmd, void *conf, int argc,
                            char *const argv[])
{
    int is_user = cmd->data == &rl_proc.user;
    const char *v = argv[0];

    if (v[0] != '#' && (is_user ? getpwnam(v) == NULL : getgrnam(v) == NULL)) {
        return apr_psprintf(cmd->temp_pool, "no such %s '%s' on this system",
                            is_user ? "user" : "group", v);
    }
    return set_proc_string(cmd, conf, argc, argv);
}


static const char *set_error_log(rl_cmd_t *cmd, void *conf, int argc,
                                 char *const argv[])
{
    (void)conf;
    (void)argc;
    cmd->server->error_fname = apr_pstrdup(cmd->pool, argv[0]);
    return NULL;
}

static const char *const level_names[] = {
    "emerg",  "alert",  "crit",   "error",  "warn",   "notice",
    "info",   "debug",  "trace1", "trace2", "trace3", "trace4",
    "trace5", "trace6", "trace7", "trace8", NULL};

static int parse_level(const char *s)
{
    int i;

    for (i = 0; level_names[i]; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static const char *set_log_level(rl_cmd_t *cmd, void *conf, int argc,
                                 char *const argv[])
{
    int i;

    (void)conf;
    for (i = 0; i < argc; i++) {
        const char *colon = strchr(argv[i], ':');
        int level = parse_level(colon ? colon + 1 : argv[i]);
        if (level < 0) {
            return apr_psprintf(cmd->temp_pool,
                                "unknown level '%s' (expected emerg, alert, "
                                "crit, error, warn, notice, info, debug or "
                                "trace1-8)",
                                colon ? colon + 1 : argv[i]);
        }
        if (colon == NULL) {
            cmd->server->log_level = level;
        } else {
            char *mname =
                apr_pstrndup(cmd->temp_pool, argv[i], colon - argv[i]);
            rl_module_t *m = rl_find_module(mname);
            if (m == NULL) {
                return apr_psprintf(cmd->temp_pool,
                                    "'%s': no module named '%s' is loaded",
                                    argv[i], mname);
            }
            cmd->server->module_log_levels[m->index] = (signed char)level;
        }
    }
    return NULL;
}

/* Server-level settings held in rl_server_t: data = offsetof. */
static const char *set_server_duration(rl_cmd_t *cmd, void *conf, int argc,
                                       char *const argv[])
{
    (void)conf;
    return rl_set_duration_slot(cmd, cmd->server, argc, argv);
}

static const char *set_server_flag(rl_cmd_t *cmd, void *conf, int argc,
                                   char *const argv[])
{
    (void)conf;
    return rl_set_flag_slot(cmd, cmd->server, argc, argv);
}

static const char *set_server_int(rl_cmd_t *cmd, void *conf, int argc,
                                  char *const argv[])
{
    const char *err;
    int *slot = (int *)((char *)cmd->server + (apr_size_t)cmd->data);

    (void)conf;
    err = rl_set_int_slot(cmd, cmd->server, argc, argv);
    if (err == NULL &&
        cmd->data != (void *)offsetof(rl_server_t, keep_alive_max) &&
        (*slot < 1 || *slot > 65536)) {
        return apr_psprintf(cmd->temp_pool,
                            "expected a number from 1 to 65536, got '%s'",
                            argv[0]);
    }
    return err;
}

static const char *set_limit_req_body(rl_cmd_t *cmd, void *confv, int argc,
                                      char *const argv[])
{
    core_dir_conf_t *d = confv;

    (void)cmd;
    (void)argc;
    return rl_parse_size(cmd->temp_pool, argv[0], &d->limit_req_body);
}

/* A day: more is a typo, and seconds beyond LONG_MAX / 10^6 overflow the
 * microseconds they become. */
#define RRT_MAX_SECONDS 86400

/* RequestReadTimeout header=20-40,MinRate=500 body=20,MinRate=500 */
static const char *set_rrt(rl_cmd_t *cmd, void *conf, int argc,
                           char *const argv[])
{
    core_server_conf_t *c = rl_core_server_conf(cmd->server);
    int i;

    (void)conf;
    if (!c->rrt_set) {
        /* start from the defaults, so "body=30" keeps header's default */
        c->header_timeout = apr_time_from_sec(20);
        c->header_max = apr_time_from_sec(40);
        c->header_minrate = 500;
        c->body_timeout = apr_time_from_sec(20);
        c->body_max = 0;
        c->body_minrate = 500;
    }
    c->rrt_set = 1;
    for (i = 0; i < argc; i++) {
        char *arg = apr_pstrdup(cmd->temp_pool, argv[i]);
        char *eq = strchr(arg, '='), *rate, *dash, *end;
        apr_interval_time_t *t, *max;
        apr_size_t *minrate;
        long v1, v2 = 0, r = 0;

        if (eq == NULL) {
            return apr_psprintf(cmd->temp_pool,
                                "'%s': expected header=… or body=…", arg);
        }
        *eq++ = '\0';
        if (strcasecmp(arg, "header") == 0) {
            t = &c->header_timeout;
            max = &c->header_max;
            minrate = &c->header_minrate;
        } else if (strcasecmp(arg, "body") == 0) {
            t = &c->body_timeout;
            max = &c->body_max;
            minrate = &c->body_minrate;
        } else if (strcasecmp(arg, "handshake") == 0) {
            return "handshake= is not supported yet (it arrives with TLS)";
        } else {
            return apr_psprintf(cmd->temp_pool,
                                "unknown stage '%s' (expected header or body)",
                                arg);
        }
        rate = strchr(eq, ',');
        if (rate != NULL) {
            *rate++ = '\0';
            if (strncasecmp(rate, "MinRate=", 8) != 0) {
                return apr_psprintf(cmd->temp_pool,
                                    "'%s': expected MinRate=bytes/s", rate);
            }
            errno = 0;
            r = strtol(rate + 8, &end, 10);
            /* "MinRate=" with no digits is a typo, not 0 */
            if (end == rate + 8 || *end || r < 0 || errno == ERANGE) {
                return apr_psprintf(cmd->temp_pool, "bad MinRate '%s'",
                                    rate + 8);
            }
        }
        dash = strchr(eq, '-');
        if (dash != NULL) {
            *dash++ = '\0';
            v2 = strtol(dash, &end, 10);
            if (end == dash || *end || v2 < 0 || v2 > RRT_MAX_SECONDS) {
                return apr_psprintf(cmd->temp_pool, "bad maximum '%s'", dash);
            }
        }
        v1 = strtol(eq, &end, 10);
        if (end == eq || *end || v1 < 0 || v1 > RRT_MAX_SECONDS ||
            (dash && v2 < v1)) {
            return apr_psprintf(cmd->temp_pool,
                                "'%s': expected seconds or min-max (each at "
                                "most %d)",
                                eq, RRT_MAX_SECONDS);
        }
        *t = apr_time_from_sec(v1);
        *max = apr_time_from_sec(v2);
        *minrate = (apr_size_t)r;
        if (dash && rate == NULL) {
            return "a min-max timeout needs MinRate=bytes/s to grow by";
        }
    }
    return NULL;
}

static const char *set_server_name(rl_cmd_t *cmd, void *conf, int argc,
                                   char *const argv[])
{
    const char *arg = argv[0], *colon;
    char *end;

    (void)conf;
    (void)argc;
    if (strstr(arg, "://") != NULL) {
        arg = strstr(arg, "://") + 3;
    }
    colon = strrchr(arg, ':');
    if (colon != NULL && arg[0] != '[') {
        long v = strtol(colon + 1, &end, 10);
        if (*end || v < 1 || v > 65535) {
            return apr_psprintf(cmd->temp_pool, "bad port in '%s'", argv[0]);
        }
        cmd->server->port = (apr_port_t)v;
        cmd->server->server_name = apr_pstrndup(cmd->pool, arg, colon - arg);
    } else {
        cmd->server->server_name = apr_pstrdup(cmd->pool, arg);
    }
    {
        char *s;
        for (s = (char *)cmd->server->server_name; *s; s++) {
            *s = (char)apr_tolower(*s);
        }
    }
    return NULL;
}

static const char *add_alias(rl_cmd_t *cmd, void *conf, int argc,
                             char *const argv[])
{
    char *a = apr_pstrdup(cmd->pool, argv[0]), *s;

    (void)conf;
    (void)argc;
    for (s = a; *s; s++) {
        *s = (char)apr_tolower(*s);
    }
    APR_ARRAY_PUSH(cmd->server->aliases, const char *) = a;
    return NULL;
}

static const char *set_ignored(rl_cmd_t *cmd, void *conf, int argc,
                               char *const argv[])
{
    (void)cmd;
    (void)conf;
    (void)argc;
    (void)argv;
    return NULL;
}

static const char *set_error_document(rl_cmd_t *cmd, void *confv, int argc,
                                      char *const argv[])
{
    core_dir_conf_t *d = confv;
    char *end;
    long code = strtol(argv[0], &end, 10);
    const char *what = argv[1];

    (void)argc;
    if (*end || code < 400 || code > 599) {
        return apr_psprintf(cmd->temp_pool,
                            "'%s': expected an error status from 400 to 599",
                            argv[0]);
    }
    if (what[0] == '/') {
        return "a local URL (internal redirect) is not supported yet: give "
               "a quoted text or a full http(s):// URL";
    }
    if (d->error_docs == NULL) {
        d->error_docs = apr_hash_make(cmd->pool);
    }
    apr_hash_set(d->error_docs, apr_pstrdup(cmd->pool, argv[0]),
                 APR_HASH_KEY_STRING, apr_pstrdup(cmd->pool, what));
    return NULL;
}

static const char *set_handler(rl_cmd_t *cmd, void *confv, int argc,
                               char *const argv[])
{
    core_dir_conf_t *d = confv;

    (void)argc;
    d->handler = apr_pstrdup(cmd->pool, argv[0]);
    return NULL;
}

static const char *set_server_tokens(rl_cmd_t *cmd, void *conf, int argc,
                                     char *const argv[])
{
    static const char *const names[] = {"Prod", "Major", "Minor",
                                        "Min",  "OS",    "Full"};
    int i;

    (void)cmd;
    (void)conf;
    (void)argc;
    for (i = 0; i < 6; i++) {
        if (strcasecmp(argv[0], names[i]) == 0 ||
            (i == 0 && strcasecmp(argv[0], "ProductOnly") == 0) ||
            (i == 3 && strcasecmp(argv[0], "Minimal") == 0)) {
            rl_proc.server_tokens = i;
            return NULL;
        }
    }
    return "expected Prod, Major, Minor, Min, OS or Full";
}

static const char *set_trace_enable(rl_cmd_t *cmd, void *conf, int argc,
                                    char *const argv[])
{
    core_server_conf_t *c = rl_core_server_conf(cmd->server);

    (void)conf;
    (void)argc;
    if (strcasecmp(argv[0], "extended") == 0) {
        return "'extended' (TRACE with a body) is not supported: use On "
               "or Off";
    }
    return rl_parse_flag(cmd->temp_pool, argv[0], &c->trace_enable);
}

static const char *set_encoded_slashes(rl_cmd_t *cmd, void *conf, int argc,
                                       char *const argv[])
{
    core_server_conf_t *c = rl_core_server_conf(cmd->server);

    (void)conf;
    (void)argc;
    if (strcasecmp(argv[0], "On") == 0) {
        c->encoded_slashes = RL_ENCODED_SLASHES_ON;
    } else if (strcasecmp(argv[0], "Off") == 0) {
        c->encoded_slashes = RL_ENCODED_SLASHES_OFF;
    } else if (strcasecmp(argv[0], "NoDecode") == 0) {
        c->encoded_slashes = RL_ENCODED_SLASHES_NODECODE;
    } else {
        return apr_psprintf(cmd->temp_pool,
                            "expected On, Off or NoDecode, got '%s'", argv[0]);
    }
    return NULL;
}

static const char *set_protocol_options(rl_cmd_t *cmd, void *conf, int argc,
                                        char *const argv[])
{
    core_server_conf_t *c = rl_core_server_conf(cmd->server);
    int i;

    (void)conf;
    for (i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcasecmp(a, "Strict") == 0) {
            c->strict = 1;
        } else if (strcasecmp(a, "LenientMethods") == 0 ||
                   strcasecmp(a, "Require1.0") == 0) {
            continue; /* what Relais does anyway */
        } else if (strcasecmp(a, "RegisteredMethods") == 0) {
            c->strict = 2;
        } else if (strcasecmp(a, "Unsafe") == 0 ||
                   strcasecmp(a, "Allow0.9") == 0) {
            return apr_psprintf(cmd->temp_pool,
                                "'%s' is not supported: Relais always parses "
                                "requests strictly (RFC 9112) and never "
                                "serves HTTP/0.9",
                                a);
        } else {
            return apr_psprintf(cmd->temp_pool,
                                "unknown option '%s' (expected Strict, "
                                "RegisteredMethods, LenientMethods or "
                                "Require1.0)",
                                a);
        }
    }
    return NULL;
}

static const char *virtualhost_section(rl_cmd_t *cmd, void *conf, int argc,
                                       char *const argv[])
{
    rl_server_t *v = rl_config_new_server(cmd->pool, 1), *last;
    int i;

    (void)conf;
    v->defn_file = cmd->node->file;
    v->defn_line = cmd->node->line;
    for (i = 0; i < argc; i++) {
        rl_server_addr_t *a = apr_array_push(v->addrs);
        const char *err =
            parse_hostport(cmd->pool, argv[i], &a->host, &a->port, 0);
        if (err != NULL) {
            return err;
        }
        if (a->host == NULL) {
            a->host = "*";
        }
    }
    for (last = cmd->server; last->next != NULL; last = last->next) {
    }
    last->next = v;
    {
        rl_cmd_t sub = *cmd;
        sub.server = v;
        rl_config_walk(&sub, cmd->node->first_child, RL_CTX_VHOST, NULL,
                       v->lookup_defaults);
    }
    return NULL;
}

static apr_status_t regex_cleanup(void *re)
{
    pcre2_code_free(re);
    return APR_SUCCESS;
}


RL_DECLARE(void *)
rl_regex_compile(apr_pool_t *p, const char *pattern, const char **err)
{
    int errcode;
    PCRE2_SIZE erroff;
    PCRE2_UCHAR msg[160];
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   0, &errcode, &erroff, NULL);

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


static const char *location_section(rl_cmd_t *cmd, void *conf, int argc,
                                    char *const argv[])
{
    int is_match = cmd->data != NULL;
    const char *path = argv[0];
    pcre2_code *re = NULL;
    void **vec;

    (void)conf;
    if (argc == 2) {
        if (strcmp(argv[0], "~") != 0 || is_match) {
            return "expected one path (or ~ and a regular expression)";
        }
        is_match = 1;
        path = argv[1];
    }
    if (is_match) {
        const char *err;
        re = rl_regex_compile(cmd->pool, path, &err);
        if (re == NULL) {
            return err;
        }
    } else if (path[0] != '/') {
        return apr_psprintf(cmd->temp_pool,
                            "'%s': a location path must start with '/'", path);
    }
    vec = rl_config_new_dir_vector(cmd->pool, path);
    /* registered before its body is read: an <If> inside finds it */
    rl_config_add_location(cmd, apr_pstrdup(cmd->pool, path), re,
                           RL_CTX_LOCATION, vec);
    rl_config_walk(cmd, cmd->node->first_child, RL_CTX_LOCATION, path, vec);
    return NULL;
}

/* The <If>/<ElseIf> block last read, so that an <ElseIf> or <Else> can
 * check it stands right after one (the configuration is read by one
 * thread). */
static struct {
    const rl_config_node_t *node;
    const if_cond_t *cond;
} last_if;

/* The expression of <If "…">: the raw text, without its outer quotes (so
 * that 'single quotes' and \" inside survive as written). */
static const char *if_expr_text(rl_cmd_t *cmd)
{
    const char *s = cmd->node->raw_args;
    apr_size_t n;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
        n--;
    }
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s++;
        n -= 2;
    }
    return apr_pstrndup(cmd->pool, s, n);
}

/* <If "expr">, <ElseIf "expr">, <Else>: a location-like block applied,
 * after every <Location>, to the requests for which the condition holds
 * (inside a <Location>, only to those that location matches). */
static const char *if_section(rl_cmd_t *cmd, void *conf, int argc,
                              char *const argv[])
{
    const char *kind = cmd->directive->name + 1; /* "If", "ElseIf", "Else" */
    int is_if = strcasecmp(kind, "If") == 0;
    int is_else = strcasecmp(kind, "Else") == 0;
    const rl_config_node_t *up;
    if_cond_t *cond;
    apr_array_header_t *locs = cmd->server->locations;
    void **vec;
    rl_location_t *loc;
    const char *path = "/";

    (void)conf;
    (void)argv;
    for (up = cmd->node->parent; up != NULL; up = up->parent) {
        if (strncasecmp(up->name, "<If", 3) == 0 ||
            strncasecmp(up->name, "<Else", 5) == 0) {
            return "an <If> family block cannot stand inside another: "
                   "combine the conditions with && instead";
        }
    }
    cond = apr_pcalloc(cmd->pool, sizeof(*cond));
    if (!is_if) {
        if (last_if.node == NULL || last_if.node->next != cmd->node) {
            return apr_psprintf(cmd->temp_pool,
                                "<%s> must follow an <If> or <ElseIf> block "
                                "directly",
                                kind);
        }
        cond->prev = last_if.cond;
    }
    if (is_else) {
        if (argc > 0 ||
            cmd->node->raw_args[strspn(cmd->node->raw_args, " \t")] != '\0') {
            return "<Else> takes no condition (use <ElseIf \"…\">)";
        }
    } else {
        const char *err;
        const char *text = if_expr_text(cmd);
        if (*text == '\0') {
            return apr_psprintf(cmd->temp_pool,
                                "expected a condition: <%s \"expression\">",
                                kind);
        }
        cond->expr = rl_expr_parse(cmd->pool, text, &err);
        if (cond->expr == NULL) {
            return apr_psprintf(cmd->temp_pool, "in \"%s\": %s", text, err);
        }
    }
    if (cmd->context == RL_CTX_LOCATION) {
        /* <Location> registers itself before reading its body */
        int i;
        for (i = locs->nelts - 1; i >= 0; i--) {
            rl_location_t *l = APR_ARRAY_IDX(locs, i, rl_location_t *);
            if (l->own_config == cmd->dir_config) {
                cond->within = l;
                path = l->path;
                break;
            }
        }
        if (cond->within == NULL) {
            return apr_psprintf(cmd->temp_pool,
                                "<%s> can stand in <Location>, "
                                "<LocationMatch> or at server level, not here",
                                kind);
        }
    }
    vec = rl_config_new_dir_vector(cmd->pool, path);
    /* register first: the body's own sections see where they stand */
    loc = rl_config_add_location(cmd, path, NULL, RL_CTX_LOCATION, vec);
    loc->cond = cond;
    rl_if_blocks++;
    rl_config_walk(cmd, cmd->node->first_child, RL_CTX_LOCATION, path, vec);
    last_if.node = is_else ? NULL : cmd->node;
    last_if.cond = cond;
    return NULL;
}

static const char *set_mpm_int(rl_cmd_t *cmd, void *conf, int argc,
                               char *const argv[])
{
    (void)conf;
    return rl_set_int_slot(cmd, &rl_proc.mpm, argc, argv);
}

static const char *set_listen_backlog(rl_cmd_t *cmd, void *conf, int argc,
                                      char *const argv[])
{
    char *end;
    long n = strtol(argv[0], &end, 10);

    (void)conf;
    (void)argc;
    if (*argv[0] == '\0' || *end != '\0' || n < 1 || n > 65535) {
        return apr_psprintf(cmd->temp_pool,
                            "'%s' is not a backlog length: expected a number "
                            "from 1 to 65535 (the kernel caps it at "
                            "net.core.somaxconn)",
                            argv[0]);
    }
    rl_proc.listen_backlog = (int)n;
    return NULL;
}

static const char *set_graceful_timeout(rl_cmd_t *cmd, void *conf, int argc,
                                        char *const argv[])
{
    (void)conf;
    (void)argc;
    return rl_parse_duration(cmd->temp_pool, argv[0], APR_USEC_PER_SEC,
                             &rl_proc.graceful_timeout);
}

#define SRV(f) ((const void *)offsetof(rl_server_t, f))
#define MPM(f) ((const void *)offsetof(rl_mpm_settings_t, f))
#define EXEC_ON_READ(n, f, c, mn, mx, u)                                       \
    {                                                                          \
        n, f, NULL, c, mn, mx, RL_DIR_EXEC_ON_READ, u                          \
    }

static const rl_directive_t core_directives[] = {
    EXEC_ON_READ("ServerRoot", set_server_root, RL_CTX_MAIN, 1, 1,
                 "ServerRoot /absolute/directory"),
    EXEC_ON_READ("LoadModule", load_module, RL_CTX_MAIN, 2, 2,
                 "LoadModule name_module modules/mod_name.so"),
    /* evaluated by the reader (config_read.c); listed for -L and "did you
     * mean" */
    {"<IfModule", set_ignored, NULL, RL_CTX_ANY, 1, 1,
     RL_DIR_SECTION | RL_DIR_EXEC_ON_READ, "<IfModule [!]module>"},
    RL_TAKE12("Listen", set_listen, NULL, RL_CTX_MAIN,
              "Listen [address:]port [http|https|tcp|udp]"),
    RL_TAKE_ARGV("Protocols", set_protocols, NULL, RL_CTX_SERVER,
                 "Protocols protocol… (h2 h2c http/1.1; default http/1.1)"),
    RL_TAKE1("ListenBacklog", set_listen_backlog, NULL, RL_CTX_MAIN,
             "ListenBacklog length (default 4096)"),
    RL_TAKE1("User", set_user, &rl_proc.user, RL_CTX_MAIN, "User name-or-#uid"),
    RL_TAKE1("Group", set_user, &rl_proc.group, RL_CTX_MAIN,
             "Group name-or-#gid"),
    RL_TAKE1("PidFile", set_proc_string, &rl_proc.pid_file, RL_CTX_MAIN,
             "PidFile path"),
    RL_TAKE1("ErrorLog", set_error_log, NULL, RL_CTX_SERVER,
             "ErrorLog path | \"|command\" | syslog[:facility]"),
    RL_TAKE_ARGV("LogLevel", set_log_level, NULL, RL_CTX_SERVER,
                 "LogLevel level [module:level]…"),
    RL_TAKE1("Timeout", set_server_duration, SRV(timeout), RL_CTX_SERVER,
             "Timeout seconds"),
    RL_TAKE1("KeepAlive", set_server_flag, SRV(keep_alive), RL_CTX_SERVER,
             "KeepAlive On|Off"),
    RL_TAKE1("KeepAliveTimeout", set_server_duration, SRV(keep_alive_timeout),
             RL_CTX_SERVER, "KeepAliveTimeout seconds (or 500ms)"),
    RL_TAKE1("MaxKeepAliveRequests", set_server_int, SRV(keep_alive_max),
             RL_CTX_SERVER, "MaxKeepAliveRequests number (0 = unlimited)"),
    RL_TAKE1("LimitRequestLine", set_server_int, SRV(limit_req_line),
             RL_CTX_SERVER, "LimitRequestLine bytes"),
    RL_TAKE1("LimitRequestFieldSize", set_server_int, SRV(limit_req_fieldsize),
             RL_CTX_SERVER, "LimitRequestFieldSize bytes"),
    RL_TAKE1("LimitRequestFields", set_server_int, SRV(limit_req_fields),
             RL_CTX_SERVER, "LimitRequestFields number"),
    RL_TAKE1("LimitRequestBody", set_limit_req_body, NULL, RL_CTX_ANY,
             "LimitRequestBody bytes (0 = unlimited)"),
    RL_TAKE_ARGV("RequestReadTimeout", set_rrt, NULL, RL_CTX_SERVER,
                 "RequestReadTimeout [header=min[-max][,MinRate=rate]] "
                 "[body=min[-max][,MinRate=rate]]"),
    RL_TAKE1("ServerName", set_server_name, NULL, RL_CTX_SERVER,
             "ServerName host[:port]"),
    RL_ITERATE("ServerAlias", add_alias, NULL, RL_CTX_VHOST,
               "ServerAlias name [name]…"),
    RL_TAKE1("ServerAdmin", set_ignored, NULL, RL_CTX_SERVER,
             "ServerAdmin address"),
    RL_TAKE2("ErrorDocument", set_error_document, NULL, RL_CTX_ANY,
             "ErrorDocument status \"text\"|http://url"),
    RL_TAKE1("SetHandler", set_handler, NULL, RL_CTX_ANY,
             "SetHandler name|none"),
    RL_TAKE1("ServerTokens", set_server_tokens, NULL, RL_CTX_MAIN,
             "ServerTokens Prod|Major|Minor|Min|OS|Full"),
    RL_TAKE1("AllowEncodedSlashes", set_encoded_slashes, NULL, RL_CTX_SERVER,
             "AllowEncodedSlashes On|Off|NoDecode (an encoded '/' in a path: "
             "decoded, refused with 404, or kept encoded)"),
    RL_TAKE1("TraceEnable", set_trace_enable, NULL, RL_CTX_SERVER,
             "TraceEnable On|Off"),
    RL_TAKE_ARGV("HttpProtocolOptions", set_protocol_options, NULL,
                 RL_CTX_SERVER,
                 "HttpProtocolOptions [Strict] [RegisteredMethods|"
                 "LenientMethods] [Require1.0]"),
    RL_SECTION("<VirtualHost", virtualhost_section, NULL, RL_CTX_MAIN, 1, -1,
               "<VirtualHost address[:port] …>"),
    RL_SECTION("<Location", location_section, NULL, RL_CTX_SERVER, 1, 2,
               "<Location /path> or <Location ~ regex>"),
    RL_SECTION("<LocationMatch", location_section, (void *)1, RL_CTX_SERVER, 1,
               1, "<LocationMatch regex>"),
    {"<If", if_section, NULL, RL_CTX_SERVER | RL_CTX_LOCATION, 0, -1,
     RL_DIR_SECTION | RL_DIR_RAW, "<If \"expression\"> (see docs/expr.md)"},
    {"<ElseIf", if_section, NULL, RL_CTX_SERVER | RL_CTX_LOCATION, 0, -1,
     RL_DIR_SECTION | RL_DIR_RAW, "<ElseIf \"expression\">"},
    {"<Else", if_section, NULL, RL_CTX_SERVER | RL_CTX_LOCATION, 0, -1,
     RL_DIR_SECTION | RL_DIR_RAW, "<Else>"},
    RL_TAKE1("StartServers", set_mpm_int, MPM(start_servers), RL_CTX_MAIN,
             "StartServers number"),
    RL_TAKE1("ServerLimit", set_mpm_int, MPM(server_limit), RL_CTX_MAIN,
             "ServerLimit number"),
    RL_TAKE1("ThreadsPerChild", set_mpm_int, MPM(threads_per_child),
             RL_CTX_MAIN, "ThreadsPerChild number"),
    RL_TAKE1("ThreadLimit", set_ignored, NULL, RL_CTX_MAIN,
             "ThreadLimit number (accepted; ThreadsPerChild is the limit)"),
    RL_TAKE1("MaxRequestWorkers", set_mpm_int, MPM(max_request_workers),
             RL_CTX_MAIN, "MaxRequestWorkers number"),
    RL_TAKE1("MaxClients", set_mpm_int, MPM(max_request_workers), RL_CTX_MAIN,
             "MaxClients number (old name of MaxRequestWorkers)"),
    RL_TAKE1("MinSpareServers", set_mpm_int, MPM(min_spare), RL_CTX_MAIN,
             "MinSpareServers number"),
    RL_TAKE1("MaxSpareServers", set_mpm_int, MPM(max_spare), RL_CTX_MAIN,
             "MaxSpareServers number"),
    RL_TAKE1("MinSpareThreads", set_mpm_int, MPM(min_spare), RL_CTX_MAIN,
             "MinSpareThreads number"),
    RL_TAKE1("MaxSpareThreads", set_mpm_int, MPM(max_spare), RL_CTX_MAIN,
             "MaxSpareThreads number"),
    RL_TAKE1("MaxConnectionsPerChild", set_mpm_int,
             MPM(max_connections_per_child), RL_CTX_MAIN,
             "MaxConnectionsPerChild number (0 = unlimited)"),
    RL_TAKE1("MaxRequestsPerChild", set_mpm_int, MPM(max_connections_per_child),
             RL_CTX_MAIN, "MaxRequestsPerChild number (old name)"),
    RL_TAKE1("GracefulShutdownTimeout", set_graceful_timeout, NULL, RL_CTX_MAIN,
             "GracefulShutdownTimeout seconds (0 = no limit)"),
    RL_DIRECTIVE_END};

rl_module_t core_module = {RL_MODULE_STUFF("core", "0.1.0", 0),
                           core_directives,
                           core_create_server,
                           core_merge_server,
                           core_create_dir,
                           core_merge_dir,
                           NULL};
