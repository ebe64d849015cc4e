/*
 * log_format.c: httpd's mod_log_config format language, and the "json"
 * format.
 *
 * A format string is parsed once, when the configuration is read, into a
 * list of items: literal text, and %-directives each bound to a function.
 * Logging a request then only calls those functions and joins their
 * results; nothing is parsed per request.
 *
 * Every value that comes from the client (request line, headers, URI,
 * query, user...) is escaped the way httpd's ap_escape_logitem() does it:
 * '"' and '\' get a backslash, \b \n \r \t \v their C escapes, and every
 * other byte below 0x20 or from 0x7f up becomes \xhh.  A log line can
 * therefore never be split, ended early or forged by what a client sends.
 * The json format escapes for JSON instead (see json_str()).
 */
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "log_private.h"

/* ------------------------------------------------------------------ */
/* Escaping                                                            */
/* ------------------------------------------------------------------ */

static const char hexdigits[] = "0123456789abcdef";

static int needs_escape(unsigned char c)
{
    return c < 0x20 || c >= 0x7f || c == '"' || c == '\\';
}

/* httpd's ap_escape_logitem(): the string itself when nothing needs
 * escaping (the common case costs no copy). */
static const char *escape_item(apr_pool_t *p, const char *s)
{
    const unsigned char *u;
    apr_size_t n = 0;
    char *out, *d;

    if (s == NULL) {
        return NULL;
    }
    for (u = (const unsigned char *)s; *u; u++) {
        n += needs_escape(*u);
    }
    if (n == 0) {
        return s;
    }
    /* at most 4 bytes ("\xhh") for each escaped one */
    out = d = apr_palloc(p, strlen(s) + 3 * n + 1);
    for (u = (const unsigned char *)s; *u; u++) {
        if (!needs_escape(*u)) {
            *d++ = (char)*u;
            continue;
        }
        *d++ = '\\';
        switch (*u) {
        case '\b':
            *d++ = 'b';
            break;
        case '\n':
            *d++ = 'n';
            break;
        case '\r':
            *d++ = 'r';
            break;
        case '\t':
            *d++ = 't';
            break;
        case '\v':
            *d++ = 'v';
            break;
        case '\\':
        case '"':
            *d++ = (char)*u;
            break;
        default:
            *d++ = 'x';
            *d++ = hexdigits[*u >> 4];
            *d++ = hexdigits[*u & 0xf];
            break;
        }
    }
    *d = '\0';
    return out;
}

/* ------------------------------------------------------------------ */
/* Values shared by the text items and the json format                 */
/* ------------------------------------------------------------------ */

/* Response body bytes that really went out: none for HEAD, 1xx, 204 and
 * 304, whatever the handler wrote (the core drops those bytes). */
static apr_off_t body_bytes(const rl_request_t *r)
{
    if (r->header_only || r->status < 200 || r->status == 204 ||
        r->status == 304) {
        return 0;
    }
    return r->bytes_sent;
}

static apr_interval_time_t duration(const log_ctx_t *ctx)
{
    apr_interval_time_t d = ctx->now - ctx->r->request_time;

    return d > 0 ? d : 0;
}

/* [18/Sep/2011:19:18:28 -0400], local time.  Formatting a date costs a
 * localtime_r(): each thread keeps the last second it formatted, and most
 * lines of a busy server fall in the same second as the previous one. */
static const char *clf_time(apr_pool_t *p, apr_time_t t)
{
    static __thread apr_time_t cached_sec = -1;
    static __thread char cached[40];
    apr_time_t sec = apr_time_sec(t);

    if (sec != cached_sec) {
        apr_time_exp_t xt;
        long timz;
        char sign;

        apr_time_exp_lt(&xt, apr_time_from_sec(sec));
        timz = xt.tm_gmtoff;
        sign = timz < 0 ? '-' : '+';
        if (timz < 0) {
            timz = -timz;
        }
        apr_snprintf(cached, sizeof(cached),
                     "[%02d/%s/%d:%02d:%02d:%02d %c%.2ld%.2ld]", xt.tm_mday,
                     apr_month_snames[xt.tm_mon], xt.tm_year + 1900, xt.tm_hour,
                     xt.tm_min, xt.tm_sec, sign, timz / 3600,
                     (timz % 3600) / 60);
        cached_sec = sec;
    }
    return apr_pstrdup(p, cached);
}

