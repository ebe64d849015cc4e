/*
 * mod_balancer.c: balancer://name targets for mod_proxy, with httpd's
 * mod_proxy_balancer configuration: <Proxy "balancer://name"> with
 * BalancerMember and ProxySet, balancer parameters on ProxyPass.
 *
 * mod_proxy asks in proxy_pre_request; this module picks a member through
 * proxy_pick_member, whose default is the balancer's lbmethod provider
 * (lbmethods.c).  Hot standby members (+H) take traffic only when no other
 * member is usable; with none usable the answer is 503 with Retry-After.
 * A member that fails to connect is put in error by mod_proxy, which then
 * asks again (failover, up to maxattempts).
 */
#include "balancer_private.h"

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_shm.h>
#include <apr_lib.h>
#include <stdlib.h>

RL_LOG_USE_MODULE(balancer);

/* The balancers of this configuration generation. */
static apr_hash_t *balancers;

/*
 * A balancer and, for each loaded lbmethod (b->lbmethods, by index), the
 * balancer as that method sees it: b itself for the configured method, a
 * copy carrying the method's own lb_context for the others.  A balancer
 * manager switches the method by storing another index in shared memory;
 * each pick reads it and goes to that view, so threads picking while the
 * switch happens each use one consistent method and context.
 */
typedef struct balancer_rec_t {
    rl_proxy_balancer_t b; /* first: a balancer pointer is a record pointer */
    rl_proxy_balancer_t **views;
} balancer_rec_t;

static apr_status_t balancers_cleanup(void *unused)
{
    (void)unused;
    balancers = NULL;
    return APR_SUCCESS;
}


/* "balancer://app" (any case, trailing slash ignored) */
static rl_proxy_balancer_t *balancer_get(rl_cmd_t *cmd, const char *name,
                                         int create)
{
    char *key = apr_pstrdup(cmd->pool, name), *s;
    rl_proxy_balancer_t *b;
    apr_size_t n = strlen(key);

    while (n > 0 && key[n - 1] == '/') {
        key[--n] = '\0';
    }
    for (s = key; *s; s++) {
        *s = (char)apr_tolower(*s);
    }
    if (balancers == NULL) {
        balancers = apr_hash_make(cmd->pool);
        apr_pool_cleanup_register(cmd->pool, NULL, balancers_cleanup,
                                  apr_pool_cleanup_null);
    }
    b = apr_hash_get(balancers, key, APR_HASH_KEY_STRING);
    if (b == NULL && create) {
        balancer_rec_t *rec = apr_pcalloc(cmd->pool, sizeof(*rec));
        b = &rec->b;
        b->name = key;
        b->members = apr_array_make(cmd->pool, 4, sizeof(rl_proxy_worker_t *));
        b->sticky_sep = '.';
        b->failonstatus = apr_array_make(cmd->pool, 1, sizeof(int));
        b->forcerecovery = 1; /* httpd's default */
        b->maxattempts = -1;  /* unset: one try per other member */
        b->file = cmd->node->file;
        b->line = cmd->node->line;
        apr_hash_set(balancers, key, APR_HASH_KEY_STRING, b);
    }
    return b;
}


static const char *flag_param(apr_pool_t *p, const char *key, const char *val,
                              int *out)
{
    const char *err = rl_parse_flag(p, val, out);

    return err ? apr_psprintf(p, "%s=%s: %s", key, val, err) : NULL;
}


