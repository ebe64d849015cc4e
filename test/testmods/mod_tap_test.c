/*
 * mod_tap_test.c: drives three core APIs for
 * test/integration/core/test_response_tap.py: rl_response_tap(),
 * rl_sendfile() and the error_response hook.  All triggered by request
 * headers, so one configuration serves every test:
 *
 *   X-Tap: 1          the response_head hook taps the response; the tap
 *                     counts the body bytes and their checksum and, on its
 *                     final call, logs at notice:
 *                       "tap: status=S bytes=N sum=X final=F"
 *                     (F: 1 complete, -1 not); a second final call, or a
 *                     byte after the final one, is logged as "tap: BUG".
 *   X-Replace-Error: 1  error_response answers instead of the core's
 *                     error page: 200, "replaced <status>\n".
 *
 * `SetHandler sendfile-test` answers with rl_sendfile() of the file named
 * by the query (?path=/abs/file&off=N&len=M; len -1 or absent: to the
 * end).
 *
 * Never load it in production: any client can read any file.
 */
#include "relais.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

RL_LOG_USE_MODULE(tap_test);

typedef struct {
    apr_off_t bytes;
    unsigned long sum;
    int finals;
} tap_state_t;

static void count_tap(rl_request_t *r, void *ctx, const char *data,
                      apr_size_t len, int final)
{
    tap_state_t *t = ctx;
    apr_size_t i;

    if (t->finals > 0) {
        rl_log_rerror(RL_LOG_ERR, 0, r, "tap: BUG: called after its final");
        return;
    }
    for (i = 0; i < len; i++) {
        t->sum = (t->sum * 31 + (unsigned char)data[i]) % 1000000007UL;
    }
    t->bytes += (apr_off_t)len;
    if (final != 0) {
        t->finals++;
        /* no allocation here: the final call may come from the request
         * pool's cleanup */
        rl_log_rerror(RL_LOG_NOTICE, 0, r,
                      "tap: status=%d bytes=%" APR_OFF_T_FMT
                      " sum=%lu final=%d",
                      r->status, t->bytes, t->sum, final);
    }
}

static void tap_response_head(rl_request_t *r)
{
    if (apr_table_get(r->headers_in, "X-Tap") != NULL) {
        tap_state_t *t = apr_pcalloc(r->pool, sizeof(*t));
        rl_response_tap(r, count_tap, t);
    }
}

static int tap_error_response(rl_request_t *r, int status)
{
    if (apr_table_get(r->headers_in, "X-Replace-Error") == NULL) {
        return RL_DECLINED;
    }
    r->status = 200;
    rl_set_content_type(r, "text/plain");
    rl_rprintf(r, "replaced %d\n", status);
    return RL_OK;
}

static const char *arg(rl_request_t *r, const char *name)
{
    const char *a = r->args;
    apr_size_t n = strlen(name);

    while (a != NULL && *a != '\0') {
        if (strncmp(a, name, n) == 0 && a[n] == '=') {
            const char *end = strchr(a, '&');
            return end ? apr_pstrndup(r->pool, a + n + 1,
                                      (apr_size_t)(end - a - n - 1))
                       : a + n + 1;
        }
        a = strchr(a, '&');
        a = a ? a + 1 : NULL;
    }
    return NULL;
}

static int sendfile_handler(rl_request_t *r)
{
    const char *path, *off_s, *len_s;
    apr_off_t off, len;
    struct stat st;
    int fd;

    if (r->handler == NULL || strcmp(r->handler, "sendfile-test") != 0) {
        return RL_DECLINED;
    }
    path = arg(r, "path");
    off_s = arg(r, "off");
    len_s = arg(r, "len");
    if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        return 404;
    }
    if (fstat(fd, &st) != 0) {
        close(fd);
        return 500;
    }
    off = off_s ? apr_atoi64(off_s) : 0;
    len = len_s ? apr_atoi64(len_s) : -1;
    if (off < 0 || off > st.st_size) {
        close(fd);
        return 416;
    }
    if (len < 0 || off + len > st.st_size) {
        len = st.st_size - off;
    }
    rl_set_content_type(r, "application/octet-stream");
    rl_set_content_length(r, len);
    if (rl_sendfile(r, fd, off, (apr_size_t)len) != APR_SUCCESS) {
        rl_log_rerror(RL_LOG_ERR, 0, r, "rl_sendfile refused");
    }
    return RL_OK;
}

static void tap_test_register_hooks(apr_pool_t *p)
{
    (void)p;
    rl_hook_response_head(tap_response_head, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_error_response(tap_error_response, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_handler(sendfile_handler, NULL, NULL, RL_HOOK_MIDDLE);
}

RL_DECLARE_MODULE(tap_test) = {RL_MODULE_STUFF("tap_test", "1.0.0", 0),
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               tap_test_register_hooks};
