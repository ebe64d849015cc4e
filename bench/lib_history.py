"""bench/lib_history.py: bench/results/history.csv, the medians of every
run (one line per case and proxy), read back to compare a run with the
first figures recorded for the same case and proxy.

Columns are only ever added at the end.  A file written with fewer columns
is migrated in place the next time a run appends to it: its header gets
the new names and its old lines get empty cells (csv.DictReader already
reads them that way, so reading never needs the migration).
"""
import csv
import os
import tempfile

FIELDS = ["started", "commit", "case", "proxy", "reps", "duration_s",
          "rps", "p50_ms", "p99_ms", "cpu_us", "rss_mb",
          "cpu_vs_haproxy", "errors", "other_load_cpu",
          # added with --idle and --soak: the figure of an idle-<N> row
          # (RSS per idle keep-alive connection) and of a soak-<S> row
          # (RSS drift from the first to the last segment)
          "idle_kib_per_conn", "soak_rss_drift_pct",
          # added with the cache-hit cases (hit-*): CPU per hit as a ratio
          # to nginx-1-cache's, origin requests during the measured runs
          # (0: all hits) and runs whose hits were not verified
          "cpu_vs_nginx_cache", "origin_requests", "hits_unverified",
          # added with the TLS cases: handshakes of tls-hs that the
          # client saw resumed (0: all full; the tls-* rows' cpu_vs_haproxy
          # is against haproxy-1-tls)
          "tls_resumed"]


def read(path):
    """(header, rows as dicts) of path; ([], []) when it does not exist."""
    if not path or not os.path.exists(path):
        return [], []
    with open(path, newline="") as f:
        r = csv.DictReader(f)
        rows = list(r)
        return list(r.fieldnames or []), rows


def first_rows(path):
    """{(case, proxy): the first row recorded for them} (file order is
    time order: runs only append)."""
    out = {}
    for row in read(path)[1]:
        out.setdefault((row.get("case"), row.get("proxy")), row)
    return out


def migrate(path):
    """Rewrites path with the current header when it has an older one (old
    lines get empty cells for the new columns; unknown columns are kept at
    the end).  Returns the header the file has afterwards."""
    header, rows = read(path)
    if not header:
        return list(FIELDS)
    new = list(FIELDS) + [h for h in header if h not in FIELDS]
    if new == header:
        return header
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".history-", suffix=".csv", dir=d)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=new, restval="")
            w.writeheader()
            w.writerows(rows)
        os.chmod(tmp, os.stat(path).st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return new


def append(path, rows):
    """Appends rows (dicts with FIELDS keys; missing ones empty), after
    migrating an older header."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    new = not os.path.exists(path)
    header = migrate(path)
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, restval="")
        if new:
            w.writeheader()
        w.writerows(rows)
