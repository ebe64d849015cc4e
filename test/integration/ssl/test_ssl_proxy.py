"""TLS to backends (mod_ssl's SSLProxy* with mod_proxy's https:// and
wss:// workers): real relaisd in front of Python backends that speak TLS
with the test PKI (conftest `certs`), and Debian's Apache with mod_ssl.

What is checked at the backend, not just at the client: the handshakes it
saw (one for many pooled requests), the SNI name (the URL's host, never
the client's Host), ALPN, the client certificate, resumed sessions; and
in the error log, the reason a handshake failed.
"""
import base64
import hashlib
import os
import time

import pytest

from helpers_ssl_proxy import (NO_SNI, TLSBackend, log_lines,
                               ssl_proxy_conf, start_ssl_proxy, wait_log)
from helpers_proxy import (WS_GUID, RawConn, error_page_clean, free_port,
                           get, pattern_sha256, proxy_conf, request_bytes,
                           sha256_hex, ws_frame, ws_read_frame)


@pytest.fixture
def tls_backends(certs):
    """Factory: tls_backends("rsa") -> a TLSBackend serving rsa.crt."""
    made = []

    def make(name="rsa", **kw):
        b = TLSBackend(certs.path(name + ".crt"), certs.path(name + ".key"),
                       **kw)
        made.append(b)
        return b
    yield make
    for b in made:
        b.stop()
    for b in made:
        assert not b.errors, "backend errors: %r" % b.errors


def verify_conf(certs, extra=""):
    return ("SSLProxyEngine on\n"
            "SSLProxyCACertificateFile %s\n" % certs.ca_crt) + extra


def two_vhosts(on_body, off_body):
    """A default vhost (on.test, first for the address) with on_body and
    another (off.test) with off_body; both inherit the main server's
    SSLProxy* settings."""
    return ("<VirtualHost 127.0.0.1:@PORT@>\n    ServerName on.test\n"
            "%s</VirtualHost>\n"
            "<VirtualHost 127.0.0.1:@PORT@>\n    ServerName off.test\n"
            "%s</VirtualHost>\n" % (on_body, off_body))


# ----------------------------------------------------------------------
# Verification
# ----------------------------------------------------------------------

def test_verified_backend_answers(relais, certs, tls_backends):
    b = tls_backends("rsa")
    port = start_ssl_proxy(relais, verify_conf(certs) +
                           "ProxyPass /app/ %s/\n" % b.url)
    resp = get(port, "/app/x?y=1")
    assert resp.status == 200, resp
    j = resp.json()
    assert j["target"] == "/x?y=1"
    # Host is the URL's host:port (not ProxyPreserveHost)
    assert dict(j["headers"])["Host"] == "localhost:%d" % b.port
    assert b.handshakes == 1
    assert b.sni == ["localhost"]
    assert b.alpn == ["http/1.1"]
    assert b.versions == ["TLSv1.3"]
    assert b.tls_failures == []


def test_untrusted_certificate_refused_with_reason(relais, certs,
                                                   tls_backends):
    b = tls_backends("untrusted")
    port = start_ssl_proxy(relais, verify_conf(certs) +
                           "ProxyPass / %s/\n" % b.url)
    resp = get(port, "/x")
    assert resp.status == 503, resp
    assert not error_page_clean(resp.body, b.port)
    assert b.requests == []  # nothing of the request went out
    assert wait_log(relais, "certificate verify failed")
    why = log_lines(relais, "TLS handshake with backend localhost:%d failed"
                    % b.port)
    assert why and "certificate verify failed" in why[0], \
        relais.error_log()
    assert "unable to get local issuer certificate" in why[0], why
    assert log_lines(relais, "cannot connect to backend %s"
                     % ("https://localhost:%d" % b.port),
                     "TLS handshake failed"), relais.error_log()


def test_wrong_name_refused_unless_check_peer_name_off(relais, certs,
                                                       tls_backends):
    """One backend (a certificate for wrong.test only) behind two vhosts:
    refused where the name is checked, accepted where it is not.  The
    connection the lenient vhost opened is pooled, and never lent to the
    strict one (workers are shared by every ProxyPass naming the URL)."""
    b = tls_backends("wrong")
    port = start_ssl_proxy(relais, verify_conf(certs) + two_vhosts(
        "ProxyPass /on/ %s/ retry=0\n" % b.url,
        "SSLProxyCheckPeerName off\nProxyPass /off/ %s/\n" % b.url),
        one_thread=True)
    resp = get(port, "/off/x", host="off.test")
    assert resp.status == 200, resp
    assert resp.json()["target"] == "/x"
    resp = get(port, "/on/x")
    # a new connection, which does not resume the lenient vhost's session
    # either (that would skip the verification)
    assert resp.status == 503, resp
    assert wait_log(relais, "hostname mismatch"), relais.error_log()
    resp = get(port, "/off/y", host="off.test")
    assert resp.status == 200, resp
    assert resp.json()["index"] == 1  # the pooled connection again
    assert b.handshakes == 1 and len(b.tls_failures) == 1


