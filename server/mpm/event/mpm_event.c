/*
 * mpm_event.c: the event MPM (the default, and the one held to the
 * performance goals).
 *
 * Each child runs ThreadsPerChild threads; each thread owns one epoll loop
 * and every connection it accepts.  Listeners are in every loop with
 * EPOLLEXCLUSIVE, so the kernel wakes one loop per new connection.
 * Connections are registered once, edge-triggered, for input and output;
 * the connection engine (rl_conn_run) always runs until the socket says
 * EAGAIN, so no edge is missed.  An idle keep-alive connection costs its
 * pool and an epoll entry, not a thread.
 */
#include "relais.h"

#include <apr_atomic.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <apr_thread_mutex.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

RL_LOG_USE_MODULE(mpm_event);

#define EV_BATCH 256
#define EV_ACCEPT_BATCH 64
#define EV_TICK_MS 250

enum ev_kind { EV_LISTENER = 1, EV_CONN, EV_WAKE };

/* Threads per child that run handlers declared blocking
 * (rl_handler_declare_blocking), so that they never stall a loop. */
#define EV_BLOCKING_THREADS 8

typedef struct ev_listener_t {
    enum ev_kind kind;
    rl_listener_t *l;
} ev_listener_t;

typedef struct ev_conn_t ev_conn_t;
typedef struct ev_loop_t ev_loop_t;

/* The descriptors a connection waits on besides its socket (a suspended
 * handler's backend, a tunnel's other side, what a protocol lists): their
 * slots name the connection as the owner. */
typedef struct ev_watch_t {
    int *fds; /* malloc'd, or NULL */
    int n, cap;
} ev_watch_t;

struct ev_conn_t {
    enum ev_kind kind;
    rl_conn_t *c;
    struct ev_loop_t *loop;
    struct ev_conn_t *job_next; /* in jobs or a loop's done list */
    int want;
    int rested; /* rl_conn_rest() said it holds no pool: until it runs */
    apr_time_t deadline;
    ev_watch_t watch;
    struct ev_conn_t *prev, *next;
};

/*
 * A watched descriptor (a backend socket) stays registered in the loop's
 * epoll, edge-triggered, from its first watch until it is closed
 * (rl_watched_close): watching it again for the next request is a store
 * in this table, not a system call.  Its epoll entry carries the
 * descriptor number (tagged), not a pointer, so the table may grow.
 * Edges that come while nobody waits on it (a pooled connection) are
 * dropped: the data or EOF stays in the socket, and the pool's liveness
 * check finds it before the connection is used again.
 */
typedef struct ev_slot_t {
    ev_conn_t *owner; /* the connection waiting on it, or NULL */
    int events;       /* RL_WANT_READ / RL_WANT_WRITE */
    int registered;   /* in this loop's epoll */
    int missed;       /* an edge came while its owner was busy elsewhere */
    int missed_in;    /* ... and it was data, EOF or an error */
    int peer_closed;  /* an event said EOF or error: never idle again */
    int trusted;      /* parked since its last watch: surely still the same
                         socket (a module closes watched descriptors with
                         rl_watched_close(); one that calls close() itself is
                         caught when another connection watches the number) */
    ev_conn_t *last_owner;
    rl_park_fn park; /* parked (pooled): told when it stirs */
    void *park_ctx;
} ev_slot_t;

#define EV_FD_TAG (1ULL << 63) /* epoll data: a descriptor, not a pointer */

struct ev_loop_t {
    int epfd;
    ev_slot_t *slots; /* by descriptor number */
    int nslots;
    int slot;
    int listening;
    int nconns;
    apr_allocator_t *alloc;
    ev_conn_t *conns;
    ev_listener_t *ls;
    int nls;
    apr_time_t next_tick; /* when ev_timers must look next */
    int stopping;         /* graceful stop begun */
    ev_conn_t *graveyard; /* closed during this batch, freed after it */
    pthread_t tid;
    apr_thread_mutex_t *alloc_lock;
    int wake_fd;               /* eventfd: a blocking handler finished */
    enum ev_kind wake_kind;    /* EV_WAKE, for the epoll entry */
    pthread_mutex_t done_lock; /* guards done */
    ev_conn_t *done;           /* back from the blocking threads */
};

