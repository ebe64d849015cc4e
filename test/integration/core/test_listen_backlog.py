"""ListenBacklog: the length of each listener's accept queue, as the kernel
reports it (`ss -ltn` shows a listening socket's backlog in Send-Q), its
default, its config errors, and a change applied by a graceful restart to
the socket kept across it."""
import signal
import subprocess
import time

from conftest import free_port, mpm_lines


def conf(port, backlog_line=""):
    return mpm_lines("event") + """
LoadModule echo_module modules/mod_echo.so
Listen 127.0.0.1:%d
ErrorLog logs/error_log
PidFile logs/relaisd.pid
SetHandler echo
%s
""" % (port, backlog_line)


def backlog_of(port):
    """Send-Q of the listening socket on 127.0.0.1:port (its backlog)."""
    out = subprocess.run(["ss", "-Hltn", "sport = :%d" % port],
                         capture_output=True, text=True, check=True).stdout
    lines = [l.split() for l in out.splitlines() if l.strip()]
    assert len(lines) == 1, out
    return int(lines[0][2])  # State Recv-Q Send-Q Local Peer


def somaxconn():
    with open("/proc/sys/net/core/somaxconn") as f:
        return int(f.read())


def test_backlog_set_by_directive(relais):
    port = free_port()
    relais.write_conf(conf(port, "ListenBacklog 123"))
    relais.start(port)
    assert backlog_of(port) == 123


def test_backlog_default_is_4096_capped_by_somaxconn(relais):
    port = free_port()
    relais.write_conf(conf(port))
    relais.start(port)
    assert backlog_of(port) == min(4096, somaxconn())


def test_graceful_restart_applies_a_new_backlog(relais):
    port = free_port()
    relais.write_conf(conf(port, "ListenBacklog 100"))
    relais.start(port)
    assert backlog_of(port) == 100
    relais.write_conf(conf(port, "ListenBacklog 200"))
    relais.send(signal.SIGUSR1)
    end = time.time() + 10
    while time.time() < end and backlog_of(port) != 200:
        time.sleep(0.1)
    assert backlog_of(port) == 200
    assert relais.proc.poll() is None


def test_bad_backlog_names_file_line_and_directive(relais):
    for bad in ("0", "-5", "lots", "70000", "12x"):
        text = conf(free_port(), "ListenBacklog %s" % bad)
        line = text.splitlines().index("ListenBacklog %s" % bad) + 1
        relais.write_conf(text)
        p = relais.run("-t")
        assert p.returncode != 0, bad
        err = p.stdout + p.stderr
        assert "relais.conf:%d" % line in err and "ListenBacklog" in err, err
        assert "'%s' is not a backlog length" % bad in err, err
