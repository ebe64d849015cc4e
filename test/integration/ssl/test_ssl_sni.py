"""SNI: the name a client sends in its ClientHello selects the virtual
host, its certificate and its TLS settings; a request whose Host names a
vhost with another TLS set-up is misdirected (421, as httpd); without
SNI, SSLStrictSNIVHostCheck refuses name-based vhosts (403)."""
import socket
import ssl

import pytest

from helpers_proxy import Backend
from helpers_ssl_server import (TLSConn, cert_fingerprint, conf, context,
                                curl, file_fingerprint, free_port, start,
                                vhost, wait_log)


@pytest.fixture
def backend2():
    b = Backend()
    yield b
    b.stop()


def two_sites(certs, a, b, extra_a="", extra_b="", extra_top=""):
    """localhost (rsa + ec) proxied to backend a, alt.test (alt) to b."""
    return (extra_top +
            vhost(certs, "localhost", "ProxyPass / %s/\n%s" % (a.url, extra_a),
                  keys=("rsa", "ec")) +
            vhost(certs, "alt.test", "ProxyPass / %s/\n%s" % (b.url, extra_b),
                  keys=("alt",)))


def start_two(relais, certs, a, b, **kw):
    port = free_port()
    return start(relais, conf(port, two_sites(certs, a, b, **kw)), port)


def no_sni_context(certs, **kw):
    ctx = context(certs, **kw)
    ctx.check_hostname = False  # no server_hostname: no SNI is sent
    return ctx


def test_sni_selects_vhost_certificate_and_backend(relais, certs, backend,
                                                   backend2):
    port = start_two(relais, certs, backend, backend2)
    with TLSConn(port, context(certs), sni="alt.test") as c:
        assert cert_fingerprint(c.peer_cert_der()) == \
            file_fingerprint(certs.alt_crt)
        r = c.request("/which", host="alt.test")
        assert r.status == 200
    assert backend2.last().target == b"/which" and backend.last() is None
    with TLSConn(port, context(certs), sni="localhost") as c:
        assert cert_fingerprint(c.peer_cert_der()) in (
            file_fingerprint(certs.rsa_crt), file_fingerprint(certs.ec_crt))
        assert c.request("/first", host="localhost").status == 200
    assert backend.last().target == b"/first"
    # curl checks each certificate against the name it asked for
    for host, b in (("alt.test", backend2), ("localhost", backend)):
        p = curl(port, certs, "/curl-" + host, host=host)
        assert p.returncode == 0, p.stderr
        assert b.last().target == ("/curl-" + host).encode()


def test_unknown_sni_gets_the_default_vhost(relais, certs, backend,
                                            backend2):
    port = start_two(relais, certs, backend, backend2)
    ctx = context(certs)
    ctx.check_hostname = False
    with TLSConn(port, ctx, sni="nobody.test") as c:
        assert cert_fingerprint(c.peer_cert_der()) in (
            file_fingerprint(certs.rsa_crt), file_fingerprint(certs.ec_crt))
        assert c.request("/d", host="nobody.test").status == 200
    assert backend.last().target == b"/d"


def test_sni_host_mismatch_is_misdirected(relais, certs, backend, backend2):
    port = start_two(relais, certs, backend, backend2)
    with TLSConn(port, context(certs), sni="localhost") as c:
        r = c.request("/x", host="alt.test")
        assert r.status == 421
        # the connection stays usable for its own vhost
        assert c.request("/y", host="localhost").status == 200
    assert backend2.last() is None
    line = wait_log(relais, "select virtual hosts with different TLS set-ups")
    assert line and "Host alt.test and TLS SNI localhost" in line
    assert "421 Misdirected Request" in line


def test_same_tls_setup_is_not_misdirected(relais, certs, backend, backend2):
    """www.test and localhost share certificate and settings: a request
    for one on a connection made for the other is fine (HTTP/2-style
    connection reuse)."""
    port = free_port()
    body = (vhost(certs, "localhost", "ProxyPass / %s/" % backend.url) +
            vhost(certs, "www.test", "ProxyPass / %s/" % backend2.url))
    start(relais, conf(port, body), port)
    with TLSConn(port, context(certs), sni="localhost") as c:
        assert c.request("/shared", host="www.test").status == 200
    assert backend2.last().target == b"/shared"


