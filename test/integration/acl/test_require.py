"""Require and its containers (mod_acl), with a real relaisd: each Require
type, Require not, <RequireAll>/<RequireAny>/<RequireNone> nested,
several Require lines side by side, AuthMerging, the contexts (server,
<VirtualHost>, <Location>, <LocationMatch>, <Proxy>), and that a refused
request never reaches the backend.  The client is 127.0.0.1 (and ::1 for
the IPv6 test)."""
import os

import pytest

from helpers_acl import (HEADERS_SO, free_port6, have_ipv6_loopback,
                         request, start_acl, status, wait_log)


def test_all_granted_and_denied(relais, backend):
    port = start_acl(relais, """
ProxyPass /app/ %s/
<Location /app/open>
    Require all granted
</Location>
<Location /app/closed>
    Require all denied
</Location>
""" % backend.url)
    r = request(port, "/app/open/x")
    assert r.status == 200, r
    assert [q.target for q in backend.requests] == [b"/open/x"]
    r = request(port, "/app/closed/x")
    assert r.status == 403, r
    assert b"Forbidden" in r.body
    r = request(port, "/app/closed/y", method="POST", body=b"z" * 5000)
    assert r.status == 403, r
    assert len(backend.requests) == 1, "a refused request reached the backend"
    assert wait_log(relais, "client denied by server configuration: "
                    "/app/closed/x")


def test_require_ip_forms(relais):
    """Every address form httpd accepts, against client 127.0.0.1."""
    cases = [
        ("exact", "127.0.0.1", 200),
        ("cidr", "127.0.0.0/8", 200),
        ("partial", "127", 200),
        ("partial2", "127.0", 200),
        ("netmask", "127.0.0.0/255.0.0.0", 200),
        ("host32", "127.0.0.2/32", 403),
        ("other", "10.0.0.0/8", 403),
        ("list", "10.1 192.168.0.0/16 127.0.0.1", 200),
        ("nolist", "10.1 192.168.0.0/16", 403),
        ("v6only", "::1 2001:db8::/32", 403),
        ("tophalf", "128.0.0.0/1", 403),
        ("lowhalf", "0.0.0.0/1", 200),
        ("pairnet", "127.0.0.2/255.255.255.254", 403),
        ("pairnet1", "127.0.0.0/255.255.255.254", 200),
    ]
    body = "SetHandler echo\n" + "".join(
        "<Location /ip/%s>\n    Require ip %s\n</Location>\n" % (n, a)
        for n, a, _ in cases)
    port = start_acl(relais, body)
    got = {n: status(port, "/ip/%s" % n) for n, _, _ in cases}
    assert got == {n: s for n, _, s in cases}


@pytest.mark.skipif(not have_ipv6_loopback(), reason="no ::1 here")
def test_require_ip_ipv6(relais):
    port6 = free_port6()
    port = start_acl(relais, """
SetHandler echo
<Location /v6>
    Require ip ::1
</Location>
<Location /v6net>
    Require ip 2001:db8::/32
</Location>
<Location /v6wide>
    Require ip ::/1
</Location>
<Location /v4>
    Require ip 127.0.0.0/8
</Location>
<Location /local>
    Require local
</Location>
""", listen6=port6)
    assert status(port6, "/v6", host="::1") == 200
    assert status(port6, "/v6wide", host="::1") == 200
    assert status(port6, "/v6net", host="::1") == 403
    assert status(port6, "/v4", host="::1") == 403
    assert status(port6, "/local", host="::1") == 200
    # and the same server from 127.0.0.1
    assert status(port, "/v6") == 403
    assert status(port, "/v4") == 200
    assert status(port, "/local") == 200


def test_require_local_and_not(relais):
    port = start_acl(relais, """
SetHandler echo
<Location /local>
    Require local
</Location>
<Location /remote-only>
    <RequireAll>
        Require all granted
        Require not local
    </RequireAll>
</Location>
<Location /not-ip>
    <RequireAll>
        Require all granted
        Require not ip 10.0.0.0/8 192.168.0.0/16
    </RequireAll>
</Location>
""")
    assert status(port, "/local") == 200
    assert status(port, "/remote-only") == 403
    assert status(port, "/not-ip") == 200


def test_require_method(relais):
    port = start_acl(relais, """
SetHandler echo
<Location /m>
    Require method GET POST
</Location>
""")
    assert status(port, "/m") == 200
    assert status(port, "/m", method="HEAD") == 200  # GET allows HEAD
    assert status(port, "/m", method="POST") == 200
    assert status(port, "/m", method="PUT") == 403
    assert status(port, "/m", method="DELETE") == 403


@pytest.mark.skipif(not os.path.exists(HEADERS_SO),
                    reason="mod_headers (SetEnvIf) is not built")
def test_require_env(relais):
    """SetEnvIf (mod_headers) sets the variable before the access check,
    as httpd's mod_setenvif does."""
    port = start_acl(relais, """
SetHandler echo
SetEnvIf X-Pass ^yes$ letmein
<Location /env>
    Require env unused letmein
</Location>
""", extra_modules="LoadModule headers_module modules/mod_headers.so\n")
    assert status(port, "/env", headers=[("X-Pass", "yes")]) == 200
    assert status(port, "/env", headers=[("X-Pass", "no")]) == 403
    assert status(port, "/env") == 403


def test_lines_side_by_side_are_any(relais):
    port = start_acl(relais, """
SetHandler echo
<Location /multi>
    Require ip 10.0.0.1
    Require method GET
</Location>
""")
    assert status(port, "/multi") == 200
    assert status(port, "/multi", method="POST") == 403


