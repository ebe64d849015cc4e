/*
 * ssl_private.h: what the files of mod_ssl share.
 *
 *   mod_ssl.c     directives, configuration merge, hooks, the provider
 *   ssl_ctx.c     server SSL_CTX per virtual host: protocols, ciphers,
 *                 certificates (RSA and ECDSA side by side), SNI, ALPN,
 *                 client certificates, last-good certificates on reload
 *   ssl_io.c      the TLS transport (rl_io.h) for client and backend
 *                 connections: handshake, plain HTTP on a TLS port,
 *                 logging of handshake failures
 *   ssl_vars.c    SSL_* variables (logs, headers, expressions, acl)
 *   ssl_scache.c  SSLSessionCache shared by the children, session
 *                 tickets with rotating keys
 *   ssl_ocsp.c    OCSP stapling
 *   ssl_proxy.c   TLS to backends (SSLProxy*)
 *
 * Each section below belongs to the file it names; the directives of a
 * file are listed in its SSL_*_DIRECTIVES macro, which mod_ssl.c puts in
 * the module's table.
 */
#ifndef SSL_PRIVATE_H
#define SSL_PRIVATE_H

#include "relais.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

extern rl_module_t ssl_module;

/* ---- per-server configuration (all files read it) ------------------- */

/* SSLProxy*: filled by ssl_proxy.c's directives, merged by mod_ssl.c
 * (a field left at its "unset" value takes the main server's). */
typedef struct ssl_proxy_conf_t {
    int engine;                 /* SSLProxyEngine: -1 unset, 0, 1 */
    int verify;                 /* SSLProxyVerify: -1 unset, 0 none,
                                   1 optional, 2 require */
    int verify_depth;           /* SSLProxyVerifyDepth, -1 unset */
    const char *ca_file;        /* SSLProxyCACertificateFile */
    const char *ca_path;        /* SSLProxyCACertificatePath */
    int check_peer_name;        /* SSLProxyCheckPeerName: -1 unset, 0, 1 */
    int check_peer_expire;      /* SSLProxyCheckPeerExpire: -1 unset, 0, 1 */
    const char *protocol;       /* SSLProxyProtocol as written, or NULL */
    const char *cipher_suite;   /* SSLProxyCipherSuite (TLS 1.2), or NULL */
    const char *cipher_suite13; /* SSLProxyCipherSuite TLSv1.3 …, or NULL */
    const char *machine_cert;   /* SSLProxyMachineCertificateFile */
    SSL_CTX *ctx;               /* built by ssl_proxy_post_config() */
} ssl_proxy_conf_t;

/* OCSP stapling: filled by ssl_ocsp.c's directives. */
typedef struct ssl_stapling_conf_t {
    int use;                               /* SSLUseStapling: -1 unset, 0, 1 */
    apr_interval_time_t responder_timeout; /* -1 unset */
    apr_interval_time_t cache_timeout;     /* -1 unset */
    apr_interval_time_t error_cache_timeout; /* -1 unset */
    int return_errors;                       /* -1 unset, 0, 1 */
    const char *force_url;                   /* SSLStaplingForceURL */
} ssl_stapling_conf_t;

typedef struct ssl_server_conf_t ssl_server_conf_t;
struct ssl_server_conf_t {
    /* server side, owned by mod_ssl.c and ssl_ctx.c */
    int engine;                     /* SSLEngine: -1 unset, 0, 1 */
    apr_array_header_t *cert_files; /* const char *: SSLCertificateFile */
    apr_array_header_t *key_files;  /* const char *: SSLCertificateKeyFile */
    const char *chain_file;         /* SSLCertificateChainFile */
    const char *ca_file;            /* SSLCACertificateFile */
    const char *ca_path;            /* SSLCACertificatePath */
    const char *protocol;           /* SSLProtocol as written, or NULL */
    const char *cipher_suite;       /* SSLCipherSuite (TLS 1.2 list) */
    const char *cipher_suite13;     /* SSLCipherSuite TLSv1.3 … */
    int honor_cipher_order;         /* -1 unset, 0, 1 */
    int verify_client;              /* -1 unset, 0 none, 1 optional, 2 require,
                                       3 optional_no_ca */
    int verify_depth;               /* -1 unset */
    int strict_sni;                 /* SSLStrictSNIVHostCheck: -1 unset, 0, 1 */
    int compression;                /* SSLCompression: always refused if On */
    int std_env_vars;               /* SSLOptions +StdEnvVars */
    int export_cert;                /* SSLOptions +ExportCertData */
    int session_tickets;            /* SSLSessionTickets: -1 unset, 0, 1 */
    const char *defn_file;          /* where SSLEngine was set, for messages */
    unsigned defn_line;
    SSL_CTX *ctx; /* built in post_config when engine is on */

