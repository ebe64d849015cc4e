/*
 * ipmatch.c: httpd-style client address patterns (include/rl_expr.h),
 * shared by -ipmatch / -R in expressions and by Require ip.
 *
 * A pattern is kept as 16 bytes and a prefix length.  IPv4 patterns and
 * addresses are held as IPv4-mapped IPv6 (::ffff:a.b.c.d), so that a
 * client that reached a dual-stack listener as ::ffff:10.1.2.3 matches
 * "10.1.0.0/16", as it does in httpd.
 */
#include "relais.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

struct rl_ipmatch_t {
    unsigned char addr[16];
    int bits; /* prefix length over the 16 bytes */
};

static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0,    0,
                                            0, 0, 0, 0, 0xff, 0xff};

/* A textual address into 16 bytes; 0 when it is not one. */
static int to_bytes(const char *text, unsigned char out[16])
{
    struct in_addr a4;
    struct in6_addr a6;

    if (inet_pton(AF_INET, text, &a4) == 1) {
        memcpy(out, v4_mapped, 12);
        memcpy(out + 12, &a4, 4);
        return 4;
    }
    if (inet_pton(AF_INET6, text, &a6) == 1) {
        memcpy(out, &a6, 16);
        return 6;
    }
    return 0;
}

/* "10.1" (1 to 3 dotted numbers, each 0..255): httpd's partial form. */
static int partial_v4(const char *text, unsigned char out[16], int *bits)
{
    int parts = 0;
    const char *s = text;

    memset(out, 0, 16);
    memcpy(out, v4_mapped, 12);
    while (*s != '\0') {
        char *end;
        long v;
        if (!isdigit((unsigned char)*s) || parts == 4) {
            return 0;
        }
        v = strtol(s, &end, 10);
        if (v > 255 || end - s > 3) {
            return 0;
        }
        out[12 + parts++] = (unsigned char)v;
        s = end;
        if (*s == '.') {
            s++;
            if (*s == '\0') {
                break; /* "10.1." as httpd allows */
            }
        } else if (*s != '\0') {
            return 0;
        }
    }
    if (parts == 0 || parts == 4) {
        return 0; /* empty, or a whole address: not partial */
    }
    *bits = 96 + 8 * parts;
    return 1;
}

/* "255.255.0.0" into a prefix length; -1 when not contiguous. */
static int mask_bits(const char *text)
{
    struct in_addr m;
    unsigned long v;
    int bits = 0;

    if (inet_pton(AF_INET, text, &m) != 1) {
        return -1;
    }
    v = ntohl(m.s_addr);
    while (v & 0x80000000UL) {
        bits++;
        v = (v << 1) & 0xffffffffUL;
    }
    return v == 0 ? bits : -1;
}

RL_DECLARE(rl_ipmatch_t *)
rl_ipmatch_parse(apr_pool_t *p, const char *text, const char **err)
{
    rl_ipmatch_t *m = apr_pcalloc(p, sizeof(*m));
    const char *slash = strchr(text, '/');
    char *addr = slash ? apr_pstrndup(p, text, (apr_size_t)(slash - text))
                       : apr_pstrdup(p, text);
    int family = to_bytes(addr, m->addr);

    if (family == 0) {
        if (slash == NULL && partial_v4(addr, m->addr, &m->bits)) {
            return m;
        }
        *err = apr_psprintf(p, "'%s' is not an IPv4 or IPv6 address", addr);
        return NULL;
    }
    m->bits = 128;
    if (slash != NULL) {
        const char *spec = slash + 1;
        char *end;
        long n = strtol(spec, &end, 10);
        int max = family == 4 ? 32 : 128;
        if (*spec != '\0' && *end == '\0' && isdigit((unsigned char)*spec)) {
            if (n > max) {
                *err = apr_psprintf(p, "prefix /%ld is longer than %d bits", n,
                                    max);
                return NULL;
            }
            m->bits = (int)n + (family == 4 ? 96 : 0);
        } else if (family == 4 && (n = mask_bits(spec)) >= 0) {
            m->bits = 96 + (int)n;
        } else {
            *err =
                apr_psprintf(p, "'%s' is not a prefix length or netmask", spec);
            return NULL;
        }
    }
    return m;
}

RL_DECLARE(int) rl_ipmatch(const rl_ipmatch_t *m, const char *ip)
{
    unsigned char a[16];
    int full, rest;

    if (ip == NULL || !to_bytes(ip, a)) {
        return 0;
    }
    full = m->bits / 8;
    rest = m->bits % 8;
    if (memcmp(a, m->addr, (apr_size_t)full) != 0) {
        return 0;
    }
    if (rest != 0) {
        unsigned char mask = (unsigned char)(0xff << (8 - rest));
        return (a[full] & mask) == (m->addr[full] & mask);
    }
    return 1;
}
