"""Migration 0005 (agents, port bindings, provisioning blocks, DHCP scheduling) on real
databases: ports that exist before it get their (unbound) binding row, the new tables
cascade with their parents, and it downgrades cleanly."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from neutrino.db import migrate
from neutrino.db.engine import create_engine

NOW = dt.datetime(2026, 1, 1, 12, 0, 0)


def _tables(conn: sa.Connection) -> dict[str, sa.Table]:
    meta = sa.MetaData()
    meta.reflect(conn)
    return dict(meta.tables)


def test_0005_gives_existing_ports_a_binding(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        migrate.upgrade(engine, "0004")
        with engine.begin() as conn:
            t = _tables(conn)
            conn.execute(sa.insert(t["networks"]).values(
                id="n1", project_id="p1", name="", status="ACTIVE", admin_state_up=True,
                mtu=1500, description="", created_at=NOW, updated_at=NOW, revision_number=1))
            conn.execute(sa.insert(t["ports"]), [
                {"id": pid, "project_id": "p1", "network_id": "n1", "name": "",
                 "mac_address": f"fa:16:3e:00:00:0{i}", "admin_state_up": True,
                 "status": "DOWN", "device_id": "", "device_owner": "", "description": "",
                 "created_at": NOW, "updated_at": NOW, "revision_number": 1}
                for i, pid in enumerate(("port1", "port2"))])

        migrate.upgrade(engine, "0005")
        with engine.begin() as conn:
            t = _tables(conn)
            rows = conn.execute(sa.select(t["port_bindings"]).order_by(
                t["port_bindings"].c.port_id)).all()
            assert [(r.port_id, r.host, r.vnic_type, r.profile, r.vif_type, r.vif_details)
                    for r in rows] == [("port1", "", "normal", "{}", "unbound", "{}"),
                                       ("port2", "", "normal", "{}", "unbound", "{}")]
            conn.execute(sa.insert(t["agents"]).values(
                id="a1", agent_type="DHCP agent", binary="b", topic="N/A", host="h1",
                admin_state_up=True, configurations="{}", created_at=NOW, started_at=NOW,
                heartbeat_timestamp=NOW))
            conn.execute(sa.insert(t["network_dhcp_agent_bindings"]).values(
                network_id="n1", dhcp_agent_id="a1"))
            conn.execute(sa.insert(t["provisioning_blocks"]).values(
                port_id="port1", entity="L2"))
            # one agent per type and host
            try:
                with conn.begin_nested():
                    conn.execute(sa.insert(t["agents"]).values(
                        id="a2", agent_type="DHCP agent", binary="b", topic="N/A", host="h1",
                        admin_state_up=True, configurations="{}", created_at=NOW,
                        started_at=NOW, heartbeat_timestamp=NOW))
                raise AssertionError("two DHCP agents on one host")
            except sa.exc.IntegrityError:
                pass
        with engine.begin() as conn:
            t = _tables(conn)
            # a port's binding and blocks go with it; scheduling goes with its agent
            conn.execute(sa.delete(t["ports"]).where(t["ports"].c.id == "port1"))
            conn.execute(sa.delete(t["agents"]).where(t["agents"].c.id == "a1"))
            for table, count in (("port_bindings", 1), ("provisioning_blocks", 0),
                                 ("network_dhcp_agent_bindings", 0)):
                assert conn.scalar(sa.select(sa.func.count()).select_from(t[table])) == count

        migrate.downgrade(engine, "0004")
        with engine.begin() as conn:
            t = _tables(conn)
            assert not {"agents", "port_bindings", "provisioning_blocks",
                        "network_dhcp_agent_bindings"} & set(t)
            assert conn.scalar(sa.select(sa.func.count()).select_from(t["ports"])) == 1
    finally:
        engine.dispose()
