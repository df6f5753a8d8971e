"""Helpers the core services share: time stamps, ids, visibility, the service base."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections import namedtuple
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import constants as const
from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import callbacks
from neutrino.core.mech.base import DriverContext
from neutrino.core.mech.manager import MechanismManager
from neutrino.db import locks
from neutrino.db import tables as t
from neutrino.db.engine import Database, tx_cache

# Ports the network itself owns: deleted with their network or subnet, never "in use".
AUTO_DELETE_PORT_OWNERS = (const.DEVICE_OWNER_DHCP, const.DEVICE_OWNER_DISTRIBUTED,
                           const.DEVICE_OWNER_AGENT_GW)
# Ports of the network's own machinery ("network:dhcp", router legs, ...): they do not
# count as a project using a shared network.
NETWORK_OWNER_PREFIX = const.DEVICE_OWNER_NETWORK_PREFIX


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def fmt_time(value: dt.datetime | None) -> str | None:
    # "%Y-%m-%dT%H:%M:%SZ", three times faster than strftime (lists format thousands)
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


def new_id() -> str:
    return str(uuid.uuid4())


def standard_fields(row: Any) -> dict[str, Any]:
    created, updated = row.created_at, row.updated_at
    created_s = fmt_time(created)
    return {
        "description": row.description,
        "created_at": created_s,
        "updated_at": created_s if updated == created else fmt_time(updated),
        "revision_number": row.revision_number,
    }


@functools.lru_cache(maxsize=256)
def _row_class(fields: tuple[str, ...]) -> Any:
    return namedtuple("Row", fields, rename=True)  # type: ignore[misc]


def plain_rows(rows: Iterable[Any]) -> list[Any]:
    """SQLAlchemy rows as plain named tuples: reading ``row.name`` from a SQLAlchemy Row
    costs about half a microsecond, from a named tuple a twentieth of that. Worth it when
    a list formats thousands of rows with a dozen attributes each."""
    rows = list(rows)
    if not rows or not hasattr(rows[0], "_fields"):
        return rows
    make = _row_class(tuple(rows[0]._fields))._make
    return list(map(make, rows))


def bump_revisions(conn: Connection, table: sa.Table, ids: Iterable[str]) -> None:
    """A change to what a resource shows that is stored elsewhere (a network's subnets, a
    port's addresses) is a new revision of it, as Neutron's revises_on_change."""
    ids = list(ids)
    if ids:
        conn.execute(sa.update(table).where(table.c.id.in_(ids)).values(
            revision_number=table.c.revision_number + 1, updated_at=now()))


def project_fields(project_id: str | None) -> dict[str, Any]:
    return {"project_id": project_id, "tenant_id": project_id}


# RBAC actions on networks (network_rbacs.action) and the target meaning "every project"
ACCESS_SHARED = "access_as_shared"
# Lets the target project see the network and, once routers exist, use it as a router
# gateway; it does not make the network `shared` or let the project plug ports into it.
ACCESS_EXTERNAL = "access_as_external"
NETWORK_RBAC_ACTIONS = (ACCESS_SHARED, ACCESS_EXTERNAL)
WILDCARD = "*"


def rbac_entry_exists(network_id: sa.ColumnElement[Any], caller: Any,
                      actions: tuple[str, ...] = (ACCESS_SHARED,)) -> sa.Exists:
    """Whether an RBAC entry grants ``caller`` (a project id, or a bind parameter holding
    one) one of ``actions`` on the network ``network_id`` refers to: an entry targeting
    the project itself or "*". A correlated EXISTS, so a list asks it in its one query."""
    r = t.network_rbacs.c
    action = r.action == actions[0] if len(actions) == 1 else r.action.in_(actions)
    return sa.exists().where(
        r.object_id == network_id, action,
        sa.or_(r.target_project == WILDCARD, r.target_project == caller))


def network_shared_column(caller: Any) -> sa.Label[bool]:
    """A network's ``shared`` as ``caller`` sees it (Neutron's _is_network_shared): an
    access_as_shared entry for "*" or for the caller's own project. The owner of a network
    shared with particular projects only sees false."""
    return rbac_entry_exists(t.networks.c.id, caller).label("shared")


def network_shared_filter(ctx: Context, values: list[Any],
                          network_id: sa.ColumnElement[Any] | None = None
                          ) -> sa.ColumnElement[bool]:
    """``?shared=`` (its first value, as Neutron reads it) as a WHERE clause on networks,
    or on rows with a ``network_id`` column (subnets)."""
    exists = rbac_entry_exists(t.networks.c.id if network_id is None else network_id,
                               ctx.project_id)
    return exists if values[0] else sa.not_(exists)


def network_visible_clause(ctx: Context) -> sa.ColumnElement[bool]:
    """The networks a project sees: its own, and those an access_as_shared or
    access_as_external entry opens to it (or to everyone)."""
    n = t.networks.c
    return sa.or_(n.project_id == ctx.project_id,
                  rbac_entry_exists(n.id, ctx.project_id, NETWORK_RBAC_ACTIONS))


def subnet_visible_clause(ctx: Context) -> sa.ColumnElement[bool]:
    """The subnets a project sees: its own, and those of the networks it sees."""
    s = t.subnets.c
    return sa.or_(s.project_id == ctx.project_id, s.network_id.in_(
        sa.select(t.networks.c.id).where(network_visible_clause(ctx))))


# built once (network_row runs in most writes): building a SELECT costs as much CPU as
# running it. "caller" is the asking project; "accessible" whether RBAC opens the network
# to it.
_CALLER = sa.bindparam("caller")
_NETWORK = sa.select(
    t.networks, network_shared_column(_CALLER),
    rbac_entry_exists(t.networks.c.id, _CALLER, NETWORK_RBAC_ACTIONS).label("accessible"),
).where(t.networks.c.id == sa.bindparam("network_id"))


def read_network(conn: Connection, network_id: str, caller: str | None, *,
                 keep: bool = False) -> Any:
    """The network row with its ``shared`` and ``accessible`` as ``caller`` sees them, or
    None. ``keep``: left for the next Service.network_row of the same caller in this
    transaction (once), which then runs no query: a port create's policy check and the
    create itself read the network once."""
    row = conn.execute(_NETWORK, {"network_id": network_id, "caller": caller}).first()
    if keep and row is not None:
        tx_cache(conn)[("network", network_id, caller)] = row
    return row


def network_select(ctx: Context) -> sa.Select[Any]:
    """SELECT of networks with their ``shared`` as the caller sees it (add the WHERE)."""
    return sa.select(t.networks, network_shared_column(ctx.project_id))


def _event(method: str) -> tuple[callbacks.Resource, callbacks.Event]:
    """"create_port_precommit" -> (PORT, PRECOMMIT_CREATE)."""
    op, resource, phase = method.split("_")
    return (callbacks.Resource(resource),
            callbacks.Event(f"{'after' if phase == 'postcommit' else phase}_{op}"))


class Service:
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
            row = conn.execute(_NETWORK,
                               {"network_id": network_id, "caller": ctx.project_id}).first()
        if row is None or not (ctx.sees_all or row.project_id == ctx.project_id
                               or row.accessible):
            raise exc.NetworkNotFound(net_id=network_id)
        return row


def check_revision(ctx: Context, row: Any) -> None:
    """Honour If-Match: revision_number=N inside the write's transaction (412 otherwise)."""
    expected = ctx.if_match_revision
    if expected is not None and row.revision_number != expected:
        raise exc.RevisionNumberConstraintFailed(expected=expected,
                                                 current=row.revision_number)
