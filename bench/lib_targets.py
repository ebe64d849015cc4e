"""bench/lib_targets.py: the performance targets of issue 5 (and issue 7's
CPU per cache hit, and the TLS issue's full handshakes and keep-alive
requests over TLS), read off one bench/run (its median table, its runs,
the idle-connection test and the soak), each with the measured value, the
reference, the ratio, the bound and a verdict; and the tables of the idle
test, the soak and the prefork / worker MPMs against the first figures
recorded in the history.

Verdicts: PASS, MISS, or "—" when the run did not measure it (or the
machine cannot: the note says why).  None of them changes bench/run's exit
status.
"""
import statistics

# ratio targets: (id, what, case, relais variant, HAProxy variant, figure,
# "le" (ratio must be ≤ bound) or "ge" (≥ bound), bound)
RATIO_TARGETS = [
    ("1a", "CPU per keep-alive request, 1 KiB, 2-member balancer",
     "ka-1k", "relais-1-lb", "haproxy-1", "cpu_us", "le", 0.80),
    ("1b", "CPU per request, `Connection: close` from clients, 1 KiB",
     "close-1k", "relais-1-lb", "haproxy-1", "cpu_us", "le", 1.00),
    ("2a", "req/s, 1 worker (HAProxy nbthread 1)",
     "ka-1k", "relais-1-lb", "haproxy-1", "rps", "ge", 1.10),
    ("2b", "req/s, 2 workers (HAProxy nbthread 2)",
     "ka-1k", "relais-2-lb", "haproxy-2", "rps", "ge", 1.10),
    ("2c", "p99 latency, {conns} connections",
     "ka-1k", "relais-1-lb", "haproxy-1", "p99_ms", "le", 1.00),
    ("2d", "p99 latency, 1000 connections",
     "ka-1k-c1000", "relais-1-lb", "haproxy-1", "p99_ms", "le", 1.00),
    ("3a", "CPU per byte, 64 KiB responses",
     "ka-64k", "relais-1-lb", "haproxy-1", "cpu_us", "le", 1.00),
    ("3b", "CPU per byte, 1 MiB responses",
     "ka-1m", "relais-1-lb", "haproxy-1", "cpu_us", "le", 1.00),
]
# issue 7: Relais's CPU per cache hit at or below nginx's (proxy_cache;
# its "mem" zone on tmpfs, since nginx's cache is always files)
CACHE_TARGETS = [
    ("7a", "CPU per cache hit, 1 KiB, memory store (nginx: tmpfs)",
     "hit-1k-mem", "relais-1-cache", "nginx-1-cache", "cpu_us", "le", 1.00),
    ("7b", "CPU per cache hit, 1 KiB, disk store",
     "hit-1k-disk", "relais-1-cache", "nginx-1-cache", "cpu_us", "le", 1.00),
    ("7c", "CPU per cache hit, 64 KiB, memory store (nginx: tmpfs)",
     "hit-64k-mem", "relais-1-cache", "nginx-1-cache", "cpu_us", "le",
     1.00),
    ("7d", "CPU per cache hit, 64 KiB, disk store",
     "hit-64k-disk", "relais-1-cache", "nginx-1-cache", "cpu_us", "le",
     1.00),
]
# the TLS issue: Relais at or above HAProxy (same certificate, one worker
# each), judged like the others on the proxy's CPU time per unit of work:
# per full handshake (tls-hs: one per request) and per keep-alive request
TLS_TARGETS = [
    ("T1", "TLS full handshakes: at or above HAProxy (CPU per full "
     "handshake, ECDSA P-256)", "tls-hs", "relais-1-tls", "haproxy-1-tls",
     "cpu_us", "le", 1.00),
    ("T2", "TLS keep-alive requests: at or above HAProxy (CPU per request, "
     "1 KiB)", "tls-ka-1k", "relais-1-tls", "haproxy-1-tls", "cpu_us", "le",
     1.00),
]
UNITS = {"cpu_us": ("µs/req", ".1f"), "rps": ("req/s", ".0f"),
         "p99_ms": ("ms", ".2f")}

