"""Stability of the event loop around backend watches.

A backend connection outlives the client connection that used it (it sits
in the per-thread pool), so nothing of a finished client connection may
stay attached to it: a readiness event on the pooled backend socket must
never reach freed connection memory.  These tests repeat the patterns that
crashed a child (SIGSEGV in the event loop, or in apr_allocator_destroy
at shutdown): the first requests of a fresh child, short client
connections, shutdown soon after.  The autouse no_child_crash fixture
checks the error log as well."""
import time

import pytest

from helpers_proxy import MPMS, Backend, get, root, start_proxy


def _crashes(r):
    return [l for l in r.error_log().splitlines() if "exited on signal" in l]


@pytest.mark.parametrize("mpm", MPMS)
def test_many_short_client_connections_child_survives(relais, backend, mpm):
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url, mpm=mpm,
                       one_thread=True)
    for i in range(80):
        resp = get(port, "/short/%d" % i)
        assert resp.status == 200, (i, resp)
        time.sleep(0.01)
    relais.stop()
    assert not _crashes(relais)


def test_fresh_children_first_requests_then_stop(tmp_path):
    """20 times: a fresh relaisd and a fresh backend, two requests on two
    client connections, a short pause, a graceful stop.  No child may die
    on a signal, no request may fail, no sanitizer report."""
    problems = []
    for i in range(20):
        b = Backend()
        r = root.Relais(tmp_path / ("r%d" % i))
        try:
            port = start_proxy(r, "ProxyPass /app/ %s/\n" % b.url)
            for target in ("/app/x", "/app/y"):
                try:
                    resp = get(port, target)
                    if resp.status != 200:
                        problems.append((i, target, resp.status))
                except Exception as e:  # a crash shows as a cut connection
                    problems.append((i, target, repr(e)))
            time.sleep(0.05)
        finally:
            r.stop()
            b.stop()
        problems += [(i, l) for l in _crashes(r)]
        problems += [(i, l) for l in
                     root.sanitizer_reports(r.read("stderr.txt"))]
    assert not problems, problems
