/*
 * stream_proxyproto.c: PROXY protocol v1 (a text line) and v2 (binary),
 * as HAProxy's specification (doc/proxy-protocol.txt) defines them.
 *
 * The parser reads bytes an unauthenticated peer sent, so it trusts
 * nothing: it never reads past len, never accepts a header longer than
 * STREAM_PP_MAX, and checks every address with inet_pton/inet_ntop
 * rather than copying text through.  A v1 line:
 *
 *     PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n
 *
 * A v2 header: the 12-byte signature, version/command, family/transport,
 * a big-endian length, then the addresses (and TLVs, which we skip).
 */
#include "stream_proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const char pp_v2_sig[12] = "\r\n\r\n\0\r\nQUIT\n";

#define PP_V1_MAX 107 /* the longest line the specification allows */


/* A decimal port, 0 to 65535, at most 5 digits. */
static int pp_port(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    size_t i;

    if (n == 0 || n > 5) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535) {
        return -1;
    }
    *out = v;
    return 0;
}


/* One address of a v1 line, checked and copied into out. */
static int pp_v1_addr(int family, const char *s, size_t n, char *out,
                      size_t cap)
{
    char tmp[64];
    unsigned char bin[16];

    if (n == 0 || n >= sizeof(tmp)) {
        return -1;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (inet_pton(family, tmp, bin) != 1 ||
        inet_ntop(family, bin, out, (socklen_t)cap) == NULL) {
        return -1;
    }
    return 0;
}


/* "PROXY TCP4 a b p q\r\n" (the caller has found the CRLF at `end`). */
static int pp_v1_fields(const char *line, size_t end, stream_pp_t *out,
                        const char **why)
{
    const char *f[4];
    size_t flen[4], pos = 11; /* after "PROXY TCPx " */
    int i;

    out->family = line[9] == '4' ? AF_INET : AF_INET6;
    for (i = 0; i < 4; i++) {
        const char *sp = memchr(line + pos, ' ', end - pos);
        size_t stop = i < 3 ? (sp ? (size_t)(sp - line) : end) : end;
        if (i < 3 && sp == NULL) {
            *why = "v1: missing field";
            return -1;
        }
        f[i] = line + pos;
        flen[i] = stop - pos;
        pos = stop + 1;
    }
    if (pp_v1_addr(out->family, f[0], flen[0], out->src_ip,
                   sizeof(out->src_ip)) != 0 ||
        pp_v1_addr(out->family, f[1], flen[1], out->dst_ip,
                   sizeof(out->dst_ip)) != 0) {
        *why = "v1: bad address";
        return -1;
    }
    if (pp_port(f[2], flen[2], &out->src_port) != 0 ||
        pp_port(f[3], flen[3], &out->dst_port) != 0) {
        *why = "v1: bad port";
        return -1;
    }
    return 0;
}


static int pp_parse_v1(const char *buf, size_t len, stream_pp_t *out,
                       const char **why)
{
    size_t n = len < PP_V1_MAX ? len : PP_V1_MAX, end;
    const char *lf = memchr(buf, '\n', n);

    if (lf == NULL) {
        if (len >= PP_V1_MAX) {
            *why = "v1: no CRLF within 107 bytes";
            return -1;
        }
        return 0;
    }
    end = (size_t)(lf - buf);
    if (end == 0 || buf[end - 1] != '\r') {
        *why = "v1: line does not end in CRLF";
        return -1;
    }
    end--; /* at the CR */
    out->version = 1;
    if (end >= 13 && memcmp(buf + 6, "UNKNOWN", 7) == 0) {
        out->local = 1; /* the rest of the line is to be ignored */
        return (int)(end + 2);
    }
    if (end < 11 || (memcmp(buf + 6, "TCP4 ", 5) != 0 &&
                     memcmp(buf + 6, "TCP6 ", 5) != 0)) {
        *why = "v1: expected TCP4, TCP6 or UNKNOWN";
        return -1;
    }
    if (pp_v1_fields(buf, end, out, why) != 0) {
        return -1;
    }
    return (int)(end + 2);
}


static unsigned pp_get16(const unsigned char *p)
{
    return ((unsigned)p[0] << 8) | p[1];
}


static int pp_parse_v2(const unsigned char *b, size_t len, stream_pp_t *out,
                       const char **why)
{
    size_t body, need;
    unsigned fam, cmd;

    if (len < 16) {
        return 0;
    }
    if ((b[12] & 0xF0) != 0x20) {
        *why = "v2: unknown version";
        return -1;
    }
    cmd = b[12] & 0x0F;
    fam = b[13];
    body = pp_get16(b + 14);
    if (16 + body > STREAM_PP_MAX) {
        *why = "v2: header too long";
        return -1;
    }
    if (cmd > 1) {
        *why = "v2: unknown command";
        return -1;
    }
    if (len < 16 + body) {
        return 0;
    }
    out->version = 2;
    out->dgram = (fam & 0x0F) == 2;
    if (cmd == 0 || (fam >> 4) == 0 || (fam >> 4) == 3) {
        /* LOCAL (the balancer's own check), or an address family we
         * cannot use (AF_UNSPEC, AF_UNIX): keep the peer's address */
        out->local = 1;
        return (int)(16 + body);
    }
    if ((fam >> 4) == 1) {
        need = 12;
        out->family = AF_INET;
    } else if ((fam >> 4) == 2) {
        need = 36;
        out->family = AF_INET6;
    } else {
        *why = "v2: unknown address family";
        return -1;
    }
    if ((fam & 0x0F) != 1 && (fam & 0x0F) != 2) {
        *why = "v2: unknown transport";
        return -1;
    }
    if (body < need) {
        *why = "v2: addresses truncated";
        return -1;
    }
    {
        size_t alen = out->family == AF_INET ? 4 : 16;
        const unsigned char *a = b + 16;
        if (inet_ntop(out->family, a, out->src_ip, sizeof(out->src_ip)) ==
                NULL ||
            inet_ntop(out->family, a + alen, out->dst_ip,
                      sizeof(out->dst_ip)) == NULL) {
            *why = "v2: bad address";
            return -1;
        }
        out->src_port = pp_get16(a + 2 * alen);
        out->dst_port = pp_get16(a + 2 * alen + 2);
    }
    return (int)(16 + body);
}


int stream_pp_parse(const char *buf, size_t len, stream_pp_t *out,
                    const char **why)
{
    size_t n;

    memset(out, 0, sizeof(*out));
    *why = "not a PROXY header";
    /* while the bytes so far are a prefix of a signature, wait for more */
    n = len < sizeof(pp_v2_sig) ? len : sizeof(pp_v2_sig);
    if (memcmp(buf, pp_v2_sig, n) == 0) {
        return n < sizeof(pp_v2_sig)
                   ? 0
                   : pp_parse_v2((const unsigned char *)buf, len, out, why);
    }
    if (len < 6) {
        return memcmp(buf, "PROXY ", len) == 0 ? 0 : -1;
    }
    return memcmp(buf, "PROXY ", 6) == 0 ? pp_parse_v1(buf, len, out, why) : -1;
}


/* The address and port of sa, for the encoder; 0 when not IP. */
static int pp_split(const struct sockaddr *sa, const void **addr,
                    unsigned *port)
{
    if (sa == NULL) {
        return 0;
    }
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        *addr = &in->sin_addr;
        *port = ntohs(in->sin_port);
        return AF_INET;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        *addr = &in6->sin6_addr;
        *port = ntohs(in6->sin6_port);
        return AF_INET6;
    }
    return 0;
}


