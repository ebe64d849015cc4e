"""Every module works unchanged under HTTP/2: mod_proxy to a Python
backend (which speaks HTTP/1.1), mod_cache hits, mod_acl refusals,
mod_headers, mod_log's access log line; big bodies both ways through the
proxy, and h2load's many parallel streams."""
import hashlib
import json
import re
import shutil

import pytest

from helpers_h2 import access_lines, curl, start_h2
from helpers_proxy import pattern_sha256

MODULES_BODY = """CacheHeader on
CacheEnable mem /cached
Header set X-Via-H2 "yes"
<Location /private>
    Require all denied
</Location>
ProxyPass / {url}/
"""


def h2c(port, path, *args):
    p = curl("--http2-prior-knowledge", "-D", "-", "-w",
             "\n%{http_version}", *(args + ("http://127.0.0.1:%d%s" % (
                 port, path),)))
    assert p.returncode == 0, p
    text, version = p.stdout.rsplit(b"\n", 1)
    head, _, body = text.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, body, version


def test_h2_proxy_cache_acl_headers_log(relais, backend):
    backend.on("/cached", headers=[("Cache-Control", "max-age=60")],
               body=b"cacheable body")
    port, _ = start_h2(relais, MODULES_BODY.format(url=backend.url),
                       modules=("cache", "acl", "headers"))
    # proxied: the backend got HTTP/1.1 with the client's fields
    status, headers, body, version = h2c(port, "/api/x?q=1", "-H",
                                         "X-Client: abc")
    assert version == b"2" and status == 200
    seen = json.loads(body)
    assert seen["method"] == "GET" and seen["target"] == "/api/x?q=1"
    req = backend.last()
    assert req.version == "HTTP/1.1" and req.header("X-Client") == "abc"
    assert req.header("Host") is not None
    # mod_headers added its header to the HTTP/2 response
    assert headers["x-via-h2"] == "yes"
    # the cache: a miss, then a hit the backend never sees
    s1, h1, b1, _ = h2c(port, "/cached/a")
    s2, h2, b2, _ = h2c(port, "/cached/a")
    assert (s1, s2) == (200, 200) and b1 == b2 == b"cacheable body"
    assert h1["x-cache"].startswith("MISS") and \
        h2["x-cache"].startswith("HIT"), (h1, h2)
    assert sum(1 for r in backend.requests if r.target == b"/cached/a") == 1
    # mod_acl refuses before anything is served
    n = len(backend.requests)
    status, _, _, _ = h2c(port, "/private/secret")
    assert status == 403 and len(backend.requests) == n
    # the access log: protocol, status, bytes
    lines = access_lines(relais, 4)
    assert re.search(r'"GET /api/x\?q=1 HTTP/2\.0" 200 %d HTTP/2\.0$' %
                     len(body), lines[0]), lines
    assert any('"GET /private/secret HTTP/2.0" 403 ' in l
               for l in lines), lines


def test_h2_big_bodies_both_ways_through_the_proxy(relais, backend, tmp_path):
    backend.on("/down", size=12 << 20)
    port, _ = start_h2(relais, "ProxyPass / %s/\n" % backend.url)
    up = tmp_path / "up.bin"
    data = hashlib.sha256(b"seed").digest() * (8 << 15)  # 8 MiB
    up.write_bytes(data)
    # 8 MiB up: the backend hashed what it received
    status, _, body, version = h2c(port, "/up", "--data-binary",
                                   "@%s" % up)
    seen = json.loads(body)
    assert version == b"2" and status == 200
    assert seen["body_len"] == len(data)
    assert seen["body_sha256"] == hashlib.sha256(data).hexdigest()
    # the same body without a length (HTTP/2 DATA frames only): the
    # backend gets it chunked, whole
    status, _, body, _ = h2c(port, "/up2", "--data-binary", "@%s" % up,
                             "-H", "Content-Length:")
    seen = json.loads(body)
    assert seen["body_sha256"] == hashlib.sha256(data).hexdigest()
    # 12 MiB down
    out = tmp_path / "down.bin"
    p = curl("--http2-prior-knowledge", "-o", str(out), "-w",
             "%{http_version} %{response_code}",
             "http://127.0.0.1:%d/down" % port)
    assert p.stdout == b"2 200", p
    assert hashlib.sha256(out.read_bytes()).hexdigest() == \
        pattern_sha256(12 << 20)


@pytest.mark.skipif(shutil.which("h2load") is None, reason="needs h2load")
def test_h2_h2load_many_parallel_streams(relais, backend):
    port, _ = start_h2(relais, "ProxyPass / %s/\n" % backend.url)
    p = __import__("subprocess").run(
        ["h2load", "-n", "2000", "-c", "4", "-m", "50",
         "http://127.0.0.1:%d/load" % port],
        capture_output=True, text=True, timeout=120)
    assert re.search(r"requests: 2000 total, 2000 started, 2000 done, "
                     r"2000 succeeded, 0 failed, 0 errored, 0 timeout",
                     p.stdout), p.stdout + p.stderr
    assert "status codes: 2000 2xx" in p.stdout, p.stdout
    # each request reached the backend, as HTTP/1.1
    reqs = backend.wait_requests(2000)
    assert len(reqs) == 2000
    assert all(r.target == b"/load" and r.version == "HTTP/1.1"
               for r in reqs)
