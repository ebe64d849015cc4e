"""ProxyResolver: backend host names resolved through the configured
nameservers at start-up and followed at run time by a resolver process
(c-ares), each test against a dnsmasq of its own on a free 127.0.0.1 port
that serves *.relais.test from a hosts file with a TTL of 1 s.

What is checked is what a client and an operator see: which backend
answered, the status codes, and the error log's lines."""
import http.client
import os
import re
import signal
import socket
import threading
import time

import pytest

from conftest import free_port, mpm_lines
from helpers_proxy import APACHE, Apache

DOMAIN = "relais.test"  # what the tests' dnsmasq answers for

NS_RE = re.compile(r"DNS resolver \(pid (\d+)\)")
# prctl(PR_SET_NAME, "relaisd-resolver"): the kernel keeps 15 characters
RESOLVER_COMM = "relaisd-resolve"


def conf(front, body, resolver=None, modules=("balancer",), vhost=True):
    """relaisd (event MPM) on 127.0.0.1:front, with mod_proxy and the given
    modules, ProxyResolver `resolver` (None: no line) and `body` inside a
    <VirtualHost> with a ServerName."""
    text = mpm_lines("event") + "LoadModule proxy_module modules/mod_proxy.so\n"
    for m in modules:
        text += "LoadModule %s_module modules/mod_%s.so\n" % (m, m)
    text += """ErrorLog logs/error_log
LogLevel info
PidFile logs/relaisd.pid
Listen 127.0.0.1:%d
""" % front
    if resolver is not None:
        text += "ProxyResolver %s\n" % resolver
    if vhost:
        text += """<VirtualHost 127.0.0.1:%d>
    ServerName front.relais.test
%s
</VirtualHost>
""" % (front, body)
    else:
        text += body
    return text


def fetch(port, path="/", timeout=10):
    """One request on a fresh connection: (status, body text)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode("latin-1")
    finally:
        c.close()


def tags(port, n, path="/"):
    """n requests on one keep-alive connection: the bodies (all 200)."""
    seen = []
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for _ in range(n):
            c.request("GET", path)
            r = c.getresponse()
            body = r.read().decode("latin-1")
            assert r.status == 200, (r.status, body)
            seen.append(body)
    finally:
        c.close()
    return seen


def wait_for(cond, timeout, step=0.1):
    """Polls cond() until it is true or the deadline passes; its last
    value."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


def wait_log(relais, text, timeout=8.0):
    return wait_for(lambda: text in relais.error_log(), timeout)


def start(relais, text, front):
    """Starts relaisd and waits until post_config has run (the port is
    open before it: listeners come first)."""
    relais.write_conf(text)
    relais.start(front)
    assert wait_log(relais, "resuming normal operations", timeout=10), \
        relais.error_log()


# ----------------------------------------------------------------------
# a. the seed scenario: three Apaches named by DNS, one stops under load
# ----------------------------------------------------------------------

@pytest.fixture
def apaches():
    if not os.path.exists(APACHE):
        pytest.skip("%s is not installed (Debian package apache2)" % APACHE)
    if not os.stat("/").st_mode & 0o001:
        pytest.skip("'/' is not searchable by other users here, so "
                    "apache2's unprivileged children cannot run")
    made = []
    try:
        for i in range(3):
            a = Apache()
            made.append(a)
            a._write("who.txt", b"web%d" % (i + 1))
            os.chmod(os.path.join(a.docroot, "who.txt"), 0o644)
            a.start()
        yield made
    finally:
        for a in made:
            a.stop()


