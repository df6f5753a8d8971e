"""The quota service on its own (SQLite): limits from config and overrides, the check a
create runs in its transaction, and its cost in statements."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from neutrino import config
from neutrino import exceptions as exc
from neutrino.api import body as bodies
from neutrino.context import Context
from neutrino.core.plugin import Ml2Plugin
from neutrino.core.quotas import QuotaService, count_by_project, table_counter
from neutrino.db import migrate
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.schema import network
from neutrino.schema import port as ports


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'q.sqlite'}")
    try:
        migrate.upgrade(database.engine)
        yield database
    finally:
        database.dispose()


def _conf(**quotas: Any) -> Any:
    return config.make_conf(overrides={"QUOTAS": quotas})


def _networks(db: Database, project: str, n: int) -> None:
    now = dt.datetime(2026, 1, 1)
    db.write(lambda conn: conn.execute(sa.insert(t.networks), [
        {"id": f"{project}-{i}", "project_id": project, "name": "", "status": "ACTIVE",
         "admin_state_up": True, "mtu": 1450, "created_at": now, "updated_at": now}
        for i in range(n)]))


def test_defaults_come_from_config() -> None:
    q = QuotaService(_conf(quota_network=3, quota_port=-5, default_quota=4), None)  # type: ignore[arg-type]
    d = q.defaults()
    assert d["network"] == 3
    assert d["port"] == -1  # any negative value is "unlimited"
    assert d["subnetpool"] == 4  # no option of its own: default_quota
    assert d["router"] == 10 and d["rbac_policy"] == 10
    assert list(d)[:4] == ["network", "subnet", "subnetpool", "port"]


def test_neutron_option_defaults() -> None:
    c = config.make_conf()
    assert (c.QUOTAS.default_quota, c.QUOTAS.quota_network, c.QUOTAS.quota_subnet,
            c.QUOTAS.quota_port, c.QUOTAS.quota_router, c.QUOTAS.quota_floatingip,
            c.QUOTAS.quota_security_group, c.QUOTAS.quota_security_group_rule,
            c.QUOTAS.quota_rbac_policy) == (-1, 100, 100, 500, 10, 50, 10, 100, 10)


def test_count_by_project() -> None:
    items = [{"project_id": "a"}, {"project_id": "b"}, {"project_id": "a"}, {}]
    assert count_by_project(items) == {"a": 2, "b": 1}


def test_check_refuses_what_does_not_fit(db: Database) -> None:
    q = QuotaService(_conf(quota_network=3), db)
    _networks(db, "a", 2)
    db.write(lambda conn: q.check(conn, "network", {"a": 1}))
    with pytest.raises(exc.OverQuota) as e:
        db.write(lambda conn: q.check(conn, "network", {"a": 2}))
    assert e.value.msg == "Quota exceeded for resources: ['network']."
    assert e.value.status == 409
    # other projects have their own room; nothing to create checks nothing
    db.write(lambda conn: q.check(conn, "network", {"b": 3}))
    db.write(lambda conn: q.check(conn, "network", {}))
    # an override wins over the default, -1 is unlimited
    q.update("a", {"network": -1})
    db.write(lambda conn: q.check(conn, "network", {"a": 100}))
    q.update("a", {"network": 2}, force=True)
    with pytest.raises(exc.OverQuota):
        db.write(lambda conn: q.check(conn, "network", {"a": 1}))


def test_check_statements_do_not_grow_with_items_or_projects(db: Database) -> None:
    q = QuotaService(_conf(quota_network=1000), db)
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute",
                 lambda _c, _cur, stmt, *_a: statements.append(stmt))
    for projects in (1, 20):
        statements.clear()
        db.write(lambda conn, n=projects: q.check(conn, "network",
                                                  {f"p{i}": 5 for i in range(n)}))
        counts = [s for s in statements if "count(" in s.lower()]
        assert len(counts) == 1, statements  # one COUNT ... GROUP BY for all projects
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2


def test_unregistered_resource_and_custom_counter(db: Database) -> None:
    q = QuotaService(_conf(quota_router=1), db)
    with pytest.raises(LookupError):
        db.write(lambda conn: q.check(conn, "router", {"a": 1}))
    q.register("router", lambda _conn, projects: {p: 1 for p in projects})
    with pytest.raises(exc.OverQuota):
        db.write(lambda conn: q.check(conn, "router", {"a": 1}))
    q.register("widget", table_counter(t.networks))
    assert "widget" in q.resources and q.defaults()["widget"] == -1


def test_update_list_details_delete(db: Database) -> None:
    q = QuotaService(_conf(quota_network=3), db)
    _networks(db, "a", 2)
    with pytest.raises(exc.HTTPBadRequest, match="already used 2"):
        q.update("a", {"network": 1})
    assert q.update("a", {"network": 2, "port": 7})["port"] == 7
    assert [e["project_id"] for e in q.list()] == ["a"]
    assert q.details("a")["network"] == {"limit": 2, "used": 2, "reserved": 0}
    q.delete("a")
    assert q.get("a") == q.defaults()
    with pytest.raises(exc.TenantQuotaNotFound):
        q.delete("a")


def test_plugin_enforces_on_create_but_not_for_its_own_ports(tmp_path: Path) -> None:
    """Creates through the services are checked; the server's own ports (DHCP, created
    with check_quota=False as Neutron creates them outside the API) are not, but count."""
    url = f"sqlite:///{tmp_path / 'p.sqlite'}"
    conf = config.make_conf(overrides={"DEFAULT": {"state_path": str(tmp_path)},
                                       "database": {"connection": url},
                                       "QUOTAS": {"quota_port": 1}})
    database = Database(url)
    try:
        migrate.upgrade(database.engine)
        plugin = Ml2Plugin(conf, database)
        plugin.start()
        ctx = Context(project_id="a", roles=("member", "reader"))
        net = plugin.networks.create(ctx, bodies.for_create(network.resource(), {}, ctx))
        port = bodies.for_create(ports.resource(), {"network_id": net["id"]}, ctx)
        plugin.ports.create(ctx, dict(port))
        with pytest.raises(exc.OverQuota):
            plugin.ports.create(ctx, dict(port))
        plugin.ports.create(Context.admin(), {**port, "device_owner": "network:dhcp"},
                            check_quota=False)
        assert plugin.quotas.details("a")["port"] == {"limit": 1, "used": 2, "reserved": 0}
    finally:
        database.dispose()
