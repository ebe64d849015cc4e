/**
 * @file mod_echo.c
 * @brief The demo backend, and the example module for third-party authors.
 *
 * What it does
 * ------------
 * `SetHandler echo` in a <VirtualHost> or <Location> makes Relais answer
 * every request there itself, with a JSON document describing what it
 * received:
 *
 *   {"server": "localhost", "name": "backend1", "method": "POST",
 *    "uri": "/a/b", "args": "x=1", "protocol": "HTTP/1.1",
 *    "headers": {"Host": "localhost:8080", "Content-Length": "3"},
 *    "body_length": 3, "body_sha256": "...64 hex digits...",
 *    "client": "127.0.0.1", "connection_requests": 0}
 *
 * ("name" only appears when EchoName is set; "args" is null without a
 * query string.)  Or, with EchoResponseSize or `?size=N`, it answers with
 * exactly N bytes of a repeating pattern: the byte at offset i is
 * ECHO_PATTERN[i % 64], so a test can check every byte it gets.
 *
 * It is the backend the proxy tests and the demo run against, and it is
 * written to be read: every part of the module API it touches is
 * explained where it is used.  A module is one C file built into a shared
 * object, which `LoadModule echo_module modules/mod_echo.so` loads:
 *
 *   1. RL_LOG_USE_MODULE()      binds this file's log calls to the module
 *   2. a per-location config    struct + create/merge functions
 *   3. a directive table        rl_directive_t[] + one handler each
 *   4. hook functions           here only the `handler` hook
 *   5. register_hooks()         tells the core about 4.
 *   6. RL_DECLARE_MODULE()      the exported module record tying it up
 *
 * Build: this file includes only <relais.h>, APR, APR-util and OpenSSL
 * (SHA-256); modules/echo/module.mk adds -lcrypto to the link.  The core's
 * own symbols stay undefined in the .so and are resolved when it is loaded.
 */

#include <stddef.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>

#include <openssl/evp.h>

#include "relais.h"

/*
 * (1) Logging.  This declares `echo_module` (defined at the bottom) and
 * makes rl_log_rerror() and friends tag each line "[echo:level]", so an
 * operator can raise just this module's verbosity with
 * `LogLevel warn echo:debug`.
 */
RL_LOG_USE_MODULE(echo);

/** Response body pieces, and the request body read buffer. */
#define ECHO_CHUNK 16384

/**
 * The 64-byte pattern of EchoResponseSize bodies (63 printable characters
 * and a newline, so the body is also readable in a terminal).  ECHO_CHUNK
 * is a multiple of 64, so every piece starts at offset 0 of the pattern.
 */
#define ECHO_PATTERN                                                           \
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.\n"
#define ECHO_PATTERN_LEN 64

/* ------------------------------------------------------------------ */
/* (2) Per-location configuration                                      */
/* ------------------------------------------------------------------ */

/*
 * A module may keep two kinds of configuration: per server (main server
 * and each <VirtualHost>, create/merge_server_config) and per location
 * ("dir" config, create/merge_dir_config).  Everything here is per
 * location, so the same directives work at server level, in a vhost and in
 * any <Location>, and a <Location> inherits what it does not set.
 *
 * To merge, each field needs an "unset" value that differs from every
 * value a directive can store: then merge can tell "not written here,
 * inherit" from "explicitly set here".
 */

/** Sentinel for the numeric fields below: not set in this block. */
#define ECHO_UNSET (-1)
/** EchoResponseSize Off: explicitly back to the JSON answer. */
#define ECHO_SIZE_JSON (-2)

/** One EchoHeader line. */
typedef struct echo_header_t {
    const char *name;
    const char *value;
} echo_header_t;

/** The per-location block of mod_echo. */
typedef struct echo_dir_conf {
    int status;                  /**< EchoStatus, or ECHO_UNSET */
    apr_interval_time_t delay;   /**< EchoDelay, or ECHO_UNSET */
    apr_off_t size;              /**< EchoResponseSize, ECHO_SIZE_JSON for
                                      Off, or ECHO_UNSET */
    const char *name;            /**< EchoName, or NULL */
    int allow_delay;             /**< EchoAllowDelay (0/1), or ECHO_UNSET */
    apr_array_header_t *headers; /**< echo_header_t from EchoHeader, in
                                      order; never NULL */
} echo_dir_conf;

