/*
 * cache_refresh.c: background refreshes for stale-while-revalidate.
 *
 * A response with "Cache-Control: stale-while-revalidate=N" may be served
 * stale for N seconds past its freshness while the cache refreshes it.
 * Relais has no requests without a client, and a request's handler can
 * answer only its own client.  So a refresh is made a real request, sent
 * to the server itself:
 *
 *   1. the first request that finds the entry stale but inside the window
 *      claims the key's refresh marker (shared table, every child sees
 *      it), queues a refresh here and is answered at once with the stale
 *      copy (X-Cache: STALE); the requests after it see the marker and
 *      are answered stale without queueing;
 *   2. this child's refresher thread (started with the first refresh)
 *      connects to the very address and port the client came in on and
 *      sends "GET path" with the client's Host and the fields that may
 *      select a variant, plus "X-Relais-Cache-Refresh: <secret token>"
 *      and Connection: close;
 *   3. that request runs through the server like any other (vhost,
 *      location, acl, proxy, balancer): mod_cache recognises the token,
 *      skips the lookup and revalidates the entry with the backend
 *      (If-None-Match / If-Modified-Since; a 304 refreshes the stored
 *      metadata) or stores the new response;
 *   4. the thread reads the answer away, closes, and releases the marker
 *      (after a failure, the marker stays until it expires: one attempt
 *      per key every 30 s, not one per stale request).
 *
 * Nothing in the event loops waits: the thread does the blocking I/O, and
 * it polls in slices of 200 ms so that the child can stop it at exit.  A
 * refresh refused by an acl (the server's own address must be let
 * through) is logged once per child; the entry is then revalidated by the
 * first request after the window, as without stale-while-revalidate.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <apr_strings.h>

#include "cache_private.h"

RL_LOG_USE_MODULE(cache);

#define QUEUE_MAX 64
#define CONNECT_TIMEOUT apr_time_from_sec(3)
#define EXCHANGE_TIMEOUT apr_time_from_sec(60)
#define POLL_SLICE_MS 200

typedef struct refresh_job_t {
    struct refresh_job_t *next;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    apr_uint64_t marker;
    char *target; /* for the log */
    char *req;
    size_t len;
} refresh_job_t;

static pthread_mutex_t q_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static refresh_job_t *q_head, *q_tail;
static int q_len;
static volatile int stopping;
static int started, start_failed, refused_logged;
static pthread_t thread;
static rl_server_t *log_server;

/* Request fields a refresh does not copy: framing, hop-by-hop, the
 * client's own conditions (the refresh makes its own), and the token. */
