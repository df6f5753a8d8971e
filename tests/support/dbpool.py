"""Databases at the schema's head for tests, without running the migrations for each one.

Migrating an empty database costs about 11 s on MariaDB, 3 s on PostgreSQL and 1-2 s on
SQLite; API tests need one per module per backend. So each backend's schema is migrated
once per test session, by the real ``neutrino db upgrade`` command, into a *template*;
``migrated_database`` then hands out databases equal to it:

- SQLite: a copy of the template's file;
- PostgreSQL: ``CREATE DATABASE ... TEMPLATE`` (a copy made by the server);
- MariaDB/MySQL: the template's tables re-created from ``SHOW CREATE TABLE``, with the
  rows the migrations put there; checked once against the template (columns, indexes,
  constraints) so a copy that differs fails the session's first test instead of testing
  another schema.

A PostgreSQL or MariaDB database given back is reused instead of dropped (dropping and
creating one costs seconds; emptying it, a fraction): the connections left to it are
ended, every row deleted, the migrations' rows put back and the identity counters reset,
so the next user finds exactly what a new copy holds. One whose schema a test changed
(columns, indexes, constraints differ from the template's) is dropped instead.

Databases are named ``neutrino_test_<hex>`` and unique per session (parallel sessions and
workers never share one); all are dropped when the session ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

# The queries that describe a schema on each server backend, for the equality checks:
# every column with its type, nullability and default; every index; every constraint.
_FINGERPRINT = {
    "postgresql": [
        "SELECT table_name, column_name, data_type, is_nullable, column_default, "
        "character_maximum_length FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY 1, 2",
        "SELECT tablename, indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = 'public' ORDER BY 1, 2",
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2",
    ],
    "mysql": [
        "SELECT table_name, column_name, column_type, is_nullable, column_default, "
        "collation_name, extra FROM information_schema.columns "
        "WHERE table_schema = DATABASE() ORDER BY 1, 2",
        "SELECT table_name, index_name, seq_in_index, column_name, non_unique "
        "FROM information_schema.statistics WHERE table_schema = DATABASE() "
        "ORDER BY 1, 2, 3",
        "SELECT r.table_name, r.constraint_name, r.referenced_table_name, r.update_rule, "
        "r.delete_rule, k.column_name, k.referenced_column_name "
        "FROM information_schema.referential_constraints r "
        "JOIN information_schema.key_column_usage k "
        "ON k.constraint_schema = r.constraint_schema "
        "AND k.constraint_name = r.constraint_name AND k.table_name = r.table_name "
        "WHERE r.constraint_schema = DATABASE() ORDER BY 1, 2, 6",
        "SELECT table_name, constraint_name, check_clause "
        "FROM information_schema.check_constraints "
        "WHERE constraint_schema = DATABASE() ORDER BY 1, 2",
    ],
}


def _fingerprint(conn: sa.Connection, backend: str) -> list[list[tuple[Any, ...]]]:
    return [[tuple(r) for r in conn.exec_driver_sql(q)] for q in _FINGERPRINT[backend]]


def _upgrade_with_cli(url: str, workdir: Path) -> None:
    """``neutrino db upgrade`` on ``url``: the command an operator runs."""
    conf = workdir / f"upgrade-{uuid.uuid4().hex[:8]}.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {workdir}\n\n[database]\nconnection = {url}\n")
    subprocess.run([sys.executable, "-m", "neutrino.cli.main", "db", "upgrade",
                    "--config-file", str(conf)],
                   capture_output=True, text=True, timeout=300, check=True)


class _ServerBackend:
    """One PostgreSQL or MariaDB server's template and its databases not in use."""

    def __init__(self, backend: str, url: URL, admin: sa.Engine, workdir: Path) -> None:
        from tests.conftest import _create_database

        self.backend = backend
        self.url = url
        self.admin = admin
        self.idle: list[str] = []
        self.made: set[str] = set()
        self.template = self._new_name()
        _create_database(backend, admin, self.template)
        self.made.add(self.template)
        _upgrade_with_cli(self._url(self.template), workdir)
        engine = self._engine(self.template)
        try:
            with engine.connect() as conn:
                self.fingerprint = _fingerprint(conn, backend)
                meta = sa.MetaData()
                meta.reflect(conn)
                # children first: rows are deleted in this order with foreign keys enforced
                self.tables = list(reversed(meta.sorted_tables))
                self.seeds = {t.name: [dict(r._mapping) for r in conn.execute(sa.select(t))]
                              for t in meta.sorted_tables}
                self.seeds = {name: rows for name, rows in self.seeds.items() if rows}
                self.creates = self._create_statements(conn) if backend == "mysql" else []
                self.identities = self._identities(conn)
        finally:
            engine.dispose()
        self.checked_copy = False

    def _new_name(self) -> str:
        return f"neutrino_test_{uuid.uuid4().hex[:16]}"

    def _url(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def _engine(self, name: str) -> sa.Engine:
        return sa.create_engine(self._url(name), poolclass=sa.NullPool)

    def _create_statements(self, conn: sa.Connection) -> list[str]:
        return [conn.exec_driver_sql(f"SHOW CREATE TABLE `{t.name}`").one()[1]
                for t in reversed(self.tables)]

    def _identities(self, conn: sa.Connection) -> list[str]:
        """The statements that set every identity counter back to its start."""
        if self.backend == "postgresql":
            return [f"ALTER SEQUENCE \"{name}\" RESTART" for (name,) in conn.exec_driver_sql(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")]
        return [f"ALTER TABLE `{name}` AUTO_INCREMENT = 1" for (name,) in conn.exec_driver_sql(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = "
            "DATABASE() AND extra LIKE '%%auto_increment%%'")]

    def acquire(self) -> str:
        if self.idle:
            return self.idle.pop()
        from tests.conftest import _create_database

        name = self._new_name()
        self.made.add(name)
        if self.backend == "postgresql":
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            return name
        _create_database(self.backend, self.admin, name)
        engine = self._engine(name)
        try:
            with engine.begin() as conn:
                for create in self.creates:  # parents first: foreign keys stay checked
                    conn.exec_driver_sql(create)
                self._seed(conn)
            if not self.checked_copy:
                with engine.connect() as conn:
                    copy = _fingerprint(conn, self.backend)
                assert copy == self.fingerprint, (
                    f"the copy {name} of the migrated MariaDB template {self.template} "
                    f"differs from it: {_diff(self.fingerprint, copy)}")
                self.checked_copy = True
        finally:
            engine.dispose()
        return name

    def _seed(self, conn: sa.Connection) -> None:
        for table in reversed(self.tables):  # parents first
            rows = self.seeds.get(table.name)
            if rows:
                conn.execute(table.insert(), rows)

    def release(self, name: str) -> None:
        """Empty ``name`` back to the template's state and keep it, or drop it."""
        self._end_sessions(name)
        engine = self._engine(name)
        try:
            with engine.connect() as conn:
                reusable = _fingerprint(conn, self.backend) == self.fingerprint
            if reusable:
                with engine.begin() as conn:
                    for table in self.tables:
                        conn.execute(table.delete())
                    self._seed(conn)
                with engine.begin() as conn:
                    for statement in self.identities:
                        conn.exec_driver_sql(statement)
        finally:
            engine.dispose()
        if reusable:
            self.idle.append(name)
        else:
            self.drop(name)

    def _end_sessions(self, name: str) -> None:
        """Ends what a test left connected (a killed server's, an engine not disposed):
        its locks would block the cleanup, its writes must not land in the next test."""
        with self.admin.connect() as conn:
            if self.backend == "postgresql":
                conn.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
                return
            ids = [i for (i,) in conn.exec_driver_sql(
                "SELECT id FROM information_schema.processlist "
                "WHERE db = %s AND id <> CONNECTION_ID()", (name,))]
            for i in ids:
                with contextlib.suppress(sa.exc.DBAPIError):  # it ended meanwhile
                    conn.exec_driver_sql(f"KILL {int(i)}")

    def drop(self, name: str) -> None:
        from tests.conftest import _drop_database

        _drop_database(self.backend, self.admin, name)
        self.made.discard(name)

    def close(self) -> None:
        for name in list(self.made):
            self.drop(name)
        self.admin.dispose()


def _diff(a: list[list[tuple[Any, ...]]], b: list[list[tuple[Any, ...]]]) -> str:
    out = []
    for rows_a, rows_b in zip(a, b, strict=True):
        out += [f"-{r}" for r in rows_a if r not in rows_b]
        out += [f"+{r}" for r in rows_b if r not in rows_a]
    return "; ".join(out[:20])


class Pool:
    """The session's templates, made on first use of each backend."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workdir: Path | None = None
        self._sqlite: Path | None = None
        self._servers: dict[str, _ServerBackend] = {}

    def workdir(self) -> Path:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="neutrino-dbpool-"))
        return self._workdir

    def sqlite_template(self) -> Path:
        if self._sqlite is None:
            path = self.workdir() / "template.sqlite"
            _upgrade_with_cli(f"sqlite:///{path}", self.workdir())
            # one self-contained file (no -wal beside it), so that a copy is all of it
            with contextlib.closing(sqlite3.connect(path)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._sqlite = path
        return self._sqlite

    def server(self, backend: str, url: URL) -> _ServerBackend:
        from tests.conftest import _admin_engine

        if backend not in self._servers:
            self._servers[backend] = _ServerBackend(backend, url, _admin_engine(backend, url),
                                                    self.workdir())
        return self._servers[backend]

    @contextlib.contextmanager
    def database(self, backend: str, url: URL | None, directory: Path) -> Iterator[str]:
        if backend == "sqlite":
            with self._lock:
                template = self.sqlite_template()
            path = directory / f"neutrino-{uuid.uuid4().hex[:8]}.sqlite"
            shutil.copyfile(template, path)
            yield f"sqlite:///{path}"
            return
        assert url is not None
        with self._lock:
            server = self.server(backend, url)
            name = server.acquire()
        try:
            yield server._url(name)
        finally:
            with self._lock:
                server.release(name)

    def close(self) -> None:
        for server in self._servers.values():
            server.close()
        self._servers.clear()
        if self._workdir is not None and not os.environ.get("NEUTRINO_TEST_KEEP_DBPOOL"):
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
            self._sqlite = None


POOL = Pool()
