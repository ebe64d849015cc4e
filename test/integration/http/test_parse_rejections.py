"""Strict RFC 9112 parsing on the wire: every malformed request gets the
right status, a small HTML error page that leaks nothing, and the connection
is closed after it.  Request smuggling attempts never give two responses."""
import re

import pytest

from conftest import MPMS
from helpers_http import RawConn, request_bytes, start_module_server

LIMITS = """
LimitRequestLine 256
LimitRequestFieldSize 256
LimitRequestFields 8
"""

# Marker put into the offending part of each request: it must never come
# back in the error page (no reflection of client input).
MARK = "Zqx7Secret"

# Internal details that must not appear in an error page: the parser's
# reasons (they go to the error log only), file names, paths, versions.
INTERNAL = [
    "invalid method", "whitespace before", "control character",
    "Transfer-Encoding other", "both Transfer-Encoding", "several Host",
    "missing Host", "obsolete line folding", "bare CR", "unsupported",
    "line too long", "field too long", "too many header", "LimitRequest", "malformed",
    ".c:", ".c ", "relais.conf", "/tmp", "http_parse",
    "http_conn", "0.1.0", "errno", "apr_", MARK.lower(),
]


@pytest.fixture(scope="module", params=MPMS)
def server(request, tmp_path_factory):
    r, port = start_module_server(tmp_path_factory, request.param, "rej",
                                  extra=LIMITS)
    yield r, port
    r.stop()


def H(*lines):
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


CASES = [
    ("request_line_over_limit", 414,
     H("GET /" + "a" * 400 + " HTTP/1.1", "Host: x")),
    ("field_over_limit", 431,
     H("GET / HTTP/1.1", "Host: x", "X-" + MARK + ": " + "b" * 400)),
    ("too_many_fields", 431,
     H("GET / HTTP/1.1", "Host: x",
       *["X-%s-%d: v" % (MARK, i) for i in range(10)])),
    ("content_length_and_transfer_encoding", 400,
     H("POST / HTTP/1.1", "Host: x", "Content-Length: 5",
       "Transfer-Encoding: chunked") + b"0\r\n\r\n"),
    ("two_differing_content_length", 400,
     H("POST / HTTP/1.1", "Host: x", "Content-Length: 5",
       "Content-Length: 6") + b"hello!"),
    ("unknown_transfer_encoding_gzip", 400,
     H("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: gzip")
     + b"0\r\n\r\n"),
    ("obs_fold", 400,
     H("GET / HTTP/1.1", "Host: x", "X-A: one", "  " + MARK)),
    ("bare_cr_in_field", 400,
     H("GET / HTTP/1.1", "Host: x", "X-A: a\r" + MARK)),
    ("nul_in_field", 400,
     H("GET / HTTP/1.1", "Host: x", "X-A: a\x00" + MARK)),
    ("control_char_in_value", 400,
     H("GET / HTTP/1.1", "Host: x", "X-A: a\x01" + MARK)),
    ("space_before_colon", 400,
     H("GET / HTTP/1.1", "Host: x", "X-" + MARK + " : v")),
    ("http11_without_host", 400,
     H("GET /" + MARK + " HTTP/1.1", "Accept: */*")),
    ("two_host_fields", 400,
     H("GET / HTTP/1.1", "Host: a.example", "Host: " + MARK + ".example")),
    ("http2_request_line", 505,
     H("GET / HTTP/2.0", "Host: x")),
    ("garbage_method", 400,
     H("G(E)T /" + MARK + " HTTP/1.1", "Host: x")),
    ("expect_something_else", 417,
     H("POST / HTTP/1.1", "Host: x", "Expect: " + MARK,
       "Content-Length: 3") + b"abc"),
]


def assert_clean_error_page(resp, status):
    body = resp.body.decode("utf-8", "replace")
    assert resp.header("Content-Type", ).startswith("text/html"), resp
    assert len(resp.body) < 2048, "error page is not small: %d bytes" % len(
        resp.body)
    assert "<html" in body.lower() and str(status) in body, body
    low = body.lower()
    for word in INTERNAL:
        assert word.lower() not in low, (
            "error page leaks %r:\n%s" % (word, body))


@pytest.mark.parametrize("name,status,data", CASES,
                         ids=[c[0] for c in CASES])
def test_rejected_and_closed(server, name, status, data):
    _, port = server
    with RawConn(port) as c:
        c.send(data)
        resp = c.read_response()
        closed = c.wait_closed(timeout=5)
        extra = c.extra
    assert resp.status == status, "%s: got %r" % (name, resp)
    assert resp.header("Connection") == "close", resp
    assert_clean_error_page(resp, status)
    assert closed, "connection still open after the %d" % status
    assert extra == b"", "bytes after the error response: %r" % extra


def count_responses(data):
    return len(re.findall(rb"(?:^|\r\n)HTTP/1\.[01] \d{3} ", data))


SMUGGLING = [
    # CL.TE: a front end using Content-Length would forward the whole thing,
    # one using chunked would see a second request "GET /smuggled".
    ("cl_te", H("POST / HTTP/1.1", "Host: x", "Content-Length: 39",
                "Transfer-Encoding: chunked")
     + b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"),
    # TE.CL with the Transfer-Encoding listed first.
    ("te_cl", H("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: chunked",
                "Content-Length: 4")
     + b"5c\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n0\r\n\r\n"),
    # Obfuscated Transfer-Encoding fields.
    ("te_space_before_colon",
     H("POST / HTTP/1.1", "Host: x", "Content-Length: 39",
       "Transfer-Encoding : chunked")
     + b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("te_two_fields",
     H("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: chunked",
       "Transfer-Encoding: identity")
     + b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("te_chunked_not_last",
     H("POST / HTTP/1.1", "Host: x", "Transfer-Encoding: chunked, identity")
     + b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"),
]


@pytest.mark.parametrize("name,data", SMUGGLING,
                         ids=[s[0] for s in SMUGGLING])
def test_smuggling_never_two_responses(server, name, data):
    _, port = server
    with RawConn(port) as c:
        c.send(data)
        resp = c.read_response()
        closed = c.wait_closed(timeout=5)
        rest = c.extra
    assert resp.status == 400, resp
    assert count_responses(rest) == 0, "second response: %r" % rest
    assert b"smuggled" not in resp.body
    assert closed


def test_body_of_get_is_never_a_request(server):
    """A request line inside a declared body is body, not a request."""
    _, port = server
    inner = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    data = H("GET /outer HTTP/1.1", "Host: x",
             "Content-Length: %d" % len(inner)) + inner
    with RawConn(port) as c:
        c.send(data)
        resp = c.read_response()
        assert resp.status == 200
        j = resp.json()
        assert j["uri"] == "/outer"
        assert j["body_length"] == len(inner)
        # nothing else comes: wait a little for a second response (whether
        # the connection stays open is test_keepalive.py's business)
        c.wait_closed(timeout=1.0)
        assert c.extra == b"", "a second response: %r" % c.extra
