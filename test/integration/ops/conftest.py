"""Fixtures of the operations tests: relaisd run through relaisctl in a
temporary ServerRoot (helpers_ops.CtlServer), and the recording Python
backends of the proxy tests (test/integration/proxy/helpers_proxy.py).

pytest puts this module in sys.modules as "conftest" in place of the
suite's root conftest.py, so the root's public names are re-exported here
(as test/integration/proxy/conftest.py does).
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from helpers_ops import CtlServer, root  # noqa: E402
from helpers_proxy import Backend  # noqa: E402  (helpers_ops adds its path)

for _name, _value in vars(root).items():
    if not _name.startswith("_") and \
            not hasattr(_value, "_pytestfixturefunction") and \
            _name not in globals():
        globals()[_name] = _value
del _name, _value


@pytest.fixture
def server(tmp_path):
    """A ServerRoot run through build/bin/relaisctl; every relaisd it
    started is stopped (by PID) when the test ends, and a child that died
    on a signal fails the test."""
    s = CtlServer(tmp_path / "root")
    yield s
    s.cleanup()
    crashes = s.crashes()
    assert not crashes, "relaisd child crashed:\n" + "\n".join(crashes)


@pytest.fixture
def make_backend():
    """Python backends (helpers_proxy.Backend), stopped when the test
    ends; a backend that hit an error fails the test."""
    made = []

    def make(**kw):
        b = Backend(**kw)
        made.append(b)
        return b
    yield make
    for b in made:
        b.stop()
    for b in made:
        assert not b.errors, "backend errors: %r" % b.errors