def test_sni_vhost_settings_apply_from_the_handshake(relais, certs, backend,
                                                     backend2):
    """The vhost SNI names decides the protocol and the ciphers: the switch
    happens before the version is negotiated."""
    port = start_two(relais, certs, backend, backend2, extra_b=(
        "SSLProtocol TLSv1.2\nSSLCipherSuite ECDHE-RSA-CHACHA20-POLY1305\n"))
    with TLSConn(port, context(certs), sni="alt.test") as c:
        assert c.version == "TLSv1.2"
        assert c.cipher == "ECDHE-RSA-CHACHA20-POLY1305"
        assert c.request("/", host="alt.test").status == 200
    with TLSConn(port, context(certs), sni="localhost") as c:
        assert c.version == "TLSv1.3"


def test_without_sni_host_of_another_tls_setup_is_misdirected(
        relais, certs, backend, backend2):
    """No SNI: the handshake used the listener's default vhost, so a Host
    naming a vhost with another certificate is misdirected, as httpd
    (AH02032); a Host of the default vhost is served."""
    port = start_two(relais, certs, backend, backend2)
    with TLSConn(port, no_sni_context(certs), sni=None) as c:
        assert c.request("/n", host="alt.test").status == 421
        assert c.request("/d", host="localhost").status == 200
    assert backend2.last() is None
    assert backend.last().target == b"/d"
    assert wait_log(relais, "the listener's default (no SNI)")


def test_resumed_session_cannot_reach_a_client_cert_vhost(
        relais, certs, backend, backend2):
    """A TLS 1.2 session made for localhost (no client certificate) and
    resumed must not carry a request for www.test, which shares the
    certificate but requires a client certificate: 421, the backend of
    www.test never sees it."""
    port = free_port()
    body = (vhost(certs, "localhost", "ProxyPass / %s/" % backend.url) +
            vhost(certs, "www.test",
                  "ProxyPass / %s/\nSSLVerifyClient require\n"
                  "SSLCACertificateFile %s" % (backend2.url, certs.ca_crt)))
    start(relais, conf(port, body), port)
    ctx = context(certs, max_version=ssl.TLSVersion.TLSv1_2)
    with TLSConn(port, ctx, sni="localhost") as c:
        assert c.request("/first", host="localhost").status == 200
        session = c.sock.session
    with TLSConn(port, ctx, sni="localhost", session=session) as c:
        assert c.sock.session_reused
        assert c.request("/sneak", host="www.test").status == 421
    ctx.check_hostname = False  # no SNI at all on the resumption
    with TLSConn(port, ctx, sni=None, session=session) as c:
        assert c.request("/sneak2", host="www.test").status == 421
    assert backend2.last() is None


def test_strict_sni_on_default_vhost_refuses_clients_without_sni(
        relais, certs, backend, backend2):
    port = start_two(relais, certs, backend, backend2,
                     extra_a="SSLStrictSNIVHostCheck on\n")
    for host in ("localhost", "alt.test"):
        with TLSConn(port, no_sni_context(certs), sni=None) as c:
            assert c.request("/s", host=host).status == 403
    line = wait_log(relais, "no host name was sent in TLS SNI")
    assert line and "[ssl:error]" in line and "SSLStrictSNIVHostCheck" in line
    assert backend.last() is None and backend2.last() is None
    with TLSConn(port, context(certs), sni="alt.test") as c:
        assert c.request("/s", host="alt.test").status == 200


def test_strict_sni_on_one_vhost(relais, certs, backend, backend2):
    port = start_two(relais, certs, backend, backend2,
                     extra_b="SSLStrictSNIVHostCheck on\n")
    with TLSConn(port, no_sni_context(certs), sni=None) as c:
        assert c.request("/a", host="alt.test").status == 403
        assert c.request("/b", host="localhost").status == 200
    assert backend.last().target == b"/b" and backend2.last() is None


def test_sni_without_host_is_a_bad_request(relais, certs, backend, backend2):
    port = start_two(relais, certs, backend, backend2)
    with TLSConn(port, context(certs), sni="localhost") as c:
        c.sock.sendall(b"GET /old HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            try:
                b = c.sock.recv(4096)
            except (ssl.SSLError, socket.error):
                break
            if not b:
                break
            data += b
    assert data.startswith(b"HTTP/1.1 400 ") or data.startswith(b"HTTP/1.0 400")
    assert wait_log(relais, "the TLS SNI names localhost but the request "
                            "names no host")
