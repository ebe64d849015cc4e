# mod_proxy_stream: every modules/proxy_stream/*.c goes into the module
# (the default).  The PROXY protocol codec keeps no state:
# test/fuzz/fuzz_proxy_protocol.c links it alone.
FUZZ_proxy_protocol_SRCS = modules/proxy_stream/stream_proxyproto.c
