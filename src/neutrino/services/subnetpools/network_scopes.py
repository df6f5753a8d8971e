"""A network's ipv4_address_scope / ipv6_address_scope (address-scope): the scope of the
pool its subnets of that version come from (one pool per version and network, see
pools.py), null when there is none: an extension driver (core/extensions.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.context import Context
from neutrino.core.extensions import ExtensionDriver
from neutrino.db import tables as t
from neutrino.db.listing import of_rows

_s = t.subnets.c
_p = t.subnetpools.c


class NetworkAddressScopes(ExtensionDriver):
    name = "address_scope"

    def extend_network_dicts(self, conn: Connection, rows: list[Any],
                             results: list[dict[str, Any]],
                             page: sa.Subquery | None = None) -> None:
        out = {d["id"]: d for d in results}
        for d in results:
            d["ipv4_address_scope"] = d["ipv6_address_scope"] = None
        for r in conn.execute(
                sa.select(_s.network_id, _p.ip_version, _p.address_scope_id).distinct()
                .join(t.subnetpools, _p.id == _s.subnetpool_id)
                .where(of_rows(_s.network_id, list(out), page),
                       _p.address_scope_id.is_not(None))):
            if r.network_id in out:
                out[r.network_id][f"ipv{r.ip_version}_address_scope"] = r.address_scope_id

    def process_create_network(self, ctx: Context, conn: Connection, data: dict[str, Any],
                               result: dict[str, Any]) -> None:
        # a new network has no subnets
        result["ipv4_address_scope"] = result["ipv6_address_scope"] = None
