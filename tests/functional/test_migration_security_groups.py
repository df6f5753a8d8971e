"""Migration 0008 (security groups, port security, allowed address pairs) on real
databases: existing networks and ports get port security enabled, the schema matches the
tables' metadata, memberships and pairs go with their port, a group in use cannot be
removed under the database's own constraint, and it downgrades cleanly."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from neutrino.db import migrate
from neutrino.db import tables as tables_module
from neutrino.db.engine import create_engine

NOW = dt.datetime(2026, 1, 1, 12, 0, 0)
MINE = {"security_groups", "security_group_rules", "security_group_port_bindings",
        "allowed_address_pairs"}


def _tables(conn: sa.Connection) -> dict[str, sa.Table]:
    meta = sa.MetaData()
    meta.reflect(conn)
    return dict(meta.tables)


def _std() -> dict[str, object]:
    return {"description": "", "created_at": NOW, "updated_at": NOW, "revision_number": 1}


def test_0008(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        migrate.upgrade(engine, "0007")
        with engine.begin() as conn:
            t = _tables(conn)
            conn.execute(sa.insert(t["networks"]).values(
                id="n1", project_id="p1", name="", status="ACTIVE", admin_state_up=True,
                mtu=1500, **_std()))
            conn.execute(sa.insert(t["ports"]).values(
                id="port1", project_id="p1", network_id="n1", name="",
                mac_address="fa:16:3e:00:00:01", admin_state_up=True, status="DOWN",
                device_id="", device_owner="", **_std()))

        migrate.upgrade(engine, "0008")
        with engine.begin() as conn:
            diffs = [d for d in compare_metadata(MigrationContext.configure(conn),
                                                 tables_module.metadata)
                     if _about_mine(d)]
            assert diffs == [], diffs
            t = _tables(conn)
            assert conn.scalar(sa.select(t["networks"].c.port_security_enabled)) is True or \
                conn.scalar(sa.select(t["networks"].c.port_security_enabled)) == 1
            assert conn.scalar(sa.select(t["ports"].c.port_security_enabled)) in (True, 1)
            conn.execute(sa.insert(t["security_groups"]).values(
                id="g1", project_id="p1", name="default", stateful=True, default_for="p1",
                **_std()))
            conn.execute(sa.insert(t["security_group_port_bindings"]).values(
                port_id="port1", security_group_id="g1"))
            conn.execute(sa.insert(t["allowed_address_pairs"]).values(
                port_id="port1", mac_address="fa:16:3e:00:00:01", ip_address="10.0.0.0/24"))
            # one default group per project
            try:
                with conn.begin_nested():
                    conn.execute(sa.insert(t["security_groups"]).values(
                        id="g2", project_id="p1", name="default", stateful=True,
                        default_for="p1", **_std()))
                raise AssertionError("two default groups for one project")
            except sa.exc.IntegrityError:
                pass
            # a group in use stays
            try:
                with conn.begin_nested():
                    conn.execute(sa.delete(t["security_groups"]).where(
                        t["security_groups"].c.id == "g1"))
                raise AssertionError("a group in use was deleted")
            except sa.exc.IntegrityError:
                pass
        with engine.begin() as conn:
            t = _tables(conn)
            conn.execute(sa.delete(t["ports"]).where(t["ports"].c.id == "port1"))
            for table in ("security_group_port_bindings", "allowed_address_pairs"):
                assert conn.scalar(sa.select(sa.func.count()).select_from(t[table])) == 0

        migrate.downgrade(engine, "0007")
        with engine.begin() as conn:
            t = _tables(conn)
            assert not MINE & set(t)
            assert "port_security_enabled" not in t["ports"].c
            assert "port_security_enabled" not in t["networks"].c
    finally:
        engine.dispose()


def _about_mine(diff: object) -> bool:
    if isinstance(diff, tuple) and diff[0] in ("add_table", "remove_table"):
        # by name: later tables' names contain these (default_security_group_rules)
        return diff[1].name in MINE
    text = repr(diff)
    if "remote_address_group_id" in text:
        return False  # a later migration's column (0012, address groups)
    return any(name in text for name in (*MINE, "port_security_enabled"))
