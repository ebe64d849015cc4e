"""What the server-status and metrics tests share: a relaisd with an
application vhost (balancer://app over recording Python backends, health
checks on) and an admin vhost for the status page and the metrics (so that
scraping never counts into the application's figures), an HTTP client, a
strict parser of Prometheus's text exposition format 0.0.4, and parsers of
?auto and of the HTML tables."""
import html.parser
import http.client
import math
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import mpm_lines  # noqa: E402

STATUS_SO = "modules/mod_status.so"


def status_conf(app, admin, backends, mpm="event", admin_require="",
                extra="", member_extra="hcmethod=GET hcuri=/hc hcinterval=1",
                app_name="app.example", acl=False, app_extra=""):
    """relaisd with two vhosts: app.example on 127.0.0.1:app proxies
    everything to balancer://app (one BalancerMember per backend, with
    `member_extra`); admin.example on 127.0.0.1:admin serves
    /server-status and /metrics (guarded by `admin_require` lines)."""
    members = "\n".join("    BalancerMember %s %s" % (b.url, member_extra)
                        for b in backends)
    return mpm_lines(mpm) + """
LoadModule proxy_module modules/mod_proxy.so
LoadModule balancer_module modules/mod_balancer.so
LoadModule healthcheck_module modules/mod_healthcheck.so
%sLoadModule status_module %s
ErrorLog logs/error_log
LogLevel info
PidFile logs/relaisd.pid
Listen 127.0.0.1:%d
Listen 127.0.0.1:%d
%s
<VirtualHost 127.0.0.1:%d>
    ServerName %s
%s
    <Proxy "balancer://app">
%s
    </Proxy>
    ProxyPass / balancer://app/
</VirtualHost>
<VirtualHost 127.0.0.1:%d>
    ServerName admin.example
    <Location /server-status>
        SetHandler server-status
%s
    </Location>
    <Location /metrics>
        SetHandler metrics
%s
    </Location>
</VirtualHost>
""" % ("LoadModule acl_module modules/mod_acl.so\n" if acl else "",
       STATUS_SO, app, admin, extra, app, app_name, app_extra, members,
       admin,
       admin_require, admin_require)


def request(port, path, method="GET", headers=None, host=None):
    """One request on its own connection: (status, headers, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        h = dict(headers or {})
        if host:
            h["Host"] = host
        c.request(method, path, headers=h)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def traffic(port, n, path="/page"):
    """n GET requests (each must answer 200), on one keep-alive
    connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for i in range(n):
            c.request("GET", "%s/%d" % (path, i))
            r = c.getresponse()
            r.read()
            assert r.status == 200, r.status
    finally:
        c.close()


def wait_until(fn, timeout=10.0, step=0.1):
    """fn() until it returns something true; that value, or the last."""
    end = time.time() + timeout
    v = fn()
    while not v and time.time() < end:
        time.sleep(step)
        v = fn()
    return v


# ----------------------------------------------------------------------
# ?auto
# ----------------------------------------------------------------------

def parse_auto(body):
    """?auto: the host line, then "Key: value" lines (httpd's format).
    Returns (host, {key: value}); asserts every line has the form."""
    text = body.decode("utf-8")
    assert text.endswith("\n"), "?auto must end with a newline"
    lines = text[:-1].split("\n")
    host, fields = lines[0], {}
    assert host and ":" not in host.replace("::", "") or host.startswith("["), \
        "first line is the host name: %r" % host
    for ln in lines[1:]:
        m = re.match(r"^([A-Za-z][A-Za-z0-9 ]*): (.*)$", ln)
        assert m, "not a 'Key: value' line: %r" % ln
        assert m.group(1) not in fields, "key twice: %r" % m.group(1)
        fields[m.group(1)] = m.group(2)
    return host, fields


def auto(port):
    status, headers, body = request(port, "/server-status?auto")
    assert status == 200, (status, body)
    assert headers["content-type"].startswith("text/plain")
    return parse_auto(body)[1]


# ----------------------------------------------------------------------
# Prometheus text exposition format 0.0.4, parsed strictly
# ----------------------------------------------------------------------

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
FLOAT = re.compile(r"[+-]?(Inf|NaN|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)\Z")


class ExpositionError(AssertionError):
    pass


def _fail(lineno, line, why):
    raise ExpositionError("line %d: %s: %r" % (lineno, why, line))


def _parse_float(s, lineno, line):
    if not FLOAT.match(s):
        _fail(lineno, line, "not a float: %r" % s)
    return float(s.replace("Inf", "inf").replace("NaN", "nan"))