    ssl_stapling_conf_t stapling;
    ssl_proxy_conf_t proxy;
};

/* mod_ssl.c: the block of server s (never NULL). */
ssl_server_conf_t *ssl_sconf(const rl_server_t *s);

/* ---- ssl_io.c: the TLS transport ------------------------------------ */

/* A transport over fd for ssl (SSL_set_fd already done by this call; the
 * SSL is in accept or connect state as the caller set).  `server` is for
 * log lines; `peer` names the other side in them ("203.0.113.9:51234" or
 * "backend app1.example:443").  The transport owns ssl from here. */
rl_io_t *ssl_io_new(SSL *ssl, int fd, const rl_server_t *server,
                    const char *peer, int is_client);
/* The SSL of a TLS transport, or NULL when io is not one of ours. */
SSL *ssl_io_ssl(const rl_io_t *io);

/* ---- ssl_scache.c: session cache and tickets ------------------------ */

/* Its directives (SSLSessionCache, SSLSessionCacheTimeout,
 * SSLSessionTicketKeyFile, SSLSessionTicketKeyRotation …), as table
 * entries each followed by a comma. */
const char *ssl_scache_cmd_cache(rl_cmd_t *, void *, int, char *const[]);
const char *ssl_scache_cmd_timeout(rl_cmd_t *, void *, int, char *const[]);
const char *ssl_scache_cmd_rotation(rl_cmd_t *, void *, int, char *const[]);
const char *ssl_scache_cmd_key_file(rl_cmd_t *, void *, int, char *const[]);
const char *ssl_scache_cmd_tickets(rl_cmd_t *, void *, int, char *const[]);
#define SSL_SCACHE_DIRECTIVES                                                  \
    RL_TAKE1("SSLSessionCache", ssl_scache_cmd_cache, NULL, RL_CTX_MAIN,       \
             "SSLSessionCache none|shmcb:/path(bytes)|shm:(bytes)"),           \
        RL_TAKE1("SSLSessionCacheTimeout", ssl_scache_cmd_timeout, NULL,       \
                 RL_CTX_SERVER, "SSLSessionCacheTimeout seconds"),             \
        RL_TAKE1("SSLSessionTicketKeyRotation", ssl_scache_cmd_rotation, NULL, \
                 RL_CTX_MAIN, "SSLSessionTicketKeyRotation seconds"),          \
        RL_TAKE1("SSLSessionTicketKeyFile", ssl_scache_cmd_key_file, NULL,     \
                 RL_CTX_SERVER, "SSLSessionTicketKeyFile path"),               \
        RL_TAKE1("SSLSessionTickets", ssl_scache_cmd_tickets, NULL,            \
                 RL_CTX_SERVER, "SSLSessionTickets on|off (on)"),
/* After the configuration is read, before any SSL_CTX is built: sets up
 * the shared memory (kept across graceful restarts).  NULL or an error
 * for the operator. */
const char *ssl_scache_post_config(apr_pool_t *pconf, rl_server_t *main_s);
/* In each child. */
void ssl_scache_child_init(apr_pool_t *pchild, rl_server_t *main_s);
/* Gives a server SSL_CTX the shared session cache and the ticket key
 * callback. */
void ssl_scache_attach(SSL_CTX *ctx, const rl_server_t *s);

