/**
 * @file rl_config.h
 * @brief Directive tables, the configuration tree and server records.
 *
 * The core reads the configuration into a tree of rl_config_node_t
 * (Include, Define, ${VAR} and <IfDefine> are resolved while reading),
 * then walks it: each directive is looked up in the loaded modules'
 * tables, its argument count and context are checked by the core, and its
 * handler is called.  A handler returns NULL, or a short message saying
 * what is wrong; the core prefixes "FILE:LINE: Directive: " and goes on, so
 * that one run reports every error.
 */
#ifndef RL_CONFIG_H
#define RL_CONFIG_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_network_io.h>
#include <apr_time.h>

#include "rl_module.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @name Contexts a directive may appear in (bits) */
/**@{*/
#define RL_CTX_MAIN 0x01u  /**< outside any section */
#define RL_CTX_VHOST 0x02u /**< inside <VirtualHost> */
#define RL_CTX_LOCATION                                                        \
    0x04u                  /**< inside <Location>/<LocationMatch>, and         \
                                inside <If>/<ElseIf>/<Else> */
#define RL_CTX_PROXY 0x08u /**< inside <Proxy> */
#define RL_CTX_SERVER (RL_CTX_MAIN | RL_CTX_VHOST)
#define RL_CTX_DIR (RL_CTX_LOCATION | RL_CTX_PROXY)
#define RL_CTX_ANY (RL_CTX_SERVER | RL_CTX_DIR)
/**@}*/

/** @name Directive flags */
/**@{*/
/** The directive opens a section: `<Name args>` … `</Name>`. */
#define RL_DIR_SECTION 0x01u
/** The handler reads cmd->node->raw_args itself (expressions): a line that
 *  does not split into words (a quote touching a brace) is not an error
 *  for it; argc/argv hold what did split. */
#define RL_DIR_RAW 0x02u
/** Call the handler once per argument (httpd ITERATE). */
#define RL_DIR_ITERATE 0x04u
/** A second occurrence in the same context is an error. */
#define RL_DIR_UNIQUE 0x08u
/**@}*/

typedef struct rl_cmd_t rl_cmd_t;
typedef struct rl_config_node_t rl_config_node_t;

/**
 * A directive handler.
 * @param cmd     where the directive stands (pool, server, file, line…)
 * @param mconfig the module's per-location block of the enclosing context
 *                (the server's root block outside any location section)
 * @param argc    number of arguments (already checked against the table)
 * @param argv    arguments, quotes removed and ${VAR} expanded
 * @return NULL, or what is wrong, e.g. "expected On or Off, got 'yes'"
 */
typedef const char *(*rl_cmd_func)(rl_cmd_t *cmd, void *mconfig, int argc,
                                   char *const argv[]);

/** One entry of a module's directive table. */
struct rl_directive_t {
    const char *name;  /**< matched case-insensitively; "<Proxy" for a
                            section */
    rl_cmd_func func;  /**< handler */
    const void *data;  /**< handler data (often an offsetof()) */
    unsigned contexts; /**< RL_CTX_* bits where it is allowed */
    int min_args;      /**< fewest arguments */
    int max_args;      /**< most arguments, -1 for no limit */
    unsigned flags;    /**< RL_DIR_* */
    const char *usage; /**< "ProxyTimeout seconds": in errors and docs */
};

/** @name Directive table helpers */
/**@{*/
#define RL_TAKE0(n, f, d, c, u)                                                \
    {                                                                          \
        n, f, d, c, 0, 0, 0, u                                                 \
    }
#define RL_TAKE1(n, f, d, c, u)                                                \
    {                                                                          \
        n, f, d, c, 1, 1, 0, u                                                 \
    }
#define RL_TAKE2(n, f, d, c, u)                                                \
    {                                                                          \
        n, f, d, c, 2, 2, 0, u                                                 \
    }
#define RL_TAKE12(n, f, d, c, u)                                               \
    {                                                                          \
        n, f, d, c, 1, 2, 0, u                                                 \
    }
#define RL_TAKE23(n, f, d, c, u)                                               \
    {                                                                          \
        n, f, d, c, 2, 3, 0, u                                                 \
    }
#define RL_TAKE_ARGV(n, f, d, c, u)                                            \
    {                                                                          \
        n, f, d, c, 1, -1, 0, u                                                \
    }
#define RL_ITERATE(n, f, d, c, u)                                              \
    {                                                                          \
        n, f, d, c, 1, -1, RL_DIR_ITERATE, u                                   \
    }
#define RL_SECTION(n, f, d, c, mn, mx, u)                                      \
    {                                                                          \
        n, f, d, c, mn, mx, RL_DIR_SECTION, u                                  \
    }
#define RL_DIRECTIVE_END                                                       \
    {                                                                          \
        NULL, NULL, NULL, 0, 0, 0, 0, NULL                                     \
    }
/**@}*/

