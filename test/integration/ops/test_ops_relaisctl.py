"""relaisctl as scripts use it: every subcommand of SPEC section 3 and the
exit statuses docs/relaisctl.md promises, `status` as keepalived's check
(0 only when the server answers HTTP on its first listening socket), the
upgrade guard of graceful/restart (the running binary checks what is on
disk), and the bash completion.

(test_programs.py covers relaisctl's basics: configtest, start, graceful,
stop, enmod/dismod/ensite/dissite.)
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

from conftest import RELAISD, free_port, mpm_lines, wait_port
from helpers_ops import (RELAISCTL, TOP, CtlServer, alive, children_of,
                         read_pid, wait_for)

COMMANDS = ("start", "stop", "restart", "graceful", "graceful-stop",
            "configtest", "status", "fullstatus", "enmod", "dismod",
            "ensite", "dissite")
COMPLETION = os.path.join(TOP, "support", "relais.bash-completion")


def echo_conf(listen, name="one", extra="", mpm="event"):
    """mod_echo on `listen` (one Listen line, or several), with an access
    log that shows each request's method, target and User-Agent."""
    listens = listen if isinstance(listen, (list, tuple)) else [listen]
    return mpm_lines(mpm) + """\
LoadModule echo_module modules/mod_echo.so
LoadModule log_module modules/mod_log.so
%sErrorLog logs/error_log
PidFile logs/relaisd.pid
StartServers 2
CustomLog logs/access_log "%%r|%%>s|%%{User-Agent}i"
SetHandler echo
EchoName %s
""" % ("".join("Listen %s\n" % l for l in listens), name) + extra


