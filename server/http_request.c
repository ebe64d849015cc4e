/*
 * http_request.c: running a parsed request through the hooks, choosing its
 * location block, and the core's own answers (error pages, TRACE,
 * OPTIONS *).
 *
 * Order: post_read_request, method checks, access_checker, quick_handler,
 * translate_name, fixups, insert_filter, handler.  Access control runs
 * before anything can answer, cache hits included.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "http_core.h"

#include <apr_escape.h>
#include <pcre2.h>

RL_LOG_USE_MODULE(core);

static int location_matches(const rl_location_t *loc, const char *uri)
{
    if (loc->regex != NULL) {
        pcre2_match_data *md =
            pcre2_match_data_create_from_pattern(loc->regex, NULL);
        int rc = pcre2_match(loc->regex, (PCRE2_SPTR)uri, PCRE2_ZERO_TERMINATED,
                             0, 0, md, NULL);
        pcre2_match_data_free(md);
        return rc >= 0;
    } else {
        /* "/a" matches "/a", "/a/" and "/a/b", not "/ab" (httpd 2.4) */
        apr_size_t n = strlen(loc->path);
        if (strncmp(uri, loc->path, n) != 0) {
            return 0;
        }
        return uri[n] == '\0' || uri[n] == '/' || loc->path[n - 1] == '/';
    }
}

int rl_if_blocks;

/* Whether an <If> family block applies: its <Location> matches, the
 * <If>/<ElseIf> before it (for an <ElseIf>/<Else>) were false, and its own
 * condition holds.  A condition that cannot be evaluated counts as false
 * and says why in the error log. */
static int if_applies(rl_request_t *r, const rl_location_t *loc)
{
    const if_cond_t *own = loc->cond, *c;

    if (own->within != NULL && !location_matches(own->within, r->uri)) {
        return 0;
    }
    for (c = own; c != NULL; c = c->prev) {
        const char *err = NULL;
        int rc = c->expr ? rl_expr_eval(r, c->expr, &err) : 1;
        if (rc < 0) {
            rl_log_rerror(RL_LOG_ERR, 0, r,
                          "%s:%u: <If \"%s\"> cannot be evaluated (%s): "
                          "taken as false",
                          loc->file, loc->line, rl_expr_source(c->expr), err);
            rc = 0;
        }
        if (rc != (c == own)) {
            return 0; /* own false, or an earlier branch was taken */
        }
    }
    return 1;
}

static void **merge_location(rl_request_t *r, void **conf,
                             const rl_location_t *loc)
{
    /* the first match comes pre-merged; later ones merge on top */
    r->location = (rl_location_t *)loc;
    return conf == NULL
               ? loc->dir_config
               : rl_config_merge_dir_vectors(r->pool, conf, loc->own_config);
}

RL_DECLARE(void) rl_request_lookup_location(rl_request_t *r)
{
    apr_array_header_t *locs = r->server->locations;
    void **conf = NULL;
    int i;

    r->location = NULL;
    for (i = 0; i < locs->nelts; i++) {
        rl_location_t *loc = APR_ARRAY_IDX(locs, i, rl_location_t *);
        if (loc->kind != RL_CTX_LOCATION || loc->cond != NULL ||
            !location_matches(loc, r->uri)) {
            continue;
        }
        conf = merge_location(r, conf, loc);
    }
    /* then <If> blocks, in file order, as httpd merges them last */
    for (i = 0; rl_if_blocks > 0 && i < locs->nelts; i++) {
        rl_location_t *loc = APR_ARRAY_IDX(locs, i, rl_location_t *);
        if (loc->cond != NULL && if_applies(r, loc)) {
            conf = merge_location(r, conf, loc);
        }
    }
    r->per_dir_config = conf ? conf : r->server->lookup_defaults;
}

