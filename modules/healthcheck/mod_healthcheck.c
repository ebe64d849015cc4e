/*
 * mod_healthcheck: active health checks of proxy workers and balancer
 * members, with httpd's mod_proxy_hcheck keys on the worker
 * (BalancerMember or ProxyPass): hcmethod=TCP|OPTIONS|HEAD|GET,
 * hcuri=/path, hcinterval=duration (30 s), hcpasses=n (1), hcfails=n (1).
 *
 * One watchdog process per configuration generation, forked by the parent
 * after post_config, checks every member and sets or clears
 * RL_WORKER_HC_FAILED (+C) in the workers' shared state, so every child
 * stops (or resumes) sending traffic to it at once.  The checks block (a *
 * connect with a timeout, a small request), which is why they run in their own
 * process (as User/Group, like the children) and never on a request thread.
 * Every transition is logged at notice and fires proxy_member_state_changed.
 */
#include "rl_proxy.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

RL_LOG_USE_MODULE(healthcheck);

enum hc_method { HC_NONE = 0, HC_TCP, HC_OPTIONS, HC_HEAD, HC_GET };

/* A checked worker's settings and counters. */
typedef struct hc_conf_t {
    rl_proxy_worker_t *w;
    enum hc_method method;
    const char *uri;
    apr_interval_time_t interval;
    int passes, fails;
    int ok_run, fail_run; /* consecutive results (watchdog only) */
    apr_time_t next;
    apr_time_t since; /* when it last changed state (watchdog only) */
} hc_conf_t;

static apr_hash_t *hc_confs; /* rl_proxy_worker_t * -> hc_conf_t */
static pid_t watchdog_pid;


static apr_status_t hc_reset(void *unused)
{
    (void)unused;
    hc_confs = NULL;
    return APR_SUCCESS;
}


static hc_conf_t *hc_conf(apr_pool_t *p, rl_proxy_worker_t *w)
{
    hc_conf_t *c;

    if (hc_confs == NULL) {
        hc_confs = apr_hash_make(p);
        apr_pool_cleanup_register(p, NULL, hc_reset, apr_pool_cleanup_null);
    }
    c = apr_hash_get(hc_confs, &w, sizeof(w));
    if (c == NULL) {
        rl_proxy_worker_t **key = apr_palloc(p, sizeof(*key));
        c = apr_pcalloc(p, sizeof(*c));
        c->w = w;
        c->uri = "/";
        c->interval = apr_time_from_sec(30);
        c->passes = 1;
        c->fails = 1;
        *key = w;
        apr_hash_set(hc_confs, key, sizeof(*key), c);
    }
    return c;
}


static const char *set_method(apr_pool_t *p, rl_proxy_worker_t *w,
                              const char *v)
{
    static const char *const names[] = {"", "TCP", "OPTIONS", "HEAD", "GET"};
    int i;

    for (i = 1; i < 5; i++) {
        if (strcasecmp(v, names[i]) == 0) {
            hc_conf(p, w)->method = (enum hc_method)i;
            return NULL;
        }
    }
    return apr_psprintf(p, "hcmethod=%s: expected TCP, OPTIONS, HEAD or GET",
                        v);
}


static const char *set_uri(apr_pool_t *p, rl_proxy_worker_t *w, const char *v)
{
    if (v[0] != '/') {
        return apr_psprintf(p, "hcuri=%s: expected a path starting with /", v);
    }
    hc_conf(p, w)->uri = apr_pstrdup(p, v);
    return NULL;
}


