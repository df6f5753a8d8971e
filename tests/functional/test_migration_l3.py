"""Migration 0007 (external networks, routers, extra routes, floating IPs, L3 agent
scheduling) on real databases: the schema matches the tables' metadata, one floating IP
per fixed address is the database's own constraint, a router's routes and scheduling go
with it, and it downgrades cleanly."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from neutrino.db import migrate
from neutrino.db import tables as tables_module
from neutrino.db.engine import create_engine

NOW = dt.datetime(2026, 1, 1, 12, 0, 0)
MINE = {"external_networks", "routers", "router_routes", "floatingips",
        "router_l3_agent_bindings"}


# What later migrations add to these tables (0013 availability zones, 0015 flavors and
# auto-allocated topologies): not 0007's to create.
LATER = ("is_default", "default_key", "availability_zone_hints", "flavor_id")


def _about_mine(diff: object) -> bool:
    if isinstance(diff, tuple) and diff[0] in ("add_table", "remove_table"):
        # by name: later tables refer to these (port_forwardings -> floatingips)
        return diff[1].name in MINE
    text = repr(diff)
    if any(name in text for name in LATER):
        return False
    return any(name in text for name in MINE)


def _tables(conn: sa.Connection) -> dict[str, sa.Table]:
    meta = sa.MetaData()
    meta.reflect(conn)
    return dict(meta.tables)


def _std() -> dict[str, object]:
    return {"description": "", "created_at": NOW, "updated_at": NOW, "revision_number": 1}


def _port(t: dict[str, sa.Table], port_id: str, mac: str) -> sa.Insert:
    return sa.insert(t["ports"]).values(
        id=port_id, project_id="", network_id="ext", name="", mac_address=mac,
        admin_state_up=True, status="DOWN", device_id="", device_owner="", **_std())


def test_0007(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        migrate.upgrade(engine, "0007")
        with engine.begin() as conn:
            diffs = [d for d in compare_metadata(MigrationContext.configure(conn),
                                                 tables_module.metadata) if _about_mine(d)]
            assert diffs == [], diffs
            t = _tables(conn)
            conn.execute(sa.insert(t["networks"]).values(
                id="ext", project_id="p1", name="", status="ACTIVE", admin_state_up=True,
                mtu=1500, **_std()))
            conn.execute(sa.insert(t["external_networks"]).values(network_id="ext"))
            for i in range(3):
                conn.execute(_port(t, f"port{i}", f"fa:16:3e:00:00:0{i}"))
            conn.execute(sa.insert(t["routers"]).values(
                id="r1", project_id="p1", name="", status="ACTIVE", admin_state_up=True,
                gw_port_id="port0", enable_snat=True, **_std()))
            conn.execute(sa.insert(t["router_routes"]).values(
                router_id="r1", destination="10.0.0.0/8", nexthop="192.0.2.1"))
            conn.execute(sa.insert(t["agents"]).values(
                id="a1", agent_type="L3 agent", binary="b", topic="l3_agent", host="h1",
                admin_state_up=True, configurations="{}", created_at=NOW, started_at=NOW,
                heartbeat_timestamp=NOW))
            conn.execute(sa.insert(t["router_l3_agent_bindings"]).values(
                router_id="r1", l3_agent_id="a1"))
            fip = {"project_id": "p1", "floating_network_id": "ext", "fixed_port_id": "port2",
                   "fixed_ip_address": "10.0.0.5", "router_id": "r1", "status": "DOWN",
                   **_std()}
            conn.execute(sa.insert(t["floatingips"]).values(
                id="f1", floating_ip_address="192.0.2.10", floating_port_id="port1", **fip))
            # one floating IP per fixed address and external network
            try:
                with conn.begin_nested():
                    conn.execute(sa.insert(t["floatingips"]).values(
                        id="f2", floating_ip_address="192.0.2.11", floating_port_id="port1",
                        **fip))
                raise AssertionError("two floating IPs for one fixed address")
            except sa.exc.IntegrityError:
                pass
        with engine.begin() as conn:
            t = _tables(conn)
            # a floating IP goes with its own port; routes and scheduling with the router
            conn.execute(sa.delete(t["floatingips"]).where(t["floatingips"].c.id == "f1"))
            conn.execute(sa.update(t["routers"]).values(gw_port_id=None))
            conn.execute(sa.delete(t["routers"]))
            for table in ("router_routes", "router_l3_agent_bindings"):
                assert conn.scalar(sa.select(sa.func.count()).select_from(t[table])) == 0
            conn.execute(sa.delete(t["ports"]))
            conn.execute(sa.delete(t["networks"]))
            assert conn.scalar(sa.select(sa.func.count()).select_from(
                t["external_networks"])) == 0

        migrate.downgrade(engine, "0006")
        with engine.begin() as conn:
            assert not MINE & set(_tables(conn))
    finally:
        engine.dispose()
