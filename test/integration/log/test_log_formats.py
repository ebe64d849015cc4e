"""mod_log's formats against a real relaisd: common, combined and json
lines parsed back and checked field by field against what the client sent
and received; the rest of the format language; escaping of what a client
sends (no forged or split lines); conditional logs; per-vhost logs;
TransferLog and nicknames; configuration errors."""
import datetime
import json
import os
import re
import socket
import time

import pytest

from conftest import free_port, raw_request, status_of
from log_helpers import (COMBINED_RE, COMMON_RE, assert_recent, base_conf,
                         get, log_path, parse_clf_time, read_lines, start)


def test_common_fields(relais):
    port = start(relais, "CustomLog logs/access_log common\n")
    status, headers, body = get(port, "/a/b?x=1&y=2")
    assert status == 200
    status, _, body404 = get(port, "/missing?status=404")
    assert status == 404
    lines = read_lines(log_path(relais, "access_log"), 2)
    assert len(lines) == 2
    m = COMMON_RE.match(lines[0])
    assert m, lines[0]
    host, ident, user, when, request, st, size = m.groups()
    assert host == "127.0.0.1"
    assert ident == "-" and user == "-"
    assert_recent(parse_clf_time(when))
    assert request == "GET /a/b?x=1&y=2 HTTP/1.1"
    assert st == "200"
    assert int(size) == int(headers["Content-Length"]) == len(body)
    m = COMMON_RE.match(lines[1])
    assert m, lines[1]
    assert m.group(5) == "GET /missing?status=404 HTTP/1.1"
    assert m.group(6) == "404"
    assert int(m.group(7)) == len(body404)


def test_head_logs_no_body_bytes(relais):
    port = start(relais, 'LogFormat "%m %>s %b %B %{Content-Length}o" h\n'
                 "CustomLog logs/h h\n")
    status, headers, body = get(port, "/x", method="HEAD")
    assert status == 200 and body == b""
    # nothing of the body went out; the declared length is still there
    assert read_lines(log_path(relais, "h"), 1) == [
        "HEAD 200 - 0 %s" % headers["Content-Length"]]


def test_combined_fields(relais):
    port = start(relais, "CustomLog logs/access_log combined\n")
    status, headers, body = get(port, "/page", {
        "Referer": "http://example.test/from?q=1",
        "User-Agent": "TestAgent/1.0 (combined)"})
    assert status == 200
    get(port, "/no-referer", {"User-Agent": "Other"})
    lines = read_lines(log_path(relais, "access_log"), 2)
    m = COMBINED_RE.match(lines[0])
    assert m, lines[0]
    (host, ident, user, when, request, st, size, referer,
     agent) = m.groups()
    assert host == "127.0.0.1"
    assert request == "GET /page HTTP/1.1"
    assert st == "200"
    assert int(size) == int(headers["Content-Length"])
    assert referer == "http://example.test/from?q=1"
    assert agent == "TestAgent/1.0 (combined)"
    m = COMBINED_RE.match(lines[1])
    assert m, lines[1]
    assert m.group(8) == "-"  # no Referer: "-", as httpd
    assert m.group(9) == "Other"


def test_json_fields_exact_byte_counts(relais):
    port = start(relais, "CustomLog logs/access.json json\n")
    req = (b"GET /j/k?a=1 HTTP/1.1\r\nHost: json.test\r\n"
           b"Referer: http://r.test/\r\nUser-Agent: JsonAgent\r\n"
           b"Connection: close\r\n\r\n")
    before = time.time()
    resp = raw_request(port, req)
    assert status_of(resp) == 200
    head, body = resp.split(b"\r\n\r\n", 1)
    line = read_lines(log_path(relais, "access.json"), 1)[0]
    rec = json.loads(line)
    t = datetime.datetime.fromisoformat(rec["time"])
    assert t.tzinfo is not None
    assert abs(t.timestamp() - before) < 5
    assert rec["client"] == "127.0.0.1"
    assert rec["vhost"] == "main.test"
    assert rec["method"] == "GET"
    assert rec["uri"] == "/j/k"
    assert rec["query"] == "a=1"
    assert rec["protocol"] == "HTTP/1.1"
    assert rec["status"] == 200
    assert rec["bytes_sent"] == len(body)
    assert rec["bytes_in"] == len(req)
    assert rec["bytes_out"] == len(resp)
    assert 0 <= rec["duration_us"] < 5000000
    assert rec["referer"] == "http://r.test/"
    assert rec["user_agent"] == "JsonAgent"
    for key in ("member", "backend_connect_us", "backend_response_us",
                "attempts", "cache"):
        assert key not in rec  # only when the proxy / cache set them