/** A node of the configuration tree: one directive or one section. */
struct rl_config_node_t {
    const char *name;              /**< "ProxyPass", or "<Location" */
    int argc;                      /**< number of arguments */
    char **argv;                   /**< arguments (quotes removed, expanded) */
    const char *raw_args;          /**< argument text as written (expanded) */
    const char *args_error;        /**< why the text did not split into words
                                        (e.g. an unclosed quote), or NULL; an
                                        error unless the directive is RL_DIR_RAW */
    const char *file;              /**< file it came from */
    unsigned line;                 /**< line it starts on */
    rl_config_node_t *first_child; /**< section body, or NULL */
    rl_config_node_t *next;        /**< next sibling */
    rl_config_node_t *parent;      /**< enclosing section, or NULL */
};

/** A <Location>, <LocationMatch> or <Proxy> block of a server. */
typedef struct rl_location_t {
    const char *path;  /**< prefix or regex source or proxy url */
    void *regex;       /**< compiled pcre2_code* for Match forms, else NULL */
    unsigned kind;     /**< RL_CTX_LOCATION or RL_CTX_PROXY */
    void **dir_config; /**< per-module blocks, merged over the server's
                            root at start-up */
    void **own_config; /**< the section's own blocks, unmerged (used
                            when several sections match one request) */
    const char *file;  /**< where it was declared */
    unsigned line;
    /** An <If>, <ElseIf> or <Else> block: its condition (core-owned, opaque),
     *  evaluated per request after every <Location> has been merged; NULL
     *  for the other sections.  @since API 20261128.1 */
    const void *cond;
} rl_location_t;

/** Address a listener or a <VirtualHost> names. */
typedef struct rl_server_addr_t {
    const char *host; /**< "*", an address or a name, as written */
    apr_port_t port;  /**< 0 for "*" port */
} rl_server_addr_t;

/** Per-module log level override and the server's default. */
#define RL_LOG_MAX_MODULES 128

/**
 * A server: the main server or one <VirtualHost>.  Read-only once the
 * configuration is loaded.
 */
struct rl_server_t {
    rl_server_t *next;           /**< next vhost; main server first */
    int is_virtual;              /**< 0 for the main server */
    const char *server_name;     /**< ServerName (without port) */
    apr_port_t port;             /**< port from ServerName, or 0 */
    apr_array_header_t *aliases; /**< ServerAlias (const char *), may
                                      hold wildcards */
    apr_array_header_t *addrs;   /**< rl_server_addr_t of <VirtualHost> */
    const char *defn_file;       /**< where it was declared */
    unsigned defn_line;

    void **module_config;          /**< per-module server blocks */
    void **lookup_defaults;        /**< per-module root dir blocks */
    apr_array_header_t *locations; /**< rl_location_t, in file order */

    /* core settings, merged from the main server into each vhost */
    apr_interval_time_t timeout;            /**< Timeout */
    apr_interval_time_t keep_alive_timeout; /**< KeepAliveTimeout */
    int keep_alive;                         /**< KeepAlive On|Off */
    int keep_alive_max;                     /**< MaxKeepAliveRequests, 0=∞ */
    int limit_req_line;                     /**< LimitRequestLine */
    int limit_req_fieldsize;                /**< LimitRequestFieldSize */
    int limit_req_fields;                   /**< LimitRequestFields */
    int log_level;                          /**< LogLevel default */
    signed char *module_log_levels;         /**< per module index, -1=unset */
    const char *error_fname;                /**< ErrorLog as written */
    void *error_log;                        /**< core-owned apr_file_t* */
    /** Protocols: what clients may speak ("h2", "h2c", "http/1.1"; const
     *  char *), in order of preference; see rl_protocol_allowed().
     *  @since API 20261130.0 */
    apr_array_header_t *protocols;
};

/** Where a directive stands, handed to its handler. */
struct rl_cmd_t {
    apr_pool_t *pool;                /**< configuration pool (lives as long as
                                          this configuration generation) */
    apr_pool_t *temp_pool;           /**< freed after the configuration loads */
    rl_server_t *server;             /**< enclosing server (main or vhost) */
    rl_module_t *module;             /**< the module that owns the directive */
    const rl_directive_t *directive; /**< the table entry */
    const void *data;             /**< directive->data, for generic setters */
    const rl_config_node_t *node; /**< the node (a section's body is
                                       node->first_child) */
    unsigned context;             /**< RL_CTX_* bit of the enclosing context */
    const char *path;             /**< enclosing location path, or NULL */
    void **dir_config;            /**< enclosing context's per-module blocks */
};

