"""The database layer's choices that save round trips: which MariaDB driver a URL without
one gets, that lost races are recognised whatever the driver, and that the pool skips
its ROLLBACK only after Database.read/write ended the transaction themselves."""

from __future__ import annotations

import importlib.util

import pytest
import sqlalchemy as sa

from neutrino.db.engine import Database, create_engine, is_duplicate, is_retriable, mysql_driver

HAVE_MYSQLCLIENT = importlib.util.find_spec("MySQLdb") is not None


def test_mysql_url_without_driver_uses_mysqlclient_when_installed() -> None:
    assert mysql_driver() == ("mysqldb" if HAVE_MYSQLCLIENT else "pymysql")
    engine = create_engine("mysql://root@127.0.0.1:3306/x")
    assert engine.dialect.driver == mysql_driver()
    engine.dispose()


@pytest.mark.parametrize("driver", ["pymysql", "mysqldb"])
def test_named_mysql_driver_is_kept(driver: str) -> None:
    if driver == "mysqldb" and not HAVE_MYSQLCLIENT:
        pytest.skip("mysqlclient not installed")
    engine = create_engine(f"mysql+{driver}://root@127.0.0.1:3306/x")
    assert engine.dialect.driver == driver
    engine.dispose()


def _driver_errors() -> list[tuple[type[Exception], type[Exception]]]:
    import pymysql

    found = [(pymysql.err.OperationalError, pymysql.err.IntegrityError)]
    if HAVE_MYSQLCLIENT:
        import MySQLdb

        found.append((MySQLdb.OperationalError, MySQLdb.IntegrityError))
    return found


def test_mysql_lost_races_are_retriable_with_either_driver() -> None:
    for operational, integrity in _driver_errors():
        deadlock = sa.exc.OperationalError("UPDATE", {}, operational(1213, "Deadlock found"))
        timeout = sa.exc.OperationalError("UPDATE", {}, operational(1205, "Lock wait timeout"))
        duplicate = sa.exc.IntegrityError("INSERT", {}, integrity(1062, "Duplicate entry"))
        foreign = sa.exc.IntegrityError("INSERT", {}, integrity(1452, "foreign key fails"))
        assert is_retriable(deadlock) and is_retriable(timeout)
        assert is_retriable(duplicate) and is_duplicate(duplicate)
        assert not is_retriable(foreign) and not is_duplicate(foreign)


def test_connection_returned_in_a_transaction_is_rolled_back(db_url: str) -> None:
    """A connection given back with its transaction open (here through the raw DBAPI
    connection, which SQLAlchemy does not track) is still rolled back by the pool, while
    those of Database.read/write, already ended, are not rolled back again."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite connections run in autocommit until SQLAlchemy begins")
    db = Database(db_url, pool_size=1, max_overflow=0)
    try:
        db.write(lambda c: c.exec_driver_sql("CREATE TABLE reset_probe (v INTEGER)"))
        raw = db.engine.raw_connection()
        cur = raw.cursor()
        cur.execute("INSERT INTO reset_probe (v) VALUES (1)")
        cur.close()
        raw.close()  # back to the pool without commit: the pool must roll it back
        db.write(lambda c: c.exec_driver_sql("INSERT INTO reset_probe (v) VALUES (2)"))
        for _ in range(3):
            values = db.read(lambda c: sorted(c.exec_driver_sql(
                "SELECT v FROM reset_probe").scalars()))
            assert values == [2]
    finally:
        db.dispose()
