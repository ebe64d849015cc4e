"""Header: each action on the response of a proxied backend (the Python
backend sends X-B: one, X-B: two, X-M: a, b, two Set-Cookie fields and a
Location), echo, Content-Type, and mod_echo's own responses.  One relaisd
serves them all: one <Location> per action."""
import pytest

from helpers_headers import Shared

BACKEND_HEADERS = [("X-B", "one"), ("X-B", "two"), ("X-M", "a, b"),
                   ("Set-Cookie", "s1=1; Path=/"),
                   ("Set-Cookie", "s2=2; Path=/"),
                   ("Location", "http://internal.example/next")]

ACTIONS = r"""
ProxyPass /p/ @BACKEND@/
<Location /p/set>
    Header set X-B "new value"
</Location>
<Location /p/append>
    Header append X-M c
</Location>
<Location /p/add>
    Header add X-B new
</Location>
<Location /p/merge-present>
    Header merge X-M b
</Location>
<Location /p/merge-missing>
    Header merge X-M c
</Location>
<Location /p/unset>
    Header unset X-B
</Location>
<Location /p/always-unset>
    Header always unset X-B
</Location>
<Location /p/setifempty>
    Header setifempty X-B new
    Header setifempty X-New new
</Location>
<Location /p/edit>
    Header edit Set-Cookie "^(\w+)=(\d+)" "$1=[$2]; HttpOnly"
    Header edit Location ^http://internal\.example/ https://www.example.com/
</Location>
<Location /p/editall>
    Header edit* X-B "([ot])" "<$1>"
</Location>
<Location /p/echo>
    Header echo ^X-Req-
</Location>
<Location /p/ctype>
    Header set Content-Type "text/plain; charset=us-ascii"
</Location>
<Location /p/ctype-edit>
    Header edit Content-Type ^application/json$ application/vnd.test+json
</Location>
<Location /p/ctype-unset>
    Header unset Content-Type
</Location>
<Location /e>
    SetHandler echo
    EchoHeader X-Echo from-echo
    Header set X-Handler yes
    Header unset X-Echo
</Location>
<Location /e/always>
    Header always edit X-Echo ^from-(\w+)$ "by-$1"
</Location>
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Shared(tmp_path_factory, ACTIONS, "respactions",
               behaviours=[("/", {"headers": BACKEND_HEADERS})])
    yield s
    s.close()


def fetch(srv, path, **kw):
    r = srv.get(path, **kw)
    assert r.status == 200, r
    return r


def test_without_actions_the_backend_headers_pass(srv):
    r = fetch(srv, "/p/none")
    assert r.header_all("X-B") == ["one", "two"]
    assert r.header_all("X-M") == ["a, b"]


def test_set(srv):
    assert fetch(srv, "/p/set").header_all("X-B") == ["new value"]


def test_append(srv):
    assert fetch(srv, "/p/append").header_all("X-M") == ["a, b, c"]


def test_add(srv):
    assert fetch(srv, "/p/add").header_all("X-B") == ["one", "two", "new"]


def test_merge(srv):
    assert fetch(srv, "/p/merge-present").header_all("X-M") == ["a, b"]
    assert fetch(srv, "/p/merge-missing").header_all("X-M") == ["a, b, c"]


def test_unset_removes_the_backend_fields(srv):
    assert fetch(srv, "/p/unset").header_all("X-B") == []


def test_always_unset_does_not_touch_the_backend_fields(srv):
    """As httpd: `always` is the other table; a proxied response's fields
    are in the onsuccess one."""
    assert fetch(srv, "/p/always-unset").header_all("X-B") == ["one", "two"]


def test_setifempty(srv):
    r = fetch(srv, "/p/setifempty")
    assert r.header_all("X-B") == ["one", "two"]
    assert r.header_all("X-New") == ["new"]


def test_edit_each_field_with_captures(srv):
    r = fetch(srv, "/p/edit")
    assert r.header_all("Set-Cookie") == ["s1=[1]; HttpOnly; Path=/",
                                          "s2=[2]; HttpOnly; Path=/"]
    assert r.header("Location") == "https://www.example.com/next"


def test_edit_star(srv):
    assert fetch(srv, "/p/editall").header_all("X-B") == [
        "<o>ne", "<t>w<o>"]


def test_echo_copies_matching_request_headers(srv):
    r = fetch(srv, "/p/echo", headers=[("X-Req-A", "1"), ("X-Req-B", "2"),
                                       ("X-Other", "3")])
    assert r.header("X-Req-A") == "1"
    assert r.header("X-Req-B") == "2"
    assert r.header("X-Other") is None


def test_content_type(srv):
    assert fetch(srv, "/p/none").header("Content-Type") == "application/json"
    r = fetch(srv, "/p/ctype")
    assert r.header_all("Content-Type") == ["text/plain; charset=us-ascii"]
    r = fetch(srv, "/p/ctype-edit")
    assert r.header_all("Content-Type") == ["application/vnd.test+json"]
    assert fetch(srv, "/p/ctype-unset").header("Content-Type") is None


def test_handler_response(srv):
    """mod_echo's answer: Header applies to it like to a proxied one;
    EchoHeader fields are in err_headers_out, so only `always` edits
    them (as a CGI's headers in httpd)."""
    r = fetch(srv, "/e/x")
    assert r.header("X-Handler") == "yes"
    assert r.header("X-Echo") == "from-echo"
    r = fetch(srv, "/e/always")
    assert r.header("X-Echo") == "by-echo"
    assert r.json()["uri"] == "/e/always"