/* ------------------------------------------------------------------ */
/* The %-directives                                                    */
/* ------------------------------------------------------------------ */

static const char *item_literal(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)ctx;
    return it->arg;
}

static const char *item_dash(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)ctx;
    (void)it;
    return NULL;
}

/* %a, %{c}a, %h: no HostnameLookups and no mod_remoteip yet, so the
 * client's address and the peer's are the same. */
static const char *item_client_ip(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    return ctx->r->connection->client_ip;
}

static const char *item_local_ip(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    return ctx->r->connection->local_ip;
}

static const char *item_bytes_clf(const log_ctx_t *ctx, const log_item_t *it)
{
    apr_off_t n = body_bytes(ctx->r);

    (void)it;
    return n == 0 ? NULL : apr_off_t_toa(ctx->r->pool, n);
}

static const char *item_bytes(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    return apr_off_t_toa(ctx->r->pool, body_bytes(ctx->r));
}

static const char *item_bytes_in(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    return apr_off_t_toa(ctx->r->pool, ctx->r->bytes_in);
}

static const char *item_bytes_out(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    return apr_off_t_toa(ctx->r->pool, ctx->r->bytes_out);
}

static const char *item_bytes_all(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    return apr_off_t_toa(ctx->r->pool, ctx->r->bytes_in + ctx->r->bytes_out);
}

/* %{name}C: a request cookie's value (httpd 2.4's log_cookie). */
static const char *item_cookie(const log_ctx_t *ctx, const log_item_t *it)
{
    const char *cookies = apr_table_get(ctx->r->headers_in, "Cookie");
    char *copy, *pair, *last;

    if (cookies == NULL) {
        return NULL;
    }
    copy = apr_pstrdup(ctx->r->pool, cookies);
    for (pair = apr_strtok(copy, ";", &last); pair != NULL;
         pair = apr_strtok(NULL, ";", &last)) {
        char *eq, *end;

        while (*pair == ' ' || *pair == '\t') {
            pair++;
        }
        eq = strchr(pair, '=');
        if (eq == NULL) {
            continue;
        }
        end = eq;
        while (end > pair && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if ((apr_size_t)(end - pair) == strlen(it->arg) &&
            strncmp(pair, it->arg, (apr_size_t)(end - pair)) == 0) {
            char *v = eq + 1;
            apr_size_t n;

            while (*v == ' ' || *v == '\t') {
                v++;
            }
            n = strlen(v);
            while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
                v[--n] = '\0';
            }
            return escape_item(ctx->r->pool, v);
        }
    }
    return NULL;
}

static const char *item_duration_us(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    return apr_off_t_toa(ctx->r->pool, (apr_off_t)duration(ctx));
}

/* %T, %{s|ms|us}T: the unit was chosen at configuration time. */
enum { UNIT_S, UNIT_MS, UNIT_US };

static const char *item_duration(const log_ctx_t *ctx, const log_item_t *it)
{
    const int *unit = it->data;
    apr_interval_time_t d = duration(ctx);

    switch (*unit) {
    case UNIT_MS:
        d = apr_time_as_msec(d);
        break;
    case UNIT_US:
        break;
    default:
        d = apr_time_sec(d);
        break;
    }
    return apr_off_t_toa(ctx->r->pool, (apr_off_t)d);
}

static const char *item_env(const log_ctx_t *ctx, const log_item_t *it)
{
    return escape_item(ctx->r->pool,
                       apr_table_get(ctx->r->subprocess_env, it->arg));
}

static const char *item_note(const log_ctx_t *ctx, const log_item_t *it)
{
    return escape_item(ctx->r->pool, apr_table_get(ctx->r->notes, it->arg));
}

static const char *item_protocol(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    return escape_item(ctx->r->pool, ctx->r->protocol);
}

static const char *item_header_in(const log_ctx_t *ctx, const log_item_t *it)
{
    return escape_item(ctx->r->pool,
                       apr_table_get(ctx->r->headers_in, it->arg));
}

/* Joins every value of a header found in a table ("Set-Cookie"). */
typedef struct join_t {
    apr_pool_t *p;
    const char *out;
} join_t;

static int join_one(void *data, const char *key, const char *value)
{
    join_t *j = data;

    (void)key;
    j->out =
        j->out == NULL ? value : apr_pstrcat(j->p, j->out, ", ", value, NULL);
    return 1;
}

