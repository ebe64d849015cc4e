/*
 * ssl_proxy.c: TLS to backends (SSLProxy* directives, https:// and wss://
 * workers of mod_proxy, health checks of https:// members).
 *
 * Each server where SSLProxyEngine is on gets one client SSL_CTX, built
 * in post_config from its (merged) SSLProxy* settings; servers whose
 * settings are the same share one.  mod_proxy never sees OpenSSL: it asks
 * the core for mod_ssl's provider (rl_ssl.h) and calls proxy_open() on a
 * connected socket, which returns a transport (ssl_io.c) whose first
 * send or recv runs the handshake.
 *
 * Defaults differ from httpd's on purpose: SSLProxyVerify is `require`
 * (httpd: none), because an operator who writes https:// expects the
 * backend to be checked; the name and expiry checks belong to that
 * verification, so `SSLProxyVerify none` turns them off too (httpd keeps
 * checking the name and the dates of a certificate it did not verify
 * unless SSLProxyCheckPeerName/Expire are turned off as well).
 * SSLProxyVerifyDepth has no limit of its own (httpd: 1, which refuses the
 * usual leaf -> intermediate -> root chains).
 *
 * Session reuse: a new connection to a backend resumes the last TLS
 * session got from it (a small per-process table, under a mutex), so
 * opening more connections costs a resumption, not a full handshake.
 * Pooled keep-alive connections (mod_proxy) need no handshake at all.
 */
#include "ssl_private.h"

#include <apr_strings.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

RL_LOG_USE_MODULE(ssl);

/* Defaults of the settings left unset everywhere. */
#define PROXY_VERIFY_DEFAULT 2 /* require */
#define PROXY_PROTOCOLS_DEFAULT "TLSv1.2 +TLSv1.3"

/* ------------------------------------------------------------------ */
/* SSLProxyProtocol                                                   */
/* ------------------------------------------------------------------ */

/* The versions a protocol list allows, as bits in this order. */
static const struct {
    const char *name;
    int version;
} proto_names[] = {{"TLSv1", TLS1_VERSION},
                   {"TLSv1.1", TLS1_1_VERSION},
                   {"TLSv1.2", TLS1_2_VERSION},
                   {"TLSv1.3", TLS1_3_VERSION}};
#define PROTO_COUNT ((int)(sizeof(proto_names) / sizeof(proto_names[0])))
#define PROTO_ALL ((1u << PROTO_COUNT) - 1)
#define PROTO_DEFAULT 0xCu /* TLSv1.2, TLSv1.3 */

/*
 * httpd's syntax: "+TLSv1.2 +TLSv1.3", "all -TLSv1 -TLSv1.1", "TLSv1.3".
 * A word without a sign replaces what was there (*overrides is set when
 * it does, for a warning, as httpd gives).  A list that starts with a
 * sign edits the default (TLS 1.2 and 1.3), as SSLProtocol does in
 * Relais (httpd starts it from nothing).  OpenSSL takes a range, so the
 * versions must follow each other.  NULL, or what is wrong.
 */
static const char *parse_protocols(apr_pool_t *p, int argc, char *const argv[],
                                   int *min, int *max, int *overrides)
{
    unsigned set = 0;
    int i, k, lo = -1, hi = -1;

    *overrides = 0;
    for (i = 0; i < argc; i++) {
        const char *w = argv[i];
        char action = 0;
        unsigned bits = 0;

        if (*w == '+' || *w == '-') {
            action = *w++;
            set = i == 0 ? PROTO_DEFAULT : set;
        }
        if (strcasecmp(w, "all") == 0) {
            bits = PROTO_ALL;
        } else if (strcasecmp(w, "SSLv3") == 0 || strcasecmp(w, "SSLv2") == 0) {
            if (action == '-') {
                continue; /* "-SSLv3": already never offered */
            }
            return apr_psprintf(p,
                                "%s is insecure and not supported: use "
                                "TLSv1.2 and TLSv1.3",
                                w);
        } else {
            for (k = 0; k < PROTO_COUNT; k++) {
                if (strcasecmp(w, proto_names[k].name) == 0) {
                    bits = 1u << k;
                }
            }
            if (bits == 0) {
                return apr_psprintf(p,
                                    "'%s': expected all, TLSv1, TLSv1.1, "
                                    "TLSv1.2 or TLSv1.3, each with an "
                                    "optional + or -",
                                    argv[i]);
            }
        }
        if (action == '-') {
            set &= ~bits;
        } else if (action == '+') {
            set |= bits;
        } else {
            *overrides = *overrides || set != 0;
            set = bits;
        }
    }
    for (k = 0; k < PROTO_COUNT; k++) {
        if (set & (1u << k)) {
            lo = lo < 0 ? k : lo;
            hi = k;
        }
    }
    if (lo < 0) {
        return "no protocol left (e.g. SSLProxyProtocol +TLSv1.2 +TLSv1.3)";
    }
    for (k = lo; k <= hi; k++) {
        if (!(set & (1u << k))) {
            return apr_psprintf(p,
                                "the protocols must follow each other: %s "
                                "is left out between %s and %s",
                                proto_names[k].name, proto_names[lo].name,
                                proto_names[hi].name);
        }
    }
    *min = proto_names[lo].version;
    *max = proto_names[hi].version;
    return NULL;
}

