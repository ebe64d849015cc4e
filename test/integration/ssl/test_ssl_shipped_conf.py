"""The shipped TLS configuration (conf/mods-available/ssl.load and
ssl.conf, conf/sites-available/default-ssl.conf) works as its comments
say: enabled next to the shipped relais.conf, with a certificate made as
default-ssl.conf shows, it passes `relaisd -t` and serves HTTPS."""
import json
import os
import shutil
import subprocess

from conftest import MODULES, RELAISD, free_port, wait_port

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def shipped_tree(tmp_path, http_port, https_port):
    root = tmp_path / "root"
    shutil.copytree(os.path.join(TOP, "conf"), root / "conf", symlinks=True)
    os.symlink(MODULES, root / "modules")
    (root / "logs").mkdir()
    conf = root / "conf"
    for sub in ("mods-enabled", "sites-enabled"):
        for name in os.listdir(conf / sub):
            os.unlink(conf / sub / name)
    for name in ("mpm_event.load", "mpm_event.conf", "echo.load",
                 "headers.load", "ssl.load", "ssl.conf"):
        os.symlink("../mods-available/" + name, conf / "mods-enabled" / name)
    os.symlink("../sites-available/default-ssl.conf",
               conf / "sites-enabled" / "default-ssl.conf")
    ports = (conf / "ports.conf").read_text()
    (conf / "ports.conf").write_text(ports.replace("8080", str(http_port)))
    site = (conf / "sites-available" / "default-ssl.conf").read_text()
    (conf / "sites-available" / "default-ssl.conf").write_text(
        site.replace("8443", str(https_port)))
    main = (conf / "relais.conf").read_text()
    if os.geteuid() != 0:
        main = main.replace("User www-data", "").replace("Group www-data",
                                                          "")
    (conf / "relais.conf").write_text(main)
    # the certificate, as default-ssl.conf's comment makes it
    (conf / "tls").mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj",
         "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(conf / "tls" / "localhost.key"),
         "-out", str(conf / "tls" / "localhost.crt")],
        check=True, capture_output=True)
    os.chmod(conf / "tls" / "localhost.key", 0o600)
    return root


def test_default_ssl_site_serves_https(tmp_path):
    http_port, https_port = free_port(), free_port()
    root = shipped_tree(tmp_path, http_port, https_port)
    args = [RELAISD, "-d", str(root), "-f", "conf/relais.conf"]
    res = subprocess.run(args + ["-t"], capture_output=True, text=True)
    assert res.returncode == 0 and "Syntax OK" in res.stderr, res.stderr
    proc = subprocess.Popen(args + ["-D", "FOREGROUND"],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        assert wait_port(https_port), (root / "logs" / "error_log").read_text()
        out = subprocess.run(
            ["curl", "-sS", "--cacert", str(root / "conf/tls/localhost.crt"),
             "-w", "\n%{http_code} %{ssl_verify_result}",
             "https://localhost:%d/" % https_port, "--resolve",
             "localhost:%d:127.0.0.1" % https_port],
            capture_output=True, text=True, timeout=20)
        body, _, codes = out.stdout.rpartition("\n")
        assert codes == "200 0", out.stdout + out.stderr
        assert '"front-tls"' in body
        # the X-Forwarded-Proto the site adds reached the handler
        headers = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
        assert headers.get("x-forwarded-proto") == "https", body
        log = (root / "logs" / "error_log").read_text()
        assert "readable by other users" not in log
    finally:
        proc.terminate()
        proc.wait(timeout=15)
