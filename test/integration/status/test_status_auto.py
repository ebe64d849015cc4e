"""/server-status?auto: httpd's machine-readable format (a host line, then
"Key: value" lines), its counters against the requests made, under every
MPM, and across a graceful restart."""
import re
import signal
import time

import pytest

from conftest import MPMS, free_port
from helpers_proxy import Backend
from helpers_status import (auto, page, status_conf, table_after, traffic,
                            wait_until)

N = 30

# httpd's keys that Relais gives, with the form of their values
INT = r"\d+"
FLOAT = r"[0-9.eE+-]+"
KEYS = {
    "ServerVersion": r"Relais/\d+\.\d+\.\d+",
    "ServerMPM": r"event|worker|prefork",
    "CurrentTime": r".+",
    "RestartTime": r".+",
    "ParentServerConfigGeneration": INT,
    "ServerUptimeSeconds": INT,
    "ServerUptime": r"(\d+ \w+ )*\d+ seconds?",
    "Total Accesses": INT,
    "Total kBytes": INT,
    "Total Duration": INT,
    "CPUUser": FLOAT,
    "CPUSystem": FLOAT,
    "CPUChildrenUser": FLOAT,
    "CPUChildrenSystem": FLOAT,
    "CPULoad": FLOAT,
    "Uptime": INT,
    "ReqPerSec": FLOAT,
    "BytesPerSec": FLOAT,
    "BytesPerReq": FLOAT,
    "DurationPerReq": FLOAT,
    "BusyWorkers": INT,
    "GracefulWorkers": INT,
    "IdleWorkers": INT,
    "Processes": INT,
    "Stopping": INT,
    "ConnsTotal": INT,
    "ConnsAsyncWriting": INT,
    "ConnsAsyncKeepAlive": INT,
    "ConnsAsyncClosing": INT,
    "Scoreboard": r"[_RWKCG.]+",
}


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


@pytest.mark.parametrize("mpm", MPMS)
def test_auto_fields_and_total_accesses(relais, two_backends, mpm):
    app, admin = start(relais, two_backends, mpm)
    before = auto(admin)
    for key, form in KEYS.items():
        assert key in before, "?auto lacks %r" % key
        assert re.fullmatch(form, before[key]), (key, before[key])
    assert before["ServerMPM"] == mpm
    assert before["ParentServerConfigGeneration"] == "1"

    traffic(app, N)
    # the last response is out; its log_transaction (which counts it)
    # follows at once
    time.sleep(0.5)
    after = auto(admin)
    # the N requests, and the first ?auto itself
    assert int(after["Total Accesses"]) == \
        int(before["Total Accesses"]) + N + 1
    assert int(after["Total kBytes"]) >= int(before["Total kBytes"])
    assert float(after["ReqPerSec"]) > 0
    assert float(after["BytesPerReq"]) > 0

    # workers and processes: this request is being served
    assert int(after["BusyWorkers"]) >= 1
    assert int(after["Processes"]) >= 1
    assert int(after["ConnsTotal"]) >= 1
    assert int(after["ConnsAsyncWriting"]) >= 1
    per_child = {"prefork": 1, "worker": 25, "event": 1}[mpm]
    # every thread of the serving children is one or the other
    assert int(after["BusyWorkers"]) + int(after["IdleWorkers"]) == \
        (int(after["Processes"]) - int(after["Stopping"])) * per_child
    board = after["Scoreboard"]
    assert board.count("W") >= 1
    assert len(board) >= int(after["Processes"]) * per_child


def test_auto_across_graceful_restart(relais, two_backends):
    """A graceful restart keeps the counters; the generation moves on and
    the new children say so."""
    app, admin = start(relais, two_backends, mpm="worker")
    traffic(app, N)
    time.sleep(0.3)
    before = int(auto(admin)["Total Accesses"])
    assert before >= N
    old = set(relais.children())
    relais.send(signal.SIGUSR1)
    assert wait_until(lambda: set(relais.children()) - old, timeout=15)
    after = wait_until(lambda: (lambda a: a if a[
        "ParentServerConfigGeneration"] == "2" else None)(auto(admin)))
    assert after, "no answer from the new generation"
    assert int(after["Total Accesses"]) >= before
    t, _, _ = page(admin)
    gens = {k["Generation"] for k in table_after(t, "Processes and threads")
            if k["State"] == "serving"}
    assert gens == {"2"}, gens


def test_auto_without_counters(relais, two_backends):
    """ExtendedStatus Off: the counters' keys are left out, as httpd
    does."""
    app, admin = start(relais, two_backends, extra="ExtendedStatus Off")
    a = auto(admin)
    assert "Total Accesses" not in a and "ReqPerSec" not in a
    assert "Scoreboard" in a and "BusyWorkers" in a


def test_see_request_tail_refused(relais, two_backends):
    relais.write_conf(status_conf(free_port(), free_port(), two_backends,
                                  extra="SeeRequestTail On"))
    res = relais.run("-t")
    assert res.returncode != 0
    assert "SeeRequestTail" in res.stderr and "not supported" in res.stderr
