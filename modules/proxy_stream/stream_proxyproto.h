/*
 * stream_proxyproto.h: the PROXY protocol (HAProxy's, versions 1 and 2),
 * encoded towards members (proxyprotocol=v1|v2) and parsed from a load
 * balancer in front (RemoteIPProxyProtocol On).
 *
 * Pure functions over byte buffers: no state, no I/O, no pools, so that
 * test/fuzz/fuzz_proxy_protocol.c links this file alone.
 */
#ifndef STREAM_PROXYPROTO_H
#define STREAM_PROXYPROTO_H

#include <stddef.h>
#include <sys/socket.h>

/** The longest header stream_pp_parse() accepts: a v1 line is at most
 *  107 bytes; a v2 header is 16 bytes plus its addresses and TLVs, which
 *  we bound (a load balancer sends a few dozen bytes of TLVs). */
#define STREAM_PP_MAX 1024

/** What a PROXY header said. */
typedef struct stream_pp_t {
    int version;     /**< 1 or 2 */
    int local;       /**< v2 LOCAL or v1 UNKNOWN: no address (a health check
                          of the balancer itself): keep the peer's */
    int dgram;       /**< v2: the client spoke UDP */
    int family;      /**< AF_INET or AF_INET6 (0 when local) */
    char src_ip[46]; /**< the client, as text */
    unsigned src_port;
    char dst_ip[46]; /**< the address the client connected to */
    unsigned dst_port;
} stream_pp_t;

/**
 * Parses a PROXY header at the start of buf[0..len).
 * @param why out: a short reason when the header is invalid
 * @return the header's length (> 0; the bytes after it are the client's
 *         payload), 0 when more bytes are needed, -1 when buf does not
 *         start with a valid header
 */
int stream_pp_parse(const char *buf, size_t len, stream_pp_t *out,
                    const char **why);

/**
 * Writes a PROXY header of `version` (1 or 2) for a connection from src
 * to dst (AF_INET or AF_INET6; other families, or families that differ,
 * give v1 "UNKNOWN" / v2 "LOCAL").  `dgram`: the client spoke UDP (v2).
 * @return its length, or 0 when cap is too small (108 bytes always do)
 */
size_t stream_pp_encode(int version, int dgram, const struct sockaddr *src,
                        const struct sockaddr *dst, char *buf, size_t cap);

#endif /* STREAM_PROXYPROTO_H */
