"""What the balancer-manager tests share: a front with two (or more)
recording backends behind balancer://app and the manager at
/balancer-manager, the manager's JSON, a form POST, counting which backend
got what, a graceful restart."""
import http.client
import json
import os
import signal
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import mpm_lines  # noqa: E402

MANAGER = "/balancer-manager"


def manager_conf(front, members, mpm="event", balancer_extra="", extra="",
                 manager_extra=""):
    """relaisd on 127.0.0.1:front: mod_proxy, mod_balancer, mod_status,
    balancer://app holding `members` (BalancerMember lines), the manager
    at /balancer-manager, everything else proxied to the balancer."""
    return mpm_lines(mpm) + """
LoadModule proxy_module modules/mod_proxy.so
LoadModule balancer_module modules/mod_balancer.so
LoadModule status_module modules/mod_status.so
ErrorLog logs/error_log
LogLevel info
PidFile logs/relaisd.pid
Listen 127.0.0.1:%d
%s
<Proxy "balancer://app">
%s
%s
</Proxy>
<Location "/balancer-manager">
    SetHandler balancer-manager
%s
</Location>
ProxyPass /balancer-manager !
ProxyPass / balancer://app/
""" % (front, extra, members, balancer_extra, manager_extra)


def request(port, method, path, body=None, headers=None):
    """One request on its own connection: (status, headers dict, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def state(port):
    """The manager's JSON (GET ?json): a dict with a fresh nonce."""
    status, headers, body = request(port, "GET", MANAGER + "?json")
    assert status == 200, (status, body)
    assert headers["content-type"].startswith("application/json")
    return json.loads(body)


def member(st, url, balancer="balancer://app"):
    """One member's entry in the manager's JSON."""
    for b in st["balancers"]:
        if b["name"] == balancer:
            for m in b["members"]:
                if m["name"] == url:
                    return m
    return None


def balancer(st, name="balancer://app"):
    for b in st["balancers"]:
        if b["name"] == name:
            return b
    return None


def post(port, fields, nonce="fresh", json_answer=True, headers=None):
    """POSTs a change (form-encoded); nonce="fresh" takes one from the
    JSON first, None sends none.  Returns (status, headers, body)."""
    fields = dict(fields)
    if nonce == "fresh":
        nonce = state(port)["nonce"]
    if nonce is not None:
        fields["nonce"] = nonce
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    h.update(headers or {})
    return request(port, "POST", MANAGER + ("?json" if json_answer else ""),
                   urllib.parse.urlencode(fields), h)


def change(port, url, **fields):
    """Changes member `url` of balancer://app (w_status_D=1, w_lf=3…);
    asserts it was accepted and returns the new state."""
    f = {"b": "app", "w": url}
    f.update(fields)
    status, _, body = post(port, f)
    assert status == 200, (status, body)
    return json.loads(body)


def get(port, path="/x", headers=None):
    status, _, body = request(port, "GET", path, headers=headers)
    return status, body


def served_by(port, backends, n, path="/x", headers=None):
    """n requests (each must answer 200): how many each backend got."""
    for b in backends:
        b.reset()
    for _ in range(n):
        status, body = get(port, path, headers)
        assert status == 200, (status, body)
    return [sum(1 for q in b.requests if q.target == path.encode())
            for b in backends]


def wait_log(relais, text, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if text in relais.error_log():
            return True
        time.sleep(0.05)
    return False


def graceful(relais):
    """A graceful restart (SIGUSR1, what `relaisctl graceful` sends), then
    waits until a new generation of children serves."""
    old = set(relais.children())
    relais.send(signal.SIGUSR1)
    end = time.time() + 15
    while time.time() < end:
        now = set(relais.children())
        if now and not (now & old):
            return
        time.sleep(0.05)
    raise AssertionError("no new generation of children")
