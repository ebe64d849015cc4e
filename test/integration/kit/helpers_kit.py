"""Helpers of the module author's kit tests (test_kit_examples.py; the
fixtures are in conftest.py): an installed Relais with the examples built
against it (Kit), and its relaisd run on the installed configuration
(KitServer).  Test modules import these from here, not from conftest
(pytest gives every folder's conftest.py the one name "conftest")."""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import root  # noqa: E402

ROOT = root.ROOT
EXAMPLES = os.path.join(ROOT, "modules", "examples")
# (example folder, module name, source file)
KIT_EXAMPLES = (("addheader", "addheader", "mod_addheader.c"),
                ("lbmethod_spillover", "lbmethod_spillover",
                 "mod_lbmethod_spillover.c"))


class Kit:
    """An installed Relais (prefix) and the examples built against it."""

    def __init__(self, prefix, src):
        self.prefix = prefix
        self.src = src          # the copy of modules/examples/
        self.builds = {}        # name -> CompletedProcess of relaisxs -c
        self.installs = {}      # name -> CompletedProcess of relaisxs -i -a

    def path(self, *parts):
        return os.path.join(self.prefix, *parts)

    def relaisxs(self, *args, cwd=None):
        """The installed relaisxs.  -S PREFIX=: the build variables name
        the configured prefix, and the DESTDIR tree stands in for it."""
        cmd = [self.path("bin", "relaisxs"), "-S", "PREFIX=" + self.prefix]
        return subprocess.run(cmd + list(args), cwd=cwd or self.src,
                              capture_output=True, text=True, timeout=120)

    def relaisd(self, *args, timeout=30):
        """The installed relaisd on the installed ServerRoot."""
        cmd = [self.path("bin", "relaisd"), "-d", self.prefix] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout)


class KitServer:
    """The installed relaisd, started in the foreground on the installed
    configuration, with conf/ports.conf and the site kit.conf written by
    the test.  Stopped by PID."""

    def __init__(self, kit):
        self.kit = kit
        self.proc = None
        self.port = None
        self.log_start = 0

    def configure(self, site, port=None):
        self.port = port or root.free_port()
        with open(self.kit.path("conf", "ports.conf"), "w") as f:
            f.write("Listen 127.0.0.1:%d\n" % self.port)
        with open(self.kit.path("conf", "sites-available", "kit.conf"),
                  "w") as f:
            f.write(site)
        link = self.kit.path("conf", "sites-enabled", "kit.conf")
        if not os.path.lexists(link):
            os.symlink("../sites-available/kit.conf", link)
        return self.port

    def error_log(self):
        """The installed error log, from this server's start on (the
        tests of the module share one installed tree)."""
        path = self.kit.path("logs", "error_log")
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as f:
            f.seek(self.log_start)
            return f.read()

    def start(self):
        path = self.kit.path("logs", "error_log")
        self.log_start = os.path.getsize(path) if os.path.exists(path) else 0
        self.out = open(self.kit.path("logs", "stderr.txt"), "w")
        self.proc = subprocess.Popen(
            [self.kit.path("bin", "relaisd"), "-d", self.kit.prefix, "-D",
             "FOREGROUND"], stdout=self.out, stderr=subprocess.STDOUT)
        if not root.wait_port(self.port):
            self.stop()
            with open(self.kit.path("logs", "stderr.txt")) as f:
                raise RuntimeError("installed relaisd did not listen on "
                                   "%d:\n%s\n%s" % (self.port, f.read(),
                                                    self.error_log()))

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
