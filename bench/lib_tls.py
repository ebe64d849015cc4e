"""bench/lib_tls.py: the TLS part of bench/run (the tls-* cases on
haproxy-1-tls, nginx-1-tls and relais-1-tls).

- make_cert(): the one certificate all three serve, made at bench start
  with the openssl command-line tool (ECDSA P-256, self-signed, for
  127.0.0.1 and localhost).
- the TLS lines of each proxy's configuration, the same settings where
  they can be set equally (TLS 1.2 and 1.3; session tickets and session
  caches left at each one's defaults), and the lines of the "probe twin"
  that logs, per request, whether its handshake was resumed.
- the handshake client of the tls-hs case (`python3 lib_tls.py client
  ...`): wrk cannot measure full handshakes, because its TLS client keeps
  the session of a closed connection (ssl_close() is SSL_shutdown() then
  SSL_clear() on the same SSL, and SSL_clear() keeps a session that was
  shut down cleanly) and offers it on the next connect, so nearly all of
  its handshakes are resumptions.  This client opens a new connection per
  request with a new SSL object and no session: every handshake is full,
  and it checks that on each one (SSL_session_reused()).  It prints its
  figures in wrk's format, so bench/run reads them like wrk's.
- negotiated(): what a proxy negotiates (protocol, cipher, key exchange
  group, signature, TLS 1.3 session tickets sent), with `openssl
  s_client`.
- the report's TLS section.
"""
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the checkout
import lib_idle  # noqa: E402  (its HTTP response parser)

TLS_PROXIES = ["haproxy-1-tls", "nginx-1-tls", "relais-1-tls"]
TLS_BASELINE = "haproxy-1-tls"
# processes of the handshake client (each one connection at a time)
HS_CLIENTS = 4
# the probe twin: how long each client drives it
PROBE_SECONDS = 1.0
PROBE_MARK = "TLSPROBE"

OPENSSL = "/usr/bin/openssl"


# ------------------------------------------------------------ certificate


def make_cert(directory):
    """An ECDSA P-256 key and a self-signed certificate for 127.0.0.1 and
    localhost in directory: {"cert", "key", "pem" (both, for HAProxy's
    crt)}.  Raises RuntimeError with openssl's message when it fails."""
    os.makedirs(directory, exist_ok=True)
    cert = os.path.join(directory, "bench.crt")
    key = os.path.join(directory, "bench.key")
    pem = os.path.join(directory, "bench.pem")
    cmd = [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
           "ec_paramgen_curve:P-256", "-nodes", "-sha256", "-days", "2",
           "-subj", "/CN=localhost", "-addext",
           "subjectAltName=DNS:localhost,IP:127.0.0.1",
           "-keyout", key, "-out", cert]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("openssl req failed: %s" % p.stderr.strip())
    with open(pem, "w") as out:
        for path in (cert, key):
            with open(path) as f:
                out.write(f.read())
    # the proxies run as this user (as root: root workers, see bench/run),
    # so the key stays private (Relais warns about a world-readable key)
    os.chmod(cert, 0o644)
    for path in (key, pem):
        os.chmod(path, 0o600)
    return {"cert": cert, "key": key, "pem": pem}


# ---------------------------------------------------------- configurations


def haproxy_bind(tls):
    """The options after `bind addr:port` (the session cache and the
    tickets stay at HAProxy's defaults: tune.ssl.cachesize 20000,
    tickets on)."""
    return " ssl crt %s ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3" % tls["pem"]


def haproxy_probe_lines():
    """Frontend lines of the probe twin: one line per request on stdout
    (the Proc's log file) with the resumed flag (1: resumed)."""
    return ("    log stdout format raw local0\n"
            "    log-format \"%s %%HU %%[ssl_fc_is_resumed] %%sslv\"\n"
            % PROBE_MARK)


def nginx_server_lines(tls):
    """Server-level lines (ssl_session_cache stays at its default, none,
    and ssl_session_tickets at on)."""
    return ("        ssl_certificate %s;\n"
            "        ssl_certificate_key %s;\n"
            "        ssl_protocols TLSv1.2 TLSv1.3;\n"
            % (tls["cert"], tls["key"]))


