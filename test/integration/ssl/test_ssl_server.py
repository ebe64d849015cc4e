"""mod_ssl's server side: protocols, ciphers, RSA and ECDSA certificates
side by side, ALPN, plain HTTP on a TLS port, compression and
renegotiation, handshake failures in the error log, keep-alive and large
bodies through the proxy under every MPM, and configuration errors.

Clients: Python's ssl module, `openssl s_client`, curl and raw sockets.
"""
import hashlib
import os
import re
import shutil
import socket
import ssl

import pytest

from helpers_proxy import MPMS, pattern_sha256, sha256_hex
from helpers_ssl_server import (TLSConn, conf, context, curl, file_fingerprint,
                                free_port, https_get, s_client, s_client_field,
                                start, vhost, wait_log)


def echo_site(certs, keys=("rsa", "ec"), extra=""):
    return vhost(certs, "localhost", "SetHandler echo\nEchoName tls\n" + extra,
                 keys=keys)


def start_echo(relais, certs, keys=("rsa", "ec"), extra="", mpm="event",
               top=""):
    port = free_port()
    return start(relais, conf(port, top + echo_site(certs, keys, extra),
                              mpm=mpm), port)


def server_pem(out):
    """The server certificate s_client printed, as DER."""
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                  out, re.S)
    assert m, out
    return ssl.PEM_cert_to_DER_cert(m.group(0))


# ------------------------------------------------------------- protocols

def test_tls13_by_default_and_tls12_works(relais, certs):
    port = start_echo(relais, certs)
    with TLSConn(port, context(certs)) as c:
        assert c.version == "TLSv1.3"
        r = c.request("/a")
        assert r.status == 200 and r.json()["name"] == "tls"
    with TLSConn(port, context(certs,
                               max_version=ssl.TLSVersion.TLSv1_2)) as c:
        assert c.version == "TLSv1.2"
        # the default TLS 1.2 list: forward secret (ECDHE) and AEAD only
        assert re.match(r"ECDHE-(RSA|ECDSA)-(AES\d+-GCM-SHA\d+|CHACHA20-"
                        r"POLY1305)$", c.cipher), c.cipher
        assert c.request("/b").status == 200


@pytest.mark.parametrize("flag", ["-tls1_1", "-tls1"])
def test_tls11_and_tls10_refused_by_default(relais, certs, flag):
    port = start_echo(relais, certs)
    # @SECLEVEL=0 lets the client offer them: the refusal is the server's
    out = s_client(port, flag, "-cipher", "DEFAULT:@SECLEVEL=0",
                   "-servername", "localhost")
    assert "alert protocol version" in out, out
    assert s_client_field(out, "Cipher") in (None, "0000", "(NONE)"), out
    line = wait_log(relais, "TLS handshake failed: unsupported protocol")
    assert line and "[ssl:info]" in line and "[client 127.0.0.1:" in line


def test_tls11_when_the_operator_enables_it(relais, certs):
    """The control of the test above: the same client gets TLS 1.1 when
    SSLProtocol asks for it (so the refusal is the default's doing)."""
    port = start_echo(relais, certs, keys=("rsa",), extra=(
        "SSLProtocol all\nSSLCipherSuite DEFAULT:@SECLEVEL=0\n"))
    out = s_client(port, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0",
                   "-servername", "localhost")
    assert s_client_field(out, "Protocol") == "TLSv1.1", out
    assert "TLSv1 and TLSv1.1 are deprecated" in relais.read("stderr.txt")


def test_sslprotocol_minus_tls13_forces_tls12(relais, certs):
    port = start_echo(relais, certs, extra="SSLProtocol -TLSv1.3\n")
    with TLSConn(port, context(certs)) as c:
        assert c.version == "TLSv1.2"
        assert c.request("/").status == 200
    out = s_client(port, "-tls1_3", "-servername", "localhost")
    assert "alert protocol version" in out, out


