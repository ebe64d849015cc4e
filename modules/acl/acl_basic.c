/*
 * acl_basic.c: Basic authentication (httpd's mod_auth_basic with
 * mod_authn_file) and group files (mod_authz_groupfile).
 *
 * Files.  An AuthUserFile or AuthGroupFile is read at start-up (a missing
 * or unreadable file is a configuration error) and shared by every
 * context that names it.  Each child then looks at the file's mtime, size
 * and inode at most once a second, when a request needs it, and reads it
 * again when they changed: an operator edits htpasswd without a restart,
 * as with httpd.  A file that cannot be read any more refuses the
 * requests that need it (500, logged once) rather than keep a list of
 * users the operator may have meant to revoke.
 *
 * Passwords.  apr_password_validate() checks every format htpasswd
 * writes: bcrypt ($2y$), APR MD5 ($apr1$), SHA-1 ({SHA}), crypt(3) and
 * plain text where the platform allows it.  bcrypt costs tens of
 * milliseconds of CPU by design, on the thread that serves the request
 * (an event loop under mpm_event).  So each child remembers the
 * credentials it verified (a salted SHA-256 of user and password, never
 * the password; VCACHE_SLOTS per file), and a keep-alive client does not
 * pay bcrypt on every request.  A change of the file forgets them all.
 *
 * Threads (worker, event): each file has a lock for its contents, its
 * stat time and its cache.  Password checks run outside it.
 */
#include <string.h>

#include <apr_base64.h>
#include <apr_escape.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_hash.h>
#include <apr_lib.h>
#include <apr_md5.h>
#include <apr_strings.h>

#include <openssl/evp.h>

#include "acl_private.h"

RL_LOG_USE_MODULE(acl);

/** How often a child looks at a file's mtime. */
#define RECHECK_INTERVAL apr_time_from_sec(1)
/** Files larger than this are refused (a mistake, not a user list). */
#define MAX_FILE_SIZE (64 * 1024 * 1024)
/** Verified credentials remembered per file and child. */
#define VCACHE_SLOTS 512

typedef struct vslot_t {
    unsigned char key[32];
    apr_uint32_t gen; /* 0: empty */
} vslot_t;

struct acl_file_t {
    const char *path;
    int is_group;
    apr_thread_mutex_t *lock;
    /* contents: user -> hash, or group -> (user -> "") */
    apr_pool_t *pool; /* unmanaged; replaced on each reload */
    apr_hash_t *map;
    apr_time_t mtime;
    apr_off_t size;
    apr_ino_t inode;
    apr_time_t checked; /* last stat */
    apr_uint32_t gen;   /* bumped on each reload */
    int failing;        /* the last look failed (logged once) */
    unsigned char salt[16];
    vslot_t *vcache; /* user files */
};

/* Every file of this configuration generation, by absolute path. */
static apr_hash_t *files;

static apr_status_t files_reset(void *unused)
{
    (void)unused;
    files = NULL;
    return APR_SUCCESS;
}

static apr_status_t file_cleanup(void *v)
{
    acl_file_t *f = v;

    if (f->pool != NULL) {
        apr_pool_destroy(f->pool);
        f->pool = NULL;
    }
    return APR_SUCCESS;
}

const char *acl_file_path(const acl_file_t *f)
{
    return f->path;
}

/* ------------------------------------------------------------ parsing */

/* The next line of buf (NUL-terminated in place), without trailing
 * whitespace; NULL at the end. */
static char *next_line(char **pos)
{
    char *s = *pos, *e, *t;

    if (*s == '\0') {
        return NULL;
    }
    e = strchr(s, '\n');
    if (e != NULL) {
        *e = '\0';
        *pos = e + 1;
    } else {
        *pos = s + strlen(s);
    }
    t = s + strlen(s);
    while (t > s && apr_isspace(t[-1])) {
        *--t = '\0';
    }
    return s;
}

/* "user:hash[:anything]" lines; # comments.  @return lines skipped as
 * malformed (no colon, empty name); *first_bad their first line number */
