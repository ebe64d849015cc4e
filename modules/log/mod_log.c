/**
 * @file mod_log.c
 * @brief Access logs: httpd's mod_log_config for Relais.
 *
 *   LoadModule log_module modules/mod_log.so
 *   LogFormat "%h %l %u %t \"%r\" %>s %b" common
 *   CustomLog logs/access_log combined
 *   CustomLog "|/usr/bin/rotatelogs logs/access.%Y%m%d 86400" json
 *   CustomLog logs/errors_only common env=!dontlog
 *
 * Directives (httpd's semantics): LogFormat, CustomLog, TransferLog,
 * GlobalLog, BufferedLogs.  The format language is in log_format.c; this
 * file reads the directives, opens the files and pipes, and writes.
 *
 * Writing: every line goes out in ONE write() on a descriptor opened with
 * O_APPEND, so lines of different threads and processes never interleave,
 * however long they are (Linux holds the inode lock for the whole write to
 * a regular file).  A pipe only guarantees that for writes up to PIPE_BUF
 * (4 KiB), so writes to a piped log take a lock shared by every child.
 * With BufferedLogs On, lines are gathered per child (under a mutex) into
 * a 4 KiB buffer holding only whole lines, written when full, every
 * second by a small thread, and when the child exits.
 *
 * Life cycle: files are opened and piped programs started by the parent in
 * post_config, as root before the children drop privileges, once per
 * configuration generation.  A graceful restart (USR1) is a new generation:
 * the files are opened again, so after logrotate renames a log, new lines
 * go to a new file while the old children finish writing the old one.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_portable.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "log_private.h"

RL_LOG_USE_MODULE(log);

/** BufferedLogs: bytes gathered per log before a write.  PIPE_BUF, so a
 * flush to a pipe is one atomic write too. */
#define LOG_BUFSIZE 4096

/** Do not repeat a write error to the error log more often than this. */
#define LOG_ERROR_EVERY apr_time_from_sec(10)

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

/** An open destination: one per CustomLog/TransferLog/GlobalLog line. */
typedef struct log_dest_t {
    const char *name; /**< as written: a path or "|command" */
    int fd;           /**< O_APPEND file, or the write end of the pipe */
    /** Pipes only: serialises writes across every child (PIPE_BUF). */
    pthread_mutex_t *pipe_lock;
    /* BufferedLogs, set up in each child by child_init */
    apr_thread_mutex_t *buf_mutex;
    char *buf;
    apr_size_t buf_len;
    apr_uint32_t last_error; /**< second of the last reported error */
} log_dest_t;

/** One CustomLog, TransferLog or GlobalLog line. */
typedef struct log_config_t {
    const char *fname;         /**< path or "|command", as written */
    const char *format_string; /**< the format argument; NULL: TransferLog */
    log_format_t *format;      /**< parsed; a nickname replaces it at open */
    const char *env;           /**< env=[!]var: the variable, or NULL */
    int env_negate;            /**< env=!var */
    const char *file;          /**< where the directive stands */
    unsigned line;
    log_dest_t *dest; /**< opened in post_config */
} log_config_t;

/** Per server (main server and each <VirtualHost>). */
typedef struct log_server_conf {
    /** This server's own CustomLog/TransferLog lines (log_config_t *). */
    apr_array_header_t *config_logs;
    /** The main server's lines, used by a vhost that has none of its own
     *  (httpd: a vhost with its own logs does not inherit). NULL in the
     *  main server. */
    apr_array_header_t *server_logs;
    /** GlobalLog lines: every server logs there, own logs or not. */
    apr_array_header_t *global_logs;
    /** LogFormat nicknames: name -> log_format_t *. */
    apr_hash_t *formats;
    /** LogFormat without nickname (TransferLog's format), or NULL. */
    const char *default_format_string;
    log_format_t *default_format;
    /** BufferedLogs: -1 unset, 0 Off, 1 On (main server only). */
    int buffered;
} log_server_conf;

static log_server_conf *server_conf(const rl_server_t *s)
{
    return rl_get_module_config(s->module_config, &log_module);
}

