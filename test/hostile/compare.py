#!/usr/bin/python3
"""test/hostile/compare.py: the hostile-input cases of
test/integration/hardening run through Relais, HAProxy and nginx, with the
same recording and hostile backends; prints a Markdown table.

    RELAIS_BUILD=build /usr/bin/python3 test/hostile/compare.py > table.md

A script, not a test: other proxies' answers, and timings, are facts to
read, not pass/fail.  Each cell is the status the client got ("closed":
the proxy closed without answering; "timeout": nothing within the case's
time; "no status line": bytes that are not an HTTP/1.x response; "(100)":
an interim 100 came first; "cut": a head came, then a close mid-body)
plus "SMUGGLED" when:

- request cases: the backend received more complete requests than the
  client sent, input that is not well-framed HTTP/1.1 (bare LF, control
  bytes, ambiguous framing), or the hidden "/smuggled" request;
- response cases: a forbidden byte string of the hostile answer
  ("Injected", "EVIL") reached the client, or the backend connection that
  sent stray bytes answered the next request.

Each proxy is configured as its packaged defaults plus the equivalents of
the Relais test configuration (hardening/helpers_hardening.relais_conf):
a 1000-byte body limit under /limited/, a name-based host other.test, a
2-second body timeout, one worker, pooled backend connections.  The
versions found are printed under the table.  Every process started here
is stopped by PID.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# the suite's conftest links each ServerRoot's modules/ to RELAIS_BUILD:
# it must be absolute ("build" would dangle from a temporary directory)
os.environ["RELAIS_BUILD"] = os.path.abspath(
    os.environ.get("RELAIS_BUILD",
                   os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                "build")))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration",
                                "hardening"))

from helpers_hardening import (H, HostileBackend, RecordingBackend,  # noqa
                               Relais, free_port, mpm_lines, relais_conf,
                               talk, wait_port)
from hostile_cases import (HOST, REQUEST_CASES, RESPONSE_CASES,  # noqa
                           TRICKLE_HEAD, RequestCase)

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
AS_ROOT = os.geteuid() == 0

RELAIS_EXTRA = ("StartServers 1\nServerLimit 1\nThreadsPerChild 1\n"
                "RequestReadTimeout header=20-40,MinRate=500 "
                "body=2,MinRate=1000\n")

# A body trickled at 4 bytes/s, below every proxy's body timeout.
TRICKLE = RequestCase("body_trickle_4_bytes_per_s",
                      [(TRICKLE_HEAD, 0.25)] + [(b"t", 0.25)] * 60, 408,
                      group="limit",
                      why="RequestReadTimeout body=2,MinRate=1000")


# ----------------------------------------------------------------------
# the proxies
# ----------------------------------------------------------------------

class Proc:
    def __init__(self, name, cmd, port, log):
        self.name = name
        self.cmd = cmd
        self.port = port
        self.log = log
        self.proc = None

    def start(self):
        out = open(self.log, "a")
        self.proc = subprocess.Popen(self.cmd, stdout=out,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        out.close()
        if not wait_port(self.port):
            self.stop()
            with open(self.log, errors="replace") as f:
                raise RuntimeError("%s did not start:\n%s" % (
                    self.name, f.read()[-2000:]))

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class RelaisProxy:
    name = "Relais"

    def __init__(self, tmp):
        self.tmp = tmp

    def start_requests(self, backend_port):
        self.r = Relais(os.path.join(self.tmp, "relais-req"))
        self.port = free_port()
        self.r.write_conf(relais_conf(self.port, backend_port, "event",
                                      RELAIS_EXTRA))
        self.r.start(self.port)

    def start_responses(self, backend_port):
        self.r = Relais(os.path.join(self.tmp, "relais-resp"))
        self.port = free_port()
        self.r.write_conf(
            mpm_lines("event") + RELAIS_EXTRA
            + "LoadModule proxy_module modules/mod_proxy.so\n"
            + "Listen 127.0.0.1:%d\nServerName relais.test\n" % self.port
            + "ErrorLog logs/error_log\nPidFile logs/relaisd.pid\n"
            + "ProxyPass / http://127.0.0.1:%d/ retry=0\n" % backend_port)
        self.r.start(self.port)

    def stop(self):
        self.r.stop()

    @staticmethod
    def version():
        build = os.environ["RELAIS_BUILD"]
        out = subprocess.run([os.path.join(build, "bin", "relaisd"), "-v"],
                             capture_output=True, text=True)
        line = (out.stdout or out.stderr).strip().splitlines()[0]
        return line.replace("Server version: ", "")


class HAProxy:
    name = "HAProxy"

    def __init__(self, tmp):
        self.tmp = os.path.join(tmp, "haproxy")
        os.makedirs(self.tmp, exist_ok=True)

    def _start(self, body):
        self.port = free_port()
        conf = os.path.join(self.tmp, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write("""global
    nbthread 1