static int parse_users(apr_pool_t *p, char *buf, apr_hash_t *map,
                       int *first_bad)
{
    char *pos = buf, *line;
    int lineno = 0, bad = 0;

    while ((line = next_line(&pos)) != NULL) {
        char *colon, *end;
        lineno++;
        while (apr_isspace(*line)) {
            line++;
        }
        if (*line == '\0' || *line == '#') {
            continue;
        }
        colon = strchr(line, ':');
        if (colon == NULL || colon == line) {
            if (bad++ == 0) {
                *first_bad = lineno;
            }
            continue;
        }
        *colon = '\0';
        end = strchr(colon + 1, ':');
        if (end != NULL) {
            *end = '\0';
        }
        /* the first line for a user wins, as in httpd */
        if (apr_hash_get(map, line, APR_HASH_KEY_STRING) == NULL) {
            apr_hash_set(map, line, APR_HASH_KEY_STRING, colon + 1);
        }
    }
    (void)p;
    return bad;
}

/* "group: user user …" lines; a group may take several lines. */
static int parse_groups(apr_pool_t *p, char *buf, apr_hash_t *map,
                        int *first_bad)
{
    char *pos = buf, *line;
    int lineno = 0, bad = 0;

    while ((line = next_line(&pos)) != NULL) {
        char *colon, *name, *last, *u, *t;
        apr_hash_t *members;
        lineno++;
        while (apr_isspace(*line)) {
            line++;
        }
        if (*line == '\0' || *line == '#') {
            continue;
        }
        colon = strchr(line, ':');
        if (colon == NULL || colon == line) {
            if (bad++ == 0) {
                *first_bad = lineno;
            }
            continue;
        }
        *colon = '\0';
        name = line;
        t = colon;
        while (t > name && apr_isspace(t[-1])) {
            *--t = '\0';
        }
        members = apr_hash_get(map, name, APR_HASH_KEY_STRING);
        if (members == NULL) {
            members = apr_hash_make(p);
            apr_hash_set(map, name, APR_HASH_KEY_STRING, members);
        }
        for (u = apr_strtok(colon + 1, " \t", &last); u != NULL;
             u = apr_strtok(NULL, " \t", &last)) {
            apr_hash_set(members, u, APR_HASH_KEY_STRING, "");
        }
    }
    return bad;
}

/*
 * Reads f->path into a new pool and map.  @return APR_SUCCESS (and the
 * malformed line count in *bad, the first in *first_bad), or an error with
 * *why.
 */
static apr_status_t load(acl_file_t *f, apr_pool_t *tmp, apr_pool_t **pool,
                         apr_hash_t **map, apr_finfo_t *fi, int *bad,
                         int *first_bad, const char **why)
{
    apr_file_t *fd = NULL;
    apr_pool_t *np = NULL;
    apr_size_t n;
    char *buf;
    apr_status_t rv;

    *why = "cannot open";
    rv = apr_file_open(&fd, f->path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, tmp);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *why = "cannot stat";
    rv = apr_file_info_get(
        fi, APR_FINFO_MTIME | APR_FINFO_SIZE | APR_FINFO_INODE | APR_FINFO_TYPE,
        fd);
    if (rv == APR_SUCCESS && fi->filetype != APR_REG) {
        *why = "not a regular file";
        rv = APR_EBADF;
    } else if (rv == APR_SUCCESS && fi->size > MAX_FILE_SIZE) {
        *why = "larger than 64 MiB";
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS) {
        rv = apr_pool_create_unmanaged_ex(&np, NULL, NULL);
        *why = "out of memory";
    }
    if (rv == APR_SUCCESS) {
        n = (apr_size_t)fi->size;
        buf = apr_palloc(np, n + 1);
        *why = "cannot read";
        rv = n > 0 ? apr_file_read_full(fd, buf, n, &n) : APR_SUCCESS;
        /* a file that shrank while we read it: take what was there */
        if (APR_STATUS_IS_EOF(rv)) {
            rv = APR_SUCCESS;
        }
        buf[n] = '\0';
    }
    apr_file_close(fd);
    if (rv != APR_SUCCESS) {
        if (np != NULL) {
            apr_pool_destroy(np);
        }
        return rv;
    }
    *map = apr_hash_make(np);
    *first_bad = 0;
    *bad = f->is_group ? parse_groups(np, buf, *map, first_bad)
                       : parse_users(np, buf, *map, first_bad);
    *pool = np;
    return APR_SUCCESS;
}

