/*
 * mod_proxy_stream.c: TCP and UDP load balancing (docs/stream.md).
 *
 *   Listen 127.0.0.1:6380 tcp
 *   <VirtualHost 127.0.0.1:6380>
 *       ProxyStream balancer://redis
 *   </VirtualHost>
 *
 * A `Listen … tcp|udp` listener serves the ProxyStream of its virtual
 * host: each TCP connection is relayed to one member of a balancer
 * (mod_balancer's, with its lbmethods, status flags, health checks and
 * DNS), each UDP client gets a session with one member.  This file holds
 * the directives, the configuration checks and the hooks; the relay is in
 * stream_tcp.c, the UDP sessions in stream_udp.c.
 *
 * Needs mod_proxy and mod_balancer loaded before it (their symbols are
 * resolved when this module is loaded).
 */
#include "stream_private.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

RL_LOG_USE_MODULE(proxy_stream);

/* proxyprotocol= of the members of the configuration being loaded:
 * worker -> 1 or 2 (reset with the configuration pool). */
static apr_hash_t *stream_pp_members;


static apr_status_t stream_pp_reset(void *unused)
{
    (void)unused;
    stream_pp_members = NULL;
    return APR_SUCCESS;
}


stream_conf_t *stream_conf(const rl_server_t *s)
{
    return rl_get_module_config(s->module_config, &proxy_stream_module);
}


apr_interval_time_t stream_idle_timeout(const rl_server_t *s)
{
    const stream_conf_t *conf = stream_conf(s);

    return conf->timeout > 0 ? conf->timeout : s->timeout;
}


int stream_member_pp(const rl_proxy_worker_t *w)
{
    void *v = stream_pp_members ? apr_hash_get(stream_pp_members, &w, sizeof(w))
                                : NULL;

    return v ? (int)(intptr_t)v : 0;
}


static void *stream_create_server(apr_pool_t *p, rl_server_t *s)
{
    stream_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    (void)s;
    conf->timeout = -1;
    conf->connect_timeout = -1;
    conf->log_fd = -1;
    conf->pp_in = -1;
    conf->udp_sessions = -1;
    conf->udp_responses = -1;
    return conf;
}


#define STREAM_MERGE(f, unset) c->f = add->f != (unset) ? add->f : base->f

/* A vhost takes the main server's timeouts and log; its ProxyStream is
 * its own (a stream is a property of the listener's vhost). */
static void *stream_merge_server(apr_pool_t *p, void *basev, void *addv)
{
    const stream_conf_t *base = basev, *add = addv;
    stream_conf_t *c = apr_pmemdup(p, add, sizeof(*c));

    STREAM_MERGE(timeout, -1);
    STREAM_MERGE(connect_timeout, -1);
    STREAM_MERGE(pp_in, -1);
    STREAM_MERGE(udp_sessions, -1);
    STREAM_MERGE(udp_responses, -1);
    c->log_path = add->log_path ? add->log_path : base->log_path;
    c->pp_except = add->pp_except ? add->pp_except : base->pp_except;
    return c;
}


/* ---------------------------------------------------------------- */
/* Directives                                                       */
/* ---------------------------------------------------------------- */

/* ProxyStream balancer://name | tcp://host:port | udp://host:port [k=v…] */
static const char *set_stream(rl_cmd_t *cmd, void *dconf, int argc,
                              char *const argv[])
{
    stream_conf_t *conf = stream_conf(cmd->server);
    const char *err = NULL;

    (void)dconf;
    if (conf->target != NULL) {
        return apr_psprintf(cmd->pool, "already set to %s at %s:%u",
                            conf->target, conf->file, conf->line);
    }
    conf->target = apr_pstrdup(cmd->pool, argv[0]);
    conf->file = cmd->node->file;
    conf->line = cmd->node->line;
    if (strncasecmp(argv[0], "balancer://", 11) == 0) {
        if (argc > 1) {
            return "a balancer takes its parameters from ProxySet in its "
                   "<Proxy> section, not here";
        }
        return NULL;
    }
    if (strncasecmp(argv[0], "tcp://", 6) != 0 &&
        strncasecmp(argv[0], "udp://", 6) != 0) {
        return apr_psprintf(cmd->pool,
                            "'%s': expected balancer://name, tcp://host:port "
                            "or udp://host:port",
                            argv[0]);
    }
    conf->worker =
        rl_proxy_define_worker(cmd, argv[0], argc - 1, argv + 1, &err);
    if (conf->worker == NULL) {
        return err;
    }
    conf->scheme = conf->worker->scheme;
    return NULL;
}


