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
from neutrino.schema.base import api_time as fmt_time


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


def check_revision(ctx: Context, row: Any) -> None:
    """Honour If-Match: revision_number=N inside the write's transaction (412 otherwise)."""
    expected = ctx.if_match_revision
    if expected is not None and row.revision_number != expected:
        raise exc.RevisionNumberConstraintFailed(expected=expected,
                                                 current=row.revision_number)


# For services whose rows are not (yet) read through a schema-derived RowDict
# (db/rowdict.py): the common keys of an item, as RowDict writes them.
def project_fields(project_id: str | None) -> dict[str, Any]:
    return {"project_id": project_id, "tenant_id": project_id}


def standard_fields(row: Any) -> dict[str, Any]:
    created, updated = row.created_at, row.updated_at
    created_s = fmt_time(created)
    return {
        "description": row.description,
        "created_at": created_s,
        "updated_at": created_s if updated == created else fmt_time(updated),
        "revision_number": row.revision_number,
    }
