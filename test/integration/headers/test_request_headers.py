"""RequestHeader: each action, seen from the backend behind mod_proxy (the
Python backend records the header fields it received, in order, with
duplicates), and the order of the contexts (main server, vhost,
locations).  One relaisd serves the action tests: one <Location> per
action."""
import pytest

from helpers_headers import Shared, get, start

ACTIONS = r"""
ProxyPass / @BACKEND@/
<Location /set>
    RequestHeader set X-T "new value"
</Location>
<Location /append>
    RequestHeader append X-T new
</Location>
<Location /add>
    RequestHeader add X-T new
</Location>
<Location /merge>
    RequestHeader merge X-T b
</Location>
<Location /unset>
    RequestHeader unset X-T
</Location>
<Location /setifempty>
    RequestHeader setifempty X-T new
</Location>
<Location /edit>
    RequestHeader edit X-T "^(\w+)-(\w+)" "$2+$1"
</Location>
<Location /editall>
    RequestHeader edit* X-T "(\d)" "<$1>"
</Location>
<Location /editempty>
    RequestHeader edit* X-T "x*" "-"
</Location>
<Location /xff>
    RequestHeader unset X-Forwarded-For
</Location>
<Location /editlit>
    RequestHeader edit X-T "(a)" "\$1&\&"
</Location>
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Shared(tmp_path_factory, ACTIONS, "reqactions")
    yield s
    s.close()


def sent(srv, path, *values):
    """Requests path with one X-T field per value; returns what the
    backend received as X-T fields."""
    srv.backend.reset()
    r = srv.get(path, headers=[("X-T", v) for v in values])
    assert r.status == 200, r
    q = srv.backend.last()
    assert q is not None and q.target == path.encode()
    return q.header_all("X-T")


def test_set_replaces_every_field(srv):
    assert sent(srv, "/set", "a", "b") == ["new value"]
    assert sent(srv, "/set") == ["new value"]


def test_append_joins_with_a_comma(srv):
    assert sent(srv, "/append", "a") == ["a, new"]
    assert sent(srv, "/append") == ["new"]


def test_add_adds_a_field(srv):
    assert sent(srv, "/add", "a") == ["a", "new"]
    assert sent(srv, "/add") == ["new"]


def test_merge_appends_only_a_missing_member(srv):
    assert sent(srv, "/merge", "a, b") == ["a, b"]
    assert sent(srv, "/merge", "a,b ,c") == ["a,b ,c"]
    assert sent(srv, "/merge", "a") == ["a, b"]
    # a quoted "b" is another member than b (httpd compares exactly)
    assert sent(srv, "/merge", '"b"') == ['"b", b']
    assert sent(srv, "/merge") == ["b"]


def test_unset_removes_every_field(srv):
    assert sent(srv, "/unset", "a", "b") == []


def test_setifempty_sets_only_a_missing_header(srv):
    assert sent(srv, "/setifempty", "a") == ["a"]
    assert sent(srv, "/setifempty") == ["new"]


def test_edit_replaces_the_first_match_with_captures(srv):
    assert sent(srv, "/edit", "foo-bar baz-qux") == ["bar+foo baz-qux"]
    # each field of that name is edited
    assert sent(srv, "/edit", "a-b", "c-d") == ["b+a", "d+c"]
    assert sent(srv, "/edit", "nomatch") == ["nomatch"]


def test_edit_star_replaces_every_match(srv):
    assert sent(srv, "/editall", "1 and 2 and 3") == ["<1> and <2> and <3>"]
    assert sent(srv, "/editall", "x1", "y2") == ["x<1>", "y<2>"]


def test_edit_star_with_empty_matches_ends(srv):
    # "x*" matches the empty string between characters: Perl's answer
    assert sent(srv, "/editempty", "ab") == ["-a-b-"]
    assert sent(srv, "/editempty", "xxb") == ["--b-"]


def test_edit_replacement_escapes(srv):
    # \$ is a dollar, & the whole match, \& an ampersand (httpd's rules)
    assert sent(srv, "/editlit", "cat") == ["c$1a&t"]


def test_late_request_header_is_what_the_backend_gets_not_the_client(srv):
    """The client's own value is gone by the time the request leaves."""
    srv.backend.reset()
    r = srv.get("/set", headers=[("X-T", "client")])
    assert r.status == 200
    assert b"client" not in srv.backend.last().raw_head


def test_unset_x_forwarded_for_drops_what_the_client_claimed(srv):
    """mod_proxy appends the client's address to what RequestHeader
    left: unset first, and the backend gets only the address Relais
    saw."""
    srv.backend.reset()
    assert srv.get("/xff", headers=[("X-Forwarded-For", "6.6.6.6")]).status \
        == 200
    assert srv.backend.last().header_all("X-Forwarded-For") == ["127.0.0.1"]
    assert srv.get("/set", headers=[("X-Forwarded-For", "6.6.6.6")]).status \
        == 200
    assert srv.backend.last().header_all("X-Forwarded-For") == [
        "6.6.6.6, 127.0.0.1"]


# ------------------------------------------------------------- contexts

def test_outer_context_first_then_inner(relais, backend):
    """main server, then the vhost, then each matching location in file
    order; the same for Header on the response."""
    port = start(relais, r"""
RequestHeader append X-Chain main
Header append X-Chain main
<VirtualHost 127.0.0.1:@PORT@>
    ServerName relais.test
    RequestHeader append X-Chain vhost
    Header append X-Chain vhost
    ProxyPass / %s/
    <Location /a>
        RequestHeader append X-Chain loc-a
        Header append X-Chain loc-a
    </Location>
    <LocationMatch ^/a/b>
        RequestHeader append X-Chain loc-ab
        Header append X-Chain loc-ab
    </LocationMatch>
    <Location /z>
        RequestHeader unset X-Chain
        Header unset X-Chain
    </Location>
</VirtualHost>
""" % backend.url)
    for path, want in (("/a/b/c", "main, vhost, loc-a, loc-ab"),
                       ("/a", "main, vhost, loc-a"),
                       ("/other", "main, vhost"),
                       ("/z", None)):
        backend.reset()
        r = get(port, path)
        assert r.status == 200, (path, r)
        assert backend.last().header("X-Chain") == want, path
        assert r.header("X-Chain") == want, path