/* The same, from the text kept in the configuration. */
static const char *parse_protocol_text(apr_pool_t *p, const char *text,
                                       int *min, int *max)
{
    apr_array_header_t *words = apr_array_make(p, 4, sizeof(char *));
    char *copy = apr_pstrdup(p, text), *last, *w;
    int overrides;

    for (w = apr_strtok(copy, " \t", &last); w != NULL;
         w = apr_strtok(NULL, " \t", &last)) {
        APR_ARRAY_PUSH(words, char *) = w;
    }
    return parse_protocols(p, words->nelts, (char *const *)words->elts, min,
                           max, &overrides);
}

/* ------------------------------------------------------------------ */
/* Directives                                                         */
/* ------------------------------------------------------------------ */

/* A file or directory the directive names must be there now, so that
 * relaisd -t finds the mistake; the contents are read in post_config. */
static const char *path_arg(rl_cmd_t *cmd, const char *arg, int want_dir,
                            const char **out)
{
    const char *path = rl_server_root_relative(cmd->pool, arg);
    struct stat st;

    if (stat(path, &st) != 0) {
        return apr_psprintf(cmd->temp_pool, "%s: %s", path, strerror(errno));
    }
    if (want_dir && !S_ISDIR(st.st_mode)) {
        return apr_psprintf(cmd->temp_pool, "%s is not a directory", path);
    }
    if (!want_dir && !S_ISREG(st.st_mode)) {
        return apr_psprintf(cmd->temp_pool, "%s is not a file", path);
    }
    if (access(path, R_OK) != 0) {
        return apr_psprintf(cmd->temp_pool, "%s: %s", path, strerror(errno));
    }
    *out = path;
    return NULL;
}

static const char *flag_arg(rl_cmd_t *cmd, const char *arg, int *out)
{
    return rl_parse_flag(cmd->temp_pool, arg, out);
}

static const char *set_verify(rl_cmd_t *cmd, ssl_proxy_conf_t *pc,
                              const char *arg)
{
    static const char *const levels[] = {"none", "optional", "require"};
    int i;

    for (i = 0; i < 3; i++) {
        if (strcasecmp(arg, levels[i]) == 0) {
            pc->verify = i;
            return NULL;
        }
    }
    if (strcasecmp(arg, "optional_no_ca") == 0) {
        return "optional_no_ca is not supported by Relais: use require with "
               "SSLProxyCACertificateFile naming the backend's CA (or none "
               "to accept any certificate)";
    }
    (void)cmd;
    return "expected none, optional or require";
}

static const char *set_depth(rl_cmd_t *cmd, ssl_proxy_conf_t *pc,
                             const char *arg)
{
    char *end;
    long v = strtol(arg, &end, 10);

    (void)cmd;
    if (*arg == '\0' || *end != '\0' || v < 0 || v > 100) {
        return "expected a number from 0 to 100 (CA certificates above the "
               "backend's own)";
    }
    pc->verify_depth = (int)v;
    return NULL;
}

