"""The hostile-input cases, shared by the tests of this directory and by
test/hostile/compare.py (which runs them through HAProxy and nginx too).

A request case is bytes a client sends to the proxy; the proxy forwards
to a RecordingBackend under the path prefix /main/ (or /other/ for the
name-based host other.test).  A response case is bytes a HostileBackend
answers with.  Each case carries the status Relais must answer and what
the backend may receive; docs/hardening.md lists them with the reasons.
"""
from helpers_hardening import H, chunk

HOST = "Host: relais.test"
# The hidden request of the smuggling cases: "/smuggled" must never reach
# a backend, in any position.
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: relais.test\r\n\r\n"


class RequestCase:
    """status: what Relais answers (the first final response); responses:
    how many final responses come back (a pipeline has two); backend: the
    complete requests the backend gets (targets, in order); closed: Relais
    closes the connection after answering; forbidden: byte strings that
    must not reach the backend; interim: the 1xx statuses that come before
    the answer; head_forwarded: the request head reaches the backend
    before the error shows (an error in the body), but never a complete
    request; body: the body the backend must get."""

    def __init__(self, name, data, status, backend=(), responses=1,
                 closed=None, forbidden=(b"/smuggled",), interim=(),
                 why="", group="", timeout=5.0, body=None,
                 head_forwarded=None):
        self.name = name
        self.data = data
        self.status = status
        self.backend = list(backend)
        self.responses = responses
        self.closed = status >= 400 if closed is None else closed
        self.forbidden = forbidden
        self.interim = interim
        self.why = why
        self.group = group
        self.timeout = timeout
        self.body = body
        if head_forwarded is None:
            head_forwarded = group == "chunks" and status >= 400
        self.head_forwarded = head_forwarded

    def __repr__(self):
        return self.name


def R(name, status, *lines, body=b"", **kw):
    return RequestCase(name, H(*lines, body=body), status, **kw)


def post(*extra, target="/x"):
    """A POST head's lines (to /x, which the backend sees as /main/x)."""
    return ("POST %s HTTP/1.1" % target, HOST) + extra


