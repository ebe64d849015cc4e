"""Certificates on a graceful restart (USR1): the files are read again, new
connections get the new certificate, keep-alive clients running through
the restart lose nothing; a certificate file that cannot be used at the
restart leaves the previous certificate in service and the error log
says which file and why."""
import os
import shutil
import signal
import time

import pytest

from helpers_proxy import MPMS
from helpers_ssl_server import (LoadClient, TLSConn, alive, cert_fingerprint,
                                conf, context, file_fingerprint, free_port,
                                start, wait_for, wait_log)


def site(cert, key):
    return ("<VirtualHost *:@PORT@>\nServerName localhost\nSSLEngine on\n"
            "SSLCertificateFile %s\nSSLCertificateKeyFile %s\n"
            "SetHandler echo\n</VirtualHost>\n" % (cert, key))


def install(certs, d, stem):
    """Copies the test PKI's stem.crt/.key to d/site.crt/.key (renamed into
    place: what a careful renewal does)."""
    for ext in ("crt", "key"):
        tmp = os.path.join(d, "site.%s.tmp" % ext)
        shutil.copy(certs.path("%s.%s" % (stem, ext)), tmp)
        os.chmod(tmp, 0o600)
        os.rename(tmp, os.path.join(d, "site." + ext))


def served(port, certs):
    with TLSConn(port, context(certs)) as c:
        fp = cert_fingerprint(c.peer_cert_der())
        assert c.request("/").status == 200
        return fp


def start_site(relais, certs, tmp_path, stem="rsa", mpm="event", extra=""):
    d = str(tmp_path / "tls")
    os.makedirs(d, exist_ok=True)
    install(certs, d, stem)
    port = free_port()
    text = conf(port, extra + site(os.path.join(d, "site.crt"),
                                   os.path.join(d, "site.key")), mpm=mpm)
    start(relais, text, port)
    return port, d


def graceful(relais, n, settle=True):
    """USR1, then waits for the n-th generation's start line and, with
    settle, for the previous generation's children to be gone (so that
    what a new connection sees is the new generation's doing)."""
    old = relais.children()
    relais.send(signal.SIGUSR1)
    assert wait_for(lambda: relais.error_log().count(
        "resuming normal operations") >= n, 15), relais.error_log()
    if settle:
        assert wait_for(lambda: not any(alive(k) for k in old), 15)


def test_graceful_restart_serves_the_new_certificate(relais, certs,
                                                     tmp_path):
    port, d = start_site(relais, certs, tmp_path, "rsa")
    rsa, ec = file_fingerprint(certs.rsa_crt), file_fingerprint(certs.ec_crt)
    assert served(port, certs) == rsa
    install(certs, d, "ec")
    assert served(port, certs) == rsa  # nothing re-read before the signal
    graceful(relais, 2)
    assert wait_for(lambda: served(port, certs) == ec, 10)
    for _ in range(5):
        assert served(port, certs) == ec


@pytest.mark.parametrize("mpm", MPMS)
def test_keepalive_clients_through_the_restart_lose_nothing(relais, certs,
                                                            tmp_path, mpm):
    port, d = start_site(relais, certs, tmp_path, "rsa", mpm=mpm)
    rsa, ec = file_fingerprint(certs.rsa_crt), file_fingerprint(certs.ec_crt)
    clients = [LoadClient(port, certs) for _ in range(4)]
    for c in clients:
        c.start()
    assert wait_for(lambda: sum(c.done for c in clients) >= 400, 20)
    install(certs, d, "ec")
    graceful(relais, 2, settle=False)  # the clients run through it
    # every client ends up on a connection with the new certificate
    assert wait_for(lambda: all(c.fingerprints and c.fingerprints[-1] == ec
                                for c in clients), 30), \
        [(c.done, c.fingerprints[-3:]) for c in clients]
    before = sum(c.done for c in clients)
    assert wait_for(lambda: sum(c.done for c in clients) >= before + 200, 20)
    for c in clients:
        c.stop()
    for c in clients:
        c.join(20)
        assert not c.is_alive()
    failures = [f for c in clients for f in c.failures]
    total = sum(c.done for c in clients)
    print("%s: %d requests, %d retried on a reused connection closed before "
          "any response byte, %d failed" % (
              mpm, total, sum(c.retries for c in clients), len(failures)))
    assert not failures, failures[:10]
    assert all(c.fingerprints[0] == rsa for c in clients)


@pytest.mark.parametrize("breakage", ["garbage", "wrong-key", "missing-key",
                                      "empty"])
def test_broken_certificate_at_restart_keeps_the_old_one(relais, certs,
                                                         tmp_path, breakage):
    port, d = start_site(relais, certs, tmp_path, "rsa")
    pid = relais.proc.pid
    rsa, ec = file_fingerprint(certs.rsa_crt), file_fingerprint(certs.ec_crt)
    crt, key = os.path.join(d, "site.crt"), os.path.join(d, "site.key")
    assert served(port, certs) == rsa
    if breakage == "garbage":
        with open(crt, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nhalf a cert")
        why = "SSLCertificateFile %s: no certificate in it" % crt
    elif breakage == "wrong-key":
        shutil.copy(certs.ec_crt, crt)  # the key stays the RSA one
        why = ("SSLCertificateKeyFile %s does not match the certificate in "
               "SSLCertificateFile %s" % (key, crt))
    elif breakage == "missing-key":
        os.unlink(key)
        why = "SSLCertificateKeyFile: cannot open %s" % key
    else:
        open(crt, "w").close()
        why = "SSLCertificateFile %s: no certificate in it" % crt
    graceful(relais, 2)
    line = wait_log(relais, why)
    assert line and "[ssl:error]" in line, relais.error_log()
    assert "the certificate loaded from %s before this restart stays in " \
        "service" % crt in line
    # still the same server, serving the old certificate on new children
    assert relais.proc.poll() is None and relais.proc.pid == pid
    for _ in range(5):
        assert served(port, certs) == rsa
    # fixed: the next restart takes the new one
    install(certs, d, "ec")
    graceful(relais, 3)
    assert wait_for(lambda: served(port, certs) == ec, 10)


def test_last_good_copy_survives_several_restarts(relais, certs, tmp_path):
    """A file broken for two restarts in a row still falls back to what
    was loaded before the first."""
    port, d = start_site(relais, certs, tmp_path, "rsa")
    rsa = file_fingerprint(certs.rsa_crt)
    with open(os.path.join(d, "site.crt"), "w") as f:
        f.write("junk")
    graceful(relais, 2)
    graceful(relais, 3)
    time.sleep(0.3)
    assert relais.error_log().count("stays in service") >= 2
    assert served(port, certs) == rsa


def test_ca_file_broken_at_restart_keeps_the_old_cas(relais, certs,
                                                     tmp_path):
    d = str(tmp_path / "ca")
    os.makedirs(d)
    ca = os.path.join(d, "ca.pem")
    shutil.copy(certs.ca_crt, ca)
    port, _ = start_site(relais, certs, tmp_path, "rsa", extra=(
        "SSLVerifyClient require\nSSLCACertificateFile %s\n" % ca))
    with TLSConn(port, context(certs, client="client")) as c:
        assert c.request("/").status == 200
    with open(ca, "w") as f:
        f.write("not a CA")
    graceful(relais, 2)
    assert wait_log(relais, "the CA certificates loaded from it before this "
                            "restart stay in use")
    with TLSConn(port, context(certs, client="client")) as c:
        assert c.request("/").status == 200