IDLE_BOUND_KIB = 1.0       # RSS per idle keep-alive connection, event MPM
IDLE_TARGET_N = 10000      # ... with this many open
IDLE_RELAIS = ["relais-1-lb", "relais-1"]  # the first one measured counts
SOAK_BOUND_PCT = 5.0       # RSS drift over the soak
SOAK_TARGET_S = 600
SCALING_BOUND = 1.70       # relais-2-lb req/s over relais-1-lb's
SCALING_CASE = "ka-1k"
MPM_VARIANTS = ["relais-1-prefork", "relais-1-worker"]
MPM_CPU_BOUND = 1.10       # CPU µs/req over the first recorded figure
MPM_RPS_BOUND = 0.90       # req/s over the first recorded figure


# ------------------------------------------------------------------ helpers


def fmt(v, spec, unit=""):
    if v is None:
        return "—"
    return format(v, spec) + (" " + unit if unit else "")


def ratio(v, base):
    return None if v is None or not base else v / base


def verdict(r, how, bound):
    if r is None:
        return "—"
    ok = r <= bound if how == "le" else r >= bound
    return "PASS" if ok else "MISS"


def bound_text(how, bound, what="ratio", unit=""):
    return "%s %s %.2f%s" % (what, "≤" if how == "le" else "≥", bound,
                             " " + unit if unit else "")


def cpu_set(spec):
    """taskset list "0", "0,1", "0-3" -> {0, 1, ...}."""
    out = set()
    for part in str(spec).split(","):
        if "-" in part:
            a, b = part.split("-")
            out.update(range(int(a), int(b) + 1))
        elif part.strip():
            out.add(int(part))
    return out


def target_row(tid, what, case="", relais="", reference="", value=None,
               ref_value=None, ratio_=None, bound="", verdict_="—",
               value_text=None, ref_text=None, note=""):
    return {"id": tid, "what": what, "case": case, "relais": relais,
            "reference": reference, "value": value, "ref_value": ref_value,
            "ratio": ratio_, "bound": bound, "verdict": verdict_,
            "value_text": value_text, "ref_text": ref_text, "note": note}


# ------------------------------------------------------------ the targets


class Run:
    """What one bench/run measured, as the targets need it."""

    def __init__(self, table, results, ctx):
        self.rows = {(r["case"], r["proxy"]): r for r in table}
        self.results = results
        self.ctx = ctx

    def row(self, case, proxy):
        return self.rows.get((case, proxy))

    def missing(self, case, proxy):
        """Why (case, proxy) has no figure, or None when it has one."""
        if case not in self.ctx["cases"]:
            return "case %s not run (--cases)" % case
        if proxy not in self.ctx["proxies_requested"]:
            return "%s not run (--proxies, or its module is not built)" % proxy
        if proxy not in self.ctx["proxies"]:
            return "%s did not start (see Problems)" % proxy
        if self.row(case, proxy) is None:
            return "%s skipped %s" % (proxy, case)
        return None

    def runs(self, case, proxy):
        return [r for r in self.results
                if r["case"] == case and r["proxy"] == proxy]


def ratio_target(run, tid, what, case, relais, ref, key, how, bound):
    unit, spec = UNITS[key]
    if case == "tls-hs" and key == "cpu_us":
        unit = "µs/handshake"
    what = what.format(conns=run.ctx["connections"])
    why = run.missing(case, relais) or run.missing(case, ref)
    if why:
        return target_row(tid, what, case, relais, ref,
                          bound=bound_text(how, bound), note=why)
    a, b = run.row(case, relais), run.row(case, ref)
    r = ratio(a[key], b[key])
    v = verdict(r, how, bound)
    notes = []
    if a["errors"]:
        v = "MISS" if v != "—" else v
        notes.append("%s had %d error(s) in this case" % (relais, a["errors"]))
    if b["errors"]:
        notes.append("%s had %d error(s)" % (ref, b["errors"]))
    if case.startswith("hit-"):
        # a figure is a cache-hit figure only when every response was one
        # (Relais's misses make it a MISS; the reference's make the
        # comparison meaningless: —)
        for px, row in ((ref, b), (relais, a)):
            miss = not_all_hits(row)
            if miss:
                if v != "—":
                    v = "MISS" if px == relais else "—"
                notes.append("%s: NOT ALL HITS (%s)" % (px, miss))
    if case.startswith("tls-"):
        notes += tls_notes(relais, ref, a, b, case)
        # a resumed handshake is not the full one the target is about
        # (Relais's make it a MISS; the reference's make the comparison
        # meaningless: —)
        if a.get("tls_resumed") and v != "—":
            v = "MISS"
        elif b.get("tls_resumed"):
            v = "—"
    if key == "cpu_us" and case in ("ka-64k", "ka-1m"):
        notes.append("same bytes per request for both: the CPU/req ratio is "
                     "the CPU-per-byte ratio")
    if run.ctx.get("n_origins") == 1 and relais.endswith("-lb"):
        notes.append("HAProxy proxied to one origin in this run (--origins 1)")
    return target_row(tid, what, case, relais, ref, a[key], b[key], r,
                      bound_text(how, bound), v,
                      fmt(a[key], spec, unit), fmt(b[key], spec, unit),
                      "; ".join(notes))


