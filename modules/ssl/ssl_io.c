/*
 * ssl_io.c: the TLS transport (include/rl_io.h) of client connections
 * and, for ssl_proxy.c, of backend connections.
 *
 * The core reads and writes a connection through rl_io_recv() and
 * rl_io_send() as it would a non-blocking socket, and relies on two
 * promises (rl_io.h):
 *
 *  - a read shorter than asked means the socket is empty.  OpenSSL
 *    decrypts one record per SSL_read(), so recv loops until the
 *    caller's buffer is full or OpenSSL says WANT_READ (its own read
 *    met EAGAIN).  Stopping after one record would leave plaintext
 *    inside OpenSSL while the event MPM, edge-triggered, waits for a
 *    socket that already delivered everything;
 *  - bytes a send did not take are offered again, from the same first
 *    byte.  OpenSSL demands exactly that after WANT_WRITE (the record is
 *    already encrypted), and SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets the
 *    core offer them from another address.
 *
 * The handshake runs inside the first recv or send, either side.  On the
 * server side the first bytes are peeked at before OpenSSL sees them: a
 * TLS connection starts with a handshake record (0x16), a browser that
 * was given http:// starts with a method name, and gets a plain 400
 * saying what to do instead of an unreadable alert.
 *
 * Every SSL is malloc'd, never pool memory: an idle keep-alive
 * connection gives its pool back (rl_http.h) while its TLS state lives on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <apr_strings.h>

#include <openssl/err.h>

#include "ssl_server.h"

RL_LOG_USE_MODULE(ssl);

/* How much of a plain HTTP request is read and dropped before the 400,
 * so that closing does not turn into a reset that destroys the answer. */
#define PLAIN_DRAIN_MAX 65536

typedef struct ssl_io_t {
    rl_io_t io; /* first: the core's handle is our state */
    SSL *ssl;
    const rl_server_t *server;
    rl_conn_t *c; /* client side of a server connection, else NULL */
    char *peer;   /* "203.0.113.9:51234", "backend app1:443" */
    unsigned is_client : 1;
    unsigned handshaked : 1;
    unsigned sniffed : 1;  /* first bytes checked for plain HTTP */
    unsigned fatal : 1;    /* no close_notify may follow */
    unsigned shut : 1;     /* close_notify sent */
    unsigned generous : 1; /* optional_no_ca let an unverified cert in */
    apr_status_t rd_final; /* EOF or error met after bytes were returned */
} ssl_io_t;


/* OpenSSL wants its error queue empty before each SSL_* call whose
 * failure is read with SSL_get_error(); it nearly always is, and
 * ERR_clear_error() walks the queue's 16 slots each time, so look
 * first. */
static inline void clear_errors(void)
{
    if (ERR_peek_error() != 0) {
        ERR_clear_error();
    }
}

static int ssl_io_idx = -1;

void ssl_io_init(void)
{
    /* each load of the module (a generation) takes a slot: a few ints */
    ssl_io_idx = SSL_get_ex_new_index(0, "relais ssl_io", NULL, NULL, NULL);
}

static ssl_io_t *io_of_ssl(const SSL *ssl)
{
    return ssl_io_idx < 0 ? NULL : SSL_get_ex_data(ssl, ssl_io_idx);
}

void ssl_io_set_conn(rl_io_t *io, rl_conn_t *c)
{
    ((ssl_io_t *)io)->c = c;
}

rl_conn_t *ssl_io_conn_of(const SSL *ssl)
{
    ssl_io_t *t = io_of_ssl(ssl);

    return t != NULL ? t->c : NULL;
}

void ssl_io_note_generous(SSL *ssl)
{
    ssl_io_t *t = io_of_ssl(ssl);

    if (t != NULL) {
        t->generous = 1;
    }
}

int ssl_io_generous(const SSL *ssl)
{
    ssl_io_t *t = io_of_ssl(ssl);

    return t != NULL && t->generous;
}

/* ------------------------------------------------------------------ */
/* Reasons for log lines                                               */
/* ------------------------------------------------------------------ */

