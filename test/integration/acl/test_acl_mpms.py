"""mod_acl under each MPM: the same address rules and Basic
authentication behind mod_proxy under event, worker and prefork, and
Require host (double reverse DNS lookup), which only prefork and worker
allow: their request threads may wait, an event loop may not."""
import os
import socket
import threading

import pytest

from helpers_acl import (access_lines, config_errors, htpasswd, request,
                         start_acl, status)


def confirmed_name(ip):
    """The name of ip that resolves back to it (as Require host checks),
    or None."""
    try:
        name = socket.gethostbyaddr(ip)[0]
        addrs = {a[4][0] for a in socket.getaddrinfo(name, None)}
    except OSError:
        return None
    return name if ip in addrs else None


@pytest.mark.parametrize("mpm", ["event", "worker", "prefork"])
def test_rules_and_basic_auth_under_every_mpm(relais, backend, mpm):
    users = os.path.join(relais.root, "users")
    htpasswd(users, "alice", "pw", "-B", create=True)
    port = start_acl(relais, """
ProxyPass / %s/
<Location /admin>
    Require ip 10.9.9.9
</Location>
<Location /staff>
    AuthType Basic
    AuthName "Staff"
    AuthUserFile users
    <RequireAll>
        Require valid-user
        Require local
    </RequireAll>
</Location>
""" % backend.url, mpm=mpm)
    assert status(port, "/admin/x") == 403
    assert status(port, "/x/../admin") == 403
    r = request(port, "/staff/a")
    assert r.status == 401 and r.header("WWW-Authenticate") == \
        'Basic realm="Staff"'
    assert status(port, "/staff/a", auth=("alice", "bad")) == 401
    for _ in range(3):
        assert status(port, "/staff/a", auth=("alice", "pw")) == 200
    assert status(port, "/open") == 200
    assert [q.target for q in backend.requests] == [b"/staff/a"] * 3 + \
        [b"/open"]
    assert all(q.header("Authorization") is None for q in backend.requests)
    users_seen = [l.split()[1] for l in access_lines(relais, 8)]
    assert users_seen[4:7] == ["alice"] * 3, users_seen


@pytest.mark.parametrize("mpm", ["worker", "prefork"])
def test_require_host(relais, mpm):
    name = confirmed_name("127.0.0.1")
    if name is None:
        pytest.skip("127.0.0.1 has no name here that resolves back to it")
    domain = name.split(".", 1)[1] if "." in name else None
    port = start_acl(relais, """
SetHandler echo
<Location /mine>
    Require host %s
</Location>
<Location /other>
    Require host example.invalid other.example.org
</Location>
<Location /suffix>
    Require host x%s
</Location>
%s""" % (name, name,
         "<Location /domain>\n    Require host %s\n</Location>\n" % domain
         if domain else ""), mpm=mpm)
    assert status(port, "/mine") == 200
    assert status(port, "/mine") == 200  # from the cache
    assert status(port, "/other") == 403
    # "xlocalhost" is not a domain of "localhost"
    assert status(port, "/suffix") == 403
    if domain:
        assert status(port, "/domain") == 200


def test_require_host_refused_under_event(relais):
    rc, err = config_errors(relais, "<Location /x>\n"
                            "    Require host example.org\n</Location>\n")
    assert rc != 0
    assert "Require: 'Require host' is not available under the event " \
        "MPM" in err
    assert "Require ip" in err


@pytest.mark.parametrize("mpm", ["event", "worker"])
def test_concurrent_clients_share_files_and_cache(relais, backend, mpm):
    """Threads of one child check passwords, groups and the remembered
    verifications at once: every answer is right, nothing crashes."""
    users = os.path.join(relais.root, "users")
    for i in range(8):
        htpasswd(users, "u%d" % i, "p%d" % i, "-B" if i % 2 else "-m",
                 create=(i == 0))
    with open(os.path.join(relais.root, "groups"), "w") as f:
        f.write("even: u0 u2 u4 u6\n")
    port = start_acl(relais, """
ProxyPass / %s/
StartServers 1
ServerLimit 1
ThreadsPerChild 4
AuthGroupFile groups
<Location />
    AuthType Basic
    AuthName "x"
    AuthUserFile users
    Require group even
</Location>
""" % backend.url, mpm=mpm)
    errors = []

    def client(i):
        for k in range(15):
            pw = "p%d" % i if k % 5 else "wrong"
            want = 200 if (i % 2 == 0 and pw != "wrong") else 401
            got = status(port, "/c%d/%d" % (i, k), auth=("u%d" % i, pw))
            if got != want:
                errors.append((i, k, got, want))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(backend.requests) == 4 * 12