defaults
    mode http
    option http-keep-alive
    http-reuse safe
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-request 20s
    timeout http-keep-alive 10s
frontend fe
    bind 127.0.0.1:%d
%s""" % (self.port, body))
        self.p = Proc("haproxy", [HAPROXY, "-db", "-f", conf], self.port,
                      os.path.join(self.tmp, "haproxy.log"))
        self.p.start()

    def start_requests(self, bp):
        # LimitRequestBody 1000 under /limited/: the declared length, and
        # for a chunked body what arrived within 2 s; the body timeout
        # is "timeout http-request" once the body is waited for.
        self._start("""    acl limited path_beg /limited/
    acl other req.hdr(host) -i other.test
    http-request wait-for-body time 2s at-least 1001 if limited
    acl big_cl req.hdr_val(content-length) gt 1000
    http-request deny deny_status 413 if limited { req.body_size gt 1000 }
    http-request deny deny_status 413 if limited big_cl
    use_backend other if other
    default_backend main
backend main
    http-request set-path /main%%[path]
    server b 127.0.0.1:%d
backend other
    http-request set-path /other%%[path]
    server b 127.0.0.1:%d
""" % (bp, bp))

    def start_responses(self, bp):
        self._start("""    default_backend hostile
backend hostile
    server h 127.0.0.1:%d
""" % bp)

    def stop(self):
        self.p.stop()

    @staticmethod
    def version():
        out = subprocess.run([HAPROXY, "-v"], capture_output=True, text=True)
        return out.stdout.splitlines()[0]


class Nginx:
    name = "nginx"

    def __init__(self, tmp):
        self.tmp = os.path.join(tmp, "nginx")
        os.makedirs(self.tmp, exist_ok=True)

    def _start(self, servers, backend_port):
        self.port = free_port()
        conf = os.path.join(self.tmp, "nginx.conf")
        p = self.tmp
        with open(conf, "w") as f:
            f.write("""%(user)sworker_processes 1;
daemon off;
master_process on;
pid %(p)s/nginx.pid;
error_log %(p)s/error.log info;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(p)s/cb;
    proxy_temp_path %(p)s/pt;
    fastcgi_temp_path %(p)s/ft;
    uwsgi_temp_path %(p)s/ut;
    scgi_temp_path %(p)s/st;
    client_body_timeout 2s;
    upstream b {
        server 127.0.0.1:%(bp)d;
        keepalive 8;
    }
