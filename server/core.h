/*
 * core.h: declarations shared by the files of the core (server/), never
 * installed.  Modules see only include/.
 */
#ifndef RL_CORE_PRIVATE_H
#define RL_CORE_PRIVATE_H

#include "relais.h"

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_portable.h>
#include <apr_strings.h>
#include <apr_version.h>
#include <apu_version.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Most modules one configuration can load (config vectors are sized so). */
#define RL_MAX_MODULES 128

/** Directive flag private to the core: run by the reader (LoadModule,
 *  ServerRoot), never by the walk. */
#define RL_DIR_EXEC_ON_READ 0x100u

extern rl_module_t core_module;

/** Core per-location settings. */
typedef struct core_dir_conf_t {
    const char *handler;      /**< SetHandler; NULL unset, "none" clears */
    apr_off_t limit_req_body; /**< LimitRequestBody, -1 unset, 0 = none */
    apr_hash_t *error_docs;   /**< "404" -> text or URL */
} core_dir_conf_t;

/** Core per-server settings kept out of rl_server_t. */
typedef struct core_server_conf_t {
    int trace_enable;    /**< TraceEnable, -1 unset */
    int strict;          /**< HttpProtocolOptions Strict/Unsafe, -1 unset */
    int encoded_slashes; /**< AllowEncodedSlashes RL_ENCODED_SLASHES_*,
                              -1 unset */
    /* RequestReadTimeout header=min-max,MinRate=r body=t,MinRate=r */
    int rrt_set;
    apr_interval_time_t header_timeout, header_max;
    apr_size_t header_minrate;
    apr_interval_time_t body_timeout, body_max;
    apr_size_t body_minrate;
} core_server_conf_t;

/* ListenBacklog's default: more than httpd's and nginx's 511, so that a
 * burst of a few thousand new clients (a reconnecting load balancer, wrk
 * -c1000) is queued, not dropped into SYN retransmits a second later.  The
 * kernel caps it at net.core.somaxconn (4096 on current kernels). */
#define RL_LISTEN_BACKLOG_DEFAULT 4096

/** One Listen directive. */
typedef struct listen_spec_t {
    const char *host; /**< NULL for all addresses */
    apr_port_t port;
    const char *protocol; /**< "http", "https", "tcp" or "udp" (lower case) */
    int dgram;            /**< udp: a datagram socket */
    const char *file;
    unsigned line;
} listen_spec_t;

/** Process-wide state of the running (or loading) configuration. */
typedef struct rl_process_t {
    apr_pool_t *pglobal; /**< lives as long as the process */
    apr_pool_t *pconf;   /**< this generation's configuration */
    apr_pool_t *plog;
    apr_pool_t *ptemp;
    const char *argv0;
    const char *server_root;
    const char *config_file;
    rl_server_t *main_server;
    apr_array_header_t *defines; /**< -D and Define names */
    apr_table_t *define_vars;    /**< Define name value */
    int generation;
    int foreground;
    int config_errors; /**< counted during the walk */
    const char *user, *group;
    const char *pid_file;
    int server_tokens; /**< see core_directives.c */
    const char *banner;
    rl_mpm_settings_t mpm;
    rl_module_t *mpm_module;
    apr_array_header_t *listen_specs;     /**< listen_spec_t */
    int listen_backlog;                   /**< ListenBacklog */
    apr_interval_time_t graceful_timeout; /**< GracefulShutdownTimeout */
    apr_array_header_t *cmdline_defines;  /**< -D names */
} rl_process_t;

extern rl_process_t rl_proc;

/* mpm_common.c: a thread's record on the scoreboard, which the connection
 * engine counts into (its connections by RL_SB_* state, its requests). */
typedef struct rl_sb_thread_t {
    volatile apr_uint32_t conns[RL_SB_NSTATES];
    volatile apr_uint32_t requests;
} rl_sb_thread_t;

/* The calling thread's record (taken on first use), or NULL outside a
 * child process. */
rl_sb_thread_t *rl_sb_thread(void);

/* modules.c */
void rl_modules_reset(void);
const char *rl_module_add_static(apr_pool_t *p, rl_module_t *m);
const char *rl_module_load(apr_pool_t *p, const char *name, const char *path);
int rl_module_count(void);
rl_module_t *rl_module_at(int index);
const char *rl_module_known_provider(const char *directive);
const char *rl_module_httpd_equivalent(const char *httpd_name);
int rl_module_ifmodule_match(const char *name);

/* config_read.c */
int rl_config_read_file(apr_pool_t *p, apr_pool_t *ptemp, const char *fname,
                        rl_config_node_t **tree);
char *rl_config_expand_vars(apr_pool_t *p, const char *s, const char **err);

/* config_load.c: 0 or the number of errors (already printed) */
int rl_config_load(apr_pool_t *pconf, apr_pool_t *ptemp);

/* config_walk.c */
rl_server_t *rl_config_new_server(apr_pool_t *p, int is_virtual);
int rl_config_process(apr_pool_t *pconf, apr_pool_t *ptemp,
                      rl_config_node_t *tree);
void rl_config_finish(apr_pool_t *pconf);
void rl_config_error(const rl_config_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void **rl_config_server_vector(apr_pool_t *p);
void **rl_config_module_vector(apr_pool_t *p);
void *rl_config_dir_block(apr_pool_t *p, void **vec, rl_module_t *m,
                          const char *path);
void **rl_config_merge_dir_vectors(apr_pool_t *p, void **base, void **add);

/* core_directives.c */
const char *rl_core_set_server_root(apr_pool_t *p, apr_pool_t *ptemp,
                                    const char *dir);
core_server_conf_t *rl_core_server_conf(const rl_server_t *s);
core_dir_conf_t *rl_core_dir_conf(void **dir_config);

/** The condition of an <If>, <ElseIf> or <Else> block (rl_location_t.cond,
 *  http_request.c evaluates it). */
typedef struct if_cond_t if_cond_t;
struct if_cond_t {
    const rl_expr_t *expr;       /* NULL for <Else> */
    const if_cond_t *prev;       /* the <If>/<ElseIf> before an <ElseIf> or
                                    <Else>: it must have been false */
    const rl_location_t *within; /* the enclosing <Location>, or NULL */
};

/** How many <If> family blocks the configuration has (0: the request path
 *  skips them). */
extern int rl_if_blocks;

/* log.c */
void rl_log_stderr_only(void);
apr_status_t rl_log_open_all(apr_pool_t *p, rl_server_t *s);
void rl_log_set_pid(void);
int rl_log_redirect_stderr(void);

/* listen.c */
void rl_listen_shut(void);
apr_status_t rl_listen_open(apr_pool_t *pglobal, rl_server_t *s);
void rl_listen_assign_servers(rl_server_t *s);

/* vhost.c */
void rl_vhost_dump(rl_server_t *s);
rl_server_t *rl_vhost_for_request(rl_conn_t *c, const char *host);
rl_server_t *rl_vhost_for_listener(rl_listener_t *l);

/* http_request.c */
#define RL_OFFLOAD (-100) /* rl_request_run: run the handler elsewhere */
int rl_request_run(rl_request_t *r);
int rl_request_run_handler(rl_request_t *r);
void rl_request_finish_hooks(rl_request_t *r);
int rl_request_send_error(rl_request_t *r, int status);

/* mpm_common.c */
void rl_mpm_child_signals(void);


/* util */
const char *rl_date_now(void);

#endif
