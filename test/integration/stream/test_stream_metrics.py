"""Stream traffic in mod_status: TCP connections relayed by
mod_proxy_stream count in the members' counters that /metrics and the
balancer's shared state show, as HTTP requests do."""
import re
import urllib.request

from conftest import free_port
from helpers_stream import needs_module, redis_cli, start_stream, stream_conf

pytestmark = needs_module


def sample(text, name, **labels):
    """The value of one sample of the Prometheus text, or None."""
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(r"^(\w+)\{([^}]*)\} (\S+)$", line)
        if m and m.group(1) == name and \
                ",".join(sorted(m.group(2).split(","))) == want:
            return float(m.group(3))
    return None


def test_stream_connections_show_in_metrics(relais, redis_pair):
    r1, r2 = redis_pair
    tcp, web = free_port(), free_port()
    start_stream(relais, stream_conf("""
<Proxy balancer://redis>
    BalancerMember tcp://127.0.0.1:%d
    BalancerMember tcp://127.0.0.1:%d
</Proxy>
<VirtualHost 127.0.0.1:%d>
    ProxyStream balancer://redis
</VirtualHost>
<VirtualHost 127.0.0.1:%d>
    <Location /metrics>
        SetHandler metrics
    </Location>
</VirtualHost>
""" % (r1.port, r2.port, tcp, web), listen=[(tcp, "tcp"), (web, "http")],
        modules=("status",)), tcp_port=tcp)
    before = urllib.request.urlopen(
        "http://127.0.0.1:%d/metrics" % web, timeout=10).read().decode()
    members = ["tcp://127.0.0.1:%d" % r.port for r in (r1, r2)]

    def selected(text):
        return sum(sample(text, "relais_member_selected_total",
                          balancer="balancer://redis", member=m) or 0
                   for m in members)

    for i in range(6):
        assert redis_cli(tcp, "SET", "k%d" % i, "v" * 100).strip() == "OK"
    after = urllib.request.urlopen(
        "http://127.0.0.1:%d/metrics" % web, timeout=10).read().decode()
    # six client connections (the start-up probe may add one)
    assert selected(after) - selected(before) >= 6, after
    sent = sum(sample(after, "relais_member_sent_bytes_total",
                      balancer="balancer://redis", member=m) or 0
               for m in members)
    assert sent >= 6 * 100, after
    for m in members:
        assert sample(after, "relais_member_up",
                      balancer="balancer://redis", member=m) == 1, after
    relais.stop()