def get_name(port, host="127.0.0.1"):
    url = "http://%s:%d/" % ("[%s]" % host if ":" in host else host, port)
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def dead_pid():
    """A pid that no process has now (a child that ran and was reaped)."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


# ------------------------------------------------------------ help, usage

def test_ops_help_names_every_command_and_exit_status(server):
    rc, out, err = server.ctl("help")
    assert rc == 0, err
    for cmd in COMMANDS:
        assert re.search(r"^  %s\b" % re.escape(cmd), out, re.M), cmd
    assert "Exit status:" in out
    assert re.search(r"status +0 serving; 1 not serving", out)
    assert "3 not running" in out and "4 cannot tell" in out
    # the same in the reference page
    with open(os.path.join(TOP, "docs", "relaisctl.md")) as f:
        doc = f.read()
    for cmd in COMMANDS:
        assert "`relaisctl %s" % cmd in doc, cmd


@pytest.mark.parametrize("args", [(), ("reload",), ("--bogus",)])
def test_ops_usage_errors_exit_1(server, args):
    rc, out, err = server.ctl(*args)
    assert rc == 1
    assert "Usage: relaisctl COMMAND" in err


# ------------------------------------------------------------ status

def test_ops_status_serving(server):
    port = free_port()
    server.write_conf(echo_conf("127.0.0.1:%d" % port))
    pid = server.start(port)
    rc, out, err = server.ctl("status")
    assert rc == 0, out + err
    assert out.strip() == ("relaisd (pid %d) is running and answers on "
                           "127.0.0.1:%d (HTTP/1.1 200 OK)" % (pid, port))
    # the probe is one "OPTIONS *" a log can leave out by its User-Agent
    log = os.path.join(server.root, "logs", "access_log")
    assert wait_for(lambda: os.path.exists(log) and "relaisctl status" in
                    open(log).read(), 5)
    with open(log) as f:
        assert "OPTIONS * HTTP/1.0|200|relaisctl status\n" in f.read()


def test_ops_status_not_running(server):
    server.write_conf(echo_conf("127.0.0.1:%d" % free_port()))
    rc, out, _ = server.ctl("status")
    assert rc == 3
    assert out.strip() == "relaisd is not running"


def test_ops_status_stale_pid_file_is_1(server):
    """LSB: a pid file left behind by a relaisd that died is status 1
    ("dead, pid file exists"), whether its pid is free or was reused by
    another program since."""
    server.write_conf(echo_conf("127.0.0.1:%d" % free_port()))
    for pid in (dead_pid(), os.getpid()):
        with open(server.pid_file, "w") as f:
            f.write("%d\n" % pid)
        rc, out, _ = server.ctl("status")
        assert rc == 1, out
        assert "relaisd is not running, but its pid file %s is there " \
            "(pid %d)" % (server.pid_file, pid) in out
    # a start goes ahead: relaisctl removes the stale file (relaisd would
    # take the live process named in it for itself)
    rc, out, err = server.ctl("start")
    assert rc == 0, out + err
    assert "removing %s, left by a relaisd that is gone" % \
        server.pid_file in err
    assert server.pid() != os.getpid() and alive(server.pid())


def test_ops_status_running_but_not_answering_is_1(server):
    port = free_port()
    server.write_conf(echo_conf("127.0.0.1:%d" % port))
    pid = server.start(port)
    assert wait_for(lambda: len(children_of(pid)) == 2)
    kids = children_of(pid)
    # the children hang: the parent lives, the port accepts at the TCP
    # level, nobody answers
    for k in kids:
        os.kill(k, signal.SIGSTOP)
    try:
        t0 = time.time()
        rc, out, _ = server.ctl("status", RELAIS_STATUS_TIMEOUT="1")
        took = time.time() - t0
    finally:
        for k in kids:
            os.kill(k, signal.SIGCONT)
    assert rc == 1, out
    assert "relaisd (pid %d) is running but does not answer HTTP on " \
        "127.0.0.1:%d within 1 s" % (pid, port) in out
    assert took < 20
    rc, out, _ = server.ctl("status")
    assert rc == 0, out


def test_ops_status_with_a_config_that_does_not_load(server):
    """A broken edit on disk (or a backend name the DNS cannot resolve
    now) must not make a serving node look dead to keepalived: status
    falls back to the default pid file and asks the server."""
    port = free_port()
    server.write_conf(echo_conf("127.0.0.1:%d" % port))
    pid = server.start(port)
    server.write_conf(echo_conf("127.0.0.1:%d" % port) + "KeepAlive maybe\n")
    rc, out, err = server.ctl("status")
    assert rc == 0, out + err
    assert "relaisd (pid %d) is running and answers" % pid in out
    assert "KeepAlive" in err
    assert "the configuration does not load (see above): asking the " \
        "relaisd of the default pid file %s" % server.pid_file in err
    rc, out, err = server.ctl("stop")
    assert rc == 1 and "cannot find the pid file" in err  # documented
    os.kill(pid, signal.SIGTERM)
    assert wait_for(lambda: not alive(pid), 15)
    rc, out, err = server.ctl("status")
    assert rc == 4, out + err
    assert "cannot find the pid file" in err


def test_ops_status_config_unreadable_other_pid_file_is_4(server):
    port = free_port()
    conf = echo_conf("127.0.0.1:%d" % port).replace(
        "PidFile logs/relaisd.pid", "PidFile logs/other.pid")
    server.write_conf(conf)
    server.pid_file = os.path.join(server.root, "logs", "other.pid")
    server.start(port)
    server.write_conf(conf + "KeepAlive maybe\n")
    rc, out, err = server.ctl("status")
    assert rc == 4, out + err
    assert "KeepAlive" in err and "cannot find the pid file" in err


def test_ops_status_asks_the_first_listener(server):
    """The first Listen line is the one asked; a second one that does not
    answer HTTP is not."""
    first, second = free_port(), free_port()
    server.write_conf(echo_conf(["127.0.0.1:%d" % first,
                                 "127.0.0.1:%d" % second]))
    server.start(first)
    rc, out, _ = server.ctl("status")
    assert rc == 0 and "answers on 127.0.0.1:%d " % first in out, out


def test_ops_status_wildcard_listener(server):
    port = free_port()
    server.write_conf(echo_conf("%d" % port))
    server.start(port)
    rc, out, _ = server.ctl("status")
    assert rc == 0, out
    assert "answers on 127.0.0.1:%d " % port in out or \
        "answers on [::1]:%d " % port in out, out


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no ::1 on this host")
def test_ops_status_ipv6_listener(server):
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    server.write_conf(echo_conf("[::1]:%d" % port))
    server.start()
    rc, out, _ = server.ctl("status")
    assert rc == 0, out + server.error_log()
    assert "answers on [::1]:%d (HTTP/1.1 200 OK)" % port in out


def test_ops_status_tls_listener(server, tmp_path):
    """A TLS port answers a plain HTTP request with an HTTP 400: that is
    an answer, the server serves."""
    if not os.path.exists(os.path.join(server.root, "modules",
                                       "mod_ssl.so")):
        pytest.skip("mod_ssl is not built")
    crt, key = str(tmp_path / "c.crt"), str(tmp_path / "c.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    port = free_port()
    server.write_conf(echo_conf(
        "127.0.0.1:%d https" % port,
        extra="LoadModule ssl_module modules/mod_ssl.so\n"
              "<VirtualHost 127.0.0.1:%d>\n    ServerName localhost\n"
              "    SSLEngine on\n    SSLCertificateFile %s\n"
              "    SSLCertificateKeyFile %s\n</VirtualHost>\n" %
              (port, crt, key)))
    server.start(port)
    rc, out, _ = server.ctl("status")
    assert rc == 0, out + server.error_log()
    assert "answers on 127.0.0.1:%d (HTTP/1.1 400 " % port in out


def test_ops_status_addr_override(server):
    port = free_port()
    server.write_conf(echo_conf("127.0.0.1:%d" % port))
    server.start(port)
    rc, out, _ = server.ctl("status", RELAIS_STATUS_ADDR="127.0.0.1:%d" %
                            port)
    assert rc == 0 and "answers on 127.0.0.1:%d" % port in out, out
    closed = free_port()
    rc, out, _ = server.ctl("status", RELAIS_STATUS_ADDR="127.0.0.1:%d" %
                            closed, RELAIS_STATUS_TIMEOUT="1")
    assert rc == 1
    assert "does not answer HTTP on 127.0.0.1:%d" % closed in out


def path_without(tmp_path, *missing):
    """A PATH directory with every program of /usr/bin and /bin but
    `missing` (to take bash or curl away from relaisctl)."""
    d = tmp_path / ("path-without-" + "-".join(missing))
    d.mkdir()
    for bindir in ("/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        if not os.path.isdir(bindir):
            continue
        for name in os.listdir(bindir):
            if name in missing or os.path.lexists(d / name):
                continue
            os.symlink(os.path.join(bindir, name), d / name)
    return str(d)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl missing")
def test_ops_status_without_bash_asks_with_curl(server, tmp_path):
    port = free_port()
    server.write_conf(echo_conf("127.0.0.1:%d" % port))
    pid = server.start(port)
    rc, out, _ = server.ctl("status", PATH=path_without(tmp_path, "bash"))
    assert rc == 0, out
    assert "relaisd (pid %d) is running and answers on 127.0.0.1:%d " \
        "(HTTP 200)" % (pid, port) in out
    rc, out, _ = server.ctl("status",
                            PATH=path_without(tmp_path, "bash", "curl"))
    assert rc == 4
    assert "neither bash nor curl" in out


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (runs status "
                    "as nobody against a server started as root)")
def test_ops_status_of_another_users_server_is_4(tmp_path):
    # a ServerRoot others can read, so that only /proc stops them
    top = tempfile.mkdtemp(prefix="relais-ops-", dir="/tmp")
    os.chmod(top, 0o755)
    s = CtlServer(os.path.join(top, "root"))
    try:
        os.chmod(s.root, 0o755)
        port = free_port()
        s.write_conf(echo_conf("127.0.0.1:%d" % port))
        os.chmod(s.conf, 0o644)
        s.start(port)
        env = s.env()
        res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                              "--clear-groups", RELAISCTL, "status"],
                             capture_output=True, text=True, env=env,
                             timeout=60)
        if "cannot find the pid file" in res.stderr or \
                "error while loading shared libraries" in res.stderr:
            # e.g. a chroot whose '/' is not searchable by other users
            pytest.skip("user nobody cannot run programs from here: " +
                        res.stderr[-300:])
        assert res.returncode == 4, res.stdout + res.stderr
        assert "cannot tell whether it answers: /proc/%d/fd cannot be " \
            "read" % s.pid() in res.stdout
    finally:
        s.cleanup()
        shutil.rmtree(top, ignore_errors=True)


# ------------------------------------------------------------ control

def test_ops_start_returns_with_the_pid_file_written(server):
    port = free_port()
    server.write_conf(echo_conf("127.0.0.1:%d" % port))
    rc, out, err = server.ctl("start")
    assert rc == 0, out + err
    # no waiting here: relaisctl start returned only once it was there
    pid = read_pid(server.pid_file)
    assert pid and alive(pid)
    rc, out, _ = server.ctl("status")
    assert rc == 0, out
    rc, out, err = server.ctl("start")
    assert rc == 0
    assert "relaisd (pid %d) already running" % pid in err
    assert server.pid() == pid


def test_ops_start_with_a_bad_config_exits_1(server):
    server.write_conf(echo_conf("127.0.0.1:%d" % free_port()) +
                      "NoSuchDirective 1\n")
    rc, out, err = server.ctl("start")
    assert rc == 1
    assert "NoSuchDirective" in err
    assert not os.path.exists(server.pid_file)


@pytest.mark.parametrize("cmd", ["stop", "graceful-stop"])
def test_ops_stop_of_a_stopped_server_is_0(server, cmd):
    port = free_port()
    server.write_conf(echo_conf("127.0.0.1:%d" % port))
    pid = server.start(port)
    rc, out, err = server.ctl(cmd)
    assert rc == 0, out + err
    assert not alive(pid) and not os.path.exists(server.pid_file)
    rc, out, err = server.ctl(cmd)
    assert rc == 0, out + err
    assert "relaisd is not running" in out
    rc, _, _ = server.ctl("status")
    assert rc == 3


@pytest.mark.parametrize("cmd", ["graceful", "restart"])
def test_ops_graceful_or_restart_of_a_stopped_server_starts_it(server, cmd):
    port = free_port()
    server.write_conf(echo_conf("127.0.0.1:%d" % port))
    rc, out, err = server.ctl(cmd)
    assert rc == 0, out + err
    server.track()
    assert wait_for(lambda: alive(server.pid()), 10)
    assert wait_port(port)
    rc, out, _ = server.ctl("status")
    assert rc == 0, out


def test_ops_restart_applies_and_keeps_the_parent(server):
    port = free_port()
    server.write_conf(echo_conf("127.0.0.1:%d" % port, "one"))
    pid = server.start(port)
    server.write_conf(echo_conf("127.0.0.1:%d" % port, "two"))
    rc, out, err = server.ctl("restart")
    assert rc == 0, out + err
    assert wait_for(lambda: '"two"' in get_name(port), 10)
    assert server.pid() == pid
    assert "SIGHUP received" in server.error_log()


# ------------------------------------- a running binary replaced on disk

@pytest.fixture
def own_binary(tmp_path):
    """A copy of relaisd of this test's own, which it may replace."""
    d = tmp_path / "bin"
    d.mkdir()
    path = str(d / "relaisd")
    shutil.copy2(RELAISD, path)
    return path


