"""bench/lib_stream.py: the TCP relay part of bench/run (issue 10's
Benchmark): the tcp-* cases on haproxy-1-tcp, nginx-1-tcp and
relais-1-tcp, and only there.

- the three proxies' configurations: HAProxy `mode tcp` (frontend +
  backend, `balance roundrobin`), nginx `stream {}` (Debian's
  ngx_stream_module, loaded with load_module), Relais `Listen … tcp` with
  mod_proxy_stream's `ProxyStream balancer://origin` over one
  `BalancerMember tcp://…`; each with one worker / thread, one origin.
- the origin (`python3 lib_stream.py origin --port P`), one process that
  speaks two tiny protocols on the same port, told apart by the first
  byte a client sends:
    "S<n>\\n"  -> it sends n bytes (sendfile() from a memfd, so the origin
                 costs little next to the proxy) and closes;
    anything else -> it echoes what it reads until EOF, then closes.
- the clients (`python3 lib_stream.py client ...`), pinned by bench/run
  like wrk and printing wrk's figures in wrk's format, so bench/run reads
  them with its wrk parser:
    tcp-1g:    one connection, "S1073741824\\n", then every byte read into
               a 1 MiB buffer (recv_into) and counted until EOF; the
               "request" is the whole transfer: requests/s = transfers/s,
               its latency = the transfer's wall time, and the proxy's CPU
               per request = its CPU per GiB;
    tcp-short: for --duration seconds, --conns connections at a time
               (non-blocking sockets, epoll): connect, send 64 bytes, read
               the 64 echoed bytes (checked), close; requests = completed
               connections.
- check(): the sanity check before the sweep (8 MiB of the origin's
  pattern byte for byte, and 20 echoes).
- the report's "TCP relay" section.
"""
import errno
import os
import select
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the checkout

PROXIES = ["haproxy-1-tcp", "nginx-1-tcp", "relais-1-tcp"]
BASELINE = "haproxy-1-tcp"
NEEDS_MODULES = {"relais-1-tcp": ["mod_balancer.so",
                                  "mod_proxy_stream.so"]}
CASE_BULK = "tcp-1g"
CASE_SHORT = "tcp-short"
BULK_BYTES = 1 << 30
WARMUP_BULK_BYTES = 64 << 20   # the warm-up of tcp-1g: a smaller transfer
BULK_TIMEOUT = 25.0   # below bench/run's run_wrk() limit (duration + 30 s)
ECHO_BYTES = 64
NGINX_STREAM_SO = "/usr/lib/nginx/modules/ngx_stream_module.so"

# the origin's bulk data: a pattern the sanity check can verify
PATTERN = bytes(range(256)) * 4096          # 1 MiB
MEMFD_BYTES = 16 << 20                      # sendfile() wraps around it
VERIFY = PATTERN + PATTERN[:256]  # any 1 MiB read, at any offset mod 256


def is_stream_case(name):
    return name.startswith("tcp-")


# ---------------------------------------------------------- configurations


def haproxy_conf(d, port, origin, limit, no_strict):
    """HAProxy in TCP mode, one thread, its defaults otherwise (no
    `option splice-auto`: HAProxy splices only when told)."""
    conf = os.path.join(d, "haproxy.cfg")
    with open(conf, "w") as f:
        f.write("""global
    nbthread 1
    maxconn %(limit)d
%(strict)s
defaults
    mode tcp
    timeout connect 5s
    timeout client 65s
    timeout server 65s

frontend fe
    bind 127.0.0.1:%(port)d
    default_backend origin

backend origin
    balance roundrobin
    server o0 127.0.0.1:%(origin)d
""" % {"limit": limit, "port": port, "origin": origin,
       "strict": "    no strict-limits\n" if no_strict else ""})
    return conf


