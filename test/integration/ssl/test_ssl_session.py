"""TLS session resumption across the children of relaisd: the session
cache in shared memory (SSLSessionCache, TLS 1.2 without tickets) and
session tickets whose keys every child shares and that rotate
(SSLSessionTickets, SSLSessionTicketKeyRotation, SSLSessionTicketKeyFile).

Each test runs the prefork MPM with four children, so that successive
connections land on different processes: the access log names the child
(%P) and whether the session was resumed (%{SSL_SESSION_RESUMED}x).  The
client is `openssl s_client` with -sess_out / -sess_in, a new TCP
connection each time, which prints "Reused" or "New".
"""
import os
import re
import signal
import socket
import ssl
import subprocess
import time

import pytest

from conftest import free_port, mpm_lines

LOG_FORMAT = '"%P %{SSL_SESSION_RESUMED}x %{SSL_PROTOCOL}x %>s"'


def conf(certs, port, extra="", mpm="prefork"):
    return (mpm_lines(mpm) + """
LoadModule ssl_module modules/mod_ssl.so
LoadModule echo_module modules/mod_echo.so
LoadModule log_module modules/mod_log.so
StartServers 4
MinSpareServers 4
MaxSpareServers 8
Listen 127.0.0.1:%d https
ServerName localhost
ErrorLog logs/error_log
LogLevel info
PidFile logs/relaisd.pid
LogFormat %s sess
CustomLog logs/access_log sess
SSLEngine on
SSLCertificateFile %s
SSLCertificateKeyFile %s
SetHandler echo
""" % (port, LOG_FORMAT, certs.rsa_crt, certs.rsa_key)) + extra


def start(relais, certs, extra="", mpm="prefork"):
    port = free_port()
    relais.write_conf(conf(certs, port, extra, mpm))
    relais.start(port)
    wait_children(relais, 4)
    return port


