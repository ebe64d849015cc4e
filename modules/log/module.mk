# mod_log: every modules/log/*.c goes into the module (the default).  The
# LogFormat fuzzer (test/fuzz/fuzz_log_format.c) links the format language
# alone: log_format.c keeps no state of the module's and reaches the rest
# of Relais only through the core (rl_lookup_provider for other modules'
# letters).
FUZZ_log_format_SRCS = modules/log/log_format.c
