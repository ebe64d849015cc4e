/*
 * status_page.c: SetHandler server-status.
 *
 *   /server-status             an HTML page for an operator: the server,
 *                              its traffic, its processes and threads,
 *                              its vhosts, balancers and members, its cache
 *   /server-status?refresh=N   the same, reloaded every N seconds (a
 *                              Refresh header, as httpd sends, and a meta
 *                              refresh in the page); ?refresh alone is 1 s
 *   /server-status?auto        plain "Key: value" lines in httpd's format
 *                              (the keys httpd has mean what they mean
 *                              there), for scripts and `relaisctl
 *                              fullstatus`
 *
 * Every name that reaches the page (vhost, balancer, member, route) is
 * HTML-escaped.  The page shows no secret: no header, cookie, query or
 * client address of anybody's request; it is meant to sit behind Require
 * all the same (conf/mods-available/status.conf).
 */
#include "status_data.h"

#include <apr_date.h>
#include <apr_lib.h>
#include <stdlib.h>

/* The longest scoreboard line ?auto and the page print. */
#define ST_SCOREBOARD_MAX 8192

const char *st_html(apr_pool_t *p, const char *s)
{
    apr_size_t extra = 0, n = 0;
    const char *c;
    char *out, *o;

    for (c = s; *c; c++, n++) {
        switch (*c) {
        case '&':
            extra += 4;
            break;
        case '<':
        case '>':
            extra += 3;
            break;
        case '"':
        case '\'':
            extra += 5;
            break;
        default:
            break;
        }
    }
    if (extra == 0) {
        return s;
    }
    out = o = apr_palloc(p, n + extra + 1);
    for (c = s; *c; c++) {
        const char *rep = *c == '&'    ? "&amp;"
                          : *c == '<'  ? "&lt;"
                          : *c == '>'  ? "&gt;"
                          : *c == '"'  ? "&quot;"
                          : *c == '\'' ? "&#39;"
                                       : NULL;
        if (rep == NULL) {
            *o++ = *c;
        } else {
            apr_size_t k = strlen(rep);
            memcpy(o, rep, k);
            o += k;
        }
    }
    *o = '\0';
    return out;
}


/* ------------------------------------------------------------------ */
/* Formatting                                                          */
/* ------------------------------------------------------------------ */

static const char *show_bytes(apr_pool_t *p, double n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;

    while (n >= 1024 && u < 4) {
        n /= 1024;
        u++;
    }
    return u == 0 ? apr_psprintf(p, "%.0f B", n)
                  : apr_psprintf(p, "%.1f %s", n, units[u]);
}


/* "3 days 4 hours 5 minutes 6 seconds", as httpd writes an uptime. */
static const char *show_span(apr_pool_t *p, apr_interval_time_t t)
{
    long s = (long)apr_time_sec(t), d = s / 86400, h = s / 3600 % 24,
         m = s / 60 % 60;
    const char *out = "";

    s %= 60;
    if (d) {
        out = apr_psprintf(p, "%ld day%s ", d, d == 1 ? "" : "s");
    }
    if (d || h) {
        out = apr_psprintf(p, "%s%ld hour%s ", out, h, h == 1 ? "" : "s");
    }
    if (d || h || m) {
        out = apr_psprintf(p, "%s%ld minute%s ", out, m, m == 1 ? "" : "s");
    }
    return apr_psprintf(p, "%s%ld second%s", out, s, s == 1 ? "" : "s");
}


/* "12.3 ms", "1.52 s", "830 µs" */
static const char *show_us(apr_pool_t *p, double us)
{
    if (us < 1000) {
        return apr_psprintf(p, "%.0f &micro;s", us);
    }
    if (us < 1000000) {
        return apr_psprintf(p, "%.1f ms", us / 1000);
    }
    return apr_psprintf(p, "%.2f s", us / 1000000);
}


