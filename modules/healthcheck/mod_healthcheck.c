/*
 * mod_healthcheck: active health checks of proxy workers and balancer
 * members, with httpd's mod_proxy_hcheck keys on the worker
 * (BalancerMember or ProxyPass): hcmethod=TCP|OPTIONS|HEAD|GET,
 * hcuri=/path, hcinterval=duration (30 s), hcpasses=n (1), hcfails=n (1),
 * hcexpr=name and hctemplate=name; and its directives ProxyHCExpr (a
 * named condition over the answer, hc_expr.c) and ProxyHCTemplate (a
 * named set of those keys).  docs/healthcheck.md is the user's guide.
 *
 * One watchdog process per configuration generation, forked by the parent
 * after post_config, checks every member and sets or clears
 * RL_WORKER_HC_FAILED (+C) in the workers' shared state, so every child
 * stops (or resumes) sending traffic to it at once.  It runs as
 * User/Group, like the children, and never on a request thread.  All the
 * checks that are due run at the same time, on one poll() loop over
 * non-blocking sockets (connect, send the request, read the status line,
 * the head or the body as the expression needs, evaluate), each with its
 * own deadline: connectiontimeout= for the connection, timeout= for the
 * answer (5 s each when not set), so a member that accepts connections
 * and never answers delays nobody else's check.  Every transition is
 * logged at notice and fires proxy_member_state_changed.
 *
 * https:// members are checked over TLS, with the same verification as
 * the traffic (mod_ssl's provider, rl_ssl.h, with the SSLProxy* settings
 * of the server that declares the member; the main server's for a
 * ProxyPass backend): a member whose certificate fails verification fails
 * its check.  hcmethod=TCP stays a bare connect, as in httpd.
 *
 * Configuration state (the workers' settings, the expressions, the
 * templates) lives in the generation's configuration pool and is reset
 * with it.  Worker keys arrive through providers of the group
 * "proxy_worker_param" while mod_proxy reads a BalancerMember or ProxyPass
 * line, so hcexpr= and hctemplate= name what a ProxyHCExpr or
 * ProxyHCTemplate above that line declared (as in httpd).
 */
#include "rl_proxy.h"

#include "hc_expr.h"

#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

RL_LOG_USE_MODULE(healthcheck);

enum hc_method { HC_NONE = 0, HC_TCP, HC_OPTIONS, HC_HEAD, HC_GET, HC_UDP };

static const char *const hc_method_names[] = {"",     "TCP", "OPTIONS",
                                              "HEAD", "GET", "UDP"};

/* tcp:// and udp:// members (mod_proxy_stream) are checked with TCP or
 * UDP, and hcsend=/hcexpect=: bytes to send, and a string the answer
 * must contain.  The longest answer looked at: */
#define HC_EXPECT_MAX 16384

/* Default wait for a connection, and for an answer, without
 * connectiontimeout= / timeout= on the worker. */
#define HC_DEFAULT_TIMEOUT apr_time_from_sec(5)

/* A ProxyHCExpr. */
typedef struct hc_named_expr_t {
    const char *name;
    const char *text; /* as written, for logs */
    hc_expr_t *expr;
    const char *file;
    unsigned line;
} hc_named_expr_t;

/* The hc* keys of a worker or of a template. */
typedef struct hc_settings_t {
    enum hc_method method;
    const char *uri;
    apr_interval_time_t interval;
    int passes, fails;
    const hc_named_expr_t *expr;
    const char *send, *expect; /* hcsend=, hcexpect= (escapes decoded) */
    apr_size_t send_len, expect_len;
} hc_settings_t;

/* A ProxyHCTemplate. */
typedef struct hc_template_t {
    const char *name;
    hc_settings_t set;
    const char *file;
    unsigned line;
} hc_template_t;

enum probe_state { PR_IDLE = 0, PR_CONNECT, PR_SEND, PR_READ };

/* A checked worker: its settings, then what the watchdog keeps. */
typedef struct hc_conf_t {
    rl_proxy_worker_t *w;
    hc_settings_t set;
    /* filled in post_config */
    const char *request;
    apr_size_t request_len;
    int need; /* HC_NEED_* */
    apr_interval_time_t connect_timeout, answer_timeout;
    /* the watchdog's */
    int ok_run, fail_run; /* consecutive results */
    apr_time_t next;      /* when the next check is due */
    apr_time_t since;     /* when it last changed state */
    int out_at_start;     /* +C already when the watchdog started */
    enum probe_state state;
    int fd;
    const apr_sockaddr_t *alt; /* the name's next address, tried after the
                                  first refused (NULL: the shared one) */
    rl_io_t *io;               /* TLS (https://), NULL for plain */
    int want;                  /* after EAGAIN: RL_WANT_READ or _WRITE */
    const rl_server_t *server; /* whose SSLProxy* settings apply */
    apr_time_t started, deadline;
    apr_size_t sent, len, cap;
    char *buf;
    char why[320];
} hc_conf_t;

/* The configuration being loaded (or served): reset with its pool. */
typedef struct hc_gen_t {
    apr_hash_t *confs;             /* rl_proxy_worker_t * -> hc_conf_t */
    apr_array_header_t *order;     /* hc_conf_t *, in configuration order */
    apr_array_header_t *exprs;     /* hc_named_expr_t * */
    apr_array_header_t *templates; /* hc_template_t * */
} hc_gen_t;

static hc_gen_t *hc_gen_state;
static pid_t watchdog_pid;


static apr_status_t hc_reset(void *unused)
{
    (void)unused;
    hc_gen_state = NULL;
    return APR_SUCCESS;
}


static hc_gen_t *hc_gen(apr_pool_t *p)
{
    if (hc_gen_state == NULL) {
        hc_gen_state = apr_pcalloc(p, sizeof(*hc_gen_state));
        hc_gen_state->confs = apr_hash_make(p);
        hc_gen_state->order = apr_array_make(p, 8, sizeof(hc_conf_t *));
        hc_gen_state->exprs = apr_array_make(p, 4, sizeof(hc_named_expr_t *));
        hc_gen_state->templates = apr_array_make(p, 4, sizeof(hc_template_t *));
        apr_pool_cleanup_register(p, NULL, hc_reset, apr_pool_cleanup_null);
    }
    return hc_gen_state;
}


static void hc_settings_default(hc_settings_t *set, enum hc_method method)
{
    memset(set, 0, sizeof(*set));
    set->method = method;
    set->uri = "/";
    set->interval = apr_time_from_sec(30);
    set->passes = 1;
    set->fails = 1;
}


