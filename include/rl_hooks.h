/**
 * @file rl_hooks.h
 * @brief The core hooks, in the order they run.
 *
 * Hooks are APR-util hooks.  Register in a module's register_hooks():
 *
 * @code
 * static const char *const after_acl[] = {"acl", NULL};
 * rl_hook_handler(echo_handler, NULL, NULL, RL_HOOK_MIDDLE);
 * rl_hook_quick_handler(cache_quick, after_acl, NULL, RL_HOOK_FIRST);
 * @endcode
 *
 * Predecessor and successor lists name modules by their short name
 * ("acl"), never by file.  Kinds: ALL runs every function and stops at the
 * first that returns neither RL_OK nor RL_DECLINED; FIRST stops at the
 * first that does not return RL_DECLINED; VOID runs all.
 *
 * Request hooks (post_read_request … log_transaction) run on the thread
 * that owns the connection.  Under the event MPM that thread runs an epoll
 * loop for many connections: these hooks must compute, not wait.
 */
#ifndef RL_HOOKS_H
#define RL_HOOKS_H

#include <apr_hooks.h>

#include "rl_http.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @name Hook order */
/**@{*/
#define RL_HOOK_REALLY_FIRST APR_HOOK_REALLY_FIRST
#define RL_HOOK_FIRST APR_HOOK_FIRST
#define RL_HOOK_MIDDLE APR_HOOK_MIDDLE
#define RL_HOOK_LAST APR_HOOK_LAST
#define RL_HOOK_REALLY_LAST APR_HOOK_REALLY_LAST
/**@}*/

/**
 * pre_config (ALL): before the configuration is read, in the parent, once
 * per generation.  Declare shared memory and mutexes.
 */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, int, pre_config,
                          (apr_pool_t * pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp))

/**
 * check_config (ALL): after the configuration is read, before anything is
 * opened: cross-directive checks.  Report with rl_log_error() naming the
 * directive's file:line and return 500 to refuse the configuration.
 */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, int, check_config,
                          (apr_pool_t * pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, rl_server_t *s))

/**
 * post_config (ALL): in the parent, once per configuration generation
 * (not twice, unlike httpd), after listeners are open and before children
 * start: create shared memory, open logs.
 */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, int, post_config,
                          (apr_pool_t * pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, rl_server_t *s))

/** child_init (VOID): in each child, after privileges are dropped. */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, void, child_init,
                          (apr_pool_t * pchild, rl_server_t *s))

/**
 * mpm (FIRST): the loaded MPM runs the server from the parent and returns
 * when the parent must restart or stop (an RL_MPM_* value, see rl_mpm.h).
 */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, int, mpm,
                          (apr_pool_t * pconf, apr_pool_t *plog,
                           rl_server_t *s))

/** pre_connection (ALL): a new client connection, before any read. */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, int, pre_connection, (rl_conn_t * c))

/**
 * post_read_request (ALL): the head is parsed, the vhost and location are
 * chosen.  Request id, trusted forwarded headers.
 */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, int, post_read_request, (rl_request_t * r))

/** access_checker (ALL): acl, auth, rate limits.  Runs before any answer. */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, int, access_checker, (rl_request_t * r))

/** quick_handler (FIRST): answer early (cache hit), after access checks. */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, int, quick_handler, (rl_request_t * r))

/** translate_name (FIRST): route the request (proxy sets r->handler). */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, int, translate_name, (rl_request_t * r))

/** fixups (ALL): last edit of the request before the handler. */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, int, fixups, (rl_request_t * r))

/** insert_filter (VOID): arrange response processing. */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, void, insert_filter, (rl_request_t * r))

/**
 * handler (FIRST): produce the response.  Check r->handler and decline
 * what is not yours.  Return RL_OK, an HTTP status, or RL_SUSPENDED.
 */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, int, handler, (rl_request_t * r))

/**
 * Declares that the handler named `name` (the value of r->handler it
 * answers to) blocks: it waits on I/O, sleeps or calls a blocking
 * library.  Under the event MPM the core then runs the handler hooks for
 * such requests on a bounded pool of threads (per child) instead of in an
 * event loop, and hands the connection back to its loop when they return;
 * inside, rl_read_body() and rl_rwrite() wait as under prefork/worker.
 * Under prefork and worker nothing changes.  Call from register_hooks().
 * @since API 20261127.0
 */
RL_DECLARE(void) rl_handler_declare_blocking(apr_pool_t *p, const char *name);

/** How many handlers were declared blocking (an MPM prepares its thread
 *  pool, and the locks it needs, only when there is one). */
RL_DECLARE(int) rl_handler_blocking_count(void);

/**
 * error_response (FIRST): the request is about to be answered with the
 * core's error page for `status` (a handler returned it: a proxy's 502,
 * 503 or 504, a 404…), before any byte of it is written.  A module may
 * answer instead (mod_cache serves a stale entry when every backend
 * failed): write the response with rl_rwrite() and friends, set
 * r->status, and return RL_OK.  RL_DECLINED lets the core send its page.
 * @since API 20261128.1
 */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, int, error_response,
                          (rl_request_t * r, int status))

/**
 * response_head (VOID): once per response, right before its head is
 * written: the handler's responses, proxied ones and the core's error
 * pages alike (r->status is final; an error page has cleared
 * r->headers_out and kept r->err_headers_out).  Edit the response header
 * tables here (mod_headers).  Not called for a "100 Continue".
 * Date, Content-Length, Transfer-Encoding, Connection and Keep-Alive are
 * the core's: values set for them in the tables are not sent; the
 * Content-Type sent is r->content_type (set it, not the table).
 * @since API 20261128.1
 */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, void, response_head, (rl_request_t * r))

/**
 * r->notes key the core sets (to "1") when it answers with its own error
 * page (or ErrorDocument) instead of a response the handler wrote: a
 * response_head hook that follows httpd's onsuccess rule (mod_headers:
 * `Header` without `always`) leaves such a response alone.
 * @since API 20261128.1
 */
#define RL_NOTE_ERROR_PAGE "core-error-page"

/** log_transaction (ALL): after the response is sent (access log). */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, int, log_transaction, (rl_request_t * r))

/** child_exit (VOID): the child is about to exit: flush, close. */
APR_DECLARE_EXTERNAL_HOOK(rl, RL, void, child_exit,
                          (apr_pool_t * pchild, rl_server_t *s))

#ifdef __cplusplus
}
#endif
#endif /* RL_HOOKS_H */
