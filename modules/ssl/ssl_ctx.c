/*
 * ssl_ctx.c: the server SSL_CTX of each virtual host with SSLEngine on.
 *
 * Two steps per configuration generation, both in the parent:
 *
 *   check_config   read every SSLCertificateFile, SSLCertificateKeyFile,
 *                  SSLCertificateChainFile and SSLCACertificateFile, parse
 *                  them and check that each key matches its certificate.
 *                  What relaisd -t can say, it says here.
 *   post_config    build the contexts (protocols, ciphers, certificates,
 *                  client verification, SNI and ALPN callbacks), after
 *                  ssl_scache_post_config() and ssl_stapling_post_config()
 *                  and before the children fork and inherit them.
 *
 * Reload.  A graceful restart re-reads every file, so that a renewed
 * certificate is served by the next children.  A file that cannot be
 * used then (half-copied, wrong key, bad permissions) must not take the
 * site down: the last bytes that did work for that file are kept in
 * retained memory (rl_retained_data_create(), which outlives the module's
 * reload; only bytes, never pointers into the module), the previous
 * certificate is served again and the error log says why.  At the first
 * start there is no previous certificate: the same problem is a
 * configuration error that names the file and OpenSSL's reason.
 *
 * SNI.  Every connection starts on the context of its listener's default
 * virtual host.  The ClientHello callback (it runs before the protocol
 * version and the cipher are chosen, unlike the servername callback)
 * asks the core which vhost the SNI name selects and moves the
 * connection to that vhost's context, copying what SSL_set_SSL_CTX()
 * leaves behind (protocol range, options, verification, ciphers).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ssl_server.h"
#include "ssl_sni.h"

RL_LOG_USE_MODULE(ssl);

/* Largest PEM file read: a certificate bundle is a few dozen KiB. */
#define PEM_MAX (4u << 20)

#define RETAINED_KEY "mod_ssl:last-good-pem"

/* ------------------------------------------------------------------ */
/* Protocols and ciphers                                               */
/* ------------------------------------------------------------------ */

static const struct {
    const char *name;
    int bit;
} proto_names[] = {
    {"TLSv1", SSL_PROTO_TLS1},    {"TLSv1.0", SSL_PROTO_TLS1},
    {"TLSv1.1", SSL_PROTO_TLS11}, {"TLSv1.2", SSL_PROTO_TLS12},
    {"TLSv1.3", SSL_PROTO_TLS13}, {"all", SSL_PROTO_ALL},
};

static const char *proto_word(apr_pool_t *p, const char *w, int *bits,
                              int *first)
{
    char sign = (*w == '+' || *w == '-') ? *w++ : 0;
    int bit = -1;
    apr_size_t i;

    for (i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++) {
        if (strcasecmp(w, proto_names[i].name) == 0) {
            bit = proto_names[i].bit;
        }
    }
    if (bit < 0 &&
        (strcasecmp(w, "SSLv3") == 0 || strcasecmp(w, "SSLv2") == 0)) {
        if (sign == '-') {
            return NULL; /* "all -SSLv3": already so */
        }
        return apr_psprintf(p,
                            "%s is not supported: it is broken (POODLE) and "
                            "OpenSSL 3 no longer speaks it",
                            w);
    }
    if (bit < 0) {
        return apr_psprintf(p,
                            "unknown protocol '%s' (expected all, TLSv1, "
                            "TLSv1.1, TLSv1.2 or TLSv1.3, each with an "
                            "optional + or -)",
                            w);
    }
    if (sign == 0) {
        /* a bare name first sets the list ("TLSv1.2 +TLSv1.3") */
        *bits = *first ? bit : (*bits | bit);
    } else if (sign == '-') {
        *bits &= ~bit; /* "-TLSv1.3" alone edits the default */
    } else {
        *bits |= bit;
    }
    *first = 0;
    return NULL;
}

const char *ssl_parse_protocol(apr_pool_t *p, const char *spec, int *bits)
{
    char *copy = apr_pstrdup(p, spec), *last, *w;
    int first = 1;

    *bits = SSL_PROTO_DEFAULT;
    for (w = apr_strtok(copy, " \t", &last); w != NULL;
         w = apr_strtok(NULL, " \t", &last)) {
        const char *err = proto_word(p, w, bits, &first);
        if (err != NULL) {
            return err;
        }
    }
    if (*bits == 0) {
        return apr_psprintf(p, "'%s' leaves no protocol enabled", spec);
    }
    return NULL;
}

const char *ssl_check_cipher_spec(apr_pool_t *p, const char *spec, int tls13)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    const char *err = NULL;
    int ok;

    if (ctx == NULL) {
        return "OpenSSL cannot make a context";
    }
    ERR_clear_error();
    ok = tls13 ? SSL_CTX_set_ciphersuites(ctx, spec)
               : SSL_CTX_set_cipher_list(ctx, spec);
    if (!ok) {
        err = apr_psprintf(p,
                           tls13 ? "'%s' names no TLS 1.3 cipher suite OpenSSL "
                                   "knows (e.g. TLS_AES_128_GCM_SHA256:"
                                   "TLS_CHACHA20_POLY1305_SHA256)"
                                 : "'%s' selects no cipher OpenSSL knows (see "
                                   "openssl ciphers -v '%s')",
                           spec, spec);
    }
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return err;
}

/* ------------------------------------------------------------------ */
/* Reading files, with the last good copy                              */
/* ------------------------------------------------------------------ */

