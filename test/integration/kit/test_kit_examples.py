"""The module author's kit, used as a third party would: the examples of
modules/examples/ (mod_addheader, mod_lbmethod_spillover), copied out of
the source tree, built with the installed relaisxs only, installed and
enabled with `relaisxs -i -a`, and loaded by the installed relaisd
through the installed conf/mods-enabled/.  Each test checks what a
client sees: response headers, and which recording backend answers.

A module built against another module API is refused with a message
naming both versions: test_relaisxs.py checks it for a hand-written
record with a newer major against the build tree's relaisd; here, the
example itself is rebuilt against older (or newer) headers and offered to
the installed relaisd.
"""
import http.client
import os
import re
import shutil
import threading

import pytest

from helpers_kit import KIT_EXAMPLES, ROOT


# ------------------------------------------------------------- helpers

def get(conn, path, method="GET"):
    """One request on a kept-alive connection: (status, [(name, value)],
    body)."""
    conn.request(method, path)
    resp = conn.getresponse()
    body = resp.read()
    return resp.status, resp.getheaders(), body


def values(headers, name):
    return [v for k, v in headers if k.lower() == name.lower()]


def targets(backend):
    return [r.target.decode() for r in backend.requests]


def wait_for_target(backend, target, count=1, timeout=5.0):
    """Waits until backend has received `count` requests for target (it
    records a request before answering, so a /slow one is then in
    flight)."""
    import time
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if targets(backend).count(target) >= count:
            return True
        time.sleep(0.02)
    return False


class InFlight(threading.Thread):
    """A request sent on its own connection in the background; the
    connection stays open for a follow-up request after it."""

    def __init__(self, port, path):
        super().__init__(daemon=True)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        self.path = path
        self.status = None

    def run(self):
        self.status = get(self.conn, self.path)[0]


# ------------------------------------------------- building and loading

def test_examples_are_built_with_the_installed_relaisxs_only(kit):
    inc = os.path.join(kit.prefix, "include")
    for folder, name, source in KIT_EXAMPLES:
        cmd = kit.builds[name].stdout
        # the command relaisxs ran: the installed headers, not the tree's
        assert "-I%s " % inc in cmd
        assert ROOT + "/include" not in cmd
        assert os.path.exists(os.path.join(kit.src, folder,
                                           "mod_%s.so" % name))
        # -i copied it into the installed modules/ ...
        assert os.path.exists(kit.path("modules", "mod_%s.so" % name))
        # ... and -a wrote the .load file and enabled it
        with open(kit.path("conf", "mods-available", name + ".load")) as f:
            assert f.read() == "LoadModule %s_module modules/mod_%s.so\n" % (
                name, name)
        link = kit.path("conf", "mods-enabled", name + ".load")
        assert os.readlink(link) == "../mods-available/%s.load" % name


def test_installed_relaisd_loads_them(kit):
    mods = kit.relaisd("-M")
    assert mods.returncode == 0, mods.stderr
    assert re.search(r"addheader_module \(shared\) 1\.0\.0", mods.stdout)
    assert re.search(r"lbmethod_spillover_module \(shared\) 1\.0\.0",
                     mods.stdout)
    directives = kit.relaisd("-L").stdout
    assert re.search(r"(?m)^AddHeader\taddheader\t.*location\tAddHeader "
                     r"name value -- ", directives)
    assert re.search(r"(?m)^SpilloverLimit\tlbmethod_spillover\t.*proxy "
                     r"section\tSpilloverLimit n -- ", directives)


# --------------------------------------------------------- mod_addheader

ADDHEADER_SITE = """
AddHeader X-Served-By relais-kit
AddHeader Cache-Control no-store
<Location /plain>
    SetHandler echo
</Location>
<Location /static>
    SetHandler echo
    AddHeader Cache-Control "public, max-age=3600"
    AddHeader Link "</a.css>; rel=preload"
    AddHeader Link "</b.js>; rel=preload"
</Location>
<Location /static/deeper>
    AddHeader X-Served-By deeper
</Location>
"""


