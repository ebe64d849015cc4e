/*
 * ssl_sni.h: the SNI host name of a ClientHello (ssl_sni.c).
 */
#ifndef SSL_SNI_H
#define SSL_SNI_H

#include <stddef.h>

/* The host_name of a server_name extension's body p[0..len) (RFC 6066
 * section 3), lower-cased into out (cap bytes, NUL-terminated).  1 when
 * there is one; 0 for a malformed extension, a name of control or
 * non-ASCII bytes, or one that does not fit. */
int ssl_sni_from_ext(const unsigned char *p, size_t len, char *out, size_t cap);

#endif /* SSL_SNI_H */