def test_expired_refused_unless_check_peer_expire_off(relais, certs,
                                                      tls_backends):
    b = tls_backends("expired")
    port = start_ssl_proxy(relais, verify_conf(certs) + two_vhosts(
        "ProxyPass /on/ %s/ retry=0\n" % b.url,
        "SSLProxyCheckPeerExpire off\nProxyPass /off/ %s/\n" % b.url))
    resp = get(port, "/on/x")
    assert resp.status == 503, resp
    assert wait_log(relais, "certificate has expired"), relais.error_log()
    resp = get(port, "/off/x", host="off.test")
    assert resp.status == 200, resp


@pytest.mark.parametrize("name", ["untrusted", "wrong", "expired"])
def test_verify_none_accepts_any_certificate(relais, certs, tls_backends,
                                             name):
    b = tls_backends(name)
    port = start_ssl_proxy(relais, "SSLProxyEngine on\n"
                           "SSLProxyVerify none\n"
                           "ProxyPass / %s/\n" % b.url)
    resp = get(port, "/x")
    assert resp.status == 200, resp
    assert b.handshakes == 1


def test_default_is_require_with_system_cas(relais, certs, tls_backends):
    """No SSLProxyVerify, no CA file: the system's CAs, which do not know
    the test CA, so the backend is refused (httpd would accept it)."""
    b = tls_backends("rsa")
    port = start_ssl_proxy(relais, "SSLProxyEngine on\n"
                           "ProxyPass / %s/\n" % b.url)
    assert get(port, "/x").status == 503
    assert wait_log(relais, "certificate verify failed")


def test_ip_address_url_no_sni_checked_as_address(relais, certs,
                                                  tls_backends):
    """https://127.0.0.1: no SNI (RFC 6066 forbids an address there), and
    the certificate must name the address: rsa.crt has IP:127.0.0.1,
    wrong.crt does not."""
    good = tls_backends("rsa")
    bad = tls_backends("wrong")
    port = start_ssl_proxy(relais, verify_conf(certs) +
                           "ProxyPass /good/ https://127.0.0.1:%d/\n"
                           "ProxyPass /bad/ https://127.0.0.1:%d/\n"
                           % (good.port, bad.port))
    assert get(port, "/good/x").status == 200
    assert good.sni == [NO_SNI]
    assert get(port, "/bad/x").status == 503
    assert wait_log(relais, "IP address mismatch"), relais.error_log()


def test_sni_is_the_url_host_not_the_client_host(relais, certs,
                                                 tls_backends):
    b = tls_backends("rsa")
    port = start_ssl_proxy(relais, verify_conf(certs) +
                           "ProxyPreserveHost On\n"
                           "ProxyPass / %s/\n" % b.url)
    resp = get(port, "/x", host="www.example.org")
    assert resp.status == 200, resp
    assert dict(resp.json()["headers"])["Host"] == "www.example.org"
    assert b.sni == ["localhost"]


# ----------------------------------------------------------------------
# Connections: pool, sessions, bodies
# ----------------------------------------------------------------------

@pytest.mark.parametrize("mpm", ["event", "worker", "prefork"])
def test_pooled_tls_connection_reused_without_handshake(relais, certs,
                                                        tls_backends, mpm):
    b = tls_backends("rsa")
    port = start_ssl_proxy(relais, verify_conf(certs) +
                           "ProxyPass / %s/\n" % b.url, mpm=mpm,
                           one_thread=True)
    for i in range(20):
        resp = get(port, "/n%d" % i)
        assert resp.status == 200, resp
        assert resp.json()["index"] == i  # nth request on one connection
    assert b.accepted == 1
    assert b.handshakes == 1