static const char *error_text(int status)
{
    switch (status) {
    case 400:
        return "Your browser sent a request that this server could not "
               "understand.";
    case 401:
        return "This server could not verify that you are authorized to "
               "access this resource.";
    case 403:
        return "You don't have permission to access this resource.";
    case 404:
        return "The requested URL was not found on this server.";
    case 405:
        return "The requested method is not allowed for this URL.";
    case 408:
        return "Server timeout waiting for the HTTP request from the "
               "client.";
    case 413:
        return "The request body is larger than this server allows.";
    case 414:
        return "The requested URL's length exceeds the capacity limit for "
               "this server.";
    case 417:
        return "The expectation given in the Expect request header could "
               "not be met by this server.";
    case 429:
        return "Too many requests: please wait before trying again.";
    case 431:
        return "The request's header fields are larger than this server "
               "allows.";
    case 501:
        return "This server does not support the method or coding used.";
    case 502:
        return "The proxy server received an invalid response from an "
               "upstream server.";
    case 503:
        return "The server is temporarily unable to service your request. "
               "Please try again later.";
    case 504:
        return "The gateway did not receive a timely response from the "
               "upstream server.";
    case 505:
        return "This server supports only HTTP/1.0 and HTTP/1.1.";
    default:
        return "The server could not complete your request.";
    }
}

/* Statuses after which the rest of the input cannot be trusted. */
static int must_close(int status)
{
    return status == 400 || status == 408 || status == 413 || status == 414 ||
           status == 417 || status == 431 || status == 501 || status == 505;
}

int rl_request_send_error(rl_request_t *r, int status)
{
    core_dir_conf_t *d;
    const char *doc = NULL, *reason;

    if (status < 300 || status > 599) {
        status = 500;
    }
    /* a module may answer instead (a stale cache entry for a failed
     * backend); not for requests refused before they were routed */
    if (r->per_dir_config != NULL && !REQ_STATE(r)->head_sent &&
        rl_run_error_response(r, status) == RL_OK) {
        return RL_OK;
    }
    d = r->per_dir_config ? rl_core_dir_conf(r->per_dir_config) : NULL;
    r->status = status;
    apr_table_clear(r->headers_out);
    apr_table_setn(r->notes, RL_NOTE_ERROR_PAGE, "1");
    r->clength = -1;
    if (must_close(status)) {
        CONN_STATE(r->connection)->close_after = 1;
    }
    if (d != NULL && d->error_docs != NULL) {
        char key[8];
        apr_snprintf(key, sizeof(key), "%d", status);
        doc = apr_hash_get(d->error_docs, key, APR_HASH_KEY_STRING);
    }
    if (doc != NULL &&
        (strncmp(doc, "http://", 7) == 0 || strncmp(doc, "https://", 8) == 0)) {
        /* httpd sends a redirect for a full URL: the client loses the
         * original status, as there */
        r->status = 302;
        apr_table_setn(r->err_headers_out, "Location", doc);
        doc = NULL;
        status = 302;
    }
    if (status == 405 && apr_table_get(r->err_headers_out, "Allow") == NULL) {
        apr_table_setn(r->err_headers_out, "Allow",
                       "GET, HEAD, POST, PUT, DELETE, OPTIONS");
    }
    rl_set_content_type(r, "text/html; charset=utf-8");
    if (doc != NULL) {
        rl_rputs(r, doc);
        rl_rputs(r, "\n");
        return RL_OK;
    }
    reason = rl_http_reason(r->status);
    if (reason == NULL) {
        reason = "Error";
    }
    rl_rprintf(r,
               "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"
               "<body>\n<h1>%s</h1>\n<p>%s</p>\n</body></html>\n",
               r->status, reason, reason, error_text(r->status));
    return RL_OK;
}

/* TRACE: the request head back, as message/http (when TraceEnable On). */
static int send_trace(rl_request_t *r)
{
    const apr_array_header_t *h = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)h->elts;
    int i;

    if (r->body_kind != RL_BODY_NONE) {
        return 413;
    }
    rl_set_content_type(r, "message/http");
    rl_rprintf(r, "%s\r\n", r->the_request);
    for (i = 0; i < h->nelts; i++) {
        if (strcasecmp(e[i].key, "Authorization") == 0 ||
            strcasecmp(e[i].key, "Cookie") == 0) {
            continue; /* never reflect credentials (cross-site tracing) */
        }
        rl_rprintf(r, "%s: %s\r\n", e[i].key, e[i].val);
    }
    rl_rputs(r, "\r\n");
    return RL_OK;
}

