/*
 * cache_rules.h: the RFC 9111 rules of mod_cache as pure functions.
 *
 * Nothing here touches a request, a store or the clock: every input is an
 * argument (header values as strings, times as apr_time_t), so that
 * test/unit/cache_rules_test.c checks each rule alone.  mod_cache.c
 * gathers the inputs from the request and applies the answers.
 *
 * Times are apr_time_t (microseconds); ages and lifetimes travel in
 * apr_time_t too and are turned into whole seconds only for the Age
 * header.  "Absent" numeric directives are -1.
 */
#ifndef CACHE_RULES_H
#define CACHE_RULES_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

/** max-stale without a value: any staleness is accepted. */
#define CACHE_ANY_STALE APR_INT64_MAX

/** Request Cache-Control directives (RFC 9111 §5.2.1). */
typedef struct cache_req_cc_t {
    int no_store;
    int no_cache; /**< also Pragma: no-cache without Cache-Control */
    int only_if_cached;
    int no_transform;
    apr_int64_t max_age;   /**< seconds, -1 absent */
    apr_int64_t max_stale; /**< seconds, -1 absent, CACHE_ANY_STALE bare */
    apr_int64_t min_fresh; /**< seconds, -1 absent */
} cache_req_cc_t;

/** Response Cache-Control directives (RFC 9111 §5.2.2, RFC 5861). */
typedef struct cache_resp_cc_t {
    int no_store;
    int no_cache;   /**< unqualified */
    int is_private; /**< unqualified */
    int is_public;
    int must_revalidate;
    int proxy_revalidate;
    int no_transform;
    int must_understand;
    /** Qualified no-cache="a, b" and private="a, b": the fields named are
     *  not stored (a shared cache may keep the rest); NULL when absent. */
    const char *no_cache_fields;
    const char *private_fields;
    apr_int64_t max_age;  /**< seconds, -1 absent */
    apr_int64_t s_maxage; /**< seconds, -1 absent */
    apr_int64_t swr;      /**< stale-while-revalidate seconds, -1 absent */
    apr_int64_t sie;      /**< stale-if-error seconds, -1 absent */
} cache_resp_cc_t;

/**
 * Parses a request's Cache-Control (all its field lines joined with ",",
 * or NULL) and, when there is none, Pragma (only "no-cache" counts).
 */
void cache_parse_req_cc(const char *cc, const char *pragma,
                        cache_req_cc_t *out);

/** Parses a response's Cache-Control (field lines joined, or NULL).
 *  Qualified field lists are copied into p. */
void cache_parse_resp_cc(apr_pool_t *p, const char *cc, cache_resp_cc_t *out);

/** All values of a field in a table joined with ", " (NULL when absent). */
const char *cache_table_join(apr_pool_t *p, const apr_table_t *t,
                             const char *name);

/** GET and HEAD: may be answered from the cache. */
int cache_method_cacheable(const char *method);

/** A method that is not safe (RFC 9110 §9.2.1): its non-error response
 *  invalidates what is stored for its target (RFC 9111 §4.4). */
int cache_method_unsafe(const char *method);

/** A status RFC 9111 lets a cache store at all (final, understood,
 *  not 206/304). */
int cache_status_storable(int status);

/** A status that is heuristically cacheable (RFC 9110 §15.1). */
int cache_status_heuristic(int status);

/** The operator's freshness settings (httpd's directive names). */
typedef struct cache_policy_t {
    apr_interval_time_t default_expire; /**< CacheDefaultExpire */
    apr_interval_time_t max_expire;     /**< CacheMaxExpire */
    apr_interval_time_t min_expire;     /**< CacheMinExpire */
    double lm_factor;                   /**< CacheLastModifiedFactor */
    int ignore_no_last_mod;             /**< CacheIgnoreNoLastMod */
    int store_private;                  /**< CacheStorePrivate */
    int store_no_store;                 /**< CacheStoreNoStore */
    int store_expired;                  /**< CacheStoreExpired */
    int ignore_set_cookie; /**< Set-Cookie listed in CacheIgnoreHeaders */
} cache_policy_t;