def nginx_conf(prefix, port, origin, as_root, limit, nofile):
    """nginx's stream module (Debian ships it as a dynamic module), one
    worker; proxy_buffer_size and the rest at their defaults."""
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""load_module %(so)s;
%(user)sworker_processes 1;
worker_rlimit_nofile %(nofile)d;
daemon off;
master_process on;
pid %(prefix)s/nginx.pid;
error_log %(prefix)s/error.log warn;
events { worker_connections %(limit)d; }
stream {
    upstream origin {
        server 127.0.0.1:%(origin)d;
    }
    server {
        listen 127.0.0.1:%(port)d;
        proxy_pass origin;
    }
}
""" % {"so": NGINX_STREAM_SO, "user": "user root;\n" if as_root else "",
       "nofile": nofile, "prefix": prefix, "limit": limit, "port": port,
       "origin": origin})
    return conf


def relais_conf(root, port, origin, mpm, sizing):
    """mod_proxy_stream on a `Listen … tcp` listener, a one-member
    balancer (the same shape as HAProxy's backend and nginx's upstream);
    mpm, sizing: bench/run's relais_mpm_lines() (event, one child of one
    thread)."""
    conf = os.path.join(root, "relais.conf")
    with open(conf, "w") as f:
        f.write("""%(mpm)sLoadModule proxy_module modules/mod_proxy.so
LoadModule balancer_module modules/mod_balancer.so
LoadModule proxy_stream_module modules/mod_proxy_stream.so
Listen 127.0.0.1:%(port)d tcp
ErrorLog logs/error_log
LogLevel warn
PidFile logs/relaisd.pid
%(user)s%(sizing)s<Proxy balancer://origin>
    BalancerMember tcp://127.0.0.1:%(origin)d
</Proxy>
<VirtualHost 127.0.0.1:%(port)d>
    ProxyStream balancer://origin
