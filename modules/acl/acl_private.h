/*
 * acl_private.h: what the files of mod_acl share.
 *
 *   mod_acl.c      directives, per-location configuration, the hooks
 *   acl_require.c  the Require tree: containers, checks, evaluation
 *   acl_authz.c    the built-in Require types (all, ip, local, host, env,
 *                  method, expr, valid-user, user, group)
 *   acl_basic.c    Basic authentication, htpasswd and group files
 *   acl_ratelimit.c  RateLimit (acl_ratelimit.h)
 *
 * acl_require.c knows nothing of requests or of the module record, so
 * the unit tests (test/unit/acl_test.c) link it alone.
 */
#ifndef ACL_PRIVATE_H
#define ACL_PRIVATE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_thread_mutex.h>

#include "relais.h"
#include "acl_ratelimit.h"

/* ------------------------------------------------------------------ */
/* The Require tree (acl_require.c)                                    */
/* ------------------------------------------------------------------ */

/** What a Require line or a container says about a request, as httpd's
 *  authz_status. */
typedef enum acl_result_e {
    ACL_DENIED = 0,     /**< no */
    ACL_GRANTED,        /**< yes */
    ACL_NEUTRAL,        /**< no opinion (a negated "no") */
    ACL_DENIED_NO_USER, /**< no, but an authenticated user may change it */
    ACL_ERROR           /**< cannot tell (500) */
} acl_result_e;

/** How a container combines its children. */
typedef enum acl_op_e {
    ACL_OP_ANY = 0, /**< <RequireAny>, and Require lines side by side */
    ACL_OP_ALL      /**< <RequireAll> */
} acl_op_e;

/** What a node is, for messages ("<RequireAll>", "AuthMerging And"). */
typedef enum acl_kind_e {
    ACL_KIND_LINE = 0, /**< a Require line */
    ACL_KIND_CONTEXT,  /**< the Require lines of a context (implicit Any) */
    ACL_KIND_ALL,      /**< <RequireAll> */
    ACL_KIND_ANY,      /**< <RequireAny> */
    ACL_KIND_NONE,     /**< <RequireNone> (a negated Any) */
    ACL_KIND_MERGED    /**< AuthMerging And|Or of two contexts */
} acl_kind_e;

typedef struct acl_node_t acl_node_t;
typedef struct acl_provider_t acl_provider_t;

/** A Require type ("ip", "valid-user"…). */
struct acl_provider_t {
    const char *name;
    /** Parses the arguments after the type name (argc may be 0) into
     *  *out, allocated from p.  `raw` is the argument text as written
     *  (for expr).  @return NULL, or what is wrong. */
    const char *(*parse)(rl_cmd_t *cmd, int argc, char *const argv[],
                         const char *raw, void **out);
    /** Checks a request (ctx: see acl_eval_t). */
    acl_result_e (*check)(void *ctx, const void *parsed);
};

/** A Require line (provider set) or a container (provider NULL).  Nodes
 *  are shared between merged trees, so a node never points to a sibling:
 *  containers hold an array of children. */
struct acl_node_t {
    acl_kind_e kind;
    acl_op_e op; /**< containers */
    int negate;  /**< "Require not", <RequireNone> */
    const acl_provider_t *provider;
    const void *parsed; /**< what provider->parse made */
    const char *text;   /**< "Require ip 10.0.0.0/8", for log lines */
    const char *file;   /**< where it was written */
    unsigned line;
    acl_node_t **kids; /**< containers: the children, in order */
    int nkids, kids_max;
};

/** Evaluation: the provider's check gets `ctx` as is; `trace` (may be
 *  NULL) is called with each node's result, for LogLevel debug. */
typedef struct acl_eval_t {
    void *ctx;
    void (*trace)(void *ctx, const acl_node_t *n, acl_result_e res);
} acl_eval_t;

/** A container of `kind` (ALL, ANY, NONE, CONTEXT or MERGED). */
acl_node_t *acl_node_container(apr_pool_t *p, acl_kind_e kind, const char *file,
                               unsigned line);

/** A Require line. */
acl_node_t *acl_node_line(apr_pool_t *p, const acl_provider_t *prov,
                          const void *parsed, int negate, const char *text,
                          const char *file, unsigned line);

