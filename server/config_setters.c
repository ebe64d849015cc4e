/*
 * config_setters.c: the generic directive handlers (flag, int, string,
 * path, size, duration) and the parsers behind them.  Messages say what
 * was expected and what was seen.
 */
#include "core.h"

#include <apr_lib.h>
#include <errno.h>

RL_DECLARE(const char *) rl_parse_flag(apr_pool_t *p, const char *arg, int *out)
{
    if (strcasecmp(arg, "on") == 0) {
        *out = 1;
        return NULL;
    }
    if (strcasecmp(arg, "off") == 0) {
        *out = 0;
        return NULL;
    }
    return apr_psprintf(p, "expected On or Off, got '%s'", arg);
}

RL_DECLARE(const char *)
rl_parse_size(apr_pool_t *p, const char *arg, apr_off_t *out)
{
    char *end;
    apr_int64_t v, mult = 1;

    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (end == arg || errno || v < 0) {
        return apr_psprintf(p,
                            "expected a size such as 512, 64k, 4M or 1G, "
                            "got '%s'",
                            arg);
    }
    switch (apr_tolower(*end)) {
    case '\0':
        break;
    case 'k':
        mult = 1024;
        end++;
        break;
    case 'm':
        mult = 1024 * 1024;
        end++;
        break;
    case 'g':
        mult = 1024 * 1024 * 1024;
        end++;
        break;
    default:
        end = (char *)"?";
    }
    if (*end != '\0' && !(apr_tolower(*end) == 'b' && end[1] == '\0')) {
        return apr_psprintf(p,
                            "expected a size such as 512, 64k, 4M or 1G, "
                            "got '%s'",
                            arg);
    }
    if (v > APR_INT64_MAX / mult) {
        return apr_psprintf(p, "size '%s' is too large", arg);
    }
    *out = (apr_off_t)(v * mult);
    return NULL;
}

RL_DECLARE(const char *)
rl_parse_duration(apr_pool_t *p, const char *arg, apr_interval_time_t unit,
                  apr_interval_time_t *out)
{
    char *end;
    apr_int64_t v;
    apr_interval_time_t mult = unit;

    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (end == arg || errno || v < 0) {
        return apr_psprintf(p,
                            "expected a duration such as 30, 250ms, 5s, "
                            "2m or 1h, got '%s'",
                            arg);
    }
    if (strcasecmp(end, "ms") == 0) {
        mult = 1000;
    } else if (strcasecmp(end, "s") == 0) {
        mult = APR_USEC_PER_SEC;
    } else if (strcasecmp(end, "m") == 0 || strcasecmp(end, "min") == 0) {
        mult = 60 * APR_USEC_PER_SEC;
    } else if (strcasecmp(end, "h") == 0) {
        mult = 3600 * APR_USEC_PER_SEC;
    } else if (strcasecmp(end, "us") == 0) {
        mult = 1;
    } else if (*end != '\0') {
        return apr_psprintf(p,
                            "expected a duration such as 30, 250ms, 5s, "
                            "2m or 1h, got '%s'",
                            arg);
    }
    if (v > APR_INT64_MAX / mult) {
        return apr_psprintf(p, "duration '%s' is too large", arg);
    }
    *out = v * mult;
    return NULL;
}

RL_DECLARE(const char *)
rl_server_root_relative(apr_pool_t *p, const char *path)
{
    if (path[0] == '/' || rl_proc.server_root == NULL) {
        return apr_pstrdup(p, path);
    }
    return apr_pstrcat(p, rl_proc.server_root, "/", path, NULL);
}

#define SLOT(type, conf, cmd)                                                  \
    ((type *)((char *)(conf) + (apr_size_t)(cmd)->data))

RL_DECLARE(const char *)
rl_set_flag_slot(rl_cmd_t *cmd, void *conf, int argc, char *const argv[])
{
    (void)argc;
    return rl_parse_flag(cmd->temp_pool, argv[0], SLOT(int, conf, cmd));
}

RL_DECLARE(const char *)
rl_set_int_slot(rl_cmd_t *cmd, void *conf, int argc, char *const argv[])
{
    char *end;
    long v;

    (void)argc;
    errno = 0;
    v = strtol(argv[0], &end, 10);
    if (*argv[0] == '\0' || *end != '\0' || errno || v < 0 || v > INT_MAX) {
        return apr_psprintf(cmd->temp_pool,
                            "expected a non-negative whole number, got '%s'",
                            argv[0]);
    }
    *SLOT(int, conf, cmd) = (int)v;
    return NULL;
}

RL_DECLARE(const char *)
rl_set_string_slot(rl_cmd_t *cmd, void *conf, int argc, char *const argv[])
{
    (void)argc;
    *SLOT(const char *, conf, cmd) = apr_pstrdup(cmd->pool, argv[0]);
    return NULL;
}

RL_DECLARE(const char *)
rl_set_path_slot(rl_cmd_t *cmd, void *conf, int argc, char *const argv[])
{
    (void)argc;
    *SLOT(const char *, conf, cmd) =
        rl_server_root_relative(cmd->pool, argv[0]);
    return NULL;
}

RL_DECLARE(const char *)
rl_set_size_slot(rl_cmd_t *cmd, void *conf, int argc, char *const argv[])
{
    (void)argc;
    return rl_parse_size(cmd->temp_pool, argv[0], SLOT(apr_off_t, conf, cmd));
}

RL_DECLARE(const char *)
rl_set_duration_slot(rl_cmd_t *cmd, void *conf, int argc, char *const argv[])
{
    (void)argc;
    return rl_parse_duration(cmd->temp_pool, argv[0], APR_USEC_PER_SEC,
                             SLOT(apr_interval_time_t, conf, cmd));
}
