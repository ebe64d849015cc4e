"""The same configuration under prefork and worker (the other tests run
under event): request and response actions, SetEnvIf with env=, an early
action, and `always` on an error page."""
import pytest

from helpers_headers import get, start


@pytest.mark.parametrize("mpm", ["prefork", "worker"])
def test_headers_under_mpm(relais, backend, mpm):
    port = start(relais, r"""
SetEnvIf X-Kind ^bot is_bot
RequestHeader set X-Early e early
RequestHeader append X-Early late
RequestHeader set X-Bot yes env=is_bot
Header set X-Out "%%{is_bot}e"
Header always set X-Always yes
ProxyPass / %s/
""" % backend.url, mpm=mpm)
    for _ in range(3):  # several children/threads may answer
        r = get(port, "/a", headers=[("X-Kind", "bot")])
        assert r.status == 200
        q = backend.last()
        assert q.header_all("X-Early") == ["e, late"]
        assert q.header("X-Bot") == "yes"
        assert r.header("X-Out") == "1"
        assert r.header("X-Always") == "yes"
    backend.on("/garbage", raw=b"NOT HTTP\r\n\r\n")
    r = get(port, "/garbage")
    assert r.status == 502
    assert r.header("X-Always") == "yes"
    assert r.header("X-Out") is None
    assert "(%s MPM)" % mpm in relais.error_log()
