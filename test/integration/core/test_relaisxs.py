"""A third-party module needs nothing but an installed Relais: relaisxs
writes a skeleton, builds it against the installed headers with the
server's flags, and relaisd loads it; a module stamped with another API
major is refused with a message naming both versions."""
import os
import subprocess
import urllib.request

import pytest

from conftest import ROOT, free_port, mpm_lines


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    dest = tmp_path_factory.mktemp("inst")
    subprocess.run(["make", "-s", "install", "DESTDIR=%s" % dest], cwd=ROOT,
                   check=True, capture_output=True)
    prefix = None
    for dirpath, dirnames, _ in os.walk(dest):
        if "bin" in dirnames and "include" in dirnames:
            prefix = dirpath
            break
    assert prefix, "make install produced no bin/ and include/"
    return prefix


def relaisxs(prefix, *args, cwd):
    cmd = [os.path.join(prefix, "bin", "relaisxs"), "-S", "PREFIX=" + prefix]
    return subprocess.run(cmd + list(args), cwd=cwd, capture_output=True,
                          text=True)


def test_skeleton_module_builds_and_serves(installed, relais, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    out = relaisxs(installed, "-g", "hello", cwd=work)
    assert out.returncode == 0, out.stderr
    src = work / "hello"
    out = relaisxs(installed, "-c", "-n", "hello", "-o", "mod_hello.so",
                   "mod_hello.c", cwd=src)
    assert out.returncode == 0, out.stderr
    port = free_port()
    relais.write_conf(mpm_lines("event") + """
LoadModule hello_module %s/mod_hello.so
Listen 127.0.0.1:%d
ErrorLog logs/error_log
<Location /hello>
    SetHandler hello
</Location>
""" % (src, port))
    mods = relais.run("-M")
    assert "hello_module (shared)" in mods.stdout
    relais.start(port)
    with urllib.request.urlopen("http://127.0.0.1:%d/hello" % port) as r:
        assert r.read() == b"Hello from mod_hello\n"


def test_module_built_for_another_api_is_refused(installed, relais,
                                                   tmp_path):
    src = tmp_path / "mod_future.c"
    src.write_text("""
#include "relais.h"
RL_DECLARE_MODULE(future) = {
    RL_MODULE_MAGIC, RL_MMN_MAJOR + 1, 0, RL_MODULE_SIGNATURE, "future",
    "1.0", 0, -1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
""")
    out = relaisxs(installed, "-c", "-n", "future", "-o", "mod_future.so",
                   "mod_future.c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    relais.write_conf(mpm_lines("event") + """
LoadModule future_module %s/mod_future.so
Listen 127.0.0.1:%d
""" % (tmp_path, free_port()))
    res = relais.run("-t")
    assert res.returncode == 1
    assert "mod_future.so' was built for module API" in res.stderr
    assert "rebuild it with relaisxs" in res.stderr
    assert "relais.conf:3: LoadModule:" in res.stderr
