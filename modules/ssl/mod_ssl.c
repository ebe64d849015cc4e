/*
 * mod_ssl.c: TLS for Relais, with httpd's mod_ssl directives.
 *
 *   <VirtualHost *:443>
 *       ServerName www.example.com
 *       SSLEngine on
 *       SSLCertificateFile    /etc/relais/tls/www.rsa.pem
 *       SSLCertificateKeyFile /etc/relais/tls/www.rsa.key
 *       SSLCertificateFile    /etc/relais/tls/www.ec.pem
 *       SSLCertificateKeyFile /etc/relais/tls/www.ec.key
 *   </VirtualHost>
 *
 * This file holds the directives, the merge of the per-server blocks,
 * the hooks and the provider other modules reach TLS through
 * (include/rl_ssl.h).  The contexts are ssl_ctx.c's, the transport
 * ssl_io.c's, the variables ssl_vars.c's; the session cache, OCSP
 * stapling and TLS to backends live in ssl_scache.c, ssl_ocsp.c and
 * ssl_proxy.c, whose directives this table includes.
 *
 * Which connections speak TLS: those whose listener's default virtual
 * host (the first <VirtualHost> of the address, else the main server)
 * has SSLEngine on, as in httpd.  `Listen 443 https` states the intent,
 * and is refused when that default vhost has no SSLEngine on.
 *
 * Hooks:
 *   check_config       load certificates and keys (ssl_ctx.c)
 *   post_config        session cache, stapling, contexts, backends
 *   pre_connection     TLS transport on connections of TLS listeners
 *   post_read_request  SNI against Host (421), SSLStrictSNIVHostCheck (403)
 *   access_checker     SSLRequireSSL
 *   fixups             HTTPS, SSL_TLS_SNI and SSLOptions +StdEnvVars
 */
#include <stddef.h>
#include <string.h>

#include <apr_strings.h>

#include "rl_log_item.h"
#include "ssl_server.h"

RL_LOG_USE_MODULE(ssl);

/* ------------------------------------------------------------------ */
/* Configuration blocks                                                */
/* ------------------------------------------------------------------ */

ssl_server_conf_t *ssl_sconf(const rl_server_t *s)
{
    return rl_get_module_config(s->module_config, &ssl_module);
}

static ssl_dir_conf_t *ssl_dconf(void **per_dir)
{
    return per_dir ? rl_get_module_config(per_dir, &ssl_module) : NULL;
}

const char *ssl_server_label(apr_pool_t *p, const rl_server_t *s)
{
    if (!s->is_virtual) {
        return "the main server";
    }
    return apr_psprintf(p, "<VirtualHost> at %s:%u (%s)",
                        s->defn_file ? s->defn_file : "?", s->defn_line,
                        s->server_name ? s->server_name : "no ServerName");
}

static void *ssl_create_server(apr_pool_t *p, rl_server_t *s)
{
    ssl_server_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    (void)s;
    sc->engine = -1;
    sc->cert_files = apr_array_make(p, 2, sizeof(const char *));
    sc->key_files = apr_array_make(p, 2, sizeof(const char *));
    sc->honor_cipher_order = -1;
    sc->verify_client = -1;
    sc->verify_depth = -1;
    sc->strict_sni = -1;
    sc->compression = -1;
    sc->std_env_vars = -1;
    sc->export_cert = -1;
    sc->session_tickets = -1;
    sc->stapling.use = -1;
    sc->stapling.responder_timeout = -1;
    sc->stapling.cache_timeout = -1;
    sc->stapling.error_cache_timeout = -1;
    sc->stapling.return_errors = -1;
    sc->proxy.engine = -1;
    sc->proxy.verify = -1;
    sc->proxy.verify_depth = -1;
    sc->proxy.check_peer_name = -1;
    sc->proxy.check_peer_expire = -1;
    return sc;
}

#define MERGE_INT(f) (add->f != -1 ? add->f : base->f)
#define MERGE_PTR(f) (add->f != NULL ? add->f : base->f)