static const char *set_duration(rl_cmd_t *cmd, void *dconf, int argc,
                                char *const argv[])
{
    apr_interval_time_t *slot =
        (apr_interval_time_t *)((char *)stream_conf(cmd->server) +
                                (apr_size_t)cmd->data);
    const char *err;

    (void)dconf;
    (void)argc;
    err = rl_parse_duration(cmd->pool, argv[0], APR_USEC_PER_SEC, slot);
    if (err == NULL && *slot <= 0) {
        return "expected a duration above 0 (e.g. 30, 500ms, 5m)";
    }
    return err;
}


static const char *set_count(rl_cmd_t *cmd, void *dconf, int argc,
                             char *const argv[])
{
    int *slot =
        (int *)((char *)stream_conf(cmd->server) + (apr_size_t)cmd->data);
    char *end;
    long v = strtol(argv[0], &end, 10);

    (void)dconf;
    (void)argc;
    if (*argv[0] == '\0' || *end != '\0' || v < 0 || v > 10000000) {
        return apr_psprintf(cmd->pool, "'%s': expected a number (0 or more)",
                            argv[0]);
    }
    if (v == 0 && cmd->data == (void *)offsetof(stream_conf_t, udp_sessions)) {
        return "expected at least 1 session";
    }
    *slot = (int)v;
    return NULL;
}


static const char *set_log(rl_cmd_t *cmd, void *dconf, int argc,
                           char *const argv[])
{
    (void)dconf;
    (void)argc;
    if (argv[0][0] == '|') {
        return "piped logs are not supported here: give a file (rotate it "
               "with logrotate and a graceful restart)";
    }
    stream_conf(cmd->server)->log_path =
        rl_server_root_relative(cmd->pool, argv[0]);
    return NULL;
}


static const char *set_pp(rl_cmd_t *cmd, void *dconf, int argc,
                          char *const argv[])
{
    (void)dconf;
    (void)argc;
    return rl_parse_flag(cmd->pool, argv[0], &stream_conf(cmd->server)->pp_in);
}


/* RemoteIPProxyProtocolExceptions ip|cidr … (iterated) */
static const char *set_pp_except(rl_cmd_t *cmd, void *dconf, int argc,
                                 char *const argv[])
{
    stream_conf_t *conf = stream_conf(cmd->server);
    const char *err = NULL;
    rl_ipmatch_t *m;

    (void)dconf;
    (void)argc;
    m = rl_ipmatch_parse(cmd->pool, argv[0], &err);
    if (m == NULL) {
        return apr_psprintf(cmd->pool, "'%s': %s", argv[0],
                            err ? err : "expected an address or a CIDR");
    }
    if (conf->pp_except == NULL) {
        conf->pp_except = apr_array_make(cmd->pool, 2, sizeof(m));
    }
    APR_ARRAY_PUSH(conf->pp_except, rl_ipmatch_t *) = m;
    return NULL;
}


/* proxyprotocol=off|v1|v2 on a BalancerMember or ProxyStream tcp://… */
static const char *param_pp(apr_pool_t *p, rl_proxy_worker_t *w, const char *v)
{
    int version;
    rl_proxy_worker_t **key;

    if (strcasecmp(v, "off") == 0) {
        version = 0;
    } else if (strcasecmp(v, "v1") == 0 || strcmp(v, "1") == 0) {
        version = 1;
    } else if (strcasecmp(v, "v2") == 0 || strcmp(v, "2") == 0) {
        version = 2;
    } else {
        return apr_psprintf(p, "proxyprotocol=%s: expected off, v1 or v2", v);
    }
    if (stream_pp_members == NULL) {
        stream_pp_members = apr_hash_make(p);
        apr_pool_cleanup_register(p, NULL, stream_pp_reset,
                                  apr_pool_cleanup_null);
    }
    key = apr_palloc(p, sizeof(*key));
    *key = w;
    apr_hash_set(stream_pp_members, key, sizeof(*key),
                 version ? (void *)(intptr_t)version : NULL);
    return NULL;
}

