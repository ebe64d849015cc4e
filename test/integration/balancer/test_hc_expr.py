"""mod_healthcheck's expressions and templates (httpd's ProxyHCExpr and
ProxyHCTemplate, hcexpr= and hctemplate=): a member whose answer makes its
expression false is taken out of service, and comes back when it is true
again; a template gives its keys to the members that name it, and keys
after hctemplate= on the member line override them.  Python backends on
127.0.0.1 answer the checks; the watchdog's log lines say what happened."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import Backend  # noqa: E402

from conftest import free_port, mpm_lines  # noqa: E402
from helpers_balancer import balancer_conf, served_by  # noqa: E402

HEAD = """LoadModule proxy_module modules/mod_proxy.so
LoadModule balancer_module modules/mod_balancer.so
LoadModule healthcheck_module modules/mod_healthcheck.so
ErrorLog logs/error_log
LogLevel info
"""


def conf(front, declarations, members):
    """The front on `front`, the ProxyHC* lines, then a balancer of
    [(backend, keys)]."""
    return balancer_conf(front, "\n".join(
        "    BalancerMember %s %s" % (b.url, keys) for b, keys in members),
        extra=declarations)


def wait_log(relais, pattern, timeout=8.0):
    """The first error_log line matching the regular expression, or None."""
    end = time.time() + timeout
    rx = re.compile(pattern)
    while time.time() < end:
        for line in relais.error_log().splitlines():
            if rx.search(line):
                return line
        time.sleep(0.05)
    return None


def failed_line(b):
    return r"member %s failed its health check" % re.escape(b.url)


def back_line(b):
    return r"member %s passed its health check .* back in service" % \
        re.escape(b.url)


def checks_of(b, path, wait=2.0):
    """The checks `b` received on `path`.  Members are checked
    independently, so another member's log line does not mean this one
    has been checked yet: wait up to `wait` seconds for a first one."""
    end = time.time() + wait
    while True:
        qs = [q for q in b.requests if q.target == path.encode()]
        if qs or time.time() >= end:
            return qs
        time.sleep(0.05)


def test_status_range_expression(relais):
    b1, b2 = Backend(), Backend()
    try:
        b1.on("/health", status=302, reason="Found",
              headers=[("Location", "/elsewhere")])
        b2.on("/health", status=404, reason="Not Found")
        front = free_port()
        keys = "hcmethod=GET hcuri=/health hcinterval=200ms hcexpr=ok23"
        relais.write_conf(conf(
            front, "ProxyHCExpr ok23 {%{REQUEST_STATUS} =~ /^[23]/}\n",
            [(b1, keys), (b2, keys)]))
        relais.start(front)
        line = wait_log(relais, failed_line(b2))
        assert line is not None, relais.error_log()
        assert "status 404, expression ok23 is false" in line
        assert served_by(front, [b1, b2], 20) == [20, 0]
        assert wait_log(relais, failed_line(b1), timeout=0.5) is None
        # the checks were GETs of hcuri, named and addressed as they should
        q = checks_of(b1, "/health")[0]
        assert q.method == "GET"
        assert q.header("User-Agent") == "Relais-healthcheck"
        assert q.header("Host") == "127.0.0.1:%d" % b1.port
    finally:
        b1.stop()
        b2.stop()


def test_body_regex_takes_out_and_brings_back(relais):
    b1, b2 = Backend(), Backend()
    try:
        b1.on("/health", body=b"all good\n")
        b2.on("/health", body=b"<h1>Under maintenance</h1>\n")
        front = free_port()
        keys = ("hcmethod=GET hcuri=/health hcinterval=200ms hcfails=1 "
                "hcpasses=1 hcexpr=in_maint")
        relais.write_conf(conf(
            front,
            "ProxyHCExpr in_maint {hc('body') !~ /Under maintenance/}\n",
            [(b1, keys), (b2, keys)]))
        relais.start(front)
        line = wait_log(relais, failed_line(b2))
        assert line is not None, relais.error_log()
        assert "status 200, expression in_maint is false" in line
        assert served_by(front, [b1, b2], 20) == [20, 0]
        # a chunked body is read (and decoded) too
        b2.on("/health", body=b"back to normal\n", chunked=True, chunk=5)
        assert wait_log(relais, back_line(b2)) is not None, \
            relais.error_log()
        one, two = served_by(front, [b1, b2], 20)
        assert one > 0 and two > 0
        assert wait_log(relais, failed_line(b1), timeout=0.2) is None
    finally:
        b1.stop()
        b2.stop()


def test_lt_and_combination(relais):
    ready, sick, starting = Backend(), Backend(), Backend()
    try:
        ready.on("/health", body=b"state: ready\n")
        sick.on("/health", status=503, reason="Unavailable",
                body=b"state: ready\n")
        starting.on("/health", body=b"state: starting\n")
        front = free_port()
        keys = "hcmethod=GET hcuri=/health hcinterval=200ms hcexpr=up"
        relais.write_conf(conf(
            front,
            "ProxyHCExpr up {%{REQUEST_STATUS} -lt 400 && "
            "hc('body') =~ /state: ready/}\n",
            [(ready, keys), (sick, keys), (starting, keys)]))
        relais.start(front)
        assert wait_log(relais, failed_line(sick)) is not None
        assert wait_log(relais, failed_line(starting)) is not None
        assert served_by(front, [ready, sick, starting], 12) == [12, 0, 0]
        starting.on("/health", body=b"state: ready\n")
        assert wait_log(relais, back_line(starting)) is not None
        assert wait_log(relais, back_line(sick), timeout=0.5) is None
        assert wait_log(relais, failed_line(ready), timeout=0.1) is None
    finally:
        ready.stop()
        sick.stop()
        starting.stop()


def test_template_applied_to_two_members(relais):
    b1, b2 = Backend(), Backend()
    try:
        b2.on("/status", status=500, reason="Broken")
        front = free_port()
        relais.write_conf(conf(
            front,
            "ProxyHCExpr ok23 {%{REQUEST_STATUS} =~ /^[23]/}\n"
            "ProxyHCTemplate web hcmethod=HEAD hcuri=/status "
            "hcinterval=200ms hcfails=2 hcexpr=ok23\n",
            [(b1, "hctemplate=web"), (b2, "hctemplate=web")]))
        relais.start(front)
        line = wait_log(relais, failed_line(b2))
        assert line is not None, relais.error_log()
        assert "health check 2 time(s) (status 500, expression ok23" in line
        # both members were checked the template's way
        for b in (b1, b2):
            qs = checks_of(b, "/status")
            assert qs and all(q.method == "HEAD" for q in qs)
        assert served_by(front, [b1, b2], 10) == [10, 0]
    finally:
        b1.stop()
        b2.stop()


def test_template_key_overridden_on_the_member_line(relais):
    b1, b2 = Backend(), Backend()
    try:
        # both answer 200 on /health and 503 on /alt
        for b in (b1, b2):
            b.on("/alt", status=503, reason="Unavailable")
        front = free_port()
        relais.write_conf(conf(
            front,
            "ProxyHCTemplate t hcmethod=GET hcuri=/health hcinterval=200ms\n",
            # after hctemplate=: overrides it; before: the template wins
            # (httpd applies the whole template where hctemplate= stands)
            [(b1, "hctemplate=t hcuri=/alt"),
             (b2, "hcuri=/alt hctemplate=t")]))
        relais.start(front)
        line = wait_log(relais, failed_line(b1))
        assert line is not None, relais.error_log()
        assert "status 503" in line
        assert checks_of(b1, "/alt") and not checks_of(b1, "/health", 0)
        assert checks_of(b2, "/health") and not checks_of(b2, "/alt", 0)
        assert wait_log(relais, failed_line(b2), timeout=0.5) is None
        assert served_by(front, [b1, b2], 10) == [0, 10]
    finally:
        b1.stop()
        b2.stop()


def test_expression_and_template_config_errors(relais):
    front = free_port()
    relais.write_conf(mpm_lines("event") + HEAD + """