/* ---- ssl_ocsp.c: OCSP stapling -------------------------------------- */

const char *ssl_stapling_cmd(rl_cmd_t *, void *, int, char *const[]);
const char *ssl_stapling_cmd_cache(rl_cmd_t *, void *, int, char *const[]);
#define SSL_STAPLING_DIRECTIVES                                                \
    RL_TAKE1("SSLUseStapling", ssl_stapling_cmd, "use", RL_CTX_SERVER,         \
             "SSLUseStapling on|off"),                                         \
        RL_TAKE1("SSLStaplingResponderTimeout", ssl_stapling_cmd, "responder", \
                 RL_CTX_SERVER, "SSLStaplingResponderTimeout seconds"),        \
        RL_TAKE1("SSLStaplingStandardCacheTimeout", ssl_stapling_cmd, "cache", \
                 RL_CTX_SERVER, "SSLStaplingStandardCacheTimeout seconds"),    \
        RL_TAKE1("SSLStaplingErrorCacheTimeout", ssl_stapling_cmd,             \
                 "error_cache", RL_CTX_SERVER,                                 \
                 "SSLStaplingErrorCacheTimeout seconds"),                      \
        RL_TAKE1("SSLStaplingReturnResponderErrors", ssl_stapling_cmd,         \
                 "errors", RL_CTX_SERVER,                                      \
                 "SSLStaplingReturnResponderErrors on|off"),                   \
        RL_TAKE1("SSLStaplingFakeTryLater", ssl_stapling_cmd, "fake",          \
                 RL_CTX_SERVER, "SSLStaplingFakeTryLater on|off"),             \
        RL_TAKE1("SSLStaplingResponseTimeSkew", ssl_stapling_cmd, "skew",      \
                 RL_CTX_SERVER, "SSLStaplingResponseTimeSkew seconds"),        \
        RL_TAKE1("SSLStaplingResponseMaxAge", ssl_stapling_cmd, "max_age",     \
                 RL_CTX_SERVER, "SSLStaplingResponseMaxAge seconds|-1"),       \
        RL_TAKE1("SSLStaplingForceURL", ssl_stapling_cmd, "url",               \
                 RL_CTX_SERVER, "SSLStaplingForceURL http://responder/"),      \
        RL_TAKE1("SSLStaplingCache", ssl_stapling_cmd_cache, NULL,             \
                 RL_CTX_MAIN, "SSLStaplingCache shmcb:/path(bytes)"),
const char *ssl_stapling_post_config(apr_pool_t *pconf, rl_server_t *main_s);
void ssl_stapling_child_init(apr_pool_t *pchild, rl_server_t *main_s);
/* For each certificate put into a server SSL_CTX of s whose stapling is
 * on: `leaf` and the chain that came with it.  NULL or an error. */
const char *ssl_stapling_add(SSL_CTX *ctx, X509 *leaf, STACK_OF(X509) * chain,
                             const rl_server_t *s, apr_pool_t *pconf);
/* Once per server SSL_CTX with stapling on, after its certificates. */
void ssl_stapling_attach(SSL_CTX *ctx, const rl_server_t *s);

/* ---- ssl_proxy.c: TLS to backends ----------------------------------- */

