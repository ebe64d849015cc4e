"""Fixtures of the mod_ssl tests: certificates made at test time with the
openssl command-line tool, and the recording Python backend of the proxy
tests (test/integration/proxy/helpers_proxy.py).

pytest puts this module in sys.modules as "conftest" in place of the
suite's root conftest.py, so the root's public names are re-exported here
(as test/integration/proxy/conftest.py does).
"""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import Backend, root  # noqa: E402

for _name, _value in vars(root).items():
    if not _name.startswith("_") and \
            not hasattr(_value, "_pytestfixturefunction") and \
            _name not in globals():
        globals()[_name] = _value
del _name, _value


def openssl(*args, cwd):
    subprocess.run(("openssl",) + args, cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Certs:
    """A test PKI in one directory.  Every name is a path:

    ca.crt / ca.key          the root CA the clients and Relais trust
    other_ca.crt / .key      a second CA nobody trusts
    rsa.crt / rsa.key        server, RSA 2048, names localhost, www.test,
                             *.app.test and 127.0.0.1
    ec.crt / ec.key          the same names, ECDSA P-256
    alt.crt / alt.key        server for alt.test (RSA; a second vhost)
    alt_ec.crt / alt_ec.key  the same, ECDSA P-256
    wrong.crt / wrong.key    server for wrong.test only (wrong name)
    expired.crt / .key       localhost, expired yesterday
    untrusted.crt / .key     localhost, signed by other_ca
    client.crt / .key        client "alice" (CN=alice, O=Relais Test)
    client2.crt / .key       client "bob"
    rogue_client.crt / .key  client signed by other_ca
    ca_chain.pem             ca.crt (for SSLCertificateChainFile tests)
    """

    def __init__(self, d):
        self.dir = str(d)
        os.makedirs(self.dir, exist_ok=True)
        self._ca("ca", "Relais Test CA")
        self._ca("other_ca", "Untrusted Test CA")
        names = "DNS:localhost,DNS:www.test,DNS:*.app.test,IP:127.0.0.1"
        self._leaf("rsa", "localhost", names, "rsa")
        self._leaf("ec", "localhost", names, "ec")
        self._leaf("alt", "alt.test", "DNS:alt.test", "rsa")
        self._leaf("alt_ec", "alt.test", "DNS:alt.test", "ec")
        self._leaf("wrong", "wrong.test", "DNS:wrong.test", "rsa")
        self._leaf("expired", "localhost", "DNS:localhost,IP:127.0.0.1",
                   "rsa", days="expired")
        self._leaf("untrusted", "localhost", "DNS:localhost,IP:127.0.0.1",
                   "rsa", ca="other_ca")
        self._leaf("client", "alice", None, "ec", client=True)
        self._leaf("client2", "bob", None, "ec", client=True)
        self._leaf("rogue_client", "mallory", None, "ec", client=True,
                   ca="other_ca")
        with open(self.path("ca.crt")) as f, \
                open(self.path("ca_chain.pem"), "w") as out:
            out.write(f.read())
        for name in os.listdir(self.dir):
            if name.endswith(".key"):
                os.chmod(self.path(name), 0o600)

    def path(self, name):
        return os.path.join(self.dir, name)

    def __getattr__(self, attr):
        # certs.rsa_crt -> ".../rsa.crt"
        if "_" in attr and attr.rsplit("_", 1)[1] in ("crt", "key", "pem"):
            stem, ext = attr.rsplit("_", 1)
            return self.path(stem + "." + ext)
        raise AttributeError(attr)

    def _key(self, name, kind):
        if kind == "ec":
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", name + ".key",
                    cwd=self.dir)
        else:
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", name + ".key",
                    cwd=self.dir)

    def _ca(self, name, cn):
        self._key(name, "ec")
        openssl("req", "-x509", "-new", "-key", name + ".key", "-sha256",
                "-days", "30", "-subj", "/O=Relais Test/CN=" + cn,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-out", name + ".crt", cwd=self.dir)

    def _leaf(self, name, cn, san, kind, client=False, days="30",
              ca="ca"):
        self._key(name, kind)
        openssl("req", "-new", "-key", name + ".key",
                "-subj", "/O=Relais Test/CN=" + cn, "-out", name + ".csr",
                cwd=self.dir)
        ext = ["basicConstraints=CA:FALSE",
               "extendedKeyUsage=" + ("clientAuth" if client
                                      else "serverAuth")]
        if san:
            ext.append("subjectAltName=" + san)
        with open(os.path.join(self.dir, name + ".ext"), "w") as f:
            f.write("\n".join(ext) + "\n")
        args = ["x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt",
                "-CAkey", ca + ".key", "-CAcreateserial", "-sha256",
                "-extfile", name + ".ext", "-out", name + ".crt"]
        if days == "expired":
            # valid from 3 days ago until yesterday: openssl x509 -req has
            # no start date option, so sign with "ca -startdate" instead
            self._expired(name, ca, name + ".ext")
            return
        args += ["-days", days]
        openssl(*args, cwd=self.dir)

    def _expired(self, name, ca, extfile):
        d = self.dir
        db = os.path.join(d, "expired_db")
        os.makedirs(db, exist_ok=True)
        open(os.path.join(db, "index.txt"), "w").close()
        with open(os.path.join(db, "serial"), "w") as f:
            f.write("1000\n")
        conf = os.path.join(db, "ca.cnf")
        with open(conf, "w") as f:
            f.write(
                "[ca]\ndefault_ca=c\n[c]\ndatabase=%s/index.txt\n"
                "serial=%s/serial\nnew_certs_dir=%s\ndefault_md=sha256\n"
                "policy=p\nunique_subject=no\n[p]\ncommonName=supplied\n"
                "organizationName=optional\n" % (db, db, db))
        openssl("ca", "-batch", "-config", conf, "-cert", ca + ".crt",
                "-keyfile", ca + ".key", "-in", name + ".csr",
                "-startdate", "20200101000000Z",
                "-enddate", _yesterday(), "-extfile", extfile,
                "-out", name + ".crt", "-notext", cwd=d)


def _yesterday():
    import datetime
    t = datetime.datetime.utcnow() - datetime.timedelta(days=1)
    return t.strftime("%Y%m%d%H%M%SZ")


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """The test PKI (see Certs), made once per test session."""
    return Certs(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def backend():
    """A Python backend that records the requests it gets."""
    b = Backend()
    yield b
    b.stop()
    assert not b.errors, "backend errors: %r" % b.errors


@pytest.fixture(autouse=True)
def no_child_crash(request):
    """Fails a test whose relaisd lost a child to a signal."""
    r = request.getfixturevalue("relais") if "relais" in \
        request.fixturenames else None
    yield
    if r is not None:
        crashes = [l for l in r.error_log().splitlines()
                   if "exited on signal" in l]
        assert not crashes, "relaisd child crashed:\n" + "\n".join(crashes)