/* Connections waiting for a blocking-handler thread (all loops). */
static pthread_mutex_t job_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_cond = PTHREAD_COND_INITIALIZER;
static ev_conn_t *jobs, **jobs_tail = &jobs;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static volatile apr_uint32_t accepted_total;
static volatile apr_uint32_t conns_open;

/* The loop of this thread, for rl_watched_close(). */
static __thread ev_loop_t *this_loop;

static ev_slot_t *ev_slot(ev_loop_t *lp, int fd)
{
    if (fd >= lp->nslots) {
        int n = lp->nslots ? lp->nslots : 256;
        ev_slot_t *ns;
        while (n <= fd) {
            n *= 2;
        }
        ns = realloc(lp->slots, sizeof(*ns) * (size_t)n);
        if (ns == NULL) {
            return NULL;
        }
        memset(ns + lp->nslots, 0, sizeof(*ns) * (size_t)(n - lp->nslots));
        lp->slots = ns;
        lp->nslots = n;
    }
    return &lp->slots[fd];
}

/* rl_watched_close(): the descriptor is about to be closed (which takes it
 * out of epoll): its number may come back as another socket. */
static void ev_forget(int fd)
{
    ev_loop_t *lp = this_loop;

    if (lp != NULL && fd >= 0 && fd < lp->nslots) {
        memset(&lp->slots[fd], 0, sizeof(lp->slots[fd]));
    }
}

/* rl_watch_park(): an idle (pooled) descriptor; `fn` hears of the first
 * data, EOF or error on it, on this loop. */
static int ev_park(int fd, rl_park_fn fn, void *ctx)
{
    ev_loop_t *lp = this_loop;
    ev_slot_t *slot;

    if (lp == NULL || fd < 0 || fd >= lp->nslots ||
        !(slot = &lp->slots[fd])->registered) {
        return 0; /* not registered here: the caller checks on reuse */
    }
    slot->trusted = 1;
    if (fn == NULL) {
        slot->park = NULL; /* taken up again */
        return 1;
    }
    slot->owner = NULL;
    if (slot->missed_in || slot->peer_closed) {
        /* it stirred while its last owner was busy: tell at once */
        slot->missed = slot->missed_in = 0;
        slot->park = NULL;
        fn(ctx);
        return 1;
    }
    slot->park = fn;
    slot->park_ctx = ctx;
    return 1;
}

static void ev_unlink(ev_loop_t *lp, ev_conn_t *ev)
{
    if (ev->prev) {
        ev->prev->next = ev->next;
    } else {
        lp->conns = ev->next;
    }
    if (ev->next) {
        ev->next->prev = ev->prev;
    }
    lp->nconns--;
    apr_atomic_dec32(&conns_open);
}

/* Waits on one watched descriptor: registers it the first time
 * (edge-triggered, for good), then only notes who waits for what. */
static void ev_arm_one(ev_loop_t *lp, ev_conn_t *ev, int fd, int events)
{
    struct epoll_event e;
    ev_slot_t *slot = ev_slot(lp, fd);

    if (slot == NULL) {
        return;
    }
    slot->owner = ev;
    slot->events = events;
    slot->park = NULL;
    if (slot->registered && !slot->missed &&
        (slot->trusted || slot->last_owner == ev)) {
        slot->trusted = 0;
        return;
    }
    slot->trusted = 0;
    slot->last_owner = ev;
    slot->missed = slot->missed_in = 0;
    e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    e.data.u64 = EV_FD_TAG | (uint64_t)(unsigned)fd;
    /* ADD the first time; MOD after a missed edge makes epoll look at the
     * descriptor's state again and report it if it is ready */
    if (epoll_ctl(lp->epfd, slot->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
                  fd, &e) != 0 &&
        /* a socket closed behind our back and its number reused, or one
         * registered already: the other operation */
        (!((errno == ENOENT &&
            epoll_ctl(lp->epfd, EPOLL_CTL_ADD, fd, &e) == 0) ||
           (errno == EEXIST &&
            epoll_ctl(lp->epfd, EPOLL_CTL_MOD, fd, &e) == 0)))) {
        rl_log_error(RL_LOG_ERR, APR_FROM_OS_ERROR(errno), NULL,
                     "cannot watch descriptor %d", fd);
        return;
    }
    slot->registered = 1;
}

