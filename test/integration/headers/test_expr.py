"""expr= conditions (include/rl_expr.h): evaluated per request, when the
action runs; an expression that cannot be evaluated skips the action and
says so in the error log with the directive's file:line."""
from helpers_headers import conf, free_port, get, line_of

CONF = r"""
RequestHeader set X-Debug-Seen yes "expr=%{HTTP:X-Debug} == 'on'"
Header set X-Api yes "expr=%{REQUEST_URI} =~ m#^/api/#"
Header set X-From-B yes "expr=resp('X-B') == 'one'"
Header always set X-Server-Error yes "expr=%{REQUEST_STATUS} -ge 500"
Header set X-Number big "expr=%{HTTP:X-N} -gt 5"
Header set X-No-Cache-Control yes "expr=-z resp('Cache-Control')"
ProxyPass / @BACKEND@/
"""


def start_expr(relais, backend):
    backend.on("/b", headers=[("X-B", "one")])
    backend.on("/boom", status=503, body=b"down\n")
    backend.on("/cc", headers=[("Cache-Control", "no-store")])
    port = free_port()
    text = conf(port, CONF.replace("@BACKEND@", backend.url))
    relais.write_conf(text)
    relais.start(port)
    return port, text


def test_conditions_on_request_and_response(relais, backend):
    port, _ = start_expr(relais, backend)
    r = get(port, "/api/v1", headers=[("X-Debug", "on")])
    assert r.status == 200
    assert backend.last().header("X-Debug-Seen") == "yes"
    assert r.header("X-Api") == "yes"
    assert r.header("X-From-B") is None
    assert r.header("X-Server-Error") is None
    r = get(port, "/b", headers=[("X-Debug", "off")])
    assert backend.last().header("X-Debug-Seen") is None
    assert r.header("X-Api") is None
    assert r.header("X-From-B") == "yes"
    assert r.header("X-No-Cache-Control") == "yes"
    r = get(port, "/cc")
    assert r.header("Cache-Control") == "no-store"
    assert r.header("X-No-Cache-Control") is None
    r = get(port, "/boom")
    assert r.status == 503
    assert r.header("X-Server-Error") == "yes"


def test_evaluation_error_skips_the_action_and_logs_where(relais, backend):
    port, text = start_expr(relais, backend)
    assert get(port, "/n", headers=[("X-N", "7")]).header("X-Number") == "big"
    r = get(port, "/n", headers=[("X-N", "seven")])
    assert r.status == 200
    assert r.header("X-Number") is None
    where = "relais.conf:%d" % line_of(text, "X-Number")
    logged = [l for l in relais.error_log().splitlines()
              if "[headers:error]" in l and where in l]
    assert logged, relais.error_log()
    assert "the action is skipped" in logged[0]
