"""Provisioning blocks: what must still happen before a bound port is ACTIVE, as Neutron's
(neutron/db/provisioning_blocks.py), kept in the database.

Binding a port adds ``L2`` (its host's L2 agent has to wire it) and, when a DHCP agent
serves its network, ``DHCP`` (dnsmasq has to know its addresses). The agents clear them
(update_device_up, dhcp_ready_on_ports); a bound port with none left becomes ACTIVE, and
update_device_down makes it DOWN. Every status change is a new revision of the port.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.core import common
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


def clear_all(conn: Connection, port_ids: Collection[str]) -> None:
    if port_ids:
        conn.execute(sa.delete(t.provisioning_blocks).where(_pb.port_id.in_(list(port_ids))))


def _set_status(conn: Connection, port_ids: Collection[str], status: str) -> None:
    if port_ids:
        conn.execute(sa.update(t.ports).where(_p.id.in_(list(port_ids))).values(
            status=status, revision_number=_p.revision_number + 1,
            updated_at=common.now()))


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