acl_file_t *acl_file_get(rl_cmd_t *cmd, const char *path, int is_group,
                         const char **err)
{
    const char *abs = rl_server_root_relative(cmd->pool, path);
    acl_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    const char *why;
    int bad = 0, first_bad = 0;

    if (files == NULL) {
        files = apr_hash_make(cmd->pool);
        apr_pool_cleanup_register(cmd->pool, NULL, files_reset,
                                  apr_pool_cleanup_null);
    }
    f = apr_hash_get(files, abs, APR_HASH_KEY_STRING);
    if (f != NULL) {
        if (f->is_group != is_group) {
            *err = apr_psprintf(cmd->temp_pool, "'%s' is already used as an %s",
                                abs,
                                f->is_group ? "AuthGroupFile" : "AuthUserFile");
            return NULL;
        }
        return f;
    }
    f = apr_pcalloc(cmd->pool, sizeof(*f));
    f->path = abs;
    f->is_group = is_group;
    rv =
        load(f, cmd->temp_pool, &f->pool, &f->map, &fi, &bad, &first_bad, &why);
    if (rv != APR_SUCCESS) {
        char buf[120];
        *err = apr_psprintf(cmd->temp_pool, "%s '%s': %s%s", why, abs,
                            apr_strerror(rv, buf, sizeof(buf)),
                            is_group ? ""
                                     : " (create it with: htpasswd -c -B "
                                       "FILE user)");
        return NULL;
    }
    apr_pool_cleanup_register(cmd->pool, f, file_cleanup,
                              apr_pool_cleanup_null);
    if (bad > 0) {
        rl_config_warn(cmd,
                       "'%s': %d line%s without '%s' ignored (first: line "
                       "%d)",
                       abs, bad, bad > 1 ? "s" : "",
                       is_group ? "group: user…" : "user:hash", first_bad);
    }
    f->mtime = fi.mtime;
    f->size = fi.size;
    f->inode = fi.inode;
    f->checked = apr_time_now();
    f->gen = 1;
    rv = apr_thread_mutex_create(&f->lock, APR_THREAD_MUTEX_DEFAULT, cmd->pool);
    if (rv != APR_SUCCESS) {
        *err = "cannot create a lock";
        return NULL;
    }
    if (!is_group) {
        f->vcache = apr_pcalloc(cmd->pool, sizeof(vslot_t) * VCACHE_SLOTS);
        if (apr_generate_random_bytes(f->salt, sizeof(f->salt)) !=
            APR_SUCCESS) {
            *err = "cannot get random bytes for the credential cache";
            return NULL;
        }
    }
    apr_hash_set(files, abs, APR_HASH_KEY_STRING, f);
    return f;
}

/*
 * With f->lock held: reads the file again when it changed (looked at
 * once a second at most).  @return 0, or -1 when it cannot be read now
 * (logged when that starts).
 */
