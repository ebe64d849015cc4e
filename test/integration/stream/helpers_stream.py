"""Real servers and clients of the stream proxy tests (mod_proxy_stream).

Servers, each on a free 127.0.0.1 port with a directory of its own, and
stopped by PID:
- Redis: Debian's redis-server (no persistence); the key `whoami` holds
  the instance's name, so a client knows which member answered.
- PgCluster: Debian's PostgreSQL, run by an unprivileged user when the
  suite runs as root (postgres refuses root); `SHOW cluster_name` says
  which member answered.
- Dnsmasq: answers `who.test TXT` with its name and `a.test A` with an
  address of its own, no upstream.
- StreamServer: a Python TCP member that echoes (as the bytes come, or
  all of them after the client's end of stream), or says its name first,
  and can expect a PROXY protocol v1/v2 header; it records what it got.

Clients: redis-cli, psql, dig, and raw sockets (DNS queries built here).
"""
import glob
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import root  # noqa: E402

free_port = root.free_port
wait_port = root.wait_port
mpm_lines = root.mpm_lines
MPMS = root.MPMS
MODULES = root.MODULES

STREAM_SO = os.path.join(MODULES, "mod_proxy_stream.so")
REDIS_SERVER = "/usr/bin/redis-server"
REDIS_CLI = "/usr/bin/redis-cli"
DNSMASQ = "/usr/sbin/dnsmasq"
DIG = "/usr/bin/dig"
PSQL = "/usr/bin/psql"


def have_module():
    return os.path.exists(STREAM_SO)


# Tests that run relaisd with mod_proxy_stream carry this mark (the
# fixtures' own tests, test_stream_fixtures.py, run without the module).
needs_module = pytest.mark.skipif(
    not have_module(), reason="%s is not built yet" % STREAM_SO)


def free_udp_port():
    """A port free for both UDP and TCP on 127.0.0.1 (dnsmasq binds both;
    a relaisd UDP listener only UDP), never handed out before."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            try:
                with socket.socket() as t:
                    t.bind(("127.0.0.1", port))
            except OSError:
                continue
        if port not in root._GIVEN_PORTS:
            root._GIVEN_PORTS.add(port)
            return port
    raise RuntimeError("no free UDP port")


def wait_for(predicate, timeout=10.0, step=0.05):
    """True once predicate() is true, False after timeout."""
    end = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(step)


def stop_pid(proc, sig=signal.SIGTERM, timeout=10.0):
    """Stops a Popen we started, by its PID."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ----------------------------------------------------------------- Redis

class Redis:
    """redis-server on 127.0.0.1:port, nothing saved to disk; the key
    `whoami` holds `name` (set again on every start)."""

    def __init__(self, directory, name):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.port = free_port()
        self.proc = None

    def start(self):
        self.out = open(os.path.join(self.dir, "redis.out"), "a")
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--daemonize", "no",
             "--dir", self.dir, "--logfile", "", "--protected-mode", "yes",
             "--proto-max-bulk-len", "64mb"],
            stdout=self.out, stderr=subprocess.STDOUT)
        if not wait_for(lambda: self.proc.poll() is not None or
                        self.cli("PING").strip() == "PONG"):
            self.stop()
            raise RuntimeError("redis-server did not answer on %d:\n%s" % (
                self.port, open(os.path.join(self.dir, "redis.out")).read()))
        if self.proc.poll() is not None:
            raise RuntimeError("redis-server exited:\n" + open(
                os.path.join(self.dir, "redis.out")).read())
        assert self.cli("SET", "whoami", self.name).strip() == "OK"

    def cli(self, *args, **kw):
        return redis_cli(self.port, *args, **kw)

    def kill(self):
        """The member dies at once (SIGKILL): its clients see a reset."""
        stop_pid(self.proc, signal.SIGKILL)

    def stop(self):
        stop_pid(self.proc)
        if getattr(self, "out", None):
            self.out.close()
            self.out = None


def redis_cli(port, *args, stdin=None, timeout=20, check=False):
    """redis-cli against 127.0.0.1:port; its stdout (raw replies)."""
    p = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(port),
                        "--raw"] + list(args), input=stdin,
                       capture_output=True, timeout=timeout,
                       text=not isinstance(stdin, bytes))
    if check:
        assert p.returncode == 0, p.stderr
    return p.stdout if p.returncode == 0 else ""


