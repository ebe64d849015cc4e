"""HTTP/2 from real clients under every MPM: curl over TLS (ALPN h2) and
in cleartext with prior knowledge (h2c), HTTP/1.1 on the same ports, the
request as the handler sees it, and `Protocols http/1.1` turning HTTP/2
off."""
import json
import socket
import ssl

import pytest

from helpers_h2 import MPMS, PREFACE, access_lines, curl, start_h2


@pytest.mark.parametrize("mpm", MPMS)
def test_h2_tls_and_h2c_and_http11_on_the_same_ports(relais, certs, mpm):
    port, tls = start_h2(relais, "SetHandler echo\n", mpm=mpm, tls=True,
                         certs=certs)
    # TLS: curl offers h2 by ALPN and the server picks it
    p = curl("--http2", "--cacert", certs.path("ca.crt"), "-w",
             "\n%{http_version}", "https://localhost:%d/t?x=1" % tls,
             "--resolve", "localhost:%d:127.0.0.1" % tls)
    body, version = p.stdout.rsplit(b"\n", 1)
    assert p.returncode == 0 and version == b"2", p
    seen = json.loads(body)
    assert seen["protocol"] == "HTTP/2.0"
    assert seen["uri"] == "/t" and seen["args"] == "x=1"
    assert seen["headers"]["Host"] == "localhost:%d" % tls
    # cleartext with prior knowledge, a cookie in two crumbs and a body
    p = curl("--http2-prior-knowledge", "-w", "\n%{http_version}",
             "-H", "Cookie: a=1", "-H", "Cookie: b=2", "-d", "hello",
             "http://127.0.0.1:%d/c" % port)
    body, version = p.stdout.rsplit(b"\n", 1)
    assert p.returncode == 0 and version == b"2", p
    seen = json.loads(body)
    assert seen["method"] == "POST" and seen["body_length"] == 5
    assert seen["headers"]["cookie"] == "a=1; b=2"
    # HTTP/1.1 still works on both ports
    for args in (("http://127.0.0.1:%d/one" % port,),
                 ("--cacert", certs.path("ca.crt"), "--resolve",
                  "localhost:%d:127.0.0.1" % tls,
                  "https://localhost:%d/one" % tls)):
        p = curl("--http1.1", "-w", "\n%{http_version}", *args)
        body, version = p.stdout.rsplit(b"\n", 1)
        assert version == b"1.1" and json.loads(body)["protocol"] == \
            "HTTP/1.1", p


@pytest.mark.parametrize("mpm", MPMS)
def test_h2_many_streams_on_one_connection(relais, certs, mpm):
    """curl multiplexes parallel transfers over one HTTP/2 connection (over
    TLS: curl 7.88 cannot reuse an h2c prior-knowledge connection, its
    bug #10634)."""
    _, tls = start_h2(relais, "SetHandler echo\n", mpm=mpm, tls=True,
                      certs=certs)
    urls = ["https://localhost:%d/p%d?size=%d" % (tls, i, 1000 + i * 7919)
            for i in range(20)]
    args = ["--http2", "--parallel", "--parallel-max", "20", "--cacert",
            certs.path("ca.crt"), "--resolve", "localhost:%d:127.0.0.1" % tls,
            "-w", "%{http_version} %{response_code} %{size_download}\n"]
    for u in urls:
        args += ["-o", "/dev/null", u]
    p = curl(*args)
    lines = sorted(p.stdout.decode().split("\n")[:-1])
    want = sorted("2 200 %d" % (1000 + i * 7919) for i in range(20))
    assert lines == want, p
    # every one logged, as HTTP/2
    lines = access_lines(relais, 20)
    assert len(lines) == 20 and all(" HTTP/2.0" in l for l in lines), lines


def test_h2_off_when_protocols_says_http11(relais, certs):
    port, tls = start_h2(relais, "SetHandler echo\n", tls=True, certs=certs,
                         protocols="http/1.1")
    # ALPN: the server does not pick h2, curl falls back to HTTP/1.1
    p = curl("--http2", "--cacert", certs.path("ca.crt"), "-w",
             "\n%{http_version}", "https://localhost:%d/t" % tls,
             "--resolve", "localhost:%d:127.0.0.1" % tls)
    assert p.stdout.rsplit(b"\n", 1)[1] == b"1.1", p
    ctx = ssl.create_default_context(cafile=certs.path("ca.crt"))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", tls)) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as s:
        assert s.selected_alpn_protocol() in (None, "http/1.1")
    # cleartext: the preface is an HTTP/1.1 request like any other (an
    # unsupported version), answered in HTTP/1.1, then closed
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(PREFACE)
        got = s.recv(4096)
    assert got.startswith(b"HTTP/1.1 "), got
    assert int(got.split(b" ", 2)[1]) >= 400, got


def test_h2_alpn_offers_h2_when_allowed(relais, certs):
    _, tls = start_h2(relais, "SetHandler echo\n", tls=True, certs=certs)
    ctx = ssl.create_default_context(cafile=certs.path("ca.crt"))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", tls)) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as s:
        assert s.selected_alpn_protocol() == "h2"
