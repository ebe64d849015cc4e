"""SetHandler balancer-manager without a browser: the nonce and the origin
check (no CSRF), each change with its effect on real traffic (which
recording backend answered), the notice log line, the JSON API and its
curl examples, and what survives a graceful restart."""
import base64
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import free_port
from helpers_proxy import Backend
from helpers_status_manager import (MANAGER, balancer, change, graceful,
                                    manager_conf, member, post, request,
                                    served_by, state, wait_log)


@pytest.fixture
def two():
    a, b = Backend(), Backend()
    yield a, b
    a.stop()
    b.stop()


def start(relais, backends, mpm="event", params=("", ""), balancer_extra="",
          extra=""):
    front = free_port()
    members = "\n".join("    BalancerMember %s %s" % (b.url, p)
                        for b, p in zip(backends, params))
    relais.write_conf(manager_conf(front, members, mpm=mpm,
                                   balancer_extra=balancer_extra,
                                   extra=extra))
    relais.start(front)
    return front


# ----------------------------------------------------------------------
# no change without a good nonce, from this server's own page
# ----------------------------------------------------------------------

def test_manager_refuses_without_good_nonce(relais, two):
    a, b = two
    front = start(relais, two)
    disable = {"b": "app", "w": b.url, "w_status_D": "1"}

    status, _, body = post(front, disable, nonce=None)
    assert status == 403 and b"no nonce" in body
    status, _, body = post(front, disable, nonce="0" * 32)
    assert status == 403 and b"stale or unknown nonce" in body
    status, _, body = post(front, disable, nonce="not-hex")
    assert status == 403

    # a nonce is good once: the second use is stale
    nonce = state(front)["nonce"]
    status, _, _ = post(front, {"b": "app", "w": b.url, "w_lf": "2"},
                        nonce=nonce)
    assert status == 200
    status, _, body = post(front, disable, nonce=nonce)
    assert status == 403 and b"stale" in body

    # another site's page: refused even with a good nonce (and the nonce
    # is not spent on it)
    nonce = state(front)["nonce"]
    for h in ({"Origin": "http://evil.example"},
              {"Origin": "null"},
              {"Origin": "http://127.0.0.1:%d" % (front + 1)},
              {"Referer": "http://evil.example/page.html"}):
        status, _, body = post(front, disable, nonce=nonce, headers=h)
        assert status == 403 and b"cross-site" in body, (h, body)
    assert member(state(front), b.url)["status"]["disabled"] is False
    assert served_by(front, [a, b], 10)[1] > 0

    # this server's own page (as a browser says it): accepted
    status, _, _ = post(front, disable, nonce=nonce,
                        headers={"Origin": "http://127.0.0.1:%d" % front,
                                 "Referer": "http://127.0.0.1:%d%s"
                                 % (front, MANAGER)})
    assert status == 200
    assert served_by(front, [a, b], 10) == [10, 0]
    log = relais.error_log()
    assert log.count("balancer-manager: change refused (403)") == 8
    assert "cross-site request refused" in log


def test_manager_get_changes_nothing(relais, two):
    a, b = two
    front = start(relais, two)
    status, _, _ = request(front, "GET", MANAGER + "?b=app&w=%s&w_status_D=1"
                           % b.url)
    assert status == 200
    assert member(state(front), b.url)["status"]["disabled"] is False
    status, headers, _ = request(front, "PUT", MANAGER, body="x")
    assert status == 405 and "POST" in headers.get("allow", "")
    # JSON bodies are not taken: the form encoding only
    nonce = state(front)["nonce"]
    status, _, body = request(front, "POST", MANAGER, json.dumps(
        {"nonce": nonce, "b": "app"}), {"Content-Type": "application/json"})
    assert status == 415


