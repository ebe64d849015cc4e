# mod_http2: HTTP/2 from clients (h2 over TLS, h2c with prior knowledge),
# every modules/http2/*.c.  It links Debian's libnghttp2 (package
# libnghttp2-dev; nghttp2 1.52 or later).  docs/http2.md.
MOD_http2_LIBS = $(NGHTTP2_LIBS)
# The translation of a request's header list into an HTTP/1.1 head keeps
# no state and needs no nghttp2: test/fuzz/fuzz_h2_request.c links it
# alone.
FUZZ_h2_request_SRCS = modules/http2/h2_request.c
# The reading of the core's response head back (h2_response.c) keeps no
# state either: test/fuzz/fuzz_h2_response.c checks it against the core's
# parser.
FUZZ_h2_response_SRCS = modules/http2/h2_response.c
