"""/v2.0/floatingip_pools (floatingip-pools): the subnets floating IPs can come from.

As Neutron's: the IPv4 subnets of the external networks the caller sees (its own, and
those an access_as_external entry opens to it), each as ``subnet_id``, ``subnet_name``,
``cidr``, ``network_id`` and the subnet's ``project_id``; read only. Each is authorized by
``get_floatingip_pool`` (anyone by default); ``fields`` selects attributes and the
attributes filter.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from neutrino import exceptions as exc
from neutrino.api.app import Request, only_fields
from neutrino.core import visibility
from neutrino.db import tables as t
from neutrino.db.engine import Database

RULE = "get_floatingip_pool"
COLLECTION = "floatingip_pools"
ATTRS = ("subnet_id", "subnet_name", "cidr", "network_id", "project_id", "tenant_id")

_s = t.subnets.c
_n = t.networks.c
_x = t.external_networks.c


class FloatingIPPoolController:
    """The RouteHandler for ``routes["floatingip_pools"]``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _pools(self, req: Request) -> list[dict[str, Any]]:
        stmt = (sa.select(_s.id, _s.name, _s.cidr, _s.network_id, _s.project_id)
                .join(t.networks, _n.id == _s.network_id)
                .join(t.external_networks, _x.network_id == _n.id)
                .where(_s.ip_version == 4).order_by(_s.network_id, _s.id))
        if not req.ctx.sees_all:
            stmt = stmt.where(visibility.network_visible_clause(req.ctx))
        rows = self.db.read(lambda conn: conn.execute(stmt).all())
        return [{"subnet_id": r.id, "subnet_name": r.name, "cidr": r.cidr,
                 "network_id": r.network_id, "project_id": r.project_id,
                 "tenant_id": r.project_id} for r in rows]

    def __call__(self, req: Request, parts: list[str]) -> tuple[int, Any]:
        if len(parts) > 1:
            raise exc.HTTPNotFound()
        if req.method != "GET":
            raise exc.HTTPMethodNotAllowed()
        filters: dict[str, set[str]] = {}
        for key, value in req.params:
            if key == "fields":
                continue
            if key in ATTRS:
                filters.setdefault(key, set()).add(value)
            else:
                raise exc.HTTPBadRequest(f"{key!r} is invalid attribute for filtering")
        pools = [p for p in self._pools(req)
                 if all(str(p[k]) in vals for k, vals in filters.items())
                 and req.policy.check(RULE, p)]
        return 200, {COLLECTION: [only_fields(req, p) for p in pools]}
