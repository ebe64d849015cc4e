/*
 * vhost.c: choosing the virtual host of a request, and `relaisd -S`.
 *
 * As httpd 2.4: the vhosts whose <VirtualHost> address matches the
 * connection's local address and port are candidates, those naming the
 * exact IP before those naming "*"; among them the one whose ServerName or
 * ServerAlias (wildcards allowed) matches Host wins, else the first
 * candidate (the default for that address).  No candidate: the main server.
 */
#include "core.h"

#include <apr_fnmatch.h>

static int addr_match(const rl_server_addr_t *a, const rl_conn_t *c, int exact)
{
    if (a->port != 0 && a->port != c->local_port) {
        return 0;
    }
    if (exact) {
        return strcmp(a->host, c->local_ip) == 0;
    }
    return strcmp(a->host, "*") == 0;
}

static int vhost_on_addr(const rl_server_t *v, const rl_conn_t *c, int exact)
{
    int i;

    for (i = 0; i < v->addrs->nelts; i++) {
        if (addr_match(&APR_ARRAY_IDX(v->addrs, i, rl_server_addr_t), c,
                       exact)) {
            return 1;
        }
    }
    return 0;
}

static int name_match(const rl_server_t *v, const char *host)
{
    int i;

    if (v->server_name && strcmp(v->server_name, host) == 0) {
        return 1;
    }
    for (i = 0; i < v->aliases->nelts; i++) {
        const char *a = APR_ARRAY_IDX(v->aliases, i, const char *);
        if (apr_fnmatch(a, host, APR_FNM_CASE_BLIND) == APR_SUCCESS) {
            return 1;
        }
    }
    return 0;
}

rl_server_t *rl_vhost_for_request(rl_conn_t *c, const char *host)
{
    rl_server_t *main = rl_proc.main_server, *v;
    int exact;

    for (exact = 1; exact >= 0; exact--) {
        rl_server_t *first = NULL;
        for (v = main->next; v != NULL; v = v->next) {
            if (!vhost_on_addr(v, c, exact)) {
                continue;
            }
            if (first == NULL) {
                first = v;
            }
            if (host != NULL && name_match(v, host)) {
                return v;
            }
        }
        if (first != NULL) {
            return first;
        }
    }
    return main;
}

rl_server_t *rl_vhost_for_listener(rl_listener_t *l)
{
    return l->default_server ? l->default_server : rl_proc.main_server;
}

static const char *addr_text(apr_pool_t *p, const rl_server_addr_t *a)
{
    if (a->port == 0) {
        return apr_psprintf(p, "%s:*", a->host);
    }
    if (strchr(a->host, ':') != NULL) {
        return apr_psprintf(p, "[%s]:%u", a->host, a->port);
    }
    return apr_psprintf(p, "%s:%u", a->host, a->port);
}

/* relaisd -S: the vhosts grouped by address, httpd's layout. */
void rl_vhost_dump(rl_server_t *main)
{
    apr_pool_t *p = rl_proc.ptemp;
    apr_array_header_t *keys = apr_array_make(p, 4, sizeof(char *));
    rl_server_t *v;
    int i, k;

    printf("VirtualHost configuration:\n");
    for (v = main->next; v != NULL; v = v->next) {
        for (i = 0; i < v->addrs->nelts; i++) {
            const char *t =
                addr_text(p, &APR_ARRAY_IDX(v->addrs, i, rl_server_addr_t));
            for (k = 0; k < keys->nelts; k++) {
                if (strcmp(APR_ARRAY_IDX(keys, k, char *), t) == 0) {
                    break;
                }
            }
            if (k == keys->nelts) {
                APR_ARRAY_PUSH(keys, const char *) = t;
            }
        }
    }
    for (k = 0; k < keys->nelts; k++) {
        const char *key = APR_ARRAY_IDX(keys, k, char *);
        int first = 1;
        printf("%-22s is a NameVirtualHost\n", key);
        for (v = main->next; v != NULL; v = v->next) {
            int on = 0;
            for (i = 0; i < v->addrs->nelts; i++) {
                if (strcmp(addr_text(p, &APR_ARRAY_IDX(v->addrs, i,
                                                       rl_server_addr_t)),
                           key) == 0) {
                    on = 1;
                }
            }
            if (!on) {
                continue;
            }
            if (first) {
                printf("         default server %s (%s:%u)\n", v->server_name,
                       v->defn_file, v->defn_line);
                first = 0;
            }
            printf("         port %s namevhost %s (%s:%u)\n",
                   strrchr(key, ':') + 1, v->server_name, v->defn_file,
                   v->defn_line);
            for (i = 0; i < v->aliases->nelts; i++) {
                printf("                 alias %s\n",
                       APR_ARRAY_IDX(v->aliases, i, const char *));
            }
        }
    }
    printf("ServerRoot: \"%s\"\n", rl_proc.server_root);
    printf("Main ErrorLog: \"%s\"\n",
           main->error_fname ? rl_server_root_relative(p, main->error_fname)
                             : rl_server_root_relative(p, "logs/error_log"));
    printf("PidFile: \"%s\"\n",
           rl_server_root_relative(p, rl_proc.pid_file ? rl_proc.pid_file
                                                       : "logs/relaisd.pid"));
    for (i = 0; i < rl_proc.defines->nelts; i++) {
        const char *d = APR_ARRAY_IDX(rl_proc.defines, i, const char *);
        const char *val = apr_table_get(rl_proc.define_vars, d);
        if (*d) {
            printf("Define: %s%s%s\n", d, val ? "=" : "", val ? val : "");
        }
    }
    if (rl_proc.user) {
        printf("User: name=\"%s\"\n", rl_proc.user);
    }
    if (rl_proc.group) {
        printf("Group: name=\"%s\"\n", rl_proc.group);
    }
    printf("MPM: %s\n", rl_mpm_name() ? rl_mpm_name() : "(none)");
}

RL_DECLARE(rl_server_t *) rl_server_for_host(rl_conn_t *c, const char *host)
{
    return rl_vhost_for_request(c, host);
}
