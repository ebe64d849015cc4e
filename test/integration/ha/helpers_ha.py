"""Helpers of the high-availability test (test_ha_keepalived.py; the
`lab` fixture is in conftest.py): a small network of its own, built in
network namespaces, where two Relais nodes run keepalived with
conf/examples/keepalived.conf.

    client (10.200.0.100) --+
    node1  (10.200.0.11)  --+-- br0, in a namespace of its own
    node2  (10.200.0.12)  --+
    VIP    10.200.0.50, held by node1 or node2

Every namespace is named <tag>-<role>, with a tag unique to the run, and
every link is created inside those namespaces (`ip -n NS link add … peer
… netns OTHER`): nothing touches the host's interfaces, addresses or
routes.  The addresses are private to the namespaces.  Lab.cleanup()
stops what the lab started (by PID) and deletes the namespaces it
created, and only those.

Test modules import these from here, not from conftest (pytest gives
every folder's conftest.py the one name "conftest").
"""
import importlib.util
import os
import re
import secrets
import shutil
import signal
import subprocess
import time

_ROOT_CONFTEST = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "conftest.py")
_spec = importlib.util.spec_from_file_location("relais_root_conftest",
                                               _ROOT_CONFTEST)
root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(root)

ROOT = root.ROOT
BUILD = root.BUILD
HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(ROOT, "conf", "examples", "keepalived.conf")

SUBNET = "10.200.0"
ADDR = {"node1": SUBNET + ".11", "node2": SUBNET + ".12",
        "client": SUBNET + ".100"}
VIP = SUBNET + ".50"
PORT = 8080  # inside the namespaces: no other listener can be there


def run(cmd, check=True, timeout=30):
    out = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=timeout)
    if check and out.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), out.returncode,
                                                out.stderr.strip()))
    return out


def netns_refusal():
    """None when this machine lets us create and enter a network
    namespace, else why not (for the skip)."""
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_SYS_ADMIN, CAP_NET_ADMIN)"
    if shutil.which("ip") is None:
        return "no ip(8) (Debian package iproute2)"
    probe = "rlha-probe-%d-%s" % (os.getpid(), secrets.token_hex(3))
    out = run(["ip", "netns", "add", probe], check=False)
    if out.returncode != 0:
        return "this machine forbids network namespaces: ip netns add: " + \
            out.stderr.strip()
    try:
        out = run(["ip", "netns", "exec", probe, "true"], check=False)
        if out.returncode != 0:
            return "this machine forbids entering a network namespace: " \
                "ip netns exec: " + out.stderr.strip()
    finally:
        run(["ip", "netns", "del", probe], check=False)
    return None


