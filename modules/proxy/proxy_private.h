/*
 * proxy_private.h: what the files of mod_proxy share (never installed;
 * the public part is include/rl_proxy.h).
 */
#ifndef PROXY_PRIVATE_H
#define PROXY_PRIVATE_H

#include "rl_proxy.h"

#include <apr_strings.h>
#include <pcre2.h>

extern RL_DECLARE_DATA rl_module_t proxy_module;

/** One ProxyPass / ProxyPassMatch rule. */
typedef struct proxy_alias_t {
    const char *fake;          /* path prefix, or the regex as written */
    pcre2_code *regex;         /* ProxyPassMatch */
    const char *real;          /* target URL, "!" for an exclusion */
    const char *real_path;     /* path part of the target URL */
    rl_proxy_worker_t *worker; /* NULL for "!" and balancer:// */
    const char *file;
    unsigned line;
} proxy_alias_t;

/** One ProxyPassReverse rule. */
typedef struct proxy_reverse_t {
    const char *fake; /* local path prefix */
    const char *real; /* backend URL prefix as it appears in headers */
} proxy_reverse_t;

/** ProxyResolver (main server only; see proxy_resolver.c). */
typedef struct proxy_resolver_conf_t {
    const char *servers;            /* "127.0.0.1:5353,[::1]:53" (c-ares) */
    const char *servers_as_written; /* for the log */
    int nservers;
    apr_interval_time_t timeout; /* timeout=: one lookup, all tries */
    apr_interval_time_t hold;    /* hold=: failing this long -> +U, 0 never */
    apr_interval_time_t minttl;  /* minttl= */
    apr_interval_time_t maxttl;  /* maxttl= */
    int family;                  /* family=: AF_UNSPEC, AF_INET, AF_INET6 */
} proxy_resolver_conf_t;

/** Per-server settings. */
typedef struct proxy_server_conf_t {
    apr_array_header_t *aliases; /* proxy_alias_t */
    apr_array_header_t *reverse; /* proxy_reverse_t */
    int via;                     /* ProxyVia: 0 off, 1 on, 2 full, 3 block */
    int error_override;          /* ProxyErrorOverride, -1 unset */
    apr_interval_time_t timeout; /* ProxyTimeout, -1 unset */
    proxy_resolver_conf_t *resolver; /* ProxyResolver, or NULL */
} proxy_server_conf_t;

/** Where translate_name routed a request (in r->request_config until the
 * handler replaces it with its own state). */
typedef struct proxy_route_t {
    const char *target;        /* the full target URL */
    const char *path;          /* path and query for the backend */
    rl_proxy_worker_t *worker; /* NULL for balancer:// targets */
} proxy_route_t;

/** Per-location settings (httpd allows these in directory context). */
typedef struct proxy_dir_conf_t {
    int preserve_host; /* ProxyPreserveHost, -1 unset */
    int add_headers;   /* ProxyAddHeaders, -1 unset */
} proxy_dir_conf_t;

/** A connection to a backend. */
typedef struct proxy_conn_t {
    int fd;
    rl_io_t *io; /* the TLS transport (https://, wss://), NULL for plain */
    /* TLS: the server whose SSLProxy* settings verified the backend (NULL
     * for plain).  Workers are shared by every ProxyPass naming the same
     * URL, and vhosts may verify differently: a pooled connection is only
     * reused under the settings that accepted it. */
    const void *tls_key;
    rl_proxy_worker_t *worker;
    apr_time_t idle_since; /* when it went back to the pool */
    apr_time_t created;
    unsigned requests;     /* requests sent on it */
    apr_uint32_t addr_seq; /* the worker's address when it was opened */
    int parked;            /* the MPM reports it stirring while pooled */
    int stirred;           /* it did: data or EOF while idle */
    struct proxy_conn_t *next;
} proxy_conn_t;

/* proxy_worker.c */
apr_array_header_t *proxy_workers(void);
void proxy_workers_reset(apr_pool_t *p);
apr_status_t proxy_workers_attach_shm(apr_pool_t *p, rl_server_t *s);
apr_status_t proxy_workers_resolve(apr_pool_t *p, rl_server_t *s,
                                   int unresolved_ok);
apr_status_t proxy_worker_resolve(apr_pool_t *p, rl_server_t *s,
                                  rl_proxy_worker_t *w, int unresolved_ok);
void proxy_worker_store_address(rl_proxy_worker_t *w, const void *sa,
                                apr_uint32_t len);
int proxy_worker_address_is(const rl_proxy_worker_t *w, const void *sa,
                            apr_uint32_t len);

/* proxy_pool.c */
proxy_conn_t *proxy_pool_get(rl_proxy_worker_t *w, const void *tls_key);
void proxy_pool_put(proxy_conn_t *bc);
void proxy_conn_close(proxy_conn_t *bc);
/* Gives up the descriptor and its transport (to the core's tunnel) and
 * frees the rest. */
int proxy_conn_detach(proxy_conn_t *bc, rl_io_t **io);
int proxy_pool_reserve(rl_proxy_worker_t *w);
void proxy_pool_unreserve(rl_proxy_worker_t *w);

/* proxy_http.c */
int proxy_http_handler(rl_request_t *r);
/* True for the schemes spoken over TLS (https, wss). */
int proxy_worker_is_tls(const rl_proxy_worker_t *w);

/* proxy_resolver.c */
const char *proxy_resolver_directive(rl_cmd_t *cmd, void *dconf, int argc,
                                     char *const argv[]);
/* True when the resolver takes over (ProxyResolver is set and some worker
 * is named by a host name); post_config then calls the next one instead of
 * proxy_workers_resolve(). */
int proxy_resolver_wanted(rl_server_t *s);
apr_status_t proxy_resolver_start_up(apr_pool_t *pconf, apr_pool_t *ptemp,
                                     rl_server_t *s);
void proxy_resolver_register_hooks(apr_pool_t *p);

/* mod_proxy.c */
proxy_server_conf_t *proxy_server_conf(const rl_server_t *s);
/* ProxyPreserveHost and ProxyAddHeaders for the request (defaults applied) */
int proxy_preserve_host(const rl_request_t *r);
int proxy_add_headers(const rl_request_t *r);

#endif
