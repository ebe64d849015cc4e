/*
 * conn_protocol.c: connections handed from the HTTP/1.1 engine to another
 * protocol (rl_protocol.h): a module's TCP relay, or HTTP/2 when the
 * client's first bytes are its preface.
 */
#include "http_core.h"

RL_LOG_USE_MODULE(core);

/* RFC 9113 3.4: what every HTTP/2 client sends first. */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN (sizeof(h2_preface) - 1)

RL_DECLARE(void)
rl_conn_set_protocol(rl_conn_t *c, const rl_conn_protocol_t *p, void *ctx)
{
    conn_state_t *cs = CONN_STATE(c);

    cs->proto = p;
    cs->proto_ctx = ctx;
}

RL_DECLARE(const rl_conn_protocol_t *) rl_conn_protocol(const rl_conn_t *c)
{
    return CONN_STATE(c)->proto;
}

RL_DECLARE(const apr_array_header_t *)
rl_server_protocols(const rl_server_t *s)
{
    return s->protocols;
}

RL_DECLARE(int) rl_protocol_allowed(const rl_server_t *s, const char *name)
{
    int i;

    if (s->protocols == NULL) {
        return strcmp(name, "http/1.1") == 0;
    }
    for (i = 0; i < s->protocols->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(s->protocols, i, const char *), name) == 0) {
            return 1;
        }
    }
    return 0;
}

int rl_conn_try_preface(rl_conn_t *c)
{
    conn_state_t *cs = CONN_STATE(c);
    apr_size_t n = cs->in_end - cs->in_start;
    const rl_conn_protocol_provider_t *prov;
    const char *name;
    int rc;

    if (c->keepalives > 0 || c->master != NULL ||
        memcmp(cs->in + cs->in_start, h2_preface,
               n < H2_PREFACE_LEN ? n : H2_PREFACE_LEN) != 0) {
        return 0;
    }
    if (n < H2_PREFACE_LEN) {
        return -1; /* so far the preface: wait for the rest */
    }
    /* over TLS, "h2" (ALPN chose it); in clear text, "h2c" with prior
     * knowledge (RFC 9113 3.3) */
    name = rl_conn_is_https(c) ? "h2" : "h2c";
    prov = rl_lookup_provider(RL_CONN_PROTOCOL_GROUP, name,
                              RL_CONN_PROTOCOL_VERSION);
    if (prov == NULL || !rl_protocol_allowed(c->base_server, name)) {
        rl_log_cerror(RL_LOG_INFO, 0, c,
                      "the client speaks HTTP/2 (%s), which %s: answered as "
                      "HTTP/1.1",
                      name,
                      prov == NULL ? "needs mod_http2 (LoadModule "
                                     "http2_module modules/mod_http2.so)"
                                   : "Protocols does not allow here");
        return 0;
    }
    rc = prov->take_over(c, cs->in + cs->in_start, n);
    cs->in_start = cs->in_end;
    rl_conn_drop_buffers(c);
    if (rc != RL_OK || cs->proto == NULL) {
        cs->proto = NULL;
        return 1; /* the caller closes it */
    }
    return 1;
}
