"""PostgreSQL behind a `Listen … tcp` listener: psql sessions through
Relais run real queries on one of two clusters; a cluster killed, new
sessions go to the other."""
import pytest

from helpers_stream import (MPMS, balancer, free_port, members_seen,
                            needs_module, psql, start_stream, stream_conf,
                            stream_vhost)

pytestmark = needs_module


def pg_front(relais, pg_pair, mpm="event", keys=""):
    front = free_port()
    members = ["tcp://127.0.0.1:%d %s" % (c.port, keys) for c in pg_pair]
    start_stream(relais, stream_conf(
        balancer("pg", members, "ProxySet lbmethod=byrequests") +
        stream_vhost(front, "balancer://pg"),
        mpm=mpm, listen=[(front, "tcp")]))
    return front


def cluster_of(front):
    rc, out, err = psql(front, "SHOW cluster_name")
    assert rc == 0, err
    return out.strip()


@pytest.mark.parametrize("mpm", MPMS)
def test_psql_session_through_relais(relais, pg_pair, mpm):
    front = pg_front(relais, pg_pair, mpm)
    rc, out, err = psql(front, """
        CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL);
        INSERT INTO items (name) SELECT 'item ' || g
            FROM generate_series(1, 5000) g;
        SELECT count(*), sum(id), max(length(name)) FROM items;
        SELECT current_setting('cluster_name');""")
    assert rc == 0, err
    rows = out.split()
    assert rows[0] == "5000|12502500|9", out
    # the table is on the cluster that answered, and only there
    owner = {c.name: c for c in pg_pair}[rows[1]]
    other = [c for c in pg_pair if c is not owner][0]
    assert psql(owner.port, "SELECT count(*) FROM items")[1].strip() == "5000"
    assert psql(other.port, "SELECT to_regclass('items') IS NULL")[1] \
        .strip() == "t"
    # a result bigger than a socket buffer comes back whole
    rc, out, err = psql(front, "SELECT string_agg(md5(g::text), '') "
                        "FROM generate_series(1, 20000) g")
    assert rc == 0 and len(out.strip()) == 32 * 20000, err


def test_killed_cluster_new_sessions_go_to_the_other(relais, pg_pair):
    p1, p2 = pg_pair
    front = pg_front(relais, pg_pair, keys="hcmethod=TCP hcinterval=200ms")
    assert members_seen(lambda: cluster_of(front), ("pg1", "pg2")) == {
        "pg1", "pg2"}
    p1.kill()
    assert [cluster_of(front) for _ in range(6)] == ["pg2"] * 6
