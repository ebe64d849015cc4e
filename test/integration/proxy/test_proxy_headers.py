"""Header handling: Host (ProxyPreserveHost), X-Forwarded-* (ProxyAddHeaders),
Via (ProxyVia), hop-by-hop fields removed in both directions, the backend's
Server field never shown, ProxyPassReverse on Location and friends."""
from helpers_proxy import RawConn, get, request_bytes, start_proxy


def test_preserve_host_off_sends_backend_hostport(relais, backend):
    port = start_proxy(relais, "ProxyPass /app/ %s/\n" % backend.url)
    assert get(port, "/app/x", host="front.example:8080").status == 200
    req = backend.last()
    assert req.header_all("Host") == ["127.0.0.1:%d" % backend.port]


def test_preserve_host_on_sends_client_host(relais, backend):
    port = start_proxy(relais, "ProxyPreserveHost On\n"
                       "ProxyPass /app/ %s/\n" % backend.url)
    assert get(port, "/app/x", host="front.example:8080").status == 200
    req = backend.last()
    assert req.header_all("Host") == ["front.example:8080"]


def test_x_forwarded_headers_added(relais, backend):
    port = start_proxy(relais, "ProxyPass /app/ %s/\n" % backend.url)
    assert get(port, "/app/x", host="front.example").status == 200
    req = backend.last()
    assert req.header_all("X-Forwarded-For") == ["127.0.0.1"]
    assert req.header_all("X-Forwarded-Host") == ["front.example"]
    assert req.header_all("X-Forwarded-Server") == ["relais.test"]


def test_x_forwarded_for_appended_to_existing(relais, backend):
    port = start_proxy(relais, "ProxyPass /app/ %s/\n" % backend.url)
    resp = get(port, "/app/x", headers=[
        ("X-Forwarded-For", "203.0.113.7, 198.51.100.2")])
    assert resp.status == 200
    req = backend.last()
    assert req.header_all("X-Forwarded-For") == [
        "203.0.113.7, 198.51.100.2, 127.0.0.1"]


def test_add_headers_off(relais, backend):
    """ProxyAddHeaders Off: nothing added, a client's X-Forwarded-For
    passed as it is."""
    port = start_proxy(relais, "ProxyAddHeaders Off\n"
                       "ProxyPass /app/ %s/\n" % backend.url)
    assert get(port, "/app/x").status == 200
    req = backend.last()
    for name in ("X-Forwarded-For", "X-Forwarded-Host",
                 "X-Forwarded-Server"):
        assert req.header(name) is None, req.headers
    assert get(port, "/app/y", headers=[("X-Forwarded-For",
                                          "192.0.2.1")]).status == 200
    assert backend.last().header_all("X-Forwarded-For") == ["192.0.2.1"]


def test_via_on_both_ways(relais, backend):
    port = start_proxy(relais, "ProxyVia On\n"
                       "ProxyPass /app/ %s/\n" % backend.url)
    resp = get(port, "/app/x", headers=[("Via", "1.0 upstream")])
    assert resp.status == 200
    via_up = backend.last().header_all("Via")
    assert len(via_up) == 1
    assert via_up[0].startswith("1.0 upstream, "), via_up
    assert via_up[0].endswith("1.1 relais.test"), via_up
    via_down = ", ".join(resp.header_all("Via"))
    assert "relais.test" in via_down, resp.headers


def test_via_off_by_default(relais, backend):
    port = start_proxy(relais, "ProxyPass /app/ %s/\n" % backend.url)
    resp = get(port, "/app/x")
    assert resp.status == 200
    assert backend.last().header("Via") is None
    assert resp.header("Via") is None


def test_hop_by_hop_request_fields_not_forwarded(relais, backend):
    port = start_proxy(relais, "ProxyPass /app/ %s/\n" % backend.url)
    resp = get(port, "/app/x", headers=[
        ("Connection", "keep-alive, X-Custom, x-other"),
        ("X-Custom", "secret"),
        ("X-Other", "secret2"),
        ("Keep-Alive", "timeout=5, max=10"),
        ("TE", "trailers"),
        ("Trailer", "X-Trailer"),
        ("Upgrade", "foo/1"),
        ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
        ("Proxy-Connection", "keep-alive"),
        ("X-End-To-End", "kept"),
    ])
    assert resp.status == 200, resp
    req = backend.last()
    names = [k.lower() for k, _ in req.headers]
    for gone in ("x-custom", "x-other", "keep-alive", "te", "trailer",
                 "upgrade", "proxy-authorization", "proxy-connection"):
        assert gone not in names, req.headers
    assert req.header("X-End-To-End") == "kept"
    # the proxy's own Connection to the backend, not the client's list
    for v in req.header_all("Connection"):
        assert "x-custom" not in v.lower(), req.headers