def tls_notes(relais, ref, a, b, case):
    """The other figures of a TLS target's row: req/s (handshakes/s) and
    p99 ratios, and resumed handshakes when there were any."""
    out = ["%s ×%s" % ("handshakes/s" if case == "tls-hs" else "req/s",
                       fmt(ratio(a.get("rps"), b.get("rps")), ".2f"))]
    if case != "tls-hs":
        out.append("p99 ×%s" % fmt(ratio(a.get("p99_ms"), b.get("p99_ms")),
                                   ".2f"))
    for px, row in ((relais, a), (ref, b)):
        if row.get("tls_resumed"):
            out.append("%s: %d handshake(s) RESUMED" % (px,
                                                       row["tls_resumed"]))
    return out


def not_all_hits(row):
    """What says that not every measured response of a cache-hit row was a
    hit ("" when all were)."""
    bad = []
    if row.get("origin_requests") is None:
        bad.append("origin requests not counted")
    elif row["origin_requests"]:
        bad.append("%d origin request(s)" % row["origin_requests"])
    if row.get("hits_unverified"):
        bad.append("%d run(s) without a HIT before and after"
                   % row["hits_unverified"])
    return ", ".join(bad)


def idle_target(run):
    what = "RSS per idle keep-alive connection (event MPM)"
    bound = "Relais ≤ %.2f KiB" % IDLE_BOUND_KIB
    idle = run.ctx.get("idle") or {}
    if not idle:
        return target_row("4a", what, bound=bound,
                          note=run.ctx.get("idle_skipped")
                          or "idle test not run: use --idle 10000")
    px = next((p for p in IDLE_RELAIS if p in idle), None)
    if px is None:
        return target_row("4a", what, bound=bound,
                          note="no Relais event-MPM variant in the idle test "
                               "(needs relais-1-lb or relais-1)")
    a, b = idle[px], idle.get("haproxy-1")
    val = a.get("kib_per_conn")
    ref = b.get("kib_per_conn") if b else None
    v = verdict(val, "le", IDLE_BOUND_KIB)
    notes = ["%d connections open" % a.get("opened", 0)]
    if run.ctx.get("idle_lowered"):
        notes.append(run.ctx["idle_lowered"])
    elif a.get("requested", 0) < IDLE_TARGET_N:
        notes.append("the target says %d (--idle %d)"
                     % (IDLE_TARGET_N, IDLE_TARGET_N))
    lost = idle_lost(a)
    if lost:
        v = "MISS" if v != "—" else v
        notes.append("not all kept open: " + lost)
    if "nginx-1" in idle:
        notes.append("nginx-1 %s" % fmt(idle["nginx-1"].get("kib_per_conn"),
                                        ".2f", "KiB"))
    return target_row("4a", what, "idle-%s" % n_label(a.get("requested", 0)),
                      px, "haproxy-1" if b else "", val, ref, ratio(val, ref),
                      bound, v, fmt(val, ".2f", "KiB"), fmt(ref, ".2f", "KiB"),
                      "; ".join(notes))


def idle_lost(r):
    """Text for connections that failed or that the proxy closed, or ""."""
    parts = []
    if r.get("failed"):
        parts.append("%d failed to open" % r["failed"])
    if r.get("closed_while_idle"):
        parts.append("%d closed while idle" % r["closed_while_idle"])
    if r.get("unsolicited"):
        parts.append("%d got bytes nobody asked for while idle (a 408?)"
                     % r["unsolicited"])
    if r.get("sample") and r.get("sample_ok") != r.get("sample"):
        parts.append("second GET ok on %d of %d"
                     % (r.get("sample_ok", 0), r["sample"]))
    return ", ".join(parts)


