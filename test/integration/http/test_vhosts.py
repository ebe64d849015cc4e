"""Virtual host selection (Host, aliases, wildcards, IP-specific, per port,
absolute-form, IPv6) and per-location configuration."""
import json
import socket

import pytest

from conftest import Relais, free_port
from helpers_http import RawConn, curl, echo_conf, request_bytes


VHOSTS = """
ServerName main.invalid
EchoName main
<VirtualHost *:{p1}>
    ServerName first.example.org
    EchoName first
</VirtualHost>
<VirtualHost *:{p1}>
    ServerName www.example.com
    ServerAlias *.example.com
    EchoName wild
</VirtualHost>
<VirtualHost *:{p1}>
    ServerName other.test
    ServerAlias alias.other.test
    EchoName other
</VirtualHost>
<VirtualHost *:{p2}>
    ServerName star2.test
    EchoName star2
</VirtualHost>
<VirtualHost 127.0.0.1:{p2}>
    ServerName ip2.test
    EchoName ip2
</VirtualHost>
<VirtualHost *:{p3}>
    ServerName p3-default.test
    EchoName p3default
</VirtualHost>
<VirtualHost *:{p3}>
    ServerName www.example.com
    EchoName p3www
</VirtualHost>
"""


@pytest.fixture(scope="module")
def vh(tmp_path_factory):
    p1, p2, p3 = free_port(), free_port(), free_port()
    while len({p1, p2, p3}) < 3:
        p2, p3 = free_port(), free_port()
    r = Relais(tmp_path_factory.mktemp("vhosts"))
    listen = "".join("Listen 127.0.0.1:%d\n" % p for p in (p1, p2, p3))
    r.write_conf(echo_conf("event", p1, listen=listen,
                           extra=VHOSTS.format(p1=p1, p2=p2, p3=p3)))
    r.start(p1)
    yield r, p1, p2, p3
    r.stop()


def name_for(port, host, target="/", proto="HTTP/1.1"):
    with RawConn(port) as c:
        c.send(request_bytes(target=target, host=host, proto=proto))
        resp = c.read_response()
    assert resp.status == 200, resp
    return resp.json()


@pytest.mark.parametrize("host,want", [
    ("first.example.org", "first"),
    ("www.example.com", "wild"),
    ("other.test", "other"),
    ("alias.other.test", "other"),
])
def test_exact_name_and_alias(vh, host, want):
    _, p1, _, _ = vh
    assert name_for(p1, host)["name"] == want


@pytest.mark.parametrize("host", ["api.example.com", "a.b.example.com"])
def test_wildcard_alias(vh, host):
    _, p1, _, _ = vh
    assert name_for(p1, host)["name"] == "wild"


def test_wildcard_needs_a_label(vh):
    """*.example.com does not match example.com itself: default vhost."""
    _, p1, _, _ = vh
    assert name_for(p1, "example.com")["name"] == "first"


@pytest.mark.parametrize("host,want", [
    ("WWW.Example.COM", "wild"), ("Other.TEST", "other"),
    ("API.EXAMPLE.COM", "wild")])
def test_host_case_insensitive(vh, host, want):
    _, p1, _, _ = vh
    assert name_for(p1, host)["name"] == want


@pytest.mark.parametrize("host,want", [
    ("www.example.com.", "wild"), ("other.test.", "other")])
def test_host_trailing_dot(vh, host, want):
    _, p1, _, _ = vh
    assert name_for(p1, host)["name"] == want


def test_host_with_port(vh):
    _, p1, _, _ = vh
    assert name_for(p1, "other.test:%d" % p1)["name"] == "other"
    assert name_for(p1, "WWW.example.com:%d" % p1)["name"] == "wild"


def test_unknown_host_gets_first_vhost(vh):
    _, p1, _, _ = vh
    assert name_for(p1, "nobody.invalid")["name"] == "first"


def test_http10_without_host_gets_first_vhost(vh):
    _, p1, _, _ = vh
    assert name_for(p1, None, proto="HTTP/1.0")["name"] == "first"


def test_ip_specific_vhost_preferred(vh):
    """<VirtualHost 127.0.0.1:p2> wins over the earlier <VirtualHost *:p2>
    for connections to 127.0.0.1:p2."""
    _, _, p2, _ = vh
    assert name_for(p2, "nobody.invalid")["name"] == "ip2"
    assert name_for(p2, "ip2.test")["name"] == "ip2"