/** What the storing decision looks at. */
typedef struct cache_resp_info_t {
    int status;
    int authorization;   /**< the request carried Authorization */
    int req_no_store;    /**< the request said no-store */
    int set_cookie;      /**< the response carries Set-Cookie */
    const char *vary;    /**< Vary (joined) or NULL */
    const char *expires; /**< Expires or NULL */
    const char *date;    /**< Date or NULL */
    const char *last_modified;
    const char *etag;
    const char *age;         /**< Age or NULL */
    apr_time_t request_time; /**< when the request went to the backend */
    apr_time_t response_time;
} cache_resp_info_t;

/** The storing decision's result. */
typedef struct cache_fresh_t {
    apr_time_t initial_age; /**< corrected initial age (RFC 9111 §4.2.3) */
    apr_time_t lifetime;    /**< freshness lifetime */
    apr_time_t expires;     /**< response_time + lifetime - initial_age */
    int heuristic;          /**< the lifetime is a heuristic one */
} cache_fresh_t;

/**
 * Decides whether a response may be stored by a shared cache, and for
 * how long it is fresh.
 * @return NULL when it may be stored (and *out filled), else the reason
 *         it may not, as a short phrase for logs and X-Cache-Detail
 */
const char *cache_storable(const cache_resp_info_t *in,
                           const cache_resp_cc_t *cc, const cache_policy_t *pol,
                           cache_fresh_t *out);

/**
 * The corrected initial age of a response (RFC 9111 §4.2.3):
 * max(response_time - date, age + (response_time - request_time)), never
 * negative.  date 0 = no valid Date; age_seconds -1 = no valid Age.
 */
apr_time_t cache_initial_age(apr_time_t date, apr_int64_t age_seconds,
                             apr_time_t request_time, apr_time_t response_time);

/** current_age = initial age + time resident in the cache. */
apr_time_t cache_current_age(apr_time_t initial_age, apr_time_t response_time,
                             apr_time_t now);

/**
 * The freshness lifetime (RFC 9111 §4.2.1, then httpd's heuristics):
 * s-maxage, max-age, Expires - Date; else (Date - Last-Modified) x
 * lm_factor; else default_expire when allowed.  Bounded by max_expire
 * (min_expire for heuristic ones).
 * @param heuristic out: 1 when no explicit lifetime was given
 * @return the lifetime, or -1 when there is none (not storable by httpd's
 *         rule: no Last-Modified, ETag or expiry)
 */
apr_time_t cache_lifetime(const cache_resp_info_t *in,
                          const cache_resp_cc_t *cc, const cache_policy_t *pol,
                          int *heuristic);

/** A non-negative delta-seconds value ("120"), or -1 when invalid. */
apr_int64_t cache_delta_seconds(const char *s);

/** An HTTP date, or 0 when absent or invalid. */
apr_time_t cache_http_date(const char *s);

/** What to do with a stored response for a request (RFC 9111 §4). */
typedef enum cache_use_e {
    CACHE_USE_FRESH = 0,  /**< serve it */
    CACHE_USE_STALE,      /**< serve it stale (allowed by the request's
                               max-stale) */
    CACHE_USE_SWR,        /**< serve it stale and refresh it in the
                               background (stale-while-revalidate) */
    CACHE_USE_REVALIDATE, /**< validate it with the backend first */
} cache_use_e;

/**
 * Whether a stored response may be used for a request.
 * @param age      its current age
 * @param lifetime its freshness lifetime (expires - response_time +
 *                 initial age)
 * @param req      the request's directives (zeroed with -1 numbers when
 *                 CacheIgnoreCacheControl is on)
 * @param resp     the stored response's directives
 */
cache_use_e cache_usable(apr_time_t age, apr_time_t lifetime,
                         const cache_req_cc_t *req,
                         const cache_resp_cc_t *resp);

/** 1 when a stale response may be served because the backend failed:
 *  stale-if-error within its window (even over must-revalidate), or
 *  stale_on_error (CacheStaleOnError) when nothing forbids serving it
 *  stale; how long such an entry is kept is the glue's (stale_until). */
