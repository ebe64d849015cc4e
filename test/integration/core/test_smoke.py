"""The smallest useful check: relaisd starts under each MPM and mod_echo
answers with what it received."""
import json
import urllib.request

import pytest

from conftest import MPMS, free_port, mpm_lines


@pytest.mark.parametrize("mpm", MPMS)
def test_echo_answers_under_each_mpm(relais, mpm):
    port = free_port()
    relais.write_conf(mpm_lines(mpm) + """
LoadModule echo_module modules/mod_echo.so
Listen 127.0.0.1:%d
ErrorLog logs/error_log
PidFile logs/relaisd.pid
SetHandler echo
EchoName smoke
""" % port)
    relais.start(port)
    with urllib.request.urlopen("http://127.0.0.1:%d/x?y=1" % port) as resp:
        assert resp.status == 200
        assert resp.headers["Server"] == "Relais"
        body = json.loads(resp.read())
    assert body["name"] == "smoke"
    assert body["uri"] == "/x"
    assert body["args"] == "y=1"
    assert "configured -- resuming normal operations" in relais.error_log()
