"""PUT /v2.0/address-groups/{id}/add_addresses and remove_addresses (address-group): the
body is ``{"addresses": [...]}``, the answer ``{"address_group": {...}}`` as it is
afterwards. Each is authorized by the policy rule of its name against the group (after
its 404), as Neutron's."""

from __future__ import annotations

from typing import Any

from neutrino import exceptions as exc
from neutrino.api import body as bodies
from neutrino.api.app import Collection, MemberHandler, Request
from neutrino.schema import address_group as schema
from neutrino.services.addressgroups.groups import AddressGroupService

ACTIONS = ("add_addresses", "remove_addresses")
OPERATIONS = {op.route: op for op in schema.operations()}


def address_action(service: AddressGroupService, action: str) -> MemberHandler:
    op = OPERATIONS[action]
    assert op.request is not None
    request = op.request

    def handle(req: Request, coll: Collection, group_id: str, rest: list[str]
               ) -> tuple[int, Any]:
        if coll.resource.name != "address_group" or rest:
            raise exc.HTTPNotFound()
        if req.method != op.method:
            raise exc.HTTPMethodNotAllowed()
        given = bodies.for_declared(request, req.json(), req.ctx)["addresses"]
        return op.status, service.change_addresses(
            req.ctx, group_id, given, add=action == "add_addresses",
            authorize=lambda group: req.policy.enforce(action, group))

    return handle


def member_routes(service: AddressGroupService) -> dict[str, MemberHandler]:
    return {a: address_action(service, a) for a in ACTIONS}
