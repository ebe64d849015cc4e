/*
 * fuzz_sni.c: libFuzzer target for the SNI reader of mod_ssl
 * (modules/ssl/ssl_sni.c: the host name of a ClientHello's server_name
 * extension, read from an unauthenticated client before OpenSSL has
 * looked at it).
 *
 * The input is the extension's body.  Each run reads it with two output
 * sizes (a name may not fit the smaller one).  When a name comes back it
 * must be NUL-terminated within the buffer, printable ASCII without
 * spaces or upper case, and present (case-insensitively) in the input;
 * a name that fits the small buffer must come back the same from the
 * large one.  Anything else aborts.
 *
 * ssl_sni.c keeps no state, so it links here alone
 * (modules/ssl/module.mk names it in FUZZ_sni_SRCS).
 *
 *   make fuzz && build/fuzz/fuzz_sni -max_total_time=60 CORPUS_COPY
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../modules/ssl/ssl_sni.h"

static int found_in(const uint8_t *data, size_t size, const char *name)
{
    size_t n = strlen(name), i;

    for (i = 0; n <= size && i + n <= size; i++) {
        if (strncasecmp((const char *)data + i, name, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static void check(const uint8_t *data, size_t size, const char *out, size_t cap)
{
    size_t n = strnlen(out, cap), i;

    if (n == 0 || n >= cap) {
        abort(); /* empty, or not terminated inside the buffer */
    }
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)out[i];
        if (ch <= 0x20 || ch >= 0x7f || (ch >= 'A' && ch <= 'Z')) {
            abort();
        }
    }
    if (!found_in(data, size, out)) {
        abort(); /* a name that was not in the input */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char small[16], large[256];
    int got_small, got_large;

    memset(small, 'X', sizeof(small));
    memset(large, 'X', sizeof(large));
    got_small = ssl_sni_from_ext(data, size, small, sizeof(small));
    got_large = ssl_sni_from_ext(data, size, large, sizeof(large));
    if ((got_small != 0 && got_small != 1) ||
        (got_large != 0 && got_large != 1)) {
        abort();
    }
    if (got_small) {
        check(data, size, small, sizeof(small));
        if (!got_large || strcmp(small, large) != 0) {
            abort();
        }
    }
    if (got_large) {
        check(data, size, large, sizeof(large));
    }
    return 0;
}
