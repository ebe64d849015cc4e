"""LoadModule: each way a module can fail to load gives its own message
naming the file (missing file, missing symbol, not a Relais module, API
major mismatch, newer API minor, other build signature, loaded twice); and
a valid third-party module (test/testmods/mod_hooktest.c with its partner
mod_hookpeer.c) sees the request hooks in the documented order, is ordered
by predecessor module names, and gets its per-location configuration merged
across nested <Location>s.

The test modules are built by `make` into build/testmods/ (see the comment
at the top of each test/testmods/*.c for what it exercises).
"""
import http.client
import os
import re
import time

import pytest

from conftest import BUILD, MPMS, free_port, mpm_lines

TESTMODS = os.path.join(BUILD, "testmods")


def module_so(name):
    path = os.path.join(TESTMODS, "mod_%s.so" % name)
    if not os.path.exists(path):
        pytest.fail("%s is missing: run make (it builds test/testmods/)" %
                    path)
    return path


def conf_with(line, mpm="event"):
    """A minimal configuration whose 3rd line is `line`."""
    return (mpm_lines(mpm) + "Listen 127.0.0.1:%d\n" % free_port() + line +
            "\n")


def refused(relais, line, *fragments):
    """relaisd -t refuses `line` (line 3) with every fragment on the
    error line; returns that line."""
    path = relais.write_conf(conf_with(line))
    res = relais.run("-t", conf=path)
    assert res.returncode == 1, res.stderr
    prefix = "%s:3: LoadModule: " % path
    errs = [l for l in res.stderr.splitlines() if prefix in l]
    assert errs, "no %r in:\n%s" % (prefix, res.stderr)
    for frag in fragments:
        assert frag in errs[0], "%r not in %r" % (frag, errs[0])
    assert "1 error in the configuration" in res.stderr
    return errs[0]


def rl_mmn():
    """(major, minor) from include/rl_mmn.h."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))))
    with open(os.path.join(root, "include", "rl_mmn.h")) as f:
        text = f.read()
    major = int(re.search(r"#define RL_MMN_MAJOR (\d+)", text).group(1))
    minor = int(re.search(r"#define RL_MMN_MINOR (\d+)", text).group(1))
    return major, minor


# ------------------------------------------------------------- refusals

def test_missing_file_names_the_path(relais):
    missing = os.path.join(relais.root, "modules", "mod_nosuchthing.so")
    refused(relais, "LoadModule nosuchthing_module modules/mod_nosuchthing.so",
            "cannot load '%s'" % missing)


def test_missing_symbol_names_file_and_symbol(relais):
    path = module_so("hooktest")
    refused(relais, "LoadModule wrongname_module %s" % path,
            "'%s'" % path, "no symbol 'wrongname_module'")


def test_bad_cookie_is_not_a_relais_module(relais):
    path = module_so("badmagic")
    refused(relais, "LoadModule badmagic_module %s" % path,
            "'%s'" % path, "is not a Relais module")


def test_api_major_mismatch_names_both_versions(relais):
    path = module_so("oldapi")
    major, _ = rl_mmn()
    refused(relais, "LoadModule oldapi_module %s" % path,
            "'%s'" % path, str(major - 1), str(major), "relaisxs")


def test_newer_api_minor_is_refused(relais):
    path = module_so("newminor")
    major, minor = rl_mmn()
    refused(relais, "LoadModule newminor_module %s" % path,
            "'%s'" % path, "%d.%d" % (major, minor + 1),
            "%d.%d" % (major, minor))


def test_other_build_signature_is_not_binary_compatible(relais):
    path = module_so("badsig")
    refused(relais, "LoadModule badsig_module %s" % path,
            "'%s'" % path, "not binary compatible", "ptr4,apr1,nothreads")


def test_same_module_loaded_twice(relais):
    path = relais.write_conf(conf_with(
        "LoadModule echo_module modules/mod_echo.so\n"
        "LoadModule echo_module modules/mod_echo.so"))
    res = relais.run("-t", conf=path)
    assert res.returncode == 1
    assert "%s:4: LoadModule: module 'echo' is already loaded" % path \
        in res.stderr, res.stderr


def test_valid_test_module_loads(relais):
    path = relais.write_conf(conf_with(
        "LoadModule hooktest_module %s\nLoadModule hookpeer_module %s" % (
            module_so("hooktest"), module_so("hookpeer"))))
    res = relais.run("-M", conf=path)
    assert res.returncode == 0, res.stderr
    assert " hooktest_module (shared) 1.0.0" in res.stdout
    assert " hookpeer_module (shared) 1.0.0" in res.stdout


# ------------------------------------------------- hooks and per-dir merge

HOOKS_BEFORE_RESPONSE = ["post_read_request", "access_checker",
                         "quick_handler", "translate_name", "fixups",
                         "insert_filter", "handler"]


def hooktest_conf(mpm, port, body, peer_first=False):
    loads = ["LoadModule hooktest_module %s" % module_so("hooktest"),
             "LoadModule hookpeer_module %s" % module_so("hookpeer")]
    if peer_first:
        loads.reverse()
    return mpm_lines(mpm) + "\n".join(loads) + """
