# mod_healthcheck: every modules/healthcheck/*.c goes into the module (the
# default).  The expression fuzzer (test/fuzz/fuzz_hcexpr.c) links the
# parser, the evaluator and the response parser alone: they keep no state
# of the module's.
FUZZ_hcexpr_SRCS = modules/healthcheck/hc_expr.c \
                   modules/healthcheck/hc_response.c
