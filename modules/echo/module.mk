# mod_echo: the demo backend and example module (modules/echo/mod_echo.c).
# It hashes request bodies with OpenSSL's SHA-256 (EVP API), so the shared
# object links libcrypto.
MOD_echo_LIBS = -lcrypto
