"""The client of test_ha_keepalived.py, run inside the client network
namespace (`ip netns exec NS python3 ha_client.py …`): one request to the
virtual address every INTERVAL seconds, for at most MAX seconds or until
the file STOP exists.  Each request is one JSON line on stdout:

  {"t0": start, "t1": end (time.monotonic(), comparable with the test's),
   "ok": true when a 200 came back, "node": its EchoName ("node1"),
   "sent": whether the request was written (false: never connected),
   "retries": refused or timed-out connection attempts before it,
   "error": what went wrong}

A connection that is refused or not answered (no one holds the address,
or holds it without a server behind it) is tried again every 50 ms for
up to 6 s, as HTTP clients retry a connect failure: nothing was sent, so
nothing can be lost.  A request that was sent and got no complete answer
is a failure (it was in flight when its server went away).

Usage: ha_client.py HOST PORT STOP MAX INTERVAL
"""
import json
import os
import socket
import sys
import time

CONNECT_TIMEOUT = 0.5
ANSWER_TIMEOUT = 2.0
RETRY_FOR = 6.0


def connect(host, port, start, rec):
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(CONNECT_TIMEOUT)
        try:
            s.connect((host, port))
            return s
        except OSError as e:
            s.close()
            rec["retries"] += 1
            rec["error"] = repr(e)
            if time.monotonic() - start > RETRY_FOR:
                return None
            time.sleep(0.05)


def one_request(host, port):
    start = time.monotonic()
    rec = {"t0": start, "ok": False, "node": None, "sent": False,
           "retries": 0, "error": None}
    s = connect(host, port, start, rec)
    if s is None:
        rec["t1"] = time.monotonic()
        return rec
    try:
        s.settimeout(ANSWER_TIMEOUT)
        s.sendall(b"GET /ha HTTP/1.1\r\nHost: vip\r\n"
                  b"Connection: close\r\n\r\n")
        rec["sent"] = True
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.1 200 "):
            rec["node"] = json.loads(body)["name"]
            rec["ok"] = True
            rec["error"] = None
        else:
            rec["error"] = "answer: %r" % data[:80]
    except (OSError, ValueError, KeyError) as e:
        rec["error"] = repr(e)
    finally:
        s.close()
    rec["t1"] = time.monotonic()
    return rec


def main():
    host, port, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    max_seconds, interval = float(sys.argv[4]), float(sys.argv[5])
    end = time.monotonic() + max_seconds
    while time.monotonic() < end and not os.path.exists(stop):
        rec = one_request(host, port)
        sys.stdout.write(json.dumps(rec) + "\n")
        sys.stdout.flush()
        time.sleep(interval)


if __name__ == "__main__":
    main()
