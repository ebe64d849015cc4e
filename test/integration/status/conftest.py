"""Fixtures of the mod_status tests: the recording Python backend of the
proxy tests (test/integration/proxy/helpers_proxy.py).

pytest puts this module in sys.modules as "conftest" in place of the
suite's root conftest.py, so the root's public names are re-exported here
(as test/integration/headers/conftest.py does).
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import Backend, root  # noqa: E402

for _name, _value in vars(root).items():
    if not _name.startswith("_") and \
            not hasattr(_value, "_pytestfixturefunction") and \
            _name not in globals():
        globals()[_name] = _value
del _name, _value


@pytest.fixture
def backend():
    """A Python backend that records the requests it gets."""
    b = Backend()
    yield b
    b.stop()
    assert not b.errors, "backend errors: %r" % b.errors


@pytest.fixture(autouse=True)
def no_child_crash(request):
    """Fails a test whose relaisd lost a child to a signal."""
    r = request.getfixturevalue("relais") if "relais" in \
        request.fixturenames else None
    yield
    if r is not None:
        crashes = [l for l in r.error_log().splitlines()
                   if "exited on signal" in l]
        assert not crashes, "relaisd child crashed:\n" + "\n".join(crashes)