def test_json_proxy_and_cache_fields(relais):
    port = start(relais, "CustomLog logs/access.json json\n")
    get(port, "/p", {
        "X-Test-Env": "BALANCER_WORKER_NAME=http://10.0.0.7:8080",
        "X-Test-Note": "proxy-connect-us=1234",
    })
    # apr_table_do gives every X-Test-Note: send several on one request
    conn_req = (b"GET /q HTTP/1.1\r\nHost: x\r\n"
                b"X-Test-Note: proxy-response-us=56789\r\n"
                b"X-Test-Note: proxy-attempts=2\r\n"
                b"X-Test-Note: cache-status=HIT\r\n"
                b"Connection: close\r\n\r\n")
    raw_request(port, conn_req)
    lines = read_lines(log_path(relais, "access.json"), 2)
    a, b = json.loads(lines[0]), json.loads(lines[1])
    assert a["member"] == "http://10.0.0.7:8080"
    assert a["backend_connect_us"] == 1234
    assert "attempts" not in a and "cache" not in a
    assert b["backend_response_us"] == 56789
    assert b["attempts"] == 2
    assert b["cache"] == "HIT"
    assert "member" not in b


def test_json_escaping_never_invalid(relais):
    port = start(relais, "CustomLog logs/access.json json\n"
                 "CustomLog logs/access_log combined\n")
    # a quote, a backslash, a tab, valid UTF-8 and invalid UTF-8 bytes
    ua = b'q"b\\s\tt \xc3\xa9 bad:\xff\xfe trunc:\xe2\x82 end'
    req = (b"GET /e HTTP/1.1\r\nHost: x\r\nUser-Agent: " + ua +
           b"\r\nConnection: close\r\n\r\n")
    assert status_of(raw_request(port, req)) == 200
    line = read_lines(log_path(relais, "access.json"), 1, encoding="utf-8")[0]
    rec = json.loads(line)
    assert rec["user_agent"] == (
        'q"b\\s\tt \u00e9 bad:\u00ff\u00fe trunc:\u00e2\u0082 end')
    # the raw bytes never reach the file: pure ASCII, one line
    with open(log_path(relais, "access.json"), "rb") as f:
        data = f.read()
    assert data.count(b"\n") == 1
    assert b"\xc3\xa9" in data  # valid UTF-8 is kept as is
    assert b"\xff" not in data and b"\xe2\x82 " not in data
    assert b"\\u0009" in data and b"\\u00ff" in data
    # httpd's escaping in the text format
    text = read_lines(log_path(relais, "access_log"), 1)[0]
    m = COMBINED_RE.match(text)
    assert m, text
    assert m.group(9) == ('q\\"b\\\\s\\tt \\xc3\\xa9 bad:\\xff\\xfe '
                          'trunc:\\xe2\\x82 end')


@pytest.mark.parametrize("mpm", ["event", "worker"])
def test_durations_against_delay(relais, mpm):
    port = start(relais, 'LogFormat "%D %T %{ms}T %{us}T %{s}T" times\n'
                 "CustomLog logs/times times\n"
                 "CustomLog logs/access.json json\n", mpm=mpm)
    t0 = time.time()
    status, _, _ = get(port, "/slow?delay=200")
    elapsed = time.time() - t0
    assert status == 200
    d, t, ms, us, s = map(int, read_lines(log_path(relais, "times"),
                                          1)[0].split())
    assert 200000 <= d <= elapsed * 1e6 + 100000
    assert t == s == d // 1000000
    assert ms == us // 1000 and 200 <= ms
    assert 200000 <= us
    rec = json.loads(read_lines(log_path(relais, "access.json"), 1)[0])
    assert 200000 <= rec["duration_us"] <= elapsed * 1e6 + 100000


