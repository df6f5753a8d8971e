"""Row locks that make a read-check-write atomic across API processes and servers.

Every check whose answer another request could change before the commit holds a lock on
one row both sides agree on, taken *before* the check reads anything:

- a row being changed (a port, a subnet, a router) is locked exclusively by each writer
  of it, so If-Match and every read-modify-write see the latest committed revision;
- a cross-resource invariant is kept by locking the same parent row on both sides: a
  port create or an address change holds its network shared; whatever could invalidate
  it (network delete, a subnet created, changed or deleted, an RBAC entry removed or
  retargeted) holds the network exclusively. Concurrent outcomes are then one of the
  sequential ones.

Locks are taken by primary key, on their own, in id order (no deadlock between two
requests locking several rows of a table). The caller reads what it checks with a *new*
statement afterwards: under READ COMMITTED (PostgreSQL's default, and what
db.engine sets for MariaDB/MySQL) a statement sees what was committed before it
started, so a read issued once the lock is held sees the winner's commit, whereas a
``SELECT ... FOR UPDATE`` that waited re-checks only the locked row, not the subqueries
and joins of the same statement.

SQLite needs none of this: a writing transaction starts with ``BEGIN IMMEDIATE``
(db.engine), which admits one writer at a time across processes, so the whole
transaction is serialized.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def lock(conn: Connection, table: sa.Table, ids: Iterable[str | None], *,
         shared: bool = False) -> None:
    """Hold the rows of ``table`` with these ids until the transaction ends (missing ones
    are simply not there). ``shared``: a lock that other shared holders may hold too
    (PostgreSQL FOR KEY SHARE, as a foreign key check takes; MariaDB/MySQL LOCK IN SHARE
    MODE), which conflicts with an exclusive lock and with deleting the row."""
    if conn.dialect.name == "sqlite":
        return
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return
    conn.execute(_statement(table, shared), {"ids": wanted}).all()


@functools.lru_cache(maxsize=64)
def _statement(table: sa.Table, shared: bool) -> sa.Select[tuple[str]]:
    # built once per table (port create is a hot path: building a SELECT costs as much
    # CPU as running it)
    c = table.c.id
    return (sa.select(c).where(c.in_(sa.bindparam("ids", expanding=True))).order_by(c)
            .with_for_update(read=shared, key_share=shared))
