"""Configuration errors of mod_proxy_stream, found by `relaisd -t`: each
names the file and line, and the directive at fault."""
import re

from helpers_stream import (balancer, free_port, free_udp_port, needs_module,
                            stream_conf)

pytestmark = needs_module


def line_of(text, needle, nth=1):
    """1-based line number of the nth line of text holding needle."""
    seen = 0
    for i, line in enumerate(text.split("\n"), 1):
        if needle in line:
            seen += 1
            if seen == nth:
                return i
    raise AssertionError("%r not in the configuration" % needle)


def check(relais, text, needle, directive, nth=1):
    """relaisd -t refuses text, naming relais.conf:<line of needle> and
    the directive; returns stderr."""
    relais.write_conf(text)
    res = relais.run("-t")
    err = res.stderr + res.stdout
    assert res.returncode != 0, err
    where = "relais.conf:%d" % line_of(text, needle, nth)
    hits = [l for l in err.splitlines() if where in l]
    assert hits, "expected an error at %s:\n%s\n%s" % (where, err, text)
    assert any(directive in l for l in hits), err
    return err


def test_proxy_stream_in_an_http_vhost(relais):
    http = free_port()
    text = stream_conf("<VirtualHost 127.0.0.1:%d>\n"
                       "    ProxyStream tcp://127.0.0.1:9\n"
                       "</VirtualHost>\n" % http, listen=[(http, "")])
    err = check(relais, text, "ProxyStream tcp://", "ProxyStream")
    assert re.search(r"tcp|udp", err.split("ProxyStream", 1)[1]), err


def test_proxy_stream_in_the_main_server(relais):
    http = free_port()
    text = stream_conf("ProxyStream tcp://127.0.0.1:9\n", listen=[(http, "")])
    check(relais, text, "ProxyStream tcp://", "ProxyStream")


def test_tcp_listener_vhost_without_proxy_stream(relais):
    front = free_port()
    text = stream_conf("<VirtualHost 127.0.0.1:%d>\n"
                       "    ServerName nothing.test\n"
                       "</VirtualHost>\n" % front, listen=[(front, "tcp")])
    relais.write_conf(text)
    res = relais.run("-t")
    err = res.stderr + res.stdout
    assert res.returncode != 0, err
    # the vhost or the Listen line is named, and what to add
    lines = (line_of(text, "<VirtualHost"), line_of(text, "Listen 127."))
    assert any("relais.conf:%d" % n in err for n in lines), err
    assert "ProxyStream" in err, err


def test_udp_members_on_a_tcp_listener(relais):
    front = free_port()
    text = stream_conf(
        balancer("dns", ["udp://127.0.0.1:5301", "udp://127.0.0.1:5302"]) +
        "<VirtualHost 127.0.0.1:%d>\n"
        "    ProxyStream balancer://dns\n"
        "</VirtualHost>\n" % front, listen=[(front, "tcp")])
    err = check(relais, text, "ProxyStream balancer://dns", "ProxyStream")
    assert "udp" in err, err


def test_tcp_member_on_a_udp_listener(relais):
    front = free_udp_port()
    text = stream_conf("<VirtualHost 127.0.0.1:%d>\n"
                       "    ProxyStream tcp://127.0.0.1:53\n"
                       "</VirtualHost>\n" % front, listen=[(front, "udp")])
    check(relais, text, "ProxyStream tcp://", "ProxyStream")


def test_bad_values(relais):
    front = free_port()
    text = stream_conf(
        balancer("m", ["tcp://127.0.0.1:9 proxyprotocol=v3"]) +
        "<VirtualHost 127.0.0.1:%d>\n"
        "    ProxyStream balancer://m\n"
        "</VirtualHost>\n" % front, listen=[(front, "tcp")])
    relais.write_conf(text)
    res = relais.run("-t")
    err = res.stderr + res.stdout
    assert res.returncode != 0, err
    assert "relais.conf:%d" % line_of(text, "proxyprotocol=v3") in err, err
    assert "proxyprotocol" in err, err
