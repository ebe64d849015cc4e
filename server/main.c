/*
 * main.c: relaisd's command line and the life of the parent process.
 *
 * Each configuration generation: read the configuration (modules load),
 * check it, open listeners and logs, run post_config once, then hand over
 * to the MPM, which returns on stop, restart or graceful restart.  The
 * configuration pool of a generation is destroyed when the next one is
 * ready, which unloads its modules.
 */
#include "core.h"

#include <apr_getopt.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(RL_DEFAULT_ROOT) && defined(RL_SERVER_ROOT)
#define RL_DEFAULT_ROOT RL_SERVER_ROOT
#endif
#ifndef RL_DEFAULT_ROOT
#define RL_DEFAULT_ROOT "/usr/local/relais"
#endif
#ifndef RL_DEFAULT_CONF
#define RL_DEFAULT_CONF "conf/relais.conf"
#endif
#ifndef RL_BUILD_FLAGS
#define RL_BUILD_FLAGS ""
#endif

RL_LOG_USE_MODULE(core);

enum dump_mode {
    DUMP_NONE = 0,
    DUMP_TEST,
    DUMP_MODULES,
    DUMP_VHOSTS,
    DUMP_DIRECTIVES
};

static void usage(const char *argv0)
{
    fprintf(stderr,
            "Usage: %s [-D name] [-d directory] [-f file]\n"
            "       [-k start|restart|graceful|graceful-stop|stop]\n"
            "       [-v] [-V] [-h] [-t] [-M] [-S] [-L]\n"
            "Options:\n"
            "  -D name            define a name for <IfDefine name> "
            "(FOREGROUND: do not detach)\n"
            "  -d directory       ServerRoot (default %s)\n"
            "  -f file            configuration file (default %s)\n"
            "  -k action          control a running server\n"
            "  -v                 show the version\n"
            "  -V                 show the build settings\n"
            "  -t                 check the configuration and exit\n"
            "  -M                 list loaded modules\n"
            "  -S                 show the virtual host settings\n"
            "  -L                 list the directives of the loaded modules\n"
            "  -h                 this help\n",
            argv0, RL_DEFAULT_ROOT, RL_DEFAULT_CONF);
}

static void report_errors(int n)
{
    fprintf(stderr,
            "relaisd: %d error%s in the configuration; nothing was "
            "changed\n",
            n, n == 1 ? "" : "s");
}

static const char *pid_path(apr_pool_t *p)
{
    return rl_server_root_relative(p, rl_proc.pid_file ? rl_proc.pid_file
                                                       : "logs/relaisd.pid");
}

static pid_t read_pid(apr_pool_t *p)
{
    FILE *f = fopen(pid_path(p), "r");
    long pid = 0;

    if (f == NULL) {
        return 0;
    }
    if (fscanf(f, "%ld", &pid) != 1) {
        pid = 0;
    }
    fclose(f);
    if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
        return 0; /* stale */
    }
    return (pid_t)pid;
}

/* The pid file is 0644 whatever was there before (monitoring reads it,
 * nobody else may write it), and never written through a symbolic link:
 * a worker that could plant one in the logs directory would otherwise
 * have root truncate any file. */
static int write_pid(apr_pool_t *p)
{
    const char *path = pid_path(p);
    char buf[32];
    int fd, n, ok;

    fd =
        open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        rl_log_error(RL_LOG_EMERG, APR_FROM_OS_ERROR(errno), NULL,
                     "cannot write the pid file %s (PidFile)", path);
        return -1;
    }
    n = apr_snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    ok = fchmod(fd, 0644) == 0 && write(fd, buf, (size_t)n) == n;
    if (close(fd) != 0 || !ok) {
        rl_log_error(RL_LOG_EMERG, APR_FROM_OS_ERROR(errno), NULL,
                     "cannot write the pid file %s (PidFile)", path);
        return -1;
    }
    return 0;
}

/* Started as root, the children switch to User and Group after binding
 * (rl_mpm_drop_privileges).  Without a User line they would go on serving
 * as root, and any flaw would hand a client the machine: refuse, unless
 * the operator said so with "User root".  There is no default account
 * to fall back on (httpd's "daemon" or "www-data" need not exist).
 * Returns 1 when refused, after saying why on stderr (the error log is
 * not open yet; during a restart stderr is the old error log). */