static int registered_method(const char *m)
{
    static const char *const known[] = {
        "GET",     "HEAD",  "POST",  "PUT",      "DELETE",    "CONNECT",
        "OPTIONS", "TRACE", "PATCH", "PROPFIND", "PROPPATCH", "MKCOL",
        "COPY",    "MOVE",  "LOCK",  "UNLOCK",   "PURGE",     NULL};
    int i;

    for (i = 0; known[i]; i++) {
        if (strcmp(known[i], m) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Handlers declared blocking, this generation (the table goes with the
 * configuration pool, as the hooks do). */
static apr_hash_t *blocking_handlers;

static apr_status_t blocking_reset(void *unused)
{
    (void)unused;
    blocking_handlers = NULL;
    return APR_SUCCESS;
}


RL_DECLARE(void) rl_handler_declare_blocking(apr_pool_t *p, const char *name)
{
    if (blocking_handlers == NULL) {
        blocking_handlers = apr_hash_make(p);
        apr_pool_cleanup_register(p, NULL, blocking_reset,
                                  apr_pool_cleanup_null);
    }
    apr_hash_set(blocking_handlers, apr_pstrdup(p, name), APR_HASH_KEY_STRING,
                 "");
}


RL_DECLARE(int) rl_handler_blocking_count(void)
{
    return blocking_handlers ? (int)apr_hash_count(blocking_handlers) : 0;
}


#define STOP_UNLESS_OK(rc)                                                     \
    do {                                                                       \
        if ((rc) != RL_OK && (rc) != RL_DECLINED) {                            \
            return (rc);                                                       \
        }                                                                      \
    } while (0)

int rl_request_run(rl_request_t *r)
{
    core_server_conf_t *cc = rl_core_server_conf(r->server);
    core_dir_conf_t *d;
    int rc;

    rc = rl_run_post_read_request(r);
    STOP_UNLESS_OK(rc);
    if (cc->strict == 2 && !registered_method(r->method)) {
        return 501;
    }
    if (strcmp(r->method, "CONNECT") == 0) {
        return 405; /* Relais is not a forward proxy */
    }
    rc = rl_run_access_checker(r);
    STOP_UNLESS_OK(rc);
    if (strcmp(r->method, "TRACE") == 0) {
        return cc->trace_enable == 0 ? 405 : send_trace(r);
    }
    if (strcmp(r->uri, "*") == 0) {
        if (strcmp(r->method, "OPTIONS") != 0) {
            return 400;
        }
        apr_table_setn(r->headers_out, "Allow",
                       "GET, HEAD, POST, PUT, DELETE, OPTIONS");
        rl_set_content_length(r, 0);
        return RL_OK;
    }
    rc = rl_run_quick_handler(r);
    if (rc != RL_DECLINED) {
        return rc;
    }
    d = rl_core_dir_conf(r->per_dir_config);
    if (d != NULL && d->handler != NULL && strcmp(d->handler, "none") != 0) {
        r->handler = d->handler;
    }
    rc = rl_run_translate_name(r);
    STOP_UNLESS_OK(rc);
    rc = rl_run_fixups(r);
    STOP_UNLESS_OK(rc);
    rl_run_insert_filter(r);
    if (r->handler != NULL && blocking_handlers != NULL &&
        apr_hash_get(blocking_handlers, r->handler, APR_HASH_KEY_STRING) &&
        CONN_STATE(r->connection)->offload != NULL &&
        !CONN_STATE(r->connection)->blocking) {
        return RL_OFFLOAD;
    }
    return rl_request_run_handler(r);
}


/* The handler hooks, and 404 when none answers. */
int rl_request_run_handler(rl_request_t *r)
{
    int rc = rl_run_handler(r);

    if (rc == RL_DECLINED) {
        rl_log_rerror(RL_LOG_INFO, 0, r,
                      "no handler for %s%s (add SetHandler or ProxyPass)",
                      r->uri,
                      r->handler ? apr_pstrcat(r->pool, " (handler '",
                                               r->handler, "')", NULL)
                                 : "");
        return 404;
    }
    return rc;
}

void rl_request_finish_hooks(rl_request_t *r)
{
    rl_run_log_transaction(r);
}
