"""Availability zones, as Neutron's agent-based ones (extensions availability_zone,
availability_zone_filter, network_availability_zone, router_availability_zone).

A zone is what agents report (``[AGENT] availability_zone``, "nova" by default, in their
state reports): a zone of a DHCP agent is a zone of resource "network", of an L3 agent
one of resource "router"; it is "available" while one of its agents there is admin-up.

Networks and routers take ``availability_zone_hints`` on create (none given: ``[DEFAULT]
default_availability_zones``), each a zone of its resource (else AvailabilityZoneNotFound,
404), stored sorted as a JSON list as Neutron stores them. Their ``availability_zones``
are the zones of the agents serving them (DHCP agents of a network, the L3 agent of a
router). The schedulers (services/dhcp_scheduler.py, services/l3/scheduler.py) choose
agents in the hinted zones only: with none there alive, the resource waits unscheduled,
as Neutron's do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino.context import Context
from neutrino.core.extensions import ExtensionDriver
from neutrino.db import tables as t
from neutrino.db.listing import of_rows
from neutrino.exceptions.agents import AvailabilityZoneNotFound
from neutrino.schema.availability_zone import HINTS, ZONES
from neutrino.services.agents import DHCP_AGENT, L3_AGENT

_ag = t.agents.c
_nd = t.network_dhcp_agent_bindings.c
_rb = t.router_l3_agent_bindings.c

AGENT_TYPE = {"network": DHCP_AGENT, "router": L3_AGENT}
RESOURCE = {v: k for k, v in AGENT_TYPE.items()}


# --- zones -----------------------------------------------------------------------------------
def list_zones(conn: Connection, filters: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Neutron's get_availability_zones with availability_zone_filter: ``name`` and
    ``resource`` narrow the agents read, ``state`` the zones made of them."""
    stmt = sa.select(_ag.availability_zone, _ag.agent_type, _ag.admin_state_up).where(
        _ag.availability_zone.is_not(None), _ag.availability_zone != "",
        _ag.agent_type.in_(list(RESOURCE)))
    if "name" in filters:
        stmt = stmt.where(_ag.availability_zone.in_([str(v) for v in filters["name"]]))
    if "resource" in filters:
        stmt = stmt.where(_ag.agent_type.in_(
            [AGENT_TYPE.get(str(v), str(v)) for v in filters["resource"]]))
    up: dict[tuple[str, str], bool] = {}
    for zone, agent_type, admin_up in conn.execute(stmt):
        key = (zone, RESOURCE[agent_type])
        up[key] = up.get(key, False) or bool(admin_up)
    states = filters.get("state")
    out = []
    for (zone, resource), is_up in sorted(up.items()):
        state = "available" if is_up else "unavailable"
        if not states or state in states:
            out.append({"name": zone, "resource": resource, "state": state})
    return out


def stored_hints(conn: Connection, conf: cfg.ConfigOpts, resource: str,
                 hints: Any) -> str | None:
    """The column value of a new resource's hints (None: no hints), each checked to be
    a zone of ``resource``'s agents, in the create's transaction."""
    wanted = sorted(hints or []) or list(conf.default_availability_zones)
    if not wanted:
        return None
    known = set(conn.scalars(sa.select(_ag.availability_zone).distinct().where(
        _ag.agent_type == AGENT_TYPE[resource], _ag.availability_zone.in_(wanted))))
    for zone in wanted:
        if zone not in known:
            raise AvailabilityZoneNotFound(availability_zone=zone)
    return json.dumps(wanted)


def hints_of(value: str | None) -> list[str]:
    """The hints a column holds."""
    if not value:
        return []
    try:
        hints = json.loads(value)
    except ValueError:
        return []
    return [str(h) for h in hints] if isinstance(hints, list) else []


def wanted_zones(conf: cfg.ConfigOpts, value: str | None) -> list[str]:
    """The zones a scheduler may choose agents in (empty: any), as Neutron's: the hints,
    else [DEFAULT] default_availability_zones."""
    return hints_of(value) or list(conf.default_availability_zones)


def in_zones(zones: Iterable[str]) -> sa.ColumnElement[bool]:
    """Agents of these zones (none given: every agent)."""
    zones = list(zones)
    return _ag.availability_zone.in_(zones) if zones else sa.true()


# --- the attributes of networks and routers ---------------------------------------------------
def _attrs(conn: Connection, table: sa.Table, binding: sa.Table, key: sa.Column,
           agent_key: sa.Column, ids: list[str], page: sa.Subquery | None
           ) -> dict[str, dict[str, Any]]:
    """Hints and zones of a page of networks or routers, in one query (the items, outer
    joined to the zones of their agents)."""
    out: dict[str, dict[str, Any]] = {i: {HINTS: [], ZONES: []} for i in ids}
    rows = conn.execute(
        sa.select(table.c.id, table.c.availability_zone_hints, _ag.availability_zone)
        .distinct()
        .select_from(table.outerjoin(binding, key == table.c.id)
                     .outerjoin(t.agents, _ag.id == agent_key))
        .where(of_rows(table.c.id, ids, page))
        .order_by(table.c.id, _ag.availability_zone))
    for rid, hints, zone in rows:
        if rid not in out:
            continue
        if hints and not out[rid][HINTS]:
            out[rid][HINTS] = hints_of(hints)
        if zone:
            out[rid][ZONES].append(zone)
    return out


def router_attrs(conn: Connection, ids: list[str], page: sa.Subquery | None = None
                 ) -> dict[str, dict[str, Any]]:
    return _attrs(conn, t.routers, t.router_l3_agent_bindings, _rb.router_id,
                  _rb.l3_agent_id, ids, page)


class NetworkAvailabilityZones(ExtensionDriver):
    """Networks' hints and zones (network_availability_zone): an extension driver the
    dhcp_agent_scheduler plugin registers."""

    name = "network_availability_zone"

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        self.conf: cfg.ConfigOpts = conf

    def extend_network_dicts(self, conn: Connection, rows: list[Any],
                             results: list[dict[str, Any]],
                             page: sa.Subquery | None = None) -> None:
        attrs = _attrs(conn, t.networks, t.network_dhcp_agent_bindings, _nd.network_id,
                       _nd.dhcp_agent_id, [d["id"] for d in results], page)
        for d in results:
            d.update(attrs[d["id"]])

    def process_create_network(self, ctx: Context, conn: Connection, data: dict[str, Any],
                               result: dict[str, Any]) -> None:
        value = stored_hints(conn, self.conf, "network", data.get(HINTS))
        if value is not None:
            conn.execute(sa.update(t.networks).where(t.networks.c.id == result["id"])
                         .values(availability_zone_hints=value))
        result[HINTS] = hints_of(value)
        result[ZONES] = []  # no DHCP agent yet: scheduled with its first subnet