static int workers_as_root_refused(apr_pool_t *p)
{
    if (geteuid() != 0 || rl_proc.user != NULL) {
        return 0;
    }
    fprintf(stderr,
            "relaisd: %s: running workers as root: set User and Group "
            "(e.g. www-data), or 'User root' to really run them as root\n",
            rl_server_root_relative(p, rl_proc.config_file));
    return 1;
}

/* "User root" (or any account with uid 0): allowed, but said at every
 * start, where the operator looks. */
static void warn_root_workers(void)
{
    const char *u = rl_proc.user;
    struct passwd *pw;

    if (geteuid() != 0 || u == NULL) {
        return;
    }
    pw = u[0] == '#' ? getpwuid((uid_t)atol(u + 1)) : getpwnam(u);
    if (pw != NULL && pw->pw_uid == 0) {
        rl_log_error(RL_LOG_WARNING, 0, NULL,
                     "User %s: the workers serve requests as root, as "
                     "configured; a dedicated account (User www-data, "
                     "Group www-data) keeps a compromised worker from "
                     "owning the machine",
                     u);
    }
}

static void detach(void)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0) {
        perror("relaisd: fork");
        exit(1);
    }
    if (pid > 0) {
        _exit(0);
    }
    setsid();
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        /* never keep the caller's stderr (a pipe would never close):
         * stray output goes to the error log, as in httpd */
        if (!rl_log_redirect_stderr()) {
            dup2(fd, STDERR_FILENO);
        }
        close(fd);
    }
}

static int signal_server(apr_pool_t *p, const char *action)
{
    pid_t pid = read_pid(p);
    int sig;

    if (strcmp(action, "stop") == 0) {
        sig = SIGTERM;
    } else if (strcmp(action, "restart") == 0) {
        sig = SIGHUP;
    } else if (strcmp(action, "graceful") == 0) {
        sig = SIGUSR1;
    } else {
        sig = SIGWINCH;
    }
    if (pid <= 0) {
        if (sig == SIGTERM || sig == SIGWINCH) {
            fprintf(stderr, "relaisd (pid file %s) not running\n", pid_path(p));
            return 1;
        }
        return -1; /* restart/graceful of a stopped server: start it */
    }
    if (kill(pid, sig) != 0) {
        fprintf(stderr, "relaisd: cannot signal pid %ld: %s\n", (long)pid,
                strerror(errno));
        return 1;
    }
    if (sig == SIGTERM || sig == SIGWINCH) {
        /* like apachectl stop: return once it is gone (bounded) */
        int i;
        for (i = 0; i < 600 && kill(pid, 0) == 0; i++) {
            apr_sleep(apr_time_from_msec(100));
        }
    }
    return 0;
}

static void show_modules(void)
{
    rl_module_t *m;

    printf("Loaded Modules:\n");
    for (m = rl_first_module(); m != NULL; m = m->next) {
        printf(" %s_module (%s) %s\n", m->name,
               m->dso_handle ? "shared" : "static", m->version);
    }
}

/* relaisd -L: every directive of the loaded modules, with its usage and
 * where it is allowed (the directive index in docs/ is made from it). */
static void show_directives(void)
{
    static const struct {
        unsigned bit;
        const char *name;
    } ctx[] = {{RL_CTX_MAIN, "server config"},
               {RL_CTX_VHOST, "virtual host"},
               {RL_CTX_LOCATION, "location"},
               {RL_CTX_PROXY, "proxy section"}};
    rl_module_t *m;

    for (m = rl_first_module(); m != NULL; m = m->next) {
        const rl_directive_t *d;
        for (d = m->directives; d && d->name; d++) {
            const char *sep = "";
            unsigned i;
            printf("%s%s\t%s\t", d->name, d->name[0] == '<' ? ">" : "",
                   m->name);
            for (i = 0; i < sizeof(ctx) / sizeof(ctx[0]); i++) {
                if (d->contexts & ctx[i].bit) {
                    printf("%s%s", sep, ctx[i].name);
                    sep = ", ";
                }
            }
            printf("\t%s\n", d->usage ? d->usage : "");
        }
    }
}


