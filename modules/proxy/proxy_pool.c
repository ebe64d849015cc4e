/*
 * proxy_pool.c: keep-alive connections to backends, kept per thread.
 *
 * Under the event MPM a thread is an event loop, and a connection belongs
 * to the loop that uses it, so the pool needs no lock: 1000 sequential
 * requests through one thread reuse one backend connection.  A pooled
 * connection is checked before reuse (the backend may have closed it
 * while it sat idle) and dropped after ttl= seconds idle.  max= caps the
 * connections one child opens to a backend (all threads together).
 */
#include "proxy_private.h"

#include <apr_atomic.h>
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#define POOL_MAX_WORKERS 4096

/* Idle connections of this thread, one list per worker index. */
static __thread proxy_conn_t **idle_lists;
/* Frees a thread's lists when it ends (worker and event MPM threads stop
 * with their child): the same pointer, held under a key with a
 * destructor, since __thread storage has none. */
static pthread_key_t idle_key;
static pthread_once_t idle_once = PTHREAD_ONCE_INIT;

/* At thread exit the event loop is gone: close directly, no MPM call. */
static void idle_lists_free(void *lists)
{
    proxy_conn_t **l = lists;
    int i;

    for (i = 0; i < POOL_MAX_WORKERS; i++) {
        while (l[i] != NULL) {
            proxy_conn_t *bc = l[i];
            l[i] = bc->next;
            rl_io_destroy(bc->io);
            close(bc->fd);
            free(bc);
        }
    }
    free(l);
}

static void idle_key_make(void)
{
    pthread_key_create(&idle_key, idle_lists_free);
}
/* Connections open per worker in this child (all threads). */
static volatile apr_uint32_t open_count[POOL_MAX_WORKERS];

/* True when an idle connection is still usable: no EOF and no stray
 * bytes waiting (a stray byte would be read as the next response).  The
 * same holds over TLS: an idle backend sends nothing but a close_notify
 * or an alert, and either means the connection is done. */
static int still_alive(int fd)
{
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void proxy_conn_close(proxy_conn_t *bc)
{
    if (bc->worker->index >= 0 && bc->worker->index < POOL_MAX_WORKERS) {
        apr_atomic_dec32(&open_count[bc->worker->index]);
    }
    if (bc->io != NULL) {
        /* close_notify, so the backend sees an orderly end, not a cut */
        rl_io_shutdown(bc->io, bc->fd);
        rl_io_destroy(bc->io);
    }
    rl_watched_close(bc->fd); /* the MPM forgets it, then it is closed */
    free(bc);
}

int proxy_conn_detach(proxy_conn_t *bc, rl_io_t **io)
{
    int fd = bc->fd;

    *io = bc->io;

    if (bc->worker->index >= 0 && bc->worker->index < POOL_MAX_WORKERS) {
        apr_atomic_dec32(&open_count[bc->worker->index]);
    }
    free(bc);
    return fd;
}


/* The MPM saw an event on a pooled connection: stray bytes, the backend
 * closing it, or only the late edge of the response already read (a
 * request driven by its client socket may read its backend before that
 * backend's own event is handled).  One peek tells them apart. */
static void pool_stirred(void *ctx)
{
    static __thread int nested;
    proxy_conn_t *bc = ctx;

    bc->stirred = !still_alive(bc->fd);
    if (!bc->stirred && nested) {
        /* parked again and told at once: the MPM saw it closing */
        bc->stirred = 1;
    } else if (!bc->stirred) {
        /* Only the late edge.  The MPM tells of one stir per parking:
         * park again, or stray bytes arriving later would go unnoticed
         * and be read as the answer to the next request. */
        nested = 1;
        bc->parked = rl_watch_park(bc->fd, pool_stirred, bc);
        nested = 0;
    }
}

/* An idle connection to w, opened under the TLS settings of tls_key (see
 * proxy_conn_t), or NULL. */
proxy_conn_t *proxy_pool_get(rl_proxy_worker_t *w, const void *tls_key)
{
    apr_time_t now = apr_time_now();
    proxy_conn_t **link, *bc;

    if (idle_lists == NULL || w->index < 0 || w->index >= POOL_MAX_WORKERS) {
        return NULL;
    }
    link = &idle_lists[w->index];
    while ((bc = *link) != NULL) {
        if (bc->tls_key != tls_key) {
            link = &bc->next; /* verified under another server's rules */
            continue;
        }
        *link = bc->next;
        bc->next = NULL;
        /* Parked with the MPM (event), a connection that received data or
         * EOF while idle was flagged as it happened; otherwise one peek
         * finds out (a stray byte would be read as the next response). */
        if ((w->ttl > 0 && now - bc->idle_since > w->ttl) ||
            bc->addr_seq != w->s->addr_seq ||
            (bc->parked ? bc->stirred : !still_alive(bc->fd))) {
            /* expired, the name now resolves elsewhere, or closed */
            proxy_conn_close(bc);
            continue;
        }
        if (bc->parked) {
            rl_watch_park(bc->fd, NULL, NULL); /* in use again */
            bc->parked = 0;
        }
        return bc;
    }
    return NULL;
}

void proxy_pool_put(proxy_conn_t *bc)
{
    rl_proxy_worker_t *w = bc->worker;

    if (w->index < 0 || w->index >= POOL_MAX_WORKERS) {
        proxy_conn_close(bc);
        return;
    }
    if (idle_lists == NULL) {
        idle_lists = calloc(POOL_MAX_WORKERS, sizeof(*idle_lists));
        if (idle_lists == NULL) {
            proxy_conn_close(bc);
            return;
        }
        pthread_once(&idle_once, idle_key_make);
        pthread_setspecific(idle_key, idle_lists);
    }
    bc->idle_since = apr_time_now();
    bc->stirred = 0;
    bc->parked = rl_watch_park(bc->fd, pool_stirred, bc);
    bc->next = idle_lists[w->index];
    idle_lists[w->index] = bc;
}

/* Counts a connection about to be opened; refuses past max= (the count
 * goes up first, so two threads can never both take the last one). */
int proxy_pool_reserve(rl_proxy_worker_t *w)
{
    apr_uint32_t n;

    if (w->index < 0 || w->index >= POOL_MAX_WORKERS) {
        return 1;
    }
    n = apr_atomic_inc32(&open_count[w->index]) + 1;
    if (w->max > 0 && n > (apr_uint32_t)w->max) {
        apr_atomic_dec32(&open_count[w->index]);
        return 0;
    }
    return 1;
}


void proxy_pool_unreserve(rl_proxy_worker_t *w)
{
    if (w->index >= 0 && w->index < POOL_MAX_WORKERS) {
        apr_atomic_dec32(&open_count[w->index]);
    }
}