def replace_file(path, content_from):
    """As make install does (install(1)): the old file is unlinked and a
    new one created, so a running process keeps its own image."""
    subprocess.run(["install", "-m", "755", content_from, path], check=True)


def test_ops_replaced_binary_is_noted_and_checked(tmp_path, own_binary):
    s = CtlServer(tmp_path / "root", relaisd=own_binary)
    try:
        port = free_port()
        s.write_conf(echo_conf("127.0.0.1:%d" % port, "one"))
        pid = s.start(port)
        replace_file(own_binary, RELAISD)
        with open("/proc/%d/exe" % pid, "rb"):
            pass
        assert os.readlink("/proc/%d/exe" % pid).endswith(" (deleted)")
        rc, out, _ = s.ctl("status")
        assert rc == 0, out
        assert "its binary %s was replaced since it started" % own_binary \
            in out
        s.write_conf(echo_conf("127.0.0.1:%d" % port, "two"))
        rc, out, err = s.ctl("graceful")
        assert rc == 0, out + err
        assert "note: relaisd (pid %d) runs %s (deleted), not %s" % (
            pid, own_binary, own_binary) in err
        assert wait_for(lambda: '"two"' in get_name(port), 10)
        assert s.pid() == pid
    finally:
        s.cleanup()


@pytest.mark.parametrize("cmd", ["graceful", "restart"])
def test_ops_reload_refused_when_the_running_binary_would_refuse(
        tmp_path, own_binary, cmd):
    """After an upgrade the running parent is the old binary: a graceful
    restart makes IT read what is on disk.  The new binary here is a
    wrapper that runs relaisd with -D NEWBIN, and the configuration holds
    a line only it accepts; relaisctl must see that the old binary would
    refuse it, and leave the server alone."""
    s = CtlServer(tmp_path / "root", relaisd=own_binary)
    try:
        port = free_port()
        s.write_conf(echo_conf("127.0.0.1:%d" % port, "one"))
        pid = s.start(port)
        wrapper = tmp_path / "wrapper"
        wrapper.write_text("#!/bin/sh\nexec %s -D NEWBIN \"$@\"\n" % RELAISD)
        wrapper.chmod(0o755)
        replace_file(own_binary, str(wrapper))
        s.write_conf(echo_conf("127.0.0.1:%d" % port, "two") +
                     "<IfDefine !NEWBIN>\nOnlyTheNewBinaryKnowsThis on\n"
                     "</IfDefine>\n")
        rc, out, err = s.ctl("configtest")
        assert rc == 0, err  # the new binary accepts it
        rc, out, err = s.ctl(cmd)
        assert rc == 1, out + err
        assert "OnlyTheNewBinaryKnowsThis" in err
        assert "the running relaisd (pid %d) refuses what is on disk" % pid \
            in err
        assert "'relaisctl stop' then 'relaisctl start'" in err
        # untouched: same parent, old configuration, never signalled
        assert alive(pid) and s.pid() == pid
        assert '"one"' in get_name(port)
        assert "received" not in s.error_log()
        # the documented way: stop, then start the new binary
        rc, out, err = s.ctl("stop")
        assert rc == 0, out + err
        new = s.start(port)
        assert new != pid
        assert '"two"' in get_name(port)
        rc, out, _ = s.ctl("status")
        assert rc == 0 and "replaced" not in out, out
    finally:
        s.cleanup()


