"""SetEnvIf, SetEnvIfNoCase, BrowserMatch[NoCase]: each attribute, the
variable forms (NAME, NAME=value with $1, !NAME), and what uses the
variables: Header/RequestHeader env=[!]var and %{var}e, and mod_log's
CustomLog env=!var."""
import pytest

from helpers_headers import Shared, get, read, start, wait_for

VARS = ["addr", "host", "saddr", "method", "proto", "item", "kind",
        "kindnc", "traced", "chained", "missing", "agent", "nc_agent",
        "stage", "gone"]

RULES = r"""
SetHandler echo
SetEnvIf Remote_Addr ^127\.0\.0\.1$ addr=yes
SetEnvIf remote_host ^127\. host=yes
SetEnvIf Server_Addr ^127\.0\.0\.1$ saddr=yes
SetEnvIf Request_Method ^(POST|PUT)$ method=m-$1
SetEnvIf Request_Protocol ^HTTP/1\.0$ proto=old
SetEnvIf Request_URI ^/shop/(\w+)$ item=$1
SetEnvIf X-Kind ^Bot kind=bot
SetEnvIfNoCase X-Kind ^bot kindnc=bot
SetEnvIf ^X-Trace- . traced
SetEnvIf kind ^bot$ chained=yes
SetEnvIf X-Missing ^$ missing=empty
BrowserMatch "^TestAgent/(\d+)" agent=v$1
BrowserMatchNoCase ^testagent nc_agent
SetEnvIf Request_URI . gone=1 stage=server
SetEnvIf X-Drop . !gone
<Location /loc>
    SetEnvIf stage ^server$ stage=loc
</Location>
""" + "".join('Header set X-Var-%s "%%{%s}e"\n' % (v, v) for v in VARS)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Shared(tmp_path_factory, RULES, "setenvif")
    yield s
    s.close()


def variables(srv, path="/", method="GET", proto="HTTP/1.1", headers=()):
    r = srv.get(path, method=method, proto=proto, headers=headers)
    assert r.status == 200, r
    out = {}
    for v in VARS:
        val = r.header("X-Var-" + v)
        assert val is not None
        out[v] = None if val == "(null)" else val
    return out


def test_connection_attributes(srv):
    v = variables(srv)
    assert v["addr"] == "yes"
    assert v["host"] == "yes"  # Remote_Host is the address, any case
    assert v["saddr"] == "yes"


def test_request_attributes_and_captures(srv):
    v = variables(srv, "/shop/apples?x=1", method="POST")
    assert v["method"] == "m-POST"
    assert v["item"] == "apples"  # the path, without the query
    assert v["proto"] is None
    v = variables(srv, "/shop/a/b", proto="HTTP/1.0")
    assert v["method"] is None
    assert v["item"] is None
    assert v["proto"] == "old"


def test_header_attribute_case_and_chaining(srv):
    v = variables(srv, headers=[("X-Kind", "bot-7")])
    assert v["kind"] is None  # ^Bot is case-sensitive
    assert v["kindnc"] == "bot"
    v = variables(srv, headers=[("X-Kind", "Bot-7")])
    assert v["kind"] == "bot"
    # "kind" is no header: the variable an earlier rule set is tested
    assert v["chained"] == "yes"


def test_header_name_pattern(srv):
    assert variables(srv, headers=[("X-Trace-Id", "9")])["traced"] == "1"
    assert variables(srv, headers=[("X-Tracer", "9")])["traced"] is None


def test_missing_header_is_the_empty_string(srv):
    assert variables(srv)["missing"] == "empty"
    assert variables(srv, headers=[("X-Missing", "x")])["missing"] is None


def test_browser_match(srv):
    v = variables(srv, headers=[("User-Agent", "TestAgent/42 (x)")])
    assert v["agent"] == "v42"
    assert v["nc_agent"] == "1"
    v = variables(srv, headers=[("User-Agent", "testagent/1")])
    assert v["agent"] is None
    assert v["nc_agent"] == "1"


def test_unset_and_location_order(srv):
    assert variables(srv)["gone"] == "1"
    assert variables(srv, headers=[("X-Drop", "1")])["gone"] is None
    assert variables(srv)["stage"] == "server"
    # the <Location>'s rules run after the server's
    assert variables(srv, "/loc/x")["stage"] == "loc"


# --------------------------------------------------- users of variables

def test_env_conditions_on_request_and_response(relais, backend):
    port = start(relais, r"""
SetEnvIf X-Client-Kind ^bot is_bot
RequestHeader set X-Bot yes env=is_bot
RequestHeader set X-Human yes env=!is_bot
Header set X-Was-Bot yes env=is_bot
Header set X-Was-Human yes env=!is_bot
ProxyPass / %s/
""" % backend.url)
    r = get(port, "/a", headers=[("X-Client-Kind", "botnet")])
    assert r.status == 200
    q = backend.last()
    assert (q.header("X-Bot"), q.header("X-Human")) == ("yes", None)
    assert (r.header("X-Was-Bot"), r.header("X-Was-Human")) == ("yes", None)
    r = get(port, "/a")
    q = backend.last()
    assert (q.header("X-Bot"), q.header("X-Human")) == (None, "yes")
    assert (r.header("X-Was-Bot"), r.header("X-Was-Human")) == (None, "yes")


def test_customlog_env_and_notes(relais):
    """SetEnvIf ... dontlog keeps a request out of CustomLog env=!dontlog;
    Header note / RequestHeader note put a header where %{name}n finds
    it."""
    port = start(relais, r"""
SetHandler echo
SetEnvIf Request_URI ^/health$ dontlog
Header set X-Answer hello
Header note X-Answer answer
RequestHeader note X-Client client
CustomLog logs/access_log "%U %{answer}n %{client}n" env=!dontlog
""", log=True)
    for path in ("/page", "/health", "/last"):
        assert get(port, path, headers=[("X-Client", "c1")]).status == 200
    path = relais.root + "/logs/access_log"
    assert wait_for(lambda: "/last" in read(path))
    assert read(path).splitlines() == ["/page hello c1", "/last hello c1"]
