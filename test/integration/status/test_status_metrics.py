"""SetHandler metrics: Prometheus text format 0.0.4, parsed strictly
(helpers_status.parse_metrics), with real traffic through balancer://app
to recording Python backends, under every MPM: counters grow by exactly
the requests made, histograms stay consistent, a member taken down shows
up 0, and `promtool check metrics` (Debian's prometheus package) accepts
the output."""
import shutil
import subprocess

import pytest

from conftest import MPMS, free_port
from helpers_proxy import Backend
from helpers_status import (metrics, status_conf, total, traffic, value,
                            wait_until)

N = 40


@pytest.fixture
def two_backends():
    bs = [Backend(), Backend()]
    yield bs
    for b in bs:
        b.stop()


def page_requests(b):
    """Requests a backend got for /page/… (health checks are /hc)."""
    return sum(1 for q in b.requests if q.target.startswith(b"/page/"))


def start(relais, backends, mpm="event", **kw):
    app, admin = free_port(), free_port()
    relais.write_conf(status_conf(app, admin, backends, mpm=mpm, **kw))
    relais.start(port=admin)
    return app, admin


def app_label(app):
    return "app.example:%d" % app


@pytest.mark.parametrize("mpm", MPMS)
def test_metrics_count_exactly_the_requests_made(relais, two_backends, mpm):
    app, admin = start(relais, two_backends, mpm)
    vh = app_label(app)
    # health checks have run on both members
    m0 = wait_until(lambda: (lambda m: m if total(
        m, "relais_healthcheck_checks_total", result="passed") >= 2 else
        None)(metrics(admin)[0]))
    assert m0, "no health check passed"

    traffic(app, N)
    m1 = wait_until(lambda: (lambda m: m if total(
        m, "relais_requests_total", vhost=vh) >= N else None)(
            metrics(admin)[0]))
    assert m1, "the requests were not counted"

    def delta(name, **labels):
        return total(m1, name, **labels) - total(m0, name, **labels)

    # requests by vhost, status class and method: exactly N GET 2xx
    assert delta("relais_requests_total", vhost=vh) == N
    assert value(m1, "relais_requests_total", vhost=vh, code="2xx",
                 method="GET") == N
    # the duration histogram counted each of them once
    assert value(m1, "relais_request_duration_seconds_count", vhost=vh) == N
    assert value(m1, "relais_request_duration_seconds_bucket", vhost=vh,
                 le="+Inf") == N
    assert value(m1, "relais_request_duration_seconds_sum", vhost=vh) > 0
    # bytes in and out of the app vhost
    assert delta("relais_received_bytes_total", vhost=vh) > N * 20
    assert delta("relais_sent_bytes_total", vhost=vh) > N * 100

    # the members: selected, response-time histograms, errors, up
    got = [page_requests(b) for b in two_backends]
    assert sum(got) == N and min(got) > 0, got
    for b, n in zip(two_backends, got):
        labels = {"balancer": "balancer://app", "member": b.url}
        assert delta("relais_member_selected_total", **labels) == n
        assert value(m1, "relais_member_response_seconds_count",
                     **labels) == n
        assert value(m1, "relais_member_errors_total", **labels) == 0
        assert value(m1, "relais_member_up", **labels) == 1
        assert value(m1, "relais_member_in_flight", **labels) == 0
        assert value(m1, "relais_member_sent_bytes_total", **labels) > 0
        assert value(m1, "relais_member_received_bytes_total", **labels) > 0
        assert value(m1, "relais_healthcheck_last_result", **labels) == 1
        assert 0 < value(m1, "relais_healthcheck_last_duration_seconds",
                         **labels) < 5
        assert value(m1, "relais_healthcheck_checks_total", result="failed",
                     **labels) == 0

    # the rest of the families are there, with their types
    t = m1["types"]
    for name, kind in (("relais_requests_total", "counter"),
                       ("relais_request_duration_seconds", "histogram"),
                       ("relais_member_response_seconds", "histogram"),
                       ("relais_member_up", "gauge"),
                       ("relais_connections", "gauge"),
                       ("relais_workers", "gauge"),
                       ("relais_process_cpu_seconds_total", "counter"),
                       ("relais_process_resident_memory_bytes", "gauge"),
                       ("relais_healthcheck_checks_total", "counter")):
        assert t.get(name) == kind, (name, t.get(name))
    info = [(dict(l), v) for (n, l), v in m1["samples"].items()
            if n == "relais_build_info"]
    assert len(info) == 1 and info[0][0]["mpm"] == mpm and info[0][1] == 1
    # the scrape itself is a request in progress on a connection
    assert total(m1, "relais_connections", state="writing") >= 1
    assert value(m1, "relais_processes", state="serving") >= 1
    assert value(m1, "relais_process_resident_memory_bytes",
                 process="children") > 0


