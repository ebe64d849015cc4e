# mod_proxy: ProxyResolver (proxy_resolver.c) resolves backend host names
# at run time with c-ares (Debian: libc-ares-dev; configure checks for it
# and sets CARES_LIBS, which is -lcares).
MOD_proxy_LIBS = $(CARES_LIBS)