Listen 127.0.0.1:%d
ProxyHCExpr ok234 {%%{REQUEST_STATUS} =~ /^[234]/}
ProxyHCExpr gdown {%%{REQUEST_STATUS} =~ /^[5]/}
ProxyHCExpr broken {%%{REQUEST_STATUS} 200}
ProxyHCExpr badre {hc('body') =~ /[oops/}
ProxyHCExpr ok234 {true}
ProxyHCTemplate tpl hcmethod=GET hcexpr=gdown
ProxyHCTemplate badtpl hcmethod=GET timeout=5
<Proxy "balancer://app">
    BalancerMember http://127.0.0.1:1 hcmethod=GET hcexpr=nosuch
    BalancerMember http://127.0.0.1:2 hctemplate=nosuch
    BalancerMember http://127.0.0.1:3 hctemplate=tpl hcexpr=later
</Proxy>
ProxyHCExpr later {true}
""" % front)
    res = relais.run("-t")
    assert res.returncode == 1, res.stderr
    err = res.stderr
    # the position counts from the first character inside the braces
    assert re.search(r":11: ProxyHCExpr: broken: at character 19: expected "
                     r"an operator .* found '200'", err), err
    assert re.search(r":12: ProxyHCExpr: badre: at character 15: bad regular "
                     r"expression", err), err
    assert re.search(r":13: ProxyHCExpr: ok234 is already defined at "
                     r".*:9\n", err), err
    assert re.search(r":15: ProxyHCTemplate: badtpl: 'timeout=5' is not a "
                     r"health-check key", err), err
    assert re.search(r":17: BalancerMember: hcexpr=nosuch: no ProxyHCExpr "
                     r"named 'nosuch' above this line \(known: ok234, "
                     r"gdown\)", err), err
    assert re.search(r":18: BalancerMember: hctemplate=nosuch: no "
                     r"ProxyHCTemplate named 'nosuch' above this line "
                     r"\(known: tpl\)", err), err
    # declared below its first use: an error, as in httpd
    assert re.search(r":19: BalancerMember: hcexpr=later: no ProxyHCExpr "
                     r"named 'later' above this line", err), err
    assert "8 errors" not in err and "7 errors in the configuration" in err


def test_quoted_words_may_touch_the_braces(relais):
    """httpd's own examples put a quoted word against the closing brace:
    ProxyHCExpr reads its raw line, so they load as written."""
    front = free_port()
    relais.write_conf(mpm_lines("event") + """
LoadModule proxy_module modules/mod_proxy.so
LoadModule balancer_module modules/mod_balancer.so
LoadModule healthcheck_module modules/mod_healthcheck.so
Listen 127.0.0.1:%d
ProxyHCExpr ok200 {hc('status') == '200'}
ProxyHCExpr okset {%%{REQUEST_STATUS} -in {'200','204'}}
<Proxy "balancer://app">
    BalancerMember http://127.0.0.1:1 hcmethod=GET hcexpr=ok200
    BalancerMember http://127.0.0.1:2 hcmethod=GET hcexpr=okset
</Proxy>
""" % front)
    r = relais.run("-t")
    assert r.returncode == 0, r.stderr
    # other directives still refuse such a line, naming it
    relais.write_conf(mpm_lines("event") + 'ServerName "a"b\n')
    r = relais.run("-t")
    assert r.returncode != 0
    assert "ServerName: a quoted argument must be followed by a space" \
        in r.stderr