/* "12 s", "5 min", "3 h", "2 d": how long ago, at a glance. */
static const char *show_ago(apr_pool_t *p, apr_interval_time_t t)
{
    long s = (long)apr_time_sec(t);

    return s < 120      ? apr_psprintf(p, "%ld s", s)
           : s < 7200   ? apr_psprintf(p, "%ld min", s / 60)
           : s < 172800 ? apr_psprintf(p, "%ld h", s / 3600)
                        : apr_psprintf(p, "%ld d", s / 86400);
}


/* httpd's time format on its status page, in local time. */
static const char *show_time(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t xt;
    char buf[100];
    apr_size_t n;

    apr_time_exp_lt(&xt, t);
    if (apr_strftime(buf, &n, sizeof(buf), "%A, %d-%b-%Y %H:%M:%S %Z", &xt) !=
        APR_SUCCESS) {
        return "-";
    }
    return apr_pstrdup(p, buf);
}


static double per_sec(double n, apr_interval_time_t up)
{
    double s = (double)up / APR_USEC_PER_SEC;

    return s > 0 ? n / s : 0;
}


static const char *hostname(rl_request_t *r)
{
    return r->hostname && *r->hostname ? r->hostname
           : r->server->server_name    ? r->server->server_name
                                       : "localhost";
}


/* The scoreboard line: one letter per thread of each child, then '.'
 * for the room left up to ServerLimit children. */
static const char *scoreboard_line(apr_pool_t *p, const st_snapshot_t *snap)
{
    int per = snap->threads_per_child, total, i, t, n = 0;
    char *out;

    total = (snap->server_limit > snap->nchildren ? snap->server_limit
                                                  : snap->nchildren) *
            per;
    if (total > ST_SCOREBOARD_MAX) {
        total = ST_SCOREBOARD_MAX;
    }
    out = apr_palloc(p, (apr_size_t)total + 1);
    for (i = 0; i < snap->nchildren && n < total; i++) {
        for (t = 0; t < per && n < total; t++) {
            out[n++] = st_thread_letter(snap, &snap->children[i], t);
        }
    }
    while (n < total) {
        out[n++] = '.';
    }
    out[n] = '\0';
    return out;
}


/* ------------------------------------------------------------------ */
/* ?auto                                                               */
/* ------------------------------------------------------------------ */

