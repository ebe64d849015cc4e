"""bench/lib_h2.py: the HTTP/2 part of bench/run (issue 10's Benchmark):
the h2-* cases on haproxy-1-h2, nginx-1-h2 and relais-1-h2, and only
there.

- the three proxies' configurations: HTTP/2 from clients over TLS (ALPN
  "h2,http/1.1"), the certificate and TLS lines of bench/lib_tls.py (the
  TLS cases' own), HTTP/1.1 over reused keep-alive connections to origin
  A, one worker / thread each: HAProxy `bind … ssl crt … alpn
  h2,http/1.1` with `http-reuse always`, nginx `listen … ssl http2`,
  Relais mod_ssl + mod_http2 with `Protocols h2 http/1.1`.
- the load (`python3 lib_h2.py load ...`): h2load (nghttp2-client) for
  the run's duration, `-t1 -c<connections> -m<streams>`, with its
  per-request log, from which it prints wrk's figures in wrk's format
  (requests, req/s, p50..p99, errors), so bench/run reads them like
  wrk's; h2load's own output comes first.  A run whose connections did
  not negotiate h2 fails (h2load refuses them; the wrapper also checks
  its "Application protocol" line).
- check(): the sanity check before the sweep, with curl over HTTP/2
  (the certificate verified for 127.0.0.1, the exact body, HTTP version
  2).
- the report's "HTTP/2" section.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the checkout
import lib_tls  # noqa: E402  (the certificate and the TLS lines)

PROXIES = ["haproxy-1-h2", "nginx-1-h2", "relais-1-h2"]
BASELINE = "haproxy-1-h2"
NEEDS_MODULES = {"relais-1-h2": ["mod_ssl.so", "mod_http2.so"]}
H2LOAD = shutil.which("h2load") or "/usr/bin/h2load"
CURL = shutil.which("curl") or "/usr/bin/curl"
STREAMS = 10   # h2load -m: concurrent streams per connection


def is_h2_case(name):
    return name.startswith("h2-")


# ---------------------------------------------------------- configurations


def haproxy_conf(d, port, origin, limit, no_strict, tls):
    """HAProxy 2.6 `mode http` with HTTP/2 over TLS from clients; `http-
    reuse always` as haproxy-1-tls (backend connections shared by every
    stream of every client connection, as nginx's and Relais's pools)."""
    conf = os.path.join(d, "haproxy.cfg")
    with open(conf, "w") as f:
        f.write("""global
    nbthread 1
    maxconn %(limit)d
%(strict)s
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 65s
    timeout server 30s
    timeout http-keep-alive 65s

frontend fe
    bind 127.0.0.1:%(port)d%(bind)s alpn h2,http/1.1
    default_backend origin

backend origin
    balance roundrobin
    server o0 127.0.0.1:%(origin)d
""" % {"limit": limit, "port": port, "origin": origin,
       "bind": lib_tls.haproxy_bind(tls),
       "strict": "    no strict-limits\n" if no_strict else ""})
    return conf


def nginx_conf(prefix, port, origin, as_root, limit, nofile, tls):
    """nginx 1.22 `listen … ssl http2`; keepalive_requests (which also
    bounds the requests of an HTTP/2 connection since 1.19.7) as the other
    nginx variants, http2_max_concurrent_streams at its default (128)."""
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""%(user)sworker_processes 1;
worker_rlimit_nofile %(nofile)d;
daemon off;
master_process on;
pid %(prefix)s/nginx.pid;
error_log %(prefix)s/error.log warn;
events { worker_connections %(limit)d; }
http {
    access_log off;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path %(prefix)s/cb;
    proxy_temp_path %(prefix)s/pt;
    fastcgi_temp_path %(prefix)s/ft;
    uwsgi_temp_path %(prefix)s/ut;
    scgi_temp_path %(prefix)s/st;
    upstream origins {
        server 127.0.0.1:%(origin)d;
        keepalive 32;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:%(port)d ssl http2;
%(tls)s        location / {
            proxy_pass http://origins;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
""" % {"user": "user root;\n" if as_root else "", "nofile": nofile,
       "prefix": prefix, "limit": limit, "port": port, "origin": origin,
       "tls": lib_tls.nginx_server_lines(tls)})
    return conf