static void *log_create_server(apr_pool_t *p, rl_server_t *s)
{
    log_server_conf *conf = apr_pcalloc(p, sizeof(*conf));

    (void)s;
    conf->config_logs = apr_array_make(p, 2, sizeof(log_config_t *));
    conf->global_logs = apr_array_make(p, 1, sizeof(log_config_t *));
    conf->formats = apr_hash_make(p);
    conf->buffered = -1;
    return conf;
}

/* httpd's merge_config_log_state(): nicknames and the default format are
 * inherited (the vhost's win); the main server's logs are remembered for
 * a vhost that declares none. */
static void *log_merge_server(apr_pool_t *p, void *basev, void *addv)
{
    const log_server_conf *base = basev, *add = addv;
    log_server_conf *conf = apr_palloc(p, sizeof(*conf));

    *conf = *add;
    conf->server_logs = base->config_logs;
    conf->global_logs = base->global_logs;
    conf->formats = apr_hash_overlay(p, add->formats, base->formats);
    if (add->default_format_string == NULL) {
        conf->default_format_string = base->default_format_string;
        conf->default_format = base->default_format;
    }
    conf->buffered = base->buffered;
    return conf;
}

/* LogFormat format [nickname] */
static const char *set_log_format(rl_cmd_t *cmd, void *mconfig, int argc,
                                  char *const argv[])
{
    log_server_conf *conf = server_conf(cmd->server);
    log_format_t *f;
    const char *err;

    (void)mconfig;
    /* Parsed now, so a bad format is reported at its own line, even when
     * no log uses it. */
    err = log_format_parse(cmd->pool, argv[0], &f);
    if (err != NULL) {
        return err;
    }
    if (argc == 2) {
        apr_hash_set(conf->formats, apr_pstrdup(cmd->pool, argv[1]),
                     APR_HASH_KEY_STRING, f);
    } else {
        /* may itself be a nickname, resolved when the logs are opened */
        conf->default_format_string = apr_pstrdup(cmd->pool, argv[0]);
        conf->default_format = f;
    }
    return NULL;
}

/* Shared by CustomLog, TransferLog and GlobalLog. */
static const char *add_log(rl_cmd_t *cmd, apr_array_header_t *to,
                           const char *fname, const char *fmt, const char *cond)
{
    log_config_t *cls = apr_pcalloc(cmd->pool, sizeof(*cls));

    if (fname[0] == '\0' || (fname[0] == '|' && fname[1] == '\0')) {
        return "expected a file name or \"|command\"";
    }
    if (cond != NULL) {
        if (strncasecmp(cond, "env=", 4) == 0) {
            cond += 4;
            if (*cond == '!') {
                cls->env_negate = 1;
                cond++;
            }
            if (*cond == '\0') {
                return "env= needs a variable name: env=NAME or env=!NAME";
            }
            cls->env = apr_pstrdup(cmd->pool, cond);
        } else if (strncasecmp(cond, "expr=", 5) == 0) {
            return "expr= conditions are not supported; set a variable "
                   "(SetEnvIf) and use env=NAME";
        } else {
            return apr_psprintf(cmd->temp_pool,
                                "expected env=[!]NAME as third argument, got "
                                "'%s'",
                                cond);
        }
    }
    cls->fname = apr_pstrdup(cmd->pool, fname);
    if (fmt != NULL) {
        const char *err;

        /* A nickname parses as a literal too; the nickname wins when the
         * log is opened, so a LogFormat may come after its CustomLog. */
        cls->format_string = apr_pstrdup(cmd->pool, fmt);
        err = log_format_parse(cmd->pool, fmt, &cls->format);
        if (err != NULL) {
            return err;
        }
    }
    cls->file = cmd->node->file;
    cls->line = cmd->node->line;
    APR_ARRAY_PUSH(to, log_config_t *) = cls;
    return NULL;
}

/* CustomLog file|"|command" format|nickname [env=[!]var] */
static const char *set_custom_log(rl_cmd_t *cmd, void *mconfig, int argc,
                                  char *const argv[])
{
    (void)mconfig;
    return add_log(cmd, server_conf(cmd->server)->config_logs, argv[0], argv[1],
                   argc > 2 ? argv[2] : NULL);
}

