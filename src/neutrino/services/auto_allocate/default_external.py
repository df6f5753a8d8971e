"""A network's ``is_default`` (auto-allocated-topology): on an external network, whether
it is the deployment's default one, where auto-allocated routers get their gateway.
Shown on external networks only, as Neutron's. One default at a time: a second is 409
DefaultExternalNetworkExists, and the unique ``default_key`` (1 on the default, null
elsewhere) holds that against concurrent requests too. The flag lives on the network's
external_networks row, so making the network internal drops it.

Wraps the network attribute hook already set (core.networks.NetworkAttrs takes one)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.core.networks import NetworkAttrs
from neutrino.db import tables as t
from neutrino.db.listing import of_rows
from neutrino.services.auto_allocate.errors import DefaultExternalNetworkExists
from neutrino.services.l3.external import EXTERNAL, is_external

IS_DEFAULT = "is_default"
_x = t.external_networks.c


def default_external_network(conn: Connection) -> str | None:
    return conn.scalar(sa.select(_x.network_id).where(_x.is_default.is_(True)))


def _filter(values: list[Any]) -> sa.ColumnElement[bool]:
    exists = sa.exists().where(_x.network_id == t.networks.c.id, _x.is_default.is_(True))
    return exists if values[0] else sa.not_(exists)


class DefaultExternalNetwork:
    def __init__(self, inner: NetworkAttrs | None) -> None:
        self.inner = inner
        self.filters = {**(inner.filters if inner is not None else {}), IS_DEFAULT: _filter}

    def load(self, conn: Connection, ids: list[str], page: sa.Subquery | None
             ) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = (
            self.inner.load(conn, ids, page) if self.inner is not None
            else {i: {} for i in ids})
        for network_id, default in conn.execute(
                sa.select(_x.network_id, _x.is_default).where(
                    of_rows(_x.network_id, ids, page))):
            if network_id in out:
                out[network_id][IS_DEFAULT] = bool(default)
        return out

    def _set(self, conn: Connection, network_id: str, wanted: bool) -> bool:
        """Make the (external) network the default or not; whether that changed it."""
        current = conn.scalar(sa.select(_x.is_default).where(_x.network_id == network_id))
        if current is None or bool(current) == wanted:
            return False
        if wanted:
            other = default_external_network(conn)
            if other is not None and other != network_id:
                raise DefaultExternalNetworkExists(net_id=other)
        # a concurrent request that made its network the default after the check: the
        # unique default_key refuses this one, and the rerun transaction (db.engine
        # retries duplicates) sees that network above
        conn.execute(sa.update(t.external_networks).where(_x.network_id == network_id)
                     .values(is_default=wanted, default_key=1 if wanted else None))
        return True

    def on_create(self, conn: Connection, network: dict[str, Any],
                  data: dict[str, Any]) -> None:
        if self.inner is not None:
            self.inner.on_create(conn, network, data)
        if network.get(EXTERNAL):
            self._set(conn, network["id"], bool(data.get(IS_DEFAULT)))
            network[IS_DEFAULT] = bool(data.get(IS_DEFAULT))

    def on_update(self, conn: Connection, row: Any, data: dict[str, Any]) -> bool:
        changed = self.inner.on_update(conn, row, data) if self.inner is not None else False
        if IS_DEFAULT in data and is_external(conn, row.id):
            changed |= self._set(conn, row.id, bool(data[IS_DEFAULT]))
        return changed

    def on_delete(self, conn: Connection, row: Any) -> None:
        if self.inner is not None:
            self.inner.on_delete(conn, row)
