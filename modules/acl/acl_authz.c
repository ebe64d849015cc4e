/*
 * acl_authz.c: the Require types of mod_acl, with httpd 2.4's meaning
 * (mod_authz_core, mod_authz_host, mod_authz_user, mod_authz_groupfile):
 *
 *   Require all granted|denied
 *   Require ip 10.1.2.3 10.1 10.0.0.0/8 10.0.0.0/255.0.0.0 2001:db8::/32
 *   Require local                  127.0.0.0/8, ::1, or the server's own
 *                                  address
 *   Require host example.org …     the client's double-reverse-checked name
 *                                  (blocking DNS: prefork and worker only)
 *   Require env VAR …              a request variable is set
 *   Require method GET POST …      (GET allows HEAD, as in httpd)
 *   Require expr "…"               include/rl_expr.h
 *   Require valid-user | user u … | group g …
 *
 * Each type parses its arguments once, at start-up, and checks a request
 * without allocating (but expr, which may).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <apr_escape.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "acl_private.h"

RL_LOG_USE_MODULE(acl);

/* A list of words (user, group, variable, method names). */
typedef struct words_t {
    int n;
    const char **w;
} words_t;

static words_t *words_copy(apr_pool_t *p, int argc, char *const argv[])
{
    words_t *ws = apr_palloc(p, sizeof(*ws));
    int i;

    ws->n = argc;
    ws->w = apr_palloc(p, sizeof(char *) * (apr_size_t)(argc ? argc : 1));
    for (i = 0; i < argc; i++) {
        ws->w[i] = apr_pstrdup(p, argv[i]);
    }
    return ws;
}

static const char *need_args(int argc, const char *what)
{
    return argc > 0 ? NULL : what;
}

/* ------------------------------------------------------------ all */

static const char *all_parse(rl_cmd_t *cmd, int argc, char *const argv[],
                             const char *raw, void **out)
{
    int *granted = apr_palloc(cmd->pool, sizeof(*granted));

    (void)raw;
    if (argc != 1 || (strcasecmp(argv[0], "granted") != 0 &&
                      strcasecmp(argv[0], "denied") != 0)) {
        return "expected 'Require all granted' or 'Require all denied'";
    }
    *granted = strcasecmp(argv[0], "granted") == 0;
    *out = granted;
    return NULL;
}

static acl_result_e all_check(void *ctx, const void *parsed)
{
    (void)ctx;
    return *(const int *)parsed ? ACL_GRANTED : ACL_DENIED;
}

/* ------------------------------------------------------------- ip */

typedef struct ips_t {
    int n;
    const rl_ipmatch_t **m;
} ips_t;

static const char *ip_parse(rl_cmd_t *cmd, int argc, char *const argv[],
                            const char *raw, void **out)
{
    ips_t *ips = apr_palloc(cmd->pool, sizeof(*ips));
    int i;

    (void)raw;
    if (argc == 0) {
        return "expected one or more addresses after 'Require ip' (10.1.2.3, "
               "10.1, 10.0.0.0/8, 10.0.0.0/255.0.0.0, 2001:db8::/32)";
    }
    ips->n = argc;
    ips->m = apr_palloc(cmd->pool, sizeof(*ips->m) * (apr_size_t)argc);
    for (i = 0; i < argc; i++) {
        const char *err = NULL;
        ips->m[i] = rl_ipmatch_parse(cmd->pool, argv[i], &err);
        if (ips->m[i] == NULL) {
            return apr_psprintf(cmd->temp_pool,
                                "%s (Require ip takes 10.1.2.3, 10.1, "
                                "10.0.0.0/8, 10.0.0.0/255.0.0.0 or "
                                "2001:db8::/32; 'Require host' takes names)",
                                err ? err
                                    : apr_psprintf(cmd->temp_pool,
                                                   "'%s' is not an address",
                                                   argv[i]));
        }
    }
    *out = ips;
    return NULL;
}

