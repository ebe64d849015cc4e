"""The configuration examples of docs/ssl.md (the server side, up to its
"Session cache and tickets" section) pass `relaisd -t` with the test
PKI in place of /etc/relais/tls, and the first one serves requests."""
import os
import re

import pytest

from helpers_ssl_server import TLSConn, context, free_port, mpm_lines

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))), "docs", "ssl.md")

# the doc's file names -> the test PKI's
FILES = {"www.rsa.crt": "rsa.crt", "www.rsa.key": "rsa.key",
         "www.ec.crt": "ec.crt", "www.ec.key": "ec.key",
         "api.crt": "alt.crt", "api.key": "alt.key",
         "clients-ca.pem": "ca.crt"}


def examples():
    with open(DOC) as f:
        text = f.read()
    text = text.split("## Session cache and tickets")[0]
    return re.findall(r"```apache\n(.*?)```", text, re.S)


def runnable(block, certs, port, backend_url=None):
    for doc_name, ours in FILES.items():
        block = block.replace("/etc/relais/tls/" + doc_name, certs.path(ours))
    block = block.replace("Listen 443 https",
                          "Listen 127.0.0.1:%d https" % port)
    block = block.replace("*:443>", "*:%d>" % port)
    if backend_url:
        block = re.sub(r"http://10\.0\.0\.\d+:8080", backend_url, block)
    head = mpm_lines("event")
    for m in ("ssl", "proxy", "log", "headers", "acl"):
        if "LoadModule %s_module" % m not in block:
            head += "LoadModule %s_module modules/mod_%s.so\n" % (m, m)
    if "Listen " not in block:
        head += "Listen 127.0.0.1:%d\n" % port
    head += "ErrorLog logs/error_log\nLogLevel info\n"
    # LoadModule lines must come first
    loads = [l for l in block.splitlines() if l.startswith("LoadModule")]
    rest = [l for l in block.splitlines() if not l.startswith("LoadModule")]
    return "\n".join(loads) + "\n" + head + "\n".join(rest) + "\n"


def test_the_doc_has_examples():
    assert len(examples()) >= 6


@pytest.mark.parametrize("index", range(len(examples())))
def test_example_passes_config_test(relais, certs, index):
    relais.write_conf(runnable(examples()[index], certs, free_port()))
    p = relais.run("-t")
    assert p.returncode == 0, (examples()[index], p.stderr)
    assert "Syntax OK" in p.stderr


def test_first_example_serves(relais, certs, backend):
    port = free_port()
    relais.write_conf(runnable(examples()[0], certs, port, backend.url))
    relais.start(port)
    ctx = context(certs)
    ctx.check_hostname = False  # the test certificate names localhost
    with TLSConn(port, ctx, sni="www.example.com") as c:
        assert c.version == "TLSv1.3"
        assert c.request("/doc", host="www.example.com").status == 200
    assert backend.last().target == b"/doc"
