"""The base of the core services (config, database, mechanism drivers, quotas, the
callback registry), and the network row their writes read first."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import callbacks
from neutrino.core.mech.base import DriverContext
from neutrino.core.mech.manager import MechanismManager

# core/plugin.py reads these here; they live in rbac_sql.py and visibility.py
from neutrino.core.rbac_sql import NETWORK_RBAC_ACTIONS, rbac_entry_exists  # noqa: F401
from neutrino.core.visibility import NETWORK_BY_ID, network_shared_column  # noqa: F401
from neutrino.db import locks
from neutrino.db import tables as t
from neutrino.db.engine import Database, tx_cache


def read_network(conn: Connection, network_id: str, caller: str | None, *,
                 keep: bool = False) -> Any:
    """The network row with its ``shared`` and ``accessible`` as ``caller`` sees them, or
    None. ``keep``: left for the next Service.network_row of the same caller in this
    transaction (once), which then runs no query: a port create's policy check and the
    create itself read the network once."""
    row = conn.execute(NETWORK_BY_ID, {"network_id": network_id, "caller": caller}).first()
    if keep and row is not None:
        tx_cache(conn)[("network", network_id, caller)] = row
    return row


def _event(method: str) -> tuple[callbacks.Resource, callbacks.Event]:
    """"create_port_precommit" -> (PORT, PRECOMMIT_CREATE)."""
    op, resource, phase = method.split("_")
    return (callbacks.Resource(resource),
            callbacks.Event(f"{'after' if phase == 'postcommit' else phase}_{op}"))


class BulkCreate:
    """A single create as a bulk of one (the API calls ``create`` for one item)."""

    def create(self, ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
        return self.create_bulk(ctx, [data])[0]

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        raise NotImplementedError


class Service(BulkCreate):
    """What every core service holds: config, database, mechanism drivers, the quota
    engine and the callback registry (core/callbacks.py) its writes publish to."""

    def __init__(self, conf: cfg.ConfigOpts, db: Database, mech: MechanismManager, *,
                 quotas: Any = None, registry: callbacks.CallbackRegistry | None = None
                 ) -> None:
        self.conf = conf
        self.db = db
        self.mech = mech
        self.quotas = quotas  # core/quotas.py QuotaService; None: no quota enforcement
        self.registry = registry if registry is not None else callbacks.CallbackRegistry()

    def check_quota(self, conn: Connection, resource: str,
                    items: Iterable[dict[str, Any]]) -> None:
        """In a create's transaction, before inserting ``items``: 409 OverQuota if their
        projects have no room left for them (a bulk of N counts N)."""
        if self.quotas is None:
            return
        counts: dict[str, int] = {}
        for item in items:
            project = item.get("project_id")
            if project:
                counts[project] = counts.get(project, 0) + 1
        self.quotas.check(conn, resource, counts)

    def _publish(self, method: str, dctx: DriverContext) -> None:
        resource, event = _event(method)
        states = (dctx.current,) if dctx.original is None else (dctx.original, dctx.current)
        self.registry.publish(resource, event, self, callbacks.Payload(
            context=dctx.context, resource_id=dctx.current.get("id"), states=states,
            conn=dctx.conn, metadata=dctx.notes))

    def precommit(self, method: str, dctx: DriverContext, conn: Connection) -> None:
        """The mechanism drivers' precommit, then the PRECOMMIT_* subscribers."""
        dctx.conn = conn
        try:
            self.mech.call(method, dctx)
            self._publish(method, dctx)
        finally:
            dctx.conn = None

    def postcommit(self, method: str, dctx: DriverContext) -> None:
        """The mechanism drivers' postcommit (a failure propagates, the caller decides),
        then the AFTER_* subscribers (which never fail the request)."""
        self.mech.call(method, dctx)
        self._publish(method, dctx)

    def network_row(self, conn: Connection, ctx: Context, network_id: str,
                    *, for_update: bool = False) -> Any:
        """The network if the caller may see it; 404 otherwise (as Neutron hides what a
        project may not see)."""
        # read by the policy check moments ago in this transaction (read_network, keep)
        row = None if for_update else tx_cache(conn).pop(("network", network_id,
                                                          ctx.project_id), None)
        if for_update:
            # locked first, read after: the read then sees the RBAC entries as the last
            # writer left them (db/locks.py)
            locks.lock(conn, t.networks, [network_id])
        if row is None:
            row = conn.execute(NETWORK_BY_ID,
                               {"network_id": network_id, "caller": ctx.project_id}).first()
        if row is None or not (ctx.sees_all or row.project_id == ctx.project_id
                               or row.accessible):
            raise exc.NetworkNotFound(net_id=network_id)
        return row