static void merge_stapling(ssl_stapling_conf_t *to,
                           const ssl_stapling_conf_t *base,
                           const ssl_stapling_conf_t *add)
{
    to->use = MERGE_INT(use);
    to->responder_timeout = MERGE_INT(responder_timeout);
    to->cache_timeout = MERGE_INT(cache_timeout);
    to->error_cache_timeout = MERGE_INT(error_cache_timeout);
    to->return_errors = MERGE_INT(return_errors);
    to->force_url = MERGE_PTR(force_url);
}

static void merge_proxy(ssl_proxy_conf_t *to, const ssl_proxy_conf_t *base,
                        const ssl_proxy_conf_t *add)
{
    to->engine = MERGE_INT(engine);
    to->verify = MERGE_INT(verify);
    to->verify_depth = MERGE_INT(verify_depth);
    to->ca_file = MERGE_PTR(ca_file);
    to->ca_path = MERGE_PTR(ca_path);
    to->check_peer_name = MERGE_INT(check_peer_name);
    to->check_peer_expire = MERGE_INT(check_peer_expire);
    to->protocol = MERGE_PTR(protocol);
    to->cipher_suite = MERGE_PTR(cipher_suite);
    to->cipher_suite13 = MERGE_PTR(cipher_suite13);
    to->machine_cert = MERGE_PTR(machine_cert);
    to->ctx = NULL; /* built per server by ssl_proxy_post_config() */
}

static void *ssl_merge_server(apr_pool_t *p, void *basev, void *addv)
{
    const ssl_server_conf_t *base = basev, *add = addv;
    ssl_server_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    sc->engine = MERGE_INT(engine);
    /* certificates go together: a vhost with its own takes none of the
     * main server's (httpd) */
    sc->cert_files =
        add->cert_files->nelts ? add->cert_files : base->cert_files;
    sc->key_files = add->cert_files->nelts ? add->key_files : base->key_files;
    sc->chain_file = MERGE_PTR(chain_file);
    sc->ca_file = MERGE_PTR(ca_file);
    sc->ca_path = MERGE_PTR(ca_path);
    sc->protocol = MERGE_PTR(protocol);
    sc->cipher_suite = MERGE_PTR(cipher_suite);
    sc->cipher_suite13 = MERGE_PTR(cipher_suite13);
    sc->honor_cipher_order = MERGE_INT(honor_cipher_order);
    sc->verify_client = MERGE_INT(verify_client);
    sc->verify_depth = MERGE_INT(verify_depth);
    sc->strict_sni = MERGE_INT(strict_sni);
    sc->compression = MERGE_INT(compression);
    sc->std_env_vars = MERGE_INT(std_env_vars);
    sc->export_cert = MERGE_INT(export_cert);
    sc->session_tickets = MERGE_INT(session_tickets);
    sc->defn_file = add->defn_file ? add->defn_file : base->defn_file;
    sc->defn_line = add->defn_file ? add->defn_line : base->defn_line;
    sc->ctx = NULL;
    merge_stapling(&sc->stapling, &base->stapling, &add->stapling);
    merge_proxy(&sc->proxy, &base->proxy, &add->proxy);
    return sc;
}

static void *ssl_create_dir(apr_pool_t *p, const char *path)
{
    ssl_dir_conf_t *dc = apr_pcalloc(p, sizeof(*dc));

    (void)path;
    dc->opts = -1;
    dc->require_ssl = -1;
    return dc;
}

static void *ssl_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const ssl_dir_conf_t *base = basev, *add = addv;
    ssl_dir_conf_t *dc = apr_pcalloc(p, sizeof(*dc));

    /* httpd's SSLOptions: a list without +/- replaces what was inherited,
     * +X and -X edit it */
    if (add->opts != -1) {
        dc->opts = add->opts;
        dc->opts_add = add->opts_add;
        dc->opts_del = add->opts_del;
    } else {
        dc->opts = base->opts;
        dc->opts_add = (base->opts_add & ~add->opts_del) | add->opts_add;
        dc->opts_del = (base->opts_del & ~add->opts_add) | add->opts_del;
    }
    dc->require_ssl = MERGE_INT(require_ssl);
    return dc;
}

int ssl_request_opts(const rl_request_t *r)
{
    const ssl_dir_conf_t *dc = ssl_dconf(r->per_dir_config);
    int opts;

    if (dc == NULL) {
        return 0;
    }
    opts = dc->opts != -1 ? dc->opts : 0;
    return (opts | dc->opts_add) & ~dc->opts_del;
}