def test_addheader_adds_and_merges(kit_server):
    port = kit_server.configure(ADDHEADER_SITE)
    kit_server.start()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    # the server-level lines, inherited by a location that sets none
    status, h, body = get(conn, "/plain")
    assert status == 200 and b'"uri": "/plain"' in body
    assert values(h, "X-Served-By") == ["relais-kit"]
    assert values(h, "Cache-Control") == ["no-store"]
    assert values(h, "Link") == []

    # a location replaces the outer Cache-Control, keeps X-Served-By, and
    # two lines for one name give two header lines, in file order
    status, h, _ = get(conn, "/static/app.css")
    assert status == 200
    assert values(h, "X-Served-By") == ["relais-kit"]
    assert values(h, "Cache-Control") == ["public, max-age=3600"]
    assert values(h, "Link") == ["</a.css>; rel=preload",
                                 "</b.js>; rel=preload"]

    # two matching locations: merged per request, the inner last
    status, h, _ = get(conn, "/static/deeper/x")
    assert status == 200
    assert values(h, "X-Served-By") == ["deeper"]
    assert values(h, "Cache-Control") == ["public, max-age=3600"]
    assert len(values(h, "Link")) == 2

    # the core's error pages carry them too; HEAD as GET
    status, h, _ = get(conn, "/no/such/thing")
    assert status == 404
    assert values(h, "X-Served-By") == ["relais-kit"]
    status, h, body = get(conn, "/plain", method="HEAD")
    assert status == 200 and body == b""
    assert values(h, "Cache-Control") == ["no-store"]
    conn.close()


def test_addheader_and_spillover_mistakes_are_refused(kit_server):
    kit_server.configure(
        'AddHeader "X Served" yes\n'                      # 1
        "AddHeader Content-Length 5\n"                    # 2
        "AddHeader X-Bell \"ring\x07\"\n"                 # 3
        "AddHeader X-Alone\n"                             # 4
        "<Proxy http://127.0.0.1:9/>\n"                   # 5
        "    SpilloverLimit 3\n"                          # 6
        "</Proxy>\n"                                      # 7
        "SpilloverLimit 0\n")                             # 8
    res = kit_server.kit.relaisd("-t")
    assert res.returncode == 1
    err = res.stderr
    assert ("kit.conf:1: AddHeader: 'X Served' is not a valid header name "
            "(letters, digits and !#$%&'*+-.^_`|~ only, no spaces)") in err
    assert ("kit.conf:2: AddHeader: Content-Length is written by the core "
            "for every response and cannot be added by a module") in err
    assert ("kit.conf:3: AddHeader: the value for X-Bell holds a control "
            "character") in err
    assert "kit.conf:4: AddHeader: " in err and "usage: AddHeader name " \
        "value" in err
    assert ("kit.conf:6: SpilloverLimit: <Proxy http://127.0.0.1:9/> is not "
            "a balancer: put SpilloverLimit in <Proxy balancer://name>, or "
            "at server level") in err
    assert ("kit.conf:8: SpilloverLimit: expected a number of requests in "
            "flight from 1 to 100000, got '0'") in err


# ------------------------------------------------ mod_lbmethod_spillover

def spillover_site(a, b):
    """pool: its own limit of 1 (ProxySet in <Proxy>); pool2: the server's
    limit of 2, the method chosen on the ProxyPass line.  The same two
    backends serve both (a balancer's members are its own, so each
    balancer counts its requests in flight separately)."""
    return """
LogLevel warn lbmethod_spillover:debug
AddHeader X-Served-By relais-kit
SpilloverLimit 2
<Proxy balancer://pool>
    BalancerMember http://127.0.0.1:{a}
    BalancerMember http://127.0.0.1:{b}
    ProxySet lbmethod=spillover
    SpilloverLimit 1
</Proxy>
ProxyPass /app/ balancer://pool/
BalancerMember balancer://pool2 http://127.0.0.1:{a}
BalancerMember balancer://pool2 http://127.0.0.1:{b}
ProxyPass /app2/ balancer://pool2/ lbmethod=spillover
""".format(a=a, b=b)


def test_spillover_fills_the_first_member_then_the_next(kit_server,
                                                        backends):
    a, b = backends
    port = kit_server.configure(spillover_site(a.port, b.port))
    kit_server.start()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    # One request at a time (one kept-alive connection, so each request
    # has ended before the next is read): the first member takes them
    # all, where byrequests would alternate.
    for i in range(6):
        status, h, _ = get(conn, "/app/seq%d" % i)
        assert status == 200
        assert values(h, "X-Served-By") == ["relais-kit"]  # proxied too
    assert targets(a) == ["/seq%d" % i for i in range(6)]
    assert targets(b) == []

    # One request held by the first member: it is full (limit 1), so the
    # next request goes to the second.
    slow = InFlight(port, "/app/slow")
    slow.start()
    assert wait_for_target(a, "/slow"), "the slow request never reached a"
    assert get(conn, "/app/overflow")[0] == 200
    assert targets(b) == ["/overflow"]
    slow.join(15)
    assert slow.status == 200

    # Once it has answered, the first member has room again (asked on the
    # slow request's connection: its request is over by then).
    assert get(slow.conn, "/app/after")[0] == 200
    assert targets(a)[-1] == "/after"
    assert targets(b) == ["/overflow"]
    slow.conn.close()
    conn.close()
    log = kit_server.error_log()
    assert ("balancer://pool: http://127.0.0.1:%d is full, spilling over to "
            "http://127.0.0.1:%d" % (a.port, b.port)) in log
    assert "balancer://pool: spillover after 1 request(s) in flight" in log
    assert "balancer://pool2: spillover after 2 request(s) in flight" in log


