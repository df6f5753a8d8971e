"""Helpers the core services share: time stamps, ids, visibility, the service base."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core.mech.base import DriverContext
from neutrino.core.mech.manager import MechanismManager
from neutrino.db import tables as t
from neutrino.db.engine import Database

# Ports the network itself owns: deleted with their network or subnet, never "in use".
AUTO_DELETE_PORT_OWNERS = ("network:dhcp", "network:distributed")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def fmt_time(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def new_id() -> str:
    return str(uuid.uuid4())


def standard_fields(row: Any) -> dict[str, Any]:
    return {
        "description": row.description,
        "created_at": fmt_time(row.created_at),
        "updated_at": fmt_time(row.updated_at),
        "revision_number": row.revision_number,
    }


def project_fields(project_id: str | None) -> dict[str, Any]:
    return {"project_id": project_id, "tenant_id": project_id}


def network_visible_clause(ctx: Context) -> sa.ColumnElement[bool]:
    n = t.networks.c
    return sa.or_(n.project_id == ctx.project_id, n.shared.is_(True))


class Service:
    """What every core service holds: config, database, mechanism drivers."""

    def __init__(self, conf: cfg.ConfigOpts, db: Database, mech: MechanismManager) -> None:
        self.conf = conf
        self.db = db
        self.mech = mech

    def precommit(self, method: str, dctx: DriverContext, conn: Connection) -> None:
        dctx.conn = conn
        try:
            self.mech.call(method, dctx)
        finally:
            dctx.conn = None

    def network_row(self, conn: Connection, ctx: Context, network_id: str,
                    *, for_update: bool = False) -> Any:
        """The network if the caller may see it; 404 otherwise (as Neutron hides what a
        project may not see)."""
        stmt = sa.select(t.networks).where(t.networks.c.id == network_id)
        if for_update and self.db.backend != "sqlite":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).first()
        if row is None or not (ctx.is_admin or row.project_id == ctx.project_id or row.shared):
            raise exc.NetworkNotFound(net_id=network_id)
        return row
