/*
 * balancer_private.h: what the files of mod_balancer share.
 */
#ifndef BALANCER_PRIVATE_H
#define BALANCER_PRIVATE_H

#include "rl_proxy.h"

#include <apr_strings.h>

extern RL_DECLARE_DATA rl_module_t balancer_module;

/* mod_balancer.c: the value of a request cookie, or NULL */
const char *balancer_cookie(rl_request_t *r, const char *name);

/* lbmethods.c: registers the bundled methods as providers */
void balancer_register_lbmethods(apr_pool_t *p);


#endif