static const char *set_interval(apr_pool_t *p, rl_proxy_worker_t *w,
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
    hc_conf(p, w)->interval = t;
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


static const char *set_passes(apr_pool_t *p, rl_proxy_worker_t *w,
                              const char *v)
{
    return set_count(p, &hc_conf(p, w)->passes, "hcpasses", v);
}


static const char *set_fails(apr_pool_t *p, rl_proxy_worker_t *w, const char *v)
{
    return set_count(p, &hc_conf(p, w)->fails, "hcfails", v);
}


static const char *set_unsupported(apr_pool_t *p, rl_proxy_worker_t *w,
                                   const char *v)
{
    (void)w;
    (void)v;
    return apr_psprintf(p, "hcexpr= and hctemplate= (and ProxyHCExpr, "
                           "ProxyHCTemplate) are not supported yet");
}


static const rl_proxy_worker_param_t p_method = {set_method};
static const rl_proxy_worker_param_t p_uri = {set_uri};
static const rl_proxy_worker_param_t p_interval = {set_interval};
static const rl_proxy_worker_param_t p_passes = {set_passes};
static const rl_proxy_worker_param_t p_fails = {set_fails};
static const rl_proxy_worker_param_t p_unsupported = {set_unsupported};

/* Waits for fd to be ready for events, up to `ms`; 1 ready, 0 not. */
static int wait_fd(int fd, short events, int ms)
{
    struct pollfd pfd = {fd, events, 0};

    return poll(&pfd, 1, ms) == 1 && !(pfd.revents & (POLLERR | POLLNVAL));
}


/* One check: NULL when it passed, else why it failed. */
static const char *hc_probe(hc_conf_t *c, char *buf, apr_size_t bufsz)
{
    static const char *const verbs[] = {"", "", "OPTIONS", "HEAD", "GET"};
    rl_proxy_worker_t *w = c->w;
    int ms = (int)apr_time_as_msec(
        w->connect_timeout > 0 ? w->connect_timeout : apr_time_from_sec(5));
    struct sockaddr_storage sa;
    socklen_t salen, el = sizeof(int);
    int fd, err = 0;
    const char *why = NULL;
    ssize_t n, got = 0;

    if (rl_proxy_worker_address(w, &sa, &salen) == 0) {
        return "no address (DNS)";
    }
    fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return "no socket";
    }
    if (connect(fd, (struct sockaddr *)&sa, salen) != 0 &&
        errno != EINPROGRESS) {
        why = strerror(errno);
    } else if (!wait_fd(fd, POLLOUT, ms) ||
               getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
        why = err ? strerror(err) : "connect timed out";
    } else if (c->method != HC_TCP) {
        int len = apr_snprintf(buf, bufsz,
                               "%s %s HTTP/1.1\r\nHost: %s\r\n"
                               "User-Agent: Relais-healthcheck\r\n"
                               "Connection: close\r\n\r\n",
                               verbs[c->method], c->uri, w->hostport);
        ms = (int)apr_time_as_msec(w->timeout > 0 ? w->timeout
                                                  : apr_time_from_sec(5));
        if (send(fd, buf, (size_t)len, MSG_NOSIGNAL) != len) {
            why = "request not sent";
        }
        while (why == NULL && got < 12) {
            if (!wait_fd(fd, POLLIN, ms)) {
                why = "no answer in time";
                break;
            }
            n = recv(fd, buf + got, bufsz - 1 - (size_t)got, 0);
            if (n <= 0) {
                why = "connection closed without an answer";
                break;
            }
            got += n;
        }
        if (why == NULL) {
            buf[got] = '\0';
            if (strncmp(buf, "HTTP/1.", 7) != 0 ||
                (buf[9] != '2' && buf[9] != '3')) {
                why = buf[9] >= '1' && buf[9] <= '5' ? "status not 2xx/3xx"
                                                     : "not an HTTP answer";
            }
        }
    }
    close(fd);
    return why;
}


/* Applies a result: after hcfails failures in a row the member is marked
 * +C (no traffic), after hcpasses passes in a row it takes traffic again. */