def nginx_probe_lines(logfile):
    """http-level and server-level lines of the probe twin: $ssl_session_
    reused is "r" for a resumed handshake, "." otherwise."""
    return ("    log_format tlsprobe \"%s $request_uri $ssl_session_reused "
            "$ssl_protocol\";\n" % PROBE_MARK,
            "        access_log %s tlsprobe;\n" % logfile)


def relais_lines(tls):
    """mod_ssl at the server level (SSLSessionCache and SSLSessionTickets
    stay at their defaults)."""
    return ("LoadModule ssl_module modules/mod_ssl.so\n"
            "SSLEngine on\n"
            "SSLCertificateFile %s\n"
            "SSLCertificateKeyFile %s\n"
            "SSLProtocol -all +TLSv1.2 +TLSv1.3\n"
            % (tls["cert"], tls["key"]))


def relais_probe_lines(logfile):
    """mod_log lines of the probe twin: %{SSL_SESSION_RESUMED}x is
    "Initial" or "Resumed" (httpd's values)."""
    return ("LoadModule log_module modules/mod_log.so\n"
            "LogFormat \"%s %%U%%q %%{SSL_SESSION_RESUMED}x "
            "%%{SSL_PROTOCOL}x\" tlsprobe\n"
            "CustomLog %s tlsprobe\n" % (PROBE_MARK, logfile))


def probe_counts(text):
    """{tag: [full, resumed, other]} from the probe twin's log lines
    ("TLSPROBE /1k?probe=<tag> <flag> <protocol>"); other = a flag that is
    neither (say "-": the variable is unknown to the proxy)."""
    out = {}
    for line in text.splitlines():
        i = line.find(PROBE_MARK + " ")
        if i < 0:
            continue
        parts = line[i:].split()
        if len(parts) < 3:
            continue
        m = re.search(r"[?&]probe=([\w-]+)", parts[1])
        tag = m.group(1) if m else "?"
        flag = parts[2]
        c = out.setdefault(tag, [0, 0, 0])
        if flag in ("1", "r", "Resumed"):
            c[1] += 1
        elif flag in ("0", ".", "Initial"):
            c[0] += 1
        else:
            c[2] += 1
    return out


# ------------------------------------------------------- what is negotiated


def negotiated(port, timeout=10):
    """What a default OpenSSL client negotiates with the proxy on port,
    and what a TLS 1.2-only client gets: {"protocol", "cipher", "group",
    "signature", "tickets" (TLS 1.3 NewSessionTicket messages after a full
    handshake), "tls12_cipher", "error"}."""
    req = "GET /0 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    out = {"protocol": "?", "cipher": "?", "group": "?", "signature": "?",
           "tickets": None, "tls12_cipher": "?", "error": ""}

    def run(extra):
        try:
            p = subprocess.run([OPENSSL, "s_client", "-connect",
                                "127.0.0.1:%d" % port, "-ign_eof", "-msg"]
                               + extra, input=req, capture_output=True,
                               text=True, timeout=timeout)
            return p.stdout + p.stderr
        except (OSError, subprocess.SubprocessError) as e:
            out["error"] = "openssl s_client: %s" % e
            return ""

    text = run([])
    m = re.search(r"^New, (\S+), Cipher is (\S+)", text, re.M)
    if m:
        out["protocol"], out["cipher"] = m.group(1).rstrip(","), m.group(2)
    m = re.search(r"^Server Temp Key: ([^,\n]+)", text, re.M)
    if m:
        out["group"] = m.group(1)
    m = re.search(r"^Peer signature type: (\S+)", text, re.M)
    if m:
        out["signature"] = m.group(1)
    m = re.search(r"^Peer signing digest: (\S+)", text, re.M)
    if m:
        out["signature"] += "+" + m.group(1)
    if m or out["protocol"] != "?":
        out["tickets"] = len(re.findall(r"<<< TLS 1.3, Handshake \[length "
                                        r"\w+\], NewSessionTicket", text))
    text12 = run(["-tls1_2"])
    m = re.search(r"^New, (\S+), Cipher is (\S+)", text12, re.M)
    if m:
        out["tls12_cipher"] = m.group(2)
    if out["protocol"] == "?" and not out["error"]:
        out["error"] = "no TLS handshake: " + " ".join(text.split())[-200:]
    return out