static int refresh(acl_file_t *f, rl_request_t *r)
{
    apr_time_t now = apr_time_now();
    apr_finfo_t fi;
    apr_status_t rv;
    apr_pool_t *np = NULL;
    apr_hash_t *map = NULL;
    const char *why = "cannot stat";
    int bad = 0, first_bad = 0;

    if (now - f->checked < RECHECK_INTERVAL && now >= f->checked) {
        return f->failing ? -1 : 0;
    }
    f->checked = now;
    rv = apr_stat(&fi, f->path,
                  APR_FINFO_MTIME | APR_FINFO_SIZE | APR_FINFO_INODE, r->pool);
    if (rv == APR_SUCCESS && !f->failing && fi.mtime == f->mtime &&
        fi.size == f->size && fi.inode == f->inode) {
        return 0;
    }
    if (rv == APR_SUCCESS) {
        rv = load(f, r->pool, &np, &map, &fi, &bad, &first_bad, &why);
    }
    if (rv != APR_SUCCESS) {
        if (!f->failing) {
            char buf[120];
            rl_log_rerror(RL_LOG_ERR, rv, r,
                          "%s %s '%s' (%s): refusing the requests that need "
                          "it until it can be read again",
                          why, f->is_group ? "AuthGroupFile" : "AuthUserFile",
                          f->path, apr_strerror(rv, buf, sizeof(buf)));
        }
        f->failing = 1;
        return -1;
    }
    if (f->pool != NULL) {
        apr_pool_destroy(f->pool);
    }
    f->pool = np;
    f->map = map;
    f->mtime = fi.mtime;
    f->size = fi.size;
    f->inode = fi.inode;
    f->gen++;
    if (f->gen == 0) {
        f->gen = 1; /* 0 marks an empty cache slot */
    }
    if (f->failing) {
        rl_log_rerror(RL_LOG_NOTICE, 0, r, "'%s' can be read again", f->path);
    }
    f->failing = 0;
    rl_log_rerror(RL_LOG_INFO, 0, r, "'%s' changed: read again%s", f->path,
                  bad ? apr_psprintf(r->pool,
                                     " (%d malformed line%s ignored, first: "
                                     "line %d)",
                                     bad, bad > 1 ? "s" : "", first_bad)
                      : "");
    return 0;
}

int acl_group_has(rl_request_t *r, acl_file_t *f, const char *group,
                  const char *user)
{
    apr_hash_t *members;
    int in;

    apr_thread_mutex_lock(f->lock);
    if (refresh(f, r) != 0) {
        apr_thread_mutex_unlock(f->lock);
        return -1;
    }
    members = apr_hash_get(f->map, group, APR_HASH_KEY_STRING);
    in = members != NULL &&
         apr_hash_get(members, user, APR_HASH_KEY_STRING) != NULL;
    apr_thread_mutex_unlock(f->lock);
    return in;
}

/* ------------------------------------------------ verification cache */

static void vkey(const acl_file_t *f, const char *user, const char *pw,
                 unsigned char out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int len = 32;

    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(md, f->salt, sizeof(f->salt)) != 1 ||
        EVP_DigestUpdate(md, user, strlen(user) + 1) != 1 ||
        EVP_DigestUpdate(md, pw, strlen(pw)) != 1 ||
        EVP_DigestFinal_ex(md, out, &len) != 1) {
        /* no digest: a key no lookup can hit (the slot stays unused) */
        memset(out, 0, 32);
    }
    EVP_MD_CTX_free(md);
}

static vslot_t *vslot(acl_file_t *f, const unsigned char key[32])
{
    unsigned idx = ((unsigned)key[0] << 8 | key[1]) % VCACHE_SLOTS;

    return &f->vcache[idx];
}

/* ------------------------------------------------------- Basic auth */

void acl_basic_challenge(rl_request_t *r, const acl_dir_conf_t *conf)
{
    const char *realm = conf->realm ? conf->realm : "";
    char *q = apr_palloc(r->pool, strlen(realm) * 2 + 1), *o = q;
    const char *s;

    /* a quoted-string: backslash before '"' and '\'; controls dropped */
    for (s = realm; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            continue;
        }
        if (*s == '"' || *s == '\\') {
            *o++ = '\\';
        }
        *o++ = *s;
    }
    *o = '\0';
    apr_table_setn(r->err_headers_out, "WWW-Authenticate",
                   apr_pstrcat(r->pool, "Basic realm=\"", q, "\"", NULL));
}

/* 401 with a challenge, and a line at info level (`what` names the user,
 * never the password; the line names the client). */
