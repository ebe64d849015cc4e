/*
 * log.c: the error log.
 *
 * One line per event, written with a single write() so that lines from
 * several processes and threads never interleave:
 *
 *   [Fri Nov 27 06:31:29.123456 2026] [proxy:error] [pid 42:tid 43]
 *   [client 10.0.0.1:5123] message: APR error text
 *
 * Destinations: a file (relative to ServerRoot), a pipe ("|command", the
 * command reads lines on its stdin) or syslog ("syslog" or
 * "syslog:facility").  Before the configuration opens them, stderr.
 */
#include "core.h"

#include <apr_thread_proc.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

RL_LOG_USE_MODULE(core);

/* Marks a server whose errors go to syslog. */
static char syslog_marker;

static const char *const level_tags[] = {
    "emerg",  "alert",  "crit",   "error",  "warn",   "notice",
    "info",   "debug",  "trace1", "trace2", "trace3", "trace4",
    "trace5", "trace6", "trace7", "trace8"};

static const int syslog_levels[] = {LOG_EMERG, LOG_ALERT,   LOG_CRIT,
                                    LOG_ERR,   LOG_WARNING, LOG_NOTICE,
                                    LOG_INFO,  LOG_DEBUG};

static pid_t log_pid;

void rl_log_set_pid(void)
{
    log_pid = getpid();
}

void rl_log_stderr_only(void)
{
    rl_server_t *s;

    for (s = rl_proc.main_server; s != NULL; s = s->next) {
        s->error_log = NULL;
    }
}

static int effective_level(const rl_module_t *m, const rl_server_t *s)
{
    int level;

    if (s == NULL) {
        return RL_LOG_WARNING;
    }
    level = (m != NULL && m->index >= 0 && m->index < RL_MAX_MODULES &&
             s->module_log_levels != NULL)
                ? s->module_log_levels[m->index]
                : -1;
    if (level < 0) {
        level = s->log_level < 0 ? RL_LOG_WARNING : s->log_level;
    }
    return level;
}

RL_DECLARE(int)
rl_log_enabled(const rl_module_t *m, int level, const rl_server_t *s)
{
    if (s == NULL) {
        s = rl_proc.main_server;
    }
    return level <= effective_level(m, s);
}

RL_DECLARE(void)
rl_log_write_(const rl_module_t *m, int level, apr_status_t status,
              const rl_server_t *s, const rl_conn_t *c, const rl_request_t *r,
              const char *fmt, ...)
{
    char line[4096];
    char date[APR_CTIME_LEN];
    apr_size_t len;
    apr_time_t now = apr_time_now();
    va_list ap;
    apr_file_t *out;

    if (s == NULL) {
        s = r ? r->server : c ? c->base_server : rl_proc.main_server;
    }
    if (c == NULL && r != NULL) {
        c = r->connection;
    }
    /* notices (start, stop, restart) are always written, as in httpd */
    if (s != NULL && level != RL_LOG_NOTICE && level > effective_level(m, s)) {
        return;
    }
    if (level < 0) {
        level = 0;
    }
    if (level > RL_LOG_TRACE8) {
        level = RL_LOG_TRACE8;
    }
    apr_ctime(date, now);
    /* "Fri Nov 27 06:31:29 2026" -> insert .usec after the seconds */
    len = apr_snprintf(
        line, sizeof(line), "[%.19s.%06d %s] [%s:%s] [pid %d:tid %ld] ", date,
        (int)apr_time_usec(now), date + 20, m ? m->name : "core",
        level_tags[level], log_pid ? (int)log_pid : (int)getpid(),
        (long)syscall(SYS_gettid));
    if (c != NULL) {
        len += apr_snprintf(line + len, sizeof(line) - len, "[client %s:%u] ",
                            c->client_ip, (unsigned)c->client_port);
    }
    va_start(ap, fmt);
    len += apr_vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (status != APR_SUCCESS && len < sizeof(line) - 2) {
        char err[120];
        len += apr_snprintf(line + len, sizeof(line) - len, ": %s",
                            apr_strerror(status, err, sizeof(err)));
    }
    if (len > sizeof(line) - 2) {
        len = sizeof(line) - 2;
    }
    out = s ? s->error_log : NULL;
    if (out == (apr_file_t *)&syslog_marker) {
        syslog(level < 8 ? syslog_levels[level] : LOG_DEBUG, "%s", line + 29);
        return;
    }
    line[len++] = '\n';
    if (out != NULL) {
        apr_file_write_full(out, line, len, NULL);
    } else {
        ssize_t w = write(STDERR_FILENO, line, len);
        (void)w;
    }
}

static int facility_of(const char *name)
{
    static const struct {
        const char *name;
        int value;
    } f[] = {{"daemon", LOG_DAEMON},
             {"local0", LOG_LOCAL0},
             {"local1", LOG_LOCAL1},
             {"local2", LOG_LOCAL2},
             {"local3", LOG_LOCAL3},
             {"local4", LOG_LOCAL4},
             {"local5", LOG_LOCAL5},
             {"local6", LOG_LOCAL6},
             {"local7", LOG_LOCAL7},
             {"user", LOG_USER},
             {NULL, 0}};
    int i;

    for (i = 0; f[i].name; i++) {
        if (strcasecmp(f[i].name, name) == 0) {
            return f[i].value;
        }
    }
    return -1;
}

