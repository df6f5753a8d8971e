"""list, get and reading back after a write, for a resource kept in one table whose
row -> dict is derived from its definition (db/rowdict.py): flavors, service profiles,
default statefulness, and (services/subnetpools/shareable.py) subnet pools, address
scopes and address groups. A subclass says what a caller sees (``visible``) and adds
what its items show beyond their columns (``to_dicts``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.context import Context
from neutrino.core.common import BulkCreate
from neutrino.db.engine import Database
from neutrino.db.listing import ListQuery, ListSpec, select_page
from neutrino.db.rowdict import RowDict
from neutrino.schema.base import Resource


class TableService(BulkCreate):
    def __init__(self, db: Database, resource: Resource, spec: ListSpec,
                 not_found: Callable[[str], Exception]) -> None:
        self.db = db
        self.spec = spec
        self.table = spec.table
        self.not_found = not_found
        self.row_dict = RowDict(resource, spec.table)

    def visible(self, ctx: Context | None) -> list[sa.ColumnElement[bool]]:
        """What of the table ``ctx`` may see (None: whoever asks, e.g. another service
        inside its transaction). All of it, unless a subclass says otherwise."""
        return []

    def to_dicts(self, conn: Connection, rows: list[Any], ctx: Context | None = None
                 ) -> list[dict[str, Any]]:
        """The API dicts of ``rows`` as ``ctx`` sees them (None: no caller's view)."""
        return self.row_dict(rows)

    def row(self, conn: Connection, id_: str, ctx: Context | None = None) -> Any:
        """The row if ``ctx`` may see it, else the resource's NotFound."""
        row = conn.execute(sa.select(self.table).where(
            self.table.c.id == id_, *self.visible(ctx))).first()
        if row is None:
            raise self.not_found(id_)
        return row

    def dicts_of(self, conn: Connection, ids: list[str], ctx: Context | None = None
                 ) -> list[dict[str, Any]]:
        """The API dicts of the rows ``ids`` as written so far, in that order."""
        rows = {r.id: r for r in conn.execute(
            sa.select(self.table).where(self.table.c.id.in_(ids)))}
        return self.to_dicts(conn, [rows[i] for i in ids], ctx)

    def list(self, ctx: Context, q: ListQuery) -> tuple[list[dict[str, Any]], bool]:
        def run(conn: Connection) -> tuple[list[dict[str, Any]], bool]:
            rows, more = select_page(conn, self.spec, q, extra_where=self.visible(ctx),
                                     marker_not_found=self.not_found)
            return self.to_dicts(conn, list(rows), ctx), more

        return self.db.read(run)

    def get(self, ctx: Context, id_: str) -> dict[str, Any]:
        return self.db.read(
            lambda conn: self.to_dicts(conn, [self.row(conn, id_, ctx)], ctx)[0])