/* %{name}o: r->headers_out, then err_headers_out (an error page clears
 * the first, so both are needed to see what went out).  Content-Type and
 * Content-Length live in request fields, not in the tables: they are read
 * from there.  Like httpd, Content-Type is logged without parameters. */
static const char *item_header_out(const log_ctx_t *ctx, const log_item_t *it)
{
    rl_request_t *r = ctx->r;
    const char *v;

    if (strcasecmp(it->arg, "Content-Type") == 0 && r->content_type != NULL) {
        const char *semi = strchr(r->content_type, ';');
        apr_size_t n = semi ? (apr_size_t)(semi - r->content_type)
                            : strlen(r->content_type);

        while (n > 0 && apr_isspace(r->content_type[n - 1])) {
            n--;
        }
        return escape_item(r->pool, apr_pstrndup(r->pool, r->content_type, n));
    }
    if (strcasecmp(it->arg, "Set-Cookie") == 0) {
        join_t j = {r->pool, NULL};

        apr_table_do(join_one, &j, r->headers_out, it->arg, NULL);
        apr_table_do(join_one, &j, r->err_headers_out, it->arg, NULL);
        return escape_item(r->pool, j.out);
    }
    v = apr_table_get(r->headers_out, it->arg);
    if (v == NULL) {
        v = apr_table_get(r->err_headers_out, it->arg);
    }
    if (v == NULL && strcasecmp(it->arg, "Content-Length") == 0 &&
        r->clength >= 0 && r->status >= 200 && r->status != 204 &&
        r->status != 304) {
        return apr_off_t_toa(r->pool, r->clength);
    }
    return escape_item(r->pool, v);
}

/* %k: keep-alive requests before this one on the connection (0 for the
 * first request).  The core counts this request before log_transaction. */
static const char *item_keepalives(const log_ctx_t *ctx, const log_item_t *it)
{
    int n = ctx->r->connection->keepalives - 1;

    (void)it;
    return apr_itoa(ctx->r->pool, n > 0 ? n : 0);
}

/* The request id, when a module set one: the note "request-id", or
 * mod_unique_id's UNIQUE_ID variable. */
static const char *request_id(const rl_request_t *r)
{
    const char *id = apr_table_get(r->notes, "request-id");

    return id != NULL ? id : apr_table_get(r->subprocess_env, "UNIQUE_ID");
}

static const char *item_request_id(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    return escape_item(ctx->r->pool, request_id(ctx->r));
}

static const char *item_method(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    return escape_item(ctx->r->pool, ctx->r->method);
}

/* %p, %{canonical|local|remote}p */
enum { PORT_CANONICAL, PORT_LOCAL, PORT_REMOTE };

static const char *item_port(const log_ctx_t *ctx, const log_item_t *it)
{
    const int *kind = it->data;
    rl_conn_t *c = ctx->r->connection;
    apr_port_t port;

    switch (*kind) {
    case PORT_REMOTE:
        port = c->client_port;
        break;
    case PORT_LOCAL:
        port = c->local_port;
        break;
    default:
        /* the port of ServerName when it names one, else where the
         * request came in (httpd's UseCanonicalName Off) */
        port = ctx->r->server->port ? ctx->r->server->port : c->local_port;
        break;
    }
    return apr_itoa(ctx->r->pool, (int)port);
}

/* %P, %{pid|tid|hextid}P.  The thread id is the kernel's, the one the
 * error log shows. */
enum { PID_PID, PID_TID, PID_HEXTID };

static const char *item_pid(const log_ctx_t *ctx, const log_item_t *it)
{
    const int *kind = it->data;

    switch (*kind) {
    case PID_TID:
        return apr_ltoa(ctx->r->pool, (long)syscall(SYS_gettid));
    case PID_HEXTID:
        return apr_psprintf(ctx->r->pool, "%lx", (long)syscall(SYS_gettid));
    default:
        return apr_ltoa(ctx->r->pool, (long)getpid());
    }
}

static const char *item_query(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    if (ctx->r->args == NULL) {
        return "";
    }
    return escape_item(ctx->r->pool,
                       apr_pstrcat(ctx->r->pool, "?", ctx->r->args, NULL));
}

static const char *item_request_line(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    return escape_item(ctx->r->pool, ctx->r->the_request);
}

static const char *item_handler(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    return escape_item(ctx->r->pool, ctx->r->handler);
}

/* %s and %>s alike: Relais has no internal redirects, so the original
 * and the final status are the same. */
