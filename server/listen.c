/*
 * listen.c: the listening sockets.
 *
 * Listeners belong to the process, not to a configuration generation: a
 * graceful restart keeps every socket whose Listen line is unchanged open
 * (so no connection is refused while children change), opens new ones and
 * closes those no longer configured.
 */
#include "core.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

RL_LOG_USE_MODULE(core);

static rl_listener_t *listeners; /* the current generation's, in order */

RL_DECLARE(rl_listener_t *) rl_listeners(void)
{
    return listeners;
}

typedef struct open_sock_t {
    rl_listener_t l;
    int dgram; /* a UDP socket (may share its name with a TCP one) */
    struct open_sock_t *next_open;
    int used;
} open_sock_t;

static open_sock_t *socks;

static apr_status_t make_socket(apr_pool_t *p, const listen_spec_t *ls,
                                rl_listener_t *l)
{
    apr_sockaddr_t *sa;
    apr_status_t rv;
    const char *host = ls->host;
    int family = APR_UNSPEC;
    int one = 1;
    int type = ls->dgram ? SOCK_DGRAM : SOCK_STREAM;
    int proto = ls->dgram ? APR_PROTO_UDP : APR_PROTO_TCP;

    if (host == NULL) {
        /* All addresses: one dual-stack IPv6 socket when the host has
         * IPv6, else IPv4. */
        rv = apr_sockaddr_info_get(&sa, "::", APR_INET6, ls->port, 0, p);
        if (rv == APR_SUCCESS && apr_socket_create(&l->sock, APR_INET6, type,
                                                   proto, p) == APR_SUCCESS) {
            apr_socket_opt_set(l->sock, APR_IPV6_V6ONLY, 0);
            goto bind;
        }
        host = "0.0.0.0";
        family = APR_INET;
    }
    rv = apr_sockaddr_info_get(&sa, host, family, ls->port, 0, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_socket_create(&l->sock, sa->family, type, proto, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
bind:
    apr_socket_opt_set(l->sock, APR_SO_REUSEADDR, 1);
    rv = apr_socket_bind(l->sock, sa);
    if (rv == APR_SUCCESS && ls->dgram) {
        apr_os_sock_get(&l->fd, l->sock);
        apr_socket_opt_set(l->sock, APR_SO_NONBLOCK, 1);
        return APR_SUCCESS; /* datagrams: nothing to listen() for */
    }
    if (rv == APR_SUCCESS) {
        rv = apr_socket_listen(l->sock, rl_proc.listen_backlog);
    }
    if (rv != APR_SUCCESS) {
        apr_socket_close(l->sock);
        return rv;
    }
    apr_os_sock_get(&l->fd, l->sock);
    apr_socket_opt_set(l->sock, APR_SO_NONBLOCK, 1);
    /* Wake a worker only when a request's first bytes are there. */
    setsockopt(l->fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof(one));
    return APR_SUCCESS;
}

static const char *spec_name(apr_pool_t *p, const listen_spec_t *ls)
{
    if (ls->host == NULL) {
        return apr_psprintf(p, "*:%u", ls->port);
    }
    if (strchr(ls->host, ':') != NULL) {
        return apr_psprintf(p, "[%s]:%u", ls->host, ls->port);
    }
    return apr_psprintf(p, "%s:%u", ls->host, ls->port);
}

apr_status_t rl_listen_open(apr_pool_t *pglobal, rl_server_t *s)
{
    rl_listener_t **tail = &listeners;
    open_sock_t *o, **op;
    int i;

    (void)s;
    listeners = NULL;
    for (o = socks; o != NULL; o = o->next_open) {
        o->used = 0;
    }
    for (i = 0; i < rl_proc.listen_specs->nelts; i++) {
        listen_spec_t *ls =
            &APR_ARRAY_IDX(rl_proc.listen_specs, i, listen_spec_t);
        const char *name = spec_name(rl_proc.ptemp, ls);

        for (o = socks; o != NULL; o = o->next_open) {
            if (!o->used && o->dgram == ls->dgram &&
                strcmp(o->l.name, name) == 0) {
                break;
            }
        }
        if (o == NULL) {
            apr_status_t rv;
            o = apr_pcalloc(pglobal, sizeof(*o));
            o->l.name = apr_pstrdup(pglobal, name);
            o->l.port = ls->port;
            o->dgram = ls->dgram;
            rv = make_socket(pglobal, ls, &o->l);
            if (rv != APR_SUCCESS) {
                char buf[120];
                fprintf(stderr,
                        "relaisd: %s:%u: Listen: cannot listen on %s: %s\n",
                        ls->file, ls->line, name,
                        apr_strerror(rv, buf, sizeof(buf)));
                return rv;
            }
            o->next_open = socks;
            socks = o;
        } else if (!o->dgram) {
            /* kept across a restart: listen() again applies a changed
             * ListenBacklog to the socket as it is */
            listen(o->l.fd, rl_proc.listen_backlog);
        }
        o->used = 1;
        o->l.protocol = ls->protocol;
        o->l.datagram = o->dgram;
        o->l.next = NULL;
        *tail = &o->l;
        tail = &o->l.next;
    }
    if (listeners == NULL) {
        fprintf(stderr, "relaisd: no Listen directive: nothing to serve "
                        "(add e.g. Listen 8080)\n");
        return APR_EINVAL;
    }
    /* Close sockets the new configuration no longer lists. */
    for (op = &socks; *op != NULL;) {
        if (!(*op)->used) {
            apr_socket_close((*op)->l.sock);
            *op = (*op)->next_open;
        } else {
            op = &(*op)->next_open;
        }
    }
    return APR_SUCCESS;
}

static int addr_matches(const rl_server_addr_t *a, const rl_listener_t *l)
{
    const char *lhost;
    apr_size_t n;

    if (a->port != 0 && a->port != l->port) {
        return 0;
    }
    if (strcmp(a->host, "*") == 0 || l->name[0] == '*') {
        return 1;
    }
    lhost = l->name[0] == '[' ? l->name + 1 : l->name;
    n = strlen(a->host);
    return strncmp(lhost, a->host, n) == 0 &&
           (lhost[n] == ':' || lhost[n] == ']');
}

/* The default server of one listener: the first vhost that names its
 * address, else the main server. */
static rl_server_t *default_server_of(rl_server_t *main, const rl_listener_t *l)
{
    rl_server_t *v;
    int i;

    for (v = main->next; v != NULL; v = v->next) {
        for (i = 0; i < v->addrs->nelts; i++) {
            if (addr_matches(&APR_ARRAY_IDX(v->addrs, i, rl_server_addr_t),
                             l)) {
                return v;
            }
        }
    }
    return main;
}

RL_DECLARE(apr_array_header_t *) rl_listeners_configured(apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(rl_listener_t *));
    int i;

    for (i = 0; rl_proc.listen_specs != NULL && i < rl_proc.listen_specs->nelts;
         i++) {
        const listen_spec_t *ls =
            &APR_ARRAY_IDX(rl_proc.listen_specs, i, listen_spec_t);
        rl_listener_t *l = apr_pcalloc(p, sizeof(*l));
        l->fd = -1;
        l->name = spec_name(p, ls);
        l->protocol = ls->protocol;
        l->port = ls->port;
        l->datagram = ls->dgram;
        l->default_server = default_server_of(rl_proc.main_server, l);
        APR_ARRAY_PUSH(out, rl_listener_t *) = l;
    }
    return out;
}

void rl_listen_assign_servers(rl_server_t *main)
{
    rl_listener_t *l;

    for (l = listeners; l != NULL; l = l->next) {
        l->default_server = default_server_of(main, l);
    }
}

/* Stop: refuse new connections at once.  shutdown() of a listening socket
 * ends its listening state for every process that holds it (the children
 * inherited it), so a client that connects now is refused cleanly instead
 * of waiting in the accept queue to be reset when the last copy closes. */
void rl_listen_shut(void)
{
    open_sock_t *o;

    for (o = socks; o != NULL; o = o->next_open) {
        if (!o->dgram) {
            shutdown(o->l.fd, SHUT_RD);
        }
    }
}
