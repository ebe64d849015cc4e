"""The core's own answers and headers: Date, Server (ServerTokens), TRACE,
OPTIONS *, CONNECT, ErrorDocument, unknown handlers."""
import email.utils
import re
import time

import pytest

from conftest import MPMS
from helpers_http import RawConn, curl, request_bytes, start_echo


def one(port, data, head_request=False):
    with RawConn(port) as c:
        c.send(data)
        return c.read_response(head_request=head_request)


@pytest.mark.parametrize("mpm", MPMS)
def test_date_and_server_headers(relais, mpm):
    port = start_echo(relais, mpm, extra="<Location /none>\nSetHandler none\n"
                      "</Location>\n")
    for target, status in (("/", 200), ("/none", 404)):
        resp = one(port, request_bytes(target=target))
        assert resp.status == status
        date = resp.header("Date")
        assert date is not None, resp
        assert date.endswith(" GMT")
        when = email.utils.parsedate_to_datetime(date).timestamp()
        assert abs(when - time.time()) < 60, date
        assert resp.header("Server", ) is not None
        assert len(resp.header_all("Date")) == 1
        assert len(resp.header_all("Server")) == 1


def test_server_tokens_prod(relais):
    port = start_echo(relais, "event", top="ServerTokens Prod\n")
    assert one(port, request_bytes()).header("Server") == "Relais"


def test_server_tokens_full(relais):
    port = start_echo(relais, "event", top="ServerTokens Full\n")
    server = one(port, request_bytes()).header("Server")
    assert re.match(r"^Relais/\d+\.\d+\.\d+( |$)", server), server


def test_trace_disabled_405_with_allow(relais):
    port = start_echo(relais, "event", extra="TraceEnable Off\n")
    resp = one(port, request_bytes(method="TRACE", target="/t"))
    assert resp.status == 405
    allow = resp.header("Allow")
    assert allow is not None and "GET" in allow, resp
    assert "TRACE" not in allow


def test_trace_enabled_echoes_without_credentials(relais):
    port = start_echo(relais, "event", extra="TraceEnable On\n")
    resp = one(port, request_bytes(method="TRACE", target="/t?x=1", headers=[
        ("X-Custom", "hello"),
        ("Authorization", "Basic c2VjcmV0OnNlY3JldA=="),
        ("cookie", "session=TopSecretCookie"),
        ("AUTHORIZATION", "Bearer TopSecretToken"),
    ]))
    assert resp.status == 200
    assert resp.header("Content-Type").startswith("message/http")
    body = resp.body
    assert body.startswith(b"TRACE /t?x=1 HTTP/1.1\r\n"), body
    assert b"X-Custom: hello\r\n" in body
    low = body.lower()
    assert b"authorization" not in low, body
    assert b"cookie" not in low, body
    assert b"secret" not in low, body


def test_options_asterisk(relais):
    port = start_echo(relais, "event")
    resp = one(port, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
    assert resp.status == 200
    allow = resp.header("Allow")
    assert allow and "GET" in allow and "OPTIONS" in allow, resp
    assert resp.header("Content-Length") == "0"
    # and with curl
    out = curl(["-i", "-X", "OPTIONS", "--request-target", "*",
                "http://127.0.0.1:%d/" % port])
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(b"HTTP/1.1 200"), out.stdout
    assert b"\r\nAllow: " in out.stdout


def test_connect_405(relais):
    port = start_echo(relais, "event")
    with RawConn(port) as c:
        c.send(b"CONNECT example.com:443 HTTP/1.1\r\n"
               b"Host: example.com:443\r\n\r\n")
        resp = c.read_response()
    assert resp.status == 405, resp
    assert b"200 Connection established" not in resp.raw_head


def test_error_document_text(relais):
    port = start_echo(relais, "event", handler=False, extra="""
ErrorDocument 404 "custom text for missing pages"
<Location /routed>
    SetHandler echo
</Location>
""")
    resp = one(port, request_bytes(target="/routed/x"))
    assert resp.status == 200
    resp = one(port, request_bytes(target="/unrouted"))
    assert resp.status == 404
    assert b"custom text for missing pages" in resp.body, resp
    assert int(resp.header("Content-Length")) == len(resp.body)


def test_error_document_url_redirects(relais):
    port = start_echo(relais, "event", handler=False, extra="""
ErrorDocument 404 http://errors.example/not-found.html
""")
    resp = one(port, request_bytes(target="/nowhere"))
    assert resp.status == 302, resp
    assert resp.header("Location") == "http://errors.example/not-found.html"


def test_unknown_handler_404(relais):
    port = start_echo(relais, "event", handler=False, extra="""
SetHandler no-such-handler
""")
    resp = one(port, request_bytes(target="/x"))
    assert resp.status == 404, resp
    assert b"no-such-handler" not in resp.body