REQUEST_CASES = [
    # --- Content-Length and Transfer-Encoding together ---------------
    R("cl_te", 400, *post("Content-Length: 46", "Transfer-Encoding: chunked"),
      body=b"0\r\n\r\n" + SMUGGLED, group="framing",
      why="RFC 9112 6.1: a request with both is refused and the "
          "connection closed, never guessed at"),
    R("te_cl", 400, *post("Transfer-Encoding: chunked", "Content-Length: 3"),
      body=b"2e\r\n" + SMUGGLED + b"\r\n0\r\n\r\n", group="framing",
      why="same, with Transfer-Encoding first"),
    # --- Content-Length values ----------------------------------------
    RequestCase("cl_duplicate_same",
                H(*post("Content-Length: 5", "Content-Length: 5"),
                  body=b"hello"), 200, backend=["/main/x"], closed=False,
                group="length", body=b"hello",
                why="RFC 9110 8.6 lets a recipient take identical values "
                    "as one; the backend gets one Content-Length: 5"),
    RequestCase("cl_list_same", H(*post("Content-Length: 5, 5"),
                                  body=b"hello"),
                200, backend=["/main/x"], closed=False, group="length",
                body=b"hello", why="the same, as a list in one field"),
    R("cl_list_differ", 400, *post("Content-Length: 5,6"), body=b"hello!",
      group="length", why="values disagree: the body length is unknown"),
    R("cl_two_fields_differ", 400, *post("Content-Length: 5",
                                         "Content-Length: 6"),
      body=b"hello!", group="length", why="same, in two fields"),
    R("cl_plus", 400, *post("Content-Length: +5"), body=b"hello",
      group="length", why="1*DIGIT only: a sign is not a digit"),
    R("cl_minus", 400, *post("Content-Length: -1"), body=b"hello",
      group="length", why="same"),
    RequestCase("cl_leading_space", H(*post("Content-Length:  5"),
                                      body=b"hello"),
                200, backend=["/main/x"], closed=False, group="length",
                body=b"hello", why="whitespace around a field value is "
                                   "OWS, not part of it (RFC 9110 5.5)"),
    R("cl_hex", 400, *post("Content-Length: 0x5"), body=b"hello",
      group="length", why="1*DIGIT only"),
    R("cl_space_inside", 400, *post("Content-Length: 5 5"),
      body=b"hello", group="length", why="not a number"),
    R("cl_empty", 400, *post("Content-Length: "), body=b"hello",
      group="length", why="not a number"),
    R("cl_overflow", 400, *post("Content-Length: 99999999999999999999"),
      body=b"hello", group="length",
      why="beyond 2^63-1: refused rather than wrapped"),
    # --- Transfer-Encoding variants --------------------------------
    RequestCase("te_case_Chunked",
                H(*post("Transfer-Encoding: Chunked"),
                  body=chunk(b"hello") + b"0\r\n\r\n"),
                200, backend=["/main/x"], closed=False, group="te",
                body=b"hello",
                why="coding names are case-insensitive (RFC 9112 7): "
                    "accepted, and re-framed as chunked for the backend"),
    RequestCase("te_whitespace",
                H(*post("Transfer-Encoding: \t chunked \t"),
                  body=chunk(b"hello") + b"0\r\n\r\n"),
                200, backend=["/main/x"], closed=False, group="te",
                body=b"hello", why="OWS around the value is not part of it"),
    R("te_chunked_chunked", 400, *post("Transfer-Encoding: chunked, "
                                       "chunked"),
      body=b"0\r\n\r\n" + SMUGGLED, group="te",
      why="chunked twice is invalid (RFC 9112 6.1); only a single "
          "'chunked' is accepted"),
    R("te_gzip_chunked", 400, *post("Transfer-Encoding: gzip, chunked"),
      body=b"0\r\n\r\n" + SMUGGLED, group="te",
      why="no transfer coding but chunked is implemented; 400 (not 501) "
          "as for every other framing error"),
    R("te_unknown", 400, *post("Transfer-Encoding: xchunked"),
      body=b"0\r\n\r\n" + SMUGGLED, group="te", why="same"),
    R("te_identity", 400, *post("Transfer-Encoding: identity",
                                "Content-Length: 5"),
      body=b"hello", group="te",
      why="'identity' was removed from HTTP/1.1; with a Content-Length "
          "it is the classic smuggling pair"),
    R("te_two_fields", 400, *post("Transfer-Encoding: chunked",
                                  "Transfer-Encoding: chunked"),
      body=b"0\r\n\r\n" + SMUGGLED, group="te",
      why="a second field makes a list of two codings"),
    R("te_http10", 400, "POST /x HTTP/1.0", HOST,
      "Transfer-Encoding: chunked",
      body=b"0\r\n\r\n" + SMUGGLED, group="te",
      why="HTTP/1.0 has no chunked coding (RFC 9112 6.1)"),
    R("te_vtab", 400, *post("Transfer-Encoding: \x0bchunked",
                            "Content-Length: 5"),
      body=b"hello", group="te", why="a control byte in a field value"),
    R("te_space_before_colon", 400, *post("Transfer-Encoding : chunked",
                                          "Content-Length: 5"),
      body=b"hello", group="te",
      why="whitespace before the colon is refused (RFC 9112 5.1)"),
    # --- chunk framing ----------------------------------------------
    R("chunk_size_overflow", 400, *post("Transfer-Encoding: chunked"),
      body=b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
      group="chunks", why="more than 15 hex digits is refused before it "
                          "can overflow"),
    R("chunk_size_negative", 400, *post("Transfer-Encoding: chunked"),
      body=b"-5\r\nhello\r\n0\r\n\r\n", group="chunks", why="not hex"),
    R("chunk_size_0x", 400, *post("Transfer-Encoding: chunked"),
      body=b"0x5\r\nhello\r\n0\r\n\r\n", group="chunks",
      why="only hex digits, then OWS, ';' or the line end"),
    R("chunk_size_leading_space", 400, *post("Transfer-Encoding: chunked"),
      body=b" 5\r\nhello\r\n0\r\n\r\n", group="chunks", why="same"),
    R("chunk_ext_control", 400, *post("Transfer-Encoding: chunked"),
      body=b"5;a=\x01\r\nhello\r\n0\r\n\r\n", group="chunks",
      why="a control byte in a chunk extension"),
    R("chunk_ext_nul", 400, *post("Transfer-Encoding: chunked"),
      body=b"5;a\x00b\r\nhello\r\n0\r\n\r\n", group="chunks", why="same"),
    R("chunk_ext_no_semicolon", 400, *post("Transfer-Encoding: chunked"),
      body=b"5 junk\r\nhello\r\n0\r\n\r\n", group="chunks",
      why="text after the size must start with ';'"),
    R("chunk_bare_cr", 400, *post("Transfer-Encoding: chunked"),
      body=b"5\rhello\r\n0\r\n\r\n", group="chunks",
      why="a CR must be followed by LF"),
    R("chunk_data_too_long", 400, *post("Transfer-Encoding: chunked"),
      body=b"3\r\nhello\r\n0\r\n\r\n", group="chunks",
      why="chunk data must be followed by CRLF"),
    RequestCase("chunk_lf_only",
                H(*post("Transfer-Encoding: chunked"),
                  body=b"5\nhello\n0\n\n"),
                200, backend=["/main/x"], closed=False, group="chunks",
                body=b"hello",
                why="a bare LF ends chunk lines as it ends head lines (RFC "
                    "9112 2.2; HAProxy and nginx accept it too); the "
                    "backend gets the body chunked again with CRLF"),
    R("chunk_ext_lf", 400, *post("Transfer-Encoding: chunked"),
      body=b"2;a\nxx\r\nyy\r\n0\r\n\r\n", group="chunks",
      why="the LF ends the size line, so 'xx' is the data and 'yy' no "
          "chunk size: refused, never read as the extension 'a\\nxx'"),
    RequestCase("chunk_ext_valid",
                H(*post("Transfer-Encoding: chunked"),
                  body=b"5;name=\"va;l\"\r\nhello\r\n0\r\n\r\n"),
                200, backend=["/main/x"], closed=False, group="chunks",
                body=b"hello",
                why="valid extensions are accepted and not forwarded "
                    "(the body is re-framed)"),
    # --- line endings, folding, controls ------------------------------
    RequestCase("bare_lf_head", b"GET /lf HTTP/1.1\nHost: relais.test\n\n",
                200, backend=["/main/lf"], closed=False, group="lines",
                why="RFC 9112 2.2 lets a recipient accept a bare LF; the "
                    "backend gets a head rebuilt with CRLF"),
    RequestCase("bare_lf_mixed",
                b"GET /lf2 HTTP/1.1\r\nHost: relais.test\nX-A: 1\r\n\r\n",
                200, backend=["/main/lf2"], closed=False, group="lines",
                why="same"),
    R("bare_cr_in_value", 400, "GET /x HTTP/1.1", HOST,
      b"X-A: a\rX-Injected: 1", group="lines",
      why="a CR not followed by LF (RFC 9112 2.2)"),
    R("obs_fold", 400, "GET /x HTTP/1.1", HOST, "X-A: one", " two",
      group="lines", why="obs-fold is refused (RFC 9112 5.2)"),
    R("obs_fold_te", 400, *post("X-A: one", " Transfer-Encoding: chunked",
                                "Content-Length: 5"),
      body=b"hello", group="lines", why="same, hiding a Transfer-Encoding"),
    R("nul_in_value", 400, "GET /x HTTP/1.1", HOST, b"X-A: a\x00b",
      group="lines", why="NUL anywhere in a head"),
    R("nul_in_name", 400, "GET /x HTTP/1.1", HOST, b"X-\x00A: a",
      group="lines", why="same"),
    R("ctl_in_value", 400, "GET /x HTTP/1.1", HOST, b"X-A: a\x01b",
      group="lines", why="controls other than HTAB (RFC 9110 5.5)"),
    R("del_in_value", 400, "GET /x HTTP/1.1", HOST, b"X-A: a\x7fb",
      group="lines", why="DEL is a control too"),
    R("ctl_in_name", 400, "GET /x HTTP/1.1", HOST, b"X-\x01A: a",
      group="lines", why="field names are tokens"),
    RequestCase("obs_text_in_value",
                H("GET /x HTTP/1.1", HOST, b"X-A: caf\xe9"), 200,
                backend=["/main/x"], closed=False, group="lines",
                why="obs-text (0x80-0xFF) is allowed in values and "
                    "forwarded as is"),
    R("space_before_colon", 400, "GET /x HTTP/1.1", HOST, "X-A : v",
      group="lines", why="RFC 9112 5.1: MUST be refused with 400"),
    R("tab_before_colon", 400, "GET /x HTTP/1.1", HOST, "X-A\t: v",
      group="lines", why="same"),
    R("empty_field_name", 400, "GET /x HTTP/1.1", HOST, ": v",
      group="lines", why="a field name is 1*tchar"),
    R("space_before_first_field", 400, "GET /x HTTP/1.1", " " + HOST,
      group="lines", why="RFC 9112 2.2: whitespace before the first "
                         "field is refused"),
    # --- request line -------------------------------------------------
    R("method_paren", 400, "G(E)T /x HTTP/1.1", HOST, group="line",
      why="a method is a token"),
    R("method_nul", 400, b"GE\x00T /x HTTP/1.1", HOST, group="line",
      why="NUL anywhere in a head"),
    R("method_leading_space", 400, " GET /x HTTP/1.1", HOST,
      group="line", why="empty method"),
    R("double_space", 400, "GET  /x HTTP/1.1", HOST, group="line",
      why="one SP between the parts, no more"),
    R("tab_separator", 400, "GET\t/x HTTP/1.1", HOST, group="line",
      why="same"),
    R("trailing_space", 400, "GET /x HTTP/1.1 ", HOST, group="line",
      why="same"),
    R("version_lower", 400, "GET /x http/1.1", HOST, group="line",
      why="HTTP-name is case-sensitive"),
    R("version_http2", 505, "GET /x HTTP/2.0", HOST, group="line",
      why="a well-formed version Relais does not speak"),
    R("version_http3", 505, "GET /x HTTP/3.0", HOST, group="line",
      why="same"),
    R("h2_preface", 505, "PRI * HTTP/2.0", body=b"SM\r\n\r\n",
      group="line", why="the HTTP/2 preface on a plain HTTP/1.1 port: a "
                        "505 status line, then close"),
    RequestCase("http09", b"GET /\r\n", 400, group="line", timeout=3.0,
                why="HTTP/0.9 is refused at once, with an HTTP/1.1 status "
                    "line (no head end is waited for)"),
    RequestCase("http09_path", b"GET /index.html\r\n", 400,
                group="line", timeout=3.0,
                why="same"),
    # --- request targets --------------------------------------------
    RequestCase("absolute_form_other_host",
                H("GET http://other.test/abs HTTP/1.1", HOST), 200,
                backend=["/other/abs"], closed=False, group="target",
                why="absolute-form: the target's host chooses the virtual "
                    "host, Host is ignored (RFC 9112 3.2.2); nothing is "
                    "forwarded to that host itself"),
    RequestCase("absolute_form_same_host",
                H("GET http://relais.test/abs?q=1 HTTP/1.1", HOST), 200,
                backend=["/main/abs?q=1"], closed=False, group="target",
                why="same"),
    R("absolute_form_userinfo", 400, "GET http://u@other.test/x HTTP/1.1",
      HOST, group="target",
      why="userinfo in an http URI is an error (RFC 9110 4.2.4)"),
    R("absolute_form_ftp", 400, "GET ftp://other.test/x HTTP/1.1", HOST,
      group="target", why="only http and https targets are served"),
    R("connect", 405, "CONNECT other.test:443 HTTP/1.1",
      "Host: other.test:443", body=SMUGGLED, group="target",
      why="forward proxying is off: CONNECT is refused with 405, and the "
          "connection closed (what follows was meant for a tunnel)"),
    R("connect_origin_form", 400, "CONNECT /x HTTP/1.1", HOST,
      group="target", why="CONNECT needs authority-form"),
    R("authority_form_get", 400, "GET other.test:443 HTTP/1.1", HOST,
      group="target", why="authority-form is for CONNECT only"),
    R("asterisk_get", 400, "GET * HTTP/1.1", HOST, group="target",
      why="asterisk-form is for OPTIONS only"),
    R("fragment_in_target", 400, "GET /x#frag HTTP/1.1", HOST,
      group="target", why="a target never has a fragment"),
    R("dotdot_above_root", 400, "GET /../../etc/passwd HTTP/1.1", HOST,
      group="target", why="a path above the root"),
    # --- sizes ------------------------------------------------------
    R("request_line_too_long", 414, "GET /" + "a" * 9000 + " HTTP/1.1",
      HOST, group="size", why="over LimitRequestLine (8190)"),
    R("field_too_long", 431, "GET /x HTTP/1.1", HOST,
      "X-Big: " + "b" * 9000, group="size",
      why="over LimitRequestFieldSize (8190)"),
    R("fields_101", 431, "GET /x HTTP/1.1", HOST,
      *["X-H%d: v" % i for i in range(101)], group="size",
      why="over LimitRequestFields (100)"),
    R("fields_1000", 431, "GET /x HTTP/1.1", HOST,
      *["X-H%d: v" % i for i in range(1000)], group="size", why="same"),
    # --- bodies over LimitRequestBody -------------------------------
    R("limit_body_cl", 413, "POST /limited/x HTTP/1.1", HOST,
      "Content-Length: 2000", body=b"q" * 2000, group="limit",
      why="a declared length over LimitRequestBody: 413 before the body "
          "is read or anything is forwarded"),
    R("limit_body_chunked", 413, "POST /limited/x HTTP/1.1", HOST,
      "Transfer-Encoding: chunked",
      body=b"".join(chunk(b"q" * 400) for _ in range(5)) + b"0\r\n\r\n",
      group="limit", head_forwarded=True,
      why="a chunked body that grows past the limit: 413; the backend "
          "got the head and part of the body, and its connection is "
          "closed without the last chunk"),
    R("limit_body_expect", 413, "POST /limited/x HTTP/1.1", HOST,
      "Expect: 100-continue", "Content-Length: 5000", group="limit",
      why="413 at once, never a 100 Continue first"),
    # --- Expect -----------------------------------------------------
    R("expect_unknown", 417, *post("Expect: something-else",
                                   "Content-Length: 5"),
      body=b"hello", group="expect",
      why="an expectation Relais cannot meet (RFC 9110 10.1.1)"),
    R("expect_100_and_unknown", 417, *post("Expect: 100-continue, x",
                                           "Content-Length: 5"),
      body=b"hello", group="expect", why="same: one unmet expectation"),
    R("expect_two_fields", 417, *post("Expect: 100-continue", "Expect: x",
                                      "Content-Length: 5"),
      body=b"hello", group="expect",
      why="a second Expect field is an expectation too"),
    RequestCase("expect_http10",
                H("POST /x HTTP/1.0", HOST, "Expect: 100-continue",
                  "Content-Length: 5", body=b"hello"),
                200, backend=["/main/x"], closed=True, interim=(),
                group="expect", body=b"hello",
                why="ignored for HTTP/1.0 (RFC 9110 10.1.1): no 100"),
    RequestCase("expect_get_no_body",
                H("GET /x HTTP/1.1", HOST, "Expect: 100-continue"),
                200, backend=["/main/x"], closed=False, interim=(),
                group="expect",
                why="no body to wait for: no 100, just the answer"),
    # --- pipelining and bytes after the end -----------------------
    RequestCase("pipeline_after_body",
                H(*post("Content-Length: 5"), body=b"hello")
                + H("GET /second HTTP/1.1", HOST),
                200, responses=2, backend=["/main/x", "/main/second"],
                closed=False, group="pipeline",
                why="both answered in order; the backend sees exactly two "
                    "well-framed requests"),
    RequestCase("pipeline_after_chunked",
                H(*post("Transfer-Encoding: chunked"),
                  body=chunk(b"hello") + b"0\r\n\r\n")
                + H("GET /second HTTP/1.1", HOST),
                200, responses=2, backend=["/main/x", "/main/second"],
                closed=False, group="pipeline", why="same"),
    RequestCase("after_connection_close",
                H("GET /a HTTP/1.1", HOST, "Connection: close") + SMUGGLED,
                200, backend=["/main/a"], closed=True, group="pipeline",
                why="nothing after a request that says close is read as a "
                    "request"),
]

