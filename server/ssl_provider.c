/*
 * ssl_provider.c: how modules reach TLS without linking against mod_ssl
 * (rl_ssl.h).  The provider is looked up when asked: a lookup is a hash
 * probe, cheaper than keeping a pointer that a restart (which reloads
 * mod_ssl) would leave dangling, and only TLS-aware paths ask.
 */
#include "relais.h"

RL_DECLARE(const rl_ssl_provider_t *) rl_ssl_provider(void)
{
    return rl_lookup_provider(RL_SSL_GROUP, RL_SSL_NAME, RL_SSL_VERSION);
}

RL_DECLARE(const char *) rl_ssl_var(rl_request_t *r, const char *name)
{
    const rl_ssl_provider_t *p;

    const rl_conn_t *c =
        r->connection->master ? r->connection->master : r->connection;

    if (c->io == NULL) {
        return NULL; /* plain: no provider lookup on the common path */
    }
    p = rl_ssl_provider();
    return p != NULL && p->var != NULL ? p->var(r, name) : NULL;
}

RL_DECLARE(int) rl_conn_is_https(const rl_conn_t *c)
{
    const rl_ssl_provider_t *p;

    if (c->master != NULL) {
        c = c->master; /* an HTTP/2 stream: its connection's TLS */
    }
    if (c->io == NULL) {
        return 0;
    }
    p = rl_ssl_provider();
    return p != NULL && p->is_https != NULL && p->is_https(c);
}
