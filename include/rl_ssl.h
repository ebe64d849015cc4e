/**
 * @file rl_ssl.h
 * @brief What the TLS module (mod_ssl) offers other modules.
 *
 * mod_ssl registers one provider in the group RL_SSL_GROUP.  Other modules
 * never link against mod_ssl: they ask the core (rl_ssl_var(),
 * rl_ssl_provider()), which finds the provider when mod_ssl is loaded and
 * answers "not TLS" when it is not.  This is how mod_log's %{VAR}x,
 * mod_headers' %{VAR}s, the expression language's %{SSL_*} and %{HTTPS},
 * mod_acl's Require expr and mod_proxy's https:// backends reach TLS.
 *
 * @since API 20261128.2
 */
#ifndef RL_SSL_H
#define RL_SSL_H

#include "rl_http.h"
#include "rl_io.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RL_SSL_GROUP "ssl"
#define RL_SSL_NAME "default"
#define RL_SSL_VERSION "0"

/** The provider mod_ssl registers. */
typedef struct rl_ssl_provider_t {
    /** Whether the client connection c speaks TLS. */
    int (*is_https)(const rl_conn_t *c);
    /**
     * An SSL variable of r's client connection, by httpd's name
     * (SSL_PROTOCOL, SSL_CIPHER, SSL_CIPHER_USEKEYSIZE, SSL_TLS_SNI,
     * SSL_SESSION_ID, SSL_SESSION_RESUMED, SSL_CLIENT_VERIFY,
     * SSL_CLIENT_S_DN, SSL_CLIENT_S_DN_CN, SSL_CLIENT_I_DN,
     * SSL_CLIENT_M_SERIAL, SSL_CLIENT_V_START, SSL_CLIENT_V_END,
     * SSL_CLIENT_CERT, SSL_SERVER_S_DN, SSL_VERSION_LIBRARY, HTTPS...),
     * in r->pool; NULL when it has no value (or the connection is plain).
     */
    const char *(*var)(rl_request_t *r, const char *name);
    /** Whether server s may speak TLS to backends (SSLProxyEngine on). */
    int (*proxy_enabled)(const rl_server_t *s);
    /**
     * A client TLS transport over the connected socket fd, set up by s's
     * SSLProxy* directives.  `host` is the backend's name from its URL:
     * sent as SNI and checked against the certificate
     * (SSLProxyCheckPeerName) unless it is an IP address, which is checked
     * as an address.  The handshake runs within the first rl_io_send() or
     * rl_io_recv(); a failed verification makes them fail, logged by
     * mod_ssl with the reason.  NULL and *err (static text) on failure.
     */
    rl_io_t *(*proxy_open)(const rl_server_t *s, int fd, const char *host,
                           const char **err);
} rl_ssl_provider_t;

/** mod_ssl's provider, or NULL when it is not loaded.
 *  @since API 20261128.2 */
RL_DECLARE(const rl_ssl_provider_t *) rl_ssl_provider(void);

/** An SSL variable of r's connection (see rl_ssl_provider_t.var), NULL
 *  when unset, when the connection is plain or mod_ssl is not loaded.
 *  @since API 20261128.2 */
RL_DECLARE(const char *) rl_ssl_var(rl_request_t *r, const char *name);

/** Whether c came in over TLS.  @since API 20261128.2 */
RL_DECLARE(int) rl_conn_is_https(const rl_conn_t *c);

#ifdef __cplusplus
}
#endif
#endif /* RL_SSL_H */