# The head of the body trickled too slowly (compare.py; the test is in
# test_request_body_limits.py)
TRICKLE_HEAD = H("POST /x HTTP/1.1", HOST, "Content-Length: 1000")


class ResponseCase:
    """raw: the backend's whole answer; after: bytes it sends later
    (after_delay) on the same connection; keep: the connection stays open
    for more requests.  status: what the client gets (None: the head
    arrives, then the connection is cut); forbidden: bytes that must not
    reach the client."""

    def __init__(self, name, raw, status=502, after=b"", after_delay=0.0,
                 keep=False, forbidden=None, why="",
                 second=False):
        self.name = name
        self.raw = raw
        self.status = status
        self.after = after
        self.after_delay = after_delay
        self.keep = keep
        self.forbidden = LINE_MARKS if forbidden is None else forbidden
        self.why = why
        self.second = second    # a second request follows on the client
        # connection and must get a clean answer

    def __repr__(self):
        return self.name


OK_TAIL = b"Content-Length: 2\r\n\r\nok"
# What must never reach the client (compared without case): a line that
# starts with "Injected" (a header the backend smuggled into the head, or
# raw bytes after it), a NUL, the stray response's "EVIL!" body; for the
# cases that hide it in a body, "Injected" anywhere.
LINE_MARKS = (b"\ninjected", b"\rinjected", b"\x00", b"evil!")
ANY_MARKS = (b"injected", b"\x00", b"evil!")

