"""The request path every rule matches on (r->uri) has one spelling per
resource: unreserved escapes decoded, other escapes in upper-case hex, dot
segments resolved, duplicate slashes collapsed.  So `/%61dmin`, `//admin`,
`/x/../admin` and `/admin/.` all land in `<Location /admin>`; an encoded
slash is refused (404) unless AllowEncodedSlashes says otherwise; a bad
escape or an encoded NUL is a 400.  mod_echo reports the URI it saw and
the EchoName of the location that was applied."""
import pytest

from helpers_http import get_raw, start_echo

ADMIN = """
EchoName public
<Location /admin>
    EchoName admin
</Location>
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import Relais
    r = Relais(str(tmp_path_factory.mktemp("paths")))
    port = start_echo(r, "event", extra=ADMIN)
    yield port
    r.stop()


@pytest.mark.parametrize("target,uri", [
    ("/admin", "/admin"),
    ("/%61dmin", "/admin"),
    ("/%61%64%6D%69%6e", "/admin"),
    ("//admin", "/admin"),
    ("///admin//", "/admin/"),
    ("/x/../admin", "/admin"),
    ("/x/%2e%2e/admin", "/admin"),
    ("/x/%2E./admin", "/admin"),
    ("/admin/.", "/admin/"),
    ("/./admin", "/admin"),
    ("/admin/x/..", "/admin/"),
    ("/admin?a=%2e%2e", "/admin"),
])
def test_spellings_of_admin_reach_its_location(server, target, uri):
    resp = get_raw(server, target)
    assert resp.status == 200, (target, resp)
    body = resp.json()
    assert body["uri"] == uri, (target, body)
    assert body.get("name") == "admin", (target, body)


@pytest.mark.parametrize("target,uri", [
    ("/a%3fb", "/a%3Fb"),          # reserved: stays encoded, hex upper-cased
    ("/a%20b", "/a%20b"),
    ("/%7euser", "/~user"),        # unreserved: decoded
    ("/adminx", "/adminx"),        # not the /admin location
])
def test_other_escapes_are_kept_in_one_spelling(server, target, uri):
    resp = get_raw(server, target)
    assert resp.status == 200, (target, resp)
    body = resp.json()
    assert body["uri"] == uri, (target, body)
    assert body.get("name") == "public", (target, body)


@pytest.mark.parametrize("target,status", [
    ("/..", 400),
    ("/x/../../admin", 400),
    ("/%2e%2e/admin", 400),
    ("/a%zzb", 400),
    ("/a%4", 400),
    ("/a%00b", 400),
    ("/admin%2fsecret", 404),      # AllowEncodedSlashes Off (the default)
    ("/x%2F..%2Fadmin", 404),
])
def test_refused_paths(server, target, status):
    resp = get_raw(server, target)
    assert resp.status == status, (target, resp)
    assert resp.header("Connection") == "close"


@pytest.mark.parametrize("mode,uri,name", [
    ("On", "/admin/secret", "admin"),        # decoded, then normalised
    ("NoDecode", "/x%2Fadmin%2Fsecret", "public"),  # kept: not a separator
])
def test_allow_encoded_slashes(relais, mode, uri, name):
    port = start_echo(relais, "event",
                      extra="AllowEncodedSlashes %s\n" % mode + ADMIN)
    target = "/admin%2fsecret" if mode == "On" else "/x%2fadmin%2Fsecret"
    resp = get_raw(port, target)
    assert resp.status == 200, resp
    assert resp.json()["uri"] == uri
    assert resp.json().get("name") == name


def test_allow_encoded_slashes_rejects_other_values(relais):
    from conftest import free_port, mpm_lines
    text = (mpm_lines("event") + "Listen 127.0.0.1:%d\n" % free_port()
            + "AllowEncodedSlashes Maybe\n")
    path = relais.write_conf(text)
    res = relais.run("-t", conf=path)
    assert res.returncode == 1
    assert "relais.conf:3: AllowEncodedSlashes: expected On, Off or " \
        "NoDecode, got 'Maybe'" in res.stderr, res.stderr
