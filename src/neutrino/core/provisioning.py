"""Provisioning blocks: what must still happen before a bound port is ACTIVE, as Neutron's
(neutron/db/provisioning_blocks.py), kept in the database.

Binding a port adds ``L2`` (its host's L2 agent has to wire it); a port's addresses, when
a DHCP agent serves its network, add ``DHCP`` (dnsmasq has to know them). The agents clear
them
(update_device_up, dhcp_ready_on_ports); a bound port with none left becomes ACTIVE, and
update_device_down makes it DOWN. Every status change is a new revision of the port.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino.constants import DEVICE_OWNER_DHCP as DHCP_OWNER
from neutrino.core import records
from neutrino.core.agent_rows import down_cutoff, live_clause
from neutrino.db import tables as t

L2 = "L2"
DHCP = "DHCP"
ACTIVE = "ACTIVE"
DOWN = "DOWN"
NOT_BOUND = ("unbound", "binding_failed")

_p = t.ports.c
_b = t.port_bindings.c
_pb = t.provisioning_blocks.c


def add(conn: Connection, port_id: str, entities: Iterable[str]) -> None:
    """Add blocks (those already there stay: adding is idempotent)."""
    wanted = set(entities)
    if not wanted:
        return
    have = set(conn.scalars(sa.select(_pb.entity).where(_pb.port_id == port_id)))
    missing = sorted(wanted - have)
    if missing:
        conn.execute(sa.insert(t.provisioning_blocks),
                     [{"port_id": port_id, "entity": e} for e in missing])


def clear(conn: Connection, port_ids: Collection[str], entity: str) -> None:
    if port_ids:
        conn.execute(sa.delete(t.provisioning_blocks).where(
            _pb.port_id.in_(list(port_ids)), _pb.entity == entity))


def dhcp_served_column() -> sa.ColumnElement[bool]:
    """Whether network ``:network_id`` is served by a live, admin-up DHCP agent (bind
    ``dhcp_cutoff`` to :func:`dhcp_cutoff`): a column to fold into a query the caller
    runs anyway (a port create asks it with the network's subnets)."""
    nd = t.network_dhcp_agent_bindings.c
    ag = t.agents.c
    return sa.exists().where(
        nd.network_id == sa.bindparam("network_id"), ag.id == nd.dhcp_agent_id,
        ag.admin_state_up.is_(True), ag.heartbeat_timestamp >= sa.bindparam("dhcp_cutoff"),
    ).label("dhcp_served")


def dhcp_cutoff(conf: cfg.ConfigOpts) -> Any:
    return down_cutoff(conf)


# What a caller already knows of a network: (served by a live DHCP agent, the ids of its
# DHCP-enabled subnets).
Known = dict[str, tuple[bool, set[str]]]


def on_addresses(conn: Connection, conf: cfg.ConfigOpts, ports: list[dict[str, Any]],
                 known: Known | None = None) -> None:
    """Ports got their addresses (created, or their fixed IPs or MAC changed), in that
    transaction: those with an address a live DHCP agent serves wait for that agent's
    dnsmasq (``DHCP``), as Neutron's. Added here, not at binding: the DHCP agent may
    announce a port before any L2 agent wires it, and a port bound again on another host
    keeps its addresses and its DHCP entry. A few queries for a whole bulk; none but the
    insert for networks in ``known`` (read in the same transaction)."""
    ports = [p for p in ports if p["device_owner"] != DHCP_OWNER and p["fixed_ips"]]
    if not ports:
        return
    known = known or {}
    if all(p["network_id"] in known for p in ports):
        ports = [p for p in ports if known[p["network_id"]][0]]
        if not ports:
            return
        dhcp_subnets = {sid for p in ports for sid in known[p["network_id"]][1]}
    else:
        nd = t.network_dhcp_agent_bindings.c
        ag = t.agents.c
        served = set(conn.scalars(
            sa.select(nd.network_id).join(t.agents, ag.id == nd.dhcp_agent_id)
            .where(nd.network_id.in_({p["network_id"] for p in ports}),
                   ag.admin_state_up.is_(True), live_clause(conf))))
        ports = [p for p in ports if p["network_id"] in served]
        if not ports:
            return
        s = t.subnets.c
        dhcp_subnets = set(conn.scalars(sa.select(s.id).where(
            s.id.in_({ip["subnet_id"] for p in ports for ip in p["fixed_ips"]}),
            s.enable_dhcp.is_(True))))
    waiting = [p["id"] for p in ports
               if any(ip["subnet_id"] in dhcp_subnets for ip in p["fixed_ips"])]
    if not waiting:
        return
    have = set(conn.scalars(sa.select(_pb.port_id).where(
        _pb.port_id.in_(waiting), _pb.entity == DHCP)))
    missing = [pid for pid in waiting if pid not in have]
    if missing:
        conn.execute(sa.insert(t.provisioning_blocks),
                     [{"port_id": pid, "entity": DHCP} for pid in missing])


def _set_status(conn: Connection, port_ids: Collection[str], status: str) -> None:
    if port_ids:
        conn.execute(sa.update(t.ports).where(_p.id.in_(list(port_ids))).values(
            status=status, revision_number=_p.revision_number + 1,
            updated_at=records.now()))


def complete(conn: Connection, port_ids: Collection[str], entity: str, *,
             host: str | None = None, require_block: bool = False) -> list[str]:
    """``entity`` is done with these ports (only those bound to ``host``, if given):
    remove its block; the bound ports that have no block left and were not ACTIVE become
    ACTIVE. ``require_block``: only ports that really had an ``entity`` block (a DHCP
    agent re-announcing a port does not wake a port its L2 agent reported down).
    Returns the ports made ACTIVE."""
    ids = list(dict.fromkeys(port_ids))
    if not ids:
        return []
    stmt = (sa.select(_p.id, _p.status, _b.vif_type)
            .join(t.port_bindings, _b.port_id == _p.id)
            .where(_p.id.in_(ids)))
    if host is not None:
        stmt = stmt.where(_b.host == host)
    ports = conn.execute(stmt).all()
    if not ports:
        return []
    mine = [p.id for p in ports]
    had = set(conn.scalars(sa.select(_pb.port_id).where(
        _pb.port_id.in_(mine), _pb.entity == entity)))
    if had:
        conn.execute(sa.delete(t.provisioning_blocks).where(
            _pb.port_id.in_(list(had)), _pb.entity == entity))
    remaining = set(conn.scalars(sa.select(_pb.port_id).where(_pb.port_id.in_(mine))))
    activate = [p.id for p in ports
                if p.id not in remaining and p.status != ACTIVE
                and p.vif_type not in NOT_BOUND and (p.id in had or not require_block)]
    _set_status(conn, activate, ACTIVE)
    return activate


def set_down(conn: Connection, port_ids: Collection[str], *, host: str | None = None
             ) -> list[str]:
    """The ports (bound to ``host``, if given) are gone from their host: DOWN."""
    ids = list(dict.fromkeys(port_ids))
    if not ids:
        return []
    stmt = (sa.select(_p.id).join(t.port_bindings, _b.port_id == _p.id)
            .where(_p.id.in_(ids), _p.status != DOWN))
    if host is not None:
        stmt = stmt.where(_b.host == host)
    down = list(conn.scalars(stmt))
    _set_status(conn, down, DOWN)
    return down