static void show_version(void)
{
    printf("Server version: Relais/%s (Linux)\n", rl_version());
    printf("Server built:   %s %s\n", __DATE__, __TIME__);
}

static void show_settings(void)
{
    show_version();
    printf("Server's Module Magic Number: %d:%d\n", RL_MMN_MAJOR, RL_MMN_MINOR);
    printf("Server loaded:  APR %s, APR-UTIL %s\n", apr_version_string(),
           apu_version_string());
    printf("Compiled using: APR %s\n", APR_VERSION_STRING);
    printf("Architecture:   %d-bit\n", (int)sizeof(void *) * 8);
    printf("Module signature: %s\n", RL_MODULE_SIGNATURE);
    printf("Server compiled with....\n");
    printf(" -D RL_DEFAULT_ROOT=\"%s\"\n", RL_DEFAULT_ROOT);
    printf(" -D RL_DEFAULT_CONF=\"%s\"\n", RL_DEFAULT_CONF);
    printf(" -D RL_BUILD_FLAGS=\"%s\"\n", RL_BUILD_FLAGS);
}

/* Every client connection, and every backend one, is a descriptor: raise
 * the soft limit to the hard one (as HAProxy does), so a proxy serving
 * thousands of keep-alive clients is not stopped by the 1024 default of a
 * login shell.  The hard limit is the operator's (ulimit -Hn, LimitNOFILE=). */
static void raise_open_files_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) {
        return;
    }
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        rl_log_error(RL_LOG_WARNING, APR_FROM_OS_ERROR(errno), NULL,
                     "cannot raise the open files limit to %lu",
                     (unsigned long)rl.rlim_max);
    }
}

static int run_generations(int detach_first)
{
    int first = 1;

    for (;;) {
        apr_pool_t *pconf, *ptemp;
        int errors, rc;

        apr_pool_create(&pconf, rl_proc.pglobal);
        apr_pool_create(&ptemp, pconf);
        apr_pool_create(&rl_proc.plog, pconf);
        rl_proc.ptemp = ptemp;
        errors = rl_config_load(pconf, ptemp);
        if (!errors) {
            errors = workers_as_root_refused(ptemp);
        }
        if (errors) {
            report_errors(errors);
            if (!first) {
                rl_log_error(RL_LOG_EMERG, 0, NULL,
                             "the new configuration has errors (see above "
                             "or run relaisd -t): exiting");
            }
            return 1;
        }
        if (rl_listen_open(rl_proc.pglobal, rl_proc.main_server) !=
            APR_SUCCESS) {
            return 1;
        }
        rl_listen_assign_servers(rl_proc.main_server);
        if (rl_log_open_all(pconf, rl_proc.main_server) != APR_SUCCESS) {
            return 1;
        }
        warn_root_workers();
        if (first && detach_first) {
            detach();
        }
        if (first) {
            raise_open_files_limit();
        }
        rl_log_set_pid();
        if (write_pid(ptemp) != 0) {
            return 1;
        }
        if (rl_run_post_config(pconf, rl_proc.plog, ptemp,
                               rl_proc.main_server) != RL_OK) {
            rl_log_error(RL_LOG_EMERG, 0, NULL,
                         "a module failed to start (see above): exiting");
            return 1;
        }
        apr_pool_clear(ptemp);
        first = 0;
        rc = rl_run_mpm(pconf, rl_proc.plog, rl_proc.main_server);
        if (rc != RL_MPM_RESTART && rc != RL_MPM_GRACEFUL) {
            unlink(pid_path(pconf));
            return rc == RL_MPM_EXIT ? 0 : 1;
        }
        rl_proc.generation++;
        apr_hook_deregister_all();
        apr_pool_destroy(pconf);
    }
}