def _parse_labels(s, i, lineno, line):
    """Labels from s[i] == '{' to the matching '}': (dict, index after)."""
    labels = {}
    i += 1
    while True:
        if i >= len(s):
            _fail(lineno, line, "unterminated label set")
        if s[i] == "}":
            return labels, i + 1
        m = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*").match(s, i)
        if not m:
            _fail(lineno, line, "bad label name")
        name = m.group(0)
        if name.startswith("__"):
            _fail(lineno, line, "label names starting with __ are reserved")
        i = m.end()
        if s[i:i + 2] != '="':
            _fail(lineno, line, "expected =\" after label name")
        i += 2
        value = []
        while True:
            if i >= len(s):
                _fail(lineno, line, "unterminated label value")
            c = s[i]
            if c == "\\":
                nxt = s[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    _fail(lineno, line, "bad escape \\%s" % nxt)
                value.append("\n" if nxt == "n" else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                _fail(lineno, line, "raw newline in a label value")
            else:
                value.append(c)
                i += 1
        if name in labels:
            _fail(lineno, line, "label %s twice" % name)
        labels[name] = "".join(value)
        if s[i:i + 1] == ",":
            i += 1
            if s[i:i + 1] == "}":  # a trailing comma is allowed
                continue
        elif s[i:i + 1] != "}":
            _fail(lineno, line, "expected , or } after a label")


def _family_of(name, types):
    """The family a sample belongs to (histogram/summary suffixes)."""
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            base = name[:-len(suffix)]
            if types.get(base) in ("histogram", "summary"):
                if suffix == "_bucket" and types[base] == "summary":
                    return name
                return base
    return name


def parse_metrics(text):
    """Parses the whole exposition strictly (rules of format 0.0.4):
    HELP/TYPE lines (at most one of each per family, both before its
    samples), names, label syntax and escapes, float values, each family's
    lines in one block, no series twice, histograms with cumulative
    buckets ending with +Inf equal to _count, and a _sum.  Returns
    {"types": {family: type}, "help": {family: text},
    "samples": {(name, frozenset(labels.items())): value}}."""
    if text and not text.endswith("\n"):
        raise ExpositionError("the exposition must end with a newline")
    types, helps, samples = {}, {}, {}
    seen_names = set()   # sample names so far
    with_samples = set()  # families with samples so far
    closed = set()       # families whose block has ended
    current = None

    def enter(lineno, line, fam):
        nonlocal current
        if fam in closed:
            _fail(lineno, line, "the lines of %s are not in one block" % fam)
        if current is not None and current != fam:
            closed.add(current)
        current = fam

    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) < 3 or parts[0] != "#" or \
                    parts[1] not in ("HELP", "TYPE"):
                continue  # a comment
            name = parts[2]
            if not METRIC_NAME.match(name):
                _fail(lineno, line, "bad metric name")
            if name in with_samples or any(
                    n in seen_names for n in
                    (name, name + "_bucket", name + "_sum", name + "_count")):
                _fail(lineno, line, "%s after the samples" % parts[1])
            enter(lineno, line, name)
            if parts[1] == "HELP":
                if name in helps:
                    _fail(lineno, line, "a second HELP")
                doc = parts[3] if len(parts) > 3 else ""
                if re.search(r"\\[^\\n]", doc.replace("\\\\", "")):
                    _fail(lineno, line, "bad escape in HELP")
                helps[name] = doc
            else:
                if name in types:
                    _fail(lineno, line, "a second TYPE")
                if len(parts) != 4 or parts[3] not in TYPES:
                    _fail(lineno, line, "unknown type")
                types[name] = parts[3]
            continue
        m = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*").match(line)
        if not m:
            _fail(lineno, line, "bad metric name")
        name = m.group(0)
        i = m.end()
        labels = {}
        if line[i:i + 1] == "{":
            labels, i = _parse_labels(line, i, lineno, line)
        rest = line[i:]
        if not rest.startswith(" "):
            _fail(lineno, line, "expected a space before the value")
        fields = rest.strip(" ").split(" ")
        if len(fields) not in (1, 2):
            _fail(lineno, line, "expected a value and an optional timestamp")
        value = _parse_float(fields[0], lineno, line)
        if len(fields) == 2 and not re.match(r"-?\d+\Z", fields[1]):
            _fail(lineno, line, "bad timestamp")
        fam = _family_of(name, types)
        enter(lineno, line, fam)
        seen_names.add(name)
        with_samples.add(fam)
        key = (name, frozenset(labels.items()))
        if key in samples:
            _fail(lineno, line, "a series twice")
        samples[key] = value
        t = types.get(fam, "untyped")
        if t == "counter" and not value >= 0:
            _fail(lineno, line, "a counter below 0")
        if t == "histogram":
            if name == fam:
                _fail(lineno, line, "a histogram has _bucket, _sum, _count")
            if name.endswith("_bucket") and "le" not in labels:
                _fail(lineno, line, "a bucket without le")
            if not name.endswith("_bucket") and "le" in labels:
                _fail(lineno, line, "le outside a bucket")
    for fam, t in types.items():
        if t == "histogram":
            _check_histogram(fam, samples)
    return {"types": types, "help": helps, "samples": samples}


def _check_histogram(fam, samples):
    series = {}
    for (name, labels), v in samples.items():
        if name != fam + "_bucket":
            continue
        d = dict(labels)
        le = d.pop("le")
        series.setdefault(frozenset(d.items()), []).append(
            (float(le.replace("+Inf", "inf")), le, v))
    for key in {l for (n, l) in samples if n in (fam + "_sum", fam + "_count")}:
        series.setdefault(key, [])
    for key, buckets in series.items():
        buckets.sort()
        les = [b[0] for b in buckets]
        if not buckets or not math.isinf(les[-1]):
            raise ExpositionError("%s%s: no +Inf bucket" % (fam, dict(key)))
        if len(set(les)) != len(les):
            raise ExpositionError("%s%s: an le twice" % (fam, dict(key)))
        counts = [b[2] for b in buckets]
        if any(b > a for a, b in zip(counts[1:], counts)):
            raise ExpositionError("%s%s: buckets not cumulative: %r"
                                  % (fam, dict(key), counts))
        count = samples.get((fam + "_count", key))
        if count is None or (fam + "_sum", key) not in samples:
            raise ExpositionError("%s%s: _count or _sum missing"
                                  % (fam, dict(key)))
        if count != counts[-1]:
            raise ExpositionError("%s%s: +Inf bucket %r != _count %r"
                                  % (fam, dict(key), counts[-1], count))


def check_order_in_text(text):
    """The buckets of each series appear in increasing le order in the
    text itself (what a scraper reading line by line expects)."""
    last = {}
    for line in text.split("\n"):
        m = re.match(r'^(\w+)_bucket\{(.*)le="([^"]+)"\} ', line)
        if not m:
            continue
        key = (m.group(1), m.group(2))
        le = float(m.group(3).replace("+Inf", "inf"))
        assert key not in last or le > last[key], line
        last[key] = le


def metrics(port):
    status, headers, body = request(port, "/metrics")
    assert status == 200, (status, body)
    assert headers["content-type"].startswith("text/plain; version=0.0.4"), \
        headers["content-type"]
    text = body.decode("utf-8")
    check_order_in_text(text)
    return parse_metrics(text), text


def value(m, name, **labels):
    """One series' value, or None."""
    return m["samples"].get((name, frozenset(labels.items())))


def total(m, name, **labels):
    """Sum of the series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, l), v in m["samples"].items()
               if n == name and want <= set(l))


# ----------------------------------------------------------------------
# The HTML page
# ----------------------------------------------------------------------

class Tables(html.parser.HTMLParser):
    """Every <table> of a page as a list of rows of cell texts, with the
    heading (h2/h3) that comes before it; and the meta tags."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables, self.metas, self.headings = [], [], []
        self._row = self._cell = None
        self._heading = None
        self._last_heading = ""

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"heading": self._last_heading, "rows": []})
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in ("h1", "h2", "h3"):
            self._heading = []
        elif tag == "meta":
            self.metas.append(dict(attrs))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1]["rows"].append(self._row)
            self._row = None
        elif tag in ("h1", "h2", "h3") and self._heading is not None:
            self._last_heading = "".join(self._heading).strip()
            self.headings.append(self._last_heading)
            self._heading = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading.append(data)


def page(port, query=""):
    status, headers, body = request(port, "/server-status" + query)
    assert status == 200, (status, body)
    assert headers["content-type"].startswith("text/html")
    t = Tables()
    t.feed(body.decode("utf-8"))
    t.close()
    return t, headers, body.decode("utf-8")


def table_after(t, heading):
    """The rows (as dicts keyed by the header row) of the table after
    `heading`."""
    for tab in t.tables:
        if tab["heading"] == heading:
            head = tab["rows"][0]
            return [dict(zip(head, r)) for r in tab["rows"][1:]]
    raise AssertionError("no table after %r (headings: %r)"
                         % (heading, t.headings))