/*
 * create_dir_config: called by the core for the root block of every
 * server (path NULL) and for every <Location> (path is its argument).
 * Allocate from `p`, the configuration pool: the block lives as long as
 * this configuration generation (until the next restart).
 */
static void *echo_create_dir(apr_pool_t *p, const char *path)
{
    echo_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    (void)path; /* we do not care where we are */
    conf->status = ECHO_UNSET;
    conf->delay = ECHO_UNSET;
    conf->size = ECHO_UNSET;
    conf->name = NULL;
    conf->allow_delay = ECHO_UNSET;
    conf->headers = apr_array_make(p, 2, sizeof(echo_header_t));
    return conf;
}

/*
 * merge_dir_config: `add` is the inner block (a <Location>, or a vhost's
 * root), `base` the outer one it inherits from.  Return a NEW block: both
 * inputs are shared with other merges and must not be modified.  The core
 * merges at start-up, so this costs nothing per request.
 */
static void *echo_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    const echo_dir_conf *base = basev;
    const echo_dir_conf *add = addv;
    echo_dir_conf *conf = apr_palloc(p, sizeof(*conf));

    conf->status = add->status != ECHO_UNSET ? add->status : base->status;
    conf->delay = add->delay != ECHO_UNSET ? add->delay : base->delay;
    conf->size = add->size != ECHO_UNSET ? add->size : base->size;
    conf->name = add->name != NULL ? add->name : base->name;
    conf->allow_delay =
        add->allow_delay != ECHO_UNSET ? add->allow_delay : base->allow_delay;
    /* EchoHeader accumulates: the outer headers first, then the inner. */
    conf->headers = apr_array_append(p, base->headers, add->headers);
    return conf;
}

/* ------------------------------------------------------------------ */
/* (3) Directives                                                      */
/* ------------------------------------------------------------------ */

/*
 * A directive handler gets:
 *   cmd     where the directive stands: cmd->pool (the configuration pool,
 *           for anything kept), cmd->server, cmd->path...
 *   mconfig OUR per-location block of the enclosing context (the one
 *           echo_create_dir() made for it)
 *   argc, argv  the arguments, already counted against the table's
 *           min/max, with quotes removed and ${VAR} expanded.
 * It returns NULL when all is well, or a short message; the core prints
 * "FILE:LINE: EchoStatus: <message>" and refuses the configuration.  No
 * need to repeat the directive name or the usage in the message.
 */

/* EchoStatus code */
static const char *set_status(rl_cmd_t *cmd, void *mconfig, int argc,
                              char *const argv[])
{
    echo_dir_conf *conf = mconfig;
    char *end;
    apr_int64_t v;

    (void)cmd;
    (void)argc;
    v = apr_strtoi64(argv[0], &end, 10);
    /* 1xx are not final statuses; above 599 is not HTTP. */
    if (end == argv[0] || *end != '\0' || v < 200 || v > 599) {
        return "expected a status code from 200 to 599";
    }
    conf->status = (int)v;
    return NULL;
}

/* EchoDelay duration */
static const char *set_delay(rl_cmd_t *cmd, void *mconfig, int argc,
                             char *const argv[])
{
    echo_dir_conf *conf = mconfig;

    (void)argc;
    /*
     * The core's parsing helpers give every directive the same syntax
     * and the same error messages: here "2" means two seconds (the unit
     * of a bare number, as in httpd), "250ms" or "1m" work too.
     */
    return rl_parse_duration(cmd->pool, argv[0], APR_USEC_PER_SEC,
                             &conf->delay);
}

