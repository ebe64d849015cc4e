"""Idle keep-alive connections give their pool back (server/http_conn.c,
rl_conn_rest): under the event MPM, once a keep-alive connection waiting
for its next request has been idle for 200 ms, the loop's timer (a tick
every 250 ms at most) destroys c->pool; the next request makes a new one.
A module's non-NULL conn_config slot keeps the pool for the connection's
life.  Under prefork and worker nothing is given back today (at most one
rest per idle gap is accepted there), and the same guarantees hold: c->pool
is there in every hook.

These tests drive the real relaisd with the test module mod_connstate
(test/testmods/mod_connstate.c), whose handler reports what it sees of the
connection (pool=1 count=N keep=K ... freed=D, see the module's header):

  * state kept in conn_config survives idle gaps (and one stored from
    pre_connection survives the wait for the first request);
  * without state, the pool is given back in each idle gap under event
    (freed grows by one per gap), never between back-to-back requests, and
    the connection keeps working;
  * pipelined requests: no rest while bytes of a request are buffered.

What an idle connection costs in memory is measured with 10,000 of them
by test/integration/http/test_idle_connections.py.

All servers listen on 127.0.0.1 on free ports; every relaisd is stopped by
PID by the `relais` fixture.
"""
import os
import selectors
import socket
import time

import pytest

from conftest import BUILD, MPMS, free_port, mpm_lines

TESTMOD = os.path.join(BUILD, "testmods", "mod_connstate.so")
# A pause after which an idle event-MPM connection has surely rested: 200 ms
# idle (REST_AFTER) plus up to one 250 ms tick (EV_TICK_MS), plus margin.
REST_PAUSE = 0.65
# Under prefork and worker (nothing rests): just an idle gap.
IDLE_PAUSE = 0.3


def pause_for(mpm):
    return REST_PAUSE if mpm == "event" else IDLE_PAUSE


def assert_rests(freed, gaps, mpm, what):
    """freed[i] values reported by successive requests; gaps[i] (for i >= 1)
    is True when the connection was idle, with nothing buffered, between
    request i-1 and request i.  Under event each such gap rests the pool
    exactly once (freed + 1); under prefork/worker at most once.  Never
    while bytes of a request are buffered."""
    diffs = [b - a for a, b in zip(freed, freed[1:])]
    for i, d in enumerate(diffs, 1):
        if not gaps[i]:
            assert d == 0, "%s: a pool rested with a request buffered " \
                "(before request %d): freed %r" % (what, i, freed)
        elif mpm == "event":
            assert d == 1, "%s: expected one pool given back in the idle " \
                "gap before request %d: freed %r" % (what, i, freed)
        else:
            assert d in (0, 1), "%s: freed %r" % (what, freed)


def conf(mpm, port, top=""):
    """One child, one thread (one event loop): the module's per-process
    counters then describe exactly the connections of the test."""
    return mpm_lines(mpm) + """
StartServers 1
ServerLimit 1
ThreadsPerChild 1
LoadModule connstate_module %s
Listen 127.0.0.1:%d
ErrorLog logs/error_log
LogLevel info
PidFile logs/relaisd.pid
KeepAliveTimeout 60
MaxKeepAliveRequests 0
%s
SetHandler connstate
""" % (TESTMOD, port, top)


def start(relais, mpm, top="", preexec_fn=None):
    port = free_port()
    relais.write_conf(conf(mpm, port, top=top))
    relais.start(port, preexec_fn=preexec_fn)
    return port


def request(keep=False, target="/"):
    head = "GET %s HTTP/1.1\r\nHost: localhost\r\n" % target
    if keep:
        head += "X-Keep: 1\r\n"
    return (head + "\r\n").encode("latin-1")


def parse_fields(body):
    """b"pool=1 count=2 ..." -> {"pool": "1", "count": "2", ...}"""
    out = {}
    for word in body.decode("latin-1").split():
        k, _, v = word.partition("=")
        out[k] = v
    return out


