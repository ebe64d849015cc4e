/*
 * mod_newminor.c: exercises the API minor check.  Its record says it needs
 * module API RL_MMN_MAJOR.(RL_MMN_MINOR + 1): same major, but a newer minor
 * than this server has (it may call functions the server lacks), so
 * `LoadModule newminor_module …` must be refused with a message naming the
 * file and both versions.  Used by test_modules_loading.py.
 */
#include "relais.h"

RL_DECLARE_MODULE(newminor) = {RL_MODULE_MAGIC,
                               RL_MMN_MAJOR,
                               RL_MMN_MINOR + 1,
                               RL_MODULE_SIGNATURE,
                               "newminor",
                               "1.0.0",
                               0,
                               -1,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL,
                               NULL};
