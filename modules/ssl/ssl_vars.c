/*
 * ssl_vars.c: httpd's SSL_* variables of a request's connection.
 *
 * One lookup function, ssl_var_lookup(), answers everyone: mod_log's
 * %{VAR}x, mod_headers' %{VAR}s, the expression language's %{SSL_*} and
 * %{HTTPS} (so `Require expr "%{SSL_CLIENT_S_DN_CN} == 'alice'"`), and
 * the fixups hook that copies them into r->subprocess_env for
 * `SSLOptions +StdEnvVars`.  Values are computed when asked, in r->pool:
 * a request that logs two of them pays for two.
 *
 * Names and formats are httpd 2.4's (docs/ssl.md lists them): DNs as
 * RFC 2253 ("CN=alice,O=Example"), or OpenSSL's one-line form with
 * SSLOptions +LegacyDNStringFormat; serials in upper-case hex; dates as
 * "Nov 27 18:30:00 2026 GMT".
 */
#include <string.h>

#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ssl_server.h"

RL_LOG_USE_MODULE(ssl);

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* What a memory BIO holds, as a string in p; frees the BIO. */

/* The TLS of r's connection: an HTTP/2 stream's is its master's. */
static const rl_io_t *ssl_vars_io(const rl_request_t *r)
{
    const rl_conn_t *c = r->connection;
    return c->master != NULL ? c->master->io : c->io;
}

static const char *bio_text(apr_pool_t *p, BIO *bio)
{
    char *data = NULL;
    long n;
    const char *s;

    if (bio == NULL) {
        return NULL;
    }
    n = BIO_get_mem_data(bio, &data);
    s = n > 0 ? apr_pstrmemdup(p, data, (apr_size_t)n) : NULL;
    BIO_free(bio);
    ERR_clear_error();
    return s;
}

static const char *hex(apr_pool_t *p, const unsigned char *b, unsigned n)
{
    static const char digits[] = "0123456789ABCDEF";
    char *s = apr_palloc(p, 2 * (apr_size_t)n + 1);
    unsigned i;

    for (i = 0; i < n; i++) {
        s[2 * i] = digits[b[i] >> 4];
        s[2 * i + 1] = digits[b[i] & 15];
    }
    s[2 * n] = '\0';
    return s;
}

/* Control characters would let a certificate write into a log line or
 * a request header: they become '?'. */
static const char *clean(apr_pool_t *p, const unsigned char *s, int n)
{
    char *out = apr_palloc(p, (apr_size_t)n + 1);
    int i;

    for (i = 0; i < n; i++) {
        out[i] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : (char)s[i];
    }
    out[n] = '\0';
    return out;
}

static const char *asn1_string(apr_pool_t *p, const ASN1_STRING *str)
{
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, str);
    const char *s;

    if (n < 0) {
        ERR_clear_error();
        return NULL;
    }
    s = clean(p, utf8, n);
    OPENSSL_free(utf8);
    return s;
}

static const char *asn1_time(apr_pool_t *p, const ASN1_TIME *t)
{
    BIO *bio = BIO_new(BIO_s_mem());

    if (bio == NULL || !ASN1_TIME_print(bio, t)) {
        BIO_free(bio);
        return NULL;
    }
    return bio_text(p, bio);
}

static const char *dn_text(rl_request_t *r, const X509_NAME *name)
{
    BIO *bio;
    char *one;
    const char *s;

    if (ssl_request_opts(r) & SSL_OPT_LEGACYDNFORMAT) {
        one = X509_NAME_oneline(name, NULL, 0);
        s = one ? apr_pstrdup(r->pool, one) : NULL;
        OPENSSL_free(one);
        return s;
    }
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0) {
        BIO_free(bio);
        return NULL;
    }
    s = bio_text(r->pool, bio);
    return s ? s : "";
}

/* httpd's names of DN components. */
static const struct {
    const char *name;
    int nid;
} dn_parts[] = {
    {"C", NID_countryName},
    {"ST", NID_stateOrProvinceName},
    {"SP", NID_stateOrProvinceName},
    {"L", NID_localityName},
    {"O", NID_organizationName},
    {"OU", NID_organizationalUnitName},
    {"CN", NID_commonName},
    {"T", NID_title},
    {"I", NID_initials},
    {"G", NID_givenName},
    {"S", NID_surname},
    {"D", NID_description},
    {"UID", NID_userId},
    {"Email", NID_pkcs9_emailAddress},
    {"DC", NID_domainComponent},
};