/* ------------------------------------------------------------------ */
/* Directives                                                          */
/* ------------------------------------------------------------------ */

static int in_location(const rl_cmd_t *cmd)
{
    return (cmd->context & RL_CTX_DIR) != 0;
}

static const char *cmd_engine(rl_cmd_t *cmd, void *mconfig, int argc,
                              char *const argv[])
{
    ssl_server_conf_t *sc = ssl_sconf(cmd->server);

    (void)mconfig;
    (void)argc;
    if (strcasecmp(argv[0], "on") == 0) {
        sc->engine = 1;
    } else if (strcasecmp(argv[0], "off") == 0) {
        sc->engine = 0;
    } else if (strcasecmp(argv[0], "optional") == 0) {
        return "optional (upgrading a plain connection to TLS, RFC 2817) is "
               "not supported: no browser does it; use on";
    } else {
        return apr_psprintf(cmd->pool, "expected on or off, got '%s'", argv[0]);
    }
    sc->defn_file = cmd->node->file;
    sc->defn_line = cmd->node->line;
    return NULL;
}

static const char *cmd_cert_list(rl_cmd_t *cmd, void *mconfig, int argc,
                                 char *const argv[])
{
    ssl_server_conf_t *sc = ssl_sconf(cmd->server);
    apr_array_header_t *list = cmd->data ? sc->key_files : sc->cert_files;

    (void)mconfig;
    (void)argc;
    APR_ARRAY_PUSH(list, const char *) =
        rl_server_root_relative(cmd->pool, argv[0]);
    return NULL;
}

static const char *cmd_path(rl_cmd_t *cmd, void *mconfig, int argc,
                            char *const argv[])
{
    (void)mconfig;
    return rl_set_path_slot(cmd, ssl_sconf(cmd->server), argc, argv);
}

static const char *cmd_flag(rl_cmd_t *cmd, void *mconfig, int argc,
                            char *const argv[])
{
    (void)mconfig;
    return rl_set_flag_slot(cmd, ssl_sconf(cmd->server), argc, argv);
}

static const char *cmd_protocol(rl_cmd_t *cmd, void *mconfig, int argc,
                                char *const argv[])
{
    ssl_server_conf_t *sc = ssl_sconf(cmd->server);
    const char *spec = argv[0], *err;
    int i, bits;

    (void)mconfig;
    for (i = 1; i < argc; i++) {
        spec = apr_pstrcat(cmd->pool, spec, " ", argv[i], NULL);
    }
    if ((err = ssl_parse_protocol(cmd->pool, spec, &bits)) != NULL) {
        return err;
    }
    if (bits & (SSL_PROTO_TLS1 | SSL_PROTO_TLS11)) {
        rl_config_warn(cmd, "TLSv1 and TLSv1.1 are deprecated (RFC 8996), and "
                            "OpenSSL 3 refuses them unless SSLCipherSuite "
                            "ends with :@SECLEVEL=0");
    }
    sc->protocol = spec;
    return NULL;
}

static const char *cmd_cipher(rl_cmd_t *cmd, void *mconfig, int argc,
                              char *const argv[])
{
    ssl_server_conf_t *sc = ssl_sconf(cmd->server);
    const char *spec = argv[argc - 1], *err;
    int tls13 = 0;

    (void)mconfig;
    if (in_location(cmd)) {
        return "a cipher list per <Location> needs a renegotiation, which "
               "Relais refuses: set SSLCipherSuite on the <VirtualHost>";
    }
    if (argc == 2) {
        if (strcasecmp(argv[0], "TLSv1.3") == 0) {
            tls13 = 1;
        } else if (strcasecmp(argv[0], "SSL") != 0) {
            return apr_psprintf(cmd->pool,
                                "unknown protocol '%s' (expected SSL for "
                                "TLSv1.2 and below, or TLSv1.3)",
                                argv[0]);
        }
    }
    if ((err = ssl_check_cipher_spec(cmd->pool, spec, tls13)) != NULL) {
        return err;
    }
    if (tls13) {
        sc->cipher_suite13 = apr_pstrdup(cmd->pool, spec);
    } else {
        sc->cipher_suite = apr_pstrdup(cmd->pool, spec);
    }
    return NULL;
}