def test_sslprotocol_tls13_only(relais, certs):
    port = start_echo(relais, certs, extra="SSLProtocol TLSv1.3\n")
    with TLSConn(port, context(certs)) as c:
        assert c.version == "TLSv1.3"
    with pytest.raises(ssl.SSLError):
        TLSConn(port, context(certs, max_version=ssl.TLSVersion.TLSv1_2))


# --------------------------------------------------------------- ciphers

def test_ciphersuite_restricts_tls12(relais, certs):
    port = start_echo(relais, certs, keys=("rsa",),
                      extra="SSLCipherSuite ECDHE-RSA-CHACHA20-POLY1305\n")
    ctx = context(certs, max_version=ssl.TLSVersion.TLSv1_2)
    with TLSConn(port, ctx) as c:
        assert c.cipher == "ECDHE-RSA-CHACHA20-POLY1305"
    # a client without it gets nothing, and the log says why
    ctx = context(certs, max_version=ssl.TLSVersion.TLSv1_2,
                  ciphers="ECDHE-RSA-AES128-GCM-SHA256")
    with pytest.raises(ssl.SSLError):
        TLSConn(port, ctx)
    assert wait_log(relais, "TLS handshake failed: no shared cipher")


def test_ciphersuite_tls13_list(relais, certs):
    port = start_echo(relais, certs, extra=(
        "SSLCipherSuite TLSv1.3 TLS_CHACHA20_POLY1305_SHA256\n"))
    out = s_client(port, "-tls1_3", "-servername", "localhost")
    assert s_client_field(out, "Cipher") == "TLS_CHACHA20_POLY1305_SHA256"
    out = s_client(port, "-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256",
                   "-servername", "localhost")
    assert "handshake failure" in out, out
    # TLS 1.2 keeps its default list
    with TLSConn(port, context(certs,
                               max_version=ssl.TLSVersion.TLSv1_2)) as c:
        assert "GCM" in c.cipher or "CHACHA" in c.cipher


@pytest.mark.parametrize("honor", ["on", "off"])
def test_honor_cipher_order(relais, certs, honor):
    port = start_echo(relais, certs, keys=("rsa",), extra=(
        "SSLCipherSuite ECDHE-RSA-CHACHA20-POLY1305:"
        "ECDHE-RSA-AES128-GCM-SHA256\nSSLHonorCipherOrder %s\n" % honor))
    out = s_client(port, "-tls1_2", "-cipher",
                   "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305",
                   "-servername", "localhost")
    want = ("ECDHE-RSA-CHACHA20-POLY1305" if honor == "on"
            else "ECDHE-RSA-AES128-GCM-SHA256")
    assert s_client_field(out, "Cipher") == want, out


# ------------------------------------------------- RSA and ECDSA together

def test_rsa_and_ecdsa_side_by_side(relais, certs):
    port = start_echo(relais, certs, keys=("rsa", "ec"))
    rsa, ec = file_fingerprint(certs.rsa_crt), file_fingerprint(certs.ec_crt)
    cases = [
        (("-tls1_3", "-sigalgs", "ECDSA+SHA256"), ec),
        (("-tls1_3", "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256"), rsa),
        (("-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"), ec),
        (("-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"), rsa),
    ]
    for args, want in cases:
        out = s_client(port, *args, "-servername", "localhost",
                       "-CAfile", certs.ca_crt)
        got = hashlib.sha256(server_pem(out)).hexdigest()
        assert got == want, (args, out)
        assert "Verify return code: 0 (ok)" in out
    # and a request over each
    for ciphers in ("ECDHE-ECDSA-AES256-GCM-SHA384",
                    "ECDHE-RSA-AES256-GCM-SHA384"):
        r = https_get(port, certs, max_version=ssl.TLSVersion.TLSv1_2,
                      ciphers=ciphers)
        assert r.status == 200


# ------------------------------------------------------------------ ALPN