/* EchoResponseSize bytes|Off */
static const char *set_size(rl_cmd_t *cmd, void *mconfig, int argc,
                            char *const argv[])
{
    echo_dir_conf *conf = mconfig;

    (void)argc;
    /* "Off" lets a <Location> go back to JSON under a server that sets a
     * size. */
    if (strcasecmp(argv[0], "off") == 0) {
        conf->size = ECHO_SIZE_JSON;
        return NULL;
    }
    return rl_parse_size(cmd->pool, argv[0], &conf->size);
}

/** True for a byte of an HTTP token (RFC 9110 §5.6.2). */
static int is_tchar(unsigned char c)
{
    return apr_isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* EchoHeader name value */
static const char *set_header(rl_cmd_t *cmd, void *mconfig, int argc,
                              char *const argv[])
{
    echo_dir_conf *conf = mconfig;
    echo_header_t *h;
    const char *s;

    (void)argc;
    /* Refuse at start-up what would make an invalid response later. */
    if (argv[0][0] == '\0') {
        return "the header name is empty";
    }
    for (s = argv[0]; *s; s++) {
        if (!is_tchar((unsigned char)*s)) {
            return apr_psprintf(cmd->pool, "'%s' is not a valid header name",
                                argv[0]);
        }
    }
    for (s = argv[1]; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return "the header value contains a control character";
        }
    }
    /* argv[] belongs to the core's parser: copy what we keep into
     * cmd->pool, which lives as long as the configuration. */
    h = apr_array_push(conf->headers);
    h->name = apr_pstrdup(cmd->pool, argv[0]);
    h->value = apr_pstrdup(cmd->pool, argv[1]);
    return NULL;
}

/*
 * The directive table.  Each entry names the directive, its handler, the
 * handler's data, where it may appear (RL_CTX_* bits; the core rejects it
 * elsewhere), how many arguments it takes, flags and a usage line shown in
 * errors.  The RL_TAKE1()/RL_TAKE2() helpers fill argument counts; the
 * entries written out in full add RL_DIR_UNIQUE, which makes a second
 * occurrence in the same context an error instead of a silent override.
 *
 * EchoName and EchoAllowDelay need no code: the core's generic setters
 * store a string / an On|Off flag at the offset given as data.  Our
 * create function initialises those fields to "unset" and the setters
 * overwrite them, so merging still works.
 */
#define ECHO_CTX (RL_CTX_SERVER | RL_CTX_LOCATION)

static const rl_directive_t echo_directives[] = {
    {"EchoStatus", set_status, NULL, ECHO_CTX, 1, 1, RL_DIR_UNIQUE,
     "EchoStatus code -- response status, 200..599 (default 200)"},
    {"EchoDelay", set_delay, NULL, ECHO_CTX, 1, 1, RL_DIR_UNIQUE,
     "EchoDelay duration -- wait before answering (never blocks a loop)"},
    {"EchoResponseSize", set_size, NULL, ECHO_CTX, 1, 1, RL_DIR_UNIQUE,
     "EchoResponseSize bytes|Off -- answer with N pattern bytes, not JSON"},
    {"EchoName", rl_set_string_slot, (void *)offsetof(echo_dir_conf, name),
     ECHO_CTX, 1, 1, RL_DIR_UNIQUE,
     "EchoName text -- a \"name\" field in the JSON answer"},
    {"EchoAllowDelay", rl_set_flag_slot,
     (void *)offsetof(echo_dir_conf, allow_delay), ECHO_CTX, 1, 1,
     RL_DIR_UNIQUE, "EchoAllowDelay On|Off -- honour ?delay= (default Off)"},
    RL_TAKE2("EchoHeader", set_header, NULL, ECHO_CTX,
             "EchoHeader name value -- add a response header (repeatable)"),
    RL_DIRECTIVE_END};

/* ------------------------------------------------------------------ */
/* Per-request state                                                   */
/* ------------------------------------------------------------------ */

/*
 * A handler may have to stop half-way and be called again later (see
 * rl_request_suspend() below), so everything it needs to carry on lives
 * in a struct hung on r->request_config, not in local variables.
 * r->request_config is a vector with one slot per module, like the
 * config vectors; it is freed with the request.
 */

