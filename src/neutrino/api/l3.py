"""The member actions of routers: PUT /v2.0/routers/{id}/{action}, with action one of
add_router_interface, remove_router_interface (the body is the interface info itself,
``{"subnet_id"}`` or ``{"port_id"}``) and add_extraroutes, remove_extraroutes
(``{"router": {"routes": [...]}}``). The bodies are declared with the actions
(schema/router.py) and checked by api/body.py, as collections' bodies are; api/actions.py
routes and authorizes them."""

from __future__ import annotations

from typing import Any

from neutrino.api.actions import Authorize, Run, declared, member_actions
from neutrino.api.app import MemberHandler, Request
from neutrino.schema import router as router_schema
from neutrino.schema.base import Operation
from neutrino.services.l3.routers import RouterService


def _interface_info(req: Request, op: Operation) -> dict[str, str]:
    """subnet_id and/or port_id, null ones left out; a body that is not an object, or an
    empty one, gives none, and the service's "Either subnet_id or port_id must be
    specified" answers it."""
    body = req.json()
    if not isinstance(body, dict) or not body:
        return {}
    return {k: v for k, v in declared(req, op, body).items() if v is not None}


def member_routes(service: RouterService) -> dict[str, MemberHandler]:
    def interface(add: bool) -> Run:
        method = service.add_interface if add else service.remove_interface

        def run(req: Request, op: Operation, router_id: str, authorize: Authorize) -> Any:
            return method(req.ctx, router_id, _interface_info(req, op), authorize=authorize)
        return run

    def routes(add: bool) -> Run:
        def run(req: Request, op: Operation, router_id: str, authorize: Authorize) -> Any:
            return {"router": service.change_routes(
                req.ctx, router_id, declared(req, op)["routes"], add=add,
                authorize=authorize)}
        return run

    return member_actions("router", router_schema.operations(), {
        "add_router_interface": interface(True), "remove_router_interface": interface(False),
        "add_extraroutes": routes(True), "remove_extraroutes": routes(False)})
