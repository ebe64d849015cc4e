"""What `make install` puts in the prefix for operations, and that it
works: relaisctl made with the install's paths, the bash completion, the
systemd unit (checked by systemd-analyze verify, and its commands run as
systemd would run them, with a clean environment), the logrotate file
(logrotate -f against a running relaisd), and the upgrade path of
docs/operators.md ("Upgrading"): files replaced under a running server,
graceful loading new modules into the old parent, a module for another
API refused without harm.

Installs go to a DESTDIR (the full `make install`, as test_relaisxs.py
does) or, for the files that need no build (install-ctl, install-ops,
install-conf), to a prefix of the test's own, with relaisd and the
modules linked from the build.
"""
import configparser
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import MODULES, RELAISD, free_port, wait_port
from helpers_ops import (TOP, CtlServer, KeepAliveClient, alive,
                         children_of, read_pid, wait_for)


def make(*args, **kw):
    return subprocess.run(["make", "-s"] + list(args), cwd=TOP,
                          capture_output=True, text=True, timeout=900, **kw)


@pytest.fixture(scope="module")
def destdir(tmp_path_factory):
    """`make install DESTDIR=...`: returns (DESTDIR, prefix inside it)."""
    dest = tmp_path_factory.mktemp("destdir")
    res = make("install", "DESTDIR=%s" % dest)
    assert res.returncode == 0, res.stdout + res.stderr
    prefix = None
    for dirpath, dirnames, _ in os.walk(str(dest)):
        if "bin" in dirnames and "conf" in dirnames:
            prefix = dirpath
            break
    assert prefix, "make install produced no bin/ and conf/"
    return str(dest), prefix


def prefix_install(tmp_path, http_port):
    """A prefix of the test's own: relaisctl, the operations files and the
    shipped conf/ installed there by make (no build needed), relaisd and
    the modules linked from the build, the shipped ports moved to free
    ones.  Returns the prefix."""
    prefix = str(tmp_path / "relais")
    res = make("install-ctl", "install-ops", "install-conf",
               "prefix=%s" % prefix)
    assert res.returncode == 0, res.stdout + res.stderr
    os.symlink(RELAISD, os.path.join(prefix, "bin", "relaisd"))
    os.symlink(MODULES, os.path.join(prefix, "modules"))
    os.makedirs(os.path.join(prefix, "logs"))
    conf = os.path.join(prefix, "conf")
    b1, b2 = free_port(), free_port()
    for name in ("ports.conf", "sites-available/demo.conf"):
        path = os.path.join(conf, name)
        with open(path) as f:
            text = f.read()
        text = (text.replace("8080", str(http_port))
                .replace("8081", str(b1)).replace("8082", str(b2)))
        with open(path, "w") as f:
            f.write(text)
    if os.geteuid() != 0:
        path = os.path.join(conf, "relais.conf")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(re.sub(r"(?m)^(User|Group) .*$", "", text))
    return prefix


def clean_env():
    """What systemd and logrotate give a command: no RELAIS_* settings."""
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                    "/sbin:/bin", "LANG": "C"}


def run(cmd, env=None, timeout=120):
    """A command line as systemd runs ExecStart= (split on blanks; these
    have no quoting), its output through files (a daemon could keep a
    pipe open)."""
    out_p, err_p = "/tmp/relais-ops-%d.out" % os.getpid(), \
        "/tmp/relais-ops-%d.err" % os.getpid()
    with open(out_p, "w") as out, open(err_p, "w") as err:
        rc = subprocess.run(cmd.split() if isinstance(cmd, str) else cmd,
                            stdout=out, stderr=err, env=env or clean_env(),
                            stdin=subprocess.DEVNULL,
                            timeout=timeout).returncode
    with open(out_p) as f1, open(err_p) as f2:
        text = f1.read() + f2.read()
    os.unlink(out_p)
    os.unlink(err_p)
    return rc, text


@pytest.fixture
def stopper():
    """PIDs to stop at the end of a test (daemons not started as a
    CtlServer)."""
    pids = set()
    yield pids
    for pid in pids:
        if alive(pid) and open("/proc/%d/comm" % pid).read().strip() == \
                "relaisd":
            os.kill(pid, signal.SIGTERM)
    for pid in pids:
        if not wait_for(lambda: not alive(pid), 15) and alive(pid):
            os.kill(pid, signal.SIGKILL)


