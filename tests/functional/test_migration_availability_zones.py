"""Migration 0013 (agents' resources_synced, networks' and routers' availability zone
hints) on real databases: existing rows get null, the columns take what the services
store, it downgrades cleanly; and hints checked against the zones agents report, with
[DEFAULT] default_availability_zones for a resource created without any."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from neutrino import config
from neutrino.db import migrate
from neutrino.db.engine import create_engine
from neutrino.exceptions.agents import AvailabilityZoneNotFound
from neutrino.services import availability_zones as az

NOW = dt.datetime(2026, 1, 1, 12, 0, 0)


def _tables(conn: sa.Connection) -> dict[str, sa.Table]:
    meta = sa.MetaData()
    meta.reflect(conn)
    return dict(meta.tables)


def _agent(agent_id: str, agent_type: str, zone: str | None) -> dict[str, object]:
    return {"id": agent_id, "agent_type": agent_type, "binary": "b", "topic": "t",
            "host": agent_id, "admin_state_up": True, "configurations": "{}",
            "availability_zone": zone, "created_at": NOW, "started_at": NOW,
            "heartbeat_timestamp": NOW}


def test_0013_columns(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        migrate.upgrade(engine, "0012")
        with engine.begin() as conn:
            t = _tables(conn)
            assert "resources_synced" not in t["agents"].c
            conn.execute(sa.insert(t["agents"]).values(**_agent("a1", "DHCP agent", "z1")))
            conn.execute(sa.insert(t["networks"]).values(
                id="n1", project_id="p1", name="", status="ACTIVE", admin_state_up=True,
                mtu=1500, description="", created_at=NOW, updated_at=NOW, revision_number=1))
        migrate.upgrade(engine, "0013")
        with engine.begin() as conn:
            t = _tables(conn)
            assert conn.execute(sa.select(t["agents"].c.resources_synced)).scalar() is None
            assert conn.execute(sa.select(t["networks"].c.availability_zone_hints)
                                ).scalar() is None
            conn.execute(sa.update(t["networks"]).values(
                availability_zone_hints=json.dumps(["z1"])))
            conn.execute(sa.update(t["agents"]).values(resources_synced=True))
            assert t["routers"].c.availability_zone_hints.type.length == 255
        migrate.downgrade(engine, "0012")
        with engine.begin() as conn:
            t = _tables(conn)
            assert "resources_synced" not in t["agents"].c
            assert "availability_zone_hints" not in t["networks"].c
            assert "availability_zone_hints" not in t["routers"].c
    finally:
        engine.dispose()


def test_hints_checked_and_defaulted(db_url: str) -> None:
    engine = create_engine(db_url)
    conf = config.make_conf([])
    try:
        migrate.upgrade(engine, "head")
        with engine.begin() as conn:
            t = _tables(conn)
            conn.execute(sa.insert(t["agents"]), [
                _agent("d1", "DHCP agent", "z1"), _agent("l1", "L3 agent", "z2"),
                _agent("o1", "Open vSwitch agent", "z3")])
            assert az.stored_hints(conn, conf, "network", ["z1"]) == json.dumps(["z1"])
            assert az.stored_hints(conn, conf, "router", []) is None
            for resource, zone in (("network", "z2"), ("router", "z1"), ("network", "z3")):
                with pytest.raises(AvailabilityZoneNotFound):
                    az.stored_hints(conn, conf, resource, [zone])
            conf.set_override("default_availability_zones", ["z2"])
            assert az.stored_hints(conn, conf, "router", []) == json.dumps(["z2"])
            assert az.stored_hints(conn, conf, "router", None) == json.dumps(["z2"])
            with pytest.raises(AvailabilityZoneNotFound):  # not a zone of networks
                az.stored_hints(conn, conf, "network", [])
            assert az.wanted_zones(conf, None) == ["z2"]
            assert az.wanted_zones(conf, json.dumps(["z1"])) == ["z1"]
            assert az.list_zones(conn, {}) == [
                {"name": "z1", "resource": "network", "state": "available"},
                {"name": "z2", "resource": "router", "state": "available"}]
    finally:
        engine.dispose()
