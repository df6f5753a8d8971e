"""tests.support.dbpool: a database handed out again holds what a new one holds (the
migrations' rows, identity counters at their start), and one whose schema a test changed
is dropped, not handed out again."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import BACKENDS, migrated_database
from tests.support.dbpool import POOL

from neutrino.db import migrate

SERVERS = [b for b in BACKENDS if b != "sqlite"]


def _contents(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, sorted."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            meta = sa.MetaData()
            meta.reflect(conn)
            return {name: sorted((tuple(r) for r in conn.execute(sa.select(t))), key=repr)
                    for name, t in meta.tables.items()}
    finally:
        engine.dispose()


def _template(backend: str) -> dict[str, list[tuple[object, ...]]]:
    """What the template migrated by ``neutrino db upgrade`` holds."""
    server = POOL._servers[backend]
    return _contents(server._url(server.template))


def _database_name(url: str) -> str:
    return sa.engine.make_url(url).database or ""


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_is_at_head_with_the_migrations_rows(backend: str, tmp_path: Path
                                                        ) -> None:
    with migrated_database(backend, tmp_path) as url:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        try:
            assert migrate.is_current(engine)
        finally:
            engine.dispose()
        contents = _contents(url)
    assert len(contents["alembic_version"]) == 1
    assert contents["default_security_group_rules"]  # 0011's rows
    assert contents["networks"] == []
    if backend != "sqlite":
        assert contents == _template(backend)


@pytest.mark.parametrize("backend", SERVERS)
def test_a_reused_database_is_emptied_back(backend: str, tmp_path: Path) -> None:
    with migrated_database(backend, tmp_path) as url:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(
                    "INSERT INTO networks (id, project_id, name, status, admin_state_up, mtu,"
                    " description, created_at, updated_at, revision_number) VALUES ('n1',"
                    " 'p', 'n', 'ACTIVE', true, 1500, '', '2026-01-01', '2026-01-01', 1)")
                conn.exec_driver_sql(
                    "INSERT INTO subnets (id, project_id, network_id, name, ip_version, cidr,"
                    " enable_dhcp, description, created_at, updated_at, revision_number)"
                    " VALUES ('s1', 'p', 'n1', '', 4, '10.0.0.0/24', true, '', '2026-01-01',"
                    " '2026-01-01', 1)")
                conn.exec_driver_sql(
                    "INSERT INTO allocation_pools (subnet_id, first_ip, last_ip)"
                    " VALUES ('s1', '10.0.0.2', '10.0.0.9')")
                conn.exec_driver_sql("DELETE FROM default_security_group_rules")
            # left open, in a transaction holding a row lock: ended by the release
            leaked = engine.connect()
            leaked.exec_driver_sql("UPDATE networks SET name = 'x'")
        finally:
            engine.dispose()
        first = _database_name(url)
    with contextlib.suppress(sa.exc.DBAPIError):
        leaked.close()
    with migrated_database(backend, tmp_path) as again:
        assert _database_name(again) == first  # reused, not new
        assert _contents(again) == _template(backend)
        engine = sa.create_engine(again, poolclass=sa.NullPool)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(
                    "INSERT INTO networks (id, project_id, name, status, admin_state_up, mtu,"
                    " description, created_at, updated_at, revision_number) VALUES ('n1',"
                    " 'p', 'n', 'ACTIVE', true, 1500, '', '2026-01-01', '2026-01-01', 1)")
                conn.exec_driver_sql(
                    "INSERT INTO subnets (id, project_id, network_id, name, ip_version, cidr,"
                    " enable_dhcp, description, created_at, updated_at, revision_number)"
                    " VALUES ('s1', 'p', 'n1', '', 4, '10.0.0.0/24', true, '', '2026-01-01',"
                    " '2026-01-01', 1)")
                conn.exec_driver_sql(
                    "INSERT INTO allocation_pools (subnet_id, first_ip, last_ip)"
                    " VALUES ('s1', '10.0.0.2', '10.0.0.9')")
                pool_id = conn.exec_driver_sql("SELECT id FROM allocation_pools").scalar_one()
        finally:
            engine.dispose()
    assert pool_id == 1  # the identity counter started again


@pytest.mark.parametrize("backend", SERVERS)
def test_a_database_whose_schema_changed_is_not_reused(backend: str, tmp_path: Path) -> None:
    with migrated_database(backend, tmp_path) as url:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("ALTER TABLE networks ADD COLUMN scratch INTEGER")
        finally:
            engine.dispose()
        changed = _database_name(url)
    with migrated_database(backend, tmp_path) as again:
        assert _database_name(again) != changed
        engine = sa.create_engine(again, poolclass=sa.NullPool)
        try:
            columns = {c["name"] for c in sa.inspect(engine).get_columns("networks")}
        finally:
            engine.dispose()
        assert "id" in columns and "scratch" not in columns
