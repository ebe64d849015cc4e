"""Configuration errors of Header, RequestHeader and SetEnvIf: relaisd -t
names FILE:LINE: Directive: and what is wrong, for every bad line in one
run; warnings for actions that cannot have an effect."""
from helpers_headers import conf, free_port, line_of

BAD = r"""
Header frobnicate X-A b
Header set X-Foo
Header edit X-A "(unclosed" y
Header edit X-A foo
Header echo "(unclosed"
RequestHeader set X-A b early env=foo
Header set X-A hello world
RequestHeader always set X-A b
RequestHeader echo ^X-
Header set X-A "expr=%{REQUEST_URI}"
Header set X-A "load %l"
Header set X-A "%q"
Header set X-A "%{HOME}"
Header set X-A "50%"
Header set "X A" b
Header set X-A b env=
Header set X-A b "expr=%{HTTP:X} =="
Header set X-A "line\r\nInjected: 1"
SetEnvIf Request_URI "(unclosed" x
SetEnvIf Request_URI ^/x =value
SetEnvIf Request_URI ^/x !
<Location /loc>
    RequestHeader set X-Early b early
</Location>
"""

# (needle on the line, directive, what the message must say)
EXPECTED = [
    ("frobnicate", "Header", "unknown action 'frobnicate'"),
    ("Header set X-Foo", "Header", "set needs a value"),
    ('Header edit X-A "(unclosed"', "Header", "bad regular expression"),
    ("Header edit X-A foo", "Header",
     "edit needs a regular expression and a replacement"),
    ('Header echo "(unclosed"', "Header", "bad regular expression"),
    ("early env=foo", "RequestHeader", "cannot be combined"),
    ("hello world", "Header", "'world' is not a condition"),
    ("RequestHeader always", "RequestHeader", "is for Header only"),
    ("RequestHeader echo", "RequestHeader", "echo is for Header only"),
    ("expr=%{REQUEST_URI}", "Header", "not supported by Relais"),
    ("load %l", "Header", "not supported by Relais"),
    ('"%q"', "Header", "unknown format '%q'"),
    ("%{HOME}", "Header", "%{HOME}e for a request or process variable"),
    ('"50%"', "Header", "write %% for a percent sign"),
    ('"X A"', "Header", "'X A' is not a valid header name"),
    ("env=\n", "Header", "env= needs a variable name"),
    ("%{HTTP:X} ==", "Header", "expr=%{HTTP:X} =="),
    ("Injected", "Header", "would split it into two header fields"),
    ('SetEnvIf Request_URI "(unclosed"', "SetEnvIf",
     "bad regular expression"),
    ("=value", "SetEnvIf", "a variable needs a name"),
    ("^/x !", "SetEnvIf", "expected !NAME"),
    ("X-Early b early", "RequestHeader",
     "'early' is only allowed at server level"),
]


def find_line(text, needle):
    if needle.endswith("\n"):
        needle = needle[:-1]
        for i, line in enumerate(text.splitlines(), 1):
            if line.endswith(needle):
                return i
    return line_of(text, needle)


def test_every_error_is_reported_with_file_line_and_directive(relais):
    text = conf(free_port(), BAD)
    path = relais.write_conf(text)
    res = relais.run("-t")
    assert res.returncode == 1, res.stderr
    lines = res.stderr.splitlines()
    for needle, directive, what in EXPECTED:
        prefix = "%s:%d: %s:" % (path, find_line(text, needle), directive)
        got = [l for l in lines if prefix in l]
        assert got, "no %r in:\n%s" % (prefix, res.stderr)
        assert what in got[0], (what, got[0])
    assert "%d errors in the configuration" % len(EXPECTED) in lines[-1], \
        res.stderr


def test_argument_count_is_checked(relais):
    text = conf(free_port(), "Header set\nSetEnvIf Request_URI ^/x\n"
                "RequestHeader set a b c d e\n")
    path = relais.write_conf(text)
    res = relais.run("-t")
    assert res.returncode == 1
    for needle, directive in (("Header set", "Header"),
                              ("SetEnvIf", "SetEnvIf"),
                              ("RequestHeader", "RequestHeader")):
        prefix = "%s:%d: %s:" % (path, line_of(text, needle), directive)
        assert prefix in res.stderr, res.stderr
    assert "3 errors" in res.stderr


def test_warnings_for_actions_without_effect(relais):
    text = conf(free_port(), """
Header set Content-Length 5
Header unset Server
<Proxy http://127.0.0.1:9/>
    Header set X-In-Proxy 1
</Proxy>
Header set X-Fine 1
""")
    path = relais.write_conf(text)
    res = relais.run("-t")
    assert res.returncode == 0, res.stderr
    assert "Syntax OK" in res.stderr + res.stdout
    for needle, what in (("Content-Length", "written by the core"),
                         ("unset Server", "ServerTokens"),
                         ("X-In-Proxy", "<Proxy>")):
        prefix = "warning: %s:%d: Header:" % (path, line_of(text, needle))
        got = [l for l in res.stderr.splitlines() if prefix in l]
        assert got and what in got[0], res.stderr
    assert "X-Fine" not in res.stderr
