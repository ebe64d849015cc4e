"""Values with format specifiers: %t (t=<µs since the epoch when the
request arrived>), %D (D=<µs since then>), %{VAR}e (request variable,
then the process environment, else "(null)"), %{VAR}s ("(null)": no TLS
yet), %%; on the request the backend gets and on the response."""
import time

from helpers_headers import get, start

CONF = r"""
SetEnvIf Request_URI ^/fmt/(\w+) word=$1
RequestHeader set X-Fmt "%t|%D|%{word}e|%{RELAIS_HDR_TEST}e|%{nothere}e|%{SSL_PROTOCOL}s|100%%"
RequestHeader set X-Env-NL "[%{RELAIS_HDR_NL}e]"
Header set X-Resp "%t %D"
ProxyPass / @BACKEND@/
"""


def field(value, prefix):
    assert value.startswith(prefix), value
    return int(value[len(prefix):])


def test_request_value_formats(relais, backend, monkeypatch):
    monkeypatch.setenv("RELAIS_HDR_TEST", "from-process")
    monkeypatch.setenv("RELAIS_HDR_NL", "a\r\nb")
    port = start(relais, CONF.replace("@BACKEND@", backend.url))
    before = int(time.time() * 1e6)
    r = get(port, "/fmt/apple")
    after = int(time.time() * 1e6)
    assert r.status == 200
    q = backend.last()
    t, d, word, penv, missing, ssl, pct = q.header("X-Fmt").split("|")
    assert before - 1000 <= field(t, "t=") <= after
    assert 0 <= field(d, "D=") <= after - before
    assert word == "apple"
    assert penv == "from-process"
    assert missing == "(null)"
    assert ssl == "(null)"
    assert pct == "100%"
    # a variable's CR/LF never split the header in two
    assert q.header("X-Env-NL") == "[a  b]"
    assert b"\r\nb]" not in q.raw_head


def test_response_duration_counts_the_backend_time(relais, backend):
    backend.on("/slow", delay=0.3)
    port = start(relais, CONF.replace("@BACKEND@", backend.url))
    before = int(time.time() * 1e6)
    r = get(port, "/slow")
    after = int(time.time() * 1e6)
    assert r.status == 200
    t, d = r.header("X-Resp").split(" ")
    assert before - 1000 <= field(t, "t=") <= after
    # %D on a response: from the request's first byte to its head
    assert 300000 <= field(d, "D=") <= after - before
