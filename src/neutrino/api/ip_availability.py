"""/v2.0/network-ip-availabilities (network-ip-availability,
network-ip-availability-details): read-only, admin by default policy.

    GET /v2.0/network-ip-availabilities[?network_id=&network_name=&ip_version=&project_id=]
    GET /v2.0/network-ip-availabilities/{network_id}

As Neutron's controller: each item is authorized by ``get_network_ip_availability`` on a
target with the network's project; a list leaves out what the caller may not read, a
show of it is 404 (as of a missing network). ``fields`` selects attributes.
"""

from __future__ import annotations

from typing import Any

from neutrino import exceptions as exc
from neutrino.api.app import Request, only_fields
from neutrino.services.ip_availability import FILTERS, IpAvailabilityService

RULE = "get_network_ip_availability"
COLLECTION = "network_ip_availabilities"


def _filters(req: Request) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for key, value in req.params:
        if key == "fields":
            continue
        if key not in FILTERS:
            raise exc.HTTPBadRequest(f"{key!r} is invalid attribute for filtering")
        if key == "ip_version":
            try:
                value = int(value)  # type: ignore[assignment]
            except ValueError:
                raise exc.InvalidInput(
                    error_message=f"'{value}' is not an integer") from None
        out.setdefault(key, []).append(value)
    return out


class IpAvailabilityController:
    """The RouteHandler for ``routes["network-ip-availabilities"]``."""

    def __init__(self, service: IpAvailabilityService) -> None:
        self.service = service

    def _readable(self, req: Request, item: dict[str, Any]) -> bool:
        return req.policy.check(RULE, {"project_id": item["project_id"],
                                       "tenant_id": item["project_id"]})

    def __call__(self, req: Request, parts: list[str]) -> tuple[int, Any]:
        rest = parts[1:]
        if len(rest) > 1:
            raise exc.HTTPNotFound()
        if req.method != "GET":
            raise exc.HTTPMethodNotAllowed()
        if not rest:
            items = [i for i in self.service.list(_filters(req)) if self._readable(req, i)]
            return 200, {COLLECTION: [only_fields(req, i) for i in items]}
        item = self.service.get(rest[0])
        if not self._readable(req, item):
            raise exc.HTTPNotFound()
        return 200, {"network_ip_availability": only_fields(req, item)}
