/*
 * mpm_common.c: what every MPM shares: the parent's supervision of child
 * processes (spawn, respawn, scale, restart, graceful generations), the
 * scoreboard in shared memory, signals, and the drop of privileges.
 *
 * Signals to the parent: TERM stop, HUP restart, USR1 graceful restart,
 * WINCH graceful stop.  The parent tells children with TERM (stop now) and
 * USR1 (finish what you are doing, then exit); a child never closes the
 * listening sockets, so while old children finish and new ones start no
 * connection is refused.
 */
#include "core.h"

#include <apr_shm.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

RL_LOG_USE_MODULE(core);

#define SB_SLOTS 1024
#define RESPAWN_BACKOFF apr_time_from_sec(1)

/* One child process, in shared memory so that the parent and the status
 * module (rl_scoreboard_read) see what each child reports. */
typedef struct sb_slot_t {
    volatile pid_t pid;
    volatile int generation;
    volatile int busy;
    volatile int idle;
    volatile apr_uint32_t requests;
    volatile int graceful; /* told to finish */
    volatile apr_time_t started;
    volatile apr_uint32_t nthreads; /* thread records handed out */
} sb_slot_t;

/*
 * After the slots, RL_SB_THREADS_MAX thread records per slot (the
 * connection engine counts into them, see rl_sb_thread()).  A thread
 * takes its record when it opens its first connection, so an MPM needs
 * no code for it; each record is written by its own thread alone (with
 * relaxed atomics all the same: the last record is shared past
 * RL_SB_THREADS_MAX threads).  The segment is anonymous memory: its pages
 * start zeroed and only the records in use are ever touched.
 */
static sb_slot_t *scoreboard;
static rl_sb_thread_t *sb_threads;
static apr_shm_t *sb_shm;
/* In a child: its slot (-1 in the parent). */
static int sb_my_slot = -1;
static __thread rl_sb_thread_t *sb_mine;

static volatile sig_atomic_t sig_stop, sig_restart, sig_graceful,
    sig_graceful_stop;
static volatile sig_atomic_t child_stop, child_stop_now;
static const char *mpm_name;

RL_DECLARE(rl_mpm_settings_t *) rl_mpm_settings(void)
{
    return &rl_proc.mpm;
}

RL_DECLARE(const char *) rl_mpm_name(void)
{
    return rl_proc.mpm_module ? rl_proc.mpm_module->name + 4 : mpm_name;
}

RL_DECLARE(int) rl_mpm_stopping(void)
{
    return child_stop || child_stop_now;
}

RL_DECLARE(int) rl_mpm_stopping_now(void)
{
    return child_stop_now;
}

RL_DECLARE(void) rl_mpm_report(int slot, int busy, int idle)
{
    if (scoreboard != NULL && slot >= 0 && slot < SB_SLOTS) {
        scoreboard[slot].busy = busy;
        scoreboard[slot].idle = idle;
    }
}

RL_DECLARE(void) rl_mpm_count_request(int slot)
{
    if (scoreboard != NULL && slot >= 0 && slot < SB_SLOTS) {
        apr_atomic_inc32(&scoreboard[slot].requests);
    }
}

rl_sb_thread_t *rl_sb_thread(void)
{
    if (sb_mine == NULL && sb_threads != NULL && sb_my_slot >= 0) {
        apr_uint32_t i = __atomic_fetch_add(&scoreboard[sb_my_slot].nthreads, 1,
                                            __ATOMIC_RELAXED);
        if (i >= RL_SB_THREADS_MAX) {
            i = RL_SB_THREADS_MAX - 1;
        }
        sb_mine = &sb_threads[sb_my_slot * RL_SB_THREADS_MAX + (int)i];
    }
    return sb_mine;
}

/* A slot taken by a new child, or freed: no counts of an earlier one. */
static void sb_clear_threads(int slot)
{
    memset(&sb_threads[slot * RL_SB_THREADS_MAX], 0,
           sizeof(rl_sb_thread_t) * RL_SB_THREADS_MAX);
}