/* TransferLog file|"|command": the last LogFormat without nickname */
static const char *set_transfer_log(rl_cmd_t *cmd, void *mconfig, int argc,
                                    char *const argv[])
{
    (void)mconfig;
    (void)argc;
    return add_log(cmd, server_conf(cmd->server)->config_logs, argv[0], NULL,
                   NULL);
}

/* GlobalLog file|"|command" format|nickname [env=[!]var] */
static const char *set_global_log(rl_cmd_t *cmd, void *mconfig, int argc,
                                  char *const argv[])
{
    (void)mconfig;
    return add_log(cmd, server_conf(cmd->server)->global_logs, argv[0], argv[1],
                   argc > 2 ? argv[2] : NULL);
}

/* BufferedLogs On|Off */
static const char *set_buffered(rl_cmd_t *cmd, void *mconfig, int argc,
                                char *const argv[])
{
    (void)mconfig;
    (void)argc;
    return rl_parse_flag(cmd->temp_pool, argv[0],
                         &server_conf(cmd->server)->buffered);
}

static const rl_directive_t log_directives[] = {
    RL_TAKE12("LogFormat", set_log_format, NULL, RL_CTX_SERVER,
              "LogFormat format [nickname] -- define a format, or the "
              "default one (TransferLog's)"),
    RL_TAKE23("CustomLog", set_custom_log, NULL, RL_CTX_SERVER,
              "CustomLog file|\"|command\" format|nickname [env=[!]var] -- "
              "an access log"),
    RL_TAKE1("TransferLog", set_transfer_log, NULL, RL_CTX_SERVER,
             "TransferLog file|\"|command\" -- an access log in the last "
             "LogFormat without nickname (default: common)"),
    RL_TAKE23("GlobalLog", set_global_log, NULL, RL_CTX_MAIN,
              "GlobalLog file|\"|command\" format|nickname [env=[!]var] -- "
              "a log every virtual host writes to"),
    RL_TAKE1("BufferedLogs", set_buffered, NULL, RL_CTX_MAIN,
             "BufferedLogs On|Off -- gather lines in memory, write at least "
             "once a second (default Off)"),
    RL_DIRECTIVE_END};

/* ------------------------------------------------------------------ */
/* Per generation and per child state                                  */
/* ------------------------------------------------------------------ */

/*
 * Every destination of the running generation (log_dest_t *), for the
 * children's buffers and flushes.  Set in the parent by post_config before
 * the children are forked; each child has its own copy.  Reset in
 * pre_config: it points into the previous generation's pool.
 */
static apr_array_header_t *all_dests;
static int buffered_logs;

/* The flusher thread of a child with BufferedLogs On. */
static pthread_t flusher;
static int flusher_running;
static pthread_mutex_t flusher_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flusher_cond = PTHREAD_COND_INITIALIZER;
static int flusher_stop;

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

/* A child that died holding the pipe lock leaves it "owner dead"; the
 * pipe itself is fine, so take the lock over. */
static void pipe_lock(pthread_mutex_t *m)
{
    if (pthread_mutex_lock(m) == EOWNERDEAD) {
        pthread_mutex_consistent(m);
    }
}

static void report_write_error(log_dest_t *d, int err)
{
    apr_uint32_t now = (apr_uint32_t)apr_time_sec(apr_time_now());
    apr_uint32_t last = apr_atomic_read32(&d->last_error);

    /* One message per LOG_ERROR_EVERY per child: a full disk must not
     * flood the error log as fast as requests arrive. */
    if (now - last < apr_time_sec(LOG_ERROR_EVERY) && last != 0) {
        return;
    }
    if (apr_atomic_cas32(&d->last_error, now, last) != last) {
        return; /* another thread reports it */
    }
    rl_log_error(RL_LOG_ERR, APR_FROM_OS_ERROR(err), NULL,
                 "cannot write to access log %s; lines are lost", d->name);
}

/* Writes whole lines: one write() unless the kernel takes less (a full
 * disk, a signal), in which case the rest follows. */