/* "CN", "OU_1": the nth entry (from 0) of a component. */
static const char *dn_part(apr_pool_t *p, const X509_NAME *name,
                           const char *what)
{
    const char *us = strrchr(what, '_');
    apr_size_t len = strlen(what);
    int nth = 0, nid = NID_undef, pos = -1;
    apr_size_t i;

    if (us != NULL && apr_isdigit(us[1])) {
        nth = atoi(us + 1);
        len = (apr_size_t)(us - what);
    }
    for (i = 0; i < sizeof(dn_parts) / sizeof(dn_parts[0]); i++) {
        if (strlen(dn_parts[i].name) == len &&
            strncasecmp(dn_parts[i].name, what, len) == 0) {
            nid = dn_parts[i].nid;
        }
    }
    if (nid == NID_undef) {
        return NULL;
    }
    do {
        pos = X509_NAME_get_index_by_NID(name, nid, pos);
    } while (pos >= 0 && nth-- > 0);
    if (pos < 0) {
        return NULL;
    }
    return asn1_string(
        p, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, pos)));
}

/* SAN_DNS_n, SAN_Email_n */
static const char *san_part(apr_pool_t *p, X509 *x, const char *what)
{
    int type, nth, i, k = 0;
    GENERAL_NAMES *names;
    const char *v = NULL;

    if (strncasecmp(what, "DNS_", 4) == 0) {
        type = GEN_DNS;
        nth = atoi(what + 4);
    } else if (strncasecmp(what, "Email_", 6) == 0) {
        type = GEN_EMAIL;
        nth = atoi(what + 6);
    } else {
        return NULL;
    }
    names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type == type && k++ == nth) {
            v = asn1_string(p, gn->d.ia5);
            break;
        }
    }
    GENERAL_NAMES_free(names);
    return v;
}

static const char *pem_of(apr_pool_t *p, X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());

    if (bio == NULL || !PEM_write_bio_X509(bio, x)) {
        BIO_free(bio);
        return NULL;
    }
    return bio_text(p, bio);
}

static const char *serial_of(apr_pool_t *p, X509 *x)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *h = bn ? BN_bn2hex(bn) : NULL;
    const char *s = h ? apr_pstrdup(p, h) : NULL;

    OPENSSL_free(h);
    BN_free(bn);
    return s;
}

static const char *remain_days(apr_pool_t *p, X509 *x)
{
    int days = 0, secs = 0;

    if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x))) {
        return NULL;
    }
    return apr_itoa(p, days > 0 ? days : 0);
}

/* ------------------------------------------------------------------ */
/* SSL_CLIENT_* and SSL_SERVER_*                                       */
/* ------------------------------------------------------------------ */

static const char *client_verify(apr_pool_t *p, const SSL *ssl)
{
    long vr = SSL_get_verify_result(ssl);

    if (ssl_io_generous(ssl)) {
        return "GENEROUS";
    }
    if (SSL_get0_peer_certificate(ssl) == NULL) {
        return "NONE";
    }
    if (vr == X509_V_OK) {
        return "SUCCESS";
    }
    return apr_pstrcat(p, "FAILED:", X509_verify_cert_error_string(vr), NULL);
}

static const char *chain_cert(rl_request_t *r, SSL *ssl, const char *n)
{
    STACK_OF(X509) *sk = SSL_get_peer_cert_chain(ssl);
    int i = atoi(n);

    if (!apr_isdigit(*n) || sk == NULL || i >= sk_X509_num(sk)) {
        return NULL;
    }
    return pem_of(r->pool, sk_X509_value(sk, i));
}