static void sb_read_slot(int i, rl_scoreboard_view_t *v)
{
    const sb_slot_t *sl = &scoreboard[i];
    int t, k, n;

    memset(v, 0, sizeof(*v));
    v->slot = i;
    v->pid = sl->pid;
    v->generation = sl->generation;
    v->graceful = sl->graceful;
    v->started = sl->started;
    v->busy = sl->busy;
    v->idle = sl->idle;
    v->requests = __atomic_load_n(&sl->requests, __ATOMIC_RELAXED);
    n = (int)__atomic_load_n(&sl->nthreads, __ATOMIC_RELAXED);
    v->nthreads = n > RL_SB_THREADS_MAX ? RL_SB_THREADS_MAX : n;
    for (t = 0; t < v->nthreads; t++) {
        const rl_sb_thread_t *th = &sb_threads[i * RL_SB_THREADS_MAX + t];
        for (k = 0; k < RL_SB_NSTATES; k++) {
            apr_uint32_t c = __atomic_load_n(&th->conns[k], __ATOMIC_RELAXED);
            /* a decrement seen before its increment: a moment's skew */
            c = c > 0x7fffffffu ? 0 : c;
            v->threads[t].conns[k] = c;
            v->conns[k] += c;
        }
        v->threads[t].requests =
            __atomic_load_n(&th->requests, __ATOMIC_RELAXED);
        v->requests += v->threads[t].requests;
    }
}

RL_DECLARE(int) rl_scoreboard_read(rl_scoreboard_view_t *out, int max)
{
    int i, n = 0;

    if (scoreboard == NULL) {
        return 0;
    }
    for (i = 0; i < SB_SLOTS; i++) {
        if (scoreboard[i].pid == 0) {
            continue;
        }
        if (n < max) {
            sb_read_slot(i, &out[n]);
            if (out[n].pid == 0) {
                continue; /* reaped while being read */
            }
        }
        n++;
    }
    return n;
}

static apr_status_t scoreboard_init(void)
{
    apr_size_t size = sizeof(sb_slot_t) * SB_SLOTS;
    apr_status_t rv;

    if (scoreboard != NULL) {
        return APR_SUCCESS;
    }
    /* Anonymous shared memory: inherited by children at fork, and kept
     * by the parent across restarts (it lives in the global pool). */
    size += sizeof(rl_sb_thread_t) * SB_SLOTS * RL_SB_THREADS_MAX;
    rv = apr_shm_create(&sb_shm, size, NULL, rl_proc.pglobal);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    scoreboard = apr_shm_baseaddr_get(sb_shm);
    memset(scoreboard, 0, sizeof(sb_slot_t) * SB_SLOTS);
    sb_threads = (rl_sb_thread_t *)(scoreboard + SB_SLOTS);
    return APR_SUCCESS;
}

static void parent_signal(int sig)
{
    switch (sig) {
    case SIGTERM:
    case SIGINT:
        sig_stop = 1;
        break;
    case SIGHUP:
        sig_restart = 1;
        break;
    case SIGUSR1:
        sig_graceful = 1;
        break;
    case SIGWINCH:
        sig_graceful_stop = 1;
        break;
    default:
        break;
    }
}

static void child_signal(int sig)
{
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
        child_stop_now = 1;
    } else {
        child_stop = 1;
    }
}