static acl_result_e ip_check(void *ctx, const void *parsed)
{
    const acl_req_t *q = ctx;
    const ips_t *ips = parsed;
    const char *ip = q->r->connection->client_ip;
    int i;

    for (i = 0; i < ips->n; i++) {
        if (rl_ipmatch(ips->m[i], ip)) {
            return ACL_GRANTED;
        }
    }
    return ACL_DENIED;
}

/* ---------------------------------------------------------- local */

static const char *local_parse(rl_cmd_t *cmd, int argc, char *const argv[],
                               const char *raw, void **out)
{
    ips_t *ips = apr_palloc(cmd->pool, sizeof(*ips));
    const char *err = NULL;

    (void)argv;
    (void)raw;
    if (argc != 0) {
        return "'Require local' takes no arguments (use 'Require ip' for "
               "other addresses)";
    }
    ips->n = 2;
    ips->m = apr_palloc(cmd->pool, sizeof(*ips->m) * 2);
    ips->m[0] = rl_ipmatch_parse(cmd->pool, "127.0.0.0/8", &err);
    ips->m[1] = rl_ipmatch_parse(cmd->pool, "::1", &err);
    if (ips->m[0] == NULL || ips->m[1] == NULL) {
        return err;
    }
    *out = ips;
    return NULL;
}

static acl_result_e local_check(void *ctx, const void *parsed)
{
    const acl_req_t *q = ctx;
    const rl_conn_t *c = q->r->connection;

    /* a client on this host reaching one of our other addresses */
    if (c->local_ip != NULL && c->client_ip != NULL &&
        strcmp(c->local_ip, c->client_ip) == 0) {
        return ACL_GRANTED;
    }
    return ip_check(ctx, parsed);
}

/* ----------------------------------------------------------- host */

/*
 * The client's name, as httpd finds it for Require host: the address's
 * PTR name, kept only when that name resolves back to the address (a
 * client controls its own PTR records, not our forward lookup).  Both
 * lookups block, so this type is refused under the event MPM, where a
 * request hook runs on a loop that serves many connections.  Under
 * prefork and worker a request holds its thread anyway, as in httpd; the
 * answers are cached per child (HOST_SLOTS addresses for HOST_TTL), so a
 * client pays the lookups once a minute at most.
 */
#define HOST_SLOTS 256
#define HOST_TTL apr_time_from_sec(60)

typedef struct host_slot_t {
    char ip[INET6_ADDRSTRLEN];
    char *name; /* malloc'd; NULL: no confirmed name */
    apr_time_t expires;
} host_slot_t;

typedef struct host_cache_t {
    apr_thread_mutex_t *lock;
    host_slot_t slot[HOST_SLOTS];
} host_cache_t;

static host_cache_t *host_cache;

static apr_status_t host_cache_free(void *v)
{
    host_cache_t *hc = v;
    int i;

    for (i = 0; i < HOST_SLOTS; i++) {
        free(hc->slot[i].name);
    }
    host_cache = NULL;
    return APR_SUCCESS;
}

static unsigned host_hash(const char *ip)
{
    unsigned h = 5381;

    while (*ip) {
        h = h * 33 + (unsigned char)*ip++;
    }
    return h % HOST_SLOTS;
}

/* PTR name of ip confirmed by a forward lookup, malloc'd, or NULL. */
static char *double_reverse(const char *ip)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char name[NI_MAXHOST];
    struct addrinfo hints, *res = NULL, *ai;
    char *found = NULL;

    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        len = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, ip,
                         &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
        len = sizeof(struct sockaddr_in6);
    } else {
        return NULL;
    }
    if (getnameinfo((struct sockaddr *)&ss, len, name, sizeof(name), NULL, 0,
                    NI_NAMEREQD) != 0) {
        return NULL;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(name, NULL, &hints, &res) != 0) {
        return NULL;
    }
    for (ai = res; ai != NULL && found == NULL; ai = ai->ai_next) {
        char back[INET6_ADDRSTRLEN];
        const void *a =
            ai->ai_family == AF_INET
                ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)
                      ->sin6_addr;
        if (inet_ntop(ai->ai_family, a, back, sizeof(back)) != NULL &&
            strcmp(back, ip) == 0) {
            found = strdup(name);
        }
    }
    freeaddrinfo(res);
    return found;
}

