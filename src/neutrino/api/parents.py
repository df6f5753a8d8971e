"""Parents named in a create's body, resolved within the caller's visibility.

A create names its parents by id (a subnet's network, a port's network and subnets, a
floating IP's network and port, a router's gateway network, a rule's groups, an RBAC
entry's network). When the policy refuses the create, the answer must not tell a parent
the caller may not see from no parent at all: for no parent the service answers its
NotFound (404), so for a hidden one the API answers the same, before any 403 (as Neutron's
_validate_network_tenant_ownership looks the network up as the caller before its policy
check). When the policy allows the create, the service resolves each parent as the
caller sees it and answers that 404 itself, so this costs the hot paths nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import visibility
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.exceptions.security_groups import SecurityGroupNotFound
from neutrino.services.securitygroups import rbac as sg_rbac

_n = t.networks.c
_s = t.subnets.c
_p = t.ports.c
_g = t.security_groups.c

# (resource member name) -> the (kind, id) pairs its body names as parents
Named = Iterator[tuple[str, Any]]


def _named(resource: str, item: dict[str, Any]) -> Named:
    if resource in ("subnet", "port"):
        yield "network", item.get("network_id")
    if resource == "port":
        fixed = item.get("fixed_ips")
        for entry in fixed if isinstance(fixed, list) else []:
            if isinstance(entry, dict):
                yield "subnet", entry.get("subnet_id")
        groups = item.get("security_groups")
        for group in groups if isinstance(groups, list) else []:
            yield "security_group", group
    elif resource == "floatingip":
        yield "network", item.get("floating_network_id")
        yield "port", item.get("port_id")
    elif resource == "router":
        gateway = item.get("external_gateway_info")
        if isinstance(gateway, dict):
            yield "network", gateway.get("network_id")
    elif resource == "security_group_rule":
        yield "security_group", item.get("security_group_id")
        yield "security_group", item.get("remote_group_id")
    elif resource == "rbac_policy":
        kind = item.get("object_type")
        if kind in (None, "network", "security_group"):
            yield kind or "network", item.get("object_id")


def _network_visible(ctx: Context) -> sa.ColumnElement[bool]:
    return visibility.network_visible_clause(ctx)


def _visible_stmt(kind: str, ctx: Context, id_: str) -> sa.Select[Any]:
    if kind == "network":
        return sa.select(_n.id).where(_n.id == id_, _network_visible(ctx))
    if kind == "subnet":
        return sa.select(_s.id).where(_s.id == id_, sa.or_(
            _s.project_id == ctx.project_id,
            _s.network_id.in_(sa.select(_n.id).where(_network_visible(ctx)))))
    if kind == "port":
        return sa.select(_p.id).where(_p.id == id_, sa.or_(
            _p.project_id == ctx.project_id,
            _p.network_id.in_(sa.select(_n.id).where(_n.project_id == ctx.project_id))))
    # rbac-security-groups: a group shared with the caller's project is visible to it
    return sa.select(_g.id).where(_g.id == id_, sg_rbac.visible(ctx))


_NOT_FOUND: dict[str, Callable[[str], exc.NeutronError]] = {
    "network": lambda i: exc.NetworkNotFound(net_id=i),
    "subnet": lambda i: exc.SubnetNotFound(subnet_id=i),
    "port": lambda i: exc.PortNotFound(port_id=i),
    "security_group": lambda i: SecurityGroupNotFound(id=i),
}


def hidden_parent(ctx: Context, conn: Connection, resource: str, item: dict[str, Any]
                  ) -> exc.NeutronError | None:
    """The NotFound of the first parent ``item`` names that the caller may not see (or
    that does not exist), or None."""
    if ctx.sees_all:
        return None
    for kind, id_ in _named(resource, item):
        if not isinstance(id_, str) or not id_:
            continue
        if conn.execute(_visible_stmt(kind, ctx, id_)).first() is None:
            return _NOT_FOUND[kind](id_)
    return None


class ParentCheck:
    """App(parents=...): raises the NotFound of a parent the caller may not see, in the
    caller's transaction (``conn``) or in a read of its own."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __call__(self, ctx: Context, resource: str, item: dict[str, Any],
                 conn: Connection | None = None) -> None:
        found = (hidden_parent(ctx, conn, resource, item) if conn is not None else
                 self.db.read(lambda c: hidden_parent(ctx, c, resource, item)))
        if found is not None:
            raise found