static int refresh_skips(const char *name)
{
    static const char *const skip[] = {"Host",
                                       "Connection",
                                       "Keep-Alive",
                                       "TE",
                                       "Upgrade",
                                       "Proxy-Connection",
                                       "Proxy-Authorization",
                                       "Transfer-Encoding",
                                       "Content-Length",
                                       "Expect",
                                       "Range",
                                       "If-Range",
                                       "If-None-Match",
                                       "If-Modified-Since",
                                       "If-Match",
                                       "If-Unmodified-Since",
                                       "Cache-Control",
                                       "Pragma",
                                       CACHE_REFRESH_FIELD,
                                       NULL};
    int i;

    for (i = 0; skip[i] != NULL; i++) {
        if (strcasecmp(name, skip[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static char *build_request(rl_request_t *r, size_t *len)
{
    const apr_array_header_t *h = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)h->elts;
    const char *host = apr_table_get(r->headers_in, "Host");
    apr_array_header_t *parts =
        apr_array_make(r->pool, h->nelts + 4, sizeof(const char *));
    const char *s;
    char *out;
    int i;

    APR_ARRAY_PUSH(parts, const char *) =
        apr_pstrcat(r->pool, "GET ", r->uri, r->args ? "?" : "",
                    r->args ? r->args : "", " HTTP/1.1\r\nHost: ",
                    host                     ? host
                    : r->server->server_name ? r->server->server_name
                                             : r->connection->local_ip,
                    "\r\n", NULL);
    for (i = 0; i < h->nelts; i++) {
        if (e[i].key != NULL && !refresh_skips(e[i].key)) {
            APR_ARRAY_PUSH(parts, const char *) =
                apr_pstrcat(r->pool, e[i].key, ": ", e[i].val, "\r\n", NULL);
        }
    }
    APR_ARRAY_PUSH(parts, const char *) =
        apr_pstrcat(r->pool, CACHE_REFRESH_FIELD ": ", cache_shm_token(),
                    "\r\nConnection: close\r\n\r\n", NULL);
    s = apr_array_pstrcat(r->pool, parts, '\0');
    *len = strlen(s);
    out = malloc(*len);
    if (out != NULL) {
        memcpy(out, s, *len);
    }
    return out;
}

/* Waits until fd is ready for `events`, the deadline, or the child
 * stopping.  1 when ready. */
static int wait_fd(int fd, short events, apr_time_t deadline)
{
    for (;;) {
        struct pollfd pfd;
        apr_time_t left = deadline - apr_time_now();
        int ms, rc;

        if (stopping || left <= 0) {
            return 0;
        }
        ms = left > apr_time_from_msec(POLL_SLICE_MS)
                 ? POLL_SLICE_MS
                 : (int)apr_time_as_msec(left) + 1;
        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;
        rc = poll(&pfd, 1, ms);
        if (rc > 0) {
            return 1;
        }
        if (rc < 0 && errno != EINTR) {
            return 0;
        }
    }
}

/* The status of the answer, from its first bytes ("HTTP/1.1 403 …"). */
static int answer_status(const char *buf, size_t n)
{
    if (n < 12 || memcmp(buf, "HTTP/1.", 7) != 0) {
        return 0;
    }
    return (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
}

/* Sends the refresh and reads the answer away; returns its status (0
 * when there was none). */
static int run_job(refresh_job_t *j)
{
    apr_time_t deadline = apr_time_now() + CONNECT_TIMEOUT;
    char buf[8192];
    size_t sent = 0, got = 0;
    int fd, status = 0, err = 0;
    socklen_t elen = sizeof(err);

    fd = socket(j->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0) {
        return 0;
    }
    if (connect(fd, (struct sockaddr *)&j->addr, j->addrlen) != 0 &&
        (errno != EINPROGRESS || !wait_fd(fd, POLLOUT, deadline) ||
         getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0)) {
        rl_log_error(RL_LOG_INFO, err ? APR_FROM_OS_ERROR(err) : 0, log_server,
                     "background refresh of %s: cannot connect to the "
                     "server's own listener",
                     j->target);
        close(fd);
        return 0;
    }
    deadline = apr_time_now() + EXCHANGE_TIMEOUT;
    while (sent < j->len) {
        ssize_t n = send(fd, j->req + sent, j->len - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(fd, POLLOUT, deadline)) {
                close(fd);
                return 0;
            }
        } else {
            close(fd);
            return 0;
        }
    }
    /* read the answer away: the server stores it as it passes */
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n > 0) {
            if (got == 0) {
                status = answer_status(buf, (size_t)n);
            }
            got += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(fd, POLLIN, deadline)) {
                continue;
            }
        }
        break;
    }
    close(fd);
    if ((status == 401 || status == 403 || status == 407) && !refused_logged) {
        refused_logged = 1;
        rl_log_error(RL_LOG_WARNING, 0, log_server,
                     "background refresh of %s was refused with %d: "
                     "stale-while-revalidate refreshes come from the "
                     "server's own address, which the acl must let through "
                     "(the entry is revalidated by a client request instead)",
                     j->target, status);
    }
    return status;
}

static void *refresher(void *unused)
{
    (void)unused;
    for (;;) {
        refresh_job_t *j;

        pthread_mutex_lock(&q_mutex);
        while (q_head == NULL && !stopping) {
            pthread_cond_wait(&q_cond, &q_mutex);
        }
        j = q_head;
        if (j != NULL) {
            q_head = j->next;
            if (q_head == NULL) {
                q_tail = NULL;
            }
            q_len--;
        }
        pthread_mutex_unlock(&q_mutex);
        if (j == NULL) {
            break; /* stopping */
        }
        /* a refresh that failed keeps its marker until it expires (30 s):
         * one attempt per key that long, not one per stale request */
        if (!stopping) {
            int status = run_job(j);
            if (status / 100 == 2 || status == 304) {
                cache_lock_release(j->marker);
            }
        }
        free(j->req);
        free(j->target);
        free(j);
    }
    return NULL;
}

/* Starts the thread with every signal blocked: signals are the MPM's
 * business, on its own threads.  Called with q_mutex held. */
static int start_thread(void)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&thread, NULL, refresher, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        start_failed = 1;
        rl_log_error(RL_LOG_ERR, APR_FROM_OS_ERROR(rc), log_server,
                     "cannot start the background refresh thread: a request "
                     "inside stale-while-revalidate revalidates in the "
                     "foreground instead");
        return 0;
    }
    started = 1;
    return 1;
}

int cache_refresh_queue(rl_request_t *r, apr_uint64_t marker)
{
    refresh_job_t *j;
    int ok = 0;

    if (log_server == NULL || start_failed) {
        return 0; /* child_init did not run: not in a child */
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return 0;
    }
    j->addrlen = sizeof(j->addr);
    /* an HTTP/2 stream has no socket: its connection's address */
    if (getsockname(r->connection->master ? r->connection->master->fd
                                          : r->connection->fd,
                    (struct sockaddr *)&j->addr, &j->addrlen) != 0) {
        free(j);
        return 0;
    }
    j->marker = marker;
    j->req = build_request(r, &j->len);
    j->target = strdup(r->uri);
    if (j->req == NULL || j->target == NULL) {
        free(j->req);
        free(j->target);
        free(j);
        return 0;
    }
    pthread_mutex_lock(&q_mutex);
    if (!stopping && q_len < QUEUE_MAX && (started || start_thread())) {
        if (q_tail != NULL) {
            q_tail->next = j;
        } else {
            q_head = j;
        }
        q_tail = j;
        q_len++;
        ok = 1;
        pthread_cond_signal(&q_cond);
    }
    pthread_mutex_unlock(&q_mutex);
    if (!ok) {
        free(j->req);
        free(j->target);
        free(j);
    }
    return ok;
}

static apr_status_t refresh_child_exit(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&q_mutex);
    stopping = 1;
    pthread_cond_broadcast(&q_cond);
    pthread_mutex_unlock(&q_mutex);
    if (started) {
        /* bounded: the thread looks at `stopping` every 200 ms */
        pthread_join(thread, NULL);
        started = 0;
    }
    return APR_SUCCESS;
}

void cache_refresh_child_init(apr_pool_t *pchild, rl_server_t *s)
{
    log_server = s;
    apr_pool_cleanup_register(pchild, NULL, refresh_child_exit,
                              apr_pool_cleanup_null);
}
