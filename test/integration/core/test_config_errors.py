"""relaisd -t: "Syntax OK" on a good configuration; on a bad one exit 1
with "FILE:LINE: Directive: what was expected" for each error and a final
"N errors" line.  Then the features of the httpd syntax that a good
configuration relies on (Include, Define, <IfDefine>, <IfModule>,
continuation lines, quoting, comments), each checked by its effect
(relaisd -S, -t -D DUMP_PIDFILE, or a served response).

Every configuration is written inline; the line numbers asserted are the
lines of that text (see conf_lines()).
"""
import json
import os
import urllib.request

from conftest import free_port, mpm_lines

ECHO = "LoadModule echo_module modules/mod_echo.so\n"


def header(mpm="event", echo=True, port=None):
    """The first lines of every configuration here: an MPM, mod_echo and a
    Listen on a free port.  3 lines with echo, 2 without."""
    port = port or free_port()
    return (mpm_lines(mpm) + (ECHO if echo else "") +
            "Listen 127.0.0.1:%d\n" % port)


def line_of(text, needle, nth=1):
    """1-based number of the nth line of text containing needle."""
    seen = 0
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == nth:
                return i
    raise AssertionError("%r not in configuration" % needle)


def check(relais, text, *args, name="relais.conf"):
    """Writes text as the configuration and runs relaisd -t; returns
    (CompletedProcess, path of the file)."""
    path = relais.write_conf(text, name)
    return relais.run("-t", *args, conf=path), path


def assert_error(res, path, line, directive, *fragments, count=1):
    """relaisd refused the configuration with `path:line: directive:` and
    every fragment on that same line of stderr, then 'count errors'."""
    assert res.returncode == 1, res.stderr
    assert "Syntax OK" not in res.stderr
    prefix = "%s:%d: %s:" % (path, line, directive)
    lines = [l for l in res.stderr.splitlines() if prefix in l]
    assert lines, "no line with %r in:\n%s" % (prefix, res.stderr)
    for frag in fragments:
        assert frag in lines[0], "%r not in %r" % (frag, lines[0])
    final = "%d error%s in the configuration" % (count, "" if count == 1
                                                 else "s")
    assert final in res.stderr.splitlines()[-1], res.stderr


# ------------------------------------------------------------- good config

def test_good_configuration_says_syntax_ok(relais):
    text = header() + """
ErrorLog logs/error_log
PidFile logs/relaisd.pid
LogLevel warn echo:debug
KeepAlive On
Timeout 30
<VirtualHost 127.0.0.1:*>
    ServerName a.example
    ServerAlias *.a.example
    <Location /x>
        SetHandler echo
        EchoStatus 201
    </Location>
</VirtualHost>
"""
    res, _ = check(relais, text)
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip().splitlines()[-1] == "Syntax OK"
    assert "error" not in res.stderr.lower()


# ---------------------------------------------------------------- errors

def test_unknown_directive_suggests_the_near_one(relais):
    text = header() + "KeepAlve On\n"
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, "KeepAlve"), "KeepAlve",
                 "unknown directive", "did you mean 'KeepAlive'?")


def test_unknown_directive_without_near_match(relais):
    text = header() + "FrobnicateTheWidgets 3\n"
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, "Frobnicate"),
                 "FrobnicateTheWidgets", "unknown directive")
    assert "did you mean" not in res.stderr


def test_directive_of_a_module_not_loaded_names_the_module(relais):
    text = header() + "ProxyPass / http://127.0.0.1:9/\n"
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, "ProxyPass"), "ProxyPass",
                 "module 'proxy'", "not loaded",
                 "LoadModule proxy_module modules/mod_proxy.so")


def test_wrong_argument_count(relais):
    text = header() + "KeepAlive\n"
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, "KeepAlive"), "KeepAlive",
                 "expected 1 argument, got 0", "usage: KeepAlive On|Off")


def test_https_listener_without_mod_ssl_names_the_line(relais):
    """Serving plain HTTP where clients expect TLS would be worse than not
    starting: the Listen line is named with the LoadModule to add."""
    text = header() + "Listen 127.0.0.1:%d https\n" % free_port()
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, " https"), "Listen",
                 "needs mod_ssl", "LoadModule ssl_module")


def test_listen_with_an_unknown_protocol(relais):
    text = header() + "Listen 127.0.0.1:%d spdy\n" % free_port()
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, "spdy"), "Listen",
                 "unknown protocol 'spdy'", "http, https, tcp or udp")


def test_too_many_arguments(relais):
    text = header() + "Listen 1 2 3\n"
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, "Listen 1 2 3"), "Listen",
                 "expected 1 to 2 arguments, got 3", "usage: Listen")