static hc_conf_t *hc_conf(apr_pool_t *p, rl_proxy_worker_t *w)
{
    hc_gen_t *g = hc_gen(p);
    hc_conf_t *c = apr_hash_get(g->confs, &w, sizeof(w));

    if (c == NULL) {
        rl_proxy_worker_t **key = apr_palloc(p, sizeof(*key));
        c = apr_pcalloc(p, sizeof(*c));
        c->w = w;
        c->fd = -1;
        hc_settings_default(&c->set, HC_NONE);
        *key = w;
        apr_hash_set(g->confs, key, sizeof(*key), c);
        APR_ARRAY_PUSH(g->order, hc_conf_t *) = c;
    }
    return c;
}


/* ------------------------------------------------------------------ */
/* The hc* keys (on a worker, or in a template)                       */
/* ------------------------------------------------------------------ */

static const char *set_method(apr_pool_t *p, hc_settings_t *set, const char *v)
{
    int i;

    for (i = 1; i < 6; i++) {
        if (strcasecmp(v, hc_method_names[i]) == 0) {
            set->method = (enum hc_method)i;
            return NULL;
        }
    }
    return apr_psprintf(
        p,
        "hcmethod=%s: expected TCP, OPTIONS, HEAD or GET (or UDP "
        "for udp:// members)",
        v);
}


static const char *set_uri(apr_pool_t *p, hc_settings_t *set, const char *v)
{
    const char *c;

    if (v[0] != '/') {
        return apr_psprintf(p, "hcuri=%s: expected a path starting with /", v);
    }
    for (c = v; *c; c++) {
        if (!apr_isgraph(*c)) {
            return apr_psprintf(p,
                                "hcuri=%s: no spaces or control characters "
                                "(encode them: %%20)",
                                v);
        }
    }
    set->uri = apr_pstrdup(p, v);
    return NULL;
}


static const char *set_interval(apr_pool_t *p, hc_settings_t *set,
                                const char *v)
{
    apr_interval_time_t t;
    const char *err = rl_parse_duration(p, v, APR_USEC_PER_SEC, &t);

    if (err != NULL) {
        return apr_psprintf(p, "hcinterval=%s: %s", v, err);
    }
    if (t < apr_time_from_msec(100)) {
        return apr_psprintf(p, "hcinterval=%s: at least 100ms", v);
    }
    set->interval = t;
    return NULL;
}


static const char *set_count(apr_pool_t *p, int *slot, const char *key,
                             const char *v)
{
    char *end;
    long n = strtol(v, &end, 10);

    if (*v == '\0' || *end || n < 1 || n > 1000) {
        return apr_psprintf(p, "%s=%s: expected a number from 1 to 1000", key,
                            v);
    }
    *slot = (int)n;
    return NULL;
}


static const char *set_passes(apr_pool_t *p, hc_settings_t *set, const char *v)
{
    return set_count(p, &set->passes, "hcpasses", v);
}


static const char *set_fails(apr_pool_t *p, hc_settings_t *set, const char *v)
{
    return set_count(p, &set->fails, "hcfails", v);
}


/* "(known: a, b)" or "(none is declared above this line)" */
static const char *known_names(apr_pool_t *p, const apr_array_header_t *a,
                               int templates)
{
    const char *out = NULL;
    int i;

    for (i = 0; i < a->nelts; i++) {
        const char *name = templates
                               ? APR_ARRAY_IDX(a, i, hc_template_t *)->name
                               : APR_ARRAY_IDX(a, i, hc_named_expr_t *)->name;
        out = out ? apr_pstrcat(p, out, ", ", name, NULL) : name;
    }
    return out ? apr_pstrcat(p, "(known: ", out, ")", NULL)
               : "(none is declared above this line)";
}


static const char *set_expr(apr_pool_t *p, hc_settings_t *set, const char *v)
{
    hc_gen_t *g = hc_gen(p);
    int i;

    for (i = 0; i < g->exprs->nelts; i++) {
        hc_named_expr_t *e = APR_ARRAY_IDX(g->exprs, i, hc_named_expr_t *);
        if (strcmp(e->name, v) == 0) {
            set->expr = e;
            return NULL;
        }
    }
    return apr_psprintf(p,
                        "hcexpr=%s: no ProxyHCExpr named '%s' above this line "
                        "%s",
                        v, v, known_names(p, g->exprs, 0));
}


/* httpd's semantics: the template replaces every hc* setting (its own
 * defaults included); keys after hctemplate= on the same line override. */
static const char *set_template(apr_pool_t *p, hc_settings_t *set,
                                const char *v)
{
    hc_gen_t *g = hc_gen(p);
    int i;

    for (i = 0; i < g->templates->nelts; i++) {
        hc_template_t *t = APR_ARRAY_IDX(g->templates, i, hc_template_t *);
        if (strcmp(t->name, v) == 0) {
            *set = t->set;
            return NULL;
        }
    }
    return apr_psprintf(p,
                        "hctemplate=%s: no ProxyHCTemplate named '%s' above "
                        "this line %s",
                        v, v, known_names(p, g->templates, 1));
}


/* hcsend= / hcexpect=: C escapes \r \n \t \\ \0 and \xHH, for the
 * bytes of binary protocols (a DNS question). */
static const char *set_bytes(apr_pool_t *p, const char *key, const char *v,
                             const char **out, apr_size_t *len)
{
    apr_size_t vl = strlen(v), n = 0;
    char *b = apr_palloc(p, vl + 1);
    const char *c, *end = v + vl;

    /* key="value": the configuration reader keeps quotes that do not
     * start a word, so they are taken off here */
    if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
        end--;
        v++;
    }
    for (c = v; c < end; c++) {
        if (*c != '\\') {
            b[n++] = *c;
            continue;
        }
        c++;
        switch (*c) {
        case 'r':
            b[n++] = '\r';
            break;
        case 'n':
            b[n++] = '\n';
            break;
        case 't':
            b[n++] = '\t';
            break;
        case '0':
            b[n++] = '\0';
            break;
        case '\\':
            b[n++] = '\\';
            break;
        case 'x':
            if (apr_isxdigit(c[1]) && apr_isxdigit(c[2])) {
                char hex[3] = {c[1], c[2], 0};
                b[n++] = (char)strtol(hex, NULL, 16);
                c += 2;
                break;
            }
            /* fall through */
        default:
            return apr_psprintf(p,
                                "%s=%s: unknown escape (use \\r \\n \\t \\0 "
                                "\\\\ or \\xHH)",
                                key, v);
        }
    }
    if (n == 0 || n > HC_EXPECT_MAX) {
        return apr_psprintf(p, "%s=%s: expected 1 to %d bytes", key, v,
                            HC_EXPECT_MAX);
    }
    *out = b;
    *len = n;
    return NULL;
}


