"""Fixtures of the mod_proxy tests: Python backends and Debian's Apache.

pytest puts this module in sys.modules as "conftest" in place of the
suite's root conftest.py, so the root's public names are re-exported here
(a later `from conftest import free_port` anywhere keeps working).  The
root's fixtures (relais) are found by pytest through the directory tree.
"""
import os

import pytest

from helpers_proxy import APACHE, Apache, Backend, root

# Re-export the root conftest's public names (see above), fixtures aside
# (pytest finds those itself; a second registration would shadow them).
for _name, _value in vars(root).items():
    if not _name.startswith("_") and \
            not hasattr(_value, "_pytestfixturefunction") and \
            _name not in globals():
        globals()[_name] = _value
del _name, _value


@pytest.fixture
def backend():
    """A Python backend, stopped when the test ends."""
    b = Backend()
    yield b
    b.stop()
    assert not b.errors, "backend errors: %r" % b.errors


@pytest.fixture
def backend2():
    b = Backend()
    yield b
    b.stop()


@pytest.fixture
def make_backend():
    """Factory for backends with options (keepalive_timeout=...)."""
    made = []

    def make(**kw):
        b = Backend(**kw)
        made.append(b)
        return b
    yield make
    for b in made:
        b.stop()


@pytest.fixture(scope="module")
def apache():
    """Debian's apache2 on a free port, serving a DocumentRoot with a
    10 MiB file; shared by the tests of a module, stopped by PID."""
    if not os.path.exists(APACHE):
        pytest.skip("%s is not installed (Debian package apache2)" % APACHE)
    if not os.stat("/").st_mode & 0o001:
        # Apache's children run as nobody and load libraries after the
        # switch (libgcc_s for pthread_exit): with "/" not searchable by
        # others (seen in minimal chroots) they abort on every request.
        pytest.skip("'/' is not searchable by other users here, so "
                    "apache2's unprivileged children cannot run")
    a = Apache()
    try:
        a.start()
    except Exception:
        a.stop()
        raise
    yield a
    a.stop()


@pytest.fixture(autouse=True)
def no_child_crash(request):
    """A test that ran relaisd fails when a child died on a signal (the
    parent logs "child pid N exited on signal S"), even when the client
    side of the test happened not to notice."""
    r = request.getfixturevalue("relais") if "relais" in \
        request.fixturenames else None
    yield
    if r is not None:
        crashes = [l for l in r.error_log().splitlines()
                   if "exited on signal" in l]
        assert not crashes, "relaisd child crashed:\n" + "\n".join(crashes)