/* Piped loggers outlive configuration generations: children of the old
 * generation still write to them during a graceful restart.  One logger
 * per command line, for the life of the server. */
static apr_hash_t *piped_loggers;

static apr_status_t open_piped(apr_pool_t *pconf, const char *cmdline,
                               apr_file_t **out)
{
    apr_pool_t *p = rl_proc.pglobal;
    apr_procattr_t *attr;
    apr_proc_t *proc;
    const char *args[] = {"/bin/sh", "-c", cmdline, NULL};
    apr_status_t rv;

    (void)pconf;
    if (piped_loggers == NULL) {
        piped_loggers = apr_hash_make(p);
    }
    *out = apr_hash_get(piped_loggers, cmdline, APR_HASH_KEY_STRING);
    if (*out != NULL) {
        return APR_SUCCESS;
    }
    proc = apr_pcalloc(p, sizeof(*proc));
    if ((rv = apr_procattr_create(&attr, p)) != APR_SUCCESS ||
        (rv = apr_procattr_io_set(attr, APR_FULL_BLOCK, APR_NO_PIPE,
                                  APR_NO_PIPE)) != APR_SUCCESS ||
        (rv = apr_procattr_cmdtype_set(attr, APR_SHELLCMD_ENV)) !=
            APR_SUCCESS ||
        (rv = apr_proc_create(proc, args[0], args, NULL, attr, p)) !=
            APR_SUCCESS) {
        return rv;
    }
    /* The logger ends with the server (it reads EOF, or is killed). */
    apr_pool_note_subprocess(p, proc, APR_KILL_AFTER_TIMEOUT);
    *out = proc->in;
    apr_hash_set(piped_loggers, apr_pstrdup(p, cmdline), APR_HASH_KEY_STRING,
                 *out);
    return APR_SUCCESS;
}

static apr_status_t open_one(apr_pool_t *p, rl_server_t *s, apr_hash_t *opened)
{
    const char *name = s->error_fname;
    apr_file_t *f;
    apr_status_t rv;

    if (name == NULL) {
        name = "logs/error_log";
    }
    f = apr_hash_get(opened, name, APR_HASH_KEY_STRING);
    if (f != NULL) {
        s->error_log = f;
        return APR_SUCCESS;
    }
    if (strncasecmp(name, "syslog", 6) == 0 &&
        (name[6] == '\0' || name[6] == ':')) {
        int fac = name[6] ? facility_of(name + 7) : LOG_LOCAL7;
        if (fac < 0) {
            fprintf(stderr,
                    "relaisd: ErrorLog %s: unknown syslog facility (expected "
                    "daemon, user or local0-7)\n",
                    name);
            return APR_EINVAL;
        }
        openlog("relaisd", LOG_PID | LOG_NDELAY, fac);
        s->error_log = (apr_file_t *)&syslog_marker;
    } else if (name[0] == '|') {
        rv = open_piped(p, name + 1, &f);
        if (rv != APR_SUCCESS) {
            char buf[120];
            fprintf(stderr,
                    "relaisd: ErrorLog \"%s\": cannot start the "
                    "command: %s\n",
                    name, apr_strerror(rv, buf, sizeof(buf)));
            return rv;
        }
        s->error_log = f;
    } else {
        const char *path = rl_server_root_relative(p, name);
        /* 0640: client addresses and URLs are nobody else's business */
        rv = apr_file_open(
            &f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_APPEND,
            APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD, p);
        if (rv != APR_SUCCESS) {
            char buf[120];
            fprintf(stderr, "relaisd: ErrorLog %s: cannot open '%s': %s\n",
                    name, path, apr_strerror(rv, buf, sizeof(buf)));
            return rv;
        }
        s->error_log = f;
    }
    apr_hash_set(opened, name, APR_HASH_KEY_STRING, s->error_log);
    return APR_SUCCESS;
}

/* Points fd 2 at the main error log when it is a file or a pipe.
 * Returns 1 when done. */
int rl_log_redirect_stderr(void)
{
    const rl_server_t *s = rl_proc.main_server;
    apr_os_file_t fd;

    if (s == NULL || s->error_log == NULL ||
        s->error_log == (apr_file_t *)&syslog_marker ||
        apr_os_file_get(&fd, s->error_log) != APR_SUCCESS) {
        return 0;
    }
    return dup2(fd, STDERR_FILENO) >= 0;
}


apr_status_t rl_log_open_all(apr_pool_t *p, rl_server_t *main)
{
    apr_hash_t *opened = apr_hash_make(p);
    rl_server_t *s;
    apr_status_t rv;

    for (s = main; s != NULL; s = s->next) {
        if (s != main && s->error_fname == main->error_fname) {
            s->error_log = main->error_log;
            continue;
        }
        rv = open_one(p, s, opened);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}