static const char *set_send(apr_pool_t *p, hc_settings_t *set, const char *v)
{
    return set_bytes(p, "hcsend", v, &set->send, &set->send_len);
}


static const char *set_expect(apr_pool_t *p, hc_settings_t *set, const char *v)
{
    return set_bytes(p, "hcexpect", v, &set->expect, &set->expect_len);
}


typedef const char *(*hc_setter)(apr_pool_t *p, hc_settings_t *set,
                                 const char *v);

static const struct {
    const char *key;
    hc_setter set;
} hc_keys[] = {{"hcmethod", set_method},     {"hcuri", set_uri},
               {"hcinterval", set_interval}, {"hcpasses", set_passes},
               {"hcfails", set_fails},       {"hcexpr", set_expr},
               {"hctemplate", set_template}, {"hcsend", set_send},
               {"hcexpect", set_expect},     {NULL, NULL}};

/* The providers of group proxy_worker_param: one per key. */
static const char *param_method(apr_pool_t *p, rl_proxy_worker_t *w,
                                const char *v)
{
    return set_method(p, &hc_conf(p, w)->set, v);
}

static const char *param_uri(apr_pool_t *p, rl_proxy_worker_t *w, const char *v)
{
    return set_uri(p, &hc_conf(p, w)->set, v);
}

static const char *param_interval(apr_pool_t *p, rl_proxy_worker_t *w,
                                  const char *v)
{
    return set_interval(p, &hc_conf(p, w)->set, v);
}

static const char *param_passes(apr_pool_t *p, rl_proxy_worker_t *w,
                                const char *v)
{
    return set_passes(p, &hc_conf(p, w)->set, v);
}

static const char *param_fails(apr_pool_t *p, rl_proxy_worker_t *w,
                               const char *v)
{
    return set_fails(p, &hc_conf(p, w)->set, v);
}

static const char *param_expr(apr_pool_t *p, rl_proxy_worker_t *w,
                              const char *v)
{
    return set_expr(p, &hc_conf(p, w)->set, v);
}

static const char *param_template(apr_pool_t *p, rl_proxy_worker_t *w,
                                  const char *v)
{
    return set_template(p, &hc_conf(p, w)->set, v);
}

static const char *param_send(apr_pool_t *p, rl_proxy_worker_t *w,
                              const char *v)
{
    return set_send(p, &hc_conf(p, w)->set, v);
}

static const char *param_expect(apr_pool_t *p, rl_proxy_worker_t *w,
                                const char *v)
{
    return set_expect(p, &hc_conf(p, w)->set, v);
}

static const rl_proxy_worker_param_t p_method = {param_method};
static const rl_proxy_worker_param_t p_send = {param_send};
static const rl_proxy_worker_param_t p_expect = {param_expect};
static const rl_proxy_worker_param_t p_uri = {param_uri};
static const rl_proxy_worker_param_t p_interval = {param_interval};
static const rl_proxy_worker_param_t p_passes = {param_passes};
static const rl_proxy_worker_param_t p_fails = {param_fails};
static const rl_proxy_worker_param_t p_expr = {param_expr};
static const rl_proxy_worker_param_t p_template = {param_template};

/* ------------------------------------------------------------------ */
/* Directives                                                         */
/* ------------------------------------------------------------------ */

static const char *check_name(apr_pool_t *p, const char *name)
{
    const char *c;

    for (c = name; *c; c++) {
        if (!apr_isalnum(*c) && *c != '_' && *c != '-' && *c != '.') {
            return apr_psprintf(p,
                                "'%s': a name is made of letters, digits, "
                                "_, - and .",
                                name);
        }
    }
    return *name ? NULL : "the name is empty";
}


/* ProxyHCExpr name {expression}.  The braces are httpd's quoting; the
 * expression is taken from the line as written (the core's tokenizer
 * splits it at spaces), so it may contain spaces and quotes. */
static const char *set_hc_expr(rl_cmd_t *cmd, void *conf, int argc,
                               char *const argv[])
{
    hc_gen_t *g = hc_gen(cmd->pool);
    const char *raw = cmd->node->raw_args, *name = argv[0], *text, *err;
    hc_named_expr_t *e;
    int i;

    (void)conf;
    err = check_name(cmd->pool, name);
    if (err != NULL) {
        return err;
    }
    /* skip the name as written (maybe quoted) */
    while (apr_isspace(*raw)) {
        raw++;
    }
    if (*raw == '"' || *raw == '\'') {
        const char *close = strchr(raw + 1, *raw);
        raw = close ? close + 1 : raw + strlen(raw);
    } else {
        while (*raw && !apr_isspace(*raw)) {
            raw++;
        }
    }
    while (apr_isspace(*raw)) {
        raw++;
    }
    if (*raw == '\0') {
        return apr_psprintf(cmd->pool,
                            "%s: no expression (ProxyHCExpr name "
                            "{expression}, e.g. ProxyHCExpr ok234 "
                            "{%%{REQUEST_STATUS} =~ /^[234]/})",
                            name);
    }
    /* a quoted expression ("…"): the tokenizer has removed the quotes */
    text = (*raw == '"' || *raw == '\'') && argc == 2 ? argv[1] : raw;
    for (i = 0; i < g->exprs->nelts; i++) {
        hc_named_expr_t *o = APR_ARRAY_IDX(g->exprs, i, hc_named_expr_t *);
        if (strcmp(o->name, name) == 0) {
            return apr_psprintf(cmd->pool, "%s is already defined at %s:%u",
                                name, o->file, o->line);
        }
    }
    e = apr_pcalloc(cmd->pool, sizeof(*e));
    e->name = apr_pstrdup(cmd->pool, name);
    e->text = apr_pstrdup(cmd->pool, text);
    e->file = cmd->node->file;
    e->line = cmd->node->line;
    e->expr = hc_expr_parse(cmd->pool, e->text, &err);
    if (e->expr == NULL) {
        return apr_psprintf(cmd->pool, "%s: %s", name, err);
    }
    APR_ARRAY_PUSH(g->exprs, hc_named_expr_t *) = e;
    return NULL;
}