RESPONSE_CASES = [
    ResponseCase("cr_in_value", b"HTTP/1.1 200 OK\r\nX-Evil: a\rInjected: "
                 b"yes\r\n" + OK_TAIL,
                 why="a CR not followed by LF: header injection"),
    ResponseCase("lf_in_value", b"HTTP/1.1 200 OK\r\nX-Evil: a\nInjected: "
                 b"yes\r\n" + OK_TAIL,
                 why="a bare LF in a backend head is refused (a client may "
                     "send one; a backend that does is broken or "
                     "injected)"),
    ResponseCase("bare_lf_head", b"HTTP/1.1 200 OK\nInjected: yes\n"
                 b"Content-Length: 2\n\nok",
                 why="same, every line"),
    ResponseCase("nul_in_value", b"HTTP/1.1 200 OK\r\nX-Evil: a\x00Injected"
                 b": yes\r\n" + OK_TAIL, why="NUL in a head"),
    ResponseCase("obs_fold", b"HTTP/1.1 200 OK\r\nX-Evil: a\r\n Injected: "
                 b"yes\r\n" + OK_TAIL, why="obs-fold"),
    ResponseCase("space_before_colon", b"HTTP/1.1 200 OK\r\nInjected : "
                 b"yes\r\n" + OK_TAIL, why="whitespace before a colon"),
    ResponseCase("no_status_line", b"Content-Length: 2\r\nInjected: yes"
                 b"\r\n\r\nok", why="no status line"),
    ResponseCase("http09_body", b"<html>Injected</html>", forbidden=ANY_MARKS,
                 why="no head at all (an HTTP/0.9 answer)"),
    ResponseCase("status_2_digits", b"HTTP/1.1 20 OK\r\n" + OK_TAIL,
                 why="a status is three digits"),
    ResponseCase("status_4_digits", b"HTTP/1.1 2000 OK\r\n" + OK_TAIL,
                 why="same"),
    ResponseCase("status_letters", b"HTTP/1.1 abc OK\r\n" + OK_TAIL,
                 why="same"),
    ResponseCase("status_600", b"HTTP/1.1 600 OK\r\n" + OK_TAIL,
                 why="100 to 599 only"),
    ResponseCase("icy", b"ICY 200 OK\r\n" + OK_TAIL,
                 why="not HTTP"),
    ResponseCase("http2_version", b"HTTP/2.0 200 OK\r\n" + OK_TAIL,
                 why="HTTP/1.x only on an HTTP/1.1 connection"),
    ResponseCase("cl_differ", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                 b"Content-Length: 12\r\n\r\nokInjected!!", why="which one?",
                 forbidden=ANY_MARKS),
    ResponseCase("cl_invalid", b"HTTP/1.1 200 OK\r\nContent-Length: 0x2"
                 b"\r\n\r\nok", why="1*DIGIT only"),
    ResponseCase("cl_negative", b"HTTP/1.1 200 OK\r\nContent-Length: -1"
                 b"\r\n\r\nok", why="same"),
    ResponseCase("cl_and_te", b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
                 b"Injected!", forbidden=ANY_MARKS,
                 why="both framings: refused, not guessed at"),
    ResponseCase("te_not_chunked", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                 b"gzip\r\n\r\nokInjected", forbidden=ANY_MARKS,
                 why="a transfer coding Relais cannot decode"),
    ResponseCase("huge_header", b"HTTP/1.1 200 OK\r\nX-Big: "
                 + b"a" * 20000 + b"\r\n" + OK_TAIL,
                 why="a field line over 8 KiB"),
    ResponseCase("many_headers", b"HTTP/1.1 200 OK\r\n"
                 + b"".join(b"X-H%d: v\r\n" % i for i in range(300))
                 + OK_TAIL, why="over 100 fields"),
    ResponseCase("unsolicited_101", b"HTTP/1.1 101 Switching Protocols\r\n"
                 b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                 b"Injected raw bytes",
                 why="a switch nobody asked for"),
    ResponseCase("bad_chunk_early", b"HTTP/1.1 200 OK\r\nTransfer-"
                 b"Encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\nInjected\r\n"
                 b"0\r\n\r\n",
                 why="a bad chunk before the response head went out to "
                     "the client: 502"),
    ResponseCase("bad_chunk_mid_body", b"HTTP/1.1 200 OK\r\nTransfer-"
                 b"Encoding: chunked\r\n\r\n" + chunk(b"x" * 200000)
                 + b"zz\r\nInjected\r\n0\r\n\r\n", status=None,
                 why="the head went out already: the client connection is "
                     "cut, the body never completes"),
    ResponseCase("body_after_204", b"HTTP/1.1 204 No Content\r\n"
                 b"Content-Length: 5\r\n\r\nEVIL!", status=204, keep=True,
                 second=True,
                 why="a 204 has no body whatever its Content-Length says: "
                     "the 5 bytes are stray bytes, never relayed, and the "
                     "connection is not pooled"),
    ResponseCase("extra_bytes_same_packet", b"HTTP/1.1 200 OK\r\n" + OK_TAIL
                 + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!",
                 status=200, keep=True, second=True,
                 why="the response itself is complete and relayed; the "
                     "stray bytes are never relayed and the connection is "
                     "not pooled"),
    ResponseCase("extra_bytes_later", b"HTTP/1.1 200 OK\r\n" + OK_TAIL,
                 after=b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!",
                 after_delay=0.3, status=200, keep=True, second=True,
                 why="stray bytes arrive on the idle pooled connection: it "
                     "is discarded, and the next request goes to a new "
                     "connection"),
]