</VirtualHost>
""" % {"mpm": mpm, "sizing": sizing, "port": port, "origin": origin,
       "user": "User root\n" if os.geteuid() == 0 else ""})
    return conf


def origin_cmd(python, port):
    return [python, os.path.abspath(__file__), "origin", "--port", str(port)]


def client_cmd(python, case, port, duration, conns, warmup=False):
    """The load of one run of a tcp-* case (bench/run pins it)."""
    cmd = [python, os.path.abspath(__file__), "client", "--port", str(port)]
    if case == CASE_BULK:
        return cmd + ["--bulk", str(WARMUP_BULK_BYTES if warmup
                                    else BULK_BYTES)]
    return cmd + ["--duration", str(duration), "--conns", str(conns)]


# ------------------------------------------------------------------ origin


def _bulk_source():
    """A memfd of MEMFD_BYTES of PATTERN: sendfile() from it costs the
    origin no copy in user space."""
    fd = os.memfd_create("relais-bench-bulk")
    for _ in range(MEMFD_BYTES // len(PATTERN)):
        os.write(fd, PATTERN)
    return fd


def _send_bulk(s, n, src):
    """Sends n bytes of the pattern on blocking socket s, then closes it."""
    try:
        s.setblocking(True)
        sent = 0
        while sent < n:
            off = sent % MEMFD_BYTES
            k = os.sendfile(s.fileno(), src, off,
                            min(n - sent, MEMFD_BYTES - off))
            if k <= 0:
                break
            sent += k
    except OSError:
        pass
    finally:
        s.close()


def origin_main(port):
    """The echo / bulk origin: one epoll loop for the echo connections
    (every short connection costs it an accept, a read, a write, a read of
    EOF and a close), a thread per bulk transfer."""
    src = _bulk_source()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(4096)
    ls.setblocking(False)
    ep = select.epoll()
    ep.register(ls.fileno(), select.EPOLLIN)
    conns = {}   # fd -> [socket, first bytes until a decision, pending out]
    IN, OUT = select.EPOLLIN, select.EPOLLOUT

    def drop(fd):
        c = conns.pop(fd)
        try:
            ep.unregister(fd)
        except OSError:
            pass
        c[0].close()

    while True:
        for fd, ev in ep.poll():
            if fd == ls.fileno():
                while True:
                    try:
                        s, _ = ls.accept()
                    except BlockingIOError:
                        break
                    except OSError as e:
                        if e.errno in (errno.EMFILE, errno.ENFILE):
                            time.sleep(0.01)
                        break
                    s.setblocking(False)
                    conns[s.fileno()] = [s, b"", b""]
                    ep.register(s.fileno(), IN)
                continue
            c = conns.get(fd)
            if c is None:
                continue
            s = c[0]
            if ev & OUT and c[2]:
                try:
                    k = s.send(c[2])
                    c[2] = c[2][k:]
                except BlockingIOError:
                    pass
                except OSError:
                    drop(fd)
                    continue
                if not c[2]:
                    ep.modify(fd, IN)
                continue
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                drop(fd)
                continue
            if not data:
                drop(fd)
                continue
            if c[1] is not None:
                # undecided: bulk ("S<n>\n") or echo (anything else)
                head = c[1] + data
                if head[:1] == b"S":
                    if b"\n" not in head:
                        c[1] = head
                        continue
                    n = int(head[1:head.index(b"\n")])
                    del conns[fd]
                    ep.unregister(fd)
                    threading.Thread(target=_send_bulk, args=(s, n, src),
                                     daemon=True).start()
                    continue
                c[1] = None
                data = head
            if c[2]:
                c[2] += data
                continue
            try:
                k = s.send(data)
            except BlockingIOError:
                k = 0
            except OSError:
                drop(fd)
                continue
            if k < len(data):
                c[2] = data[k:]
                ep.modify(fd, IN | OUT)


# ----------------------------------------------------------------- clients


def bulk(port, n, timeout=BULK_TIMEOUT, verify=False):
    """One transfer of n bytes from the origin through the proxy:
    {"bytes", "seconds", "error", "mismatch" (verify: first offset that
    is not the pattern, or None)}."""
    out = {"bytes": 0, "seconds": None, "error": "", "mismatch": None}
    buf = bytearray(1 << 20)
    mv = memoryview(buf)
    t0 = time.monotonic()
    end = t0 + timeout
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError as e:
        out["error"] = "connect: %s" % e
        return out
    got = 0
    try:
        s.sendall(b"S%d\n" % n)
        while True:
            s.settimeout(max(0.01, end - time.monotonic()))
            k = s.recv_into(buf)
            if not k:
                break
            if verify and out["mismatch"] is None:
                # the byte at offset x is x % 256
                o = got % 256
                if mv[:k] != VERIFY[o:o + k]:
                    out["mismatch"] = got + next(
                        i for i in range(k) if buf[i] != (got + i) % 256)
            got += k
            if got > n:
                break
    except socket.timeout:
        out["error"] = "timeout after %g s" % timeout
    except OSError as e:
        out["error"] = "read: %s" % e
    finally:
        s.close()
    out["bytes"] = got
    out["seconds"] = time.monotonic() - t0
    if not out["error"] and got != n:
        out["error"] = "%d bytes, not %d" % (got, n)
    return out


def echo_once(port, timeout=5.0):
    """One blocking short connection: None when the 64 bytes came back,
    else what went wrong."""
    msg = b"E" + bytes(range(65, 65 + ECHO_BYTES - 1))
    try:
        with socket.create_connection(("127.0.0.1", port),
                                      timeout=timeout) as s:
            s.sendall(msg)
            got = b""
            while len(got) < ECHO_BYTES:
                b = s.recv(4096)
                if not b:
                    break
                got += b
    except OSError as e:
        return "%s: %s" % (type(e).__name__, e)
    return None if got == msg else "echo: %r" % got[:80]


def short_load(port, duration, conns, timeout=10.0):
    """tcp-short: `conns` connections at a time for `duration` seconds,
    each connect, 64 bytes out, the same 64 back (checked), close."""
    msg = b"E" + bytes(range(65, 65 + ECHO_BYTES - 1))
    addr = ("127.0.0.1", port)
    ep = select.epoll()
    live = {}   # fd -> [socket, t0, bytes read, connected]
    st = {"requests": 0, "bytes": 0, "connect": 0, "read": 0, "write": 0,
          "timeout": 0, "bad": 0}
    lat = []
    start = time.monotonic()
    end = start + duration

    def open_one():
        s = socket.socket()
        s.setblocking(False)
        err = s.connect_ex(addr)
        if err not in (0, errno.EINPROGRESS):
            st["connect"] += 1
            s.close()
            return False
        live[s.fileno()] = [s, time.monotonic(), b"", False]
        ep.register(s.fileno(), select.EPOLLOUT)
        return True

    def close(fd):
        c = live.pop(fd)
        ep.unregister(fd)
        c[0].close()

    last_sweep = start
    while True:
        now = time.monotonic()
        if now < end:
            while len(live) < conns:
                if not open_one():
                    time.sleep(0.001)  # a refused connect must not spin
                    break
        elif not live:
            break
        if now >= end + timeout:
            break
        for fd, ev in ep.poll(0.05):
            c = live.get(fd)
            if c is None:
                continue
            s = c[0]
            if not c[3]:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    st["connect"] += 1
                    close(fd)
                    continue
                try:
                    s.send(msg)   # 64 bytes: always fits an empty buffer
                except OSError:
                    st["write"] += 1
                    close(fd)
                    continue
                c[3] = True
                ep.modify(fd, select.EPOLLIN)
                continue
            try:
                b = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                st["read"] += 1
                close(fd)
                continue
            if not b:
                st["read"] += 1
                close(fd)
                continue
            c[2] += b
            if len(c[2]) >= ECHO_BYTES:
                t = time.monotonic()
                if c[2] != msg:
                    st["bad"] += 1
                # a connection that ends after the measured time is not
                # counted (its CPU mostly falls outside the window)
                if t <= end:
                    st["requests"] += 1
                    st["bytes"] += len(c[2])
                    lat.append(int((t - c[1]) * 1e6))
                close(fd)
        now = time.monotonic()
        if now - last_sweep > 0.5:
            last_sweep = now
            for fd in [fd for fd, c in live.items() if now - c[1] > timeout]:
                st["timeout"] += 1
                close(fd)
    for fd in list(live):
        st["timeout"] += 1
        close(fd)
    st["lat"] = lat
    st["elapsed"] = duration
    return st


def _pct(sorted_us, p):
    if not sorted_us:
        return None
    i = min(len(sorted_us) - 1, int(round(p / 100.0 * len(sorted_us))) - 1)
    return sorted_us[max(0, i)]


def _ms(us):
    return "%.2fms" % (us / 1000.0)


def print_wrk(what, port, lat_us, requests, elapsed, nbytes, errors,
              non2xx=0):
    """Figures in wrk's format (bench/run's parse_wrk reads them)."""
    print("Running test @ tcp://127.0.0.1:%d" % port)
    print("  bench/lib_stream.py: %s" % what)
    lat_us = sorted(lat_us)
    if lat_us:
        print("Latency Distribution")
        for p in (50, 75, 90, 99):
            print("  %3d%%  %s" % (p, _ms(_pct(lat_us, p))))
    print("  %d requests in %.2fs, %.2fMB read" % (requests, elapsed,
                                                   nbytes / 1048576.0))
    if any(errors.values()):
        print("  Socket errors: connect %d, read %d, write %d, timeout %d"
              % (errors.get("connect", 0), errors.get("read", 0),
                 errors.get("write", 0), errors.get("timeout", 0)))
    if non2xx:
        print("  Non-2xx or 3xx responses: %d" % non2xx)
    print("Requests/sec: %10.4f" % (requests / max(1e-6, elapsed)))


def client_main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="lib_stream.py client")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bulk", type=int, default=0,
                    help="one transfer of this many bytes (tcp-1g)")
    ap.add_argument("--duration", type=float, default=3)
    ap.add_argument("--conns", type=int, default=50)
    a = ap.parse_args(argv)
    if a.bulk:
        r = bulk(a.port, a.bulk)
        ok = not r["error"]
        secs = r["seconds"] or 0.0
        print_wrk("one connection, %d bytes from the origin" % a.bulk,
                  a.port, [int(secs * 1e6)] if ok else [], 1 if ok else 0,
                  secs, r["bytes"], {"read": 0 if ok else 1})
        print("Transfer: %d bytes in %.3f s, %.1f MiB/s%s" % (
            r["bytes"], secs, r["bytes"] / 1048576.0 / max(1e-6, secs),
            "" if ok else " (FAILED: %s)" % r["error"]))
        return 0 if ok else 1
    st = short_load(a.port, a.duration, a.conns)
    print_wrk("%d connections at a time, each connect, %d bytes echoed, "
              "close" % (a.conns, ECHO_BYTES), a.port, st["lat"],
              st["requests"], st["elapsed"], st["bytes"],
              {k: st[k] for k in ("connect", "read", "write", "timeout")},
              non2xx=st["bad"])
    return 0


# ------------------------------------------------------------ sanity check


def check(port):
    """Before the sweep: 8 MiB through the proxy, byte for byte the
    origin's pattern, and 20 echoes.  A list of problems (empty: fine)."""
    problems = []
    r = bulk(port, 8 << 20, timeout=20, verify=True)
    if r["error"]:
        problems.append("8 MiB transfer: %s" % r["error"])
    elif r["mismatch"] is not None:
        problems.append("8 MiB transfer: byte %d differs from the origin's"
                        % r["mismatch"])
    for i in range(20):
        why = echo_once(port)
        if why:
            problems.append("echo %d: %s" % (i + 1, why))
            break
    return problems


