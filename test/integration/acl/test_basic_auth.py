"""Basic authentication (mod_acl: AuthType Basic, AuthUserFile,
AuthGroupFile) with a real relaisd in front of a Python backend: every
htpasswd format Apache's htpasswd writes, the 401 challenge, the user in
the access log (%u), credentials never forwarded (unless AuthBasicForward
On) nor logged, group files, files edited while the server runs, and
refused requests never reaching the backend."""
import base64
import os
import shutil
import time

import pytest

from helpers_acl import (HTPASSWD, access_lines, htpasswd, request,
                         start_acl, status, wait_log)

pytestmark = pytest.mark.skipif(
    not shutil.which("htpasswd") and not os.path.exists(HTPASSWD),
    reason="htpasswd (Debian package apache2-utils) is not installed")

FORMATS = [("-B", "bcrypt"), ("-m", "md5"), ("-s", "sha1"),
           ("-d", "crypt")]


def auth_block(path="/", realm="Staff", require="Require valid-user",
               extra=""):
    return """<Location %s>
    AuthType Basic
    AuthName "%s"
    AuthUserFile users
%s    %s
</Location>
""" % (path, realm, extra, require)


def make_users(relais, entries):
    """entries: [(user, password, htpasswd flag)]; returns the file."""
    path = os.path.join(relais.root, "users")
    for i, (u, p, fmt) in enumerate(entries):
        htpasswd(path, u, p, fmt, create=(i == 0))
    return path


def test_every_htpasswd_format(relais, backend):
    entries = [("user-%s" % name, "pw-%s!" % name[:3], flag)
               for flag, name in FORMATS]
    path = make_users(relais, entries)
    text = open(path).read()
    assert "$2y$" in text and "$apr1$" in text and "{SHA}" in text
    port = start_acl(relais, "ProxyPass / %s/\n" % backend.url +
                     auth_block())
    for user, pw, flag in entries:
        assert status(port, "/ok", auth=(user, pw)) == 200, flag
        assert status(port, "/bad", auth=(user, pw + "x")) == 401, flag
    assert [q.target for q in backend.requests] == [b"/ok"] * len(entries)


def test_plain_text_passwords_are_not_accepted_on_linux(relais):
    """APR takes a stored password that is no known hash for crypt(3)
    output on Linux: htpasswd -p files do not work there (as with
    httpd)."""
    make_users(relais, [("plain", "secret", "-p")])
    port = start_acl(relais, "SetHandler echo\n" + auth_block())
    assert status(port, "/", auth=("plain", "secret")) == 401


def test_challenge_and_failures(relais):
    make_users(relais, [("alice", "wonder land", "-B")])
    port = start_acl(relais, "SetHandler echo\nLogLevel info\n" +
                     auth_block(realm='Staff \\"only\\" \\\\ here'))
    r = request(port, "/")
    assert r.status == 401, r
    assert r.header("WWW-Authenticate") == \
        'Basic realm="Staff \\"only\\" \\\\ here"'
    for headers in ([("Authorization", "Bearer abc")],
                    [("Authorization", "Basic !!!notbase64")],
                    [("Authorization", "Basic " + base64.b64encode(
                        b"no-colon").decode())],
                    [("Authorization", "Basic")]):
        r = request(port, "/", headers=headers)
        assert r.status == 401, (headers, r)
        assert r.header("WWW-Authenticate").startswith("Basic realm=")
    assert status(port, "/", auth=("mallory", "wonder land")) == 401
    assert status(port, "/", auth=("alice", "wonderland")) == 401
    assert status(port, "/", auth=("alice", "wonder land")) == 200
    # %u shows the name that was tried, on a 401 too (as httpd)
    users = [(l.split()[1], l.split()[-1]) for l in access_lines(relais, 8)]
    assert users[-3:] == [("mallory", "401"), ("alice", "401"),
                          ("alice", "200")], users
    assert users[0] == ("-", "401")
    assert wait_log(relais, 'user "mallory" not found in')
    assert wait_log(relais, 'user "alice": password mismatch')
    log = relais.error_log()
    line = [l for l in log.splitlines() if "password mismatch" in l][0]
    assert "[client 127.0.0.1:" in line
    assert "wonder" not in log, "a password reached the error log"