def relais_conf(root, port, origin, mpm, sizing, tls):
    """relais-1-tls's configuration (mod_ssl at the server level,
    ProxyPass to origin A) plus mod_http2 and `Protocols h2 http/1.1`;
    mpm, sizing: bench/run's relais_mpm_lines() (event, one child of one
    thread)."""
    conf = os.path.join(root, "relais.conf")
    with open(conf, "w") as f:
        f.write("""%(mpm)sLoadModule proxy_module modules/mod_proxy.so
LoadModule http2_module modules/mod_http2.so
Listen 127.0.0.1:%(port)d https
ErrorLog logs/error_log
LogLevel warn
PidFile logs/relaisd.pid
%(user)s%(sizing)sKeepAliveTimeout 65
MaxKeepAliveRequests 0
%(tls)sProtocols h2 http/1.1
ProxyPass / http://127.0.0.1:%(origin)d/
""" % {"mpm": mpm, "sizing": sizing, "port": port, "origin": origin,
       "tls": lib_tls.relais_lines(tls),
       "user": "User root\n" if os.geteuid() == 0 else ""})
    return conf


# -------------------------------------------------------------------- load


def load_cmd(python, port, path, duration, conns):
    """The load of one run of an h2-* case (bench/run pins it)."""
    return [python, os.path.abspath(__file__), "load", "--port", str(port),
            "--path", path, "--duration", str(duration), "--conns",
            str(conns)]


def parse_h2load(out):
    """h2load's summary: {"done", "seconds", "rps", "s2xx", "s3xx",
    "s4xx", "s5xx", "errored", "timeout", "protocol"} (None when
    missing)."""
    r = dict.fromkeys(("done", "seconds", "rps", "s2xx", "s3xx", "s4xx",
                       "s5xx", "errored", "timeout", "protocol"))
    m = re.search(r"^finished in ([\d.]+)(\w+), ([\d.]+) req/s", out, re.M)
    if m:
        r["seconds"] = float(m.group(1)) * {"s": 1, "ms": 1e-3,
                                            "us": 1e-6}.get(m.group(2), 1)
        r["rps"] = float(m.group(3))
    m = re.search(r"^requests: (\d+) total, (\d+) started, (\d+) done, "
                  r"(\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) "
                  r"timeout", out, re.M)
    if m:
        r["done"], r["errored"], r["timeout"] = (int(m.group(3)),
                                                 int(m.group(6)),
                                                 int(m.group(7)))
    m = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) "
                  r"5xx", out, re.M)
    if m:
        r["s2xx"], r["s3xx"], r["s4xx"], r["s5xx"] = map(int, m.groups())
    m = re.search(r"^Application protocol: (\S+)", out, re.M)
    if m:
        r["protocol"] = m.group(1)
    return r


def _pct(sorted_us, p):
    if not sorted_us:
        return None
    i = min(len(sorted_us) - 1, int(round(p / 100.0 * len(sorted_us))) - 1)
    return sorted_us[max(0, i)]


def load_main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="lib_h2.py load")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/1k")
    ap.add_argument("--duration", type=float, default=3)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--streams", type=int, default=STREAMS)
    a = ap.parse_args(argv)
    url = "https://127.0.0.1:%d%s" % (a.port, a.path)
    fd, logpath = tempfile.mkstemp(prefix="relais-bench-h2load-")
    os.close(fd)
    try:
        # -D: a timed run, as wrk -d; the log has one line per request:
        # start (µs since the epoch), status, time to complete it (µs)
        cmd = [H2LOAD, "-t1", "-c%d" % a.conns, "-m%d" % a.streams,
               "-D", "%g" % a.duration, "--log-file", logpath, url]
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=a.duration + 60)
        out = p.stdout + p.stderr
        lat = []
        with open(logpath) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    lat.append(int(parts[2]))
    finally:
        os.unlink(logpath)
    print(out.rstrip())
    print("---- in wrk's format (bench/lib_h2.py)")
    r = parse_h2load(out)
    done = r["done"] or 0
    errors = (r["errored"] or 0) + (r["timeout"] or 0)
    if r["protocol"] != "h2":
        # h2load refuses a connection without h2; say it in wrk's terms
        print("  not HTTP/2: application protocol %s" % r["protocol"])
        done, errors = 0, errors or 1
    lat.sort()
    print("Running %gs test @ %s" % (a.duration, url))
    print("  h2load -t1 -c%d -m%d: HTTP/2 over TLS" % (a.conns, a.streams))
    if lat:
        print("Latency Distribution")
        for pc in (50, 75, 90, 99):
            print("  %3d%%  %.2fms" % (pc, _pct(lat, pc) / 1000.0))
    secs = r["seconds"] or a.duration
    print("  %d requests in %.2fs, 0.00MB read" % (done, secs))
    if errors:
        print("  Socket errors: connect 0, read %d, write 0, timeout %d"
              % (r["errored"] or 0, r["timeout"] or 0))
    bad = (r["s4xx"] or 0) + (r["s5xx"] or 0)
    if bad:
        print("  Non-2xx or 3xx responses: %d" % bad)
    print("Requests/sec: %10.2f" % (done / secs if secs else 0))
    return 0 if p.returncode == 0 and done else 1


