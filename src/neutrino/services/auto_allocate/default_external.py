"""A network's ``is_default`` (auto-allocated-topology): on an external network, whether
it is the deployment's default one, where auto-allocated routers get their gateway.
Shown on external networks only, as Neutron's. One default at a time: a second is 409
DefaultExternalNetworkExists, and the unique ``default_key`` (1 on the default, null
elsewhere) holds that against concurrent requests too. The flag lives on the network's
external_networks row, so making the network internal drops it.

An extension driver (core/extensions.py). It may run before the router plugin's
router:external driver (default plugins load first), so a request that makes a network
external and the default at once makes it external here (make_external is idempotent)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.context import Context
from neutrino.core.extensions import ExtensionDriver
from neutrino.db import tables as t
from neutrino.db.listing import of_rows
from neutrino.exceptions.auto_allocate import DefaultExternalNetworkExists
from neutrino.services.l3.external import EXTERNAL, is_external, make_external

IS_DEFAULT = "is_default"
_x = t.external_networks.c


def default_external_network(conn: Connection) -> str | None:
    return conn.scalar(sa.select(_x.network_id).where(_x.is_default.is_(True)))


def _filter(values: list[Any]) -> sa.ColumnElement[bool]:
    exists = sa.exists().where(_x.network_id == t.networks.c.id, _x.is_default.is_(True))
    return exists if values[0] else sa.not_(exists)


def _set(conn: Connection, network_id: str, wanted: bool) -> bool:
    """Make the (external) network the default or not; whether that changed it."""
    current = conn.scalar(sa.select(_x.is_default).where(_x.network_id == network_id))
    if current is None or bool(current) == wanted:
        return False
    if wanted:
        other = default_external_network(conn)
        if other is not None and other != network_id:
            raise DefaultExternalNetworkExists(net_id=other)
    # a concurrent request that made its network the default after the check: the unique
    # default_key refuses this one, and the rerun transaction (db.engine retries
    # duplicates) sees that network above
    conn.execute(sa.update(t.external_networks).where(_x.network_id == network_id)
                 .values(is_default=wanted, default_key=1 if wanted else None))
    return True


class DefaultExternalNetwork(ExtensionDriver):
    name = "default_external_network"
    filters = {"network": {IS_DEFAULT: _filter}}

    def extend_network_dicts(self, conn: Connection, rows: list[Any],
                             results: list[dict[str, Any]],
                             page: sa.Subquery | None = None) -> None:
        defaults = dict(conn.execute(sa.select(_x.network_id, _x.is_default).where(
            of_rows(_x.network_id, [d["id"] for d in results], page))).all())
        for d in results:
            if d["id"] in defaults:
                d[IS_DEFAULT] = bool(defaults[d["id"]])

    def process_create_network(self, ctx: Context, conn: Connection, data: dict[str, Any],
                               result: dict[str, Any]) -> None:
        if data.get(EXTERNAL):
            make_external(conn, result["id"], result["project_id"])
            _set(conn, result["id"], bool(data.get(IS_DEFAULT)))
            result[IS_DEFAULT] = bool(data.get(IS_DEFAULT))

    def process_update_network(self, ctx: Context, conn: Connection, data: dict[str, Any],
                               row: Any, result: dict[str, Any]) -> bool:
        if IS_DEFAULT not in data or data.get(EXTERNAL) is False:
            return False
        made = False
        if data.get(EXTERNAL) and not is_external(conn, row.id):
            make_external(conn, row.id, row.project_id)  # the router plugin's too
            made = True
        if not is_external(conn, row.id):
            return False
        return _set(conn, row.id, bool(data[IS_DEFAULT])) or made
