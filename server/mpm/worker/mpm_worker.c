/*
 * mpm_worker.c: the worker MPM: StartServers processes of ThreadsPerChild
 * threads; each thread serves one connection at a time, waiting with
 * poll().  For modules written in the blocking style; the event MPM is
 * the default.
 */
#include "relais.h"

#include <apr_atomic.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

RL_LOG_USE_MODULE(mpm_worker);

static volatile apr_uint32_t busy_threads;
static volatile apr_uint32_t accepted_total;

typedef struct worker_ctx_t {
    int slot;
    pthread_t tid;
} worker_ctx_t;

/* Waits on every listener and accepts one connection, or returns -1 when
 * the child is stopping. */
static int worker_accept(struct pollfd *pfds, rl_listener_t **ls, int n,
                         rl_listener_t **from)
{
    while (!rl_mpm_stopping()) {
        int i, rc = poll(pfds, (nfds_t)n, 250);
        if (rc <= 0) {
            continue;
        }
        for (i = 0; i < n; i++) {
            if (pfds[i].revents & POLLIN) {
                int fd = accept4(ls[i]->fd, NULL, NULL,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd >= 0) {
                    *from = ls[i];
                    return fd;
                }
            }
        }
    }
    return -1;
}

static void *worker_thread(void *arg)
{
    rl_listener_t *ls[64], *l, *from;
    struct pollfd pfds[64];
    apr_allocator_t *alloc;
    int n = 0, fd;
    sigset_t set;

    (void)arg;
    sigfillset(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    apr_allocator_create(&alloc);
    apr_allocator_max_free_set(alloc, 256 * 1024);
    for (l = rl_listeners(); l != NULL && n < 64; l = l->next) {
        if (l->datagram) {
            continue; /* UDP: served by its module */
        }
        ls[n] = l;
        pfds[n].fd = l->fd;
        pfds[n].events = POLLIN;
        n++;
    }
    while ((fd = worker_accept(pfds, ls, n, &from)) >= 0) {
        rl_conn_t *c = rl_conn_open(fd, from, alloc);
        apr_atomic_inc32(&accepted_total);
        if (c == NULL) {
            continue;
        }
        apr_atomic_inc32(&busy_threads);
        rl_conn_serve_blocking(c);
        apr_atomic_dec32(&busy_threads);
    }
    apr_allocator_destroy(alloc);
    return NULL;
}

static void worker_child_main(apr_pool_t *pchild, int slot)
{
    rl_mpm_settings_t *m = rl_mpm_settings();
    int n = m->threads_per_child, i;
    worker_ctx_t *ws = apr_pcalloc(pchild, sizeof(*ws) * n);

    for (i = 0; i < n; i++) {
        ws[i].slot = slot;
        if (pthread_create(&ws[i].tid, NULL, worker_thread, &ws[i]) != 0) {
            rl_log_error(RL_LOG_ALERT, 0, NULL, "cannot start a thread");
            _exit(1);
        }
    }
    while (!rl_mpm_stopping()) {
        int busy;
        apr_sleep(apr_time_from_msec(100));
        busy = (int)apr_atomic_read32(&busy_threads);
        rl_mpm_report(slot, busy, n - busy);
        if (m->max_connections_per_child > 0 &&
            apr_atomic_read32(&accepted_total) >=
                (apr_uint32_t)m->max_connections_per_child) {
            kill(getpid(), SIGUSR1);
            break;
        }
    }
    for (i = 0; i < n; i++) {
        pthread_join(ws[i].tid, NULL);
    }
}

static int worker_run(apr_pool_t *pconf, apr_pool_t *plog, rl_server_t *s)
{
    static const rl_mpm_spec_t spec = {"worker", 1, 0, worker_child_main};
    rl_mpm_settings_t *m = rl_mpm_settings();

    (void)plog;
    if (m->threads_per_child < 1) {
        m->threads_per_child = 25;
    }
    if (m->server_limit < 1) {
        m->server_limit = 16;
    }
    if (m->max_request_workers < 1) {
        m->max_request_workers = 150;
    }
    if (m->start_servers < 1) {
        m->start_servers = 2;
    }
    if (m->start_servers > m->server_limit) {
        m->start_servers = m->server_limit;
    }
    if (m->max_connections_per_child < 0) {
        m->max_connections_per_child = 0;
    }
    return rl_mpm_supervise(&spec, pconf, s);
}

static void worker_register_hooks(apr_pool_t *p)
{
    (void)p;
    rl_hook_mpm(worker_run, NULL, NULL, RL_HOOK_MIDDLE);
}

RL_DECLARE_MODULE(mpm_worker) = {
    RL_MODULE_STUFF("mpm_worker", "0.1.0", RL_MODULE_MPM),
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    worker_register_hooks};