/* One handler for every SSLProxy* directive (its name says which). */
const char *ssl_proxy_directive(rl_cmd_t *, void *, int, char *const[]);
#define SSL_PROXY_DIRECTIVES                                                   \
    RL_TAKE1("SSLProxyEngine", ssl_proxy_directive, NULL,                      \
             RL_CTX_SERVER | RL_CTX_PROXY, "SSLProxyEngine on|off (off)"),     \
        RL_TAKE1("SSLProxyVerify", ssl_proxy_directive, NULL,                  \
                 RL_CTX_SERVER | RL_CTX_PROXY,                                 \
                 "SSLProxyVerify none|optional|require (require)"),            \
        RL_TAKE1("SSLProxyVerifyDepth", ssl_proxy_directive, NULL,             \
                 RL_CTX_SERVER | RL_CTX_PROXY, "SSLProxyVerifyDepth number"),  \
        RL_TAKE1("SSLProxyCACertificateFile", ssl_proxy_directive, NULL,       \
                 RL_CTX_SERVER | RL_CTX_PROXY,                                 \
                 "SSLProxyCACertificateFile path"),                            \
        RL_TAKE1("SSLProxyCACertificatePath", ssl_proxy_directive, NULL,       \
                 RL_CTX_SERVER | RL_CTX_PROXY,                                 \
                 "SSLProxyCACertificatePath directory"),                       \
        RL_TAKE1("SSLProxyCheckPeerName", ssl_proxy_directive, NULL,           \
                 RL_CTX_SERVER | RL_CTX_PROXY,                                 \
                 "SSLProxyCheckPeerName on|off (on)"),                         \
        RL_TAKE1("SSLProxyCheckPeerCN", ssl_proxy_directive, NULL,             \
                 RL_CTX_SERVER | RL_CTX_PROXY, "SSLProxyCheckPeerCN on|off"),  \
        RL_TAKE1("SSLProxyCheckPeerExpire", ssl_proxy_directive, NULL,         \
                 RL_CTX_SERVER | RL_CTX_PROXY,                                 \
                 "SSLProxyCheckPeerExpire on|off (on)"),                       \
        RL_TAKE_ARGV("SSLProxyProtocol", ssl_proxy_directive, NULL,            \
                     RL_CTX_SERVER | RL_CTX_PROXY,                             \
                     "SSLProxyProtocol [+|-]TLSv1.2 [+|-]TLSv1.3 ..."),        \
        RL_TAKE12("SSLProxyCipherSuite", ssl_proxy_directive, NULL,            \
                  RL_CTX_SERVER | RL_CTX_PROXY,                                \
                  "SSLProxyCipherSuite [SSL|TLSv1.3] cipher-spec"),            \
        RL_TAKE1(                                                              \
            "SSLProxyMachineCertificateFile", ssl_proxy_directive, NULL,       \
            RL_CTX_SERVER | RL_CTX_PROXY,                                      \
            "SSLProxyMachineCertificateFile path (certificate and key, PEM)"), \
        RL_TAKE1("SSLProxyMachineCertificatePath", ssl_proxy_directive, NULL,  \
                 RL_CTX_SERVER | RL_CTX_PROXY,                                 \
                 "SSLProxyMachineCertificatePath (not supported)"),            \
        RL_TAKE1("SSLProxyMachineCertificateChainFile", ssl_proxy_directive,   \
                 NULL, RL_CTX_SERVER | RL_CTX_PROXY,                           \
                 "SSLProxyMachineCertificateChainFile (not supported)"),       \
        RL_TAKE1("SSLProxyCARevocationFile", ssl_proxy_directive, NULL,        \
                 RL_CTX_SERVER | RL_CTX_PROXY,                                 \
                 "SSLProxyCARevocationFile (not supported)"),                  \
        RL_TAKE1("SSLProxyCARevocationPath", ssl_proxy_directive, NULL,        \
                 RL_CTX_SERVER | RL_CTX_PROXY,                                 \
                 "SSLProxyCARevocationPath (not supported)"),                  \
        RL_TAKE_ARGV("SSLProxyCARevocationCheck", ssl_proxy_directive, NULL,   \
                     RL_CTX_SERVER | RL_CTX_PROXY,                             \
                     "SSLProxyCARevocationCheck none"),
/* Builds each server's client SSL_CTX where SSLProxyEngine is on.
 * NULL or an error. */
const char *ssl_proxy_post_config(apr_pool_t *pconf, rl_server_t *main_s);
int ssl_proxy_enabled(const rl_server_t *s);
rl_io_t *ssl_proxy_open(const rl_server_t *s, int fd, const char *host,
                        const char **err);

/* ---- ssl_vars.c: SSL_* variables ------------------------------------ */

const char *ssl_var_lookup(rl_request_t *r, const char *name);
int ssl_is_https(const rl_conn_t *c);

#endif /* SSL_PRIVATE_H */