def test_hop_by_hop_response_fields_not_relayed(relais, backend):
    backend.on("/app-hop", headers=[
        ("Connection", "X-Backend-Private"),
        ("X-Backend-Private", "internal"),
        ("Keep-Alive", "timeout=99, max=77"),
        ("Proxy-Authenticate", 'Basic realm="backend"'),
        ("Upgrade", "foo/2"),
        ("Trailer", "X-T"),
        ("X-End-To-End", "kept"),
    ], body=b"hello")
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    with RawConn(port) as c:
        c.send(request_bytes(target="/app-hop"))
        resp = c.read_response()
        assert resp.status == 200, resp
        assert resp.body == b"hello"
        names = resp.names()
        assert "x-backend-private" not in names, resp.headers
        assert "proxy-authenticate" not in names, resp.headers
        assert "upgrade" not in names, resp.headers
        assert "trailer" not in names, resp.headers
        for v in resp.header_all("Keep-Alive"):
            assert "99" not in v and "77" not in v, resp.headers
        for v in resp.header_all("Connection"):
            assert "x-backend-private" not in v.lower(), resp.headers
        assert resp.header("X-End-To-End") == "kept"
        # the client's connection is still usable
        c.send(request_bytes(target="/next"))
        assert c.read_response().status == 200


def test_backend_connection_close_not_relayed(relais, backend):
    """The backend's Connection: close ends the backend connection, not
    the client's."""
    backend.on("/closing", close=True, body=b"bye")
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    with RawConn(port) as c:
        c.send(request_bytes(target="/closing"))
        resp = c.read_response()
        assert resp.status == 200 and resp.body == b"bye", resp
        assert resp.header("Connection") is None, resp.headers
        c.send(request_bytes(target="/again"))
        assert c.read_response().status == 200


def test_backend_server_header_never_shown(relais, backend):
    backend.on("/nf", status=404, reason="Not Found", body=b"nope")
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    for target in ("/ok", "/nf"):
        resp = get(port, target)
        servers = resp.header_all("Server")
        assert all("Python" not in s for s in servers), resp.headers
        assert b"PythonBackend" not in resp.raw_head


def test_proxy_pass_reverse_location(relais, backend):
    backend.on("/up/old", status=302, reason="Found", headers=[
        ("Location", "%s/up/new?x=1" % backend.url)], body=b"")
    port = start_proxy(relais, "ProxyPass /app/ %s/up/\n"
                       "ProxyPassReverse /app/ %s/up/\n"
                       % (backend.url, backend.url))
    resp = get(port, "/app/old", host="front.example")
    assert resp.status == 302, resp
    assert resp.header("Location") == "http://front.example/app/new?x=1"


def test_proxy_pass_reverse_content_location_and_uri(relais, backend):
    backend.on("/up/doc", headers=[
        ("Content-Location", "%s/up/doc.en" % backend.url),
        ("URI", "%s/up/doc.fr" % backend.url)], body=b"doc")
    port = start_proxy(relais, "ProxyPass /app/ %s/up/\n"
                       "ProxyPassReverse /app/ %s/up/\n"
                       % (backend.url, backend.url))
    resp = get(port, "/app/doc", host="front.example")
    assert resp.status == 200, resp
    assert resp.header("Content-Location") == "http://front.example/app/doc.en"
    assert resp.header("URI") == "http://front.example/app/doc.fr"


def test_proxy_pass_reverse_in_location(relais, backend):
    backend.on("/inside/a", status=301, reason="Moved", headers=[
        ("Location", "%s/inside/b" % backend.url)], body=b"")
    port = start_proxy(relais, "<Location /loc/>\n"
                       "    ProxyPass %s/inside/\n"
                       "    ProxyPassReverse %s/inside/\n"
                       "</Location>\n" % (backend.url, backend.url))
    resp = get(port, "/loc/a", host="front.example")
    assert resp.status == 301, resp
    assert resp.header("Location") == "http://front.example/loc/b"