/* ProxyHCTemplate name key=value ... */
static const char *set_hc_template(rl_cmd_t *cmd, void *conf, int argc,
                                   char *const argv[])
{
    hc_gen_t *g = hc_gen(cmd->pool);
    const char *err = check_name(cmd->pool, argv[0]);
    hc_template_t *t;
    int i, k;

    (void)conf;
    if (err != NULL) {
        return err;
    }
    for (i = 0; i < g->templates->nelts; i++) {
        hc_template_t *o = APR_ARRAY_IDX(g->templates, i, hc_template_t *);
        if (strcmp(o->name, argv[0]) == 0) {
            return apr_psprintf(cmd->pool, "%s is already defined at %s:%u",
                                argv[0], o->file, o->line);
        }
    }
    t = apr_pcalloc(cmd->pool, sizeof(*t));
    t->name = apr_pstrdup(cmd->pool, argv[0]);
    t->file = cmd->node->file;
    t->line = cmd->node->line;
    hc_settings_default(&t->set, HC_TCP); /* httpd: a template checks TCP */
    for (i = 1; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        char *key;
        if (eq == NULL) {
            return apr_psprintf(cmd->pool, "%s: '%s': expected key=value",
                                t->name, argv[i]);
        }
        key =
            apr_pstrmemdup(cmd->temp_pool, argv[i], (apr_size_t)(eq - argv[i]));
        for (k = 0; hc_keys[k].key != NULL; k++) {
            if (strcasecmp(hc_keys[k].key, key) == 0) {
                break;
            }
        }
        if (hc_keys[k].key == NULL) {
            return apr_psprintf(cmd->pool,
                                "%s: '%s' is not a health-check key (a "
                                "template holds hcmethod, hcuri, hcinterval, "
                                "hcpasses, hcfails, hcexpr, hctemplate, "
                                "hcsend and hcexpect)",
                                t->name, argv[i]);
        }
        err = hc_keys[k].set(cmd->pool, &t->set, eq + 1);
        if (err != NULL) {
            return apr_psprintf(cmd->pool, "%s: %s", t->name, err);
        }
    }
    APR_ARRAY_PUSH(g->templates, hc_template_t *) = t;
    return NULL;
}


static const rl_directive_t hc_directives[] = {
    /* RL_DIR_RAW: the expression is read from the raw line, so that
     * {hc('status') == '200'} is fine although '200' touches the brace */
    {"ProxyHCExpr", set_hc_expr, NULL, RL_CTX_SERVER, 1, -1, RL_DIR_RAW,
     "ProxyHCExpr name {expression} -- a named condition over a "
     "health check's answer, for hcexpr=name"},
    RL_TAKE_ARGV("ProxyHCTemplate", set_hc_template, NULL, RL_CTX_SERVER,
                 "ProxyHCTemplate name hckey=value ... -- named health-check "
                 "settings, for hctemplate=name"),
    RL_DIRECTIVE_END};

/* ------------------------------------------------------------------ */
/* The watchdog                                                       */
/* ------------------------------------------------------------------ */

static const char *member_label(const rl_proxy_worker_t *w)
{
    return w->balancer ? " member " : "backend ";
}


/* "5 s" or "250 ms" */
static const char *show_duration(char *buf, apr_size_t len,
                                 apr_interval_time_t t)
{
    if (t % APR_USEC_PER_SEC == 0) {
        apr_snprintf(buf, len, "%ld s", (long)apr_time_sec(t));
    } else {
        apr_snprintf(buf, len, "%ld ms", (long)apr_time_as_msec(t));
    }
    return buf;
}


/* Applies a result: after hcfails failures in a row the member is marked
 * +C (no traffic), after hcpasses passes in a row it takes traffic again. */
static void hc_record(hc_conf_t *c, const char *why, apr_time_t now)
{
    rl_proxy_worker_t *w = c->w;
    apr_uint32_t old = w->s->status;

    if (why == NULL) {
        c->fail_run = 0;
        if (++c->ok_run >= c->set.passes && (old & RL_WORKER_HC_FAILED)) {
            rl_log_error(
                RL_LOG_NOTICE, 0, NULL,
                "%s%s%s passed its health check %d time(s): back in "
                "service after %s%ld s out%s%s",
                w->balancer ? w->balancer->name : "", member_label(w), w->name,
                c->ok_run, c->out_at_start ? "more than " : "",
                (long)apr_time_sec(now - c->since),
                c->out_at_start ? " (out since before the restart)" : "",
                w->slowstart > 0 ? " (slow start)" : "");
            c->since = now;
            c->out_at_start = 0;
            rl_proxy_worker_set_status(w, 0, RL_WORKER_HC_FAILED, "healthcheck",
                                       "passed");
        }
        return;
    }
    c->ok_run = 0;
    if (++c->fail_run >= c->set.fails && !(old & RL_WORKER_HC_FAILED)) {
        rl_log_error(RL_LOG_NOTICE, 0, NULL,
                     "%s%s%s failed its health check %d time(s) (%s): taken "
                     "out of service after %ld s in service",
                     w->balancer ? w->balancer->name : "", member_label(w),
                     w->name, c->fail_run, why,
                     (long)apr_time_sec(now - c->since));
        c->since = now;
        rl_proxy_worker_set_status(w, RL_WORKER_HC_FAILED, 0, "healthcheck",
                                   why);
    }
}


