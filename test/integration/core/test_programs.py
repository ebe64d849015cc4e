"""The programs: relaisd's informational flags (-v -V -M -S -t -h), its
control actions (-k start|graceful|restart|stop|graceful-stop) on a
daemonized server, and relaisctl (configtest, start, status, graceful,
stop, and enmod/dismod/ensite/dissite over a conf directory).

A daemon started here is not a child of the test: its PID comes from the
pid file, and the `daemons` fixture stops every such PID at the end.
"""
import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import BUILD, RELAISD, free_port, mpm_lines, wait_port

RELAISCTL = os.path.join(BUILD, "bin", "relaisctl")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def children_of(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)],
                         capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def echo_name(port, timeout=5.0):
    with urllib.request.urlopen("http://127.0.0.1:%d/" % port,
                                timeout=timeout) as resp:
        return json.loads(resp.read()).get("name")


def wait_name(port, name, timeout=10.0):
    """Polls until the server answers with EchoName `name`."""
    def ok():
        try:
            return echo_name(port) == name
        except OSError:
            return False
    return wait_for(ok, timeout)


def served_conf(port, name="one", extra=""):
    return mpm_lines("event") + """LoadModule echo_module modules/mod_echo.so
Listen 127.0.0.1:%d
ErrorLog logs/error_log
PidFile logs/relaisd.pid
StartServers 2
SetHandler echo
EchoName %s
""" % (port, name) + extra


class Daemons:
    """PIDs of daemons started by a test, stopped (by PID) at teardown."""

    def __init__(self):
        self.pids = set()

    def track(self, pid_file):
        pid = read_pid(pid_file)
        if pid:
            self.pids.add(pid)
        return pid

    def cleanup(self):
        for pid in self.pids:
            if alive(pid):
                os.kill(pid, signal.SIGTERM)
        for pid in self.pids:
            if not wait_for(lambda: not alive(pid), 15):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def daemons():
    d = Daemons()
    yield d
    d.cleanup()


def run_to_file(relais, args, timeout=20, env=None, exe=RELAISD,
                with_root=True):
    """Runs a command with its output in files (a daemon may keep its
    stderr open); returns (returncode, stdout, stderr)."""
    out_p = os.path.join(relais.root, "cmd.out")
    err_p = os.path.join(relais.root, "cmd.err")
    cmd = [exe] + (["-d", relais.root, "-f", relais.conf] if with_root
                   else []) + list(args)
    with open(out_p, "w") as out, open(err_p, "w") as err:
        rc = subprocess.run(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                            timeout=timeout, env=env).returncode
    return rc, relais.read("cmd.out"), relais.read("cmd.err")


def k_start(relais, daemons, port):
    """relaisd -k start; waits for the pid file and the port."""
    pid_file = os.path.join(relais.root, "logs", "relaisd.pid")
    t0 = time.time()
    rc, _, err = run_to_file(relais, ["-k", "start"])
    assert rc == 0, err
    assert time.time() - t0 < 5, "relaisd -k start did not return at once"
    assert wait_for(lambda: read_pid(pid_file) and alive(read_pid(pid_file)),
                    10), "no live pid in %s" % pid_file
    pid = daemons.track(pid_file)
    assert wait_port(port)
    return pid, pid_file


# ------------------------------------------------------------ information

def test_v_prints_the_version(relais):
    res = subprocess.run([RELAISD, "-v"], capture_output=True, text=True)
    assert res.returncode == 0
    lines = res.stdout.splitlines()
    assert re.match(r"Server version: Relais/\d+\.\d+\.\d+ \(Linux\)$",
                    lines[0]), lines
    assert lines[1].startswith("Server built:")


def test_V_prints_the_build_settings(relais):
    with open(os.path.join(ROOT, "include", "rl_mmn.h")) as f:
        mmn = f.read()
    major = re.search(r"#define RL_MMN_MAJOR (\d+)", mmn).group(1)
    minor = re.search(r"#define RL_MMN_MINOR (\d+)", mmn).group(1)
    res = subprocess.run([RELAISD, "-V"], capture_output=True, text=True)
    assert res.returncode == 0
    out = res.stdout
    assert out.startswith("Server version: Relais/")
    assert "Server's Module Magic Number: %s:%s\n" % (major, minor) in out
    assert re.search(r"Server loaded: +APR \d+\.\d+\.\d+, APR-UTIL \d", out)
    assert "Architecture:   64-bit" in out
    assert "Module signature: ptr8,apr1,threads" in out
    assert '-D RL_DEFAULT_CONF="conf/relais.conf"' in out