static const char *cmd_verify_client(rl_cmd_t *cmd, void *mconfig, int argc,
                                     char *const argv[])
{
    static const char *const names[] = {"none", "optional", "require",
                                        "optional_no_ca"};
    ssl_server_conf_t *sc = ssl_sconf(cmd->server);
    int i;

    (void)mconfig;
    (void)argc;
    if (in_location(cmd)) {
        return "client certificates per <Location> need a TLS "
               "renegotiation (or TLS 1.3 post-handshake authentication), "
               "which Relais does not do: set SSLVerifyClient on the "
               "<VirtualHost>, and use Require expr "
               "\"%{SSL_CLIENT_VERIFY} == 'SUCCESS'\" in the <Location>";
    }
    for (i = 0; i < 4; i++) {
        if (strcasecmp(argv[0], names[i]) == 0) {
            sc->verify_client = i;
            return NULL;
        }
    }
    return apr_psprintf(cmd->pool,
                        "expected none, optional, require or "
                        "optional_no_ca, got '%s'",
                        argv[0]);
}

static const char *cmd_verify_depth(rl_cmd_t *cmd, void *mconfig, int argc,
                                    char *const argv[])
{
    ssl_server_conf_t *sc = ssl_sconf(cmd->server);
    char *end;
    long n = strtol(argv[0], &end, 10);

    (void)mconfig;
    (void)argc;
    if (in_location(cmd)) {
        return "set SSLVerifyDepth on the <VirtualHost>: per <Location> it "
               "would need a renegotiation";
    }
    if (*end != '\0' || end == argv[0] || n < 0 || n > 100) {
        return apr_psprintf(cmd->pool,
                            "expected a number from 0 to 100, got "
                            "'%s'",
                            argv[0]);
    }
    sc->verify_depth = (int)n;
    return NULL;
}

static const struct {
    const char *name;
    int bit;
} opt_names[] = {
    {"StdEnvVars", SSL_OPT_STDENVVARS},
    {"ExportCertData", SSL_OPT_EXPORTCERTDATA},
    {"LegacyDNStringFormat", SSL_OPT_LEGACYDNFORMAT},
    {"StrictRequire", SSL_OPT_STRICTREQUIRE},
    {"OptRenegotiate", SSL_OPT_OPTRENEGOTIATE},
};

static const char *cmd_options(rl_cmd_t *cmd, void *mconfig, int argc,
                               char *const argv[])
{
    ssl_dir_conf_t *dc = mconfig;
    int i, first = 1;

    for (i = 0; i < argc; i++) {
        const char *w = argv[i];
        char sign = (*w == '+' || *w == '-') ? *w++ : 0;
        int bit = 0;
        apr_size_t k;

        for (k = 0; k < sizeof(opt_names) / sizeof(opt_names[0]); k++) {
            if (strcasecmp(w, opt_names[k].name) == 0) {
                bit = opt_names[k].bit;
            }
        }
        if (bit == 0 && strcasecmp(w, "FakeBasicAuth") == 0) {
            return "FakeBasicAuth is not supported: it turns a certificate "
                   "into a password anyone who knows the DN can use; "
                   "use Require expr \"%{SSL_CLIENT_S_DN_CN} == '...'\"";
        }
        if (bit == 0) {
            return apr_psprintf(cmd->pool,
                                "unknown option '%s' (expected StdEnvVars, "
                                "ExportCertData, LegacyDNStringFormat, "
                                "StrictRequire or OptRenegotiate, each with "
                                "an optional + or -)",
                                argv[i]);
        }
        if (sign == 0) {
            dc->opts = first ? bit : (dc->opts | bit);
            dc->opts_add = dc->opts_del = 0;
            first = 0;
        } else if (sign == '+') {
            dc->opts_add |= bit;
            dc->opts_del &= ~bit;
        } else {
            dc->opts_del |= bit;
            dc->opts_add &= ~bit;
        }
    }
    if (!in_location(cmd)) {
        /* also kept per server, for the other files of the module */
        ssl_server_conf_t *sc = ssl_sconf(cmd->server);
        int o =
            ((dc->opts != -1 ? dc->opts : 0) | dc->opts_add) & ~dc->opts_del;
        sc->std_env_vars = (o & SSL_OPT_STDENVVARS) != 0;
        sc->export_cert = (o & SSL_OPT_EXPORTCERTDATA) != 0;
    }
    return NULL;
}