static void hc_record(hc_conf_t *c, const char *why)
{
    rl_proxy_worker_t *w = c->w;
    apr_uint32_t old = w->s->status;
    apr_time_t now = apr_time_now();

    if (why == NULL) {
        c->fail_run = 0;
        if (++c->ok_run >= c->passes && (old & RL_WORKER_HC_FAILED)) {
            rl_log_error(RL_LOG_NOTICE, 0, NULL,
                         "%s%s%s passed its health check %d time(s): back in "
                         "service after %ld s out%s",
                         w->balancer ? w->balancer->name : "",
                         w->balancer ? " member " : "backend ", w->name,
                         c->ok_run, (long)apr_time_sec(now - c->since),
                         w->slowstart > 0 ? " (slow start)" : "");
            c->since = now;
            rl_proxy_worker_set_status(w, 0, RL_WORKER_HC_FAILED, "healthcheck",
                                       "passed");
        }
        return;
    }
    c->ok_run = 0;
    if (++c->fail_run >= c->fails && !(old & RL_WORKER_HC_FAILED)) {
        rl_log_error(RL_LOG_NOTICE, 0, NULL,
                     "%s%s%s failed its health check %d time(s) (%s): taken "
                     "out of service after %ld s in service",
                     w->balancer ? w->balancer->name : "",
                     w->balancer ? " member " : "backend ", w->name,
                     c->fail_run, why, (long)apr_time_sec(now - c->since));
        c->since = now;
        rl_proxy_worker_set_status(w, RL_WORKER_HC_FAILED, 0, "healthcheck",
                                   why);
    }
}


static volatile sig_atomic_t hc_stop;

static void hc_on_signal(int sig)
{
    (void)sig;
    hc_stop = 1;
}


/* The watchdog process: checks each member when its interval is due. */
static void hc_watchdog(apr_array_header_t *list)
{
    char buf[512];
    struct sigaction sa;
    int i;

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
    for (i = 0; i < list->nelts; i++) {
        APR_ARRAY_IDX(list, i, hc_conf_t *)->since = apr_time_now();
    }
    while (!hc_stop) {
        apr_time_t now = apr_time_now(), soonest = now + apr_time_from_sec(1);
        for (i = 0; i < list->nelts && !hc_stop; i++) {
            hc_conf_t *c = APR_ARRAY_IDX(list, i, hc_conf_t *);
            if (c->next <= now) {
                hc_record(c, hc_probe(c, buf, sizeof(buf)));
                now = apr_time_now();
                c->next = now + c->interval;
            }
            if (c->next < soonest) {
                soonest = c->next;
            }
        }
        if (!hc_stop && soonest > now) {
            apr_sleep(soonest - now);
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


/* post_config (after mod_proxy has put the workers in shared memory):
 * start this generation's watchdog. */
static int hc_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, rl_server_t *s)
{
    apr_array_header_t *list = apr_array_make(pconf, 4, sizeof(hc_conf_t *));
    apr_hash_index_t *hi;
    pid_t pid;

    (void)plog;
    for (hi = hc_confs ? apr_hash_first(ptemp, hc_confs) : NULL; hi;
         hi = apr_hash_next(hi)) {
        hc_conf_t *c = apr_hash_this_val(hi);
        if (c->method == HC_NONE) {
            continue; /* only hcuri= and the like: no check asked for */
        }
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
    static const char *const after[] = {"proxy", "balancer", NULL};

    rl_register_provider(p, "proxy_worker_param", "hcmethod", "1", &p_method);
    rl_register_provider(p, "proxy_worker_param", "hcuri", "1", &p_uri);
    rl_register_provider(p, "proxy_worker_param", "hcinterval", "1",
                         &p_interval);
    rl_register_provider(p, "proxy_worker_param", "hcpasses", "1", &p_passes);
    rl_register_provider(p, "proxy_worker_param", "hcfails", "1", &p_fails);
    rl_register_provider(p, "proxy_worker_param", "hcexpr", "1",
                         &p_unsupported);
    rl_register_provider(p, "proxy_worker_param", "hctemplate", "1",
                         &p_unsupported);
    rl_hook_post_config(hc_post_config, after, NULL, RL_HOOK_LAST);
}


RL_DECLARE_MODULE(healthcheck) = {RL_MODULE_STUFF("healthcheck", "0.1.0", 0),
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  NULL,
                                  hc_register_hooks};
