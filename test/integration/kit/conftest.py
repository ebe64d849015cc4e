"""Fixtures of the module author's kit tests (test_kit_examples.py).

`kit` does what a third-party module author does, with nothing but an
installed Relais: `make install DESTDIR=…` (as test_relaisxs.py does),
copy modules/examples/ to a directory outside the source tree, build each
example there with the installed `relaisxs -c`, and install and enable it
with `relaisxs -i -a` into the installed tree.  `KitServer` then runs the
installed relaisd on the installed configuration (conf/relais.conf, which
includes conf/mods-enabled/*.load), with ports.conf and one site of the
test's own.

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
from helpers_kit import (EXAMPLES, KIT_EXAMPLES, ROOT, Kit,  # noqa: E402
                         KitServer)

for _name, _value in vars(root).items():
    if not _name.startswith("_") and \
            not hasattr(_value, "_pytestfixturefunction") and \
            _name not in globals():
        globals()[_name] = _value
del _name, _value


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    dest = str(tmp_path_factory.mktemp("kit-inst"))
    out = subprocess.run(["make", "-s", "install", "DESTDIR=%s" % dest],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    prefix = None
    for dirpath, dirnames, _ in os.walk(dest):
        if "bin" in dirnames and "include" in dirnames:
            prefix = dirpath
            break
    assert prefix, "make install produced no bin/ and include/"
    src = os.path.join(str(tmp_path_factory.mktemp("kit-src")), "examples")
    shutil.copytree(EXAMPLES, src)
    assert not os.path.realpath(src).startswith(os.path.realpath(ROOT))
    k = Kit(prefix, src)
    for folder, name, source in KIT_EXAMPLES:
        here = os.path.join(src, folder)
        k.builds[name] = k.relaisxs("-c", source, cwd=here)
        assert k.builds[name].returncode == 0, k.builds[name].stderr
        k.installs[name] = k.relaisxs("-i", "-a", "mod_%s.so" % name,
                                      cwd=here)
        assert k.installs[name].returncode == 0, k.installs[name].stderr
    # The shipped demo site listens on fixed ports: the tests use sites of
    # their own instead.
    demo = k.path("conf", "sites-enabled", "demo.conf")
    if os.path.lexists(demo):
        os.unlink(demo)
    return k


@pytest.fixture
def kit_server(kit):
    s = KitServer(kit)
    yield s
    s.stop()
    crashes = [l for l in s.error_log().splitlines()
               if "exited on signal" in l]
    assert not crashes, "relaisd child crashed:\n" + "\n".join(crashes)


@pytest.fixture
def backends():
    """Two recording Python backends; /slow answers after 3 s."""
    bs = [Backend(), Backend()]
    for b in bs:
        b.on("/slow", delay=3)
    yield bs
    for b in bs:
        b.stop()
    for b in bs:
        assert not b.errors, "backend errors: %r" % b.errors
