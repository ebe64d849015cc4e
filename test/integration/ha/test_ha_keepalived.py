"""High availability with keepalived, as conf/examples/keepalived.conf
sets it up: two Relais nodes and a client in network namespaces of the
test's own (helpers_ha.py), keepalived on each node with the example (only
its site parameters changed), `relaisctl status` as the check.

Stopping the master's relaisd (SIGTERM to its PID) moves the virtual
address to the backup within 5 s, while a client sending a request every
50 ms (for at most 15 s) sees at most the request in flight at the stop
fail; every answer after the move comes from node2.  Starting node1's
relaisd again brings the address back to it (the example preempts).
"""
import json
import os
import signal
import subprocess
import sys
import time

from helpers_ha import (ADDR, HERE, PORT, VIP, Keepalived, Node,
                        keepalived_conf, wait_until)

FAILOVER_LIMIT = 5.0  # seconds, from the stop to node2's first answer
LOOP_MAX = 15         # seconds a client loop may run
INTERVAL = 0.05       # seconds between two requests


class Client:
    """ha_client.py in the client namespace, writing one JSON line per
    request."""

    def __init__(self, lab, name):
        self.lab = lab
        self.out = lab.path(name + ".jsonl")
        self.stop_file = lab.path(name + ".stop")
        self.proc = lab.start(
            name, "client",
            [sys.executable, os.path.join(HERE, "ha_client.py"), VIP,
             str(PORT), self.stop_file, str(LOOP_MAX), str(INTERVAL)],
            name + ".jsonl")

    def records(self):
        recs = []
        try:
            with open(self.out) as f:
                for line in f:
                    if line.endswith("\n"):
                        recs.append(json.loads(line))
        except FileNotFoundError:
            pass
        return recs

    def answers_from(self, node, since=0.0):
        return [r for r in self.records()
                if r["ok"] and r["node"] == node and r["t1"] >= since]

    def finish(self):
        open(self.stop_file, "w").close()
        try:
            self.proc.wait(timeout=LOOP_MAX + 10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.records()


def summary(recs, since=0.0):
    """A short account of the client's requests, for failure messages."""
    lines = []
    for r in recs:
        lines.append("%+7.3f %s %s%s" % (
            r["t1"] - since, "ok  " if r["ok"] else "FAIL", r["node"] or "-",
            "" if r["ok"] else " sent=%s %s" % (r["sent"], r["error"])))
    return "\n".join(lines[-60:])


def diagnostics(lab, kas, recs, since):
    return "client:\n%s\n\n%s" % (summary(recs, since), "\n".join(
        "--- %s keepalived:\n%s" % (k.node.role, k.output()[-3000:])
        for k in kas))


def test_vip_moves_to_the_backup_when_the_masters_relais_stops(lab):
    node1, node2 = Node(lab, "node1"), Node(lab, "node2")
    node1.start()
    node2.start()
    conf = keepalived_conf(lab, [node1, node2])
    kas = [Keepalived(lab, node1, conf), Keepalived(lab, node2, conf)]
    for k in kas:
        k.check_config()
        k.start()

    # node1 (MASTER, the higher priority) takes the address once its
    # check has passed twice (init_fail, rise 2)
    assert wait_until(lambda: lab.holds_vip("node1"), 30, 0.2), \
        diagnostics(lab, kas, [], 0)
    assert not lab.holds_vip("node2")
    status, body = lab.curl("http://%s:%d/" % (VIP, PORT))
    assert status == 0 and json.loads(body)["name"] == "node1"

    # ---- failover: stop node1's relaisd while the client runs
    client = Client(lab, "client-failover")
    assert wait_until(lambda: len(client.answers_from("node1")) >= 5, 10), \
        diagnostics(lab, kas, client.records(), 0)
    with open(os.path.join(node1.root, "logs", "relaisd.pid")) as f:
        assert int(f.read()) == node1.proc.pid  # SIGTERM goes to relaisd
    stopped = time.monotonic()
    node1.proc.send_signal(signal.SIGTERM)
    assert node1.proc.wait(timeout=15) == 0
    wait_until(lambda: len(client.answers_from("node2", stopped)) >= 20,
               LOOP_MAX)
    recs = client.finish()
    why = diagnostics(lab, kas, recs, stopped)

    before = [r for r in recs if r["t1"] < stopped]
    after = [r for r in recs if r["t0"] > stopped]
    assert len(before) >= 5 and all(r["ok"] and r["node"] == "node1"
                                    for r in before), why
    node2_answers = [r for r in after if r["ok"] and r["node"] == "node2"]
    assert node2_answers, "node2 never answered on the VIP\n" + why
    failover = node2_answers[0]["t1"] - stopped
    assert failover < FAILOVER_LIMIT, \
        "the VIP took %.2f s to move\n%s" % (failover, why)
    print("failover: node2 answered %.2f s after the stop; %d request(s) "
          "lost, %d connect retries" % (failover, len(
              [r for r in recs if r["sent"] and not r["ok"]]),
              sum(r["retries"] for r in recs)))
    first = recs.index(node2_answers[0])
    assert all(r["ok"] and r["node"] == "node2" for r in recs[first:]), why
    # a request sent and not answered: only one in flight at the stop
    lost = [r for r in recs if r["sent"] and not r["ok"]]
    assert len(lost) <= 1, why
    # every other request got through, to one node or the other
    assert all(r["sent"] for r in recs), why
    assert lab.holds_vip("node2") and not lab.holds_vip("node1")
    assert "Entering FAULT STATE" in kas[0].output()
    assert "Entering MASTER STATE" in kas[1].output()

    # ---- node1's Relais serves again: the example preempts, the VIP
    # comes back to node1 (rise 2, then three advertisements unanswered)
    client = Client(lab, "client-preempt")
    assert wait_until(lambda: len(client.answers_from("node2")) >= 5, 10)
    restarted = time.monotonic()
    node1.start()
    back = wait_until(
        lambda: len(client.answers_from("node1", restarted)) >= 20, LOOP_MAX)
    recs = client.finish()
    why = diagnostics(lab, kas, recs, restarted)
    assert back, "the VIP did not come back to node1\n" + why
    node1_answers = [r for r in recs if r["ok"] and r["node"] == "node1"]
    first = recs.index(node1_answers[0])
    assert all(r["ok"] and r["node"] == "node2" for r in recs[:first]
               if r["ok"]), why
    assert all(r["ok"] and r["node"] == "node1" for r in recs[first:]), why
    assert len([r for r in recs if r["sent"] and not r["ok"]]) <= 1, why
    assert all(r["sent"] for r in recs), why
    assert lab.holds_vip("node1") and not lab.holds_vip("node2")
    # both nodes serve again, each on its own address too
    for node in (node1, node2):
        status, body = lab.curl("http://%s:%d/" % (ADDR[node.role], PORT))
        assert status == 0 and json.loads(body)["name"] == node.role
