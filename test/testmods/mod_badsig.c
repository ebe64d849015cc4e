/*
 * mod_badsig.c: exercises the build-signature check.  Cookie and API
 * version are right, but the record's signature says it was built for a
 * 32-bit server without threads ("ptr4,apr1,nothreads"), so
 * `LoadModule badsig_module …` must be refused as "not binary compatible",
 * naming the file.  Used by test_modules_loading.py.
 */
#include "relais.h"

#define FOREIGN_SIGNATURE "ptr4,apr1,nothreads"

RL_DECLARE_MODULE(badsig) = {RL_MODULE_MAGIC,
                             RL_MMN_MAJOR,
                             RL_MMN_MINOR,
                             FOREIGN_SIGNATURE,
                             "badsig",
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
