"""Fixtures of the mod_http2 tests: a certificate made at test time with
the openssl tool, the recording Python backend of the proxy tests
(test/integration/proxy/helpers_proxy.py), configurations with
`Protocols h2 h2c http/1.1`, and curl / h2load / raw HTTP/2 clients.

pytest puts this module in sys.modules as "conftest" in place of the
suite's root conftest.py, so the root's public names are re-exported here
(as test/integration/proxy/conftest.py does).
"""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import Backend, root  # noqa: E402
from helpers_h2 import *  # noqa: E402,F401,F403 (the fixtures use them)
from helpers_h2 import Certs, CountingBackend  # noqa: E402

for _name, _value in vars(root).items():
    if not _name.startswith("_") and \
            not hasattr(_value, "_pytestfixturefunction") and \
            _name not in globals():
        globals()[_name] = _value
del _name, _value

def pytest_collection_modifyitems(config, items):
    """Skips this folder's tests when mod_http2 is not built.  The hook
    sees the whole session's items: only ours are marked."""
    here = os.path.dirname(os.path.abspath(__file__))
    if not os.path.exists(os.path.join(root.MODULES, "mod_http2.so")):
        skip = pytest.mark.skip(reason="mod_http2 not built (libnghttp2-dev)")
        for item in items:
            if str(item.fspath).startswith(here + os.sep):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("h2pki"))


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


@pytest.fixture
def counting_backend():
    b = CountingBackend()
    yield b
    b.stop()
    assert not b.errors, "backend errors: %r" % b.errors