def test_manager_logs_the_user(relais, two, tmp_path):
    """Behind a login (mod_acl's AuthType Basic) the log names the user
    who made the change."""
    a, b = two
    pw = str(tmp_path / "htpasswd")
    subprocess.run([shutil.which("htpasswd") or "/usr/bin/htpasswd", "-b",
                    "-c", "-B", pw, "alice", "s3cret"], check=True,
                   capture_output=True)
    front = free_port()
    relais.write_conf(manager_conf(
        front, "    BalancerMember %s\n    BalancerMember %s" % (a.url, b.url),
        extra="LoadModule acl_module modules/mod_acl.so",
        manager_extra='    AuthType Basic\n    AuthName "balancers"\n'
                      '    AuthUserFile %s\n    Require valid-user' % pw))
    relais.start(front)
    auth = {"Authorization": "Basic " +
            base64.b64encode(b"alice:s3cret").decode()}
    status, _, _ = request(front, "GET", MANAGER + "?json")
    assert status == 401
    status, _, body = request(front, "GET", MANAGER + "?json", headers=auth)
    assert status == 200
    status, _, _ = post(front, {"b": "app", "w": b.url, "w_status_D": "1"},
                        nonce=json.loads(body)["nonce"], headers=auth)
    assert status == 200
    assert wait_log(relais, "disabled off -> on (by 127.0.0.1, user alice)")
    assert served_by(front, [a, b], 10) == [10, 0]


# ----------------------------------------------------------------------
# each change, seen in traffic
# ----------------------------------------------------------------------

@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_manager_disable_enable(relais, two, mpm):
    a, b = two
    front = start(relais, two, mpm=mpm)
    assert min(served_by(front, [a, b], 10)) > 0

    st = change(front, b.url, w_status_D="1")
    assert member(st, b.url)["status"]["disabled"] is True
    assert member(st, b.url)["set_at_run_time"] == ["disabled"]
    # every child (prefork: several processes) sees it at once
    assert served_by(front, [a, b], 20) == [20, 0]
    assert wait_log(relais, "balancer-manager: balancer://app member %s: "
                    "disabled off -> on (by 127.0.0.1, user -)" % b.url)
    assert re.search(r"\[status:notice\].*\[client 127\.0\.0\.1:\d+\] "
                     r"balancer-manager: balancer://app member", relais.error_log())

    st = change(front, b.url, w_status_D="0")
    assert member(st, b.url)["status"]["disabled"] is False
    assert member(st, b.url)["set_at_run_time"] == []  # back to the config
    assert served_by(front, [a, b], 20)[1] > 0
    assert wait_log(relais, "disabled on -> off")


def test_manager_stopped(relais, two):
    a, b = two
    front = start(relais, two)
    change(front, a.url, w_status_S="1")
    assert served_by(front, [a, b], 10) == [0, 10]


def test_manager_drain_keeps_sticky_sessions(relais, two):
    a, b = two
    front = start(relais, two, params=("route=a", "route=b"),
                  balancer_extra="    ProxySet stickysession=SID")
    st = change(front, b.url, w_status_N="1")
    assert member(st, b.url)["status"]["draining"] is True
    # new sessions avoid it...
    assert served_by(front, [a, b], 20) == [20, 0]
    # ...its own sessions still reach it
    assert served_by(front, [a, b], 10,
                     headers={"Cookie": "SID=xyz.b"}) == [0, 10]
    assert wait_log(relais, "draining off -> on")


def test_manager_hot_standby(relais):
    a, b = Backend(), Backend()
    try:
        front = start(relais, (a, b))
        change(front, b.url, w_status_H="1")
        assert served_by(front, [a, b], 10) == [10, 0]
        # the standby takes over when nothing else can
        change(front, a.url, w_status_D="1")
        assert served_by(front, [a, b], 10) == [0, 10]
        assert wait_log(relais, "hot_standby off -> on")
    finally:
        a.stop()
        b.stop()


def test_manager_loadfactor(relais, two):
    a, b = two
    # one child: byrequests' rotation is per child, exact in one
    front = start(relais, two, extra="StartServers 1\nServerLimit 1\n")
    assert served_by(front, [a, b], 20) == [10, 10]
    st = change(front, a.url, w_lf="3")
    assert member(st, a.url)["loadfactor"] == 3
    assert member(st, a.url)["configured"]["loadfactor"] == 1
    assert served_by(front, [a, b], 40) == [30, 10]
    assert wait_log(relais, "loadfactor 1 -> 3")
    status, _, body = post(front, {"b": "app", "w": a.url, "w_lf": "0"})
    assert status == 400 and b"1 to 100" in body