/* One balancer parameter (ProxySet, or on ProxyPass). */
static const char *set_balancer_param(rl_cmd_t *cmd, rl_proxy_balancer_t *b,
                                      const char *key, const char *val)
{
    apr_pool_t *p = cmd->pool;

    if (strcasecmp(key, "lbmethod") == 0) {
        b->lbmethod = rl_lookup_provider("lbmethod", val, "2");
        if (b->lbmethod == NULL) {
            apr_array_header_t *names =
                rl_list_provider_names(cmd->temp_pool, "lbmethod", "2");
            return apr_psprintf(p, "lbmethod=%s: unknown method (loaded: %s)",
                                val,
                                apr_array_pstrcat(cmd->temp_pool, names, ','));
        }
        return NULL;
    }
    if (strcasecmp(key, "hashkey") == 0) {
        if (strcasecmp(val, "uri") != 0 &&
            strncasecmp(val, "header:", 7) != 0 &&
            strncasecmp(val, "cookie:", 7) != 0) {
            return apr_psprintf(p,
                                "hashkey=%s: expected uri, header:Name or "
                                "cookie:Name",
                                val);
        }
        b->hashkey = apr_pstrdup(p, val);
        return NULL;
    }
    if (strcasecmp(key, "maxattempts") == 0) {
        char *end;
        long v = strtol(val, &end, 10);
        if (*end || v < 0 || v > 100) {
            return apr_psprintf(p, "maxattempts=%s: expected 0 to 100", val);
        }
        b->maxattempts = (int)v;
        return NULL;
    }
    if (strcasecmp(key, "nofailover") == 0) {
        return flag_param(p, key, val, &b->nofailover);
    }
    if (strcasecmp(key, "failontimeout") == 0) {
        return flag_param(p, key, val, &b->failontimeout);
    }
    if (strcasecmp(key, "forcerecovery") == 0) {
        return flag_param(p, key, val, &b->forcerecovery);
    }
    if (strcasecmp(key, "failonstatus") == 0) {
        /* "503" or "500,502-504" */
        char *list = apr_pstrdup(cmd->temp_pool, val), *tok, *last;
        apr_array_clear(b->failonstatus);
        for (tok = apr_strtok(list, ", ", &last); tok;
             tok = apr_strtok(NULL, ", ", &last)) {
            char *end;
            long lo = strtol(tok, &end, 10), hi = lo;
            if (*end == '-') {
                hi = strtol(end + 1, &end, 10);
            }
            if (*end || lo < 100 || hi > 599 || hi < lo) {
                return apr_psprintf(p,
                                    "failonstatus=%s: expected statuses "
                                    "(100-599) or ranges, e.g. 500,502-504",
                                    val);
            }
            for (; lo <= hi; lo++) {
                APR_ARRAY_PUSH(b->failonstatus, int) = (int)lo;
            }
        }
        return NULL;
    }
    if (strcasecmp(key, "stickysession") == 0) {
        /* "JSESSIONID" (cookie and URL parameter of that name) or
         * "cookiename|paramname", as httpd */
        const char *bar = strchr(val, '|');
        b->sticky_cookie =
            bar ? apr_pstrndup(p, val, bar - val) : apr_pstrdup(p, val);
        b->sticky_param = bar ? apr_pstrdup(p, bar + 1) : b->sticky_cookie;
        return NULL;
    }
    if (strcasecmp(key, "stickysessionsep") == 0) {
        if (strlen(val) != 1) {
            return apr_psprintf(p,
                                "stickysessionsep=%s: expected one "
                                "character",
                                val);
        }
        b->sticky_sep = val[0];
        return NULL;
    }
    if (strcasecmp(key, "timeout") == 0) {
        const char *err =
            rl_parse_duration(p, val, APR_USEC_PER_SEC, &b->timeout);
        return err ? apr_psprintf(p, "timeout=%s: %s", val, err) : NULL;
    }
    if (strcasecmp(key, "growth") == 0) {
        /* httpd: room for members a balancer manager adds at run time.
         * Accepted so httpd configurations load; Relais's balancer
         * manager (mod_status) uses it. */
        char *end;
        long v = strtol(val, &end, 10);
        if (*val == '\0' || *end || v < 0 || v > 1000) {
            return apr_psprintf(p, "growth=%s: expected 0 to 1000", val);
        }
        b->growth = (int)v;
        return NULL;
    }
    if (strcasecmp(key, "scolonpathdelim") == 0) {
        return apr_psprintf(
            p,
            "balancer parameter '%s' (httpd) is not supported "
            "by Relais: remove it (use stickysession=name|param "
            "for a URL parameter)",
            key);
    }
    return apr_psprintf(p,
                        "unknown balancer parameter '%s' (expected lbmethod, "
                        "stickysession, stickysessionsep, hashkey, "
                        "maxattempts, nofailover, failonstatus, "
                        "failontimeout, forcerecovery, timeout or growth)",
                        key);
}