static const char *cmd_require_ssl(rl_cmd_t *cmd, void *mconfig, int argc,
                                   char *const argv[])
{
    ssl_dir_conf_t *dc = mconfig;

    (void)cmd;
    (void)argc;
    (void)argv;
    dc->require_ssl = 1;
    return NULL;
}

/* On|Off directives whose On would lower security: Off is what Relais
 * does anyway. */
static const char *cmd_only_off(rl_cmd_t *cmd, void *mconfig, int argc,
                                char *const argv[])
{
    int on = 0;
    const char *err = rl_parse_flag(cmd->pool, argv[0], &on);

    (void)mconfig;
    (void)argc;
    if (err != NULL || !on) {
        return err;
    }
    return apr_psprintf(cmd->pool, "On is refused: %s",
                        (const char *)cmd->data);
}

/* httpd directives that have nothing to do here: accepted, documented. */
static const char *cmd_noop(rl_cmd_t *cmd, void *mconfig, int argc,
                            char *const argv[])
{
    (void)cmd;
    (void)mconfig;
    (void)argc;
    (void)argv;
    return NULL;
}

/* httpd directives whose silent absence would change security: refused,
 * with what to do instead (cmd->data). */
static const char *cmd_refuse(rl_cmd_t *cmd, void *mconfig, int argc,
                              char *const argv[])
{
    (void)mconfig;
    (void)argc;
    (void)argv;
    return cmd->data;
}

static const char *cmd_builtin_only(rl_cmd_t *cmd, void *mconfig, int argc,
                                    char *const argv[])
{
    (void)mconfig;
    (void)argc;
    if (strcasecmp(argv[0], "builtin") == 0) {
        return NULL;
    }
    return apr_psprintf(cmd->pool, "'%s' is not supported, only builtin: %s",
                        argv[0], (const char *)cmd->data);
}

static const char *cmd_revocation_check(rl_cmd_t *cmd, void *mconfig, int argc,
                                        char *const argv[])
{
    (void)mconfig;
    (void)argc;
    if (strcasecmp(argv[0], "none") == 0) {
        return NULL;
    }
    return apr_psprintf(cmd->pool,
                        "'%s': checking client certificates against CRLs is "
                        "not supported yet, and ignoring the line would let "
                        "revoked certificates in: remove it, or keep "
                        "SSLVerifyClient off until it is",
                        argv[0]);
}

#define SRV RL_CTX_SERVER
#define OFFS(f) ((const void *)offsetof(ssl_server_conf_t, f))