def test_request_and_response_headers(relais):
    port = start(relais, """
EchoHeader X-Backend echo1
LogFormat "in=%{X-Custom}i ct=%{Content-Type}o xb=%{X-Backend}o cl=%{Content-Length}o none=%{X-None}o" hdrs
CustomLog logs/hdrs hdrs
""")
    status, headers, body = get(port, "/h", {"X-Custom": "hello world"})
    assert status == 200
    line = read_lines(log_path(relais, "hdrs"), 1)[0]
    assert line == ("in=hello world ct=application/json xb=echo1 cl=%d "
                    "none=-" % len(body))
    assert headers["Content-Type"] == "application/json"


def test_status_404_from_core_and_400_from_parser(relais):
    port = start(relais, """
<Location /nohandler>
    SetHandler none
</Location>
LogFormat "%>s %s \\"%r\\" %m %U %b" st
CustomLog logs/st st
""")
    status, _, body = get(port, "/nohandler/x")
    assert status == 404
    resp = raw_request(port, b"GET /bad\x01path HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(resp) == 400
    resp2 = raw_request(port, b"NOT A REQUEST\r\n\r\n")
    assert status_of(resp2) == 400
    lines = read_lines(log_path(relais, "st"), 3)
    assert lines[0] == '404 404 "GET /nohandler/x HTTP/1.1" GET ' \
                       '/nohandler/x %d' % len(body)
    # the parser's rejects are logged too, the request line escaped
    assert lines[1].startswith('400 400 "GET /bad\\x01path HTTP/1.1" - - ')
    assert lines[2].startswith('400 400 "NOT A REQUEST" - - ')
    assert len(lines) == 3


def test_ten_kib_user_agent_whole_on_one_line(relais):
    port = start(relais, "LimitRequestFieldSize 16384\n"
                 "CustomLog logs/access_log combined\n")
    ua = "Mozilla/5.0 " + "".join("%05d-" % i for i in range(1720))
    assert len(ua) > 10 * 1024
    status, _, _ = get(port, "/big", {"User-Agent": ua})
    assert status == 200
    lines = read_lines(log_path(relais, "access_log"), 1)
    assert len(lines) == 1
    m = COMBINED_RE.match(lines[0])
    assert m, lines[0][:200]
    assert m.group(9) == ua


def test_no_log_injection(relais):
    """Whatever a client puts in a header or the URL, one request is one
    line, every line parses, and quotes, backslashes and control bytes
    are escaped."""
    port = start(relais, """
LogFormat "%h \\"%r\\" %>s \\"%{X-Evil}i\\" \\"%U\\" \\"%q\\"" evil
CustomLog logs/evil evil
""")
    sent = 0
    # quotes and backslashes in a header value (allowed by HTTP)
    raw_request(port, b'GET /a HTTP/1.1\r\nHost: x\r\nX-Evil: a" 200 "b\\'
                      b'\r\nConnection: close\r\n\r\n')
    sent += 1
    # an attempt to forge a line: CR LF + a fake line inside a header
    # ends the field there; the "fake line" is then an invalid field (400)
    raw_request(port, b'GET /b HTTP/1.1\r\nHost: x\r\nX-Evil: x\r\n'
                      b'127.0.0.1 "GET /forged HTTP/1.1" 200\r\n\r\n')
    sent += 1
    # control characters and a quote in the request line
    raw_request(port, b'GET /c\x1b[31m"q HTTP/1.1\r\nHost: x\r\n\r\n')
    sent += 1
    # a bare LF in the request line
    raw_request(port, b'GET /d\nforged HTTP/1.1\r\nHost: x\r\n\r\n')
    sent += 1
    # percent-encoded CR LF and quotes in path and query stay as sent
    raw_request(port, b'GET /e%0d%0a%22?q=%22%0a HTTP/1.1\r\nHost: x\r\n'
                      b'Connection: close\r\n\r\n')
    sent += 1
    # a raw quote in the query
    raw_request(port, b'GET /f?a"b HTTP/1.1\r\nHost: x\r\n'
                      b'Connection: close\r\n\r\n')
    sent += 1
    time.sleep(0.3)
    lines = read_lines(log_path(relais, "evil"), sent)
    assert len(lines) == sent, lines
    q = r'"((?:[^"\\]|\\.)*)"'
    line_re = re.compile(r'^(\S+) ' + q + r' (\d{3}) ' + q + ' ' + q + ' ' +
                         q + '$')
    parsed = []
    for line in lines:
        m = line_re.match(line)
        assert m, line
        parsed.append(m.groups())
    assert parsed[0][3] == 'a\\" 200 \\"b\\\\'
    assert parsed[1][2] == "400"
    assert "/forged" not in parsed[1][1]
    assert parsed[2][1].startswith('GET /c\\x1b[31m\\"q')
    assert parsed[3][1] == "GET /d"  # the request line ends at the LF
    assert parsed[4][4] == "/e%0d%0a%22" or parsed[4][4] == "/e%0D%0A%22"
    assert parsed[4][5] == "?q=%22%0a"
    assert parsed[5][1] == 'GET /f?a\\"b HTTP/1.1'
    assert not any(l.startswith("127.0.0.1 \"GET /forged") for l in lines)


def test_env_conditions(relais):
    port = start(relais, """
LogFormat "%U" uri
CustomLog logs/only_keep uri env=keep
CustomLog logs/not_skip uri env=!skip
CustomLog logs/all uri
""")
    get(port, "/plain")
    get(port, "/kept", {"X-Test-Env": "keep=1"})
    get(port, "/skipped", {"X-Test-Env": "skip=yes"})
    get(port, "/both", {"X-Test-Env": "keep=1"})
    get(port, "/last")
    assert read_lines(log_path(relais, "all"), 5) == [
        "/plain", "/kept", "/skipped", "/both", "/last"]
    assert read_lines(log_path(relais, "only_keep"), 2) == ["/kept", "/both"]
    assert read_lines(log_path(relais, "not_skip"), 4) == [
        "/plain", "/kept", "/both", "/last"]


def test_per_vhost_logs(relais):
    """A vhost with CustomLog lines of its own writes only there; one
    without uses the main server's; GlobalLog gets everything."""
    port = free_port()
    start(relais, """
LogFormat "%v %U" vu
CustomLog logs/main_log vu
GlobalLog logs/global_log vu
<VirtualHost 127.0.0.1:{port}>
    ServerName own.test
    CustomLog logs/own_log vu
    CustomLog logs/own_log2 "%v|%U|%>s"
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
    ServerName inherit.test
</VirtualHost>
""".replace("{port}", str(port)), port=port)
    get(port, "/to-own", host="own.test")
    get(port, "/to-inherit", host="inherit.test")
    get(port, "/to-own-2", host="own.test")
    assert read_lines(log_path(relais, "own_log"), 2) == [
        "own.test /to-own", "own.test /to-own-2"]
    assert read_lines(log_path(relais, "own_log2"), 2) == [
        "own.test|/to-own|200", "own.test|/to-own-2|200"]
    assert read_lines(log_path(relais, "main_log"), 1) == [
        "inherit.test /to-inherit"]
    assert read_lines(log_path(relais, "global_log"), 3) == [
        "own.test /to-own", "inherit.test /to-inherit",
        "own.test /to-own-2"]


def test_piped_log(relais):
    out = log_path(relais, "piped.log")
    port = start(relais, 'CustomLog "|cat >> %s" common\n' % out)
    for i in range(5):
        assert get(port, "/piped/%d" % i)[0] == 200
    lines = read_lines(out, 5)
    assert [COMMON_RE.match(l).group(5) for l in lines] == [
        "GET /piped/%d HTTP/1.1" % i for i in range(5)]
    # the program is a child of the parent, and ends with the server
    assert relais.stop() == 0
    end = time.time() + 5
    while time.time() < end:
        ps = os.popen("ps -eo args").read()
        if ("cat >> %s" % out) not in ps:
            break
        time.sleep(0.1)
    assert ("cat >> %s" % out) not in os.popen("ps -eo args").read()


def test_transfer_log_and_nicknames(relais):
    port = free_port()
    start(relais, """
TransferLog logs/transfer_default
CustomLog logs/late_nick later
LogFormat "later:%m %U" later
# the first vhost of an address is its default; it has no logs of its
# own, so it writes to the main server's
<VirtualHost 127.0.0.1:{port}>
    ServerName first.test
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
    ServerName v.test
    LogFormat "vhost-later:%U" later
    LogFormat "default:%U"
    TransferLog logs/v_transfer
    CustomLog logs/v_late later
    CustomLog logs/v_common common
</VirtualHost>
""".replace("{port}", str(port)), port=port)
    get(port, "/m")
    get(port, "/v", host="v.test")
    # no LogFormat without nickname in the main server: common
    line = read_lines(log_path(relais, "transfer_default"), 1)[0]
    assert COMMON_RE.match(line).group(5) == "GET /m HTTP/1.1"
    # a nickname defined after the CustomLog that uses it
    assert read_lines(log_path(relais, "late_nick"), 1) == ["later:GET /m"]
    # the vhost's own nickname and default format win
    assert read_lines(log_path(relais, "v_late"), 1) == ["vhost-later:/v"]
    assert read_lines(log_path(relais, "v_transfer"), 1) == ["default:/v"]
    assert COMMON_RE.match(read_lines(log_path(relais, "v_common"), 1)[0])


def test_format_language(relais):
    """The rest of the directives, on a keep-alive connection of two
    requests."""
    fmt = ("%% a=%a ca=%{c}a A=%A B=%B b=%b f=%f h=%h H=%H k=%k l=%l L=%L "
           "m=%m p=%p lp=%{local}p rp=%{remote}p P=%P tid=%{tid}P "
           "q=[%q] R=%R s=%s fs=%>s u=%u U=%U v=%v V=%V X=%X I=%I O=%O S=%S "
           "sec=%{sec}t ms=%{msec_frac}t us=%{end:usec_frac}t "
           "Y=%{%Y}t c=%{flavour}C n=%{mynote}n e=%{myvar}e "
           "only200=%200{X-A}i not200=%!200{X-A}i multi=%404,200{X-A}i "
           "orig=%<s final=%>s fb=%^FB")
    port = start(relais, 'LogFormat "%s" all\nCustomLog logs/all all\n'
                 % fmt.replace('"', '\\"'))
    req = (b"GET /one?x=1 HTTP/1.1\r\nHost: Some.Host:99\r\n"
           b"Cookie: a=1; flavour=choc; b=2\r\nX-A: yes\r\n"
           b"X-Test-Note: mynote=N1\r\nX-Test-Env: myvar=E1\r\n\r\n"
           b"GET /two?status=404 HTTP/1.1\r\nHost: h2\r\nX-A: yes\r\n"
           b"Connection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        local_port = s.getsockname()[1]
        s.sendall(req)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    first, second = read_lines(log_path(relais, "all"), 2)
    f1 = dict(kv.split("=", 1) for kv in first.split(" ")[1:])
    f2 = dict(kv.split("=", 1) for kv in second.split(" ")[1:])
    assert first.startswith("% ")
    assert f1["a"] == f1["ca"] == f1["h"] == f1["A"] == "127.0.0.1"
    assert f1["f"] == f1["l"] == f1["L"] == f1["u"] == "-"
    assert f1["H"] == "HTTP/1.1" and f1["m"] == "GET"
    assert f1["k"] == "0" and f2["k"] == "1"
    assert f1["p"] == f1["lp"] == str(port)
    assert f1["rp"] == str(local_port)
    assert int(f1["P"]) > 1 and int(f1["tid"]) > 1
    assert f1["q"] == "[?x=1]" and f2["q"] == "[?status=404]"
    assert f1["R"] == "echo"
    assert f1["s"] == f1["fs"] == f1["orig"] == f1["final"] == "200"
    assert f2["s"] == f2["fs"] == "404"
    assert f1["U"] == "/one"
    assert f1["v"] == "main.test"
    assert f1["V"] == "some.host" and f2["V"] == "h2"
    assert f1["X"] == "+" and f2["X"] == "-"
    assert int(f1["B"]) == int(f1["b"]) > 0
    assert int(f1["I"]) == req.index(b"GET /two")
    assert int(f1["S"]) == int(f1["I"]) + int(f1["O"])
    assert int(f1["O"]) + int(f2["O"]) == len(data)
    assert abs(int(f1["sec"]) - time.time()) < 10
    assert len(f1["ms"]) == 3 and len(f1["us"]) == 6
    assert f1["Y"] == str(datetime.datetime.now().year)
    assert f1["c"] == "choc"
    assert f1["n"] == "N1" and f1["e"] == "E1"
    assert f2["n"] == "-" and f2["e"] == "-"
    assert f1["only200"] == "yes" and f1["not200"] == "-"
    assert f2["only200"] == "-" and f2["not200"] == "yes"
    assert f1["multi"] == "yes" and f2["multi"] == "yes"
    assert f1["fb"] == "-"


def test_clf_time_is_local_time(relais, monkeypatch):
    """%t is in the server's local time zone, httpd's layout."""
    monkeypatch.setenv("TZ", "EST5EDT")
    port = start(relais, 'LogFormat "%t" t\nCustomLog logs/t t\n')
    get(port, "/")
    line = read_lines(log_path(relais, "t"), 1)[0]
    assert line.startswith("[") and line.endswith("]")
    dt = parse_clf_time(line[1:-1])
    assert dt.utcoffset() in (datetime.timedelta(hours=-5),
                              datetime.timedelta(hours=-4))
    assert_recent(dt)


def test_format_letter_from_another_module(relais):
    """mod_setenv_test provides %{arg}Z through a "log-item" provider;
    mod_log escapes what it returns."""
    port = start(relais, 'LogFormat "[%{hello}Z] [%Z]" z\nCustomLog logs/z z\n')
    get(port, "/")
    get(port, "/", {"X-Test-Item": '-a"b'})
    assert read_lines(log_path(relais, "z"), 2) == [
        "[Z(hello)] [Z()]", '[Z(hello)-a\\"b] [Z()-a\\"b]']


def test_unknown_letter_without_its_module(relais):
    text = base_conf(free_port(), extra='LogFormat "%{x}Z" z\n').replace(
        "LoadModule setenv_test_module", "#")
    relais.write_conf(text)
    res = relais.run("-t")
    assert res.returncode == 1
    assert "Unrecognized LogFormat directive %Z" in res.stderr


@pytest.mark.parametrize("directive,expected", [
    ('CustomLog logs/x "%h %z"', "Unrecognized LogFormat directive %z"),
    ('LogFormat "%{Referer}i %Q" bad', "Unrecognized LogFormat directive %Q"),
    ('CustomLog logs/x "%{Referer"', "missing '}'"),
    ('CustomLog logs/x "%h %"', "incomplete % directive"),
    ('CustomLog logs/x "%i"', "%i needs a {name}"),
    ('CustomLog logs/x "%{weird}p"', "%{weird}p: unknown argument"),
    ("CustomLog logs/x common nonsense", "expected env=[!]NAME"),
    ("CustomLog logs/x common expr=%{REQUEST_URI}", "not supported"),
    ("BufferedLogs maybe", "On or Off"),
])
def test_bad_configuration_fails_t_with_file_line(relais, directive,
                                                  expected):
    text = base_conf(free_port(), extra="\n" + directive + "\n")
    path = relais.write_conf(text)
    line_no = text.splitlines().index(directive) + 1
    res = relais.run("-t")
    assert res.returncode == 1, res.stderr
    name = directive.split()[0]
    wanted = "%s:%d: %s:" % (path, line_no, name)
    lines = [l for l in res.stderr.splitlines() if wanted in l]
    assert lines, res.stderr
    assert expected in lines[0], lines[0]


def test_unopenable_log_stops_start_with_file_line(relais):
    port = free_port()
    text = base_conf(port, extra="CustomLog /nonexistent/dir/x common\n")
    relais.write_conf(text)
    assert relais.run("-t").returncode == 0  # -t opens nothing
    proc = relais.start(port, wait=False)
    assert proc.wait(timeout=10) != 0
    out = relais.read("stderr.txt") + relais.error_log()
    assert "cannot open access log /nonexistent/dir/x" in out
    assert "relais.conf:%d" % len(text.splitlines()) in out