/* What the retained block keeps: per absolute path, the last bytes that
 * loaded.  Each copy has its own pool, given back when replaced. */
typedef struct ssl_retained_t {
    apr_pool_t *pool;
    apr_hash_t *files; /* path -> ssl_pem_keep_t */
} ssl_retained_t;

typedef struct ssl_pem_keep_t {
    apr_pool_t *pool;
    char *data;
    apr_size_t len;
} ssl_pem_keep_t;

/* The bytes of one file in this generation. */
typedef struct pem_t {
    const char *path;
    const char *data; /* NULL when it could not be read */
    apr_size_t len;
    const char *err; /* why it could not be read */
} pem_t;

/* One certificate with its key and chain, ready for the context. */
typedef struct ssl_pair_t {
    X509 *leaf;
    STACK_OF(X509) * chain;
    EVP_PKEY *key;
    const char *cert_path;
} ssl_pair_t;

/* What check_config loaded for one server. */
typedef struct ssl_material_t {
    apr_array_header_t *pairs; /* ssl_pair_t */
    STACK_OF(X509) * ca;       /* SSLCACertificateFile, or NULL */
} ssl_material_t;

/* A line for the error log, kept until post_config has opened it. */
typedef struct deferred_t {
    int level;
    const rl_server_t *s;
    const char *msg;
} deferred_t;

/* This generation's state (the module is loaded again for each). */
static struct {
    ssl_retained_t *ret;
    int reload;                /* a previous generation served */
    apr_hash_t *files;         /* path -> pem_t, read once per generation */
    apr_hash_t *material;      /* rl_server_t * -> ssl_material_t */
    apr_array_header_t *later; /* deferred_t */
    int ctx_idx;               /* SSL_CTX ex_data: ssl_ctx_info_t */
} g = {NULL, 0, NULL, NULL, NULL, -1};

static void note(int level, const rl_server_t *s, const char *msg)
{
    deferred_t *d;

    if (!g.reload) {
        /* first start (or -t): the error log is not open yet, the
         * operator is watching the terminal */
        rl_log_error(level, 0, s, "%s", msg);
        return;
    }
    d = apr_array_push(g.later);
    d->level = level;
    d->s = s;
    d->msg = msg;
}

static void flush_notes(void)
{
    int i;

    for (i = 0; g.later != NULL && i < g.later->nelts; i++) {
        deferred_t *d = &APR_ARRAY_IDX(g.later, i, deferred_t);
        rl_log_error(d->level, 0, d->s, "%s", d->msg);
    }
    if (g.later != NULL) {
        g.later->nelts = 0;
    }
}

static void retained_open(void)
{
    g.ret = rl_retained_data_get(RETAINED_KEY);
    g.reload = g.ret != NULL && g.ret->pool != NULL;
    if (g.ret == NULL) {
        g.ret = rl_retained_data_create(RETAINED_KEY, sizeof(*g.ret));
    }
    if (g.ret->pool == NULL) {
        apr_pool_create(&g.ret->pool, rl_retained_pool());
        g.ret->files = apr_hash_make(g.ret->pool);
    }
}

static const ssl_pem_keep_t *retained_get(const char *path)
{
    return apr_hash_get(g.ret->files, path, APR_HASH_KEY_STRING);
}

static void retained_put(const pem_t *f)
{
    ssl_pem_keep_t *k =
        apr_hash_get(g.ret->files, f->path, APR_HASH_KEY_STRING);
    apr_pool_t *p;

    if (k != NULL && k->len == f->len &&
        memcmp(k->data, f->data, f->len) == 0) {
        return;
    }
    if (apr_pool_create(&p, g.ret->pool) != APR_SUCCESS) {
        return;
    }
    if (k == NULL) {
        k = apr_pcalloc(g.ret->pool, sizeof(*k));
        apr_hash_set(g.ret->files, apr_pstrdup(g.ret->pool, f->path),
                     APR_HASH_KEY_STRING, k);
    } else {
        apr_pool_destroy(k->pool);
    }
    k->pool = p;
    k->data = apr_pmemdup(p, f->data, f->len);
    k->len = f->len;
}

static const char *read_all(apr_pool_t *p, const char *path, char **data,
                            apr_size_t *len)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    apr_size_t got = 0;

    if (fd < 0) {
        return apr_psprintf(p, "cannot open %s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return apr_psprintf(p, "%s is not a regular file", path);
    }
    if ((apr_size_t)st.st_size > PEM_MAX) {
        close(fd);
        return apr_psprintf(p, "%s is larger than %u MiB: not a PEM file", path,
                            PEM_MAX >> 20);
    }
    *data = apr_palloc(p, (apr_size_t)st.st_size + 1);
    while (got < (apr_size_t)st.st_size) {
        ssize_t n = read(fd, *data + got, (apr_size_t)st.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            const char *err =
                apr_psprintf(p, "cannot read %s: %s", path,
                             n < 0 ? strerror(errno) : "it shrank while read");
            close(fd);
            return err;
        }
        got += (apr_size_t)n;
    }
    close(fd);
    (*data)[got] = '\0';
    *len = got;
    return NULL;
}

/* The file's bytes for this generation (read once, however many vhosts
 * name it). */
static const pem_t *file_get(apr_pool_t *p, const char *path)
{
    pem_t *f = apr_hash_get(g.files, path, APR_HASH_KEY_STRING);
    char *data = NULL;

    if (f != NULL) {
        return f;
    }
    f = apr_pcalloc(p, sizeof(*f));
    f->path = path;
    f->err = read_all(p, path, &data, &f->len);
    f->data = data;
    apr_hash_set(g.files, path, APR_HASH_KEY_STRING, f);
    return f;
}

