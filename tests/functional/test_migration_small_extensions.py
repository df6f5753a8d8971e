"""Migration 0018 (small extensions) on real databases: the template of default security
group rules gains remote_address_group_id (null for the rules already there, Neutron's
seeded four included), the seeded four get Neutron's descriptions where an older 0011 left
them empty, matches the tables' metadata, and downgrades cleanly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from neutrino.db import migrate
from neutrino.db import tables as tables_module
from neutrino.db.engine import create_engine

TABLE = "default_security_group_rules"


def _columns(conn: sa.Connection) -> set[str]:
    return {c["name"] for c in sa.inspect(conn).get_columns(TABLE)}


def test_0018(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        migrate.upgrade(engine, "0017")
        with engine.begin() as conn:
            assert "remote_address_group_id" not in _columns(conn)
            # as a database seeded by 0011 before it carried Neutron's descriptions
            conn.execute(sa.text(f"UPDATE {TABLE} SET description = ''"))
        migrate.upgrade(engine, "0018")
        with engine.begin() as conn:
            diffs = [d for d in compare_metadata(MigrationContext.configure(conn),
                                                 tables_module.metadata)
                     if TABLE in repr(d)]
            assert diffs == [], diffs
            meta = sa.MetaData()
            meta.reflect(conn, only=[TABLE])
            rows = conn.execute(sa.select(meta.tables[TABLE])).all()
            assert len(rows) == 4
            assert {r.remote_address_group_id for r in rows} == {None}
            assert sorted((r.direction, r.description) for r in rows) == [
                ("egress", "Legacy default SG rule for egress traffic")] * 2 + [
                ("ingress", "Legacy default SG rule for ingress traffic")] * 2
        migrate.downgrade(engine, "0017")
        with engine.begin() as conn:
            assert "remote_address_group_id" not in _columns(conn)
            assert conn.scalar(sa.text(f"SELECT count(*) FROM {TABLE}")) == 4
    finally:
        engine.dispose()