/* The client's confirmed name in r->pool, or NULL. */
static const char *client_name(rl_request_t *r)
{
    const char *ip = r->connection->client_ip;
    host_slot_t *s;
    apr_time_t now = apr_time_now();
    const char *name = NULL;
    char *fresh;

    if (host_cache == NULL || ip == NULL || strlen(ip) >= sizeof(s->ip)) {
        return NULL;
    }
    s = &host_cache->slot[host_hash(ip)];
    apr_thread_mutex_lock(host_cache->lock);
    if (strcmp(s->ip, ip) == 0 && s->expires > now) {
        name = s->name ? apr_pstrdup(r->pool, s->name) : NULL;
        apr_thread_mutex_unlock(host_cache->lock);
        return name;
    }
    apr_thread_mutex_unlock(host_cache->lock);

    /* no lock held while the resolver waits */
    fresh = double_reverse(ip);
    rl_log_rerror(RL_LOG_DEBUG, 0, r, "Require host: %s is %s", ip,
                  fresh ? apr_pescape_echo(r->pool, fresh, 0)
                        : "nameless (no PTR name that resolves back to it)");
    name = fresh ? apr_pstrdup(r->pool, fresh) : NULL;

    apr_thread_mutex_lock(host_cache->lock);
    free(s->name);
    apr_cpystrn(s->ip, ip, sizeof(s->ip));
    s->name = fresh;
    s->expires = now + HOST_TTL;
    apr_thread_mutex_unlock(host_cache->lock);
    return name;
}

static const char *host_parse(rl_cmd_t *cmd, int argc, char *const argv[],
                              const char *raw, void **out)
{
    const char *mpm = rl_mpm_name();
    words_t *ws;
    int i;

    (void)raw;
    if (argc == 0) {
        return "expected one or more host or domain names after 'Require "
               "host'";
    }
    if (mpm != NULL && strcmp(mpm, "event") == 0) {
        return "'Require host' is not available under the event MPM: it "
               "needs two DNS "
               "lookups per new client, which would stall every connection "
               "of the event loop while they wait.  Use 'Require ip' with "
               "the addresses of those hosts, or run mpm_worker or "
               "mpm_prefork";
    }
    for (i = 0; i < argc; i++) {
        unsigned char buf[sizeof(struct in6_addr)];
        if (inet_pton(AF_INET, argv[i], buf) == 1 ||
            inet_pton(AF_INET6, argv[i], buf) == 1) {
            return apr_psprintf(cmd->temp_pool,
                                "'%s' is an address, not a name: use "
                                "'Require ip %s'",
                                argv[i], argv[i]);
        }
    }
    ws = words_copy(cmd->pool, argc, argv);
    if (host_cache == NULL) {
        apr_status_t rv;
        host_cache = apr_pcalloc(cmd->pool, sizeof(*host_cache));
        rv = apr_thread_mutex_create(&host_cache->lock,
                                     APR_THREAD_MUTEX_DEFAULT, cmd->pool);
        if (rv != APR_SUCCESS) {
            host_cache = NULL;
            return "cannot create a lock for the host name cache";
        }
        apr_pool_cleanup_register(cmd->pool, host_cache, host_cache_free,
                                  apr_pool_cleanup_null);
    }
    *out = ws;
    return NULL;
}

/* "example.org" matches example.org and www.example.org, not
 * badexample.org; ".example.org" matches only names below it. */
static int in_domain(const char *domain, const char *name)
{
    apr_size_t dl = strlen(domain), nl = strlen(name);

    if (dl == 0 || dl > nl || strcasecmp(name + nl - dl, domain) != 0) {
        return 0;
    }
    return dl == nl || domain[0] == '.' || name[nl - dl - 1] == '.';
}