def test_manager_route(relais, two):
    a, b = two
    front = start(relais, two, params=("route=a", "route=b"),
                  balancer_extra="    ProxySet stickysession=SID")
    old = {"Cookie": "SID=s1.b"}
    new = {"Cookie": "SID=s1.blue"}
    assert served_by(front, [a, b], 6, headers=old) == [0, 6]
    st = change(front, b.url, w_wr="blue")
    assert member(st, b.url)["route"] == "blue"
    assert served_by(front, [a, b], 10, headers=new) == [0, 10]
    # the old route no longer sticks to b: the sessions spread
    assert served_by(front, [a, b], 10, headers=old)[0] > 0
    assert wait_log(relais, "route 'b' -> 'blue'")
    status, _, body = post(front, {"b": "app", "w": b.url, "w_wr": "a b"})
    assert status == 400


def test_manager_lbmethod(relais, two):
    a, b = two
    front = start(relais, two)
    assert min(served_by(front, [a, b], 10, path="/same")) > 0
    nonce = state(front)["nonce"]
    status, _, body = post(front, {"b": "app", "b_lbm": "hash"}, nonce=nonce)
    assert status == 200, body
    st = json.loads(body)
    assert balancer(st)["lbmethod"] == "hash"
    assert balancer(st)["configured"]["lbmethod"] == "byrequests"
    # hash (of the URI): one path always goes to one member
    assert sorted(served_by(front, [a, b], 20, path="/same")) == [0, 20]
    assert wait_log(relais, "balancer-manager: balancer://app: lbmethod "
                    "byrequests -> hash")
    status, _, _ = post(front, {"b": "app", "b_lbm": "byrequests"})
    assert status == 200
    assert min(served_by(front, [a, b], 10, path="/same")) > 0
    status, _, body = post(front, {"b": "app", "b_lbm": "nosuch"})
    assert status == 400 and b"nosuch" in body
    status, _, body = post(front, {"b": "nosuch", "b_lbm": "hash"})
    assert status == 404


# ----------------------------------------------------------------------
# the JSON API, as the documentation's curl examples use it
# ----------------------------------------------------------------------

def test_manager_json_api(relais, two):
    a, b = two
    front = start(relais, two, params=("route=a loadfactor=2", ""))
    st = state(front)
    assert re.fullmatch(r"[0-9a-f]{32}", st["nonce"])
    app = balancer(st)
    assert app["lbmethod"] == "byrequests"
    assert {"byrequests", "bybusyness", "hash", "random"} <= \
        set(app["lbmethods"])
    m = member(st, a.url)
    assert (m["route"], m["loadfactor"], m["usable"]) == ("a", 2, True)
    assert member(st, b.url)["route"] is None
    # the answer to a POST ?json carries the next nonce: changes chain
    status, _, body = post(front, {"b": "app", "w": b.url,
                                   "w_status_D": "1"}, nonce=st["nonce"])
    assert status == 200
    st2 = json.loads(body)
    assert st2["nonce"] != st["nonce"]
    status, _, body = post(front, {"b": "app", "w": b.url,
                                   "w_status_D": "0", "w_lf": "4"},
                           nonce=st2["nonce"])
    assert status == 200
    assert member(json.loads(body), b.url)["loadfactor"] == 4
    # a form POST (the page's) is answered with 303 back to the page
    status, headers, _ = post(front, {"b": "app", "w": b.url, "w_lf": "5"},
                              json_answer=False)
    assert status == 303 and headers["location"] == MANAGER


CURL_EXAMPLE = r"""
set -e
url=http://127.0.0.1:$PORT/balancer-manager
curl -s "$url?json" > /dev/null
nonce=$(curl -s "$url?json" | sed 's/^{"nonce":"\([0-9a-f]*\)".*/\1/')
curl -s -d "nonce=$nonce" -d b=app -d "w=$MEMBER" -d w_status_D=1 "$url?json" \
    > /dev/null
nonce=$(curl -s "$url?json" | sed 's/^{"nonce":"\([0-9a-f]*\)".*/\1/')
curl -s -o /dev/null -w '%{http_code}\n' -d "nonce=$nonce" -d b=app \
    -d b_lbm=bybusyness "$url"
"""