def test_M_lists_static_and_shared_modules(relais):
    relais.write_conf(mpm_lines("worker") +
                      "LoadModule echo_module modules/mod_echo.so\n"
                      "Listen 127.0.0.1:%d\n" % free_port())
    res = relais.run("-M")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "Loaded Modules:"
    assert re.match(r" core_module \(static\) \S+$", lines[1])
    assert re.match(r" mpm_worker_module \(shared\) \S+$", lines[2])
    assert lines[3] == " echo_module (shared) 1.0.0"
    assert len(lines) == 4


def test_S_shows_vhosts_and_settings(relais):
    port = free_port()
    conf = relais.write_conf(mpm_lines("prefork") + """\
Listen 127.0.0.1:%d
PidFile run/relais.pid
ErrorLog logs/main_error
User nobody
<VirtualHost *:%d>
    ServerName www.example.com
    ServerAlias example.com *.example.org
</VirtualHost>
<VirtualHost *:%d>
    ServerName api.example.com
</VirtualHost>
<VirtualHost 127.0.0.1:%d>
    ServerName Exact.Example.Com
</VirtualHost>
""" % (port, port, port, port))
    res = relais.run("-S")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    root = relais.root
    assert out.startswith("VirtualHost configuration:\n")
    assert re.search(r"^\*:%d +is a NameVirtualHost$" % port, out, re.M)
    assert "default server www.example.com (%s:6)" % conf in out
    assert "port %d namevhost www.example.com (%s:6)" % (port, conf) in out
    assert "port %d namevhost api.example.com (%s:10)" % (port, conf) in out
    assert "port %d namevhost exact.example.com (%s:13)" % (port, conf) \
        in out
    aliases = [l.split()[1] for l in out.splitlines()
               if l.strip().startswith("alias ")]
    assert aliases == ["example.com", "*.example.org"]
    assert 'ServerRoot: "%s"' % root in out
    assert 'Main ErrorLog: "%s/logs/main_error"' % root in out
    assert 'PidFile: "%s/run/relais.pid"' % root in out
    assert 'User: name="nobody"' in out
    assert "MPM: prefork" in out


def test_t_dump_pidfile(relais):
    relais.write_conf(mpm_lines("event") + "Listen 127.0.0.1:%d\n"
                      "PidFile run/x.pid\n" % free_port())
    res = relais.run("-t", "-D", "DUMP_PIDFILE")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        "PidFile: %s/run/x.pid" % relais.root]
    assert "Syntax OK" in res.stderr


def test_t_dump_pidfile_default_and_absolute(relais):
    relais.write_conf(mpm_lines("event") + "Listen 127.0.0.1:%d\n" %
                      free_port())
    res = relais.run("-t", "-D", "DUMP_PIDFILE")
    assert "PidFile: %s/logs/relaisd.pid" % relais.root in res.stdout
    relais.write_conf(mpm_lines("event") + "Listen 127.0.0.1:%d\n"
                      "PidFile /run/elsewhere.pid\n" % free_port())
    res = relais.run("-t", "-D", "DUMP_PIDFILE")
    assert "PidFile: /run/elsewhere.pid" in res.stdout


def test_h_prints_usage(relais):
    res = subprocess.run([RELAISD, "-h"], capture_output=True, text=True)
    assert res.returncode == 0
    assert "Usage:" in res.stderr
    for flag in ("-D name", "-d directory", "-f file",
                 "start|restart|graceful|graceful-stop|stop", "-t", "-M",
                 "-S"):
        assert flag in res.stderr, flag


def test_unknown_flag_exits_1_with_usage(relais):
    # a nonexistent configuration keeps this safe: if relaisd went on to
    # start, it would fail to read it (and report that instead of usage)
    res = subprocess.run([RELAISD, "-d", relais.root, "-f",
                          os.path.join(relais.root, "none.conf"), "-x"],
                         capture_output=True, text=True, timeout=10)
    assert res.returncode == 1
    assert "Usage:" in res.stderr, res.stderr
    assert "none.conf" not in res.stderr, \
        "relaisd went on after an unknown flag: " + res.stderr


