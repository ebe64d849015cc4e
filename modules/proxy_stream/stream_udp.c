/*
 * stream_udp.c: UDP balancing, by sessions.
 *
 * A `Listen … udp` listener is a bound datagram socket that no MPM
 * touches.  In every child one thread (started in child_init, under
 * every MPM) waits on all of them with its own epoll.  A datagram from a
 * client address that has no session yet opens one: a member is chosen
 * (the balancer, as for TCP) and a socket connect()ed to it; the
 * datagram and the client's later ones go out on that socket, and what
 * comes back on it is sent to that client from the listener's address.
 * So replies always reach the client that asked, and a member sees one
 * stable source per client.
 *
 * A session ends when nothing moved for ProxyStreamTimeout
 * ("idle-timeout"), once it got ProxyStreamUDPResponses replies for
 * each datagram the client sent, when set ("responses": 1 for DNS, one
 * question one answer), or when the table
 * (ProxyStreamUDPSessions per listener and child) is full and a new
 * client comes: the session idle the longest makes room ("evicted").
 * Sessions are kept in a list by last activity, so expiry and eviction
 * look at its tail only.
 *
 * A member that is down answers with an ICMP port unreachable, which a
 * connected UDP socket reports as ECONNREFUSED: the member is counted
 * failed (passive health, as a refused TCP connect) and, when it has not
 * answered this session yet, the session's last datagram goes to another
 * member (failover, up to the balancer's maxattempts), so the client
 * does not have to ask again.
 *
 * Children share each listener socket; EPOLLEXCLUSIVE wakes one of them
 * per datagram.  A client's datagrams may therefore reach several
 * children, each with its own session: lbmethod=source sends them all to
 * the same member.
 *
 * On a graceful restart or stop the thread stops reading the listeners
 * (the new generation's children take the datagrams) and lets the open
 * sessions end by themselves; child_exit ends the rest ("shutdown").
 */
#include "stream_private.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

RL_LOG_USE_MODULE(proxy_stream);

#define UDP_MAX_DGRAM 65536
#define UDP_BATCH 64 /* datagrams read per wake-up and socket */

enum udp_kind { UK_LISTENER = 1, UK_SESSION, UK_WAKE };

typedef struct udp_sess_t udp_sess_t;

/* A udp listener with a ProxyStream, and its sessions. */
typedef struct udp_listener_t {
    enum udp_kind kind;
    rl_listener_t *l;
    rl_server_t *s;
    stream_conf_t *conf;
    apr_interval_time_t timeout;
    int max_sessions, responses;
    apr_hash_t *sessions; /* client address key -> udp_sess_t */
    int nsessions;
    udp_sess_t *newest, *oldest; /* by last activity */
    int reading;                 /* in the epoll set */
} udp_listener_t;

struct udp_sess_t {
    enum udp_kind kind;
    udp_listener_t *ul;
    udp_sess_t *newer, *older;
    unsigned char key[20];
    apr_size_t keylen;
    struct sockaddr_storage peer;
    socklen_t peerlen;
    char client[64]; /* "ip:port", for the log */
    char ip[INET6_ADDRSTRLEN];
    unsigned port;
    int fd;
    rl_proxy_worker_t *w;
    char tried[256];              /* RL_PROXY_NOTE_TRIED */
    int attempts, replies, asked; /* asked: datagrams from the client */
    apr_uint64_t up, down;
    apr_time_t start, last;
    char *pending; /* the last datagram, kept until a first reply */
    apr_size_t pending_len;
};

/* The thread's state (one per child). */
static struct {
    apr_pool_t *pool;
    apr_thread_t *thread;
    int ep, wake;
    volatile int stop;
    apr_array_header_t *listeners; /* udp_listener_t * */
    apr_pool_t *scratch;           /* a pick's stand-in request */
    char *buf;
    enum udp_kind wake_kind;
} udp;


/* ---------------------------------------------------------------- */
/* Sessions                                                         */
/* ---------------------------------------------------------------- */

static apr_size_t udp_key(const struct sockaddr_storage *ss, unsigned char *k)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        k[0] = 4;
        memcpy(k + 1, &in->sin_port, 2);
        memcpy(k + 3, &in->sin_addr, 4);
        return 7;
    }
    {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        k[0] = 6;
        memcpy(k + 1, &in6->sin6_port, 2);
        memcpy(k + 3, &in6->sin6_addr, 16);
        return 19;
    }
}