static void auto_page(rl_request_t *r, const st_snapshot_t *snap)
{
    apr_interval_time_t up = snap->now - st_started();
    double secs = (double)up / APR_USEC_PER_SEC;
    const st_proc_t *pr = &snap->proc;
    const st_totals_t *t = &snap->totals;
    double loads[3];

    rl_set_content_type(r, "text/plain; charset=utf-8");
    rl_rprintf(r, "%s\n", hostname(r));
    rl_rprintf(r, "ServerVersion: Relais/%s\n", rl_version());
    rl_rprintf(r, "ServerMPM: %s\n", snap->mpm);
    rl_rprintf(r, "CurrentTime: %s\n", show_time(r->pool, snap->now));
    rl_rprintf(r, "RestartTime: %s\n", show_time(r->pool, st_loaded()));
    rl_rprintf(r, "StartTime: %s\n", show_time(r->pool, st_started()));
    rl_rprintf(r, "ParentServerConfigGeneration: %d\n", st_generation());
    rl_rprintf(r, "ServerUptimeSeconds: %ld\n", (long)apr_time_sec(up));
    rl_rprintf(r, "ServerUptime: %s\n", show_span(r->pool, up));
    if (getloadavg(loads, 3) == 3) {
        rl_rprintf(r, "Load1: %.2f\nLoad5: %.2f\nLoad15: %.2f\n", loads[0],
                   loads[1], loads[2]);
    }
    if (st_counting()) {
        rl_rprintf(r, "Total Accesses: %" APR_UINT64_T_FMT "\n", t->requests);
        rl_rprintf(r, "Total kBytes: %" APR_UINT64_T_FMT "\n",
                   t->bytes_out / 1024);
        rl_rprintf(r, "Total Duration: %" APR_UINT64_T_FMT "\n",
                   t->duration_us / 1000);
    }
    if (pr->ok) {
        double cpu = pr->parent_user + pr->parent_sys + pr->children_user +
                     pr->children_sys + pr->reaped_user + pr->reaped_sys;
        rl_rprintf(r, "CPUUser: %g\n", pr->parent_user + pr->children_user);
        rl_rprintf(r, "CPUSystem: %g\n", pr->parent_sys + pr->children_sys);
        rl_rprintf(r, "CPUChildrenUser: %g\n", pr->reaped_user);
        rl_rprintf(r, "CPUChildrenSystem: %g\n", pr->reaped_sys);
        rl_rprintf(r, "CPULoad: %g\n", secs > 0 ? cpu / secs * 100 : 0);
    }
    rl_rprintf(r, "Uptime: %ld\n", (long)apr_time_sec(up));
    if (st_counting()) {
        rl_rprintf(r, "ReqPerSec: %g\n", per_sec((double)t->requests, up));
        rl_rprintf(r, "BytesPerSec: %g\n", per_sec((double)t->bytes_out, up));
        rl_rprintf(r, "BytesPerReq: %g\n",
                   t->requests ? (double)t->bytes_out / t->requests : 0);
        rl_rprintf(r, "DurationPerReq: %g\n",
                   t->requests ? (double)t->duration_us / 1000 / t->requests
                               : 0);
    }
    rl_rprintf(r, "BusyWorkers: %d\n", snap->busy);
    rl_rprintf(r, "GracefulWorkers: %d\n", snap->graceful_busy);
    rl_rprintf(r, "IdleWorkers: %d\n", snap->idle);
    rl_rprintf(r, "Processes: %d\n", snap->nchildren);
    rl_rprintf(r, "Stopping: %d\n", snap->stopping);
    rl_rprintf(r, "ConnsTotal: %u\n",
               snap->conns[RL_SB_READING] + snap->conns[RL_SB_WRITING] +
                   snap->conns[RL_SB_KEEPALIVE] + snap->conns[RL_SB_CLOSING]);
    rl_rprintf(r, "ConnsAsyncReading: %u\n", snap->conns[RL_SB_READING]);
    rl_rprintf(r, "ConnsAsyncWriting: %u\n", snap->conns[RL_SB_WRITING]);
    rl_rprintf(r, "ConnsAsyncKeepAlive: %u\n", snap->conns[RL_SB_KEEPALIVE]);
    rl_rprintf(r, "ConnsAsyncClosing: %u\n", snap->conns[RL_SB_CLOSING]);
    if (snap->cache_on) {
        const cache_metrics_t *c = &snap->cache;
        apr_uint64_t looked = c->hits + c->stale + c->misses;
        rl_rprintf(r, "CacheHits: %" APR_UINT64_T_FMT "\n", c->hits);
        rl_rprintf(r, "CacheMisses: %" APR_UINT64_T_FMT "\n", c->misses);
        rl_rprintf(r, "CacheStale: %" APR_UINT64_T_FMT "\n", c->stale);
        rl_rprintf(r, "CacheHitRatio: %g\n",
                   looked ? (double)(c->hits + c->stale) / looked : 0);
    }
    rl_rprintf(r, "Scoreboard: %s\n", scoreboard_line(r->pool, snap));
}


/* ------------------------------------------------------------------ */
/* The HTML page                                                       */
/* ------------------------------------------------------------------ */

static const char st_css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222}"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;"
    "border-bottom:1px solid #ccc}h3{font-size:1em}"
    "table{border-collapse:collapse;margin:.4em 0}"
    "th,td{border:1px solid #ccc;padding:2px 8px;text-align:right;"
    "white-space:nowrap}"
    "th{background:#eee}td.l,th.l{text-align:left}td.l{white-space:normal}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em}"
    "dt{font-weight:bold}dd{margin:0}"
    ".up{color:#070}.down{color:#b00;font-weight:bold}.warn{color:#a60}"
    "pre{background:#f6f6f6;padding:.4em;white-space:pre-wrap;"
    "word-break:break-all}";

