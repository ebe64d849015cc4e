"""Privileges: started as root, relaisd binds, opens its logs, then its
children switch to User/Group (server/mpm_common.c); without a User line
it refuses to run them as root, and "User root" is accepted with a
warning (server/main.c).  Files it creates are never writable by others.

These tests need root (the suite runs as root in CI) and Debian's
nobody/nogroup accounts."""
import grp
import http.client
import os
import pwd
import re
import signal
import socket
import stat
import time

import pytest

from conftest import MPMS, free_port, mpm_lines, wait_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="privilege drop needs root")

REFUSAL = ("running workers as root: set User and Group (e.g. www-data), "
           "or 'User root' to really run them as root")


def conf(port, mpm="event", user_lines="User nobody\nGroup nogroup\n",
         extra=""):
    return (mpm_lines(mpm)
            + "LoadModule echo_module modules/mod_echo.so\n"
            + "LoadModule log_module modules/mod_log.so\n"
            + "Listen 127.0.0.1:%d\n" % port
            + "ErrorLog logs/error_log\n"
            + "LogLevel info\n"
            + "PidFile logs/relaisd.pid\n"
            + "CustomLog logs/access_log common\n"
            + user_lines
            + "SetHandler echo\n"
            + extra)


def write_raw(relais, text):
    """Writes the main configuration as given: Relais.write_conf() would
    add "User root" to a configuration without User."""
    with open(relais.conf, "w") as f:
        f.write(text)


def ids(pid):
    """(uids, gids, groups) of a process: real, effective, saved, fs."""
    with open("/proc/%d/status" % pid) as f:
        status = f.read()
    uids = [int(x) for x in re.search(r"^Uid:\s+(.*)$", status, re.M)
            .group(1).split()]
    gids = [int(x) for x in re.search(r"^Gid:\s+(.*)$", status, re.M)
            .group(1).split()]
    groups = [int(x) for x in re.search(r"^Groups:[ \t]*(.*)$", status, re.M)
              .group(1).split()]
    return uids, gids, groups


