/*
 * ssl_sni.c: reading the host name out of a ClientHello's server_name
 * extension, for the ClientHello callback (ssl_ctx.c) that picks the
 * virtual host before OpenSSL chooses the protocol version.  The bytes
 * come from an unauthenticated client, so this is kept apart, without
 * any OpenSSL state, and fuzzed on its own (test/fuzz/fuzz_sni.c).
 */
#include "ssl_sni.h"

#include <apr_lib.h>
#include <openssl/tls1.h>

/* The host_name of a server_name extension (RFC 6066 §3), lower case. */
int ssl_sni_from_ext(const unsigned char *p, size_t len, char *out, size_t cap)
{
    size_t list;

    if (len < 2) {
        return 0;
    }
    list = ((size_t)p[0] << 8) | p[1];
    p += 2;
    len -= 2;
    if (list != len) {
        return 0;
    }
    while (len >= 3) {
        unsigned type = p[0];
        size_t n = ((size_t)p[1] << 8) | p[2];
        p += 3;
        len -= 3;
        if (n > len) {
            return 0;
        }
        if (type == TLSEXT_NAMETYPE_host_name) {
            size_t i;
            if (n == 0 || n >= cap) {
                return 0;
            }
            for (i = 0; i < n; i++) {
                if (p[i] <= 0x20 || p[i] >= 0x7f) {
                    return 0; /* OpenSSL refuses it later */
                }
                out[i] = (char)apr_tolower(p[i]);
            }
            out[n] = '\0';
            return 1;
        }
        p += n;
        len -= n;
    }
    return 0;
}
