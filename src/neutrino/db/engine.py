"""Engine creation and the one-transaction-per-API-call helper with retry.

SQLite: WAL (readers never block the writer), a busy timeout, and ``BEGIN IMMEDIATE`` for
writing transactions, so two processes never both read-then-upgrade and deadlock. Reads
use a plain deferred ``BEGIN`` and run concurrently.

PostgreSQL/MariaDB: conflicts between concurrent writers (duplicate key on an IP or MAC
chosen by two requests at once, deadlocks, serialization failures) roll the transaction
back and run it again from the start with jittered backoff; the checks inside it then see
the winner's row and give the definitive answer (e.g. 409 IpAddressAlreadyAllocated).
What a check reads is protected by row locks (db/locks.py), so a foreign key violation
(a row referred to was deleted by a concurrent request) should not happen; if one does,
it is a lost race too: the rerun sees the row gone and answers 404/409. One that persists
is answered 409, never 500.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from neutrino.exceptions import Conflict, NeedsRetry

LOG = logging.getLogger(__name__)
T = TypeVar("T")

_WRITE_OPT = "neutrino_write"
_CLEAN = "neutrino_clean"
_TX_CACHE = "neutrino_tx_cache"
# Reruns of a transaction that hit a foreign key violation: a vanished row is seen as
# gone on the first rerun; one that persists is not a race (answered 409).
_FOREIGN_KEY_RETRIES = 3


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20) -> Engine:
    u = sa.engine.make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(u.database)), exist_ok=True)
        engine = sa.create_engine(
            u,
            connect_args={"timeout": 60, "check_same_thread": False},
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
        _setup_sqlite(engine)
        return engine
    kwargs: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        # No pre-ping (a round trip at every checkout, two per port create): a connection the
        # server dropped fails its first statement, SQLAlchemy invalidates the pool, and the
        # transaction is run again (is_retriable).
        "pool_recycle": 3600,
        # The pool's own reset (a ROLLBACK round trip at every checkin, even after a
        # COMMIT) is replaced by _setup_reset: two round trips of a port create's 16.
        "pool_reset_on_return": None,
    }
    if u.get_backend_name() == "mysql":
        kwargs["isolation_level"] = "READ COMMITTED"
        if u.drivername == "mysql":
            u = u.set(drivername=f"mysql+{mysql_driver()}")
        u = u.update_query_dict({"charset": "utf8mb4"})
        if u.drivername == "mysql+mysqldb":
            kwargs["connect_args"] = {"conv": mysqldb_conversions()}
    elif u.get_backend_name() == "postgresql" and u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(u, **kwargs)
    _setup_reset(engine)
    return engine


def _setup_reset(engine: Engine) -> None:
    """Roll back a connection returned to the pool unless Database.read/write just ended
    its transaction (mark_clean); SQLAlchemy cannot tell a committed connection from
    one left in a transaction, and PyMySQL/mysqlclient send every rollback to the server."""
    @event.listens_for(engine, "reset")
    def _on_reset(dbapi_conn: Any, record: Any, _state: Any) -> None:
        if record is not None and record.info.pop(_CLEAN, False):
            return
        dbapi_conn.rollback()


def mark_clean(conn: Connection) -> None:
    """The transaction of ``conn`` was committed or rolled back: nothing to reset."""
    conn.info[_CLEAN] = True


def tx_cache(conn: Connection) -> dict[Any, Any]:
    """What one step of a Database.write transaction leaves for a later step of the same
    transaction (a row the policy check read that the service reads again); a rerun of
    the transaction starts empty. Outside Database.write: a fresh dict, never kept."""
    cache = conn.info.get(_TX_CACHE)
    return cache if cache is not None else {}


def mysql_driver() -> str:
    """The driver of a ``mysql://`` URL that names none: mysqlclient (C; decodes rows 3-4x
    faster than PyMySQL: 1000 port rows 13.4 -> 4.6 ms) when it is installed (it needs
    libmariadb-dev to build: scripts/system-packages.sh, pyproject's ``mysql`` extra),
    else PyMySQL (pure Python, always installed). ``mysql+pymysql://`` and
    ``mysql+mysqldb://`` choose for themselves."""
    try:
        import MySQLdb  # noqa: F401
    except ImportError:
        return "pymysql"
    return "mysqldb"


def mysqldb_datetime(text: str) -> Any:
    """mysqlclient's DATETIME/TIMESTAMP converter, in C for what MySQL writes
    (``YYYY-MM-DD HH:MM:SS[.f…]``): its own (MySQLdb.times.DateTime_or_None) slices and
    int()s seven fields in Python, ~14,000 instructions a value, a quarter of a 1000-port
    list (two per row). Anything else goes to the original (a zero date: None)."""
    n = len(text)
    if n == 19 or (20 < n <= 26 and text[19] == "."):
        try:
            value = datetime.datetime.fromisoformat(text)
        except (ValueError, TypeError):
            value = None
        if value is not None and value.tzinfo is None:
            return value
    from MySQLdb.times import DateTime_or_None

    return DateTime_or_None(text)


def mysqldb_conversions() -> dict[Any, Any]:
    """mysqlclient's conversions with mysqldb_datetime (a connection's ``conv``)."""
    from MySQLdb.constants import FIELD_TYPE
    from MySQLdb.converters import conversions

    return {**conversions, FIELD_TYPE.DATETIME: mysqldb_datetime,
            FIELD_TYPE.TIMESTAMP: mysqldb_datetime}


def _setup_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy (not pysqlite) decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_WRITE_OPT):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def is_retriable(exc: BaseException) -> bool:
    """Lost races and transient lock conflicts, on every backend we support."""
    if isinstance(exc, NeedsRetry):
        return True
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True  # the server closed the connection (restart, failover, idle timeout)
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    orig = exc.orig
    if isinstance(exc, sa.exc.IntegrityError):
        # Duplicate keys only; a foreign key violation gets a few reruns of its own
        # (Database.write), other integrity errors are bugs.
        return _is_duplicate(orig)
    code = getattr(orig, "args", (None,))[0] if orig is not None else None
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in ("40001", "40P01", "55P03"):
        return True
    if code in (1213, 1205, 1020):  # MySQL deadlock, lock wait timeout, record changed
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database table is locked" in text


