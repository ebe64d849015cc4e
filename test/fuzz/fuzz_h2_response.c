/*
 * fuzz_h2_response.c: mod_http2's reading of the HTTP/1.1 response head
 * the core's engine writes for a stream (modules/http2/h2_response.c),
 * against the core's own response parser.
 *
 * h2_response.c is a faster reader than rl_http_parse_response() (one
 * memchr scan, no copy) and must never be more lenient: on every input
 *  - where both find the end of a head and disagree on where, the core's
 *    shorter head must be one the core refuses (a bare LF);
 *  - on a head h2_head_find() found, both parsers give the same verdict,
 *    and on success the same status, reason and fields (names compared
 *    without case: mod_http2 lower-cases them for HTTP/2).
 * Any difference aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "../../modules/http2/h2_private.h"

static apr_pool_t *pool;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rl_http_limits_t lim = {65536, 65536, 1000};
    rl_http_response_t a, b;
    const char *why_a = NULL, *why_b = NULL;
    const char *d = (const char *)data;
    apr_size_t scan = 0, len = 0, scan_core = 0, len_core = 0;
    int found, found_core, ra, rb, i;

    if (pool == NULL) {
        apr_initialize();
        apr_pool_create(&pool, NULL);
    }
    if (size > 65536) {
        return 0;
    }
    found = h2_head_find(d, size, &scan, &len);
    found_core = rl_http_head_end(d, size, &scan_core, &lim, &len_core);
    if (found && found_core == RL_HTTP_OK && len != len_core &&
        rl_http_parse_response(pool, d, len_core, &lim, &a, &why_a) ==
            RL_HTTP_OK) {
        abort(); /* the core took a head mod_http2 would not have seen */
    }
    if (found) {
        ra = h2_response_parse(pool, d, len, 1000, &a, &why_a);
        rb = rl_http_parse_response(pool, d, len, &lim, &b, &why_b);
        if (ra != rb) {
            abort();
        }
        if (ra == RL_HTTP_OK) {
            if (a.status != b.status || a.nfields != b.nfields ||
                strcmp(a.reason, b.reason) != 0) {
                abort();
            }
            for (i = 0; i < a.nfields; i++) {
                if (strcasecmp(a.fields[i].name, b.fields[i].name) != 0 ||
                    strcmp(a.fields[i].value, b.fields[i].value) != 0) {
                    abort();
                }
            }
        }
    }
    apr_pool_clear(pool);
    return 0;
}