def get(port, path="/"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path),
                                timeout=10) as r:
        return r.status, r.read()


# ------------------------------------------------------------- layout

def test_ops_make_install_puts_everything_in_the_prefix(destdir):
    dest, prefix = destdir
    expect = {
        "bin/relaisctl": 0o755,
        "share/bash-completion/completions/relaisctl": 0o644,
        "lib/systemd/system/relais.service": 0o644,
        "etc/logrotate.d/relais": 0o644,
    }
    for rel, mode in expect.items():
        path = os.path.join(prefix, rel)
        assert os.path.isfile(path), rel
        assert os.stat(path).st_mode & 0o777 == mode, rel
        with open(path) as f:
            text = f.read()
        # every placeholder substituted, with the configured prefix
        assert not re.search(r"@[a-z_]+@", text.replace('"$@"', "")), rel
    real_prefix = prefix[len(dest):]
    with open(os.path.join(prefix, "lib/systemd/system/relais.service")) as f:
        unit = f.read()
    assert "ExecStart=%s/bin/relaisctl start\n" % real_prefix in unit
    assert "PIDFile=%s/logs/relaisd.pid\n" % real_prefix in unit
    with open(os.path.join(prefix, "etc/logrotate.d/relais")) as f:
        assert f.read().count("%s/logs/" % real_prefix) >= 3
    # nothing outside the prefix: not into /etc unless asked
    for dirpath, _, files in os.walk(dest):
        for name in files:
            path = os.path.join(dirpath, name)
            assert path.startswith(prefix + "/"), path
    # the installed relaisctl passes the installed ServerRoot
    with open(os.path.join(prefix, "bin", "relaisctl")) as f:
        assert 'set -- -d "${RELAIS_ROOT:-%s}" "$@"' % real_prefix in f.read()


def test_ops_install_dirs_can_be_the_systems(tmp_path):
    dest = tmp_path / "d"
    res = make("install-ops", "DESTDIR=%s" % dest,
               "SYSTEMD_UNIT_DIR=/etc/systemd/system",
               "LOGROTATE_DIR=/etc/logrotate.d",
               "BASH_COMPLETION_DIR=/usr/share/bash-completion/completions")
    assert res.returncode == 0, res.stderr
    found = sorted(str(p.relative_to(dest)) for p in dest.rglob("*")
                   if p.is_file())
    assert found == ["etc/logrotate.d/relais",
                     "etc/systemd/system/relais.service",
                     "usr/share/bash-completion/completions/relaisctl"]


# ------------------------------------------------------------- systemd

def unit_of(prefix):
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(os.path.join(prefix, "lib/systemd/system/relais.service"))
    return cp


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (Debian "
                    "package systemd)")