/* The end of a check: why is NULL when it passed. */
static void probe_done(hc_conf_t *c, apr_time_t now, const char *why)
{
    if (c->io != NULL) {
        rl_io_shutdown(c->io, c->fd); /* close_notify: an orderly end */
        rl_io_destroy(c->io);
        c->io = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->state = PR_IDLE;
    c->alt = NULL;
    c->next = c->started + c->set.interval;
    if (c->next < now) {
        c->next = now; /* took longer than the interval: again at once */
    }
    rl_log_error(RL_LOG_DEBUG, 0, NULL,
                 "health check of %s (%s %s): %s%s in %ld ms", c->w->name,
                 hc_method_names[c->set.method],
                 c->set.method == HC_TCP   ? "connect"
                 : c->set.method == HC_UDP ? "datagram"
                                           : c->set.uri,
                 why ? "failed: " : "passed", why ? why : "",
                 (long)apr_time_as_msec(now - c->started));
    /* for status pages (mod_status): the last result and its latency */
    c->w->s->hc_last_ok = why == NULL;
    c->w->s->hc_last_us = (apr_uint32_t)(now - c->started);
    c->w->s->hc_last = now;
    __atomic_fetch_add(why == NULL ? &c->w->s->hc_passed : &c->w->s->hc_failed,
                       1, __ATOMIC_RELAXED);
    hc_record(c, why, now);
}


static void probe_fail(hc_conf_t *c, apr_time_t now, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void probe_fail(hc_conf_t *c, apr_time_t now, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    apr_vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
    probe_done(c, now, c->why);
}


/* A complete answer: does it pass? */
static void probe_judge(hc_conf_t *c, apr_time_t now, const hc_response_t *r)
{
    const hc_named_expr_t *e = c->set.expr;
    hc_expr_input_t in;
    char err[200];
    int ok;

    if (e == NULL) {
        if (r->status >= 200 && r->status < 400) {
            probe_done(c, now, NULL);
        } else {
            probe_fail(c, now, "status %d, not 2xx or 3xx", r->status);
        }
        return;
    }
    memset(&in, 0, sizeof(in));
    in.status = r->status;
    in.method = hc_method_names[c->set.method];
    in.head = c->buf + r->head_start;
    in.head_len = r->head_len;
    in.body = c->buf + r->body_start;
    in.body_len = r->body_len;
    ok = hc_expr_eval(e->expr, &in, err, sizeof(err));
    if (ok > 0) {
        probe_done(c, now, NULL);
    } else if (ok == 0) {
        probe_fail(c, now, "status %d, expression %s is false", r->status,
                   e->name);
    } else {
        probe_fail(c, now, "status %d, expression %s: %s", r->status, e->name,
                   err);
    }
}


/* A TCP or UDP answer: it passes when it contains hcexpect= (or, without
 * it, when anything came). */
static void probe_read_stream(hc_conf_t *c, apr_time_t now)
{
    for (;;) {
        apr_size_t n = 0;
        apr_status_t rv =
            c->len < c->cap
                ? rl_io_recv(NULL, c->fd, c->buf + c->len, c->cap - c->len, &n)
                : APR_EOF;
        if (rv == APR_SUCCESS) {
            c->len += n;
            if (c->set.expect == NULL ||
                memmem(c->buf, c->len, c->set.expect, c->set.expect_len)) {
                probe_done(c, now, NULL);
                return;
            }
            continue; /* more bytes (or another datagram) may carry it */
        }
        if (APR_STATUS_IS_EAGAIN(rv)) {
            c->want = RL_WANT_READ;
            return;
        }
        if (rv == APR_EOF) {
            probe_fail(c, now, "%s without the expected string (hcexpect)",
                       c->len > 0 ? "answered" : "closed");
        } else {
            char buf[120];
            probe_fail(c, now, "read: %s",
                       rv == APR_ECONNREFUSED
                           ? "refused (port unreachable)"
                           : apr_strerror(rv, buf, sizeof(buf)));
        }
        return;
    }
}


static void probe_read(hc_conf_t *c, apr_time_t now)
{
    hc_response_t r;
    const char *why = NULL;
    apr_status_t err = 0;
    int eof = 0, rc;

    if (c->set.method == HC_TCP || c->set.method == HC_UDP) {
        probe_read_stream(c, now);
        return;
    }
    while (c->len < c->cap) {
        apr_size_t n = 0;
        apr_status_t rv =
            rl_io_recv(c->io, c->fd, c->buf + c->len, c->cap - c->len, &n);
        if (rv == APR_SUCCESS) {
            c->len += n;
            continue;
        }
        if (APR_STATUS_IS_EAGAIN(rv)) {
            c->want = RL_IO_WANT(c->io, RL_WANT_READ);
        } else {
            /* the end (or a reset): judge what has arrived */
            eof = 1;
            err = rv == APR_EOF ? 0 : rv;
        }
        break;
    }
    rc = hc_response_parse(c->buf, &c->len, c->cap, eof, c->need,
                           c->set.method == HC_HEAD, &r, &why);
    if (rc < 0 && err != 0) {
        char buf[120];
        probe_fail(c, now, "read: %s (%s)", apr_strerror(err, buf, sizeof(buf)),
                   why);
    } else if (rc < 0) {
        probe_fail(c, now, "%s", why);
    } else if (rc > 0) {
        probe_judge(c, now, &r);
    }
}


static void probe_send(hc_conf_t *c, apr_time_t now)
{
    while (c->sent < c->request_len) {
        apr_size_t n = 0;
        apr_status_t rv = rl_io_send(c->io, c->fd, c->request + c->sent,
                                     c->request_len - c->sent, &n);
        c->sent += n;
        if (rv == APR_SUCCESS) {
            continue;
        }
        if (APR_STATUS_IS_EAGAIN(rv)) {
            c->want = RL_IO_WANT(c->io, RL_WANT_WRITE);
        } else if (c->io != NULL && c->sent == 0) {
            /* nothing went through a TLS connection: its handshake failed
             * (mod_ssl has logged OpenSSL's reason just before) */
            char buf[120];
            probe_fail(c, now, "TLS handshake failed: %s",
                       rv == APR_ECONNABORTED
                           ? "the ssl line above says why (certificate, "
                             "name, protocol)"
                           : apr_strerror(rv, buf, sizeof(buf)));
        } else {
            char buf[120];
            probe_fail(c, now, "send: %s", apr_strerror(rv, buf, sizeof(buf)));
        }
        return;
    }
    c->state = PR_READ;
    c->want = RL_WANT_READ;
}


static void probe_connected(hc_conf_t *c, apr_time_t now)
{
    if (c->set.method == HC_TCP && c->set.send == NULL &&
        c->set.expect == NULL) {
        probe_done(c, now, NULL);
        return;
    }
    if (c->set.method == HC_TCP || c->set.method == HC_UDP) {
        /* send hcsend= (if any), then read until hcexpect= shows up */
        c->state = c->request_len > 0 ? PR_SEND : PR_READ;
        c->want = c->request_len > 0 ? RL_WANT_WRITE : RL_WANT_READ;
        c->sent = 0;
        c->len = 0;
        c->deadline = now + c->answer_timeout;
        if (c->request_len > 0) {
            probe_send(c, now);
        }
        return;
    }
    if (c->server != NULL) {
        const rl_ssl_provider_t *ssl = rl_ssl_provider();
        const char *err = "mod_ssl is not loaded";
        c->io = ssl != NULL
                    ? ssl->proxy_open(c->server, c->fd, c->w->hostname, &err)
                    : NULL;
        if (c->io == NULL) {
            probe_fail(c, now, "TLS: %s", err);
            return;
        }
    }
    c->state = PR_SEND;
    c->want = RL_WANT_WRITE;
    c->sent = 0;
    c->len = 0;
    c->deadline = now + c->answer_timeout;
    probe_send(c, now);
}


static void probe_start(hc_conf_t *c, apr_time_t now);

/* A name with several addresses (localhost: ::1 and 127.0.0.1) is checked
 * at its next address when one refuses, as mod_proxy connects (only the
 * addresses found at start-up, not for resolve= members).  1 when the
 * check goes on there. */
static int probe_next_address(hc_conf_t *c, apr_time_t now)
{
    const rl_proxy_worker_t *w = c->w;
    const apr_sockaddr_t *cur = c->alt;
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);

    if (w->addr == NULL || w->resolve_all || w->resolve_slot > 0) {
        return 0;
    }
    if (cur == NULL) {
        if (rl_proxy_worker_address(w, &sa, &salen) == 0 ||
            (socklen_t)w->addr->salen != salen ||
            memcmp(&sa, &w->addr->sa, salen) != 0) {
            return 0; /* a run-time resolver's address */
        }
        cur = w->addr;
    }
    if (cur->next == NULL) {
        return 0;
    }
    c->alt = cur->next;
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    probe_start(c, now);
    return 1;
}

/* Starts a check: a non-blocking connect to the worker's address now. */
static void probe_start(hc_conf_t *c, apr_time_t now)
{
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);
    int fd;

    c->started = now;
    if (rl_proxy_worker_address(c->w, &sa, &salen) == 0) {
        probe_fail(c, now, "no address (DNS)");
        return;
    }
    if (c->alt != NULL && (size_t)c->alt->salen <= sizeof(sa)) {
        memcpy(&sa, &c->alt->sa, (size_t)c->alt->salen);
        salen = (socklen_t)c->alt->salen;
    }
    fd = socket(sa.ss_family,
                (c->set.method == HC_UDP ? SOCK_DGRAM : SOCK_STREAM) |
                    SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) {
            /* our shortage, not the member's fault: try again soon */
            rl_log_error(RL_LOG_WARNING, APR_FROM_OS_ERROR(errno), NULL,
                         "health check of %s postponed: no socket", c->w->name);
            c->next = now + apr_time_from_msec(500);
            return;
        }
        probe_fail(c, now, "socket: %s", strerror(errno));
        return;
    }
    c->fd = fd;
    c->state = PR_CONNECT;
    c->want = RL_WANT_WRITE;
    c->deadline = now + c->connect_timeout;
    if (connect(fd, (struct sockaddr *)&sa, salen) == 0) {
        probe_connected(c, now);
    } else if (errno != EINPROGRESS) {
        int err = errno;
        if (!probe_next_address(c, now)) {
            probe_fail(c, now, "connect: %s", strerror(err));
        }
    }
}