# ------------------------------------------------------------ completion

def complete(words, env=None, script=COMPLETION):
    """Sources the completion file in bash and runs _relaisctl for
    COMP_WORDS=words (the last one being completed); returns COMPREPLY."""
    quoted = " ".join("'%s'" % w for w in words)
    prog = ". '%s' || exit 9\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n" \
           "_relaisctl\nprintf '%%s\\n' \"${COMPREPLY[@]}\"\n" \
           "complete -p relaisctl >&2\n" % (script, quoted, len(words) - 1)
    res = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog],
                         capture_output=True, text=True, env=env,
                         timeout=30)
    assert res.returncode == 0, res.stderr
    assert "complete -F _relaisctl relaisctl" in res.stderr
    return [l for l in res.stdout.splitlines() if l]


@pytest.fixture
def confdir(tmp_path):
    d = tmp_path / "conf"
    for sub in ("mods-available", "mods-enabled", "sites-available",
                "sites-enabled"):
        (d / sub).mkdir(parents=True)
    for f in ("echo.load", "echo.conf", "ssl.load", "ssl.conf",
              "proxy.load", "proxy_balancer.load", "mpm_event.load",
              "mpm_worker.load"):
        (d / "mods-available" / f).write_text("# %s\n" % f)
    for f in ("demo.conf", "shop.conf", "default-ssl.conf"):
        (d / "sites-available" / f).write_text("# %s\n" % f)
    for f in ("proxy.load", "mpm_event.load"):
        os.symlink("../mods-available/" + f, d / "mods-enabled" / f)
    os.symlink("../sites-available/demo.conf",
               d / "sites-enabled" / "demo.conf")
    return d