/* The connection no longer waits on any of its watched descriptors. */
static void ev_disarm(ev_loop_t *lp, ev_conn_t *ev)
{
    int i;

    for (i = 0; i < ev->watch.n; i++) {
        int fd = ev->watch.fds[i];
        if (fd >= 0 && fd < lp->nslots && lp->slots[fd].owner == ev) {
            lp->slots[fd].owner = NULL;
        }
    }
    ev->watch.n = 0;
}

/* Waits on what the connection watches (usually one backend socket; an
 * HTTP/2 connection's streams may watch many). */
static void ev_arm_watch(ev_loop_t *lp, ev_conn_t *ev)
{
    rl_watch_t w[RL_WATCH_MAX];
    int i, n = rl_conn_watch_list(ev->c, w, RL_WATCH_MAX);

    if (n == 1 && ev->watch.n == 1 && ev->watch.fds[0] == w[0].fd &&
        w[0].events != 0) {
        /* the usual case: the same backend again (a request's write,
         * then its read) */
        ev_arm_one(lp, ev, w[0].fd, w[0].events);
        return;
    }
    ev_disarm(lp, ev);
    if (n > ev->watch.cap) {
        int *nf = realloc(ev->watch.fds, sizeof(int) * (size_t)n);
        if (nf == NULL) {
            return;
        }
        ev->watch.fds = nf;
        ev->watch.cap = n;
    }
    for (i = 0; i < n; i++) {
        /* the client socket is registered already: with RL_WANT_OTHER any
         * event on it runs the connection */
        if (w[i].fd < 0 || w[i].events == 0 || w[i].fd == ev->c->fd) {
            continue;
        }
        ev_arm_one(lp, ev, w[i].fd, w[i].events);
        ev->watch.fds[ev->watch.n++] = w[i].fd;
    }
}

/* rl_request_unwatch(): the handler keeps the descriptor beyond its
 * request (a pooled backend connection): nobody waits on it any more (it
 * stays registered, see ev_slot_t). */
static void ev_unwatch(void *ctx, int fd)
{
    ev_conn_t *ev = ctx;
    ev_loop_t *lp = ev->loop;

    int i;

    if (fd >= 0 && fd < lp->nslots && lp->slots[fd].owner == ev) {
        lp->slots[fd].owner = NULL;
    }
    for (i = 0; i < ev->watch.n; i++) {
        if (ev->watch.fds[i] == fd) {
            ev->watch.fds[i] = ev->watch.fds[--ev->watch.n];
            break;
        }
    }
}


static void ev_drive(ev_loop_t *lp, ev_conn_t *ev, int timed_out);
static void ev_settle(ev_loop_t *lp, ev_conn_t *ev, int want,
                      apr_time_t deadline);

/* A blocking-handler thread: runs offloaded handlers, then hands each
 * connection back to the loop that owns it. */
