"""Schema migrations on real databases, with data in them: 0002 moves networks.shared into
network_rbacs and drops the column, without touching anything else (on SQLite the table is
rebuilt, which must not cascade into the network's children)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from neutrino.db import migrate
from neutrino.db.engine import create_engine

NOW = dt.datetime(2026, 1, 1, 12, 0, 0)


def _tables(conn: sa.Connection) -> dict[str, sa.Table]:
    meta = sa.MetaData()
    meta.reflect(conn)
    return dict(meta.tables)


def _network(net_id: str, project: str, shared: bool) -> dict[str, Any]:
    return {"id": net_id, "project_id": project, "name": net_id, "status": "ACTIVE",
            "admin_state_up": True, "shared": shared, "mtu": 1500, "description": "",
            "created_at": NOW, "updated_at": NOW, "revision_number": 3}


def test_0002_moves_shared_into_rbac_entries(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        migrate.upgrade(engine, "0001")
        with engine.begin() as conn:
            t = _tables(conn)
            conn.execute(sa.insert(t["networks"]), [
                _network("n-shared", "p1", True), _network("n-private", "p2", False)])
            conn.execute(sa.insert(t["network_segments"]), [
                {"id": f"s-{n}", "network_id": n, "network_type": "vxlan",
                 "physical_network": None, "segmentation_id": i, "segment_index": 0}
                for i, n in enumerate(("n-shared", "n-private"), start=100)])
            conn.execute(sa.insert(t["subnets"]).values(
                id="sub1", project_id="p1", network_id="n-shared", name="", ip_version=4,
                cidr="10.0.0.0/24", gateway_ip="10.0.0.1", enable_dhcp=True,
                description="", created_at=NOW, updated_at=NOW, revision_number=1))
            conn.execute(sa.insert(t["ports"]).values(
                id="port1", project_id="p3", network_id="n-shared", name="",
                mac_address="fa:16:3e:00:00:01", admin_state_up=True, status="DOWN",
                device_id="", device_owner="", description="", created_at=NOW,
                updated_at=NOW, revision_number=1))
            conn.execute(sa.insert(t["ip_allocations"]).values(
                subnet_id="sub1", ip_address="10.0.0.5", port_id="port1",
                network_id="n-shared"))

        migrate.upgrade(engine, "0002")
        with engine.begin() as conn:
            t = _tables(conn)
            assert "shared" not in t["networks"].c
            rows = conn.execute(sa.select(
                t["network_rbacs"].c.project_id, t["network_rbacs"].c.object_id,
                t["network_rbacs"].c.target_project, t["network_rbacs"].c.action)).all()
            assert [tuple(r) for r in rows] == [("p1", "n-shared", "*", "access_as_shared")]
            nets = conn.execute(sa.select(t["networks"]).order_by(t["networks"].c.id)).all()
            assert [(n.id, n.project_id, n.revision_number) for n in nets] == [
                ("n-private", "p2", 3), ("n-shared", "p1", 3)]
            # nothing else lost: segments, subnet, port and its address are all there
            for table, count in (("network_segments", 2), ("subnets", 1), ("ports", 1),
                                 ("ip_allocations", 1)):
                assert conn.scalar(sa.select(sa.func.count()).select_from(t[table])) == count
            # and the foreign keys still hold: the rebuilt networks table is their parent
            conn.execute(sa.delete(t["network_segments"]).where(
                t["network_segments"].c.network_id == "n-private"))
            conn.execute(sa.delete(t["networks"]).where(t["networks"].c.id == "n-private"))
            try:
                with conn.begin_nested():
                    conn.execute(sa.delete(t["networks"]).where(
                        t["networks"].c.id == "n-shared"))
                raise AssertionError("deleted a network its ports still refer to")
            except sa.exc.IntegrityError:
                pass

        migrate.downgrade(engine, "0001")
        with engine.begin() as conn:
            t = _tables(conn)
            assert "network_rbacs" not in t
            nets = conn.execute(sa.select(t["networks"].c.id, t["networks"].c.shared)).all()
            assert [(n.id, bool(n.shared)) for n in nets] == [("n-shared", True)]
    finally:
        engine.dispose()