/* The last good copy of a file as a pem_t, or NULL. */
static const pem_t *file_last_good(apr_pool_t *p, const char *path)
{
    const ssl_pem_keep_t *k = retained_get(path);
    pem_t *f;

    if (k == NULL) {
        return NULL;
    }
    f = apr_pcalloc(p, sizeof(*f));
    f->path = path;
    f->data = k->data;
    f->len = k->len;
    return f;
}

/* ------------------------------------------------------------------ */
/* Parsing PEM                                                         */
/* ------------------------------------------------------------------ */

static const char *ossl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;

    return r ? r : "no reason given by OpenSSL";
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1; /* never ask: nobody is at a terminal */
}

static void free_x509_stack(void *v)
{
    sk_X509_pop_free(v, X509_free);
}

static apr_status_t cleanup_stack(void *v)
{
    free_x509_stack(v);
    return APR_SUCCESS;
}

static apr_status_t cleanup_pkey(void *v)
{
    EVP_PKEY_free(v);
    return APR_SUCCESS;
}

/* Every certificate of a PEM buffer, in order; NULL and *err when there
 * is none or one is damaged. */
static STACK_OF(X509) * read_certs(apr_pool_t *p, const pem_t *f,
                                   const char *directive, const char **err)
{
    BIO *bio = BIO_new_mem_buf(f->data, (int)f->len);
    STACK_OF(X509) *sk = sk_X509_new_null();
    X509 *x;

    ERR_clear_error();
    while (bio != NULL && sk != NULL &&
           (x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL) {
        if (!sk_X509_push(sk, x)) {
            X509_free(x);
            break;
        }
    }
    BIO_free(bio);
    if (sk == NULL) {
        *err = "out of memory";
        return NULL;
    }
    /* PEM_read ends with "no start line" after the last certificate */
    if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE ||
        sk_X509_num(sk) == 0) {
        *err = apr_psprintf(p,
                            "%s %s: %s could be read (%s): a PEM file "
                            "of -----BEGIN CERTIFICATE----- blocks is "
                            "expected",
                            directive, f->path,
                            sk_X509_num(sk) == 0 ? "no certificate in it"
                                                 : "not every certificate",
                            ossl_reason());
        free_x509_stack(sk);
        ERR_clear_error();
        return NULL;
    }
    ERR_clear_error();
    apr_pool_cleanup_register(p, sk, cleanup_stack, apr_pool_cleanup_null);
    return sk;
}

static EVP_PKEY *read_key(apr_pool_t *p, const pem_t *f, const char *directive,
                          const char **err)
{
    BIO *bio = BIO_new_mem_buf(f->data, (int)f->len);
    EVP_PKEY *key;

    ERR_clear_error();
    key = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    if (key == NULL) {
        int encrypted = strstr(f->data, "ENCRYPTED") != NULL;
        if (encrypted) {
            *err = apr_psprintf(p,
                                "%s %s: the key is encrypted (%s) and Relais "
                                "never asks for a pass phrase: store it "
                                "decrypted (openssl pkey -in KEY -out "
                                "KEY.plain), readable by root only",
                                directive, f->path, ossl_reason());
        } else {
            *err = apr_psprintf(p,
                                "%s %s: no private key could be read from it "
                                "(%s): a PEM key is expected",
                                directive, f->path, ossl_reason());
        }
        ERR_clear_error();
        return NULL;
    }
    apr_pool_cleanup_register(p, key, cleanup_pkey, apr_pool_cleanup_null);
    return key;
}

/* A certificate, its key and chain from the given bytes.  NULL or what
 * is wrong, naming the file. */
