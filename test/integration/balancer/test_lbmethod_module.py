"""A third-party lbmethod: test/testmods/mod_lbfirst.c (the example of
docs/modules.md) registers "first" through the public API, and
lbmethod=first uses it: every request to the first candidate, the second
member only when the first is out."""
import os

from conftest import BUILD, free_port
from test_balancer import conf, names

TESTMOD = os.path.join(BUILD, "testmods", "mod_lbfirst.so")


def test_third_party_lbmethod_is_used(relais):
    front, a, b, dead = free_port(), free_port(), free_port(), free_port()
    load = "LoadModule lbfirst_module %s\n" % TESTMOD
    relais.write_conf(conf(front, [(a, "a"), (b, "b")], """
        BalancerMember http://127.0.0.1:%d
        BalancerMember http://127.0.0.1:%d
        ProxySet lbmethod=first""" % (a, b)).replace(
        "LoadModule balancer_module modules/mod_balancer.so\n",
        "LoadModule balancer_module modules/mod_balancer.so\n" + load))
    relais.start(front)
    assert set(names(front, 30)) == {"a"}
    relais.stop()
    relais.write_conf(conf(front, [(b, "b")], """
        BalancerMember http://127.0.0.1:%d retry=60
        BalancerMember http://127.0.0.1:%d
        ProxySet lbmethod=first""" % (dead, b),
        extra="    LogLevel warn lbfirst:debug").replace(
        "LoadModule balancer_module modules/mod_balancer.so\n",
        "LoadModule balancer_module modules/mod_balancer.so\n" + load))
    relais.start(front)
    assert set(names(front, 30)) == {"b"}
    assert "127.0.0.1:%d failed (outcome 1)" % dead in relais.error_log()