static void page_head(rl_request_t *r, int refresh)
{
    const char *host = st_html(r->pool, hostname(r));

    rl_set_content_type(r, "text/html; charset=utf-8");
    rl_rputs(r, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
                "<meta charset=\"utf-8\">\n");
    if (refresh > 0) {
        rl_rprintf(r, "<meta http-equiv=\"refresh\" content=\"%d\">\n",
                   refresh);
    }
    rl_rprintf(r,
               "<title>Relais status: %s</title>\n<style>%s</style>\n"
               "</head><body>\n<h1>Relais status for %s</h1>\n",
               host, st_css, host);
}


static void page_server(rl_request_t *r, const st_snapshot_t *snap)
{
    apr_interval_time_t up = snap->now - st_started();

    rl_rputs(r, "<dl>\n");
    rl_rprintf(r, "<dt>Server version</dt><dd>Relais/%s</dd>\n", rl_version());
    rl_rprintf(r, "<dt>MPM</dt><dd>%s (%d thread%s per child)</dd>\n",
               st_html(r->pool, snap->mpm), snap->threads_per_child,
               snap->threads_per_child == 1 ? "" : "s");
    rl_rprintf(r, "<dt>Current time</dt><dd>%s</dd>\n",
               show_time(r->pool, snap->now));
    rl_rprintf(r, "<dt>Started</dt><dd>%s</dd>\n",
               show_time(r->pool, st_started()));
    rl_rprintf(r, "<dt>Configuration</dt><dd>generation %d, loaded %s</dd>\n",
               st_generation(), show_time(r->pool, st_loaded()));
    rl_rprintf(r, "<dt>Uptime</dt><dd>%s</dd>\n", show_span(r->pool, up));
    rl_rputs(r, "</dl>\n");
}


static void page_traffic(rl_request_t *r, const st_snapshot_t *snap)
{
    apr_interval_time_t up = snap->now - st_started();
    const st_totals_t *t = &snap->totals;
    const st_proc_t *pr = &snap->proc;

    rl_rputs(r, "<h2>Traffic</h2>\n");
    if (!st_counting()) {
        rl_rputs(r, "<p>Request counters are off (ExtendedStatus Off).</p>\n");
    } else {
        rl_rputs(r, "<table><tr><th>Requests</th><th>Requests/s</th>"
                    "<th>Received</th><th>Sent</th><th>Sent/s</th>"
                    "<th>Sent/request</th><th>Mean duration</th></tr>\n");
        rl_rprintf(
            r,
            "<tr><td>%" APR_UINT64_T_FMT "</td><td>%.2f</td><td>%s</td>"
            "<td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr></table>\n",
            t->requests, per_sec((double)t->requests, up),
            show_bytes(r->pool, (double)t->bytes_in),
            show_bytes(r->pool, (double)t->bytes_out),
            show_bytes(r->pool, per_sec((double)t->bytes_out, up)),
            show_bytes(r->pool,
                       t->requests ? (double)t->bytes_out / t->requests : 0),
            show_us(r->pool,
                    t->requests ? (double)t->duration_us / t->requests : 0));
    }
    if (pr->ok) {
        double secs = (double)up / APR_USEC_PER_SEC;
        double cpu = pr->parent_user + pr->parent_sys + pr->children_user +
                     pr->children_sys + pr->reaped_user + pr->reaped_sys;
        rl_rprintf(
            r,
            "<p>CPU: %.2f s user, %.2f s system (%.3f%% of one CPU "
            "since the start); memory: %s resident in %d "
            "process%s (shared pages counted in each)</p>\n",
            pr->parent_user + pr->children_user + pr->reaped_user,
            pr->parent_sys + pr->children_sys + pr->reaped_sys,
            secs > 0 ? cpu / secs * 100 : 0.0,
            show_bytes(r->pool, (double)(pr->parent_rss + pr->children_rss)),
            pr->nprocs, pr->nprocs == 1 ? "" : "es");
    }
}


