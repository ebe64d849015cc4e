/*
 * mod_badmagic.c: exercises the loader's first check.  The exported
 * badmagic_module record is laid out like a Relais module but carries the
 * cookie "HTTP" instead of "RLAY" (as a foreign shared object would), so
 * `LoadModule badmagic_module …` must be refused with "not a Relais
 * module", naming the file.  Used by test_modules_loading.py.
 */
#include "relais.h"

#define NOT_RELAIS_MAGIC 0x48545450u /* "HTTP" */

RL_DECLARE_MODULE(badmagic) = {NOT_RELAIS_MAGIC,
                               RL_MMN_MAJOR,
                               RL_MMN_MINOR,
                               RL_MODULE_SIGNATURE,
                               "badmagic",
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