def test_ops_systemd_unit_verifies(tmp_path):
    prefix = prefix_install(tmp_path, free_port())
    unit = os.path.join(prefix, "lib/systemd/system/relais.service")
    res = subprocess.run(["systemd-analyze", "verify", unit],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "relais.service" not in res.stderr, res.stderr
    # and it does check: a broken copy fails
    bad = tmp_path / "relais.service"
    with open(unit) as f:
        bad.write_text(f.read().replace("ExecStart=%s/bin/relaisctl" %
                                        prefix, "ExecStart=%s/bin/nothing" %
                                        prefix))
    res = subprocess.run(["systemd-analyze", "verify", str(bad)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "nothing" in res.stderr


def test_ops_systemd_unit_commands_drive_relaisd(tmp_path, stopper):
    """systemd is not running here: run the unit's ExecStart, ExecReload
    and ExecStop as it would (clean environment, the PIDFile read after
    ExecStart returns) and check what each one did."""
    port = free_port()
    prefix = prefix_install(tmp_path, port)
    svc = unit_of(prefix)["Service"]
    assert svc["Type"] == "forking"
    assert svc["KillMode"] == "mixed"
    assert svc["Restart"] == "on-abnormal"
    pid_file = svc["PIDFile"]
    assert pid_file == os.path.join(prefix, "logs", "relaisd.pid")

    rc, out = run(svc["ExecStart"])
    assert rc == 0, out
    # Type=forking: the pid file is complete when ExecStart returns
    pid = read_pid(pid_file)
    stopper.add(pid)
    assert pid and alive(pid), out
    assert wait_port(port)
    status, body = get(port)
    assert status == 200 and b'"backend' in body, body

    # ExecReload: a graceful restart that applies a change
    demo = os.path.join(prefix, "conf/sites-available/demo.conf")
    with open(demo) as f:
        text = f.read()
    with open(demo, "w") as f:
        f.write(text.replace("EchoName backend1", "EchoName reloaded1")
                .replace("EchoName backend2", "EchoName reloaded2"))
    rc, out = run(svc["ExecReload"])
    assert rc == 0, out
    assert wait_for(lambda: b'"reloaded' in get(port)[1], 10)
    assert read_pid(pid_file) == pid
    # a reload with a broken configuration fails and changes nothing
    with open(demo, "a") as f:
        f.write("\nNoSuchDirective here\n")
    rc, out = run(svc["ExecReload"])
    assert rc == 1 and "NoSuchDirective" in out, out
    assert alive(pid) and b'"reloaded' in get(port)[1]
    with open(demo, "w") as f:
        f.write(text)

    # ExecStop: graceful stop; the parent is gone when it returns
    rc, out = run(svc["ExecStop"])
    assert rc == 0, out
    assert not alive(pid)
    assert not os.path.exists(pid_file)
    log = open(os.path.join(prefix, "logs", "error_log")).read()
    assert "SIGUSR1 received: graceful restart" in log
    assert "SIGWINCH received: graceful stop" in log


# ------------------------------------------------------------- logrotate

@pytest.mark.skipif(shutil.which("logrotate") is None and
                    not os.path.exists("/usr/sbin/logrotate"),
                    reason="logrotate is not installed (Debian package "
                    "logrotate, in support/setup-debian.sh --test)")
@pytest.mark.skipif(os.geteuid() != 0, reason="logrotate reads only "
                    "configuration files owned by root when run as root; "
                    "as another user the postrotate cannot signal a "
                    "relaisd started as root")
def test_ops_logrotate_rotates_and_relaisd_reopens(tmp_path, stopper):
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    port = free_port()
    prefix = prefix_install(tmp_path, port)
    logs = os.path.join(prefix, "logs")
    rc, out = run([os.path.join(prefix, "bin", "relaisctl"), "start"])
    assert rc == 0, out
    pid = read_pid(os.path.join(logs, "relaisd.pid"))
    stopper.add(pid)
    assert wait_port(port)
    for i in range(5):
        assert get(port, "/before-%d" % i)[0] == 200
    # the shipped demo site: the front vhost logs to front_access.json,
    # its two echo backends to the main access_log
    front = os.path.join(logs, "front_access.json")
    access = os.path.join(logs, "access_log")

    def count(path, what):
        return open(path).read().count(what) if os.path.exists(path) else 0
    assert wait_for(lambda: count(front, "/before-") == 5 and
                    count(access, "/before-") == 5, 10)

    conf = os.path.join(prefix, "etc/logrotate.d/relais")
    state = str(tmp_path / "logrotate.state")

    def rotate():
        """logrotate -f; then waits for the old children to finish, since
        until they do, a new connection may still reach one of them and
        be logged into the renamed file (delaycompress keeps it open)."""
        old = children_of(pid)
        res = subprocess.run([logrotate, "-f", "-s", state, conf],
                             capture_output=True, text=True, env=clean_env(),
                             timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
        if alive(pid):
            assert wait_for(lambda: not any(alive(k) for k in old), 15)

    rotate()
    # renamed, and reopened by the graceful restart of postrotate
    assert wait_for(lambda: os.path.exists(front) and
                    os.path.exists(access), 10), os.listdir(logs)
    for i in range(5):
        assert get(port, "/after-%d" % i)[0] == 200
    assert wait_for(lambda: count(front, "/after-") == 5 and
                    count(access, "/after-") == 5, 10), os.listdir(logs)
    for path in (front, access):
        assert count(path, "/before-") == 0, path
        assert count(path + ".1", "/before-") == 5, path
        assert count(path + ".1", "/after-") == 0, path
    # the error log too: the old one has the restart notice, the new one
    # what relaisd said once it had reopened it
    old_err = open(os.path.join(logs, "error_log.1")).read()
    assert "SIGUSR1 received: graceful restart" in old_err
    new_err = open(os.path.join(logs, "error_log")).read()
    assert "resuming normal operations" in new_err
    assert read_pid(os.path.join(logs, "relaisd.pid")) == pid
    assert os.path.exists(os.path.join(logs, "relaisd.pid"))

    # a second rotation: the first rotated file is compressed now
    # (delaycompress), and the pid file is never touched
    rotate()
    assert wait_for(lambda: os.path.exists(front), 10)
    names = sorted(os.listdir(logs))
    for n in ("front_access.json.2.gz", "front_access.json.1",
              "access_log.2.gz", "access_log.1", "error_log.2.gz"):
        assert n in names, names
    assert not any(n.startswith("relaisd.pid.") for n in names), names
    assert get(port, "/third")[0] == 200
    assert wait_for(lambda: count(front, "/third") == 1, 10)

    # with relaisd stopped, a rotation does not start it
    rc, out = run([os.path.join(prefix, "bin", "relaisctl"), "stop"])
    assert rc == 0, out
    rotate()
    time.sleep(0.5)
    assert not os.path.exists(os.path.join(logs, "relaisd.pid"))
    assert not alive(pid)


# ------------------------------------------------------------- completion

def test_ops_installed_completion_finds_the_installed_conf(destdir):
    _, prefix = destdir
    script = os.path.join(prefix, "share/bash-completion/completions/"
                                  "relaisctl")
    ctl = os.path.join(prefix, "bin", "relaisctl")
    prog = (". '%s'\nCOMP_WORDS=('%s' %s '')\nCOMP_CWORD=2\n_relaisctl\n"
            "printf '%%s\\n' \"${COMPREPLY[@]}\"\n")
    env = clean_env()

    def names(cmd):
        res = subprocess.run(["bash", "--norc", "-c",
                              prog % (script, ctl, cmd)],
                             capture_output=True, text=True, env=env,
                             timeout=30)
        assert res.returncode == 0, res.stderr
        return res.stdout.split()

    avail = {f.rsplit(".", 1)[0] for f in
             os.listdir(os.path.join(prefix, "conf", "mods-available"))}
    enabled = {f.rsplit(".", 1)[0] for f in
               os.listdir(os.path.join(prefix, "conf", "mods-enabled"))}
    assert set(names("dismod")) == enabled
    assert set(names("enmod")) == avail - enabled
    assert "ssl" in names("enmod")
    sites = {f[:-5] for f in
             os.listdir(os.path.join(prefix, "conf", "sites-enabled"))}
    assert set(names("dissite")) == sites


# ------------------------------------------------------------- upgrading

def relaisxs(prefix, *args, cwd):
    cmd = [os.path.join(prefix, "bin", "relaisxs"), "-S",
           "PREFIX=" + prefix] + list(args)
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


# An "echo" module of a later release: same name, same API, another
# answer.  (mod_echo's own directives are not needed by this test.)
NEW_ECHO = r"""
#include <string.h>
#include "relais.h"

static int echo2_handler(rl_request_t *r)
{
    if (r->handler == NULL || strcmp(r->handler, "echo") != 0) {
        return RL_DECLINED;
    }
    rl_set_content_type(r, "text/plain");
    if (!r->header_only) {
        rl_rputs(r, "echo from the upgraded module\n");
    }
    return RL_OK;
}

static void echo2_register_hooks(apr_pool_t *p)
{
    (void)p;
    rl_hook_handler(echo2_handler, NULL, NULL, RL_HOOK_MIDDLE);
}

RL_DECLARE_MODULE(echo) = {
    RL_MODULE_STUFF("echo", "2.0.0", 0),
    NULL, NULL, NULL, NULL, NULL, echo2_register_hooks,
};
"""

# A module of the same name built for the next module API.
FUTURE_ECHO = r"""
#include "relais.h"
RL_DECLARE_MODULE(echo) = {
    RL_MODULE_MAGIC, RL_MMN_MAJOR + 1, 0, RL_MODULE_SIGNATURE, "echo",
    "3.0", 0, -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
"""


def test_ops_upgrade_replaces_files_under_a_running_server(destdir,
                                                           tmp_path):
    """docs/operators.md, "Upgrading": make install replaces files without
    disturbing the running server; a graceful restart then loads the new
    module files into the old parent (the same module API: it works);
    module files for another API are refused by relaisctl graceful, and
    the server keeps serving with the modules it has."""
    dest, installed = destdir
    # a private copy of the installed tree, run from its own bin/, at a
    # place where `make install DESTDIR=` installs again
    root = str(tmp_path / "root")
    prefix = root + installed[len(dest):]
    shutil.copytree(installed, prefix, symlinks=True)
    s = CtlServer(prefix, relaisd=os.path.join(prefix, "bin", "relaisd"),
                  ctl=os.path.join(prefix, "bin", "relaisctl"), modules=None)
    s.conf = os.path.join(prefix, "conf", "test.conf")
    try:
        port = free_port()
        s.write_conf("""\
LoadModule mpm_event_module modules/mod_mpm_event.so
LoadModule echo_module modules/mod_echo.so
Listen 127.0.0.1:%d
ErrorLog logs/error_log
PidFile logs/relaisd.pid
StartServers 2
SetHandler echo
""" % port, name="conf/test.conf")
        with open(s.conf) as f:
            text = f.read()
        if "User " not in text and os.geteuid() == 0:
            with open(s.conf, "a") as f:
                f.write("User root\n")
        pid = s.start(port)
        status, body = get(port)
        assert b'"server"' in body  # the bundled mod_echo answers JSON

        def check(status, headers, body):
            return "new" if body.startswith(b"echo from the upgraded") \
                else "old"
        load = [KeepAliveClient(port, "/", check, 100000, time.time() + 120,
                                stop_when=lambda c: c.labels[-100:].count(
                                    "new") == 100)
                for _ in range(2)]
        for c in load:
            c.start()

        # "make install" of the new release into the running tree (every
        # binary and module replaced), with a new mod_echo in it
        res = make("install", "DESTDIR=%s" % root)
        assert res.returncode == 0, res.stdout + res.stderr
        work = tmp_path / "work"
        work.mkdir()
        (work / "mod_echo.c").write_text(NEW_ECHO)
        relaisxs(prefix, "-c", "-n", "echo", "-o", "mod_echo.so",
                 "mod_echo.c", cwd=str(work))
        relaisxs(prefix, "-i", "mod_echo.so", cwd=str(work))
        # nothing changed for the running server yet: it runs the code it
        # mapped (install(1) unlinks a file before writing its successor)
        assert os.readlink("/proc/%d/exe" % pid).endswith(" (deleted)")
        assert s.pid() == pid and alive(pid)
        assert b'"server"' in get(port)[1]
        rc, out, _ = s.ctl("status")
        assert rc == 0 and "was replaced since it started" in out, out

        rc, out, err = s.ctl("graceful")
        assert rc == 0, out + err
        for c in load:
            c.join(120)
            assert not c.is_alive()
        errors = [e for c in load for e in c.errors]
        assert sum(c.failures() for c in load) == 0, errors[:5]
        assert all(c.labels[-1] == "new" for c in load)
        # the same parent (the binary it was started from) runs the new
        # module: graceful loaded it from disk
        assert s.pid() == pid
        # a new connection may still reach a child of the old generation
        # for a moment (it finishes what it holds); then only new ones
        end = time.time() + 10
        while get(port)[1] != b"echo from the upgraded module\n":
            assert time.time() < end, "the new module never answered"
            time.sleep(0.1)
        for _ in range(5):
            assert get(port)[1] == b"echo from the upgraded module\n"

        # a module built for the next API: relaisctl graceful refuses,
        # nothing is signalled, the server goes on with what it loaded
        (work / "mod_future.c").write_text(FUTURE_ECHO)
        relaisxs(prefix, "-c", "-n", "echo", "-o", "mod_future.so",
                 "mod_future.c", cwd=str(work))
        subprocess.run(["install", "-m", "755", str(work / "mod_future.so"),
                        os.path.join(prefix, "modules", "mod_echo.so")],
                       check=True)
        rc, out, err = s.ctl("graceful")
        assert rc == 1, out + err
        assert "was built for module API" in err
        assert "not restarting" in err
        assert alive(pid) and s.pid() == pid
        assert get(port)[1] == b"echo from the upgraded module\n"
        assert s.error_log().count("SIGUSR1 received") == 1
    finally:
        s.cleanup()