# ----------------------------------------------------------------- report

COLUMNS = {  # case -> [key, heading, format, scale, with its ×HA]
    CASE_BULK: [
        ("mib_s", "MiB/s", ".0f", 1, True),
        ("p50_ms", "transfer s", ".2f", 1e-3, False),
        ("cpu_us", "CPU s/GiB", ".3f", 1e-6, True),
        ("sys_pct", "kernel %", ".0f", 1, False),
        ("rss_mb", "RSS MiB", ".1f", 1, False),
    ],
    CASE_SHORT: [
        ("rps", "conn/s", ".0f", 1, True),
        ("p50_ms", "p50 ms", ".2f", 1, False),
        ("p99_ms", "p99 ms", ".2f", 1, False),
        ("cpu_us", "CPU µs/conn", ".1f", 1, True),
        ("sys_pct", "kernel %", ".0f", 1, False),
        ("rss_mb", "RSS MiB", ".1f", 1, False),
    ],
}


def _fmt(v, spec):
    return "—" if v is None else format(v, spec)


def _with_mib_s(row):
    """tcp-1g's throughput: rps is transfers of BULK_BYTES per second."""
    row = dict(row)
    if row.get("rps") is not None:
        row["mib_s"] = row["rps"] * BULK_BYTES / 1048576.0
        row["mib_s_ratio"] = row.get("rps_ratio")
    return row