/* SSLProxyCipherSuite [SSL|TLSv1.3] spec, checked against OpenSSL now. */
static const char *set_ciphers(rl_cmd_t *cmd, ssl_proxy_conf_t *pc, int argc,
                               char *const argv[])
{
    const char *spec = argv[argc - 1];
    int tls13 = 0, ok;
    SSL_CTX *probe;

    if (argc == 2) {
        if (strcasecmp(argv[0], "TLSv1.3") == 0) {
            tls13 = 1;
        } else if (strcasecmp(argv[0], "SSL") != 0) {
            return apr_psprintf(cmd->temp_pool,
                                "'%s': the protocol is SSL (TLSv1.2 and "
                                "older) or TLSv1.3",
                                argv[0]);
        }
    }
    probe = SSL_CTX_new(TLS_client_method());
    if (probe == NULL) {
        return "OpenSSL cannot create a context (out of memory?)";
    }
    ok = tls13 ? SSL_CTX_set_ciphersuites(probe, spec)
               : SSL_CTX_set_cipher_list(probe, spec);
    SSL_CTX_free(probe);
    ERR_clear_error();
    if (!ok) {
        return apr_psprintf(
            cmd->temp_pool, "'%s': OpenSSL knows no %s cipher in this list%s",
            spec, tls13 ? "TLSv1.3" : "TLSv1.2",
            tls13 ? " (e.g. TLS_AES_128_GCM_SHA256)" : " (e.g. ECDHE+AESGCM)");
    }
    if (tls13) {
        pc->cipher_suite13 = apr_pstrdup(cmd->pool, spec);
    } else {
        pc->cipher_suite = apr_pstrdup(cmd->pool, spec);
    }
    return NULL;
}

static const char *set_protocol(rl_cmd_t *cmd, ssl_proxy_conf_t *pc, int argc,
                                char *const argv[])
{
    int min, max, overrides, i;
    const char *err =
        parse_protocols(cmd->temp_pool, argc, argv, &min, &max, &overrides);
    const char *text = "";

    if (err != NULL) {
        return err;
    }
    if (overrides) {
        rl_config_warn(cmd,
                       "SSLProxyProtocol: a protocol without + or - replaces "
                       "the ones before it: is a + or - missing?");
    }
    for (i = 0; i < argc; i++) {
        text = apr_pstrcat(cmd->pool, text, i ? " " : "", argv[i], NULL);
    }
    pc->protocol = text;
    return NULL;
}

/* httpd directives of this family that Relais does not have. */
static const char *refused(rl_cmd_t *cmd, int argc, char *const argv[])
{
    const char *name = cmd->directive->name;

    if (strcasecmp(name, "SSLProxyCARevocationCheck") == 0 && argc == 1 &&
        strcasecmp(argv[0], "none") == 0) {
        return NULL; /* httpd's default: nothing to do */
    }
    if (strcasecmp(name, "SSLProxyMachineCertificateChainFile") == 0 ||
        strcasecmp(name, "SSLProxyMachineCertificatePath") == 0) {
        return "is not supported by Relais yet: put the client certificate, "
               "its chain and its key in one PEM file for "
               "SSLProxyMachineCertificateFile";
    }
    return "(certificate revocation lists for backends) is not supported by "
           "Relais yet; remove it";
}

/*
 * The handler of every SSLProxy* directive (the table is in mod_ssl.c,
 * through SSL_PROXY_DIRECTIVES): the directive's name says which.
 */