static const char *apply_params(rl_cmd_t *cmd, rl_proxy_balancer_t *b, int n,
                                char *const params[])
{
    int i;

    for (i = 0; i < n; i++) {
        char *kv = apr_pstrdup(cmd->temp_pool, params[i]);
        char *eq = strchr(kv, '=');
        const char *err;
        if (eq == NULL) {
            return apr_psprintf(cmd->pool, "'%s': expected key=value",
                                params[i]);
        }
        *eq++ = '\0';
        err = set_balancer_param(cmd, b, kv, eq);
        if (err != NULL) {
            return err;
        }
    }
    return NULL;
}


/* mod_proxy's hand-off for "ProxyPass /p balancer://app/ k=v…" */
static const char *provider_set_params(rl_cmd_t *cmd, const char *name, int n,
                                       char *const params[])
{
    return apply_params(cmd, balancer_get(cmd, name, 1), n, params);
}


static const rl_proxy_balancer_provider_t balancer_provider = {
    provider_set_params};

/* the balancer a directive inside <Proxy balancer://…> is about */
static const char *section_balancer(rl_cmd_t *cmd, int *argi, int argc,
                                    char *const argv[], rl_proxy_balancer_t **b)
{
    const char *name = NULL;

    if (cmd->context == RL_CTX_PROXY) {
        name = cmd->path;
    } else if (*argi < argc &&
               strncasecmp(argv[*argi], "balancer://", 11) == 0) {
        name = argv[(*argi)++];
    }
    if (name == NULL || strncasecmp(name, "balancer://", 11) != 0) {
        return "belongs in <Proxy balancer://name>, or names the balancer "
               "first (balancer://name)";
    }
    *b = balancer_get(cmd, name, 1);
    return NULL;
}


/* BalancerMember [balancer://name] url [key=value …] */
static const char *add_member(rl_cmd_t *cmd, void *dconf, int argc,
                              char *const argv[])
{
    rl_proxy_balancer_t *b;
    rl_proxy_worker_t *w;
    const char *err;
    int i = 0;

    (void)dconf;
    err = section_balancer(cmd, &i, argc, argv, &b);
    if (err != NULL) {
        return err;
    }
    if (i >= argc) {
        return "expected the member's URL";
    }
    if (b->members->nelts > 0 && b->server != cmd->server) {
        rl_proxy_worker_t *first =
            APR_ARRAY_IDX(b->members, 0, rl_proxy_worker_t *);
        return apr_psprintf(cmd->pool,
                            "%s already has members in another virtual host "
                            "(%s:%u); balancer names are global in Relais: "
                            "give this one its own name",
                            b->name, first->file, first->line);
    }
    if (b->members->nelts == 0) {
        b->server = cmd->server;
    }
    w = rl_proxy_define_member(cmd, b, argv[i], argc - i - 1, argv + i + 1,
                               &err);
    return w == NULL ? err : NULL; /* it is in b->members now */
}


/* ProxySet [balancer://name] key=value … */
static const char *proxy_set(rl_cmd_t *cmd, void *dconf, int argc,
                             char *const argv[])
{
    rl_proxy_balancer_t *b;
    const char *err;
    int i = 0;

    (void)dconf;
    err = section_balancer(cmd, &i, argc, argv, &b);
    if (err != NULL) {
        return err;
    }
    return apply_params(cmd, b, argc - i, argv + i);
}


