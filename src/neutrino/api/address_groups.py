"""PUT /v2.0/address-groups/{id}/add_addresses and remove_addresses (address-group): the
body is ``{"addresses": [...]}``, the answer ``{"address_group": {...}}`` as it is
afterwards (api/actions.py routes and authorizes them)."""

from __future__ import annotations

from typing import Any

from neutrino.api.actions import Authorize, Run, declared, member_actions
from neutrino.api.app import MemberHandler, Request
from neutrino.schema import address_group as schema
from neutrino.schema.base import Operation
from neutrino.services.addressgroups.groups import AddressGroupService


def member_routes(service: AddressGroupService) -> dict[str, MemberHandler]:
    def change(add: bool) -> Run:
        def run(req: Request, op: Operation, group_id: str, authorize: Authorize) -> Any:
            return service.change_addresses(req.ctx, group_id, declared(req, op)["addresses"],
                                            add=add, authorize=authorize)
        return run

    return member_actions("address_group", schema.operations(),
                          {"add_addresses": change(True), "remove_addresses": change(False)})