def wait_children(relais, n, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if len(relais.children()) >= n:
            return
        time.sleep(0.05)


def s_client(port, *args, sess_in=None, sess_out=None):
    """One connection and one HTTP/1.0 request with openssl s_client;
    returns what it printed."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
           "-servername", "localhost", "-ign_eof"] + list(args)
    if sess_in:
        cmd += ["-sess_in", sess_in]
    if sess_out:
        cmd += ["-sess_out", sess_out]
    p = subprocess.run(cmd, input=b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n",
                       capture_output=True, timeout=20)
    out = p.stdout.decode("latin-1")
    assert "HTTP/1.1 200" in out or "HTTP/1.0 200" in out, \
        out + p.stderr.decode("latin-1")
    return out


def reused(out):
    m = re.search(r"^(New|Reused), (TLSv[\d.]+)", out, re.M)
    assert m, out
    return m.group(1) == "Reused"


def access_lines(relais, count, timeout=5.0):
    """The access log's lines once it has `count` (pid, resumed, proto)."""
    end = time.time() + timeout
    while True:
        lines = relais.read("logs/access_log").splitlines()
        if len(lines) >= count or time.time() > end:
            return [l.split() for l in lines]
        time.sleep(0.05)


def resume_many(relais, port, sess, args, rounds=12, min_pids=2):
    """Resumes the session in file `sess` on new connections until they
    have reached at least min_pids children (at most 40 connections);
    each one must be "Reused".  Returns the PIDs that served them."""
    before = len(access_lines(relais, 0))
    pids = set()
    n = 0
    while n < rounds or (len(pids) < min_pids and n < 40):
        out = s_client(port, *args, sess_in=sess)
        assert reused(out), "connection %d was not resumed:\n%s" % (n, out)
        n += 1
        lines = access_lines(relais, before + n)
        pids.add(lines[before + n - 1][0])
    return pids


def check_log_resumed(relais, first_pid=None):
    """The first line is the full handshake, every other a resumption."""
    lines = access_lines(relais, 2)
    assert lines[0][1] == "Initial", lines
    assert all(l[1] == "Resumed" for l in lines[1:]), lines
    if first_pid is not None:
        assert lines[0][0] == first_pid


@pytest.mark.parametrize("proto", ["-tls1_2", "-tls1_3"])
def test_tickets_resume_on_every_child(relais, certs, tmp_path, proto):
    """Tickets (the default) sealed by one child open in the others: no
    session cache at all, so only the shared keys can do it."""
    port = start(relais, certs, "SSLSessionCache none\n")
    sess = str(tmp_path / "sess.pem")
    out = s_client(port, proto, sess_out=sess)
    assert not reused(out)
    assert "TLS session ticket:" in out or proto == "-tls1_3"
    first = access_lines(relais, 1)[0][0]
    pids = resume_many(relais, port, sess, [proto])
    assert len(pids - {first}) >= 1, "every resumption hit the first " \
        "child: %r" % pids
    check_log_resumed(relais)


def test_tls13_resumption_brings_a_fresh_ticket(relais, certs, tmp_path):
    """A TLS 1.3 client uses a ticket once (RFC 8446 C.4): a full
    handshake gives exactly one ticket and every resumption another, so a
    chain of connections, each resuming with the ticket the previous one
    got, is resumed all along."""
    port = start(relais, certs)
    sess = str(tmp_path / "sess.pem")
    out = s_client(port, "-tls1_3", sess_out=sess)
    assert not reused(out)
    assert out.count("Post-Handshake New Session Ticket arrived") == 1, out
    for n in range(4):
        out = s_client(port, "-tls1_3", sess_in=sess, sess_out=sess)
        assert reused(out), "link %d of the chain was not resumed" % n
        assert "Post-Handshake New Session Ticket arrived" in out, \
            "no fresh ticket after resumption %d:\n%s" % (n, out)


@pytest.mark.parametrize("mpm", ["prefork", "worker"])
def test_cache_resumes_tls12_on_every_child(relais, certs, tmp_path, mpm):
    """TLS 1.2 without tickets: the session ID is looked up in the shared
    cache by whichever child gets the connection."""
    port = start(relais, certs, "SSLSessionTickets off\n", mpm=mpm)
    sess = str(tmp_path / "sess.pem")
    out = s_client(port, "-tls1_2", sess_out=sess)
    assert not reused(out)
    assert "TLS session ticket:" not in out
    m = re.search(r"Session-ID: ([0-9A-F]{64})", out)
    assert m, out
    first = access_lines(relais, 1)[0][0]
    pids = resume_many(relais, port, sess, ["-tls1_2"])
    assert len(pids - {first}) >= 1, pids
    check_log_resumed(relais)


def test_cache_resumes_tls13_without_tickets(relais, certs, tmp_path):
    """TLS 1.3 with tickets off: OpenSSL sends the session ID as the
    ticket and resumes from the shared cache, on another child too."""
    port = start(relais, certs, "SSLSessionTickets off\n")
    sess = str(tmp_path / "sess.pem")
    assert not reused(s_client(port, "-tls1_3", sess_out=sess))
    first = access_lines(relais, 1)[0][0]
    pids = set()
    for i in range(12):
        # TLS 1.3 stateful sessions may be single use: carry on with the
        # one each connection got
        out = s_client(port, "-tls1_3", sess_in=sess, sess_out=sess)
        assert reused(out), out
        pids.add(access_lines(relais, i + 2)[i + 1][0])
    assert len(pids - {first}) >= 1, pids


def test_session_cache_timeout(relais, certs, tmp_path):
    """SSLSessionCacheTimeout 2: a cached session resumes at once, not
    after 3 s."""
    port = start(relais, certs, "SSLSessionTickets off\n"
                                "SSLSessionCacheTimeout 2\n")
    sess = str(tmp_path / "sess.pem")
    assert not reused(s_client(port, "-tls1_2", sess_out=sess))
    assert reused(s_client(port, "-tls1_2", sess_in=sess))
    time.sleep(3)
    assert not reused(s_client(port, "-tls1_2", sess_in=sess))


def test_no_cache_no_tickets_no_resumption(relais, certs, tmp_path):
    """Nothing to resume: an empty session ID (TLS 1.2) and no ticket, so
    the client keeps no session at all."""
    port = start(relais, certs,
                 "SSLSessionCache none\nSSLSessionTickets off\n")
    for proto in ("-tls1_2", "-tls1_3"):
        sess = str(tmp_path / ("sess%s.pem" % proto))
        out = s_client(port, proto, sess_out=sess)
        assert not reused(out)
        assert "TLS session ticket:" not in out
        assert "New Session Ticket" not in out
        assert not os.path.exists(sess), "the client got a session"
    lines = access_lines(relais, 2)
    assert all(l[1] == "Initial" for l in lines), lines


def test_nonenotnull_sends_an_id_but_never_resumes(relais, certs,
                                                   tmp_path):
    """httpd's nonenotnull: a session ID for the clients that want one,
    but it is found nowhere afterwards."""
    port = start(relais, certs,
                 "SSLSessionCache nonenotnull\nSSLSessionTickets off\n")
    sess = str(tmp_path / "sess.pem")
    out = s_client(port, "-tls1_2", sess_out=sess)
    assert re.search(r"Session-ID: [0-9A-F]{64}", out), out
    for _ in range(3):
        assert not reused(s_client(port, "-tls1_2", sess_in=sess))


@pytest.mark.parametrize("tickets", ["on", "off"])
def test_resumption_survives_graceful_restart(relais, certs, tmp_path,
                                              tickets):
    """A session made before USR1 resumes on the new generation's
    children: the cache and the ticket keys are kept across it."""
    port = start(relais, certs, "SSLSessionTickets %s\n" % tickets)
    sess = str(tmp_path / "sess.pem")
    assert not reused(s_client(port, "-tls1_2", sess_out=sess))
    old = set(relais.children())
    relais.send(signal.SIGUSR1)
    end = time.time() + 15
    while time.time() < end:
        kids = set(relais.children())
        if len(kids) >= 4 and not kids & old:
            break
        time.sleep(0.1)
    assert not set(relais.children()) & old, "old children still there"
    out = s_client(port, "-tls1_2", sess_in=sess)
    assert reused(out), out
    lines = access_lines(relais, 2)
    assert int(lines[-1][0]) not in old
    assert lines[-1][1] == "Resumed"


def tls12_client():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def tls12_connect(ctx, port, session=None):
    """A TLS 1.2 connection with Python's ssl module (which keeps the
    renewed ticket a resumption brings), one request; returns (session,
    reused)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost",
                             session=session) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            assert b" 200 " in data.split(b"\r\n", 1)[0], data
            return s.session, s.session_reused


def test_ticket_key_rotation_window(relais, certs):
    """SSLSessionTicketKeyRotation 3: a ticket opens while its key is the
    current or the previous one (at least 3 s, at most 6 s), and the
    resumption with the previous key brings a fresh ticket; past that
    window, a full handshake."""
    t_launch = time.time()
    port = start(relais, certs, "SSLSessionCache none\n"
                                "SSLSessionTicketKeyRotation 3\n")
    ctx = tls12_client()
    sess, was = tls12_connect(ctx, port)
    t0 = time.time()
    assert not was and sess.has_ticket
    again, was = tls12_connect(ctx, port, sess)
    assert was
    assert again.id == sess.id  # current key: no new ticket needed
    # The first key became current when relaisd started (after
    # t_launch): it opens tickets until start + 6 s at least, and has
    # been replaced at start + 3 s: "previous key, renew".
    wait = t_launch + 4.5 - time.time()
    assert wait > 0, "relaisd took too long to start for this test"
    time.sleep(wait)
    fresh, was = tls12_connect(ctx, port, sess)
    assert was, "a ticket of the previous key was refused"
    assert fresh.id != sess.id, "no fresh ticket"
    # Past t0 + 6 s the first key is gone for sure; the renewed ticket
    # (key of start + 3 s) still opens until start + 9 s.
    time.sleep(max(0, t0 + 6.8 - time.time()))
    assert time.time() < t_launch + 8.5, "the test ran too slowly"
    assert not tls12_connect(ctx, port, sess)[1], "a ticket two keys old opened"
    assert tls12_connect(ctx, port, fresh)[1], "the renewed ticket did not open"
    lines = access_lines(relais, 5)
    assert [l[1] for l in lines] == ["Initial", "Resumed", "Resumed",
                                     "Initial", "Resumed"], lines


def test_key_file_tickets_survive_a_full_restart(relais, certs, tmp_path):
    """SSLSessionTicketKeyFile (httpd's 48-byte format): a fixed key, so
    a ticket outlives even a stop and start; relaisd warns that keys do
    not rotate."""
    key = tmp_path / "ticket.key"
    key.write_bytes(os.urandom(48))
    extra = "SSLSessionCache none\nSSLSessionTicketKeyFile %s\n" % key
    port = start(relais, certs, extra)
    assert "rotation is off" in relais.error_log()
    sess = str(tmp_path / "sess.pem")
    assert not reused(s_client(port, "-tls1_2", sess_out=sess))
    relais.stop()
    relais.write_conf(conf(certs, port, extra))
    relais.start(port)
    assert reused(s_client(port, "-tls1_2", sess_in=sess))
    # without the file, a new random key: the ticket is refused
    relais.stop()
    relais.write_conf(conf(certs, port, "SSLSessionCache none\n"))
    relais.start(port)
    assert not reused(s_client(port, "-tls1_2", sess_in=sess))


def test_key_file_of_nginx_format(relais, certs, tmp_path):
    key = tmp_path / "ticket80.key"
    key.write_bytes(os.urandom(80))
    port = start(relais, certs, "SSLSessionCache none\n"
                                "SSLSessionTicketKeyFile %s\n" % key)
    sess = str(tmp_path / "sess.pem")
    s_client(port, "-tls1_3", sess_out=sess)
    assert reused(s_client(port, "-tls1_3", sess_in=sess))


def test_key_file_of_wrong_size_is_refused(relais, certs, tmp_path):
    key = tmp_path / "bad.key"
    key.write_bytes(os.urandom(32))
    port = free_port()
    relais.write_conf(conf(certs, port,
                           "SSLSessionTicketKeyFile %s\n" % key))
    proc = relais.start(port, wait=False)
    assert proc.wait(timeout=15) != 0
    text = relais.read("stderr.txt") + relais.error_log()
    assert "SSLSessionTicketKeyFile" in text and "32 bytes" in text, text


@pytest.mark.parametrize("line, words", [
    ("SSLSessionCache dbm:/var/cache/relais/scache",
     ["dbm", "shmcb:/"]),
    ("SSLSessionCache memcache:localhost:11211", ["memcache", "shmcb:/"]),
    ("SSLSessionCache redis:localhost", ["redis"]),
    ("SSLSessionCache dc:UNIX:/var/run/dc", ["dc"]),
    ("SSLSessionCache shmcb:/run/relais/scache(100)", ["size", "100"]),
    ("SSLSessionCache shmcb:/run/relais/scache(512000", ["parentheses"]),
    ("SSLSessionCache files", ["unknown"]),
    ("SSLSessionCacheTimeout soon", ["soon"]),
    ("SSLSessionTicketKeyRotation 0", ["0"]),
])
def test_refused_settings(relais, certs, line, words):
    relais.write_conf(conf(certs, free_port(), line + "\n"))
    r = relais.run("-t")
    assert r.returncode != 0
    err = r.stderr + r.stdout
    assert line.split()[0] in err
    for w in words:
        assert w in err, err


@pytest.mark.parametrize("line", [
    "SSLSessionCache shmcb:/run/relais/ssl_scache(512000)",
    "SSLSessionCache shm:(1M)",
    "SSLSessionCache nonenotnull",
    "SSLSessionCache none",
    "SSLSessionCacheTimeout 600",
])
def test_httpd_spellings_accepted(relais, certs, line):
    relais.write_conf(conf(certs, free_port(), line + "\n"))
    r = relais.run("-t")
    assert r.returncode == 0, r.stderr
    assert "Syntax OK" in r.stdout + r.stderr


def test_bigger_cache_after_graceful_restart(relais, certs, tmp_path):
    """A new size makes a new cache (sessions of the old one are lost, as
    the log says), and the new one works across children."""
    port = start(relais, certs, "SSLSessionTickets off\n")
    relais.write_conf(conf(certs, port, "SSLSessionTickets off\n"
                                        "SSLSessionCache shm:(2M)\n"))
    old = set(relais.children())
    relais.send(signal.SIGUSR1)
    end = time.time() + 15
    while time.time() < end and set(relais.children()) & old:
        time.sleep(0.1)
    wait_children(relais, 4)
    assert "2097152 bytes of shared memory" in relais.error_log()
    assert "the sessions of the old cache are not kept" in \
        relais.error_log()
    sess = str(tmp_path / "sess.pem")
    assert not reused(s_client(port, "-tls1_2", sess_out=sess))
    resume_many(relais, port, sess, ["-tls1_2"], rounds=6)


@pytest.mark.parametrize("tickets", ["on", "off"])
@pytest.mark.parametrize("proto", ["-tls1_2", "-tls1_3"])
def test_resumption_across_virtual_hosts(relais, certs, tmp_path, tickets,
                                         proto):
    """A session resumes on another name only where the same certificate
    is presented and clients are checked alike: not on a virtual host
    with another certificate (the client would trust a certificate it
    never saw for that name), nor where a client certificate is
    required."""
    vhosts = ""
    for name, cert, more in (
            ("localhost", "rsa", ""),
            ("www.test", "rsa", ""),
            ("alt.test", "alt", ""),
            ("a.app.test", "rsa", "SSLVerifyClient require\n"
                                  "SSLCACertificateFile %s\n" % certs.ca_crt)):
        vhosts += """<VirtualHost *:@PORT@>
ServerName %s
SSLEngine on
SSLCertificateFile %s
SSLCertificateKeyFile %s
%s</VirtualHost>
""" % (name, certs.path(cert + ".crt"), certs.path(cert + ".key"), more)
    port = free_port()
    relais.write_conf(conf(certs, port, "SSLSessionTickets %s\n" % tickets +
                           vhosts.replace("@PORT@", str(port))))
    relais.start(port)
    sess = str(tmp_path / "sess.pem")

    def connect(name, *more, **kw):
        cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
               "-servername", name, "-ign_eof", proto] + list(more)
        p = subprocess.run(cmd, input=("GET / HTTP/1.0\r\nHost: %s\r\n\r\n"
                                       % name).encode(),
                           capture_output=True, timeout=20)
        out = p.stdout.decode("latin-1")
        assert " 200 " in out, out + p.stderr.decode("latin-1")
        return reused(out)

    assert not connect("localhost", "-sess_out", sess)
    assert connect("www.test", "-sess_in", sess)
    assert not connect("alt.test", "-sess_in", sess)
    assert not connect("a.app.test", "-sess_in", sess, "-cert",
                       certs.client_crt, "-key", certs.client_key)
    assert connect("localhost", "-sess_in", sess)


def doc_examples():
    """The ```apache blocks of docs/ssl.md's "Session cache and tickets"
    and "OCSP stapling" sections."""
    doc = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "..", "..", "..", "docs", "ssl.md")
    with open(doc) as f:
        text = f.read()
    text = text.split("## Session cache and tickets", 1)[1]
    text = text.split("## TLS to backends", 1)[0]
    return re.findall(r"```apache\n(.*?)```", text, re.S)


@pytest.mark.parametrize("index", range(2))
def test_doc_examples_pass_config_test(relais, certs, index):
    relais.write_conf(conf(certs, free_port(), doc_examples()[index]))
    r = relais.run("-t")
    assert r.returncode == 0, r.stderr
    assert "Syntax OK" in r.stderr
