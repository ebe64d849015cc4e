"""Routing: which requests go to which backend, with which path.

The target the backend receives is checked byte for byte (the raw bytes
of its request line), so any decoding or re-encoding shows."""
import pytest

from helpers_proxy import RawConn, get, request_bytes, start_proxy


# (client target, what the backend must receive) for ProxyPass /app/ b/up/
# The backend gets the normalised path, the one every access rule checked
# (docs/expr.md, "Paths"): unreserved escapes decoded, other escapes in
# upper-case hex; the query goes as sent.
TARGETS = [
    ("/app/%41bc", b"/up/Abc"),
    ("/app/a%20b", b"/up/a%20b"),
    ("/app/caf%C3%A9", b"/up/caf%C3%A9"),
    ("/app/caf%c3%a9", b"/up/caf%C3%A9"),
    ("/app/a+b", b"/up/a+b"),
    ("/app/%7Euser/a%3Bb", b"/up/~user/a%3Bb"),
    ("/app/x/../y", b"/up/y"),
    ("/app/p?q=a%20b&r=%2F&s=+&t=%C3%A9&u=a=b", b"/up/p?q=a%20b&r=%2F&s=+&t=%C3%A9&u=a=b"),
    ("/app/p?", b"/up/p?"),
    ("/app/p?x=%41&&y", b"/up/p?x=%41&&y"),
    ("/app/dir/", b"/up/dir/"),
]


@pytest.mark.parametrize("target,expected", TARGETS,
                         ids=[t for t, _ in TARGETS])
def test_path_and_query_bytes_preserved(relais, backend, target, expected):
    port = start_proxy(relais, "ProxyPass /app/ %s/up/\n" % backend.url)
    resp = get(port, target)
    assert resp.status == 200, resp
    assert backend.last().target == expected


def test_encoded_slash_follows_allow_encoded_slashes(relais, backend):
    """%2F is refused (404) by default, as in httpd, and never reaches the
    backend; with AllowEncodedSlashes NoDecode it goes through as is."""
    port = start_proxy(relais, "ProxyPass /app/ %s/up/\n" % backend.url)
    assert get(port, "/app/x%2Fy").status == 404
    assert backend.requests == []
    relais.stop()
    port = start_proxy(relais, "AllowEncodedSlashes NoDecode\n"
                       "ProxyPass /app/ %s/up/\n" % backend.url)
    assert get(port, "/app/x%2fy").status == 200
    assert backend.last().target == b"/up/x%2Fy"


def test_prefix_with_trailing_slash(relais, backend):
    """ProxyPass /app/ url/up/: /app/x -> /up/x; /app itself and /apple
    are not mapped (404 from Relais, the backend sees nothing)."""
    port = start_proxy(relais, "ProxyPass /app/ %s/up/\n" % backend.url)
    assert get(port, "/app/x/y").status == 200
    assert backend.last().target == b"/up/x/y"
    assert get(port, "/app/").status == 200
    assert backend.last().target == b"/up/"
    n = len(backend.requests)
    assert get(port, "/apple").status == 404
    assert get(port, "/app").status == 404
    assert len(backend.requests) == n


def test_prefix_without_trailing_slash(relais, backend):
    """ProxyPass /app url/up: /app -> /up, /app/x -> /up/x, but /apple is
    not /app (httpd matches whole path segments)."""
    port = start_proxy(relais, "ProxyPass /app %s/up\n" % backend.url)
    assert get(port, "/app").status == 200
    assert backend.last().target == b"/up"
    assert get(port, "/app/x").status == 200
    assert backend.last().target == b"/up/x"
    assert get(port, "/app/x?y=1").status == 200
    assert backend.last().target == b"/up/x?y=1"
    n = len(backend.requests)
    assert get(port, "/apple").status == 404
    assert len(backend.requests) == n


def test_root_mapping(relais, backend):
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url)
    assert get(port, "/").status == 200
    assert backend.last().target == b"/"
    assert get(port, "/a/b?c").status == 200
    assert backend.last().target == b"/a/b?c"


def test_longest_prefix_wins(relais, backend, backend2):
    """A longer prefix wins over a shorter one, whatever their order."""
    port = start_proxy(relais,
                       "ProxyPass /a/ %s/one/\n"
                       "ProxyPass /a/b/ %s/two/\n" % (backend.url,
                                                      backend2.url))
    assert get(port, "/a/b/x").status == 200
    assert backend2.last().target == b"/two/x"
    assert get(port, "/a/c").status == 200
    assert backend.last().target == b"/one/c"
    assert get(port, "/a/bx").status == 200
    assert backend.last().target == b"/one/bx"
    assert len(backend2.requests) == 1