def soak_target(run):
    what = "RSS drift over a soak at full load (relais-1-lb, ka-1k)"
    bound = "Relais ≤ %.0f %%" % SOAK_BOUND_PCT
    s = run.ctx.get("soak")
    if not s:
        return target_row("4b", what, bound=bound,
                          note=run.ctx.get("soak_skipped")
                          or "soak not run: use --soak %d" % SOAK_TARGET_S)
    d = s.get("drift_pct")
    v = verdict(d, "le", SOAK_BOUND_PCT)
    notes = ["%d s in %d segments; RSS first %s, last %s, max %s"
             % (s["seconds"], len(s["segments"]),
                fmt(s.get("first_kib", 0) / 1024, ".1f", "MiB"),
                fmt(s.get("last_kib", 0) / 1024, ".1f", "MiB"),
                fmt(s.get("max_kib", 0) / 1024, ".1f", "MiB"))]
    if s["seconds"] < SOAK_TARGET_S:
        notes.append("the target says %d s (--soak %d)"
                     % (SOAK_TARGET_S, SOAK_TARGET_S))
    if s.get("errors") or s.get("crashes") or s.get("pids_changed"):
        v = "MISS" if v != "—" else v
        notes.append("%d error(s), %d crash(es), process set changed in %d "
                     "segment(s)" % (s.get("errors", 0), s.get("crashes", 0),
                                     s.get("pids_changed", 0)))
    return target_row("4b", what, "soak-%d" % s["seconds"], "relais-1-lb",
                      "", d, None, None, bound, v, fmt(d, "+.1f", "%"), "—",
                      "; ".join(notes))


def load_busy(run, case, proxy):
    """(median busy fraction of the load CPUs, median CPU wrk used, in
    CPUs) over the runs of case / proxy."""
    load = cpu_set(run.ctx["load_cpus"])
    busy, wrk = [], []
    for r in run.runs(case, proxy):
        b = [r.get("cpu_busy", {}).get(c) for c in load]
        b = [x for x in b if x is not None]
        if b:
            busy.append(sum(b) / len(b))
        if r.get("wrk_cpu_us") and r.get("rps"):
            wrk.append(r["wrk_cpu_us"] * r["rps"] / 1e6)
    med = (lambda xs: statistics.median(xs) if xs else None)
    return med(busy), med(wrk)


def scaling_target(run):
    case, one, two = SCALING_CASE, "relais-1-lb", "relais-2-lb"
    what = "req/s scaling, 2 workers over 1 (relais-2-lb / relais-1-lb)"
    bound = "Relais ≥ %.2f×" % SCALING_BOUND
    why = run.missing(case, one) or run.missing(case, two)
    if why:
        return target_row("5", what, case, two, bound=bound, note=why)
    val = ratio(run.row(case, two)["rps"], run.row(case, one)["rps"])
    ref = None
    if not (run.missing(case, "haproxy-1") or run.missing(case, "haproxy-2")):
        ref = ratio(run.row(case, "haproxy-2")["rps"],
                    run.row(case, "haproxy-1")["rps"])
    c1, c2 = run.ctx["proxy_cpus"], run.ctx["proxy2_cpus"]
    cpus2, load = cpu_set(c2), cpu_set(run.ctx["load_cpus"])
    b1, w1 = load_busy(run, case, one)
    b2, w2 = load_busy(run, case, two)
    notes = ["pinning: 1 worker on CPU %s, 2 workers on CPU %s "
             "(--proxy2-cpus), wrk and origins on CPU %s"
             % (c1, c2, run.ctx["load_cpus"]),
             "CPU %s busy %s / %s in the 1- / 2-worker runs, wrk itself "
             "%s / %s CPU (the origins most of the rest)"
             % (run.ctx["load_cpus"], fmt(b1, ".2f"), fmt(b2, ".2f"),
                fmt(w1, ".2f"), fmt(w2, ".2f"))]
    if b1 is not None and b1 >= 0.95:
        notes.append("the load CPU is saturated already with 1 worker, so "
                     "req/s cannot grow whatever the proxy does")
    if len(cpus2) < 2:
        v = "—"
        notes.insert(0, "not applicable on this layout: both workers share "
                        "one CPU")
    elif cpus2 & load:
        v = "—"
        notes.insert(0, "not applicable on this layout: the 2 workers share "
                        "CPU %s with wrk and the origins"
                     % ",".join(map(str, sorted(cpus2 & load))))
    else:
        v = verdict(val, "ge", SCALING_BOUND)
    notes.append("a verdict needs 2 CPUs free for the 2 workers besides "
                 "wrk's and the origins'")
    return target_row("5", what, case, two, "haproxy-2 / haproxy-1"
                      if ref is not None else "", val, ref, None, bound, v,
                      fmt(val, ".2f", "×"), fmt(ref, ".2f", "×"),
                      "; ".join(notes))