const char *ssl_error_reason(apr_pool_t *p, const SSL *ssl)
{
    unsigned long e = ERR_peek_last_error();
    const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;
    long vr;

    if (why == NULL) {
        why = e != 0 ? apr_psprintf(p, "OpenSSL error %lx", e)
                     : "no reason given by OpenSSL";
    }
    if (ssl != NULL && ERR_GET_LIB(e) == ERR_LIB_SSL &&
        ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
        (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
        return apr_psprintf(p, "%s (%s)", why,
                            X509_verify_cert_error_string(vr));
    }
    return why;
}

/* What a failure was doing, for its log line. */
typedef enum io_what_e { IO_HANDSHAKE, IO_RECV, IO_SEND } io_what_e;

static void io_log(ssl_io_t *t, int level, io_what_e what, const char *why)
{
    static const char *const server_side[] = {"TLS handshake failed",
                                              "TLS error while receiving",
                                              "TLS error while sending"};
    const char *sni;

    if (t->is_client || t->c == NULL) {
        if (what == IO_HANDSHAKE) {
            rl_log_error(level, 0, t->server,
                         "TLS handshake with %s failed: %s", t->peer, why);
        } else {
            rl_log_error(level, 0, t->server, "TLS error %s %s: %s",
                         what == IO_RECV ? "receiving from" : "sending to",
                         t->peer, why);
        }
        return;
    }
    sni = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
    rl_log_cerror(level, 0, t->c, "%s: %s%s%s%s", server_side[what], why,
                  sni ? " (SNI " : "", sni ? sni : "", sni ? ")" : "");
}

/* Logs OpenSSL's reason for the failure that just happened.  A small
 * pool of its own: the connection's may have been given back. */
static void log_failure(ssl_io_t *t, io_what_e what)
{
    int level = t->is_client ? RL_LOG_ERR : RL_LOG_INFO;
    apr_pool_t *p;

    if (!rl_log_enabled(&ssl_module, level, t->server) ||
        apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return;
    }
    io_log(t, level, what, ssl_error_reason(p, t->ssl));
    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------ */
/* Plain HTTP on a TLS port                                            */
/* ------------------------------------------------------------------ */

static const char plain_400[] =
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 48\r\n"
    "Connection: close\r\n"
    "\r\n"
    "This port speaks TLS: use https:// to reach it.\n";

static void plain_answer(ssl_io_t *t)
{
    char buf[4096];
    size_t drained = 0;
    ssize_t n;

    /* read what the client sent, so that the close is a FIN, not a RST
     * that could overtake the answer */
    while (drained < PLAIN_DRAIN_MAX) {
        n = recv(t->io.fd, buf, sizeof(buf), 0);
        if (n <= 0 && !(n < 0 && errno == EINTR)) {
            break;
        }
        drained += n > 0 ? (size_t)n : 0;
    }
    n = send(t->io.fd, plain_400, sizeof(plain_400) - 1, MSG_NOSIGNAL);
    (void)n; /* a client that is gone already needs no answer */
    shutdown(t->io.fd, SHUT_WR);
    if (t->c != NULL) {
        rl_log_cerror(RL_LOG_INFO, 0, t->c,
                      "plain HTTP request on a TLS port: answered 400 "
                      "(use https://)");
    }
}

/* Peeks at the first bytes of a server connection.  APR_SUCCESS: let
 * OpenSSL have them. */
static apr_status_t sniff(ssl_io_t *t)
{
    unsigned char b[1];
    ssize_t n;

    do {
        n = recv(t->io.fd, b, sizeof(b), MSG_PEEK);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        t->io.want = RL_WANT_READ;
        return APR_EAGAIN;
    }
    if (n == 0) {
        /* connected and closed without a word: a port check */
        t->fatal = 1;
        return APR_EOF;
    }
    if (n < 0) {
        t->fatal = 1;
        return APR_FROM_OS_ERROR(errno);
    }
    t->sniffed = 1;
    /* A TLS record of type handshake is 0x16; every HTTP method starts
     * with an upper-case letter, which no TLS or SSLv2 record does. */
    if (b[0] >= 'A' && b[0] <= 'Z') {
        plain_answer(t);
        t->fatal = 1;
        return APR_ECONNABORTED;
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Handshake                                                           */
/* ------------------------------------------------------------------ */

/* An end of stream as OpenSSL 3 reports it: SSL_ERROR_SYSCALL with
 * nothing queued (older) or SSL_R_UNEXPECTED_EOF_WHILE_READING. */
static int unexpected_eof(int err)
{
    unsigned long e = ERR_peek_last_error();

    if (err == SSL_ERROR_SYSCALL && e == 0) {
        return errno == 0 || errno == ECONNRESET || errno == EPIPE;
    }
    return err == SSL_ERROR_SSL && ERR_GET_LIB(e) == ERR_LIB_SSL &&
           ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

static apr_status_t handshake_failed(ssl_io_t *t, int err)
{
    t->fatal = 1;
    if (unexpected_eof(err) ||
        (err == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)) {
        /* a client that gave up, or a port check that said hello:
         * nothing an operator can act on; a backend doing it is news */
        apr_status_t rv = errno ? APR_FROM_OS_ERROR(errno) : APR_EOF;
        if (t->is_client) {
            char buf[120];
            io_log(t, RL_LOG_ERR, IO_HANDSHAKE,
                   rv == APR_EOF ? "the backend closed the connection"
                                 : apr_strerror(rv, buf, sizeof(buf)));
        } else if (t->c != NULL) {
            rl_log_cerror(RL_LOG_DEBUG, 0, t->c,
                          "the client closed the connection during the "
                          "TLS handshake");
        }
        clear_errors();
        return rv;
    }
    log_failure(t, IO_HANDSHAKE);
    clear_errors();
    return APR_ECONNABORTED;
}

static void log_handshake_done(ssl_io_t *t)
{
    const unsigned char *alpn = NULL;
    unsigned int alen = 0;
    const char *sni;

    if (t->c == NULL ||
        !rl_log_enabled(&ssl_module, RL_LOG_DEBUG, t->c->base_server)) {
        return;
    }
    SSL_get0_alpn_selected(t->ssl, &alpn, &alen);
    sni = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
    rl_log_cerror(RL_LOG_DEBUG, 0, t->c,
                  "TLS handshake done: %s %s%s%s, ALPN %.*s, session %s",
                  SSL_get_version(t->ssl),
                  SSL_CIPHER_get_name(SSL_get_current_cipher(t->ssl)),
                  sni ? ", SNI " : "", sni ? sni : "", alen ? (int)alen : 4,
                  alen ? (const char *)alpn : "none",
                  SSL_session_reused(t->ssl) ? "resumed" : "new");
}

static apr_status_t handshake(ssl_io_t *t)
{
    int n, err;

    if (!t->is_client && !t->sniffed) {
        apr_status_t rv = sniff(t);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    clear_errors();
    errno = 0;
    n = SSL_do_handshake(t->ssl);
    if (n == 1) {
        t->handshaked = 1;
        log_handshake_done(t);
        return APR_SUCCESS;
    }
    err = SSL_get_error(t->ssl, n);
    if (err == SSL_ERROR_WANT_READ) {
        t->io.want = RL_WANT_READ;
        return APR_EAGAIN;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
        t->io.want = RL_WANT_WRITE;
        return APR_EAGAIN;
    }
    return handshake_failed(t, err);
}

/* ------------------------------------------------------------------ */
/* recv, send, shutdown, destroy                                       */
/* ------------------------------------------------------------------ */

/* What a failed SSL_read() or SSL_write() means for the caller. */
static apr_status_t io_error(ssl_io_t *t, int n, int writing)
{
    int err = SSL_get_error(t->ssl, n);

    switch (err) {
    case SSL_ERROR_WANT_READ:
        t->io.want = RL_WANT_READ;
        return APR_EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        t->io.want = RL_WANT_WRITE;
        return APR_EAGAIN;
    case SSL_ERROR_ZERO_RETURN:
        /* close_notify: the peer is done sending (we may still send) */
        return APR_EOF;
    default:
        break;
    }
    t->fatal = 1;
    if (unexpected_eof(err)) {
        if (t->c != NULL) {
            rl_log_cerror(RL_LOG_DEBUG, 0, t->c,
                          "the client closed the connection without a TLS "
                          "close_notify");
        }
        clear_errors();
        return writing ? APR_ECONNRESET : APR_EOF;
    }
    if (err == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0) {
        return errno ? APR_FROM_OS_ERROR(errno) : APR_ECONNRESET;
    }
    log_failure(t, writing ? IO_SEND : IO_RECV);
    clear_errors();
    return APR_EGENERAL;
}

static apr_status_t io_recv(rl_io_t *io, char *buf, apr_size_t len,
                            apr_size_t *got)
{
    ssl_io_t *t = (ssl_io_t *)io;
    apr_status_t rv;

    *got = 0;
    if (t->rd_final != APR_SUCCESS) {
        return t->rd_final;
    }
    if (!t->handshaked && (rv = handshake(t)) != APR_SUCCESS) {
        return rv;
    }
    while (*got < len) {
        apr_size_t want = len - *got;
        int n;

        clear_errors();
        errno = 0;
        n = SSL_read(t->ssl, buf + *got, want > INT_MAX ? INT_MAX : (int)want);
        if (n > 0) {
            *got += (apr_size_t)n;
            continue;
        }
        rv = io_error(t, n, 0);
        if (rv == APR_EAGAIN) {
            /* the socket is empty: a short read says so */
            return *got > 0 ? APR_SUCCESS : APR_EAGAIN;
        }
        if (*got > 0) {
            t->rd_final = rv; /* for the next call */
            return APR_SUCCESS;
        }
        t->rd_final = rv;
        return rv;
    }
    return APR_SUCCESS;
}

static apr_status_t io_send(rl_io_t *io, const char *buf, apr_size_t len,
                            apr_size_t *sent)
{
    ssl_io_t *t = (ssl_io_t *)io;
    apr_status_t rv;

    *sent = 0;
    if (t->fatal) {
        return APR_ECONNRESET;
    }
    if (!t->handshaked && (rv = handshake(t)) != APR_SUCCESS) {
        return rv;
    }
    while (*sent < len) {
        apr_size_t want = len - *sent;
        int n;

        clear_errors();
        errno = 0;
        n = SSL_write(t->ssl, buf + *sent,
                      want > INT_MAX ? INT_MAX : (int)want);
        if (n > 0) {
            *sent += (apr_size_t)n;
            continue;
        }
        rv = io_error(t, n, 1);
        if (rv == APR_EOF) {
            rv = APR_ECONNRESET; /* a write after the peer's close_notify */
        }
        return rv;
    }
    return APR_SUCCESS;
}

static void io_shutdown(rl_io_t *io)
{
    ssl_io_t *t = (ssl_io_t *)io;

    if (t->handshaked && !t->fatal && !t->shut) {
        /* close_notify, without waiting for the peer's: the core closes
         * the socket next, and nobody reads after it */
        clear_errors();
        SSL_set_quiet_shutdown(t->ssl, 0);
        (void)SSL_shutdown(t->ssl);
        clear_errors();
    }
    t->shut = 1;
}

static void io_destroy(rl_io_t *io)
{
    ssl_io_t *t = (ssl_io_t *)io;

    SSL_free(t->ssl);
    clear_errors();
    free(t->peer);
    free(t);
}

static const rl_io_methods_t ssl_io_methods = {"tls", io_recv, io_send,
                                               io_shutdown, io_destroy};

rl_io_t *ssl_io_new(SSL *ssl, int fd, const rl_server_t *server,
                    const char *peer, int is_client)
{
    ssl_io_t *t = calloc(1, sizeof(*t));

    if (t == NULL || ssl_io_idx < 0 || !SSL_set_fd(ssl, fd)) {
        free(t);
        SSL_free(ssl);
        return NULL;
    }
    t->io.m = &ssl_io_methods;
    t->io.fd = fd;
    t->io.ctx = t;
    t->ssl = ssl;
    t->server = server;
    t->peer = strdup(peer != NULL ? peer : "-");
    t->is_client = is_client != 0;
    t->rd_final = APR_SUCCESS;
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                          SSL_MODE_RELEASE_BUFFERS);
    SSL_set_ex_data(ssl, ssl_io_idx, t);
    return &t->io;
}

SSL *ssl_io_ssl(const rl_io_t *io)
{
    return io != NULL && io->m == &ssl_io_methods ? ((ssl_io_t *)io)->ssl
                                                  : NULL;
}