static const rl_proxy_worker_param_t stream_param_pp = {param_pp};

/* Registered so that the core accepts `Listen … tcp|udp`. */
static const int stream_listener_tcp = 1, stream_listener_udp = 2;


/* ---------------------------------------------------------------- */
/* Configuration checks                                             */
/* ---------------------------------------------------------------- */

/* The balancer named `name` (members hold it: mod_balancer keeps its
 * table to itself). */
static rl_proxy_balancer_t *stream_find_balancer(const char *name)
{
    const apr_array_header_t *all = rl_proxy_workers();
    apr_size_t n = strlen(name);
    int i;

    while (n > 0 && name[n - 1] == '/') {
        n--;
    }
    for (i = 0; all != NULL && i < all->nelts; i++) {
        rl_proxy_worker_t *w = APR_ARRAY_IDX(all, i, rl_proxy_worker_t *);
        if (w->balancer != NULL && strlen(w->balancer->name) == n &&
            strncasecmp(w->balancer->name, name, n) == 0) {
            return w->balancer;
        }
    }
    return NULL;
}


/* A balancer's members all speak tcp or all udp: which, or NULL (and
 * an error logged). */
static const char *stream_balancer_scheme(rl_server_t *s,
                                          const stream_conf_t *conf)
{
    rl_proxy_balancer_t *b = conf->balancer;
    const char *scheme = NULL;
    int i;

    for (i = 0; i < b->members->nelts; i++) {
        rl_proxy_worker_t *w =
            APR_ARRAY_IDX(b->members, i, rl_proxy_worker_t *);
        if (strcasecmp(w->scheme, "tcp") != 0 &&
            strcasecmp(w->scheme, "udp") != 0) {
            rl_log_error(RL_LOG_EMERG, 0, s,
                         "%s:%u: ProxyStream %s: member %s (%s:%u) is "
                         "%s://, a stream balancer's members are tcp:// or "
                         "udp://",
                         conf->file, conf->line, conf->target, w->name, w->file,
                         w->line, w->scheme);
            return NULL;
        }
        if (scheme != NULL && strcasecmp(scheme, w->scheme) != 0) {
            rl_log_error(RL_LOG_EMERG, 0, s,
                         "%s:%u: ProxyStream %s: member %s (%s:%u) is %s:// "
                         "but others are %s://: one balancer balances one "
                         "protocol",
                         conf->file, conf->line, conf->target, w->name, w->file,
                         w->line, w->scheme, scheme);
            return NULL;
        }
        scheme = w->scheme;
    }
    return scheme;
}


/* proxyprotocol= belongs on tcp members only. */
static int stream_check_pp_members(rl_server_t *s)
{
    const apr_array_header_t *all = rl_proxy_workers();
    int i, bad = 0;

    for (i = 0; all != NULL && i < all->nelts; i++) {
        rl_proxy_worker_t *w = APR_ARRAY_IDX(all, i, rl_proxy_worker_t *);
        if (stream_member_pp(w) != 0 && strcasecmp(w->scheme, "tcp") != 0 &&
            w->resolve_slot == 0) {
            rl_log_error(RL_LOG_EMERG, 0, s,
                         "%s:%u: %s: proxyprotocol= applies to tcp:// "
                         "members only",
                         w->file, w->line, w->name);
            bad = 1;
        }
    }
    return bad;
}


static int stream_check_listeners(apr_pool_t *p, rl_server_t *main_s);

static int stream_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp, rl_server_t *main_s)
{
    rl_server_t *s;
    int bad = 0;

    (void)pconf;
    (void)plog;
    for (s = main_s; s != NULL; s = s->next) {
        stream_conf_t *conf = stream_conf(s);
        if (conf->target == NULL || conf->worker != NULL) {
            continue;
        }
        conf->balancer = stream_find_balancer(conf->target);
        if (conf->balancer == NULL) {
            rl_log_error(RL_LOG_EMERG, 0, s,
                         "%s:%u: ProxyStream %s: no such balancer (declare "
                         "it with <Proxy \"%s\"> and BalancerMember "
                         "tcp://host:port lines)",
                         conf->file, conf->line, conf->target, conf->target);
            bad = 1;
            continue;
        }
        conf->scheme = stream_balancer_scheme(s, conf);
        bad |= conf->scheme == NULL;
    }
    bad |= stream_check_pp_members(main_s);
    bad |= stream_check_listeners(ptemp, main_s);
    return bad ? 500 : RL_OK;
}