def test_pooled_tls_connection_closed_by_backend_while_idle(relais, certs,
                                                           tls_backends):
    """The backend closes an idle pooled connection: the next request
    notices before using it and opens (and resumes) a fresh one."""
    b = tls_backends("rsa", keepalive_timeout=0.3)
    port = start_ssl_proxy(relais, verify_conf(certs) +
                           "ProxyPass / %s/\n" % b.url, one_thread=True)
    assert get(port, "/a").status == 200
    # the backend closes it after 0.3 s idle: wait until it has (a busy
    # machine can take longer than that), then a little for the FIN
    end = time.time() + 10
    while time.time() < end:
        with b.lock:
            if not b.conns:
                break
        time.sleep(0.05)
    time.sleep(0.2)
    resp = get(port, "/b0")
    assert resp.status == 200, resp
    # a fresh connection (the second the backend accepted), not the dead one
    assert resp.json()["conn"] == 1
    assert b.handshakes == 2 and b.resumed == 1
    # and it goes on working (on that connection or, after another 0.3 s
    # idle close on a slow machine, on a new one)
    for i in range(1, 3):
        resp = get(port, "/b%d" % i)
        assert resp.status == 200, resp
        assert resp.json()["conn"] >= 1
    assert "error" not in "".join(
        ln for ln in relais.error_log().splitlines() if "[proxy:" in ln)


def test_new_connections_resume_the_session(relais, certs, tls_backends):
    """enablereuse=off: every request on a new connection, each resuming
    the session of the one before (TLS 1.3 tickets, each used once)."""
    b = tls_backends("rsa")
    port = start_ssl_proxy(relais, verify_conf(certs) +
                           "ProxyPass / %s/ enablereuse=off\n" % b.url,
                           one_thread=True)
    for i in range(6):
        assert get(port, "/r%d" % i).status == 200
    assert b.handshakes == 6
    assert b.resumed == 5, (b.handshakes, b.resumed)


def test_session_resumed_over_tls12(relais, certs, tls_backends):
    b = tls_backends("rsa", tls13=False)
    port = start_ssl_proxy(relais, verify_conf(certs) +
                           "ProxyPass / %s/ enablereuse=off\n" % b.url,
                           one_thread=True)
    for i in range(4):
        assert get(port, "/r%d" % i).status == 200
    assert b.versions == ["TLSv1.2"] * 4
    assert b.resumed == 3


def test_large_response_and_large_post_intact(relais, certs, tls_backends):
    b = tls_backends("rsa")
    size = 8 * 1024 * 1024 + 12345
    b.on("/big", size=size)
    b.on("/chunked", size=3 * 1024 * 1024 + 7, chunked=True, chunk=70000)
    port = start_ssl_proxy(relais, verify_conf(certs) +
                           "ProxyPass / %s/\n" % b.url, one_thread=True)
    resp = get(port, "/big", timeout=60)
    assert resp.status == 200
    assert len(resp.body) == size
    assert sha256_hex(resp.body) == pattern_sha256(size)
    resp = get(port, "/chunked", timeout=60)
    assert sha256_hex(resp.body) == pattern_sha256(3 * 1024 * 1024 + 7)
    body = os.urandom(6 * 1024 * 1024 + 3)
    resp = get(port, "/upload", method="POST", body=body, timeout=60)
    assert resp.status == 200, resp
    assert resp.json()["body_len"] == len(body)
    assert resp.json()["body_sha256"] == sha256_hex(body)
    # a chunked upload, relayed chunked
    with RawConn(port, timeout=60) as c:
        c.send(request_bytes(method="POST", target="/up2", headers=[
            ("Transfer-Encoding", "chunked")]))
        for i in range(0, len(body), 100000):
            piece = body[i:i + 100000]
            c.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        c.send(b"0\r\n\r\n")
        resp = c.read_response()
    assert resp.json()["body_sha256"] == sha256_hex(body)
    assert b.handshakes == 1  # all four on the pooled connection


def test_client_certificate_for_a_backend_that_requires_one(relais, certs,
                                                            tls_backends,
                                                            tmp_path):
    b = tls_backends("rsa", client_ca=certs.ca_crt)
    pem = tmp_path / "machine.pem"
    pem.write_bytes(open(certs.client_crt, "rb").read() +
                    open(certs.client_key, "rb").read())
    os.chmod(pem, 0o600)
    port = start_ssl_proxy(relais, verify_conf(certs) + two_vhosts(
        "ProxyPass /without/ %s/ retry=0\n" % b.url,
        "SSLProxyMachineCertificateFile %s\nProxyPass /with/ %s/\n"
        % (pem, b.url)))
    # without: the backend refuses the handshake (TLS 1.3 says so after
    # the client's Finished, so Relais learns it reading the answer)
    assert get(port, "/without/x").status in (502, 503)
    resp = get(port, "/with/x", host="off.test")
    assert resp.status == 200, resp
    assert "alice" in b.client_cns