static void page_children(rl_request_t *r, const st_snapshot_t *snap)
{
    int i, t;

    rl_rputs(r, "<h2>Processes and threads</h2>\n");
    rl_rprintf(r,
               "<p>%d request%s being processed, %d idle worker%s; %d "
               "child process%s (%d finishing after a restart); "
               "connections: %u reading, %u writing, %u keep-alive, %u "
               "closing.</p>\n",
               snap->busy, snap->busy == 1 ? "" : "s", snap->idle,
               snap->idle == 1 ? "" : "s", snap->nchildren,
               snap->nchildren == 1 ? "" : "es", snap->stopping,
               snap->conns[RL_SB_READING], snap->conns[RL_SB_WRITING],
               snap->conns[RL_SB_KEEPALIVE], snap->conns[RL_SB_CLOSING]);
    rl_rputs(r, "<table><tr><th>Slot</th><th>PID</th><th>Generation</th>"
                "<th class=\"l\">State</th><th>Age</th><th>Requests</th>"
                "<th>Reading</th><th>Writing</th><th>Keep-alive</th>"
                "<th>Closing</th><th class=\"l\">Threads</th></tr>\n");
    for (i = 0; i < snap->nchildren; i++) {
        const rl_scoreboard_view_t *c = &snap->children[i];
        char *letters =
            apr_palloc(r->pool, (apr_size_t)snap->threads_per_child + 1);
        for (t = 0; t < snap->threads_per_child; t++) {
            letters[t] = st_thread_letter(snap, c, t);
        }
        letters[t] = '\0';
        rl_rprintf(r,
                   "<tr><td>%d</td><td>%ld</td><td>%d</td><td class=\"l\">%s"
                   "</td><td>%s</td><td>%u</td><td>%u</td><td>%u</td>"
                   "<td>%u</td><td>%u</td><td class=\"l\"><code>%s</code>"
                   "</td></tr>\n",
                   /* the core counts generations from 0, the page (as
                    * httpd's ParentServerConfigGeneration) from 1 */
                   c->slot, (long)c->pid, c->generation + 1,
                   c->graceful ? "finishing" : "serving",
                   show_span(r->pool, snap->now - c->started), c->requests,
                   c->conns[RL_SB_READING], c->conns[RL_SB_WRITING],
                   c->conns[RL_SB_KEEPALIVE], c->conns[RL_SB_CLOSING], letters);
    }
    rl_rputs(r, "</table>\n");
    rl_rprintf(r, "<pre>%s</pre>\n", scoreboard_line(r->pool, snap));
    rl_rputs(r, "<p>Scoreboard key: <code>_</code> waiting for a "
                "connection, <code>R</code> reading a request, <code>W</code> "
                "serving a request, <code>K</code> keep-alive, <code>C</code> "
                "closing, <code>G</code> finishing after a graceful restart, "
                "<code>.</code> room for a process.</p>\n");
}


static void page_vhosts(rl_request_t *r)
{
    const apr_array_header_t *vs = st_vhosts();
    int i, c, m;

    rl_rputs(r, "<h2>Virtual hosts</h2>\n");
    if (vs == NULL || !st_counting()) {
        rl_rputs(r, "<p>Request counters are off (ExtendedStatus Off).</p>\n");
        return;
    }
    rl_rputs(r, "<table><tr><th class=\"l\">Name</th>"
                "<th class=\"l\">Address</th><th>Requests</th>"
                "<th>1xx</th><th>2xx</th><th>3xx</th><th>4xx</th>"
                "<th>5xx</th><th>Received</th><th>Sent</th>"
                "<th>Mean duration</th></tr>\n");
    for (i = 0; i < vs->nelts; i++) {
        const st_vhost_t *v = &APR_ARRAY_IDX(vs, i, st_vhost_t);
        const st_vhost_shm_t *k = st_vhost_counters(i);
        apr_uint64_t by_class[ST_NCLASSES] = {0}, total = 0;
        st_hist_view_t h;

        if (k == NULL) {
            continue;
        }
        for (c = 0; c < ST_NCLASSES; c++) {
            for (m = 0; m < ST_NMETHODS; m++) {
                by_class[c] += k->requests[c][m];
            }
            total += by_class[c];
        }
        st_hist_read(&k->duration, &h);
        rl_rprintf(r,
                   "<tr><td class=\"l\">%s</td><td class=\"l\">%s</td>"
                   "<td>%" APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT
                   "</td><td>%" APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT
                   "</td><td>%" APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT
                   "</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                   st_html(r->pool, v->label),
                   st_html(r->pool, *v->addrs ? v->addrs : "(main server)"),
                   total, by_class[0], by_class[1], by_class[2], by_class[3],
                   by_class[4], show_bytes(r->pool, (double)k->bytes_in),
                   show_bytes(r->pool, (double)k->bytes_out),
                   show_us(r->pool, h.cum[ST_NBOUNDS]
                                        ? (double)h.sum_us / h.cum[ST_NBOUNDS]
                                        : 0));
    }
    rl_rputs(r, "</table>\n");
}