static const char *load_pair(apr_pool_t *p, const pem_t *cert, const pem_t *key,
                             const pem_t *chain, ssl_pair_t *out)
{
    STACK_OF(X509) * certs;
    const char *err = NULL;
    int i;

    if (cert->data == NULL) {
        return apr_psprintf(p, "SSLCertificateFile: %s", cert->err);
    }
    if (key != NULL && key->data == NULL) {
        return apr_psprintf(p, "SSLCertificateKeyFile: %s", key->err);
    }
    if (chain != NULL && chain->data == NULL) {
        return apr_psprintf(p, "SSLCertificateChainFile: %s", chain->err);
    }
    certs = read_certs(p, cert, "SSLCertificateFile", &err);
    if (certs == NULL) {
        return err;
    }
    out->cert_path = cert->path;
    out->leaf = sk_X509_value(certs, 0);
    /* the rest of the file is the chain (httpd 2.4.8 and later) */
    out->chain = sk_X509_new_null();
    apr_pool_cleanup_register(p, out->chain, cleanup_stack,
                              apr_pool_cleanup_null);
    for (i = 1; i < sk_X509_num(certs); i++) {
        X509 *x = sk_X509_value(certs, i);
        X509_up_ref(x);
        sk_X509_push(out->chain, x);
    }
    if (chain != NULL) {
        STACK_OF(X509) *extra =
            read_certs(p, chain, "SSLCertificateChainFile", &err);
        if (extra == NULL) {
            return err;
        }
        for (i = 0; i < sk_X509_num(extra); i++) {
            X509 *x = sk_X509_value(extra, i);
            X509_up_ref(x);
            sk_X509_push(out->chain, x);
        }
    }
    /* no SSLCertificateKeyFile for it: the key is in the same file */
    out->key = read_key(p, key != NULL ? key : cert,
                        key != NULL ? "SSLCertificateKeyFile"
                                    : "SSLCertificateFile (no "
                                      "SSLCertificateKeyFile for it)",
                        &err);
    if (out->key == NULL) {
        return err;
    }
    ERR_clear_error();
    if (!X509_check_private_key(out->leaf, out->key)) {
        err = apr_psprintf(p,
                           "SSLCertificateKeyFile %s does not match the "
                           "certificate in SSLCertificateFile %s (%s)",
                           key ? key->path : cert->path, cert->path,
                           ossl_reason());
        ERR_clear_error();
        return err;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* check_config                                                        */
/* ------------------------------------------------------------------ */

static void key_mode_warning(apr_pool_t *p, const rl_server_t *s,
                             const char *path)
{
    struct stat st;

    if (path != NULL && stat(path, &st) == 0 && (st.st_mode & S_IROTH)) {
        note(RL_LOG_WARNING, s,
             apr_psprintf(p,
                          "SSLCertificateKeyFile %s is readable by every "
                          "user of this machine (mode %04o): make it 0600 "
                          "(or 0640 for a group you trust)",
                          path, (unsigned)(st.st_mode & 07777)));
    }
}

static void validity_warnings(apr_pool_t *p, const rl_server_t *s,
                              const ssl_pair_t *pair)
{
    const ASN1_TIME *end = X509_get0_notAfter(pair->leaf);
    const ASN1_TIME *start = X509_get0_notBefore(pair->leaf);

    if (X509_cmp_current_time(end) < 0) {
        note(RL_LOG_WARNING, s,
             apr_psprintf(p,
                          "SSLCertificateFile %s: the certificate has "
                          "expired: clients will refuse it",
                          pair->cert_path));
    } else if (X509_cmp_current_time(start) > 0) {
        note(RL_LOG_WARNING, s,
             apr_psprintf(p,
                          "SSLCertificateFile %s: the certificate is not "
                          "valid yet: clients will refuse it",
                          pair->cert_path));
    }
    if (s->server_name != NULL &&
        X509_check_host(pair->leaf, s->server_name, 0, 0, NULL) != 1 &&
        X509_check_ip_asc(pair->leaf, s->server_name, 0) != 1) {
        note(RL_LOG_WARNING, s,
             apr_psprintf(p,
                          "SSLCertificateFile %s: the certificate does not "
                          "name ServerName %s: clients asking for it will "
                          "refuse the connection",
                          pair->cert_path, s->server_name));
    }
}

/* One certificate of s: the new bytes, or on a reload the last good ones
 * with a line in the error log.  NULL, or a fatal error. */
static const char *load_one(apr_pool_t *p, const rl_server_t *s,
                            const char *cert_path, const char *key_path,
                            const char *chain_path, ssl_pair_t *out)
{
    const pem_t *cert = file_get(p, cert_path);
    const pem_t *key = key_path ? file_get(p, key_path) : NULL;
    const pem_t *chain = chain_path ? file_get(p, chain_path) : NULL;
    const pem_t *ocert, *okey, *ochain;
    const char *err, *err2;

    key_mode_warning(p, s, key_path ? key_path : NULL);
    err = load_pair(p, cert, key, chain, out);
    if (err == NULL) {
        retained_put(cert);
        if (key != NULL) {
            retained_put(key);
        }
        if (chain != NULL) {
            retained_put(chain);
        }
        return NULL;
    }
    if (!g.reload) {
        return err;
    }
    /* a reload: serve what worked before, say why */
    ocert = file_last_good(p, cert_path);
    okey = key_path ? file_last_good(p, key_path) : NULL;
    ochain = chain_path ? file_last_good(p, chain_path) : NULL;
    if (ocert == NULL || (key_path != NULL && okey == NULL) ||
        (chain_path != NULL && ochain == NULL)) {
        return apr_psprintf(p,
                            "%s; no earlier copy of it was ever loaded, so "
                            "there is nothing to fall back on",
                            err);
    }
    memset(out, 0, sizeof(*out));
    err2 = load_pair(p, ocert, okey, ochain, out);
    if (err2 != NULL) {
        return err;
    }
    note(RL_LOG_ERR, s,
         apr_psprintf(p,
                      "%s: %s; the certificate loaded from %s before this "
                      "restart stays in service until the file is fixed",
                      ssl_server_label(p, s), err, cert_path));
    return NULL;
}

static int key_type_slot(EVP_PKEY *key)
{
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
        return 0;
    case EVP_PKEY_EC:
        return 1;
    case EVP_PKEY_ED25519:
        return 2;
    case EVP_PKEY_ED448:
        return 3;
    default:
        return 4;
    }
}

static const char *load_ca(apr_pool_t *p, const rl_server_t *s,
                           const char *path, STACK_OF(X509) * *out)
{
    const pem_t *f = file_get(p, path);
    const char *err =
        f->data ? NULL : apr_psprintf(p, "SSLCACertificateFile: %s", f->err);
    const pem_t *old;

    if (err == NULL &&
        (*out = read_certs(p, f, "SSLCACertificateFile", &err)) != NULL) {
        retained_put(f);
        return NULL;
    }
    if (!g.reload || (old = file_last_good(p, path)) == NULL ||
        (*out = read_certs(p, old, "SSLCACertificateFile", &err)) == NULL) {
        return err;
    }
    note(RL_LOG_ERR, s,
         apr_psprintf(p,
                      "%s: %s; the CA certificates loaded from it before "
                      "this restart stay in use until the file is fixed",
                      ssl_server_label(p, s), err));
    return NULL;
}

static int check_server(apr_pool_t *pconf, rl_server_t *s)
{
    ssl_server_conf_t *sc = ssl_sconf(s);
    ssl_material_t *m = apr_pcalloc(pconf, sizeof(*m));
    const char *label = ssl_server_label(pconf, s);
    const char *seen[5] = {NULL, NULL, NULL, NULL, NULL}; /* by key type */
    int i, errors = 0;

    if (sc->cert_files->nelts == 0) {
        rl_log_error(RL_LOG_EMERG, 0, s,
                     "%s has SSLEngine on but no SSLCertificateFile: add "
                     "the certificate and its SSLCertificateKeyFile",
                     label);
        return 1;
    }
    if (sc->key_files->nelts > sc->cert_files->nelts) {
        rl_log_error(RL_LOG_EMERG, 0, s,
                     "%s has more SSLCertificateKeyFile lines (%d) than "
                     "SSLCertificateFile lines (%d): each key goes with the "
                     "certificate in the same position",
                     label, sc->key_files->nelts, sc->cert_files->nelts);
        return 1;
    }
    m->pairs = apr_array_make(pconf, sc->cert_files->nelts, sizeof(ssl_pair_t));
    for (i = 0; i < sc->cert_files->nelts; i++) {
        ssl_pair_t *pair = apr_array_push(m->pairs);
        const char *err =
            load_one(pconf, s, APR_ARRAY_IDX(sc->cert_files, i, const char *),
                     i < sc->key_files->nelts
                         ? APR_ARRAY_IDX(sc->key_files, i, const char *)
                         : NULL,
                     sc->chain_file, pair);
        int slot;

        if (err != NULL) {
            rl_log_error(RL_LOG_EMERG, 0, s, "%s: %s", label, err);
            errors++;
            m->pairs->nelts--;
            continue;
        }
        slot = key_type_slot(pair->key);
        if (seen[slot] != NULL) {
            rl_log_error(RL_LOG_EMERG, 0, s,
                         "%s: SSLCertificateFile %s and %s have the same "
                         "key type (%s): one certificate per key type (RSA "
                         "and ECDSA can be configured side by side)",
                         label, seen[slot], pair->cert_path,
                         OBJ_nid2sn(EVP_PKEY_get_base_id(pair->key)));
            errors++;
            continue;
        }
        seen[slot] = pair->cert_path;
        validity_warnings(pconf, s, pair);
    }
    if (sc->ca_file != NULL) {
        const char *err = load_ca(pconf, s, sc->ca_file, &m->ca);
        if (err != NULL) {
            rl_log_error(RL_LOG_EMERG, 0, s, "%s: %s", label, err);
            errors++;
        }
    }
    if ((sc->verify_client == 1 || sc->verify_client == 2) &&
        sc->ca_file == NULL && sc->ca_path == NULL) {
        rl_log_error(RL_LOG_EMERG, 0, s,
                     "%s: SSLVerifyClient %s needs the CAs that sign client "
                     "certificates: add SSLCACertificateFile (or "
                     "SSLCACertificatePath)",
                     label, sc->verify_client == 2 ? "require" : "optional");
        errors++;
    }
    apr_hash_set(g.material, s, sizeof(s), m);
    return errors;
}

int ssl_ctx_check_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                         rl_server_t *main_s)
{
    rl_server_t *s;
    int errors = 0;

    (void)ptemp;
    g.files = apr_hash_make(pconf);
    g.material = apr_hash_make(pconf);
    g.later = apr_array_make(pconf, 4, sizeof(deferred_t));
    retained_open();
    for (s = main_s; s != NULL; s = s->next) {
        if (ssl_sconf(s)->engine == 1) {
            errors += check_server(pconf, s);
        }
    }
    return errors ? 500 : RL_OK;
}