/**
 * Adds a child to a container, with httpd's check: a negative child
 * ("Require not", <RequireNone>) in an Any container can never change
 * the result.  @return NULL, or what is wrong (for the child's line).
 */
const char *acl_node_add(apr_pool_t *p, acl_node_t *parent, acl_node_t *kid);

/**
 * Checks a container once its body is read: it holds something, and an
 * All container holds at least one child that can grant.
 * @return NULL, or what is wrong.
 */
const char *acl_node_close(apr_pool_t *p, const acl_node_t *n);

/** A container combining two contexts' trees (AuthMerging And|Or). */
acl_node_t *acl_node_merge(apr_pool_t *p, acl_op_e op, acl_node_t *outer,
                           acl_node_t *inner);

/** Evaluates a tree, with httpd's rules for combining results. */
acl_result_e acl_node_eval(const acl_node_t *n, const acl_eval_t *ev);

/** "granted", "denied"… */
const char *acl_result_name(acl_result_e res);

/** "<RequireAll>", "Require ip …"… */
const char *acl_node_name(const acl_node_t *n);

/* ------------------------------------------------------------------ */
/* Files: htpasswd and group files (acl_basic.c)                       */
/* ------------------------------------------------------------------ */

typedef struct acl_file_t acl_file_t;

/** The user or group file at path (relative to ServerRoot), read now and
 *  shared by every context naming it.  @return NULL and *err. */
acl_file_t *acl_file_get(rl_cmd_t *cmd, const char *path, int is_group,
                         const char **err);

/** The file's path, for messages. */
const char *acl_file_path(const acl_file_t *f);

/* ------------------------------------------------------------------ */
/* Per-location configuration (mod_acl.c)                              */
/* ------------------------------------------------------------------ */

#define ACL_UNSET (-1)

/** AuthMerging */
#define ACL_MERGE_OFF 0
#define ACL_MERGE_AND 1
#define ACL_MERGE_OR 2

/** AuthType */
#define ACL_AUTH_NONE 0
#define ACL_AUTH_BASIC 1

typedef struct acl_dir_conf_t {
    acl_node_t *authz;    /**< this context's Require lines, or NULL */
    acl_node_t *building; /**< the container being read (config time) */
    int merging;          /**< AuthMerging, ACL_UNSET */
    int auth_type;        /**< AuthType, ACL_UNSET */
    const char *realm;    /**< AuthName */
    acl_file_t *user_file;
    acl_file_t *group_file;
    int forward;        /**< AuthBasicForward, ACL_UNSET */
    int forbid_on_fail; /**< AuthzSendForbiddenOnFailure, ACL_UNSET */
    int ratelimit_set;  /**< RateLimit seen here (even Off) */
    const acl_ratelimit_t *ratelimit;
} acl_dir_conf_t;

/* ------------------------------------------------------------------ */
/* Request time                                                        */
/* ------------------------------------------------------------------ */

/** What the providers see (acl_eval_t.ctx). */
typedef struct acl_req_t {
    rl_request_t *r;
    const acl_dir_conf_t *conf;
} acl_req_t;

/** The built-in Require types (acl_authz.c); NULL when unknown. */
const acl_provider_t *acl_provider_find(const char *name);

/** "all, ip, …": the known Require types, for messages. */
const char *acl_provider_names(void);

/**
 * Basic authentication of r against conf (acl_basic.c): sets r->user,
 * or answers.
 * @return RL_OK, 401 (WWW-Authenticate set), or 500 (logged)
 */
int acl_basic_authenticate(rl_request_t *r, const acl_dir_conf_t *conf);

/** Sets WWW-Authenticate for conf's realm in r->err_headers_out. */
void acl_basic_challenge(rl_request_t *r, const acl_dir_conf_t *conf);

/** True when `user` is in `group` of the group file (acl_basic.c).
 *  @return 1, 0, or -1 when the file cannot be read (logged) */
int acl_group_has(rl_request_t *r, acl_file_t *f, const char *group,
                  const char *user);

#endif /* ACL_PRIVATE_H */