def mpm_rows(run):
    """Per prefork / worker variant and case: the figures of this run, their
    ratio to haproxy-1, and to the first row recorded in the history."""
    first = run.ctx.get("history_first") or {}
    out = []
    for px in MPM_VARIANTS:
        for case in run.ctx["cases"]:
            a = run.row(case, px)
            if a is None:
                continue
            h = first.get((case, px))
            hcpu = _float(h.get("cpu_us")) if h else None
            hrps = _float(h.get("rps")) if h else None
            rc, rr = ratio(a["cpu_us"], hcpu), ratio(a["rps"], hrps)
            if rc is None and rr is None:
                v = "—"
            else:
                v = ("PASS" if (rc is None or rc <= MPM_CPU_BOUND)
                     and (rr is None or rr >= MPM_RPS_BOUND) else "MISS")
            out.append({
                "proxy": px, "case": case, "cpu_us": a["cpu_us"],
                "cpu_us_ratio_ha": a.get("cpu_us_ratio"), "rps": a["rps"],
                "rps_ratio_ha": a.get("rps_ratio"), "p99_ms": a["p99_ms"],
                "p99_ms_ratio_ha": a.get("p99_ms_ratio"),
                "errors": a["errors"],
                "first": ({"started": h.get("started"),
                           "commit": h.get("commit"), "cpu_us": hcpu,
                           "rps": hrps} if h else None),
                "cpu_vs_first": rc, "rps_vs_first": rr, "verdict": v})
    return out


def _float(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def mpm_targets(run, rows):
    """Two rows per variant: the worst CPU and the worst req/s ratio to
    the first recorded figures."""
    out = []
    hist = run.ctx.get("history_path") or "the history"
    for n, px in enumerate(MPM_VARIANTS):
        mine = [r for r in rows if r["proxy"] == px]
        for key, vkey, how, bound, unit, spec, label in (
                ("cpu_us", "cpu_vs_first", "le", MPM_CPU_BOUND, "µs/req",
                 ".1f", "CPU µs/req"),
                ("rps", "rps_vs_first", "ge", MPM_RPS_BOUND, "req/s", ".0f",
                 "req/s")):
            tid = "6%s" % "abcd"[2 * n + (key == "rps")]
            what = "%s, %s vs first recorded (worst case)" % (
                px.split("-")[-1], label)
            btext = bound_text(how, bound)
            if px not in run.ctx["proxies_requested"]:
                out.append(target_row(tid, what, relais=px, bound=btext,
                                      note="%s not run" % px))
                continue
            if not mine:
                out.append(target_row(tid, what, relais=px, bound=btext,
                                      note="%s has no figures in this run"
                                           % px))
                continue
            known = [r for r in mine if r[vkey] is not None]
            if not known:
                out.append(target_row(
                    tid, what, relais=px, bound=btext,
                    note="no earlier %s row in %s: this run's become the "
                         "reference once appended" % (px, hist)))
                continue
            worst = (max if how == "le" else min)(known, key=lambda r: r[vkey])
            bad = [r["case"] for r in known
                   if verdict(r[vkey], how, bound) == "MISS"]
            note = "%d case(s) compared; first recorded %s (%s)" % (
                len(known), worst["first"]["started"],
                worst["first"]["commit"])
            if bad:
                note += "; over the bound: " + ", ".join(bad)
            out.append(target_row(
                tid, what, worst["case"], px, "first recorded",
                worst[key], worst["first"][key], worst[vkey], btext,
                "MISS" if bad else "PASS", fmt(worst[key], spec, unit),
                fmt(worst["first"][key], spec, unit), note))
    return out


def evaluate(table, results, ctx):
    """(targets, mpm detail rows) for one run.  ctx: cases, proxies,
    proxies_requested, connections, load_cpus, proxy_cpus, proxy2_cpus,
    n_origins, idle ({proxy: result}), idle_skipped, soak, soak_skipped,
    history_first, history_path."""
    run = Run(table, results, ctx)
    targets = [ratio_target(run, *t) for t in RATIO_TARGETS]
    targets.append(idle_target(run))
    targets.append(soak_target(run))
    targets.append(scaling_target(run))
    rows = mpm_rows(run)
    targets += mpm_targets(run, rows)
    targets += [ratio_target(run, *t) for t in CACHE_TARGETS]
    targets += [ratio_target(run, *t) for t in TLS_TARGETS]
    return targets, rows


# ---------------------------------------------------------------- markdown


def targets_lines(targets):
    lines = ["| # | target | case | Relais | reference | ratio | bound | "
             "verdict | notes |",
             "|---|---|---|---:|---:|---:|---|---|---|"]
    for t in targets:
        rel = t["value_text"] or "—"
        if t["relais"] and rel != "—":
            rel += " (%s)" % t["relais"]
        ref = t["ref_text"] or "—"
        if t["reference"] and ref != "—":
            ref += " (%s)" % t["reference"]
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            t["id"], t["what"], t["case"] or "", rel, ref,
            fmt(t["ratio"], ".2f"), t["bound"], t["verdict"], t["note"]))
    return lines