class Conn:
    """One keep-alive client connection; responses carry Content-Length."""

    def __init__(self, port, timeout=5.0, sock=None):
        self.sock = sock or socket.create_connection(("127.0.0.1", port),
                                                     timeout=timeout)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        assert left > 0, "no complete response in time; have %r" % self.buf
        self.sock.settimeout(left)
        b = self.sock.recv(65536)
        assert b, "the server closed the connection; have %r" % self.buf
        self.buf += b

    def read_response(self):
        """(status, head bytes, fields of the body)"""
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        i = self.buf.index(b"\r\n\r\n") + 4
        head, self.buf = self.buf[:i], self.buf[i:]
        status = int(head.split(b" ", 2)[1])
        length = None
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        assert length is not None, "no Content-Length: %r" % head
        while len(self.buf) < length:
            self._fill(deadline)
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, head, parse_fields(body)

    def get(self, keep=False):
        self.sock.sendall(request(keep))
        status, head, f = self.read_response()
        assert status == 200, (head, f)
        assert b"connection: close" not in head.lower(), head
        return f

    def still_open(self, wait=0.1):
        """True when the server neither closed nor sent anything."""
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        ready = sel.select(timeout=wait)
        sel.close()
        return not ready and not self.buf


def ints(fields, name):
    return [int(f[name]) for f in fields]


def assert_sane(fields):
    """What must hold in every handler call."""
    for f in fields:
        assert f["pool"] == "1", "c->pool is NULL in a handler: %r" % f
        assert f["sock"] == "1", "c->sock or c->conn_config NULL: %r" % f
        assert f["parent"] == "1", "r->pool is not a child of c->pool: %r" % f
        assert f["preconn_bad"] == "0", (
            "pre_connection saw c->pool/sock/conn_config NULL: %r" % f)
    # one connection, one child
    assert len({f["id"] for f in fields}) == 1, fields
    assert len({f["pid"] for f in fields}) == 1, fields


# -- (a) state kept in conn_config survives idle gaps ------------------


@pytest.mark.parametrize("mpm", MPMS)
def test_kept_state_survives_idle_gaps(relais, mpm):
    port = start(relais, mpm)
    seen = []
    with Conn(port) as c:
        for i in range(3):
            if i:
                time.sleep(pause_for(mpm))
            seen.append(c.get(keep=True))
        assert c.still_open()
    assert_sane(seen)
    assert ints(seen, "count") == [1, 2, 3], seen
    assert [f["keep"] for f in seen] == ["1"] * 3, seen
    # the counter lives in the pool the connection has now: the core kept
    # it (a new pool under a kept slot would show samepool=0)
    assert [f["samepool"] for f in seen] == ["1"] * 3, seen
    # ... and never destroyed it during the gaps
    freed = ints(seen, "freed")
    assert freed == [freed[0]] * 3, "a kept pool was destroyed: %r" % seen
    assert ints(seen, "served") == [0, 1, 2], seen

    # Once that connection closes, its kept pool is destroyed: a new
    # connection (same child: ServerLimit 1) sees freed one higher.
    time.sleep(0.3)
    with Conn(port) as c:
        f = c.get()
    assert f["pid"] == seen[0]["pid"], (f, seen)
    assert f["keep"] == "0" and f["count"] == "0", f
    assert int(f["freed"]) == freed[0] + 1, (
        "the kept pool of the closed connection was not destroyed "
        "(or destroyed twice): before %d, now %s" % (freed[0], f["freed"]))


def test_state_set_at_connect_survives_first_wait(relais):
    """A slot set in pre_connection keeps the pool through the wait for the
    first request and the idle gaps (event MPM: the only one that rests)."""
    port = start(relais, "event", top="ConnStateAtConnect On")
    seen = []
    with Conn(port) as c:
        for i in range(3):
            time.sleep(REST_PAUSE)
            seen.append(c.get())  # no X-Keep: the slot is already set
    assert_sane(seen)
    assert ints(seen, "count") == [1, 2, 3], seen
    assert [f["keep"] for f in seen] == ["1"] * 3, seen
    assert [f["samepool"] for f in seen] == ["1"] * 3, seen
    freed = ints(seen, "freed")
    assert freed == [freed[0]] * 3, seen


