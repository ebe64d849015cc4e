/*
 * balancer_private.h: what the files of mod_balancer share.
 */
#ifndef BALANCER_PRIVATE_H
#define BALANCER_PRIVATE_H

#include "rl_proxy.h"

#include <apr_strings.h>

extern RL_DECLARE_DATA rl_module_t balancer_module;

/* lbmethods.c: registers the bundled methods as providers */
void balancer_register_lbmethods(apr_pool_t *p);

/* A member may take a request now (usable, not draining or standby). */
int balancer_member_ok(const rl_proxy_worker_t *w, apr_time_t now);

#endif