def test_bad_flag_value(relais):
    text = header() + "KeepAlive maybe\n"
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, "maybe"), "KeepAlive",
                 "On or Off", "'maybe'")


def test_bad_duration_value(relais):
    text = header() + "Timeout abc\n"
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, "Timeout"), "Timeout",
                 "expected a duration", "'abc'")


def test_request_read_timeout_out_of_range(relais):
    # found by fuzz_config: 9223372036854775807 seconds overflowed into
    # undefined behaviour when turned into microseconds
    for value in ("header=9223372036854775807", "body=86401",
                  "header=20-9223372036854775807,MinRate=500"):
        text = header() + "RequestReadTimeout %s\n" % value
        res, path = check(relais, text)
        assert_error(res, path, line_of(text, "RequestReadTimeout"),
                     "RequestReadTimeout")


def test_directive_in_the_wrong_context(relais):
    text = header() + """<VirtualHost *:*>
    ServerName a.example
    Listen 127.0.0.1:9
</VirtualHost>
"""
    res, path = check(relais, text)
    # The message says where it is and where it would be allowed: Listen
    # belongs to the server config only.
    assert_error(res, path, line_of(text, "Listen 127.0.0.1:9"), "Listen",
                 "not allowed in <VirtualHost>",
                 "(allowed in: server config)")


def test_unclosed_section(relais):
    text = header() + """<VirtualHost *:*>
    ServerName a.example
KeepAlive On
"""
    res, path = check(relais, text)
    assert res.returncode == 1
    # reported at the line that opened it, naming what is missing
    opened = "%s:%d:" % (path, line_of(text, "<VirtualHost"))
    errs = [l for l in res.stderr.splitlines() if opened in l]
    assert errs, res.stderr
    assert "never closed" in errs[0] and "</VirtualHost>" in errs[0]
    assert "1 error in the configuration" in res.stderr


def test_mismatched_closing_tag(relais):
    text = header() + """<VirtualHost *:*>
    ServerName a.example
    <Location /a>
        SetHandler echo
    </VirtualHost>
</Location>
"""
    res, path = check(relais, text)
    assert res.returncode == 1
    at = "%s:%d:" % (path, line_of(text, "</VirtualHost>"))
    errs = [l for l in res.stderr.splitlines() if at in l]
    assert errs, res.stderr
    # what was expected, what was seen, and where the section opened
    assert "expected </Location>" in errs[0]
    assert "</VirtualHost>" in errs[0]
    assert "line %d" % line_of(text, "<Location") in errs[0]


def test_closing_tag_without_opening(relais):
    text = header() + "KeepAlive On\n</VirtualHost>\n"
    res, path = check(relais, text)
    assert res.returncode == 1
    at = "%s:%d:" % (path, line_of(text, "</VirtualHost>"))
    errs = [l for l in res.stderr.splitlines() if at in l]
    assert errs and "without a matching opening" in errs[0], res.stderr


def test_error_inside_an_included_file(relais):
    inc = "# settings\n\nKeepAlive On\nTimeout soon\n"
    inc_path = relais.write_conf(inc, "extra.conf")
    text = header() + "Include extra.conf\nKeepAlive Off\n"
    res, path = check(relais, text)
    # the included file's own path and line, not the Include line
    assert_error(res, inc_path, 4, "Timeout", "'soon'")
    assert "%s:" % path not in res.stderr.replace(inc_path, "")


def test_several_errors_reported_in_one_run(relais):
    text = header() + """KeepAlve On
Timeout abc
<VirtualHost *:*>
    ServerName a.example
    Listen 9
</VirtualHost>
EchoStatus 99
"""
    res, path = check(relais, text)
    assert res.returncode == 1
    for needle, directive in (("KeepAlve", "KeepAlve"),
                              ("Timeout", "Timeout"),
                              ("Listen 9", "Listen"),
                              ("EchoStatus", "EchoStatus")):
        prefix = "%s:%d: %s:" % (path, line_of(text, needle), directive)
        assert prefix in res.stderr, (prefix, res.stderr)
    assert res.stderr.splitlines()[-1].endswith(
        "4 errors in the configuration; nothing was changed")


def test_undefined_variable(relais):
    text = header() + "Listen ${RELAIS_TEST_UNDEFINED_VAR}\n"
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, "${RELAIS"), "Listen",
                 "${RELAIS_TEST_UNDEFINED_VAR}", "not defined")


def test_no_mpm_loaded(relais):
    text = ECHO + "Listen 127.0.0.1:%d\n" % free_port()
    res, path = check(relais, text)
    assert res.returncode == 1
    assert "no MPM loaded" in res.stderr
    assert path in res.stderr
    for mpm in ("event", "worker", "prefork"):
        assert "LoadModule mpm_%s_module modules/mod_mpm_%s.so" % (
            mpm, mpm) in res.stderr


