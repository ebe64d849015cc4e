/*
 * http_path.c: the request path as every later match sees it.
 *
 * Access rules, <Location> blocks and ProxyPass prefixes all compare
 * against r->uri, so one spelling of a path must give one r->uri:
 * "/%61dmin", "//admin", "/x/../admin" and "/admin/." are all "/admin"
 * (or "/admin/").  Otherwise a rule on /admin is walked around by a
 * spelling it did not foresee, while the backend, which decodes, serves
 * /admin anyway.
 *
 * Two passes: percent-escapes first (unreserved characters decoded, the
 * others kept with upper-case hex, so "%2f" and "%2F" are one spelling),
 * then segments (dot segments resolved, empty segments collapsed).
 */
#include "relais.h"

#include <string.h>

#include <apr_strings.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* RFC 3986 §2.3: decoding these never changes what a URI means. */
static int is_unreserved(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

/* Pass 1 into out (at least strlen(path) + 1 bytes). */
static int decode_escapes(const char *path, int slashes, char *out,
                          const char **why)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *s = path;
    char *o = out;

    while (*s != '\0') {
        int hi, lo, v;
        if (*s != '%') {
            *o++ = *s++;
            continue;
        }
        hi = hex_value(s[1]);
        lo = hi < 0 ? -1 : hex_value(s[2]);
        if (lo < 0) {
            *why = "a '%' in the path is not followed by two hex digits";
            return 400;
        }
        v = hi * 16 + lo;
        s += 3;
        if (v == 0) {
            *why = "an encoded NUL (%00) in the path";
            return 400;
        }
        if (is_unreserved(v)) {
            *o++ = (char)v;
        } else if (v == '/' && slashes == RL_ENCODED_SLASHES_OFF) {
            /* httpd answers 404 here too: the URL names nothing served */
            *why = "an encoded slash (%2F) in the path, and "
                   "AllowEncodedSlashes is Off";
            return 404;
        } else if (v == '/' && slashes == RL_ENCODED_SLASHES_ON) {
            *o++ = '/';
        } else {
            *o++ = '%';
            *o++ = hex[v >> 4];
            *o++ = hex[v & 15];
        }
    }
    *o = '\0';
    return RL_HTTP_OK;
}

/* Pass 2: "/" then segments, each followed by '/'; '.' and '..' resolved,
 * empty segments dropped.  In place: the output never outgrows the input
 * by more than the leading '/'. */
static int resolve_segments(const char *in, char *out, const char **why)
{
    const char *s = in;
    apr_size_t o = 1;
    int trailing = 0;

    out[0] = '/';
    while (*s != '\0') {
        const char *seg;
        apr_size_t n;

        while (*s == '/') {
            s++;
        }
        seg = s;
        while (*s != '\0' && *s != '/') {
            s++;
        }
        n = (apr_size_t)(s - seg);
        if (n == 0) {
            trailing = 1; /* the path ended with '/' */
            break;
        }
        trailing = (n == 1 && seg[0] == '.') ||
                   (n == 2 && seg[0] == '.' && seg[1] == '.');
        if (n == 1 && seg[0] == '.') {
            continue;
        }
        if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            if (o == 1) {
                *why = "the request path climbs above the root";
                return 400;
            }
            o--;
            while (out[o - 1] != '/') {
                o--;
            }
            continue;
        }
        memmove(out + o, seg, n);
        o += n;
        out[o++] = '/';
    }
    if (!trailing && o > 1) {
        o--;
    }
    out[o] = '\0';
    return RL_HTTP_OK;
}

/* Most paths are already in their one spelling: no escape, no empty or
 * dot segment.  Those are used as they are, without a copy. */
static int already_clean(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '%' || (*s == '/' && (s[1] == '/' || s[1] == '.'))) {
            return 0;
        }
    }
    return 1;
}

RL_DECLARE(int)
rl_http_clean_path(apr_pool_t *p, const char *path, int encoded_slashes,
                   const char **out, const char **why)
{
    apr_size_t len;
    char *decoded, *clean;
    int rc;

    if (path == NULL || path[0] != '/') {
        *why = "the request path does not start with '/'";
        return 400;
    }
    if (already_clean(path)) {
        *out = path;
        return RL_HTTP_OK;
    }
    len = strlen(path);
    decoded = apr_palloc(p, len + 1);
    rc = decode_escapes(path, encoded_slashes, decoded, why);
    if (rc != RL_HTTP_OK) {
        return rc;
    }
    /* +2: "/" before the first segment, and the '/' after the last one
     * before it is taken back */
    clean = apr_palloc(p, strlen(decoded) + 2);
    rc = resolve_segments(decoded, clean, why);
    if (rc == RL_HTTP_OK) {
        *out = clean;
    }
    return rc;
}

RL_DECLARE(char *) rl_http_normalize_path(apr_pool_t *p, const char *path)
{
    const char *out = NULL, *why;

    if (rl_http_clean_path(p, path, RL_ENCODED_SLASHES_NODECODE, &out, &why) !=
        RL_HTTP_OK) {
        return NULL;
    }
    return out == path ? apr_pstrdup(p, path) : (char *)out;
}
