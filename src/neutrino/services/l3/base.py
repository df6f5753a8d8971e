"""What the router and floating IP services share: their wiring, reading one row with the
caller's visibility, list and show, and the ports they create and delete inside their own
transactions (finished after the commit)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino.context import Context
from neutrino.core.common import BulkCreate
from neutrino.core.mech.base import DriverContext
from neutrino.core.quotas import QuotaService
from neutrino.db.engine import Database
from neutrino.db.listing import ListQuery, ListSpec, fetch_page, page_ids, page_statement
from neutrino.schema import port as port_schema
from neutrino.services.l3.scheduler import L3Scheduler

if TYPE_CHECKING:
    from neutrino.core.plugin import Ml2Plugin

# Ports created and deleted inside a transaction, finished after its commit.
Created = list[tuple[dict[str, Any], DriverContext]]


class PortWork:
    """What a router or floating IP transaction did to ports, for after its commit."""

    def __init__(self) -> None:
        self.created: Created = []
        self.deleted: list[DriverContext] = []
        self.updated: list[tuple[dict[str, Any], dict[str, Any]]] = []


class L3ResourceService(BulkCreate):
    """A project-owned L3 resource: a subclass names its table's list spec and its
    not-found error, and formats rows (``to_dicts``)."""

    list_spec: ListSpec
    # the row by :id, and the same holding the row until the transaction ends: built
    # once per subclass (building a SELECT costs as much CPU as running it)
    by_id: sa.Select[Any]
    by_id_for_update: sa.Select[Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = cls.list_spec.table
        cls.by_id = sa.select(table).where(table.c.id == sa.bindparam("id"))
        cls.by_id_for_update = cls.by_id.with_for_update()

    def __init__(self, conf: cfg.ConfigOpts, db: Database, plugin: Ml2Plugin,
                 scheduler: L3Scheduler, quotas: QuotaService | None = None) -> None:
        self.conf = conf
        self.quotas = quotas  # None: no quota enforcement
        self.db = db
        self.plugin = plugin
        self.scheduler = scheduler
        self._port_defaults = port_schema.resource().post_defaults()

    @staticmethod
    def not_found(id_: str) -> Exception:
        raise NotImplementedError

    def to_dicts(self, conn: Connection, rows: list[Any],
                 page: sa.Subquery | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _row(self, conn: Connection, ctx: Context, id_: str, *,
             for_update: bool = False) -> Any:
        locking = for_update and self.db.backend != "sqlite"
        row = conn.execute(self.by_id_for_update if locking else self.by_id,
                           {"id": id_}).first()
        if row is None or not (ctx.sees_all or row.project_id == ctx.project_id):
            raise self.not_found(id_)
        return row

    def _load(self, conn: Connection, id_: str) -> dict[str, Any]:
        return self.to_dicts(conn, [conn.execute(self.by_id, {"id": id_}).one()])[0]

    def list(self, ctx: Context, q: ListQuery) -> tuple[list[dict[str, Any]], bool]:
        spec = self.list_spec

        def run(conn: Connection) -> tuple[list[dict[str, Any]], bool]:
            extra = [] if ctx.sees_all else [spec.table.c.project_id == ctx.project_id]
            stmt = page_statement(conn, spec, q, extra_where=extra,
                                  marker_not_found=self.not_found)
            rows, more = fetch_page(conn, stmt, q)
            return self.to_dicts(conn, rows, page_ids(spec, stmt, q)), more

        return self.db.read(run)

    def get(self, ctx: Context, id_: str) -> dict[str, Any]:
        return self.db.read(lambda conn: self.to_dicts(conn, [self._row(conn, ctx, id_)])[0])
