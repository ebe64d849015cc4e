"""Redirect, RedirectMatch, RedirectPermanent, RedirectTemp (httpd's
mod_alias redirects, in mod_headers): each form, status words and
numbers, what is appended (rest of the path, query string), segment
boundaries, captures, the <Location> forms, precedence, that a
redirected request never reaches the backend ProxyPass names, HEAD,
access checks first, configuration errors; event MPM, and prefork."""
import re

import pytest

from helpers_headers import (Shared, conf, free_port, get, line_of, start,
                             wait_for)
from helpers_proxy import RawConn, request_bytes

RULES = r"""
Header always set X-Always yes
Header set X-Onsuccess yes
Redirect /a http://example.com/b
Redirect permanent /perm https://example.com/p/
RedirectPermanent /rp https://example.com/rp
RedirectTemp /rt https://example.com/rt
Redirect seeother /so /other
Redirect 307 /t307 https://example.com/t307
Redirect 308 /t308 https://example.com/t308
Redirect PERMANENT /upper https://example.com/upper
Redirect gone /gone
Redirect 403 /forbidden
Redirect 451 /legal
Redirect /withq https://example.com/fixed?k=v
Redirect /dir/ https://example.com/d/
Redirect /%7Etilde https://example.com/tilde
Redirect "/html" "https://example.com/<b>?&x=\"y\""
RedirectMatch 301 ^/m/(\d+)/(\w+)$ https://example.com/item?id=$2-$1\&n=$1
RedirectMatch ^/img/(.*)\.gif$ /images/$1.png
RedirectMatch gone \.php$
RedirectMatch ^/dyn/(.*)$ $1
RedirectMatch ^/slashy(/.*)$ /$1
RedirectMatch 303 ^/whole/.*$ https://example.com/was&
<Location /loc>
    Redirect permanent https://www.example.com/
</Location>
<Location /locpath>
    Redirect /locpath/sub https://example.com/sub
</Location>
<Location /locgone>
    Redirect gone
</Location>
<LocationMatch ^/lm/>
    Redirect 303 /lm-target
</LocationMatch>
<Location /both>
    Redirect https://example.com/from-location
</Location>
Redirect /both https://example.com/from-server
<Location /nest>
    Redirect https://example.com/outer
</Location>
<Location /nest/in>
    Redirect https://example.com/inner
</Location>
<If "%{HTTP:X-Go} == 'path'">
    Redirect /if https://example.com/if
</If>
<If "%{HTTP:X-Go} == 'all'">
    Redirect 308 https://example.com/all
</If>
Redirect /order/x https://example.com/specific
Redirect /order https://example.com/general
ProxyPass / @BACKEND@/
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Shared(tmp_path_factory, RULES, "redirect")
    yield s
    s.close()


def redirect(srv, target, status, location, **kw):
    """Asserts a redirect answer and that the backend saw nothing."""
    before = len(srv.backend.requests)
    r = srv.get(target, **kw)
    assert r.status == status, r
    assert r.header("Location") == location, r
    assert len(srv.backend.requests) == before, srv.backend.requests[before:]
    return r


# ------------------------------------------------------------ statuses

@pytest.mark.parametrize("target,status,location", [
    ("/a", 302, "http://example.com/b"),
    ("/perm", 301, "https://example.com/p/"),
    ("/rp", 301, "https://example.com/rp"),
    ("/rt", 302, "https://example.com/rt"),
    ("/so", 303, "/other"),
    ("/t307", 307, "https://example.com/t307"),
    ("/t308", 308, "https://example.com/t308"),
    ("/upper", 301, "https://example.com/upper"),
])
def test_status_words_and_numbers(srv, target, status, location):
    r = redirect(srv, target, status, location)
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert int(r.header("Content-Length")) == len(r.body)
    body = r.body.decode()
    assert body.startswith("<!DOCTYPE html>")
    assert '<a href="%s">' % location in body
    assert str(status) in body


@pytest.mark.parametrize("target,status", [
    ("/gone", 410), ("/gone/deeper", 410), ("/forbidden/x", 403),
    ("/legal", 451), ("/x/index.php", 410), ("/locgone/any", 410)])
def test_statuses_without_url_answer_with_the_error_page(srv, target,
                                                          status):
    before = len(srv.backend.requests)
    r = srv.get(target)
    assert r.status == status, r
    assert r.header("Location") is None
    assert b"<!DOCTYPE html>" in r.body
    assert len(srv.backend.requests) == before


# ------------------------------------------------ what gets appended

def test_rest_of_path_and_query_string_are_appended(srv):
    redirect(srv, "/a/x/y", 302, "http://example.com/b/x/y")
    redirect(srv, "/a?q=1&r=2", 302, "http://example.com/b?q=1&r=2")
    redirect(srv, "/a/x?q=1", 302, "http://example.com/b/x?q=1")
    redirect(srv, "/perm/deep/er.html", 301,
             "https://example.com/p//deep/er.html")
    # the path as normalised: dot segments resolved, escapes kept
    redirect(srv, "/x/../a/%7Ez/%20s", 302, "http://example.com/b/~z/%20s")


def test_url_with_its_own_query_keeps_it(srv):
    redirect(srv, "/withq/p?drop=1", 302, "https://example.com/fixed?k=v/p")


def test_segment_boundary(srv):
    """/a takes /a and /a/..., never /ab; /dir/ needs the slash."""
    before = len(srv.backend.requests)
    r = srv.get("/ab")
    assert r.status == 200 and r.header("Location") is None
    assert srv.backend.last().target == b"/ab"
    r = srv.get("/dir")
    assert r.status == 200 and srv.backend.last().target == b"/dir"
    assert len(srv.backend.requests) == before + 2
    redirect(srv, "/dir/", 302, "https://example.com/d/")
    redirect(srv, "/dir/f", 302, "https://example.com/d/f")


def test_url_path_is_compared_normalised(srv):
    """Redirect /%7Etilde matches /~tilde and /%7etilde alike."""
    redirect(srv, "/~tilde", 302, "https://example.com/tilde")
    redirect(srv, "/%7etilde/x", 302, "https://example.com/tilde/x")


def test_page_escapes_the_url_and_reflects_nothing_else(srv):
    r = redirect(srv, "/html/%3Cscript%3E?<i>=1", 302,
                 'https://example.com/<b>?&x="y"/%3Cscript%3E')
    body = r.body.decode()
    assert "<b>" not in body and "&lt;b&gt;" in body
    assert "&quot;y&quot;" in body
    assert "<i>" not in body and "<script>" not in body


# ------------------------------------------------------- RedirectMatch

def test_redirectmatch_captures(srv):
    redirect(srv, "/m/42/widget", 301,
             "https://example.com/item?id=widget-42&n=42")
    redirect(srv, "/img/a/b.gif?v=3", 302, "/images/a/b.png?v=3")
    redirect(srv, "/whole/thing", 303, "https://example.com/was/whole/thing")
    # no match: routed as usual
    r = srv.get("/m/x/widget")
    assert r.status == 200 and srv.backend.last().target == b"/m/x/widget"
    r = srv.get("/img/a.png")
    assert r.status == 200 and srv.backend.last().target == b"/img/a.png"


def test_redirectmatch_target_checked_per_request(srv):
    redirect(srv, "/dyn/mailto:ann@example.com", 302,
             "mailto:ann@example.com")
    before = len(srv.backend.requests)
    r = srv.get("/dyn/relative/path")
    assert r.status == 500
    assert len(srv.backend.requests) == before
    n = line_of(srv.relais.read("relais.conf"), "^/dyn/")
    assert wait_for(lambda: re.search(
        r"RedirectMatch at \S+:%d: cannot redirect /dyn/relative/path to "
        r"'relative/path'" % n, srv.relais.error_log()))


def test_leading_slashes_never_leave_the_site(srv):
    redirect(srv, "/slashy/evil.example", 302, "/evil.example")


# ---------------------------------------------------- <Location> forms

def test_location_one_argument_form(srv):
    redirect(srv, "/loc", 301, "https://www.example.com/")
    # nothing of the path is appended; the query string is
    redirect(srv, "/loc/deep/path?x=1", 301, "https://www.example.com/?x=1")
    redirect(srv, "/lm/anything", 303, "/lm-target")
    r = srv.get("/locx")
    assert r.status == 200 and srv.backend.last().target == b"/locx"


def test_location_with_url_path(srv):
    redirect(srv, "/locpath/sub/x", 302, "https://example.com/sub/x")
    r = srv.get("/locpath/other")
    assert r.status == 200 and srv.backend.last().target == b"/locpath/other"


def test_which_rule_answers(srv):
    # server-level rules before <Location> ones (httpd: translate_name
    # before fixups); the innermost section first; file order otherwise
    redirect(srv, "/both", 302, "https://example.com/from-server")
    redirect(srv, "/nest/x", 302, "https://example.com/outer")
    redirect(srv, "/nest/in/x", 302, "https://example.com/inner")
    redirect(srv, "/order/x/1", 302, "https://example.com/specific/1")
    redirect(srv, "/order/y", 302, "https://example.com/general/y")


def test_inside_if(srv):
    redirect(srv, "/if/x", 302, "https://example.com/if/x",
             headers=[("X-Go", "path")])
    redirect(srv, "/anything?z", 308, "https://example.com/all?z",
             headers=[("X-Go", "all")])
    for headers in ([], [("X-Go", "no")]):
        r = srv.get("/if/x", headers=headers)
        assert r.status == 200 and srv.backend.last().target == b"/if/x"


# ------------------------------------------------- the response itself

def test_head_gets_no_body(srv):
    with RawConn(srv.port) as c:
        c.send(request_bytes("HEAD", "/perm/x",
                             headers=[("Connection", "close")]))
        data, closed = c.read_to_close(5.0)
    assert closed
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 301 "), data
    assert b"\r\nLocation: https://example.com/p//x" in head
    assert rest == b"", data


def test_header_always_applies_onsuccess_does_not(srv):
    r = redirect(srv, "/a", 302, "http://example.com/b")
    assert r.header("X-Always") == "yes"
    assert r.header("X-Onsuccess") is None
    r = srv.get("/proxied")
    assert r.status == 200
    assert r.header("X-Always") == "yes" and r.header("X-Onsuccess") == "yes"


def test_request_body_and_keepalive(srv):
    """A POST that is redirected: its body is read away and the
    connection serves the next request."""
    before = len(srv.backend.requests)
    with RawConn(srv.port) as c:
        c.send(request_bytes("POST", "/rt/form", body=b"x" * 3000))
        r = c.read_response()
        assert r.status == 302
        assert r.header("Location") == "https://example.com/rt/form"
        c.send(request_bytes("GET", "/after"))
        r = c.read_response()
        assert r.status == 200
    assert [q.target for q in srv.backend.requests[before:]] == [b"/after"]


# ------------------------------------------------ contexts, precedence

def test_http_to_https_vhost(relais, backend):
    """The usual port-80 site: every path to HTTPS, the query kept; the
    vhost's rule before the main server's, another vhost unaffected."""
    port = start(relais, r"""
