/**
 * @file rl_proxy.h
 * @brief mod_proxy's public API: workers, balancers and the proxy hooks.
 *
 * Implemented by modules/proxy (mod_proxy); used by mod_balancer,
 * mod_healthcheck and third-party modules.  A module using these hooks
 * needs mod_proxy loaded before it (LoadModule order): the symbols are
 * resolved from mod_proxy.so when the module is loaded; nothing links to
 * mod_proxy at build time.
 *
 * A *worker* is one backend URL (scheme://host:port) with its parameters
 * (ProxyPass or BalancerMember key=value).  Its run-time state that every
 * child must see (status, counters) lives in shared memory, in an
 * rl_proxy_worker_shared_t with no pointers; the rest is per process.
 */
#ifndef RL_PROXY_H
#define RL_PROXY_H

#include <apr_hooks.h>
#include <apr_network_io.h>
#include <sys/socket.h>

#include "relais.h"

#ifdef __cplusplus
extern "C" {
#endif

/** r->notes key: a proxy_pre_request hook answering 503 sets it (to a
 *  time, decimal microseconds) to have mod_proxy wait and ask again until
 *  then, without holding a thread (balancer timeout=). */
#define RL_PROXY_NOTE_WAIT_UNTIL "proxy-wait-until"

/** r->notes key: the workers this request already failed on, as
 *  ",index,index," (rl_proxy_worker_t.index); a balancer picking a member
 *  for a failover leaves them out. */
#define RL_PROXY_NOTE_TRIED "proxy-tried"

/** r->notes key: a post_request hook found the exchange failed. */
#define RL_PROXY_NOTE_FAILED "proxy-exchange-failed"

/** r->notes key: the backend URL a request was routed to
 *  ("http://host:port/path?query", "balancer://name/path"), set by
 *  translate_name when RL_PROXY_NOTE_WANT_URL is set; <Proxy> sections
 *  match it (mod_acl's Require). */
#define RL_PROXY_NOTE_URL "proxy-url"
/** r->notes key a module sets (to any value) before translate_name
 *  (in post_read_request or access_checker) when it will read
 *  RL_PROXY_NOTE_URL: building the URL costs an allocation per request,
 *  paid only when someone asked. */
#define RL_PROXY_NOTE_WANT_URL "proxy-want-url"

/** Marks a symbol of mod_proxy that other modules may use. */
#define RL_PROXY_DECLARE(type) __attribute__((visibility("default"))) type

/** @name Worker status bits (httpd's status= flags) */
/**@{*/
#define RL_WORKER_DISABLED 0x0001u      /**< +D: takes no traffic */
#define RL_WORKER_STOPPED 0x0002u       /**< +S: stopped by the operator */
#define RL_WORKER_IN_ERROR 0x0004u      /**< +E: failed; retried after retry */
#define RL_WORKER_HOT_STANDBY 0x0008u   /**< +H: only when no other is up */
#define RL_WORKER_HOT_SPARE 0x0010u     /**< +R */
#define RL_WORKER_DRAINING 0x0020u      /**< +N: sticky clients only */
#define RL_WORKER_IGNORE_ERRORS 0x0040u /**< +I */
#define RL_WORKER_HC_FAILED 0x0080u     /**< +C: failed its health check */
#define RL_WORKER_UNRESOLVED 0x0100u    /**< its name has no address (DNS) */
/**@}*/

/** Bits that describe what happened at run time (health, errors, DNS),
 *  as opposed to what the configuration asked for.  A graceful restart
 *  keeps these for a member that is still configured. */
#define RL_WORKER_RUNTIME_BITS                                                 \
    (RL_WORKER_IN_ERROR | RL_WORKER_HC_FAILED | RL_WORKER_UNRESOLVED)

/** Largest socket address a worker's shared state holds (IPv6). */
#define RL_WORKER_ADDR_MAX 28

/** Room for a member's route in its shared state (route= is at most
 *  RL_WORKER_ROUTE_MAX - 1 characters, as httpd's 64).
 *  @since API 20261129.0 */
#define RL_WORKER_ROUTE_MAX 64

/** Shared state of a worker, in shared memory (POD, no pointers).  Every
 *  child writes the counters: update them atomically (__atomic_fetch_add
 *  or apr_atomic_*), never with ++. */
typedef struct rl_proxy_worker_shared_t {
    char name[256];                   /**< the worker's URL */
    volatile apr_uint32_t status;     /**< RL_WORKER_* */
    volatile apr_time_t error_time;   /**< when it went into error */
    volatile apr_uint32_t busy;       /**< requests in flight, all children */
    volatile apr_uint64_t requests;   /**< requests sent */
    volatile apr_uint64_t errors;     /**< failed requests */
    volatile apr_uint64_t bytes_out;  /**< request bytes sent to it */
    volatile apr_uint64_t bytes_in;   /**< response bytes read from it */
    volatile apr_uint32_t fail_run;   /**< consecutive failed exchanges */
    volatile apr_time_t usable_since; /**< when it last came back into
                                           service (slow start), 0: always */
    /** The address to connect to, written by the DNS resolver under a
     *  sequence lock (odd while being written); read it with
     *  rl_proxy_worker_address(). */
    volatile apr_uint32_t addr_seq;
    apr_uint32_t addr_len;
    unsigned char addr[RL_WORKER_ADDR_MAX];
    /** The weight in use (loadfactor=, or what a balancer manager set
     *  since): what the lbmethods weigh candidates by.  One aligned
     *  32-bit word: read it plainly, write it with apr_atomic_set32.
     *  @since API 20261129.0 */
    volatile apr_uint32_t loadfactor;
    /** The route in use (route=, or a manager's), "" for none, under a
     *  sequence lock: read it with rl_proxy_worker_route(), change it with
     *  rl_proxy_worker_set_route().  @since API 20261129.0 */
    volatile apr_uint32_t route_seq;
    char route[RL_WORKER_ROUTE_MAX];
    /** The last active health check (mod_healthcheck's watchdog writes
     *  these, status pages read them): when it ended (0: never checked),
     *  1 when it passed, 0 when it failed, and how long it took in µs.
     *  @since API 20261129.1 */
    volatile apr_time_t hc_last;
    volatile apr_uint32_t hc_last_ok;
    volatile apr_uint32_t hc_last_us;
    /** Active health checks passed and failed since the server started
     *  (kept across graceful restarts).  @since API 20261129.1 */
    volatile apr_uint64_t hc_passed;
    volatile apr_uint64_t hc_failed;
} rl_proxy_worker_shared_t;

typedef struct rl_proxy_balancer_t rl_proxy_balancer_t;

/** A backend, as configured (read-only after start-up). */
typedef struct rl_proxy_worker_t {
    const char *name;     /**< "http://10.0.0.1:8080" (no path) */
    const char *scheme;   /**< "http", "ws", "https" or "wss" */
    const char *hostname; /**< host as configured */
    apr_port_t port;
    const char *hostport;        /**< "host:port", for Host when not kept */
    apr_sockaddr_t *addr;        /**< resolved address */
    apr_interval_time_t timeout; /**< timeout= (or ProxyTimeout) */
    apr_interval_time_t connect_timeout; /**< connectiontimeout= */
    apr_interval_time_t retry;           /**< retry= */
    apr_interval_time_t ttl;             /**< ttl=: idle pooled lifetime */
    int max;                       /**< max=: connections per child, 0 = ∞ */
    int enable_reuse;              /**< enablereuse= (disablereuse=On: 0) */
    int keepalive;                 /**< keepalive=: TCP keep-alive probes */
    int upgrade_websocket;         /**< upgrade=websocket */
    int loadfactor;                /**< loadfactor= as configured; the
                                        one in use is s->loadfactor */
    const char *route;             /**< route= as configured; the one in
                                        use: rl_proxy_worker_route() */
    const char *member_path;       /**< a BalancerMember URL's path ("/shop"),
                                        put in front of the request's, or NULL */
    int lbset;                     /**< lbset=: lower sets are used first */
    apr_interval_time_t slowstart; /**< slowstart=: ramp-up after recovery */
    int passive_fails;  /**< passivefails=: failed exchanges in a row that
                             put it in error (1, as httpd) */
    int resolve_all;    /**< resolve=all: one address per slot member */
    int resolve_slot;   /**< which address of the name (0 = first) */
    int health_checked; /**< a health checker watches it (set by
                             mod_healthcheck in check_config) */
    rl_proxy_balancer_t *balancer; /**< owning balancer, or NULL */
    int index;                     /**< process-wide worker index */
    rl_proxy_worker_shared_t *s;   /**< shared state */
    const char *file;              /**< where it was first declared */
    unsigned line;
} rl_proxy_worker_t;

/** A member an lbmethod may choose for a new (non-sticky) request. */
typedef struct rl_proxy_candidate_t {
    rl_proxy_worker_t *w;
    int index;  /**< its position in b->members */
    int weight; /**< loadfactor x 100, lower during slow start (>= 1) */
} rl_proxy_candidate_t;

/**
 * A load-balancing method: a provider of group "lbmethod", version "2",
 * registered with rl_register_provider() by mod_balancer (byrequests,
 * bybusyness, bytraffic, source, hash, random) or by any module.
 * Calls run in the child that serves the request, on the thread that
 * owns it; shared counters live in the workers' shared state, so a method
 * that keeps private state per child documents how it stays consistent.
 */
typedef struct rl_proxy_lbmethod_t {
    const char *name; /**< "byrequests" */
    /** Prepare b->lb_context (configuration pool, at start-up, in the
     *  parent).  Called for every balancer, whatever its lbmethod=, so
     *  that a balancer manager can switch it to this method at run time:
     *  for a method other than the configured one, b is a copy of the
     *  balancer that carries the method's own lb_context, and the other
     *  callbacks get that copy (since API
     *  20261129.0; members, generation and the shared state are the
     *  balancer's).  After a switch, released() may come for a request
     *  the previous method took. */
    apr_status_t (*init)(rl_proxy_balancer_t *b, apr_pool_t *p);
    /** Choose one of the n candidates for r (n >= 1; mod_balancer has
     *  applied status, lbset tiers, hot spares and standbys, slow start);
     *  must not block.  NULL declines: the request gets a 503. */
    rl_proxy_worker_t *(*pick)(rl_proxy_balancer_t *b, rl_request_t *r,
                               const rl_proxy_candidate_t *c, int n);
    /** A member was given a request (after pick or a sticky route). */
    void (*taken)(rl_proxy_balancer_t *b, rl_proxy_worker_t *w);
    /** The member's request ended with `outcome`. */
    void (*released)(rl_proxy_balancer_t *b, rl_proxy_worker_t *w, int outcome);
    /** Some member went up, down or started draining (w is NULL when the
     *  change was made by another process): rebuild what the method
     *  derives from the member set.  Called in each child before its next
     *  pick after the change (may be NULL). */
    void (*member_changed)(rl_proxy_balancer_t *b, rl_proxy_worker_t *w);
} rl_proxy_lbmethod_t;

/** A balancer (<Proxy balancer://name>), read-only after start-up except
 *  through the workers' shared state. */
struct rl_proxy_balancer_t {
    const char *name;            /**< "balancer://app" */
    apr_array_header_t *members; /**< rl_proxy_worker_t *, config order */
    const rl_proxy_lbmethod_t *lbmethod; /**< lbmethod= */
    void *lb_context;                    /**< the method's own state */
    const char *sticky_cookie;           /**< stickysession= cookie name */
    const char *sticky_param;            /**< URL parameter (name|param form) */
    char sticky_sep;                     /**< stickysessionsep=, '.' */
    int nofailover;                      /**< nofailover=On */
    int maxattempts;                     /**< maxattempts= (-1: unset) */
    const char *hashkey; /**< hashkey= for lbmethod=hash (uri, header:X,
                              cookie:X) */
    int failontimeout;   /**< failontimeout=On */
    apr_array_header_t *failonstatus; /**< int statuses: failonstatus= */
    apr_interval_time_t timeout;      /**< timeout=: wait for a free member */
    int forcerecovery;                /**< forcerecovery= (On by default) */
    int growth; /**< growth=: accepted for httpd configurations; the
                     balancer manager adds no members (yet) */
    volatile apr_uint32_t *generation; /**< shared: bumped when any member's
                                            state changes, so each child
                                            notices at pick time */
    apr_uint32_t seen_generation;      /**< mod_balancer's, per child */
    const char *file;                  /**< where it was declared */
    unsigned line;
    rl_server_t *server; /**< the server its members were declared in */
    /** Every lbmethod loaded at start-up (sorted by name), so that a
     *  balancer manager can switch the balancer to any of them at run
     *  time; each was init()ed for this balancer in the parent (against a
     *  copy of it: its own lb_context).  @since API 20261129.0 */
    const rl_proxy_lbmethod_t *const *lbmethods;
    int nlbmethods;
    /** Shared: the index in lbmethods of the method in use now (lbmethod
     *  above is the configured one).  A manager stores a new index with
     *  apr_atomic_set32 and then bumps *generation: each child uses the
     *  method from its next pick on.  @since API 20261129.0 */
    volatile apr_uint32_t *lbmethod_index;
};

/** How a backend exchange ended, for proxy_post_request. */
typedef enum rl_proxy_outcome_e {
    RL_PROXY_OK = 0,         /**< a response was relayed */
    RL_PROXY_CONNECT_FAILED, /**< could not connect */
    RL_PROXY_TIMEOUT,        /**< no (complete) response in time */
    RL_PROXY_BAD_RESPONSE,   /**< invalid response */
    RL_PROXY_CLIENT_ABORT    /**< the client went away */
} rl_proxy_outcome_e;

/**
 * proxy_pre_request (FIRST): a module claims the target URL (mod_balancer
 * claims balancer://...): it sets *worker and may rewrite *url.  Return
 * RL_OK when claimed, RL_DECLINED otherwise, or an HTTP status (503 when
 * no member can take the request).
 */
APR_DECLARE_EXTERNAL_HOOK(rl_proxy, RL_PROXY, int, pre_request,
                          (rl_request_t * r, const char *target,
                           rl_proxy_worker_t **worker, char **url))

/**
 * proxy_pick_member (FIRST): choose a member of a balancer for r
 * (sticky sessions first, then the lbmethod provider).  Return the
 * member, or NULL to decline.
 */
APR_DECLARE_EXTERNAL_HOOK(rl_proxy, RL_PROXY, rl_proxy_worker_t *, pick_member,
                          (rl_proxy_balancer_t * b, rl_request_t *r))

/** proxy_post_request (ALL): after the backend exchange, with its outcome
 *  (release the member, count errors, fill log notes).  A hook that
 *  judges an RL_PROXY_OK exchange a failure (failonstatus) calls
 *  rl_proxy_worker_failed() and sets the request note RL_PROXY_NOTE_FAILED,
 *  so that mod_proxy does not then count it a success. */
APR_DECLARE_EXTERNAL_HOOK(rl_proxy, RL_PROXY, int, post_request,
                          (rl_request_t * r, rl_proxy_worker_t *worker,
                           rl_proxy_outcome_e outcome))

/**
 * proxy_member_state_changed (VOID): a worker's status bits changed in the
 * process that changed them (health check, passive detection, manager).
 * Other children notice through shared memory, not through this hook.
 * @param reason "healthcheck", "passive", "manager" or "dns"
 */
APR_DECLARE_EXTERNAL_HOOK(rl_proxy, RL_PROXY, void, member_state_changed,
                          (rl_proxy_worker_t * worker, apr_uint32_t old_status,
                           apr_uint32_t new_status, const char *reason,
                           const char *detail))

/**
 * Finds or creates the worker for a URL ("http://host:port/path": the
 * path is ignored) in the configuration being loaded, applying key=value
 * parameters.  Used by ProxyPass and BalancerMember.
 * @return NULL and *err on a bad URL or parameter
 */
RL_PROXY_DECLARE(rl_proxy_worker_t *)
rl_proxy_define_worker(rl_cmd_t *cmd, const char *url, int nparams,
                       char *const params[], const char **err);

/**
 * Creates a member of balancer b for a URL, applying key=value parameters
 * (BalancerMember).  Members are never shared with other balancers or with
 * plain ProxyPass workers.
 * @return NULL and *err on a bad URL, parameter, or a duplicate member
 */
RL_PROXY_DECLARE(rl_proxy_worker_t *)
rl_proxy_define_member(rl_cmd_t *cmd, rl_proxy_balancer_t *b, const char *url,
                       int nparams, char *const params[], const char **err);

/**
 * What mod_proxy asks of a balancer module (provider group
 * "proxy_balancer", name "default", version "1"): the balancer parameters
 * given on a ProxyPass line ("ProxyPass /p balancer://app/ lbmethod=…").
 */
typedef struct rl_proxy_balancer_provider_t {
    /** Applies params to the balancer `name` ("balancer://app"), creating
     *  it if needed; NULL or what is wrong. */
    const char *(*set_params)(rl_cmd_t *cmd, const char *name, int nparams,
                              char *const params[]);
} rl_proxy_balancer_provider_t;

/**
 * A worker key=value parameter another module handles: a provider of
 * group "proxy_worker_param", named after the key ("hcmethod"), version
 * "1".  mod_proxy calls it for keys it does not know.
 */
typedef struct rl_proxy_worker_param_t {
    /** Applies the value to w (configuration pool p); NULL or what is
     *  wrong, e.g. "hcinterval=x: expected a duration". */
    const char *(*set)(apr_pool_t *p, rl_proxy_worker_t *w, const char *val);
} rl_proxy_worker_param_t;

/** True when a worker may take traffic now (not disabled, stopped, failed
 *  its health check, without an address, or in error before its retry
 *  time). */
RL_PROXY_DECLARE(int)
rl_proxy_worker_usable(const rl_proxy_worker_t *w, apr_time_t now);

/**
 * The address to connect to now (the DNS resolver may change it at run
 * time; without one it is the start-up address).
 * @return the address's sequence number (changes whenever the address
 *         does), or 0 when the worker has no address
 */
RL_PROXY_DECLARE(apr_uint32_t)
rl_proxy_worker_address(const rl_proxy_worker_t *w, struct sockaddr_storage *sa,
                        socklen_t *len);

/**
 * A failed exchange with w (connect refused, timeout with failontimeout,
 * a status in failonstatus...): after passivefails= failures in a row the
 * worker is put in error for retry= seconds (unless +I), logged and
 * announced through proxy_member_state_changed with reason "passive".
 */
RL_PROXY_DECLARE(void)
rl_proxy_worker_failed(rl_proxy_worker_t *w, const char *why);

/** A successful exchange with w: resets the failure run, and takes a
 *  worker in error back into service (its slow start begins). */
RL_PROXY_DECLARE(void)
rl_proxy_worker_succeeded(rl_proxy_worker_t *w);

/**
 * Changes a worker's status bits (set, then clear) in shared memory with
 * a compare-and-swap, starts its slow start when it comes back into
 * service, and runs proxy_member_state_changed when they changed.  The
 * caller logs the transition (it knows why).  Used by mod_healthcheck,
 * the DNS resolver, managers and mod_proxy's passive checks.
 * @return the bits before the change
 */
RL_PROXY_DECLARE(apr_uint32_t)
rl_proxy_worker_set_status(rl_proxy_worker_t *w, apr_uint32_t set,
                           apr_uint32_t clear, const char *reason,
                           const char *detail);

/**
 * The members of b that may take a new, non-sticky request now, with
 * their weights, into c (room for b->members->nelts): usable members of
 * the lowest lbset that has any (draining and standby members left out),
 * hot spares (+R) standing in one for one for members of that set that
 * are not usable, hot standbys (+H) when nothing else is, and with
 * forcerecovery members in error (not disabled, stopped or failing
 * health checks) when nothing else is at all.  Members listed in `skip`
 * (the RL_PROXY_NOTE_TRIED format, or NULL) count as out.
 * @return how many (0: none)
 */
/** True when `tried` (the RL_PROXY_NOTE_TRIED note, or NULL) lists w:
 *  this request already failed on it. */
RL_PROXY_DECLARE(int)
rl_proxy_worker_tried(const char *tried, const rl_proxy_worker_t *w);

RL_PROXY_DECLARE(int)
rl_proxy_balancer_candidates(rl_proxy_balancer_t *b, apr_time_t now,
                             const char *skip, rl_proxy_candidate_t *c);

/**
 * Every worker of the configuration being served (rl_proxy_worker_t *),
 * by w->index: ProxyPass backends and balancer members alike (a
 * member's balancer is w->balancer).  Read-only; valid from post_config
 * on, in the parent and in every child, for this configuration
 * generation.  A module that must load without mod_proxy finds it with
 * dlsym(RTLD_DEFAULT, "rl_proxy_workers").
 * @return the array, or NULL before any configuration was read
 * @since API 20261129.0
 */
RL_PROXY_DECLARE(const apr_array_header_t *) rl_proxy_workers(void);

/**
 * The route the member has now (route=, or what a balancer manager set
 * since), copied into buf (RL_WORKER_ROUTE_MAX bytes are always enough).
 * Lock-free: retries while a writer is changing it.
 * @return buf, or NULL when the member has no route
 * @since API 20261129.0
 */
RL_PROXY_DECLARE(const char *)
rl_proxy_worker_route(const rl_proxy_worker_t *w, char *buf, apr_size_t len);

/**
 * Changes the member's route in shared memory (every child matches sticky
 * sessions against it from its next request on).  Writers exclude each
 * other with a compare-and-swap on the sequence; it never blocks.
 * @param route the new route, "" or NULL for none
 * @return APR_EINVAL when it is RL_WORKER_ROUTE_MAX characters or longer
 * @since API 20261129.0
 */
RL_PROXY_DECLARE(apr_status_t)
rl_proxy_worker_set_route(rl_proxy_worker_t *w, const char *route);

#ifdef __cplusplus
}
#endif
#endif /* RL_PROXY_H */