def test_spillover_server_limit_and_proxypass_lbmethod(kit_server, backends):
    a, b = backends
    port = kit_server.configure(spillover_site(a.port, b.port))
    kit_server.start()

    # pool2 takes the server's SpilloverLimit 2: two requests in flight on
    # the first member before the second gets one.
    first = InFlight(port, "/app2/slow")
    first.start()
    assert wait_for_target(a, "/slow", 1)
    second = InFlight(port, "/app2/slow")
    second.start()
    assert wait_for_target(a, "/slow", 2), \
        "the second request did not go to the first member: %r / %r" % (
            targets(a), targets(b))
    assert targets(b) == []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    assert get(conn, "/app2/third")[0] == 200
    assert targets(b) == ["/third"]
    for t in (first, second):
        t.join(15)
        assert t.status == 200
        t.conn.close()
    conn.close()


# ---------------------------------------------------- API version checks

def mmn(include_dir):
    with open(os.path.join(include_dir, "rl_mmn.h")) as f:
        text = f.read()
    major = int(re.search(r"#define RL_MMN_MAJOR (\d+)", text).group(1))
    minor = int(re.search(r"#define RL_MMN_MINOR (\d+)", text).group(1))
    return major, minor


@pytest.mark.parametrize("change", ["older-major", "newer-minor"])
def test_example_built_for_another_api_is_refused(kit, tmp_path, change):
    """The addheader example rebuilt against headers of another Relais
    (rl_mmn.h edited in a copy of the installed include/), offered to the
    installed relaisd."""
    inc = os.path.join(kit.prefix, "include")
    major, minor = mmn(inc)
    other = tmp_path / "include"
    shutil.copytree(inc, str(other))
    header = other / "rl_mmn.h"
    text = header.read_text()
    if change == "older-major":
        text = text.replace("#define RL_MMN_MAJOR %d" % major,
                            "#define RL_MMN_MAJOR %d" % (major - 1))
    else:
        text = text.replace("#define RL_MMN_MINOR %d" % minor,
                            "#define RL_MMN_MINOR %d" % (minor + 1))
    header.write_text(text)
    work = tmp_path / "build"
    shutil.copytree(os.path.join(kit.src, "addheader"), str(work))
    out = kit.relaisxs("-S", "INCLUDEDIR=%s" % other, "-c",
                       "mod_addheader.c", cwd=str(work))
    assert out.returncode == 0, out.stderr
    assert "-I%s " % other in out.stdout
    so = str(work / "mod_addheader.so")
    conf = tmp_path / "apitest.conf"
    conf.write_text("Include conf/mods-enabled/mpm_event.load\n"
                    "LoadModule addheader_module %s\n"
                    "Listen 127.0.0.1:9\n" % so)
    res = kit.relaisd("-f", str(conf), "-t")
    assert res.returncode == 1
    where = "apitest.conf:2: LoadModule: '%s' " % so
    if change == "older-major":
        assert where + ("was built for module API %d, this server has API "
                        "%d: rebuild it with relaisxs" % (major - 1, major)) \
            in res.stderr
    else:
        assert where + ("needs module API %d.%d, this server has only "
                        "%d.%d: upgrade Relais" % (major, minor + 1, major,
                                                   minor)) in res.stderr


# ------------------------------------------------------------ relaisxs -q

def test_relaisxs_query_prints_the_build_settings(kit):
    out = kit.relaisxs("-q", "INCLUDEDIR", "MODULESDIR", "SYSCONFDIR")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [kit.path("include"),
                                       kit.path("modules"),
                                       kit.path("conf")]

    everything = kit.relaisxs("-q")
    assert everything.returncode == 0
    settings = dict(line.split("=", 1)
                    for line in everything.stdout.splitlines())
    assert settings["PREFIX"] == kit.prefix
    assert "-Werror" in settings["CFLAGS"].split()
    assert {"-fPIC", "-fvisibility=hidden"} <= set(
        settings["SH_CFLAGS"].split())
    assert "-I" + kit.path("include") in settings["CPPFLAGS"].split()
    # -c compiles with exactly these
    cmd = kit.builds["addheader"].stdout.split()
    assert cmd[0] == settings["CC"]
    assert settings["SH_CFLAGS"].split()[0] in cmd
    version = kit.relaisd("-v").stdout
    assert "Relais/%s " % settings["RELAIS_VERSION"] in version

    bad = kit.relaisxs("-q", "NO_SUCH_VAR")
    assert bad.returncode == 1
    assert "unknown variable 'NO_SUCH_VAR' (relaisxs -q lists them)" in \
        bad.stderr
