"""Client certificates: SSLVerifyClient require, optional and
optional_no_ca with SSLCACertificateFile and SSLVerifyDepth; what the
handshake failures log; the subject in the access log and in mod_acl's
Require expr; per-vhost verification chosen by SNI."""
import re
import socket
import ssl

import pytest

from helpers_ssl_server import (TLSConn, conf, context, free_port, s_client,
                                start, vhost, wait_log)

LOG = ('LogFormat "%h %>s %{SSL_CLIENT_VERIFY}x cn=%{SSL_CLIENT_S_DN_CN}x '
       'dn=%{SSL_CLIENT_S_DN}x" certs\nCustomLog logs/access_log certs\n')


def site(certs, verify, extra="", name="localhost", keys=("rsa",)):
    return vhost(certs, name, (
        "SSLVerifyClient %s\nSSLCACertificateFile %s\nSetHandler echo\n"
        "EchoName %s\n%s" % (verify, certs.ca_crt, name, extra)), keys=keys)


def start_site(relais, certs, verify, extra="", top=LOG):
    port = free_port()
    return start(relais, conf(port, top + site(certs, verify, extra)), port)


def request(port, certs, client=None, target="/", sni="localhost",
            host="localhost"):
    """(status or the exception, TLS connection's client port)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    cport = raw.getsockname()[1]
    ctx = context(certs, client=client)
    try:
        s = ctx.wrap_socket(raw, server_hostname=sni)
    except (ssl.SSLError, OSError) as e:
        raw.close()
        return e, cport
    c = TLSConn.__new__(TLSConn)
    c.sock = s
    try:
        return c.request(target, host=host).status, cport
    except Exception as e:  # noqa: B902 - TLS 1.3 fails at the first read
        return e, cport
    finally:
        c.close()


def access_lines(relais, n, timeout=5.0):
    import time
    end = time.time() + timeout
    while time.time() < end:
        lines = relais.read("logs/access_log").splitlines()
        if len(lines) >= n:
            return lines
        time.sleep(0.05)
    return relais.read("logs/access_log").splitlines()


def test_require_refuses_a_client_without_certificate(relais, certs):
    port = start_site(relais, certs, "require")
    res, cport = request(port, certs)
    assert not isinstance(res, int), res
    line = wait_log(relais, "[client 127.0.0.1:%d]" % cport)
    assert line and "[ssl:info]" in line, relais.error_log()
    assert "TLS handshake failed: peer did not return a certificate" in line


def test_require_refuses_a_certificate_of_an_unknown_ca(relais, certs):
    port = start_site(relais, certs, "require")
    res, cport = request(port, certs, client="rogue_client")
    assert not isinstance(res, int), res
    line = wait_log(relais, "[client 127.0.0.1:%d]" % cport)
    assert line and "TLS handshake failed: certificate verify failed " \
        "(unable to get local issuer certificate)" in line, line


def test_require_accepts_a_good_certificate_and_logs_its_subject(relais,
                                                                 certs):
    port = start_site(relais, certs, "require")
    assert request(port, certs, client="client")[0] == 200
    assert request(port, certs, client="client2")[0] == 200
    lines = access_lines(relais, 2)
    assert lines[0].endswith("200 SUCCESS cn=alice dn=CN=alice,O=Relais Test")
    assert lines[1].endswith("200 SUCCESS cn=bob dn=CN=bob,O=Relais Test")


def test_ca_names_are_sent_to_the_client(relais, certs):
    port = start_site(relais, certs, "require")
    out = s_client(port, "-servername", "localhost", "-tls1_2")
    assert "Acceptable client certificate CA names" in out, out
    assert "CN = Relais Test CA" in out or "CN=Relais Test CA" in out, out


def test_optional(relais, certs):
    port = start_site(relais, certs, "optional")
    assert request(port, certs)[0] == 200
    assert request(port, certs, client="client")[0] == 200
    res, cport = request(port, certs, client="rogue_client")
    assert not isinstance(res, int), res
    lines = access_lines(relais, 2)
    assert lines[0].endswith("200 NONE cn=- dn=-"), lines
    assert lines[1].endswith("200 SUCCESS cn=alice dn=CN=alice,O=Relais Test")
    assert wait_log(relais, "[client 127.0.0.1:%d] TLS handshake failed: "
                            "certificate verify failed" % cport)


def test_optional_no_ca_lets_unverified_certificates_in(relais, certs):
    port = start_site(relais, certs, "optional_no_ca")
    assert request(port, certs, client="rogue_client")[0] == 200
    assert request(port, certs, client="client")[0] == 200
    lines = access_lines(relais, 2)
    assert lines[0].endswith("200 GENEROUS cn=mallory dn=CN=mallory,"
                             "O=Relais Test"), lines
    assert lines[1].endswith("200 SUCCESS cn=alice dn=CN=alice,O=Relais Test")


def test_require_expr_on_the_subject(relais, certs):
    """mod_acl's Require expr reads SSL_* through the core's expression
    language: per-location decisions on a certificate asked for by the
    vhost."""
    port = start_site(relais, certs, "optional", extra=(
        "<Location /alice>\n"
        "    Require expr \"%{SSL_CLIENT_S_DN_CN} == 'alice'\"\n"
        "</Location>\n"
        "<Location /verified>\n"
        "    Require expr \"%{SSL_CLIENT_VERIFY} == 'SUCCESS' && "
        "%{HTTPS} == 'on'\"\n"
        "</Location>\n"))
    assert request(port, certs, client="client", target="/alice")[0] == 200
    assert request(port, certs, client="client2", target="/alice")[0] == 403
    assert request(port, certs, target="/alice")[0] == 403
    assert request(port, certs, client="client2", target="/verified")[0] == 200
    assert request(port, certs, target="/verified")[0] == 403
    assert request(port, certs, target="/open")[0] == 200


def make_intermediate_client(certs, d):
    """An intermediate CA under the test CA and a client ("carol") under
    it; returns the name of the client's chain file (leaf + intermediate)
    and key for context()-like loading."""
    import os
    import subprocess

    os.makedirs(str(d), exist_ok=True)

    def run(*args):
        subprocess.run(("openssl",) + args, cwd=str(d), check=True,
                       capture_output=True)

    with open(os.path.join(str(d), "int.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:TRUE\n"
                "keyUsage=critical,keyCertSign,cRLSign\n")
    with open(os.path.join(str(d), "carol.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-out", "int.key")
    run("req", "-new", "-key", "int.key", "-subj",
        "/O=Relais Test/CN=Intermediate", "-out", "int.csr")
    run("x509", "-req", "-in", "int.csr", "-CA", certs.ca_crt, "-CAkey",
        certs.ca_key, "-CAcreateserial", "-days", "5", "-extfile", "int.ext",
        "-out", "int.crt")
    run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-out", "carol.key")
    run("req", "-new", "-key", "carol.key", "-subj",
        "/O=Relais Test/CN=carol", "-out", "carol.csr")
    run("x509", "-req", "-in", "carol.csr", "-CA", "int.crt", "-CAkey",
        "int.key", "-CAcreateserial", "-days", "5", "-extfile", "carol.ext",
        "-out", "carol.crt")
    chain = os.path.join(str(d), "carol_chain.pem")
    with open(chain, "w") as out:
        for n in ("carol.crt", "int.crt"):
            with open(os.path.join(str(d), n)) as f:
                out.write(f.read())
    return chain, os.path.join(str(d), "carol.key")


@pytest.mark.parametrize("depth, ok", [(0, False), (1, True)])
def test_verify_depth(relais, certs, tmp_path, depth, ok):
    """SSLVerifyDepth as httpd hands it to OpenSSL 3: how many
    intermediate CAs may stand between the client's certificate and a
    trusted CA.  carol -> intermediate -> root needs 1."""
    chain, key = make_intermediate_client(certs, tmp_path / "pki2")
    port = start_site(relais, certs, "require",
                      extra="SSLVerifyDepth %d\n" % depth)
    ctx = context(certs)
    ctx.load_cert_chain(chain, key)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    cport = raw.getsockname()[1]
    try:
        with TLSConn.__new__(TLSConn) as c:
            c.sock = ctx.wrap_socket(raw, server_hostname="localhost")
            status = c.request("/").status
    except (ssl.SSLError, OSError) as e:
        status = e
    if ok:
        assert status == 200
        assert access_lines(relais, 1)[0].endswith("cn=carol dn=CN=carol,"
                                                   "O=Relais Test")
    else:
        assert not isinstance(status, int), status
        line = wait_log(relais, "[client 127.0.0.1:%d]" % cport)
        assert line and "certificate verify failed (certificate chain too " \
            "long)" in line, relais.error_log()


def test_verification_follows_the_sni_vhost(relais, certs):
    port = free_port()
    body = (site(certs, "none", name="localhost") +
            site(certs, "require", name="alt.test", keys=("alt",)))
    start(relais, conf(port, LOG + body), port)
    assert request(port, certs)[0] == 200
    res, _ = request(port, certs, sni="alt.test", host="alt.test")
    assert not isinstance(res, int), res
    assert request(port, certs, client="client", sni="alt.test",
                   host="alt.test")[0] == 200
    lines = access_lines(relais, 2)
    assert lines[-1].endswith("SUCCESS cn=alice dn=CN=alice,O=Relais Test")


def test_verify_without_ca_is_a_config_error(relais, certs):
    port = free_port()
    relais.write_conf(conf(port, vhost(certs, body="SSLVerifyClient require\n"
                                       "SetHandler echo\n")))
    p = relais.run("-t")
    assert p.returncode != 0
    assert re.search(r"SSLVerifyClient require needs the CAs that sign client "
                     r"certificates: add SSLCACertificateFile", p.stderr), \
        p.stderr


@pytest.mark.parametrize("mpm", ["prefork", "worker"])
def test_client_certificates_under_mpm(relais, certs, mpm):
    port = free_port()
    start(relais, conf(port, LOG + site(certs, "require"), mpm=mpm), port)
    assert request(port, certs, client="client")[0] == 200
    assert not isinstance(request(port, certs)[0], int)
    assert access_lines(relais, 1)[0].endswith("cn=alice dn=CN=alice,"
                                               "O=Relais Test")


def test_ca_certificate_path(relais, certs, tmp_path):
    """SSLCACertificatePath: a hashed directory (openssl rehash)."""
    import shutil
    import subprocess
    d = tmp_path / "cas"
    d.mkdir()
    shutil.copy(certs.ca_crt, str(d / "ca.pem"))
    subprocess.run(["openssl", "rehash", str(d)], check=True,
                   capture_output=True)
    port = free_port()
    body = vhost(certs, "localhost", "SSLVerifyClient require\n"
                 "SSLCACertificatePath %s\nSetHandler echo\n" % d)
    start(relais, conf(port, LOG + body), port)
    assert request(port, certs, client="client")[0] == 200
    assert not isinstance(request(port, certs, client="rogue_client")[0], int)
    assert access_lines(relais, 1)[0].endswith("SUCCESS cn=alice "
                                               "dn=CN=alice,O=Relais Test")
