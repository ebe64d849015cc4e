/**
 * @file rl_log.h
 * @brief The error log.
 *
 * Lines read:
 *   [Fri Nov 27 06:31:29.123456 2026] [proxy:error] [pid 42:tid 7]
 *   [client 10.0.0.1:5123] backend 'app1' refused the connection
 *
 * A module logs with RL_LOG_USE_MODULE(name) once at the top of the file
 * and then rl_log_error() / rl_log_rerror() / rl_log_cerror(); the module's
 * name appears in the line and `LogLevel warn name:debug` filters it.
 */
#ifndef RL_LOG_H
#define RL_LOG_H

#include <apr_errno.h>

#include "rl_module.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @name Levels, as httpd's */
/**@{*/
#define RL_LOG_EMERG 0
#define RL_LOG_ALERT 1
#define RL_LOG_CRIT 2
#define RL_LOG_ERR 3
#define RL_LOG_WARNING 4
#define RL_LOG_NOTICE 5
#define RL_LOG_INFO 6
#define RL_LOG_DEBUG 7
#define RL_LOG_TRACE1 8
#define RL_LOG_TRACE8 15
/**@}*/

typedef struct rl_conn_t rl_conn_t;
typedef struct rl_request_t rl_request_t;

/** Binds this file's log calls to module `name` (its record). */
#define RL_LOG_USE_MODULE(name)                                                \
    extern RL_DECLARE_DATA rl_module_t name##_module;                          \
    static rl_module_t *const rl_log_module_ __attribute__((unused)) =         \
        &name##_module

/**
 * Logs a line about the server (no client).  status is an APR error to
 * append (0 for none).  Safe from any thread.
 */
#define rl_log_error(level, status, s, ...)                                    \
    rl_log_write_(rl_log_module_, level, status, s, NULL, NULL, __VA_ARGS__)
/** Logs a line about a connection: adds its client address. */
#define rl_log_cerror(level, status, c, ...)                                   \
    rl_log_write_(rl_log_module_, level, status, NULL, c, NULL, __VA_ARGS__)
/** Logs a line about a request: adds client address and its vhost. */
#define rl_log_rerror(level, status, r, ...)                                   \
    rl_log_write_(rl_log_module_, level, status, NULL, NULL, r, __VA_ARGS__)

/** True when a line at `level` from module m would be written for s. */
RL_DECLARE(int)
rl_log_enabled(const rl_module_t *m, int level, const rl_server_t *s);

/** The function behind the rl_log_* macros; s, c, r may be NULL. */
RL_DECLARE(void)
rl_log_write_(const rl_module_t *m, int level, apr_status_t status,
              const rl_server_t *s, const rl_conn_t *c, const rl_request_t *r,
              const char *fmt, ...) __attribute__((format(printf, 7, 8)));

#ifdef __cplusplus
}
#endif
#endif /* RL_LOG_H */