def test_ops_completion_of_commands():
    assert complete(["relaisctl", ""]) == list(COMMANDS) + ["help"]
    assert complete(["relaisctl", "gr"]) == ["graceful", "graceful-stop"]
    assert complete(["relaisctl", "st"]) == ["start", "stop", "status"]
    assert complete(["/usr/local/relais/bin/relaisctl", "con"]) == \
        ["configtest"]
    assert complete(["relaisctl", "status", ""]) == []


def test_ops_completion_of_names(confdir):
    env = dict(os.environ, RELAIS_CONFDIR=str(confdir))
    # enmod: what is available and not enabled yet; dismod: what is
    assert complete(["relaisctl", "enmod", ""], env) == \
        ["echo", "mpm_worker", "proxy_balancer", "ssl"]
    assert complete(["relaisctl", "enmod", "e"], env) == ["echo"]
    assert complete(["relaisctl", "enmod", "echo", "s"], env) == ["ssl"]
    assert complete(["relaisctl", "dismod", ""], env) == \
        ["mpm_event", "proxy"]
    assert complete(["relaisctl", "ensite", ""], env) == \
        ["default-ssl", "shop"]
    assert complete(["relaisctl", "dissite", ""], env) == ["demo"]
    # RELAIS_ROOT/conf as relaisctl itself
    env = dict(os.environ, RELAIS_ROOT=str(confdir.parent))
    env.pop("RELAIS_CONFDIR", None)
    assert complete(["relaisctl", "dissite", ""], env) == ["demo"]


def test_ops_completion_follows_what_relaisctl_does(server, confdir):
    """After `relaisctl enmod ssl`, ssl is offered to dismod, no longer to
    enmod: the completion reads the same directories."""
    env = dict(os.environ, RELAIS_CONFDIR=str(confdir))
    rc, out, err = server.ctl("enmod", "ssl", RELAIS_CONFDIR=str(confdir))
    assert rc == 0, out + err
    assert "ssl" not in complete(["relaisctl", "enmod", ""], env)
    assert "ssl" in complete(["relaisctl", "dismod", ""], env)
    rc, out, err = server.ctl("dissite", "demo", RELAIS_CONFDIR=str(confdir))
    assert rc == 0, out + err
    assert complete(["relaisctl", "dissite", ""], env) == []
    assert "demo" in complete(["relaisctl", "ensite", ""], env)