/** @name Generic setters (data = offsetof the field in the block) */
/**@{*/
/** On|Off into an int. */
RL_DECLARE(const char *)
rl_set_flag_slot(rl_cmd_t *cmd, void *conf, int argc, char *const argv[]);
/** A non-negative integer into an int. */
RL_DECLARE(const char *)
rl_set_int_slot(rl_cmd_t *cmd, void *conf, int argc, char *const argv[]);
/** A string (copied into the config pool) into a const char *. */
RL_DECLARE(const char *)
rl_set_string_slot(rl_cmd_t *cmd, void *conf, int argc, char *const argv[]);
/** A path, relative to ServerRoot unless absolute, into a const char *. */
RL_DECLARE(const char *)
rl_set_path_slot(rl_cmd_t *cmd, void *conf, int argc, char *const argv[]);
/** A size with optional k/M/G suffix into an apr_off_t. */
RL_DECLARE(const char *)
rl_set_size_slot(rl_cmd_t *cmd, void *conf, int argc, char *const argv[]);
/** A duration (seconds, or with ms/s/m/h suffix) into apr_interval_time_t. */
RL_DECLARE(const char *)
rl_set_duration_slot(rl_cmd_t *cmd, void *conf, int argc, char *const argv[]);
/**@}*/

/** @name Parsing helpers for handlers */
/**@{*/
/** Parses On/Off.  @return NULL or an error message. */
RL_DECLARE(const char *)
rl_parse_flag(apr_pool_t *p, const char *arg, int *out);
/** Parses "10", "512k", "4M", "1G".  @return NULL or an error message. */
RL_DECLARE(const char *)
rl_parse_size(apr_pool_t *p, const char *arg, apr_off_t *out);
/** Parses "30", "250ms", "5s", "2m", "1h" (bare number: unit).
 *  @return NULL or an error message. */
RL_DECLARE(const char *)
rl_parse_duration(apr_pool_t *p, const char *arg, apr_interval_time_t unit,
                  apr_interval_time_t *out);
/**
 * Compiles a PCRE2 regular expression (<LocationMatch>, ProxyPassMatch…);
 * the pool frees it.  Returns a pcre2_code *, or NULL and *err saying
 * where the expression is wrong.
 * @since API 20261127.0
 */
RL_DECLARE(void *)
rl_regex_compile(apr_pool_t *p, const char *pattern, const char **err);

/** Makes a path absolute relative to ServerRoot.  Result in p. */
RL_DECLARE(const char *)
rl_server_root_relative(apr_pool_t *p, const char *path);
/**@}*/

/**
 * Walks a section's body as the core walks the top level: a section
 * handler calls this for node->first_child with the context it opens.
 * Errors are reported by the core; the return value is the number of them.
 * @param cmd        the section's cmd (its server and pools are used)
 * @param first      first node of the body
 * @param context    RL_CTX_* the body is in
 * @param path       location path for the body, or NULL
 * @param dir_config per-module blocks for the body
 * @since API 20261127.0
 */
RL_DECLARE(int)
rl_config_walk(const rl_cmd_t *cmd, const rl_config_node_t *first,
               unsigned context, const char *path, void **dir_config);

/**
 * Creates a fresh per-module dir config vector for a location-like section
 * (each loaded module's create_dir_config is called with path).
 * @since API 20261127.0
 */
RL_DECLARE(void **) rl_config_new_dir_vector(apr_pool_t *p, const char *path);

/**
 * Adds a location-like block to a server (used by <Location>, and by
 * modules that define their own such section, like mod_proxy's <Proxy>).
 * The block is merged over the server's root at start-up.
 * @since API 20261127.0
 */
RL_DECLARE(rl_location_t *)
rl_config_add_location(rl_cmd_t *cmd, const char *path, void *regex,
                       unsigned kind, void **dir_config);

/**
 * Reports a configuration warning (printed, not fatal) at the directive's
 * file and line.
 */
RL_DECLARE(void)
rl_config_warn(const rl_cmd_t *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** True when the current configuration pass runs with -D name. */
RL_DECLARE(int) rl_exists_define(const char *name);

/** The main server of the configuration being served or loaded. */
RL_DECLARE(rl_server_t *) rl_main_server(void);

/** ServerRoot of the running configuration. */
RL_DECLARE(const char *) rl_server_root(void);

/**
 * Data a module keeps across configuration generations (graceful
 * restarts), in the parent process, as httpd's ap_retained_data_*: the
 * module's own globals are reset because its .so is loaded again.
 * @return the block created under key by an earlier generation, or NULL
 * @since API 20261128.0
 */
RL_DECLARE(void *) rl_retained_data_get(const char *key);

/** Creates (zeroed) the retained block for key; see rl_retained_data_get.
 *  @since API 20261128.0 */
RL_DECLARE(void *) rl_retained_data_create(const char *key, apr_size_t size);

/** A pool that lives as long as the server process, for what a retained
 *  block points to (shared memory kept across generations).
 *  @since API 20261128.0 */
RL_DECLARE(apr_pool_t *) rl_retained_pool(void);

#ifdef __cplusplus
}
#endif
#endif /* RL_CONFIG_H */