static const char *item_status(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    return apr_itoa(ctx->r->pool, ctx->r->status);
}

/* %{format}t, pre-parsed into this. */
enum {
    TS_CLF,
    TS_STRFTIME,
    TS_SEC,
    TS_MSEC,
    TS_USEC,
    TS_MSEC_FRAC,
    TS_USEC_FRAC
};

typedef struct time_spec_t {
    int end;         /* end: the time of logging, else begin: */
    int kind;        /* TS_* */
    const char *fmt; /* strftime format for TS_STRFTIME */
} time_spec_t;

static const char *item_time(const log_ctx_t *ctx, const log_item_t *it)
{
    const time_spec_t *ts = it->data;
    apr_pool_t *p = ctx->r->pool;
    apr_time_t t = ts->end ? ctx->now : ctx->r->request_time;

    switch (ts->kind) {
    case TS_SEC:
        return apr_off_t_toa(p, (apr_off_t)apr_time_sec(t));
    case TS_MSEC:
        return apr_off_t_toa(p, (apr_off_t)apr_time_as_msec(t));
    case TS_USEC:
        return apr_off_t_toa(p, (apr_off_t)t);
    case TS_MSEC_FRAC:
        return apr_psprintf(p, "%03d", (int)(apr_time_usec(t) / 1000));
    case TS_USEC_FRAC:
        return apr_psprintf(p, "%06d", (int)apr_time_usec(t));
    case TS_STRFTIME: {
        apr_time_exp_t xt;
        apr_size_t got = 0;
        char buf[256];

        apr_time_exp_lt(&xt, t);
        if (apr_strftime(buf, &got, sizeof(buf), ts->fmt, &xt) != APR_SUCCESS) {
            return NULL;
        }
        buf[got < sizeof(buf) ? got : sizeof(buf) - 1] = '\0';
        return escape_item(p, apr_pstrdup(p, buf));
    }
    default:
        return clf_time(p, t);
    }
}

static const char *item_user(const log_ctx_t *ctx, const log_item_t *it)
{
    const char *u = ctx->r->user;

    (void)it;
    if (u != NULL && *u == '\0') {
        return "\"\""; /* httpd: an empty user name is shown as "" */
    }
    return escape_item(ctx->r->pool, u);
}

static const char *item_uri(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    return escape_item(ctx->r->pool, ctx->r->uri);
}

static const char *item_server_name(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    return escape_item(ctx->r->pool, ctx->r->server->server_name);
}

static const char *item_host_name(const log_ctx_t *ctx, const log_item_t *it)
{
    const rl_request_t *r = ctx->r;

    (void)it;
    return escape_item(r->pool,
                       r->hostname ? r->hostname : r->server->server_name);
}

/* %X: X aborted before the response was complete, + may be kept alive,
 * - closed after the response. */
static const char *item_conn_status(const log_ctx_t *ctx, const log_item_t *it)
{
    (void)it;
    if (ctx->r->connection->aborted) {
        return "X";
    }
    return ctx->r->keepalive ? "+" : "-";
}

