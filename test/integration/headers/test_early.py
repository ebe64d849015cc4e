"""`early` actions: applied in post_read_request, before access checks and
routing; the others (late) at fixups, right before the handler.  An early
header is what <If> conditions and later (late) actions see; a late one
comes too late for <If>."""
from helpers_headers import get, start


def test_early_runs_before_late_whatever_the_file_order(relais, backend):
    port = start(relais, r"""
RequestHeader append X-Order late
RequestHeader set X-Order early early
ProxyPass / %s/
""" % backend.url)
    r = get(port, "/p", headers=[("X-Order", "client")])
    assert r.status == 200
    # early replaced the client's value, late appended to what early left
    assert backend.last().header_all("X-Order") == ["early, late"]


def test_early_header_seen_by_location_actions_and_the_proxy(relais,
                                                             backend):
    port = start(relais, r"""
RequestHeader set X-Early on early
<Location /loc>
    RequestHeader edit X-Early ^on$ on-seen-by-location
</Location>
ProxyPass / %s/
""" % backend.url)
    assert get(port, "/plain").status == 200
    assert backend.last().header("X-Early") == "on"
    assert get(port, "/loc/x").status == 200
    assert backend.last().header("X-Early") == "on-seen-by-location"


def test_early_header_chooses_if_blocks_late_one_does_not(relais, backend):
    """<If> conditions are evaluated for the request as the early actions
    left it (httpd walks its sections after them); a late header is set
    after the sections were chosen, so the second <If> stays false."""
    port = start(relais, r"""
RequestHeader set X-Early on early
RequestHeader set X-Late on
<If "%%{HTTP:X-Early} == 'on'">
    RequestHeader set X-If-Early matched
</If>
<If "%%{HTTP:X-Late} == 'on'">
    RequestHeader set X-If-Late matched
</If>
ProxyPass / %s/
""" % backend.url)
    r = get(port, "/p")
    assert r.status == 200, relais.error_log()
    q = backend.last()
    assert q.header("X-Early") == "on"
    assert q.header("X-Late") == "on"
    assert q.header("X-If-Early") == "matched"
    assert q.header("X-If-Late") is None


def test_early_response_header_kept_for_a_handler_response(relais):
    """Header ... early edits the response tables at the start: the
    handler's answer keeps it (an error page would clear headers_out)."""
    port = start(relais, r"""
Header set X-Early-Out yes early
Header always set X-Early-Always yes early
SetHandler echo
<Location /none>
    SetHandler none
</Location>
""")
    r = get(port, "/x")
    assert r.status == 200
    assert r.header("X-Early-Out") == "yes"
    assert r.header("X-Early-Always") == "yes"
    r = get(port, "/none")
    assert r.status == 404
    assert r.header("X-Early-Out") is None
    assert r.header("X-Early-Always") == "yes"