static void *ev_blocking_thread(void *arg)
{
    sigset_t set;

    (void)arg;
    sigfillset(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (;;) {
        ev_conn_t *ev;
        ev_loop_t *lp;
        uint64_t one = 1;
        ssize_t w;

        pthread_mutex_lock(&job_lock);
        while (jobs == NULL) {
            pthread_cond_wait(&job_cond, &job_lock);
        }
        ev = jobs;
        jobs = ev->job_next;
        if (jobs == NULL) {
            jobs_tail = &jobs;
        }
        pthread_mutex_unlock(&job_lock);

        rl_conn_run_offloaded(ev->c);

        lp = ev->loop;
        pthread_mutex_lock(&lp->done_lock);
        ev->job_next = lp->done;
        lp->done = ev;
        pthread_mutex_unlock(&lp->done_lock);
        w = write(lp->wake_fd, &one, sizeof(one));
        (void)w;
    }
    return NULL;
}


static void ev_start_blocking_pool(void)
{
    int i;

    for (i = 0; i < EV_BLOCKING_THREADS; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, ev_blocking_thread, NULL) == 0) {
            pthread_detach(t);
        }
    }
}


/* rl_conn_set_offload(): queue the connection for a blocking thread. */
static void ev_offload(void *ctx, rl_conn_t *c)
{
    ev_conn_t *ev = ctx;

    (void)c;
    pthread_once(&pool_once, ev_start_blocking_pool);
    pthread_mutex_lock(&job_lock);
    ev->job_next = NULL;
    *jobs_tail = ev;
    jobs_tail = &ev->job_next;
    pthread_cond_signal(&job_cond);
    pthread_mutex_unlock(&job_lock);
}


/* The loop's wake-up: drive the connections whose blocking handler is
 * done. */
static void ev_take_back(ev_loop_t *lp)
{
    uint64_t n;
    ev_conn_t *ev;
    ssize_t r = read(lp->wake_fd, &n, sizeof(n));

    (void)r;
    pthread_mutex_lock(&lp->done_lock);
    ev = lp->done;
    lp->done = NULL;
    pthread_mutex_unlock(&lp->done_lock);
    while (ev != NULL) {
        ev_conn_t *next = ev->job_next;
        if (lp->stopping) {
            /* it was on a blocking thread when the stop began */
            apr_time_t deadline = 0;
            int want = rl_conn_shutdown(ev->c, &deadline);
            ev_settle(lp, ev, want, deadline);
        } else {
            ev_drive(lp, ev, 0);
        }
        ev = next;
    }
}


/* Applies what the engine said: keep waiting, or close. */
static void ev_settle(ev_loop_t *lp, ev_conn_t *ev, int want,
                      apr_time_t deadline)
{
    if (want == RL_WANT_CLOSE) {
        /* Freed after the current batch of events: a later event of the
         * same batch may still point at it (its socket, or its watched
         * backend) and must find it marked closed, not reused memory. */
        ev_unlink(lp, ev);
        ev->want = RL_WANT_CLOSE;
        ev_disarm(lp, ev); /* it is going away */
        ev->next = lp->graveyard;
        lp->graveyard = ev;
        return;
    }
    if (want == RL_WANT_OTHER) {
        ev_arm_watch(lp, ev);
    }
    ev->want = want;
    ev->deadline = deadline;
    if (deadline < lp->next_tick) {
        lp->next_tick = deadline; /* a short timer (rl_request_sleep) */
    }
}

/* Runs the connection engine and parks the connection for what it waits
 * for next.  (Two statements on purpose: the engine fills `deadline`.) */
static void ev_drive(ev_loop_t *lp, ev_conn_t *ev, int timed_out)
{
    apr_time_t deadline = 0;
    int want = rl_conn_run(ev->c, timed_out, &deadline);

    ev->rested = 0;
    ev_settle(lp, ev, want, deadline);
}

/* Frees the connections closed during the batch just processed. */
static void ev_bury(ev_loop_t *lp)
{
    while (lp->graveyard != NULL) {
        ev_conn_t *ev = lp->graveyard;
        lp->graveyard = ev->next;
        rl_conn_close(ev->c); /* closing the fd removes it from epoll */
        free(ev->watch.fds);
        free(ev);
    }
}


