"""The status pages behind mod_acl: a client the Require lines do not let
in gets 403 for the page, ?auto and the metrics; and the shipped
conf/mods-available/status.{load,conf} work as their comments say,
`relaisctl fullstatus` included."""
import os
import shutil
import subprocess

from conftest import BUILD, MODULES, RELAISD, free_port, wait_port
from helpers_status import parse_auto, parse_metrics, request, status_conf

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
PATHS = ("/server-status", "/server-status?auto", "/metrics")


def test_refused_to_a_client_not_allowed(relais, backend):
    # 127.0.0.1 is not in 10.0.0.0/8: what a non-local client gets
    app, admin = free_port(), free_port()
    relais.write_conf(status_conf(app, admin, [backend], acl=True,
                                  admin_require="Require ip 10.0.0.0/8"))
    relais.start(port=admin)
    for path in PATHS:
        status, _, body = request(admin, path)
        assert status == 403, (path, status)
        assert b"Relais" not in body and b"balancer" not in body


def test_served_to_local_clients(relais, backend):
    app, admin = free_port(), free_port()
    relais.write_conf(status_conf(app, admin, [backend], acl=True,
                                  admin_require="Require local"))
    relais.start(port=admin)
    for path in PATHS:
        status, _, _ = request(admin, path)
        assert status == 200, (path, status)


def shipped_tree(tmp_path, front, b1, b2):
    """The shipped conf/ with the demo site, the proxy modules, mod_acl
    and mod_status enabled as `relaisctl enmod` would, on free ports."""
    root = tmp_path / "root"
    shutil.copytree(os.path.join(TOP, "conf"), root / "conf", symlinks=True)
    os.symlink(MODULES, root / "modules")
    (root / "logs").mkdir()
    conf = root / "conf"
    for sub in ("mods-enabled", "sites-enabled"):
        for name in os.listdir(conf / sub):
            os.unlink(conf / sub / name)
    for name in ("mpm_event.load", "mpm_event.conf", "echo.load",
                 "proxy.load", "proxy_balancer.load", "proxy_hcheck.load",
                 "acl.load", "status.load", "status.conf"):
        os.symlink("../mods-available/" + name, conf / "mods-enabled" / name)
    os.symlink("../sites-available/demo.conf",
               conf / "sites-enabled" / "demo.conf")
    ports = (conf / "ports.conf").read_text()
    (conf / "ports.conf").write_text(ports.replace("8080", str(front)))
    site = (conf / "sites-available" / "demo.conf").read_text()
    site = site.replace("8080", str(front)).replace("8081", str(b1)) \
        .replace("8082", str(b2))
    (conf / "sites-available" / "demo.conf").write_text(site)
    main = (conf / "relais.conf").read_text()
    if os.geteuid() != 0:
        main = main.replace("User www-data", "").replace("Group www-data",
                                                          "")
    (conf / "relais.conf").write_text(main)
    return root


def test_shipped_status_conf_and_fullstatus(tmp_path):
    front, b1, b2 = free_port(), free_port(), free_port()
    root = shipped_tree(tmp_path, front, b1, b2)
    args = [RELAISD, "-d", str(root), "-f", "conf/relais.conf"]
    res = subprocess.run(args + ["-t"], capture_output=True, text=True)
    assert res.returncode == 0 and "Syntax OK" in res.stderr, res.stderr
    proc = subprocess.Popen(args + ["-D", "FOREGROUND"],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        assert wait_port(front), (root / "logs" / "error_log").read_text()
        # the demo balances over its two echo backends...
        for _ in range(4):
            status, _, body = request(front, "/hello")
            assert status == 200 and b'"name": "backend' in body, body
        # ...and its front answers /server-status and /metrics itself
        status, _, body = request(front, "/server-status?auto")
        assert status == 200, body
        _, fields = parse_auto(body)
        assert fields["ServerMPM"] == "event"
        status, _, body = request(front, "/server-status")
        assert status == 200 and b"balancer://demo" in body
        status, _, body = request(front, "/metrics")
        assert status == 200
        m = parse_metrics(body.decode())
        assert "relais_member_up" in m["types"]

        # relaisctl fullstatus: status, then the ?auto lines
        env = dict(os.environ, RELAISD=RELAISD, RELAIS_ROOT=str(root),
                   RELAIS_CONF="conf/relais.conf",
                   RELAIS_STATUS_PORT=str(front))
        out = subprocess.run([os.path.join(BUILD, "bin", "relaisctl"),
                              "fullstatus"], capture_output=True, text=True,
                             env=env, timeout=30)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "is running" in out.stdout
        assert "ServerVersion: Relais/" in out.stdout
        assert "Total Accesses: " in out.stdout
        assert "Scoreboard: " in out.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=15)
