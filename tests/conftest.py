"""Fixtures for functional tests that run against real database servers.

``db_url`` gives each test a fresh, empty database on every backend — SQLite (a file in
tmp_path), PostgreSQL and MariaDB/MySQL — and drops it afterwards. Server URLs come from
NEUTRINO_TEST_PG_URL and NEUTRINO_TEST_MYSQL_URL (the database part is ignored: a uniquely
named one is created). A test is skipped only when the server does not accept TCP
connections; any other failure (authentication, permissions) is an error, not a skip.

``migrated_db_url`` / ``migrated_database`` give a database already at the schema's head
instead (a copy of a template migrated once per session by ``neutrino db upgrade``:
tests.support.dbpool), for every test that is not about the migrations themselves.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from neutrino.db.engine import mysql_driver

PG_URL = os.environ.get(
    "NEUTRINO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# mysql:// without a driver: the one the server would choose (db.engine.mysql_driver:
# mysqlclient when installed, else PyMySQL); mysql+pymysql:// tests PyMySQL explicitly.
MYSQL_URL = os.environ.get("NEUTRINO_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/")
BACKENDS = ["sqlite", "postgresql", "mysql"]
CONNECT_TIMEOUT = 3

# Reachability is probed once per backend per session, not once per test.
_unreachable: dict[str, str | None] = {}


def _server_url(raw: str) -> URL:
    url = sa.engine.make_url(raw)
    # Name the driver explicitly (the one neutrino picks for a URL without one), so that
    # tests opening their own engines on the URL use it too.
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    elif url.drivername == "mysql":
        url = url.set(drivername=f"mysql+{mysql_driver()}")
    return url


def _probe(backend: str, url: URL) -> str | None:
    if backend not in _unreachable:
        host = url.host or "127.0.0.1"
        port = url.port or (5432 if backend == "postgresql" else 3306)
        try:
            with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
                _unreachable[backend] = None
        except OSError as e:
            _unreachable[backend] = f"{backend} server unreachable at {host}:{port}: {e}"
    return _unreachable[backend]


def _admin_engine(backend: str, url: URL) -> sa.Engine:
    if backend == "postgresql":
        # CREATE/DROP DATABASE cannot run inside a transaction block.
        return sa.create_engine(
            url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool,
            connect_args={"connect_timeout": CONNECT_TIMEOUT},
        )
    return sa.create_engine(
        url.set(database=None), poolclass=sa.NullPool,
        connect_args={"connect_timeout": CONNECT_TIMEOUT},
    )


def _create_database(backend: str, admin: sa.Engine, name: str) -> None:
    with admin.connect() as conn:
        if backend == "postgresql":
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" ENCODING \'UTF8\'')
        else:
            conn.exec_driver_sql(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
            conn.commit()


def _drop_database(backend: str, admin: sa.Engine, name: str) -> None:
    with admin.connect() as conn:
        if backend == "postgresql":
            # FORCE (PostgreSQL 13+) ends sessions a failed test may have left open.
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
            conn.commit()


@contextlib.contextmanager
def temp_database(backend: str, directory: Path) -> Iterator[str]:
    """A fresh, empty database on ``backend``, dropped afterwards; yields its URL.

    An unreachable server skips the test, unless NEUTRINO_TEST_REQUIRE_BACKENDS is set
    (as CI does: there every backend must really run)."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'neutrino-{uuid.uuid4().hex[:8]}.sqlite'}"
        return
    url = _server_url(PG_URL if backend == "postgresql" else MYSQL_URL)
    reason = _probe(backend, url)
    if reason:
        if os.environ.get("NEUTRINO_TEST_REQUIRE_BACKENDS"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"neutrino_test_{uuid.uuid4().hex[:16]}"
    admin = _admin_engine(backend, url)
    try:
        _create_database(backend, admin, name)
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            _drop_database(backend, admin, name)
    finally:
        admin.dispose()


@contextlib.contextmanager
def migrated_database(backend: str, directory: Path) -> Iterator[str]:
    """Like temp_database, but the database is at the schema's head, holding what the
    migrations put there and nothing else (as after ``neutrino db upgrade``): a copy of a
    template migrated once per session (tests.support.dbpool). For tests of everything
    but the migrations themselves."""
    from tests.support.dbpool import POOL

    if backend == "sqlite":
        with POOL.database(backend, None, directory) as url:
            yield url
        return
    url = _server_url(PG_URL if backend == "postgresql" else MYSQL_URL)
    reason = _probe(backend, url)
    if reason:
        if os.environ.get("NEUTRINO_TEST_REQUIRE_BACKENDS"):
            pytest.fail(reason)
        pytest.skip(reason)
    with POOL.database(backend, url, directory) as db:
        yield db


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLAlchemy URL of a fresh empty database; the test must dispose its engines."""
    with temp_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def migrated_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLAlchemy URL of a database at the schema's head (migrated_database), on every
    backend; the test must dispose its engines."""
    with migrated_database(request.param, tmp_path) as url:
        yield url


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests.support.dbpool import POOL

    POOL.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests using db_url run on every backend: mark them so `-m db` / `-m "not db"` select.
    for item in items:
        if {"db_url", "migrated_db_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)