def test_manager_curl_examples(relais, two):
    """The commands of docs/status.md ("Balancer manager"), run with
    curl."""
    a, b = two
    front = start(relais, two)
    out = subprocess.run(["bash", "-c", CURL_EXAMPLE], capture_output=True,
                         text=True, timeout=30,
                         env=dict(os.environ, PORT=str(front),
                                  MEMBER=b.url))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "303"
    st = state(front)
    assert member(st, b.url)["status"]["disabled"] is True
    assert balancer(st)["lbmethod"] == "bybusyness"


# ----------------------------------------------------------------------
# graceful restarts
# ----------------------------------------------------------------------

@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_manager_changes_survive_graceful(relais, mpm):
    a, b, c = Backend(), Backend(), Backend()
    try:
        front = free_port()
        members = ("    BalancerMember %s route=a\n"
                   "    BalancerMember %s route=b\n" % (a.url, b.url))
        relais.write_conf(manager_conf(front, members, mpm=mpm))
        relais.start(front)
        change(front, b.url, w_status_D="1")
        change(front, a.url, w_lf="7", w_wr="red")
        status, _, _ = post(front, {"b": "app", "b_lbm": "bytraffic"})
        assert status == 200

        graceful(relais)
        st = state(front)
        assert member(st, b.url)["status"]["disabled"] is True
        assert sorted(member(st, b.url)["set_at_run_time"]) == ["disabled"]
        assert member(st, a.url)["loadfactor"] == 7
        assert member(st, a.url)["route"] == "red"
        assert balancer(st)["lbmethod"] == "bytraffic"
        assert served_by(front, [a, b], 20) == [20, 0]
        assert wait_log(relais, "member %s keeps what was set at run time: "
                        "disabled on" % b.url)

        # a second restart keeps them too (records are carried on)
        graceful(relais)
        assert served_by(front, [a, b], 10) == [10, 0]

        # b removed from the configuration, c added, a's loadfactor
        # changed in the file: b is gone, the file's loadfactor wins, the
        # route set at run time stays
        members = ("    BalancerMember %s route=a loadfactor=2\n"
                   "    BalancerMember %s\n" % (a.url, c.url))
        relais.write_conf(manager_conf(front, members, mpm=mpm))
        graceful(relais)
        st = state(front)
        names = [m["name"] for m in balancer(st)["members"]]
        assert names == [a.url, c.url]
        assert member(st, a.url)["loadfactor"] == 2
        assert member(st, a.url)["route"] == "red"
        assert member(st, c.url)["status"]["disabled"] is False
        counts = served_by(front, [a, b, c], 30)
        assert counts[1] == 0 and counts[2] > 0
        assert wait_log(relais, "the configuration changed loadfactor")

        # b comes back in the file: it starts from its configuration
        members += "    BalancerMember %s route=b\n" % b.url
        relais.write_conf(manager_conf(front, members, mpm=mpm))
        graceful(relais)
        assert member(state(front), b.url)["status"]["disabled"] is False
        assert served_by(front, [a, b, c], 30)[1] > 0

        # a full stop and start returns to the file
        relais.stop()
        relais.start(front)
        st = state(front)
        assert member(st, a.url)["route"] == "a"
        assert balancer(st)["lbmethod"] == "byrequests"
    finally:
        a.stop()
        b.stop()
        c.stop()


def test_manager_page_html(relais, two):
    a, b = two
    front = start(relais, two, params=("route=x<y>&z", ""))
    status, headers, body = request(front, "GET", MANAGER)
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    page = body.decode()
    assert page.count('<form class="member"') == 2
    assert 'data-member="%s"' % b.url in page
    assert re.search(r'name="nonce" value="[0-9a-f]{32}"', page)
    # what an operator typed is escaped
    assert "x<y>" not in page and "x&lt;y&gt;&amp;z" in page
