"""Fixtures of the stream proxy tests (mod_proxy_stream): real servers
from Debian on free 127.0.0.1 ports, each in a directory of its own and
stopped by PID when the test ends (helpers_stream.py has the classes).

pytest puts this module in sys.modules as "conftest" in place of the
suite's root conftest.py, so the root's public names are re-exported here
(as test/integration/proxy/conftest.py does).
"""
import os

import pytest

from helpers_stream import (DIG, DNSMASQ, REDIS_CLI, REDIS_SERVER, Dnsmasq,
                            PgTemplate, PgUnusable, Redis, StreamServer,
                            pg_unusable, root)

for _name, _value in vars(root).items():
    if not _name.startswith("_") and \
            not hasattr(_value, "_pytestfixturefunction") and \
            _name not in globals():
        globals()[_name] = _value
del _name, _value

def _need(*paths):
    for p in paths:
        if not os.path.exists(p):
            pytest.skip("%s is not installed" % p)


@pytest.fixture
def redis_pair(tmp_path):
    """Two redis-server, `whoami` = "redis1" / "redis2"."""
    _need(REDIS_SERVER, REDIS_CLI)
    made = []
    try:
        for name in ("redis1", "redis2"):
            r = Redis(tmp_path / name, name)
            made.append(r)
            r.start()
        yield made
    finally:
        for r in made:
            r.stop()


@pytest.fixture(scope="session")
def pg_template():
    """One initdb per session (see PgTemplate); skips with the reason
    when PostgreSQL cannot run here."""
    why = pg_unusable()
    if why:
        pytest.skip(why)
    try:
        t = PgTemplate()
    except PgUnusable as e:
        pytest.skip(str(e))
    yield t
    t.remove()


@pytest.fixture
def pg_pair(pg_template):
    """Two PostgreSQL clusters, cluster_name "pg1" / "pg2"."""
    made = []
    try:
        for name in ("pg1", "pg2"):
            c = pg_template.cluster(name)
            made.append(c)
            c.start()
        yield made
    finally:
        for c in made:
            c.stop()


@pytest.fixture
def dns_pair(tmp_path):
    """Two dnsmasq: `who.test TXT` answers "dns1" / "dns2", `a.test A`
    10.0.0.1 / 10.0.0.2."""
    _need(DNSMASQ, DIG)
    made = []
    try:
        for i in (1, 2):
            d = Dnsmasq(tmp_path / ("dns%d" % i), "dns%d" % i,
                        "10.0.0.%d" % i)
            made.append(d)
            d.start()
        yield made
    finally:
        for d in made:
            d.stop()


@pytest.fixture
def make_member():
    """Factory of Python stream members (StreamServer), all stopped."""
    made = []

    def make(**kw):
        m = StreamServer(**kw)
        made.append(m)
        return m
    yield make
    for m in made:
        m.stop()


@pytest.fixture(autouse=True)
def no_child_crash(request):
    """A test that ran relaisd fails when a child died on a signal."""
    r = request.getfixturevalue("relais") if "relais" in \
        request.fixturenames else None
    yield
    if r is not None:
        crashes = [line for line in r.error_log().splitlines()
                   if "exited on signal" in line]
        assert not crashes, "relaisd child crashed:\n" + "\n".join(crashes)