def idle_lines(idle):
    lines = ["| proxy | connections | RSS before MiB | RSS with them MiB | "
             "KiB/conn | open s | closed while idle | second GET ok | "
             "failures |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for px, r in idle.items():
        fails = dict(r.get("failures") or {})
        for k, n in (r.get("sample_failures") or {}).items():
            fails["second GET: " + str(k)] = n
        lines.append("| %s | %d | %s | %s | %s | %s | %d | %d / %d | %s |" % (
            px, r.get("opened", 0),
            fmt(r.get("rss_base_kib", 0) / 1024, ".1f"),
            fmt(r.get("rss_idle_kib", 0) / 1024, ".1f"),
            fmt(r.get("kib_per_conn"), ".2f"), fmt(r.get("open_s"), ".1f"),
            r.get("closed_while_idle", 0), r.get("sample_ok", 0),
            r.get("sample", 0),
            "; ".join("%s: %d" % kv for kv in fails.items()) or "none"))
    return lines


def soak_lines(soak):
    lines = ["| segment | s | req/s | p99 ms | CPU µs/req | RSS MiB | errors |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for i, s in enumerate(soak["segments"], 1):
        lines.append("| %d | %d | %s | %s | %s | %s | %d%s |" % (
            i, s["seconds"], fmt(s.get("rps"), ".0f"),
            fmt(s.get("p99_ms"), ".2f"), fmt(s.get("cpu_us"), ".1f"),
            fmt(s["rss_kib"] / 1024, ".2f"),
            s.get("errors", 0),
            ", %d crash(es)" % s["crashes"] if s.get("crashes") else ""))
    return lines


def mpm_lines(rows):
    lines = ["| proxy | case | CPU µs/req | ×HA | req/s | ×HA | p99 ms | ×HA "
             "| errors | first recorded | CPU ×first | req/s ×first | "
             "verdict |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|"]
    for r in rows:
        f = r["first"]
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | "
                     "%s | %s | %s |" % (
                         r["proxy"], r["case"], fmt(r["cpu_us"], ".1f"),
                         fmt(r["cpu_us_ratio_ha"], ".2f"),
                         fmt(r["rps"], ".0f"), fmt(r["rps_ratio_ha"], ".2f"),
                         fmt(r["p99_ms"], ".2f"),
                         fmt(r["p99_ms_ratio_ha"], ".2f"), r["errors"],
                         "%s µs, %s req/s (%s, %s)" % (
                             fmt(f["cpu_us"], ".1f"), fmt(f["rps"], ".0f"),
                             f["started"], f["commit"]) if f else "none",
                         fmt(r["cpu_vs_first"], ".2f"),
                         fmt(r["rps_vs_first"], ".2f"), r["verdict"]))
    return lines


def n_label(n):
    """10000 -> "10k", 2500 -> "2500" (history case names)."""
    return "%dk" % (n // 1000) if n and n % 1000 == 0 else str(n)