int cache_stale_on_error_ok(apr_time_t staleness, const cache_resp_cc_t *resp,
                            int stale_on_error);

/** A shared cache may answer a request with Authorization from a stored
 *  response only when that response said public, s-maxage or
 *  must-revalidate (RFC 9111 §3.5). */
int cache_auth_ok(const cache_resp_cc_t *resp);

/**
 * The Vary field normalised: lower-case names, duplicates dropped,
 * separated by ",".  "*" when any member is "*"; NULL when there is none.
 */
const char *cache_vary_normalize(apr_pool_t *p, const char *vary);

/**
 * The key of the variant of url_key that a request selects: url_key,
 * then " " and name=value for each name of the normalised Vary list (a
 * field the request lacks is name!, distinct from an empty one).  Values
 * are the request's field lines joined, with runs of blanks made one
 * space.  The separator cannot occur in a URL key, so removing url_key
 * followed by " " as a prefix removes exactly its variants.
 */
const char *cache_variant_key(apr_pool_t *p, const char *url_key,
                              const char *vary, const apr_table_t *headers_in);

/**
 * Client conditionals against a stored (or new) response (RFC 9110
 * §13.1.2, §13.1.3, §13.2.2): If-None-Match (weak comparison; "*" matches
 * any) wins over If-Modified-Since, which compares with Last-Modified (or
 * Date when there is none).
 * @return 1 when the answer is 304 Not Modified
 */
int cache_not_modified(const char *if_none_match, const char *if_mod_since,
                       const char *etag, const char *last_modified,
                       const char *date);

/** 1 when an entity tag is listed in an If-None-Match value (weak). */
int cache_etag_match(const char *list, const char *etag);

/**
 * A single byte range of a body of `len` bytes (RFC 9110 §14).
 * @return 0: no Range, or one to ignore (several ranges, bad syntax, or
 *         If-Range that does not hold): serve it whole; 206 with *off and
 *         *n; 416 when the range lies beyond the body
 */
int cache_range(const char *range, const char *if_range, const char *etag,
                const char *last_modified, apr_off_t len, apr_off_t *off,
                apr_off_t *n);

/**
 * The path a Location or Content-Location names, when it is on the same
 * origin as host:port ("http://host:port/x", "//host/x", "/x", "x"
 * relative to base_path).
 * @return the path (with query), or NULL when another origin
 */
const char *cache_same_origin_path(apr_pool_t *p, const char *location,
                                   const char *host, int port,
                                   const char *base_path);

/** Whether a field is hop-by-hop or framing, never stored. */
int cache_field_unstorable(const char *name);

/** 1 when name appears in the comma-separated list (case-insensitive). */
int cache_list_has(const char *list, const char *name);

/**
 * Builds the stored header block ("Name: value\r\n"…) from a response's
 * fields: hop-by-hop and framing fields, Age, the names in `drop` (a
 * comma-separated list, or NULL) and the array of names `ignore`
 * (CacheIgnoreHeaders, or NULL) are left out; Content-Type comes from
 * content_type; "Age: <initial age>" is added.
 */
const char *cache_headers_build(apr_pool_t *p, const apr_table_t *out,
                                const char *content_type, const char *drop,
                                const apr_array_header_t *ignore,
                                apr_time_t initial_age, apr_size_t *len);

/**
 * Reads a stored block back into a table (values copied into p).
 * @return the number of fields, or -1 when the block is malformed
 */
int cache_headers_parse(apr_pool_t *p, const char *block, apr_size_t len,
                        apr_table_t *out);

/**
 * The stored fields updated by a 304 (RFC 9111 §4.3.4): each field the
 * 304 carries replaces the stored ones of that name (framing, hop-by-hop
 * and ignored fields aside); the initial age is the 304's.
 */
const char *cache_headers_update(apr_pool_t *p, const apr_table_t *stored,
                                 const apr_table_t *fresh,
                                 const apr_array_header_t *ignore,
                                 apr_time_t initial_age, apr_size_t *len);

#endif /* CACHE_RULES_H */
