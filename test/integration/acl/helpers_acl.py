"""Helpers of the mod_acl tests (test/integration/acl).

- acl_conf() / start_acl(): a relaisd configuration with mod_acl, mod_proxy,
  mod_echo and mod_log (access log "%h %u "%r" %>s" in logs/access_log).
- htpasswd(): a password file written by Apache's own htpasswd
  (apache2-utils), in every format it knows.
- request(): one request on a fresh connection, with optional Basic
  credentials, over IPv4 or IPv6.
"""
import base64
import os
import shutil
import socket
import subprocess
import time

import helpers_proxy
from helpers_proxy import RawConn, free_port, mpm_lines, request_bytes

BUILD = helpers_proxy.root.BUILD
HTPASSWD = shutil.which("htpasswd") or "/usr/bin/htpasswd"
HEADERS_SO = os.path.join(BUILD, "modules", "mod_headers.so")

ACCESS_FORMAT = '"%h %u \\"%r\\" %>s"'


def acl_conf(port, body, mpm="event", listen6=None, extra_modules=""):
    """MPM, mod_proxy, mod_echo, mod_acl, mod_log, one listener on
    127.0.0.1 (and [::1]:listen6 when given), the access log, then body."""
    return (mpm_lines(mpm)
            + "LoadModule proxy_module modules/mod_proxy.so\n"
            + "LoadModule echo_module modules/mod_echo.so\n"
            + "LoadModule acl_module modules/mod_acl.so\n"
            + "LoadModule log_module modules/mod_log.so\n"
            + extra_modules
            + "Listen 127.0.0.1:%d\n" % port
            + ("Listen [::1]:%d\n" % listen6 if listen6 else "")
            + "ServerName acl.test\n"
            + "ErrorLog logs/error_log\n"
            + "LogLevel info\n"
            + "PidFile logs/relaisd.pid\n"
            + "LogFormat %s acltest\n" % ACCESS_FORMAT
            + "CustomLog logs/access_log acltest\n"
            + body)


def start_acl(relais, body, mpm="event", listen6=None, extra_modules=""):
    """Writes acl_conf() and starts relaisd; returns its port.  @PORT@ and
    @ROOT@ in body are replaced by the port and the ServerRoot."""
    port = free_port()
    body = body.replace("@PORT@", str(port)).replace("@ROOT@", relais.root)
    relais.write_conf(acl_conf(port, body, mpm=mpm, listen6=listen6,
                               extra_modules=extra_modules))
    relais.start(port)
    return port


def basic(user, password):
    token = base64.b64encode(("%s:%s" % (user, password)).encode("utf-8"))
    return ("Authorization", "Basic " + token.decode("ascii"))


def request(port, target="/", method="GET", auth=None, headers=(),
            host="127.0.0.1", vhost="acl.test", body=b"", timeout=10.0):
    """One request on a fresh connection; auth=(user, password) sends
    Basic credentials.  host="::1" connects over IPv6; vhost is the Host
    header."""
    hdrs = list(headers)
    if auth is not None:
        hdrs.append(basic(*auth))
    data = request_bytes(method=method, target=target, host=vhost,
                         headers=hdrs, body=body)
    if host == "127.0.0.1":
        with RawConn(port, timeout=timeout) as c:
            c.send(data)
            return c.read_response(head_request=method == "HEAD")
    conn = RawConn.__new__(RawConn)
    conn.sock = socket.create_connection((host, port), timeout=timeout)
    conn.timeout = timeout
    conn.buf = b""
    conn.eof = False
    try:
        conn.send(data)
        return conn.read_response(head_request=method == "HEAD")
    finally:
        conn.close()


def status(port, target="/", **kw):
    return request(port, target, **kw).status


def htpasswd(path, user, password, fmt="-B", create=False):
    """Adds user to path with Apache's htpasswd: -B bcrypt, -m APR MD5,
    -s SHA-1, -d crypt, -p plain text."""
    args = [HTPASSWD, "-b"] + (["-c"] if create else []) + \
        ([fmt] if fmt else []) + [path, user, password]
    subprocess.run(args, check=True, capture_output=True, text=True)
    with open(path) as f:
        return [l for l in f.read().splitlines() if l.startswith(user + ":")]


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_port6():
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def access_lines(relais, count, timeout=5.0):
    """The access log's lines once there are at least count (a line is
    written after the response is queued)."""
    path = os.path.join(relais.root, "logs", "access_log")
    end = time.time() + timeout
    lines = []
    while time.time() < end:
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                lines = f.read().splitlines()
            if len(lines) >= count:
                return lines
        time.sleep(0.05)
    return lines


def wait_log(relais, text, timeout=5.0):
    """True once text appears in the error log."""
    end = time.time() + timeout
    while time.time() < end:
        if text in relais.error_log():
            return True
        time.sleep(0.05)
    return False


def config_errors(relais, body, mpm="event"):
    """relaisd -t on acl_conf(body): (exit code, stderr)."""
    relais.write_conf(acl_conf(free_port(), body.replace(
        "@ROOT@", relais.root), mpm=mpm))
    r = relais.run("-t")
    return r.returncode, r.stderr
