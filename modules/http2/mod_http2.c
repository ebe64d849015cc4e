/**
 * @file mod_http2.c
 * @brief HTTP/2 from clients (RFC 9113), on Debian's libnghttp2.
 *
 * The core recognises the HTTP/2 connection preface on a new connection
 * and, when the server's `Protocols` allows "h2" (TLS, ALPN) or "h2c"
 * (cleartext, prior knowledge), hands the connection to the provider this
 * module registers (h2_session.c).  Each stream then runs as a secondary
 * connection served by the core's HTTP/1.1 engine (h2_stream.c), so every
 * request hook, handler and log works on HTTP/2 unchanged and backends
 * stay HTTP/1.1.
 *
 * This file: the directives and the providers.  docs/http2.md is the
 * operator's page.
 */
#include <stddef.h>
#include <string.h>

#include <apr_strings.h>

#include "h2_private.h"

RL_LOG_USE_MODULE(http2);

/* Defaults (httpd's where httpd has the directive). */
#define H2_DEF_MAX_STREAMS 100
#define H2_DEF_WINDOW 65535
#define H2_DEF_HEADER_LIST 65536
#define H2_DEF_RESET_LIMIT 100
#define H2_DEF_CONTINUATIONS 8

static void *h2_create_server(apr_pool_t *p, rl_server_t *s)
{
    h2_server_conf *conf = apr_palloc(p, sizeof(*conf));

    (void)s;
    conf->max_streams = H2_UNSET;
    conf->window_size = H2_UNSET;
    conf->max_header_list = H2_UNSET;
    conf->reset_limit = H2_UNSET;
    conf->max_continuations = H2_UNSET;
    return conf;
}

#define H2_MERGE(f) conf->f = add->f != H2_UNSET ? add->f : base->f

static void *h2_merge_server(apr_pool_t *p, void *basev, void *addv)
{
    const h2_server_conf *base = basev, *add = addv;
    h2_server_conf *conf = apr_palloc(p, sizeof(*conf));

    H2_MERGE(max_streams);
    H2_MERGE(window_size);
    H2_MERGE(max_header_list);
    H2_MERGE(reset_limit);
    H2_MERGE(max_continuations);
    return conf;
}

const h2_server_conf *h2_conf(const rl_server_t *s)
{
    static const h2_server_conf defaults = {
        H2_DEF_MAX_STREAMS, H2_DEF_WINDOW, H2_DEF_HEADER_LIST,
        H2_DEF_RESET_LIMIT, H2_DEF_CONTINUATIONS};
    static __thread h2_server_conf filled;
    const h2_server_conf *conf =
        s ? rl_get_module_config(s->module_config, &http2_module) : NULL;

    if (conf == NULL) {
        return &defaults;
    }
    /* unset fields take the defaults; a copy per thread keeps this
     * allocation-free (the session copies what it needs at once) */
    filled = *conf;
#define H2_DEF(f, d)                                                           \
    if (filled.f == H2_UNSET) {                                                \
        filled.f = d;                                                          \
    }
    H2_DEF(max_streams, H2_DEF_MAX_STREAMS);
    H2_DEF(window_size, H2_DEF_WINDOW);
    H2_DEF(max_header_list, H2_DEF_HEADER_LIST);
    H2_DEF(reset_limit, H2_DEF_RESET_LIMIT);
    H2_DEF(max_continuations, H2_DEF_CONTINUATIONS);
#undef H2_DEF
    return &filled;
}

/* An integer in [min, max] into the server block at cmd->data's offset. */
static const char *h2_set_int(rl_cmd_t *cmd, const char *arg, long min,
                              long max, int *out)
{
    char *end;
    apr_int64_t v = apr_strtoi64(arg, &end, 10);

    if (end == arg || *end != '\0' || v < min || v > max) {
        return apr_psprintf(cmd->pool,
                            "expected a number from %ld to %ld, "
                            "got '%s'",
                            min, max, arg);
    }
    *out = (int)v;
    return NULL;
}

static h2_server_conf *h2_sconf(rl_cmd_t *cmd)
{
    return rl_get_module_config(cmd->server->module_config, &http2_module);
}

/* H2MaxSessionStreams n (httpd's name), H2MaxConcurrentStreams n */
static const char *set_streams(rl_cmd_t *cmd, void *d, int argc,
                               char *const argv[])
{
    (void)d;
    (void)argc;
    return h2_set_int(cmd, argv[0], 1, 65536, &h2_sconf(cmd)->max_streams);
}

/* H2WindowSize bytes: RFC 9113 6.9.2 caps a window at 2^31-1 */
static const char *set_window(rl_cmd_t *cmd, void *d, int argc,
                              char *const argv[])
{
    (void)d;
    (void)argc;
    return h2_set_int(cmd, argv[0], 1024, 0x7fffffffL,
                      &h2_sconf(cmd)->window_size);
}