/** Where the handler is. */
typedef enum echo_phase_e {
    ECHO_READING, /**< reading (and hashing) the request body */
    ECHO_SENDING  /**< streaming an EchoResponseSize body */
} echo_phase_e;

typedef struct echo_state_t {
    const echo_dir_conf *conf; /**< the merged block for this URI */
    echo_phase_e phase;
    int status;                /**< status to answer with */
    apr_off_t size;            /**< pattern body size, or ECHO_SIZE_JSON */
    apr_interval_time_t delay; /**< wait before answering, 0 for none */

    EVP_MD_CTX *md;        /**< SHA-256 of the body, as it arrives */
    apr_off_t body_length; /**< request body bytes read */
    char digest_hex[2 * EVP_MAX_MD_SIZE + 1];

    apr_off_t sent;       /**< pattern bytes written so far */
    char buf[ECHO_CHUNK]; /**< read buffer, then the pattern */
} echo_state_t;

/* Registered on r->pool, so the OpenSSL context goes with the request
 * however it ends (answered, failed, client gone). */
static apr_status_t echo_md_cleanup(void *data)
{
    EVP_MD_CTX_free(data);
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* JSON output                                                         */
/* ------------------------------------------------------------------ */

/** A growing string in a pool. */
typedef struct echo_buf_t {
    apr_pool_t *pool;
    char *data;
    apr_size_t len;
    apr_size_t cap;
} echo_buf_t;

static void buf_add(echo_buf_t *b, const char *s, apr_size_t n)
{
    if (b->len + n > b->cap) {
        apr_size_t cap = b->cap ? b->cap : 2048;
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

static void buf_puts(echo_buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/**
 * Length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0.
 */
static apr_size_t utf8_len(const unsigned char *s, apr_size_t n)
{
    unsigned char lo = 0x80, hi = 0xBF;
    apr_size_t len, i;

    if (s[0] < 0x80) {
        return 1;
    }
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        len = 3;
        if (s[0] == 0xE0) {
            lo = 0xA0; /* overlong */
        } else if (s[0] == 0xED) {
            hi = 0x9F; /* surrogates */
        }
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4;
        if (s[0] == 0xF0) {
            lo = 0x90; /* overlong */
        } else if (s[0] == 0xF4) {
            hi = 0x8F; /* above U+10FFFF */
        }
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (i = 2; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
    }
    return len;
}

/**
 * Appends s as a JSON string (or null).  Quotes and backslashes are
 * escaped, control characters written \u00XX (or \n, \t...), valid UTF-8
 * passed through; a byte that is not part of valid UTF-8 (header values
 * may carry Latin-1 "obs-text") is written as \u00XX, i.e. read as
 * Latin-1.  The result is valid JSON whatever the input.
 */
static void buf_json_str(echo_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    apr_size_t n;

    if (s == NULL) {
        buf_puts(b, "null");
        return;
    }
    n = strlen(s);
    buf_add(b, "\"", 1);
    while (n > 0) {
        apr_size_t run = 0, len;

        /* Copy runs of characters that need no escaping in one go. */
        while (run < n && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' &&
               p[run] != '\\') {
            run++;
        }
        if (run > 0) {
            buf_add(b, (const char *)p, run);
            p += run;
            n -= run;
            continue;
        }
        switch (*p) {
        case '"':
            buf_add(b, "\\\"", 2);
            break;
        case '\\':
            buf_add(b, "\\\\", 2);
            break;
        case '\n':
            buf_add(b, "\\n", 2);
            break;
        case '\r':
            buf_add(b, "\\r", 2);
            break;
        case '\t':
            buf_add(b, "\\t", 2);
            break;
        default:
            len = *p >= 0x80 ? utf8_len(p, n) : 0;
            if (len > 0) {
                buf_add(b, (const char *)p, len);
                p += len;
                n -= len;
                continue;
            }
            /* Control character, DEL, or a stray byte >= 0x80. */
            {
                char esc[6] = {'\\', 'u',          '0',
                               '0',  hex[*p >> 4], hex[*p & 0xf]};
                buf_add(b, esc, sizeof(esc));
            }
            break;
        }
        p++;
        n--;
    }
    buf_add(b, "\"", 1);
}

/**
 * Appends the request headers as a JSON object, in the order received,
 * names as received.  A field sent more than once (any case) becomes one
 * member at its first position, values joined with ", " (RFC 9110 §5.3),
 * so that the object has no duplicate names.
 */
static void buf_json_headers(echo_buf_t *b, apr_pool_t *p, const apr_table_t *t)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    int i, j, first = 1;

    buf_add(b, "{", 1);
    for (i = 0; i < arr->nelts; i++) {
        const char *value = e[i].val;
        int seen = 0;

        if (e[i].key == NULL) {
            continue;
        }
        for (j = 0; j < i && !seen; j++) {
            seen = e[j].key != NULL && strcasecmp(e[j].key, e[i].key) == 0;
        }
        if (seen) {
            continue; /* already written with the first one */
        }
        for (j = i + 1; j < arr->nelts; j++) {
            if (e[j].key != NULL && strcasecmp(e[j].key, e[i].key) == 0) {
                value = apr_pstrcat(p, value, ", ", e[j].val, (char *)NULL);
            }
        }
        if (!first) {
            buf_add(b, ", ", 2);
        }
        first = 0;
        buf_json_str(b, e[i].key);
        buf_add(b, ": ", 2);
        buf_json_str(b, value);
    }
    buf_add(b, "}", 1);
}

/* ------------------------------------------------------------------ */
/* (4) The handler                                                     */
/* ------------------------------------------------------------------ */

/** True when a response with this status may have a body. */
static int status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

/**
 * Reads the query-string overrides: status=N, size=N[k|M|G], delay=ms
 * (delay only with EchoAllowDelay On).  Other parameters are ignored.
 * Values are not percent-decoded: they are numbers.
 * @return RL_OK, or 400 for a malformed value of ours
 */
static int parse_args(rl_request_t *r, echo_state_t *st)
{
    char *args, *pair, *last;

    if (r->args == NULL || r->args[0] == '\0') {
        return RL_OK;
    }
    args = apr_pstrdup(r->pool, r->args); /* apr_strtok writes into it */
    for (pair = apr_strtok(args, "&", &last); pair != NULL;
         pair = apr_strtok(NULL, "&", &last)) {
        char *value = strchr(pair, '=');
        const char *err = NULL;

        if (value == NULL) {
            continue;
        }
        *value++ = '\0';
        if (strcmp(pair, "status") == 0) {
            char *end;
            apr_int64_t v = apr_strtoi64(value, &end, 10);

            if (end == value || *end != '\0' || v < 200 || v > 599) {
                err = "expected 200..599";
            } else {
                st->status = (int)v;
            }
        } else if (strcmp(pair, "size") == 0) {
            apr_off_t size;

            err = rl_parse_size(r->pool, value, &size);
            if (err == NULL) {
                st->size = size;
            }
        } else if (strcmp(pair, "delay") == 0) {
            apr_interval_time_t delay;

            /* A bare number is in milliseconds here; "2s" works too. */
            err = rl_parse_duration(r->pool, value, 1000, &delay);
            if (err == NULL && st->conf->allow_delay == 1) {
                st->delay = delay;
            } else if (err == NULL) {
                rl_log_rerror(RL_LOG_DEBUG, 0, r,
                              "?delay ignored: EchoAllowDelay is Off");
            }
        }
        if (err != NULL) {
            /*
             * rl_log_rerror() adds the client address and the vhost.
             * Client mistakes are INFO at most: at WARN and above, any
             * client could fill the operator's log.
             */
            rl_log_rerror(RL_LOG_INFO, 0, r, "bad query parameter %s=%s: %s",
                          pair, value, err);
            return 400; /* the core sends its 400 error page */
        }
    }
    return RL_OK;
}

static int echo_resume(rl_request_t *r);

/**
 * Streams the rest of a pattern body.  Under the event MPM one thread
 * serves many connections, so a handler must never wait for a slow
 * client: when rl_output_congested() says enough is queued, it saves its
 * place (st->sent) and suspends; the core calls echo_resume() once the
 * client has taken most of it.  Under prefork and worker rl_rwrite() waits
 * instead and this never suspends.
 */
static int echo_send_pattern(rl_request_t *r, echo_state_t *st)
{
    while (st->sent < st->size) {
        apr_size_t n = ECHO_CHUNK;
        apr_status_t rv;

        if (rl_output_congested(r)) {
            rl_request_suspend(r, echo_resume);
            return RL_SUSPENDED;
        }
        if ((apr_off_t)n > st->size - st->sent) {
            n = (apr_size_t)(st->size - st->sent);
        }
        rv = rl_rwrite(r, st->buf, n);
        if (rv != APR_SUCCESS) {
            /* The client went away; the head is out, so there is no
             * status left to report: just stop. */
            rl_log_rerror(RL_LOG_DEBUG, rv, r,
                          "write failed after %" APR_OFF_T_FMT
                          " of %" APR_OFF_T_FMT " bytes",
                          st->sent, st->size);
            return RL_OK;
        }
        st->sent += (apr_off_t)n;
    }
    return RL_OK;
}

/** Builds and sends the JSON answer. */
static int echo_send_json(rl_request_t *r, const echo_state_t *st)
{
    rl_conn_t *c = r->connection;
    echo_buf_t b = {r->pool, NULL, 0, 0};
    char num[64];
    apr_status_t rv;

    buf_puts(&b, "{\"server\": ");
    buf_json_str(&b, r->server->server_name);
    if (st->conf->name != NULL) {
        buf_puts(&b, ", \"name\": ");
        buf_json_str(&b, st->conf->name);
    }
    buf_puts(&b, ", \"method\": ");
    buf_json_str(&b, r->method);
    buf_puts(&b, ", \"uri\": ");
    buf_json_str(&b, r->uri);
    buf_puts(&b, ", \"args\": ");
    buf_json_str(&b, r->args);
    buf_puts(&b, ", \"protocol\": ");
    buf_json_str(&b, r->protocol);
    buf_puts(&b, ", \"headers\": ");
    buf_json_headers(&b, r->pool, r->headers_in);
    apr_snprintf(num, sizeof(num), "%" APR_OFF_T_FMT, st->body_length);
    buf_puts(&b, ", \"body_length\": ");
    buf_puts(&b, num);
    buf_puts(&b, ", \"body_sha256\": ");
    buf_json_str(&b, st->digest_hex);
    buf_puts(&b, ", \"client\": ");
    buf_json_str(&b, c->client_ip);
    apr_snprintf(num, sizeof(num), "%d", c->keepalives);
    buf_puts(&b, ", \"connection_requests\": ");
    buf_puts(&b, num);
    buf_puts(&b, "}\n");

    /*
     * With the length known before the first write, the response carries
     * Content-Length (and the connection can stay open, even on HTTP/1.0
     * keep-alive).  Without it, the core would use chunked encoding.
     * For HEAD (r->header_only) we do exactly the same: the core sends the
     * head, with this length, and drops the body bytes.
     */
    rl_set_content_type(r, "application/json");
    rl_set_content_length(r, (apr_off_t)b.len);
    rv = rl_rwrite(r, b.data, b.len);
    if (rv != APR_SUCCESS) {
        rl_log_rerror(RL_LOG_DEBUG, rv, r, "writing the answer failed");
    }
    return RL_OK;
}

static int echo_answer(rl_request_t *r);

/** The body is read: wait if asked to, then answer. */
static int echo_respond(rl_request_t *r, echo_state_t *st)
{
    if (st->delay > 0) {
        /*
         * rl_request_sleep() never blocks an event loop: under the event
         * MPM it suspends the request and the core calls echo_answer()
         * when the time is up; under prefork/worker the thread sleeps and
         * echo_answer() runs at once.
         */
        rl_log_rerror(RL_LOG_DEBUG, 0, r,
                      "delaying the answer by %" APR_TIME_T_FMT " ms",
                      (apr_time_t)apr_time_as_msec(st->delay));
        return rl_request_sleep(r, st->delay, echo_answer);
    }
    return echo_answer(r);
}

/** Sends the answer: status, EchoHeader fields, then JSON or pattern. */
static int echo_answer(rl_request_t *r)
{
    echo_state_t *st = rl_get_module_config(r->request_config, &echo_module);
    const echo_dir_conf *conf = st->conf;
    int i;

    /*
     * The status goes in r->status; the handler still returns RL_OK,
     * because it writes the answer itself.  (Returning a status such as
     * 503 instead would make the core send its own error page.)
     */
    r->status = st->status;

    /*
     * EchoHeader fields go into err_headers_out, which is sent with every
     * response, whatever its status; headers_out is for fields of
     * successful responses only.  apr_table_add keeps repeated names.
     */
    for (i = 0; i < conf->headers->nelts; i++) {
        const echo_header_t *h =
            &APR_ARRAY_IDX(conf->headers, i, echo_header_t);
        apr_table_add(r->err_headers_out, h->name, h->value);
    }

    if (!status_has_body(st->status)) {
        return RL_OK; /* 204, 304: head only, no Content-Length */
    }
    if (st->size < 0) {
        return echo_send_json(r, st);
    }

    rl_set_content_type(r, "application/octet-stream");
    rl_set_content_length(r, st->size);
    if (r->header_only) {
        /* HEAD: the head (with the GET's length) is all that is sent;
         * do not produce megabytes for the core to throw away. */
        return RL_OK;
    }
    for (i = 0; i < ECHO_CHUNK; i += ECHO_PATTERN_LEN) {
        memcpy(st->buf + i, ECHO_PATTERN, ECHO_PATTERN_LEN);
    }
    st->phase = ECHO_SENDING;
    st->sent = 0;
    return echo_send_pattern(r, st);
}

/**
 * Reads and hashes the request body.  rl_read_body() never waits under
 * the event MPM: APR_EAGAIN means "nothing yet"; the handler then asks to
 * be resumed when bytes arrive and returns RL_SUSPENDED, and this
 * function runs again from echo_resume() with its state intact.
 */
static int echo_read_body(rl_request_t *r, echo_state_t *st)
{
    for (;;) {
        apr_size_t got = 0;
        apr_status_t rv = rl_read_body(r, st->buf, sizeof(st->buf), &got);

        if (rv == APR_SUCCESS) {
            EVP_DigestUpdate(st->md, st->buf, got);
            st->body_length += (apr_off_t)got;
        } else if (APR_STATUS_IS_EAGAIN(rv)) {
            rl_request_suspend(r, echo_resume);
            return RL_SUSPENDED;
        } else if (APR_STATUS_IS_EOF(rv)) {
            break; /* also at once for a request without a body */
        } else {
            /*
             * Client gone, bad chunked framing, body over LimitRequestBody
             * or too slow: the core has put 400 or 413 in r->status.
             * Returning a status makes the core answer with its error page.
             */
            rl_log_rerror(
                RL_LOG_INFO, rv, r,
                "reading the request body failed after %" APR_OFF_T_FMT
                " bytes",
                st->body_length);
            if (r->status >= 400) {
                return r->status;
            }
            return APR_STATUS_IS_TIMEUP(rv) ? 408 : 400;
        }
    }

    {
        static const char hex[] = "0123456789abcdef";
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0, i;

        if (EVP_DigestFinal_ex(st->md, md, &len) != 1) {
            rl_log_rerror(RL_LOG_ERR, 0, r, "SHA-256 failed");
            return 500;
        }
        for (i = 0; i < len; i++) {
            st->digest_hex[2 * i] = hex[md[i] >> 4];
            st->digest_hex[2 * i + 1] = hex[md[i] & 0xf];
        }
        st->digest_hex[2 * len] = '\0';
    }
    return echo_respond(r, st);
}

/**
 * The resume function given to rl_request_suspend(): it returns what a
 * handler returns, and may suspend again.  It finds its state where the
 * handler left it, in r->request_config.
 */
static int echo_resume(rl_request_t *r)
{
    echo_state_t *st = rl_get_module_config(r->request_config, &echo_module);

    if (st->phase == ECHO_READING) {
        return echo_read_body(r, st);
    }
    return echo_send_pattern(r, st);
}

/**
 * The handler hook.  Every handler in the server is offered every
 * request; each checks r->handler (set by SetHandler, or by a module's
 * translate_name, like mod_proxy's) and returns RL_DECLINED for what is
 * not its own, so that the next one is asked.
 */
static int echo_handler(rl_request_t *r)
{
    echo_state_t *st;
    int rc;

    if (r->handler == NULL || strcmp(r->handler, "echo") != 0) {
        return RL_DECLINED;
    }

    /*
     * The core has already merged the server's and the matching
     * <Location>s' blocks for this URI: pick ours from r->per_dir_config.
     * Fields never set anywhere are still ECHO_UNSET: apply defaults here.
     */
    st = apr_pcalloc(r->pool, sizeof(*st));
    st->conf = rl_get_module_config(r->per_dir_config, &echo_module);
    st->phase = ECHO_READING;
    st->status = st->conf->status != ECHO_UNSET ? st->conf->status : 200;
    st->size = st->conf->size >= 0 ? st->conf->size : ECHO_SIZE_JSON;
    st->delay = st->conf->delay > 0 ? st->conf->delay : 0;

    rc = parse_args(r, st);
    if (rc != RL_OK) {
        return rc;
    }

    /*
     * Memory from r->pool is freed with the request.  Resources that are
     * not pool memory (here an OpenSSL context) get a pool cleanup, so
     * they are released on every path, including a client that vanishes
     * while we are suspended.
     */
    st->md = EVP_MD_CTX_new();
    if (st->md == NULL) {
        rl_log_rerror(RL_LOG_ERR, 0, r, "cannot allocate a digest context");
        return 500;
    }
    apr_pool_cleanup_register(r->pool, st->md, echo_md_cleanup,
                              apr_pool_cleanup_null);
    if (EVP_DigestInit_ex(st->md, EVP_sha256(), NULL) != 1) {
        rl_log_rerror(RL_LOG_ERR, 0, r, "cannot initialise SHA-256");
        return 500;
    }

    /* Park the state where echo_resume() will find it. */
    rl_set_module_config(r->request_config, &echo_module, st);

    return echo_read_body(r, st);
}

/* ------------------------------------------------------------------ */
/* (5) Hook registration                                               */
/* ------------------------------------------------------------------ */

/*
 * Called once when the module is loaded.  rl_hook_<name>(function,
 * predecessors, successors, order): the two lists name modules ("proxy")
 * that must run before / after us, NULL for none; the order
 * (RL_HOOK_FIRST, MIDDLE, LAST...) settles the rest.  A handler that
 * checks r->handler does not care about its order: MIDDLE.
 */
static void echo_register_hooks(apr_pool_t *p)
{
    (void)p;
    rl_hook_handler(echo_handler, NULL, NULL, RL_HOOK_MIDDLE);
}

/* ------------------------------------------------------------------ */
/* (6) The module record                                               */
/* ------------------------------------------------------------------ */

/*
 * The one symbol the core looks up in the .so: `echo_module`, named after
 * the first argument of LoadModule.  RL_MODULE_STUFF() records the API
 * version this file was compiled against (the core refuses a mismatch),
 * our short name ("echo": used in hook ordering lists and in
 * `LogLevel echo:debug`) and our version (shown by `relaisd -M`).
 * Unused slots are NULL: mod_echo has no per-server configuration.
 */
RL_DECLARE_MODULE(echo) = {RL_MODULE_STUFF("echo", "1.0.0", 0),
                           echo_directives,
                           NULL, /* create_server_config */
                           NULL, /* merge_server_config */
                           echo_create_dir,
                           echo_merge_dir,
                           echo_register_hooks};
