# build/test/cache_disk_test: mod_cache's disk store.  The test includes
# modules/cache/cache_disk.c (to reach its index), which names entries with
# OpenSSL's SHA-256: the program links libcrypto, as mod_cache.so does.
$(B)/test/cache_disk_test: CMOCKA_LIBS += -lcrypto