/* The socket of a check in progress is ready (or in error). */
static void probe_step(hc_conf_t *c, apr_time_t now)
{
    int err = 0;
    socklen_t el = sizeof(err);

    switch (c->state) {
    case PR_CONNECT:
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0) {
            err = errno;
        }
        if (err != 0) {
            if (!probe_next_address(c, now)) {
                probe_fail(c, now, "connect: %s", strerror(err));
            }
        } else {
            probe_connected(c, now);
        }
        break;
    case PR_SEND:
        probe_send(c, now);
        break;
    case PR_READ:
        probe_read(c, now);
        break;
    case PR_IDLE:
        break;
    }
}


static void probe_timed_out(hc_conf_t *c, apr_time_t now)
{
    char d[32];

    if (c->state == PR_CONNECT) {
        probe_fail(c, now, "connect timed out after %s",
                   show_duration(d, sizeof(d), c->connect_timeout));
    } else {
        probe_fail(c, now, "%s within %s",
                   c->len > 0 ? "no complete answer" : "no answer",
                   show_duration(d, sizeof(d), c->answer_timeout));
    }
}


static volatile sig_atomic_t hc_stop;

static void hc_on_signal(int sig)
{
    (void)sig;
    hc_stop = 1;
}


/* The watchdog process: every check that is due starts at once, and all
 * of those in progress share one poll(). */
static void hc_watchdog(apr_array_header_t *list)
{
    struct sigaction sa;
    struct pollfd *pfds;
    hc_conf_t **owners;
    apr_time_t now;
    int i, n = list->nelts;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = hc_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGWINCH, &sa, NULL);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    prctl(PR_SET_NAME, "relaisd-hcheck");
    /* probes need no privilege: run as User/Group, as the children do */
    if (rl_mpm_drop_privileges() != APR_SUCCESS) {
        _exit(2);
    }
    pfds = malloc(sizeof(*pfds) * (size_t)n);
    owners = malloc(sizeof(*owners) * (size_t)n);
    if (pfds == NULL || owners == NULL) {
        _exit(2);
    }
    now = apr_time_now();
    for (i = 0; i < n; i++) {
        hc_conf_t *c = APR_ARRAY_IDX(list, i, hc_conf_t *);
        c->since = now;
        c->next = now;
        c->fd = -1;
        c->state = PR_IDLE;
        c->out_at_start = (c->w->s->status & RL_WORKER_HC_FAILED) != 0;
        if (c->set.method == HC_UDP ||
            (c->set.method == HC_TCP && c->set.expect != NULL)) {
            c->cap = HC_EXPECT_MAX;
            c->buf = malloc(c->cap);
            if (c->buf == NULL) {
                _exit(2);
            }
        } else if (c->set.method != HC_TCP) {
            c->cap = c->need == HC_NEED_BODY ? HC_HEAD_MAX + HC_BODY_RAW_MAX
                                             : HC_HEAD_MAX;
            c->buf = malloc(c->cap);
            if (c->buf == NULL) {
                _exit(2);
            }
        }
    }
    while (!hc_stop) {
        apr_time_t wake;
        int nfds = 0, ms;

        now = apr_time_now();
        wake = now + apr_time_from_sec(1);
        for (i = 0; i < n; i++) {
            hc_conf_t *c = APR_ARRAY_IDX(list, i, hc_conf_t *);
            if (c->state == PR_IDLE && c->next <= now) {
                if (c->w->s->status & RL_WORKER_STOPPED) {
                    c->next = now + c->set.interval; /* +S: not checked */
                } else {
                    probe_start(c, now);
                }
            }
            if (c->state == PR_IDLE) {
                wake = c->next < wake ? c->next : wake;
                continue;
            }
            pfds[nfds].fd = c->fd;
            /* a TLS read may wait for the socket to be writable, and a
             * TLS write for it to be readable */
            pfds[nfds].events = c->want == RL_WANT_READ ? POLLIN : POLLOUT;
            pfds[nfds].revents = 0;
            owners[nfds++] = c;
            wake = c->deadline < wake ? c->deadline : wake;
        }
        ms = wake > now ? (int)((wake - now + 999) / 1000) : 0;
        if (poll(pfds, (nfds_t)nfds, ms) < 0 && errno != EINTR) {
            rl_log_error(RL_LOG_ERR, APR_FROM_OS_ERROR(errno), NULL,
                         "health-check watchdog: poll");
            apr_sleep(apr_time_from_msec(100));
        }
        if (hc_stop) {
            break;
        }
        now = apr_time_now();
        for (i = 0; i < nfds; i++) {
            hc_conf_t *c = owners[i];
            if (pfds[i].revents != 0) {
                probe_step(c, now);
            }
            if (c->state != PR_IDLE && now >= c->deadline) {
                probe_timed_out(c, now);
            }
        }
    }
    for (i = 0; i < n; i++) {
        hc_conf_t *c = APR_ARRAY_IDX(list, i, hc_conf_t *);
        rl_io_destroy(c->io);
        if (c->fd >= 0) {
            close(c->fd);
        }
    }
    _exit(0);
}


