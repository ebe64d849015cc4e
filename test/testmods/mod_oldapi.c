/*
 * mod_oldapi.c: exercises the API major check.  Its record says it was
 * built against module API major RL_MMN_MAJOR - 1 (an older, incompatible
 * server), so `LoadModule oldapi_module …` must be refused with a message
 * naming the file, both API versions and relaisxs (rebuild it).  Used by
 * test_modules_loading.py.
 */
#include "relais.h"

RL_DECLARE_MODULE(oldapi) = {RL_MODULE_MAGIC,
                             RL_MMN_MAJOR - 1,
                             RL_MMN_MINOR,
                             RL_MODULE_SIGNATURE,
                             "oldapi",
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