def test_unknown_k_action_exits_1(relais):
    relais.write_conf(mpm_lines("event") + "Listen 127.0.0.1:%d\n" %
                      free_port())
    res = relais.run("-k", "reload")
    assert res.returncode == 1
    assert "-k reload: expected start, stop, restart, graceful or " \
        "graceful-stop" in res.stderr


# --------------------------------------------------------------- -k actions

def test_k_start_daemonizes(relais, daemons):
    port = free_port()
    relais.write_conf(served_conf(port))
    pid, pid_file = k_start(relais, daemons, port)
    # detached: a new session, not our child
    assert os.getsid(pid) == pid
    with open("/proc/%d/status" % pid) as f:
        ppid = int(re.search(r"^PPid:\s+(\d+)", f.read(), re.M).group(1))
    assert ppid != os.getpid()
    assert echo_name(port) == "one"
    assert wait_for(lambda: len(children_of(pid)) == 2)


def test_k_start_returns_when_its_output_is_captured(relais, daemons):
    # `relaisctl start | logger`, ssh, Ansible: whoever reads relaisd's
    # output waits for EOF; the daemon must not keep the caller's stdout
    # or stderr open
    port = free_port()
    relais.write_conf(served_conf(port))
    pid_file = os.path.join(relais.root, "logs", "relaisd.pid")
    proc = subprocess.Popen([RELAISD, "-d", relais.root, "-f", relais.conf,
                             "-k", "start"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        proc.communicate(timeout=5)
        hung = False
    except subprocess.TimeoutExpired:
        hung = True
    finally:
        # never wait for EOF here: the daemon may hold the pipes
        wait_for(lambda: read_pid(pid_file), 5)
        daemons.track(pid_file)
        proc.stdout.close()
        proc.stderr.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=5)
    assert not hung, ("relaisd -k start with its output on pipes did not "
                      "return within 5 s: the daemon keeps them open")
    assert proc.returncode == 0


def test_k_graceful_applies_new_config(relais, daemons):
    port = free_port()
    relais.write_conf(served_conf(port, "one"))
    pid, pid_file = k_start(relais, daemons, port)
    assert echo_name(port) == "one"
    relais.write_conf(served_conf(port, "two"))
    rc, _, err = run_to_file(relais, ["-k", "graceful"])
    assert rc == 0, err
    assert wait_name(port, "two")
    assert read_pid(pid_file) == pid and alive(pid)
    assert "SIGUSR1 received: graceful restart" in relais.error_log()


def test_k_restart_applies_new_config(relais, daemons):
    port = free_port()
    relais.write_conf(served_conf(port, "one"))
    pid, pid_file = k_start(relais, daemons, port)
    old_children = set(children_of(pid))
    relais.write_conf(served_conf(port, "two"))
    rc, _, err = run_to_file(relais, ["-k", "restart"])
    assert rc == 0, err
    assert wait_name(port, "two")
    assert read_pid(pid_file) == pid and alive(pid)
    assert not old_children & set(children_of(pid))
    assert "SIGHUP received: attempting to restart" in relais.error_log()


def test_k_stop(relais, daemons):
    port = free_port()
    relais.write_conf(served_conf(port))
    pid, pid_file = k_start(relais, daemons, port)
    assert wait_for(lambda: len(children_of(pid)) == 2)
    kids = children_of(pid)
    rc, _, err = run_to_file(relais, ["-k", "stop"])
    assert rc == 0, err
    # -k stop returns once the server is gone, like apachectl stop
    assert not alive(pid)
    assert wait_for(lambda: not any(alive(k) for k in kids), 5)
    assert not os.path.exists(pid_file)
    assert "caught SIGTERM, shutting down" in relais.error_log()


def test_k_graceful_stop(relais, daemons):
    port = free_port()
    relais.write_conf(served_conf(port))
    pid, pid_file = k_start(relais, daemons, port)
    rc, _, err = run_to_file(relais, ["-k", "graceful-stop"])
    assert rc == 0, err
    assert not alive(pid)
    assert not os.path.exists(pid_file)
    assert "SIGWINCH received: graceful stop" in relais.error_log()


def test_k_stop_when_not_running(relais):
    relais.write_conf(served_conf(free_port()))
    rc, out, err = run_to_file(relais, ["-k", "stop"])
    assert rc == 1
    assert "relaisd (pid file %s/logs/relaisd.pid) not running" % \
        relais.root in err


def test_k_start_when_already_running(relais, daemons):
    port = free_port()
    relais.write_conf(served_conf(port))
    pid, _ = k_start(relais, daemons, port)
    rc, _, err = run_to_file(relais, ["-k", "start"])
    assert rc == 0
    assert "relaisd (pid %d) already running" % pid in err
    assert echo_name(port) == "one"


# ----------------------------------------------------------------- relaisctl

def ctl_env(relais, confdir=None):
    env = dict(os.environ)
    env.update(RELAISD=RELAISD, RELAIS_ROOT=relais.root,
               RELAIS_CONF=relais.conf)
    if confdir:
        env["RELAIS_CONFDIR"] = confdir
    return env


def ctl(relais, *args, confdir=None):
    return run_to_file(relais, args, env=ctl_env(relais, confdir),
                       exe=RELAISCTL, with_root=False)


def ctl_start(relais, daemons, port):
    rc, _, err = ctl(relais, "start")
    assert rc == 0, err
    pid_file = os.path.join(relais.root, "logs", "relaisd.pid")
    assert wait_for(lambda: alive(read_pid(pid_file)), 10)
    pid = daemons.track(pid_file)
    assert wait_port(port)
    return pid, pid_file


def test_relaisctl_configtest(relais):
    relais.write_conf(served_conf(free_port()))
    rc, _, err = ctl(relais, "configtest")
    assert rc == 0
    assert "Syntax OK" in err
    relais.write_conf(served_conf(free_port()) + "KeepAlive sometimes\n")
    rc, _, err = ctl(relais, "configtest")
    assert rc == 1
    assert "%s:9: KeepAlive:" % relais.conf in err


def test_relaisctl_start_and_status(relais, daemons):
    port = free_port()
    relais.write_conf(served_conf(port))
    pid, _ = ctl_start(relais, daemons, port)
    assert echo_name(port) == "one"
    rc, out, _ = ctl(relais, "status")
    assert rc == 0
    assert "relaisd (pid %d) is running" % pid in out


def test_relaisctl_status_when_stopped(relais):
    relais.write_conf(served_conf(free_port()))
    rc, out, _ = ctl(relais, "status")
    assert rc == 3
    assert "relaisd is not running" in out


def test_relaisctl_graceful(relais, daemons):
    port = free_port()
    relais.write_conf(served_conf(port, "one"))
    pid, pid_file = ctl_start(relais, daemons, port)
    relais.write_conf(served_conf(port, "two"))
    rc, _, err = ctl(relais, "graceful")
    assert rc == 0, err
    assert wait_name(port, "two")
    assert read_pid(pid_file) == pid


def test_relaisctl_graceful_refuses_a_bad_config(relais, daemons):
    port = free_port()
    relais.write_conf(served_conf(port, "one"))
    pid, _ = ctl_start(relais, daemons, port)
    relais.write_conf(served_conf(port, "two") + "KeepAlve On\n")
    rc, _, err = ctl(relais, "graceful")
    assert rc == 1
    assert "KeepAlve" in err and "not restarting" in err
    # the running server is untouched
    assert alive(pid)
    assert echo_name(port) == "one"


def test_relaisctl_stop(relais, daemons):
    port = free_port()
    relais.write_conf(served_conf(port))
    pid, pid_file = ctl_start(relais, daemons, port)
    rc, _, err = ctl(relais, "stop")
    assert rc == 0, err
    assert not alive(pid)
    assert not os.path.exists(pid_file)
    rc, out, _ = ctl(relais, "status")
    assert rc == 3


# ------------------------------------------- enmod/dismod/ensite/dissite

@pytest.fixture
def confdir(tmp_path):
    """A conf directory in the Debian layout, with a relais.conf that
    includes what is enabled."""
    d = tmp_path / "conf"
    for sub in ("mods-available", "mods-enabled", "sites-available",
                "sites-enabled"):
        (d / sub).mkdir(parents=True)
    (d / "mods-available" / "echo.load").write_text(
        "LoadModule echo_module modules/mod_echo.so\n")
    (d / "mods-available" / "echo.conf").write_text("# echo settings\n")
    for mpm in ("event", "worker"):
        (d / "mods-available" / ("mpm_%s.load" % mpm)).write_text(
            mpm_lines(mpm))
    os.symlink("../mods-available/mpm_event.load",
               d / "mods-enabled" / "mpm_event.load")
    (d / "sites-available" / "shop.conf").write_text(
        "<VirtualHost *:*>\n    ServerName shop.example\n</VirtualHost>\n")
    (d / "relais.conf").write_text(
        "Include conf/mods-enabled/*.load\n"
        "IncludeOptional conf/mods-enabled/*.conf\n"
        "Listen 127.0.0.1:%d\n"
        "IncludeOptional conf/sites-enabled/*.conf\n" % free_port())
    return str(d)


def link(confdir, rel):
    p = os.path.join(confdir, rel)
    return os.readlink(p) if os.path.islink(p) else None


def test_enmod_links_load_and_conf(relais, confdir):
    rc, out, err = ctl(relais, "enmod", "echo", confdir=confdir)
    assert rc == 0, err
    assert "Enabling module echo." in out
    assert "relaisctl graceful" in out
    assert link(confdir, "mods-enabled/echo.load") == \
        "../mods-available/echo.load"
    assert link(confdir, "mods-enabled/echo.conf") == \
        "../mods-available/echo.conf"
    res = relais.run("-M", conf=os.path.join(confdir, "relais.conf"))
    assert " echo_module (shared)" in res.stdout, res.stderr


def test_enmod_twice_says_already_enabled(relais, confdir):
    ctl(relais, "enmod", "echo", confdir=confdir)
    rc, out, _ = ctl(relais, "enmod", "echo", confdir=confdir)
    assert rc == 0
    assert "Module echo already enabled" in out


def test_dismod_removes_the_links(relais, confdir):
    ctl(relais, "enmod", "echo", confdir=confdir)
    rc, out, err = ctl(relais, "dismod", "echo", confdir=confdir)
    assert rc == 0, err
    assert "Module echo disabled." in out
    assert not os.path.lexists(os.path.join(confdir, "mods-enabled/echo.load"))
    assert not os.path.lexists(os.path.join(confdir, "mods-enabled/echo.conf"))
    # the available files stay
    assert os.path.exists(os.path.join(confdir, "mods-available/echo.load"))


def test_enmod_unknown_module_exits_1(relais, confdir):
    rc, _, err = ctl(relais, "enmod", "nosuchmod", confdir=confdir)
    assert rc == 1
    assert "ERROR: Module nosuchmod does not exist!" in err
    assert os.listdir(os.path.join(confdir, "mods-enabled")) == \
        ["mpm_event.load"]


def test_enmod_second_mpm_is_refused(relais, confdir):
    rc, _, err = ctl(relais, "enmod", "mpm_worker", confdir=confdir)
    assert rc == 1
    assert "mpm_event is enabled" in err
    assert not os.path.lexists(os.path.join(confdir,
                                            "mods-enabled/mpm_worker.load"))


def test_ensite_and_dissite(relais, confdir):
    conf = os.path.join(confdir, "relais.conf")
    rc, out, err = ctl(relais, "ensite", "shop", confdir=confdir)
    assert rc == 0, err
    assert "Enabling site shop." in out
    assert link(confdir, "sites-enabled/shop.conf") == \
        "../sites-available/shop.conf"
    res = relais.run("-S", conf=conf)
    assert "namevhost shop.example" in res.stdout, res.stderr
    rc, out, err = ctl(relais, "dissite", "shop", confdir=confdir)
    assert rc == 0, err
    assert "Site shop disabled." in out
    assert not os.path.lexists(os.path.join(confdir,
                                            "sites-enabled/shop.conf"))
    res = relais.run("-S", conf=conf)
    assert "shop.example" not in res.stdout


def test_ensite_unknown_site_exits_1(relais, confdir):
    rc, _, err = ctl(relais, "ensite", "nosuchsite", confdir=confdir)
    assert rc == 1
    assert "ERROR: Site nosuchsite does not exist!" in err
    rc, _, err = ctl(relais, "dissite", "nosuchsite", confdir=confdir)
    assert rc == 1
    assert "does not exist" in err
