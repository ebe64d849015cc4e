/*
 * fuzz_log_format.c: libFuzzer target for mod_log's format language
 * (modules/log/log_format.c: LogFormat's parser and the line renderer).
 *
 * The input's first line is a format string, as written after LogFormat
 * (the configuration reader hands it over without its quotes, so it never
 * holds a newline or a NUL).  When it parses, it is rendered twice: for a
 * synthetic request whose fields come from the rest of the input, one
 * line each:
 *
 *   i<name>=<value>   a request header      o  a response header
 *   E                 err_headers_out       n  a note
 *   e                 a variable (SetEnvIf) m  method   u  uri   q  args
 *   p protocol   r request line   h hostname   U user   H handler
 *   c content type    N<status> <bytes> <keepalives> <flags>  numbers
 *
 * and for a tame request (plain ASCII everywhere).  Every value from the
 * request is escaped on its way into the line, so the two lines must hold
 * exactly the same control and non-ASCII bytes: those of the format's own
 * literals.  A difference means a client could split or forge a log line.
 * Also checked: the length returned is the line's, it ends in "\n", and
 * the predefined formats (common, combined, json) render too; a json line
 * holds no control byte but its final newline.  A format that does not
 * parse must say why.  A letter provided by another module ("x", as
 * mod_ssl's %{VAR}x would be) is registered, so that path runs as well.
 *
 * log_format.c keeps no state of the module's, so it links here alone
 * (modules/log/module.mk names it in FUZZ_log_format_SRCS).
 *
 *   make fuzz && build/fuzz/fuzz_log_format -max_total_time=60 CORPUS
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "../../modules/log/log_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *pglobal;

/* An invariant failed: crash so that libFuzzer keeps the input. */
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* %{name}x: a note of the request, raw (mod_log escapes it). */
static const char *provided_item(rl_request_t *r, const char *arg)
{
    return apr_table_get(r->notes, arg);
}

static const rl_log_item_provider_t provider = {provided_item};

static rl_request_t *make_request(apr_pool_t *p)
{
    rl_request_t *r = apr_pcalloc(p, sizeof(*r));
    rl_conn_t *c = apr_pcalloc(p, sizeof(*c));
    rl_server_t *s = apr_pcalloc(p, sizeof(*s));

    s->server_name = "www.example.com";
    s->port = 8080;
    c->pool = p;
    c->client_ip = "192.0.2.7";
    c->client_port = 51234;
    c->local_ip = "127.0.0.1";
    c->local_port = 8080;
    c->keepalives = 1;
    c->base_server = s;
    r->pool = p;
    r->connection = c;
    r->server = s;
    r->request_time = apr_time_from_sec(1700000000) + 123456;
    r->the_request = "GET /index.html?a=1 HTTP/1.1";
    r->method = "GET";
    r->protocol = "HTTP/1.1";
    r->proto_num = 1001;
    r->unparsed_uri = "/index.html?a=1";
    r->uri = "/index.html";
    r->args = "a=1";
    r->hostname = "www.example.com";
    r->headers_in = apr_table_make(p, 4);
    r->headers_out = apr_table_make(p, 4);
    r->err_headers_out = apr_table_make(p, 2);
    r->subprocess_env = apr_table_make(p, 2);
    r->notes = apr_table_make(p, 2);
    r->content_type = "text/html; charset=utf-8";
    r->status = 200;
    r->clength = 1234;
    r->bytes_sent = 1234;
    r->bytes_in = 80;
    r->bytes_out = 1400;
    r->keepalive = 1;
    apr_table_setn(r->headers_in, "Host", "www.example.com");
    apr_table_setn(r->headers_in, "User-Agent", "curl/7.88.1");
    apr_table_setn(r->headers_in, "Referer", "http://example.com/");
    apr_table_setn(r->headers_in, "Cookie", "a=1; session=abc");
    apr_table_setn(r->headers_out, "Set-Cookie", "b=2");
    apr_table_setn(r->notes, "request-id", "id-1");
    apr_table_setn(r->notes, "proxy-attempts", "1");
    apr_table_setn(r->subprocess_env, "BALANCER_WORKER_NAME", "http://b1");
    return r;
}