static size_t pp_encode_v1(int family, const void *sa, unsigned sp,
                           const void *da, unsigned dp, char *buf, size_t cap)
{
    char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
    int n;

    if (family == 0 || inet_ntop(family, sa, s, sizeof(s)) == NULL ||
        inet_ntop(family, da, d, sizeof(d)) == NULL) {
        n = snprintf(buf, cap, "PROXY UNKNOWN\r\n");
    } else {
        n = snprintf(buf, cap, "PROXY %s %s %s %u %u\r\n",
                     family == AF_INET ? "TCP4" : "TCP6", s, d, sp, dp);
    }
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}


static size_t pp_encode_v2(int family, int dgram, const void *sa, unsigned sp,
                           const void *da, unsigned dp, char *buf, size_t cap)
{
    size_t alen = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
    size_t body = alen ? 2 * alen + 4 : 0;
    unsigned char *b = (unsigned char *)buf;

    if (cap < 16 + body) {
        return 0;
    }
    memcpy(b, pp_v2_sig, sizeof(pp_v2_sig));
    b[12] = alen ? 0x21 : 0x20; /* version 2, PROXY (or LOCAL) */
    b[13] = alen ? (unsigned char)(((family == AF_INET ? 1 : 2) << 4) |
                                   (dgram ? 2 : 1))
                 : 0;
    b[14] = (unsigned char)(body >> 8);
    b[15] = (unsigned char)(body & 0xFF);
    if (alen) {
        memcpy(b + 16, sa, alen);
        memcpy(b + 16 + alen, da, alen);
        b[16 + 2 * alen] = (unsigned char)(sp >> 8);
        b[17 + 2 * alen] = (unsigned char)(sp & 0xFF);
        b[18 + 2 * alen] = (unsigned char)(dp >> 8);
        b[19 + 2 * alen] = (unsigned char)(dp & 0xFF);
    }
    return 16 + body;
}


size_t stream_pp_encode(int version, int dgram, const struct sockaddr *src,
                        const struct sockaddr *dst, char *buf, size_t cap)
{
    const void *sa = NULL, *da = NULL;
    unsigned sp = 0, dp = 0;
    int sf = pp_split(src, &sa, &sp), df = pp_split(dst, &da, &dp);
    int family = sf == df ? sf : 0;

    if (version == 1) {
        return pp_encode_v1(family, sa, sp, da, dp, buf, cap);
    }
    return pp_encode_v2(family, dgram, sa, sp, da, dp, buf, cap);
}