/* ------------------------------------------------------------------ */
/* Callbacks                                                           */
/* ------------------------------------------------------------------ */

/* What a context carries for its connections (SSL_CTX ex_data). */
typedef struct ssl_ctx_info_t {
    rl_server_t *s;
    const char *ciphers;   /* TLS 1.2 list in effect */
    const char *ciphers13; /* TLS 1.3 list, or NULL for OpenSSL's */
    const char *setup;     /* what ssl_ctx_compatible() compares */
    int verify_client;
} ssl_ctx_info_t;

static const ssl_ctx_info_t *ctx_info(const SSL_CTX *ctx)
{
    return g.ctx_idx < 0 || ctx == NULL ? NULL
                                        : SSL_CTX_get_ex_data(ctx, g.ctx_idx);
}

rl_server_t *ssl_ctx_server(const SSL_CTX *ctx)
{
    const ssl_ctx_info_t *info = ctx_info(ctx);

    return info != NULL ? info->s : NULL;
}

int ssl_ctx_compatible(const rl_server_t *a, const rl_server_t *b)
{
    const ssl_ctx_info_t *ia, *ib;

    if (a == b) {
        return 1;
    }
    ia = ctx_info(ssl_sconf(a)->ctx);
    ib = ctx_info(ssl_sconf(b)->ctx);
    return ia != NULL && ib != NULL && strcmp(ia->setup, ib->setup) == 0;
}