def test_alpn(relais, certs):
    port = start_echo(relais, certs)
    for offer in ("http/1.1", "h2,http/1.1"):
        out = s_client(port, "-alpn", offer, "-servername", "localhost")
        assert "ALPN protocol: http/1.1" in out, out
    # h2 alone: refused with no_application_protocol (RFC 7301), not
    # served without ALPN
    out = s_client(port, "-alpn", "h2", "-servername", "localhost")
    assert "no application protocol" in out, out
    line = wait_log(relais, "offers only application protocols")
    assert line and "ALPN h2" in line and "[client 127.0.0.1:" in line
    # curl negotiates http/1.1 and is served
    p = curl(port, certs, "/alpn", args=("-w", "%{http_version}",
                                        "-o", "/dev/null"))
    assert p.returncode == 0 and p.stdout == b"1.1", p


# -------------------------------------------------- plain HTTP, failures

def test_plain_http_on_tls_port_gets_400_and_close(relais, certs):
    port = start_echo(relais, certs)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break  # closed by the server
            data += b
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Connection: close" in head
    assert b"Content-Type: text/plain" in head
    assert body == b"This port speaks TLS: use https:// to reach it.\n"
    assert wait_log(relais, "plain HTTP request on a TLS port")
    # the port still speaks TLS
    assert https_get(port, certs).status == 200


def test_handshake_failure_logged_with_client_address(relais, certs):
    port = start_echo(relais, certs)
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    client_port = raw.getsockname()[1]
    # a non forward-secret suite: not in the default list
    ctx = context(certs, max_version=ssl.TLSVersion.TLSv1_2,
                  ciphers="AES128-GCM-SHA256")
    with pytest.raises(ssl.SSLError):
        ctx.wrap_socket(raw, server_hostname="localhost")
    raw.close()
    line = wait_log(relais, "[client 127.0.0.1:%d]" % client_port)
    assert line, relais.error_log()
    assert "[ssl:info]" in line
    assert "TLS handshake failed: no shared cipher (SNI localhost)" in line


def test_client_that_rejects_our_certificate_is_logged(relais, certs):
    port = start_echo(relais, certs)
    # no CA: the client refuses the certificate with an alert
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ssl.SSLCertVerificationError):
        TLSConn(port, ctx)
    assert wait_log(relais, "TLS handshake failed: tlsv1 alert unknown ca")


def test_compression_off_and_renegotiation_refused(relais, certs):
    port = start_echo(relais, certs)
    out = s_client(port, "-servername", "localhost")
    assert "Compression: NONE" in out, out
    # a client-initiated renegotiation (TLS 1.2, "R" in s_client)
    out = s_client(port, "-tls1_2", "-servername", "localhost",
                   stdin=b"R\n", timeout=8)
    assert "RENEGOTIATING" in out, out
    assert "no renegotiation" in out, out
    assert https_get(port, certs).status == 200


def test_client_closing_without_a_word_is_quiet(relais, certs):
    """A TCP port check (connect, close) is not worth an info line."""
    port = start_echo(relais, certs)
    for _ in range(3):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert https_get(port, certs).status == 200
    assert "TLS handshake failed" not in relais.error_log()


# ------------------------------------------- the core under every MPM

def request_json(c, target):
    r = c.request(target)
    assert r.status == 200, r.body
    return r.json()


@pytest.mark.parametrize("mpm", MPMS)
def test_keepalive_and_large_bodies_through_proxy(relais, certs, backend,
                                                  mpm):
    port = free_port()
    body = vhost(certs, "localhost", "ProxyPass / %s/\n" % backend.url,
                 keys=("rsa", "ec"))
    start(relais, conf(port, body, mpm=mpm), port)
    size = 12 * 1024 * 1024
    backend.on("/big", size=size)
    with TLSConn(port, context(certs), timeout=30) as c:
        # keep-alive: one TLS connection, several requests
        conns = set()
        for i in range(5):
            j = request_json(c, "/ka?%d" % i)
            assert j["target"] == "/ka?%d" % i
            conns.add(j["conn"])
        assert len(conns) == 1  # the backend pool reused one connection too
        # a large download
        r = c.request("/big")
        assert r.status == 200 and len(r.body) == size
        assert sha256_hex(r.body) == pattern_sha256(size)
        # a large upload
        data = os.urandom(8 * 1024 * 1024 + 123)
        j = c.request("/up", method="POST", body=data).json()
        assert j["body_len"] == len(data)
        assert j["body_sha256"] == sha256_hex(data)
        # and the connection is still good
        assert request_json(c, "/after")["target"] == "/after"
    assert "(%s MPM)" % mpm in relais.error_log()


