"""<If>, <ElseIf> and <Else> (the core's conditional sections) and the
expression language they share with `Require expr` (docs/expr.md).

Each branch sets a different `EchoName`, so the JSON mod_echo answers with
says which block was applied to the request; an unmatched branch must not
leak into the answer.  Config errors name file:line and the block."""
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "http"))

from helpers_http import start_echo  # noqa: E402

from conftest import free_port, mpm_lines  # noqa: E402


def get(port, path="/", headers=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, None


def name_of(port, path="/", headers=None):
    status, body = get(port, path, headers)
    assert status == 200, (path, headers, status)
    return body.get("name")


BRANCHES = """
EchoName outer
<If "%{HTTP:X-Tier} == 'gold'">
    EchoName gold
</If>
<ElseIf "%{HTTP:X-Tier} =~ /^silver/i && %{REQUEST_METHOD} in {'GET', 'HEAD'}">
    EchoName silver
</ElseIf>
<ElseIf "-n %{HTTP:X-Tier}">
    EchoName other-tier
</ElseIf>
<Else>
    EchoName no-tier
</Else>
"""


def test_if_elseif_else_pick_one_branch(relais):
    port = start_echo(relais, "event", extra=BRANCHES)
    assert name_of(port, headers={"X-Tier": "gold"}) == "gold"
    assert name_of(port, headers={"X-Tier": "SILVER-plus"}) == "silver"
    assert name_of(port, headers={"X-Tier": "bronze"}) == "other-tier"
    assert name_of(port) == "no-tier"


def test_if_inside_location_only_for_that_location(relais):
    port = start_echo(relais, "event", extra="""
EchoName outer
<Location /api>
    EchoName api
    <If "%{QUERY_STRING} -strmatch 'debug=*'">
        EchoName api-debug
    </If>
</Location>
<LocationMatch "^/re/">
    <If "tolower(%{HTTP:X-Mode}) == 'test'">
        EchoName re-test
    </If>
</LocationMatch>
""")
    assert name_of(port, "/api/x?debug=1") == "api-debug"
    assert name_of(port, "/api/x?other=1") == "api"
    # the condition holds, but the location does not match
    assert name_of(port, "/web?debug=1") == "outer"
    assert name_of(port, "/re/a", {"X-Mode": "TeSt"}) == "re-test"
    assert name_of(port, "/ra/a", {"X-Mode": "test"}) == "outer"


def test_if_is_merged_after_every_location(relais):
    # httpd merges <If> last: it overrides a <Location> declared after it
    port = start_echo(relais, "event", extra="""
<If "%{REQUEST_URI} =~ m#^/late/#">
    EchoName from-if
</If>
<Location /late>
    EchoName from-location
</Location>
""")
    assert name_of(port, "/late/x") == "from-if"
    assert name_of(port, "/late") == "from-location"


def test_ipmatch_and_remote(relais):
    port = start_echo(relais, "event", extra="""
EchoName none
<If "%{REMOTE_ADDR} -ipmatch '10.0.0.0/8' || -R '127.0.0.2'">
    EchoName wrong-net
</If>
<ElseIf "%{REMOTE_ADDR} -ipmatch '127.0.0.0/8' && -R '127.0.0.1'">
    EchoName loopback
</ElseIf>
<ElseIf "-R '10.1'">
    EchoName ten-one
</ElseIf>
""")
    # the first branch must be false for 127.0.0.1 (a matcher that says
    # yes to everything would pick it), the second true
    assert name_of(port) == "loopback"


def test_integer_and_string_comparisons(relais):
    port = start_echo(relais, "event", extra="""
EchoName none
<If "%{HTTP:X-N} -ge 10 && %{HTTP:X-N} -lt 100">
    EchoName two-digits
</If>
<ElseIf "%{HTTP:X-S} < 'm' && ! (%{HTTP:X-S} == '')">
    EchoName first-half
</ElseIf>
""")
    assert name_of(port, headers={"X-N": "42"}) == "two-digits"
    assert name_of(port, headers={"X-N": "9"}) == "none"
    assert name_of(port, headers={"X-S": "apple"}) == "first-half"
    assert name_of(port, headers={"X-S": "zebra"}) == "none"


def test_evaluation_error_counts_as_false_and_is_logged(relais):
    port = start_echo(relais, "event", extra="""
EchoName none
<If "%{HTTP:X-N} -gt 5">
    EchoName big
</If>
""")
    assert name_of(port, headers={"X-N": "6"}) == "big"
    assert name_of(port, headers={"X-N": "six"}) == "none"
    log = relais.error_log()
    assert "cannot be evaluated ('six' is not an integer): taken as false" \
        in log, log


def conf_errors(relais, body):
    port = free_port()
    text = (mpm_lines("event") + "LoadModule echo_module modules/mod_echo.so\n"
            + "Listen 127.0.0.1:%d\n" % port + body)
    path = relais.write_conf(text)
    proc = relais.run("-t", conf=path)
    assert proc.returncode != 0
    return proc.stderr + proc.stdout


def test_config_errors_name_the_line(relais):
    out = conf_errors(relais, "<If \"%{HTTP:X} == \">\n</If>\n")
    assert "relais.conf:4: <If>: " in out, out
    assert "expected a word" in out, out
    out = conf_errors(relais, "<Else>\n</Else>\n")
    assert "relais.conf:4: <Else>: <Else> must follow an <If>" in out, out
    out = conf_errors(relais, "<If \"%{NOPE} == 'a'\">\n</If>\n")
    assert "expected a known variable" in out, out
    out = conf_errors(relais, "<If \"%{HTTP:X} =~ /(/\">\n</If>\n")
    assert "a valid regular expression" in out, out
    out = conf_errors(relais, "<If \"true\">\n<If \"true\">\n</If>\n</If>\n")
    assert "relais.conf:5:" in out and "cannot stand inside another" in out
    out = conf_errors(relais, "<If \"%{REMOTE_ADDR} -ipmatch '10.0.0.0/33'\">"
                              "\n</If>\n")
    assert "prefix /33 is longer than 32 bits" in out, out
