"""Port forwarding queries the floating IP service, the L3 port guard and the L3 agent's
host state share: statements over db/tables/ only (no service imports)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.core import records
from neutrino.db import tables as t

_pf = t.port_forwardings.c
_f = t.floatingips.c

# what a floating IP shows of each (expose-port-forwarding-in-fip, -detail)
SUMMARY_KEYS = ("id", "internal_ip_address", "protocol", "internal_port", "external_port",
                "internal_port_id")

_OF_FIPS = sa.select(t.port_forwardings).where(
    _pf.floatingip_id.in_(sa.bindparam("ids", expanding=True))).order_by(_pf.id)
_ANY_OF_FIP = sa.select(_pf.id).where(_pf.floatingip_id == sa.bindparam("id")).limit(1)


def summaries(conn: Connection, fip_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """fip id -> its port forwardings as the floating IP shows them."""
    ids = sorted(set(fip_ids))
    out: dict[str, list[dict[str, Any]]] = {}
    if not ids:
        return out
    for r in conn.execute(_OF_FIPS, {"ids": ids}):
        out.setdefault(r.floatingip_id, []).append(
            {k: getattr(r, k) for k in SUMMARY_KEYS})
    return out


def has_any(conn: Connection, fip_id: str) -> bool:
    return conn.execute(_ANY_OF_FIP, {"id": fip_id}).first() is not None


def release_unused_fips(conn: Connection, fip_ids: Iterable[str]) -> None:
    """Floating IPs left with no forwarding and no port association leave their router
    (as Neutron's pf plugin clears router_id when the last one goes)."""
    ids = sorted(set(fip_ids))
    if not ids:
        return
    conn.execute(sa.update(t.floatingips).where(
        _f.id.in_(ids), _f.fixed_port_id.is_(None), _f.router_id.is_not(None),
        ~sa.exists().where(_pf.floatingip_id == _f.id)).values(
        router_id=None, status="DOWN", updated_at=records.now(),
        revision_number=_f.revision_number + 1))


def remove_for_port(conn: Connection, port_id: str, keep: Iterable[str] | None = None
                    ) -> list[str]:
    """The internal port is deleted (``keep`` None) or keeps only the addresses ``keep``:
    its forwardings to addresses it no longer has go, as Neutron's pf plugin does on a
    port's delete or fixed-IP change. Returns the routers that carried them."""
    rows = conn.execute(sa.select(_pf.id, _pf.floatingip_id, _pf.internal_ip_address)
                        .where(_pf.internal_port_id == port_id)).all()
    kept = set(keep) if keep is not None else set()
    gone = [r for r in rows if r.internal_ip_address not in kept]
    if not gone:
        return []
    fips = {r.floatingip_id for r in gone}
    routers = set(conn.scalars(sa.select(_f.router_id).where(
        _f.id.in_(sorted(fips)), _f.router_id.is_not(None))))
    conn.execute(sa.delete(t.port_forwardings).where(
        _pf.id.in_(sorted(r.id for r in gone))))
    release_unused_fips(conn, fips)
    return sorted(routers)
