/*
 * hc_expr.h: the health-check expression language of mod_healthcheck
 * (ProxyHCExpr), a subset of httpd's ap_expr: a recursive-descent parser
 * that builds a tree in a pool, and an evaluator over one response.
 *
 * Also the small HTTP response helpers the watchdog and the evaluator
 * share (hc_response.c): status line, head end, header lookup, chunked
 * decoding.  Pure functions: no module state, no I/O, no logging, so that
 * test/fuzz/fuzz_hcexpr.c links these two files alone.
 *
 * The grammar is in docs/healthcheck.md and at the top of hc_expr.c.
 */
#ifndef HC_EXPR_H
#define HC_EXPR_H

#include <apr_pools.h>

typedef struct hc_expr_t hc_expr_t;

/** @name What an expression reads of the response (hc_expr_uses()) */
/**@{*/
#define HC_EXPR_USES_STATUS 0x1u  /**< %{REQUEST_STATUS}, hc('status') */
#define HC_EXPR_USES_HEADERS 0x2u /**< resp('Name') */
#define HC_EXPR_USES_BODY 0x4u    /**< hc('body'), %{HC_BODY} */
/**@}*/

/** One response, as an expression sees it. */
typedef struct hc_expr_input_t {
    int status;          /**< 0 when there is no HTTP answer */
    const char *method;  /**< "GET", "HEAD", "OPTIONS" or NULL */
    const char *head;    /**< header lines after the status line */
    apr_size_t head_len; /**< (may be 0) */
    const char *body;    /**< the body read (decoded), may hold NULs */
    apr_size_t body_len; /**< (may be 0) */
} hc_expr_input_t;

/**
 * Parses an expression: `{...}` as written after ProxyHCExpr's name (the
 * braces are httpd's quoting), or the bare expression.
 * @param p   pool for the tree and the compiled regular expressions
 * @param err on failure: "at character N: expected ..., found ...", N
 *            counting from 1 at the first character inside the braces
 * @return the expression, or NULL and *err
 */
hc_expr_t *hc_expr_parse(apr_pool_t *p, const char *text, const char **err);

/** HC_EXPR_USES_* bits of a parsed expression. */
unsigned hc_expr_uses(const hc_expr_t *e);

/**
 * Evaluates e over one response.  Allocates nothing.
 * @return 1 true, 0 false, -1 when it cannot be evaluated (a comparison
 *         with -lt of a value that is not a number, a regular expression
 *         over its match limit): errbuf says why
 */
int hc_expr_eval(const hc_expr_t *e, const hc_expr_input_t *in, char *errbuf,
                 apr_size_t errlen);

/** @name Response helpers (hc_response.c) */
/**@{*/

/**
 * The status line at the start of buf ("HTTP/1.x NNN ...", CRLF or LF).
 * @return 1 complete (*status, *line_end: the offset after its LF),
 *         0 incomplete, -1 not an HTTP/1.x status line
 */
int hc_response_status(const char *buf, apr_size_t len, int *status,
                       apr_size_t *line_end);

/** The offset just after the empty line that ends the head starting at
 *  buf, or 0 when it has not arrived. */
apr_size_t hc_response_head_end(const char *buf, apr_size_t len);

/**
 * The value of the first header field called name (case-insensitive) in
 * head (header lines without the status line), trimmed.
 * @return the value (not NUL-terminated, *vlen bytes) or NULL
 */
const char *hc_response_header(const char *head, apr_size_t head_len,
                               const char *name, apr_size_t *vlen);

/**
 * Decodes a chunked body of len bytes at buf.  With in_place, the data
 * is moved to the start of buf (trailers and framing dropped); without,
 * buf is only scanned.
 * @return 1 when the last chunk has arrived, 0 when more is needed, -1 on
 *         a framing error; *out_len is the data decoded so far
 */
int hc_chunked_decode(char *buf, apr_size_t len, apr_size_t *out_len,
                      int in_place);

/** Largest response head a check reads (status line and fields). */
#define HC_HEAD_MAX 16384
/** Largest body an expression sees (hc('body')): the rest is not read. */
#define HC_BODY_MAX 65536
/** Room for a body as it arrives (chunked framing included). */
#define HC_BODY_RAW_MAX (HC_BODY_MAX + HC_BODY_MAX / 4)

/** @name How much of a response a check needs (hc_response_parse()) */
/**@{*/
#define HC_NEED_STATUS 0 /**< the status line */
#define HC_NEED_HEAD 1   /**< the whole head */
#define HC_NEED_BODY 2   /**< the head and up to HC_BODY_MAX of body */
/**@}*/

/** Where the parts of a complete response are in the buffer. */
typedef struct hc_response_t {
    int status;
    apr_size_t head_start, head_len; /**< header lines (no status line) */
    apr_size_t body_start, body_len; /**< body, decoded */
} hc_response_t;

/**
 * Looks at what has arrived of a response: buf holds *len bytes (room for
 * cap), eof says that the peer has closed.  Interim 1xx responses are
 * removed from buf (*len shrinks); a chunked body is decoded in place
 * once complete.
 * @param need      HC_NEED_*
 * @param head_only the request was HEAD (no body follows the head)
 * @return 1 complete (*r filled), 0 more is needed, -1 not a usable
 *         response (*why says why)
 */
int hc_response_parse(char *buf, apr_size_t *len, apr_size_t cap, int eof,
                      int need, int head_only, hc_response_t *r,
                      const char **why);
/**@}*/

#endif /* HC_EXPR_H */