static acl_result_e host_check(void *ctx, const void *parsed)
{
    const acl_req_t *q = ctx;
    const words_t *ws = parsed;
    const char *name = client_name(q->r);
    int i;

    if (name == NULL) {
        return ACL_DENIED;
    }
    for (i = 0; i < ws->n; i++) {
        if (in_domain(ws->w[i], name)) {
            return ACL_GRANTED;
        }
    }
    return ACL_DENIED;
}

/* ------------------------------------------------------------ env */

static const char *env_parse(rl_cmd_t *cmd, int argc, char *const argv[],
                             const char *raw, void **out)
{
    (void)raw;
    *out = words_copy(cmd->pool, argc, argv);
    return need_args(argc, "expected one or more variable names after "
                           "'Require env'");
}

static acl_result_e env_check(void *ctx, const void *parsed)
{
    const acl_req_t *q = ctx;
    const words_t *ws = parsed;
    int i;

    for (i = 0; i < ws->n; i++) {
        if (apr_table_get(q->r->subprocess_env, ws->w[i]) != NULL) {
            return ACL_GRANTED;
        }
    }
    return ACL_DENIED;
}

/* --------------------------------------------------------- method */

static const char *method_parse(rl_cmd_t *cmd, int argc, char *const argv[],
                                const char *raw, void **out)
{
    int i;

    (void)raw;
    if (argc == 0) {
        return "expected one or more methods after 'Require method'";
    }
    for (i = 0; i < argc; i++) {
        const char *s;
        for (s = argv[i]; *s; s++) {
            if (!apr_isupper(*s) && *s != '-' && *s != '_') {
                return apr_psprintf(cmd->temp_pool,
                                    "'%s' is not a method: methods are "
                                    "upper-case words (GET, POST, PROPFIND) "
                                    "and case-sensitive",
                                    argv[i]);
            }
        }
    }
    *out = words_copy(cmd->pool, argc, argv);
    return NULL;
}

static acl_result_e method_check(void *ctx, const void *parsed)
{
    const acl_req_t *q = ctx;
    const words_t *ws = parsed;
    const char *m = q->r->method;
    int i;

    for (i = 0; i < ws->n; i++) {
        /* HEAD is a GET without the body, as in httpd */
        if (strcmp(ws->w[i], m) == 0 ||
            (strcmp(m, "HEAD") == 0 && strcmp(ws->w[i], "GET") == 0)) {
            return ACL_GRANTED;
        }
    }
    return ACL_DENIED;
}

/* ----------------------------------------------------------- expr */

typedef struct expr_req_t {
    const rl_expr_t *expr;
    int wants_user; /* it reads %{REMOTE_USER}: a user may change it */
} expr_req_t;

static const char *expr_parse(rl_cmd_t *cmd, int argc, char *const argv[],
                              const char *raw, void **out)
{
    expr_req_t *x = apr_pcalloc(cmd->pool, sizeof(*x));
    const char *err = NULL;
    apr_size_t len;
    char *text;

    (void)argv;
    if (argc == 0 || raw == NULL || *raw == '\0') {
        return "expected an expression after 'Require expr', e.g. Require "
               "expr \"%{REMOTE_ADDR} -ipmatch '10.0.0.0/8'\"";
    }
    text = apr_pstrdup(cmd->pool, raw);
    len = strlen(text);
    while (len > 0 && apr_isspace(text[len - 1])) {
        text[--len] = '\0';
    }
    /* the whole expression in double quotes, as httpd's examples write it */
    if (len >= 2 && text[0] == '"' && text[len - 1] == '"') {
        text[len - 1] = '\0';
        text++;
    }
    x->expr = rl_expr_parse(cmd->pool, text, &err);
    if (x->expr == NULL) {
        return apr_psprintf(cmd->temp_pool, "cannot parse the expression: %s",
                            err ? err : "?");
    }
    x->wants_user = strstr(text, "REMOTE_USER") != NULL;
    *out = x;
    return NULL;
}

