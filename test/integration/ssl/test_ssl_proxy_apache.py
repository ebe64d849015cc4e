"""Relais in front of Debian's Apache httpd speaking TLS (mod_ssl): a 10
MiB file and a directory of pages over https://, verified against the test
CA, on pooled TLS connections (Apache's own access log shows them all on
one connection)."""
import os

import pytest

from helpers_ssl_proxy import start_ssl_proxy
from helpers_proxy import APACHE, APACHE_MODULES, Apache, get, sha256_hex


@pytest.fixture(scope="module")
def apache_tls(certs):
    if not os.path.exists(APACHE) or \
            not os.path.exists(os.path.join(APACHE_MODULES, "mod_ssl.so")):
        pytest.skip("apache2 with mod_ssl is not installed (Debian package "
                    "apache2)")
    if not os.stat("/").st_mode & 0o001:
        pytest.skip("'/' is not searchable by other users here, so "
                    "apache2's unprivileged children cannot run")
    a = Apache()
    with open(a.conf, "a") as f:
        f.write("""
LoadModule ssl_module {m}/mod_ssl.so
SSLEngine on
SSLCertificateFile "{crt}"
SSLCertificateKeyFile "{key}"
LogFormat "%{{remote}}p %{{SSL_PROTOCOL}}x %{{SSL_TLS_SNI}}x %U" tls
CustomLog "{d}/access.log" tls
""".format(m=APACHE_MODULES, crt=certs.rsa_crt, key=certs.rsa_key, d=a.dir))
    try:
        a.start()
    except Exception:
        a.stop()
        raise
    yield a
    a.stop()


def _access_log(a):
    with open(os.path.join(a.dir, "access.log")) as f:
        return [ln.split() for ln in f if ln.strip()]


def test_apache_over_tls(relais, certs, apache_tls):
    a = apache_tls
    port = start_ssl_proxy(relais, """
SSLProxyEngine on
SSLProxyCACertificateFile %s
ProxyPass /site/ https://localhost:%d/
""" % (certs.ca_crt, a.port), one_thread=True)
    resp = get(port, "/site/hello.txt")
    assert resp.status == 200, resp
    assert resp.body == a.files["hello.txt"]
    assert resp.header("Server") != "Apache"  # never the backend's
    resp = get(port, "/site/sub/page.txt")
    assert resp.body == a.files["sub/page.txt"]
    resp = get(port, "/site/big.bin", timeout=60)
    assert resp.status == 200
    assert len(resp.body) == Apache.BIG
    assert sha256_hex(resp.body) == sha256_hex(a.files["big.bin"])
    resp = get(port, "/site/nothing-here")
    assert resp.status == 404
    log = [ln for ln in _access_log(a) if ln[3] != "-"]
    ours = [ln for ln in log if ln[3] in ("/hello.txt", "/sub/page.txt",
                                          "/big.bin", "/nothing-here")]
    assert len(ours) == 4, log
    # all over TLS 1.3 with SNI localhost, on one pooled connection
    assert {ln[1] for ln in ours} == {"TLSv1.3"}, ours
    assert {ln[2] for ln in ours} == {"localhost"}, ours
    assert len({ln[0] for ln in ours}) == 1, ours


def test_apache_by_address_without_sni(relais, certs, apache_tls):
    """https://127.0.0.1: no SNI is sent, and Apache's certificate is
    checked against the address (it names IP:127.0.0.1)."""
    a = apache_tls
    port = start_ssl_proxy(relais, """
SSLProxyEngine on
SSLProxyCACertificateFile %s
ProxyPass /ip/ https://127.0.0.1:%d/
""" % (certs.ca_crt, a.port))
    resp = get(port, "/ip/index.html")
    assert resp.status == 200, resp
    assert resp.body == a.files["index.html"]
    line = [ln for ln in _access_log(a) if ln[3] == "/index.html"]
    assert line and line[-1][2] == "-", line