/* A letter provided by another module through "log-item". */
static const char *item_provided(const log_ctx_t *ctx, const log_item_t *it)
{
    const log_item_provider_t *prov = it->data;

    return escape_item(ctx->r->pool, prov->fn(ctx->r, it->arg));
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

static const void *int_data(apr_pool_t *p, int v)
{
    int *d = apr_palloc(p, sizeof(*d));

    *d = v;
    return d;
}

static const char *setup_time(apr_pool_t *p, log_item_t *it)
{
    time_spec_t *ts = apr_pcalloc(p, sizeof(*ts));
    const char *a = it->arg ? it->arg : "";

    if (strncmp(a, "begin:", 6) == 0) {
        a += 6;
    } else if (strncmp(a, "end:", 4) == 0) {
        ts->end = 1;
        a += 4;
    }
    if (*a == '\0') {
        ts->kind = TS_CLF;
    } else if (strcmp(a, "sec") == 0) {
        ts->kind = TS_SEC;
    } else if (strcmp(a, "msec") == 0) {
        ts->kind = TS_MSEC;
    } else if (strcmp(a, "usec") == 0) {
        ts->kind = TS_USEC;
    } else if (strcmp(a, "msec_frac") == 0) {
        ts->kind = TS_MSEC_FRAC;
    } else if (strcmp(a, "usec_frac") == 0) {
        ts->kind = TS_USEC_FRAC;
    } else {
        ts->kind = TS_STRFTIME;
        ts->fmt = a;
    }
    it->data = ts;
    it->fn = item_time;
    return NULL;
}

static const char *setup_choice(apr_pool_t *p, log_item_t *it, char letter,
                                const char *const *names, int dflt)
{
    int i;

    if (it->arg == NULL || *it->arg == '\0') {
        it->data = int_data(p, dflt);
        return NULL;
    }
    for (i = 0; names[i] != NULL; i++) {
        if (strcasecmp(it->arg, names[i]) == 0) {
            it->data = int_data(p, i);
            return NULL;
        }
    }
    return apr_psprintf(p, "%%{%s}%c: unknown argument", it->arg, letter);
}

/* An argument the directive cannot do without: %{Referer}i, %{X}e... */
static const char *need_arg(apr_pool_t *p, const log_item_t *it, char letter)
{
    if (it->arg == NULL || *it->arg == '\0') {
        return apr_psprintf(p, "%%%c needs a {name}: %%{name}%c", letter,
                            letter);
    }
    return NULL;
}

/* Binds a directive letter to its function.  *known = 0 when the letter
 * is not a directive. */
static const char *setup_item(apr_pool_t *p, char letter, log_item_t *it,
                              int *known)
{
    static const char *const units[] = {"s", "ms", "us", NULL};
    static const char *const ports[] = {"canonical", "local", "remote", NULL};
    static const char *const pids[] = {"pid", "tid", "hextid", NULL};
    const log_item_provider_t *prov;
    char name[2];

    *known = 1;
    switch (letter) {
    case 'a':
    case 'h':
        it->fn = item_client_ip;
        return NULL;
    case 'A':
        it->fn = item_local_ip;
        return NULL;
    case 'b':
        it->fn = item_bytes_clf;
        return NULL;
    case 'B':
        it->fn = item_bytes;
        return NULL;
    case 'C':
        it->fn = item_cookie;
        return need_arg(p, it, letter);
    case 'D':
        it->fn = item_duration_us;
        return NULL;
    case 'e':
        it->fn = item_env;
        return need_arg(p, it, letter);
    case 'f':
    case 'l':
        it->fn = item_dash;
        return NULL;
    case 'H':
        it->fn = item_protocol;
        return NULL;
    case 'i':
        it->fn = item_header_in;
        return need_arg(p, it, letter);
    case 'I':
        it->fn = item_bytes_in;
        return NULL;
    case 'k':
        it->fn = item_keepalives;
        return NULL;
    case 'L':
        it->fn = item_request_id;
        return NULL;
    case 'm':
        it->fn = item_method;
        return NULL;
    case 'n':
        it->fn = item_note;
        return need_arg(p, it, letter);
    case 'o':
        it->fn = item_header_out;
        return need_arg(p, it, letter);
    case 'O':
        it->fn = item_bytes_out;
        return NULL;
    case 'p':
        it->fn = item_port;
        return setup_choice(p, it, letter, ports, PORT_CANONICAL);
    case 'P':
        it->fn = item_pid;
        return setup_choice(p, it, letter, pids, PID_PID);
    case 'q':
        it->fn = item_query;
        return NULL;
    case 'r':
        it->fn = item_request_line;
        return NULL;
    case 'R':
        it->fn = item_handler;
        return NULL;
    case 's':
        it->fn = item_status;
        return NULL;
    case 'S':
        it->fn = item_bytes_all;
        return NULL;
    case 't':
        return setup_time(p, it);
    case 'T':
        it->fn = item_duration;
        return setup_choice(p, it, letter, units, UNIT_S);
    case 'u':
        it->fn = item_user;
        return NULL;
    case 'U':
        it->fn = item_uri;
        return NULL;
    case 'v':
        it->fn = item_server_name;
        return NULL;
    case 'V':
        it->fn = item_host_name;
        return NULL;
    case 'X':
        it->fn = item_conn_status;
        return NULL;
    default:
        break;
    }
    /* A letter of another module (mod_ssl's %{VAR}x, say). */
    name[0] = letter;
    name[1] = '\0';
    prov = rl_lookup_provider("log-item", name, "0");
    if (prov != NULL) {
        it->fn = item_provided;
        it->data = prov;
        return NULL;
    }
    *known = 0;
    return NULL;
}

/* Literal text up to the next '%', with httpd's backslash escapes. */
static const char *parse_literal(apr_pool_t *p, const char **sp, log_item_t *it)
{
    const char *s = *sp;
    char *d, *out;

    out = d = apr_palloc(p, strlen(s) + 1);
    while (*s && *s != '%') {
        if (*s != '\\') {
            *d++ = *s++;
            continue;
        }
        s++;
        switch (*s) {
        case '\\':
            *d++ = '\\';
            s++;
            break;
        case 'r':
            *d++ = '\r';
            s++;
            break;
        case 'n':
            *d++ = '\n';
            s++;
            break;
        case 't':
            *d++ = '\t';
            s++;
            break;
        default:
            *d++ = '\\'; /* kept as written; the loop copies *s next */
            break;
        }
    }
    *d = '\0';
    it->fn = item_literal;
    it->arg = out;
    it->arg_len = (apr_size_t)(d - out);
    *sp = s;
    return NULL;
}

/* One %-directive: %[!][status,...][<|>][{arg}]letter. *sp points after
 * the '%'. */
static const char *parse_directive(apr_pool_t *p, const char **sp,
                                   log_item_t *it)
{
    const char *s = *sp;
    apr_array_header_t *conds = NULL;

    if (*s == '%') {
        it->fn = item_literal;
        it->arg = "%";
        it->arg_len = 1;
        *sp = s + 1;
        return NULL;
    }
    for (;;) {
        char c = *s++;
        const char *err;
        int known;

        switch (c) {
        case '\0':
            return "the format ends with an incomplete % directive";
        case '!':
            it->negate = 1;
            continue;
        case '<':
        case '>':
        case ',':
            /* original or final request: the same in Relais */
            continue;
        case '{': {
            const char *end = strchr(s, '}');

            if (end == NULL) {
                return "missing '}' after '%{'";
            }
            it->arg = apr_pstrndup(p, s, (apr_size_t)(end - s));
            s = end + 1;
            continue;
        }
        case '^': {
            /* mod_logio's %^FB and the trailers %{..}^ti / ^to: Relais
             * tracks neither, they log "-" */
            if ((s[0] == 'F' && s[1] == 'B') ||
                (s[0] == 't' && (s[1] == 'i' || s[1] == 'o'))) {
                it->fn = item_dash;
                *sp = s + 2;
                break;
            }
            return apr_psprintf(p, "Unrecognized LogFormat directive %%^%.2s",
                                s);
        }
        default:
            if (apr_isdigit(c)) {
                int v = c - '0';

                while (apr_isdigit(*s)) {
                    v = v * 10 + (*s++ - '0');
                    if (v > 999) {
                        return "a status condition has more than 3 digits";
                    }
                }
                if (conds == NULL) {
                    conds = apr_array_make(p, 4, sizeof(int));
                }
                APR_ARRAY_PUSH(conds, int) = v;
                continue;
            }
            err = setup_item(p, c, it, &known);
            if (!known) {
                if (apr_isprint(c)) {
                    return apr_psprintf(
                        p, "Unrecognized LogFormat directive %%%c", c);
                }
                return apr_psprintf(p,
                                    "Unrecognized LogFormat directive "
                                    "%%\\x%02x",
                                    (unsigned)(unsigned char)c);
            }
            if (err != NULL) {
                return err;
            }
            *sp = s;
            break;
        }
        break;
    }
    if (conds != NULL) {
        it->conditions = (int *)conds->elts;
        it->nconditions = conds->nelts;
    }
    return NULL;
}

const char *log_format_parse(apr_pool_t *p, const char *fmt, log_format_t **out)
{
    log_format_t *f = apr_pcalloc(p, sizeof(*f));
    const char *s = fmt;

    f->items = apr_array_make(p, 16, sizeof(log_item_t));
    while (*s) {
        log_item_t *it = apr_array_push(f->items);
        const char *err;

        memset(it, 0, sizeof(*it));
        if (*s == '%') {
            s++;
            err = parse_directive(p, &s, it);
        } else {
            err = parse_literal(p, &s, it);
        }
        if (err != NULL) {
            return err;
        }
    }
    *out = f;
    return NULL;
}

log_format_t *log_format_builtin(apr_pool_t *p, const char *nickname)
{
    log_format_t *f = NULL;

    if (strcmp(nickname, "json") == 0) {
        f = apr_pcalloc(p, sizeof(*f));
        f->items = apr_array_make(p, 1, sizeof(log_item_t));
        f->json = 1;
    } else if (strcmp(nickname, "common") == 0) {
        log_format_parse(p, LOG_FORMAT_COMMON, &f);
    } else if (strcmp(nickname, "combined") == 0) {
        log_format_parse(p, LOG_FORMAT_COMBINED, &f);
    }
    return f;
}

/* ------------------------------------------------------------------ */
/* The json format                                                     */
/* ------------------------------------------------------------------ */

/** A growing string in a pool. */
typedef struct jbuf_t {
    apr_pool_t *pool;
    char *data;
    apr_size_t len;
    apr_size_t cap;
} jbuf_t;

static void jb_add(jbuf_t *b, const char *s, apr_size_t n)
{
    if (b->len + n > b->cap) {
        apr_size_t cap = b->cap ? b->cap * 2 : 512;
        char *data;

        while (cap < b->len + n) {
            cap *= 2;
        }
        data = apr_palloc(b->pool, cap);
        if (b->len) {
            memcpy(data, b->data, b->len);
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void jb_puts(jbuf_t *b, const char *s)
{
    jb_add(b, s, strlen(s));
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0.  s is
 * NUL-terminated, so reading past a truncated sequence stops at the NUL,
 * which is never a continuation byte. */
static apr_size_t utf8_seq(const unsigned char *s)
{
    unsigned char lo = 0x80, hi = 0xBF;
    apr_size_t n, i;

    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        lo = s[0] == 0xE0 ? 0xA0 : 0x80; /* overlong */
        hi = s[0] == 0xED ? 0x9F : 0xBF; /* surrogates */
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        lo = s[0] == 0xF0 ? 0x90 : 0x80; /* overlong */
        hi = s[0] == 0xF4 ? 0x8F : 0xBF; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            return 0;
        }
    }
    return n;
}

/* A JSON string, or null.  Valid UTF-8 passes through; '"' and '\' are
 * escaped; control characters, DEL and every byte that is not part of
 * valid UTF-8 become \u00XX, so the line is valid JSON whatever the
 * client sent, and a reader sees which bytes were odd. */
static void json_str(jbuf_t *b, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    const unsigned char *run;

    if (str == NULL) {
        jb_add(b, "null", 4);
        return;
    }
    jb_add(b, "\"", 1);
    run = s;
    while (*s) {
        apr_size_t n;
        char esc[7];

        if (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\') {
            s++;
            continue;
        }
        if (*s >= 0x80 && (n = utf8_seq(s)) > 0) {
            s += n;
            continue;
        }
        jb_add(b, (const char *)run, (apr_size_t)(s - run));
        if (*s == '"' || *s == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*s;
            jb_add(b, esc, 2);
        } else {
            memcpy(esc, "\\u00", 4);
            esc[4] = hexdigits[*s >> 4];
            esc[5] = hexdigits[*s & 0xf];
            jb_add(b, esc, 6);
        }
        s++;
        run = s;
    }
    jb_add(b, (const char *)run, (apr_size_t)(s - run));
    jb_add(b, "\"", 1);
}

static void json_key(jbuf_t *b, const char *key)
{
    jb_add(b, ", \"", 3);
    jb_puts(b, key);
    jb_add(b, "\": ", 3);
}

static void json_num(jbuf_t *b, const char *key, apr_off_t v)
{
    char num[32];

    json_key(b, key);
    apr_snprintf(num, sizeof(num), "%" APR_OFF_T_FMT, v);
    jb_puts(b, num);
}

/* A value another module left: a number when it is one, else a string.
 * Omitted when not set. */
static void json_opt(jbuf_t *b, const char *key, const char *v, int numeric)
{
    if (v == NULL) {
        return;
    }
    json_key(b, key);
    /* up to 18 digits: always fits the readers' 64-bit integers */
    if (numeric && *v != '\0' && strlen(v) < 19) {
        const char *s;

        for (s = v; apr_isdigit(*s); s++) {
        }
        if (*s == '\0') {
            jb_puts(b, v);
            return;
        }
    }
    json_str(b, v);
}

/* RFC 3339 local time with microseconds: 2026-11-27T06:31:29.123456+01:00 */
static void json_time(jbuf_t *b, apr_time_t t)
{
    apr_time_exp_t xt;
    long timz;
    char sign, out[48];

    apr_time_exp_lt(&xt, t);
    timz = xt.tm_gmtoff;
    sign = timz < 0 ? '-' : '+';
    if (timz < 0) {
        timz = -timz;
    }
    apr_snprintf(
        out, sizeof(out), "\"%04d-%02d-%02dT%02d:%02d:%02d.%06d%c%02ld:%02ld\"",
        xt.tm_year + 1900, xt.tm_mon + 1, xt.tm_mday, xt.tm_hour, xt.tm_min,
        xt.tm_sec, xt.tm_usec, sign, timz / 3600, (timz % 3600) / 60);
    jb_puts(b, out);
}

static char *json_line(const log_ctx_t *ctx, apr_size_t *len)
{
    rl_request_t *r = ctx->r;
    jbuf_t b = {r->pool, NULL, 0, 0};

    jb_puts(&b, "{\"time\": ");
    json_time(&b, r->request_time);
    json_key(&b, "client");
    json_str(&b, r->connection->client_ip);
    json_key(&b, "vhost");
    json_str(&b, r->server->server_name);
    json_key(&b, "method");
    json_str(&b, r->method);
    json_key(&b, "uri");
    json_str(&b, r->uri);
    json_key(&b, "query");
    json_str(&b, r->args);
    json_key(&b, "protocol");
    json_str(&b, r->protocol);
    json_num(&b, "status", r->status);
    json_num(&b, "bytes_sent", body_bytes(r));
    json_num(&b, "bytes_in", r->bytes_in);
    json_num(&b, "bytes_out", r->bytes_out);
    json_num(&b, "duration_us", (apr_off_t)duration(ctx));
    json_key(&b, "referer");
    json_str(&b, apr_table_get(r->headers_in, "Referer"));
    json_key(&b, "user_agent");
    json_str(&b, apr_table_get(r->headers_in, "User-Agent"));
    json_opt(&b, "request_id", request_id(r), 0);
    /* filled by mod_proxy / mod_balancer / mod_cache (docs/log.md) */
    json_opt(&b, "member",
             apr_table_get(r->subprocess_env, "BALANCER_WORKER_NAME"), 0);
    json_opt(&b, "backend_connect_us",
             apr_table_get(r->notes, "proxy-connect-us"), 1);
    json_opt(&b, "backend_response_us",
             apr_table_get(r->notes, "proxy-response-us"), 1);
    json_opt(&b, "attempts", apr_table_get(r->notes, "proxy-attempts"), 1);
    json_opt(&b, "cache", apr_table_get(r->notes, "cache-status"), 0);
    jb_add(&b, "}\n", 2);
    *len = b.len;
    return b.data;
}

/* ------------------------------------------------------------------ */
/* Rendering                                                           */
/* ------------------------------------------------------------------ */

static int condition_holds(const log_item_t *it, int status)
{
    int i, in_list = 0;

    for (i = 0; i < it->nconditions; i++) {
        if (it->conditions[i] == status) {
            in_list = 1;
            break;
        }
    }
    return in_list != it->negate;
}

char *log_format_line(const log_format_t *f, rl_request_t *r, apr_time_t now,
                      apr_size_t *len)
{
    const log_item_t *items = (const log_item_t *)f->items->elts;
    int i, n = f->items->nelts;
    const char **parts;
    apr_size_t *lens, total = 1;
    log_ctx_t ctx;
    char *line, *d;

    ctx.r = r;
    ctx.now = now;
    if (f->json) {
        return json_line(&ctx, len);
    }
    /* Render every item first, then copy once into a buffer of the exact
     * size: a line is written with one write(), whatever its length. */
    parts = apr_palloc(r->pool, sizeof(*parts) * (apr_size_t)(n ? n : 1));
    lens = apr_palloc(r->pool, sizeof(*lens) * (apr_size_t)(n ? n : 1));
    for (i = 0; i < n; i++) {
        const log_item_t *it = &items[i];
        const char *s;

        if (it->fn == item_literal) {
            parts[i] = it->arg;
            lens[i] = it->arg_len;
            total += lens[i];
            continue;
        }
        s = (it->nconditions && !condition_holds(it, r->status))
                ? NULL
                : it->fn(&ctx, it);
        parts[i] = s ? s : "-";
        lens[i] = strlen(parts[i]);
        total += lens[i];
    }
    line = d = apr_palloc(r->pool, total + 1);
    for (i = 0; i < n; i++) {
        memcpy(d, parts[i], lens[i]);
        d += lens[i];
    }
    *d++ = '\n';
    *d = '\0';
    *len = total;
    return line;
}