def test_apaches_by_name_one_stops_under_load(relais, dnsmasq, apaches):
    dns = dnsmasq([("127.0.0.1", "web%d.%s" % (i + 1, DOMAIN))
                   for i in range(3)])
    front = free_port()
    members = "\n".join(
        "        BalancerMember http://web%d.%s:%d hcmethod=GET "
        "hcuri=/who.txt hcinterval=200ms hcfails=1 hcpasses=1"
        % (i + 1, DOMAIN, a.port) for i, a in enumerate(apaches))
    start(relais, conf(front, """    <Proxy "balancer://web">
%s
    </Proxy>
    ProxyPass / balancer://web/
""" % members, resolver="127.0.0.1:%d" % dns.port,
        modules=("balancer", "healthcheck")), front)
    log = relais.error_log()
    for i, a in enumerate(apaches):
        assert "member http://web%d.%s:%d: web%d.%s now resolves to " \
               "127.0.0.1 (was none), TTL 1 s" % (
                   i + 1, DOMAIN, a.port, i + 1, DOMAIN) in log
    assert NS_RE.search(log), log

    # the load spreads over all three
    seen = tags(front, 30, "/who.txt")
    assert set(seen) == {"web1", "web2", "web3"}, seen

    # 4 client threads, 1000 requests; web2 stops after a quarter of them
    lock = threading.Lock()
    results = []
    errors = []
    todo = iter(range(1000))

    def client():
        c = http.client.HTTPConnection("127.0.0.1", front, timeout=10)
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                break
            try:
                c.request("GET", "/who.txt")
                r = c.getresponse()
                body = r.read().decode("latin-1")
                with lock:
                    if r.status != 200 or body not in ("web1", "web2", "web3"):
                        errors.append((i, r.status, body[:100]))
                    else:
                        results.append((time.monotonic(), body))
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    errors.append((i, "exception", repr(e)))
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", front, timeout=10)
            time.sleep(0.01)  # ~3 s in all: load before and after the stop
        c.close()

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: len(results) >= 250, 30, step=0.01)
    apaches[1].stop()
    stopped_at = time.monotonic()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == [], errors[:10]
    assert len(results) == 1000
    after = [body for at, body in results if at > stopped_at + 0.5]
    assert after, "no request was answered after web2 stopped"
    assert "web2" not in after
    assert {"web1", "web3"} <= set(after)
    web2 = "member http://web2.%s:%d" % (DOMAIN, apaches[1].port)
    assert wait_for(lambda: [l for l in relais.error_log().splitlines()
                             if web2 in l and "health check" in l], 5), \
        "the health check did not report web2 down"
    dns.stop()


# ----------------------------------------------------------------------
# b. a DNS change is followed without a restart
# ----------------------------------------------------------------------

def test_follows_a_dns_change(relais, dnsmasq, twin_servers):
    x, y = twin_servers
    name = "chg." + DOMAIN
    dns = dnsmasq([("127.0.0.1", name)])
    front = free_port()
    start(relais, conf(front, """    <Proxy "balancer://chg">
        BalancerMember http://%s:%d
    </Proxy>
    ProxyPass / balancer://chg/
""" % (name, x.port), resolver="127.0.0.1:%d timeout=1s" % dns.port), front)
    assert set(tags(front, 10)) == {"X"}

    dns.reload([("::1", name)])
    # TTL 1 s (minttl 1 s): the resolver asks again within ~1 s
    assert wait_for(lambda: fetch(front) == (200, "Y"), 6), \
        relais.error_log()
    assert set(tags(front, 10)) == {"Y"}  # pooled connections to X dropped
    assert "balancer://chg member http://%s:%d: %s now resolves to ::1 " \
           "(was 127.0.0.1), TTL 1 s" % (name, x.port, name) \
           in relais.error_log()

    dns.reload([("127.0.0.1", name)])
    assert wait_for(lambda: fetch(front) == (200, "X"), 6)
    assert "now resolves to 127.0.0.1 (was ::1)" in relais.error_log()


# ----------------------------------------------------------------------
# c. DNS failure: the last good address is kept; hold= takes it out
# ----------------------------------------------------------------------

def test_dns_down_keeps_the_last_address(relais, dnsmasq, tag_server):
    x = tag_server("X")
    name = "keep." + DOMAIN
    dns = dnsmasq([("127.0.0.1", name)])
    front = free_port()
    start(relais, conf(front, "    ProxyPass / http://%s:%d/\n"
                       % (name, x.port), modules=(),
                       resolver="127.0.0.1:%d timeout=500ms" % dns.port),
          front)
    assert fetch(front) == (200, "X")
    dns.stop()
    warning = "ProxyResolver: backend host '%s' does not resolve" % name
    assert wait_log(relais, warning, timeout=5)
    # several TTLs (1 s) later, still served, on new connections too
    end = time.monotonic() + 4
    while time.monotonic() < end:
        assert fetch(front) == (200, "X")
        time.sleep(0.1)
    log = relais.error_log()
    assert log.count(warning) == 1, log  # once per failure streak
    assert "its backends keep their last address" in log
    assert "taken out of service" not in log