const char *ssl_proxy_directive(rl_cmd_t *cmd, void *dconf, int argc,
                                char *const argv[])
{
    ssl_proxy_conf_t *pc = &ssl_sconf(cmd->server)->proxy;
    const char *name = cmd->directive->name + strlen("SSLProxy");

    (void)dconf;
    if (cmd->context & RL_CTX_DIR) {
        return "is not supported inside <Proxy> (or <Location>) by Relais "
               "yet: set it in the server or <VirtualHost> that holds the "
               "ProxyPass or BalancerMember";
    }
    if (strcasecmp(name, "Engine") == 0) {
        return flag_arg(cmd, argv[0], &pc->engine);
    }
    if (strcasecmp(name, "Verify") == 0) {
        return set_verify(cmd, pc, argv[0]);
    }
    if (strcasecmp(name, "VerifyDepth") == 0) {
        return set_depth(cmd, pc, argv[0]);
    }
    if (strcasecmp(name, "CACertificateFile") == 0) {
        return path_arg(cmd, argv[0], 0, &pc->ca_file);
    }
    if (strcasecmp(name, "CACertificatePath") == 0) {
        return path_arg(cmd, argv[0], 1, &pc->ca_path);
    }
    if (strcasecmp(name, "CheckPeerName") == 0) {
        return flag_arg(cmd, argv[0], &pc->check_peer_name);
    }
    if (strcasecmp(name, "CheckPeerCN") == 0) {
        /* httpd's older form: SSLProxyCheckPeerName wins when both are
         * given, whatever their order */
        int on;
        const char *err = flag_arg(cmd, argv[0], &on);
        if (err == NULL && pc->check_peer_name == -1 && !on) {
            pc->check_peer_name = 0;
        }
        return err;
    }
    if (strcasecmp(name, "CheckPeerExpire") == 0) {
        return flag_arg(cmd, argv[0], &pc->check_peer_expire);
    }
    if (strcasecmp(name, "Protocol") == 0) {
        return set_protocol(cmd, pc, argc, argv);
    }
    if (strcasecmp(name, "CipherSuite") == 0) {
        return set_ciphers(cmd, pc, argc, argv);
    }
    if (strcasecmp(name, "MachineCertificateFile") == 0) {
        return path_arg(cmd, argv[0], 0, &pc->machine_cert);
    }
    return refused(cmd, argc, argv);
}

/* ------------------------------------------------------------------ */
/* Session reuse                                                      */
/* ------------------------------------------------------------------ */

/*
 * The last session of each backend, in a small table per process (a
 * child talks to few backends; the least recently used slot goes when
 * it is full).  The key holds the SSL_CTX (a session verified under one
 * server's settings is never resumed under another's), the name sent as
 * SNI and the peer's address, all read back from the SSL itself, so the
 * callbacks need nothing attached to it.
 */
#define SESS_SLOTS 64
#define SESS_KEY_MAX 320

typedef struct sess_slot_t {
    char key[SESS_KEY_MAX];
    SSL_SESSION *sess; /* a reference of ours, or NULL */
    unsigned long used;
} sess_slot_t;

static sess_slot_t sess_slots[SESS_SLOTS];
static unsigned long sess_clock;
static pthread_mutex_t sess_lock = PTHREAD_MUTEX_INITIALIZER;

/* "ctx|sni|ip:port" into key; 0 when the socket has no peer. */
static int sess_key(SSL *ssl, int fd, char *key, apr_size_t len)
{
    struct sockaddr_storage sa;
    socklen_t sl = sizeof(sa);
    char ip[INET6_ADDRSTRLEN] = "";
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    unsigned port = 0;

    if (fd < 0 || getpeername(fd, (struct sockaddr *)&sa, &sl) != 0) {
        return 0;
    }
    if (sa.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
    } else if (sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
    } else {
        return 0;
    }
    /* %pp: apr_snprintf's pointer (its %p alone is a prefix) */
    apr_snprintf(key, len, "%pp|%s|%s:%u", (void *)SSL_get_SSL_CTX(ssl),
                 sni ? sni : "", ip, port);
    return 1;
}

/* The slot of key, or NULL; with `take`, a free or the oldest slot. */
static sess_slot_t *sess_find(const char *key, int take)
{
    sess_slot_t *oldest = &sess_slots[0];
    int i;

    for (i = 0; i < SESS_SLOTS; i++) {
        if (sess_slots[i].sess != NULL && strcmp(sess_slots[i].key, key) == 0) {
            return &sess_slots[i];
        }
        if (sess_slots[i].sess == NULL) {
            oldest = oldest->sess == NULL ? oldest : &sess_slots[i];
        } else if (oldest->sess != NULL && sess_slots[i].used < oldest->used) {
            oldest = &sess_slots[i];
        }
    }
    return take ? oldest : NULL;
}

/* OpenSSL has a new session for a connection (after the handshake, or
 * a TLS 1.3 ticket read later): it becomes the backend's last one.
 * Returning 1 keeps the reference OpenSSL gave us. */
