/*
 * fuzz_proxy_protocol.c: libFuzzer target for the PROXY protocol parser of
 * mod_proxy_stream (modules/proxy_stream/stream_proxyproto.c), which reads
 * the first bytes of connections from a load balancer in front
 * (RemoteIPProxyProtocol On), from any client that can connect.
 *
 * Each run parses the input.  A header that parses must be no longer than
 * the input and than STREAM_PP_MAX, say version 1 or 2, and carry
 * NUL-terminated addresses; parsing only its first length-1 bytes must
 * ask for more (or refuse), never succeed.  The parsed addresses are then
 * encoded again as v1 and v2, and each encoding must parse back to the
 * same addresses and ports.  Anything else aborts.
 *
 *   make fuzz && build/fuzz/fuzz_proxy_protocol -max_total_time=60 CORPUS
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../modules/proxy_stream/stream_proxyproto.h"

static void to_sockaddr(int family, const char *ip, unsigned port,
                        struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((unsigned short)port);
        if (inet_pton(AF_INET, ip, &in->sin_addr) != 1) {
            abort();
        }
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((unsigned short)port);
        if (inet_pton(AF_INET6, ip, &in6->sin6_addr) != 1) {
            abort();
        }
    }
}

static void round_trip(const stream_pp_t *pp)
{
    struct sockaddr_storage src, dst;
    char buf[256];
    int v;

    to_sockaddr(pp->family, pp->src_ip, pp->src_port, &src);
    to_sockaddr(pp->family, pp->dst_ip, pp->dst_port, &dst);
    for (v = 1; v <= 2; v++) {
        stream_pp_t back;
        const char *why;
        size_t n = stream_pp_encode(v, 0, (struct sockaddr *)&src,
                                    (struct sockaddr *)&dst, buf, sizeof(buf));
        if (n == 0 || stream_pp_parse(buf, n, &back, &why) != (int)n ||
            back.local || back.family != pp->family ||
            strcmp(back.src_ip, pp->src_ip) != 0 ||
            strcmp(back.dst_ip, pp->dst_ip) != 0 ||
            back.src_port != pp->src_port || back.dst_port != pp->dst_port) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    stream_pp_t pp, part;
    const char *why = NULL;
    int len = stream_pp_parse((const char *)data, size, &pp, &why);

    if (len < 0 && why == NULL) {
        abort();
    }
    if (len <= 0) {
        return 0;
    }
    if ((size_t)len > size || len > STREAM_PP_MAX ||
        (pp.version != 1 && pp.version != 2) ||
        memchr(pp.src_ip, '\0', sizeof(pp.src_ip)) == NULL ||
        memchr(pp.dst_ip, '\0', sizeof(pp.dst_ip)) == NULL ||
        pp.src_port > 65535 || pp.dst_port > 65535) {
        abort();
    }
    /* a header is only complete with its last byte */
    if (stream_pp_parse((const char *)data, (size_t)len - 1, &part, &why) > 0) {
        abort();
    }
    if (!pp.local) {
        round_trip(&pp);
    }
    return 0;
}