@pytest.mark.parametrize("mpm", MPMS)
def test_many_clients_in_parallel(relais, certs, mpm):
    import threading
    port = start_echo(relais, certs, mpm=mpm)
    errors = []

    def client(n):
        try:
            with TLSConn(port, context(certs)) as c:
                for i in range(20):
                    r = c.request("/p/%d/%d?size=20000" % (n, i))
                    if r.status != 200 or len(r.body) != 20000:
                        errors.append((n, i, r.status, len(r.body)))
        except Exception as e:  # noqa: B902
            errors.append((n, repr(e)))

    ts = [threading.Thread(target=client, args=(n,)) for n in range(12)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors[:5]


# ------------------------------------------------------------- config

def syntax(relais, body, port=None):
    port = port or free_port()
    relais.write_conf(conf(port, body))
    return relais.run("-t")


def test_vhost_with_engine_and_no_certificate_is_an_error(relais, certs):
    p = syntax(relais, "<VirtualHost *:@PORT@>\nServerName bare.test\n"
                       "SSLEngine on\n</VirtualHost>\n")
    assert p.returncode != 0
    assert re.search(r"<VirtualHost> at \S+relais.conf:\d+ \(bare.test\) has "
                     r"SSLEngine on but no SSLCertificateFile", p.stderr), \
        p.stderr


def test_bad_certificate_at_start_names_file_and_reason(relais, certs,
                                                        tmp_path):
    bad = tmp_path / "bad.crt"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n"
                   "-----END CERTIFICATE-----\n")
    p = syntax(relais, "<VirtualHost *:@PORT@>\nServerName localhost\nSSLEngine on\n"
                       "SSLCertificateFile %s\nSSLCertificateKeyFile %s\n"
                       "</VirtualHost>\n" % (bad, certs.rsa_key))
    assert p.returncode != 0
    assert "SSLCertificateFile %s: no certificate in it" % bad in p.stderr, \
        p.stderr
    assert "could be read (bad base64 decode)" in p.stderr, p.stderr
    # missing file
    p = syntax(relais, "<VirtualHost *:@PORT@>\nServerName localhost\nSSLEngine on\n"
                       "SSLCertificateFile %s/nope.crt\n</VirtualHost>\n"
                       % tmp_path)
    assert p.returncode != 0
    assert "cannot open %s/nope.crt: No such file or directory" % tmp_path \
        in p.stderr
    # a key that is not the certificate's
    p = syntax(relais, "<VirtualHost *:@PORT@>\nServerName localhost\nSSLEngine on\n"
                       "SSLCertificateFile %s\nSSLCertificateKeyFile %s\n"
                       "</VirtualHost>\n" % (certs.rsa_crt, certs.alt_key))
    assert p.returncode != 0
    assert ("SSLCertificateKeyFile %s does not match the certificate in "
            "SSLCertificateFile %s (key values mismatch)"
            % (certs.alt_key, certs.rsa_crt)) in p.stderr, p.stderr


def test_encrypted_key_is_explained(relais, certs, tmp_path):
    enc = tmp_path / "enc.key"
    import subprocess
    subprocess.run(["openssl", "pkey", "-in", certs.rsa_key, "-aes256",
                    "-passout", "pass:secret", "-out", str(enc)], check=True)
    p = syntax(relais, vhost(certs, keys=()).replace(
        "SSLEngine on", "SSLEngine on\nSSLCertificateFile %s\n"
        "SSLCertificateKeyFile %s" % (certs.rsa_crt, enc)))
    assert p.returncode != 0
    assert "%s: the key is encrypted (" % enc in p.stderr, p.stderr
    assert "Relais never asks for a pass phrase" in p.stderr


