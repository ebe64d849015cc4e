# mod_acl: Require, <RequireAll|Any|None>, AuthType Basic with htpasswd and
# group files, and RateLimit.  Every modules/acl/*.c goes into mod_acl.so
# (the default), acl_ratelimit.c included.  The credential cache hashes
# with OpenSSL's SHA-256 (EVP API), so the shared object links libcrypto.
MOD_acl_LIBS = -lcrypto
