"""Spellings of a protected path cannot get around <Location /admin>:
the core normalises the path (percent-decoded unreserved characters, dot
segments, duplicate slashes, encoded slashes) before locations are
matched, so every spelling of /admin meets the same Require.  Matching is
case-sensitive, as httpd's <Location> on Linux: /ADMIN is another path,
and a backend that treats paths without case needs <LocationMatch
"(?i)^/admin">.  Whatever the answer, the backend must never see a
request for the protected path."""
import pytest

from helpers_acl import request, start_acl

BYPASSES = [
    "/admin",
    "/admin/",
    "/admin/x",
    "/x/../admin",
    "/x/../admin/",
    "/./admin",
    "/%61dmin",
    "/%61%64%6d%69%6e/x",
    "/adm%69n",
    "//admin",
    "///admin//x",
    "/admin/.",
    "/admin/./x",
    "/admin/x/..",
    "/x/%2e%2e/admin",
    "/x/%2E%2E/admin",
    "/%2e/admin",
    "/admin%2fx",
    "/admin?x=1",
    "/admin#frag",
]


@pytest.fixture
def guarded(relais, backend):
    port = start_acl(relais, """
ProxyPass / %s/
<Location /admin>
    Require ip 10.9.9.9
</Location>
<LocationMatch "(?i)^/private(/|$)">
    Require ip 10.9.9.9
</LocationMatch>
<LocationMatch "^/app([/;]|$)">
    Require ip 10.9.9.9
</LocationMatch>
""" % backend.url)
    return port


@pytest.mark.parametrize("target", BYPASSES)
def test_no_spelling_gets_around_location(guarded, backend, target):
    r = request(guarded, target)
    seen = [q.target for q in backend.requests]
    assert not (200 <= r.status < 300), (target, r.status, seen)
    assert seen == [], "the backend saw %r for %r" % (seen, target)


def test_case_is_significant_as_in_httpd(guarded, backend):
    """<Location /admin> does not cover /ADMIN (httpd on Linux matches
    case-sensitively); <LocationMatch "(?i)…"> covers every case."""
    r = request(guarded, "/ADMIN")
    assert r.status == 200
    assert [q.target for q in backend.requests] == [b"/ADMIN"]
    for t in ("/private", "/PRIVATE/x", "/Private", "/%50rivate"):
        assert request(guarded, t).status == 403, t
    assert len(backend.requests) == 1


def test_neighbours_are_not_protected(guarded, backend):
    """/administrator is not under /admin (httpd's prefix rule)."""
    assert request(guarded, "/administrator").status == 200
    assert request(guarded, "/x/admin").status == 200
    assert [q.target for q in backend.requests] == [b"/administrator",
                                                     b"/x/admin"]


def test_absolute_form_target(guarded, backend):
    """A request line with an absolute URI is matched on its path too."""
    r = request(guarded, "http://acl.test/admin/x")
    assert r.status == 403
    assert backend.requests == []


def test_path_parameters_as_in_httpd(guarded, backend):
    """";x" is part of the segment for httpd and for Relais: /admin;x is
    not under <Location /admin> and goes to the backend as written.  A
    backend that drops path parameters (Java servlet containers strip
    ;jsessionid=…) would serve /admin for it: protect such a backend with
    <LocationMatch "^/app([/;]|$)"> (docs/acl.md)."""
    assert request(guarded, "/admin;x").status == 200
    assert [q.target for q in backend.requests] == [b"/admin;x"]
    for t in ("/app", "/app;jsessionid=1", "/app/x", "/ap%70;x"):
        assert request(guarded, t).status == 403, t
    assert len(backend.requests) == 1