static apr_status_t hc_stop_watchdog(void *unused)
{
    (void)unused;
    if (watchdog_pid > 0) {
        kill(watchdog_pid, SIGTERM);
        waitpid(watchdog_pid, NULL, 0); /* may be reaped already */
        watchdog_pid = 0;
    }
    return APR_SUCCESS;
}


/* The Host header of a check: the worker's name, an IPv6 address in
 * brackets, the port unless 80. */
static const char *host_header(apr_pool_t *p, const rl_proxy_worker_t *w)
{
    const char *h = strchr(w->hostname, ':')
                        ? apr_pstrcat(p, "[", w->hostname, "]", NULL)
                        : w->hostname;

    return w->port == 80 ? h : apr_psprintf(p, "%s:%u", h, (unsigned)w->port);
}


/* Whether checks of w speak TLS: an https:// member checked with a
 * request (hcmethod=TCP only connects). */
static int hc_uses_tls(const hc_conf_t *c)
{
    return c->set.method != HC_TCP && c->set.method != HC_NONE &&
           (strcasecmp(c->w->scheme, "https") == 0 ||
            strcasecmp(c->w->scheme, "wss") == 0);
}


/* The server whose SSLProxy* settings a TLS check uses: the one that
 * declares the member (the main server for a ProxyPass backend, since a
 * backend may serve several virtual hosts). */
static const rl_server_t *hc_tls_server(const hc_conf_t *c,
                                        const rl_server_t *main_s)
{
    return c->w->balancer != NULL && c->w->balancer->server != NULL
               ? c->w->balancer->server
               : main_s;
}


/* What a check sends and how long it waits, once per generation. */
static void hc_prepare(apr_pool_t *p, hc_conf_t *c, const rl_server_t *main_s)
{
    rl_proxy_worker_t *w = c->w;
    unsigned uses =
        c->set.expr ? hc_expr_uses(c->set.expr->expr) : HC_EXPR_USES_STATUS;

    c->server = hc_uses_tls(c) ? hc_tls_server(c, main_s) : NULL;
    c->connect_timeout =
        w->connect_timeout > 0 ? w->connect_timeout : HC_DEFAULT_TIMEOUT;
    c->answer_timeout = w->timeout > 0 ? w->timeout : HC_DEFAULT_TIMEOUT;
    if ((uses & HC_EXPR_USES_BODY) && c->set.method == HC_GET) {
        c->need = HC_NEED_BODY; /* only GET answers carry a body to read */
    } else if (uses & (HC_EXPR_USES_HEADERS | HC_EXPR_USES_BODY)) {
        c->need = HC_NEED_HEAD;
    } else {
        c->need = HC_NEED_STATUS;
    }
    if (c->set.method == HC_TCP || c->set.method == HC_UDP) {
        c->request = c->set.send;
        c->request_len = c->set.send_len;
    } else {
        c->request = apr_psprintf(p,
                                  "%s %s HTTP/1.1\r\n"
                                  "Host: %s\r\n"
                                  "User-Agent: Relais-healthcheck\r\n"
                                  "Connection: close\r\n\r\n",
                                  hc_method_names[c->set.method], c->set.uri,
                                  host_header(p, w));
        c->request_len = strlen(c->request);
    }
}


/* resolve=all: the slot members (name#2 ...) are copies of the member the
 * keys were given to, made after the keys: they get its settings. */
static void hc_add_slots(apr_pool_t *p, hc_conf_t *c)
{
    rl_proxy_worker_t *w = c->w;
    apr_size_t len = strlen(w->name);
    int i;

    if (w->balancer == NULL || w->resolve_all <= 1) {
        return;
    }
    for (i = 0; i < w->balancer->members->nelts; i++) {
        rl_proxy_worker_t *m =
            APR_ARRAY_IDX(w->balancer->members, i, rl_proxy_worker_t *);
        hc_conf_t *s;
        if (m == w || m->resolve_slot == 0 ||
            strncmp(m->name, w->name, len) != 0 || m->name[len] != '#' ||
            apr_hash_get(hc_gen(p)->confs, &m, sizeof(m)) != NULL) {
            continue;
        }
        s = hc_conf(p, m);
        s->set = c->set;
    }
}


/* tcp:// members are checked with TCP, udp:// ones with UDP (and
 * hcsend=), HTTP members with the other methods: what is wrong, or
 * NULL. */