def resp(*args):
    """One Redis command in RESP (the wire format), as bytes."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class RespReader:
    """Reads RESP replies from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        b = self.sock.recv(1 << 20)
        if not b:
            raise EOFError("connection closed by the server")
        self.buf += b

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return rest.decode() if kind == b"+" else Exception(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise ValueError("not RESP: %r" % line)


# ------------------------------------------------------------ PostgreSQL

def pg_bin():
    """The newest /usr/lib/postgresql/<v>/bin holding postgres, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(p.split("/")[-3]))
    return os.path.dirname(found[-1]) if found else None


def pg_user():
    """(user name, command prefix): postgres refuses to run as root, so a
    root test suite runs it as nobody through runuser."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name, []
    return "nobody", ["runuser", "-u", "nobody", "--"]


def pg_unusable():
    """Why PostgreSQL cannot run here, or None."""
    b = pg_bin()
    if b is None or not os.path.exists(PSQL):
        return "PostgreSQL is not installed (Debian package postgresql)"
    user, prefix = pg_user()
    if prefix:
        if not os.stat("/").st_mode & 0o001:
            return ("'/' is not searchable by other users here (a chroot?), "
                    "so postgres cannot run as %s" % user)
        p = subprocess.run(prefix + [os.path.join(b, "postgres"),
                                     "--version"],
                           capture_output=True, text=True, timeout=20)
        if p.returncode != 0:
            return "postgres cannot run as %s here: %s" % (
                user, (p.stderr or p.stdout).strip())
    return None


class PgUnusable(Exception):
    """PostgreSQL cannot run here (the message says why)."""


class PgTemplate:
    """One initdb for the whole session (a second or so): every cluster
    a test starts is a copy of it.  Lives in a directory of /tmp owned by
    the user postgres runs as (pytest's tmp_path is root's, mode 0700)."""

    def __init__(self):
        self.user, self.prefix = pg_user()
        self.bin = pg_bin()
        self.base = tempfile.mkdtemp(prefix="relais-stream-pg-", dir="/tmp")
        pw = pwd.getpwnam(self.user)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        os.chown(self.base, self.uid, self.gid)
        if self.prefix and subprocess.run(
                self.prefix + ["test", "-w", self.base]).returncode != 0:
            self.remove()
            raise PgUnusable("%s cannot write to %s (is /tmp searchable by "
                             "other users?)" % (self.user, self.base))
        self.data = os.path.join(self.base, "template")
        p = subprocess.run(
            self.prefix + [os.path.join(self.bin, "initdb"), "-D", self.data,
                           "-A", "trust", "-U", "postgres", "-E", "UTF8",
                           "--locale=C", "--no-sync", "--no-instructions"],
            capture_output=True, text=True, timeout=120, cwd=self.base)
        if p.returncode != 0:
            raise RuntimeError("initdb failed:\n%s%s" % (p.stdout, p.stderr))
        self.count = 0

    def cluster(self, name):
        self.count += 1
        d = os.path.join(self.base, "%s-%d" % (name, self.count))
        os.mkdir(d)
        os.chown(d, self.uid, self.gid)
        # cp -a keeps the owner and the 0700 mode postgres insists on
        subprocess.run(["cp", "-a", self.data, os.path.join(d, "data")],
                       check=True)
        return PgCluster(self, d, name)

    def remove(self):
        shutil.rmtree(self.base, ignore_errors=True)


class PgCluster:
    """postgres on 127.0.0.1:port, its socket in its own directory."""

    def __init__(self, template, directory, name):
        self.t = template
        self.dir = directory
        self.data = os.path.join(directory, "data")
        self.name = name
        self.port = free_port()
        self.proc = None

    def start(self):
        log = os.path.join(self.dir, "postgres.log")
        self.out = open(log, "a")
        cmd = self.t.prefix + [
            os.path.join(self.t.bin, "postgres"), "-D", self.data,
            "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
            "-c", "unix_socket_directories=" + self.dir,
            "-c", "cluster_name=" + self.name, "-c", "fsync=off",
            "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=40", "-c", "shared_buffers=16MB",
            "-c", "logging_collector=off"]
        self.proc = subprocess.Popen(cmd, stdout=self.out,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        ok = wait_for(lambda: self.proc.poll() is not None or
                      psql(self.port, "SELECT 1", timeout=5)[0] == 0,
                      timeout=30, step=0.1)
        if not ok or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError("postgres did not start on %d:\n%s" % (
                self.port, open(log).read()[-3000:]))

    def pid(self):
        """The postmaster's PID (the Popen is runuser's when root)."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def _signal(self, sig, timeout=20):
        pid = self.pid()
        if pid is not None and self.proc is not None and \
                self.proc.poll() is None:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "out", None):
            self.out.close()
            self.out = None

    def kill(self):
        """Immediate shutdown (SIGQUIT): no checkpoint, every session cut
        at once, as in a crash, but no process or shared memory left
        behind."""
        self._signal(signal.SIGQUIT)

    def stop(self):
        self._signal(signal.SIGINT)  # fast shutdown


def psql(port, sql, timeout=20):
    """psql -c sql against 127.0.0.1:port as postgres: (returncode,
    stdout, stderr), rows unaligned, fields separated by |."""
    env = dict(os.environ, PGCONNECT_TIMEOUT="5", PGSSLMODE="disable",
               PGGSSENCMODE="disable", PGAPPNAME="relais-test")
    try:
        p = subprocess.run([PSQL, "-X", "-q", "-A", "-t", "-h", "127.0.0.1",
                            "-p", str(port), "-U", "postgres", "-d",
                            "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql],
                           capture_output=True, text=True, timeout=timeout,
                           env=env)
    except subprocess.TimeoutExpired as e:
        return -1, e.stdout or "", "timed out"
    return p.returncode, p.stdout, p.stderr


# --------------------------------------------------------------- dnsmasq

class Dnsmasq:
    """dnsmasq on 127.0.0.1:port with no upstream: `who.test TXT` is its
    name, `a.test A` is `address`; every query is logged (--log-queries)."""

    def __init__(self, directory, name, address):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.address = address
        self.port = free_udp_port()
        self.log = os.path.join(self.dir, "dnsmasq.log")
        self.proc = None

    def start(self):
        user = pwd.getpwuid(os.getuid()).pw_name
        cmd = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null",
               "--no-resolv", "--no-hosts", "--no-poll",
               "--port=%d" % self.port, "--listen-address=127.0.0.1",
               "--bind-interfaces", "--pid-file=",
               "--user=%s" % user,
               "--address=/a.test/%s" % self.address,
               "--txt-record=who.test,%s" % self.name,
               "--log-facility=%s" % self.log, "--log-queries"]
        self.out = open(os.path.join(self.dir, "dnsmasq.out"), "a")
        self.proc = subprocess.Popen(cmd, stdout=self.out,
                                     stderr=subprocess.STDOUT)
        if not wait_for(lambda: self.proc.poll() is not None or
                        dns_ask(self.port, "who.test", 16) is not None):
            self.stop()
            raise RuntimeError("dnsmasq did not answer on %d:\n%s" % (
                self.port, open(os.path.join(self.dir, "dnsmasq.out")).read()))

    def queries(self, name="who.test"):
        """How many queries for `name` this instance logged."""
        try:
            with open(self.log) as f:
                return sum(1 for line in f if "query[" in line and
                           " %s from " % name in line)
        except OSError:
            return 0

    def stop(self):
        stop_pid(self.proc)
        if getattr(self, "out", None):
            self.out.close()
            self.out = None


def dig(port, name="who.test", qtype="TXT", timeout=2, tries=1):
    """dig @127.0.0.1 -p port name qtype +short: the answer's records
    (TXT without quotes), or None when nothing answered."""
    p = subprocess.run([DIG, "@127.0.0.1", "-p", str(port), name, qtype,
                        "+short", "+tries=%d" % tries, "+time=%d" % timeout],
                       capture_output=True, text=True, timeout=timeout *
                       tries + 10)
    if p.returncode != 0:
        return None
    return [line.strip().strip('"') for line in p.stdout.splitlines()
            if line.strip()]


def dns_query_bytes(qid, name, qtype=16):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def dns_txt(reply):
    """(id, [TXT strings of the answer section]) of a DNS reply."""
    qid, _flags, qd, an = struct.unpack(">HHHH", reply[:8])
    pos = 12

    def skip_name(p):
        while True:
            n = reply[p]
            if n == 0:
                return p + 1
            if n & 0xC0 == 0xC0:
                return p + 2
            p += n + 1
    for _ in range(qd):
        pos = skip_name(pos) + 4
    out = []
    for _ in range(an):
        pos = skip_name(pos)
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", reply[pos:pos + 10])
        pos += 10
        rdata = reply[pos:pos + rdlen]
        pos += rdlen
        if rtype == 16:
            i = 0
            while i < len(rdata):
                n = rdata[i]
                out.append(rdata[i + 1:i + 1 + n].decode())
                i += n + 1
    return qid, out


def dns_ask(port, name="who.test", qtype=16, timeout=0.5, qid=None):
    """One query from a fresh UDP socket: the TXT strings of the reply (a
    list), or None when no reply (with our id) came."""
    qid = qid if qid is not None else int.from_bytes(os.urandom(2), "big")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(dns_query_bytes(qid, name, qtype), ("127.0.0.1", port))
            data, _ = s.recvfrom(4096)
        except OSError:
            return None
    rid, txt = dns_txt(data)
    return txt if rid == qid else None


# -------------------------------------------------- Python stream member

PROXY_V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


class ProxyHeaderError(Exception):
    pass


def parse_proxy_header(buf):
    """(header dict, bytes consumed) of a PROXY v1 or v2 header at the
    start of buf, or (None, 0) when more bytes are needed.  Raises
    ProxyHeaderError when buf does not start with one."""
    if buf.startswith(PROXY_V2_SIG[:min(len(buf), 12)]) and \
            len(buf) < 16:
        return None, 0
    if buf.startswith(PROXY_V2_SIG):
        ver_cmd, fam, length = struct.unpack(">BBH", buf[12:16])
        if len(buf) < 16 + length:
            return None, 0
        if ver_cmd >> 4 != 2:
            raise ProxyHeaderError("v2 version %d" % (ver_cmd >> 4))
        body = buf[16:16 + length]
        h = {"version": 2, "command": ver_cmd & 0xF, "family": fam}
        if fam == 0x11 and length >= 12:  # TCP over IPv4
            src, dst, sp, dp = struct.unpack(">4s4sHH", body[:12])
            h.update(src=socket.inet_ntop(socket.AF_INET, src),
                     dst=socket.inet_ntop(socket.AF_INET, dst),
                     sport=sp, dport=dp)
        elif fam == 0x21 and length >= 36:  # TCP over IPv6
            src, dst, sp, dp = struct.unpack(">16s16sHH", body[:36])
            h.update(src=socket.inet_ntop(socket.AF_INET6, src),
                     dst=socket.inet_ntop(socket.AF_INET6, dst),
                     sport=sp, dport=dp)
        return h, 16 + length
    if b"PROXY "[:len(buf)] == buf[:6]:
        end = buf.find(b"\r\n")
        if end < 0:
            if len(buf) > 107:
                raise ProxyHeaderError("v1 line longer than 107 bytes")
            return None, 0
        parts = buf[:end].decode("ascii", "replace").split(" ")
        h = {"version": 1, "proto": parts[1] if len(parts) > 1 else ""}
        if len(parts) == 6:
            h.update(src=parts[2], dst=parts[3], sport=int(parts[4]),
                     dport=int(parts[5]))
        return h, end + 2
    raise ProxyHeaderError("no PROXY header: %r" % buf[:32])


class MemberConn:
    """What a StreamServer saw on one connection."""

    def __init__(self, peer):
        self.peer = peer
        self.header = None
        self.received = 0
        self.data = bytearray()  # the first 1 MiB only
        self.eof = False
        self.sent = 0
        self.closed = threading.Event()
        self.error = None


class StreamServer:
    """A Python TCP member on 127.0.0.1:port.

    mode "echo":      sends back what it reads, as it reads it; at the
                      client's end of stream it ends its side too.
    mode "eof_echo":  reads until the client's end of stream, then sends
                      everything back and closes: only a relay that keeps
                      the other direction open after a half-close passes.
    mode "hello":     says "<name>\\n" at once, then echoes.
    mode "silent":    reads and never answers.
    proxy: None, or "v1"/"v2"/"any": the header the member expects first
    (a connection without it is recorded with an error and closed).
    """

    def __init__(self, name="member", mode="echo", proxy=None, port=None):
        self.name = name
        self.mode = mode
        self.proxy = proxy
        self.conns = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port or 0))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.running = True
        self.threads = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "tcp://127.0.0.1:%d" % self.port

    def _accept(self):
        while self.running:
            try:
                c, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            rec = MemberConn(peer)
            with self.lock:
                self.conns.append(rec)
            t = threading.Thread(target=self._serve, args=(c, rec),
                                 daemon=True)
            self.threads.append(t)
            t.start()

    def _send(self, c, rec, data):
        c.sendall(data)
        rec.sent += len(data)

    def _serve(self, c, rec):
        c.settimeout(30)
        try:
            buf = b""
            if self.proxy:
                while True:
                    b = c.recv(65536)
                    if not b:
                        rec.error = "closed before the PROXY header"
                        return
                    buf += b
                    h, used = parse_proxy_header(buf)
                    if h is not None:
                        break
                if self.proxy != "any" and \
                        "v%d" % h["version"] != self.proxy:
                    rec.error = "PROXY v%d, %s expected" % (h["version"],
                                                            self.proxy)
                    return
                rec.header = h
                buf = buf[used:]
            if self.mode == "hello":
                self._send(c, rec, self.name.encode() + b"\n")
            pending = bytearray()
            while True:
                if buf:
                    b, buf = buf, b""
                else:
                    b = c.recv(1 << 16)
                if not b:
                    rec.eof = True
                    break
                rec.received += len(b)
                if len(rec.data) < (1 << 20):
                    rec.data += b[:(1 << 20) - len(rec.data)]
                if self.mode in ("echo", "hello"):
                    self._send(c, rec, b)
                elif self.mode == "eof_echo":
                    pending += b
            if self.mode == "eof_echo":
                self._send(c, rec, bytes(pending))
            c.shutdown(socket.SHUT_WR)
        except (OSError, ProxyHeaderError) as e:
            rec.error = "%s: %s" % (type(e).__name__, e)
        finally:
            c.close()
            rec.closed.set()

    def wait_conns(self, n, timeout=10.0):
        return wait_for(lambda: len(self.conns) >= n, timeout)

    def stop(self):
        self.running = False
        try:
            self.sock.close()
        except OSError:
            pass
        self.thread.join(timeout=2)


def read_all(sock, timeout=10.0):
    """Everything sock sends until its end of stream."""
    sock.settimeout(timeout)
    chunks = []
    while True:
        b = sock.recv(1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def proxy_v1(src, sport, dst, dport):
    return ("PROXY TCP4 %s %s %d %d\r\n" % (src, dst, sport, dport)).encode()


def proxy_v2(src, sport, dst, dport):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack(">HH", sport, dport)
    return PROXY_V2_SIG + struct.pack(">BBH", 0x21, 0x11, len(body)) + body


# ------------------------------------------------------- relaisd config

def stream_conf(body, mpm="event", listen=(), modules=(), extra="",
                mpm_extra=""):
    """A relaisd configuration: the MPM, mod_proxy, mod_balancer,
    mod_healthcheck, mod_proxy_stream (after them) and `modules`, an info
    error log, `Listen 127.0.0.1:<port> <proto>` for each (port, proto)
    of listen, then body."""
    text = mpm_lines(mpm) + mpm_extra
    for m in ("proxy", "balancer", "healthcheck") + tuple(modules):
        text += "LoadModule %s_module modules/mod_%s.so\n" % (m, m)
    text += "LoadModule proxy_stream_module modules/mod_proxy_stream.so\n"
    text += ("ServerName relais.test\nErrorLog logs/error_log\n"
             "LogLevel info\nPidFile logs/relaisd.pid\n")
    for port, proto in listen:
        text += ("Listen 127.0.0.1:%d %s" % (port, proto)).rstrip() + "\n"
    return text + extra + body


def start_stream(relais, text, tcp_port=None, udp_probe=None, timeout=15):
    """Writes the configuration and starts relaisd; returns once the
    parent says it runs ("resuming normal operations": its listeners are
    open, and a client's connection waits in the backlog until a child
    takes it), and udp_probe() (when given) is true.

    With tcp_port, it also waits until a connection to it is accepted:
    that probe reaches a member and the stream log like a client's, so
    the tests that count connections pass no tcp_port."""
    relais.write_conf(text)
    relais.start(tcp_port)
    ok = wait_for(lambda: relais.proc.poll() is not None or
                  "resuming normal operations" in relais.error_log(), timeout)
    if ok and relais.proc.poll() is None and udp_probe is not None:
        ok = wait_for(udp_probe, timeout)
    if not ok or relais.proc.poll() is not None:
        out = relais.read("stderr.txt") + relais.error_log()
        relais.stop()
        raise RuntimeError("relaisd did not start:\n" + out[-4000:])


def members_seen(ask, want, tries=30):
    """Calls ask() (a new connection, it returns the name of the member
    that answered) until every name of want was seen, at most tries
    times; returns the names seen.  (Under prefork each child keeps its
    own turn of byrequests, so a few connections in a row may all go to
    the first member.)"""
    seen = set()
    for _ in range(tries):
        seen.add(ask())
        if set(want) <= seen:
            break
    return seen


def wait_log(relais, needle, timeout=10.0, name=None):
    """The first line of the error log (or logs/<name>) holding needle (a
    string, or a function of the line), or None after timeout."""
    found = []

    def look():
        text = relais.read("logs/" + name) if name else relais.error_log()
        for line in text.splitlines():
            if (needle(line) if callable(needle) else needle in line):
                found.append(line)
                return True
        return False
    wait_for(look, timeout)
    return found[0] if found else None


def child_fds(relais):
    """{pid: open descriptors} of every child of relaisd (/proc/PID/fd)."""
    out = {}
    for pid in relais.children():
        try:
            out[pid] = len(os.listdir("/proc/%d/fd" % pid))
        except OSError:
            pass
    return out


def self_signed(directory):
    """A certificate and key for localhost and 127.0.0.1 (ECDSA P-256),
    made with the openssl tool: (crt, key)."""
    d = str(directory)
    crt, key = os.path.join(d, "stream.crt"), os.path.join(d, "stream.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                    "-out", crt, "-days", "2", "-subj",
                    "/O=Relais Test/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return crt, key


def stream_vhost(port, target, extra=""):
    """<VirtualHost 127.0.0.1:port> relaying to target (a balancer:// or
    tcp:// / udp:// URL), the stream log in logs/stream.log."""
    lines = ["<VirtualHost 127.0.0.1:%d>" % port,
             "    ProxyStream %s" % target,
             "    ProxyStreamLog logs/stream.log"]
    lines += ["    " + l.strip() for l in extra.strip("\n").split("\n")
              if l.strip()]
    return "\n".join(lines) + "\n</VirtualHost>\n"


def balancer(name, members, extra=""):
    """<Proxy balancer://name> with one BalancerMember line per member."""
    lines = ["<Proxy balancer://%s>" % name]
    lines += ["    BalancerMember " + m for m in members]
    lines += ["    " + l.strip() for l in extra.strip("\n").split("\n")
              if l.strip()]
    return "\n".join(lines) + "\n</Proxy>\n"


def stream_log(relais):
    """The lines of logs/stream.log."""
    return relais.read("logs/stream.log").splitlines()


def wait_stream_lines(relais, n, timeout=10.0):
    """The stream log once it has at least n lines (or what it has after
    timeout)."""
    wait_for(lambda: len(stream_log(relais)) >= n, timeout)
    return stream_log(relais)


def parse_stream_line(line):
    """A ProxyStreamLog line ("[date] client=… listener=… proto=…
    balancer=… member=… up=N down=N duration_ms=N attempts=N cause=…",
    docs/stream.md) as a dict; up, down, duration_ms and attempts as
    ints."""
    out = {}
    for word in line.split("] ", 1)[-1].split():
        if "=" in word:
            k, v = word.split("=", 1)
            out[k] = int(v) if k in ("up", "down", "duration_ms",
                                     "attempts") else v
    return out


def log_entry(relais, client_port, timeout=10.0, client_ip="127.0.0.1"):
    """The stream log's entry of the connection from client_ip:client_port
    (a dict, see parse_stream_line), or None when it did not come."""
    needle = "client=%s:%d " % (client_ip, client_port)
    line = wait_log(relais, needle, timeout, name="stream.log")
    return parse_stream_line(line) if line else None