# ----------------------------------------------------------------------
# Balancer: failover when a member's TLS fails
# ----------------------------------------------------------------------

def test_balancer_fails_over_from_bad_and_dead_members(relais, certs,
                                                       tls_backends):
    good = tls_backends("rsa")
    bad = tls_backends("untrusted")
    dead = free_port()
    port = start_ssl_proxy(relais, verify_conf(certs) + """
<Proxy "balancer://app">
    BalancerMember %s
    BalancerMember https://localhost:%d
    BalancerMember %s
</Proxy>
ProxyPass / balancer://app/
""" % (bad.url, dead, good.url), modules=("balancer",))
    for i in range(12):
        resp = get(port, "/f%d" % i)
        assert resp.status == 200, resp
    assert len(good.requests) == 12
    assert bad.requests == []
    log = relais.error_log()
    assert "TLS handshake with backend localhost:%d failed" % bad.port in log
    assert "put in error state" in log
    assert "https://localhost:%d" % bad.port in log


# ----------------------------------------------------------------------
# WebSocket over TLS (wss://)
# ----------------------------------------------------------------------

def test_wss_backend_tunnel(relais, certs, tls_backends):
    b = tls_backends("rsa")
    b.on("/ws", websocket=True)
    port = start_ssl_proxy(relais, verify_conf(certs) +
                           "ProxyPass /chat/ wss://localhost:%d/ws/ "
                           "upgrade=websocket\n" % b.port)
    key = base64.b64encode(os.urandom(16)).decode()
    c = RawConn(port, timeout=10)
    try:
        c.send(request_bytes(target="/chat/room", headers=[
            ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]))
        status, _, headers, raw = c.read_head()
        assert status == 101, raw
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID)
                                  .digest()).decode()
        assert dict((k.lower(), v) for k, v in headers)[
            "sec-websocket-accept"] == accept

        def exact(n):
            return c.read_exact(n, time.monotonic() + 10)
        c.send(ws_frame(1, b"over tls"))
        assert ws_read_frame(exact, expect_masked=False) == (1, b"over tls")
        big = os.urandom(300000)
        c.send(ws_frame(2, big))
        assert ws_read_frame(exact, expect_masked=False) == (2, big)
        c.send(ws_frame(8, b"\x03\xe8"))
        assert ws_read_frame(exact, expect_masked=False) == (8, b"\x03\xe8")
        assert c.wait_closed(timeout=5)
    finally:
        c.close()
    assert b.handshakes == 1 and b.sni == ["localhost"]


# ----------------------------------------------------------------------
# Configuration errors
# ----------------------------------------------------------------------

def _conf_test(relais, text):
    relais.write_conf(text)
    return relais.run("-t")


def test_https_without_mod_ssl_is_a_config_error(relais):
    res = _conf_test(relais, proxy_conf(free_port(),
                                        "ProxyPass / https://localhost:8443/\n"))
    assert res.returncode != 0
    out = res.stderr + res.stdout
    assert "https:// backends need mod_ssl" in out, out
    assert "LoadModule ssl_module" in out, out
    assert "relais.conf:8" in out, out


def test_https_without_ssl_proxy_engine_is_a_config_error(relais):
    res = _conf_test(relais, ssl_proxy_conf(free_port(), """
ProxyPass /a/ https://localhost:8443/
<Proxy "balancer://app">
    BalancerMember https://127.0.0.1:8444
</Proxy>
ProxyPass /b/ balancer://app/
<VirtualHost 127.0.0.1:8080>
    ServerName on.test
    SSLProxyEngine on
    ProxyPass /c/ https://localhost:8445/
</VirtualHost>
""", modules=("balancer",)))
    assert res.returncode != 0
    out = res.stderr + res.stdout
    lines = [ln for ln in out.splitlines() if "SSLProxyEngine on" in ln]
    assert any("relais.conf:11:" in ln and "ProxyPass /a/" in ln
               for ln in lines), out
    assert any("relais.conf:13:" in ln and "BalancerMember" in ln
               for ln in lines), out
    assert any("relais.conf:15:" in ln and "balancer://app/" in ln
               for ln in lines), out
    # the vhost has it on: its own ProxyPass is fine
    assert not any("/c/" in ln for ln in lines), out


