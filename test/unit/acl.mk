# build/test/acl_test: the Require tree of mod_acl, linked alone (it
# touches no request and no module record).
UNIT_acl_test_SRCS = modules/acl/acl_require.c