static const rl_directive_t ssl_directives[] = {
    RL_TAKE1("SSLEngine", cmd_engine, NULL, SRV, "SSLEngine on|off (off)"),
    RL_TAKE1("SSLCertificateFile", cmd_cert_list, NULL, SRV,
             "SSLCertificateFile path (PEM: the certificate, then its chain; "
             "once per key type)"),
    RL_TAKE1("SSLCertificateKeyFile", cmd_cert_list, "key", SRV,
             "SSLCertificateKeyFile path (PEM, unencrypted)"),
    RL_TAKE1("SSLCertificateChainFile", cmd_path, OFFS(chain_file), SRV,
             "SSLCertificateChainFile path (PEM)"),
    RL_TAKE1("SSLCACertificateFile", cmd_path, OFFS(ca_file), SRV,
             "SSLCACertificateFile path (CAs of client certificates, PEM)"),
    RL_TAKE1("SSLCACertificatePath", cmd_path, OFFS(ca_path), SRV,
             "SSLCACertificatePath directory (hashed, c_rehash)"),
    RL_TAKE_ARGV("SSLProtocol", cmd_protocol, NULL, SRV,
                 "SSLProtocol [+|-]protocol ... (all, TLSv1.2, TLSv1.3; "
                 "default TLSv1.2 TLSv1.3)"),
    RL_TAKE12("SSLCipherSuite", cmd_cipher, NULL, RL_CTX_ANY,
              "SSLCipherSuite [SSL|TLSv1.3] cipher-spec (not in <Location>: no "
              "renegotiation)"),
    RL_TAKE1("SSLHonorCipherOrder", cmd_flag, OFFS(honor_cipher_order), SRV,
             "SSLHonorCipherOrder on|off (off)"),
    RL_TAKE1("SSLVerifyClient", cmd_verify_client, NULL, RL_CTX_ANY,
             "SSLVerifyClient none|optional|require|optional_no_ca (none; not "
             "in <Location>: no renegotiation)"),
    RL_TAKE1("SSLVerifyDepth", cmd_verify_depth, NULL, RL_CTX_ANY,
             "SSLVerifyDepth number (1; not in <Location>)"),
    RL_TAKE1("SSLStrictSNIVHostCheck", cmd_flag, OFFS(strict_sni), SRV,
             "SSLStrictSNIVHostCheck on|off (off)"),
    RL_TAKE_ARGV("SSLOptions", cmd_options, NULL, RL_CTX_ANY,
                 "SSLOptions [+|-]StdEnvVars|ExportCertData|"
                 "LegacyDNStringFormat ..."),
    RL_TAKE0("SSLRequireSSL", cmd_require_ssl, NULL, RL_CTX_ANY,
             "SSLRequireSSL (403 unless the connection is TLS)"),
    RL_TAKE1("SSLCompression", cmd_only_off,
             "TLS compression leaks "
             "secrets (CRIME)",
             SRV, "SSLCompression off"),
    RL_TAKE1("SSLInsecureRenegotiation", cmd_only_off,
             "insecure renegotiation allows request injection "
             "(CVE-2009-3555)",
             SRV, "SSLInsecureRenegotiation off"),
    RL_TAKE1("SSLFIPS", cmd_only_off,
             "Relais cannot switch OpenSSL into FIPS mode: configure the "
             "FIPS provider in openssl.cnf",
             RL_CTX_MAIN, "SSLFIPS off"),
    RL_TAKE_ARGV("SSLRandomSeed", cmd_noop, NULL, RL_CTX_MAIN,
                 "SSLRandomSeed ... (accepted, no effect: OpenSSL 3 seeds "
                 "itself from the kernel)"),
    RL_TAKE_ARGV("SSLMutex", cmd_noop, NULL, RL_CTX_MAIN,
                 "SSLMutex ... (accepted, no effect)"),
    RL_TAKE1("SSLRenegBufferSize", cmd_noop, NULL, RL_CTX_ANY,
             "SSLRenegBufferSize bytes (accepted, no effect: no "
             "renegotiation)"),
    RL_TAKE1("SSLPassPhraseDialog", cmd_builtin_only,
             "Relais never asks for a pass phrase: store the key "
             "decrypted, readable by root only",
             RL_CTX_MAIN, "SSLPassPhraseDialog builtin"),
    RL_TAKE1("SSLCryptoDevice", cmd_builtin_only,
             "engines are configured in openssl.cnf", RL_CTX_MAIN,
             "SSLCryptoDevice builtin"),
    RL_TAKE_ARGV("SSLRequire", cmd_refuse,
                 "SSLRequire is not supported: write the condition as "
                 "Require expr \"...\" (mod_acl), e.g. Require expr "
                 "\"%{SSL_CLIENT_S_DN_O} == 'Example'\"",
                 RL_CTX_ANY, "SSLRequire expression"),
    RL_TAKE_ARGV("SSLOpenSSLConfCmd", cmd_refuse,
                 "SSLOpenSSLConfCmd is not supported: use SSLProtocol and "
                 "SSLCipherSuite, or openssl.cnf",
                 SRV, "SSLOpenSSLConfCmd command value"),
    RL_TAKE1("SSLCARevocationFile", cmd_refuse,
             "checking client certificates against CRLs is not supported "
             "yet, and ignoring the line would let revoked certificates in",
             SRV, "SSLCARevocationFile path"),
    RL_TAKE1("SSLCARevocationPath", cmd_refuse,
             "checking client certificates against CRLs is not supported "
             "yet, and ignoring the line would let revoked certificates in",
             SRV, "SSLCARevocationPath directory"),
    RL_TAKE_ARGV("SSLCARevocationCheck", cmd_revocation_check, NULL, SRV,
                 "SSLCARevocationCheck none"),
    RL_TAKE_ARGV("SSLOCSPEnable", cmd_refuse,
                 "checking client certificates with OCSP is not supported "
                 "yet, and ignoring the line would let revoked certificates "
                 "in",
                 SRV, "SSLOCSPEnable on|off"),
    RL_TAKE1("SSLUserName", cmd_refuse,
             "SSLUserName is not supported: log %{SSL_CLIENT_S_DN_CN}x "
             "instead of %u",
             RL_CTX_ANY, "SSLUserName varname"),
    RL_TAKE1("SSLSRPVerifierFile", cmd_refuse, "TLS-SRP is not supported", SRV,
             "SSLSRPVerifierFile path"),
    /* the session cache's, stapling's and backends' (ssl_private.h) */
    /* clang-format off */
    SSL_SCACHE_DIRECTIVES
    SSL_STAPLING_DIRECTIVES
    SSL_PROXY_DIRECTIVES
    RL_DIRECTIVE_END};
