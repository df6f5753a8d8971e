"""Migration 0012 (address groups, rules' remote_address_group_id, default statefulness)
on real databases: the schema matches the tables' metadata, a group named by a rule cannot
be deleted (no cascade), its addresses and RBAC entries go with it, and it downgrades
cleanly."""

from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from neutrino.db import migrate
from neutrino.db import tables as tables_module
from neutrino.db.engine import create_engine

MINE = {"address_groups", "address_associations", "address_group_rbacs",
        "security_groups_default_statefulness", "remote_address_group_id"}


def test_0012(db_url: str) -> None:
    engine = create_engine(db_url)
    t = tables_module
    try:
        migrate.upgrade(engine, "0012")
        with engine.begin() as conn:
            diffs = [d for d in compare_metadata(MigrationContext.configure(conn),
                                                 tables_module.metadata)
                     if any(name in repr(d) for name in MINE)
                     # 0018 adds remote_address_group_id to the default rules' template later
                     and "default_security_group_rules" not in repr(d)]
            assert diffs == [], diffs
            now = datetime.datetime(2026, 12, 7)
            conn.execute(sa.insert(t.address_groups).values(
                id="ag1", project_id="p", name="", created_at=now, updated_at=now))
            conn.execute(sa.insert(t.address_associations).values(
                address_group_id="ag1", address="10.0.0.0/8"))
            conn.execute(sa.insert(t.address_group_rbacs).values(
                id="e1", project_id="p", object_id="ag1", target_project="*",
                action="access_as_shared"))
            conn.execute(sa.insert(t.security_groups).values(
                id="sg1", project_id="p", name="g", created_at=now, updated_at=now))
            conn.execute(sa.insert(t.security_group_rules).values(
                id="r1", project_id="p", security_group_id="sg1", direction="ingress",
                ethertype="IPv4", rule_key="k1", remote_address_group_id="ag1",
                created_at=now, updated_at=now))
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.delete(t.address_groups).where(t.address_groups.c.id == "ag1"))
        with engine.begin() as conn:
            conn.execute(sa.delete(t.security_group_rules))
            conn.execute(sa.delete(t.address_groups).where(t.address_groups.c.id == "ag1"))
            assert conn.scalar(sa.select(sa.func.count()).select_from(
                t.address_associations)) == 0
            assert conn.scalar(sa.select(sa.func.count()).select_from(
                t.address_group_rbacs)) == 0
            conn.execute(sa.insert(t.security_groups_default_statefulness).values(
                id="s1", project_id=None, scope_key="*", stateful=False))
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.insert(t.security_groups_default_statefulness).values(
                id="s2", project_id=None, scope_key="*", stateful=True))
        migrate.downgrade(engine, "0011")
        with engine.begin() as conn:
            inspector = sa.inspect(conn)
            assert not MINE & set(inspector.get_table_names())
            assert "remote_address_group_id" not in {
                c["name"] for c in inspector.get_columns("security_group_rules")}
    finally:
        engine.dispose()