def test_key_readable_by_others_warns_at_start(relais, certs, tmp_path):
    key = tmp_path / "open.key"
    shutil.copy(certs.rsa_key, key)
    os.chmod(key, 0o644)
    port = free_port()
    body = vhost(certs, keys=()).replace(
        "SSLEngine on", "SSLEngine on\nSSLCertificateFile %s\n"
        "SSLCertificateKeyFile %s\nSetHandler echo" % (certs.rsa_crt, key))
    start(relais, conf(port, body), port)
    out = relais.read("stderr.txt") + relais.error_log()
    assert re.search(r"\[ssl:warn\].*SSLCertificateKeyFile %s is readable by "
                     r"every user of this machine \(mode 0644\)" % key, out), \
        out
    assert https_get(port, certs).status == 200


def test_expired_certificate_warns(relais, certs):
    port = start_echo(relais, certs, keys=("expired",))
    out = relais.read("stderr.txt") + relais.error_log()
    assert "SSLCertificateFile %s: the certificate has expired" \
        % certs.expired_crt in out
    # served all the same: the operator decides
    with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
        https_get(port, certs)


def test_https_listener_without_sslengine_is_refused(relais, certs):
    port = free_port()
    relais.write_conf(conf(port, "<VirtualHost *:@PORT@>\nServerName plain.test\n"
                                 "SetHandler echo\n</VirtualHost>\n"))
    relais.start(wait=False)
    assert relais.proc.wait(timeout=15) != 0
    out = relais.read("stderr.txt") + relais.error_log()
    assert re.search(r"Listen 127.0.0.1:%d https: the default virtual host of "
                     r"that address, <VirtualHost> at \S+ \(plain.test\), has "
                     r"no SSLEngine on" % port, out), out


def test_plain_listener_with_sslengine_speaks_tls(relais, certs):
    """httpd's rule: the default vhost's SSLEngine decides, `https` on
    Listen is optional."""
    port = free_port()
    start(relais, conf(port, echo_site(certs), listen=""), port)
    assert https_get(port, certs).status == 200


@pytest.mark.parametrize("line, message", [
    ("SSLCompression on", "On is refused: TLS compression leaks secrets"),
    ("SSLInsecureRenegotiation on", "On is refused: insecure renegotiation"),
    ("SSLEngine optional", "optional (upgrading a plain connection"),
    ("SSLProtocol +SSLv3", "SSLv3 is not supported"),
    ("SSLProtocol TLSv1.4", "unknown protocol 'TLSv1.4'"),
    ("SSLProtocol -all", "leaves no protocol enabled"),
    ("SSLCipherSuite NOTACIPHER", "selects no cipher OpenSSL knows"),
    ("SSLCipherSuite TLSv1.3 NOT_A_SUITE", "names no TLS 1.3 cipher suite"),
    ("SSLVerifyClient sometimes", "expected none, optional, require"),
    ("SSLRequire %{SSL_CLIENT_S_DN_O} eq 'x'", "write the condition as "
     "Require expr"),
    ("SSLOpenSSLConfCmd Curves X25519", "SSLOpenSSLConfCmd is not supported"),
    ("SSLCARevocationFile /tmp/crl.pem", "revoked certificates in"),
    ("SSLPassPhraseDialog exec:/bin/echo", "only builtin"),
    ("SSLOptions +FakeBasicAuth", "FakeBasicAuth is not supported"),
    ("<Location /a>\nSSLVerifyClient require\n</Location>",
     "client certificates per <Location> need a TLS renegotiation"),
])
def test_refused_directives(relais, certs, line, message):
    p = syntax(relais, line + "\n" + echo_site(certs))
    assert p.returncode != 0, p.stderr
    assert message in p.stderr, p.stderr


