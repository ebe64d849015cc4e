/*
 * acl_ratelimit.h: per-client rate limiting of mod_acl (`RateLimit`),
 * counted in shared memory so that every child process sees the same
 * counters and a graceful restart keeps them.
 *
 * mod_acl.c owns the directive table and the hooks and calls these; the
 * counting itself lives in acl_ratelimit.c.
 */
#ifndef ACL_RATELIMIT_H
#define ACL_RATELIMIT_H

#include "relais.h"

/** One `RateLimit` directive (per vhost or location), in the config pool. */
typedef struct acl_ratelimit_t acl_ratelimit_t;

/**
 * `RateLimit N/s burst=M [by=ip|header:Name]`: parses the arguments.
 * @return NULL and *out, or what is wrong (the core adds file:line and
 *         the directive's name)
 */
const char *acl_ratelimit_parse(rl_cmd_t *cmd, int argc, char *const argv[],
                                acl_ratelimit_t **out);

/** `RateLimitTableSize n`: how many clients the shared table tracks
 *  (server-wide, main server context). */
const char *acl_ratelimit_set_table_size(rl_cmd_t *cmd, const char *arg);

/** post_config: creates (or, after a graceful restart, finds again) the
 *  shared table.  @return RL_OK or 500 (logged) */
int acl_ratelimit_post_config(apr_pool_t *pconf, rl_server_t *s);

/** child_init: checks the table the child inherited at fork (an anonymous
 *  segment with its locks inside: nothing to attach). */
void acl_ratelimit_child_init(apr_pool_t *pchild, rl_server_t *s);

/**
 * access_checker: counts this request against `limit`.
 * @return RL_OK, or 429 with Retry-After set in r->err_headers_out (and a
 *         line at info level in the error log naming the client key)
 */
int acl_ratelimit_check(rl_request_t *r, const acl_ratelimit_t *limit);

#endif /* ACL_RATELIMIT_H */