/* Which tcp/udp listeners serve s: a bit for each protocol. */
static int stream_listened(const apr_array_header_t *ls, const rl_server_t *s,
                           int *http)
{
    int i, found = 0;

    *http = 0;
    for (i = 0; i < ls->nelts; i++) {
        const rl_listener_t *l = APR_ARRAY_IDX(ls, i, rl_listener_t *);
        if (l->default_server != s) {
            continue;
        }
        if (strcmp(l->protocol, "tcp") == 0) {
            found |= 1;
        } else if (strcmp(l->protocol, "udp") == 0) {
            found |= 2;
        } else {
            *http = 1;
        }
    }
    return found;
}


/* Listeners and ProxyStream agree (check_config, so -t sees it: the
 * listeners as configured, before any socket is open). */
static int stream_check_listeners(apr_pool_t *p, rl_server_t *main_s)
{
    const apr_array_header_t *ls = rl_listeners_configured(p);
    rl_server_t *s;
    int i, bad = 0;

    for (i = 0; i < ls->nelts; i++) {
        const rl_listener_t *l = APR_ARRAY_IDX(ls, i, rl_listener_t *);
        const stream_conf_t *conf;
        if (strcmp(l->protocol, "tcp") != 0 &&
            strcmp(l->protocol, "udp") != 0) {
            continue;
        }
        conf = stream_conf(l->default_server);
        if (conf->target == NULL) {
            rl_log_error(RL_LOG_EMERG, 0, main_s,
                         "Listen %s %s: %s has no ProxyStream: put "
                         "ProxyStream balancer://name (or %s://host:port) "
                         "in the <VirtualHost %s> of that listener",
                         l->name, l->protocol,
                         l->default_server->is_virtual
                             ? apr_psprintf(p, "its <VirtualHost> (%s:%u)",
                                            l->default_server->defn_file,
                                            l->default_server->defn_line)
                             : "the main server (no <VirtualHost> for it)",
                         l->protocol, l->name);
            bad = 1;
        } else if (conf->scheme != NULL &&
                   strcasecmp(conf->scheme, l->protocol) != 0) {
            rl_log_error(RL_LOG_EMERG, 0, main_s,
                         "%s:%u: ProxyStream %s reaches %s:// members but "
                         "serves the %s listener %s: use %s:// members "
                         "here",
                         conf->file, conf->line, conf->target, conf->scheme,
                         l->protocol, l->name, l->protocol);
            bad = 1;
        }
    }
    for (s = main_s; s != NULL; s = s->next) {
        const stream_conf_t *conf = stream_conf(s);
        int http;
        if (conf->target != NULL && stream_listened(ls, s, &http) == 0) {
            rl_log_error(RL_LOG_EMERG, 0, main_s,
                         "%s:%u: ProxyStream %s: this server is not the one "
                         "of a tcp or udp listener (add Listen addr:port "
                         "tcp|udp and put ProxyStream in the "
                         "<VirtualHost addr:port> of that listener)",
                         conf->file, conf->line, conf->target);
            bad = 1;
        }
    }
    return bad;
}


/* ---------------------------------------------------------------- */
/* Hooks                                                            */
/* ---------------------------------------------------------------- */

static int stream_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                              apr_pool_t *ptemp, rl_server_t *s)
{
    (void)plog;
    (void)ptemp;
    return stream_log_open(pconf, s) == APR_SUCCESS ? RL_OK : 500;
}


/* A connection of a tcp listener whose vhost has a ProxyStream: ours
 * (after mod_ssl, which may have put TLS in c->io). */
static int stream_pre_connection(rl_conn_t *c)
{
    stream_conf_t *conf;

    if (c->listener == NULL || strcmp(c->listener->protocol, "tcp") != 0) {
        return RL_DECLINED;
    }
    conf = stream_conf(c->base_server);
    if (conf->target == NULL || conf->scheme == NULL ||
        strcasecmp(conf->scheme, "tcp") != 0) {
        return RL_DECLINED;
    }
    return stream_tcp_take(c, conf);
}


