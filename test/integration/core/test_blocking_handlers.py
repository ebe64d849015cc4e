"""A handler declared blocking (rl_handler_declare_blocking) runs on the
event MPM's blocking threads: while it sleeps, the single event loop keeps
answering other clients; its blocking body reads work; every MPM serves
it."""
import os
import threading
import time
import urllib.request

import pytest

from conftest import BUILD, MPMS, free_port, mpm_lines

TESTMOD = os.path.join(BUILD, "testmods", "mod_blocking_test.so")


def conf(mpm, port):
    return mpm_lines(mpm) + """
StartServers 1
ServerLimit 1
ThreadsPerChild 1
LoadModule echo_module modules/mod_echo.so
LoadModule blocking_test_module %s
Listen 127.0.0.1:%d
ErrorLog logs/error_log
<Location /slow>
    SetHandler blocking-test
</Location>
<Location /echo>
    SetHandler echo
</Location>
""" % (TESTMOD, port)


def fetch(port, path, data=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 data=data)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.read()


def test_event_loop_keeps_serving_during_a_blocking_handler(relais):
    port = free_port()
    relais.write_conf(conf("event", port))
    relais.start(port)
    results = {}

    def slow():
        results["slow"] = fetch(port, "/slow?ms=1500")

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.2)
    start = time.time()
    status, _ = fetch(port, "/echo")
    fast = time.time() - start
    t.join(10)
    assert status == 200
    assert fast < 0.5, "the event loop was blocked for %.2f s" % fast
    assert results["slow"] == (200, b"slept 1500 ms, body 0 bytes\n")


@pytest.mark.parametrize("mpm", MPMS)
def test_blocking_handler_reads_body(relais, mpm):
    port = free_port()
    relais.write_conf(conf(mpm, port))
    relais.start(port)
    status, body = fetch(port, "/slow?ms=10", data=b"x" * 300000)
    assert status == 200
    assert body == b"slept 10 ms, body 300000 bytes\n"
    # the connection's loop takes it back: keep-alive and a second request
    assert fetch(port, "/echo")[0] == 200