%(servers)s
}
""" % {"user": "user root;\n" if AS_ROOT else "", "p": p,
       "bp": backend_port, "servers": servers % {"port": self.port}})
        self.p = Proc("nginx", [NGINX, "-p", p, "-c", conf, "-e",
                                os.path.join(p, "error.log")], self.port,
                      os.path.join(p, "stdout.log"))
        self.p.start()

    PASS = ("proxy_http_version 1.1; proxy_set_header Connection \"\"; "
            "proxy_set_header Host $host;")

    def start_requests(self, bp):
        self._start("""    server {
        listen 127.0.0.1:%%(port)d default_server;
        server_name relais.test;
        location / { proxy_pass http://b/main/; %s }
        location /limited/ {
            client_max_body_size 1000;
            proxy_pass http://b/main/limited/; %s
        }
    }
    server {
        listen 127.0.0.1:%%(port)d;
        server_name other.test;
        location / { proxy_pass http://b/other/; %s }
    }""" % (self.PASS, self.PASS, self.PASS), bp)

    def start_responses(self, bp):
        self._start("""    server {
        listen 127.0.0.1:%%(port)d default_server;
        location / { proxy_pass http://b; %s }
    }""" % self.PASS, bp)

    def stop(self):
        self.p.stop()

    @staticmethod
    def version():
        out = subprocess.run([NGINX, "-v"], capture_output=True, text=True)
        return out.stderr.strip()


# ----------------------------------------------------------------------
# running the cases
# ----------------------------------------------------------------------

def cell(out, smuggled):
    if out.raw and not out.raw.startswith(b"HTTP/"):
        text = "no status line"
    elif out.raw and not out.responses and out.cut is None:
        # a status line that is no HTTP/1.x status line: show it
        first = out.raw.split(b"\r\n", 1)[0][:24]
        text = "\"%s\"" % first.decode("latin-1")
    else:
        text = out.summary()
        if out.interim:
            text = "(%s) %s" % (",".join(str(s) for s in out.interim), text)
    return text + (" **SMUGGLED**" if smuggled else "")


def run_request_case(proxy, backend, case):
    mark = backend.mark()
    timeout = 20 if case is TRICKLE else max(case.timeout, 5)
    out = talk(proxy.port, case.data, expect=case.responses,
               timeout=timeout)
    seen = backend.since(mark, settle=0.3)
    why = seen.smuggled(allowed=case.responses, forbidden=case.forbidden)
    return cell(out, why), why


def run_response_case(proxy, backend, case):
    out = talk(proxy.port, H("GET /hostile/%s HTTP/1.1" % case.name, HOST),
               timeout=8)
    # names may come back in lower case (HAProxy): compare without case
    why = ["relayed %r" % b for b in case.forbidden
           if b.lower() in out.raw.lower()]
    text = cell(out, False)
    if case.second:
        backend.wait_sent(case.name)
        time.sleep(0.3)
        out2 = talk(proxy.port, H("GET /clean HTTP/1.1", HOST), timeout=8)
        bad = backend.hostile_conn.get(case.name)
        body = out2.responses[0].body if out2.responses else b""
        if bad is not None and body.startswith(b"clean c%d#" % bad):
            why.append("reused the connection")
        why += ["relayed %r" % b for b in case.forbidden
                if b.lower() in out2.raw.lower()]
        text += ", then " + cell(out2, False)
    if why:
        text += " **SMUGGLED**"
    return text, "; ".join(why) or None


def escape(text):
    return text.replace("|", "\\|")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--proxies", default="relais,haproxy,nginx")
    ap.add_argument("--only", help="run only cases whose name has this")
    ap.add_argument("--why", action="store_true",
                    help="print why each SMUGGLED cell is one")
    args = ap.parse_args()

    kinds = {"relais": RelaisProxy, "haproxy": HAProxy, "nginx": Nginx}
    names = [n.strip() for n in args.proxies.split(",") if n.strip()]
    tmp = tempfile.mkdtemp(prefix="relais-compare-")
    req_cases = [c for c in REQUEST_CASES + [TRICKLE]
                 if not args.only or args.only in c.name]
    resp_cases = [c for c in RESPONSE_CASES
                  if not args.only or args.only in c.name]
    results = {}
    whys = []
    try:
        for n in names:
            proxy = kinds[n](tmp)
            rec = RecordingBackend()
            try:
                proxy.start_requests(rec.port)
                for c in req_cases:
                    text, why = run_request_case(proxy, rec, c)
                    results[(c.name, n)] = text
                    if why:
                        whys.append("%s / %s: %s" % (c.name, proxy.name, why))
                    print("  %-8s %-30s %s" % (n, c.name, text),
                          file=sys.stderr)
            finally:
                proxy.stop()
                rec.stop()
            hb = HostileBackend({c.name: c for c in RESPONSE_CASES})
            try:
                proxy.start_responses(hb.port)
                for c in resp_cases:
                    text, why = run_response_case(proxy, hb, c)
                    results[("backend:" + c.name, n)] = text
                    if why:
                        whys.append("backend:%s / %s: %s" % (
                            c.name, proxy.name, why))
                    print("  %-8s backend:%-22s %s" % (n, c.name, text),
                          file=sys.stderr)
            finally:
                proxy.stop()
                hb.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    titles = [kinds[n].name for n in names]
    print("| case | " + " | ".join(titles) + " |")
    print("|---|" + "---|" * len(titles))
    for c in req_cases:
        print("| %s | %s |" % (c.name, " | ".join(
            escape(results[(c.name, n)]) for n in names)))
    for c in resp_cases:
        key = "backend:" + c.name
        print("| %s | %s |" % (key, " | ".join(
            escape(results[(key, n)]) for n in names)))
    print()
    print("Versions: " + "; ".join(kinds[n].version() for n in names))
    if args.why and whys:
        print()
        for w in whys:
            print("- " + escape(w))
    return 0


if __name__ == "__main__":
    sys.exit(main())