static const char *hc_method_mismatch(apr_pool_t *p, const hc_conf_t *c)
{
    const char *scheme = c->w->scheme;
    int tcp = strcasecmp(scheme, "tcp") == 0,
        udp = strcasecmp(scheme, "udp") == 0;
    enum hc_method m = c->set.method;

    if (m == HC_NONE) {
        return NULL;
    }
    if (udp && m != HC_UDP) {
        return apr_psprintf(p,
                            "hcmethod=%s cannot check a udp:// member: use "
                            "hcmethod=UDP with hcsend= (and hcexpect=)",
                            hc_method_names[m]);
    }
    if (udp && c->set.send == NULL) {
        return "hcmethod=UDP needs hcsend= (the datagram to send)";
    }
    if (tcp && m != HC_TCP) {
        return apr_psprintf(p,
                            "hcmethod=%s cannot check a tcp:// member (it "
                            "does not speak HTTP): use hcmethod=TCP, with "
                            "hcsend= and hcexpect= to check an answer",
                            hc_method_names[m]);
    }
    if (!tcp && !udp && m == HC_UDP) {
        return "hcmethod=UDP checks udp:// members only";
    }
    if (!tcp && !udp && (c->set.send != NULL || c->set.expect != NULL)) {
        return "hcsend= and hcexpect= apply to tcp:// and udp:// members "
               "(an HTTP member is judged with hcexpr=)";
    }
    return NULL;
}


/* post_config (after mod_proxy has put the workers in shared memory):
 * start this generation's watchdog. */
/* check_config (before mod_proxy's post_config carries member state over
 * a restart): mark the workers that are health-checked, so that a member
 * that failed its checks stays out only while something checks it. */
static int hc_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, rl_server_t *s)
{
    const rl_ssl_provider_t *ssl = rl_ssl_provider();
    int i, bad = 0;

    (void)pconf;
    (void)plog;
    (void)ptemp;
    for (i = 0; hc_gen_state != NULL && i < hc_gen_state->order->nelts; i++) {
        hc_conf_t *c = APR_ARRAY_IDX(hc_gen_state->order, i, hc_conf_t *);
        const rl_server_t *ts;
        const char *why = hc_method_mismatch(ptemp, c);
        c->w->health_checked = c->set.method != HC_NONE;
        if (why != NULL) {
            rl_log_error(RL_LOG_EMERG, 0, s, "%s:%u: %s: %s", c->w->file,
                         c->w->line, c->w->name, why);
            bad = 1;
            continue;
        }
        if (!hc_uses_tls(c) || ssl == NULL) {
            continue; /* without mod_ssl, mod_proxy says what to load */
        }
        ts = hc_tls_server(c, s);
        if (!ssl->proxy_enabled(ts)) {
            rl_log_error(RL_LOG_EMERG, 0, s,
                         "%s:%u: %s: its health checks speak TLS with the "
                         "SSLProxy* settings of %s, where SSLProxyEngine is "
                         "off: add SSLProxyEngine on there (or "
                         "hcmethod=TCP)",
                         c->w->file, c->w->line, c->w->name,
                         ts->is_virtual ? "the <VirtualHost> that declares "
                                          "it"
                                        : "the main server");
            bad = 1;
        }
    }
    return bad ? 500 : RL_OK;
}


static int hc_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, rl_server_t *s)
{
    apr_array_header_t *list = apr_array_make(pconf, 4, sizeof(hc_conf_t *));
    pid_t pid;
    int i;

    (void)plog;
    (void)ptemp;
    if (hc_gen_state == NULL) {
        return RL_OK;
    }
    for (i = 0; i < hc_gen_state->order->nelts; i++) {
        hc_add_slots(pconf, APR_ARRAY_IDX(hc_gen_state->order, i, hc_conf_t *));
    }
    for (i = 0; i < hc_gen_state->order->nelts; i++) {
        hc_conf_t *c = APR_ARRAY_IDX(hc_gen_state->order, i, hc_conf_t *);
        rl_proxy_worker_t *w = c->w;
        if (c->set.method == HC_NONE) {
            rl_log_error(RL_LOG_WARNING, 0, s,
                         "%s%s%s (%s:%u) has health-check keys but no "
                         "hcmethod=: it is not checked",
                         w->balancer ? w->balancer->name : "", member_label(w),
                         w->name, w->file, w->line);
            continue;
        }
        if (c->set.method == HC_TCP && c->set.expr != NULL) {
            rl_log_error(RL_LOG_WARNING, 0, s,
                         "%s%s%s: hcexpr=%s is ignored with hcmethod=TCP "
                         "(there is no answer to look at)",
                         w->balancer ? w->balancer->name : "", member_label(w),
                         w->name, c->set.expr->name);
        }
        hc_prepare(pconf, c, s);
        APR_ARRAY_PUSH(list, hc_conf_t *) = c;
    }
    if (list->nelts == 0) {
        return RL_OK;
    }
    pid = fork();
    if (pid < 0) {
        rl_log_error(RL_LOG_EMERG, APR_FROM_OS_ERROR(errno), s,
                     "cannot start the health-check watchdog");
        return 500;
    }
    if (pid == 0) {
        hc_watchdog(list);
    }
    watchdog_pid = pid;
    apr_pool_cleanup_register(pconf, NULL, hc_stop_watchdog,
                              apr_pool_cleanup_null);
    rl_log_error(RL_LOG_INFO, 0, s,
                 "health-check watchdog (pid %ld) checks %d backend(s)",
                 (long)pid, list->nelts);
    return RL_OK;
}


static void hc_register_hooks(apr_pool_t *p)
{
    /* after mod_ssl too: its post_config builds the TLS contexts that the
     * watchdog (forked here) uses for https:// members */
    static const char *const after[] = {"proxy", "balancer", "ssl", NULL};

    rl_register_provider(p, "proxy_worker_param", "hcmethod", "1", &p_method);
    rl_register_provider(p, "proxy_worker_param", "hcuri", "1", &p_uri);
    rl_register_provider(p, "proxy_worker_param", "hcinterval", "1",
                         &p_interval);
    rl_register_provider(p, "proxy_worker_param", "hcpasses", "1", &p_passes);
    rl_register_provider(p, "proxy_worker_param", "hcfails", "1", &p_fails);
    rl_register_provider(p, "proxy_worker_param", "hcexpr", "1", &p_expr);
    rl_register_provider(p, "proxy_worker_param", "hctemplate", "1",
                         &p_template);
    rl_register_provider(p, "proxy_worker_param", "hcsend", "1", &p_send);
    rl_register_provider(p, "proxy_worker_param", "hcexpect", "1", &p_expect);
    rl_hook_check_config(hc_check_config, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_post_config(hc_post_config, after, NULL, RL_HOOK_LAST);
}


RL_DECLARE_MODULE(healthcheck) = {RL_MODULE_STUFF("healthcheck", "0.2.0", 0),
                                  hc_directives,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  hc_register_hooks};
