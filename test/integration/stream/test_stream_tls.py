"""TLS termination on a `Listen … tcp` listener (mod_ssl's SSLEngine in
the stream vhost): TLS clients reach a plain redis-server member."""
import socket
import ssl
import subprocess

import pytest

from helpers_stream import (MPMS, REDIS_CLI, RespReader, free_port,
                            log_entry, needs_module, resp, self_signed,
                            start_stream, stream_conf, stream_vhost)

pytestmark = needs_module


def tls_front(relais, tmp_path, redis, mpm):
    crt, key = self_signed(tmp_path)
    front = free_port()
    start_stream(relais, stream_conf(
        stream_vhost(front, "tcp://127.0.0.1:%d" % redis.port,
                     "SSLEngine on\nSSLCertificateFile %s\n"
                     "SSLCertificateKeyFile %s" % (crt, key)),
        mpm=mpm, modules=("ssl",), listen=[(front, "tcp")]))
    return front, crt


@pytest.mark.parametrize("mpm", MPMS)
def test_redis_ping_over_tls(relais, redis_pair, tmp_path, mpm):
    r1 = redis_pair[0]
    front, crt = tls_front(relais, tmp_path, r1, mpm)
    ctx = ssl.create_default_context(cafile=crt)
    with socket.create_connection(("127.0.0.1", front), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            port = s.getsockname()[1]
            rd = RespReader(s)
            s.sendall(resp("PING"))
            assert rd.reply() == "PONG"
            value = bytes(range(256)) * 2048  # 512 KiB through TLS
            s.sendall(resp("SET", "tls", value) + resp("GET", "tls"))
            assert rd.reply() == "OK"
            assert rd.reply() == value
    assert r1.cli("STRLEN", "tls").strip() == str(len(value))
    e = log_entry(relais, port)
    # bytes counted are the plain ones the member got and sent
    assert e and e["up"] == len(resp("PING") + resp("SET", "tls", value) +
                                resp("GET", "tls")), e


def test_redis_cli_tls_and_plain_refused(relais, redis_pair, tmp_path):
    r1 = redis_pair[0]
    front, crt = tls_front(relais, tmp_path, r1, "event")
    p = subprocess.run([REDIS_CLI, "--tls", "--cacert", crt, "--sni",
                        "localhost", "-h", "127.0.0.1", "-p", str(front),
                        "GET", "whoami"], capture_output=True, text=True,
                       timeout=20)
    assert p.stdout.strip() == "redis1", p.stderr
    p = subprocess.run(["openssl", "s_client", "-connect",
                        "127.0.0.1:%d" % front, "-CAfile", crt,
                        "-verify_return_error", "-quiet", "-servername",
                        "localhost"], input="PING\r\nQUIT\r\n",
                       capture_output=True, text=True, timeout=20)
    assert "+PONG" in p.stdout, p.stderr
    # a plaintext client gets no answer from the member
    with socket.create_connection(("127.0.0.1", front), timeout=10) as s:
        s.sendall(resp("PING"))
        try:
            got = s.recv(100)
        except ConnectionResetError:
            got = b""
        assert b"PONG" not in got
