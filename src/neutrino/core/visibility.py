"""Which networks and subnets a project sees, and a network's ``shared`` as it sees it:
WHERE clauses and columns for the services' SELECTs (never a check in Python)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from neutrino.context import Context
from neutrino.core.rbac_sql import NETWORK_RBAC_ACTIONS, rbac_entry_exists
from neutrino.db import tables as t


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


def network_select(ctx: Context) -> sa.Select[Any]:
    """SELECT of networks with their ``shared`` as the caller sees it (add the WHERE)."""
    return sa.select(t.networks, network_shared_column(ctx.project_id))


# built once (network rows are read in most writes): building a SELECT costs as much CPU
# as running it. "caller" is the asking project; "accessible" whether RBAC opens the
# network to it.
_CALLER = sa.bindparam("caller")
NETWORK_BY_ID = sa.select(
    t.networks, network_shared_column(_CALLER),
    rbac_entry_exists(t.networks.c.id, _CALLER, NETWORK_RBAC_ACTIONS).label("accessible"),
).where(t.networks.c.id == sa.bindparam("network_id"))