/* clang-format on */

/* ------------------------------------------------------------------ */
/* Configuration hooks                                                 */
/* ------------------------------------------------------------------ */

static int ssl_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, rl_server_t *s)
{
    (void)plog;
    return ssl_ctx_check_config(pconf, ptemp, s);
}

static int ssl_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, rl_server_t *s)
{
    const char *err;

    (void)plog;
    (void)ptemp;
    /* the session cache and stapling are ready before any context is
     * built, backends' contexts after */
    if ((err = ssl_scache_post_config(pconf, s)) != NULL ||
        (err = ssl_stapling_post_config(pconf, s)) != NULL) {
        rl_log_error(RL_LOG_EMERG, 0, s, "%s", err);
        return 500;
    }
    if (ssl_ctx_post_config(pconf, s) != RL_OK) {
        return 500;
    }
    if ((err = ssl_proxy_post_config(pconf, s)) != NULL) {
        rl_log_error(RL_LOG_EMERG, 0, s, "%s", err);
        return 500;
    }
    return RL_OK;
}

static void ssl_child_init(apr_pool_t *pchild, rl_server_t *s)
{
    ssl_scache_child_init(pchild, s);
    ssl_stapling_child_init(pchild, s);
}

/* ------------------------------------------------------------------ */
/* Connections and requests                                            */
/* ------------------------------------------------------------------ */

static int ssl_pre_connection(rl_conn_t *c)
{
    const ssl_server_conf_t *sc = ssl_sconf(c->base_server);
    char peer[128];
    SSL *ssl;
    rl_io_t *io;

    if (sc->engine != 1 || sc->ctx == NULL) {
        return RL_DECLINED;
    }
    ssl = SSL_new(sc->ctx);
    if (ssl == NULL) {
        rl_log_cerror(RL_LOG_ERR, 0, c, "cannot start TLS: out of memory");
        return 500;
    }
    SSL_set_accept_state(ssl);
    apr_snprintf(peer, sizeof(peer), "%s:%u", c->client_ip,
                 (unsigned)c->client_port);
    io = ssl_io_new(ssl, c->fd, c->base_server, peer, 0);
    if (io == NULL) {
        rl_log_cerror(RL_LOG_ERR, 0, c, "cannot start TLS: out of memory");
        return 500;
    }
    ssl_io_set_conn(io, c);
    c->io = io;
    return RL_OK;
}

int ssl_is_https(const rl_conn_t *c)
{
    if (c != NULL && c->master != NULL) {
        c = c->master; /* an HTTP/2 stream: its connection's TLS */
    }
    return c != NULL && ssl_io_ssl(c->io) != NULL;
}

/* SNI against Host, as httpd: a request for a vhost whose TLS set-up
 * differs from the one the handshake was made for is misdirected (421:
 * the client may retry on a new connection); without SNI, a vhost with
 * SSLStrictSNIVHostCheck on is refused (403). */
