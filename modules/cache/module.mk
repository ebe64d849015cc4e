# mod_cache: every modules/cache/*.c goes into mod_cache.so (the glue,
# the rules, the shared table, the refresher, the memory and disk stores).
# The disk store names its files by SHA-256 (OpenSSL's EVP API), so the
# shared object links libcrypto.
MOD_cache_LIBS = -lcrypto
