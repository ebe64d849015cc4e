"""The SSL_* variables: %{VAR}x and %{name}c in LogFormat, %{VAR}s in
mod_headers, %{HTTPS} and %{SSL_*} in expressions, and SSLOptions
+StdEnvVars / +ExportCertData / +LegacyDNStringFormat, with httpd's
names and formats."""
import re
import ssl
import subprocess
import time

from helpers_ssl_server import (TLSConn, conf, context, free_port, start,
                                vhost)


def access_log(relais, n=1, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        lines = relais.read("logs/access_log").splitlines()
        if len(lines) >= n:
            return lines
        time.sleep(0.05)
    return relais.read("logs/access_log").splitlines()


def x509(path, *what):
    return subprocess.run(["openssl", "x509", "-noout", "-in", path] +
                          list(what), capture_output=True, text=True,
                          check=True).stdout.strip()


def fields(line):
    """"name=value|name=value" -> dict."""
    return dict(kv.split("=", 1) for kv in line.split("|"))


def logged(names, letter="x"):
    return "|".join("%s=%%{%s}%s" % (n, n, letter) for n in names)


CONN_VARS = ["HTTPS", "SSL_PROTOCOL", "SSL_CIPHER", "SSL_CIPHER_USEKEYSIZE",
             "SSL_CIPHER_ALGKEYSIZE", "SSL_CURVE", "SSL_TLS_SNI",
             "SSL_SESSION_RESUMED", "SSL_SESSION_ID", "SSL_ALPN",
             "SSL_VERSION_LIBRARY", "SSL_SERVER_S_DN", "SSL_SERVER_S_DN_CN",
             "SSL_SERVER_I_DN", "SSL_SERVER_I_DN_CN", "SSL_SERVER_A_KEY",
             "SSL_CLIENT_VERIFY", "SSL_COMPRESS_METHOD"]


def test_connection_variables_in_the_access_log(relais, certs):
    port = free_port()
    plain = free_port()
    fmt = logged(CONN_VARS) + "|version=%{version}c|cipher=%{cipher}c"
    body = ('LogFormat "%s" vars\nCustomLog logs/access_log vars\n' % fmt +
            vhost(certs, "localhost", "SetHandler echo", keys=("rsa",)) +
            "<VirtualHost *:%d>\nServerName plain.test\nSetHandler echo\n"
            "</VirtualHost>\n" % plain)
    start(relais, conf(port, body,
                       extra_listen="Listen 127.0.0.1:%d\n" % plain), port)
    ctx = context(certs, max_version=ssl.TLSVersion.TLSv1_2,
                  ciphers="ECDHE-RSA-AES256-GCM-SHA384", alpn=["http/1.1"])
    # without a ticket the TLS 1.2 server makes a session id (with one it
    # may leave it empty, RFC 5077)
    ctx.options |= ssl.OP_NO_TICKET
    with TLSConn(port, ctx) as c:
        assert c.request("/v").status == 200
    from helpers_proxy import get
    assert get(plain, "/p", host="plain.test").status == 200
    tls, clear = (fields(l.split(" ", 0)[0]) for l in access_log(relais, 2))
    assert tls["HTTPS"] == "on"
    assert tls["SSL_PROTOCOL"] == "TLSv1.2" == tls["version"]
    assert tls["SSL_CIPHER"] == "ECDHE-RSA-AES256-GCM-SHA384" == tls["cipher"]
    assert tls["SSL_CIPHER_USEKEYSIZE"] == "256"
    assert tls["SSL_CIPHER_ALGKEYSIZE"] == "256"
    assert tls["SSL_CURVE"] in ("X25519", "x25519", "prime256v1",
                                "secp256r1", "P-256"), tls["SSL_CURVE"]
    assert tls["SSL_TLS_SNI"] == "localhost"
    assert tls["SSL_SESSION_RESUMED"] == "Initial"
    assert re.fullmatch(r"[0-9A-F]{64}", tls["SSL_SESSION_ID"]), tls
    assert tls["SSL_ALPN"] == "http/1.1"
    assert re.fullmatch(r"OpenSSL/3\.\d+\.\d+\S*", tls["SSL_VERSION_LIBRARY"])
    assert tls["SSL_SERVER_S_DN"] == "CN=localhost,O=Relais Test"
    assert tls["SSL_SERVER_S_DN_CN"] == "localhost"
    assert tls["SSL_SERVER_I_DN"] == "CN=Relais Test CA,O=Relais Test"
    assert tls["SSL_SERVER_I_DN_CN"] == "Relais Test CA"
    assert tls["SSL_SERVER_A_KEY"] == "rsaEncryption"
    assert tls["SSL_CLIENT_VERIFY"] == "NONE"
    assert tls["SSL_COMPRESS_METHOD"] == "NULL"
    # a plain connection: HTTPS off, the rest unset
    assert clear["HTTPS"] == "off"
    assert all(clear[n] == "-" for n in CONN_VARS if n != "HTTPS")


def test_client_certificate_variables(relais, certs):
    names = ["SSL_CLIENT_VERIFY", "SSL_CLIENT_M_VERSION",
             "SSL_CLIENT_M_SERIAL", "SSL_CLIENT_V_START", "SSL_CLIENT_V_END",
             "SSL_CLIENT_V_REMAIN", "SSL_CLIENT_S_DN", "SSL_CLIENT_S_DN_CN",
             "SSL_CLIENT_S_DN_O", "SSL_CLIENT_S_DN_OU", "SSL_CLIENT_I_DN",
             "SSL_CLIENT_I_DN_CN", "SSL_CLIENT_A_KEY", "SSL_CLIENT_A_SIG",
             "SSL_CLIENT_CERT"]
    port = free_port()
    body = ('LogFormat "%s" vars\nCustomLog logs/access_log vars\n'
            % logged(names) +
            vhost(certs, "localhost", "SetHandler echo\nSSLVerifyClient "
                  "require\nSSLCACertificateFile %s" % certs.ca_crt))
    start(relais, conf(port, body), port)
    with TLSConn(port, context(certs, client="client")) as c:
        assert c.request("/").status == 200
    v = fields(access_log(relais)[0])
    serial = x509(certs.client_crt, "-serial").split("=", 1)[1]
    assert v["SSL_CLIENT_VERIFY"] == "SUCCESS"
    assert v["SSL_CLIENT_M_VERSION"] == "3"
    assert v["SSL_CLIENT_M_SERIAL"] == serial.upper().lstrip("0") or \
        v["SSL_CLIENT_M_SERIAL"] == serial.upper()
    assert v["SSL_CLIENT_V_START"] == x509(certs.client_crt,
                                           "-startdate").split("=", 1)[1]
    assert v["SSL_CLIENT_V_END"] == x509(certs.client_crt,
                                         "-enddate").split("=", 1)[1]
    assert v["SSL_CLIENT_V_REMAIN"] in ("29", "30")
    assert v["SSL_CLIENT_S_DN"] == "CN=alice,O=Relais Test"
    assert v["SSL_CLIENT_S_DN_CN"] == "alice"
    assert v["SSL_CLIENT_S_DN_O"] == "Relais Test"
    assert v["SSL_CLIENT_S_DN_OU"] == "-"
    assert v["SSL_CLIENT_I_DN"] == "CN=Relais Test CA,O=Relais Test"
    assert v["SSL_CLIENT_I_DN_CN"] == "Relais Test CA"
    assert v["SSL_CLIENT_A_KEY"] == "id-ecPublicKey"
    assert v["SSL_CLIENT_A_SIG"] == "ecdsa-with-SHA256"
    # the certificate itself only with SSLOptions +ExportCertData
    assert v["SSL_CLIENT_CERT"] == "-"


def test_stdenvvars_and_exportcertdata_reach_the_backend(relais, certs,
                                                         backend):
    port = free_port()
    body = vhost(certs, "localhost", """SSLVerifyClient optional
SSLCACertificateFile %s
RequestHeader set X-Env-Cipher "%%{SSL_CIPHER}e"
RequestHeader set X-Env-CN "%%{SSL_CLIENT_S_DN_CN}e"
RequestHeader set X-Env-Https "%%{HTTPS}e"
RequestHeader set X-Env-SNI "%%{SSL_TLS_SNI}e"
RequestHeader set X-Ssl-Proto "%%{SSL_PROTOCOL}s"
RequestHeader set X-Env-Cert "%%{SSL_CLIENT_CERT}e"
ProxyPass / %s/
<Location /env>
    SSLOptions +StdEnvVars
</Location>
<Location /env/cert>
    SSLOptions +ExportCertData
</Location>
""" % (certs.ca_crt, backend.url))
    start(relais, conf(port, body), port)
    with TLSConn(port, context(certs, client="client")) as c:
        assert c.request("/plain").status == 200
        q = backend.last()
        # without StdEnvVars only HTTPS and SSL_TLS_SNI are set, as httpd
        assert q.header("X-Env-Https") == "on"
        assert q.header("X-Env-SNI") == "localhost"
        assert q.header("X-Env-Cipher") == "(null)"
        assert q.header("X-Ssl-Proto") == "TLSv1.3"  # %{..}s: always
        assert c.request("/env/a").status == 200
        q = backend.last()
        assert q.header("X-Env-Cipher") == c.cipher
        assert q.header("X-Env-CN") == "alice"
        assert q.header("X-Env-Cert") == "(null)"
        assert c.request("/env/cert").status == 200
        q = backend.last()
        with open(certs.client_crt) as f:
            pem = " ".join(f.read().split())
        assert " ".join(q.header("X-Env-Cert").split()) == pem


def test_legacy_dn_string_format(relais, certs):
    port = free_port()
    body = ('LogFormat "%{SSL_CLIENT_S_DN}x %{SSL_SERVER_I_DN}x" dn\n'
            "CustomLog logs/access_log dn\n" +
            vhost(certs, "localhost", "SetHandler echo\nSSLVerifyClient "
                  "require\nSSLCACertificateFile %s\n"
                  "SSLOptions +LegacyDNStringFormat" % certs.ca_crt))
    start(relais, conf(port, body), port)
    with TLSConn(port, context(certs, client="client")) as c:
        assert c.request("/").status == 200
    assert access_log(relais)[0] == \
        "/O=Relais Test/CN=alice /O=Relais Test/CN=Relais Test CA"


def test_expressions_see_https_and_ssl_variables(relais, certs):
    port = free_port()
    body = vhost(certs, "localhost", """SetHandler echo
<If "%{HTTPS} == 'on' && %{SSL_PROTOCOL} == 'TLSv1.3'">
    Header set X-Modern yes
</If>
<Location /tls13-only>
    Require expr "%{SSL_PROTOCOL} == 'TLSv1.3'"
</Location>
""")
    start(relais, conf(port, body), port)
    with TLSConn(port, context(certs)) as c:
        r = c.request("/tls13-only")
        assert r.status == 200 and r.header("X-Modern") == "yes"
    with TLSConn(port, context(certs,
                               max_version=ssl.TLSVersion.TLSv1_2)) as c:
        r = c.request("/tls13-only")
        assert r.status == 403 and r.header("X-Modern") is None


def test_require_ssl(relais, certs):
    port, plain = free_port(), free_port()
    body = (vhost(certs, "localhost", "SetHandler echo\n<Location /secure>\n"
                  "SSLRequireSSL\n</Location>") +
            "<VirtualHost *:%d>\nServerName plain.test\nSetHandler echo\n"
            "<Location /secure>\nSSLRequireSSL\n</Location>\n"
            "</VirtualHost>\n" % plain)
    start(relais, conf(port, body,
                       extra_listen="Listen 127.0.0.1:%d\n" % plain), port)
    from helpers_proxy import get
    assert get(plain, "/secure/x", host="plain.test").status == 403
    assert get(plain, "/open", host="plain.test").status == 200
    with TLSConn(port, context(certs)) as c:
        assert c.request("/secure/x").status == 200


def test_session_resumed(relais, certs):
    port = free_port()
    body = ('LogFormat "%{SSL_SESSION_RESUMED}x" r\n'
            "CustomLog logs/access_log r\n" +
            vhost(certs, "localhost", "SetHandler echo"))
    start(relais, conf(port, body), port)
    ctx = context(certs, max_version=ssl.TLSVersion.TLSv1_2)
    with TLSConn(port, ctx) as c:
        assert c.request("/1").status == 200
        session = c.sock.session
    import socket
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    c = TLSConn.__new__(TLSConn)
    c.sock = s
    with c:
        assert s.session_reused
        assert c.request("/2").status == 200
    assert access_log(relais, 2)[:2] == ["Initial", "Resumed"]