class Lab:
    """The namespaces, the processes started in them, and their files."""

    def __init__(self, tmp):
        self.tmp = str(tmp)
        self.tag = "rlha%d%s" % (os.getpid() % 100000, secrets.token_hex(2))
        self.created = []    # namespaces this lab made, to delete
        self.procs = []      # (name, Popen), to stop

    def ns(self, role):
        return "%s-%s" % (self.tag, role)

    def ip(self, role, *args):
        return run(["ip", "-n", self.ns(role)] + list(args))

    def build(self):
        for role in ("sw", "node1", "node2", "client"):
            run(["ip", "netns", "add", self.ns(role)])
            self.created.append(self.ns(role))
        self.ip("sw", "link", "add", "br0", "type", "bridge")
        self.ip("sw", "link", "set", "br0", "up")
        for role in ("node1", "node2", "client"):
            port = "v-" + role
            # both ends are made in our namespaces: the host never sees them
            self.ip("sw", "link", "add", port, "type", "veth", "peer", "name",
                    "eth0", "netns", self.ns(role))
            self.ip("sw", "link", "set", port, "master", "br0", "up")
            self.ip(role, "link", "set", "lo", "up")
            self.ip(role, "addr", "add", ADDR[role] + "/24", "dev", "eth0")
            self.ip(role, "link", "set", "eth0", "up")

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def start(self, name, role, argv, log):
        """argv in namespace `role`.  `ip netns exec` execs it, so the
        PID is the program's own."""
        out = open(self.path(log), "w")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(role)] + argv,
                             stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.procs.append((name, p))
        return p

    @staticmethod
    def stop(p, sig=signal.SIGTERM, timeout=10):
        if p.poll() is not None:
            return p.returncode
        p.send_signal(sig)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        return p.returncode

    def holds_vip(self, role):
        out = self.ip(role, "-o", "-4", "addr", "show", "dev", "eth0").stdout
        return (" %s/" % VIP) in out

    def curl(self, url, timeout=1):
        """From the client namespace: (exit status, body)."""
        out = run(["ip", "netns", "exec", self.ns("client"), "curl", "-s",
                   "-m", str(timeout), url], check=False, timeout=timeout + 10)
        return out.returncode, out.stdout

    def read(self, name):
        try:
            with open(self.path(name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def cleanup(self):
        problems = []
        for name, p in reversed(self.procs):
            try:
                self.stop(p)
            except OSError as e:
                problems.append("%s: %s" % (name, e))
        for ns in reversed(self.created):
            out = run(["ip", "netns", "del", ns], check=False)
            if out.returncode != 0:
                problems.append("ip netns del %s: %s" % (ns,
                                                         out.stderr.strip()))
        self.created = []
        return problems


def wait_until(what, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if what():
            return True
        time.sleep(step)
    return False


class Node:
    """One Relais node: relaisd with its own ServerRoot, started inside
    its namespace, answering every request with mod_echo and its name."""

    def __init__(self, lab, role):
        self.lab = lab
        self.role = role
        self.root = lab.path(role)
        self.proc = None
        os.makedirs(os.path.join(self.root, "logs"))
        os.symlink(os.path.join(BUILD, "modules"),
                   os.path.join(self.root, "modules"))
        self.conf = os.path.join(self.root, "relais.conf")
        with open(self.conf, "w") as f:
            f.write(root.workers_user(
                root.mpm_lines("event") +
                "LoadModule echo_module modules/mod_echo.so\n"
                "# all addresses: it serves the VIP whenever it holds it\n"
                "Listen 0.0.0.0:%d\n"
                "PidFile logs/relaisd.pid\n"
                "ErrorLog logs/error_log\n"
                "SetHandler echo\n"
                "EchoName %s\n" % (PORT, role)))

    def start(self):
        self.proc = self.lab.start(
            self.role + "-relaisd", self.role,
            [os.path.join(BUILD, "bin", "relaisd"), "-d", self.root, "-f",
             self.conf, "-D", "FOREGROUND"], self.role + "-relaisd.out")
        url = "http://%s:%d/" % (ADDR[self.role], PORT)
        ok = wait_until(lambda: self.lab.curl(url)[0] == 0, 15, 0.1)
        assert ok, "%s's relaisd does not answer on %s:\n%s\n%s" % (
            self.role, url, self.lab.read(self.role + "-relaisd.out"),
            self.lab.read(os.path.join(self.role, "logs", "error_log")))

    def check_command(self):
        """What keepalived runs for this node: relaisctl status, told
        where this node's relaisd and configuration are."""
        return ("/usr/bin/env RELAISD=%s RELAIS_ROOT=%s RELAIS_CONF=%s %s "
                "status" % (os.path.join(BUILD, "bin", "relaisd"), self.root,
                            self.conf,
                            os.path.join(BUILD, "bin", "relaisctl")))


def keepalived_conf(lab, nodes):
    """conf/examples/keepalived.conf with only its site parameters
    changed: the lab's interface, addresses and each node's check."""
    with open(EXAMPLE) as f:
        text = f.read()
    params = {"IFACE": "eth0", "VIP": VIP + "/24",
              "RELAIS1_IP": ADDR["node1"], "RELAIS2_IP": ADDR["node2"],
              "ROUTER_ID": "51"}
    for name, value in params.items():
        text, n = re.subn(r"(?m)^\$%s=.*$" % name,
                          lambda m: "$%s=%s" % (name, value), text)
        assert n == 1, "conf/examples/keepalived.conf has no $%s= line" % name
    # one check per node (the example has one for both: a standard
    # install), chosen by the config-id like the example's other lines
    checks = "\n".join("@relais%s $RELAIS_CHECK=%s" % (
        node.role[-1], node.check_command()) for node in nodes)
    text, n = re.subn(r"(?m)^\$RELAIS_CHECK=.*$", lambda m: checks, text)
    assert n == 1, "conf/examples/keepalived.conf has no $RELAIS_CHECK= line"
    path = lab.path("keepalived.conf")
    with open(path, "w") as f:
        f.write(text)
    return path


class Keepalived:
    def __init__(self, lab, node, conf):
        self.lab = lab
        self.node = node
        self.conf = conf
        self.config_id = "relais" + node.role[-1]
        self.log = node.role + "-keepalived.log"

    def argv(self, *extra):
        return ["keepalived", "-i", self.config_id, "-f", self.conf] + \
            list(extra)

    def check_config(self):
        out = run(["ip", "netns", "exec", self.lab.ns(self.node.role)] +
                  self.argv("-t"), check=False)
        assert out.returncode == 0, "keepalived -t refuses the example " \
            "for %s:\n%s%s" % (self.config_id, out.stdout, out.stderr)

    def start(self):
        pid = self.lab.path(self.node.role + "-keepalived.pid")
        self.proc = self.lab.start(
            self.node.role + "-keepalived", self.node.role,
            self.argv("--dont-fork", "--log-console", "--log-detail",
                      "--vrrp", "--no-syslog", "--pid", pid, "--vrrp_pid",
                      pid + ".vrrp"), self.log)

    def output(self):
        return self.lab.read(self.log)
