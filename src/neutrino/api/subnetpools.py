"""PUT /v2.0/subnetpools/{id}/add_prefixes and remove_prefixes (subnetpool-prefix-ops):
the body is ``{"prefixes": [...]}``, so is the answer (the pool's prefixes afterwards);
onboard_network_subnets (subnet_onboard) takes ``{"network_id"}``. Each is authorized
by the policy rule of its name against the pool, as Neutron's."""

from __future__ import annotations

from typing import Any

from neutrino import exceptions as exc
from neutrino.api import body as bodies
from neutrino.api.app import Collection, MemberHandler, Request
from neutrino.schema import subnetpool as schema
from neutrino.services.subnetpools.pools import SubnetPoolService

ACTIONS = ("add_prefixes", "remove_prefixes", "onboard_network_subnets")
OPERATIONS = {op.route: op for op in schema.operations()}


def prefix_action(service: SubnetPoolService, action: str) -> MemberHandler:
    op = OPERATIONS[action]
    assert op.request is not None
    request = op.request

    def handle(req: Request, coll: Collection, pool_id: str, rest: list[str]
               ) -> tuple[int, Any]:
        if coll.resource.name != "subnetpool" or rest:
            raise exc.HTTPNotFound()
        if req.method != op.method:
            raise exc.HTTPMethodNotAllowed()
        authorize = lambda pool: req.policy.enforce(action, pool)  # noqa: E731
        if action == "onboard_network_subnets":
            body = req.json()
            network_id = body.get("network_id") if isinstance(body, dict) else None
            if network_id is not None:
                network_id = bodies.for_declared(request, body, req.ctx)["network_id"]
            return op.status, service.onboard(req.ctx, pool_id, network_id,
                                              authorize=authorize)
        given = bodies.for_declared(request, req.json(), req.ctx)["prefixes"]
        return op.status, service.change_prefixes(
            req.ctx, pool_id, given, add=action == "add_prefixes",
            authorize=authorize)

    return handle


def member_routes(service: SubnetPoolService) -> dict[str, MemberHandler]:
    return {a: prefix_action(service, a) for a in ACTIONS}