static int sess_new_cb(SSL *ssl, SSL_SESSION *sess)
{
    char key[SESS_KEY_MAX];
    sess_slot_t *slot;

    if (!SSL_SESSION_is_resumable(sess) ||
        !sess_key(ssl, SSL_get_fd(ssl), key, sizeof(key))) {
        return 0;
    }
    pthread_mutex_lock(&sess_lock);
    slot = sess_find(key, 1);
    if (slot->sess != NULL) {
        SSL_SESSION_free(slot->sess);
    }
    apr_cpystrn(slot->key, key, sizeof(slot->key));
    slot->sess = sess;
    slot->used = ++sess_clock;
    pthread_mutex_unlock(&sess_lock);
    return 1;
}

/* OpenSSL found a session bad (a failed handshake that tried it).  The
 * signature is OpenSSL's. */
// cppcheck-suppress constParameter
static void sess_remove_cb(SSL_CTX *ctx, SSL_SESSION *sess)
{
    int i;

    (void)ctx;
    pthread_mutex_lock(&sess_lock);
    for (i = 0; i < SESS_SLOTS; i++) {
        if (sess_slots[i].sess == sess) {
            SSL_SESSION_free(sess_slots[i].sess);
            sess_slots[i].sess = NULL;
        }
    }
    pthread_mutex_unlock(&sess_lock);
}

/* Offers the backend's last session to a new connection.  A TLS 1.3
 * ticket is used once (RFC 8446 8.1: reusing one lets an observer link
 * the connections); the backend sends fresh ones on every connection. */
static void sess_offer(SSL *ssl, int fd)
{
    char key[SESS_KEY_MAX];
    sess_slot_t *slot;

    if (!sess_key(ssl, fd, key, sizeof(key))) {
        return;
    }
    pthread_mutex_lock(&sess_lock);
    slot = sess_find(key, 0);
    if (slot != NULL) {
        SSL_set_session(ssl, slot->sess); /* takes its own reference */
        slot->used = ++sess_clock;
        if (SSL_SESSION_get_protocol_version(slot->sess) >= TLS1_3_VERSION) {
            SSL_SESSION_free(slot->sess);
            slot->sess = NULL;
        }
    }
    pthread_mutex_unlock(&sess_lock);
}

/* A generation's contexts are going: their sessions go with them (a new
 * SSL_CTX may get the address of an old one). */
static void sess_forget_all(void)
{
    int i;

    pthread_mutex_lock(&sess_lock);
    for (i = 0; i < SESS_SLOTS; i++) {
        if (sess_slots[i].sess != NULL) {
            SSL_SESSION_free(sess_slots[i].sess);
            sess_slots[i].sess = NULL;
        }
    }
    pthread_mutex_unlock(&sess_lock);
}

/* ------------------------------------------------------------------ */
/* The client SSL_CTX of a server                                     */
/* ------------------------------------------------------------------ */

/* The effective settings (defaults applied to what is still unset). */
static int eff_verify(const ssl_proxy_conf_t *pc)
{
    return pc->verify >= 0 ? pc->verify : PROXY_VERIFY_DEFAULT;
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Whether two servers would build the same context. */
static int same_settings(const ssl_proxy_conf_t *a, const ssl_proxy_conf_t *b)
{
    return eff_verify(a) == eff_verify(b) &&
           a->verify_depth == b->verify_depth &&
           same_str(a->ca_file, b->ca_file) &&
           same_str(a->ca_path, b->ca_path) &&
           (a->check_peer_name != 0) == (b->check_peer_name != 0) &&
           (a->check_peer_expire != 0) == (b->check_peer_expire != 0) &&
           same_str(a->protocol, b->protocol) &&
           same_str(a->cipher_suite, b->cipher_suite) &&
           same_str(a->cipher_suite13, b->cipher_suite13) &&
           same_str(a->machine_cert, b->machine_cert);
}

/* "error:...:certificate verify failed" or the like: OpenSSL's last
 * error, for a message about a file it would not read. */
static const char *openssl_reason(apr_pool_t *p)
{
    unsigned long e = ERR_peek_last_error();
    char buf[256];

    if (e == 0) {
        return "no detail from OpenSSL";
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return apr_pstrdup(p, buf);
}

/* "the main server" or "<VirtualHost> at file:line", for messages. */
static const char *server_label(apr_pool_t *p, const rl_server_t *s)
{
    if (!s->is_virtual) {
        return "the main server";
    }
    return apr_psprintf(p, "<VirtualHost> %s (%s:%u)",
                        s->server_name ? s->server_name : "",
                        s->defn_file ? s->defn_file : "?", s->defn_line);
}

static const char *ctx_trust(apr_pool_t *p, SSL_CTX *ctx,
                             const ssl_proxy_conf_t *pc)
{
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);

    if (eff_verify(pc) == 0) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (pc->ca_file != NULL || pc->ca_path != NULL) {
        if (!SSL_CTX_load_verify_locations(ctx, pc->ca_file, pc->ca_path)) {
            return apr_psprintf(p,
                                "SSLProxyCACertificate%s %s: OpenSSL cannot "
                                "read CA certificates from it (%s)",
                                pc->ca_file ? "File" : "Path",
                                pc->ca_file ? pc->ca_file : pc->ca_path,
                                openssl_reason(p));
        }
    } else if (!SSL_CTX_set_default_verify_paths(ctx)) {
        return apr_psprintf(p,
                            "SSLProxyVerify require without "
                            "SSLProxyCACertificateFile: the system's CA "
                            "certificates cannot be read (%s)",
                            openssl_reason(p));
    }
    if (pc->verify_depth >= 0) {
        SSL_CTX_set_verify_depth(ctx, pc->verify_depth);
    }
    if (pc->check_peer_expire == 0) {
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME);
    }
    return NULL;
}