def negotiated_text(n):
    if n.get("error"):
        return "FAILED (%s)" % n["error"]
    return ("%s %s, %s, %s, %s TLS 1.3 session ticket(s) after a full "
            "handshake; TLS 1.2 client: %s" % (
                n["protocol"], n["cipher"], n["group"], n["signature"],
                "?" if n["tickets"] is None else n["tickets"],
                n["tls12_cipher"]))


# ------------------------------------------------------ the handshake client


def client_cmd(python, port, path, duration, procs, tag=""):
    """The command line of the handshake client (bench/run pins it)."""
    cmd = [python, os.path.abspath(__file__), "client", "--port", str(port),
           "--path", path, "--duration", str(duration), "--procs",
           str(procs)]
    return cmd + (["--tag", tag] if tag else [])


def _one(ctx, port, req, timeout, st):
    """One connection: TCP connect, full handshake, one request with
    Connection: close, the whole response (by its length, as wrk reads
    it), close.  Updates st; returns the latency in µs or None."""
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError as e:
        st["timeout" if isinstance(e, socket.timeout) else "connect"] += 1
        return None
    try:
        try:
            tls = ctx.wrap_socket(s)
        except socket.timeout:
            st["timeout"] += 1
            return None
        except (ssl.SSLError, OSError):
            # wrk counts a failed handshake as a connect error
            st["connect"] += 1
            return None
        s = tls
        st["resumed" if tls.session_reused else "full"] += 1
        try:
            tls.sendall(req)
        except OSError:
            st["write"] += 1
            return None
        buf, got = b"", None
        try:
            while got is None:
                b = tls.recv(65536)
                if not b:
                    break
                buf += b
                got = lib_idle.parse_response(buf)
        except socket.timeout:
            st["timeout"] += 1
            return None
        except (ssl.SSLError, OSError):
            st["read"] += 1
            return None
        if got is None:
            st["read"] += 1
            return None
        st["requests"] += 1
        st["bytes"] += len(buf)
        if not 200 <= got[0] < 400:
            st["non2xx"] += 1
        return int((time.monotonic() - t0) * 1e6)
    finally:
        s.close()


def _child(port, path, start, end, wfd, timeout=10.0):
    # a new SSL object per connection and no session passed in: the
    # client offers nothing to resume (no ticket, no session id)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE   # as wrk: no chain verification
    req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
           "\r\n" % path).encode()
    st = {k: 0 for k in ("requests", "bytes", "non2xx", "connect", "read",
                         "write", "timeout", "full", "resumed")}
    lat = []
    while time.monotonic() < start:
        time.sleep(max(0.0, start - time.monotonic()))
    last = start
    while time.monotonic() < end:
        us = _one(ctx, port, req, timeout, st)
        if us is None:
            time.sleep(0.001)  # a refused connect must not spin
        else:
            lat.append(us)
        last = time.monotonic()
    st["lat"] = lat
    st["last"] = last
    with os.fdopen(wfd, "w") as f:
        json.dump(st, f)


def _pct(sorted_us, p):
    if not sorted_us:
        return None
    i = min(len(sorted_us) - 1, int(round(p / 100.0 * len(sorted_us))) - 1)
    return sorted_us[max(0, i)]


def _ms(us):
    return "%.2fms" % (us / 1000.0)


