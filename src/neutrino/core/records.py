"""What every write of a row needs: ids, time stamps, revisions and If-Match."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_id() -> str:
    return str(uuid.uuid4())


def bump_revisions(conn: Connection, table: sa.Table, ids: Iterable[str]) -> None:
    """A change to what a resource shows that is stored elsewhere (a network's subnets, a
    port's addresses) is a new revision of it, as Neutron's revises_on_change."""
    ids = list(ids)
    if ids:
        conn.execute(sa.update(table).where(table.c.id.in_(ids)).values(
            revision_number=table.c.revision_number + 1, updated_at=now()))


def revise(conn: Connection, table: sa.Table, row: Any, values: dict[str, Any]) -> None:
    """Sets ``values`` (columns that differ from ``row``) and a new revision of it."""
    conn.execute(sa.update(table).where(table.c.id == row.id).values(
        **values, updated_at=now(), revision_number=row.revision_number + 1))


def check_revision(ctx: Context, row: Any) -> None:
    """Honour If-Match: revision_number=N inside the write's transaction (412 otherwise)."""
    expected = ctx.if_match_revision
    if expected is not None and row.revision_number != expected:
        raise exc.RevisionNumberConstraintFailed(expected=expected,
                                                 current=row.revision_number)

