/*
 * mod_blocking_test.c: exercises rl_handler_declare_blocking().  Its
 * handler "blocking-test" is written in the plain blocking style: it
 * sleeps with apr_sleep(), reads the whole body with rl_read_body() as a
 * blocking read, and answers.  Under the event MPM the core must run it on
 * a blocking thread, so that the event loop keeps serving others.
 */
#include <stdlib.h>
#include <string.h>

#include "relais.h"

RL_LOG_USE_MODULE(blocking_test);

static int blocking_test_handler(rl_request_t *r)
{
    apr_interval_time_t pause = apr_time_from_msec(800);
    apr_off_t total = 0;
    char buf[8192];
    apr_size_t got;
    apr_status_t rv;

    if (r->handler == NULL || strcmp(r->handler, "blocking-test") != 0) {
        return RL_DECLINED;
    }
    if (r->args != NULL && strncmp(r->args, "ms=", 3) == 0) {
        pause = apr_time_from_msec(atoi(r->args + 3));
    }
    apr_sleep(pause); /* blocks this thread, never an event loop */
    while ((rv = rl_read_body(r, buf, sizeof(buf), &got)) == APR_SUCCESS) {
        total += (apr_off_t)got;
    }
    if (!APR_STATUS_IS_EOF(rv)) {
        return r->status >= 400 ? r->status : 400;
    }
    rl_set_content_type(r, "text/plain");
    rl_rprintf(r, "slept %ld ms, body %" APR_OFF_T_FMT " bytes\n",
               (long)apr_time_as_msec(pause), total);
    return RL_OK;
}


static void blocking_test_register_hooks(apr_pool_t *p)
{
    rl_handler_declare_blocking(p, "blocking-test");
    rl_hook_handler(blocking_test_handler, NULL, NULL, RL_HOOK_MIDDLE);
}


RL_DECLARE_MODULE(blocking_test) = {RL_MODULE_STUFF("blocking_test", "1.0", 0),
                                    NULL,
                                    NULL,
                                    NULL,
                                    NULL,
                                    NULL,
                                    blocking_test_register_hooks};
