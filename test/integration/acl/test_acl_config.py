"""Configuration errors of mod_acl: `relaisd -t` refuses the file and
names FILE:LINE, the directive and what is wrong, for each mistake an
operator can make with Require, the containers and authentication."""
import os

import pytest

from helpers_acl import acl_conf, free_port, htpasswd

CASES = [
    ("Require frobnicate 1", "Require", "unknown Require type 'frobnicate'"),
    ("Require ldap-group cn=x", "Require", "is not provided by Relais"),
    ("Require ip 10.0.0.300", "Require", "'10.0.0.300' is not an IPv4"),
    ("Require ip 10.0.0.0/33", "Require", "/33 is longer than 32 bits"),
    ("Require ip", "Require", "expected one or more addresses"),
    ("Require all maybe", "Require", "'Require all granted' or"),
    ("Require valid-user alice", "Require", "takes no arguments"),
    ("Require user", "Require", "one or more user names"),
    ("Require method get", "Require", "is not a method"),
    ("Require local 127.0.0.1", "Require", "takes no arguments"),
    ("Require not ip 10.0.0.1", "Require",
     "'Require not' can only take access away"),
    ("Require not", "Require", "needs a Require type after it"),
    ("Require host example.org", "Require",
     "not available under the event MPM"),
    ('Require expr "%{REMOTE_ADDR} =="', "Require",
     "cannot parse the expression"),
    ("<RequireAll>\n</RequireAll>", "<RequireAll", "holds no Require line"),
    ("<RequireAll>\n    Require not ip 10.0.0.1\n</RequireAll>",
     "<RequireAll", "only negative Require lines"),
    ("<RequireNone>\n    Require ip 10.0.0.1\n</RequireNone>",
     "<RequireNone", "has no effect in"),
    ("<RequireAny>\n    AuthName x\n</RequireAny>", "<RequireAny",
     "AuthName (line"),
    ("<RequireAll x>\n    Require all granted\n</RequireAll>",
     "<RequireAll", "expected"),
    ("AuthType Digest", "AuthType", "not provided by Relais"),
    ("AuthType Kerberos", "AuthType", "expected Basic or None"),
    ("AuthBasicProvider file ldap", "AuthBasicProvider",
     "'ldap' is not provided by Relais"),
    ("AuthUserFile /nonexistent/htpasswd", "AuthUserFile",
     "cannot open '/nonexistent/htpasswd'"),
    ("AuthGroupFile /nonexistent/groups", "AuthGroupFile",
     "cannot open '/nonexistent/groups'"),
    ("AuthMerging Sometimes", "AuthMerging", "expected Off, And or Or"),
    ("AuthBasicForward maybe", "AuthBasicForward", "On"),
    ("Order allow,deny", "Order", "not provided by Relais: use Require"),
    ("Allow from 10.0.0.0/8", "Allow", "Require ip"),
    ("Satisfy Any", "Satisfy", "not provided"),
]


@pytest.mark.parametrize("text,directive,message", CASES,
                         ids=[c[0].split("\n")[0] for c in CASES])
def test_config_error(relais, text, directive, message):
    body = "SetHandler echo\n<Location /x>\n%s\n</Location>\n" % text
    conf = acl_conf(free_port(), body)
    path = relais.write_conf(conf)
    # the line of the directive (the first line of a section)
    lines = open(path).read().splitlines()
    first = text.split("\n")[0]
    lineno = lines.index(first) + 1
    r = relais.run("-t")
    assert r.returncode != 0, r.stderr
    expect = "%s:%d: %s" % (path, lineno, directive)
    assert expect in r.stderr, r.stderr
    assert message in r.stderr, r.stderr


def test_all_errors_in_one_run(relais):
    """One run reports every mistake, each at its own line, including
    lines inside nested containers."""
    body = """SetHandler echo
<Location /a>
    <RequireAll>
        Require all granted
        <RequireAny>
            Require ip 300.1.1.1
            Require bogus
        </RequireAny>
    </RequireAll>
</Location>
AuthType Form
"""
    path = relais.write_conf(acl_conf(free_port(), body))
    lines = open(path).read().splitlines()
    r = relais.run("-t")
    assert r.returncode != 0
    for needle, directive in (("Require ip 300.1.1.1", "Require"),
                              ("Require bogus", "Require"),
                              ("AuthType Form", "AuthType")):
        n = [i for i, l in enumerate(lines) if l.strip() == needle][0] + 1
        assert "%s:%d: %s" % (path, n, directive) in r.stderr, r.stderr


def test_good_configuration_is_ok(relais):
    users = os.path.join(relais.root, "users")
    htpasswd(users, "alice", "pw", create=True)
    with open(os.path.join(relais.root, "groups"), "w") as f:
        f.write("admins: alice\n")
    body = """SetHandler echo
AuthType Basic
AuthName "Staff"
AuthBasicProvider file
AuthUserFile users
AuthGroupFile groups
AuthMerging And
AuthBasicForward Off
AuthzSendForbiddenOnFailure On
<Location /a>
    <RequireAny>
        <RequireAll>
            Require group admins
            Require not user mallory
            <RequireNone>
                Require ip 10.0.0.0/8
            </RequireNone>
        </RequireAll>
        Require local
        Require env PASS
        Require expr "%{HTTP:X-Key} == 'k'"
    </RequireAny>
</Location>
"""
    relais.write_conf(acl_conf(free_port(), body))
    r = relais.run("-t")
    assert r.returncode == 0, r.stderr
    assert "Syntax OK" in (r.stdout + r.stderr)


def test_malformed_htpasswd_lines_warn(relais):
    with open(os.path.join(relais.root, "users"), "w") as f:
        f.write("# comment\n\nalice:$apr1$x$y\nno colon here\n:nouser\n")
    body = "AuthUserFile users\n"
    relais.write_conf(acl_conf(free_port(), body))
    r = relais.run("-t")
    assert r.returncode == 0, r.stderr
    assert "2 lines without 'user:hash' ignored (first: line 4)" in r.stderr