/* H2MaxHeaderListSize bytes */
static const char *set_header_list(rl_cmd_t *cmd, void *d, int argc,
                                   char *const argv[])
{
    apr_off_t v;
    const char *err = rl_parse_size(cmd->pool, argv[0], &v);

    (void)d;
    (void)argc;
    if (err != NULL) {
        return err;
    }
    if (v < 1024 || v > 16 * 1024 * 1024) {
        return "expected a size from 1k to 16M";
    }
    h2_sconf(cmd)->max_header_list = (int)v;
    return NULL;
}

/* H2StreamResetLimit n: client resets of unfinished streams per second */
static const char *set_reset_limit(rl_cmd_t *cmd, void *d, int argc,
                                   char *const argv[])
{
    (void)d;
    (void)argc;
    return h2_set_int(cmd, argv[0], 1, 1000000, &h2_sconf(cmd)->reset_limit);
}

/* H2MaxContinuations n */
static const char *set_continuations(rl_cmd_t *cmd, void *d, int argc,
                                     char *const argv[])
{
    (void)d;
    (void)argc;
    return h2_set_int(cmd, argv[0], 0, 1024, &h2_sconf(cmd)->max_continuations);
}

/* httpd's mod_http2 directives Relais does not offer: refused, so that a
 * migrated configuration never silently loses what it asked for. */
static const char *set_refused(rl_cmd_t *cmd, void *d, int argc,
                               char *const argv[])
{
    (void)d;
    (void)argc;
    (void)argv;
    return (const char *)cmd->data;
}

#define H2_CTX RL_CTX_SERVER
#define H2_NO_PUSH                                                             \
    "server push is not provided (browsers removed it): use Link "             \
    "preload headers (Header add Link ...) instead"

static const rl_directive_t h2_directives[] = {
    {"H2MaxSessionStreams", set_streams, NULL, H2_CTX, 1, 1, RL_DIR_UNIQUE,
     "H2MaxSessionStreams n -- streams open at once per connection (100)"},
    {"H2MaxConcurrentStreams", set_streams, NULL, H2_CTX, 1, 1, RL_DIR_UNIQUE,
     "H2MaxConcurrentStreams n -- same as H2MaxSessionStreams"},
    {"H2WindowSize", set_window, NULL, H2_CTX, 1, 1, RL_DIR_UNIQUE,
     "H2WindowSize bytes -- request body a stream may send ahead (65535)"},
    {"H2MaxHeaderListSize", set_header_list, NULL, H2_CTX, 1, 1, RL_DIR_UNIQUE,
     "H2MaxHeaderListSize size -- decoded request header bytes (64k): "
     "more is answered 431"},
    {"H2StreamResetLimit", set_reset_limit, NULL, H2_CTX, 1, 1, RL_DIR_UNIQUE,
     "H2StreamResetLimit n -- client resets of unfinished streams per "
     "second before GOAWAY (100)"},
    {"H2MaxContinuations", set_continuations, NULL, H2_CTX, 1, 1, RL_DIR_UNIQUE,
     "H2MaxContinuations n -- CONTINUATION frames after a HEADERS (8)"},
    {"H2Push", set_refused, H2_NO_PUSH, RL_CTX_ANY, 0, -1, 0, "H2Push"},
    {"H2PushResource", set_refused, H2_NO_PUSH, RL_CTX_ANY, 0, -1, 0,
     "H2PushResource"},
    {"H2Upgrade", set_refused,
     "the HTTP/1.1 Upgrade to h2c is not provided (RFC 9113 dropped it): "
     "clients use ALPN h2 over TLS or h2c with prior knowledge "
     "(Protocols h2 h2c http/1.1)",
     RL_CTX_ANY, 0, -1, 0, "H2Upgrade"},
    RL_DIRECTIVE_END};

static const rl_conn_protocol_provider_t h2_provider = {h2_session_take_over};

static void h2_register_hooks(apr_pool_t *p)
{
    /* "h2" over TLS (ALPN), "h2c" in cleartext with prior knowledge: one
     * implementation; which one a server allows is its Protocols line */
    rl_register_provider(p, RL_CONN_PROTOCOL_GROUP, "h2",
                         RL_CONN_PROTOCOL_VERSION, &h2_provider);
    rl_register_provider(p, RL_CONN_PROTOCOL_GROUP, "h2c",
                         RL_CONN_PROTOCOL_VERSION, &h2_provider);
}

RL_DECLARE_MODULE(http2) = {RL_MODULE_STUFF("http2", "1.0.0", 0),
                            h2_directives,
                            h2_create_server,
                            h2_merge_server,
                            NULL,
                            NULL,
                            h2_register_hooks};
