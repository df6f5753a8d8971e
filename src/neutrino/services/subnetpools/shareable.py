"""What subnet pools, address scopes and address groups share: a project sees its own,
those ``shared`` with everyone and those an RBAC entry shares with it; each shows
``shared`` as the caller sees it (and its tags, where its resource has them); all are
listed, read and written back the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.context import Context
from neutrino.core import records, tags
from neutrino.db.engine import Database
from neutrino.db.listing import ListSpec
from neutrino.db.rowdict import RowDict
from neutrino.schema.base import Resource
from neutrino.services.subnetpools.rbac import entry_exists, shared_with
from neutrino.services.table_service import TableService


class Shareable:
    """The objects of ``spec.table``, shared by the entries of ``rbacs``."""

    def __init__(self, resource: Resource, spec: ListSpec, rbacs: sa.Table,
                 not_found: Callable[[str], Exception]) -> None:
        self.table = spec.table
        self.spec = spec
        self.rbacs = rbacs
        self.not_found = not_found
        self.row_dict = RowDict(resource, spec.table)
        self.tagged = "tags" in resource.attrs

    def visible_to(self, project: str | None) -> sa.ColumnElement[bool]:
        """Objects ``project`` may use: its own and those shared with it."""
        c = self.table.c
        return sa.or_(c.project_id == project, c.shared.is_(True),
                      entry_exists(self.rbacs, c.id, project))

    def visible_clause(self, ctx: Context) -> sa.ColumnElement[bool]:
        return self.visible_to(ctx.project_id)

    def row(self, conn: Connection, ctx: Context, id_: str, *, lock: bool = False) -> Any:
        """The object if the caller may see it (or an admin asks), else its NotFound."""
        stmt = sa.select(self.table).where(self.table.c.id == id_)
        if not ctx.sees_all:
            stmt = stmt.where(self.visible_clause(ctx))
        if lock and conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).first()
        if row is None:
            raise self.not_found(id_)
        return row

    def dicts(self, conn: Connection, rows: list[Any], ctx: Context | None
              ) -> list[dict[str, Any]]:
        """The API dicts, ``shared`` as ``ctx``'s project sees it (None: no project)."""
        if not rows:
            return []
        shared = shared_with(conn, self.rbacs, rows,
                             ctx.project_id if ctx is not None else None)
        out = self.row_dict(rows)
        for d, r in zip(out, rows, strict=True):
            d["shared"] = bool(r.shared) or r.id in shared
        if self.tagged:
            tags_of = tags.load(conn, [r.id for r in rows])
            for d in out:
                d["tags"] = tags_of.get(d["id"], [])
        return out


class ShareableService(TableService):
    """A service whose objects are ``objects``; ``to_dicts`` adds what the service's
    objects show beyond the common."""

    objects: Shareable

    def __init__(self, db: Database) -> None:
        o = self.objects
        super().__init__(db, o.row_dict.resource, o.spec, o.not_found)

    def visible(self, ctx: Context | None) -> list[sa.ColumnElement[bool]]:
        return [] if ctx is None or ctx.sees_all else [self.objects.visible_clause(ctx)]

    def to_dicts(self, conn: Connection, rows: list[Any], ctx: Context | None = None
                 ) -> list[dict[str, Any]]:
        return self.objects.dicts(conn, rows, ctx)

    def held(self, conn: Connection, ctx: Context, id_: str) -> Any:
        """The object a change or delete is about, locked until the commit, after its
        NotFound and the request's If-Match revision check."""
        row = self.objects.row(conn, ctx, id_, lock=True)
        records.check_revision(ctx, row)
        return row

    def write_changes(self, conn: Connection, row: Any, values: dict[str, Any]) -> None:
        """Sets ``values`` (columns that differ from ``row``) and a new revision."""
        records.revise(conn, self.table, row, values)