def test_exclusion(relais, backend):
    """ProxyPass /app/static ! keeps /app/static/... local."""
    port = start_proxy(relais,
                       "ProxyPass /app/static !\n"
                       "ProxyPass /app/ %s/up/\n" % backend.url)
    assert get(port, "/app/static/logo.png").status == 404
    assert get(port, "/app/static").status == 404
    assert len(backend.requests) == 0
    assert get(port, "/app/staticx").status == 200
    assert backend.last().target == b"/up/staticx"
    assert get(port, "/app/other").status == 200
    assert backend.last().target == b"/up/other"


def test_proxypassmatch_substitution(relais, backend):
    port = start_proxy(relais,
                       "ProxyPassMatch ^/img/(.*\\.png)$ %s/images/$1\n"
                       % backend.url)
    assert get(port, "/img/a/b.png").status == 200
    assert backend.last().target == b"/images/a/b.png"
    assert get(port, "/img/x%20y.png").status == 200
    assert backend.last().target == b"/images/x%20y.png"
    n = len(backend.requests)
    assert get(port, "/img/a.jpg").status == 404
    assert len(backend.requests) == n


def test_proxypassmatch_two_groups(relais, backend):
    port = start_proxy(relais,
                       "ProxyPassMatch ^/u/([^/]+)/p/(\\d+)$ "
                       "%s/users/$2/of/$1\n" % backend.url)
    assert get(port, "/u/bob/p/42").status == 200
    assert backend.last().target == b"/users/42/of/bob"


def test_proxypassmatch_exclusion(relais, backend):
    port = start_proxy(relais,
                       "ProxyPassMatch \\.secret$ !\n"
                       "ProxyPass / %s/\n" % backend.url)
    assert get(port, "/a/b.secret").status == 404
    assert len(backend.requests) == 0
    assert get(port, "/a/b.public").status == 200
    assert backend.last().target == b"/a/b.public"


def test_proxypass_in_location(relais, backend):
    port = start_proxy(relais,
                       "<Location /loc/>\n"
                       "    ProxyPass %s/inside/\n"
                       "</Location>\n" % backend.url)
    assert get(port, "/loc/x?y=2").status == 200
    assert backend.last().target == b"/inside/x?y=2"
    n = len(backend.requests)
    assert get(port, "/other").status == 404
    assert len(backend.requests) == n


def test_per_vhost_mappings(relais, backend, backend2):
    """Each name-based vhost has its own ProxyPass; the main server's
    mapping applies to vhosts that do not override the path."""
    body = ("ProxyPass /common/ %s/main/\n"
            "<VirtualHost *:@PORT@>\n"
            "    ServerName a.test\n"
            "    ProxyPass / %s/a/\n"
            "</VirtualHost>\n"
            "<VirtualHost *:@PORT@>\n"
            "    ServerName b.test\n"
            "    ProxyPass /x/ %s/b/\n"
            "</VirtualHost>\n") % (backend.url, backend.url, backend2.url)
    port = start_proxy(relais, body)
    assert get(port, "/page", host="a.test").status == 200
    assert backend.last().target == b"/a/page"
    assert get(port, "/x/page", host="b.test").status == 200
    assert backend2.last().target == b"/b/page"
    n = len(backend2.requests)
    assert get(port, "/page", host="b.test").status == 404
    assert len(backend2.requests) == n
    assert get(port, "/common/z", host="b.test").status == 200
    assert backend.last().target == b"/main/z"


def test_mappings_change_per_request_on_one_connection(relais, backend,
                                                        backend2):
    """One client connection alternating between two backends."""
    port = start_proxy(relais,
                       "ProxyPass /one/ %s/\n"
                       "ProxyPass /two/ %s/\n" % (backend.url, backend2.url))
    with RawConn(port) as c:
        for i in range(10):
            which = "/one/" if i % 2 == 0 else "/two/"
            c.send(request_bytes(target=which + "r%d" % i))
            resp = c.read_response()
            assert resp.status == 200, resp
            assert resp.json()["target"] == "/r%d" % i
    assert len(backend.requests) == 5
    assert len(backend2.requests) == 5
