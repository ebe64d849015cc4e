"""Fixtures of the hostile-input tests: relaisd in front of a recording
backend (request cases) or a hostile one (response cases), one of each per
MPM, shared by the tests of a module.

pytest puts this module in sys.modules as "conftest" in place of the
suite's root conftest.py, so the root's public names are re-exported here
(as test/integration/proxy/conftest.py does).
"""
import pytest

from helpers_hardening import (MPMS, HostileBackend, RecordingBackend,
                               Relais, free_port, mpm_lines, relais_conf,
                               root)
from hostile_cases import RESPONSE_CASES

for _name, _value in vars(root).items():
    if not _name.startswith("_") and \
            not hasattr(_value, "_pytestfixturefunction") and \
            _name not in globals():
        globals()[_name] = _value
del _name, _value

# One thread of one child: a backend connection put back in the pool is
# the one the next request takes, so a test can see whether a connection
# that misbehaved was reused.
ONE_THREAD = {
    "event": "StartServers 1\nServerLimit 1\nThreadsPerChild 1\n",
    "worker": "StartServers 1\nServerLimit 1\nThreadsPerChild 1\n",
    "prefork": "StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\n"
               "ServerLimit 1\nMaxRequestWorkers 1\n",
}


class Front:
    """A relaisd and its backend."""

    def __init__(self, relais, port, backend, mpm):
        self.relais = relais
        self.port = port
        self.backend = backend
        self.mpm = mpm
        self.log_seen = 0

    def new_crashes(self):
        """"exited on signal" lines logged since the last call."""
        log = self.relais.error_log()
        new, self.log_seen = log[self.log_seen:], len(log)
        return [ln for ln in new.splitlines() if "exited on signal" in ln]


def _stop(front):
    front.relais.stop()
    front.backend.stop()
    reports = root.sanitizer_reports(front.relais.read("stderr.txt"))
    assert not reports, "sanitizer reports from relaisd:\n" + "\n".join(
        reports)
    assert not front.backend.errors, front.backend.errors


@pytest.fixture(scope="module", params=MPMS)
def front(request, tmp_path_factory):
    """relaisd (relais_conf()) in front of a RecordingBackend."""
    mpm = request.param
    backend = RecordingBackend()
    r = Relais(tmp_path_factory.mktemp("hard-req-%s" % mpm))
    port = free_port()
    r.write_conf(relais_conf(port, backend.port, mpm))
    try:
        r.start(port)
    except Exception:
        backend.stop()
        raise
    f = Front(r, port, backend, mpm)
    yield f
    _stop(f)


SLOW = "RequestReadTimeout header=20-40,MinRate=500 body=2,MinRate=1000\n"


@pytest.fixture(scope="module", params=MPMS)
def slow_front(request, tmp_path_factory):
    """As front, with a body timeout of 2 s that MinRate=1000 extends."""
    mpm = request.param
    backend = RecordingBackend()
    r = Relais(tmp_path_factory.mktemp("hard-slow-%s" % mpm))
    port = free_port()
    r.write_conf(relais_conf(port, backend.port, mpm, extra=SLOW))
    try:
        r.start(port)
    except Exception:
        backend.stop()
        raise
    f = Front(r, port, backend, mpm)
    yield f
    _stop(f)


@pytest.fixture(scope="module", params=MPMS)
def hostile_front(request, tmp_path_factory):
    """relaisd with one thread in front of a HostileBackend that answers
    /hostile/<case> with RESPONSE_CASES' bytes.  retry=0: a backend that
    closes unanswered counts as failed, and the next case must not get
    the 503 of a backend in error."""
    mpm = request.param
    backend = HostileBackend({c.name: c for c in RESPONSE_CASES})
    r = Relais(tmp_path_factory.mktemp("hard-resp-%s" % mpm))
    port = free_port()
    r.write_conf(mpm_lines(mpm) + ONE_THREAD[mpm]
                 + "LoadModule proxy_module modules/mod_proxy.so\n"
                 + "Listen 127.0.0.1:%d\n" % port
                 + "ServerName relais.test\n"
                 + "ErrorLog logs/error_log\n"
                 + "LogLevel info\n"
                 + "PidFile logs/relaisd.pid\n"
                 + "ProxyPass / %s/ retry=0\n" % backend.url)
    try:
        r.start(port)
    except Exception:
        backend.stop()
        raise
    f = Front(r, port, backend, mpm)
    yield f
    _stop(f)


@pytest.fixture(autouse=True)
def no_child_crash(request):
    """A test that used a front fails when a relaisd child died on a
    signal meanwhile, even if its client side did not notice."""
    yield
    for name in ("front", "slow_front", "hostile_front"):
        if name in request.fixturenames:
            crashes = request.getfixturevalue(name).new_crashes()
            assert not crashes, "relaisd child crashed:\n" + "\n".join(
                crashes)
