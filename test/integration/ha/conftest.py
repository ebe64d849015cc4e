"""Fixtures of the high-availability test (test_ha_keepalived.py): `lab`,
the network namespaces of helpers_ha.py, built for one test and removed
after it, whatever its outcome.  Skipped, with the reason, only where the
machine forbids network namespaces.

pytest puts this module in sys.modules as "conftest" in place of the
suite's root conftest.py, so the root's public names are re-exported here
(as test/integration/proxy/conftest.py does).
"""
import shutil

import pytest

from helpers_ha import Lab, netns_refusal, root

for _name, _value in vars(root).items():
    if not _name.startswith("_") and \
            not hasattr(_value, "_pytestfixturefunction") and \
            _name not in globals():
        globals()[_name] = _value
del _name, _value


@pytest.fixture
def lab(tmp_path):
    reason = netns_refusal()
    if reason is not None:
        pytest.skip(reason)
    if shutil.which("keepalived") is None:
        pytest.fail("keepalived is not installed: run support/setup-debian.sh"
                    " --test (Debian package keepalived)")
    lb = Lab(tmp_path)
    try:
        lb.build()
        yield lb
    finally:
        problems = lb.cleanup()
        assert not problems, "cleanup: %s" % "; ".join(problems)
