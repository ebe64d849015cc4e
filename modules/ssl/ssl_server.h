/*
 * ssl_server.h: what the server-side files of mod_ssl (mod_ssl.c,
 * ssl_ctx.c, ssl_io.c, ssl_vars.c) share beyond ssl_private.h, which is
 * the contract with the session cache, OCSP and backend files.
 */
#ifndef SSL_SERVER_H
#define SSL_SERVER_H

#include "ssl_private.h"

/* ---- mod_ssl.c: per-location configuration -------------------------- */

/** @name SSLOptions bits (httpd's names) */
/**@{*/
#define SSL_OPT_STDENVVARS 0x01
#define SSL_OPT_EXPORTCERTDATA 0x02
#define SSL_OPT_LEGACYDNFORMAT 0x04
#define SSL_OPT_STRICTREQUIRE 0x08
#define SSL_OPT_OPTRENEGOTIATE 0x10
/**@}*/

/** mod_ssl's per-location block. */
typedef struct ssl_dir_conf_t {
    int opts;        /**< SSLOptions without +/-: the whole set, -1 unset */
    int opts_add;    /**< +Option: added to what the parent has */
    int opts_del;    /**< -Option: removed from what the parent has */
    int require_ssl; /**< SSLRequireSSL: -1 unset, 1 */
} ssl_dir_conf_t;

/** The SSLOptions in effect for r (SSL_OPT_* bits). */
int ssl_request_opts(const rl_request_t *r);

/** "<VirtualHost> at file:line (name)" or "the main server", for
 *  messages; in p. */
const char *ssl_server_label(apr_pool_t *p, const rl_server_t *s);

/* ---- ssl_ctx.c: contexts ------------------------------------------- */

/** @name SSLProtocol bits */
/**@{*/
#define SSL_PROTO_TLS1 0x01
#define SSL_PROTO_TLS11 0x02
#define SSL_PROTO_TLS12 0x04
#define SSL_PROTO_TLS13 0x08
#define SSL_PROTO_ALL 0x0f
#define SSL_PROTO_DEFAULT (SSL_PROTO_TLS12 | SSL_PROTO_TLS13)
/**@}*/

/** The forward-secret AEAD suites of TLS 1.2 that SSLCipherSuite
 *  defaults to. */
#define SSL_DEFAULT_CIPHERS                                                    \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"               \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"               \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/** Parses an SSLProtocol value ("all -TLSv1 -TLSv1.1") into SSL_PROTO_*
 *  bits.  NULL or what is wrong (in p). */
const char *ssl_parse_protocol(apr_pool_t *p, const char *spec, int *bits);

/** Checks an SSLCipherSuite list with OpenSSL (tls13: a TLS 1.3 suite
 *  list).  NULL or what is wrong (in p). */
const char *ssl_check_cipher_spec(apr_pool_t *p, const char *spec, int tls13);

/** check_config: reads and checks every certificate, key and CA file of
 *  the servers with SSLEngine on (with the last good copy on a graceful
 *  restart).  RL_OK or 500 (logged). */
int ssl_ctx_check_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                         rl_server_t *main_s);

/** post_config: builds each server's SSL_CTX from what check_config
 *  loaded, checks the https listeners, logs what check_config kept for
 *  the error log.  RL_OK or 500 (logged). */
int ssl_ctx_post_config(apr_pool_t *pconf, rl_server_t *main_s);

/** The server whose SSL_CTX ctx is (the vhost SNI chose), or NULL. */
rl_server_t *ssl_ctx_server(const SSL_CTX *ctx);

/** Whether the TLS set-ups of two servers are the same (certificates,
 *  protocols, ciphers, client verification): a request for one on a
 *  connection negotiated for the other is then not misdirected. */
int ssl_ctx_compatible(const rl_server_t *a, const rl_server_t *b);

/* ---- ssl_io.c: per-connection state -------------------------------- */

/** Allocates the SSL ex_data slot; from register_hooks. */
void ssl_io_init(void);

/** Ties a server-side transport to its client connection (the SNI
 *  callback and log lines need it). */
void ssl_io_set_conn(rl_io_t *io, rl_conn_t *c);

/** The client connection of a server-side SSL, or NULL. */
rl_conn_t *ssl_io_conn_of(const SSL *ssl);

/** SSLVerifyClient optional_no_ca accepted a certificate it could not
 *  verify (httpd's "GENEROUS"). */
void ssl_io_note_generous(SSL *ssl);
int ssl_io_generous(const SSL *ssl);

/** OpenSSL's reason for the last failure on this thread, with the
 *  certificate verification result of ssl when that is what failed
 *  ("certificate verify failed (unable to get local issuer
 *  certificate)"); in p.  ssl may be NULL. */
const char *ssl_error_reason(apr_pool_t *p, const SSL *ssl);

/* ---- ssl_vars.c ----------------------------------------------------- */

/** fixups: HTTPS and SSL_TLS_SNI always, the SSLOptions +StdEnvVars and
 *  +ExportCertData variables when asked, into r->subprocess_env. */
void ssl_vars_export(rl_request_t *r);

/** httpd's %{name}c log item: version, cipher, subjectdn, issuerdn,
 *  errcode, errstr. */
const char *ssl_log_item_c(rl_request_t *r, const char *arg);

#endif /* SSL_SERVER_H */
