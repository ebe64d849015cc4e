# build/test/cache_rules_test: mod_cache's RFC 9111 rules, linked alone
# (pure functions: no request, store or module record).
UNIT_cache_rules_test_SRCS = modules/cache/cache_rules.c