static int ssl_post_read_request(rl_request_t *r)
{
    rl_conn_t *c =
        r->connection->master ? r->connection->master : r->connection;
    SSL *ssl = ssl_io_ssl(c->io);
    const char *sni;
    rl_server_t *hs;

    if (ssl == NULL) {
        return RL_DECLINED;
    }
    sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    hs = ssl_ctx_server(SSL_get_SSL_CTX(ssl));
    if (hs == NULL) {
        hs = c->base_server;
    }
    if (sni != NULL && r->hostname == NULL) {
        rl_log_rerror(RL_LOG_INFO, 0, r,
                      "the TLS SNI names %s but the request names no "
                      "host (no Host header): 400",
                      sni);
        return 400;
    }
    if (sni == NULL &&
        (ssl_sconf(hs)->strict_sni == 1 ||
         (r->server != hs && ssl_sconf(r->server)->strict_sni == 1))) {
        rl_log_rerror(RL_LOG_ERR, 0, r,
                      "no host name was sent in TLS SNI and "
                      "SSLStrictSNIVHostCheck is on: 403 (the client is "
                      "too old for name-based TLS virtual hosts)");
        return 403;
    }
    /* Whatever the SNI said (or did not say: an old client, or a resumed
     * TLS 1.2 session, where OpenSSL may not report it again), the
     * handshake was made with hs's set-up; a request for a vhost that
     * demands another (a client certificate, other ciphers) must not ride
     * on it. */
    if (r->server != hs && !ssl_ctx_compatible(r->server, hs)) {
        rl_log_rerror(RL_LOG_INFO, 0, r,
                      "Host %s and %s%s select virtual hosts with "
                      "different TLS set-ups: 421 Misdirected Request",
                      r->hostname ? r->hostname : "(none)",
                      sni ? "TLS SNI " : "the listener's default (no SNI)",
                      sni ? sni : "");
        return 421;
    }
    return RL_DECLINED;
}

static int ssl_access_checker(rl_request_t *r)
{
    const ssl_dir_conf_t *dc = ssl_dconf(r->per_dir_config);

    if (dc == NULL || dc->require_ssl != 1 || ssl_is_https(r->connection)) {
        return RL_DECLINED;
    }
    rl_log_rerror(RL_LOG_INFO, 0, r,
                  "access to %s refused: SSLRequireSSL and the connection "
                  "is not TLS",
                  r->uri);
    return 403;
}

static int ssl_fixups(rl_request_t *r)
{
    if (ssl_is_https(r->connection)) {
        ssl_vars_export(r);
    }
    return RL_DECLINED;
}

/* ------------------------------------------------------------------ */
/* Registration                                                        */
/* ------------------------------------------------------------------ */

static const char *ssl_log_item_x(rl_request_t *r, const char *arg)
{
    return arg != NULL ? ssl_var_lookup(r, arg) : NULL;
}

static const rl_ssl_provider_t ssl_provider = {
    ssl_is_https, ssl_var_lookup, ssl_proxy_enabled, ssl_proxy_open};
static const rl_log_item_provider_t ssl_item_x = {ssl_log_item_x};
static const rl_log_item_provider_t ssl_item_c = {ssl_log_item_c};

static void ssl_register_hooks(apr_pool_t *p)
{
    ssl_io_init();
    rl_register_provider(p, RL_SSL_GROUP, RL_SSL_NAME, RL_SSL_VERSION,
                         &ssl_provider);
    rl_register_provider(p, RL_LOG_ITEM_GROUP, "x", RL_LOG_ITEM_VERSION,
                         &ssl_item_x);
    rl_register_provider(p, RL_LOG_ITEM_GROUP, "c", RL_LOG_ITEM_VERSION,
                         &ssl_item_c);
    rl_hook_check_config(ssl_check_config, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_post_config(ssl_post_config, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_child_init(ssl_child_init, NULL, NULL, RL_HOOK_MIDDLE);
    /* TLS first: every later connection hook reads through it */
    rl_hook_pre_connection(ssl_pre_connection, NULL, NULL,
                           RL_HOOK_REALLY_FIRST);
    rl_hook_post_read_request(ssl_post_read_request, NULL, NULL, RL_HOOK_FIRST);
    rl_hook_access_checker(ssl_access_checker, NULL, NULL, RL_HOOK_FIRST);
    rl_hook_fixups(ssl_fixups, NULL, NULL, RL_HOOK_FIRST);
}

RL_DECLARE_MODULE(ssl) = {RL_MODULE_STUFF("ssl", "1.0.0", 0),
                          ssl_directives,
                          ssl_create_server,
                          ssl_merge_server,
                          ssl_create_dir,
                          ssl_merge_dir,
                          ssl_register_hooks};