/* proxy_pre_request: claim balancer:// targets and pick a member. */
static int balancer_pre_request(rl_request_t *r, const char *target,
                                rl_proxy_worker_t **worker, char **url)
{
    rl_proxy_balancer_t *b;
    const char *slash;
    char *name, *s;

    if (strncasecmp(target, "balancer://", 11) != 0 || balancers == NULL) {
        return RL_DECLINED;
    }
    slash = strchr(target + 11, '/');
    name = apr_pstrndup(r->pool, target,
                        slash ? (apr_size_t)(slash - target) : strlen(target));
    for (s = name; *s; s++) {
        *s = (char)apr_tolower(*s);
    }
    b = apr_hash_get(balancers, name, APR_HASH_KEY_STRING);
    if (b == NULL) {
        rl_log_rerror(RL_LOG_ERR, 0, r, "no balancer named %s", name);
        return 500;
    }
    *worker = rl_proxy_run_pick_member(b, r);
    if (*worker == NULL && b->timeout > 0) {
        /* timeout=: wait for a member to come back (mod_proxy sleeps
         * without holding a thread and asks again) */
        const char *until = apr_table_get(r->notes, RL_PROXY_NOTE_WAIT_UNTIL);
        apr_time_t now = apr_time_now();
        if (until == NULL) {
            apr_table_setn(r->notes, RL_PROXY_NOTE_WAIT_UNTIL,
                           apr_off_t_toa(r->pool, now + b->timeout));
            rl_log_rerror(RL_LOG_INFO, 0, r,
                          "%s: no member can take the request now; waiting "
                          "up to %ld ms (timeout=)",
                          b->name, (long)apr_time_as_msec(b->timeout));
            return 503;
        }
        if (apr_atoi64(until) > now) {
            return 503;
        }
    }
    if (*worker == NULL) {
        rl_log_rerror(RL_LOG_ERR, 0, r,
                      "%s: no member can take the request (all in error, "
                      "disabled or stopped)",
                      b->name);
        apr_table_setn(r->err_headers_out, "Retry-After", "10");
        return 503;
    }
    apr_table_setn(r->subprocess_env, "BALANCER_NAME", b->name);
    if ((*worker)->member_path != NULL) {
        *url = apr_pstrcat(r->pool, (*worker)->member_path, *url, NULL);
    }
    return RL_OK;
}


/* proxy_pick_member, default: the lbmethod, then hot standbys. */
/* The value of cookie `name` in r, or NULL (sticky sessions and
 * lbmethod=hash with hashkey=cookie:name). */
const char *balancer_cookie(rl_request_t *r, const char *name)
{
    const char *c = apr_table_get(r->headers_in, "Cookie");
    apr_size_t n = strlen(name);

    while (c != NULL && *c) {
        while (*c == ' ' || *c == ';' || *c == ',') {
            c++;
        }
        if (strncmp(c, name, n) == 0 && c[n] == '=') {
            return apr_pstrndup(r->pool, c + n + 1, strcspn(c + n + 1, ";,"));
        }
        c = strpbrk(c, ";,");
    }
    return NULL;
}


/* The value of URL parameter `name` (";name=v" in the path, or
 * "name=v" in the query), or NULL. */
static const char *param_value(rl_request_t *r, const char *name)
{
    apr_size_t n = strlen(name);
    const char *s;

    for (s = r->unparsed_uri; (s = strstr(s, name)) != NULL; s += n) {
        if ((s == r->unparsed_uri || s[-1] == ';' || s[-1] == '?' ||
             s[-1] == '&') &&
            s[n] == '=') {
            return apr_pstrndup(r->pool, s + n + 1, strcspn(s + n + 1, "&;#"));
        }
    }
    return NULL;
}


/*
 * Sticky sessions, as httpd: the session id in the cookie or URL
 * parameter ends in ".route" (the separator is stickysessionsep); the
 * member with that route= takes the request while it is usable, even
 * when draining (+N).  A member in error loses its clients to the others,
 * unless nofailover=On: then *broken is set and the request gets a 503
 * (for backends that cannot take over each other's sessions).
 */