static const char *ctx_identity(apr_pool_t *p, SSL_CTX *ctx,
                                const ssl_proxy_conf_t *pc)
{
    if (pc->machine_cert == NULL) {
        return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, pc->machine_cert) != 1) {
        return apr_psprintf(p,
                            "SSLProxyMachineCertificateFile %s: no "
                            "certificate in it that OpenSSL can read (%s)",
                            pc->machine_cert, openssl_reason(p));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, pc->machine_cert, SSL_FILETYPE_PEM) !=
        1) {
        return apr_psprintf(p,
                            "SSLProxyMachineCertificateFile %s: no private "
                            "key in it (the file holds the certificate, then "
                            "its unencrypted key): %s",
                            pc->machine_cert, openssl_reason(p));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        return apr_psprintf(p,
                            "SSLProxyMachineCertificateFile %s: the key does "
                            "not belong to the certificate",
                            pc->machine_cert);
    }
    return NULL;
}

static const char *ctx_protocols(apr_pool_t *p, SSL_CTX *ctx,
                                 const ssl_proxy_conf_t *pc)
{
    int min, max;
    const char *err = parse_protocol_text(
        p, pc->protocol ? pc->protocol : PROXY_PROTOCOLS_DEFAULT, &min, &max);

    if (err != NULL) {
        return apr_psprintf(p, "SSLProxyProtocol %s: %s", pc->protocol, err);
    }
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_max_proto_version(ctx, max);
    if (pc->cipher_suite != NULL &&
        !SSL_CTX_set_cipher_list(ctx, pc->cipher_suite)) {
        return apr_psprintf(p, "SSLProxyCipherSuite %s: %s", pc->cipher_suite,
                            openssl_reason(p));
    }
    if (pc->cipher_suite13 != NULL &&
        !SSL_CTX_set_ciphersuites(ctx, pc->cipher_suite13)) {
        return apr_psprintf(p, "SSLProxyCipherSuite TLSv1.3 %s: %s",
                            pc->cipher_suite13, openssl_reason(p));
    }
    return NULL;
}

static apr_status_t ctx_free(void *ctx)
{
    SSL_CTX_free(ctx);
    sess_forget_all();
    return APR_SUCCESS;
}

/* A client context for pc's settings, freed with pconf. */
static const char *ctx_build(apr_pool_t *pconf, const ssl_proxy_conf_t *pc,
                             SSL_CTX **out)
{
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    const char *err;

    if (ctx == NULL) {
        return apr_psprintf(pconf, "cannot create a TLS context (%s)",
                            openssl_reason(pconf));
    }
    apr_pool_cleanup_register(pconf, ctx, ctx_free, apr_pool_cleanup_null);
    /* no compression (CRIME), no renegotiation a backend could start */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    /* idle pooled connections give their record buffers back; a send
     * retried from another address (rl_io.h's contract) is allowed */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                            SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, sess_new_cb);
    SSL_CTX_sess_set_remove_cb(ctx, sess_remove_cb);
    if ((err = ctx_protocols(pconf, ctx, pc)) != NULL ||
        (err = ctx_trust(pconf, ctx, pc)) != NULL ||
        (err = ctx_identity(pconf, ctx, pc)) != NULL) {
        return err;
    }
    *out = ctx;
    return NULL;
}