int main(int argc, const char *const *argv)
{
    apr_getopt_t *opt;
    const char *optarg, *action = NULL;
    apr_pool_t *pglobal, *pconf, *ptemp;
    enum dump_mode dump = DUMP_NONE;
    char c;
    apr_status_t rv;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    apr_pool_create(&pglobal, NULL);
    memset(&rl_proc, 0, sizeof(rl_proc));
    rl_proc.pglobal = pglobal;
    rl_proc.argv0 = argv[0];
    rl_proc.server_root = RL_DEFAULT_ROOT;
    rl_proc.config_file = RL_DEFAULT_CONF;
    rl_proc.cmdline_defines = apr_array_make(pglobal, 4, sizeof(char *));
    /* Logs and the pid file: never group-writable nor readable by other
     * users (0640 at most; the pid file is made 0644 on purpose), keeping
     * a stricter umask the operator set. */
    umask(umask(027) | 027);

    apr_getopt_init(&opt, pglobal, argc, argv);
    while ((rv = apr_getopt(opt, "f:d:D:k:tvVMSLh", &c, &optarg)) ==
           APR_SUCCESS) {
        switch (c) {
        case 'f':
            rl_proc.config_file = apr_pstrdup(pglobal, optarg);
            break;
        case 'd':
            if (optarg[0] != '/') {
                char cwd[4096];
                if (getcwd(cwd, sizeof(cwd)) == NULL) {
                    return 1;
                }
                optarg = apr_pstrcat(pglobal, cwd, "/", optarg, NULL);
            }
            rl_proc.server_root = apr_pstrdup(pglobal, optarg);
            break;
        case 'D':
            APR_ARRAY_PUSH(rl_proc.cmdline_defines, char *) =
                apr_pstrdup(pglobal, optarg);
            if (strcmp(optarg, "FOREGROUND") == 0) {
                rl_proc.foreground = 1;
            }
            break;
        case 'k':
            action = apr_pstrdup(pglobal, optarg);
            break;
        case 't':
            dump = DUMP_TEST;
            break;
        case 'M':
            dump = DUMP_MODULES;
            break;
        case 'S':
            dump = DUMP_VHOSTS;
            break;
        case 'L':
            dump = DUMP_DIRECTIVES;
            break;
        case 'v':
            show_version();
            return 0;
        case 'V':
            show_settings();
            return 0;
        default:
            usage(argv[0]);
            return c == 'h' ? 0 : 1;
        }
    }
    if (rv != APR_EOF || opt->ind < argc) {
        usage(argv[0]);
        return 1;
    }
    if (action != NULL && strcmp(action, "start") != 0 &&
        strcmp(action, "stop") != 0 && strcmp(action, "restart") != 0 &&
        strcmp(action, "graceful") != 0 &&
        strcmp(action, "graceful-stop") != 0) {
        fprintf(stderr,
                "relaisd: -k %s: expected start, stop, restart, "
                "graceful or graceful-stop\n",
                action);
        return 1;
    }

    if (dump != DUMP_NONE || action != NULL) {
        apr_pool_create(&pconf, pglobal);
        apr_pool_create(&ptemp, pconf);
        apr_pool_create(&rl_proc.plog, pconf);
        rl_proc.ptemp = ptemp;
        int errors = rl_config_load(pconf, ptemp);
        /* -t answers for a start by the same user: as root, a missing
         * User fails it as it would fail the start */
        if (!errors && dump == DUMP_TEST) {
            errors = workers_as_root_refused(ptemp);
        }
        if (errors) {
            report_errors(errors);
            return 1;
        }
        if (dump == DUMP_TEST) {
            if (rl_exists_define("DUMP_PIDFILE")) {
                printf("PidFile: %s\n", pid_path(ptemp));
            }
            if (rl_exists_define("DUMP_VHOSTS")) {
                rl_vhost_dump(rl_proc.main_server);
            }
            if (rl_exists_define("DUMP_MODULES")) {
                show_modules();
            }
            fprintf(stderr, "Syntax OK\n");
            return 0;
        }
        if (dump == DUMP_MODULES) {
            show_modules();
            return 0;
        }
        if (dump == DUMP_VHOSTS) {
            rl_vhost_dump(rl_proc.main_server);
            return 0;
        }
        if (dump == DUMP_DIRECTIVES) {
            show_directives();
            return 0;
        }
        if (strcmp(action, "start") == 0) {
            pid_t pid = read_pid(ptemp);
            if (pid > 0) {
                fprintf(stderr, "relaisd (pid %ld) already running\n",
                        (long)pid);
                return 0;
            }
        } else {
            int rc = signal_server(ptemp, action);
            if (rc >= 0) {
                return rc;
            }
        }
        apr_hook_deregister_all();
        apr_pool_destroy(pconf);
    }
    return run_generations(!rl_proc.foreground);
}