def client_main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="lib_tls.py client")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/1k")
    ap.add_argument("--duration", type=float, default=3)
    ap.add_argument("--procs", type=int, default=HS_CLIENTS)
    ap.add_argument("--tag", default="")
    a = ap.parse_args(argv)
    path = a.path + ("%sprobe=%s" % ("&" if "?" in a.path else "?", a.tag)
                     if a.tag else "")
    start = time.monotonic() + 0.1 + 0.02 * a.procs
    end = start + a.duration
    kids = []
    for _ in range(a.procs):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            code = 0
            try:
                _child(a.port, path, start, end, w)
            except BaseException:
                code = 1
            os._exit(code)
        os.close(w)
        kids.append((pid, r))
    tot = {k: 0 for k in ("requests", "bytes", "non2xx", "connect", "read",
                          "write", "timeout", "full", "resumed")}
    lat, last, failed = [], start, 0
    for pid, r in kids:
        with os.fdopen(r) as f:
            data = f.read()
        os.waitpid(pid, 0)
        try:
            st = json.loads(data)
        except ValueError:
            failed += 1
            continue
        for k in tot:
            tot[k] += st[k]
        lat += st["lat"]
        last = max(last, st["last"])
    elapsed = max(1e-3, last - start)
    lat.sort()
    print("Running %gs test @ https://127.0.0.1:%d%s" % (a.duration, a.port,
                                                        path))
    print("  bench/lib_tls.py: %d processes, one connection each at a time, "
          "a new TLS session per request (no resumption offered)" % a.procs)
    print("Latency Distribution")
    for p in (50, 75, 90, 99):
        v = _pct(lat, p)
        print("  %3d%%  %s" % (p, _ms(v) if v is not None else "-"))
    print("  %d requests in %.2fs, %.2fMB read" % (
        tot["requests"], elapsed, tot["bytes"] / 1048576.0))
    if tot["connect"] or tot["read"] or tot["write"] or tot["timeout"]:
        print("  Socket errors: connect %d, read %d, write %d, timeout %d"
              % (tot["connect"], tot["read"], tot["write"], tot["timeout"]))
    if tot["non2xx"]:
        print("  Non-2xx or 3xx responses: %d" % tot["non2xx"])
    print("Requests/sec: %10.2f" % (tot["requests"] / elapsed))
    print("TLS handshakes: full %d, resumed %d" % (tot["full"],
                                                  tot["resumed"]))
    if failed:
        print("client processes that failed: %d" % failed)
    return 1 if failed else 0


def parse_client(out):
    """(full, resumed) handshakes from the client's output, (None, None)
    when it has no such line."""
    m = re.search(r"^TLS handshakes: full (\d+), resumed (\d+)", out, re.M)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


# ----------------------------------------------------------------- report


def is_tls_case(name):
    return name.startswith("tls-")


TLS_HS_COLUMNS = [  # key, heading, format, scale, with its ×HA
    ("rps", "handshakes/s", ".0f", 1, True),
    ("cpu_us", "CPU ms/handshake", ".3f", 1e-3, True),
    ("sys_pct", "kernel %", ".0f", 1, False),
    ("p50_ms", "p50 ms", ".2f", 1, False),
    ("p99_ms", "p99 ms", ".2f", 1, False),
    ("rss_mb", "RSS MiB", ".1f", 1, False),
]
TLS_KA_COLUMNS = [
    ("rps", "req/s", ".0f", 1, True),
    ("cpu_us", "CPU µs/req", ".1f", 1, True),
    ("sys_pct", "kernel %", ".0f", 1, False),
    ("p50_ms", "p50 ms", ".2f", 1, False),
    ("p99_ms", "p99 ms", ".2f", 1, True),
    ("rss_mb", "RSS MiB", ".1f", 1, False),
]


def _fmt(v, spec):
    return "—" if v is None else format(v, spec)


