"""SetHandler server-status: the HTML page (vhosts, balancers and members
with the right counts after real traffic through balancer://app to
recording Python backends, children and threads, escaping), ?refresh=N,
under every MPM."""
import re

import pytest

from conftest import MPMS, free_port
from helpers_proxy import Backend
from helpers_status import (page, request, status_conf, table_after,
                            traffic, wait_until)

N = 24


@pytest.fixture
def two_backends():
    bs = [Backend(), Backend()]
    yield bs
    for b in bs:
        b.stop()


def start(relais, backends, mpm="event", **kw):
    app, admin = free_port(), free_port()
    relais.write_conf(status_conf(app, admin, backends, mpm=mpm, **kw))
    relais.start(port=admin)
    return app, admin


def row_named(rows, key, name):
    for r in rows:
        if r[key] == name:
            return r
    raise AssertionError("no row %r in %r" % (name, rows))


@pytest.mark.parametrize("mpm", MPMS)
def test_page_shows_vhosts_balancers_members(relais, two_backends, mpm):
    app, admin = start(relais, two_backends, mpm)
    # both members checked once, so that the page has a result to show
    wait_until(lambda: all(any(q.target == b"/hc" for q in b.requests)
                           for b in two_backends))
    traffic(app, N)
    vh = "app.example:%d" % app

    def settled():
        t, _, _ = page(admin)
        rows = table_after(t, "Virtual hosts")
        r = row_named(rows, "Name", vh)
        return t if r["Requests"] == str(N) else None
    t = wait_until(settled)
    assert t, "the page never showed %d requests for %s" % (N, vh)
    body_t, _, body = page(admin)

    # virtual hosts: both, with their addresses; the app's N requests all 2xx
    rows = table_after(t, "Virtual hosts")
    app_row = row_named(rows, "Name", vh)
    assert app_row["Address"] == "127.0.0.1:%d" % app
    assert app_row["2xx"] == str(N)
    assert app_row["4xx"] == app_row["5xx"] == "0"
    # the page counted before: it is a request to the admin vhost
    admin_row = row_named(table_after(body_t, "Virtual hosts"), "Name",
                          "admin.example:%d" % admin)
    assert int(admin_row["Requests"]) >= 1

    # the balancer and its members, with the counts the backends saw
    assert "balancer://app" in t.headings
    assert "lbmethod byrequests; 2 of 2 members up" in \
        re.sub(r"<[^>]+>", "", body)
    members = table_after(t, "balancer://app")
    assert len(members) == 2
    got = [sum(1 for q in b.requests if q.target.startswith(b"/page/"))
           for b in two_backends]
    assert sum(got) == N
    for b, n in zip(two_backends, got):
        r = row_named(members, "Member", b.url)
        assert r["State"] == "OK"
        assert r["Requests"] == str(n)
        assert r["Errors"] == "0"
        assert r["In flight"] == "0"
        assert r["Last health check"].startswith("passed in ")
        assert r["Mean response"] != "-"

    # the children: one row each, with one letter per thread
    kids = table_after(t, "Processes and threads")
    pids = set(relais.children())
    threads = {"prefork": 1, "worker": 25, "event": 1}[mpm]
    assert kids, "no child process listed"
    for k in kids:
        assert int(k["PID"]) in pids
        assert k["State"] == "serving"
        assert len(k["Threads"]) == threads
        assert set(k["Threads"]) <= set("_RWKCG")
    # this page is a request in progress on one of them
    assert any("W" in k["Threads"] for k in kids)
    assert sum(int(k["Requests"]) for k in kids) >= N

    # traffic totals
    traffic_rows = table_after(t, "Traffic")
    assert int(traffic_rows[0]["Requests"]) >= N


def test_page_escapes_names(relais, two_backends):
    """A vhost name with HTML special characters is escaped."""
    app, admin = start(relais, two_backends,
                       app_name='"x<script>alert(1)</script>&amp;"')
    traffic(app, 2)
    _, _, body = page(admin)
    assert "<script>" not in body
    assert "x&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;:%d" % app in body


def test_refresh(relais, two_backends):
    app, admin = start(relais, two_backends)
    t, headers, _ = page(admin)
    assert "refresh" not in headers
    assert not [m for m in t.metas if m.get("http-equiv") == "refresh"]

    t, headers, _ = page(admin, "?refresh=7")
    assert headers["refresh"] == "7"
    assert [m["content"] for m in t.metas
            if m.get("http-equiv") == "refresh"] == ["7"]

    # httpd's forms: a bare ?refresh is one second; huge values are capped
    t, headers, _ = page(admin, "?refresh")
    assert headers["refresh"] == "1"
    _, headers, _ = page(admin, "?refresh=999999")
    assert headers["refresh"] == "3600"
    # nothing of the query reaches the page
    _, headers, body = page(admin, "?refresh=5%22%3E%3Cscript%3E")
    assert headers["refresh"] == "5"
    assert "<script>" not in body and "%3Cscript" not in body

    # with ?auto: the header, no HTML
    status, headers, body = request(admin, "/server-status?auto&refresh=3")
    assert status == 200 and headers["refresh"] == "3"
    assert not body.startswith(b"<")
    # never cached
    assert headers["cache-control"] == "no-store"


def test_page_head_request(relais, two_backends):
    app, admin = start(relais, two_backends)
    status, headers, body = request(admin, "/server-status", method="HEAD")
    assert status == 200 and body == b""
    assert headers["content-type"].startswith("text/html")