def test_location_of_other_host_untouched(relais, backend):
    backend.on("/up/away", status=302, reason="Found", headers=[
        ("Location", "http://elsewhere.example/page")], body=b"")
    port = start_proxy(relais, "ProxyPass /app/ %s/up/\n"
                       "ProxyPassReverse /app/ %s/up/\n"
                       % (backend.url, backend.url))
    resp = get(port, "/app/away")
    assert resp.status == 302
    assert resp.header("Location") == "http://elsewhere.example/page"


def test_backend_headers_kept_on_error_statuses(relais, backend):
    """A relayed 401 keeps its WWW-Authenticate, a relayed 404 its own
    fields (the backend's response is relayed, not replaced)."""
    backend.on("/auth", status=401, reason="Unauthorized", headers=[
        ("WWW-Authenticate", 'Basic realm="app"')], body=b"login first")
    backend.on("/missing", status=404, reason="Not Found", headers=[
        ("X-Backend-Reason", "no such page"),
        ("Set-Cookie", "seen=1; Path=/")], body=b"nope")
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    resp = get(port, "/auth")
    assert resp.status == 401
    assert resp.body == b"login first"
    assert resp.header("WWW-Authenticate") == 'Basic realm="app"', resp
    resp = get(port, "/missing")
    assert resp.status == 404
    assert resp.body == b"nope"
    assert resp.header("X-Backend-Reason") == "no such page", resp
    assert resp.header("Set-Cookie") == "seen=1; Path=/", resp


def test_multiple_set_cookie_relayed_separately(relais, backend):
    backend.on("/cookies", headers=[("Set-Cookie", "a=1; Path=/"),
                                    ("Set-Cookie", "b=2; Expires=Wed, 21 "
                                     "Oct 2037 07:28:00 GMT")], body=b"c")
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    resp = get(port, "/cookies")
    assert resp.status == 200
    assert resp.header_all("Set-Cookie") == [
        "a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT"]


def test_repeated_and_large_request_fields_forwarded(relais, backend):
    cookie = "s=" + "c" * 7000
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    resp = get(port, "/h", headers=[("X-Multi", "one"), ("X-Multi", "two"),
                                    ("Cookie", cookie),
                                    ("Authorization", "Bearer tok"),
                                    ("Accept-Encoding", "gzip")])
    assert resp.status == 200, resp
    req = backend.last()
    assert ", ".join(req.header_all("X-Multi")) == "one, two"
    assert req.header("Cookie") == cookie
    assert req.header("Authorization") == "Bearer tok"
    assert req.header("Accept-Encoding") == "gzip"


def test_response_content_type_and_custom_fields_relayed(relais, backend):
    backend.on("/typed", headers=[("Content-Type", "text/csv; charset=utf-8"),
                                  ("Cache-Control", "no-store"),
                                  ("X-Request-Id", "abc-123")], body=b"a,b")
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    resp = get(port, "/typed")
    assert resp.header("Content-Type") == "text/csv; charset=utf-8"
    assert resp.header("Cache-Control") == "no-store"
    assert resp.header("X-Request-Id") == "abc-123"
    assert resp.body == b"a,b"


def test_preserve_host_per_location(relais, backend):
    """ProxyPreserveHost and ProxyAddHeaders work in <Location>, as in httpd
    (directory context): only /keep keeps the client's Host, only /bare
    drops the X-Forwarded-* fields."""
    port = start_proxy(relais, """
ProxyPass / http://127.0.0.1:%d/
<Location /keep>
    ProxyPreserveHost On
</Location>
<Location /bare>
    ProxyAddHeaders Off
</Location>
""" % backend.port)
    get(port, "/keep/x", host="client.example")
    assert backend.last().header("Host") == "client.example"
    get(port, "/other", host="client.example")
    assert backend.last().header("Host") == "127.0.0.1:%d" % backend.port
    assert backend.last().header("X-Forwarded-For") == "127.0.0.1"
    get(port, "/bare/y", host="client.example")
    assert backend.last().header("X-Forwarded-For") is None