static int deny(rl_request_t *r, const acl_dir_conf_t *conf, const char *what)
{
    rl_log_rerror(RL_LOG_INFO, 0, r, "%s: authentication failure for %s", what,
                  r->uri);
    acl_basic_challenge(r, conf);
    return 401;
}

/* user and password from "Authorization: Basic …", in r->pool; 0 when
 * absent or not Basic (*why says which) */
static int credentials(rl_request_t *r, char **user, char **pw,
                       const char **why)
{
    const char *h = apr_table_get(r->headers_in, "Authorization");
    const char *s;
    char *dec, *colon;
    int len;

    if (h == NULL) {
        *why = NULL;
        return 0;
    }
    while (apr_isspace(*h)) {
        h++;
    }
    if (strncasecmp(h, "Basic", 5) != 0 || !apr_isspace(h[5])) {
        *why = "credentials of another scheme than Basic";
        return 0;
    }
    h += 5;
    while (apr_isspace(*h)) {
        h++;
    }
    for (s = h; *s; s++) {
        if (!apr_isalnum(*s) && *s != '+' && *s != '/' && *s != '=') {
            break;
        }
    }
    while (apr_isspace(*s)) {
        s++;
    }
    if (*s != '\0' || *h == '\0') {
        *why = "malformed Basic credentials";
        return 0;
    }
    dec = apr_palloc(r->pool, (apr_size_t)apr_base64_decode_len(h) + 1);
    len = apr_base64_decode(dec, h);
    dec[len < 0 ? 0 : len] = '\0';
    colon = strchr(dec, ':');
    if (colon == NULL || (int)strlen(dec) != len) {
        *why = "malformed Basic credentials";
        return 0;
    }
    *colon = '\0';
    *user = dec;
    *pw = colon + 1;
    return 1;
}

int acl_basic_authenticate(rl_request_t *r, const acl_dir_conf_t *conf)
{
    acl_file_t *f = conf->user_file;
    char *user = NULL, *pw = NULL;
    const char *why = NULL, *hash, *who;
    unsigned char key[32];
    apr_uint32_t gen;
    vslot_t *slot;
    int known;

    if (!credentials(r, &user, &pw, &why)) {
        if (why == NULL) {
            rl_log_rerror(RL_LOG_DEBUG, 0, r,
                          "no credentials for %s: asking for them", r->uri);
            acl_basic_challenge(r, conf);
            return 401;
        }
        return deny(r, conf, why);
    }
    who = apr_pescape_echo(r->pool, user, 1);
    /* the name sent, even when it fails: the access log's %u then shows
     * who was tried, as with httpd; a failure ends the request anyway */
    r->user = user;

    apr_thread_mutex_lock(f->lock);
    if (refresh(f, r) != 0) {
        apr_thread_mutex_unlock(f->lock);
        return 500;
    }
    hash = apr_hash_get(f->map, user, APR_HASH_KEY_STRING);
    hash = hash ? apr_pstrdup(r->pool, hash) : NULL;
    gen = f->gen;
    known = 0;
    if (hash != NULL) {
        vkey(f, user, pw, key);
        slot = vslot(f, key);
        known = slot->gen == gen && memcmp(slot->key, key, 32) == 0;
    }
    apr_thread_mutex_unlock(f->lock);

    if (hash == NULL) {
        return deny(
            r, conf,
            apr_psprintf(r->pool, "user \"%s\" not found in %s", who, f->path));
    }
    if (!known) {
        /* bcrypt: tens of milliseconds, with no lock held */
        if (apr_password_validate(pw, hash) != APR_SUCCESS) {
            return deny(
                r, conf,
                apr_psprintf(r->pool, "user \"%s\": password mismatch", who));
        }
        apr_thread_mutex_lock(f->lock);
        if (f->gen == gen) {
            slot = vslot(f, key);
            memcpy(slot->key, key, 32);
            slot->gen = gen;
        }
        apr_thread_mutex_unlock(f->lock);
    }
    rl_log_rerror(RL_LOG_DEBUG, 0, r, "user \"%s\" authenticated%s", who,
                  known ? " (remembered)" : "");
    return RL_OK;
}
