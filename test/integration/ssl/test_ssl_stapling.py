"""OCSP stapling (SSLUseStapling) against a real responder: `openssl
ocsp` serving a certificate index made here, for server certificates
signed by the test CA (the `certs` fixture) whose Authority Information
Access points at it.  The client is `openssl s_client -status`.

What is checked: a good and a revoked certificate staple what the
responder says; the responder is asked in the parent at start and by a
child's background thread afterwards (never while a client waits: the
responder's own log counts the requests); a responder that is down at
start does not stop relaisd, and once it is back the staple comes; a
response that does not verify is never stapled; httpd's switches
(ReturnResponderErrors, FakeTryLater, ForceURL) do what httpd's do.
"""
import datetime
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import free_port, mpm_lines

SUBJECT = "/O=Relais Test/CN=%s"
# the real `openssl ocsp` behind an HTTP server bound to 127.0.0.1
RESPONDER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "ocsp_responder.py")


def run_openssl(*args, cwd):
    subprocess.run(("openssl",) + args, cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class OcspPki:
    """Server certificates signed by the test CA, in `d`:

    good.crt      localhost, AIA -> the responder, "V" in the index
    good_rsa.crt  the same with an RSA key (good.crt is ECDSA)
    revoked.crt   revoked.test, AIA -> the responder, "R" in the index
    down.crt      localhost, AIA -> a port where nothing listens (until a
                  test starts a responder there: `down_port`)
    noaia.crt     localhost, no AIA at all ("V" in the index)
    """

    def __init__(self, certs, d):
        self.certs = certs
        self.dir = str(d)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.down_port = free_port()
        self.url = "http://127.0.0.1:%d/" % self.port
        self.procs = []
        index = []
        for name, cn, port, aia, status in (
                ("good", "localhost", self.port, True, "V"),
                ("good_rsa", "localhost", self.port, True, "V"),
                ("revoked", "revoked.test", self.port, True, "R"),
                ("down", "localhost", self.down_port, True, "V"),
                ("noaia", "localhost", None, False, "V")):
            self._leaf(name, cn, port if aia else None)
            index.append(self._index_line(name, cn, status))
        with open(self.path("index.txt"), "w") as f:
            f.write("".join(index))
        with open(self.path("index.txt.attr"), "w") as f:
            f.write("unique_subject = no\n")

    def path(self, name):
        return os.path.join(self.dir, name)

    def _leaf(self, name, cn, port):
        if name.endswith("_rsa"):
            run_openssl("genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", name + ".key",
                        cwd=self.dir)
        else:
            run_openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", name + ".key",
                        cwd=self.dir)
        run_openssl("req", "-new", "-key", name + ".key", "-subj",
                    SUBJECT % cn, "-out", name + ".csr", cwd=self.dir)
        ext = ["basicConstraints=CA:FALSE",
               "extendedKeyUsage=serverAuth",
               "subjectAltName=DNS:%s,IP:127.0.0.1" % cn]
        if port:
            ext.append("authorityInfoAccess=OCSP;URI:http://127.0.0.1:%d/"
                       % port)
        with open(self.path(name + ".ext"), "w") as f:
            f.write("\n".join(ext) + "\n")
        run_openssl("x509", "-req", "-in", name + ".csr",
                    "-CA", self.certs.ca_crt, "-CAkey", self.certs.ca_key,
                    "-CAserial", self.path("ca.srl"), "-CAcreateserial",
                    "-sha256", "-days", "30", "-extfile", name + ".ext",
                    "-out", name + ".crt", cwd=self.dir)

    def _index_line(self, name, cn, status):
        out = subprocess.run(["openssl", "x509", "-in", self.path(name +
                                                                  ".crt"),
                              "-noout", "-serial", "-enddate"],
                             capture_output=True, text=True,
                             check=True).stdout
        fields = dict(l.split("=", 1) for l in out.splitlines() if l)
        end = datetime.datetime.strptime(fields["notAfter"],
                                         "%b %d %H:%M:%S %Y GMT")
        revoked = ""
        if status == "R":
            when = datetime.datetime.utcnow() - datetime.timedelta(hours=1)
            revoked = when.strftime("%y%m%d%H%M%SZ")
        return "%s\t%s\t%s\t%s\tunknown\t%s\n" % (
            status, end.strftime("%y%m%d%H%M%SZ"), revoked,
            fields["serial"], SUBJECT % cn)

    def responder(self, port=None, signer="ca", log="responder.log"):
        """Starts the responder (ocsp_responder.py: `openssl ocsp`) on port (the good/revoked one by
        default), signing with `signer` (ca, or other_ca: a key the
        issuer never delegated to).  Returns its log file's path."""
        port = port or self.port
        logpath = self.path(log)
        out = open(logpath, "w")
        p = subprocess.Popen(
            [sys.executable, RESPONDER, str(port), self.path("index.txt"),
             self.certs.path(signer + ".crt"),
             self.certs.path(signer + ".key"), self.certs.ca_crt, self.dir],
            stdout=out, stderr=subprocess.STDOUT, cwd=self.dir)
        out.close()
        self.procs.append(p)
        # it says when it listens
        end = time.time() + 10
        while "waiting for OCSP client connections" not in \
                open(logpath, errors="replace").read():
            assert time.time() < end and p.poll() is None, \
                "the OCSP responder did not start:\n" + open(logpath).read()
            time.sleep(0.05)
        return logpath

    def stop_responders(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = []


def requests_seen(logpath):
    with open(logpath, errors="replace") as f:
        return f.read().count("OCSP Request Data:")


@pytest.fixture
def pki(certs, tmp_path):
    p = OcspPki(certs, tmp_path / "ocsp")
    yield p
    p.stop_responders()


def conf(pki, port, cert="good", extra="", vhosts="", mpm="event"):
    return mpm_lines(mpm) + """
LoadModule ssl_module modules/mod_ssl.so
LoadModule echo_module modules/mod_echo.so
Listen 127.0.0.1:%(port)d https
ServerName localhost
ErrorLog logs/error_log
LogLevel info
PidFile logs/relaisd.pid
SetHandler echo
SSLUseStapling on
%(extra)s
SSLEngine on
SSLCertificateFile %(dir)s/%(cert)s.crt
SSLCertificateKeyFile %(dir)s/%(cert)s.key
SSLCertificateChainFile %(ca)s
%(vhosts)s
""" % {"port": port, "extra": extra, "dir": pki.dir, "cert": cert,
       "ca": pki.certs.ca_crt, "vhosts": vhosts}


def start(relais, pki, **kw):
    """Writes conf() ("@PORT@" in vhosts is the port) and starts it."""
    port = free_port()
    kw["vhosts"] = kw.get("vhosts", "").replace("@PORT@", str(port))
    relais.write_conf(conf(pki, port, **kw))
    relais.start(port)
    return port


def status(port, servername="localhost", more=()):
    """What `openssl s_client -status` says about the staple, after a
    complete handshake and one request."""
    p = subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
         "-servername", servername, "-status", "-ign_eof"] + list(more),
        input=b"GET / HTTP/1.0\r\nHost: " + servername.encode() +
        b"\r\n\r\n", capture_output=True, timeout=20)
    out = p.stdout.decode("latin-1")
    assert " 200 " in out, out + p.stderr.decode("latin-1")
    return out


