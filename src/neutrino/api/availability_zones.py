"""GET /v2.0/availability_zones (availability_zone, availability_zone_filter): the zones
of DHCP agents (resource "network") and L3 agents (resource "router"), filtered by
``name``, ``resource`` and ``state``, sorted by any of them (``fields`` as anywhere).

Authorized by ``get_availability_zone`` on each zone, with the caller's project as its
owner (as Neutron's, whose zones belong to no project). Zones have no id: a list is one
page (``limit`` and ``marker`` are not applied, as Neutron's emulated pagination cannot
mark a zone either).
"""

from __future__ import annotations

from typing import Any

from neutrino import exceptions as exc
from neutrino.api import query as queries
from neutrino.api.app import Request
from neutrino.db.engine import Database
from neutrino.schema import availability_zone as az_schema
from neutrino.services import availability_zones as az

RULE = "get_availability_zone"
_RESOURCE = az_schema.resource()


class AvailabilityZoneController:
    """The RouteHandler for ``routes["availability_zones"]``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __call__(self, req: Request, parts: list[str]) -> tuple[int, Any]:
        if len(parts) > 1:
            raise exc.HTTPNotFound()  # zones have no item URL in Neutron
        if req.method != "GET":
            raise exc.HTTPMethodNotAllowed()
        params = [(k, v) for k, v in req.params
                  if k not in ("limit", "marker", "page_reverse")]
        q = queries.parse(_RESOURCE, params, is_admin=req.ctx.is_admin)
        zones = self.db.read(lambda conn: az.list_zones(conn, q.filters))
        owner = {"project_id": req.ctx.project_id, "tenant_id": req.ctx.project_id}
        zones = [z for z in zones if req.policy.check(RULE, {**z, **owner})]
        for key, ascending in reversed(q.sorts):
            zones.sort(key=lambda z, key=key: z[key], reverse=not ascending)
        if q.fields:
            zones = [{k: z[k] for k in q.fields if k in z} for z in zones]
        return 200, {"availability_zones": zones}
