/*
 * stream_private.h: what the files of mod_proxy_stream share.
 *
 *   mod_proxy_stream.c  directives, configuration checks, hooks
 *   stream_member.c     choosing a member (the balancer's lbmethods) and
 *                       counting the traffic in its shared state
 *   stream_tcp.c        the TCP relay: a connection protocol (rl_protocol.h)
 *   stream_udp.c        UDP sessions, served by one thread per child
 *   stream_log.c        ProxyStreamLog: one line per connection or session
 *   stream_proxyproto.c PROXY protocol v1/v2 (pure, fuzzed alone)
 */
#ifndef STREAM_PRIVATE_H
#define STREAM_PRIVATE_H

#include "relais.h"
#include "rl_expr.h"
#include "rl_protocol.h"
#include "rl_proxy.h"

#include <sys/socket.h>

#include "stream_proxyproto.h"

extern RL_DECLARE_DATA rl_module_t proxy_stream_module;

/** Default wait for a member to accept a connection (one attempt). */
#define STREAM_CONNECT_TIMEOUT apr_time_from_sec(5)
/** Default bound on the UDP session table of one child. */
#define STREAM_UDP_SESSIONS 4096

/** A server's (vhost's) settings. */
typedef struct stream_conf_t {
    const char *target; /**< ProxyStream as written, or NULL */
    const char *file;   /**< where ProxyStream stands */
    unsigned line;
    rl_proxy_balancer_t *balancer;       /**< ProxyStream balancer://name */
    rl_proxy_worker_t *worker;           /**< ProxyStream tcp://host:port */
    const char *scheme;                  /**< "tcp" or "udp": what it reaches */
    apr_interval_time_t timeout;         /**< ProxyStreamTimeout, -1: Timeout */
    apr_interval_time_t connect_timeout; /**< -1: 5 s */
    const char *log_path;                /**< ProxyStreamLog, or NULL */
    int log_fd;                          /**< opened in post_config */
    int pp_in;                           /**< RemoteIPProxyProtocol, -1 unset */
    apr_array_header_t *pp_except; /**< rl_ipmatch_t *: need not send it */
    int udp_sessions;              /**< ProxyStreamUDPSessions, -1 unset */
    int udp_responses;             /**< ProxyStreamUDPResponses, -1 unset */
} stream_conf_t;

stream_conf_t *stream_conf(const rl_server_t *s);

/** The idle timeout that applies to s (ProxyStreamTimeout or Timeout). */
apr_interval_time_t stream_idle_timeout(const rl_server_t *s);

/** proxyprotocol= of a member: 0 (off), 1 or 2. */
int stream_member_pp(const rl_proxy_worker_t *w);

/* ---------------------------------------------------------------- */
/* Members (stream_member.c)                                        */
/* ---------------------------------------------------------------- */

/**
 * A member for a new connection or session of c on server s: the
 * balancer's choice (its lbmethod, status flags, lbset tiers), leaving
 * out the members listed in *tried (",index,index,": the attempts that
 * failed), or the single backend.  Counts it busy and elected.
 * @param r    a stand-in request, built once per connection
 * @return the member, or NULL (none can take it)
 */
rl_proxy_worker_t *stream_pick(rl_request_t *r, const stream_conf_t *conf);

/** A stand-in request for the lbmethods (source hashes
 *  r->connection->client_ip), in c's pool. */
rl_request_t *stream_request(rl_conn_t *c, rl_server_t *s);

/** The member's connection or session ended: busy count, lbmethod,
 *  success or failure. */
void stream_release(rl_request_t *r, rl_proxy_worker_t *w,
                    rl_proxy_outcome_e outcome);

/** A connection attempt to w failed: put it on the tried list, count it
 *  failed (passive health), release it. */
void stream_attempt_failed(rl_request_t *r, rl_proxy_worker_t *w,
                           const char *why);

/** The connect timeout for w: connectiontimeout=, else the server's. */
apr_interval_time_t stream_connect_timeout(const rl_proxy_worker_t *w,
                                           const stream_conf_t *conf);

/** How many attempts a new connection gets (1 + the balancer's
 *  maxattempts, or 1 with nofailover or a single backend). */
int stream_max_attempts(const stream_conf_t *conf);

/* ---------------------------------------------------------------- */
/* The TCP relay (stream_tcp.c)                                     */
/* ---------------------------------------------------------------- */

/** pre_connection: takes a connection of a tcp listener over. */
int stream_tcp_take(rl_conn_t *c, stream_conf_t *conf);

/* ---------------------------------------------------------------- */
/* UDP (stream_udp.c)                                               */
/* ---------------------------------------------------------------- */

/** child_init: starts this child's UDP thread when a udp listener has a
 *  ProxyStream. */
void stream_udp_start(apr_pool_t *pchild, rl_server_t *s);
/** child_exit (pool cleanup): stops it. */
void stream_udp_stop(void);

/* ---------------------------------------------------------------- */
/* The stream log (stream_log.c)                                    */
/* ---------------------------------------------------------------- */

/** One finished connection or session. */
typedef struct stream_log_rec_t {
    const char *client;   /**< "ip:port" (from a PROXY header when one came) */
    const char *listener; /**< the listener's name, "127.0.0.1:6380" */
    const char *proto;    /**< "tcp" or "udp" */
    const char *balancer; /**< "balancer://redis", or "-" */
    const char *member;   /**< "tcp://127.0.0.1:6379", or "-" */
    apr_uint64_t up;      /**< bytes client -> member */
    apr_uint64_t down;    /**< bytes member -> client */
    apr_time_t start, end;
    int attempts;      /**< members tried */
    const char *cause; /**< "client-close", "idle-timeout", … */
} stream_log_rec_t;

/** Writes the line to ProxyStreamLog (when set). */
void stream_log_write(const stream_conf_t *conf, const stream_log_rec_t *rec);

/** Opens every ProxyStreamLog (post_config, parent). */
apr_status_t stream_log_open(apr_pool_t *pconf, rl_server_t *main_s);

#endif /* STREAM_PRIVATE_H */
