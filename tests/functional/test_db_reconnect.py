"""A pooled connection the database server closed (restart, failover, idle timeout) is
replaced transparently: the statement that finds it dead is run again on a new one.
(There is no pre-ping: that would cost a round trip at every checkout.)"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from neutrino.db.engine import Database

_ID = {"mysql": "SELECT CONNECTION_ID()", "postgresql": "SELECT pg_backend_pid()"}
_KILL = {"mysql": "KILL {}", "postgresql": "SELECT pg_terminate_backend({})"}


def _kill_pooled_connection(db: Database, url: str) -> None:
    backend = db.backend
    conn_id = db.read(lambda c: c.exec_driver_sql(_ID[backend]).scalar())
    other = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with other.connect() as c:
            c.exec_driver_sql(_KILL[backend].format(conn_id))
            c.commit()
    finally:
        other.dispose()


def test_reads_and_writes_survive_a_closed_connection(db_url: str) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite has no server to close connections")
    db = Database(db_url, pool_size=1, max_overflow=0)
    try:
        _kill_pooled_connection(db, db_url)
        assert db.read(lambda c: c.exec_driver_sql("SELECT 1").scalar()) == 1
        _kill_pooled_connection(db, db_url)
        assert db.write(lambda c: c.exec_driver_sql("SELECT 2").scalar()) == 2
    finally:
        db.dispose()