static void dest_write(log_dest_t *d, const char *data, apr_size_t len)
{
    int err = 0;

    if (d->pipe_lock != NULL) {
        pipe_lock(d->pipe_lock);
    }
    while (len > 0) {
        ssize_t n = write(d->fd, data, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            err = errno;
            break;
        }
        data += n;
        len -= (apr_size_t)n;
    }
    if (d->pipe_lock != NULL) {
        pthread_mutex_unlock(d->pipe_lock);
    }
    if (err != 0) {
        report_write_error(d, err);
    }
}

/* Called with d->buf_mutex held. */
static void dest_flush_locked(log_dest_t *d)
{
    if (d->buf_len > 0) {
        dest_write(d, d->buf, d->buf_len);
        d->buf_len = 0;
    }
}

static void dest_log(log_dest_t *d, const char *line, apr_size_t len)
{
    if (d->buf == NULL) {
        dest_write(d, line, len);
        return;
    }
    apr_thread_mutex_lock(d->buf_mutex);
    /* The buffer only ever holds whole lines: a line never spans two
     * writes. */
    if (d->buf_len + len > LOG_BUFSIZE) {
        dest_flush_locked(d);
    }
    if (len > LOG_BUFSIZE) {
        dest_write(d, line, len); /* still under the mutex: order kept */
    } else {
        memcpy(d->buf + d->buf_len, line, len);
        d->buf_len += len;
    }
    apr_thread_mutex_unlock(d->buf_mutex);
}

static void flush_all(void)
{
    int i;

    for (i = 0; all_dests != NULL && i < all_dests->nelts; i++) {
        log_dest_t *d = APR_ARRAY_IDX(all_dests, i, log_dest_t *);

        if (d->buf != NULL) {
            apr_thread_mutex_lock(d->buf_mutex);
            dest_flush_locked(d);
            apr_thread_mutex_unlock(d->buf_mutex);
        }
    }
}

/* BufferedLogs: flush every second, so that a quiet server's lines do not
 * wait in memory for the buffer to fill. */
static void *flusher_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&flusher_mutex);
    while (!flusher_stop) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&flusher_cond, &flusher_mutex, &ts);
        if (flusher_stop) {
            break;
        }
        pthread_mutex_unlock(&flusher_mutex);
        flush_all();
        pthread_mutex_lock(&flusher_mutex);
    }
    pthread_mutex_unlock(&flusher_mutex);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The log_transaction hook                                            */
/* ------------------------------------------------------------------ */

static void log_to(apr_array_header_t *logs, rl_request_t *r, apr_time_t now)
{
    int i;

    for (i = 0; logs != NULL && i < logs->nelts; i++) {
        const log_config_t *cls = APR_ARRAY_IDX(logs, i, log_config_t *);
        apr_size_t len;
        char *line;

        if (cls->dest == NULL) {
            continue; /* not opened: relaisd -t, or never started */
        }
        if (cls->env != NULL && (apr_table_get(r->subprocess_env, cls->env) !=
                                 NULL) == cls->env_negate) {
            continue;
        }
        line = log_format_line(cls->format, r, now, &len);
        dest_log(cls->dest, line, len);
    }
}

static int log_transaction(rl_request_t *r)
{
    log_server_conf *conf = server_conf(r->server);
    apr_time_t now = apr_time_now();

    /* httpd: a virtual host with logs of its own does not also write to
     * the main server's */
    log_to(conf->config_logs->nelts ? conf->config_logs : conf->server_logs, r,
           now);
    log_to(conf->global_logs, r, now);
    return RL_OK;
}

/* ------------------------------------------------------------------ */
/* Opening, in the parent                                              */
/* ------------------------------------------------------------------ */

/* The format a nickname names in this server, a predefined one, or NULL. */
static log_format_t *lookup_nickname(apr_pool_t *p, const log_server_conf *conf,
                                     const char *name)
{
    log_format_t *f = apr_hash_get(conf->formats, name, APR_HASH_KEY_STRING);

    return f != NULL ? f : log_format_builtin(p, name);
}

