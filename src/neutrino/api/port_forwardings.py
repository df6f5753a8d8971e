"""/v2.0/floatingips/{floatingip_id}/port_forwardings[/{id}] (floating-ip-port-forwarding;
services/portforwarding/service.py).

    GET    .../port_forwardings        200 {"port_forwardings": [...]} (filters, sorting,
                                       paging, fields; not on internal_ip_address or
                                       internal_port: 400, as Neutron)
    POST   .../port_forwardings        201 {"port_forwarding": {...}}
    GET    .../port_forwardings/{id}   200 {"port_forwarding": {...}}
    PUT    .../port_forwardings/{id}   200 {"port_forwarding": {...}}
    DELETE .../port_forwardings/{id}   204

Order of checks: the body (400), the floating IP as the caller sees it (404), the policy
rule ``<verb>_floatingip_port_forwarding`` against the floating IP's project (the parent
owner, Neutron's ``ext_parent_owner``; 403, or 404 to a caller who may not even read),
then the service's own checks.
"""

from __future__ import annotations

from typing import Any

from neutrino import exceptions as exc
from neutrino.api import body as bodies
from neutrino.api import query as queries
from neutrino.api.app import Collection, Request, links, only_fields
from neutrino.exceptions.port_forwarding import PortForwardingNotSupportFilterField
from neutrino.schema import port_forwarding as schema
from neutrino.services.portforwarding.service import PortForwardingService

RESOURCE = schema.resource()
_RULE = "{}_floatingip_port_forwarding"


def _target(fip: Any) -> dict[str, Any]:
    return {"project_id": fip.project_id, "tenant_id": fip.project_id,
            "ext_parent:tenant_id": fip.project_id, "ext_parent:project_id": fip.project_id}


class PortForwardingController:
    """The MemberHandler of ``member_routes["port_forwardings"]``."""

    def __init__(self, service: PortForwardingService, max_limit: int = -1) -> None:
        self.service = service
        self.max_limit = max_limit

    def __call__(self, req: Request, coll: Collection, fip_id: str, rest: list[str]
                 ) -> tuple[int, Any]:
        if coll.resource.collection != "floatingips" or len(rest) > 1:
            raise exc.HTTPNotFound()
        if not rest:
            if req.method == "GET":
                return 200, self._list(req, fip_id)
            if req.method == "POST":
                items, _ = bodies.unwrap(RESOURCE, req.json(), allow_bulk=False)
                data = bodies.for_create(RESOURCE, items[0], req.ctx)
                for key in ("project_id", "tenant_id"):
                    data.pop(key, None)  # the floating IP's project owns it
                created = self.service.create(req.ctx, fip_id, data,
                                              self._authorize(req, "create"))
                return 201, {RESOURCE.name: only_fields(req, created)}
            raise exc.HTTPMethodNotAllowed()
        pf_id = rest[0]
        if req.method == "GET":
            fip = self.service.fip(req.ctx, fip_id)
            if not req.policy.check(_RULE.format("get"), _target(fip)):
                raise exc.HTTPNotFound()
            return 200, {RESOURCE.name: only_fields(req, self.service.get(req.ctx, fip_id,
                                                                          pf_id))}
        if req.method == "PUT":
            items, _ = bodies.unwrap(RESOURCE, req.json(), allow_bulk=False)
            data = bodies.for_update(RESOURCE, items[0], req.ctx)
            updated = self.service.update(req.ctx, fip_id, pf_id, data,
                                          self._authorize(req, "update"))
            return 200, {RESOURCE.name: only_fields(req, updated)}
        if req.method == "DELETE":
            if req.body.strip():
                raise exc.HTTPBadRequest("Request body is not supported in DELETE.")
            self.service.delete(req.ctx, fip_id, pf_id, self._authorize(req, "delete"))
            return 204, None
        raise exc.HTTPMethodNotAllowed()

    @staticmethod
    def _authorize(req: Request, verb: str) -> Any:
        def authorize(fip: Any) -> None:
            target = _target(fip)
            try:
                req.policy.enforce(_RULE.format(verb), target)
            except exc.PolicyNotAuthorized:
                if not req.policy.check(_RULE.format("get"), target):
                    raise exc.FloatingIPNotFound(floatingip_id=fip.id) from None
                raise

        return authorize

    def _list(self, req: Request, fip_id: str) -> dict[str, Any]:
        for key, _value in req.params:
            if key in schema.NOT_FILTERS:
                raise PortForwardingNotSupportFilterField(filter=key)
        q = queries.parse(RESOURCE, req.params, max_limit=self.max_limit)
        fip = self.service.fip(req.ctx, fip_id)
        if not req.policy.check(_RULE.format("get"), _target(fip)):
            return {RESOURCE.collection: []}
        items, more = self.service.list(req.ctx, fip_id, q)
        out: dict[str, Any] = {RESOURCE.collection: [only_fields(req, i) for i in items]}
        if q.limit is not None:
            out[f"{RESOURCE.collection}_links"] = links(req, q.limit, q.page_reverse,
                                                        items, more)
        return out
