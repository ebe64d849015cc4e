/*
 * stream_log.c: ProxyStreamLog, one line per TCP connection or UDP
 * session, in a fixed format (docs/stream.md):
 *
 *   [30/Nov/2026:14:02:07 +0000] client=127.0.0.1:51022
 *   listener=127.0.0.1:6380 proto=tcp balancer=balancer://redis
 *   member=tcp://127.0.0.1:6379 up=31 down=7 duration_ms=12 attempts=1
 *   cause=client-close
 *
 * (one line in the file).  Every value is one word: scripts split on
 * spaces and '='.  The parent opens each file once per generation (in
 * append mode, so a graceful restart after logrotate writes to the new
 * file); every child writes whole lines with one write(2), which O_APPEND
 * keeps from interleaving.
 */
#include "stream_private.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

RL_LOG_USE_MODULE(proxy_stream);


static apr_status_t stream_log_close(void *v)
{
    close((int)(intptr_t)v);
    return APR_SUCCESS;
}


apr_status_t stream_log_open(apr_pool_t *pconf, rl_server_t *main_s)
{
    apr_hash_t *opened = apr_hash_make(pconf);
    rl_server_t *s;

    for (s = main_s; s != NULL; s = s->next) {
        stream_conf_t *conf = stream_conf(s);
        void *fdp;
        int fd;
        if (conf->log_path == NULL) {
            continue;
        }
        fdp = apr_hash_get(opened, conf->log_path, APR_HASH_KEY_STRING);
        if (fdp != NULL) {
            conf->log_fd = (int)(intptr_t)fdp - 1;
            continue;
        }
        fd = open(conf->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                  0644);
        if (fd < 0) {
            rl_log_error(RL_LOG_EMERG, APR_FROM_OS_ERROR(errno), s,
                         "ProxyStreamLog: cannot open %s", conf->log_path);
            return APR_FROM_OS_ERROR(errno);
        }
        apr_pool_cleanup_register(pconf, (void *)(intptr_t)fd, stream_log_close,
                                  apr_pool_cleanup_null);
        apr_hash_set(opened, conf->log_path, APR_HASH_KEY_STRING,
                     (void *)(intptr_t)(fd + 1));
        conf->log_fd = fd;
    }
    return APR_SUCCESS;
}


void stream_log_write(const stream_conf_t *conf, const stream_log_rec_t *rec)
{
    char line[1024], when[40];
    apr_time_exp_t tm;
    apr_size_t wlen;
    int n;

    if (conf->log_fd < 0) {
        return;
    }
    apr_time_exp_lt(&tm, rec->end);
    apr_strftime(when, &wlen, sizeof(when), "%d/%b/%Y:%H:%M:%S %z", &tm);
    n = apr_snprintf(line, sizeof(line),
                     "[%s] client=%s listener=%s proto=%s balancer=%s "
                     "member=%s up=%" APR_UINT64_T_FMT
                     " down=%" APR_UINT64_T_FMT " duration_ms=%" APR_INT64_T_FMT
                     " attempts=%d cause=%s\n",
                     when, rec->client, rec->listener, rec->proto,
                     rec->balancer, rec->member, rec->up, rec->down,
                     (apr_int64_t)apr_time_as_msec(rec->end - rec->start),
                     rec->attempts, rec->cause);
    if (n > 0 && write(conf->log_fd, line, (size_t)n) < 0) {
        /* nothing better to do: the error log would fill up as fast */
    }
}