def table_lines(rows, columns):
    head = ["proxy"]
    for _, h, _, _, r in columns:
        head += [h] + (["×HA"] if r else [])
    head.append("errors")
    lines = ["| " + " | ".join(head) + " |",
             "|---|" + "|".join(["---:"] * (len(head) - 1)) + "|"]
    for row in rows:
        cells = [row["proxy"]]
        for key, _, spec, scale, r in columns:
            v = row.get(key)
            cells.append(_fmt(None if v is None else v * scale, spec))
            if r:
                cells.append(_fmt(row.get(key + "_ratio"), ".2f"))
        cells.append(str(row["errors"]) + (", %d crash(es)" % row["crashes"]
                                           if row.get("crashes") else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def section_lines(table, info):
    """The report's "TCP relay" section.  info: {"connections": N,
    "warmup": S}."""
    bulk_rows = [_with_mib_s(r) for r in table if r["case"] == CASE_BULK]
    short = [r for r in table if r["case"] == CASE_SHORT]
    if not bulk_rows and not short:
        return []
    lines = ["", "## TCP relay", "",
             "TCP proxying, one worker / thread each on the 1-worker "
             "proxies' CPU, to one origin (bench/lib_stream.py's, on the "
             "load CPU): haproxy-1-tcp `mode tcp` (`balance roundrobin`, "
             "one server; no `option splice-auto`, its default), "
             "nginx-1-tcp `stream {}` (`proxy_pass` to a one-server "
             "`upstream`), relais-1-tcp `Listen … tcp` + `ProxyStream "
             "balancer://origin` (one `BalancerMember tcp://`). Medians "
             "over the repetitions; ×HA = ratio to %s. CPU = utime + "
             "stime of the proxy's processes over the measured run."
             % BASELINE, ""]
    if bulk_rows:
        lines += ["**tcp-1g**: one connection, 1 GiB from the origin "
                  "(sendfile) through the proxy to the client (recv_into "
                  "a 1 MiB buffer, bytes counted; the warm-up moves 64 "
                  "MiB). MiB/s = 1 GiB / the transfer's wall time; CPU "
                  "s/GiB = the proxy's CPU time for the transfer. The "
                  "client and the origin share the load CPU, so MiB/s "
                  "may be theirs; CPU s/GiB is the proxy's own.", ""]
        lines += table_lines(bulk_rows, COLUMNS[CASE_BULK])
        lines.append("")
    if short:
        lines += ["**tcp-short**: for the run's duration, %d connections "
                  "at a time from one client process (non-blocking, "
                  "epoll): connect, %d bytes out, the same %d echoed back "
                  "by the origin (checked), close; conn/s = completed "
                  "connections per second, p50/p99 = connect to echo, CPU "
                  "µs/conn = the proxy's CPU time per completed connection "
                  "(accept, backend connect, two relays, two closes). "
                  "The Python client and origin share the load CPU and "
                  "set conn/s; CPU µs/conn is the proxy's."
                  % (info.get("connections", 50), ECHO_BYTES, ECHO_BYTES),
                  ""]
        lines += table_lines(short, COLUMNS[CASE_SHORT])
        lines.append("")
    return lines + ratio_lines(bulk_rows + short)


def ratio_lines(rows):
    """Relais against HAProxy, per case, on the figure to judge it by (the
    proxy's CPU per unit of work: lower is better) and on throughput."""
    rel = {r["case"]: r for r in rows if r["proxy"] == "relais-1-tcp"}
    base = {r["case"]: r for r in rows if r["proxy"] == BASELINE}
    out = []
    for case, cpu_label, scale, spec, tput in (
            (CASE_BULK, "CPU s/GiB", 1e-6, ".3f", "MiB/s"),
            (CASE_SHORT, "CPU µs/conn", 1, ".1f", "conn/s")):
        r, b = rel.get(case), base.get(case)
        if not r or not b:
            continue
        key = "mib_s" if case == CASE_BULK else "rps"
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            case, cpu_label,
            _fmt(None if r.get("cpu_us") is None else r["cpu_us"] * scale,
                 spec),
            _fmt(None if b.get("cpu_us") is None else b["cpu_us"] * scale,
                 spec),
            _fmt(r.get("cpu_us_ratio"), ".2f"),
            "%s ×%s" % (tput, _fmt(r.get(key + "_ratio"), ".2f"))))
    if not out:
        return []
    return (["Relais against HAProxy (the figure is the proxy's CPU per "
             "unit of work, lower is better; throughput ratio: higher is "
             "better):", "",
             "| case | figure | relais-1-tcp | %s | ratio | throughput "
             "×HA |" % BASELINE, "|---|---|---:|---:|---:|---|"]
            + out + [""])


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        sys.exit(client_main(sys.argv[2:]))
    if len(sys.argv) > 2 and sys.argv[1] == "origin":
        import argparse
        ap = argparse.ArgumentParser(prog="lib_stream.py origin")
        ap.add_argument("--port", type=int, required=True)
        origin_main(ap.parse_args(sys.argv[2:]).port)
    sys.stderr.write("usage: lib_stream.py origin --port P | client --port "
                     "P (--bulk BYTES | [--duration S] [--conns N])\n")
    sys.exit(2)
