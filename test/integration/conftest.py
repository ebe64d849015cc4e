"""Shared fixtures for the integration tests: start the real relaisd with a
real configuration, find free ports, talk raw HTTP.

Every server listens on 127.0.0.1 on a port picked free here; every process
a test starts is stopped by PID when the test ends.
"""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("RELAIS_BUILD", os.path.join(ROOT, "build"))
RELAISD = os.path.join(BUILD, "bin", "relaisd")
MODULES = os.path.join(BUILD, "modules")
MPMS = ("event", "worker", "prefork")


_GIVEN_PORTS = set()


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now, and that
    this test run has not handed out before: two calls in one test must
    not return the same port (the kernel may offer a just-closed port
    again, and a configuration with two Listen lines would then clash)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _GIVEN_PORTS:
            break
    _GIVEN_PORTS.add(port)
    return port


def wait_port(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def workers_user(text):
    """relaisd started as root refuses to run its workers as root unless
    the configuration says "User root" (server/main.c).  The suite runs as
    root in CI: a main configuration without a User line of its own gets
    "User root" as its last line, so the line numbers of everything the
    test wrote stay as they were.  A configuration with a section left
    open is left alone (the line would land inside it and add an error of
    its own; relaisd refuses such a file before looking at User).  Tests
    of the privilege drop write their own User
    (test/integration/core/test_privileges.py)."""
    if os.geteuid() != 0 or re.search(r"(?mi)^[ \t]*User[ \t]", text):
        return text
    opened = len(re.findall(r"(?m)^[ \t]*<[A-Za-z]", text))
    closed = len(re.findall(r"(?m)^[ \t]*</", text))
    if opened > closed:
        return text
    if text and not text.endswith("\n"):
        text += "\n"
    if text.rstrip("\n").endswith("\\"):
        text += "\n"  # a trailing continuation must not swallow the line
    return text + "User root\n"


def mpm_lines(mpm):
    return "LoadModule mpm_%s_module modules/mod_mpm_%s.so\n" % (mpm, mpm)


class Relais:
    """One relaisd started in the foreground with its own ServerRoot."""

    def __init__(self, root):
        self.root = str(root)
        self.proc = None
        os.makedirs(os.path.join(self.root, "logs"), exist_ok=True)
        link = os.path.join(self.root, "modules")
        if not os.path.exists(link):
            os.symlink(MODULES, link)
        self.conf = os.path.join(self.root, "relais.conf")

    def write_conf(self, text, name="relais.conf"):
        """Writes a file into ServerRoot; the main configuration
        (relais.conf) gets the User line a root start needs (see
        workers_user())."""
        path = os.path.join(self.root, name)
        if name == "relais.conf":
            text = workers_user(text)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run(self, *args, conf=None, timeout=20):
        """relaisd with -d root -f conf and args; returns CompletedProcess."""
        cmd = [RELAISD, "-d", self.root, "-f", conf or self.conf] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout)

    def start(self, port=None, extra_args=(), preexec_fn=None, wait=True):
        cmd = [RELAISD, "-d", self.root, "-f", self.conf, "-D", "FOREGROUND"]
        cmd += list(extra_args)
        self.stderr = open(os.path.join(self.root, "stderr.txt"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.stderr,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=preexec_fn)
        if port is not None and wait:
            if not wait_port(port):
                self.stop()
                raise RuntimeError("relaisd did not listen on %d:\n%s\n%s" % (
                    port, self.read("stderr.txt"), self.error_log()))
        return self.proc

    def send(self, sig):
        """Sends a signal to the parent process."""
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode

    def read(self, name):
        path = os.path.join(self.root, name)
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as f:
            return f.read()

    def error_log(self):
        return self.read("logs/error_log")

    def children(self):
        """PIDs of the parent's direct children."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]


def sanitizer_reports(text):
    """AddressSanitizer/UBSan/LeakSanitizer reports found in a process's
    output (the suite runs under sanitizers in CI)."""
    marks = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
             "runtime error:")
    return [line for line in text.splitlines()
            if any(m in line for m in marks)]


@pytest.fixture
def no_asan_quarantine(monkeypatch):
    """For tests that measure RSS: under AddressSanitizer (the CI's second
    pass) freed memory waits in a quarantine (256 MB by default), which RSS
    would count as if it were kept.  Turns it off for the relaisd the test
    starts (no effect on a normal build)."""
    opts = os.environ.get("ASAN_OPTIONS", "")
    monkeypatch.setenv("ASAN_OPTIONS", (opts + ":" if opts else "") +
                       "quarantine_size_mb=0:thread_local_quarantine_size_kb=0")


@pytest.fixture
def relais(tmp_path):
    r = Relais(tmp_path)
    yield r
    r.stop()
    reports = sanitizer_reports(r.read("stderr.txt"))
    assert not reports, "sanitizer reports from relaisd:\n" + r.read(
        "stderr.txt")[-4000:]


def raw_request(port, data, timeout=5.0, read_all=True):
    """Sends bytes, returns everything the server sends until it closes
    (or the timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
                if not read_all:
                    break
        except socket.timeout:
            pass
        return b"".join(chunks)


def status_of(response):
    """Status code of the first response in raw bytes, or None."""
    if not response.startswith(b"HTTP/"):
        return None
    return int(response.split(b" ", 2)[1])