def _table(rows, columns, extra_head, extra_cells):
    head = ["proxy"]
    for _, h, _, _, r in columns:
        head += [h] + (["×HA"] if r else [])
    head += extra_head + ["errors"]
    lines = ["| " + " | ".join(head) + " |",
             "|---|" + "|".join(["---:"] * (len(head) - 1)) + "|"]
    for row in rows:
        cells = [row["proxy"]]
        for key, _, spec, scale, r in columns:
            v = row.get(key)
            cells.append(_fmt(None if v is None else v * scale, spec))
            if r:
                cells.append(_fmt(row.get(key + "_ratio"), ".2f"))
        cells += extra_cells(row)
        cells.append(str(row["errors"]) + (", %d crash(es)" % row["crashes"]
                                           if row.get("crashes") else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def resumed_text(row):
    full, res = row.get("tls_full"), row.get("tls_resumed")
    if full is None:
        return "—"
    return "%d of %d" % (res, full + res)


def section_lines(table, info):
    """The report's "TLS" section.  info: {"negotiated": {proxy: dict},
    "probe": {proxy: {tag: [full, resumed, other]}}, "hs_clients": N,
    "connections": N}."""
    hs = [r for r in table if r["case"] == "tls-hs"]
    ka = [r for r in table if r["case"] == "tls-ka-1k"]
    lines = ["", "## TLS", ""]
    bad = [r["proxy"] for r in hs if r.get("tls_resumed")]
    if bad:
        lines += ["**RESUMED HANDSHAKES in tls-hs on %s: those figures are "
                  "not full-handshake figures (see Problems).**"
                  % ", ".join(bad), ""]
    lines += ["TLS terminated at the proxy (one worker / thread each, on the "
              "1-worker proxies' CPU), plain HTTP/1.1 to origin A; the same "
              "certificate for all three (ECDSA P-256, self-signed, made "
              "with the openssl CLI at bench start), TLS 1.2 and 1.3 "
              "allowed, session caches and tickets at each one's defaults. "
              "Medians over the repetitions; ×HA = ratio to %s."
              % TLS_BASELINE, ""]
    neg = info.get("negotiated") or {}
    if neg:
        lines += ["Negotiated (`openssl s_client`, default client):", ""]
        for px, n in neg.items():
            lines.append("- %s: %s" % (px, negotiated_text(n)))
        lines.append("")
    if hs:
        lines += ["**tls-hs**: full handshakes. bench/lib_tls.py's client "
                  "(%d processes on the load CPU, each one connection at a "
                  "time): TCP connect, a full TLS handshake (no session or "
                  "ticket offered), `GET /1k` with `Connection: close`, the "
                  "whole response, close; handshakes/s = completed "
                  "requests/s, CPU ms/handshake = the proxy's CPU time per "
                  "connection (handshake, request, close), p50/p99 = the "
                  "whole connection. resumed = handshakes the client saw "
                  "resumed (must be 0)." % info.get("hs_clients", HS_CLIENTS),
                  ""]
        lines += _table(hs, TLS_HS_COLUMNS, ["resumed"],
                        lambda row: [resumed_text(row)])
        lines.append("")
    probe = info.get("probe") or {}
    if probe:
        lines += ["Resumption, server side: a twin of each TLS proxy (the "
                  "same configuration plus an access log of its resumed "
                  "flag) driven for %g s by this client, then for %g s by "
                  "`wrk -H 'Connection: close'` (initial / resumed "
                  "handshakes as the proxy logged them):"
                  % (PROBE_SECONDS, PROBE_SECONDS), ""]
        for px, c in probe.items():
            lines.append("- %s: %s" % (px, probe_text(c)))
        lines.append("")
    if ka:
        lines += ["**tls-ka-1k**: keep-alive requests over TLS, `wrk -t1 "
                  "-c%d` on https://, 1 KiB bodies (one handshake per "
                  "connection at the start, then only records)."
                  % info.get("connections", 50), ""]
        lines += _table(ka, TLS_KA_COLUMNS, [], lambda row: [])
    return lines


def probe_text(c):
    """One line of the probe's counts (see bench/run's tls_probe())."""
    if "error" in c:
        return "probe failed: %s" % c["error"]
    parts = []
    for tag, label in (("client", "bench client"), ("wrk", "wrk")):
        full, res, other = c.get(tag) or (0, 0, 0)
        text = "%s: %d initial / %d resumed" % (label, full, res)
        if other:
            text += (", **%d without a resumed flag** (the proxy logged "
                     "neither value)" % other)
        if not (full or res or other):
            text = "%s: **no line logged**" % label
        if tag == "client" and c.get("client_saw"):
            saw = c["client_saw"]
            text += " (the client saw %s full, %s resumed)" % (
                "?" if saw[0] is None else saw[0],
                "?" if saw[1] is None else saw[1])
        parts.append(text)
    return "; ".join(parts)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        sys.exit(client_main(sys.argv[2:]))
    sys.stderr.write("usage: lib_tls.py client --port P [--path /1k] "
                     "[--duration S] [--procs N] [--tag T]\n")
    sys.exit(2)