def test_user_in_access_log_and_credentials_stripped(relais, backend):
    make_users(relais, [("alice", "s3cret", "-m")])
    port = start_acl(relais, """
ProxyPass / %s/
%s%s%s""" % (backend.url, auth_block("/private"),
             auth_block("/forward", extra="    AuthBasicForward On\n"),
             "<Location /open>\n    Require all granted\n</Location>\n"))
    assert status(port, "/private/a", auth=("alice", "s3cret")) == 200
    assert status(port, "/forward/b", auth=("alice", "s3cret")) == 200
    # not checked by Relais here: passed on unchanged (the backend's own)
    assert status(port, "/open/c", auth=("backend-user", "xyz")) == 200
    assert status(port, "/open/d") == 200
    reqs = {q.target: q for q in backend.requests}
    assert reqs[b"/private/a"].header("Authorization") is None
    assert reqs[b"/forward/b"].header("Authorization") == \
        "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert reqs[b"/open/c"].header("Authorization") == \
        "Basic " + base64.b64encode(b"backend-user:xyz").decode()
    lines = access_lines(relais, 4)
    assert lines[0] == '127.0.0.1 alice "GET /private/a HTTP/1.1" 200', lines
    assert lines[1] == '127.0.0.1 alice "GET /forward/b HTTP/1.1" 200', lines
    # nobody authenticated there: %u is "-"
    assert lines[2] == '127.0.0.1 - "GET /open/c HTTP/1.1" 200', lines
    assert lines[3] == '127.0.0.1 - "GET /open/d HTTP/1.1" 200', lines
    assert "s3cret" not in relais.error_log()


def test_refused_requests_never_reach_backend(relais, backend):
    make_users(relais, [("alice", "pw", "-B")])
    port = start_acl(relais, """
ProxyPass / %s/
%s""" % (backend.url, auth_block(require="Require user alice")))
    for _ in range(3):
        assert status(port, "/x") == 401
        assert status(port, "/x", auth=("alice", "nope")) == 401
        assert status(port, "/x", method="POST", body=b"a" * 10000,
                      auth=("alice", "nope")) == 401
    assert backend.requests == []
    assert status(port, "/x", auth=("alice", "pw")) == 200
    assert len(backend.requests) == 1


def test_users_groups_and_forbidden_on_failure(relais):
    make_users(relais, [("alice", "a", "-B"), ("bob", "b", "-m"),
                        ("carol", "c", "-s")])
    with open(os.path.join(relais.root, "groups"), "w") as f:
        f.write("# staff\nadmins: alice\nops:bob\nadmins:  carol   dave\n")
    port = start_acl(relais, "SetHandler echo\nAuthGroupFile groups\n" +
                     auth_block("/user", require="Require user alice") +
                     auth_block("/group", require="Require group admins") +
                     auth_block("/forbid", require="Require user alice",
                                extra="    AuthzSendForbiddenOnFailure On\n")
                     + auth_block("/notuser", require="""<RequireAll>
        Require valid-user
        Require not user bob
    </RequireAll>"""))
    assert status(port, "/user", auth=("alice", "a")) == 200
    # authenticated but not allowed: 401 again, as httpd (try another)
    r = request(port, "/user", auth=("bob", "b"))
    assert r.status == 401 and r.header("WWW-Authenticate")
    assert status(port, "/group", auth=("alice", "a")) == 200
    assert status(port, "/group", auth=("carol", "c")) == 200
    assert status(port, "/group", auth=("bob", "b")) == 401
    assert status(port, "/forbid", auth=("bob", "b")) == 403
    assert status(port, "/notuser", auth=("alice", "a")) == 200
    assert status(port, "/notuser", auth=("bob", "b")) == 401
    assert status(port, "/notuser") == 401
    assert wait_log(relais, 'user "bob": authorization failure for /user')


def test_ip_or_user(relais):
    """<RequireAny> of an address and a user: the address alone gets in
    without being asked for a password (and %u stays "-")."""
    make_users(relais, [("alice", "a", "-B")])
    port = start_acl(relais, "SetHandler echo\n" + auth_block(
        "/local", require="Require ip 127.0.0.1\n    Require valid-user") +
        auth_block("/far", require="Require ip 10.0.0.1\n"
                   "    Require valid-user"))
    r = request(port, "/local")
    assert r.status == 200 and r.header("WWW-Authenticate") is None
    assert status(port, "/far") == 401
    assert status(port, "/far", auth=("alice", "a")) == 200
    lines = access_lines(relais, 3)
    assert [l.split()[1] for l in lines[:3]] == ["-", "-", "alice"]


