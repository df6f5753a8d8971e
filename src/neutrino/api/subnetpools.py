"""PUT /v2.0/subnetpools/{id}/add_prefixes and remove_prefixes (subnetpool-prefix-ops):
the body is ``{"prefixes": [...]}``, so is the answer (the pool's prefixes afterwards);
onboard_network_subnets (subnet_onboard) takes ``{"network_id"}`` (api/actions.py routes
and authorizes them)."""

from __future__ import annotations

from typing import Any

from neutrino.api.actions import Authorize, Run, declared, member_actions
from neutrino.api.app import MemberHandler, Request
from neutrino.schema import subnetpool as schema
from neutrino.schema.base import Operation
from neutrino.services.subnetpools.pools import SubnetPoolService


def member_routes(service: SubnetPoolService) -> dict[str, MemberHandler]:
    def change(add: bool) -> Run:
        def run(req: Request, op: Operation, pool_id: str, authorize: Authorize) -> Any:
            return service.change_prefixes(req.ctx, pool_id, declared(req, op)["prefixes"],
                                           add=add, authorize=authorize)
        return run

    def onboard(req: Request, op: Operation, pool_id: str, authorize: Authorize) -> Any:
        body = req.json()
        network_id = body.get("network_id") if isinstance(body, dict) else None
        if network_id is not None:
            network_id = declared(req, op, body)["network_id"]
        return service.onboard(req.ctx, pool_id, network_id, authorize=authorize)

    return member_actions("subnetpool", schema.operations(),
                          {"add_prefixes": change(True), "remove_prefixes": change(False),
                           "onboard_network_subnets": onboard})