def test_accepted_httpd_lines(relais, certs):
    """Lines an httpd configuration carries that are harmless here."""
    p = syntax(relais, """SSLRandomSeed startup builtin
SSLRandomSeed connect file:/dev/urandom 512
SSLPassPhraseDialog builtin
SSLMutex default
SSLCryptoDevice builtin
SSLFIPS off
SSLCompression off
SSLInsecureRenegotiation off
SSLCARevocationCheck none
SSLProtocol all -SSLv3 -TLSv1 -TLSv1.1
SSLCipherSuite HIGH:!aNULL:!MD5
SSLHonorCipherOrder on
""" + echo_site(certs, extra="SSLOptions +StdEnvVars -ExportCertData\n"))
    assert p.returncode == 0, p.stderr
    assert "Syntax OK" in p.stderr


# ------------------------------------------------- the tunnel over TLS

@pytest.mark.parametrize("mpm", MPMS)
def test_websocket_over_tls(relais, certs, backend, mpm):
    """An upgraded connection relays through the TLS transport both ways
    (the core's tunnel reads and writes the client through c->io)."""
    import base64
    from helpers_proxy import WS_GUID, ws_frame, ws_read_frame
    from helpers_ssl_server import _Buffered
    backend.on("/ws", websocket=True)
    port = free_port()
    start(relais, conf(port, vhost(certs, "localhost", (
        "ProxyPass /chat/ %s/ws/ upgrade=websocket" % backend.url)),
        mpm=mpm), port)
    key = base64.b64encode(os.urandom(16)).decode()
    with TLSConn(port, context(certs)) as c:
        c.sock.sendall((
            "GET /chat/r HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += c.sock.recv(4096)
        head, rest = buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID)
                                  .digest())
        assert b"Sec-WebSocket-Accept: " + accept in head
        rd = _Buffered(c.sock, rest, 0)
        c.sock.sendall(ws_frame(1, b"hello over tls"))
        assert ws_read_frame(rd.exact, expect_masked=False) == \
            (1, b"hello over tls")
        big = os.urandom(300000)
        c.sock.sendall(ws_frame(2, big))
        assert ws_read_frame(rd.exact, expect_masked=False) == (2, big)
        c.sock.sendall(ws_frame(8, b"\x03\xe8"))
        assert ws_read_frame(rd.exact, expect_masked=False) == \
            (8, b"\x03\xe8")


# ------------------------------------------------ files and their forms

def chain_length(out):
    return len(re.findall(r"^ *\d+ s:", out, re.M))


def test_chain_file_and_chain_in_certificate_file(relais, certs, tmp_path):
    port = start_echo(relais, certs, keys=("rsa",),
                      extra="SSLCertificateChainFile %s\n" % certs.ca_chain_pem)
    out = s_client(port, "-servername", "localhost", "-showcerts")
    assert chain_length(out) == 2, out
    relais.stop()
    # httpd 2.4.8 style: the chain after the certificate, and the key in
    # the same file when there is no SSLCertificateKeyFile
    bundle = tmp_path / "bundle.pem"
    parts = [certs.rsa_crt, certs.ca_crt, certs.rsa_key]
    bundle.write_text("".join(open(p).read() for p in parts))
    os.chmod(bundle, 0o600)
    port = free_port()
    body = ("<VirtualHost *:@PORT@>\nServerName localhost\nSSLEngine on\n"
            "SSLCertificateFile %s\nSetHandler echo\n</VirtualHost>\n"
            % bundle)
    start(relais, conf(port, body), port)
    out = s_client(port, "-servername", "localhost", "-showcerts")
    assert chain_length(out) == 2, out
    assert https_get(port, certs).status == 200


def test_two_certificates_of_one_key_type_is_an_error(relais, certs):
    p = syntax(relais, vhost(certs, keys=("rsa", "alt")))
    assert p.returncode != 0
    assert "SSLCertificateFile %s and %s have the same key type (rsaEncryption)" \
        % (certs.rsa_crt, certs.alt_crt) in p.stderr, p.stderr
