/**
 * @file relais.h
 * @brief Everything a module author needs: include this one header.
 */
#ifndef RELAIS_H
#define RELAIS_H

#include "rl_mmn.h"
#include "rl_module.h"
#include "rl_config.h"
#include "rl_log.h"
#include "rl_http.h"
#include "rl_hooks.h"
#include "rl_provider.h"
#include "rl_mpm.h"
#include "rl_expr.h"
#include "rl_io.h"
#include "rl_ssl.h"
#include "rl_protocol.h"

#endif /* RELAIS_H */