def test_each_port_has_its_own_vhosts(vh):
    _, p1, _, p3 = vh
    assert name_for(p3, "www.example.com")["name"] == "p3www"
    assert name_for(p1, "www.example.com")["name"] == "wild"
    assert name_for(p3, "other.test")["name"] == "p3default"
    assert name_for(p3, "nobody.invalid")["name"] == "p3default"


def test_absolute_form_selects_by_authority(vh):
    _, p1, _, _ = vh
    j = name_for(p1, "www.example.com", target="http://other.test/abs?q=1")
    assert j["name"] == "other"
    assert j["uri"] == "/abs"
    assert j["args"] == "q=1"
    j = name_for(p1, "other.test",
                 target="http://API.Example.com:%d/x" % p1)
    assert j["name"] == "wild"
    assert j["uri"] == "/x"


def test_vhost_with_curl(vh):
    _, p1, _, _ = vh
    out = curl(["-H", "Host: alias.other.test",
                "http://127.0.0.1:%d/c" % p1])
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["name"] == "other"
    out = curl(["--resolve", "shop.example.com:%d:127.0.0.1" % p1,
                "http://shop.example.com:%d/c" % p1])
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["name"] == "wild"


def ipv6_loopback_usable():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback_usable(), reason="::1 not usable here")
def test_ipv6_listener(relais):
    p4, p6 = free_port(), free_port()
    relais.write_conf(echo_conf("event", p4, listen=(
        "Listen 127.0.0.1:%d\nListen [::1]:%d\n" % (p4, p6)), extra="""
EchoName main
<VirtualHost [::1]:%d>
    ServerName v6.test
    EchoName v6
</VirtualHost>
""" % p6))
    relais.start(p4)
    with RawConn(p6, host="::1", family=socket.AF_INET6) as c:
        c.send(request_bytes(target="/six", host="[::1]:%d" % p6))
        resp = c.read_response()
    assert resp.status == 200
    j = resp.json()
    assert j["client"] == "::1"
    assert j["name"] == "v6"
    assert j["headers"]["Host"] == "[::1]:%d" % p6
    # the IPv4 listener is not the IPv6 vhost
    with RawConn(p4) as c:
        c.send(request_bytes(target="/four"))
        assert c.read_response().json()["name"] == "main"


LOCATIONS = """
EchoName root
<Location /api>
    EchoName api
</Location>
<LocationMatch "^/re/[0-9]+$">
    EchoName regex
</LocationMatch>
<Location ~ "\\.json$">
    EchoName tilde
</Location>
<Location /b>
    EchoName bee
</Location>
<Location /off>
    SetHandler none
</Location>
<Location /api/off>
    SetHandler none
</Location>
"""


@pytest.fixture(scope="module")
def loc(tmp_path_factory):
    port = free_port()
    r = Relais(tmp_path_factory.mktemp("locations"))
    r.write_conf(echo_conf("event", port, extra=LOCATIONS))
    r.start(port)
    yield r, port
    r.stop()


def get(port, target):
    with RawConn(port) as c:
        c.send(request_bytes(target=target))
        return c.read_response()


@pytest.mark.parametrize("target,want", [
    ("/", "root"),
    ("/api", "api"),
    ("/api/", "api"),
    ("/api/v1/users", "api"),
    ("/apix", "root"),            # /api does not match /apix (httpd)
    ("/re/123", "regex"),
    ("/re/12a", "root"),
    ("/re/123/more", "root"),
    ("/data/x.json", "tilde"),
    ("/b", "bee"),
    ("/b/c", "bee"),
])
def test_location_chooses_settings(loc, target, want):
    _, port = loc
    resp = get(port, target)
    assert resp.status == 200, resp
    assert resp.json()["name"] == want


@pytest.mark.parametrize("target,uri", [
    ("/a/../b", "/b"),
    ("/a/./../b/c", "/b/c"),
    ("/x/y/../../b", "/b"),
    ("//b", "/b"),
    ("/a/%2e%2e/b", "/b"),
    ("/a/../b?q=/..", "/b"),
])
def test_path_normalised_before_location_matching(loc, target, uri):
    _, port = loc
    resp = get(port, target)
    assert resp.status == 200, resp
    j = resp.json()
    assert j["uri"] == uri
    assert j["name"] == "bee"


def test_path_above_root_rejected(loc):
    _, port = loc
    assert get(port, "/../etc/passwd").status == 400


@pytest.mark.parametrize("target", ["/off", "/off/x", "/api/off",
                                    "/api/off/deep"])
def test_sethandler_none_sublocation_404(loc, target):
    _, port = loc
    resp = get(port, target)
    assert resp.status == 404, resp
    # and the connection is still usable after a 404
    assert resp.header("Connection") is None