/* A member's state in words, and whether it takes traffic now. */
static const char *member_state(apr_pool_t *p, const rl_proxy_worker_t *w,
                                apr_time_t now, int *up)
{
    apr_uint32_t st = w->s->status;
    const char *out = "";

    *up = st_worker_usable(w, now);
    if (st & RL_WORKER_DISABLED) {
        out = "disabled ";
    }
    if (st & RL_WORKER_STOPPED) {
        out = apr_pstrcat(p, out, "stopped ", NULL);
    }
    if (st & RL_WORKER_HC_FAILED) {
        out = apr_pstrcat(p, out, "health check failed ", NULL);
    }
    if (st & RL_WORKER_IN_ERROR) {
        apr_time_t back = w->s->error_time + w->retry;
        out = back > now ? apr_psprintf(p, "%sin error (retry in %ld s) ", out,
                                        (long)apr_time_sec(back - now + 999999))
                         : apr_pstrcat(p, out, "in error (retry due) ", NULL);
    }
    if (st & RL_WORKER_UNRESOLVED) {
        out = apr_pstrcat(p, out, "no address ", NULL);
    }
    if (st & RL_WORKER_DRAINING) {
        out = apr_pstrcat(p, out, "draining ", NULL);
    }
    if (st & RL_WORKER_HOT_STANDBY) {
        out = apr_pstrcat(p, out, "hot standby ", NULL);
    }
    if (st & RL_WORKER_HOT_SPARE) {
        out = apr_pstrcat(p, out, "hot spare ", NULL);
    }
    if (st & RL_WORKER_IGNORE_ERRORS) {
        out = apr_pstrcat(p, out, "ignores errors ", NULL);
    }
    if (*out == '\0') {
        return "OK";
    }
    return apr_pstrndup(p, out, strlen(out) - 1);
}


static const char *last_check(apr_pool_t *p, const rl_proxy_worker_t *w,
                              apr_time_t now)
{
    apr_time_t last = w->s->hc_last;

    if (!w->health_checked) {
        return "not checked";
    }
    if (last == 0) {
        return "not yet";
    }
    return apr_psprintf(p, "<span class=\"%s\">%s</span> in %s, %s ago",
                        w->s->hc_last_ok ? "up" : "down",
                        w->s->hc_last_ok ? "passed" : "failed",
                        show_us(p, (double)w->s->hc_last_us),
                        show_ago(p, now > last ? now - last : 0));
}