def test_member_taken_down_shows_zero(relais, two_backends):
    app, admin = start(relais, two_backends)
    down, alive = two_backends[1], two_backends[0]
    labels_down = {"balancer": "balancer://app", "member": down.url}
    labels_alive = {"balancer": "balancer://app", "member": alive.url}
    assert wait_until(lambda: value(metrics(admin)[0], "relais_member_up",
                                    **labels_down) == 1)
    down.stop()
    m = wait_until(lambda: (lambda m: m if value(
        m, "relais_member_up", **labels_down) == 0 else None)(
            metrics(admin)[0]))
    assert m, "the stopped member still shows up"
    assert value(m, "relais_healthcheck_last_result", **labels_down) == 0
    assert value(m, "relais_healthcheck_checks_total", result="failed",
                 **labels_down) >= 1
    assert value(m, "relais_member_up", **labels_alive) == 1
    # traffic now goes to the other member only
    before = value(m, "relais_member_selected_total", **labels_alive)
    traffic(app, 10)
    m2 = wait_until(lambda: (lambda m: m if value(
        m, "relais_member_selected_total", **labels_alive) >= before + 10
        else None)(metrics(admin)[0]))
    assert m2
    assert value(m2, "relais_member_selected_total",
                 **labels_alive) == before + 10
    assert value(m2, "relais_member_up", **labels_down) == 0


def test_label_values_escaped(relais, two_backends):
    """A vhost name with a backslash and a double quote comes out
    escaped, and the strict parser reads the name back."""
    # ServerName "a\\b\"c<i>.example" (the config's own escapes)
    app, admin = start(relais, two_backends,
                       app_name='"a\\\\b\\"c<i>.example"')
    traffic(app, 3)
    name = 'a\\b"c<i>.example:%d' % app
    m = wait_until(lambda: (lambda m: m if total(
        m, "relais_requests_total", vhost=name) >= 3 else None)(
            metrics(admin)[0]))
    assert m, "no series for %r" % name
    _, text = metrics(admin)
    assert 'vhost="a\\\\b\\"c<i>.example:%d"' % app in text


def test_extended_status_off(relais, two_backends):
    """ExtendedStatus Off: no per-request counters; the rest stays."""
    app, admin = start(relais, two_backends, extra="ExtendedStatus Off")
    traffic(app, 3)
    m, _ = metrics(admin)
    assert "relais_requests_total" not in m["types"]
    assert "relais_member_response_seconds" not in m["types"]
    assert m["types"]["relais_member_selected_total"] == "counter"
    assert total(m, "relais_member_selected_total") == 3


def test_promtool_check_metrics(relais, two_backends):
    """promtool (Debian package prometheus) checks the exposition."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    app, admin = start(relais, two_backends)
    traffic(app, 5)
    wait_until(lambda: total(metrics(admin)[0],
                             "relais_healthcheck_checks_total") >= 2)
    _, text = metrics(admin)
    p = subprocess.run([promtool, "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stdout.strip() == "" and \
        p.stderr.strip() == "", (p.returncode, p.stdout, p.stderr)


def test_method_not_allowed(relais, two_backends):
    from helpers_status import request
    app, admin = start(relais, two_backends)
    for path in ("/metrics", "/server-status"):
        status, headers, _ = request(admin, path, method="POST")
        assert status == 405
        assert headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("mpm", MPMS)
def test_counts_exact_under_concurrent_clients(relais, two_backends, mpm):
    """8 clients at once, spread over children and threads: no count is
    lost or doubled (relaxed atomic additions in shared memory)."""
    import threading
    app, admin = start(relais, two_backends, mpm)
    vh = app_label(app)
    errors = []

    def client():
        try:
            traffic(app, 25)
        except Exception as e:  # reported below
            errors.append(repr(e))
    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    m = wait_until(lambda: (lambda m: m if total(
        m, "relais_requests_total", vhost=vh) >= 200 else None)(
            metrics(admin)[0]))
    assert m, "the requests were not all counted"
    assert total(m, "relais_requests_total", vhost=vh) == 200
    assert value(m, "relais_request_duration_seconds_count", vhost=vh) == 200
    assert total(m, "relais_member_selected_total") == 200
    assert total(m, "relais_member_response_seconds_count") == 200
    assert sum(page_requests(b) for b in two_backends) == 200


def test_cache_figures(relais, two_backends):
    """With mod_cache: one miss fills the entry, the rest are hits; the
    metrics and the page say so."""
    from helpers_status import page, table_after
    for b in two_backends:
        b.on("/static", headers=[("Cache-Control", "max-age=300")],
             body=b"x" * 500)
    app, admin = start(relais, two_backends,
                       extra="LoadModule cache_module modules/mod_cache.so",
                       app_extra="    CacheEnable mem /static")
    for _ in range(10):
        traffic(app, 1, path="/static/logo")
    m = wait_until(lambda: (lambda m: m if total(
        m, "relais_cache_requests_total") >= 10 else None)(metrics(admin)[0]))
    assert m, "no cache figures"
    assert value(m, "relais_cache_requests_total", result="miss") == 1
    assert value(m, "relais_cache_requests_total", result="hit") == 9
    assert value(m, "relais_cache_requests_total", result="stale") == 0
    assert value(m, "relais_cache_stored_total") == 1
    assert value(m, "relais_cache_entries", store="mem") == 1
    # only the miss reached a backend
    assert sum(1 for b in two_backends for q in b.requests
               if q.target.startswith(b"/static/")) == 1
    t, _, body = page(admin)
    assert "Hit ratio: <b>90.0%</b> of 10 cacheable requests" in body
    row = table_after(t, "Cache")[0]
    assert row["Hits"] == "9" and row["Misses"] == "1"