def _is_duplicate(orig: Any) -> bool:
    if getattr(orig, "sqlstate", None) == "23505":
        return True
    args = getattr(orig, "args", ())
    if args and args[0] == 1062:
        return True
    return "unique constraint failed" in str(orig).lower()


def _is_foreign_key(orig: Any) -> bool:
    if getattr(orig, "sqlstate", None) == "23503":
        return True
    args = getattr(orig, "args", ())
    if args and args[0] in (1451, 1452):  # MySQL: parent row in use / missing
        return True
    return "foreign key constraint failed" in str(orig).lower()


def is_foreign_key(exc: BaseException) -> bool:
    return isinstance(exc, sa.exc.IntegrityError) and _is_foreign_key(exc.orig)


def is_duplicate(exc: BaseException) -> bool:
    return isinstance(exc, sa.exc.IntegrityError) and _is_duplicate(exc.orig)


class Database:
    """An engine plus the transaction helpers every service uses."""

    def __init__(self, url: str, *, max_retries: int = 20, pool_size: int = 10,
                 max_overflow: int = 20) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow)
        self.backend = self.engine.dialect.name
        self.max_retries = max_retries
        # SQLite has one writer at a time. Threads of this process queue here for their
        # turn instead of polling the database lock (SQLite's busy handler sleeps 1, 2,
        # 5, ... 100 ms between tries, which makes 8 concurrent writers take ~0.5 s at
        # p99). Scheduling only: what keeps writers apart, across processes too, is
        # BEGIN IMMEDIATE, and what keeps addresses unique is the constraints.
        self._write_turn: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if self.backend == "sqlite" else contextlib.nullcontext())

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one writing transaction, retried as a whole on a lost race."""
        attempt = fk_attempt = 0
        while True:
            try:
                with self._write_turn, self.engine.connect() as conn:
                    conn = conn.execution_options(**{_WRITE_OPT: True})
                    conn.info[_TX_CACHE] = {}
                    try:
                        with conn.begin():
                            result = fn(conn)
                    finally:
                        conn.info.pop(_TX_CACHE, None)
                    mark_clean(conn)
                    return result
            except Exception as exc:
                if is_foreign_key(exc):
                    fk_attempt += 1
                    if fk_attempt > _FOREIGN_KEY_RETRIES or attempt >= self.max_retries:
                        LOG.warning("foreign key violation persists: %s", exc)
                        raise Conflict("The request refers to a resource that another "
                                       "request deleted or changed.") from None
                elif not is_retriable(exc) or attempt >= self.max_retries:
                    raise
                attempt += 1
                # Jittered exponential backoff, capped: spreads competing writers apart.
                delay = min(0.5, 0.002 * (2 ** min(attempt, 8))) * random.random()
                LOG.debug("retrying transaction (attempt %d) after %r", attempt, exc)
                time.sleep(delay)

    def read(self, fn: Callable[[Connection], T]) -> T:
        try:
            return self._read(fn)
        except sa.exc.DBAPIError as e:
            if not e.connection_invalidated:
                raise
        # a pooled connection the server had closed: once more, on a fresh one
        return self._read(fn)

    def _read(self, fn: Callable[[Connection], T]) -> T:
        with self.engine.connect() as conn:
            with conn.begin():
                result = fn(conn)
            mark_clean(conn)
            return result

    def dispose(self) -> None:
        self.engine.dispose()