/* Moves a connection to the context of the vhost its SNI names, with
 * what SSL_set_SSL_CTX() does not carry over. */
static void switch_ctx(SSL *ssl, SSL_CTX *ctx)
{
    const ssl_ctx_info_t *info = ctx_info(ctx);

    SSL_set_SSL_CTX(ssl, ctx);
    SSL_clear_options(ssl, SSL_get_options(ssl));
    SSL_set_options(ssl, SSL_CTX_get_options(ctx));
    SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(ctx));
    SSL_set_max_proto_version(ssl, SSL_CTX_get_max_proto_version(ctx));
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx),
                   SSL_CTX_get_verify_callback(ctx));
    SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(ctx));
    if (info != NULL) {
        SSL_set_cipher_list(ssl, info->ciphers);
        if (info->ciphers13 != NULL) {
            SSL_set_ciphersuites(ssl, info->ciphers13);
        }
    }
}

static int client_hello_cb(SSL *ssl, int *alert, void *arg)
{
    rl_conn_t *c = ssl_io_conn_of(ssl);
    const unsigned char *ext;
    size_t len;
    char name[256];
    ssl_server_conf_t *sc;

    (void)alert;
    (void)arg;
    if (c == NULL ||
        !SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &len) ||
        !ssl_sni_from_ext(ext, len, name, sizeof(name))) {
        return SSL_CLIENT_HELLO_SUCCESS; /* the listener's default */
    }
    sc = ssl_sconf(rl_server_for_host(c, name));
    if (sc->engine == 1 && sc->ctx != NULL && sc->ctx != SSL_get_SSL_CTX(ssl)) {
        switch_ctx(ssl, sc->ctx);
    }
    return SSL_CLIENT_HELLO_SUCCESS;
}

/* "h2, http/1.1" from ALPN's wire format, for a log line. */
static void alpn_text(const unsigned char *in, unsigned inlen, char *out,
                      size_t cap)
{
    size_t o = 0;
    unsigned i = 0;

    out[0] = '\0';
    while (i < inlen && o + 4 < cap) {
        unsigned n = in[i++];
        if (o > 0) {
            out[o++] = ',';
            out[o++] = ' ';
        }
        while (n-- > 0 && i < inlen && o + 1 < cap) {
            unsigned char ch = in[i++];
            out[o++] = (ch > 0x20 && ch < 0x7f) ? (char)ch : '?';
        }
        out[o] = '\0';
    }
}

/* Whether the client's ALPN list (wire format) holds `name`; *sel points
 * at it there. */
static int alpn_offered(const unsigned char *in, unsigned inlen,
                        const char *name, const unsigned char **sel,
                        unsigned char *sellen)
{
    size_t n = strlen(name);
    unsigned i = 0;

    while (i < inlen) {
        unsigned len = in[i];
        if (i + 1 + len > inlen) {
            return 0;
        }
        if (len == n && memcmp(in + i + 1, name, n) == 0) {
            *sel = in + i + 1;
            *sellen = (unsigned char)len;
            return 1;
        }
        i += 1 + len;
    }
    return 0;
}

/* ALPN: the first protocol of the connection's `Protocols` (its address's
 * default virtual host, as for the HTTP/2 preface; h2 only when mod_http2
 * is loaded) that the client offers, the server's order first as httpd's
 * ProtocolsHonorOrder; then http/1.0.  A client that offers only
 * protocols Relais does not speak is refused with
 * no_application_protocol, as RFC 7301 says and nginx does: carrying on
 * without ALPN would let a connection meant for another service land
 * here (ALPACA). */