/* Fills r from the input's lines after the format (see the top). */
static void fill_request(rl_request_t *r, const char *text, apr_size_t len)
{
    apr_pool_t *p = r->pool;
    const char *end = text + len;

    while (text < end) {
        const char *nl = memchr(text, '\n', (apr_size_t)(end - text));
        apr_size_t n = nl ? (apr_size_t)(nl - text) : (apr_size_t)(end - text);
        char *line = apr_pstrmemdup(p, text, n);
        char *eq = strchr(line, '=');
        char *name = line + (n > 0 ? 1 : 0), *value = eq ? eq + 1 : name;

        if (eq != NULL) {
            *eq = '\0';
        }
        switch (n > 0 ? line[0] : '\0') {
        case 'i':
            apr_table_addn(r->headers_in, name, value);
            break;
        case 'o':
            apr_table_addn(r->headers_out, name, value);
            break;
        case 'E':
            apr_table_addn(r->err_headers_out, name, value);
            break;
        case 'n':
            apr_table_addn(r->notes, name, value);
            break;
        case 'e':
            apr_table_addn(r->subprocess_env, name, value);
            break;
        case 'm':
            r->method = value;
            break;
        case 'u':
            r->uri = value;
            break;
        case 'q':
            r->args = eq ? value : NULL;
            break;
        case 'p':
            r->protocol = value;
            break;
        case 'r':
            r->the_request = value;
            break;
        case 'h':
            r->hostname = eq ? value : NULL;
            break;
        case 'U':
            r->user = value;
            break;
        case 'H':
            r->handler = value;
            break;
        case 'c':
            r->content_type = eq ? value : NULL;
            break;
        case 'N': {
            /* status, body bytes, keep-alives, flags (bit 0 HEAD, bit 1
             * aborted, bit 2 keep-alive) */
            char *last, *tok[4] = {NULL, NULL, NULL, NULL};
            int k;

            tok[0] = apr_strtok(name, " ", &last);
            for (k = 1; k < 4 && tok[k - 1] != NULL; k++) {
                tok[k] = apr_strtok(NULL, " ", &last);
            }
            if (tok[0]) {
                r->status = atoi(tok[0]);
            }
            if (tok[1]) {
                /* counters of a real connection: far below 2^62, so
                 * %S (in + out) cannot overflow */
                r->bytes_sent = apr_atoi64(tok[1]) & (((apr_off_t)1 << 48) - 1);
                r->clength = r->bytes_sent;
                r->bytes_out = r->bytes_sent + 200;
            }
            if (tok[2]) {
                r->connection->keepalives = atoi(tok[2]);
            }
            if (tok[3]) {
                int flags = atoi(tok[3]);
                r->header_only = flags & 1;
                r->connection->aborted = (flags >> 1) & 1;
                r->keepalive = (flags >> 2) & 1;
            }
            break;
        }
        default:
            break;
        }
        text += n + (nl ? 1 : 0);
    }
}

/* Bytes a client could use to split or forge a line. */
static apr_size_t odd_bytes(const char *line, apr_size_t len,
                            unsigned counts[256])
{
    apr_size_t i, n = 0;

    memset(counts, 0, 256 * sizeof(unsigned));
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c >= 0x7f) {
            counts[c]++;
            n++;
        }
    }
    return n;
}

static char *render(const log_format_t *f, rl_request_t *r, apr_size_t *len)
{
    /* "now" a second and a bit after the request arrived */
    char *line = log_format_line(f, r, r->request_time + 1234567, len);

    CHECK(line != NULL && *len > 0);
    CHECK(line[*len - 1] == '\n');
    if (!f->json) {
        CHECK(line[*len] == '\0');
    }
    return line;
}

static void check_json(const log_format_t *f, rl_request_t *r)
{
    apr_size_t len, i;
    char *line = render(f, r, &len);

    CHECK(line[0] == '{' && len >= 3 && line[len - 2] == '}');
    for (i = 0; i + 1 < len; i++) {
        CHECK((unsigned char)line[i] >= 0x20);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t flen = nl ? (size_t)(nl - data) : size;
    unsigned wild_counts[256], tame_counts[256];
    apr_size_t wild_len, tame_len, wild_odd, tame_odd;
    rl_request_t *wild, *tame;
    log_format_t *f = NULL;
    const char *err;
    char *fmt, *wl, *tl;
    apr_pool_t *p;

    if (pglobal == NULL) {
        if (apr_initialize() != APR_SUCCESS ||
            apr_pool_create(&pglobal, NULL) != APR_SUCCESS) {
            abort();
        }
        rl_register_provider(pglobal, RL_LOG_ITEM_GROUP, "x",
                             RL_LOG_ITEM_VERSION, &provider);
    }
    if (apr_pool_create(&p, pglobal) != APR_SUCCESS) {
        abort();
    }
    /* the configuration reader never hands over a NUL: stop at one */
    fmt = apr_pstrmemdup(p, (const char *)data, flen);

    wild = make_request(p);
    tame = make_request(p);
    if (nl != NULL) {
        fill_request(wild, (const char *)nl + 1,
                     (apr_size_t)(data + size - (nl + 1)));
    }

    err = log_format_parse(p, fmt, &f);
    if (err != NULL) {
        CHECK(*err != '\0');
    } else {
        CHECK(f != NULL && f->items != NULL && !f->json);
        wl = render(f, wild, &wild_len);
        tl = render(f, tame, &tame_len);
        CHECK(strlen(wl) == wild_len && strlen(tl) == tame_len);
        wild_odd = odd_bytes(wl, wild_len, wild_counts);
        tame_odd = odd_bytes(tl, tame_len, tame_counts);
        CHECK(wild_odd == tame_odd);
        CHECK(memcmp(wild_counts, tame_counts, sizeof(wild_counts)) == 0);
    }

    /* the predefined formats, for the same request */
    {
        static const char *const names[] = {"common", "combined", "json"};
        int k;

        for (k = 0; k < 3; k++) {
            log_format_t *b = log_format_builtin(p, names[k]);
            apr_size_t len;
            unsigned counts[256];

            CHECK(b != NULL);
            if (b->json) {
                check_json(b, wild);
                check_json(b, tame);
            } else {
                char *line = render(b, wild, &len);
                /* only the final newline: common and combined have no
                 * odd literal */
                CHECK(odd_bytes(line, len, counts) == 1);
            }
        }
    }

    apr_pool_destroy(p);
    return 0;
}