static void udp_client_text(udp_sess_t *u)
{
    if (u->peer.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&u->peer;
        inet_ntop(AF_INET, &in->sin_addr, u->ip, sizeof(u->ip));
        u->port = ntohs(in->sin_port);
        apr_snprintf(u->client, sizeof(u->client), "%s:%u", u->ip, u->port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&u->peer;
        inet_ntop(AF_INET6, &in6->sin6_addr, u->ip, sizeof(u->ip));
        u->port = ntohs(in6->sin6_port);
        apr_snprintf(u->client, sizeof(u->client), "[%s]:%u", u->ip, u->port);
    }
}


static void udp_unlink(udp_sess_t *u)
{
    udp_listener_t *ul = u->ul;

    if (u->newer) {
        u->newer->older = u->older;
    } else {
        ul->newest = u->older;
    }
    if (u->older) {
        u->older->newer = u->newer;
    } else {
        ul->oldest = u->newer;
    }
    u->newer = u->older = NULL;
}


/* Moves u to the front: it just moved bytes. */
static void udp_touch(udp_sess_t *u, apr_time_t now)
{
    udp_listener_t *ul = u->ul;

    u->last = now;
    if (ul->newest == u) {
        return;
    }
    if (u->newer || u->older || ul->oldest == u) {
        udp_unlink(u);
    }
    u->older = ul->newest;
    if (ul->newest) {
        ul->newest->newer = u;
    }
    ul->newest = u;
    if (ul->oldest == NULL) {
        ul->oldest = u;
    }
}


/* A stand-in connection and request for the balancer (scratch pool). */
static rl_request_t *udp_request(udp_sess_t *u)
{
    rl_conn_t *c;
    rl_request_t *r;

    apr_pool_clear(udp.scratch);
    c = apr_pcalloc(udp.scratch, sizeof(*c));
    c->pool = udp.scratch;
    c->fd = -1;
    c->listener = u->ul->l;
    c->base_server = u->ul->s;
    c->client_ip = u->ip;
    c->client_port = (apr_port_t)u->port;
    c->local_ip = "";
    r = stream_request(c, u->ul->s);
    if (u->tried[0] != '\0') {
        apr_table_set(r->notes, RL_PROXY_NOTE_TRIED, u->tried);
    }
    return r;
}


/* The session is over: log it, release its member. */
static void udp_end(udp_sess_t *u, const char *cause)
{
    udp_listener_t *ul = u->ul;
    stream_log_rec_t rec;

    udp_unlink(u);
    apr_hash_set(ul->sessions, u->key, (apr_ssize_t)u->keylen, NULL);
    ul->nsessions--;
    if (u->fd >= 0) {
        close(u->fd); /* closing removes it from the epoll set */
    }
    if (u->w != NULL) {
        stream_release(udp_request(u), u->w,
                       strcmp(cause, "member-error") == 0
                           ? RL_PROXY_BAD_RESPONSE
                           : RL_PROXY_OK);
    }
    memset(&rec, 0, sizeof(rec));
    rec.client = u->client;
    rec.listener = ul->l->name;
    rec.proto = "udp";
    rec.balancer = ul->conf->balancer ? ul->conf->balancer->name : "-";
    rec.member = u->w ? u->w->name : "-";
    rec.up = u->up;
    rec.down = u->down;
    rec.start = u->start;
    rec.end = apr_time_now();
    rec.attempts = u->attempts;
    rec.cause = cause;
    stream_log_write(ul->conf, &rec);
    free(u->pending);
    free(u);
}


/* Connects u to a member (another one after a failure).  0, or -1 when
 * none is left (the session is then ended). */
static int udp_connect(udp_sess_t *u)
{
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);
    struct epoll_event ev;

    for (;;) {
        rl_request_t *r;
        if (u->attempts >= stream_max_attempts(u->ul->conf)) {
            udp_end(u, u->attempts > 0 ? "connect-failed" : "no-member");
            return -1;
        }
        r = udp_request(u);
        u->w = stream_pick(r, u->ul->conf);
        if (u->w == NULL) {
            rl_log_error(RL_LOG_INFO, 0, u->ul->s,
                         "stream: udp %s from %s: no member can take it "
                         "(all in error, disabled, stopped or failing "
                         "health checks)",
                         u->ul->conf->target, u->client);
            udp_end(u, u->attempts > 0 ? "connect-failed" : "no-member");
            return -1;
        }
        u->attempts++;
        if (rl_proxy_worker_address(u->w, &sa, &salen) != 0) {
            u->fd = socket(sa.ss_family,
                           SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (u->fd >= 0 &&
                connect(u->fd, (struct sockaddr *)&sa, salen) == 0) {
                break;
            }
            if (u->fd >= 0) {
                close(u->fd);
                u->fd = -1;
            }
        }
        apr_snprintf(u->tried + strlen(u->tried),
                     sizeof(u->tried) - strlen(u->tried), "%s%d,",
                     u->tried[0] ? "" : ",", u->w->index);
        stream_attempt_failed(r, u->w, "cannot reach it (address, socket)");
        u->w = NULL;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = u;
    epoll_ctl(udp.ep, EPOLL_CTL_ADD, u->fd, &ev);
    return 0;
}


static int udp_failover(udp_sess_t *u);

/* Sends the datagram to u's member.  -1 when the session ended. */
static int udp_forward(udp_sess_t *u, const char *data, apr_size_t len)
{
    ssize_t n = send(u->fd, data, len, 0);

    if (n >= 0) {
        u->up += (apr_uint64_t)n;
        __atomic_fetch_add(&u->w->s->bytes_out, (apr_uint64_t)n,
                           __ATOMIC_RELAXED);
        return 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
        return 0; /* a full queue drops it, as the network would */
    }
    if (errno != ECONNREFUSED) {
        udp_end(u, "error");
        return -1;
    }
    /* an earlier datagram found the port closed: another member (which
     * gets the pending datagram, this one) */
    return udp_failover(u);
}


/* The member refused (ICMP).  Counted failed; before any reply, the
 * session moves to another member.  0, or -1 when it ended. */
static int udp_failover(udp_sess_t *u)
{
    rl_request_t *r = udp_request(u);

    rl_log_error(RL_LOG_INFO, 0, u->ul->s,
                 "stream: udp member %s refused a datagram from %s (port "
                 "unreachable)",
                 u->w->name, u->client);
    apr_snprintf(u->tried + strlen(u->tried),
                 sizeof(u->tried) - strlen(u->tried), "%s%d,",
                 u->tried[0] ? "" : ",", u->w->index);
    stream_attempt_failed(r, u->w, "port unreachable");
    u->w = NULL;
    close(u->fd);
    u->fd = -1;
    if (u->replies > 0 || u->pending == NULL) {
        udp_end(u, "member-error");
        return -1;
    }
    if (udp_connect(u) < 0) {
        return -1;
    }
    return udp_forward(u, u->pending, u->pending_len);
}


/* Keeps the datagram until the member first answers (for a failover). */
static void udp_keep(udp_sess_t *u, const char *data, apr_size_t len)
{
    char *p;

    if (u->replies > 0) {
        return;
    }
    p = realloc(u->pending, len > 0 ? len : 1);
    if (p == NULL) {
        return;
    }
    memcpy(p, data, len);
    u->pending = p;
    u->pending_len = len;
}


/* A new client: a session, room made by evicting the one idle longest. */
static udp_sess_t *udp_open(udp_listener_t *ul,
                            const struct sockaddr_storage *peer,
                            socklen_t peerlen, const unsigned char *key,
                            apr_size_t keylen, apr_time_t now)
{
    udp_sess_t *u;

    if (ul->nsessions >= ul->max_sessions && ul->oldest != NULL) {
        udp_end(ul->oldest, "evicted");
    }
    u = calloc(1, sizeof(*u));
    if (u == NULL) {
        return NULL;
    }
    u->kind = UK_SESSION;
    u->ul = ul;
    u->fd = -1;
    memcpy(&u->peer, peer, (size_t)peerlen);
    u->peerlen = peerlen;
    memcpy(u->key, key, keylen);
    u->keylen = keylen;
    u->start = now;
    udp_client_text(u);
    apr_hash_set(ul->sessions, u->key, (apr_ssize_t)u->keylen, u);
    ul->nsessions++;
    udp_touch(u, now);
    if (udp_connect(u) < 0) {
        return NULL;
    }
    return u;
}


/* Datagrams from clients on a listener. */
static void udp_from_clients(udp_listener_t *ul)
{
    int i;

    for (i = 0; i < UDP_BATCH && ul->reading; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        unsigned char key[20];
        apr_size_t klen;
        udp_sess_t *u;
        apr_time_t now;
        ssize_t n = recvfrom(ul->l->fd, udp.buf, UDP_MAX_DGRAM, 0,
                             (struct sockaddr *)&peer, &plen);

        if (n < 0) {
            return; /* EAGAIN: another child took it, or none left */
        }
        if (peer.ss_family != AF_INET && peer.ss_family != AF_INET6) {
            continue;
        }
        now = apr_time_now();
        klen = udp_key(&peer, key);
        u = apr_hash_get(ul->sessions, key, (apr_ssize_t)klen);
        if (u == NULL) {
            u = udp_open(ul, &peer, plen, key, klen, now);
            if (u == NULL) {
                continue;
            }
        }
        udp_touch(u, now);
        u->asked++;
        udp_keep(u, udp.buf, (apr_size_t)n);
        udp_forward(u, udp.buf, (apr_size_t)n);
    }
}


/* Replies from a member, to its client. */
static void udp_from_member(udp_sess_t *u)
{
    udp_listener_t *ul = u->ul;
    int i;

    for (i = 0; i < UDP_BATCH; i++) {
        ssize_t n = recv(u->fd, udp.buf, UDP_MAX_DGRAM, 0);
        if (n < 0) {
            if (errno == ECONNREFUSED) {
                udp_failover(u);
            }
            return;
        }
        if (sendto(ul->l->fd, udp.buf, (size_t)n, 0,
                   (struct sockaddr *)&u->peer, u->peerlen) < 0 &&
            errno != EAGAIN && errno != ENOBUFS) {
            rl_log_error(RL_LOG_DEBUG, APR_FROM_OS_ERROR(errno), ul->s,
                         "stream: udp reply to %s", u->client);
        }
        if (u->replies == 0) {
            rl_proxy_worker_succeeded(u->w);
            free(u->pending);
            u->pending = NULL;
        }
        u->replies++;
        u->down += (apr_uint64_t)n;
        __atomic_fetch_add(&u->w->s->bytes_in, (apr_uint64_t)n,
                           __ATOMIC_RELAXED);
        udp_touch(u, apr_time_now());
        /* nginx's proxy_responses: n replies per datagram asked */
        if (ul->responses > 0 && u->replies >= ul->responses * u->asked) {
            udp_end(u, "responses");
            return;
        }
    }
}


/* Ends the sessions idle past their timeout; returns how long until the
 * next one expires (ms, at most 1000). */
static int udp_expire(apr_time_t now)
{
    apr_time_t next = now + apr_time_from_sec(1);
    int i;

    for (i = 0; i < udp.listeners->nelts; i++) {
        udp_listener_t *ul = APR_ARRAY_IDX(udp.listeners, i, udp_listener_t *);
        while (ul->oldest != NULL && ul->oldest->last + ul->timeout <= now) {
            udp_end(ul->oldest, "idle-timeout");
        }
        if (ul->oldest != NULL && ul->oldest->last + ul->timeout < next) {
            next = ul->oldest->last + ul->timeout;
        }
    }
    return (int)((next - now + 999) / 1000);
}


/* Graceful restart or stop: the listeners are the new children's now. */
static void udp_stop_reading(void)
{
    int i;

    for (i = 0; i < udp.listeners->nelts; i++) {
        udp_listener_t *ul = APR_ARRAY_IDX(udp.listeners, i, udp_listener_t *);
        if (ul->reading) {
            epoll_ctl(udp.ep, EPOLL_CTL_DEL, ul->l->fd, NULL);
            ul->reading = 0;
        }
    }
}


static void *APR_THREAD_FUNC udp_main(apr_thread_t *thd, void *data)
{
    struct epoll_event evs[64];
    int i, ms = 0;

    (void)thd;
    (void)data;
    while (!udp.stop) {
        int n;
        if (rl_mpm_stopping()) {
            udp_stop_reading();
        }
        n = epoll_wait(udp.ep, evs, 64, ms);
        for (i = 0; i < n && !udp.stop; i++) {
            enum udp_kind *k = evs[i].data.ptr;
            if (*k == UK_LISTENER) {
                udp_from_clients((udp_listener_t *)k);
            } else if (*k == UK_SESSION) {
                udp_from_member((udp_sess_t *)k);
            }
        }
        ms = udp_expire(apr_time_now());
    }
    /* a plain return, not apr_thread_exit(): pthread_exit() unwinds
     * without unpoisoning this stack, which ASan then reports when the
     * thread ends */
    return NULL;
}


/* The udp listeners this child serves. */
static void udp_collect(apr_pool_t *p)
{
    rl_listener_t *l;

    udp.listeners = apr_array_make(p, 2, sizeof(udp_listener_t *));
    for (l = rl_listeners(); l != NULL; l = l->next) {
        stream_conf_t *conf;
        udp_listener_t *ul;
        if (!l->datagram || strcmp(l->protocol, "udp") != 0 ||
            l->default_server == NULL) {
            continue;
        }
        conf = stream_conf(l->default_server);
        if (conf->target == NULL) {
            continue;
        }
        ul = apr_pcalloc(p, sizeof(*ul));
        ul->kind = UK_LISTENER;
        ul->l = l;
        ul->s = l->default_server;
        ul->conf = conf;
        ul->timeout = stream_idle_timeout(ul->s);
        ul->max_sessions =
            conf->udp_sessions > 0 ? conf->udp_sessions : STREAM_UDP_SESSIONS;
        ul->responses = conf->udp_responses > 0 ? conf->udp_responses : 0;
        ul->sessions = apr_hash_make(p);
        APR_ARRAY_PUSH(udp.listeners, udp_listener_t *) = ul;
    }
}


void stream_udp_start(apr_pool_t *pchild, rl_server_t *s)
{
    struct epoll_event ev;
    apr_status_t rv;
    int i;

    memset(&udp, 0, sizeof(udp));
    udp.ep = udp.wake = -1;
    udp_collect(pchild);
    if (udp.listeners->nelts == 0) {
        return;
    }
    udp.pool = pchild;
    apr_pool_create(&udp.scratch, pchild);
    udp.buf = apr_palloc(pchild, UDP_MAX_DGRAM);
    udp.ep = epoll_create1(EPOLL_CLOEXEC);
    udp.wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (udp.ep < 0 || udp.wake < 0) {
        rl_log_error(RL_LOG_ERR, APR_FROM_OS_ERROR(errno), s,
                     "stream: cannot serve the udp listeners (epoll)");
        return;
    }
    udp.wake_kind = UK_WAKE;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = &udp.wake_kind;
    epoll_ctl(udp.ep, EPOLL_CTL_ADD, udp.wake, &ev);
    for (i = 0; i < udp.listeners->nelts; i++) {
        udp_listener_t *ul = APR_ARRAY_IDX(udp.listeners, i, udp_listener_t *);
        memset(&ev, 0, sizeof(ev));
        /* one child wakes per datagram, not all of them */
        ev.events = EPOLLIN | EPOLLEXCLUSIVE;
        ev.data.ptr = ul;
        if (epoll_ctl(udp.ep, EPOLL_CTL_ADD, ul->l->fd, &ev) == 0) {
            ul->reading = 1;
        }
    }
    rv = apr_thread_create(&udp.thread, NULL, udp_main, NULL, pchild);
    if (rv != APR_SUCCESS) {
        rl_log_error(RL_LOG_ERR, rv, s, "stream: cannot start the udp thread");
        udp.thread = NULL;
    }
}


void stream_udp_stop(void)
{
    apr_status_t rv;
    apr_uint64_t one = 1;
    int i;

    if (udp.thread == NULL) {
        return;
    }
    udp.stop = 1;
    if (write(udp.wake, &one, sizeof(one)) < 0) {
        /* the thread wakes within a second anyway */
    }
    apr_thread_join(&rv, udp.thread);
    udp.thread = NULL;
    for (i = 0; i < udp.listeners->nelts; i++) {
        udp_listener_t *ul = APR_ARRAY_IDX(udp.listeners, i, udp_listener_t *);
        while (ul->oldest != NULL) {
            udp_end(ul->oldest, "shutdown");
        }
    }
    close(udp.ep);
    close(udp.wake);
    udp.ep = udp.wake = -1;
}