# ------------------------------------------------------------ sanity check


def check(port, bodies, cafile):
    """Before the sweep: each file over HTTP/2 with curl, the certificate
    verified against cafile for 127.0.0.1: HTTP version 2, status 200,
    the exact body.  A list of problems."""
    problems = []
    for path in ("/0", "/1k", "/64k", "/1m"):
        fd, tmp = tempfile.mkstemp(prefix="relais-bench-h2check-")
        os.close(fd)
        try:
            p = subprocess.run(
                [CURL, "-sS", "--http2", "--cacert", cafile, "-o", tmp,
                 "-w", "%{http_version} %{http_code}",
                 "https://127.0.0.1:%d%s" % (port, path)],
                capture_output=True, text=True, timeout=20)
            with open(tmp, "rb") as f:
                body = f.read()
        except (OSError, subprocess.SubprocessError) as e:
            problems.append("GET %s: curl: %s" % (path, e))
            continue
        finally:
            os.unlink(tmp)
        said = p.stdout.strip()
        if p.returncode or said != "2 200" or body != bodies[path]:
            problems.append("GET %s over HTTP/2: curl said %r (exit %d%s), "
                            "%d bytes (want \"2 200\", %d)"
                            % (path, said, p.returncode,
                               ": " + p.stderr.strip() if p.stderr.strip()
                               else "", len(body), len(bodies[path])))
    return problems


# ----------------------------------------------------------------- report

COLUMNS = [  # key, heading, format, with its ×HA
    ("rps", "req/s", ".0f", True),
    ("p50_ms", "p50 ms", ".2f", False),
    ("p99_ms", "p99 ms", ".2f", True),
    ("cpu_us", "CPU µs/req", ".1f", True),
    ("sys_pct", "kernel %", ".0f", False),
    ("rss_mb", "RSS MiB", ".1f", False),
]


def _fmt(v, spec):
    return "—" if v is None else format(v, spec)


def section_lines(table, info):
    """The report's "HTTP/2" section.  info: {"connections": N}."""
    rows = [r for r in table if is_h2_case(r["case"])]
    if not rows:
        return []
    lines = ["", "## HTTP/2", "",
             "HTTP/2 over TLS from the client (ALPN h2, the TLS cases' "
             "certificate and TLS settings), HTTP/1.1 to origin A over "
             "reused keep-alive connections, one worker / thread each on "
             "the 1-worker proxies' CPU: haproxy-1-h2 `bind … ssl crt … "
             "alpn h2,http/1.1`, `http-reuse always`; nginx-1-h2 `listen "
             "… ssl http2`; relais-1-h2 mod_ssl + mod_http2, `Protocols "
             "h2 http/1.1`. Load: `h2load -t1 -c%d -m%d` on the load CPU "
             "for the run's duration, GET of the case's file (h2-1k: "
             "/1k); p50/p99 from its per-request log (each request's "
             "time to its response), CPU µs/req = the proxy's CPU time "
             "per completed request. Medians over the repetitions; ×HA = "
             "ratio to %s." % (info.get("connections", 50), STREAMS,
                               BASELINE), ""]
    head = ["case", "proxy"]
    for _, h, _, r in COLUMNS:
        head += [h] + (["×HA"] if r else [])
    head.append("errors")
    lines += ["| " + " | ".join(head) + " |",
              "|---|---|" + "|".join(["---:"] * (len(head) - 2)) + "|"]
    for row in rows:
        cells = [row["case"], row["proxy"]]
        for key, _, spec, r in COLUMNS:
            cells.append(_fmt(row.get(key), spec))
            if r:
                cells.append(_fmt(row.get(key + "_ratio"), ".2f"))
        cells.append(str(row["errors"]) + (", %d crash(es)" % row["crashes"]
                                           if row.get("crashes") else ""))
        lines.append("| " + " | ".join(cells) + " |")
    rel = [r for r in rows if r["proxy"] == "relais-1-h2"]
    if rel:
        lines += ["", "Relais against HAProxy: " + "; ".join(
            "%s: CPU µs/req ×%s, req/s ×%s" % (
                r["case"], _fmt(r.get("cpu_us_ratio"), ".2f"),
                _fmt(r.get("rps_ratio"), ".2f")) for r in rel)
            + " (CPU: lower is better; req/s: higher is better)."]
    return lines + [""]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "load":
        sys.exit(load_main(sys.argv[2:]))
    sys.stderr.write("usage: lib_h2.py load --port P [--path /1k] "
                     "[--duration S] [--conns N] [--streams M]\n")
    sys.exit(2)