Redirect /main-rule https://example.com/main
<VirtualHost 127.0.0.1:@PORT@>
    ServerName plain.test
    Redirect permanent / https://www.example.com/
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName app.test
    ProxyPass / %s/
</VirtualHost>
""" % backend.url)
    for target, location in (
            ("/", "https://www.example.com/"),
            ("/shop/cart?id=7", "https://www.example.com/shop/cart?id=7"),
            ("/main-rule", "https://www.example.com/main-rule")):
        r = get(port, target, host="plain.test")
        assert r.status == 301, r
        assert r.header("Location") == location
    r = get(port, "/main-rule/x", host="app.test")
    assert r.status == 302
    assert r.header("Location") == "https://example.com/main/x"
    r = get(port, "/shop", host="app.test")
    assert r.status == 200
    assert [q.target for q in backend.requests] == [b"/shop"]


def test_access_checks_come_first(relais, backend):
    port = start(relais, r"""
LoadModule acl_module modules/mod_acl.so
<Location /secret>
    Require ip 10.0.0.0/8
</Location>
Redirect /secret https://example.com/secret
Redirect /open https://example.com/open
ProxyPass / %s/
""" % backend.url)
    r = get(port, "/secret/x")
    assert r.status == 403
    assert r.header("Location") is None
    r = get(port, "/open/x")
    assert r.status == 302
    assert r.header("Location") == "https://example.com/open/x"
    assert backend.requests == []


def test_prefork(relais, backend):
    port = start(relais, r"""