static void member_row(rl_request_t *r, const rl_proxy_worker_t *w,
                       apr_time_t now)
{
    const st_member_shm_t *k = st_member_counters(w->index);
    const char *state, *resp = "-";
    int up;
    unsigned lf = w->s->loadfactor ? w->s->loadfactor : (unsigned)w->loadfactor;

    state = member_state(r->pool, w, now, &up);
    if (k != NULL) {
        st_hist_view_t h;
        st_hist_read(&k->response, &h);
        if (h.cum[ST_NBOUNDS] > 0) {
            resp = show_us(r->pool, (double)h.sum_us / h.cum[ST_NBOUNDS]);
        }
    }
    rl_rprintf(r, "<tr><td class=\"l\">%s</td>", st_html(r->pool, w->name));
    if (w->balancer != NULL) {
        rl_rprintf(r, "<td class=\"l\">%s</td><td>%u</td><td>%d</td>",
                   st_html(r->pool, st_worker_route(r->pool, w)), lf, w->lbset);
    }
    rl_rprintf(r,
               "<td class=\"l\"><span class=\"%s\">%s</span></td><td>%u</td>"
               "<td>%" APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT
               "</td><td>%s</td><td>%s</td><td class=\"l\">%s</td>"
               "<td>%s</td></tr>\n",
               up ? "up" : "down", st_html(r->pool, state), w->s->busy,
               w->s->requests, w->s->errors,
               show_bytes(r->pool, (double)w->s->bytes_out),
               show_bytes(r->pool, (double)w->s->bytes_in),
               last_check(r->pool, w, now), resp);
}


static const char member_columns[] =
    "<th class=\"l\">State</th><th>In flight</th><th>Requests</th>"
    "<th>Errors</th><th>Sent</th><th>Received</th>"
    "<th class=\"l\">Last health check</th><th>Mean response</th></tr>\n";

static void page_balancers(rl_request_t *r, const st_snapshot_t *snap)
{
    const apr_array_header_t *ws = st_workers();
    apr_array_header_t *bs;
    int i, j, plain = 0;

    if (ws == NULL) {
        return; /* no mod_proxy */
    }
    bs = st_balancers(r->pool);
    rl_rputs(r, "<h2>Balancers</h2>\n");
    if (bs->nelts == 0) {
        rl_rputs(r, "<p>None.</p>\n");
    }
    for (i = 0; i < bs->nelts; i++) {
        rl_proxy_balancer_t *b = APR_ARRAY_IDX(bs, i, rl_proxy_balancer_t *);
        int nup = 0;
        for (j = 0; j < b->members->nelts; j++) {
            nup += st_worker_usable(
                APR_ARRAY_IDX(b->members, j, rl_proxy_worker_t *), snap->now);
        }
        rl_rprintf(r,
                   "<h3>%s</h3>\n<p>lbmethod %s%s%s; <span class=\"%s\">%d "
                   "of %d members up</span></p>\n",
                   st_html(r->pool, b->name),
                   st_html(r->pool, st_balancer_lbmethod(b)),
                   b->sticky_cookie ? ", sticky session " : "",
                   b->sticky_cookie ? st_html(r->pool, b->sticky_cookie) : "",
                   nup == b->members->nelts ? "up"
                   : nup == 0               ? "down"
                                            : "warn",
                   nup, b->members->nelts);
        rl_rprintf(r,
                   "<table><tr><th class=\"l\">Member</th>"
                   "<th class=\"l\">Route</th><th>Factor</th><th>Set</th>%s",
                   member_columns);
        for (j = 0; j < b->members->nelts; j++) {
            member_row(r, APR_ARRAY_IDX(b->members, j, rl_proxy_worker_t *),
                       snap->now);
        }
        rl_rputs(r, "</table>\n");
    }
    for (i = 0; i < ws->nelts; i++) {
        const rl_proxy_worker_t *w = APR_ARRAY_IDX(ws, i, rl_proxy_worker_t *);
        if (w->balancer != NULL) {
            continue;
        }
        if (plain++ == 0) {
            rl_rprintf(r,
                       "<h2>Backends (ProxyPass)</h2>\n<table><tr>"
                       "<th class=\"l\">Backend</th>%s",
                       member_columns);
        }
        member_row(r, w, snap->now);
    }
    if (plain > 0) {
        rl_rputs(r, "</table>\n");
    }
}