static void ev_accept(ev_loop_t *lp, rl_listener_t *l)
{
    int i;

    for (i = 0; i < EV_ACCEPT_BATCH; i++) {
        struct epoll_event e;
        ev_conn_t *ev;
        rl_conn_t *c;
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                rl_log_error(RL_LOG_ERR, APR_FROM_OS_ERROR(errno), NULL,
                             "cannot accept on %s: out of file descriptors",
                             l->name);
            }
            return;
        }
        c = rl_conn_open(fd, l, lp->alloc);
        if (c == NULL) {
            continue;
        }
        /* malloc'd, not from c->pool: an idle connection has no pool */
        ev = calloc(1, sizeof(*ev));
        if (ev == NULL) {
            rl_conn_close(c);
            continue;
        }
        ev->kind = EV_CONN;
        ev->c = c;
        ev->loop = lp;
        if (fd < lp->nslots) {
            /* the number of a socket closed behind the MPM's back */
            lp->slots[fd].owner = NULL;
            lp->slots[fd].registered = 0;
        }
        rl_conn_set_unwatch(c, ev_unwatch, ev);
        if (rl_handler_blocking_count() > 0) {
            rl_conn_set_offload(c, ev_offload, ev);
        }
        ev->next = lp->conns;
        if (lp->conns) {
            lp->conns->prev = ev;
        }
        lp->conns = ev;
        lp->nconns++;
        apr_atomic_inc32(&conns_open);
        e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        e.data.ptr = ev;
        if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
            ev_settle(lp, ev, RL_WANT_CLOSE, 0);
            continue;
        }
        apr_atomic_inc32(&accepted_total);
        ev_drive(lp, ev, 0);
    }
}

static void ev_listen(ev_loop_t *lp, int on)
{
    int i;

    for (i = 0; i < lp->nls; i++) {
        struct epoll_event e;
        e.events = EPOLLIN | EPOLLEXCLUSIVE;
        e.data.ptr = &lp->ls[i];
        epoll_ctl(lp->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, lp->ls[i].l->fd,
                  &e);
    }
    lp->listening = on;
}

/* Runs the connections whose deadline passed; sets when to look next
 * (at most EV_TICK_MS away, sooner for a nearer deadline).  Connections
 * waiting for their next request give back their pool here, once idle
 * for a moment (rl_conn_rest), not after every request. */
static void ev_timers(ev_loop_t *lp, apr_time_t now)
{
    ev_conn_t *ev = lp->conns, *next;

    lp->next_tick = now + apr_time_from_msec(EV_TICK_MS);
    for (; ev != NULL; ev = next) {
        next = ev->next;
        if (ev->deadline <= now) {
            ev_drive(lp, ev, 1);
            continue;
        }
        if (ev->want == RL_WANT_READ && !ev->rested) {
            ev->rested = rl_conn_rest(ev->c, now);
        }
        if (ev->deadline < lp->next_tick) {
            lp->next_tick = ev->deadline;
        }
    }
}

/* Graceful stop: stop accepting, end idle connections, let the others
 * finish with "Connection: close". */
static void ev_begin_stop(ev_loop_t *lp)
{
    ev_conn_t *ev, *next;
    ev_listen(lp, 0);
    lp->stopping = 1;
    for (ev = lp->conns; ev != NULL; ev = next) {
        apr_time_t deadline = 0;
        int want;
        next = ev->next;
        if (ev->want == RL_WANT_NOTHING) {
            continue; /* on a blocking thread: shut when it comes back */
        }
        want = rl_conn_shutdown(ev->c, &deadline);
        ev_settle(lp, ev, want, deadline);
    }
}

