"""mod_log and mod_proxy together: every proxied request gets an access log
line that names the backend and its timings (json), and a failed backend
shows in the status and the attempt count."""
import json
import os
import time

from helpers_proxy import free_port, get, start_proxy


def read_json_lines(relais, name, want, timeout=5.0):
    path = os.path.join(relais.root, "logs", name)
    end = time.time() + timeout
    lines = []
    while time.time() < end:
        if os.path.exists(path):
            with open(path) as f:
                lines = [json.loads(l) for l in f if l.strip()]
            if len(lines) >= want:
                return lines
        time.sleep(0.05)
    return lines


def test_json_log_names_backend_and_timings(relais, backend):
    port = start_proxy(relais, """
LoadModule log_module modules/mod_log.so
CustomLog logs/access.json json
ProxyPass /app/ http://127.0.0.1:%d/up/ retry=0
""" % backend.port, one_thread=True)
    assert get(port, "/app/a?x=1").status == 200
    assert get(port, "/app/b").status == 200
    lines = read_json_lines(relais, "access.json", 2)
    assert len(lines) == 2, lines
    first = lines[0]
    assert first["uri"] == "/app/a"
    assert first["status"] == 200
    assert first["member"] == "http://127.0.0.1:%d" % backend.port
    assert first["attempts"] == 1
    assert first["backend_connect_us"] >= 0
    assert first["backend_response_us"] >= first["backend_connect_us"]
    assert first["duration_us"] >= first["backend_response_us"]
    # the second request reused the pooled connection
    assert backend.accepted == 1


def test_failed_backend_logged_as_503(relais):
    dead = free_port()
    port = start_proxy(relais, """
LoadModule log_module modules/mod_log.so
LogFormat "%%>s %%{BALANCER_WORKER_NAME}e %%{proxy-attempts}n" mine
CustomLog logs/access.log mine
ProxyPass / http://127.0.0.1:%d/ retry=0
""" % dead)
    assert get(port, "/x").status == 503
    path = os.path.join(relais.root, "logs", "access.log")
    end = time.time() + 5
    text = ""
    while time.time() < end and not text:
        text = open(path).read() if os.path.exists(path) else ""
        time.sleep(0.05)
    assert text.strip() == "503 http://127.0.0.1:%d 1" % dead, text