static void page_cache(rl_request_t *r, const st_snapshot_t *snap)
{
    const cache_metrics_t *c = &snap->cache;
    apr_uint64_t looked = c->hits + c->stale + c->misses;

    if (!snap->cache_on) {
        return;
    }
    rl_rputs(r, "<h2>Cache</h2>\n");
    rl_rprintf(r,
               "<p>Hit ratio: <b>%.1f%%</b> of %" APR_UINT64_T_FMT
               " cacheable requests answered from the cache (fresh or "
               "stale).</p>\n",
               looked ? 100.0 * (double)(c->hits + c->stale) / looked : 0.0,
               looked);
    rl_rputs(r, "<table><tr><th>Hits</th><th>Misses</th><th>Stale</th>"
                "<th>Revalidated</th><th>Stored</th><th>Not stored</th>"
                "<th>Served from cache</th></tr>\n");
    rl_rprintf(r,
               "<tr><td>%" APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT
               "</td><td>%" APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT
               "</td><td>%" APR_UINT64_T_FMT "</td><td>%" APR_UINT64_T_FMT
               "</td><td>%s</td></tr></table>\n",
               c->hits, c->misses, c->stale, c->revalidated, c->stored,
               c->not_stored, show_bytes(r->pool, (double)c->bytes_served));
    rl_rputs(r, "<table><tr><th class=\"l\">Store</th><th>Entries</th>"
                "<th>Size</th><th>Capacity</th><th>Evicted</th></tr>\n");
    if (c->mem_capacity > 0) {
        rl_rprintf(
            r,
            "<tr><td class=\"l\">mem</td><td>%" APR_UINT64_T_FMT
            "</td><td>%s</td><td>%s</td><td>%" APR_UINT64_T_FMT "</td></tr>\n",
            c->mem_entries, show_bytes(r->pool, (double)c->mem_bytes),
            show_bytes(r->pool, (double)c->mem_capacity), c->mem_evicted);
    }
    if (c->disk_capacity > 0) {
        rl_rprintf(
            r,
            "<tr><td class=\"l\">disk</td><td>%" APR_UINT64_T_FMT
            "</td><td>%s</td><td>%s</td><td>%" APR_UINT64_T_FMT "</td></tr>\n",
            c->disk_entries, show_bytes(r->pool, (double)c->disk_bytes),
            show_bytes(r->pool, (double)c->disk_capacity), c->disk_evicted);
    }
    rl_rputs(r, "</table>\n");
}


/* ------------------------------------------------------------------ */
/* The handler                                                         */
/* ------------------------------------------------------------------ */

/* httpd's query words: "auto", "refresh" or "refresh=N" (1 s when no
 * number), separated by '&' or ';'.  Unknown words are ignored. */
static void parse_args(apr_pool_t *p, const char *args, int *is_auto,
                       int *refresh)
{
    char *copy, *word, *save = NULL;

    *is_auto = 0;
    *refresh = 0;
    if (args == NULL) {
        return;
    }
    copy = apr_pstrdup(p, args);
    for (word = apr_strtok(copy, "&;", &save); word != NULL;
         word = apr_strtok(NULL, "&;", &save)) {
        if (strcmp(word, "auto") == 0) {
            *is_auto = 1;
        } else if (strcmp(word, "refresh") == 0) {
            *refresh = 1;
        } else if (strncmp(word, "refresh=", 8) == 0) {
            long n = strtol(word + 8, NULL, 10);
            *refresh = n < 1 ? 1 : n > 3600 ? 3600 : (int)n;
        }
    }
}


int st_page_handler(rl_request_t *r)
{
    st_snapshot_t snap;
    int is_auto, refresh;

    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        apr_table_setn(r->err_headers_out, "Allow", "GET, HEAD");
        return 405;
    }
    parse_args(r->pool, r->args, &is_auto, &refresh);
    st_collect(r, &snap);
    /* a status page is always of now: never from or into a cache */
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (refresh > 0) {
        apr_table_setn(r->headers_out, "Refresh", apr_itoa(r->pool, refresh));
    }
    if (is_auto) {
        auto_page(r, &snap);
        return RL_OK;
    }
    page_head(r, refresh);
    page_server(r, &snap);
    page_traffic(r, &snap);
    page_children(r, &snap);
    page_vhosts(r);
    page_balancers(r, &snap);
    page_cache(r, &snap);
    rl_rputs(r, "</body></html>\n");
    return RL_OK;
}