def test_two_mpms_loaded(relais):
    text = header("event") + mpm_lines("worker")
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, "mpm_worker"), "LoadModule",
                 "mod_mpm_worker.so", "MPM 'mpm_event' is already loaded",
                 "exactly one")


def test_rewrite_engine_is_refused_with_alternatives(relais):
    text = header() + "RewriteEngine On\n"
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, "RewriteEngine"), "RewriteEngine",
                 "not", "ProxyPassMatch", "RedirectMatch")


def test_document_root_is_refused(relais):
    text = header() + "DocumentRoot /var/www/html\n"
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, "DocumentRoot"), "DocumentRoot",
                 "not supported", "ProxyPass")


def test_loadmodule_of_an_httpd_module_relais_lacks(relais):
    text = header() + "LoadModule rewrite_module modules/mod_rewrite.so\n"
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, "rewrite_module"), "LoadModule",
                 "'rewrite_module'", "httpd module",
                 "Relais does not provide")


def test_loadmodule_of_an_httpd_module_names_the_relais_one(relais):
    text = header() + (
        "LoadModule proxy_http_module modules/mod_proxy_http.so\n")
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, "proxy_http_module"), "LoadModule",
                 "'proxy_http_module'", "module 'proxy'",
                 "LoadModule proxy_module modules/mod_proxy.so")


def test_include_of_a_missing_file_is_an_error(relais):
    text = header() + "Include conf.d/missing.conf\n"
    res, path = check(relais, text)
    missing = os.path.join(relais.root, "conf.d/missing.conf")
    assert_error(res, path, line_of(text, "Include"), "Include",
                 "'%s'" % missing, "does not exist")


def test_include_glob_matching_nothing_is_an_error(relais):
    os.makedirs(os.path.join(relais.root, "conf.d"))
    text = header() + "Include conf.d/*.conf\n"
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, "Include"), "Include",
                 "no file matches", "IncludeOptional")


# --------------------------------------------------- good-config features

def dump(relais, text, *args):
    """relaisd -S on text; returns stdout (asserting success)."""
    path = relais.write_conf(text)
    res = relais.run("-S", *args, conf=path)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_include_glob_reads_files_in_name_order(relais):
    d = os.path.join(relais.root, "conf.d")
    os.makedirs(d)
    # written out of order, so that directory order is not name order
    for name, letter in (("30-c.conf", "c"), ("10-a.conf", "a"),
                         ("20-b.conf", "b")):
        with open(os.path.join(d, name), "w") as f:
            f.write("Define ORDER ${ORDER}%s\n" % letter)
    with open(os.path.join(d, "ignored.txt"), "w") as f:
        f.write("this is not a directive\n")
    out = dump(relais, header() + "Define ORDER x\nInclude conf.d/*.conf\n")
    assert "Define: ORDER=xabc" in out.splitlines()


def test_includeoptional_of_nothing_is_fine(relais):
    os.makedirs(os.path.join(relais.root, "empty.d"))
    text = header() + ("IncludeOptional empty.d/*.conf\n"
                       "IncludeOptional no-such-dir/*.conf\n"
                       "IncludeOptional no-such-file.conf\n")
    res, _ = check(relais, text)
    assert res.returncode == 0, res.stderr
    assert "Syntax OK" in res.stderr


def test_define_substitutes_variables_in_a_served_config(relais):
    port = free_port()
    relais.write_conf(mpm_lines("event") + ECHO + """
Define PORT %d
Define WHO "backend one"
Listen 127.0.0.1:${PORT}
ErrorLog logs/error_log
SetHandler echo
EchoName "${WHO} on ${PORT}"
""" % port)
    relais.start(port)
    with urllib.request.urlopen("http://127.0.0.1:%d/" % port) as resp:
        body = json.loads(resp.read())
    assert body["name"] == "backend one on %d" % port


def test_define_shows_in_dump(relais):
    out = dump(relais, header() + "Define FLAG\nDefine COLOR blue\n")
    lines = out.splitlines()
    assert "Define: FLAG" in lines
    assert "Define: COLOR=blue" in lines


def ifdefine_conf():
    return header() + """<IfDefine SPECIAL>
    PidFile logs/special.pid
</IfDefine>
<IfDefine !SPECIAL>
    PidFile logs/plain.pid
</IfDefine>
"""


