/*
 * log_private.h: what the two halves of mod_log share.
 *
 *   mod_log.c     directives, opening files and pipes, writing lines
 *                 (buffered or not), the hooks
 *   log_format.c  the mod_log_config format language: parsing a format
 *                 once at configuration time into a list of items, and
 *                 rendering one request into one line (text or JSON)
 *
 * Not a public API: other modules reach the access log through request
 * fields, r->notes and r->subprocess_env (see docs/log.md), or by
 * registering a "log-item" provider for a format letter of their own.
 */
#ifndef LOG_PRIVATE_H
#define LOG_PRIVATE_H

#include "relais.h"
#include "rl_log_item.h"

/** What one rendering of one line needs. */
typedef struct log_ctx_t {
    rl_request_t *r;
    /* Taken once per line, so that %D, %T and %{end:...}t agree. */
    apr_time_t now;
} log_ctx_t;

typedef struct log_item_t log_item_t;

/**
 * Produces one item's text, already escaped for the log (httpd's
 * ap_escape_logitem rules), or NULL for "-".
 */
typedef const char *(*log_item_fn)(const log_ctx_t *ctx, const log_item_t *it);

/** One piece of a parsed format: a literal or a %-directive. */
struct log_item_t {
    log_item_fn fn;
    const char *arg;  /**< the {argument}, or the literal text */
    const void *data; /**< argument pre-parsed at configuration time */
    int *conditions;  /**< %400,501{..}x status codes, or NULL */
    int nconditions;
    int negate;         /**< %!200{..}x */
    apr_size_t arg_len; /**< length of a literal */
};

/** A parsed LogFormat. */
typedef struct log_format_t {
    apr_array_header_t *items; /**< log_item_t, in order */
    int json;                  /**< the predefined "json" format */
} log_format_t;

/* Format letters from other modules: include/rl_log_item.h. */
typedef rl_log_item_provider_t log_item_provider_t;

/** The format TransferLog uses when no LogFormat sets one: common. */
#define LOG_FORMAT_COMMON "%h %l %u %t \"%r\" %>s %b"
#define LOG_FORMAT_COMBINED                                                    \
    LOG_FORMAT_COMMON " \"%{Referer}i\" \"%{User-Agent}i\""

/**
 * Parses a format string.  Errors name the offending directive, as httpd
 * does: "Unrecognized LogFormat directive %z".
 * @return NULL, or the error message (in p)
 */
const char *log_format_parse(apr_pool_t *p, const char *fmt,
                             log_format_t **out);

/** The predefined format of a nickname (common, combined, json), or NULL. */
log_format_t *log_format_builtin(apr_pool_t *p, const char *nickname);

/**
 * Renders one request as one line ending in "\n", in r->pool.
 * @param len out: the line's length
 */
char *log_format_line(const log_format_t *f, rl_request_t *r, apr_time_t now,
                      apr_size_t *len);

#endif /* LOG_PRIVATE_H */
