"""A network's ipv4_address_scope / ipv6_address_scope (address-scope): the scope of the
pool its subnets of that version come from (one pool per version and network, see
pools.py), null when there is none. Wraps the network attribute hook already set
(router:external), as core.networks.NetworkAttrs takes one."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.core.networks import NetworkAttrs
from neutrino.db import tables as t
from neutrino.db.listing import of_rows

_s = t.subnets.c
_p = t.subnetpools.c


class NetworkAddressScopes:
    def __init__(self, inner: NetworkAttrs | None) -> None:
        self.inner = inner
        self.filters = dict(inner.filters) if inner is not None else {}

    def load(self, conn: Connection, ids: list[str], page: sa.Subquery | None
             ) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = (
            self.inner.load(conn, ids, page) if self.inner is not None
            else {i: {} for i in ids})
        for d in out.values():
            d["ipv4_address_scope"] = d["ipv6_address_scope"] = None
        for r in conn.execute(
                sa.select(_s.network_id, _p.ip_version, _p.address_scope_id).distinct()
                .join(t.subnetpools, _p.id == _s.subnetpool_id)
                .where(of_rows(_s.network_id, ids, page), _p.address_scope_id.is_not(None))):
            if r.network_id in out:
                out[r.network_id][f"ipv{r.ip_version}_address_scope"] = r.address_scope_id
        return out

    def on_create(self, conn: Connection, network: dict[str, Any],
                  data: dict[str, Any]) -> None:
        if self.inner is not None:
            self.inner.on_create(conn, network, data)
        # a new network has no subnets
        network["ipv4_address_scope"] = network["ipv6_address_scope"] = None

    def on_update(self, conn: Connection, row: Any, data: dict[str, Any]) -> bool:
        return self.inner.on_update(conn, row, data) if self.inner is not None else False

    def on_delete(self, conn: Connection, row: Any) -> None:
        if self.inner is not None:
            self.inner.on_delete(conn, row)