# -- (b) without state: the pool rests in idle gaps, the connection lives


@pytest.mark.parametrize("mpm", MPMS)
def test_connection_without_state_rests_and_lives(relais, mpm):
    port = start(relais, mpm)
    quick, slow = 20, 4
    seen = []
    with Conn(port) as c:
        # a busy client: back-to-back requests, never idle for 200 ms
        for i in range(quick):
            seen.append(c.get())
        # then requests with idle gaps
        for i in range(slow):
            time.sleep(pause_for(mpm))
            seen.append(c.get())
        assert c.still_open(), "the server closed the idle connection"
    assert_sane(seen)
    for f in seen:
        assert (f["count"], f["keep"], f["samepool"]) == ("0", "0", "-"), f
    assert ints(seen, "served") == list(range(quick + slow)), seen
    freed = ints(seen, "freed")
    if mpm == "event":
        # not after each request: only once idle for a while
        assert freed[:quick] == [freed[0]] * quick, (
            "a pool was given back between back-to-back requests: %r"
            % freed[:quick])
    assert_rests(freed[quick - 1:], [None] + [True] * slow, mpm,
                 "idle gaps")


# -- (d) pipelined requests, with rests between the batches ------------


@pytest.mark.parametrize("mpm,keep", [(m, False) for m in MPMS]
                         + [("event", True)])
def test_pipelined_batches_with_rests(relais, mpm, keep):
    port = start(relais, mpm)
    batches = 3
    seen = []
    with Conn(port) as c:
        for b in range(batches):
            if b:
                time.sleep(pause_for(mpm))
            c.sock.sendall(request(keep, "/b%d-1" % b)
                           + request(keep, "/b%d-2" % b))
            for _ in range(2):
                status, head, f = c.read_response()
                assert status == 200, (head, f)
                seen.append(f)
        assert c.still_open()
    assert_sane(seen)
    n = 2 * batches
    assert ints(seen, "served") == list(range(n)), seen
    freed = ints(seen, "freed")
    if keep:
        assert ints(seen, "count") == list(range(1, n + 1)), seen
        assert [f["samepool"] for f in seen] == ["1"] * n, seen
        assert freed == [freed[0]] * n, seen
    else:
        assert ints(seen, "count") == [0] * n, seen
        # no rest between the two requests of a batch (the second was
        # already buffered); one between batches under event
        assert_rests(freed, [None] + [i % 2 == 0 for i in range(1, n)],
                     mpm, "pipelined batches")


@pytest.mark.parametrize("mpm", MPMS)
def test_request_head_split_across_a_pause(relais, mpm):
    """Bytes of a request head wait in the buffer across a pause: the core
    must not rest (or lose) anything while they are there."""
    port = start(relais, mpm)
    with Conn(port) as c:
        first = c.get()
        time.sleep(pause_for(mpm))         # rests (event)
        whole = request(target="/split")
        c.sock.sendall(whole[:20])         # a pool again, a partial head
        time.sleep(pause_for(mpm))         # must not rest
        c.sock.sendall(whole[20:])
        status, head, second = c.read_response()
        assert status == 200, (head, second)
        time.sleep(pause_for(mpm))         # rests (event)
        third = c.get()
        assert c.still_open()
    seen = [first, second, third]
    assert_sane(seen)
    assert ints(seen, "served") == [0, 1, 2], seen
    # one rest before the partial head, none while it waited, one after
    freed = ints(seen, "freed")
    if mpm == "event":
        assert freed == [freed[0], freed[0] + 1, freed[0] + 2], seen
    else:
        assert_rests(freed, [None, True, True], mpm, "split head")

