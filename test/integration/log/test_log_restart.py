"""Log files across configuration generations and process exits:
logrotate's rename + graceful restart (USR1) sends new lines to a new
file, piped programs of an old generation end by themselves once its
children are gone, and BufferedLogs lines come out within about a second
and when the server stops."""
import os
import signal
import subprocess
import time

import pytest

from log_helpers import COMMON_RE, get, log_path, read_lines, start


def uris(lines):
    return [COMMON_RE.match(l).group(5).split()[1] for l in lines]


def wait_old_children_gone(relais, old, timeout=15):
    """After a graceful restart: the new generation runs and every child
    of the old one has exited."""
    end = time.time() + timeout
    while time.time() < end:
        now = set(relais.children())
        if now and not (now & old):
            return now
        time.sleep(0.05)
    raise AssertionError("old children still there: %s" %
                         (set(relais.children()) & old))


def processes_running(needle):
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True,
                         text=True).stdout
    return [l for l in out.splitlines() if needle in l]


@pytest.mark.parametrize("mpm,buffered", [("event", False),
                                          ("prefork", False),
                                          ("event", True)])
def test_rename_then_graceful_restart_reopens(relais, mpm, buffered):
    port = start(relais, ("BufferedLogs On\n" if buffered else "") +
                 "CustomLog logs/access_log common\n", mpm=mpm)
    path = log_path(relais, "access_log")
    for i in range(3):
        assert get(port, "/before/%d" % i)[0] == 200
    if not buffered:
        read_lines(path, 3)
    # logrotate: rename, then tell the server
    os.rename(path, path + ".1")
    old = set(relais.children())
    relais.send(signal.SIGUSR1)
    end = time.time() + 10
    while not os.path.exists(path) and time.time() < end:
        time.sleep(0.05)
    assert os.path.exists(path), "the new generation did not open the log"
    wait_old_children_gone(relais, old)
    for i in range(3):
        assert get(port, "/after/%d" % i)[0] == 200
    # (buffered, each child writes its own buffer: order across children
    # is not kept)
    assert sorted(uris(read_lines(path, 3))) == [
        "/after/%d" % i for i in range(3)]
    # the old children wrote (buffered: flushed at exit) to the old file
    assert sorted(uris(read_lines(path + ".1", 3))) == [
        "/before/%d" % i for i in range(3)]


def test_piped_program_of_old_generation_ends(relais):
    out = log_path(relais, "piped")
    marker = "cat >> %s" % out
    port = start(relais, 'CustomLog "|%s" common\n' % marker)
    assert get(port, "/gen1")[0] == 200
    read_lines(out, 1)
    assert len(processes_running(marker)) == 1
    old = set(relais.children())
    relais.send(signal.SIGUSR1)
    wait_old_children_gone(relais, old)
    # the old generation's program saw end-of-file and exited; the new
    # generation has its own
    end = time.time() + 10
    while len(processes_running(marker)) != 1 and time.time() < end:
        time.sleep(0.05)
    assert len(processes_running(marker)) == 1
    assert get(port, "/gen2")[0] == 200
    assert uris(read_lines(out, 2)) == ["/gen1", "/gen2"]


@pytest.mark.parametrize("mpm", ["event", "worker", "prefork"])
def test_buffered_lines_appear_within_a_second_or_two(relais, mpm):
    port = start(relais, "BufferedLogs On\nCustomLog logs/access_log common\n",
                 mpm=mpm)
    path = log_path(relais, "access_log")
    for i in range(3):
        t0 = time.time()
        assert get(port, "/b%d" % i)[0] == 200
        lines = read_lines(path, i + 1, timeout=3)
        assert time.time() - t0 < 2.5
        assert uris(lines)[-1] == "/b%d" % i


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_buffered_lines_written_on_stop(relais, mpm):
    port = start(relais, "BufferedLogs On\nCustomLog logs/access_log common\n",
                 mpm=mpm)
    for i in range(50):
        assert get(port, "/s%d" % i)[0] == 200
    assert relais.stop() == 0
    lines = read_lines(log_path(relais, "access_log"), 50, timeout=1)
    assert sorted(uris(lines)) == sorted("/s%d" % i for i in range(50))
