/*
 * headers_private.h: what the files of mod_headers share (not an API).
 *
 *   mod_headers.c      Header / RequestHeader: parsing, the hooks, the
 *                      actions
 *   headers_value.c    the value language (%t, %D, %{VAR}e, %{VAR}s) and
 *                      the $1..$9 substitution of edit and SetEnvIf
 *   headers_setenvif.c SetEnvIf, SetEnvIfNoCase, BrowserMatch[NoCase]
 *   headers_redirect.c Redirect, RedirectMatch, RedirectPermanent,
 *                      RedirectTemp (httpd's mod_alias redirects)
 */
#ifndef HEADERS_PRIVATE_H
#define HEADERS_PRIVATE_H

#include <pcre2.h>

#include "relais.h"

extern RL_DECLARE_DATA rl_module_t headers_module;

/* ------------------------------------------------------------------ */
/* Values (headers_value.c)                                            */
/* ------------------------------------------------------------------ */

/** A parsed value: literal text and format specifiers (opaque). */
typedef struct hv_format_t hv_format_t;

/**
 * Parses a value written in a Header/RequestHeader line.
 * @return NULL and *out, or what is wrong (in p)
 */
const char *hv_parse(apr_pool_t *p, const char *text, hv_format_t **out);

/** The value for this request: the text itself when it has no
 *  specifier (nothing is allocated), else a string in r->pool. */
const char *hv_expand(rl_request_t *r, const hv_format_t *f);

/** The value as written (for log lines). */
const char *hv_source(const hv_format_t *f);

/** Match data for one match (ten groups), from r->pool, reused by every
 *  match of the request. */
pcre2_match_data *hv_match_data(rl_request_t *r);

/**
 * `tmpl` with the groups of the last match of `subject` put in:
 * $0..$9 and & (the whole match, as httpd), a backslash makes the next
 * character literal (\$, \&, \\).  rc is what pcre2_match() returned.
 * @return tmpl itself when it holds nothing to replace
 */
const char *hv_regsub(apr_pool_t *p, const char *tmpl, const char *subject,
                      pcre2_match_data *md, int rc);

/**
 * edit (all = 0: the first match) or edit* (all = 1: every match) of one
 * value: each match replaced by hv_regsub(repl).
 * @return the new value in r->pool, val itself when nothing matched, or
 *         NULL and *rc (a PCRE2 error code) when matching failed
 */
const char *hv_edit(rl_request_t *r, const pcre2_code *re, int all,
                    const char *val, const char *repl, int *rc);

/** True when tmpl holds something hv_regsub() replaces. */
int hv_has_subst(const char *tmpl);

/** Compiles a regular expression (caseless on request) into p; NULL and
 *  *err when it is not one. */
pcre2_code *hv_regex(apr_pool_t *p, const char *pattern, int caseless,
                     const char **err);

/** True for a byte of an HTTP token (RFC 9110 5.6.2). */
int hv_is_tchar(unsigned char c);

/* ------------------------------------------------------------------ */
/* SetEnvIf (headers_setenvif.c)                                       */
/* ------------------------------------------------------------------ */

/** @name cmd->data of senv_cmd(): which of the four directives */
/**@{*/
#define SENV_NOCASE 0x1u /**< SetEnvIfNoCase, BrowserMatchNoCase */
#define SENV_BROWSER                                                           \
    0x2u /**< BrowserMatch[NoCase]: the attribute is                           \
              User-Agent, not an argument */
/**@}*/

/** The handler of SetEnvIf, SetEnvIfNoCase, BrowserMatch[NoCase]. */
const char *senv_cmd(rl_cmd_t *cmd, void *mconfig, int argc,
                     char *const argv[]);

/** Runs the SetEnvIf rules (senv_rule_t *) of a request, in order. */
void senv_run(rl_request_t *r, const apr_array_header_t *rules);

/* ------------------------------------------------------------------ */
/* Redirect (headers_redirect.c)                                       */
/* ------------------------------------------------------------------ */

/** One Redirect/RedirectMatch line (opaque). */
typedef struct redir_rule_t redir_rule_t;

/** @name cmd->data of redir_cmd(): which of the four directives */
/**@{*/
#define REDIR_MATCH 0x1u     /**< RedirectMatch: a regex, not a URL-path */
#define REDIR_PERMANENT 0x2u /**< RedirectPermanent: 301, no status word */
#define REDIR_TEMP 0x4u      /**< RedirectTemp: 302, no status word */
/**@}*/

/** The handler of Redirect, RedirectMatch, RedirectPermanent and
 *  RedirectTemp. */
const char *redir_cmd(rl_cmd_t *cmd, void *mconfig, int argc,
                      char *const argv[]);

/** translate_name: answers the first rule that matches (RL_DONE, or the
 *  status of a rule without URL), else RL_DECLINED. */
int redir_translate(rl_request_t *r);

/* ------------------------------------------------------------------ */
/* The per-location block (mod_headers.c)                              */
/* ------------------------------------------------------------------ */

/**
 * Every list holds pointers and is NULL when empty, so that a request
 * with nothing configured costs one test per hook.  Merging appends the
 * inner block's list to the outer one's: outer actions run first.  The
 * redirect lists go the other way (the inner context's rules are tried
 * first), as httpd merges mod_alias's.
 */
typedef struct hdr_dir_conf {
    apr_array_header_t *early;     /**< hdr_action_t *: `early` ones (both
                                        directives), at post_read_request */
    apr_array_header_t *in;        /**< RequestHeader, at fixups */
    apr_array_header_t *out;       /**< Header [onsuccess]: r->headers_out */
    apr_array_header_t *err;       /**< Header always: r->err_headers_out */
    apr_array_header_t *setenv;    /**< senv_rule_t *: SetEnvIf and friends */
    apr_array_header_t *redir_srv; /**< redir_rule_t *: Redirect* written at
                                        server or vhost level */
    apr_array_header_t *redir_loc; /**< redir_rule_t *: Redirect* written in
                                        <Location> and <If> */
} hdr_dir_conf;

#endif /* HEADERS_PRIVATE_H */