Redirect permanent /old https://example.com/new
RedirectMatch ^/u/(\w+)$ /users/$1
<Location /loc>
    Redirect seeother https://example.com/loc
</Location>
ProxyPass / %s/
""" % backend.url, mpm="prefork")
    for _ in range(3):  # several children may answer
        r = get(port, "/old/p?q=1")
        assert r.status == 301
        assert r.header("Location") == "https://example.com/new/p?q=1"
        r = get(port, "/u/ann")
        assert r.status == 302 and r.header("Location") == "/users/ann"
        r = get(port, "/loc/x")
        assert r.status == 303
        assert r.header("Location") == "https://example.com/loc"
    assert backend.requests == []
    r = get(port, "/older")
    assert r.status == 200 and backend.last().target == b"/older"
    assert "(prefork MPM)" in relais.error_log()


def test_debug_log_names_the_rule(relais, backend):
    text = r"""
LogLevel headers:debug
Redirect /a https://example.com/b
"""
    port = start(relais, text)
    r = get(port, "/a/1")
    assert r.status == 302
    n = line_of(conf(port, text), "Redirect /a")
    assert wait_for(lambda: re.search(
        r"Redirect at \S+relais\.conf:%d: /a/1 redirected \(302\) to "
        r"https://example\.com/b/1" % n, relais.error_log()))


# --------------------------------------------------------------- errors

BAD = r"""
Redirect permanent /e1
Redirect gone /e2 https://example.com/
Redirect permanant /e3 https://example.com/
Redirect e4 https://example.com/
Redirect /e5 www.example.com/
RedirectMatch ^/(e6 https://example.com/
Redirect 200 /e7 https://example.com/
Redirect 304 /e8 https://example.com/
Redirect /e9
Redirect https://example.com/e10
Redirect 301 https://example.com/e11 https://example.com/
RedirectMatch 301 ^/e12
RedirectMatch gone ^/e13 https://example.com/
RedirectMatch ^/e14/(.*) www.example.com/$1
Redirect /e15 "https://example.com/a b"
<Location /l>
    Redirect permanent https://example.com/e16%{REQUEST_URI}
    Redirect gone https://example.com/e17
</Location>
<Proxy http://127.0.0.1:9/>
    Redirect /e18 https://example.com/
</Proxy>
Redirect /fine https://example.com/fine
RedirectMatch ^/fine/(.*) $1
RedirectTemp /e19
Redirect /e20%zz https://example.com/
<Location /l2>
    Redirect gone
    Redirect /l2/x /y
</Location>
"""

EXPECTED = [
    ("/e1", "Redirect", "missing the URL-path or the URL"),
    ("/e2", "Redirect", "status 410 takes no URL"),
    ("/e3", "Redirect", "'permanant' is not a status"),
    ("e4", "Redirect", "the URL-path 'e4' must start with '/'"),
    ("/e5", "Redirect", "'www.example.com/' is neither an absolute URL"),
    ("/(e6", "RedirectMatch", "missing closing parenthesis"),
    ("/e7", "Redirect", "status '200' cannot be used"),
    ("/e8", "Redirect", "status '304' cannot be used"),
    ("/e9", "Redirect", "missing the URL-path or the URL"),
    ("/e10", "Redirect", "the form without URL-path is for <Location>"),
    ("/e11", "Redirect",
     "'https://example.com/e11' comes where the URL-path is expected"),
    ("/e12", "RedirectMatch", "missing the regex or the URL"),
    ("/e13", "RedirectMatch", "status 410 takes no URL"),
    ("/e14", "RedirectMatch", "is neither an absolute URL"),
    ("/e15", "Redirect", "space or a control character"),
    ("/e16", "Redirect", "expression (%{...})"),
    ("/e17", "Redirect", "status 410 takes no URL"),
    ("/e18", "Redirect", "not allowed in <Proxy>"),
    ("/e19", "RedirectTemp",
     "missing the URL-path or the URL: write RedirectTemp URL-path URL"),
    ("/e20", "Redirect", "'/e20%zz' is not a valid path"),
]


def test_every_error_is_reported_with_file_line_and_directive(relais):
    text = conf(free_port(), BAD)
    path = relais.write_conf(text)
    res = relais.run("-t")
    assert res.returncode == 1, res.stderr
    lines = res.stderr.splitlines()
    for needle, directive, what in EXPECTED:
        prefix = "%s:%d: %s:" % (path, line_of(text, needle), directive)
        got = [l for l in lines if prefix in l]
        assert got, "no %r in:\n%s" % (prefix, res.stderr)
        assert what in got[0], (what, got[0])
    assert "%d errors in the configuration" % len(EXPECTED) in lines[-1], \
        res.stderr


def test_alias_module_name_points_to_headers(relais):
    text = conf(free_port(), "").replace(
        "LoadModule headers_module modules/mod_headers.so\n",
        "LoadModule alias_module modules/mod_alias.so\n") + \
        "Redirect /a https://example.com/\n"
    relais.write_conf(text)
    res = relais.run("-t")
    assert res.returncode == 1
    assert "LoadModule headers_module" in res.stderr
    assert "provided by module 'headers'" in res.stderr, res.stderr