def test_dns_down_longer_than_hold(relais, dnsmasq, tag_server):
    x, z = tag_server("X"), tag_server("Z")
    name = "hold." + DOMAIN
    dns = dnsmasq([("127.0.0.1", name)])
    front = free_port()
    start(relais, conf(front, """    <Proxy "balancer://app">
        BalancerMember http://%s:%d
        BalancerMember http://127.0.0.1:%d
    </Proxy>
    ProxyPass / balancer://app/
""" % (name, x.port, z.port),
        resolver="127.0.0.1:%d timeout=500ms hold=2s" % dns.port), front)
    assert set(tags(front, 10)) == {"X", "Z"}

    dns.stop()
    down = time.monotonic()
    member = "balancer://app member http://%s:%d" % (name, x.port)
    assert wait_log(relais, "%s: %s has not resolved for" % (member, name),
                    timeout=8)
    assert time.monotonic() - down >= 1.5  # not before hold=2s
    assert "(hold=2 s): taken out of service" in relais.error_log()
    assert set(tags(front, 10)) == {"Z"}

    # the name answers again: the member is back
    dns.start()
    assert wait_log(relais, "ProxyResolver: backend host '%s' resolves "
                    "again" % name, timeout=8)
    assert wait_for(lambda: "X" in tags(front, 6), 5)
    assert "%s: %s answers again: back in service" % (member, name) \
        in relais.error_log()


# ----------------------------------------------------------------------
# d. resolve=all: one member per address of the name
# ----------------------------------------------------------------------

def test_resolve_all_follows_the_records(relais, dnsmasq, twin_servers):
    x, y = twin_servers
    name = "multi." + DOMAIN
    dns = dnsmasq([("127.0.0.1", name), ("::1", name)])
    front = free_port()
    start(relais, conf(front, """    <Proxy "balancer://multi">
        BalancerMember http://%s:%d resolve=all
    </Proxy>
    ProxyPass / balancer://multi/
""" % (name, x.port), resolver="127.0.0.1:%d" % dns.port), front)
    url = "http://%s:%d" % (name, x.port)
    log = relais.error_log()
    # slots take the addresses in sorted order: IPv4 first
    assert "member %s: %s now resolves to 127.0.0.1" % (url, name) in log
    assert "member %s#2: %s now resolves to ::1" % (url, name) in log
    assert set(tags(front, 20)) == {"X", "Y"}

    dns.reload([("127.0.0.1", name)])
    assert wait_for(lambda: set(tags(front, 10)) == {"X"}, 6)
    assert "member %s#2: %s has no address left for this slot (was ::1): " \
           "out of service" % (url, name) in relais.error_log()

    dns.reload([("::1", name), ("127.0.0.1", name)])
    assert wait_for(lambda: set(tags(front, 10)) == {"X", "Y"}, 6)
    log = relais.error_log()
    # the first slot kept its address all along
    assert "member %s: %s now resolves to" % (url, name) not in \
        log.split("has no address left")[1]


def test_name_unknown_at_start_comes_in_later(relais, dnsmasq, tag_server):
    x, z = tag_server("X"), tag_server("Z")
    name = "late." + DOMAIN
    dns = dnsmasq([])
    front = free_port()
    start(relais, conf(front, """    <Proxy "balancer://app">
        BalancerMember http://%s:%d
        BalancerMember http://127.0.0.1:%d
    </Proxy>
    ProxyPass / balancer://app/
""" % (name, x.port, z.port), resolver="127.0.0.1:%d" % dns.port), front)
    assert "ProxyResolver: backend host '%s' does not resolve (Domain name " \
           "not found); it takes no traffic until it does" % name \
        in relais.error_log()
    assert set(tags(front, 10)) == {"Z"}
    dns.reload([("127.0.0.1", name)])
    assert wait_for(lambda: "X" in tags(front, 6), 8)
    assert "now resolves to 127.0.0.1 (was none)" in relais.error_log()


def test_silent_nameserver_bounds_the_start(relais, tag_server):
    """A nameserver that never answers: the start waits about timeout=,
    then the member takes no traffic and the other one serves."""
    z = tag_server("Z")
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # receives queries, answers none
    try:
        front = free_port()
        began = time.monotonic()
        start(relais, conf(front, """    <Proxy "balancer://app">
        BalancerMember http://mute.%s:8080
        BalancerMember http://127.0.0.1:%d
    </Proxy>
    ProxyPass / balancer://app/
""" % (DOMAIN, z.port), resolver="127.0.0.1:%d timeout=500ms"
            % silent.getsockname()[1]), front)
        assert time.monotonic() - began < 5
        assert "ProxyResolver: backend host 'mute.%s' does not resolve " \
               "(Timeout while contacting DNS servers); it takes no " \
               "traffic until it does" % DOMAIN in relais.error_log()
        assert set(tags(front, 6)) == {"Z"}
    finally:
        silent.close()


# ----------------------------------------------------------------------
# the resolver process
# ----------------------------------------------------------------------

