"""mod_healthcheck runs its checks in parallel, each with its own deadline:
a member that accepts connections and never answers (a black hole) keeps
its check pending until its timeout= without delaying the checks of the
other members."""
import datetime
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "proxy"))

from helpers_proxy import Backend  # noqa: E402

from conftest import free_port  # noqa: E402
from helpers_balancer import balancer_conf  # noqa: E402


class BlackHole:
    """Listens on 127.0.0.1, accepts every connection, reads nothing and
    answers nothing; the accepted sockets stay open until stop()."""

    def __init__(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def _accept(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self.conns.append(c)

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=5)
        self.lsock.close()
        for c in self.conns:
            c.close()


LOG_TIME = re.compile(r"^\[(\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d)\.(\d{6}) "
                      r"(\d{4})\]")


def log_time(line):
    """The time of an error_log line, as seconds since the epoch."""
    m = LOG_TIME.match(line)
    assert m, line
    t = datetime.datetime.strptime("%s %s" % (m.group(1), m.group(3)),
                                   "%a %b %d %H:%M:%S %Y")
    return time.mktime(t.timetuple()) + int(m.group(2)) / 1e6


def wait_line(relais, pattern, timeout):
    rx = re.compile(pattern)
    end = time.time() + timeout
    while time.time() < end:
        for line in relais.error_log().splitlines():
            if rx.search(line):
                return line
        time.sleep(0.02)
    return None


def test_black_hole_does_not_delay_the_other_checks(relais):
    hole, b = BlackHole(), Backend()
    try:
        front = free_port()
        relais.write_conf(balancer_conf(front, """
    BalancerMember %s hcmethod=GET hcuri=/health hcinterval=200ms timeout=5
    BalancerMember %s hcmethod=GET hcuri=/health hcinterval=200ms hcfails=2"""
                                        % (hole.url, b.url)))
        started = time.time()
        relais.start(front)
        # the black hole's first check is pending (it accepted, no answer)
        end = time.time() + 3
        while not hole.conns and time.time() < end:
            time.sleep(0.02)
        assert hole.conns, "the black hole was never checked"
        time.sleep(0.6)  # while the other member passes a few checks
        flip = time.time()
        b.on("/health", status=503, reason="Unavailable")
        line = wait_line(relais, r"member %s failed its health check 2 "
                         r"time\(s\) \(status 503" % re.escape(b.url), 4)
        assert line is not None, relais.error_log()
        # hcinterval x hcfails + 1 s, from the flip
        assert log_time(line) - flip <= 0.2 * 2 + 1.0, (line, flip)
        # ... while the black hole's check was still pending
        assert "member %s failed" % hole.url not in relais.error_log()
        assert time.time() - started < 5
        # the black hole is taken out once its timeout= (5 s) has passed
        hline = wait_line(relais, r"member %s failed its health check 1 "
                          r"time\(s\) \(no answer within 5 s\)"
                          % re.escape(hole.url), 8)
        assert hline is not None, relais.error_log()
        first = log_time(hline) - started
        assert 4.8 <= first <= 7.5, first
        # one check at a time per member: no pile of connections
        assert len(hole.conns) <= 2
    finally:
        hole.stop()
        b.stop()