def get(port, path="/"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_for(cond, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def wait_children(relais, timeout=10.0):
    assert wait_for(lambda: relais.children(), timeout), relais.error_log()
    return relais.children()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mpm", MPMS)
def test_children_run_as_user_and_group_parent_stays_root(relais, mpm):
    nobody = pwd.getpwnam("nobody")
    nogroup = grp.getgrnam("nogroup")
    port = free_port()
    relais.write_conf(conf(port, mpm))
    relais.start(port)
    assert get(port, "/x")[0] == 200
    uids, gids, _ = ids(relais.proc.pid)
    assert uids == [0, 0, 0, 0]
    assert gids == [0, 0, 0, 0]
    children = wait_children(relais)
    for pid in children:
        uids, gids, groups = ids(pid)
        # real, effective, saved and filesystem ids: none kept root, so
        # the child cannot switch back
        assert uids == [nobody.pw_uid] * 4, (pid, uids)
        assert gids == [nogroup.gr_gid] * 4, (pid, gids)
        assert 0 not in groups, (pid, groups)
    assert "exited on signal" not in relais.error_log()


def test_logs_are_written_after_the_drop(relais):
    port = free_port()
    relais.write_conf(conf(port))
    relais.start(port)
    assert get(port, "/after-drop")[0] == 200
    # a client error, logged by the child (at info) into the error log the
    # root parent opened
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400")
    access = os.path.join(relais.root, "logs", "access_log")
    assert wait_for(lambda: os.path.exists(access) and
                    "GET /after-drop HTTP/1.1\" 200" in open(access).read())
    children = set(relais.children())
    assert wait_for(lambda: any(
        "[pid %d:" % pid in line and "400" in line or
        "[pid %d:" % pid in line and "header" in line.lower()
        for line in relais.error_log().splitlines() for pid in children)), \
        relais.error_log()
    # a graceful restart: the root parent reopens the logs, the new
    # children drop again and keep writing
    old = children
    relais.send(signal.SIGUSR1)
    assert wait_for(lambda: set(relais.children()) - old, 15)
    assert get(port, "/after-restart")[0] == 200
    assert wait_for(lambda: "GET /after-restart" in open(access).read())
    for pid in set(relais.children()) - old:
        assert ids(pid)[0][1] == pwd.getpwnam("nobody").pw_uid


def test_root_without_user_is_refused(relais):
    port = free_port()
    write_raw(relais, conf(port, user_lines=""))
    res = relais.run("-t")
    assert res.returncode == 1
    assert REFUSAL in res.stderr, res.stderr
    assert relais.conf in res.stderr  # which file to fix
    assert "Syntax OK" not in res.stderr
    proc = relais.start(port, wait=False)
    assert proc.wait(timeout=10) == 1
    out = relais.read("stderr.txt")
    assert REFUSAL in out, out
    assert "1 error in the configuration" in out
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert not os.path.exists(os.path.join(relais.root, "logs",
                                           "relaisd.pid"))


def test_group_alone_is_refused_too(relais):
    # Group without User would leave the children's uid 0
    port = free_port()
    write_raw(relais, conf(port, user_lines="Group nogroup\n"))
    res = relais.run("-t")
    assert res.returncode == 1
    assert REFUSAL in res.stderr, res.stderr


def test_graceful_to_a_config_without_user_is_refused_with_the_reason(relais):
    # the running generation had a User; the new one has none: the parent
    # refuses it as a configuration error, saying why in the error log
    port = free_port()
    relais.write_conf(conf(port))
    relais.start(port)
    write_raw(relais, conf(port, user_lines=""))
    relais.send(signal.SIGUSR1)
    assert relais.proc.wait(timeout=15) != 0
    out = relais.read("stderr.txt") + relais.error_log()
    assert REFUSAL in out, out


def test_explicit_user_root_starts_with_a_warning(relais):
    port = free_port()
    write_raw(relais, conf(port, user_lines="User root\n"))
    res = relais.run("-t")
    assert res.returncode == 0, res.stderr
    relais.start(port)
    assert get(port)[0] == 200
    for pid in wait_children(relais):
        assert ids(pid)[0] == [0, 0, 0, 0]
    warn = [l for l in relais.error_log().splitlines()
            if "[core:warn]" in l and "User root" in l]
    assert warn and "as root" in warn[0], relais.error_log()


def test_file_modes_whatever_the_umask(relais):
    """Error log 0640, access log 0640, pid file 0644 even when relaisd is
    started with umask 0 (a careless init script)."""
    port = free_port()
    relais.write_conf(conf(port))
    relais.start(port, preexec_fn=lambda: os.umask(0))
    assert get(port, "/m")[0] == 200
    logs = os.path.join(relais.root, "logs")
    access = os.path.join(logs, "access_log")
    assert wait_for(lambda: os.path.exists(access))
    assert mode(os.path.join(logs, "error_log")) == 0o640
    assert mode(access) == 0o640
    assert mode(os.path.join(logs, "relaisd.pid")) == 0o644
    for name in os.listdir(logs):
        m = mode(os.path.join(logs, name))
        assert not m & (stat.S_IWOTH | stat.S_IWGRP), (name, oct(m))


def test_pid_file_left_world_writable_is_made_0644(relais):
    port = free_port()
    pid_file = os.path.join(relais.root, "logs", "relaisd.pid")
    with open(pid_file, "w") as f:
        f.write("1\n")
    os.chmod(pid_file, 0o666)
    relais.write_conf(conf(port))
    relais.start(port)
    assert mode(pid_file) == 0o644
    assert open(pid_file).read() == "%d\n" % relais.proc.pid


def test_pid_file_symlink_is_not_followed(relais, tmp_path):
    # a link planted where the pid file goes must not make root truncate
    # its target
    port = free_port()
    target = tmp_path / "precious"
    target.write_text("keep me\n")
    os.symlink(str(target), os.path.join(relais.root, "logs", "relaisd.pid"))
    relais.write_conf(conf(port))
    proc = relais.start(port, wait=False)
    assert proc.wait(timeout=10) != 0
    assert target.read_text() == "keep me\n"
    out = relais.read("stderr.txt") + relais.error_log()
    assert "cannot write the pid file" in out, out
    assert not wait_port(port, timeout=0.5)
