"""The backend connection pool: a pooled connection the backend closed is
never used for a request (no client error), disablereuse, ttl, max.

One relaisd thread (StartServers 1, ThreadsPerChild 1) so that backend
connections can be counted exactly."""
import os
import random
import threading
import time

from helpers_proxy import RawConn, get, request_bytes, sha256_hex, start_proxy


def _mixed_requests(c, n, sleep=None):
    """n requests alternating GET and POST on one client connection;
    every one must succeed."""
    for i in range(n):
        if i % 2:
            body = os.urandom(2000 + i)
            c.send(request_bytes("POST", "/p/%d" % i, body=body))
        else:
            body = b""
            c.send(request_bytes("GET", "/g/%d" % i))
        resp = c.read_response()
        assert resp.status == 200, (i, resp)
        j = resp.json()
        assert j["target"] == ("/p/%d" % i if i % 2 else "/g/%d" % i)
        assert j["body_sha256"] == sha256_hex(body)
        if sleep is not None:
            time.sleep(sleep(i))


def test_backend_connection_close_each_response(relais, backend):
    """Connection: close from the backend on every response: the proxy
    never pools those connections; 50 requests, 50 backend connections,
    no client error."""
    backend.on("/", close=True)
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url,
                       one_thread=True)
    with RawConn(port) as c:
        _mixed_requests(c, 50)
    assert backend.accepted == 50


def test_backend_silent_close_after_each_response(relais, backend):
    """The backend closes after every response without saying so (keeps
    HTTP/1.1 keep-alive semantics on the wire): the closed pooled
    connection is noticed before reuse; no client error over 50 requests,
    GET and POST alike."""
    backend.on("/", silent_close=True)
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url,
                       one_thread=True)
    with RawConn(port) as c:
        _mixed_requests(c, 50, sleep=lambda i: 0.01)
    assert len(backend.requests) == 50


def test_backend_idle_timeout_closes_pooled_connection(make_backend, relais):
    """The backend closes connections idle for 0.1 s; the client pauses
    0.15 s between some requests: the dead pooled connection is never
    used; no client error over 50 requests."""
    backend = make_backend(keepalive_timeout=0.1)
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url,
                       one_thread=True)
    with RawConn(port) as c:
        _mixed_requests(c, 50, sleep=lambda i: 0.15 if i % 3 == 0 else 0)
    assert len(backend.requests) == 50
    assert backend.accepted >= 17


def test_backend_idle_timeout_race(make_backend, relais):
    """Pauses around the backend's idle timeout, so that it sometimes
    closes just as the proxy reuses the connection: GETs are retried on a
    new connection, so no client error over 50 requests."""
    backend = make_backend(keepalive_timeout=0.05)
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url,
                       one_thread=True)
    rnd = random.Random(1234)
    with RawConn(port) as c:
        for i in range(50):
            c.send(request_bytes("GET", "/race/%d" % i))
            resp = c.read_response()
            assert resp.status == 200, (i, resp)
            time.sleep(rnd.uniform(0.03, 0.07))


def test_disablereuse_opens_a_connection_per_request(relais, backend):
    port = start_proxy(relais, "ProxyPass / %s/ disablereuse=On\n"
                       % backend.url, one_thread=True)
    with RawConn(port) as c:
        for i in range(10):
            c.send(request_bytes(target="/d%d" % i))
            assert c.read_response().status == 200
    assert backend.accepted == 10
    for r in backend.requests:
        assert (r.header("Connection") or "").lower() == "close"


def test_enablereuse_off_opens_a_connection_per_request(relais, backend):
    port = start_proxy(relais, "ProxyPass / %s/ enablereuse=Off\n"
                       % backend.url, one_thread=True)
    for i in range(5):
        assert get(port, "/e%d" % i).status == 200
    assert backend.accepted == 5


def test_ttl_drops_idle_pooled_connection(relais, backend):
    """ttl=1: a connection idle longer than 1 s is not reused."""
    port = start_proxy(relais, "ProxyPass / %s/ ttl=1\n" % backend.url,
                       one_thread=True)
    with RawConn(port) as c:
        for target in ("/t1", "/t2"):
            c.send(request_bytes(target=target))
            assert c.read_response().status == 200
        assert backend.accepted == 1
        time.sleep(1.5)
        c.send(request_bytes(target="/t3"))
        assert c.read_response().status == 200
    assert backend.accepted == 2


def test_reuse_with_several_threads_bounded(relais, backend):
    """8 concurrent clients doing 50 requests each through 2 event loops:
    the backend sees far fewer connections than requests (at most a few
    per loop), never one per request."""
    port = start_proxy(relais, "ProxyPass / %s/\n" % backend.url,
                       mpm_extra="StartServers 1\nServerLimit 1\n"
                                 "ThreadsPerChild 2\n")
    errors = []

    def client(k):
        try:
            with RawConn(port) as c:
                for i in range(50):
                    c.send(request_bytes(target="/c%d/%d" % (k, i)))
                    resp = c.read_response()
                    if resp.status != 200:
                        errors.append(resp)
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors[:3]
    assert len(backend.requests) == 400
    assert backend.accepted <= 16, backend.accepted


def test_max_caps_connections(relais, backend):
    """max=1: one backend connection per child even with two concurrent
    slow requests (the second waits or gets 503, never a second
    connection)."""
    backend.on("/slow", delay=0.5)
    port = start_proxy(relais, "ProxyPass / %s/ max=1\n" % backend.url,
                       mpm_extra="StartServers 1\nServerLimit 1\n"
                                 "ThreadsPerChild 2\n")
    results = []

    def one():
        try:
            results.append(get(port, "/slow").status)
        except Exception as e:
            results.append(repr(e))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert backend.accepted == 1, (backend.accepted, results)
    assert 200 in results
    assert all(r in (200, 503) for r in results), results
