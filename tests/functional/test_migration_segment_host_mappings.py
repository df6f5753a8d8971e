"""Migration 0019 (segmenthostmappings) on real databases: the table matches the tables'
metadata, its rows go with their segment (and so with their network: cascade), it keys
(segment, host) once, and it downgrades cleanly."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from neutrino.db import migrate
from neutrino.db import tables as tables_module
from neutrino.db.engine import create_engine

TABLE = "segmenthostmappings"
NOW = dt.datetime(2026, 1, 1, 12, 0, 0)


def _reflect(conn: sa.Connection) -> dict[str, sa.Table]:
    meta = sa.MetaData()
    meta.reflect(conn)
    return dict(meta.tables)


def test_0019(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        migrate.upgrade(engine, "0018")
        with engine.begin() as conn:
            assert TABLE not in sa.inspect(conn).get_table_names()
        migrate.upgrade(engine, "0019")
        with engine.begin() as conn:
            diffs = [d for d in compare_metadata(MigrationContext.configure(conn),
                                                 tables_module.metadata)
                     if TABLE in repr(d)]
            assert diffs == [], diffs
            t = _reflect(conn)
            conn.execute(sa.insert(t["networks"]).values(
                id="n1", project_id="p1", name="n", status="ACTIVE", admin_state_up=True,
                mtu=1500, description="", created_at=NOW, updated_at=NOW, revision_number=1))
            conn.execute(sa.insert(t["network_segments"]), [
                {"id": s, "network_id": "n1", "network_type": "flat",
                 "physical_network": f"p-{s}"} for s in ("s1", "s2")])
            conn.execute(sa.insert(t[TABLE]), [
                {"segment_id": "s1", "host": "h1"}, {"segment_id": "s1", "host": "h2"},
                {"segment_id": "s2", "host": "h1"}])
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.insert(t[TABLE]).values(segment_id="s1", host="h1"))
        with engine.begin() as conn:
            conn.execute(sa.delete(t["network_segments"]).where(
                t["network_segments"].c.id == "s1"))
            assert conn.execute(sa.select(t[TABLE].c.segment_id, t[TABLE].c.host)).all() == \
                [("s2", "h1")]
            conn.execute(sa.delete(t["networks"]))
            assert conn.scalar(sa.select(sa.func.count()).select_from(t[TABLE])) == 0
        migrate.downgrade(engine, "0018")
        with engine.begin() as conn:
            assert TABLE not in sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()