def test_files_are_read_again_when_they_change(relais):
    """An operator edits htpasswd and the group file without restarting:
    changes are seen within about a second, remembered verifications of
    an old password included."""
    users = make_users(relais, [("alice", "old", "-B")])
    groups = os.path.join(relais.root, "groups")
    with open(groups, "w") as f:
        f.write("admins: alice\n")
    port = start_acl(relais, "SetHandler echo\nAuthGroupFile groups\n" +
                     auth_block("/u") +
                     auth_block("/g", require="Require group admins"))
    assert status(port, "/u", auth=("alice", "old")) == 200
    assert status(port, "/u", auth=("alice", "old")) == 200  # remembered
    assert status(port, "/g", auth=("alice", "old")) == 200
    htpasswd(users, "alice", "new", "-B")
    htpasswd(users, "bob", "b", "-m")
    with open(groups + ".tmp", "w") as f:
        f.write("admins: bob\n")
    os.rename(groups + ".tmp", groups)   # as editors and tools do
    end = time.time() + 10
    while time.time() < end and status(port, "/u", auth=("alice",
                                                         "old")) != 401:
        time.sleep(0.2)
    assert status(port, "/u", auth=("alice", "old")) == 401
    assert status(port, "/u", auth=("alice", "new")) == 200
    assert status(port, "/u", auth=("bob", "b")) == 200
    assert status(port, "/g", auth=("bob", "b")) == 200
    assert status(port, "/g", auth=("alice", "new")) == 401
    assert wait_log(relais, "changed: read again")


def test_unreadable_file_refuses_then_recovers(relais):
    users = make_users(relais, [("alice", "a", "-m")])
    port = start_acl(relais, "SetHandler echo\n" + auth_block())
    assert status(port, "/", auth=("alice", "a")) == 200
    os.rename(users, users + ".away")
    time.sleep(1.2)
    assert status(port, "/", auth=("alice", "a")) == 500
    assert wait_log(relais, "refusing the requests that need it")
    os.rename(users + ".away", users)
    time.sleep(1.2)
    assert status(port, "/", auth=("alice", "a")) == 200
    assert wait_log(relais, "can be read again")


def test_verifications_are_remembered(relais):
    """bcrypt is paid once per credentials and child, not per request."""
    make_users(relais, [("alice", "a", "-B")])
    port = start_acl(relais, "SetHandler echo\nLogLevel info acl:debug\n"
                     "StartServers 1\nServerLimit 1\nThreadsPerChild 1\n" +
                     auth_block())
    for _ in range(3):
        assert status(port, "/", auth=("alice", "a")) == 200
    assert wait_log(relais, 'user "alice" authenticated (remembered)')
    log = relais.error_log()
    assert log.count('user "alice" authenticated\n') == 1, log
    assert log.count('user "alice" authenticated (remembered)') == 2, log
    # a wrong password is never taken from the cache
    assert status(port, "/", auth=("alice", "b")) == 401


def test_misconfigurations_answer_500(relais):
    make_users(relais, [("alice", "a", "-B")])
    port = start_acl(relais, """
SetHandler echo
<Location /no-authtype>
    Require valid-user
</Location>
<Location /no-require>
    AuthType Basic
    AuthName x
    AuthUserFile users
</Location>
<Location /no-userfile>
    AuthType Basic
    AuthName x
    Require valid-user
</Location>
<Location /group-no-file>
    AuthType Basic
    AuthName x
    AuthUserFile users
    Require group admins
</Location>
""")
    assert status(port, "/no-authtype") == 500
    assert status(port, "/no-require") == 500
    assert status(port, "/no-userfile") == 500
    assert status(port, "/group-no-file", auth=("alice", "a")) == 401
    log = relais.error_log()
    assert "needs an authenticated user for /no-authtype, but no AuthType " \
        "Basic applies there" in log
    assert "AuthType Basic applies to /no-require, but no Require line" in log
    assert "without AuthUserFile" in log
    assert "no AuthGroupFile does" in log


def test_require_expr_with_remote_user(relais):
    """Require expr naming %{REMOTE_USER} asks for credentials."""
    make_users(relais, [("alice", "a", "-B"), ("bob", "b", "-B")])
    port = start_acl(relais, "SetHandler echo\n" + auth_block(
        require="Require expr \"%{REMOTE_USER} == 'alice'\""))
    assert status(port, "/") == 401
    assert status(port, "/", auth=("alice", "a")) == 200
    assert status(port, "/", auth=("bob", "b")) == 401


def test_proxy_section_with_authentication(relais, backend):
    make_users(relais, [("alice", "a", "-B")])
    port = start_acl(relais, """
ProxyPass /p/ %(b)s/
<Proxy %(b)s/>
    AuthType Basic
    AuthName "Backend"
    AuthUserFile users
    Require valid-user
</Proxy>
""" % {"b": backend.url})
    r = request(port, "/p/x")
    assert r.status == 401 and r.header("WWW-Authenticate") == \
        'Basic realm="Backend"'
    assert backend.requests == []
    assert status(port, "/p/x", auth=("alice", "a")) == 200
    assert backend.requests[0].header("Authorization") is None
    assert access_lines(relais, 2)[1].split()[1] == "alice"