def test_ifdefine_with_command_line_define(relais):
    path = relais.write_conf(ifdefine_conf())
    res = relais.run("-t", "-D", "DUMP_PIDFILE", "-D", "SPECIAL", conf=path)
    assert res.returncode == 0, res.stderr
    assert "PidFile: %s/logs/special.pid" % relais.root in res.stdout


def test_ifdefine_negated_without_define(relais):
    path = relais.write_conf(ifdefine_conf())
    res = relais.run("-t", "-D", "DUMP_PIDFILE", conf=path)
    assert res.returncode == 0, res.stderr
    assert "PidFile: %s/logs/plain.pid" % relais.root in res.stdout


def vhost_aliases(out):
    return [l.split()[1] for l in out.splitlines()
            if l.strip().startswith("alias ")]


def test_ifmodule_accepts_module_and_file_names(relais):
    out = dump(relais, header() + """<VirtualHost *:*>
    ServerName a.example
    <IfModule echo_module>
        ServerAlias by-symbol.example
    </IfModule>
    <IfModule mod_echo.c>
        ServerAlias by-file.example
    </IfModule>
    <IfModule echo>
        ServerAlias by-name.example
    </IfModule>
    <IfModule !echo_module>
        ServerAlias negated.example
    </IfModule>
</VirtualHost>
""")
    assert vhost_aliases(out) == ["by-symbol.example", "by-file.example",
                                  "by-name.example"]


def test_ifmodule_negated_when_module_absent(relais):
    out = dump(relais, header(echo=False) + """<VirtualHost *:*>
    ServerName a.example
    <IfModule echo_module>
        EchoName never
    </IfModule>
    <IfModule !echo_module>
        ServerAlias no-echo.example
    </IfModule>
</VirtualHost>
""")
    assert vhost_aliases(out) == ["no-echo.example"]


def test_ifmodule_httpd_names_skip_body_when_not_loaded(relais):
    # an httpd configuration's TLS and balancer blocks: skipped (their
    # directives would be errors), the negated ones taken
    out = dump(relais, header() + """<VirtualHost *:*>
    ServerName a.example
    <IfModule mod_ssl.c>
        SSLEngine on
        SSLCertificateFile /nonexistent.pem
    </IfModule>
    <IfModule ssl_module>
        NoSuchDirectiveAnywhere
    </IfModule>
    <IfModule mod_proxy_balancer.c>
        ProxySet lbmethod=byrequests
    </IfModule>
    <IfModule !mod_ssl.c>
        ServerAlias no-ssl.example
    </IfModule>
</VirtualHost>
""")
    assert vhost_aliases(out) == ["no-ssl.example"]


def test_define_inside_a_false_ifmodule_has_no_effect(relais):
    # httpd skips the whole body of a false <IfModule>, Define included
    out = dump(relais, header() + """<IfModule mod_ssl.c>
    Define TLS_PORT 443
</IfModule>
<IfModule !echo_module>
    Define NO_ECHO 1
</IfModule>
""")
    assert "TLS_PORT" not in out
    assert "NO_ECHO" not in out


def test_continuation_lines(relais):
    text = header() + """<VirtualHost *:*>
    ServerName a.example
    ServerAlias one.example \\
                two.example \\
        three.example
</VirtualHost>
KeepAlve On
"""
    # the logical line counts as one directive; lines after it keep their
    # physical numbers
    res, path = check(relais, text)
    assert_error(res, path, line_of(text, "KeepAlve"), "KeepAlve")
    out = dump(relais, text.replace("KeepAlve On\n", ""))
    assert vhost_aliases(out) == ["one.example", "two.example",
                                  "three.example"]


def test_quoted_arguments_with_spaces(relais):
    port = free_port()
    relais.write_conf(mpm_lines("event") + ECHO + """
Listen 127.0.0.1:%d
ErrorLog logs/error_log
SetHandler echo
EchoName "two  spaces and a \\"quote\\""
EchoHeader X-Single 'single quoted value'
EchoHeader "X-Double" "a  b"
""" % port)
    relais.start(port)
    with urllib.request.urlopen("http://127.0.0.1:%d/" % port) as resp:
        body = json.loads(resp.read())
        assert resp.headers["X-Single"] == "single quoted value"
        assert resp.headers["X-Double"] == "a  b"
    assert body["name"] == 'two  spaces and a "quote"'


def test_comments_and_blank_lines(relais):
    text = header() + """
# a comment line
    # an indented comment: KeepAlve On

   \t
KeepAlve On
"""
    res, path = check(relais, text)
    # only the real line is an error, at its own line number
    assert_error(res, path, line_of(text, "KeepAlve", nth=2), "KeepAlve")
    ok, _ = check(relais, text.replace("KeepAlve On\n", "KeepAlive On\n"))
    assert ok.returncode == 0, ok.stderr