def test_containers_nested(relais, backend):
    port = start_acl(relais, """
ProxyPass / %s/
<Location /nest>
    <RequireAll>
        <RequireAny>
            Require ip 10.0.0.0/8
            Require method POST PUT
        </RequireAny>
        <RequireNone>
            Require method PUT
        </RequireNone>
    </RequireAll>
</Location>
<Location /deep>
    <RequireAny>
        <RequireAll>
            <RequireAny>
                <RequireAll>
                    Require ip 127.0.0.1
                    Require not method DELETE
                    <RequireNone>
                        Require method PATCH
                    </RequireNone>
                </RequireAll>
                Require ip 10.0.0.1
            </RequireAny>
            Require method GET DELETE POST PATCH
        </RequireAll>
    </RequireAny>
</Location>
""" % backend.url)
    assert status(port, "/nest", method="POST") == 200
    assert status(port, "/nest", method="PUT") == 403
    assert status(port, "/nest") == 403
    assert status(port, "/deep") == 200
    assert status(port, "/deep", method="POST") == 200
    assert status(port, "/deep", method="DELETE") == 403
    assert status(port, "/deep", method="PATCH") == 403
    assert status(port, "/deep", method="PUT") == 403
    # only the three granted requests went through
    assert sorted((q.method, q.target) for q in backend.requests) == [
        ("GET", b"/deep"), ("POST", b"/deep"), ("POST", b"/nest")]


def test_authmerging(relais):
    """AuthMerging of the inner context: Off (default) replaces the outer
    Require lines, And and Or combine them; no Require line inherits."""
    port = start_acl(relais, """
SetHandler echo
<Location /m>
    Require method GET
</Location>
<Location /m/off>
    Require method POST
</Location>
<Location /m/and>
    AuthMerging And
    Require method GET POST
</Location>
<Location /m/or>
    AuthMerging Or
    Require method POST
</Location>
<Location /m/inherit>
    EchoName inner
</Location>
<Location /m/off-alone>
    AuthMerging Off
</Location>
""")
    got = {(p, m): status(port, p, method=m)
           for p in ("/m", "/m/off", "/m/and", "/m/or", "/m/inherit",
                     "/m/off-alone")
           for m in ("GET", "POST", "PUT")}
    assert got == {
        ("/m", "GET"): 200, ("/m", "POST"): 403, ("/m", "PUT"): 403,
        ("/m/off", "GET"): 403, ("/m/off", "POST"): 200,
        ("/m/off", "PUT"): 403,
        ("/m/and", "GET"): 200, ("/m/and", "POST"): 403,
        ("/m/and", "PUT"): 403,
        ("/m/or", "GET"): 200, ("/m/or", "POST"): 200, ("/m/or", "PUT"): 403,
        ("/m/inherit", "GET"): 200, ("/m/inherit", "POST"): 403,
        ("/m/inherit", "PUT"): 403,
        # Relais keeps the outer lines here; httpd would drop them
        ("/m/off-alone", "GET"): 200, ("/m/off-alone", "POST"): 403,
        ("/m/off-alone", "PUT"): 403,
    }


def test_contexts_server_vhost_locationmatch(relais):
    port = start_acl(relais, """
SetHandler echo
Require method GET POST
<LocationMatch "^/re/[0-9]+$">
    Require all denied
</LocationMatch>
<VirtualHost *:@PORT@>
    ServerName closed.test
    Require all denied
</VirtualHost>
<VirtualHost *:@PORT@>
    ServerName acl.test
</VirtualHost>
""")
    assert status(port, "/x") == 200
    assert status(port, "/x", method="PUT") == 403       # server level
    assert status(port, "/re/12") == 403                 # LocationMatch
    assert status(port, "/re/ab") == 200
    assert status(port, "/x", vhost="closed.test") == 403   # vhost
    assert status(port, "/re/ab", vhost="closed.test") == 403


def test_proxy_sections(relais, backend):
    """<Proxy> sections match the backend URL, after routing; their
    Require lines are checked before the backend is contacted, balancers
    included."""
    port = start_acl(relais, """
ProxyPass /p/ %(b)s/back/
ProxyPass /q/ %(b)s/other/
ProxyPass /lb/ balancer://pool/
<Proxy %(b)s/back/>
    Require ip 10.9.9.9
</Proxy>
<Proxy balancer://pool>
    BalancerMember %(b)s
    Require method POST
</Proxy>
""" % {"b": backend.url},
        extra_modules="LoadModule balancer_module modules/mod_balancer.so\n")
    assert status(port, "/p/x") == 403
    assert status(port, "/q/x") == 200
    assert status(port, "/lb/x") == 403
    assert status(port, "/lb/x", method="POST") == 200
    assert sorted((q.method, q.target) for q in backend.requests) == [
        ("GET", b"/other/x"), ("POST", b"/x")]


def test_require_expr(relais):
    """Require expr (include/rl_expr.h), parsed at start-up."""
    port = start_acl(relais, """
SetHandler echo
<Location /e>
    Require expr "%{HTTP:X-Token} == 'abc' && %{REQUEST_METHOD} != 'PUT'"
</Location>
<Location /e2>
    Require expr %{REMOTE_ADDR} -ipmatch '127.0.0.0/8'
</Location>
<Location /e3>
    <RequireAll>
        Require all granted
        Require not expr "%{QUERY_STRING} =~ /debug/"
    </RequireAll>
</Location>
""")
    assert status(port, "/e", headers=[("X-Token", "abc")]) == 200
    assert status(port, "/e", headers=[("X-Token", "abd")]) == 403
    assert status(port, "/e", method="PUT",
                  headers=[("X-Token", "abc")]) == 403
    assert status(port, "/e") == 403
    assert status(port, "/e2") == 200
    assert status(port, "/e3?x=1") == 200
    assert status(port, "/e3?debug=1") == 403