static int alpn_select_cb(SSL *ssl, const unsigned char **out,
                          unsigned char *outlen, const unsigned char *in,
                          unsigned int inlen, void *arg)
{
    rl_conn_t *c = ssl_io_conn_of(ssl);
    const apr_array_header_t *protos =
        c != NULL ? rl_server_protocols(c->base_server) : NULL;
    int i;

    (void)arg;
    for (i = 0; protos != NULL && i < protos->nelts; i++) {
        const char *p = APR_ARRAY_IDX(protos, i, const char *);
        if (strcmp(p, "h2c") == 0 ||
            (strcmp(p, "h2") == 0 &&
             rl_lookup_provider(RL_CONN_PROTOCOL_GROUP, "h2",
                                RL_CONN_PROTOCOL_VERSION) == NULL)) {
            continue;
        }
        if (alpn_offered(in, inlen, p, out, outlen)) {
            return SSL_TLSEXT_ERR_OK;
        }
    }
    if (alpn_offered(in, inlen, "http/1.1", out, outlen) ||
        alpn_offered(in, inlen, "http/1.0", out, outlen)) {
        return SSL_TLSEXT_ERR_OK; /* HTTP/1.x is always spoken */
    }
    if (c != NULL) {
        char offered[200];
        alpn_text(in, inlen, offered, sizeof(offered));
        rl_log_cerror(RL_LOG_INFO, 0, c,
                      "TLS handshake refused: the client offers only "
                      "application protocols this server does not speak "
                      "(ALPN %s; Protocols here allows %s)",
                      offered,
                      protos != NULL ? apr_array_pstrcat(c->pool, protos, ' ')
                                     : "http/1.1");
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* The CA errors SSLVerifyClient optional_no_ca forgives (httpd's list). */
static int ca_error(int e)
{
    return e == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
           e == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
           e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
           e == X509_V_ERR_CERT_UNTRUSTED ||
           e == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
           e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT;
}

static int verify_cb(int ok, X509_STORE_CTX *xs)
{
    SSL *ssl;
    const ssl_ctx_info_t *info;

    if (ok) {
        return 1;
    }
    ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    info = ssl ? ctx_info(SSL_get_SSL_CTX(ssl)) : NULL;
    if (info != NULL && info->verify_client == 3 &&
        ca_error(X509_STORE_CTX_get_error(xs))) {
        ssl_io_note_generous(ssl);
        X509_STORE_CTX_set_error(xs, X509_V_OK);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* post_config: building the contexts                                  */
/* ------------------------------------------------------------------ */

static apr_status_t cleanup_ctx(void *v)
{
    SSL_CTX_free(v);
    return APR_SUCCESS;
}

static int proto_version(int bit)
{
    switch (bit) {
    case SSL_PROTO_TLS1:
        return TLS1_VERSION;
    case SSL_PROTO_TLS11:
        return TLS1_1_VERSION;
    case SSL_PROTO_TLS12:
        return TLS1_2_VERSION;
    default:
        return TLS1_3_VERSION;
    }
}

/* The range of versions, and SSL_OP_NO_* for holes in it. */
static void set_protocols(SSL_CTX *ctx, int bits)
{
    static const int order[] = {SSL_PROTO_TLS1, SSL_PROTO_TLS11,
                                SSL_PROTO_TLS12, SSL_PROTO_TLS13};
    static const unsigned long no[] = {SSL_OP_NO_TLSv1, SSL_OP_NO_TLSv1_1,
                                       SSL_OP_NO_TLSv1_2, SSL_OP_NO_TLSv1_3};
    int i, lo = -1, hi = -1;

    for (i = 0; i < 4; i++) {
        if (bits & order[i]) {
            lo = lo < 0 ? i : lo;
            hi = i;
        }
    }
    if (lo < 0) {
        lo = 2; /* ssl_parse_protocol() never leaves none: the default */
        hi = 3;
    }
    SSL_CTX_set_min_proto_version(ctx, proto_version(order[lo]));
    SSL_CTX_set_max_proto_version(ctx, proto_version(order[hi]));
    for (i = lo; i <= hi; i++) {
        if (!(bits & order[i])) {
            SSL_CTX_set_options(ctx, no[i]);
        }
    }
}

static const char *set_ca(apr_pool_t *p, SSL_CTX *ctx,
                          const ssl_server_conf_t *sc, const ssl_material_t *m)
{
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
    int i;

    for (i = 0; m->ca != NULL && i < sk_X509_num(m->ca); i++) {
        X509 *x = sk_X509_value(m->ca, i);
        X509_STORE_add_cert(store, x);
        if (names != NULL) {
            X509_NAME *n = X509_NAME_dup(X509_get_subject_name(x));
            if (n != NULL && !sk_X509_NAME_push(names, n)) {
                X509_NAME_free(n);
            }
        }
    }
    ERR_clear_error();
    if (sc->ca_path != NULL) {
        if (!SSL_CTX_load_verify_dir(ctx, sc->ca_path) ||
            (names != NULL &&
             !SSL_add_dir_cert_subjects_to_stack(names, sc->ca_path))) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            return apr_psprintf(p, "SSLCACertificatePath %s: %s", sc->ca_path,
                                ossl_reason());
        }
    }
    /* the CA names sent in the CertificateRequest, so that a browser
     * offers the right certificate */
    if (names != NULL) {
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    return NULL;
}

static void set_verify(SSL_CTX *ctx, const ssl_server_conf_t *sc)
{
    int mode = SSL_VERIFY_NONE;

    switch (sc->verify_client) {
    case 2:
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        break;
    case 1:
    case 3:
        mode = SSL_VERIFY_PEER;
        break;
    default:
        break;
    }
    SSL_CTX_set_verify(ctx, mode, verify_cb);
    /* httpd's default: client certificates issued by a CA it knows */
    SSL_CTX_set_verify_depth(ctx, sc->verify_depth >= 0 ? sc->verify_depth : 1);
}

static const char *setup_text(apr_pool_t *p, const ssl_server_conf_t *sc,
                              const ssl_ctx_info_t *info, int protos)
{
    const char *t = apr_psprintf(
        p, "%d|%s|%s|%d|%d|%d|%s|%s|%s|", protos, info->ciphers,
        info->ciphers13 ? info->ciphers13 : "", sc->honor_cipher_order,
        sc->verify_client, sc->verify_depth, sc->ca_file ? sc->ca_file : "",
        sc->ca_path ? sc->ca_path : "", sc->chain_file ? sc->chain_file : "");
    int i;

    for (i = 0; i < sc->cert_files->nelts; i++) {
        t = apr_pstrcat(p, t, APR_ARRAY_IDX(sc->cert_files, i, const char *),
                        "|", NULL);
    }
    for (i = 0; i < sc->key_files->nelts; i++) {
        t = apr_pstrcat(p, t, APR_ARRAY_IDX(sc->key_files, i, const char *),
                        "|", NULL);
    }
    return t;
}

static const char *add_certs(apr_pool_t *pconf, SSL_CTX *ctx, rl_server_t *s,
                             const ssl_material_t *m, int stapling)
{
    int i;

    for (i = 0; i < m->pairs->nelts; i++) {
        ssl_pair_t *pair = &APR_ARRAY_IDX(m->pairs, i, ssl_pair_t);
        ERR_clear_error();
        if (!SSL_CTX_use_cert_and_key(ctx, pair->leaf, pair->key, pair->chain,
                                      1)) {
            return apr_psprintf(pconf, "SSLCertificateFile %s: %s",
                                pair->cert_path, ossl_reason());
        }
        if (stapling) {
            const char *err =
                ssl_stapling_add(ctx, pair->leaf, pair->chain, s, pconf);
            if (err != NULL) {
                return err;
            }
        }
    }
    return NULL;
}

static const char *build_ctx(apr_pool_t *pconf, rl_server_t *s,
                             const ssl_material_t *m, SSL_CTX **out)
{
    ssl_server_conf_t *sc = ssl_sconf(s);
    ssl_ctx_info_t *info = apr_pcalloc(pconf, sizeof(*info));
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int protos = SSL_PROTO_DEFAULT;
    const char *err;

    if (ctx == NULL) {
        return "OpenSSL cannot make a context";
    }
    apr_pool_cleanup_register(pconf, ctx, cleanup_ctx, apr_pool_cleanup_null);
    if (sc->protocol != NULL &&
        (err = ssl_parse_protocol(pconf, sc->protocol, &protos)) != NULL) {
        return apr_pstrcat(pconf, "SSLProtocol: ", err, NULL);
    }
    set_protocols(ctx, protos);
    /* no compression (CRIME), no renegotiation started by clients (a
     * cheap way to make a server work hard, and never needed here) */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_clear_options(ctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
    if (sc->honor_cipher_order == 1) {
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /* Read what the socket has, not one record header then its body:
     * half the read() calls of a handshake and of a request.  Safe with
     * the transport's contract: ssl_io's recv decrypts until its caller's
     * buffer is full or SSL_read says WANT_READ (socket empty). */
    SSL_CTX_set_read_ahead(ctx, 1);
    /* One TLS 1.3 ticket per handshake (OpenSSL sends two): a fresh one
     * follows every resumption (ssl_scache.c), so a client that connects
     * again and again always holds one, for less work per handshake. */
    SSL_CTX_set_num_tickets(ctx, 1);
    info->s = s;
    info->verify_client = sc->verify_client;
    info->ciphers = sc->cipher_suite ? sc->cipher_suite : SSL_DEFAULT_CIPHERS;
    info->ciphers13 = sc->cipher_suite13;
    if (!SSL_CTX_set_cipher_list(ctx, info->ciphers) ||
        (info->ciphers13 != NULL &&
         !SSL_CTX_set_ciphersuites(ctx, info->ciphers13))) {
        return apr_psprintf(pconf, "SSLCipherSuite: %s", ossl_reason());
    }
    SSL_CTX_set_dh_auto(ctx, 1); /* for DHE suites an operator may add */
    if ((err = add_certs(pconf, ctx, s, m, sc->stapling.use == 1)) != NULL ||
        (err = set_ca(pconf, ctx, sc, m)) != NULL) {
        return err;
    }
    set_verify(ctx, sc);
    SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, NULL);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, NULL);
    info->setup = setup_text(pconf, sc, info, protos);
    SSL_CTX_set_ex_data(ctx, g.ctx_idx, info);
    ssl_scache_attach(ctx, s);
    if (sc->stapling.use == 1) {
        ssl_stapling_attach(ctx, s);
    }
    ERR_clear_error();
    *out = ctx;
    return NULL;
}

/* `Listen ... https` promises TLS: the default vhost of such a listener
 * (whose SSLEngine decides, as in httpd) must have it on. */
static int check_listeners(apr_pool_t *p)
{
    rl_listener_t *l;
    int errors = 0;

    for (l = rl_listeners(); l != NULL; l = l->next) {
        rl_server_t *d =
            l->default_server ? l->default_server : rl_main_server();
        if (l->protocol == NULL || strcasecmp(l->protocol, "https") != 0 ||
            ssl_sconf(d)->engine == 1) {
            continue;
        }
        rl_log_error(RL_LOG_EMERG, 0, d,
                     "Listen %s https: the default virtual host of that "
                     "address, %s, has no SSLEngine on, so its connections "
                     "would not speak TLS: put SSLEngine on and its "
                     "certificate in it (TLS is decided by the first "
                     "<VirtualHost> of the address, as in httpd)",
                     l->name, ssl_server_label(p, d));
        errors++;
    }
    return errors;
}

int ssl_ctx_post_config(apr_pool_t *pconf, rl_server_t *main_s)
{
    rl_server_t *s;
    int errors = 0;

    if (g.ctx_idx < 0) {
        g.ctx_idx =
            SSL_CTX_get_ex_new_index(0, "relais vhost", NULL, NULL, NULL);
    }
    for (s = main_s; s != NULL; s = s->next) {
        ssl_server_conf_t *sc = ssl_sconf(s);
        const ssl_material_t *m;
        const char *err;

        sc->ctx = NULL;
        if (sc->engine != 1) {
            continue;
        }
        m = g.material ? apr_hash_get(g.material, s, sizeof(s)) : NULL;
        if (m == NULL) {
            continue; /* check_config refused it already */
        }
        err = build_ctx(pconf, s, m, &sc->ctx);
        if (err != NULL) {
            rl_log_error(RL_LOG_EMERG, 0, s, "%s: %s",
                         ssl_server_label(pconf, s), err);
            sc->ctx = NULL;
            errors++;
        }
    }
    errors += check_listeners(pconf);
    flush_notes();
    return errors ? 500 : RL_OK;
}