static void *ev_thread(void *arg)
{
    ev_loop_t *lp = arg;
    struct epoll_event events[EV_BATCH];
    int stopping = 0;
    sigset_t set;

    /* signals go to the main thread only */
    sigfillset(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    this_loop = lp;
    ev_listen(lp, 1);
    for (;;) {
        apr_time_t now;
        int n, i, wait_ms;

        if (rl_mpm_stopping_now()) {
            break;
        }
        if (rl_mpm_stopping() && !stopping) {
            stopping = 1;
            ev_begin_stop(lp);
        }
        if (stopping && lp->nconns == 0) {
            break;
        }
        now = apr_time_now();
        wait_ms =
            lp->next_tick > now ? (int)((lp->next_tick - now + 999) / 1000) : 0;
        if (wait_ms > EV_TICK_MS) {
            wait_ms = EV_TICK_MS;
        }
        n = epoll_wait(lp->epfd, events, EV_BATCH, wait_ms);
        for (i = 0; i < n; i++) {
            enum ev_kind kind;
            if (events[i].data.u64 & EV_FD_TAG) {
                /* a watched descriptor: wake whoever waits on it for this */
                int fd = (int)(events[i].data.u64 & 0x7fffffffu);
                uint32_t e = events[i].events;
                ev_slot_t *slot = fd < lp->nslots ? &lp->slots[fd] : NULL;
                ev_conn_t *ev = slot ? slot->owner : NULL;
                if (slot == NULL || !slot->registered) {
                    continue; /* closed since (rl_watched_close) */
                }
                if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                    slot->peer_closed = 1;
                }
                if (ev == NULL) {
                    if (slot->park != NULL &&
                        (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
                        rl_park_fn fn = slot->park;
                        slot->park = NULL;
                        fn(slot->park_ctx); /* a pooled one stirred */
                    }
                    continue;
                }
                if (ev->want == RL_WANT_OTHER &&
                    ((e & (EPOLLERR | EPOLLHUP)) ||
                     ((slot->events & RL_WANT_READ) &&
                      (e & (EPOLLIN | EPOLLRDHUP))) ||
                     ((slot->events & RL_WANT_WRITE) && (e & EPOLLOUT)))) {
                    ev_drive(lp, ev, 0);
                } else {
                    /* edge-triggered: an edge nobody took now will not come
                     * again; the next watch asks epoll afresh */
                    slot->missed = 1;
                    slot->missed_in |=
                        (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
                }
                continue;
            }
            kind = *(enum ev_kind *)events[i].data.ptr;
            if (kind == EV_LISTENER) {
                if (!stopping) {
                    ev_accept(lp, ((ev_listener_t *)events[i].data.ptr)->l);
                }
            } else if (kind == EV_WAKE) {
                ev_take_back(lp);
            } else {
                ev_conn_t *ev = events[i].data.ptr;
                uint32_t e = events[i].events;
                int ready = ev->want != RL_WANT_CLOSE &&
                            ev->want != RL_WANT_NOTHING &&
                            ((e & (EPOLLERR | EPOLLHUP)) ||
                             (ev->want == RL_WANT_READ &&
                              (e & (EPOLLIN | EPOLLRDHUP))) ||
                             (ev->want == RL_WANT_WRITE && (e & EPOLLOUT)) ||
                             /* a tunnel also waits on its client side */
                             ev->want == RL_WANT_OTHER);
                if (ready) {
                    ev_drive(lp, ev, 0);
                }
            }
        }
        now = apr_time_now();
        if (now >= lp->next_tick) {
            ev_timers(lp, now);
        }
        ev_bury(lp);
    }
    {
        ev_conn_t *ev, *next;
        for (ev = lp->conns; ev != NULL; ev = next) {
            next = ev->next;
            /* one still on a blocking thread is left to the exit */
            if (ev->want != RL_WANT_NOTHING) {
                ev_settle(lp, ev, RL_WANT_CLOSE, 0);
            }
        }
    }
    ev_bury(lp);
    return NULL;
}

static void event_child_main(apr_pool_t *pchild, int slot)
{
    rl_mpm_settings_t *m = rl_mpm_settings();
    int nthreads = m->threads_per_child, i, nls = 0;
    ev_loop_t *loops = apr_pcalloc(pchild, sizeof(*loops) * nthreads);
    rl_listener_t *l;

    rl_mpm_set_forget(ev_forget, ev_park);
    for (l = rl_listeners(); l != NULL; l = l->next) {
        nls += !l->datagram; /* UDP: served by its module */
    }
    for (i = 0; i < nthreads; i++) {
        ev_loop_t *lp = &loops[i];
        int k = 0;
        lp->slot = slot;
        lp->epfd = epoll_create1(EPOLL_CLOEXEC);
        apr_allocator_create(
            &lp->alloc); /* a blocking-handler thread allocates from a
                          * connection's pools while the loop serves others:
                          * then the allocator needs a lock (only then: it costs
                          * on every pool node) */
        if (rl_handler_blocking_count() > 0) {
            apr_thread_mutex_create(&lp->alloc_lock, APR_THREAD_MUTEX_DEFAULT,
                                    pchild);
            apr_allocator_mutex_set(lp->alloc, lp->alloc_lock);
        }
        pthread_mutex_init(&lp->done_lock, NULL);
        lp->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        lp->wake_kind = EV_WAKE;
        {
            struct epoll_event e;
            e.events = EPOLLIN;
            e.data.ptr = &lp->wake_kind;
            epoll_ctl(lp->epfd, EPOLL_CTL_ADD, lp->wake_fd, &e);
        }
        /* keep a little freed memory for reuse, give the rest back */
        apr_allocator_max_free_set(lp->alloc, 1024 * 1024);
        lp->nls = nls;
        lp->ls = apr_pcalloc(pchild, sizeof(ev_listener_t) * nls);
        for (l = rl_listeners(); l != NULL; l = l->next) {
            if (l->datagram) {
                continue;
            }
            lp->ls[k].kind = EV_LISTENER;
            lp->ls[k].l = l;
            k++;
        }
        if (pthread_create(&lp->tid, NULL, ev_thread, lp) != 0) {
            rl_log_error(RL_LOG_ALERT, 0, NULL, "cannot start a thread");
            _exit(1);
        }
    }
    /* The main thread takes signals and keeps the scoreboard current. */
    while (!rl_mpm_stopping()) {
        apr_uint32_t open;
        apr_sleep(apr_time_from_msec(100));
        open = apr_atomic_read32(&conns_open);
        rl_mpm_report(slot, (int)open, nthreads);
        if (m->max_connections_per_child > 0 &&
            apr_atomic_read32(&accepted_total) >=
                (apr_uint32_t)m->max_connections_per_child) {
            kill(getpid(), SIGUSR1); /* recycle this child gracefully */
            break;
        }
    }
    for (i = 0; i < nthreads; i++) {
        pthread_join(loops[i].tid, NULL);
        close(loops[i].epfd);
        free(loops[i].slots);
        apr_allocator_destroy(loops[i].alloc);
    }
}

static int event_run(apr_pool_t *pconf, apr_pool_t *plog, rl_server_t *s)
{
    static const rl_mpm_spec_t spec = {"event", 1, 0, event_child_main};
    rl_mpm_settings_t *m = rl_mpm_settings();

    (void)plog;
    if (m->start_servers < 1) {
        m->start_servers = 2;
    }
    if (m->threads_per_child < 1) {
        m->threads_per_child = 1;
    }
    if (m->server_limit < 1) {
        m->server_limit = 16;
    }
    if (m->start_servers > m->server_limit) {
        m->start_servers = m->server_limit;
    }
    if (m->max_request_workers < 1) {
        m->max_request_workers = m->server_limit * m->threads_per_child;
    }
    if (m->max_connections_per_child < 0) {
        m->max_connections_per_child = 0;
    }
    return rl_mpm_supervise(&spec, pconf, s);
}

static void event_register_hooks(apr_pool_t *p)
{
    (void)p;
    rl_hook_mpm(event_run, NULL, NULL, RL_HOOK_MIDDLE);
}

RL_DECLARE_MODULE(mpm_event) = {
    RL_MODULE_STUFF("mpm_event", "0.1.0", RL_MODULE_MPM),
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    event_register_hooks};