static void resolve_format(apr_pool_t *p, const log_server_conf *conf,
                           log_config_t *cls)
{
    log_format_t *f;

    if (cls->format_string != NULL) {
        f = lookup_nickname(p, conf, cls->format_string);
        if (f != NULL) {
            cls->format = f;
        }
        return;
    }
    /* TransferLog: the last LogFormat without nickname, or common */
    if (conf->default_format_string != NULL) {
        f = lookup_nickname(p, conf, conf->default_format_string);
        cls->format = f != NULL ? f : conf->default_format;
    } else {
        cls->format = log_format_builtin(p, "common");
    }
}

/* "|command": /bin/sh -c command, reading the lines on its stdin. */
static apr_status_t open_pipe(apr_pool_t *p, log_dest_t *d, const char *command)
{
    const char *args[2];
    apr_procattr_t *attr;
    apr_proc_t *proc = apr_pcalloc(p, sizeof(*proc));
    pthread_mutexattr_t ma;
    apr_shm_t *shm;
    apr_status_t rv;

    args[0] = command;
    args[1] = NULL;
    if ((rv = apr_procattr_create(&attr, p)) != APR_SUCCESS ||
        (rv = apr_procattr_io_set(attr, APR_FULL_BLOCK, APR_NO_PIPE,
                                  APR_NO_PIPE)) != APR_SUCCESS ||
        (rv = apr_procattr_cmdtype_set(attr, APR_SHELLCMD_ENV)) !=
            APR_SUCCESS ||
        (rv = apr_procattr_error_check_set(attr, 1)) != APR_SUCCESS) {
        return rv;
    }
    /* progname is only checked (error_check), the shell runs args[0] */
    rv = apr_proc_create(proc, "/bin/sh", args, NULL, attr, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /*
     * Never killed: when this generation ends, the parent closes its end
     * of the pipe, the children of the generation close theirs as they
     * exit, and the program sees end-of-file after the last line of the
     * last of them (the parent's reaping collects it).  Killing it at a
     * graceful restart, as httpd does, would lose the lines of the
     * requests the old children are still finishing.
     */
    apr_pool_note_subprocess(p, proc, APR_KILL_NEVER);
    apr_os_file_get(&d->fd, proc->in);
    /* later piped programs must not hold this pipe open */
    fcntl(d->fd, F_SETFD, FD_CLOEXEC);

    /* The lock every child takes to write to the pipe, in shared memory
     * (anonymous, inherited at fork).  Robust: a child that dies in the
     * middle of a write does not block the others forever. */
    rv = apr_shm_create(&shm, sizeof(pthread_mutex_t), NULL, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    d->pipe_lock = apr_shm_baseaddr_get(shm);
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(d->pipe_lock, &ma);
    pthread_mutexattr_destroy(&ma);
    return APR_SUCCESS;
}

static apr_status_t close_fd(void *data)
{
    close(*(int *)data);
    return APR_SUCCESS;
}

static apr_status_t open_file(apr_pool_t *p, log_dest_t *d, const char *fname)
{
    const char *path = rl_server_root_relative(p, fname);

    /* O_CLOEXEC: the children (forked, not exec'd) keep it; piped log
     * programs (exec'd) do not get it. */
    d->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (d->fd < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    apr_pool_cleanup_register(p, &d->fd, close_fd, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

static apr_status_t open_config_log(apr_pool_t *p, const log_server_conf *conf,
                                    log_config_t *cls)
{
    log_dest_t *d;
    apr_status_t rv;

    if (cls->dest != NULL) {
        return APR_SUCCESS; /* the main server's, shared by vhosts */
    }
    resolve_format(p, conf, cls);
    d = apr_pcalloc(p, sizeof(*d));
    d->name = cls->fname;
    d->fd = -1;
    if (cls->fname[0] == '|') {
        rv = open_pipe(p, d, cls->fname + 1);
    } else {
        rv = open_file(p, d, cls->fname);
    }
    if (rv != APR_SUCCESS) {
        rl_log_error(
            RL_LOG_EMERG, rv, NULL, "%s:%u: cannot open access log %s%s",
            cls->file, cls->line, cls->fname[0] == '|' ? "program " : "",
            cls->fname[0] == '|' ? cls->fname + 1
                                 : rl_server_root_relative(p, cls->fname));
        return rv;
    }
    cls->dest = d;
    APR_ARRAY_PUSH(all_dests, log_dest_t *) = d;
    return APR_SUCCESS;
}

static apr_status_t open_logs(apr_pool_t *p, const log_server_conf *conf,
                              apr_array_header_t *logs)
{
    int i;

    for (i = 0; i < logs->nelts; i++) {
        apr_status_t rv =
            open_config_log(p, conf, APR_ARRAY_IDX(logs, i, log_config_t *));
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

static int log_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    all_dests = NULL;
    buffered_logs = 0;
    return RL_OK;
}

static int log_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, rl_server_t *s)
{
    const log_server_conf *main_conf = server_conf(s);
    rl_server_t *v;

    (void)plog;
    (void)ptemp;
    all_dests = apr_array_make(pconf, 4, sizeof(log_dest_t *));
    buffered_logs = main_conf->buffered == 1;
    if (open_logs(pconf, main_conf, main_conf->global_logs) != APR_SUCCESS) {
        return 500;
    }
    for (v = s; v != NULL; v = v->next) {
        const log_server_conf *conf = server_conf(v);

        if (open_logs(pconf, conf, conf->config_logs) != APR_SUCCESS) {
            return 500;
        }
    }
    return RL_OK;
}

/* ------------------------------------------------------------------ */
/* Children                                                            */
/* ------------------------------------------------------------------ */

static void log_child_init(apr_pool_t *pchild, rl_server_t *s)
{
    sigset_t all, old;
    int i;

    if (!buffered_logs || all_dests == NULL || all_dests->nelts == 0) {
        return;
    }
    for (i = 0; i < all_dests->nelts; i++) {
        log_dest_t *d = APR_ARRAY_IDX(all_dests, i, log_dest_t *);

        if (apr_thread_mutex_create(&d->buf_mutex, APR_THREAD_MUTEX_DEFAULT,
                                    pchild) != APR_SUCCESS) {
            rl_log_error(RL_LOG_ERR, 0, s,
                         "BufferedLogs: cannot create a mutex; %s is "
                         "written unbuffered",
                         d->name);
            continue;
        }
        d->buf_len = 0;
        d->buf = apr_palloc(pchild, LOG_BUFSIZE);
    }
    /* The flusher blocks every signal: the MPM's handlers must run on its
     * own threads, whose blocking calls they interrupt. */
    flusher_stop = 0;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    flusher_running = pthread_create(&flusher, NULL, flusher_main, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!flusher_running) {
        rl_log_error(RL_LOG_WARNING, 0, s,
                     "BufferedLogs: cannot start the flushing thread; lines "
                     "are written when a buffer fills and at exit");
    }
}

static void log_child_exit(apr_pool_t *pchild, rl_server_t *s)
{
    (void)pchild;
    (void)s;
    if (flusher_running) {
        pthread_mutex_lock(&flusher_mutex);
        flusher_stop = 1;
        pthread_cond_signal(&flusher_cond);
        pthread_mutex_unlock(&flusher_mutex);
        pthread_join(flusher, NULL);
        flusher_running = 0;
    }
    flush_all();
}

static void log_register_hooks(apr_pool_t *p)
{
    (void)p;
    rl_hook_pre_config(log_pre_config, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_post_config(log_post_config, NULL, NULL, RL_HOOK_MIDDLE);
    rl_hook_child_init(log_child_init, NULL, NULL, RL_HOOK_MIDDLE);
    /* last, so that every other module has filled its notes and
     * variables */
    rl_hook_log_transaction(log_transaction, NULL, NULL, RL_HOOK_REALLY_LAST);
    /* first, so that the buffers are written before anything else winds
     * down */
    rl_hook_child_exit(log_child_exit, NULL, NULL, RL_HOOK_FIRST);
}

RL_DECLARE_MODULE(log) = {RL_MODULE_STUFF("log", "1.0.0", 0),
                          log_directives,
                          log_create_server,
                          log_merge_server,
                          NULL, /* create_dir_config */
                          NULL, /* merge_dir_config */
                          log_register_hooks};