static rl_proxy_worker_t *sticky_member(rl_proxy_balancer_t *b, rl_request_t *r,
                                        int *broken)
{
    const char *v = NULL, *route;
    apr_time_t now;
    int i;

    *broken = 0;
    if (b->sticky_cookie == NULL) {
        return NULL;
    }
    v = param_value(r, b->sticky_param);
    if (v == NULL) {
        v = balancer_cookie(r, b->sticky_cookie);
    }
    if (v == NULL || (route = strchr(v, b->sticky_sep)) == NULL) {
        return NULL;
    }
    route++;
    now = apr_time_now();
    for (i = 0; i < b->members->nelts; i++) {
        rl_proxy_worker_t *w =
            APR_ARRAY_IDX(b->members, i, rl_proxy_worker_t *);
        char buf[RL_WORKER_ROUTE_MAX];
        /* the route in use: a balancer manager may have changed it */
        const char *wr = rl_proxy_worker_route(w, buf, sizeof(buf));
        if (wr == NULL || strcmp(wr, route) != 0) {
            continue;
        }
        if (rl_proxy_worker_usable(w, now) &&
            !rl_proxy_worker_tried(apr_table_get(r->notes, RL_PROXY_NOTE_TRIED),
                                   w)) {
            apr_table_set(r->subprocess_env, "BALANCER_SESSION_ROUTE", wr);
            return w;
        }
        *broken = b->nofailover;
        break;
    }
    apr_table_setn(r->subprocess_env, "BALANCER_ROUTE_CHANGED", "1");
    return NULL;
}


/* Each child notices a member's change of state made by any process
 * (shared generation counter) and tells the lbmethod before its next
 * pick. */
static void notice_changes(rl_proxy_balancer_t *b)
{
    apr_uint32_t g;

    if (b->generation == NULL || b->lbmethod->member_changed == NULL) {
        return;
    }
    g = *b->generation;
    if (g != b->seen_generation) {
        b->seen_generation = g;
        b->lbmethod->member_changed(b, NULL);
    }
}


/* The balancer as the method in use now sees it (one shared read). */
static rl_proxy_balancer_t *balancer_view(rl_proxy_balancer_t *b)
{
    balancer_rec_t *rec = (balancer_rec_t *)b;
    apr_uint32_t i;

    if (b->lbmethod_index == NULL) {
        return b;
    }
    i = *b->lbmethod_index;
    return i < (apr_uint32_t)b->nlbmethods ? rec->views[i] : b;
}


static rl_proxy_worker_t *balancer_pick(rl_proxy_balancer_t *pb,
                                        rl_request_t *r)
{
    int broken;
    rl_proxy_balancer_t *b = balancer_view(pb);
    rl_proxy_worker_t *w = sticky_member(b, r, &broken);

    if (broken) {
        rl_log_rerror(RL_LOG_INFO, 0, r,
                      "%s: the session's member is out and nofailover=On",
                      b->name);
        return NULL;
    }
    if (w == NULL) {
        rl_proxy_candidate_t *c =
            apr_palloc(r->pool, sizeof(*c) * (apr_size_t)b->members->nelts);
        int n;
        notice_changes(b);
        /* a failover leaves out the members this request failed on */
        n = rl_proxy_balancer_candidates(
            b, apr_time_now(), apr_table_get(r->notes, RL_PROXY_NOTE_TRIED), c);
        w = n > 0 ? b->lbmethod->pick(b, r, c, n) : NULL;
    }
    if (w != NULL && b->lbmethod->taken != NULL) {
        b->lbmethod->taken(b, w);
    }
    return w;
}


/* proxy_post_request: passive health (failonstatus, failontimeout) and the
 * lbmethod's release. */
static int balancer_post_request(rl_request_t *r, rl_proxy_worker_t *w,
                                 rl_proxy_outcome_e outcome)
{
    rl_proxy_balancer_t *b = w->balancer;

    if (b == NULL) {
        return RL_DECLINED;
    }
    b = balancer_view(b);
    if (outcome == RL_PROXY_OK) {
        int i;
        for (i = 0; i < b->failonstatus->nelts; i++) {
            if (APR_ARRAY_IDX(b->failonstatus, i, int) == r->status) {
                rl_proxy_worker_failed(
                    w, apr_psprintf(r->pool, "answered %d (failonstatus)",
                                    r->status));
                apr_table_setn(r->notes, RL_PROXY_NOTE_FAILED, "1");
                break;
            }
        }
    } else if (outcome == RL_PROXY_TIMEOUT && b->failontimeout) {
        rl_proxy_worker_failed(w, "no answer in time (failontimeout)");
    }
    if (b->lbmethod->released != NULL) {
        b->lbmethod->released(b, w, outcome);
    }
    return RL_OK;
}


