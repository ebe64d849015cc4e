"""Health checks of https:// members (mod_healthcheck through mod_ssl's
provider): the check speaks TLS with the same verification as the
traffic, so a member whose certificate fails verification is taken out,
and one that passes is put back in."""
from helpers_ssl_proxy import (TLSBackend, log_lines, ssl_proxy_conf,
                               start_ssl_proxy, wait_log)
from helpers_proxy import free_port, get

HC = "hcmethod=GET hcuri=/health hcinterval=200ms"


def test_https_members_checked_over_tls(relais, certs):
    good = TLSBackend(certs.rsa_crt, certs.rsa_key)
    bad = TLSBackend(certs.untrusted_crt, certs.untrusted_key)
    try:
        port = start_ssl_proxy(relais, """
SSLProxyEngine on
SSLProxyCACertificateFile %s
<Proxy "balancer://app">
    BalancerMember %s %s status=+C
    BalancerMember %s %s
</Proxy>
ProxyPass / balancer://app/
""" % (certs.ca_crt, good.url, HC, bad.url, HC),
            modules=("balancer", "healthcheck"))
        # the good member starts out (+C) and its check puts it back
        assert wait_log(relais, "member %s passed its health check"
                        % good.url), relais.error_log()
        assert wait_log(relais, "member %s failed its health check"
                        % bad.url), relais.error_log()
        out = log_lines(relais, bad.url, "failed its health check")
        assert "TLS handshake" in out[0], out
        assert wait_log(relais, "certificate verify failed")
        checks = [r for r in good.requests if r.target == b"/health"]
        assert checks, good.requests
        assert checks[0].header("User-Agent") == "Relais-healthcheck"
        assert good.handshakes >= 1 and "localhost" in good.sni
        assert bad.requests == []  # nothing reached the bad member
        for i in range(10):
            assert get(port, "/t%d" % i).status == 200
        traffic = [r for r in good.requests if r.target != b"/health"]
        assert len(traffic) == 10
        assert [r for r in bad.requests if r.target != b"/health"] == []
    finally:
        good.stop()
        bad.stop()


def test_tcp_check_of_an_https_member_only_connects(relais, certs):
    """hcmethod=TCP stays a bare connect (httpd): no handshake, so even
    a member with a bad certificate passes it."""
    bad = TLSBackend(certs.untrusted_crt, certs.untrusted_key)
    try:
        start_ssl_proxy(relais, """
SSLProxyEngine on
SSLProxyCACertificateFile %s
<Proxy "balancer://app">
    BalancerMember %s hcmethod=TCP hcinterval=200ms status=+C
</Proxy>
ProxyPass / balancer://app/
""" % (certs.ca_crt, bad.url), modules=("balancer", "healthcheck"))
        assert wait_log(relais, "passed its health check")
        assert bad.handshakes == 0
    finally:
        bad.stop()


def test_checked_https_backend_needs_engine_in_main_server(relais, certs):
    """A ProxyPass backend's checks use the main server's SSLProxy*
    settings: with SSLProxyEngine only in the vhost, -t says so."""
    relais.write_conf(ssl_proxy_conf(free_port(), """
<VirtualHost 127.0.0.1:8080>
    ServerName v.test
    SSLProxyEngine on
    SSLProxyCACertificateFile %s
    ProxyPass / https://localhost:8443/ hcmethod=GET
</VirtualHost>
""" % certs.ca_crt, modules=("healthcheck",)))
    res = relais.run("-t")
    out = res.stderr + res.stdout
    assert res.returncode != 0, out
    assert "its health checks speak TLS" in out, out
    assert "relais.conf:15" in out, out