static acl_result_e expr_check(void *ctx, const void *parsed)
{
    const acl_req_t *q = ctx;
    const expr_req_t *x = parsed;
    const char *err = NULL;
    int rc = rl_expr_eval(q->r, x->expr, &err);

    if (rc < 0) {
        rl_log_rerror(RL_LOG_ERR, 0, q->r,
                      "Require expr \"%s\": cannot evaluate: %s",
                      rl_expr_source(x->expr), err ? err : "?");
        return ACL_ERROR;
    }
    if (rc > 0) {
        return ACL_GRANTED;
    }
    return x->wants_user && q->r->user == NULL ? ACL_DENIED_NO_USER
                                               : ACL_DENIED;
}

/* ---------------------------------------------- users and groups */

static const char *valid_user_parse(rl_cmd_t *cmd, int argc, char *const argv[],
                                    const char *raw, void **out)
{
    (void)cmd;
    (void)argv;
    (void)raw;
    *out = NULL;
    return argc == 0 ? NULL
                     : "'Require valid-user' takes no arguments (use "
                       "'Require user name…' for given users)";
}

static acl_result_e valid_user_check(void *ctx, const void *parsed)
{
    const acl_req_t *q = ctx;

    (void)parsed;
    return q->r->user != NULL ? ACL_GRANTED : ACL_DENIED_NO_USER;
}

static const char *user_parse(rl_cmd_t *cmd, int argc, char *const argv[],
                              const char *raw, void **out)
{
    (void)raw;
    *out = words_copy(cmd->pool, argc, argv);
    return need_args(argc, "expected one or more user names after 'Require "
                           "user' ('Require valid-user' for anyone in "
                           "AuthUserFile)");
}

static acl_result_e user_check(void *ctx, const void *parsed)
{
    const acl_req_t *q = ctx;
    const words_t *ws = parsed;
    int i;

    if (q->r->user == NULL) {
        return ACL_DENIED_NO_USER;
    }
    for (i = 0; i < ws->n; i++) {
        if (strcmp(ws->w[i], q->r->user) == 0) {
            return ACL_GRANTED;
        }
    }
    return ACL_DENIED;
}

static const char *group_parse(rl_cmd_t *cmd, int argc, char *const argv[],
                               const char *raw, void **out)
{
    (void)raw;
    *out = words_copy(cmd->pool, argc, argv);
    return need_args(argc, "expected one or more group names after 'Require "
                           "group' (groups come from AuthGroupFile)");
}

static acl_result_e group_check(void *ctx, const void *parsed)
{
    const acl_req_t *q = ctx;
    const words_t *ws = parsed;
    int i;

    if (q->r->user == NULL) {
        return ACL_DENIED_NO_USER;
    }
    if (q->conf->group_file == NULL) {
        rl_log_rerror(RL_LOG_ERR, 0, q->r,
                      "Require group applies to %s, but no AuthGroupFile "
                      "does: access denied",
                      q->r->uri);
        return ACL_DENIED;
    }
    for (i = 0; i < ws->n; i++) {
        int in = acl_group_has(q->r, q->conf->group_file, ws->w[i], q->r->user);
        if (in < 0) {
            return ACL_ERROR;
        }
        if (in > 0) {
            return ACL_GRANTED;
        }
    }
    return ACL_DENIED;
}

/* ---------------------------------------------------------- table */

static const acl_provider_t providers[] = {
    {"all", all_parse, all_check},
    {"ip", ip_parse, ip_check},
    {"host", host_parse, host_check},
    {"local", local_parse, local_check},
    {"env", env_parse, env_check},
    {"method", method_parse, method_check},
    {"expr", expr_parse, expr_check},
    {"valid-user", valid_user_parse, valid_user_check},
    {"user", user_parse, user_check},
    {"group", group_parse, group_check},
    {NULL, NULL, NULL}};

const acl_provider_t *acl_provider_find(const char *name)
{
    int i;

    for (i = 0; providers[i].name != NULL; i++) {
        if (strcasecmp(providers[i].name, name) == 0) {
            return &providers[i];
        }
    }
    return NULL;
}

const char *acl_provider_names(void)
{
    return "all, ip, host, local, env, method, expr, valid-user, user, group";
}