/* proxy_member_state_changed: every child re-reads the member set. */
static void balancer_member_changed(rl_proxy_worker_t *w, apr_uint32_t old,
                                    apr_uint32_t now, const char *reason,
                                    const char *detail)
{
    (void)old;
    (void)now;
    (void)reason;
    (void)detail;
    if (w->balancer != NULL && w->balancer->generation != NULL) {
        apr_atomic_inc32(w->balancer->generation);
    }
}


/* Two shared words per balancer: the generation counter (bumped by
 * whichever process changes a member's state) and the index of the
 * lbmethod in use (a balancer manager changes it). */
static int attach_generations(apr_pool_t *pconf, rl_server_t *s,
                              apr_pool_t *ptemp, int n)
{
    apr_shm_t *shm;
    volatile apr_uint32_t *word;
    apr_hash_index_t *hi;
    apr_status_t rv;

    if (n == 0) {
        return RL_OK;
    }
    rv = apr_shm_create(&shm, 2 * sizeof(apr_uint32_t) * (apr_size_t)n, NULL,
                        pconf);
    if (rv != APR_SUCCESS) {
        rl_log_error(RL_LOG_EMERG, rv, s,
                     "cannot create shared memory for %d balancers", n);
        return 500;
    }
    word = apr_shm_baseaddr_get(shm);
    for (hi = apr_hash_first(ptemp, balancers); hi; hi = apr_hash_next(hi)) {
        rl_proxy_balancer_t *b = apr_hash_this_val(hi);
        int i;
        b->generation = word++;
        *b->generation = 0;
        b->seen_generation = 0;
        b->lbmethod_index = word++;
        *b->lbmethod_index = 0;
        for (i = 0; i < b->nlbmethods; i++) {
            if (b->lbmethods[i] == b->lbmethod) {
                *b->lbmethod_index = (apr_uint32_t)i;
            }
        }
    }
    return RL_OK;
}


static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}


/* Every loaded lbmethod, sorted by name (the parent computes it once;
 * children inherit the order, so an index means the same everywhere). */
static const rl_proxy_lbmethod_t **loaded_lbmethods(apr_pool_t *p,
                                                    apr_pool_t *ptemp, int *n)
{
    apr_array_header_t *names = rl_list_provider_names(ptemp, "lbmethod", "2");
    const rl_proxy_lbmethod_t **all;
    int i;

    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), by_name);
    all = apr_pcalloc(p, sizeof(*all) * (apr_size_t)(names->nelts + 1));
    for (i = 0; i < names->nelts; i++) {
        all[i] = rl_lookup_provider("lbmethod",
                                    APR_ARRAY_IDX(names, i, const char *), "2");
    }
    *n = names->nelts;
    return all;
}


/* The views of b, one per loaded method (see balancer_rec_t); the
 * configured method's is b itself, initialised already. */
static apr_status_t make_views(rl_proxy_balancer_t *b, apr_pool_t *pconf)
{
    balancer_rec_t *rec = (balancer_rec_t *)b;
    int i;

    rec->views = apr_pcalloc(pconf, sizeof(*rec->views) *
                                        (apr_size_t)(b->nlbmethods + 1));
    for (i = 0; i < b->nlbmethods; i++) {
        rl_proxy_balancer_t *v;
        if (b->lbmethods[i] == b->lbmethod) {
            rec->views[i] = b;
            continue;
        }
        v = apr_pmemdup(pconf, b, sizeof(*b));
        v->lbmethod = b->lbmethods[i];
        v->lb_context = NULL;
        if (v->lbmethod->init != NULL &&
            v->lbmethod->init(v, pconf) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        rec->views[i] = v;
    }
    return APR_SUCCESS;
}


/* The views copy b's pointers to the shared words: after
 * attach_generations, so that they share them. */
static void share_words(rl_proxy_balancer_t *b)
{
    balancer_rec_t *rec = (balancer_rec_t *)b;
    int i;

    for (i = 0; i < b->nlbmethods; i++) {
        rec->views[i]->generation = b->generation;
        rec->views[i]->lbmethod_index = b->lbmethod_index;
        rec->views[i]->seen_generation = 0;
    }
}


/* check_config (so that relaisd -t sees it too): every balancer has
 * members. */
static int balancer_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                                 apr_pool_t *ptemp, rl_server_t *s)
{
    apr_hash_index_t *hi;
    int bad = 0;

    (void)pconf;
    (void)plog;
    for (hi = balancers ? apr_hash_first(ptemp, balancers) : NULL; hi;
         hi = apr_hash_next(hi)) {
        rl_proxy_balancer_t *b = apr_hash_this_val(hi);
        if (b->members->nelts == 0) {
            rl_log_error(RL_LOG_EMERG, 0, s,
                         "%s:%u: %s has no BalancerMember: add at least one "
                         "(BalancerMember http://host:port inside <Proxy "
                         "\"%s\">)",
                         b->file, b->line, b->name, b->name);
            bad = 1;
        }
    }
    return bad ? 500 : RL_OK;
}


