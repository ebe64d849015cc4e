"""Fixtures of the mod_cache tests: the counting origin
(helpers_cache.Origin) in front of which relaisd runs.

pytest puts this module in sys.modules as "conftest" in place of the
suite's root conftest.py, so the root's public names are re-exported here
(as test/integration/proxy/conftest.py does).
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import root  # noqa: E402
from helpers_cache import Origin  # noqa: E402

for _name, _value in vars(root).items():
    if not _name.startswith("_") and \
            not hasattr(_value, "_pytestfixturefunction") and \
            _name not in globals():
        globals()[_name] = _value
del _name, _value


@pytest.fixture
def origin():
    """The counting backend, stopped when the test ends."""
    o = Origin()
    yield o
    o.stop()


@pytest.fixture(autouse=True)
def no_child_crash(request):
    """A test that ran relaisd fails when a child died on a signal."""
    r = request.getfixturevalue("relais") if "relais" in \
        request.fixturenames else None
    yield
    if r is not None:
        crashes = [l for l in r.error_log().splitlines()
                   if "exited on signal" in l]
        assert not crashes, "relaisd child crashed:\n" + "\n".join(crashes)