static void set_handler(int sig, void (*fn)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void parent_signals(void)
{
    set_handler(SIGTERM, parent_signal);
    set_handler(SIGINT, parent_signal);
    set_handler(SIGHUP, parent_signal);
    set_handler(SIGUSR1, parent_signal);
    set_handler(SIGWINCH, parent_signal);
    set_handler(SIGPIPE, SIG_IGN);
}

void rl_mpm_child_signals(void)
{
    set_handler(SIGTERM, child_signal);
    set_handler(SIGINT, child_signal);
    set_handler(SIGHUP, child_signal);
    set_handler(SIGUSR1, child_signal);
    set_handler(SIGWINCH, child_signal);
    set_handler(SIGPIPE, SIG_IGN);
}

/* The user and group of User/Group: 1 found (pw/gr may be NULL when not
 * configured), 0 an error (logged when `log` is set). */
static int resolve_ids(struct passwd **pw, struct group **gr, int log)
{
    *pw = NULL;
    *gr = NULL;
    if (rl_proc.user != NULL) {
        *pw = rl_proc.user[0] == '#' ? getpwuid((uid_t)atoi(rl_proc.user + 1))
                                     : getpwnam(rl_proc.user);
        if (*pw == NULL) {
            if (log) {
                rl_log_error(RL_LOG_ALERT, 0, NULL,
                             "User %s: no such user: refusing to serve as "
                             "root",
                             rl_proc.user);
            }
            return 0;
        }
    }
    if (rl_proc.group != NULL) {
        *gr = rl_proc.group[0] == '#' ? getgrgid((gid_t)atoi(rl_proc.group + 1))
                                      : getgrnam(rl_proc.group);
        if (*gr == NULL) {
            if (log) {
                rl_log_error(RL_LOG_ALERT, 0, NULL,
                             "Group %s: no such group: refusing to serve as "
                             "root",
                             rl_proc.group);
            }
            return 0;
        }
    }
    return 1;
}

RL_DECLARE(int) rl_child_ids(uid_t *uid, gid_t *gid)
{
    struct passwd *pw;
    struct group *gr;

    if (geteuid() != 0 || (rl_proc.user == NULL && rl_proc.group == NULL) ||
        !resolve_ids(&pw, &gr, 0)) {
        return 0;
    }
    *uid = pw ? pw->pw_uid : geteuid();
    *gid = gr ? gr->gr_gid : pw ? pw->pw_gid : getgid();
    return 1;
}

RL_DECLARE(apr_status_t) rl_mpm_drop_privileges(void)
{
    struct passwd *pw = NULL;
    struct group *gr = NULL;
    gid_t gid;

    if (geteuid() != 0 || (rl_proc.user == NULL && rl_proc.group == NULL)) {
        return APR_SUCCESS;
    }
    if (!resolve_ids(&pw, &gr, 1)) {
        return APR_EGENERAL;
    }
    gid = gr ? gr->gr_gid : pw ? pw->pw_gid : getgid();
    if (setgid(gid) != 0 ||
        (pw ? initgroups(pw->pw_name, gid) : setgroups(0, NULL)) != 0) {
        rl_log_error(RL_LOG_ALERT, APR_FROM_OS_ERROR(errno), NULL,
                     "cannot switch to group %lu", (unsigned long)gid);
        return APR_EGENERAL;
    }
    if (pw != NULL && setuid(pw->pw_uid) != 0) {
        rl_log_error(RL_LOG_ALERT, APR_FROM_OS_ERROR(errno), NULL,
                     "cannot switch to user %s", pw->pw_name);
        return APR_EGENERAL;
    }
    /* allow core dumps after setuid, for post-mortem debugging */
    prctl(PR_SET_DUMPABLE, 1);
    return APR_SUCCESS;
}

/* In the new child: drop privileges, run child_init, the MPM's body,
 * child_exit; never returns. */
static void child_run(const rl_mpm_spec_t *spec, apr_pool_t *pconf,
                      rl_server_t *s, int slot)
{
    apr_pool_t *pchild;

    rl_mpm_child_signals();
    rl_log_set_pid();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (rl_mpm_drop_privileges() != APR_SUCCESS) {
        _exit(2);
    }
    apr_pool_create(&pchild, pconf);
    rl_run_child_init(pchild, s);
    spec->child_main(pchild, slot);
    rl_run_child_exit(pchild, s);
    apr_pool_destroy(pchild);
    _exit(0);
}

static int free_slot(void)
{
    int i;

    for (i = 0; i < SB_SLOTS; i++) {
        if (scoreboard[i].pid == 0) {
            return i;
        }
    }
    return -1;
}

static int spawn(const rl_mpm_spec_t *spec, apr_pool_t *pconf, rl_server_t *s)
{
    int slot = free_slot();
    sigset_t all, old;
    pid_t pid;

    if (slot < 0) {
        return -1;
    }
    /* No signal may reach the child before it installs its own handlers
     * (it would run the parent's and be lost). */
    /* The slot is ready before the child can report into it. */
    scoreboard[slot].generation = rl_proc.generation;
    scoreboard[slot].busy = 0;
    scoreboard[slot].idle = 0;
    scoreboard[slot].graceful = 0;
    scoreboard[slot].requests = 0;
    scoreboard[slot].nthreads = 0;
    scoreboard[slot].started = apr_time_now();
    sb_clear_threads(slot);
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid = fork();
    if (pid < 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        rl_log_error(RL_LOG_ALERT, APR_FROM_OS_ERROR(errno), s,
                     "cannot fork a child process");
        return -1;
    }
    if (pid == 0) {
        sb_my_slot = slot;
        scoreboard[slot].pid = getpid();
        rl_mpm_child_signals();
        sigprocmask(SIG_SETMASK, &old, NULL);
        child_run(spec, pconf, s, slot);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    scoreboard[slot].pid = pid;
    return slot;
}

/* Collects exited children.  Returns how many of the current generation
 * died without being asked to. */
static int reap(rl_server_t *s)
{
    int status, unexpected = 0;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int i;
        for (i = 0; i < SB_SLOTS; i++) {
            if (scoreboard[i].pid != pid) {
                continue;
            }
            if (scoreboard[i].generation == rl_proc.generation &&
                !scoreboard[i].graceful &&
                (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)) {
                /* a clean exit is a recycled child (MaxConnectionsPerChild):
                 * replaced at once, without the crash back-off */
                unexpected++;
                if (WIFSIGNALED(status)) {
                    rl_log_error(RL_LOG_ERR, 0, s,
                                 "child pid %ld exited on signal %d%s",
                                 (long)pid, WTERMSIG(status),
                                 WCOREDUMP(status) ? " (core dumped)" : "");
                } else if (WEXITSTATUS(status) != 0) {
                    rl_log_error(RL_LOG_ERR, 0, s,
                                 "child pid %ld exited with status %d",
                                 (long)pid, WEXITSTATUS(status));
                }
            }
            memset(&scoreboard[i], 0, sizeof(scoreboard[i]));
            sb_clear_threads(i);
            break;
        }
    }
    return unexpected;
}

static int count_children(int generation_only, int *idle)
{
    int i, n = 0;

    *idle = 0;
    for (i = 0; i < SB_SLOTS; i++) {
        if (scoreboard[i].pid == 0) {
            continue;
        }
        if (generation_only &&
            (scoreboard[i].generation != rl_proc.generation ||
             scoreboard[i].graceful)) {
            continue;
        }
        n++;
        *idle += scoreboard[i].idle;
    }
    return n;
}

static void signal_children(int sig, int old_only)
{
    int i;

    for (i = 0; i < SB_SLOTS; i++) {
        if (scoreboard[i].pid <= 0) {
            continue; /* never kill(0 or -1, …): that is a process group */
        }
        if (old_only && scoreboard[i].generation == rl_proc.generation) {
            continue;
        }
        if (sig == SIGUSR1) {
            scoreboard[i].graceful = 1;
        }
        kill(scoreboard[i].pid, sig);
    }
}

/* Waits for every child to exit, up to `limit` (0 = no limit), then kills
 * what is left. */
static void wait_all(rl_server_t *s, apr_interval_time_t limit)
{
    apr_time_t end = apr_time_now() + limit;
    int idle;

    for (;;) {
        reap(s);
        if (count_children(0, &idle) == 0) {
            return;
        }
        if (limit > 0 && apr_time_now() > end) {
            rl_log_error(RL_LOG_WARNING, 0, s,
                         "children still running after %ld s: killing them",
                         (long)apr_time_sec(limit));
            signal_children(SIGKILL, 0);
            limit = 0;
            end = apr_time_now() + apr_time_from_sec(5);
        }
        apr_sleep(apr_time_from_msec(20));
    }
}

/* Spare-capacity scaling for dynamic MPMs (prefork): keep between
 * MinSpare and MaxSpare idle workers, within MaxRequestWorkers. */
static void scale(const rl_mpm_spec_t *spec, apr_pool_t *pconf, rl_server_t *s)
{
    rl_mpm_settings_t *m = &rl_proc.mpm;
    int idle, n = count_children(1, &idle), i;
    int per_child = m->threads_per_child > 0 ? m->threads_per_child : 1;
    int max_children = m->max_request_workers / per_child;

    if (max_children > m->server_limit) {
        max_children = m->server_limit;
    }
    if (idle < m->min_spare && n < max_children) {
        spawn(spec, pconf, s);
    } else if (idle > m->max_spare && n > 1) {
        for (i = SB_SLOTS - 1; i >= 0; i--) {
            if (scoreboard[i].pid > 0 &&
                scoreboard[i].generation == rl_proc.generation &&
                !scoreboard[i].graceful && scoreboard[i].busy == 0) {
                scoreboard[i].graceful = 1;
                kill(scoreboard[i].pid, SIGUSR1);
                break;
            }
        }
    }
}

RL_DECLARE(int)
rl_mpm_supervise(const rl_mpm_spec_t *spec, apr_pool_t *pconf, rl_server_t *s)
{
    rl_mpm_settings_t *m = &rl_proc.mpm;
    apr_time_t next_spawn_ok = 0, last_scale = 0;
    int i, idle;

    mpm_name = spec->name;
    if (scoreboard_init() != APR_SUCCESS) {
        rl_log_error(RL_LOG_EMERG, 0, s, "cannot create the scoreboard");
        return RL_MPM_EXIT;
    }
    sig_stop = sig_restart = sig_graceful = sig_graceful_stop = 0;
    parent_signals();
    if (m->server_limit > SB_SLOTS / 2) {
        m->server_limit = SB_SLOTS / 2;
    }
    rl_log_error(RL_LOG_NOTICE, 0, s,
                 "Relais/%s (%s MPM) configured -- resuming normal operations",
                 rl_version(), spec->name);
    for (i = count_children(1, &idle); i < m->start_servers; i++) {
        spawn(spec, pconf, s);
    }
    /* After a graceful restart the previous generation is still serving:
     * now that its successors accept connections, let it finish. */
    signal_children(SIGUSR1, 1);
    for (;;) {
        int died;

        apr_sleep(apr_time_from_msec(100));
        died = reap(s);
        if (sig_stop) {
            rl_log_error(RL_LOG_NOTICE, 0, s, "caught SIGTERM, shutting down");
            rl_listen_shut();
            signal_children(SIGTERM, 0);
            wait_all(s, apr_time_from_sec(10));
            return RL_MPM_EXIT;
        }
        if (sig_restart) {
            rl_log_error(RL_LOG_NOTICE, 0, s,
                         "SIGHUP received: attempting to restart");
            signal_children(SIGTERM, 0);
            wait_all(s, apr_time_from_sec(10));
            return RL_MPM_RESTART;
        }
        if (sig_graceful) {
            rl_log_error(RL_LOG_NOTICE, 0, s,
                         "SIGUSR1 received: graceful restart");
            /* The children keep serving while the configuration is read
             * again; the next generation tells them to finish once its
             * own children run (see above). */
            return RL_MPM_GRACEFUL;
        }
        if (sig_graceful_stop) {
            rl_log_error(RL_LOG_NOTICE, 0, s,
                         "SIGWINCH received: graceful stop");
            rl_listen_shut();
            signal_children(SIGUSR1, 0);
            wait_all(s, rl_proc.graceful_timeout);
            return RL_MPM_EXIT;
        }
        if (died > 0 || count_children(1, &idle) < m->start_servers) {
            /* A crashing child must not become a fork storm. */
            if (apr_time_now() < next_spawn_ok) {
                continue;
            }
            while (count_children(1, &idle) < m->start_servers) {
                if (spawn(spec, pconf, s) < 0) {
                    break;
                }
            }
            if (died > 0) {
                next_spawn_ok = apr_time_now() + RESPAWN_BACKOFF;
            }
        }
        if (spec->dynamic &&
            apr_time_now() - last_scale > apr_time_from_msec(500)) {
            scale(spec, pconf, s);
            last_scale = apr_time_now();
        }
    }
}
