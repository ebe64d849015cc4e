"""Shared pieces of the mod_log tests: a configuration with mod_log,
mod_echo (the backend until the proxy exists: SetHandler echo) and the
test module mod_setenv_test (X-Test-Env / X-Test-Note headers set request
variables and notes), regular expressions for the common and combined
formats, and polling readers for log files (a line is written after the
response is queued, so a client may see its answer a moment before the
line is there)."""
import datetime
import http.client
import os
import re
import time

from conftest import BUILD, free_port, mpm_lines

SETENV_TEST = os.path.join(BUILD, "testmods", "mod_setenv_test.so")

# A quoted field of a log line: anything but a bare quote or backslash,
# or a backslash escape (\" \\ \xhh \n ...).
QUOTED = r'"((?:[^"\\]|\\.)*)"'
COMMON_RE = re.compile(
    r'^(\S+) (\S+) (\S+) \[([^\]]+)\] ' + QUOTED + r' (\d{3}) (\d+|-)$')
COMBINED_RE = re.compile(
    r'^(\S+) (\S+) (\S+) \[([^\]]+)\] ' + QUOTED + r' (\d{3}) (\d+|-) ' +
    QUOTED + ' ' + QUOTED + '$')


def base_conf(port, mpm="event", extra=""):
    """A whole configuration: MPM, modules, one listener, echo
    everywhere, then `extra`."""
    return mpm_lines(mpm) + """
LoadModule echo_module modules/mod_echo.so
LoadModule log_module modules/mod_log.so
LoadModule setenv_test_module %s
Listen 127.0.0.1:%d
ServerName main.test
ErrorLog logs/error_log
PidFile logs/relaisd.pid
SetHandler echo
EchoAllowDelay On
""" % (SETENV_TEST, port) + extra


def start(relais, extra, mpm="event", port=None):
    """Starts relaisd with base_conf() + extra; returns the port."""
    port = port or free_port()
    relais.write_conf(base_conf(port, mpm, extra))
    relais.start(port)
    return port


def log_path(relais, name):
    return os.path.join(relais.root, "logs", name)


def read_lines(path, count=1, timeout=5.0, encoding="latin-1"):
    """The lines of a log file once it has at least `count` (split on
    b'\\n' only, so that a stray CR would show; JSON lines are UTF-8)."""
    end = time.time() + timeout
    lines = []
    while True:
        if os.path.exists(path):
            with open(path, "rb") as f:
                data = f.read()
            lines = data.split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            if len(lines) >= count and data.endswith(b"\n"):
                return [l.decode(encoding) for l in lines]
        if time.time() > end:
            raise AssertionError("%s: %d lines after %.0f s, expected %d" %
                                 (path, len(lines), timeout, count))
        time.sleep(0.02)


def get(port, path="/", headers=None, method="GET", host=None):
    """One request on a fresh connection; returns (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        hdrs = dict(headers or {})
        if host is not None:
            hdrs["Host"] = host
        conn.request(method, path, headers=hdrs)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, resp.headers, body
    finally:
        conn.close()


def parse_clf_time(text):
    """[27/Nov/2026:06:31:29 +0000] -> aware datetime."""
    return datetime.datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z")


def assert_recent(dt, slack=10):
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - dt).total_seconds()) < slack, (dt, now)