def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def test_one_resolver_process_per_generation(relais, dnsmasq, tag_server):
    x = tag_server("X")
    name = "proc." + DOMAIN
    dns = dnsmasq([("127.0.0.1", name)])
    front = free_port()
    start(relais, conf(front, "    ProxyPass / http://%s:%d/\n"
                       % (name, x.port), modules=(),
                       resolver="127.0.0.1:%d" % dns.port), front)
    first = int(NS_RE.search(relais.error_log()).group(1))
    assert _comm(first) == RESOLVER_COMM
    assert first in relais.children()

    relais.send(signal.SIGUSR1)  # graceful restart: a new one replaces it
    assert wait_for(lambda: len(NS_RE.findall(relais.error_log())) == 2, 8)
    second = int(NS_RE.findall(relais.error_log())[1])
    assert second != first
    assert wait_for(lambda: _comm(first) is None, 5)
    assert _comm(second) == RESOLVER_COMM
    assert fetch(front) == (200, "X")

    relais.stop()
    assert wait_for(lambda: _comm(second) is None, 5)


# ----------------------------------------------------------------------
# e. configuration errors
# ----------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    ("dns.example", "nameserver 'dns.example': expected an IP address "
     "(a.b.c.d[:port] or [IPv6][:port]), not a host name"),
    ("127.0.0.1:99999", "nameserver '127.0.0.1:99999': bad port '99999' "
     "(expected 1 to 65535)"),
    ("::1", "nameserver '::1': write an IPv6 nameserver in brackets, "
     "e.g. [::1] or [::1]:53"),
    ("127.0.0.1 ttl=5", "unknown key 'ttl' (expected timeout=, hold=, "
     "minttl=, maxttl= or family=)"),
    ("127.0.0.1 family=ipx", "family=ipx: expected any, ipv4 or ipv6"),
    ("127.0.0.1 timeout=soon", "timeout=soon: "),
    ("127.0.0.1 minttl=10s maxttl=5s",
     "minttl (10000ms) is more than maxttl (5000ms)"),
    ("timeout=2s", "expected at least one nameserver"),
])
def test_config_errors(relais, args, message):
    front = free_port()
    relais.write_conf(conf(front, "", resolver=args, modules=(),
                           vhost=False))
    res = relais.run("-t")
    assert res.returncode == 1
    # "relaisd: FILE:LINE: ProxyResolver: message"
    line = conf(front, "", resolver=args, modules=(),
                vhost=False).splitlines().index("ProxyResolver " + args) + 1
    assert "relais.conf:%d: ProxyResolver: %s" % (line, message) \
        in res.stderr, res.stderr


def test_config_errors_context_and_duplicate(relais):
    front = free_port()
    relais.write_conf(conf(front, """ProxyResolver 127.0.0.1:5353
ProxyResolver [::1]:53 timeout=1s
<VirtualHost 127.0.0.1:%d>
    ProxyResolver 127.0.0.1
</VirtualHost>
""" % front, modules=(), vhost=False))
    res = relais.run("-t")
    assert res.returncode == 1
    assert re.search(r"relais\.conf:\d+: ProxyResolver: is duplicate",
                     res.stderr), res.stderr
    assert re.search(r"relais\.conf:\d+: ProxyResolver: not allowed in "
                     r"<VirtualHost>", res.stderr), res.stderr


def test_good_syntax_passes(relais):
    front = free_port()
    relais.write_conf(conf(front, "", modules=(), vhost=False,
                           resolver="127.0.0.1:5353 [::1]:5354 [::1] "
                           "127.0.0.2 timeout=1500ms hold=30s minttl=2s "
                           "maxttl=1m family=ipv6"))
    res = relais.run("-t")
    assert res.returncode == 0, res.stderr


# ----------------------------------------------------------------------
# f. without ProxyResolver: the system resolver at start-up
# ----------------------------------------------------------------------

def test_localhost_without_resolver(relais, tag_server):
    """'localhost' (from /etc/hosts) resolves at start-up as before, and no
    resolver process starts."""
    backend = tag_server("L")
    if os.path.exists("/proc/net/if_inet6"):
        try:  # glibc may give ::1 first for localhost: serve both
            tag_server("L", host="::1", port=backend.port)
        except OSError:
            pass
    front = free_port()
    start(relais, conf(front, "    ProxyPass / http://localhost:%d/\n"
                       % backend.port, modules=()), front)
    assert fetch(front) == (200, "L")
    assert "DNS resolver" not in relais.error_log()


def test_resolver_with_only_ip_addresses_starts_no_process(relais,
                                                           tag_server):
    backend = tag_server("A")
    front = free_port()
    start(relais, conf(front, "    ProxyPass / http://127.0.0.1:%d/\n"
                       % backend.port, modules=(),
                       resolver="127.0.0.1:9"), front)
    assert fetch(front) == (200, "A")
    assert "DNS resolver" not in relais.error_log()