Listen 127.0.0.1:%d
ErrorLog logs/error_log
PidFile logs/relaisd.pid
LogLevel warn hooktest:info
StartServers 2
MinSpareServers 1
MaxSpareServers 2
""" % port + body


def get(port, path, host="localhost"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path, headers={"Host": host})
        resp = c.getresponse()
        body = resp.read().decode()
        return resp.status, resp.headers, body
    finally:
        c.close()


def wait_log(relais, needle, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if needle in relais.error_log():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("mpm", MPMS)
def test_request_hooks_run_in_order(relais, mpm):
    port = free_port()
    relais.write_conf(hooktest_conf(mpm, port, "SetHandler hooktest\n"))
    relais.start(port)
    status, headers, body = get(port, "/order")
    assert status == 200
    assert headers["X-Hook-Trace"].split(",") == HOOKS_BEFORE_RESPONSE
    for i, hook in enumerate(HOOKS_BEFORE_RESPONSE, 1):
        assert headers["X-Hook-%s" % hook] == str(i), hook
    # log_transaction runs after the response went out, last
    full = ",".join(HOOKS_BEFORE_RESPONSE + ["log_transaction"])
    assert wait_log(relais, "hooktest: trace %s uri /order" % full), \
        relais.error_log()
    assert re.search(r"\[hooktest:info\] \[pid \d+:tid \d+\] "
                     r"\[client 127\.0\.0\.1:\d+\] hooktest: trace ",
                     relais.error_log())


@pytest.mark.parametrize("peer_first", [False, True],
                         ids=["hooktest-loaded-first", "hookpeer-loaded-first"])
def test_hook_predecessor_named_by_module(relais, peer_first):
    # hooktest's fixups is RL_HOOK_FIRST with predecessor "hookpeer";
    # hookpeer's is RL_HOOK_LAST: the predecessor wins, whatever the
    # LoadModule order
    port = free_port()
    relais.write_conf(hooktest_conf("event", port, "SetHandler hooktest\n",
                                    peer_first=peer_first))
    relais.start(port)
    status, headers, _ = get(port, "/")
    assert status == 200
    assert headers["X-Fixups-Order"] == "hookpeer,hooktest"


def test_post_config_once_and_child_init_per_child(relais):
    port = free_port()
    relais.write_conf(hooktest_conf("worker", port, "SetHandler hooktest\n"
                                    "ThreadsPerChild 2\n"))
    relais.start(port)
    assert wait_log(relais, "resuming normal operations")
    end = time.time() + 5
    while time.time() < end and \
            relais.error_log().count("hooktest: child_init") < 2:
        time.sleep(0.05)
    log = relais.error_log()
    assert log.count("hooktest: post_config") == 1, log
    assert log.count("hooktest: child_init") == 2, log
    # child_init runs in the children, post_config in the parent
    parent = "[pid %d:" % relais.proc.pid
    for line in log.splitlines():
        if "hooktest: post_config" in line:
            assert parent in line, line
        if "hooktest: child_init" in line:
            assert parent not in line, line


def test_per_location_config_merged_across_locations(relais):
    port = free_port()
    relais.write_conf(hooktest_conf("event", port, r"""
SetHandler hooktest
HookTestTag root
<Location /a>
    HookTestTag a
</Location>
<Location /a/b>
    HookTestTag b
</Location>
<LocationMatch "\.txt$">
    HookTestTag txt
</LocationMatch>
<Location /untagged>
    SetHandler hooktest
</Location>
"""))
    relais.start(port)
    expect = {"/": "root", "/other": "root", "/untagged/x": "root",
              "/a": "root+a", "/a/x": "root+a", "/ab": "root",
              "/a/b": "root+a+b", "/a/b/c": "root+a+b",
              "/a/b/c.txt": "root+a+b+txt", "/z.txt": "root+txt"}
    for path, tag in expect.items():
        status, headers, body = get(port, path)
        assert status == 200, path
        assert headers["X-HookTest-Tag"] == tag, path
        assert "tag %s\n" % tag in body


def test_per_location_config_merged_in_a_vhost(relais):
    port = free_port()
    relais.write_conf(hooktest_conf("event", port, """
SetHandler hooktest
HookTestTag root
<Location /a>
    HookTestTag a
</Location>
<VirtualHost *:%d>
    ServerName first.example
</VirtualHost>
<VirtualHost *:%d>
    ServerName vh.example
    HookTestTag vh
    <Location /v>
        HookTestTag v
    </Location>
</VirtualHost>
""" % (port, port)))
    relais.start(port)
    cases = [("first.example", "/", "root"),
             ("first.example", "/a/1", "root+a"),
             ("vh.example", "/", "root+vh"),
             ("vh.example", "/a/1", "root+vh+a"),
             ("vh.example", "/v/1", "root+vh+v")]
    for host, path, tag in cases:
        status, headers, _ = get(port, path, host=host)
        assert status == 200, (host, path)
        assert headers["X-HookTest-Tag"] == tag, (host, path)
