/**
 * @file rl_expr.h
 * @brief Request expressions: the condition language of `<If>`,
 *        `<ElseIf>`, `Require expr` and of modules that take a condition.
 *
 * A subset of httpd's ap_expr, with the same spelling so that httpd
 * configurations read the same:
 *
 * @code
 * %{HTTP:X-Debug} == 'on' && %{REMOTE_ADDR} -ipmatch '10.0.0.0/8'
 * %{REQUEST_URI} =~ m#^/admin/# || ! %{HTTP_HOST} in {'a.example', 'b.example'}
 * -n %{HTTP:Authorization} && %{REQUEST_METHOD} != 'POST'
 * @endcode
 *
 * Grammar (precedence low to high; the full reference is docs/expr.md):
 * - `a || b`, `a && b`, `! a`, `( a )`, `true`, `false`
 * - comparisons of two words: `==` `!=` `<` `<=` `>` `>=` (strings),
 *   `-eq` `-ne` `-lt` `-le` `-gt` `-ge` (integers), `=~` `!~` (PCRE2,
 *   written `/re/` or `m#re#`, flag `i` after it), `-ipmatch` (an address
 *   against `addr[/bits]` or a partial address), `-strmatch` /
 *   `-strcmatch` (shell wildcards, the second without case), `in {w, …}`
 * - unary tests: `-n w` (not empty), `-z w` (empty), `-R 'addr/bits'`
 *   (the client address matches)
 * - words: 'quoted' or "quoted" strings (with %{VAR} inside), bare
 *   integers, %{VAR}, and the functions tolower(w), toupper(w),
 *   escape(w), unescape(w), req(w) / http(w) (a request header),
 *   resp(w) (a response header), env(w)
 * - variables: %{HTTP:Name} (request header, "" when absent), %{ENV:n},
 *   %{HTTP_HOST}, %{HTTP_USER_AGENT}, %{HTTP_REFERER}, %{HTTP_COOKIE},
 *   %{HTTP_ACCEPT}, %{REQUEST_METHOD}, %{REQUEST_URI} (the normalised
 *   path), %{QUERY_STRING}, %{THE_REQUEST}, %{REQUEST_SCHEME},
 *   %{SERVER_PROTOCOL}, %{SERVER_NAME}, %{SERVER_PORT}, %{REMOTE_ADDR},
 *   %{REMOTE_PORT}, %{REMOTE_USER}, %{REQUEST_STATUS}, %{TIME} and its
 *   parts (%{TIME_YEAR} … %{TIME_SEC}, %{TIME_WDAY})
 *
 * Parsing happens once, at configuration time, into the configuration
 * pool; evaluation allocates from the request's pool only when a value
 * has to be built (tolower(), a quoted string with variables in it).
 */
#ifndef RL_EXPR_H
#define RL_EXPR_H

#include <apr_pools.h>

#include "rl_http.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A parsed expression (opaque). */
typedef struct rl_expr_t rl_expr_t;

/**
 * Parses an expression, as written in `<If "…">` or after `Require expr`
 * (the caller has removed the surrounding quotes; `{…}` braces around the
 * whole expression are accepted and removed).
 * @param p   pool for the tree and its compiled regular expressions
 * @param err on failure: what is wrong and where, e.g. "at character 14:
 *            expected a word after '==', found end of expression"
 * @return the expression, or NULL and *err
 * @since API 20261128.1
 */
RL_DECLARE(rl_expr_t *)
rl_expr_parse(apr_pool_t *p, const char *text, const char **err);

/**
 * Evaluates an expression for a request.
 * @param err when it cannot be evaluated (an integer comparison of a
 *            value that is not a number, a regular expression past its
 *            match limit): why, in r->pool
 * @return 1 true, 0 false, -1 error (*err)
 * @since API 20261128.1
 */
RL_DECLARE(int)
rl_expr_eval(rl_request_t *r, const rl_expr_t *e, const char **err);

/** The text the expression was parsed from (for log lines). */
RL_DECLARE(const char *) rl_expr_source(const rl_expr_t *e);

/**
 * Matches a client address against an httpd-style address pattern:
 * "10.1.2.3", "10.1" (partial: the first bytes), "10.1.0.0/16",
 * "10.1.0.0/255.255.0.0", "2001:db8::/32", "::1".  An IPv4 client seen
 * as an IPv4-mapped IPv6 address matches IPv4 patterns.
 * @param pattern the pattern, parsed with rl_ipmatch_parse()
 * @since API 20261128.1
 */
typedef struct rl_ipmatch_t rl_ipmatch_t;

/** Parses an address pattern; NULL and *err when it is not one. */
RL_DECLARE(rl_ipmatch_t *)
rl_ipmatch_parse(apr_pool_t *p, const char *text, const char **err);

/** True when the textual address `ip` matches. */
RL_DECLARE(int) rl_ipmatch(const rl_ipmatch_t *m, const char *ip);

#ifdef __cplusplus
}
#endif
#endif /* RL_EXPR_H */
