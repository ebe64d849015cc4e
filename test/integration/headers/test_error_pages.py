"""Header always vs Header [onsuccess] (httpd's rule): the core's own error
pages (404 without a handler, 502 for a backend answering garbage, 503
for one refusing connections, then while it is in its retry period) carry
only the `always` fields; a response the handler wrote (a proxied 404 or
500, mod_echo's 503) carries both."""
from helpers_headers import free_port, get, start

CONF = r"""
Header set X-Success yes
Header always set X-Always yes
ProxyPass /up/ %s/
ProxyPass /down/ http://127.0.0.1:%d/ retry=60
<Location /echo>
    SetHandler echo
</Location>
"""


def start_errors(relais, backend):
    dead = free_port()  # nobody listens there
    backend.on("/missing", status=404, body=b"backend says no\n")
    backend.on("/broken", status=500, body=b"backend broke\n")
    backend.on("/garbage", raw=b"NOT HTTP AT ALL\r\n\r\n")
    return start(relais, CONF % (backend.url, dead))


def assert_only_always(r, status):
    assert r.status == status, r
    assert r.header("X-Always") == "yes", r
    assert r.header("X-Success") is None, r


def assert_both(r, status):
    assert r.status == status, r
    assert r.header("X-Always") == "yes", r
    assert r.header("X-Success") == "yes", r


def test_success_gets_both(relais, backend):
    port = start_errors(relais, backend)
    assert_both(get(port, "/up/ok"), 200)


def test_core_404_gets_only_always(relais, backend):
    port = start_errors(relais, backend)
    r = get(port, "/no-handler-here")
    assert_only_always(r, 404)
    assert b"Not Found" in r.body


def test_core_502_gets_only_always(relais, backend):
    port = start_errors(relais, backend)
    assert_only_always(get(port, "/up/garbage"), 502)


def test_core_503_gets_only_always(relais, backend):
    port = start_errors(relais, backend)
    assert_only_always(get(port, "/down/x"), 503)
    # the refused connect put the worker in error for retry=60 s
    r = get(port, "/down/x")
    assert_only_always(r, 503)
    assert r.header("Retry-After") is not None
    assert "in error state" in relais.error_log()


def test_proxied_error_statuses_get_both(relais, backend):
    """The backend's 404/500 is a response the handler relays, not the
    core's error page: httpd applies the onsuccess table to it too."""
    port = start_errors(relais, backend)
    r = get(port, "/up/missing")
    assert_both(r, 404)
    assert r.body == b"backend says no\n"
    assert_both(get(port, "/up/broken"), 500)


def test_handler_written_503_gets_both(relais, backend):
    port = start_errors(relais, backend)
    r = get(port, "/echo?status=503")
    assert_both(r, 503)
    assert r.json()["uri"] == "/echo"