const char *ssl_proxy_post_config(apr_pool_t *pconf, rl_server_t *main_s)
{
    rl_server_t *s, *o;

    for (s = main_s; s != NULL; s = s->next) {
        ssl_proxy_conf_t *pc = &ssl_sconf(s)->proxy;
        const char *err;

        pc->ctx = NULL;
        if (pc->engine != 1) {
            continue;
        }
        /* a vhost that only inherits the main server's settings shares
         * its context (and so its sessions) */
        for (o = main_s; o != s; o = o->next) {
            const ssl_proxy_conf_t *oc = &ssl_sconf(o)->proxy;
            if (oc->ctx != NULL && same_settings(oc, pc)) {
                pc->ctx = oc->ctx;
                break;
            }
        }
        if (pc->ctx != NULL) {
            continue;
        }
        err = ctx_build(pconf, pc, &pc->ctx);
        if (err != NULL) {
            pc->ctx = NULL;
            return apr_psprintf(pconf, "%s (TLS to backends, %s)", err,
                                server_label(pconf, s));
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The provider's side                                                */
/* ------------------------------------------------------------------ */

int ssl_proxy_enabled(const rl_server_t *s)
{
    return ssl_sconf(s)->proxy.engine == 1;
}

static int host_is_ip(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1 ||
           inet_pton(AF_INET6, host, buf) == 1;
}

/* "backend app1.example:443" (an IPv6 address in brackets), for logs. */
static void peer_label(char *buf, apr_size_t len, const char *host, int fd)
{
    struct sockaddr_storage sa;
    socklen_t sl = sizeof(sa);
    unsigned port = 0;

    if (getpeername(fd, (struct sockaddr *)&sa, &sl) == 0) {
        port = sa.ss_family == AF_INET6
                   ? ntohs(((const struct sockaddr_in6 *)&sa)->sin6_port)
                   : ntohs(((const struct sockaddr_in *)&sa)->sin_port);
    }
    apr_snprintf(buf, len,
                 strchr(host, ':') ? "backend [%s]:%u" : "backend %s:%u", host,
                 port);
}

/* The name (or address) the certificate must be for. */
static int expect_peer(SSL *ssl, const char *host, int is_ip)
{
    if (is_ip) {
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1;
    }
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl, host) == 1;
}

rl_io_t *ssl_proxy_open(const rl_server_t *s, int fd, const char *host,
                        const char **err)
{
    const ssl_proxy_conf_t *pc = &ssl_sconf(s)->proxy;
    int is_ip = host_is_ip(host);
    char peer[300];
    rl_io_t *io;
    SSL *ssl;

    if (pc->engine != 1 || pc->ctx == NULL) {
        *err = "SSLProxyEngine is not on for this server";
        return NULL;
    }
    ssl = SSL_new(pc->ctx);
    if (ssl == NULL) {
        ERR_clear_error();
        *err = "cannot create a TLS connection (out of memory)";
        return NULL;
    }
    SSL_set_connect_state(ssl);
    /* SNI is the URL's host name, never the client's Host (httpd); an
     * address is not sent (RFC 6066 3) */
    if ((!is_ip && SSL_set_tlsext_host_name(ssl, host) != 1) ||
        (eff_verify(pc) > 0 && pc->check_peer_name != 0 &&
         !expect_peer(ssl, host, is_ip))) {
        SSL_free(ssl);
        ERR_clear_error();
        *err = "the backend's host name cannot be used for TLS (too long?)";
        return NULL;
    }
    sess_offer(ssl, fd);
    peer_label(peer, sizeof(peer), host, fd);
    io = ssl_io_new(ssl, fd, s, peer, 1);
    if (io == NULL) {
        *err = "cannot create a TLS connection (out of memory)";
        return NULL;
    }
    return io;
}
