"""``router:external`` (extension external-net): a network routers may use as gateway and
floating IPs come from.

Stored as a row of ``external_networks``. As Neutron does, making a network external also
opens it to every project for that use: a wildcard ``access_as_external`` RBAC entry
(owned by the network's project) is added; an admin may replace it by entries for
particular projects. Making it non-external again is refused while routers have their
gateway there (409 ExternalNetworkInUse) and drops its access_as_external entries.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import rbac_sql, records, tags
from neutrino.core.callbacks import Event, Payload, Resource
from neutrino.core.extensions import ExtensionDriver
from neutrino.db import tables as t
from neutrino.db.listing import of_rows
from neutrino.services.l3.owners import ROUTER_GATEWAY

EXTERNAL = "router:external"
_x = t.external_networks.c
_r = t.network_rbacs.c


_IS_EXTERNAL = sa.select(_x.network_id).where(_x.network_id == sa.bindparam("id"))


def is_external(conn: Connection, network_id: str) -> bool:
    return conn.execute(_IS_EXTERNAL, {"id": network_id}).first() is not None


def make_external(conn: Connection, network_id: str, owner: str | None) -> None:
    """The network's row and its wildcard access_as_external entry, unless there."""
    if not is_external(conn, network_id):
        conn.execute(sa.insert(t.external_networks).values(network_id=network_id))
    exists = conn.execute(sa.select(_r.id).where(
        _r.object_id == network_id, _r.action == rbac_sql.ACCESS_EXTERNAL,
        _r.target_project == rbac_sql.WILDCARD)).first()
    if exists is None:
        conn.execute(sa.insert(t.network_rbacs).values(
            id=records.new_id(), project_id=owner, object_id=network_id,
            target_project=rbac_sql.WILDCARD, action=rbac_sql.ACCESS_EXTERNAL))


def _filter(values: list[Any]) -> sa.ColumnElement[bool]:
    exists = sa.exists().where(_x.network_id == t.networks.c.id)
    return exists if values[0] else sa.not_(exists)


class ExternalNetworks(ExtensionDriver):
    """router:external of networks (an extension driver the router plugin registers),
    and what deleting an external network does (a BEFORE_DELETE subscriber)."""

    name = "external_net"
    filters = {"network": {EXTERNAL: _filter}}

    def extend_network_dicts(self, conn: Connection, rows: list[Any],
                             results: list[dict[str, Any]],
                             page: sa.Subquery | None = None) -> None:
        external = set(conn.scalars(sa.select(_x.network_id).where(
            of_rows(_x.network_id, [d["id"] for d in results], page))))
        for d in results:
            d[EXTERNAL] = d["id"] in external

    def process_create_network(self, ctx: Context, conn: Connection, data: dict[str, Any],
                               result: dict[str, Any]) -> None:
        external = bool(data.get(EXTERNAL))
        if external:
            make_external(conn, result["id"], result["project_id"])
        result[EXTERNAL] = external

    def process_update_network(self, ctx: Context, conn: Connection, data: dict[str, Any],
                               row: Any, result: dict[str, Any]) -> bool:
        if EXTERNAL not in data:
            return False
        wanted = bool(data[EXTERNAL])
        if wanted == is_external(conn, row.id):
            return False
        if wanted:
            make_external(conn, row.id, row.project_id)
            return True
        p = t.ports.c
        # a router's gateway here (its gw_port_id: owners.router_leg)
        gateway = conn.execute(sa.select(p.id).join(
            t.routers, t.routers.c.gw_port_id == p.id).where(
            p.network_id == row.id, p.device_owner == ROUTER_GATEWAY).limit(1)).first()
        if gateway is not None:
            raise exc.ExternalNetworkInUse(net_id=row.id)
        conn.execute(sa.delete(t.external_networks).where(_x.network_id == row.id))
        conn.execute(sa.delete(t.network_rbacs).where(
            _r.object_id == row.id, _r.action == rbac_sql.ACCESS_EXTERNAL))
        return True

    @staticmethod
    def before_network_delete(resource: Resource, event: Event, trigger: Any,
                              payload: Payload) -> None:
        """As Neutron: deleting an external network deletes its floating IPs that are
        not associated (and their ports); an associated one keeps its port, which makes
        the deletion 409 NetworkInUse. Their rows are locked first, so that an
        association racing with the deletion either commits before (and is kept) or
        waits and finds the floating IP gone."""
        conn, row = payload.conn, payload.latest_state
        f = t.floatingips.c
        stmt = sa.select(f.id, f.floating_port_id).where(
            f.floating_network_id == row.id, f.fixed_port_id.is_(None))
        if conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        fips = conn.execute(stmt).all()
        if not fips:
            return
        fip_ids = [r.id for r in fips]
        port_ids = [r.floating_port_id for r in fips]
        conn.execute(sa.delete(t.floatingips).where(f.id.in_(fip_ids)))
        conn.execute(sa.delete(t.ip_allocations).where(
            t.ip_allocations.c.port_id.in_(port_ids)))
        conn.execute(sa.delete(t.ports).where(t.ports.c.id.in_(port_ids)))
        tags.delete_of(conn, fip_ids + port_ids)
