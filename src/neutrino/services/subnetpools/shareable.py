"""What subnet pools and address scopes share: a project sees its own, those ``shared``
with everyone and those an RBAC entry shares with it; each shows ``shared`` as the caller
sees it and its tags; both are listed and read the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.context import Context
from neutrino.core import tags
from neutrino.db.engine import Database
from neutrino.db.listing import ListQuery, ListSpec, select_page
from neutrino.db.rowdict import RowDict
from neutrino.schema.base import Resource
from neutrino.services.subnetpools.rbac import entry_exists, shared_with


class Shareable:
    """The objects of ``spec.table``, shared by the entries of ``rbacs``."""

    def __init__(self, resource: Resource, spec: ListSpec, rbacs: sa.Table,
                 not_found: Callable[[str], Exception]) -> None:
        self.table = spec.table
        self.spec = spec
        self.rbacs = rbacs
        self.not_found = not_found
        self.row_dict = RowDict(resource, spec.table)

    def visible_clause(self, ctx: Context) -> sa.ColumnElement[bool]:
        c = self.table.c
        return sa.or_(c.project_id == ctx.project_id, c.shared.is_(True),
                      entry_exists(self.rbacs, c.id, ctx.project_id))

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
        tags_of = tags.load(conn, [r.id for r in rows])
        shared = shared_with(conn, self.rbacs, rows,
                             ctx.project_id if ctx is not None else None)
        out = self.row_dict(rows)
        for d, r in zip(out, rows, strict=True):
            d["shared"] = bool(r.shared) or r.id in shared
            d["tags"] = tags_of.get(r.id, [])
        return out


class ShareableService:
    """list and get of a service whose objects are ``objects``; ``to_dicts`` adds what
    the service's objects show beyond the common."""

    objects: Shareable

    def __init__(self, db: Database) -> None:
        self.db = db

    def to_dicts(self, conn: Connection, rows: list[Any], ctx: Context | None = None
                 ) -> list[dict[str, Any]]:
        return self.objects.dicts(conn, rows, ctx)

    def list(self, ctx: Context, q: ListQuery) -> tuple[list[dict[str, Any]], bool]:
        def run(conn: Connection) -> tuple[list[dict[str, Any]], bool]:
            extra = [] if ctx.sees_all else [self.objects.visible_clause(ctx)]
            rows, more = select_page(conn, self.objects.spec, q, extra_where=extra,
                                     marker_not_found=self.objects.not_found)
            return self.to_dicts(conn, list(rows), ctx), more

        return self.db.read(run)

    def get(self, ctx: Context, id_: str) -> dict[str, Any]:
        return self.db.read(
            lambda conn: self.to_dicts(conn, [self.objects.row(conn, ctx, id_)], ctx)[0])
