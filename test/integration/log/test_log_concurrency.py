"""Many clients at once, under each MPM: every request gives exactly one
whole line, and lines of different threads and processes never
interleave, to a file (one write() per line on O_APPEND) and to a piped
program (writes longer than PIPE_BUF serialised by a lock shared by the
children), with and without BufferedLogs."""
import http.client
import threading

import pytest

from conftest import MPMS
from log_helpers import COMBINED_RE, log_path, read_lines, start

CLIENTS = 8
REQUESTS = 500

# Several processes and several threads each, so that both kinds of
# concurrency are exercised.
MPM_CONF = {
    "event": "StartServers 2\nThreadsPerChild 4\n",
    "worker": "StartServers 2\nThreadsPerChild 8\n",
    "prefork": ("StartServers 10\nMinSpareServers 10\nMaxSpareServers 20\n"
                "MaxRequestWorkers 20\n"),
}


def agent(client, i):
    """A User-Agent whose length varies from 50 bytes to 6 KiB (longer
    than PIPE_BUF), and that says who sent it and how long it is."""
    size = 50 + (client * 7919 + i * 104729) % 6100
    head = "c%d-r%d-n%d-" % (client, i, size)
    return head + "x" * (size - len(head))


def run_clients(port, clients=CLIENTS, requests=REQUESTS):
    errors = []

    def one_client(client):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for i in range(requests):
                conn.request("GET", "/c%d/r%d" % (client, i),
                             headers={"User-Agent": agent(client, i)})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    errors.append(resp.status)
                if resp.will_close:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port,
                                                      timeout=30)
        except Exception as e:  # reported below, in the main thread
            errors.append(repr(e))
        finally:
            conn.close()

    threads = [threading.Thread(target=one_client, args=(c,))
               for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:5]


def check_lines(lines, clients=CLIENTS, requests=REQUESTS):
    assert len(lines) == clients * requests
    seen = set()
    for line in lines:
        m = COMBINED_RE.match(line)
        assert m, line[:300]
        request, status, ua = m.group(5), m.group(6), m.group(9)
        assert status == "200"
        client, i = request.split()[1].strip("/").split("/")
        client, i = int(client[1:]), int(i[1:])
        assert ua == agent(client, i), line[:300]
        seen.add((client, i))
    assert len(seen) == clients * requests


@pytest.mark.parametrize("mpm", MPMS)
def test_concurrent_clients_file(relais, mpm):
    port = start(relais, MPM_CONF[mpm] + "LimitRequestFieldSize 16384\n"
                 "CustomLog logs/access_log combined\n", mpm=mpm)
    run_clients(port)
    check_lines(read_lines(log_path(relais, "access_log"),
                           CLIENTS * REQUESTS))


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_concurrent_clients_buffered(relais, mpm):
    port = start(relais, MPM_CONF[mpm] + "LimitRequestFieldSize 16384\n"
                 "BufferedLogs On\nCustomLog logs/access_log combined\n",
                 mpm=mpm)
    run_clients(port)
    # within the flush interval, without stopping the server
    check_lines(read_lines(log_path(relais, "access_log"),
                           CLIENTS * REQUESTS, timeout=5))


# A piped program that reads slowly, so that the pipe is often full: a
# write longer than PIPE_BUF then goes through in pieces, and without the
# children's shared lock the pieces of different lines would interleave.
SLOW_READER = """
import sys, time
with open(sys.argv[1], "ab") as out:
    while True:
        data = sys.stdin.buffer.read1(2048)
        if not data:
            break
        out.write(data)
        out.flush()
        time.sleep(0.001)
"""


@pytest.mark.parametrize("mpm", ["worker", "prefork"])
def test_concurrent_clients_pipe(relais, mpm):
    out = log_path(relais, "piped_log")
    reader = relais.write_conf(SLOW_READER, "slow_reader.py")
    port = start(relais, MPM_CONF[mpm] + "LimitRequestFieldSize 16384\n"
                 'CustomLog "|/usr/bin/python3 %s %s" combined\n' %
                 (reader, out), mpm=mpm)
    run_clients(port, requests=200)
    check_lines(read_lines(out, CLIENTS * 200, timeout=30),
                requests=200)
