"""The reference pages stay true: the `console` examples of
docs/relaisctl.md, docs/relaisd.md and docs/relaisxs.md are replayed,
command by command, in a terminal (a pty, so the output interleaves as
on a screen), and what each prints is compared with the page; and
docs/directives.md is what support/gen-directive-index makes of the
modules built now.

The pages show an installed tree at /usr/local/relais with the shipped
configuration (its demo site on port 8080); the replay uses a temporary
ServerRoot with the same files and free ports, and maps the paths, the
ports and the pids.  In an expected line, "..." stands for any text, and
a line that is only "..." for any number of lines.
"""
import os
import pty
import re
import select
import signal
import subprocess
import time

import pytest

from conftest import BUILD, MODULES, RELAISD, free_port
from helpers_ops import TOP, alive, read_pid, wait_for

DOC_ROOT = "/usr/local/relais"


def console_blocks(doc):
    """[(command, [expected lines])] of every ```console block, in order."""
    with open(os.path.join(TOP, "docs", doc)) as f:
        text = f.read()
    steps = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                assert steps, "output before any command in %s" % doc
                steps[-1][1].append(line)
    assert steps, "no console example in %s" % doc
    return steps


def in_pty(cmd, env, cwd, timeout=120):
    """Runs `bash -c cmd` on a terminal; returns what it printed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(["bash", "--norc", "--noprofile", "-c", cmd],
                            stdin=slave, stdout=slave, stderr=slave,
                            env=env, cwd=cwd, start_new_session=True)
    os.close(slave)
    chunks = []
    end = time.time() + timeout
    try:
        while time.time() < end:
            r, _, _ = select.select([master], [], [], 0.5)
            if r:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every holder of the terminal left
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None and not r:
                # nothing more to read once bash is gone and the pty is
                # drained (a daemon never keeps it: relaisd detaches)
                r, _, _ = select.select([master], [], [], 0.2)
                if not r:
                    break
    finally:
        os.close(master)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return b"".join(chunks).decode("utf-8", "replace").replace("\r", "")


def line_regex(line, subst):
    out = re.escape(line)
    for doc_text, real in subst:
        out = out.replace(re.escape(doc_text), re.escape(real))
    out = re.sub(r"\\\(pid\\ \d+\\\)", r"\\(pid \\d+\\)", out)
    out = out.replace(re.escape("..."), ".*")
    return re.compile(out + r"\Z")


def lines_match(expected, actual, subst):
    """expected lines (with "..." wildcards) against actual lines."""
    def match(i, j):
        if i == len(expected):
            return j == len(actual)
        if expected[i] == "...":
            return any(match(i + 1, k) for k in range(j, len(actual) + 1))
        return (j < len(actual) and
                line_regex(expected[i], subst).match(actual[j]) is not None
                and match(i + 1, j + 1))
    return match(0, 0)


def replay(doc, preamble, env, cwd, subst):
    for cmd, expected in console_blocks(doc):
        out = in_pty(preamble + cmd, env, cwd)
        actual = out.splitlines()
        assert lines_match(expected, actual, subst), (
            "%s: `%s` printed:\n%s\nthe page says:\n%s" % (
                doc, cmd, out, "\n".join(expected)))


def shipped_root(tmp_path):
    """The shipped conf/ under a ServerRoot of this test's own (make
    install-conf), the build's modules, the three demo ports free ones.
    Returns (root, front port)."""
    root = str(tmp_path / "relais")
    res = subprocess.run(["make", "-s", "install-conf", "prefix=%s" % root],
                         cwd=TOP, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    os.symlink(MODULES, os.path.join(root, "modules"))
    os.makedirs(os.path.join(root, "logs"))
    port, b1, b2 = free_port(), free_port(), free_port()
    for name in ("ports.conf", "sites-available/demo.conf"):
        path = os.path.join(root, "conf", name)
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("8080", str(port)).replace("8081", str(b1))
                    .replace("8082", str(b2)))
    if os.geteuid() != 0:
        path = os.path.join(root, "conf", "relais.conf")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(re.sub(r"(?m)^(User|Group) .*$", "", text))
    return root, port


@pytest.fixture
def stop_at_end():
    pid_files = []
    yield pid_files
    for path in pid_files:
        pid = read_pid(path)
        if pid and alive(pid):
            os.kill(pid, signal.SIGTERM)
            if not wait_for(lambda: not alive(pid), 15):
                os.kill(pid, signal.SIGKILL)


def base_env(**kw):
    env = {"PATH": os.path.join(BUILD, "bin") + ":/usr/local/sbin:"
                   "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "LANG": "C", "TERM": "dumb", "HOME": os.environ.get("HOME", "/")}
    env.update(kw)
    return env


def test_ops_docs_relaisctl_examples(tmp_path, stop_at_end):
    root, port = shipped_root(tmp_path)
    stop_at_end.append(os.path.join(root, "logs", "relaisd.pid"))
    env = base_env(RELAISD=RELAISD, RELAIS_ROOT=root,
                   RELAIS_STATUS_TIMEOUT="10")
    replay("relaisctl.md", "", env, root,
           [(DOC_ROOT, root), ("8080", str(port))])


def test_ops_docs_relaisd_examples(tmp_path, stop_at_end):
    root, port = shipped_root(tmp_path)
    stop_at_end.append(os.path.join(root, "logs", "relaisd.pid"))
    preamble = 'relaisd() { "%s" -d "%s" "$@"; }\n' % (RELAISD, root)
    replay("relaisd.md", preamble, base_env(), root,
           [(DOC_ROOT, root), ("8080", str(port))])


def test_ops_docs_relaisxs_examples(tmp_path):
    dest = tmp_path / "dest"
    res = subprocess.run(["make", "-s", "install", "DESTDIR=%s" % dest],
                         cwd=TOP, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    prefix = str(dest) + DOC_ROOT
    assert os.path.isdir(os.path.join(prefix, "bin")), \
        "make install did not use the default prefix %s" % DOC_ROOT
    work = tmp_path / "work"
    work.mkdir()
    if os.geteuid() != 0:
        path = os.path.join(prefix, "conf", "relais.conf")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(re.sub(r"(?m)^(User|Group) .*$", "", text))
    preamble = ('relaisxs() { "%s/bin/relaisxs" -S PREFIX="%s" "$@"; }\n'
                'relaisd() { "%s/bin/relaisd" -d "%s" "$@"; }\n' %
                (prefix, prefix, prefix, prefix))
    replay("relaisxs.md", preamble, base_env(), str(work),
           [(DOC_ROOT, prefix)])


# ------------------------------------------------------- directive index

def test_ops_directive_index_is_current(tmp_path):
    """docs/directives.md is generated from the modules' directive tables
    (support/gen-directive-index asks relaisd -L): made again from the
    build, it must be the committed file, so the index cannot drift from
    the code.  Run support/gen-directive-index after adding a directive
    or a module."""
    out = tmp_path / "directives.md"
    env = dict(os.environ, RELAISD=RELAISD, RELAIS_MODULES=MODULES)
    res = subprocess.run(["/usr/bin/python3",
                          os.path.join(TOP, "support", "gen-directive-index"),
                          "-o", str(out)], env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    with open(os.path.join(TOP, "docs", "directives.md")) as f:
        committed = f.read()
    made = out.read_text()
    if made != committed:
        import difflib
        diff = "".join(difflib.unified_diff(
            committed.splitlines(True), made.splitlines(True),
            "docs/directives.md", "regenerated", n=1))
        pytest.fail("docs/directives.md is out of date: run "
                    "support/gen-directive-index\n" + diff[:4000])


def test_ops_directive_index_lists_every_loaded_directive(tmp_path):
    """And it is complete: every directive `relaisd -L` reports for the
    modules built (one MPM: they share the core's directives) has its
    row."""
    conf = tmp_path / "all.conf"
    mods = sorted(n for n in os.listdir(MODULES)
                  if n.startswith("mod_") and n.endswith(".so") and
                  (not n.startswith("mod_mpm_") or n == "mod_mpm_event.so"))
    # mod_proxy first: modules that use its functions need it loaded
    mods.sort(key=lambda n: (n != "mod_mpm_event.so", n != "mod_proxy.so",
                             n))
    conf.write_text("".join("LoadModule %s_module %s/%s\n" %
                            (n[4:-3], MODULES, n) for n in mods))
    res = subprocess.run([RELAISD, "-d", str(tmp_path), "-f", str(conf),
                          "-L"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    with open(os.path.join(TOP, "docs", "directives.md")) as f:
        index = f.read()
    rows = set(re.findall(r"^\| `([^`]+)` \|", index, re.M))
    missing = [l.split("\t")[0] for l in res.stdout.splitlines()
               if l.strip() and l.split("\t")[0] not in rows]
    assert not missing, "not in docs/directives.md: %s" % missing
