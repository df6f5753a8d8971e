"""Migration 0015 (flavors, service profiles, routers' flavor_id, external networks'
is_default, auto-allocated topologies) on real databases: it matches the tables'
metadata, keeps existing routers and external networks (no flavor, not the default), and
downgrades cleanly."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from neutrino.db import migrate
from neutrino.db import tables as tables_module
from neutrino.db.engine import create_engine

MINE = {"flavors", "service_profiles", "flavor_service_profile_bindings",
        "auto_allocated_topologies"}
NOW = dt.datetime(2026, 1, 1, 12, 0, 0)


def _reflect(conn: sa.Connection) -> dict[str, sa.Table]:
    meta = sa.MetaData()
    meta.reflect(conn)
    return dict(meta.tables)


def test_0015(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        migrate.upgrade(engine, "0014")
        with engine.begin() as conn:
            t = _reflect(conn)
            conn.execute(sa.insert(t["networks"]).values(
                id="n1", project_id="p1", name="ext", status="ACTIVE", admin_state_up=True,
                mtu=1500, description="", created_at=NOW, updated_at=NOW,
                revision_number=1))
            conn.execute(sa.insert(t["external_networks"]).values(network_id="n1"))
            conn.execute(sa.insert(t["routers"]).values(
                id="r1", project_id="p1", name="r", status="ACTIVE", admin_state_up=True,
                description="", created_at=NOW, updated_at=NOW, revision_number=1))
        migrate.upgrade(engine, "0015")
        with engine.begin() as conn:
            diffs = [d for d in compare_metadata(MigrationContext.configure(conn),
                                                 tables_module.metadata)
                     if any(name in repr(d) for name in MINE)
                     or "flavor_id" in repr(d) or "default_key" in repr(d)
                     or "is_default" in repr(d)]
            assert diffs == [], diffs
            t = _reflect(conn)
            assert conn.execute(sa.select(t["routers"].c.flavor_id)).scalar() is None
            row = conn.execute(sa.select(t["external_networks"])).one()
            assert (bool(row.is_default), row.default_key) == (False, None)
            # the unique key: one default external network
            conn.execute(sa.update(t["external_networks"]).values(is_default=True,
                                                                  default_key=1))
        migrate.downgrade(engine, "0014")
        with engine.begin() as conn:
            assert not MINE & set(sa.inspect(conn).get_table_names())
            assert "flavor_id" not in {c["name"] for c in sa.inspect(conn).get_columns(
                "routers")}
            assert "is_default" not in {c["name"] for c in sa.inspect(conn).get_columns(
                "external_networks")}
    finally:
        engine.dispose()