def test_ssl_proxy_engine_on_passes_config_test(relais, certs):
    res = _conf_test(relais, ssl_proxy_conf(free_port(), verify_conf(certs) +
                                            "ProxyPass / https://localhost:"
                                            "8443/\n"))
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("line,expect", [
    ("SSLProxyVerify sometimes", "expected none, optional or require"),
    ("SSLProxyVerify optional_no_ca", "optional_no_ca is not supported"),
    ("SSLProxyProtocol +TLSv1.1 -TLSv1.2 +TLSv1.3", "must follow each other"),
    ("SSLProxyProtocol +SSLv3", "SSLv3 is insecure"),
    ("SSLProxyProtocol -all", "no protocol left"),
    ("SSLProxyCipherSuite NOTACIPHER", "knows no TLSv1.2 cipher"),
    ("SSLProxyCipherSuite TLSv1.3 NOPE", "knows no TLSv1.3 cipher"),
    ("SSLProxyCACertificateFile /nonexistent/ca.pem", "No such file"),
    ("SSLProxyVerifyDepth -1", "expected a number from 0 to 100"),
    ("SSLProxyMachineCertificateChainFile /x", "not supported by Relais"),
    ("<Proxy https://localhost:8443>\nSSLProxyVerify none\n</Proxy>",
     "not supported inside <Proxy>"),
])
def test_bad_ssl_proxy_directives(relais, line, expect):
    res = _conf_test(relais, ssl_proxy_conf(free_port(), line + "\n"))
    assert res.returncode != 0, line
    out = res.stderr + res.stdout
    assert expect in out, out
    assert "SSLProxy" in out and "relais.conf:" in out, out


def test_good_ssl_proxy_directives(relais, certs):
    res = _conf_test(relais, ssl_proxy_conf(free_port(), """
SSLProxyEngine on
SSLProxyVerify require
SSLProxyVerifyDepth 3
SSLProxyCACertificateFile %s
SSLProxyCACertificatePath %s
SSLProxyCheckPeerName on
SSLProxyCheckPeerCN off
SSLProxyCheckPeerExpire on
SSLProxyProtocol all -TLSv1 -TLSv1.1
SSLProxyCipherSuite ECDHE+AESGCM
SSLProxyCipherSuite TLSv1.3 TLS_AES_128_GCM_SHA256
SSLProxyCARevocationCheck none
ProxyPass / https://localhost:8443/
""" % (certs.ca_crt, certs.dir)))
    assert res.returncode == 0, res.stderr + res.stdout


def test_protocol_and_cipher_settings_apply(relais, certs, tls_backends):
    """SSLProxyProtocol -TLSv1.3 (a list starting with a sign edits the
    default, TLS 1.2 and 1.3) makes the backend connection TLS 1.2 with
    the one cipher SSLProxyCipherSuite allows."""
    b = tls_backends("rsa")
    port = start_ssl_proxy(relais, verify_conf(certs) +
                           "SSLProxyProtocol -TLSv1.3\n"
                           "SSLProxyCipherSuite ECDHE-RSA-AES128-GCM-SHA256\n"
                           "ProxyPass / %s/\n" % b.url)
    assert get(port, "/x").status == 200
    assert b.versions == ["TLSv1.2"]
    assert b.ciphers == ["ECDHE-RSA-AES128-GCM-SHA256"]


def test_backend_tls_after_graceful_restart(relais, certs, tls_backends):
    """A graceful restart builds new contexts (and forgets the old
    sessions); backends are verified and reached as before."""
    import signal
    b = tls_backends("rsa")
    port = start_ssl_proxy(relais, verify_conf(certs) +
                           "ProxyPass / %s/\n" % b.url)
    assert get(port, "/before").status == 200
    relais.send(signal.SIGUSR1)
    assert wait_log(relais, "graceful restart")
    end = time.monotonic() + 10
    while time.monotonic() < end and \
            relais.error_log().count("resuming normal operations") < 2:
        time.sleep(0.05)
    for i in range(5):
        assert get(port, "/after%d" % i).status == 200
    bad = tls_backends("untrusted")
    relais.write_conf(ssl_proxy_conf(port, verify_conf(certs) +
                                     "ProxyPass / %s/\n" % bad.url))
    relais.send(signal.SIGUSR1)
    end = time.monotonic() + 10
    while time.monotonic() < end and \
            relais.error_log().count("resuming normal operations") < 3:
        time.sleep(0.05)
    # the old generation's children may still take a connection or two
    end = time.monotonic() + 10
    while time.monotonic() < end and get(port, "/bad").status != 503:
        time.sleep(0.1)
    assert [get(port, "/bad%d" % i).status for i in range(3)] == [503] * 3
    assert wait_log(relais, "TLS handshake with backend localhost:%d failed"
                    % bad.port)