static const char *cert_var(rl_request_t *r, SSL *ssl, X509 *x, const char *v,
                            int client)
{
    apr_pool_t *p = r->pool;
    int exp = (ssl_request_opts(r) & SSL_OPT_EXPORTCERTDATA) != 0;

    if (client && strcasecmp(v, "VERIFY") == 0) {
        return client_verify(p, ssl);
    }
    if (x == NULL) {
        return NULL;
    }
    if (strcasecmp(v, "M_VERSION") == 0) {
        return apr_ltoa(p, X509_get_version(x) + 1);
    }
    if (strcasecmp(v, "M_SERIAL") == 0) {
        return serial_of(p, x);
    }
    if (strcasecmp(v, "V_START") == 0) {
        return asn1_time(p, X509_get0_notBefore(x));
    }
    if (strcasecmp(v, "V_END") == 0) {
        return asn1_time(p, X509_get0_notAfter(x));
    }
    if (strcasecmp(v, "V_REMAIN") == 0) {
        return remain_days(p, x);
    }
    if (strcasecmp(v, "S_DN") == 0) {
        return dn_text(r, X509_get_subject_name(x));
    }
    if (strcasecmp(v, "I_DN") == 0) {
        return dn_text(r, X509_get_issuer_name(x));
    }
    if (strncasecmp(v, "S_DN_", 5) == 0) {
        return dn_part(p, X509_get_subject_name(x), v + 5);
    }
    if (strncasecmp(v, "I_DN_", 5) == 0) {
        return dn_part(p, X509_get_issuer_name(x), v + 5);
    }
    if (strncasecmp(v, "SAN_", 4) == 0) {
        return san_part(p, x, v + 4);
    }
    if (strcasecmp(v, "A_SIG") == 0) {
        int nid = X509_get_signature_nid(x);
        return nid != NID_undef ? OBJ_nid2ln(nid) : "UNKNOWN";
    }
    if (strcasecmp(v, "A_KEY") == 0) {
        const EVP_PKEY *k = X509_get0_pubkey(x);
        return k ? OBJ_nid2ln(EVP_PKEY_get_base_id(k)) : NULL;
    }
    /* the certificates themselves: only with SSLOptions +ExportCertData */
    if (exp && strcasecmp(v, "CERT") == 0) {
        return pem_of(p, x);
    }
    if (exp && client && strncasecmp(v, "CERT_CHAIN_", 11) == 0) {
        return chain_cert(r, ssl, v + 11);
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The connection's own                                                */
/* ------------------------------------------------------------------ */

static const char *cipher_bits(apr_pool_t *p, SSL *ssl, int alg)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    int algbits = 0, usebits;

    if (c == NULL) {
        return NULL;
    }
    usebits = SSL_CIPHER_get_bits(c, &algbits);
    return apr_itoa(p, alg ? algbits : usebits);
}

static const char *curve(SSL *ssl)
{
    int nid = SSL_get_negotiated_group(ssl);

    if (nid == 0 || nid == NID_undef) {
        return NULL;
    }
    return SSL_group_to_name(ssl, nid);
}

static const char *session_id(apr_pool_t *p, SSL *ssl)
{
    const SSL_SESSION *s = SSL_get_session(ssl);
    const unsigned char *id;
    unsigned int n = 0;

    if (s == NULL) {
        return NULL;
    }
    id = SSL_SESSION_get_id(s, &n);
    return n > 0 ? hex(p, id, n) : NULL;
}

static const char *alpn(apr_pool_t *p, SSL *ssl)
{
    const unsigned char *a = NULL;
    unsigned int n = 0;

    SSL_get0_alpn_selected(ssl, &a, &n);
    return n > 0 ? clean(p, a, (int)n) : NULL;
}

static const char *library_version(apr_pool_t *p)
{
    /* "OpenSSL 3.0.11 19 Sep 2023" -> "OpenSSL/3.0.11", as httpd */
    char *v = apr_pstrdup(p, OpenSSL_version(OPENSSL_VERSION));
    char *sp = strchr(v, ' ');

    if (sp != NULL) {
        char *sp2;
        *sp = '/';
        sp2 = strchr(sp, ' ');
        if (sp2 != NULL) {
            *sp2 = '\0';
        }
    }
    return v;
}

static const char *conn_var(rl_request_t *r, SSL *ssl, const char *v)
{
    apr_pool_t *p = r->pool;

    if (strcasecmp(v, "PROTOCOL") == 0) {
        return SSL_get_version(ssl);
    }
    if (strcasecmp(v, "CIPHER") == 0) {
        const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
        return c ? SSL_CIPHER_get_name(c) : NULL;
    }
    if (strcasecmp(v, "CIPHER_USEKEYSIZE") == 0) {
        return cipher_bits(p, ssl, 0);
    }
    if (strcasecmp(v, "CIPHER_ALGKEYSIZE") == 0) {
        return cipher_bits(p, ssl, 1);
    }
    if (strcasecmp(v, "CIPHER_EXPORT") == 0) {
        return "false";
    }
    if (strcasecmp(v, "CURVE") == 0) {
        return curve(ssl);
    }
    if (strcasecmp(v, "TLS_SNI") == 0) {
        return SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    }
    if (strcasecmp(v, "SESSION_ID") == 0) {
        return session_id(p, ssl);
    }
    if (strcasecmp(v, "SESSION_RESUMED") == 0) {
        return SSL_session_reused(ssl) ? "Resumed" : "Initial";
    }
    if (strcasecmp(v, "SECURE_RENEG") == 0) {
        return SSL_get_secure_renegotiation_support(ssl) ? "true" : "false";
    }
    if (strcasecmp(v, "COMPRESS_METHOD") == 0) {
        return "NULL";
    }
    if (strcasecmp(v, "ALPN") == 0) {
        return alpn(p, ssl);
    }
    if (strcasecmp(v, "VERSION_LIBRARY") == 0) {
        return library_version(p);
    }
    if (strcasecmp(v, "VERSION_INTERFACE") == 0) {
        return apr_pstrcat(p, "relais/", rl_version(), NULL);
    }
    return NULL;
}

const char *ssl_var_lookup(rl_request_t *r, const char *name)
{
    SSL *ssl;

    if (r == NULL || name == NULL) {
        return NULL;
    }
    ssl = ssl_io_ssl(ssl_vars_io(r));
    if (strcasecmp(name, "HTTPS") == 0) {
        return ssl ? "on" : "off";
    }
    if (ssl == NULL || strncasecmp(name, "SSL_", 4) != 0) {
        return NULL;
    }
    name += 4;
    if (strncasecmp(name, "CLIENT_", 7) == 0) {
        return cert_var(r, ssl, SSL_get0_peer_certificate(ssl), name + 7, 1);
    }
    if (strncasecmp(name, "SERVER_", 7) == 0) {
        return cert_var(r, ssl, SSL_get_certificate(ssl), name + 7, 0);
    }
    return conn_var(r, ssl, name);
}

/* ------------------------------------------------------------------ */
/* SSLOptions +StdEnvVars                                              */
/* ------------------------------------------------------------------ */

/* httpd's list (ssl_hook_Fixup), the DN components come after it. */
static const char *const std_vars[] = {"SSL_VERSION_INTERFACE",
                                       "SSL_VERSION_LIBRARY",
                                       "SSL_PROTOCOL",
                                       "SSL_SECURE_RENEG",
                                       "SSL_COMPRESS_METHOD",
                                       "SSL_CIPHER",
                                       "SSL_CIPHER_EXPORT",
                                       "SSL_CIPHER_USEKEYSIZE",
                                       "SSL_CIPHER_ALGKEYSIZE",
                                       "SSL_CURVE",
                                       "SSL_ALPN",
                                       "SSL_CLIENT_VERIFY",
                                       "SSL_CLIENT_M_VERSION",
                                       "SSL_CLIENT_M_SERIAL",
                                       "SSL_CLIENT_V_START",
                                       "SSL_CLIENT_V_END",
                                       "SSL_CLIENT_V_REMAIN",
                                       "SSL_CLIENT_S_DN",
                                       "SSL_CLIENT_I_DN",
                                       "SSL_CLIENT_A_KEY",
                                       "SSL_CLIENT_A_SIG",
                                       "SSL_SERVER_M_VERSION",
                                       "SSL_SERVER_M_SERIAL",
                                       "SSL_SERVER_V_START",
                                       "SSL_SERVER_V_END",
                                       "SSL_SERVER_S_DN",
                                       "SSL_SERVER_I_DN",
                                       "SSL_SERVER_A_KEY",
                                       "SSL_SERVER_A_SIG",
                                       "SSL_SESSION_ID",
                                       "SSL_SESSION_RESUMED"};

static void set_var(rl_request_t *r, const char *name, const char *value)
{
    if (value != NULL) {
        apr_table_setn(r->subprocess_env, name, value);
    }
}

/* SSL_CLIENT_S_DN_CN and friends: every component present, with _n for
 * the repeated ones, as httpd. */
static void export_dn(rl_request_t *r, const char *prefix,
                      const X509_NAME *name)
{
    int i, n = name ? X509_NAME_entry_count(name) : 0;
    apr_hash_t *seen = apr_hash_make(r->pool);

    for (i = 0; i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        apr_size_t k;

        for (k = 0; k < sizeof(dn_parts) / sizeof(dn_parts[0]); k++) {
            int *count;
            const char *key;
            if (dn_parts[k].nid != nid || strcmp(dn_parts[k].name, "SP") == 0) {
                continue;
            }
            count = apr_hash_get(seen, dn_parts[k].name, APR_HASH_KEY_STRING);
            if (count == NULL) {
                count = apr_pcalloc(r->pool, sizeof(*count));
                apr_hash_set(seen, dn_parts[k].name, APR_HASH_KEY_STRING,
                             count);
            }
            key = *count == 0
                      ? apr_pstrcat(r->pool, prefix, dn_parts[k].name, NULL)
                      : apr_psprintf(r->pool, "%s%s_%d", prefix,
                                     dn_parts[k].name, *count);
            set_var(r, key, asn1_string(r->pool, X509_NAME_ENTRY_get_data(e)));
            (*count)++;
            break;
        }
    }
}

void ssl_vars_export(rl_request_t *r)
{
    SSL *ssl = ssl_io_ssl(ssl_vars_io(r));
    int opts = ssl_request_opts(r);
    X509 *peer, *own;
    apr_size_t i;

    if (ssl == NULL) {
        return;
    }
    apr_table_setn(r->subprocess_env, "HTTPS", "on");
    set_var(r, "SSL_TLS_SNI",
            SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
    peer = SSL_get0_peer_certificate(ssl);
    own = SSL_get_certificate(ssl);
    if (opts & SSL_OPT_STDENVVARS) {
        for (i = 0; i < sizeof(std_vars) / sizeof(std_vars[0]); i++) {
            set_var(r, std_vars[i], ssl_var_lookup(r, std_vars[i]));
        }
        if (peer != NULL) {
            export_dn(r, "SSL_CLIENT_S_DN_", X509_get_subject_name(peer));
            export_dn(r, "SSL_CLIENT_I_DN_", X509_get_issuer_name(peer));
        }
        if (own != NULL) {
            export_dn(r, "SSL_SERVER_S_DN_", X509_get_subject_name(own));
            export_dn(r, "SSL_SERVER_I_DN_", X509_get_issuer_name(own));
        }
    }
    if (opts & SSL_OPT_EXPORTCERTDATA) {
        STACK_OF(X509) *sk = SSL_get_peer_cert_chain(ssl);
        int k;
        set_var(r, "SSL_SERVER_CERT", ssl_var_lookup(r, "SSL_SERVER_CERT"));
        set_var(r, "SSL_CLIENT_CERT", ssl_var_lookup(r, "SSL_CLIENT_CERT"));
        for (k = 0; sk != NULL && k < sk_X509_num(sk); k++) {
            set_var(r, apr_psprintf(r->pool, "SSL_CLIENT_CERT_CHAIN_%d", k),
                    pem_of(r->pool, sk_X509_value(sk, k)));
        }
    }
}

/* ------------------------------------------------------------------ */
/* %{name}c                                                            */
/* ------------------------------------------------------------------ */

const char *ssl_log_item_c(rl_request_t *r, const char *arg)
{
    SSL *ssl = ssl_io_ssl(ssl_vars_io(r));
    long vr;

    if (ssl == NULL || arg == NULL) {
        return NULL;
    }
    if (strcasecmp(arg, "version") == 0) {
        return ssl_var_lookup(r, "SSL_PROTOCOL");
    }
    if (strcasecmp(arg, "cipher") == 0) {
        return ssl_var_lookup(r, "SSL_CIPHER");
    }
    if (strcasecmp(arg, "subjectdn") == 0 ||
        strcasecmp(arg, "clientcert") == 0) {
        return ssl_var_lookup(r, "SSL_CLIENT_S_DN");
    }
    if (strcasecmp(arg, "issuerdn") == 0 || strcasecmp(arg, "cacert") == 0) {
        return ssl_var_lookup(r, "SSL_CLIENT_I_DN");
    }
    vr = SSL_get_verify_result(ssl);
    if (strcasecmp(arg, "errcode") == 0) {
        return vr != X509_V_OK ? apr_ltoa(r->pool, vr) : NULL;
    }
    if (strcasecmp(arg, "errstr") == 0) {
        return vr != X509_V_OK ? X509_verify_cert_error_string(vr) : NULL;
    }
    return NULL;
}