def staple(out):
    """(response status, cert status) of the staple, or None."""
    if "OCSP response: no response sent" in out:
        return None
    m = re.search(r"OCSP Response Status: (\w+)", out)
    assert m, out
    c = re.search(r"Cert Status: (\w+)", out)
    return m.group(1), c.group(1) if c else None


def wait_for(pred, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    return pred()


def test_good_and_revoked_are_stapled(relais, pki):
    """A good certificate and a revoked one (two virtual hosts, chosen
    by SNI) each staple the responder's signed answer.  The
    responder is asked once per certificate, at start: no handshake ever
    waits for it."""
    log = pki.responder()
    port = start(relais, pki, vhosts="""
<VirtualHost *:%s>
    ServerName localhost
    SSLEngine on
    SSLCertificateFile %s/good.crt
    SSLCertificateKeyFile %s/good.key
</VirtualHost>
<VirtualHost *:%s>
    ServerName revoked.test
    SSLEngine on
    SSLCertificateFile %s/revoked.crt
    SSLCertificateKeyFile %s/revoked.key
    SSLCACertificateFile %s
</VirtualHost>
""" % ("@PORT@", pki.dir, pki.dir, "@PORT@", pki.dir, pki.dir,
       pki.certs.ca_crt))
    for _ in range(3):
        assert staple(status(port)) == ("successful", "good")
        assert staple(status(port, "revoked.test")) == ("successful",
                                                        "revoked")
    assert requests_seen(log) == 2
    err = relais.error_log()
    assert re.search(r"CN=localhost .*says good", err), err
    assert re.search(r"CN=revoked.test .*says revoked", err), err


def test_responder_down_at_start(relais, pki):
    """Nothing listens at the responder's address: relaisd starts anyway
    and says so; handshakes go on with httpd's made-up "tryLater"
    (SSLStaplingFakeTryLater on by default).  When the responder comes
    back, a child fetches the response in the background (after
    SSLStaplingErrorCacheTimeout) and it is stapled."""
    port = start(relais, pki, cert="down",
                 extra="SSLStaplingErrorCacheTimeout 2")
    err = relais.error_log()
    assert re.search(r"OCSP stapling: certificate CN=localhost .*no usable "
                     r"response from http://127.0.0.1:%d/: cannot connect"
                     % pki.down_port, err), err
    assert "warn" in err
    assert staple(status(port)) == ("trylater", None)
    log = pki.responder(port=pki.down_port)
    assert wait_for(lambda: staple(status(port)) == ("successful", "good"))
    assert requests_seen(log) == 1


def test_no_fake_try_later(relais, pki):
    port = start(relais, pki, cert="down",
                 extra="SSLStaplingFakeTryLater off")
    assert staple(status(port)) is None


def test_return_errors_off_staples_only_good(relais, pki):
    pki.responder()
    port = start(relais, pki, cert="revoked",
                 extra="SSLStaplingReturnResponderErrors off")
    assert staple(status(port, "revoked.test")) is None
    assert "says revoked" in relais.error_log()


def test_force_url_and_certificate_without_aia(relais, pki):
    """A certificate without AIA: nothing stapled, and the log says how
    to fix it; SSLStaplingForceURL names the responder instead."""
    port = start(relais, pki, cert="noaia")
    assert "names no OCSP responder" in relais.error_log()
    assert staple(status(port)) is None
    relais.stop()
    pki.responder()
    port = start(relais, pki, cert="noaia",
                 extra="SSLStaplingForceURL %s" % pki.url)
    assert staple(status(port)) == ("successful", "good")


def test_response_that_does_not_verify_is_not_stapled(relais, pki):
    """The responder signs with a key the issuer never delegated to:
    the answer is thrown away, never stapled."""
    log = pki.responder(signer="other_ca")
    port = start(relais, pki, extra="SSLStaplingFakeTryLater off")
    assert requests_seen(log) == 1
    assert "does not verify" in relais.error_log()
    assert staple(status(port)) is None


def test_refreshed_in_background_and_kept_when_responder_dies(relais, pki):
    """SSLStaplingStandardCacheTimeout 2: the children ask again every
    few seconds on their own (the staple's thisUpdate moves on); once
    the responder is gone, the last good response is still stapled."""
    log = pki.responder()
    port = start(relais, pki, extra="SSLStaplingStandardCacheTimeout 2",
                 mpm="prefork")
    first = re.search(r"This Update: (.*)", status(port)).group(1)
    assert wait_for(lambda: requests_seen(log) >= 3, timeout=20), \
        requests_seen(log)
    assert wait_for(lambda: re.search(r"This Update: (.*)",
                                      status(port)).group(1) != first)
    pki.stop_responders()
    assert wait_for(lambda: "cannot connect" in relais.error_log())
    assert staple(status(port)) == ("successful", "good")


def test_staple_kept_across_graceful_restart(relais, pki):
    """A graceful restart finds the responses in shared memory: it does
    not ask the responder again (here: gone) and staples at once."""
    log = pki.responder()
    port = start(relais, pki)
    assert staple(status(port)) == ("successful", "good")
    pki.stop_responders()
    relais.send(signal.SIGUSR1)
    time.sleep(2)
    assert staple(status(port)) == ("successful", "good")
    assert requests_seen(log) == 1
    assert "cannot connect" not in relais.error_log()


def test_stapling_cache_spellings(relais, pki):
    port = free_port()
    relais.write_conf(conf(pki, port, extra="SSLStaplingCache "
                           "shmcb:/run/relais/ssl_stapling(32768)"))
    r = relais.run("-t")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("line, words", [
    ("SSLStaplingCache dbm:/var/cache/ocsp", ["dbm", "shmcb:/"]),
    ("SSLStaplingForceURL https://ocsp.example/", ["http://"]),
    ("SSLUseStapling maybe", ["maybe"]),
    ("SSLStaplingResponderTimeout never", ["never"]),
])
def test_refused_settings(relais, pki, line, words):
    relais.write_conf(conf(pki, free_port(), extra=line))
    r = relais.run("-t")
    assert r.returncode != 0
    err = r.stdout + r.stderr
    assert line.split()[0] in err, err
    for w in words:
        assert w in err, err


def serial_of(path):
    out = subprocess.run(["openssl", "x509", "-in", path, "-noout",
                          "-serial"], capture_output=True, text=True,
                         check=True).stdout
    return out.strip().split("=", 1)[1].upper()


def test_rsa_and_ecdsa_certificates_each_staple_their_own(relais, pki):
    """Two certificates side by side in one server: the staple is the
    answer about the certificate the handshake chose."""
    log = pki.responder()
    port = start(relais, pki, extra="""
SSLCertificateFile %s/good_rsa.crt
SSLCertificateKeyFile %s/good_rsa.key""" % (pki.dir, pki.dir))
    for sigalgs, cert in (("ECDSA+SHA256", "good"),
                          ("rsa_pss_rsae_sha256:RSA+SHA256", "good_rsa")):
        out = status(port, more=["-sigalgs", sigalgs])
        assert staple(out) == ("successful", "good")
        leaf = re.search(r"Serial Number: ([0-9A-F]+)", out).group(1)
        assert leaf == serial_of(pki.path(cert + ".crt")), out
        assert "Server public key is %s" % (
            "256" if cert == "good" else "2048") in out
    assert requests_seen(log) == 2
