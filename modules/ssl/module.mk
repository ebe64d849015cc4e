# mod_ssl: every modules/ssl/*.c goes into mod_ssl.so (the default): the
# server side (mod_ssl.c, ssl_ctx.c, ssl_io.c, ssl_vars.c), the session
# cache, OCSP stapling and TLS to backends.  It links OpenSSL 3 (Debian:
# libssl-dev; configure checks for it and sets OPENSSL_LIBS).
MOD_ssl_LIBS = $(OPENSSL_LIBS)
# The SNI reader (ClientHello bytes from an unauthenticated client) keeps
# no state: test/fuzz/fuzz_sni.c links it alone.
FUZZ_sni_SRCS = modules/ssl/ssl_sni.c
