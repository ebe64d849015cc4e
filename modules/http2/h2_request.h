/*
 * h2_request.h: an HTTP/2 request's header list as the HTTP/1.1 head the
 * core's engine reads (h2_request.c).  No state beyond the arguments, no
 * nghttp2: test/fuzz/fuzz_h2_request.c links it alone.
 */
#ifndef H2_REQUEST_H
#define H2_REQUEST_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "rl_http.h"

/** What one request's header list may weigh. */
typedef struct h2_request_limits_t {
    apr_size_t max_header_list; /**< H2MaxHeaderListSize: decoded bytes */
    apr_size_t max_field;       /**< LimitRequestFieldSize (0: none) */
    int max_fields;             /**< LimitRequestFields (0: none) */
} h2_request_limits_t;

/** A request as its fields arrive. */
typedef struct h2_request_t {
    apr_pool_t *pool;           /**< names and values are copied here */
    apr_array_header_t *fields; /**< rl_http_field_t kept, in order */
    const char *method, *scheme, *authority, *path, *cookie;
    apr_size_t header_bytes; /**< decoded, RFC 9113 6.5.2 accounting */
    int refused;             /**< 431 or 400 once the list is refused */
    const char *why;         /**< for the log when refused */
} h2_request_t;

void h2_request_init(h2_request_t *rq, apr_pool_t *p);

/**
 * One decoded field (pseudo-header or not).  A field past the limits
 * makes the request 431; a malformed one (RFC 9113 8.2.1, 8.3.1: bytes
 * that would change the meaning of the HTTP/1.1 head) makes it 400.
 * Either way later fields are only counted.
 */
void h2_request_add(h2_request_t *rq, const h2_request_limits_t *lim,
                    const char *name, apr_size_t namelen, const char *value,
                    apr_size_t valuelen);

/**
 * The HTTP/1.1 head for the engine, allocated in rq->pool.
 * @param in_eof    the client ended the stream (no more DATA)
 * @param body_have request body bytes already received
 * @param head      out: the head, ending with the empty line
 * @param len       out: its length
 * @param chunked   out: 1 when the body must be sent to the engine chunked
 * @return 0, or the status to answer without the engine (400, 431, 501)
 */
int h2_request_head(h2_request_t *rq, int in_eof, apr_size_t body_have,
                    const char **head, apr_size_t *len, int *chunked);

/** Connection-specific fields: never passed on, either way (RFC 9113
 *  8.2.2). */
int h2_hop_by_hop(const char *name);

#endif /* H2_REQUEST_H */
