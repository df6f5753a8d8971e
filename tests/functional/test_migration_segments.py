"""Migration 0017 (segments' name and standard attributes, subnets' segment_id, ports'
ip_allocation) on real databases: it matches the tables' metadata, keeps existing
segments, subnets and ports (no name, on no segment, allocation not recorded), and
downgrades cleanly."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from neutrino.db import migrate
from neutrino.db import tables as tables_module
from neutrino.db.engine import create_engine

NOW = dt.datetime(2026, 1, 1, 12, 0, 0)
MINE = {("network_segments", c) for c in ("name", "description", "created_at", "updated_at",
                                          "revision_number")} | {
    ("subnets", "segment_id"), ("ports", "ip_allocation")}


def _reflect(conn: sa.Connection) -> dict[str, sa.Table]:
    meta = sa.MetaData()
    meta.reflect(conn)
    return dict(meta.tables)


def _columns(conn: sa.Connection) -> set[tuple[str, str]]:
    inspector = sa.inspect(conn)
    return {(table, c["name"]) for table, _ in MINE for c in inspector.get_columns(table)}


def test_0017(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        migrate.upgrade(engine, "0016")
        with engine.begin() as conn:
            t = _reflect(conn)
            conn.execute(sa.insert(t["networks"]).values(
                id="n1", project_id="p1", name="n", status="ACTIVE", admin_state_up=True,
                mtu=1500, description="", created_at=NOW, updated_at=NOW, revision_number=1))
            conn.execute(sa.insert(t["network_segments"]).values(
                id="s1", network_id="n1", network_type="vxlan", segmentation_id=5))
            conn.execute(sa.insert(t["subnets"]).values(
                id="sub1", project_id="p1", network_id="n1", name="", ip_version=4,
                cidr="10.0.0.0/24", enable_dhcp=True, description="", created_at=NOW,
                updated_at=NOW, revision_number=1))
        migrate.upgrade(engine, "0017")
        with engine.begin() as conn:
            diffs = [d for d in compare_metadata(MigrationContext.configure(conn),
                                                 tables_module.metadata)
                     if ("segment" in repr(d) or "ip_allocation" in repr(d))
                     and "segmenthostmappings" not in repr(d)]  # (0019's)
            assert diffs == [], diffs
            t = _reflect(conn)
            seg = conn.execute(sa.select(t["network_segments"])).one()
            assert (seg.name, seg.revision_number) == (None, 0)
            assert conn.execute(sa.select(t["subnets"].c.segment_id)).scalar() is None
            conn.execute(sa.update(t["subnets"]).values(segment_id="s1"))
            # a subnet holds its segment
            try:
                with conn.begin_nested():
                    conn.execute(sa.delete(t["network_segments"]))
                raise AssertionError("a segment with subnets was deleted")
            except sa.exc.IntegrityError:
                pass
            conn.execute(sa.update(t["subnets"]).values(segment_id=None))
        migrate.downgrade(engine, "0016")
        with engine.begin() as conn:
            assert not MINE & _columns(conn)
    finally:
        engine.dispose()
