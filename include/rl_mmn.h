/**
 * @file rl_mmn.h
 * @brief Module magic number: the API version a module is built against.
 *
 * A module records RL_MMN_MAJOR and RL_MMN_MINOR when it is compiled.  The
 * server refuses a module whose major differs from its own, and one whose
 * minor is above its own (the module needs functions this server lacks).
 *
 * Changelog, one line per bump (never reuse a number):
 *   20261127.0  first public API: module record, directives, core hooks,
 *               request/connection records, error log, providers.
 *   20261128.0  rl_proxy.h: lbmethod providers are version "2" (pick gets
 *               the candidates), worker shared state grows (failure run,
 *               slow start, DNS address), rl_proxy_worker_address/failed/
 *               succeeded/set_status, rl_proxy_balancer_candidates;
 *               rl_retained_data_get/create.  (Two incompatible changes
 *               on one day take the next number.)
 *   20261128.1  response_head and error_response hooks; rl_expr.h (the
 *               expression language of <If> and Require expr);
 *               rl_location_t.cond; rl_http_clean_path; rl_response_tap;
 *               rl_sendfile; rl_child_ids.
 *   20261128.2  rl_io.h (transports: rl_conn_t.io, rl_io_recv/send/
 *               shutdown/destroy); rl_ssl.h (mod_ssl's provider,
 *               rl_ssl_var, rl_conn_is_https); rl_request_tunnel_io.
 *   20261129.0  rl_proxy.h, for the balancer manager: the worker shared
 *               state grows (loadfactor, route under route_seq), the
 *               balancer grows (lbmethods, nlbmethods, lbmethod_index:
 *               the method in use, switchable at run time; every loaded
 *               lbmethod is init()ed per balancer); rl_proxy_workers,
 *               rl_proxy_worker_route, rl_proxy_worker_set_route.
 *   20261129.1  rl_mpm.h: rl_scoreboard_read (children, threads and
 *               connections by state, for status pages); rl_proxy.h: the
 *               worker shared state ends with the last health check's
 *               result, latency and time, and pass/fail counts (appended:
 *               only mod_proxy allocates it).
 *   20261130.0  rl_protocol.h: connection protocols (rl_conn_set_protocol,
 *               the "conn_protocol" and "listener_protocol" provider
 *               groups), secondary connections (rl_conn_open_secondary,
 *               rl_conn_t.master), rl_conn_watch_list, Protocols
 *               (rl_server_t.protocols, rl_protocol_allowed,
 *               rl_server_protocols); rl_listener_t.datagram and
 *               `Listen … tcp|udp`.  (rl_conn_t, rl_server_t and
 *               rl_listener_t grow at their ends: only the core allocates
 *               them.)
 */
#ifndef RL_MMN_H
#define RL_MMN_H

/** Major API version: a date; bumped on any incompatible change. */
#define RL_MMN_MAJOR 20261130
/** Minor API version: bumped on any compatible addition. */
#define RL_MMN_MINOR 0

/**
 * True when the server this is compiled against is at least maj.min.
 * @since API 20261127.0
 */
#define RL_MODULE_MAGIC_AT_LEAST(maj, min)                                     \
    ((maj) < RL_MMN_MAJOR || ((maj) == RL_MMN_MAJOR && (min) <= RL_MMN_MINOR))

#endif /* RL_MMN_H */