static int balancer_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                apr_pool_t *ptemp, rl_server_t *s)
{
    apr_hash_index_t *hi;
    const rl_proxy_lbmethod_t **all = NULL;
    int nbalancers = 0, nall = 0, rc;

    (void)plog;
    if (balancers != NULL) {
        all = loaded_lbmethods(pconf, ptemp, &nall);
    }
    for (hi = balancers ? apr_hash_first(ptemp, balancers) : NULL; hi;
         hi = apr_hash_next(hi)) {
        rl_proxy_balancer_t *b = apr_hash_this_val(hi);
        if (b->lbmethod == NULL) {
            b->lbmethod = rl_lookup_provider("lbmethod", "byrequests", "2");
        }
        if (b->maxattempts < 0) {
            b->maxattempts = b->members->nelts - 1; /* httpd's default */
        }
        if (b->lbmethod->init != NULL &&
            b->lbmethod->init(b, pconf) != APR_SUCCESS) {
            return 500;
        }
        b->lbmethods = all;
        b->nlbmethods = nall;
        if (make_views(b, pconf) != APR_SUCCESS) {
            return 500;
        }
        nbalancers++;
    }
    rc = attach_generations(pconf, s, ptemp, nbalancers);
    for (hi = balancers ? apr_hash_first(ptemp, balancers) : NULL; hi;
         hi = apr_hash_next(hi)) {
        share_words(apr_hash_this_val(hi));
    }
    return rc;
}


static void balancer_register_hooks(apr_pool_t *p)
{

    balancer_register_lbmethods(p);
    rl_register_provider(p, "proxy_balancer", "default", "1",
                         &balancer_provider);
    rl_hook_check_config(balancer_check_config, NULL, NULL, RL_HOOK_MIDDLE);
    /* needs nothing of mod_proxy's post_config; first, so that mod_proxy's
     * resolver process and mod_healthcheck's watchdog (forked later)
     * inherit the shared generation counters */
    rl_hook_post_config(balancer_post_config, NULL, NULL, RL_HOOK_FIRST);
    rl_proxy_hook_pre_request(balancer_pre_request, NULL, NULL, RL_HOOK_MIDDLE);
    rl_proxy_hook_pick_member(balancer_pick, NULL, NULL, RL_HOOK_LAST);
    rl_proxy_hook_post_request(balancer_post_request, NULL, NULL,
                               RL_HOOK_MIDDLE);
    rl_proxy_hook_member_state_changed(balancer_member_changed, NULL, NULL,
                                       RL_HOOK_MIDDLE);
}


static const rl_directive_t balancer_directives[] = {
    RL_TAKE_ARGV("BalancerMember", add_member, NULL,
                 RL_CTX_SERVER | RL_CTX_PROXY,
                 "BalancerMember [balancer://name] http://host:port "
                 "[key=value …]"),
    RL_TAKE_ARGV("ProxySet", proxy_set, NULL, RL_CTX_SERVER | RL_CTX_PROXY,
                 "ProxySet [balancer://name] key=value …"),
    RL_DIRECTIVE_END};

RL_DECLARE_MODULE(balancer) = {RL_MODULE_STUFF("balancer", "0.1.0", 0),
                               balancer_directives,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               balancer_register_hooks};
