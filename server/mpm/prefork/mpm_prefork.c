/*
 * mpm_prefork.c: the prefork MPM: single-threaded processes, one
 * connection each at a time.  The parent keeps between MinSpareServers and
 * MaxSpareServers idle processes, up to MaxRequestWorkers, as httpd's.
 */
#include "relais.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

RL_LOG_USE_MODULE(mpm_prefork);

static void prefork_child_main(apr_pool_t *pchild, int slot)
{
    rl_mpm_settings_t *m = rl_mpm_settings();
    rl_listener_t *ls[64], *l;
    struct pollfd pfds[64];
    apr_allocator_t *alloc;
    int n = 0, served = 0;

    (void)pchild;
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
    rl_mpm_report(slot, 0, 1);
    while (!rl_mpm_stopping()) {
        int i, rc = poll(pfds, (nfds_t)n, 250);
        if (rc <= 0) {
            continue;
        }
        for (i = 0; i < n && !rl_mpm_stopping(); i++) {
            rl_conn_t *c;
            int fd;
            if (!(pfds[i].revents & POLLIN)) {
                continue;
            }
            fd = accept4(ls[i]->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                continue; /* another process took it */
            }
            c = rl_conn_open(fd, ls[i], alloc);
            if (c == NULL) {
                continue;
            }
            rl_mpm_report(slot, 1, 0);
            rl_conn_serve_blocking(c);
            rl_mpm_report(slot, 0, 1);
            if (m->max_connections_per_child > 0 &&
                ++served >= m->max_connections_per_child) {
                apr_allocator_destroy(alloc);
                return; /* recycled: the parent starts a fresh one */
            }
        }
    }
    apr_allocator_destroy(alloc);
}

static int prefork_run(apr_pool_t *pconf, apr_pool_t *plog, rl_server_t *s)
{
    static const rl_mpm_spec_t spec = {"prefork", 0, 1, prefork_child_main};
    rl_mpm_settings_t *m = rl_mpm_settings();

    (void)plog;
    m->threads_per_child = 1;
    if (m->start_servers < 1) {
        m->start_servers = 5;
    }
    if (m->min_spare < 1) {
        m->min_spare = 5;
    }
    if (m->max_spare < 1) {
        m->max_spare = 10;
    }
    if (m->max_spare <= m->min_spare) {
        m->max_spare = m->min_spare + 1;
    }
    if (m->server_limit < 1) {
        m->server_limit = 256;
    }
    if (m->max_request_workers < 1) {
        m->max_request_workers = 150;
    }
    if (m->start_servers > m->max_request_workers) {
        m->start_servers = m->max_request_workers;
    }
    if (m->max_connections_per_child < 0) {
        m->max_connections_per_child = 0;
    }
    return rl_mpm_supervise(&spec, pconf, s);
}

static void prefork_register_hooks(apr_pool_t *p)
{
    (void)p;
    rl_hook_mpm(prefork_run, NULL, NULL, RL_HOOK_MIDDLE);
}

RL_DECLARE_MODULE(mpm_prefork) = {
    RL_MODULE_STUFF("mpm_prefork", "0.1.0", RL_MODULE_MPM),
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    prefork_register_hooks};
