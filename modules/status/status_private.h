/*
 * status_private.h: what the files of mod_status share.
 *
 *   mod_status.c       the module record, directives, hooks; the counters
 *                      it keeps in shared memory (requests by vhost,
 *                      status class and method, durations, bytes, per
 *                      member response times); SetHandler server-status
 *                      (HTML, ?auto, ?refresh=N) and SetHandler metrics
 *                      (Prometheus text format 0.0.4)
 *   status_manager.c   SetHandler balancer-manager: the page, its form
 *                      (POST with a per-page nonce), the JSON API, the
 *                      run-time changes kept across graceful restarts
 *
 * mod_status.c's handler hook calls status_manager_handler() for
 * r->handler "balancer-manager"; its register_hooks calls
 * status_manager_register() so that the manager can add hooks of its own
 * (post_config, child_init: re-applying kept changes).
 */
#ifndef STATUS_PRIVATE_H
#define STATUS_PRIVATE_H

#include "relais.h"

extern rl_module_t status_module;

/* status_manager.c */
int status_manager_handler(rl_request_t *r);
void status_manager_register(apr_pool_t *p);

#endif /* STATUS_PRIVATE_H */