static apr_status_t stream_child_cleanup(void *unused)
{
    (void)unused;
    stream_udp_stop();
    return APR_SUCCESS;
}


static void stream_child_init(apr_pool_t *pchild, rl_server_t *s)
{
    stream_udp_start(pchild, s);
    apr_pool_cleanup_register(pchild, NULL, stream_child_cleanup,
                              apr_pool_cleanup_null);
}


static void stream_child_exit(apr_pool_t *pchild, rl_server_t *s)
{
    (void)pchild;
    (void)s;
    stream_udp_stop();
}


static void stream_register_hooks(apr_pool_t *p)
{
    static const char *const after_ssl[] = {"ssl", NULL};
    static const char *const after_proxy[] = {"proxy", "balancer", NULL};

    rl_register_provider(p, RL_LISTENER_PROTOCOL_GROUP, "tcp",
                         RL_LISTENER_PROTOCOL_VERSION, &stream_listener_tcp);
    rl_register_provider(p, RL_LISTENER_PROTOCOL_GROUP, "udp",
                         RL_LISTENER_PROTOCOL_VERSION, &stream_listener_udp);
    rl_register_provider(p, "proxy_worker_param", "proxyprotocol", "1",
                         &stream_param_pp);
    rl_hook_check_config(stream_check_config, after_proxy, NULL,
                         RL_HOOK_MIDDLE);
    rl_hook_post_config(stream_post_config, after_proxy, NULL, RL_HOOK_MIDDLE);
    rl_hook_pre_connection(stream_pre_connection, after_ssl, NULL,
                           RL_HOOK_MIDDLE);
    rl_hook_child_init(stream_child_init, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_child_exit(stream_child_exit, NULL, NULL, RL_HOOK_MIDDLE);
}


static const rl_directive_t stream_directives[] = {
    RL_TAKE_ARGV("ProxyStream", set_stream, NULL, RL_CTX_SERVER,
                 "ProxyStream balancer://name | tcp://host:port | "
                 "udp://host:port [key=value …]"),
    RL_TAKE1("ProxyStreamTimeout", set_duration,
             (void *)offsetof(stream_conf_t, timeout), RL_CTX_SERVER,
             "ProxyStreamTimeout duration -- idle time (no byte either "
             "way) before a connection or UDP session ends (default: "
             "Timeout)"),
    RL_TAKE1("ProxyStreamConnectTimeout", set_duration,
             (void *)offsetof(stream_conf_t, connect_timeout), RL_CTX_SERVER,
             "ProxyStreamConnectTimeout duration -- wait for a member to "
             "accept, per attempt (default 5s; connectiontimeout= wins)"),
    RL_TAKE1("ProxyStreamLog", set_log, NULL, RL_CTX_SERVER,
             "ProxyStreamLog file -- one line per TCP connection or UDP "
             "session"),
    RL_TAKE1("RemoteIPProxyProtocol", set_pp, NULL, RL_CTX_SERVER,
             "RemoteIPProxyProtocol On|Off -- TCP clients start with a "
             "PROXY protocol v1/v2 header"),
    RL_ITERATE("RemoteIPProxyProtocolExceptions", set_pp_except, NULL,
               RL_CTX_SERVER,
               "RemoteIPProxyProtocolExceptions ip|cidr … -- clients that "
               "need not send a PROXY header"),
    RL_TAKE1("ProxyStreamUDPSessions", set_count,
             (void *)offsetof(stream_conf_t, udp_sessions), RL_CTX_SERVER,
             "ProxyStreamUDPSessions n -- UDP sessions per listener and "
             "child (default 4096); the one idle longest makes room"),
    RL_TAKE1("ProxyStreamUDPResponses", set_count,
             (void *)offsetof(stream_conf_t, udp_responses), RL_CTX_SERVER,
             "ProxyStreamUDPResponses n -- a UDP session ends after n "
             "replies (0: at its timeout only)"),
    RL_DIRECTIVE_END};

RL_DECLARE_MODULE(proxy_stream) = {RL_MODULE_STUFF("proxy_stream", "0.1.0", 0),
                                   stream_directives,
                                   stream_create_server,
                                   stream_merge_server,
                                   NULL,
                                   NULL,
                                   stream_register_hooks};
